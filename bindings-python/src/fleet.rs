// SPDX-License-Identifier: MIT OR Apache-2.0
//! Many-LUN unfence and fence (pr-multipath's fleet operations), blocking and asyncio, with
//! a result per LUN, progress callbacks and cancellation.

use std::sync::Arc;

use pr_core::transport::Transport;
use pr_core::types::{ReservationKey, ReservationType};
use pr_multipath::{CancellationToken, FleetOptions, LunResult, MultipathLun, Progress};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use tokio::sync::mpsc::unbounded_channel;

use crate::aio::AsyncDevice;
use crate::convert::{count_arg, key_arg, type_arg};
use crate::core::{AnyLun, catch, runtime, wait_with_progress};
use crate::errors::internal_error;
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

#[derive(Clone, Copy)]
enum FleetOp {
    Unfence(ReservationKey),
    Fence(ReservationKey, ReservationKey, ReservationType),
}

fn luns_arg(devices: &Bound<'_, PyAny>) -> PyResult<Vec<Arc<AnyLun>>> {
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
        if let Ok(dev) = d.extract::<PyRef<'_, Device>>() {
            out.push(Arc::clone(&dev.lun));
        } else if let Ok(dev) = d.extract::<PyRef<'_, AsyncDevice>>() {
            out.push(Arc::clone(&dev.lun));
        } else {
            return Err(PyTypeError::new_err(format!(
                "devices[{i}] must be a Device or AsyncDevice"
            )));
        }
    }
    if let Some(first) = out.first()
        && out.iter().any(|l| l.is_sim() != first.is_sim())
    {
        return Err(PyValueError::new_err(
            "devices must be all simulated or all real, not a mix",
        ));
    }
    Ok(out)
}

fn options(
    concurrency: &Bound<'_, PyAny>,
    cancel: Option<&Bound<'_, CancelToken>>,
) -> PyResult<FleetOptions> {
    let c = count_arg(concurrency, "concurrency")?;
    if c == 0 {
        return Err(PyValueError::new_err("concurrency must be at least 1"));
    }
    Ok(FleetOptions {
        concurrency: c,
        cancel: cancel.map_or_else(CancellationToken::new, |t| t.get().token.clone()),
        progress: None,
        ..FleetOptions::default()
    })
}

async fn dispatch<T: Transport>(
    op: FleetOp,
    luns: &[&MultipathLun<T>],
    options: &FleetOptions,
) -> Vec<LunResult> {
    match op {
        FleetOp::Unfence(key) => pr_multipath::unfence(luns, key, options).await,
        FleetOp::Fence(key, victim, ty) => {
            pr_multipath::fence(luns, key, victim, ty, options).await
        }
    }
}

async fn run_fleet(luns: Vec<Arc<AnyLun>>, op: FleetOp, options: FleetOptions) -> Vec<LunResult> {
    let sim = luns.first().is_some_and(|l| l.is_sim());
    if sim {
        let refs: Vec<&MultipathLun<pr_sim::SimPath>> = luns
            .iter()
            .filter_map(|l| match &**l {
                AnyLun::Sim(x) => Some(x),
                AnyLun::Sg(_) => None,
            })
            .collect();
        dispatch(op, &refs, &options).await
    } else {
        let refs: Vec<&pr_multipath::Lun> = luns
            .iter()
            .filter_map(|l| match &**l {
                AnyLun::Sg(x) => Some(x),
                AnyLun::Sim(_) => None,
            })
            .collect();
        dispatch(op, &refs, &options).await
    }
}

/// The fleet future as a `Send` future for the shared runtime. pr-multipath's fleet future
/// cannot be proven `Send` under `spawn`'s higher-ranked bounds (a rustc limitation with
/// closures in streams, rust-lang/rust#102211), so it is driven by `Handle::block_on` on one
/// thread of the runtime's blocking pool (the runtime's IO and timer drivers still serve
/// it; no new runtime is made). Dropping this future stops that one too, at once.
async fn run_fleet_send(
    luns: Vec<Arc<AnyLun>>,
    op: FleetOp,
    options: FleetOptions,
) -> Vec<LunResult> {
    let stop = CancellationToken::new();
    let _stop_on_drop = stop.clone().drop_guard();
    let handle = tokio::runtime::Handle::current();
    let joined = tokio::task::spawn_blocking(move || {
        handle.block_on(async move {
            tokio::select! {
                r = run_fleet(luns, op, options) => Some(r),
                () = stop.cancelled() => None,
            }
        })
    })
    .await;
    match joined {
        Ok(r) => r.unwrap_or_default(),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Vec::new(),
    }
}

