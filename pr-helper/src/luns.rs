//! Which LUN a request's file descriptor reaches: [`LunSource`]. The daemon's source,
//! [`DeviceLuns`], asks pr-multipath: a multipath map becomes the LUN of its paths (every
//! PR OUT with multipath semantics), a SCSI disk or sg node a LUN of one path whose
//! commands go through the client's descriptor itself, with its access mode, unchanged,
//! as qemu-pr-helper sends them.
//!
//! Two things are kept per device, for [`DeviceOptions::keep_for`], so that a guest's
//! commands do not rediscover their device each time:
//! - the descriptor's classification (pr-multipath's [`KeptClassifications`], per file type
//!   and device number): the first descriptor of a device is classified in full (some ten
//!   sysfs reads), the next ones cost an `fstat` and one sysfs read that tells apart a
//!   device that took over the number of another (a disk's or sg node's SCSI address, a
//!   map's dm uuid); a device that fails it is classified in full again, so a reused
//!   number is never taken for the device that had it, however short the time;
//! - the LUN of a map, per device number and classification (built from device-mapper and
//!   multipathd, it is what costs most): reused only while the map's classification, dm
//!   uuid included, is the one it was built for.
//!
//! A single device's LUN lives for one request: it owns that request's descriptor
//! ([`LunSource::lun_for_owned`], what the server calls; [`LunSource::lun_for`] takes a
//! duplicate). So a request on a single device costs an `fstat` and one sysfs read, and
//! no other lookup.
//!
//! Tests implement [`LunSource`] themselves to put a simulated LUN behind any descriptor;
//! the daemon only ever uses [`DeviceLuns`].

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pr_multipath::{
    Classified, DeviceKind, Error, KeptClassifications, Lun, LunOptions, OpenOptions, RetryPolicy,
};

/// Finds the LUN behind a descriptor received from a client. Called on a thread that may
/// block (the connection's; it may read sysfs and talk to device-mapper).
pub trait LunSource: Send + Sync + 'static {
    /// The LUN `fd` reaches, or why there is none.
    fn lun_for(&self, fd: BorrowedFd<'_>) -> Result<Arc<Lun>, Error>;

    /// As [`lun_for`](Self::lun_for), with the descriptor given away (the server's, once
    /// per request): a source may keep it for the LUN instead of duplicating it. By
    /// default, `lun_for` on it.
    fn lun_for_owned(&self, fd: OwnedFd) -> Result<Arc<Lun>, Error> {
        self.lun_for(fd.as_fd())
    }
}

/// How [`DeviceLuns`] opens LUNs.
#[derive(Clone, Debug)]
pub struct DeviceOptions {
    /// How a descriptor's device is opened (map handling, block ioctls, ...).
    pub open: OpenOptions,
    /// Timeout of each SCSI command (qemu-pr-helper asks SG_IO for 1 ms).
    pub command_timeout: Duration,
    /// How long a device's classification, and the LUN of a map, are kept for descriptors
    /// of the same device (each use rechecked; see [`crate::luns`]).
    pub keep_for: Duration,
}

impl Default for DeviceOptions {
    fn default() -> Self {
        DeviceOptions {
            open: OpenOptions::default(),
            command_timeout: Duration::from_secs(30),
            keep_for: Duration::from_secs(30),
        }
    }
}

/// The daemon's [`LunSource`]: [`Lun::from_owned_fd_classified`] after
/// [`KeptClassifications::classify_fd`], with the LUNs of maps kept per device number for
/// [`DeviceOptions::keep_for`] (see the [module documentation](self)).
#[derive(Debug)]
pub struct DeviceLuns {
    options: DeviceOptions,
    devices: KeptClassifications,
    maps: Mutex<HashMap<u64, KeptMap>>,
}

/// A map's LUN, when it was built and the classification it was built for.
#[derive(Debug)]
struct KeptMap {
    at: Instant,
    kind: DeviceKind,
    lun: Arc<Lun>,
}

impl DeviceLuns {
    /// A source with `options`.
    pub fn new(options: DeviceOptions) -> Self {
        DeviceLuns {
            devices: KeptClassifications::new(options.keep_for),
            options,
            maps: Mutex::new(HashMap::new()),
        }
    }

    /// How many devices' classifications and maps' LUNs are kept now.
    pub fn kept(&self) -> (usize, usize) {
        (self.devices.len(), self.lock_maps().len())
    }

    fn lock_maps(&self) -> std::sync::MutexGuard<'_, HashMap<u64, KeptMap>> {
        self.maps.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The kept LUN of the map `c` classifies, when it was built for that classification
    /// less than `keep_for` ago; expired and outdated LUNs are dropped.
    fn kept_map(&self, c: &Classified, now: Instant) -> Option<Arc<Lun>> {
        let mut maps = self.lock_maps();
        maps.retain(|_, m| now.saturating_duration_since(m.at) < self.options.keep_for);
        let key = c.dev.to_raw();
        match maps.get(&key) {
            Some(m) if m.kind == c.kind => Some(Arc::clone(&m.lun)),
            Some(_) => {
                maps.remove(&key);
                None
            }
            None => None,
        }
    }
}

