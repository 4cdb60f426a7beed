//! What kind of failure an [`Error`] is, for faces that map errors onto their own
//! vocabulary (exception classes, C result codes, exit statuses) without looking into
//! the layers below pr-multipath.

use pr_core::outcome::CommandError;
use pr_core::transport::TransportError;

use crate::error::{Error, Failure};

/// The kind of an [`Error`]: one value per way a caller may want to react.
///
/// With the `serde` feature: its snake_case name, e.g. `"reservation_conflict"`,
/// `"path_failure"`, `"not_found"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument is unusable as given (empty name, bad descriptor, a request that
    /// cannot be encoded).
    InvalidArgument,
    /// No such multipath map or device.
    NotFound,
    /// Not a SCSI device or multipath map.
    NotScsi,
    /// The operating system refused access (not root, no `CAP_SYS_RAWIO`).
    PermissionDenied,
    /// RESERVATION CONFLICT (or a release whose type does not match the reservation).
    ReservationConflict,
    /// ILLEGAL REQUEST from the device (unsupported action, invalid field).
    IllegalRequest,
    /// Another CHECK CONDITION or status from the device; the sense is in the error.
    DeviceError,
    /// No path could carry the command (down, timed out, transport errors).
    PathFailure,
    /// The transport cannot carry this request (e.g. READ FULL STATUS over the block
    /// ioctls).
    Unsupported,
    /// The configured reservation key (multipath.conf, prkeys) does not match, or none is
    /// configured.
    KeyMismatch,
    /// The safety check refused to preempt on the caller's behalf.
    SafetyCheck,
    /// Configuration, device-mapper, sysfs or multipathd trouble.
    System,
    /// Cancelled before it started.
    Cancelled,
    /// A bug (a panic caught, a lost task).
    Internal,
}

fn of_command(c: &CommandError) -> ErrorKind {
    if c.is_reservation_conflict() {
        ErrorKind::ReservationConflict
    } else if matches!(c, CommandError::IllegalRequest { .. }) {
        ErrorKind::IllegalRequest
    } else if c.is_path_failure() {
        ErrorKind::PathFailure
    } else {
        ErrorKind::DeviceError
    }
}

fn of_transport(t: &TransportError) -> ErrorKind {
    match t {
        TransportError::Unsupported { .. } => ErrorKind::Unsupported,
        TransportError::InvalidRequest(_) => ErrorKind::InvalidArgument,
        TransportError::Os { errno, .. } if *errno == 1 || *errno == 13 => {
            ErrorKind::PermissionDenied
        }
        _ => ErrorKind::PathFailure,
    }
}

impl Failure {
    /// The kind of this failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Failure::Command(c) => of_command(c),
            Failure::Transport(t) => of_transport(t),
        }
    }
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NoUsablePath { .. } => ErrorKind::PathFailure,
            Error::Failed { failure, .. } => failure
                .as_deref()
                .map_or(ErrorKind::PathFailure, Failure::kind),
            Error::KeyMismatch { .. } | Error::NoConfiguredKey { .. } => ErrorKind::KeyMismatch,
            Error::SafetyCheck { .. } => ErrorKind::SafetyCheck,
            Error::TypeMismatch { .. } | Error::NotRegistered { .. } => {
                ErrorKind::ReservationConflict
            }
            Error::Build(_) | Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::NotScsi { .. } => ErrorKind::NotScsi,
            Error::Cancelled { .. } => ErrorKind::Cancelled,
            Error::Runtime(_) => ErrorKind::Internal,
            Error::Sgio(e) => match &**e {
                pr_sgio::Error::NotFound { .. } | pr_sgio::Error::Missing { .. } => {
                    ErrorKind::NotFound
                }
                pr_sgio::Error::NotScsi { .. } => ErrorKind::NotScsi,
                pr_sgio::Error::PermissionDenied { .. } => ErrorKind::PermissionDenied,
                pr_sgio::Error::Transport(t) => of_transport(t),
                other => other.command_error().map_or(ErrorKind::System, of_command),
            },
            _ => ErrorKind::System,
        }
    }
}