fn run_sync(
    py: Python<'_>,
    luns: Vec<Arc<AnyLun>>,
    op: FleetOp,
    mut options: FleetOptions,
    progress: Option<Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    let rx = match progress {
        Some(cb) => {
            let (tx, rx) = unbounded_channel::<Progress>();
            options.progress = Some(tx);
            Some((rx, cb))
        }
        None => None,
    };
    let results = wait_with_progress(py, run_fleet_send(luns, op, options), rx)?;
    crate::convert::lun_results(py, &results)
}

fn run_async<'py>(
    py: Python<'py>,
    luns: Vec<Arc<AnyLun>>,
    op: FleetOp,
    mut options: FleetOptions,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let forward = match progress {
        Some(cb) => {
            // Progress is delivered on the event loop (call_soon_threadsafe), before the
            // result, so callbacks may touch loop-bound objects.
            let event_loop = pyo3_async_runtimes::tokio::get_current_locals(py)?
                .event_loop(py)
                .unbind();
            let (tx, mut rx) = unbounded_channel::<Progress>();
            options.progress = Some(tx);
            Some(runtime().spawn(async move {
                while let Some(p) = rx.recv().await {
                    let delivered = Python::attach(|py| -> PyResult<()> {
                        let obj = crate::convert::progress(py, &p)?;
                        event_loop
                            .bind(py)
                            .call_method1("call_soon_threadsafe", (cb.clone_ref(py), obj))?;
                        Ok(())
                    });
                    if delivered.is_err() {
                        break;
                    }
                }
            }))
        }
        None => None,
    };
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        let r = catch(run_fleet_send(luns, op, options)).await;
        if let Some(f) = forward {
            let _ = f.await;
        }
        Python::attach(|py| match r {
            Ok(results) => crate::convert::lun_results(py, &results),
            Err(p) => Err(internal_error(py, &p)),
        })
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
    let luns = luns_arg(devices)?;
    let op = FleetOp::Unfence(key_arg(key, "key")?);
    let options = options(&default_concurrency(py, concurrency), cancel)?;
    run_sync(py, luns, op, options, progress)
}

/// Fences: PREEMPT AND ABORT of ``victim_key`` by ``key`` (taking the reservation with
/// ``type`` where the victim held it) on every device. Returns one ``LunResult`` per device,
/// in order. ``progress`` and ``cancel`` as for ``unfence``.
#[pyfunction]
#[pyo3(
    signature = (devices, key, victim_key, r#type = None, *, concurrency = None, progress = None, cancel = None),
    text_signature = "(devices, key, victim_key, type=None, *, concurrency=None, progress=None, cancel=None)"
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
) -> PyResult<Py<PyAny>> {
    let luns = luns_arg(devices)?;
    let op = fence_op(key, victim_key, r#type)?;
    let options = options(&default_concurrency(py, concurrency), cancel)?;
    run_sync(py, luns, op, options, progress)
}

/// As ``unfence``, awaitable; ``progress`` is called on the event loop.
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
    let luns = luns_arg(devices)?;
    let op = FleetOp::Unfence(key_arg(key, "key")?);
    let options = options(&default_concurrency(py, concurrency), cancel)?;
    run_async(py, luns, op, options, progress)
}

/// As ``fence``, awaitable; ``progress`` is called on the event loop.
#[pyfunction]
#[pyo3(
    signature = (devices, key, victim_key, r#type = None, *, concurrency = None, progress = None, cancel = None),
    text_signature = "(devices, key, victim_key, type=None, *, concurrency=None, progress=None, cancel=None)"
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
) -> PyResult<Bound<'py, PyAny>> {
    let luns = luns_arg(devices)?;
    let op = fence_op(key, victim_key, r#type)?;
    let options = options(&default_concurrency(py, concurrency), cancel)?;
    run_async(py, luns, op, options, progress)
}

fn fence_op(
    key: &Bound<'_, PyAny>,
    victim_key: &Bound<'_, PyAny>,
    ty: Option<&Bound<'_, PyAny>>,
) -> PyResult<FleetOp> {
    let ty = match ty {
        Some(t) => type_arg(t, "type")?,
        None => ReservationType::WriteExclusiveRegistrantsOnly,
    };
    Ok(FleetOp::Fence(
        key_arg(key, "key")?,
        key_arg(victim_key, "victim_key")?,
        ty,
    ))
}

fn default_concurrency<'py>(py: Python<'py>, c: Option<&Bound<'py, PyAny>>) -> Bound<'py, PyAny> {
    match c {
        Some(c) => c.clone(),
        None => 32u32
            .into_pyobject(py)
            .map_or_else(|_| py.None().into_bound(py), |v| v.into_any()),
    }
}
