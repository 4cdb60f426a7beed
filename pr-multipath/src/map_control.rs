//! Suspending and resuming a multipath map around self-preemption (the release workaround,
//! preempting all registrants, self-preempt): while the map is suspended without flushing,
//! no IO reaches the paths whose registrations a PREEMPT of our own key removed.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use pr_sgio::dm::{DmControl, DmId};

/// Suspends (without flushing) and resumes a map.
pub trait MapControl: Send + Sync {
    /// Suspends `map` without flushing queued IO.
    fn suspend_noflush<'a>(&'a self, map: &'a str) -> BoxFuture<'a, Result<(), String>>;
    /// Resumes `map`.
    fn resume<'a>(&'a self, map: &'a str) -> BoxFuture<'a, Result<(), String>>;
}

/// [`MapControl`] for real device-mapper maps, through pr-sgio's [`DmControl`] (needs
/// CAP_SYS_ADMIN). The ioctls run on tokio's blocking pool.
#[derive(Clone, Debug)]
pub struct DmMapControl {
    ctl: Arc<DmControl>,
}

impl DmMapControl {
    /// Uses an open control node.
    pub fn new(ctl: Arc<DmControl>) -> Self {
        DmMapControl { ctl }
    }

    /// Opens `/dev/mapper/control`.
    pub fn open() -> Result<Self, pr_sgio::Error> {
        Ok(DmMapControl {
            ctl: Arc::new(DmControl::open()?),
        })
    }

    async fn run(&self, map: &str, suspend: bool) -> Result<(), String> {
        let ctl = Arc::clone(&self.ctl);
        let name = map.to_owned();
        tokio::task::spawn_blocking(move || {
            let id = DmId::Name(&name);
            if suspend {
                ctl.suspend(&id, true).map(drop)
            } else {
                ctl.resume(&id).map(drop)
            }
        })
        .await
        .map_err(|e| format!("blocking task failed: {e}"))?
        .map_err(|e| e.to_string())
    }
}

impl MapControl for DmMapControl {
    fn suspend_noflush<'a>(&'a self, map: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.run(map, true))
    }

    fn resume<'a>(&'a self, map: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.run(map, false))
    }
}
