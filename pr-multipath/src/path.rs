//! One path of a multipath LUN: a transport (one I_T nexus) with the facts multipath needs
//! about it, and how its state is refreshed.

use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::BoxFuture;
use pr_core::transport::Transport;

use crate::error::Error;

/// Whether a path may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathState {
    /// Commands may be sent (multipath-tools' `PATH_UP`/`PATH_GHOST`; dm-multipath `A`).
    Usable,
    /// The path is failed, offline or gone: nothing is sent to it.
    Failed,
}

/// One path: its name, transport, SCSI host (the grouping used by ALL_TG_PT: one path per
/// host), path group and state.
#[derive(Debug)]
pub struct Path<T> {
    name: String,
    transport: T,
    host: Option<u32>,
    group: usize,
    dev_t: Option<String>,
    usable: AtomicBool,
}

impl<T: Transport> Path<T> {
    /// A usable path in group 1 with no host number.
    pub fn new(name: impl Into<String>, transport: T) -> Self {
        Path {
            name: name.into(),
            transport,
            host: None,
            group: 1,
            dev_t: None,
            usable: AtomicBool::new(true),
        }
    }

    /// Sets the SCSI host number (or any id that groups paths sharing one initiator port,
    /// for ALL_TG_PT).
    pub fn with_host(mut self, host: u32) -> Self {
        self.host = Some(host);
        self
    }

    /// Sets the 1-based path group (paths are tried in group order).
    pub fn with_group(mut self, group: usize) -> Self {
        self.group = group;
        self
    }

    /// Sets the `major:minor` of the path device (multipathd's `setprstatus` path list).
    pub fn with_dev_t(mut self, dev_t: impl Into<String>) -> Self {
        self.dev_t = Some(dev_t.into());
        self
    }

    /// Sets the initial state.
    pub fn with_state(self, state: PathState) -> Self {
        self.set_state(state);
        self
    }

    /// The name (`sdb`, a simulator path name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The SCSI host number or grouping id.
    pub fn host(&self) -> Option<u32> {
        self.host
    }

    /// The path group.
    pub fn group(&self) -> usize {
        self.group
    }

    /// The `major:minor`, when known.
    pub fn dev_t(&self) -> Option<&str> {
        self.dev_t.as_deref()
    }

    /// The current state.
    pub fn state(&self) -> PathState {
        if self.usable.load(Ordering::Acquire) {
            PathState::Usable
        } else {
            PathState::Failed
        }
    }

    /// Whether commands may be sent.
    pub fn is_usable(&self) -> bool {
        self.state() == PathState::Usable
    }

    /// Changes the state (the LUN marks a path failed itself when a command on it fails
    /// with a path failure; a [`PathRefresher`] sets it from the outside view).
    pub fn set_state(&self, state: PathState) {
        self.usable
            .store(state == PathState::Usable, Ordering::Release);
    }
}

/// Supplies the current state of paths by name (multipath-tools refreshes path states before
/// every PR OUT). Paths it does not name keep their state.
pub trait PathRefresher: Send + Sync {
    /// The state of each path it knows, by path name.
    fn refresh(&self) -> BoxFuture<'_, Result<Vec<(String, PathState)>, Error>>;
}
