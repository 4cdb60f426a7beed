// SPDX-License-Identifier: MIT OR Apache-2.0
//! Many-LUN unfence and fence (pr-multipath's fleet), blocking and asyncio, with a result
//! per LUN, progress callbacks and cancellation. Every argument is checked before the
//! first command is sent; a progress callback that raises never stops the operation.

use std::sync::Arc;

use pr_core::types::{ReservationKey, ReservationType};
use pr_multipath::{CancellationToken, FenceAction, FleetOptions, Lun, LunResult, Progress};
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use tokio::sync::mpsc::unbounded_channel;

use crate::aio::AsyncDevice;
use crate::asyncio::awaitable;
use crate::awaitable::Awaitable;
use crate::convert::{count_arg, key_arg, type_arg};
use crate::core::{SIGNAL_POLL, detached, wait_pending};
use crate::errors::bridge_error;
use crate::sync::Device;

/// Stops a many-LUN operation gracefully: LUNs not started yet are not started (their
/// result is an ``OperationCancelledError``); LUNs already started finish their operation.
/// (Ctrl-C on the blocking call, or cancelling the asyncio task, stops everything at once.)
#[pyclass(frozen, module = "pr_sdk._native", name = "CancelToken")]
pub(crate) struct CancelToken {
    token: CancellationToken,
}

#[pymethods]
impl CancelToken {
    /// A token not cancelled yet.
    #[new]
    fn new() -> Self {
        CancelToken {
            token: CancellationToken::new(),
        }
    }

    /// Cancels (idempotent; thread-safe).
    fn cancel(&self) {
        self.token.cancel();
    }

