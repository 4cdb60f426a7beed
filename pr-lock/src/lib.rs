//! VM disk locks that interoperate with libvirt's virtlockd and are enforced by the
//! storage itself. A lock here is two things, taken in this order:
//!
//! 1. **The lock file virtlockd would use** ([`lockspace`], [`names`]): the same
//!    directory, the same name (the SHA-256 of the disk path, the SCSI ID as libvirt
//!    gets it from `scsi_id`, or the LVM UUID from `lvs`), the same open flags and modes,
//!    the same fcntl lock on byte 0, shared or exclusive, created and unlinked as
//!    virtlockd does. A lock held here blocks virtlockd and one held by virtlockd blocks
//!    this crate. On a shared filesystem its lease lapses with its host: it says who is
//!    alive.
//! 2. **A SCSI persistent reservation on the LUN** ([`lun`]), through pr-multipath's
//!    front door: an exclusive lock registers this host's key on every path and holds
//!    Write Exclusive, Registrants Only; a shared lock registers and holds Write
//!    Exclusive, All Registrants. The LUN refuses writes from any host that does not hold
//!    the lock, even one that lost its lease but still runs. Acquiring a disk another
//!    host holds fails naming its key, unless forced, which fences it (PREEMPT AND ABORT).
//!
//! [`DiskLock`] does both; [`FileLock`] and [`LunLock`] each alone. [`libvirt`] reads a
//! domain XML into the disks libvirt's lockd would lock (for `prsdk libvirt-hook`).
//!
//! This crate is **not** a lock daemon and does not go through virtlockd (it takes the
//! same locks itself; `tests/virtlockd.rs` checks both against the real daemon): the locks
//! are held by the process that takes them (fcntl locks are per process) and go with it. It
//! does not patch or configure libvirt, and it sends no SCSI command itself (pr-multipath
//! does). A disk that is not a SCSI device gets the file lock only, and says so
//! ([`Enforcement::FileOnly`]).
//!
//! ```
//! use pr_core::types::ReservationKey;
//! use pr_lock::{DiskLock, DiskLockRequest, Enforcement, LockspaceConfig, Mode, Storage};
//!
//! let dir = tempfile::tempdir()?;
//! let lockspace = LockspaceConfig { file_dir: Some(dir.path().into()), ..Default::default() };
//! // An image file: the lock file is named by the SHA-256 of its path; no LUN behind it.
//! let request = DiskLockRequest::new("/var/lib/libvirt/images/vm1.qcow2", Mode::Exclusive, lockspace)
//!     .key(ReservationKey(0x1))
//!     .storage(Storage::None);
//! let lock = DiskLock::acquire(&request)?;
//! assert_eq!(lock.resource().name, pr_lock::names::sha256_name("/var/lib/libvirt/images/vm1.qcow2"));
//! assert!(matches!(lock.enforcement(), Enforcement::FileOnly(_)));
//! lock.release()?; // the lock file is unlinked, as virtlockd does
//! assert_eq!(std::fs::read_dir(dir.path())?.count(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs, unsafe_code)]

pub mod disk;
pub mod error;
pub mod libvirt;
pub mod lockspace;
pub mod lun;
pub mod names;
#[allow(unsafe_code)]
mod sys;

use std::fmt;

pub use disk::{DiskLock, DiskLockRequest, Enforcement, Storage};
pub use error::{Error, Result};
pub use lockspace::{FileLock, create_lockspace_dir};
pub use lun::{LunLock, LunLockOptions, release_key};
pub use names::{LockspaceConfig, NameKind, Resource};

/// Exclusive or shared, as libvirt's `<shareable/>` disks are shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// One holder: fcntl `F_WRLCK`; Write Exclusive, Registrants Only.
    Exclusive,
    /// Many holders: fcntl `F_RDLCK`; Write Exclusive, All Registrants.
    Shared,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Exclusive => "exclusive",
            Mode::Shared => "shared",
        })
    }
}

/// While this guard lives, this process ignores the terminal's SIGINT and SIGQUIT, as
/// `system(3)` does while its child runs: for a program that holds a lock while a child
/// runs (`prsdk lock DISK -- COMMAND`). Ctrl-C reaches the whole foreground process
/// group: the child gets it and ends as it chooses, and the lock holder survives to
/// release the lock. Without this, the holder would die with the signal: the kernel drops
/// its lock file's lock, but its reservation would stay on the LUN. Start the child with
/// [`spawn`](Self::spawn): it ignores the signals first and gives the child the
/// dispositions from before, so that no signal sent between the spawn and the guard can
/// kill the holder. Dropping the guard restores the previous dispositions. Process-wide:
/// one at a time.
#[derive(Debug)]
pub struct TerminalSignalsIgnored {
    previous: [libc::sighandler_t; 2],
}

impl TerminalSignalsIgnored {
    /// Ignores SIGINT and SIGQUIT until the guard is dropped. A child spawned meanwhile
    /// inherits the ignoring unless it is spawned with [`spawn`](Self::spawn).
    pub fn new() -> Self {
        TerminalSignalsIgnored {
            previous: sys::ignore_terminal_signals(),
        }
    }

    /// Ignores SIGINT and SIGQUIT, then spawns `cmd` with them as they were before (the
    /// default, or ignored if this process had inherited that), as `system(3)` does.
    /// Ignoring first closes the window in which a signal the child sends at once (or a
    /// Ctrl-C) would kill this process before the guard exists. On a spawn error the
    /// guard is dropped and the dispositions restored.
    pub fn spawn(cmd: &mut std::process::Command) -> std::io::Result<(std::process::Child, Self)> {
        let guard = TerminalSignalsIgnored::new();
        sys::child_restores_terminal_signals(cmd, guard.previous);
        let child = cmd.spawn()?;
        Ok((child, guard))
    }
}

impl Default for TerminalSignalsIgnored {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TerminalSignalsIgnored {
    fn drop(&mut self) {
        sys::restore_terminal_signals(self.previous);
    }
}
