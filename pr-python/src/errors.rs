// SPDX-License-Identifier: MIT OR Apache-2.0
//! Errors: every pr-multipath error becomes an instance of a `pr_sdk.errors.PrError`
//! subclass (Python classes, imported on use), chosen from the error's
//! [`ErrorKind`] in one function ([`class_of`]), carrying the
//! SCSI status, the sense bytes, the sense key, ASC/ASCQ, the LUN and the per-path report.

use pr_core::outcome::CommandError;
use pr_core::transport::TransportError;
use pr_multipath::blocking::BridgeError;
use pr_multipath::{Error, ErrorKind, Failure};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

/// What an exception carries besides its class and message.
#[derive(Default)]
struct Fields<'a> {
    status: Option<u8>,
    sense: &'a [u8],
    sense_key: Option<u8>,
    asc: Option<u8>,
    ascq: Option<u8>,
    lun: Option<&'a str>,
}

/// Builds an exception instance of `pr_sdk.errors.<class>`.
fn make(
    py: Python<'_>,
    class: &str,
    message: &str,
    f: &Fields<'_>,
    report: Option<&pr_multipath::Report>,
) -> PyResult<Py<PyAny>> {
    let module = py.import("pr_sdk.errors")?;
    let cls = module.getattr(class)?;
    let kw = PyDict::new(py);
    kw.set_item("status", f.status)?;
    kw.set_item("sense", PyBytes::new(py, f.sense))?;
    kw.set_item("sense_key", f.sense_key)?;
    kw.set_item("asc", f.asc)?;
    kw.set_item("ascq", f.ascq)?;
    kw.set_item("lun", f.lun)?;
    match report {
        Some(r) => kw.set_item("report", crate::convert::report(py, r)?)?,
        None => kw.set_item("report", py.None())?,
    }
    Ok(cls.call((message,), Some(&kw))?.unbind())
}

/// A `PyErr` of class `pr_sdk.errors.<class>` (falls back to the import error, which is
/// itself an exception, if the package is broken).
pub(crate) fn raise(py: Python<'_>, class: &str, message: &str) -> PyErr {
    match make(py, class, message, &Fields::default(), None) {
        Ok(obj) => PyErr::from_value(obj.into_bound(py)),
        Err(e) => e,
    }
}

/// `DeviceClosedError` for a device closed before the call.
pub(crate) fn closed_error(py: Python<'_>, name: &str) -> PyErr {
    raise(
        py,
        "DeviceClosedError",
        &format!("{name}: the device is closed"),
    )
}

/// The class of a command that completed at the device unsuccessfully.
fn command_class(c: &CommandError) -> &'static str {
    match c {
        CommandError::ReservationConflict { .. } => "ReservationConflictError",
        CommandError::UnitAttention { .. } => "UnitAttentionError",
        CommandError::IllegalRequest { .. } => "IllegalRequestError",
        CommandError::NotReady { .. } => "NotReadyError",
        CommandError::Transport { .. } => "TransportError",
        CommandError::Busy
        | CommandError::TaskSetFull
        | CommandError::AcaActive
        | CommandError::TaskAborted
        | CommandError::UnexpectedStatus { .. } => "CommandStatusError",
        _ => "SenseError",
    }
}

