// SPDX-License-Identifier: MIT OR Apache-2.0
//! Errors: every pr-multipath, pr-sgio and simulator error becomes an instance of a
//! `pr_sdk.errors.PrError` subclass (Python classes, imported on use), carrying the SCSI
//! status, the sense bytes, the sense key, ASC/ASCQ, the LUN and the per-path report.

use std::any::Any;

use pr_core::outcome::CommandError;
use pr_core::transport::TransportError;
use pr_multipath::{Error, Failure};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
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

fn command_fields<'a>(c: &'a CommandError, f: &mut Fields<'a>) -> &'static str {
    f.status = c.status().map(|s| s.0);
    f.sense = c.sense_bytes();
    f.sense_key = c.sense_key().map(|k| k.code());
    if let Some((asc, ascq)) = c.asc_ascq() {
        f.asc = Some(asc);
        f.ascq = Some(ascq);
    }
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

fn transport_class(t: &TransportError) -> &'static str {
    match t {
        TransportError::PathDown { .. } => "PathDownError",
        TransportError::Timeout(_) => "CommandTimeoutError",
        TransportError::Os { errno, .. } if *errno == 13 || *errno == 1 => "PermissionDeniedError",
        _ => "TransportError",
    }
}

fn sgio_fields<'a>(e: &'a pr_sgio::Error, f: &mut Fields<'a>) -> &'static str {
    use pr_sgio::Error as S;
    match e {
        S::NotFound { .. } => "DeviceNotFoundError",
        S::PermissionDenied { .. } => "PermissionDeniedError",
        S::Io { source, .. } => match source.kind() {
            std::io::ErrorKind::PermissionDenied => "PermissionDeniedError",
            std::io::ErrorKind::NotFound => "DeviceNotFoundError",
            _ => "PrError",
        },
        S::Dm { errno, .. } if *errno == 13 || *errno == 1 => "PermissionDeniedError",
        S::Dm { errno: 6, .. } => "DeviceNotFoundError",
        S::Missing { what, .. } if *what == "multipath map" => "NotAMultipathMapError",
        S::Missing { .. } => "DeviceNotFoundError",
        S::Command { source, .. } => command_fields(source, f),
        S::Transport(t) => transport_class(t),
        _ => "PrError",
    }
}

/// The class name and fields for a pr-multipath error.
fn classify<'a>(e: &'a Error, f: &mut Fields<'a>) -> &'static str {
    match e {
        Error::NoUsablePath { lun } => {
            f.lun = Some(lun);
            "NoUsablePathError"
        }
        Error::Failed { lun, failure, .. } => {
            f.lun = Some(lun);
            match failure.as_deref() {
                Some(Failure::Command(c)) => command_fields(c, f),
                Some(Failure::Transport(t)) => transport_class(t),
                None => "PrError",
            }
        }
        Error::KeyMismatch { lun, .. } | Error::NoConfiguredKey { lun } => {
            f.lun = Some(lun);
            "KeyMismatchError"
        }
        Error::SafetyCheck { lun, .. } => {
            f.lun = Some(lun);
            "SafetyCheckError"
        }
        Error::TypeMismatch { lun, .. } => {
            // libmpathpersist reports it as a reservation conflict; no command returned it.
            f.lun = Some(lun);
            "ReservationConflictError"
        }
        Error::MapControl { lun, .. } | Error::Decode { lun, .. } => {
            f.lun = Some(lun);
            "PrError"
        }
        Error::Sgio(s) => sgio_fields(s, f),
        Error::Cancelled { lun } => {
            f.lun = Some(lun);
            "OperationCancelledError"
        }
        _ => "PrError",
    }
}

/// The exception object for `e` (not raised: many-LUN results carry it as a value).
pub(crate) fn error_object(py: Python<'_>, e: &Error) -> PyResult<Py<PyAny>> {
    let mut f = Fields::default();
    let class = classify(e, &mut f);
    make(py, class, &e.to_string(), &f, e.report())
}

/// The `PyErr` to raise for `e`. A request that pr-core refuses to build (a value the
/// command cannot carry) is a `ValueError`.
pub(crate) fn to_pyerr(py: Python<'_>, e: &Error) -> PyErr {
    if let Error::Build(b) = e {
        return PyValueError::new_err(format!("invalid request: {b}"));
    }
    match error_object(py, e) {
        Ok(obj) => PyErr::from_value(obj.into_bound(py)),
        Err(err) => err,
    }
}

/// The `PyErr` for a pr-sgio error outside an operation (opening a device).
pub(crate) fn sgio_to_pyerr(py: Python<'_>, e: &pr_sgio::Error) -> PyErr {
    let mut f = Fields::default();
    let class = sgio_fields(e, &mut f);
    match make(py, class, &e.to_string(), &f, None) {
        Ok(obj) => PyErr::from_value(obj.into_bound(py)),
        Err(err) => err,
    }
}

/// `InternalError` for a caught panic.
pub(crate) fn internal_error(py: Python<'_>, payload: &Box<dyn Any + Send + 'static>) -> PyErr {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    let message = format!("internal error (a bug in pr-sdk, please report it): {what}");
    match make(py, "InternalError", &message, &Fields::default(), None) {
        Ok(obj) => PyErr::from_value(obj.into_bound(py)),
        Err(_) => PyRuntimeError::new_err(message),
    }
}
