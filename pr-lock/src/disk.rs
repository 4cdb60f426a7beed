//! Both locks on one disk: the virtlockd-compatible file lock first (it says who is alive
//! when the lockspace is on a shared filesystem, and keeps libvirt's own locking in
//! step), then the LUN's reservation (it makes the lock stick at the storage).

use pr_core::types::ReservationKey;
use pr_multipath::blocking::Lun;

use crate::Mode;
use crate::error::{Error, Result};
use crate::lockspace::FileLock;
use crate::lun::{LunLock, LunLockOptions};
use crate::names::{self, KeySource, LockspaceConfig, Programs, Resource};

/// Which LUN enforces the lock.
#[derive(Clone, Debug, Default)]
pub enum Storage {
    /// Open the disk path through the front door ([`Lun::open`]): a multipath map or a
    /// SCSI disk gets a reservation; anything else (an image file, a non-SCSI block
    /// device) gets the file lock only, said in [`DiskLock::enforcement`].
    #[default]
    Open,
    /// This LUN (already open, or simulated).
    Lun(Lun),
    /// No reservation: the file lock only.
    None,
}

/// What to lock and how.
#[derive(Clone, Debug)]
pub struct DiskLockRequest {
    /// The disk's path exactly as the domain XML names it (it names the lock file).
    pub disk: String,
    /// Exclusive or shared.
    pub mode: Mode,
    /// The lockspace directories (libvirt's `lockd.conf`).
    pub lockspace: LockspaceConfig,
    /// This host's reservation key; `None`: the file lock only.
    pub key: Option<ReservationKey>,
    /// The LUN that enforces the lock.
    pub storage: Storage,
    /// Forcing, and how (see [`LunLockOptions`]). The file lock is never forced: a live
    /// holder of it cannot be overridden.
    pub lun_options: LunLockOptions,
    /// Holding the file lock proves that the previous holder is gone (the lockspace is on
    /// a shared filesystem that every host uses, whose locks lapse with their host): a
    /// LUN still held by another key is then fenced as if forced. Off by default: with a
    /// lockspace that only this host sees, the file lock says nothing about other hosts.
    pub file_lock_decides_liveness: bool,
}

impl DiskLockRequest {
    /// An exclusive lock of `disk`, named as `lockspace` says, file lock only until
    /// [`key`](Self::key) is set.
    pub fn new(disk: impl Into<String>, mode: Mode, lockspace: LockspaceConfig) -> Self {
        DiskLockRequest {
            disk: disk.into(),
            mode,
            lockspace,
            key: None,
            storage: Storage::Open,
            lun_options: LunLockOptions::default(),
            file_lock_decides_liveness: false,
        }
    }

    /// Sets this host's reservation key.
    pub fn key(mut self, key: ReservationKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Sets the LUN.
    pub fn storage(mut self, storage: Storage) -> Self {
        self.storage = storage;
        self
    }

    /// Forces (fences other holders of the LUN).
    pub fn force(mut self, force: bool) -> Self {
        self.lun_options.force = force;
        self
    }
}

/// How a [`DiskLock`] is enforced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enforcement {
    /// File lock and reservation.
    FileAndReservation,
    /// The file lock only, and why (no key given, no LUN asked for, or the disk is not a
    /// SCSI device: the reason pr-multipath gave).
    FileOnly(String),
}

/// A disk lock held by this process.
#[derive(Debug)]
pub struct DiskLock {
    resource: Resource,
    lun: Option<LunLock>,
    file: Option<FileLock>,
    enforcement: Enforcement,
}

impl DiskLock {
    /// Takes the lock: names the lock file as libvirt does (running `scsi_id` and `lvs` as
    /// it does), takes the file lock, then the LUN's reservation. On failure nothing is
    /// left held.
    pub fn acquire(request: &DiskLockRequest) -> Result<DiskLock> {
        Self::acquire_with_keys(request, &Programs::default())
    }

    /// As [`acquire`](Self::acquire), with the SCSI and LVM keys from `keys`.
    pub fn acquire_with_keys(request: &DiskLockRequest, keys: &dyn KeySource) -> Result<DiskLock> {
        let resource = names::resolve(&request.disk, &request.lockspace, keys)?;
        let file = FileLock::acquire(&resource, request.mode)?;
        let Some(key) = request.key else {
            return Ok(DiskLock {
                resource,
                lun: None,
                file: Some(file),
                enforcement: Enforcement::FileOnly("no reservation key given".into()),
            });
        };
        let lun = match &request.storage {
            Storage::Lun(lun) => lun.clone(),
            Storage::None => {
                return Ok(DiskLock {
                    resource,
                    lun: None,
                    file: Some(file),
                    enforcement: Enforcement::FileOnly("no LUN asked for".into()),
                });
            }
            Storage::Open => match Lun::open(&request.disk) {
                Ok(lun) => lun,
                Err(e @ pr_multipath::Error::NotScsi { .. }) => {
                    tracing::info!(disk = request.disk, reason = %e,
                        "not a SCSI device: file lock only");
                    return Ok(DiskLock {
                        resource,
                        lun: None,
                        file: Some(file),
                        enforcement: Enforcement::FileOnly(e.to_string()),
                    });
                }
                // The file lock is dropped (released) with `file`.
                Err(e) => return Err(Error::Pr(e)),
            },
        };
        let mut options = request.lun_options.clone();
        if request.file_lock_decides_liveness {
            options.force = true;
        }
        let lun = LunLock::acquire(&lun, key, request.mode, &options)?;
        Ok(DiskLock {
            resource,
            lun: Some(lun),
            file: Some(file),
            enforcement: Enforcement::FileAndReservation,
        })
    }

    /// The lock file and its name.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// How the lock is enforced.
    pub fn enforcement(&self) -> &Enforcement {
        &self.enforcement
    }

    /// The LUN lock, if there is one.
    pub fn lun_lock(&self) -> Option<&LunLock> {
        self.lun.as_ref()
    }

    /// Releases the reservation, then the file lock (the reverse of acquiring). Both are
    /// attempted; the first error is returned.
    pub fn release(mut self) -> Result<()> {
        let lun = self.lun.take().map_or(Ok(()), LunLock::release);
        let file = self.file.take().map_or(Ok(()), FileLock::release);
        lun.and(file)
    }
}