    /// Whether ``cancel`` was called.
    #[getter]
    fn cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// A many-LUN operation.
#[derive(Clone, Copy)]
enum FleetOp {
    Unfence(ReservationKey),
    Fence(ReservationKey, ReservationKey, ReservationType),
}

/// Everything a many-LUN call needs, checked.
struct Checked {
    luns: Vec<Arc<Lun>>,
    op: FleetOp,
    options: FleetOptions,
    progress: Option<Py<PyAny>>,
}

/// The one call of pr-multipath's fleet (the fence's options change with its "already
/// fenced" outcome and its choice of PREEMPT or PREEMPT AND ABORT: adapt them here).
async fn run_fleet(luns: Vec<Arc<Lun>>, op: FleetOp, options: FleetOptions) -> Vec<LunResult> {
    let refs: Vec<&Lun> = luns.iter().map(|l| &**l).collect();
    match op {
        FleetOp::Unfence(key) => pr_multipath::fleet::unfence(&refs, key, &options).await,
        FleetOp::Fence(key, victim, ty) => {
            pr_multipath::fleet::fence(&refs, key, victim, ty, &options).await
        }
    }
}

fn luns_arg(py: Python<'_>, devices: &Bound<'_, PyAny>) -> PyResult<Vec<Arc<Lun>>> {
    if devices.is_instance_of::<pyo3::types::PyString>() {
        return Err(PyTypeError::new_err(
            "devices must be a sequence of Device or AsyncDevice, not str",
        ));
    }
    let it = devices
        .try_iter()
        .map_err(|_| PyTypeError::new_err("devices must be a sequence of Device or AsyncDevice"))?;
    let mut out = Vec::new();
    for (i, d) in it.enumerate() {
        let d = d?;
        let handle = if let Ok(dev) = d.cast::<Device>() {
            Arc::clone(&dev.get().handle)
        } else if let Ok(dev) = d.cast::<AsyncDevice>() {
            Arc::clone(&dev.get().handle)
        } else {
            return Err(PyTypeError::new_err(format!(
                "devices[{i}] must be a Device or AsyncDevice"
            )));
        };
        out.push(handle.lun(py)?);
    }
    if out.is_empty() {
        return Err(PyValueError::new_err("devices must not be empty"));
    }
    Ok(out)
}

/// Checks every argument of a many-LUN call; nothing is sent before this succeeds.
fn check(
    py: Python<'_>,
    devices: &Bound<'_, PyAny>,
    op: impl FnOnce() -> PyResult<FleetOp>,
    concurrency: Option<&Bound<'_, PyAny>>,
    progress: Option<Py<PyAny>>,
    cancel: Option<&Bound<'_, CancelToken>>,
) -> PyResult<Checked> {
    let luns = luns_arg(py, devices)?;
    let op = op()?;
    let concurrency = match concurrency {
        Some(c) => count_arg(c, "concurrency")?,
        None => FleetOptions::default().concurrency,
    };
    if concurrency == 0 {
        return Err(PyValueError::new_err("concurrency must be at least 1"));
    }
    let progress = progress.filter(|p| !p.is_none(py));
    if let Some(p) = &progress
        && !p.bind(py).is_callable()
    {
        let ty = p
            .bind(py)
            .get_type()
            .name()
            .map_or_else(|_| "?".to_owned(), |n| n.to_string());
        return Err(PyTypeError::new_err(format!(
            "progress must be callable or None, not {ty}"
        )));
    }
    Ok(Checked {
        luns,
        op,
        options: FleetOptions {
            concurrency,
            cancel: cancel.map_or_else(CancellationToken::new, |t| t.get().token.clone()),
            progress: None,
            fence_action: FenceAction::default(),
        },
        progress,
    })
}

/// PREEMPT AND ABORT (`abort`, the default, as fence_scsi) or PREEMPT for a fence.
fn with_abort(mut c: Checked, abort: bool) -> Checked {
    c.options.fence_action = if abort {
        FenceAction::PreemptAndAbort
    } else {
        FenceAction::Preempt
    };
    c
}

fn fence_op(
    key: &Bound<'_, PyAny>,
    victim_key: &Bound<'_, PyAny>,
    ty: Option<&Bound<'_, PyAny>>,
) -> PyResult<FleetOp> {
    let key = key_arg(key, "key")?;
    let victim = key_arg(victim_key, "victim_key")?;
    let ty = match ty {
        Some(t) if !t.is_none() => type_arg(t, "type")?,
        _ => ReservationType::WriteExclusiveRegistrantsOnly,
    };
    Ok(FleetOp::Fence(key, victim, ty))
}

/// Runs a checked many-LUN call, blocking: waits with the GIL released, calls `progress`
/// on this thread as each LUN finishes. A callback that raises an `Exception` does not
/// stop the operation: it goes on to the end, then the first such exception is raised
/// with the per-LUN results in its `results` attribute. Ctrl-C (or a callback raising a
/// `BaseException` that is not an `Exception`, such as `KeyboardInterrupt`) drops the
/// operation at once.
fn run_sync(py: Python<'_>, c: Checked) -> PyResult<Py<PyAny>> {
    let Checked {
        luns,
        op,
        mut options,
        progress,
    } = c;
    let Some(callback) = progress else {
        let pending = pr_multipath::blocking::spawn(run_fleet(luns, op, options))
            .map_err(|e| bridge_error(py, &e))?;
        let results = wait_pending(py, pending)?;
        return crate::convert::lun_results(py, &results);
    };
    // Progress comes to this thread through a channel; `None` says the operation ended
    // (after its last progress), so the wait below never waits longer than needed.
    let (tx, mut rx) = std::sync::mpsc::channel::<Option<Progress>>();
    let (ptx, mut prx) = unbounded_channel::<Progress>();
    options.progress = Some(ptx);
    let pending = pr_multipath::blocking::spawn(async move {
        let forward = async {
            while let Some(p) = prx.recv().await {
                let _ = tx.send(Some(p));
            }
        };
        // The fleet future owns the progress sender: the forwarder ends after it.
        let (results, ()) = futures_util::future::join(run_fleet(luns, op, options), forward).await;
        let _ = tx.send(None);
        results
    })
    .map_err(|e| bridge_error(py, &e))?;
    let mut failed: Option<PyErr> = None;
    let mut failures = 0usize;
    loop {
        let rx = &mut rx; // (a `Receiver` is `Send`, not `Sync`)
        let next = detached(py, move || rx.recv_timeout(SIGNAL_POLL));
        crate::logging::deliver(py);
        match next {
            Ok(Some(p)) => {
                let obj = crate::convert::progress(py, &p)?;
                if let Err(e) = callback.call1(py, (obj,)) {
                    if !e.is_instance_of::<PyException>(py) {
                        return Err(e); // drops `pending`: the operation is aborted
                    }
                    failures += 1;
                    failed.get_or_insert(e);
                }
                py.check_signals()?;
            }
            Ok(None) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => py.check_signals()?,
        }
    }
    let results = wait_pending(py, pending)?;
    let list = crate::convert::lun_results(py, &results)?;
    match failed {
        None => Ok(list),
        Some(e) => {
            let exc = e.value(py);
            exc.setattr("results", list)?;
            if exc.hasattr("add_note")? {
                exc.call_method1(
                    "add_note",
                    (format!(
                        "pr_sdk: the progress callback raised ({failures} of {} calls); the \
                         operation went on to the end: its per-LUN results are in this \
                         exception's `results`",
                        results.len()
                    ),),
                )?;
            }
            Err(e)
        }
    }
}

/// Runs a checked many-LUN call as a coroutine: `progress` is called on the event loop
/// (`call_soon_threadsafe`), before the result; an exception it raises goes to the loop's
/// exception handler and does not stop the operation.
fn run_async(py: Python<'_>, c: Checked) -> PyResult<Bound<'_, PyAny>> {
    let Checked {
        luns,
        op,
        mut options,
        progress,
    } = c;
    Awaitable::named(py, "many-LUN operation", move |py| {
        let forward = match progress {
            Some(cb) => {
                let event_loop = Arc::new(crate::asyncio::running_loop(py)?.unbind());
                let cb = Arc::new(cb);
                let (tx, mut rx) = unbounded_channel::<Progress>();
                options.progress = Some(tx);
                // Each event goes to the event loop through the `pr-sdk-asyncio` thread,
                // in order and before the result (which that thread also delivers).
                Some(async move {
                    while let Some(p) = rx.recv().await {
                        let (event_loop, cb) = (Arc::clone(&event_loop), Arc::clone(&cb));
                        let sent = crate::asyncio::run_with_gil(Box::new(move |py| {
                            let args =
                                crate::convert::progress(py, &p).map(|obj| (cb.clone_ref(py), obj));
                            crate::asyncio::call_soon(py, &event_loop, args);
                        }));
                        if !sent {
                            break;
                        }
                    }
                })
            }
            None => None,
        };
        awaitable(
            py,
            async move {
                let fleet = run_fleet(luns, op, options);
                match forward {
                    Some(f) => futures_util::future::join(fleet, f).await.0,
                    None => fleet.await,
                }
            },
            |py, results| crate::convert::lun_results(py, &results),
        )
    })
}

/// Unfences: REGISTER AND IGNORE EXISTING KEY ``key`` on every usable path of every device
/// (at most ``concurrency`` LUNs at once). Returns one ``LunResult`` per device, in order;
/// failures are results, not exceptions. ``progress(Progress)`` is called on this thread as
/// each LUN finishes; ``cancel`` stops starting new LUNs.
#[pyfunction]
#[pyo3(signature = (devices, key, *, concurrency = None, progress = None, cancel = None))]
pub(crate) fn unfence(
    py: Python<'_>,
    devices: &Bound<'_, PyAny>,
    key: &Bound<'_, PyAny>,
    concurrency: Option<&Bound<'_, PyAny>>,
    progress: Option<Py<PyAny>>,
    cancel: Option<&Bound<'_, CancelToken>>,
) -> PyResult<Py<PyAny>> {
    let op = || Ok(FleetOp::Unfence(key_arg(key, "key")?));
    let c = check(py, devices, op, concurrency, progress, cancel)?;
    run_sync(py, c)
}

/// Fences: PREEMPT AND ABORT of ``victim_key`` by ``key`` (taking the reservation with
/// ``type`` where the victim held it) on every device. Returns one ``LunResult`` per device,
/// in order. ``progress`` and ``cancel`` as for ``unfence``.
#[pyfunction]
#[pyo3(
    signature = (devices, key, victim_key, r#type = None, *, concurrency = None, progress = None, cancel = None, abort = true),
    text_signature = "(devices, key, victim_key, type=None, *, concurrency=None, progress=None, cancel=None, abort=True)"
)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn fence(
    py: Python<'_>,
    devices: &Bound<'_, PyAny>,
    key: &Bound<'_, PyAny>,
    victim_key: &Bound<'_, PyAny>,
    r#type: Option<&Bound<'_, PyAny>>,
    concurrency: Option<&Bound<'_, PyAny>>,
    progress: Option<Py<PyAny>>,
    cancel: Option<&Bound<'_, CancelToken>>,
    abort: bool,
) -> PyResult<Py<PyAny>> {
    let op = || fence_op(key, victim_key, r#type);
    let c = with_abort(
        check(py, devices, op, concurrency, progress, cancel)?,
        abort,
    );
    run_sync(py, c)
}

/// As ``unfence``, a coroutine; ``progress`` is called on the event loop.
#[pyfunction]
#[pyo3(signature = (devices, key, *, concurrency = None, progress = None, cancel = None))]
pub(crate) fn unfence_async<'py>(
    py: Python<'py>,
    devices: &Bound<'py, PyAny>,
    key: &Bound<'py, PyAny>,
    concurrency: Option<&Bound<'py, PyAny>>,
    progress: Option<Py<PyAny>>,
    cancel: Option<&Bound<'py, CancelToken>>,
) -> PyResult<Bound<'py, PyAny>> {
    let op = || Ok(FleetOp::Unfence(key_arg(key, "key")?));
    let c = check(py, devices, op, concurrency, progress, cancel)?;
    run_async(py, c)
}

/// As ``fence``, a coroutine; ``progress`` is called on the event loop.
#[pyfunction]
#[pyo3(
    signature = (devices, key, victim_key, r#type = None, *, concurrency = None, progress = None, cancel = None, abort = true),
    text_signature = "(devices, key, victim_key, type=None, *, concurrency=None, progress=None, cancel=None, abort=True)"
)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn fence_async<'py>(
    py: Python<'py>,
    devices: &Bound<'py, PyAny>,
    key: &Bound<'py, PyAny>,
    victim_key: &Bound<'py, PyAny>,
    r#type: Option<&Bound<'py, PyAny>>,
    concurrency: Option<&Bound<'py, PyAny>>,
    progress: Option<Py<PyAny>>,
    cancel: Option<&Bound<'py, CancelToken>>,
    abort: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let op = || fence_op(key, victim_key, r#type);
    let c = with_abort(
        check(py, devices, op, concurrency, progress, cancel)?,
        abort,
    );
    run_async(py, c)
}