impl LunSource for DeviceLuns {
    fn lun_for(&self, fd: BorrowedFd<'_>) -> Result<Arc<Lun>, Error> {
        let c = self.devices.classify_fd(fd)?;
        self.build(c, || {
            fd.try_clone_to_owned().map_err(|e| Error::InvalidArgument {
                what: "the client's descriptor".into(),
                reason: format!("cannot duplicate it: {e}"),
            })
        })
    }

    /// As `lun_for`, keeping the descriptor itself for a single device's LUN (no
    /// duplicate).
    fn lun_for_owned(&self, fd: OwnedFd) -> Result<Arc<Lun>, Error> {
        let c = self.devices.classify_fd(fd.as_fd())?;
        self.build(c, move || Ok(fd))
    }
}

impl DeviceLuns {
    /// The LUN of the device `c` classifies: a kept map's, or a new one over the
    /// descriptor `fd` gives (kept when it is a map's).
    fn build(
        &self,
        c: Classified,
        fd: impl FnOnce() -> Result<OwnedFd, Error>,
    ) -> Result<Arc<Lun>, Error> {
        let map = c.kind.is_multipath() && !self.options.open.map_as_device;
        let now = map.then(Instant::now);
        if let Some(now) = now {
            if let Some(lun) = self.kept_map(&c, now) {
                return Ok(lun);
            }
        }
        let owned = fd()?;
        let (key, kind) = (c.dev.to_raw(), c.kind.clone());
        let lun = Lun::from_owned_fd_classified(owned, c, &self.options.open)?;
        let is_map = lun.paths().len() != 1 || lun.wwid().is_some();
        let options = LunOptions {
            retry: RetryPolicy {
                command_timeout: self.options.command_timeout,
                ..lun.options().retry
            },
            ..*lun.options()
        };
        let lun = Arc::new(lun.with_options(options));
        if let Some(at) = now.filter(|_| is_map) {
            let kept = KeptMap {
                at,
                kind,
                lun: Arc::clone(&lun),
            };
            self.lock_maps().insert(key, kept);
        }
        Ok(lun)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pr_multipath::DevT;
    use pr_sim::{LunConfig, Sim, lab_loop_nexuses};

    fn map(uuid: &str) -> Classified {
        Classified {
            given: "fd 7".into(),
            node: "/dev/mapper/mpatha".into(),
            dev: DevT::new(253, 0),
            kind: DeviceKind::Multipath {
                name: "dm-0".into(),
                map: "mpatha".into(),
                uuid: uuid.into(),
            },
        }
    }

    fn keep(luns: &DeviceLuns, c: &Classified, at: Instant) -> Arc<Lun> {
        let (_sim, p) = Sim::single_lun(LunConfig::spc5(), &lab_loop_nexuses(2));
        let lun = Arc::new(Lun::simulated("mpatha", p));
        let kept = KeptMap {
            at,
            kind: c.kind.clone(),
            lun: Arc::clone(&lun),
        };
        luns.lock_maps().insert(c.dev.to_raw(), kept);
        lun
    }

    #[test]
    fn a_kept_map_serves_only_the_classification_it_was_built_for() {
        let luns = DeviceLuns::new(DeviceOptions {
            keep_for: Duration::from_secs(3600),
            ..DeviceOptions::default()
        });
        let now = Instant::now();
        let a = map("mpath-36001405aaaa");
        let lun = keep(&luns, &a, now);
        let hit = luns.kept_map(&a, now).expect("kept");
        assert!(Arc::ptr_eq(&hit, &lun));
        // Another descriptor of the same map (another fd number): the same LUN.
        let mut again = a.clone();
        again.given = "fd 9".into();
        assert!(luns.kept_map(&again, now).is_some());
        // Another map took the number: not served, and dropped.
        let b = map("mpath-36001405bbbb");
        assert!(luns.kept_map(&b, now).is_none());
        assert_eq!(luns.kept().1, 0);
        assert!(luns.kept_map(&a, now).is_none());
        // Another number: not served.
        keep(&luns, &a, now);
        let mut other = a.clone();
        other.dev = DevT::new(253, 1);
        assert!(luns.kept_map(&other, now).is_none());
        assert_eq!(luns.kept().1, 1);
    }

    #[test]
    fn kept_maps_expire() {
        let luns = DeviceLuns::new(DeviceOptions {
            keep_for: Duration::from_secs(30),
            ..DeviceOptions::default()
        });
        let then = Instant::now();
        let a = map("mpath-36001405aaaa");
        keep(&luns, &a, then);
        assert!(luns.kept_map(&a, then + Duration::from_secs(29)).is_some());
        assert!(luns.kept_map(&a, then + Duration::from_secs(30)).is_none());
        assert_eq!(luns.kept(), (0, 0));
    }

    #[test]
    fn descriptors_of_no_scsi_device_find_no_lun_and_are_not_kept() {
        let luns = DeviceLuns::new(DeviceOptions::default());
        let null = std::fs::File::open("/dev/null").unwrap();
        let file = tempfile::tempfile().unwrap();
        use std::os::fd::AsFd;
        for f in [&null, &file] {
            let e = luns.lun_for(f.as_fd()).unwrap_err();
            assert!(matches!(e, Error::NotScsi { .. }), "{e:?}");
            let e = luns
                .lun_for_owned(f.try_clone().unwrap().into())
                .unwrap_err();
            assert!(matches!(e, Error::NotScsi { .. }), "{e:?}");
        }
        assert_eq!(luns.kept(), (0, 0));
    }
}
