//! Which LUN a request's file descriptor reaches: [`LunSource`]. The daemon's source,
//! [`DeviceLuns`], asks pr-multipath ([`Lun::from_owned_fd`], on a duplicate of the
//! descriptor): a multipath map becomes the LUN of its paths (every PR OUT with multipath
//! semantics), a SCSI disk or sg node a LUN of one path whose commands go through the
//! client's descriptor itself, unchanged, as qemu-pr-helper sends them. LUNs of maps are
//! kept for a while per device (file type and number, from one `fstat` of the descriptor),
//! so that a guest's commands do not rediscover the map each time; a single device's LUN
//! lives for one request, its descriptor classified once (sysfs) by pr-multipath. So a
//! request costs one `fstat` and, on a single device or the first time a map is seen, one
//! classification.
//!
//! Tests implement [`LunSource`] themselves to put a simulated LUN behind any descriptor;
//! the daemon only ever uses [`DeviceLuns`].

use std::collections::HashMap;
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pr_multipath::{Error, Lun, LunOptions, OpenOptions, RetryPolicy};

use crate::sys;

/// Finds the LUN behind a descriptor received from a client. Called on a blocking thread
/// (it may read sysfs and talk to device-mapper).
pub trait LunSource: Send + Sync + 'static {
    /// The LUN `fd` reaches, or why there is none.
    fn lun_for(&self, fd: BorrowedFd<'_>) -> Result<Arc<Lun>, Error>;
}

/// How [`DeviceLuns`] opens LUNs.
#[derive(Clone, Debug)]
pub struct DeviceOptions {
    /// How a descriptor's device is opened (map handling, block ioctls, ...).
    pub open: OpenOptions,
    /// Timeout of each SCSI command (qemu-pr-helper asks SG_IO for 1 ms).
    pub command_timeout: Duration,
    /// How long the LUN of a map is reused for descriptors of the same device.
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

/// A device as `fstat` names it: its file type (`S_IFBLK` or `S_IFCHR`) and number. The
/// type is part of the key: a character device may carry the number of a cached map.
type DeviceId = (u32, u64);

/// The daemon's [`LunSource`]: [`Lun::from_owned_fd`], with the LUNs of maps kept per
/// device (file type and number) for [`DeviceOptions::keep_for`].
#[derive(Debug)]
pub struct DeviceLuns {
    options: DeviceOptions,
    cache: Mutex<HashMap<DeviceId, (Instant, Arc<Lun>)>>,
}

impl DeviceLuns {
    /// A source with `options`.
    pub fn new(options: DeviceOptions) -> Self {
        DeviceLuns {
            options,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

impl LunSource for DeviceLuns {
    fn lun_for(&self, fd: BorrowedFd<'_>) -> Result<Arc<Lun>, Error> {
        let device = sys::device_of(fd).ok().and_then(|(rdev, kind)| {
            (kind == libc::S_IFBLK || kind == libc::S_IFCHR).then_some((kind, rdev))
        });
        let now = Instant::now();
        if let Some(id) = device {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.retain(|_, (at, _)| now.duration_since(*at) < self.options.keep_for);
            if let Some((_, lun)) = cache.get(&id) {
                return Ok(Arc::clone(lun));
            }
        }
        let owned = fd
            .try_clone_to_owned()
            .map_err(|e| Error::InvalidArgument {
                what: "the client's descriptor".into(),
                reason: format!("cannot duplicate it: {e}"),
            })?;
        let lun = Lun::from_owned_fd(owned, &self.options.open)?;
        let is_map = lun.paths().len() != 1 || lun.wwid().is_some();
        let options = LunOptions {
            retry: RetryPolicy {
                command_timeout: self.options.command_timeout,
                ..lun.options().retry
            },
            ..*lun.options()
        };
        let lun = Arc::new(lun.with_options(options));
        if let Some(id) = device.filter(|_| is_map) {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.insert(id, (now, Arc::clone(&lun)));
        }
        Ok(lun)
    }
}
