//! The error type of pr-sgio.

use std::path::PathBuf;

use pr_core::transport::TransportError;

/// Any pr-sgio error. Every variant that concerns a device names it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// What was given names no device node and no dm-multipath map.
    #[error("no such device or map: {}", path.display())]
    NotFound {
        /// What was given: a path, or a map name.
        path: PathBuf,
    },
    /// What was given cannot name a device at all (an empty string, `..`, a name with a NUL
    /// byte); nothing was looked up.
    #[error("invalid device or map name {given:?}: {reason}")]
    InvalidName {
        /// What was given.
        given: String,
        /// Why it is not a name.
        reason: &'static str,
    },
    /// The device node exists but may not be opened as asked.
    #[error("{}: permission denied (opening it {mode} needs {needs})", path.display())]
    PermissionDenied {
        /// The path given.
        path: PathBuf,
        /// "read-write" or "read-only".
        mode: &'static str,
        /// What would allow it.
        needs: &'static str,
    },
    /// Opening or inspecting the device failed for another reason.
    #[error("{}: {op} failed: {source}", path.display())]
    Io {
        /// The path given.
        path: PathBuf,
        /// The call (`open`, `fstat`, ...).
        op: &'static str,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The path is not something this crate can send SCSI commands to: a regular file, a
    /// directory, a character device that is not an sg node (`/dev/null`), a block device
    /// that is not a SCSI disk (loop, NVMe), a partition.
    #[error("{}: not a SCSI device: {reason}", path.display())]
    NotScsi {
        /// What was given.
        path: PathBuf,
        /// What it is instead.
        reason: String,
    },
    /// A device-mapper device that is not a dm-multipath map (LVM, dm-crypt, ...): its
    /// `dm/uuid` does not start with `mpath-`.
    #[error("{}: not a dm-multipath map: {reason}", path.display())]
    NotMultipath {
        /// What was given.
        path: PathBuf,
        /// What it is instead.
        reason: String,
    },
    /// A device-mapper ioctl failed.
    #[error("{op} on {target}: {message} (errno {errno})")]
    Dm {
        /// The ioctl (`DM_TABLE_STATUS`, ...).
        op: &'static str,
        /// The map or the control node.
        target: String,
        /// The errno value.
        errno: i32,
        /// The system's text for it.
        message: String,
    },
    /// Text or bytes from the kernel (dm status line, sysfs attribute, VPD page) could not be
    /// parsed.
    #[error("cannot parse {what}: {reason} (in {text:?})")]
    Parse {
        /// What was being parsed.
        what: &'static str,
        /// Why it failed.
        reason: String,
        /// The text (or a hex rendering of the bytes).
        text: String,
    },
    /// A device or map that was asked for does not exist.
    #[error("{what} not found: {name}")]
    Missing {
        /// What kind of object (`multipath map`, `path device`, ...).
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// A command completed at the device but failed, as classified by pr-core's
    /// [`pr_core::outcome::Completion::check`] (reservation conflict, unit attention, illegal request, a host
    /// or driver failure, ...). The error keeps the sense bytes.
    #[error("{device}: {what}: {source}")]
    Command {
        /// The device.
        device: String,
        /// The command (`PERSISTENT RESERVE IN READ KEYS`, ...).
        what: String,
        /// The classification, with the sense bytes.
        #[source]
        source: Box<pr_core::outcome::CommandError>,
    },
    /// An error from pr-core (building a request, decoding a response).
    #[error(transparent)]
    Core(Box<pr_core::Error>),
    /// The transport could not complete a command.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

impl From<pr_core::Error> for Error {
    fn from(e: pr_core::Error) -> Self {
        Error::Core(Box::new(e))
    }
}

impl From<pr_core::BuildError> for Error {
    fn from(e: pr_core::BuildError) -> Self {
        Error::Core(Box::new(e.into()))
    }
}

impl From<pr_core::DecodeError> for Error {
    fn from(e: pr_core::DecodeError) -> Self {
        Error::Core(Box::new(e.into()))
    }
}

impl Error {
    /// The pr-core classification of a failed command, when this is one.
    pub fn command_error(&self) -> Option<&pr_core::outcome::CommandError> {
        match self {
            Error::Command { source, .. } => Some(source),
            _ => None,
        }
    }

    /// Whether the command failed with RESERVATION CONFLICT.
    pub fn is_reservation_conflict(&self) -> bool {
        self.command_error()
            .is_some_and(|e| e.is_reservation_conflict())
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    /// The error for a failed `open` of `path`, classified by errno.
    pub(crate) fn from_open(path: &std::path::Path, read_only: bool, e: std::io::Error) -> Self {
        let mode = if read_only { "read-only" } else { "read-write" };
        match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                path: path.to_path_buf(),
            },
            std::io::ErrorKind::PermissionDenied => Error::PermissionDenied {
                path: path.to_path_buf(),
                mode,
                needs: if read_only {
                    "read permission on the node"
                } else {
                    "read and write permission on the node (usually root or the disk group)"
                },
            },
            _ if e.raw_os_error() == Some(libc::EISDIR) => Error::NotScsi {
                path: path.to_path_buf(),
                reason: "a directory, not a device node".to_owned(),
            },
            _ if e.raw_os_error() == Some(libc::EROFS) => Error::PermissionDenied {
                path: path.to_path_buf(),
                mode,
                needs: "a writable device (it is read-only; open it read-only for PR IN)",
            },
            _ => Error::Io {
                path: path.to_path_buf(),
                op: "open",
                source: e,
            },
        }
    }
}

impl Error {
    /// The error for a node that [`crate::sysfs::identify`] rejected; `path` is what was
    /// given.
    pub(crate) fn rejected(path: &std::path::Path, r: crate::sysfs::Rejection) -> Self {
        use crate::sysfs::Rejection;
        match r {
            Rejection::NotMultipath(reason) => Error::NotMultipath {
                path: path.to_path_buf(),
                reason,
            },
            Rejection::NotScsi(reason) | Rejection::Partition(reason) => Error::NotScsi {
                path: path.to_path_buf(),
                reason,
            },
        }
    }
}

/// The text of an errno, as `strerror` gives it.
pub(crate) fn errno_text(e: nix::errno::Errno) -> String {
    e.desc().to_owned()
}

/// A [`TransportError::Os`] for `op` on `device`, or [`TransportError::PathDown`] when the
/// errno says the device is gone.
pub(crate) fn os_error(op: &'static str, device: &str, e: nix::errno::Errno) -> TransportError {
    use nix::errno::Errno;
    match e {
        Errno::ENODEV | Errno::ENXIO | Errno::ENOMEDIUM | Errno::ESHUTDOWN => {
            TransportError::PathDown {
                device: device.to_owned(),
                reason: format!("{op}: {}", errno_text(e)),
            }
        }
        _ => TransportError::Os {
            op,
            device: device.to_owned(),
            errno: e as i32,
            message: errno_text(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn open_errors_are_classified_and_name_the_path() {
        let p = Path::new("/dev/sdq");
        let e = Error::from_open(p, false, std::io::Error::from_raw_os_error(libc::EACCES));
        assert!(matches!(e, Error::PermissionDenied { .. }));
        assert_eq!(
            e.to_string(),
            "/dev/sdq: permission denied (opening it read-write needs read and write permission on the node (usually root or the disk group))"
        );
        let e = Error::from_open(p, true, std::io::Error::from_raw_os_error(libc::EACCES));
        assert!(
            e.to_string().contains("read-only needs read permission"),
            "{e}"
        );
        let e = Error::from_open(p, false, std::io::Error::from_raw_os_error(libc::EROFS));
        assert!(e.to_string().contains("open it read-only for PR IN"), "{e}");
        let e = Error::from_open(p, false, std::io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(e.to_string(), "no such device or map: /dev/sdq");
        let e = Error::from_open(p, false, std::io::Error::from_raw_os_error(libc::EBUSY));
        assert!(e.to_string().starts_with("/dev/sdq: open failed: "), "{e}");
    }

    #[test]
    fn errno_mapping() {
        use nix::errno::Errno;
        assert!(matches!(
            os_error("SG_IO", "/dev/sda", Errno::ENODEV),
            TransportError::PathDown { .. }
        ));
        assert!(matches!(
            os_error("SG_IO", "/dev/sda", Errno::ENXIO),
            TransportError::PathDown { .. }
        ));
        let e = os_error("SG_IO", "/dev/sda", Errno::EIO);
        assert!(matches!(e, TransportError::Os { errno, .. } if errno == libc::EIO));
        assert!(e.to_string().starts_with("SG_IO on /dev/sda: "), "{e}");
    }

    #[test]
    fn error_stays_small() {
        assert!(size_of::<Error>() <= 96, "{}", size_of::<Error>());
    }
}
