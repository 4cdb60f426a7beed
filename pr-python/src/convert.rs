// SPDX-License-Identifier: MIT OR Apache-2.0
//! Arguments from Python (checked, with `TypeError`/`ValueError` naming the argument) and
//! results to Python (instances of the dataclasses of `pr_sdk._types`).

use pr_core::prin::{CapabilityFlags, TypeMask};
use pr_core::transport_id::TransportId;
use pr_core::types::{ReservationKey, ReservationType};
use pr_multipath::{InResult, LunOutcome, LunResult, Progress, Report};
use pyo3::BoundObject;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::core::Done;
use crate::tid::PyTransportId;

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// An unsigned integer argument in `0..=max`.
pub(crate) fn uint_arg(obj: &Bound<'_, PyAny>, name: &str, max: u64) -> PyResult<u64> {
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{name} must be an int, not {}",
            type_name(obj)
        )));
    }
    match obj.extract::<u64>() {
        Ok(v) if v <= max => Ok(v),
        _ => Err(PyValueError::new_err(format!(
            "{name} must be in 0..={max:#x}, got {}",
            obj.repr()
                .map_or_else(|_| "?".to_owned(), |r| r.to_string())
        ))),
    }
}

/// A reservation key argument: an int in `0..2**64`.
pub(crate) fn key_arg(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<ReservationKey> {
    uint_arg(obj, name, u64::MAX).map(ReservationKey)
}

/// A `u16` argument.
pub(crate) fn u16_arg(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<u16> {
    uint_arg(obj, name, u64::from(u16::MAX)).map(|v| u16::try_from(v).unwrap_or(u16::MAX))
}

/// A `u8` argument.
pub(crate) fn u8_arg(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<u8> {
    uint_arg(obj, name, u64::from(u8::MAX)).map(|v| u8::try_from(v).unwrap_or(u8::MAX))
}

/// A count argument (`usize`).
pub(crate) fn count_arg(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<usize> {
    uint_arg(obj, name, u64::from(u32::MAX)).map(|v| usize::try_from(v).unwrap_or(usize::MAX))
}

/// A reservation type argument: a `ReservationType` or its int code (1, 3, 5, 6, 7, 8).
pub(crate) fn type_arg(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<ReservationType> {
    let code = uint_arg(obj, name, u64::MAX).map_err(|e| {
        if e.is_instance_of::<PyTypeError>(obj.py()) {
            PyTypeError::new_err(format!(
                "{name} must be a ReservationType (or its int code), not {}",
                type_name(obj)
            ))
        } else {
            e
        }
    })?;
    u8::try_from(code)
        .ok()
        .and_then(ReservationType::from_code)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "{name} must be a reservation type code (1, 3, 5, 6, 7 or 8), got {code}"
            ))
        })
}

/// A TransportID argument: a `TransportId` or one of its text forms.
pub(crate) fn tid_arg(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<TransportId<'static>> {
    if let Ok(t) = obj.extract::<PyRef<'_, PyTransportId>>() {
        return Ok(t.tid.clone());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        let text = s.to_cow()?;
        let text: &str = &text;
        return TransportId::parse(text)
            .map(TransportId::into_owned)
            .map_err(|e| PyValueError::new_err(format!("{name}: {e}: {text:?}")));
    }
    Err(PyTypeError::new_err(format!(
        "{name} must be a TransportId or str, not {}",
        type_name(obj)
    )))
}

/// A duration in seconds (int or float, finite, not negative).
pub(crate) fn seconds_arg(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<std::time::Duration> {
    if obj.is_instance_of::<PyBool>()
        || !(obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>())
    {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a number of seconds, not {}",
            type_name(obj)
        )));
    }
    let v: f64 = obj.extract()?;
    std::time::Duration::try_from_secs_f64(v).map_err(|_| {
        PyValueError::new_err(format!(
            "{name} must be a finite, non-negative number of seconds, got {v}"
        ))
    })
}

fn types(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("pr_sdk._types")
}

fn rtype<'py>(py: Python<'py>, code: u8) -> PyResult<Bound<'py, PyAny>> {
    types(py)?.getattr("_type_of")?.call1((code,))
}

fn kwargs<'py>(
    py: Python<'py>,
    items: &[(&str, Bound<'py, PyAny>)],
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in items {
        d.set_item(*k, v)?;
    }
    Ok(d)
}

pub(crate) fn obj<'py, T>(py: Python<'py>, v: T) -> PyResult<Bound<'py, PyAny>>
where
    T: IntoPyObject<'py>,
    PyErr: From<T::Error>,
{
    Ok(v.into_pyobject(py)?.into_any().into_bound())
}