/// The exception class (in `pr_sdk.errors`) for `e`: by its kind, refined within a kind
/// by the decisive command's status and sense (pr-core's classification) or transport
/// failure. The one place that decides.
fn class_of(e: &Error) -> &'static str {
    let command = e.command_error();
    match e.kind() {
        ErrorKind::InvalidArgument => "InvalidArgumentError",
        ErrorKind::NotFound => "DeviceNotFoundError",
        ErrorKind::NotScsi => "NotScsiDeviceError",
        ErrorKind::PermissionDenied => "PermissionDeniedError",
        ErrorKind::ReservationConflict => "ReservationConflictError",
        ErrorKind::IllegalRequest => "IllegalRequestError",
        ErrorKind::DeviceError => command.map_or("PrError", command_class),
        ErrorKind::PathFailure => match (e, e.failure()) {
            (Error::NoUsablePath { .. }, _) => "NoUsablePathError",
            (_, Some(Failure::Command(c))) => command_class(c),
            (_, Some(Failure::Transport(TransportError::PathDown { .. }))) => "PathDownError",
            (_, Some(Failure::Transport(TransportError::Timeout(_)))) => "CommandTimeoutError",
            _ => "TransportError",
        },
        // A request this kind of path cannot carry (block ioctls): no command failed.
        ErrorKind::Unsupported => "TransportError",
        ErrorKind::KeyMismatch => "KeyMismatchError",
        ErrorKind::SafetyCheck => "SafetyCheckError",
        ErrorKind::Cancelled => "OperationCancelledError",
        ErrorKind::Internal => "InternalError",
        _ => "PrError",
    }
}

/// The exception object for `e` (not raised: many-LUN results carry it as a value).
pub(crate) fn error_object(py: Python<'_>, e: &Error) -> PyResult<Py<PyAny>> {
    if let Error::Runtime(b) = e {
        return Ok(bridge_error(py, b).into_value(py).into_any());
    }
    let mut f = Fields {
        lun: e.lun(),
        ..Fields::default()
    };
    if let Some(c) = e.command_error() {
        f.status = c.status().map(|s| s.0);
        f.sense = c.sense_bytes();
        f.sense_key = c.sense_key().map(|k| k.code());
        if let Some((asc, ascq)) = c.asc_ascq() {
            f.asc = Some(asc);
            f.ascq = Some(ascq);
        }
    }
    make(py, class_of(e), &e.to_string(), &f, e.report())
}

/// The `PyErr` to raise for `e`.
pub(crate) fn to_pyerr(py: Python<'_>, e: &Error) -> PyErr {
    match error_object(py, e) {
        Ok(obj) => PyErr::from_value(obj.into_bound(py)),
        Err(err) => err,
    }
}

/// `InternalError` with `what` (the message of a caught panic, or what went wrong).
pub(crate) fn internal_error_message(py: Python<'_>, what: &str) -> PyErr {
    let message = format!(
        "internal error (a bug in pr-sdk): {what}; please report this bug to the pr-sdk \
         developers with this message"
    );
    match make(py, "InternalError", &message, &Fields::default(), None) {
        Ok(obj) => PyErr::from_value(obj.into_bound(py)),
        Err(_) => PyRuntimeError::new_err(message),
    }
}

/// The `PyErr` for a failure of pr-multipath's runtime bridge: a panic or a lost task is
/// an `InternalError`; a runtime that cannot start is a `PrError`.
pub(crate) fn bridge_error(py: Python<'_>, e: &BridgeError) -> PyErr {
    match e {
        BridgeError::Panicked(what) => internal_error_message(py, what),
        BridgeError::Lost => {
            internal_error_message(py, "the operation's task ended without a result")
        }
        BridgeError::Start(_) => raise(py, "PrError", &e.to_string()),
    }
}

/// The exception for a command that completed at the device unsuccessfully (`c`, from
/// the status and sense a helper replied with), of the class pr-multipath's errors of
/// the same command get.
pub(crate) fn command_error(py: Python<'_>, c: &CommandError, what: &str) -> PyErr {
    let mut f = Fields {
        status: c.status().map(|s| s.0),
        sense: c.sense_bytes(),
        sense_key: c.sense_key().map(|k| k.code()),
        ..Fields::default()
    };
    if let Some((asc, ascq)) = c.asc_ascq() {
        f.asc = Some(asc);
        f.ascq = Some(ascq);
    }
    match make(py, command_class(c), &format!("{what}: {c}"), &f, None) {
        Ok(obj) => PyErr::from_value(obj.into_bound(py)),
        Err(e) => e,
    }
}
