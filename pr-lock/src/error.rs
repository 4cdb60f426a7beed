//! The crate's one error type.

use std::path::PathBuf;

use pr_core::types::ReservationKey;

use crate::Mode;

/// Everything that can go wrong taking or dropping a disk lock. Each variant names what it
/// is about (the lock file, the directory, the disk, the LUN, the holder's key).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another process (virtlockd, or another program using this crate, on this host or,
    /// on a shared filesystem, another) holds a conflicting fcntl lock on the lock file.
    #[error(
        "{path}: lock is held by another process ({mode} lock refused; lockspace resource {name:?})"
    )]
    FileLockBusy {
        /// The lock file.
        path: PathBuf,
        /// Its resource name (the SHA-256, SCSI ID or LVM UUID, or the disk path itself).
        name: String,
        /// The lock that was asked for.
        mode: Mode,
    },
    /// This process already holds a lock on this lock file. POSIX record locks belong to
    /// the process: a second lock from the same process would silently succeed, and closing
    /// its descriptor would silently drop the first, so it is refused.
    #[error("{path}: this process already holds a lock on this file")]
    HeldByThisProcess {
        /// The lock file.
        path: PathBuf,
    },
    /// The lockspace directory does not exist (and was not to be created).
    #[error("{dir}: lockspace directory does not exist")]
    NoLockspace {
        /// The directory.
        dir: PathBuf,
    },
    /// The lockspace path exists but is not a directory.
    #[error("{dir}: lockspace location exists but is not a directory")]
    NotADirectory {
        /// The path.
        dir: PathBuf,
    },
    /// A system call on a lock file or directory failed.
    #[error("{path}: {what}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done ("open/create lock file", "create lockspace directory", ...).
        what: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A disk name libvirt would not lock this way (relative path, empty, NUL byte).
    #[error("{given:?}: {reason}")]
    InvalidDisk {
        /// What was given.
        given: String,
        /// Why it is refused.
        reason: String,
    },
    /// The program that computes a lock name (`/lib/udev/scsi_id`, `lvs`) could not be run.
    #[error("{program}: cannot run it to name the lock of {disk}: {source}")]
    KeyProgram {
        /// The program.
        program: PathBuf,
        /// The disk.
        disk: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The LUN is held by another host: an exclusive reservation by another key, or (for an
    /// exclusive acquire) other hosts' registrations or a shared reservation.
    #[error(
        "{lun}: held by {} ({held}); not acquired{}",
        keys_text(holders),
        if *forceable { " (force fences the holder)" } else { "" }
    )]
    Held {
        /// The LUN.
        lun: String,
        /// The other hosts' keys: the reservation holder's first, then other registrants.
        holders: Vec<ReservationKey>,
        /// What they hold, in words ("Write Exclusive, registrants only reservation",
        /// "registrations without a reservation", ...).
        held: String,
        /// Whether forcing would fence them.
        forceable: bool,
    },
    /// Release of a LUN lock whose key is not registered there.
    #[error("{lun}: key {key} is not registered: no lock of this host to release")]
    NotHeld {
        /// The LUN.
        lun: String,
        /// The key.
        key: ReservationKey,
    },
    /// Forcing did not remove a holder.
    #[error("{lun}: fencing {victim} failed: {reason}")]
    FenceFailed {
        /// The LUN.
        lun: String,
        /// The key that was to be fenced.
        victim: ReservationKey,
        /// What happened.
        reason: String,
    },
    /// A LUN lock was asked for with the zero key (the zero key means "unregister").
    #[error("the reservation key must not be 0")]
    ZeroKey,
    /// A domain XML that cannot be read for its disks ([`crate::libvirt::Domain::parse`]).
    #[error("domain XML: {reason}")]
    DomainXml {
        /// What is wrong with it.
        reason: String,
    },
    /// A persistent-reservation command failed (through pr-multipath).
    #[error(transparent)]
    Pr(#[from] pr_multipath::Error),
}

fn keys_text(keys: &[ReservationKey]) -> String {
    if keys.is_empty() {
        return "another host".to_owned();
    }
    let list: Vec<String> = keys.iter().map(|k| format!("key {k}")).collect();
    list.join(", ")
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