pub(crate) fn build(
    py: Python<'_>,
    class: &str,
    items: &[(&str, Bound<'_, PyAny>)],
) -> PyResult<Py<PyAny>> {
    let kw = kwargs(py, items)?;
    Ok(types(py)?.getattr(class)?.call((), Some(&kw))?.unbind())
}

/// The Python object of a `Report`.
pub(crate) fn report(py: Python<'_>, r: &Report) -> PyResult<Py<PyAny>> {
    let mut steps = Vec::with_capacity(r.steps.len());
    for s in &r.steps {
        let (error, status, sense) = match &s.result {
            Ok(()) => (None, None, &[][..]),
            Err(f) => (
                Some(f.to_string()),
                f.command_error().and_then(|c| c.status()).map(|st| st.0),
                f.sense_bytes(),
            ),
        };
        steps.push(build(
            py,
            "Step",
            &[
                ("path", obj(py, s.path.as_str())?),
                ("phase", obj(py, format!("{:?}", s.phase))?),
                ("command", obj(py, s.command.to_string())?),
                ("attempts", obj(py, s.attempts)?),
                ("ok", obj(py, s.result.is_ok())?),
                ("error", obj(py, error)?),
                ("status", obj(py, status)?),
                ("sense", PyBytes::new(py, sense).into_any()),
            ],
        )?);
    }
    let regs = PyDict::new(py);
    for p in &r.registrations {
        regs.set_item(&p.path, format!("{:?}", p.registration))?;
    }
    let events: Vec<String> = r.map_events.iter().map(|e| format!("{e:?}")).collect();
    build(
        py,
        "Report",
        &[
            ("lun", obj(py, r.lun.as_str())?),
            ("steps", PyTuple::new(py, steps)?.into_any()),
            ("registrations", regs.into_any()),
            ("map_events", PyTuple::new(py, events)?.into_any()),
            ("notes", PyTuple::new(py, &r.notes)?.into_any()),
            ("text", obj(py, r.to_string())?),
        ],
    )
}

fn capabilities(py: Python<'_>, c: &pr_core::prin::Capabilities) -> PyResult<Py<PyAny>> {
    let f = c.flags;
    let mut ts = Vec::new();
    if f.contains(CapabilityFlags::TMV) {
        for t in ReservationType::ALL {
            if c.type_mask.contains(TypeMask::of(t)) {
                ts.push(rtype(py, t.code())?);
            }
        }
    }
    let set = pyo3::types::PyFrozenSet::new(py, &ts)?;
    build(
        py,
        "Capabilities",
        &[
            ("crh", obj(py, f.contains(CapabilityFlags::CRH))?),
            ("sip_c", obj(py, f.contains(CapabilityFlags::SIP_C))?),
            ("atp_c", obj(py, f.contains(CapabilityFlags::ATP_C))?),
            ("ptpl_c", obj(py, f.contains(CapabilityFlags::PTPL_C))?),
            ("tmv", obj(py, f.contains(CapabilityFlags::TMV))?),
            ("ptpl_a", obj(py, f.contains(CapabilityFlags::PTPL_A))?),
            ("rlr_c", obj(py, f.contains(CapabilityFlags::RLR_C))?),
            ("allow_commands", obj(py, c.allow_commands.0)?),
            ("types", set.into_any()),
        ],
    )
}

/// The Python object of an operation's result.
pub(crate) fn done(py: Python<'_>, d: Done) -> PyResult<Py<PyAny>> {
    match d {
        Done::In(r) => in_result(py, r),
        Done::Report(r) => report(py, &r),
        Done::Nothing => Ok(py.None()),
    }
}

/// The Python object of a PR IN answer.
pub(crate) fn in_result(py: Python<'_>, r: InResult) -> PyResult<Py<PyAny>> {
    match r {
        InResult::Keys(k) => {
            let keys: Vec<u64> = k.keys.iter().map(|k| k.0).collect();
            build(
                py,
                "Keys",
                &[
                    ("generation", obj(py, k.generation)?),
                    ("keys", PyTuple::new(py, keys)?.into_any()),
                    ("path", obj(py, k.path.as_str())?),
                ],
            )
        }
        InResult::Reservation(r) => {
            let res = match r.reservation {
                Some(v) => build(
                    py,
                    "Reservation",
                    &[
                        ("key", obj(py, v.key.0)?),
                        ("type", rtype(py, v.type_code)?),
                        ("type_code", obj(py, v.type_code)?),
                        ("scope", obj(py, v.scope.code())?),
                    ],
                )?,
                None => py.None(),
            };
            build(
                py,
                "ReservationState",
                &[
                    ("generation", obj(py, r.generation)?),
                    ("reservation", res.into_bound(py)),
                    ("path", obj(py, r.path.as_str())?),
                ],
            )
        }
        InResult::Capabilities(c) => capabilities(py, &c),
        InResult::FullStatus(s) => {
            let mut entries = Vec::with_capacity(s.entries.len());
            for e in &s.entries {
                let tid = match &e.transport_id {
                    Some(t) => Py::new(py, PyTransportId { tid: t.clone() })?.into_any(),
                    None => py.None(),
                };
                entries.push(build(
                    py,
                    "StatusEntry",
                    &[
                        ("key", obj(py, e.key.0)?),
                        ("all_tg_pt", obj(py, e.all_tg_pt)?),
                        ("holder", obj(py, e.holder)?),
                        ("type", rtype(py, e.type_code)?),
                        ("type_code", obj(py, e.type_code)?),
                        ("relative_target_port", obj(py, e.relative_target_port)?),
                        ("transport_id", tid.into_bound(py)),
                        (
                            "transport_id_bytes",
                            PyBytes::new(py, &e.transport_id_bytes).into_any(),
                        ),
                    ],
                )?);
            }
            build(
                py,
                "FullStatus",
                &[
                    ("generation", obj(py, s.generation)?),
                    ("entries", PyTuple::new(py, entries)?.into_any()),
                    ("path", obj(py, s.path.as_str())?),
                ],
            )
        }
    }
}

/// The Python object of a `Progress` (one finished LUN of a many-LUN operation): the one
/// place that turns pr-multipath's per-LUN outcomes into `Progress.outcome` strings.
pub(crate) fn progress(py: Python<'_>, p: &Progress) -> PyResult<Py<PyAny>> {
    let (outcome, message) = match &p.outcome {
        LunOutcome::Ok => ("ok", None),
        LunOutcome::AlreadyFenced => ("already_fenced", None),
        LunOutcome::Failed(m) => ("failed", Some(m.as_str())),
        LunOutcome::Cancelled => ("cancelled", None),
    };
    build(
        py,
        "Progress",
        &[
            ("done", obj(py, p.done)?),
            ("total", obj(py, p.total)?),
            ("lun", obj(py, p.lun.as_str())?),
            ("outcome", obj(py, outcome)?),
            ("message", obj(py, message)?),
        ],
    )
}

/// The Python `LunResult` of one LUN of a many-LUN operation: the one place that maps
/// pr-multipath's per-LUN results to Python. `outcome` is `"ok"`, `"failed"`,
/// `"cancelled"` (not started: the error is an `OperationCancelledError`) or
/// `"already_fenced"` (a fence found the victim's key already gone: `ok` is true).
pub(crate) fn lun_result(py: Python<'_>, r: &LunResult) -> PyResult<Py<PyAny>> {
    let (outcome, report, error) = match &r.result {
        Ok(rep) if r.already_fenced => ("already_fenced", report(py, rep)?, py.None()),
        Ok(rep) => ("ok", report(py, rep)?, py.None()),
        Err(e) => (
            if matches!(e, pr_multipath::Error::Cancelled { .. }) {
                "cancelled"
            } else {
                "failed"
            },
            e.report()
                .map_or_else(|| Ok(py.None()), |rep| report(py, rep))?,
            crate::errors::error_object(py, e)?,
        ),
    };
    build(
        py,
        "LunResult",
        &[
            ("lun", obj(py, r.lun.as_str())?),
            ("ok", obj(py, r.result.is_ok())?),
            ("report", report.into_bound(py)),
            ("error", error.into_bound(py)),
            ("outcome", obj(py, outcome)?),
        ],
    )
}

/// The Python list of `LunResult`s of a many-LUN operation, in the order of its LUNs.
pub(crate) fn lun_results(py: Python<'_>, results: &[LunResult]) -> PyResult<Py<PyAny>> {
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        out.push(lun_result(py, r)?);
    }
    Ok(PyList::new(py, out)?.into_any().unbind())
}
