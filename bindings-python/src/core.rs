// SPDX-License-Identifier: MIT OR Apache-2.0
//! The one core under both front doors: a LUN of any transport, the operations on it, the
//! shared runtime, and the bridge that waits for a future without holding the GIL.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use futures_util::FutureExt;
use pr_core::prin::Capabilities;
use pr_core::transport::Transport;
use pr_core::transport_id::TransportId;
use pr_core::types::{ReservationKey, ReservationType};
use pr_multipath::{
    FullStatusInfo, KeysInfo, MultipathLun, Progress, RegisterRequest, Report, ReservationInfo,
};
use pyo3::prelude::*;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::errors::internal_error;

/// A LUN over any of the transports the module offers.
pub(crate) enum AnyLun {
    /// A dm-multipath map, or one path device, through pr-sgio.
    Sg(pr_multipath::Lun),
    /// Simulated paths.
    Sim(MultipathLun<pr_sim::SimPath>),
}

impl AnyLun {
    pub(crate) fn name(&self) -> &str {
        match self {
            AnyLun::Sg(l) => l.name(),
            AnyLun::Sim(l) => l.name(),
        }
    }

    pub(crate) fn is_sim(&self) -> bool {
        matches!(self, AnyLun::Sim(_))
    }

    /// Every path's name and whether it is usable.
    pub(crate) fn paths(&self) -> Vec<(String, bool)> {
        fn of<T: Transport>(l: &MultipathLun<T>) -> Vec<(String, bool)> {
            l.paths()
                .iter()
                .map(|p| (p.name().to_owned(), p.is_usable()))
                .collect()
        }
        match self {
            AnyLun::Sg(l) => of(l),
            AnyLun::Sim(l) => of(l),
        }
    }

    pub(crate) fn set_path_usable(&self, name: &str, usable: bool) -> bool {
        let state = if usable {
            pr_multipath::PathState::Usable
        } else {
            pr_multipath::PathState::Failed
        };
        match self {
            AnyLun::Sg(l) => l.set_path_state(name, state),
            AnyLun::Sim(l) => l.set_path_state(name, state),
        }
    }
}

/// One operation on one LUN.
pub(crate) enum Op {
    ReadKeys,
    ReadReservation,
    ReportCapabilities,
    ReadFullStatus,
    Register(RegisterRequest),
    RegisterSpecIPt(RegisterRequest, Vec<TransportId<'static>>),
    Reserve(ReservationKey, ReservationType),
    Release(ReservationKey, ReservationType),
    Clear(ReservationKey),
    Preempt {
        key: ReservationKey,
        victim: ReservationKey,
        ty: ReservationType,
        abort: bool,
    },
    ReplaceLost(ReservationKey, ReservationType),
    RegisterAndMove {
        key: ReservationKey,
        dest_key: ReservationKey,
        ty: ReservationType,
        destination: TransportId<'static>,
        relative_target_port: u16,
        unreg: bool,
        aptpl: bool,
    },
    Refresh,
}

/// What an operation returns.
pub(crate) enum Out {
    Keys(KeysInfo),
    Reservation(ReservationInfo),
    Capabilities(Capabilities),
    FullStatus(FullStatusInfo),
    Report(Report),
    Nothing,
}

/// Runs `op` on `lun` (the only place that calls pr-multipath's per-LUN actions).
pub(crate) async fn run(lun: Arc<AnyLun>, op: Op) -> pr_multipath::Result<Out> {
    match &*lun {
        AnyLun::Sg(l) => run_on(l, op).await,
        AnyLun::Sim(l) => run_on(l, op).await,
    }
}

async fn run_on<T: Transport>(l: &MultipathLun<T>, op: Op) -> pr_multipath::Result<Out> {
    Ok(match op {
        Op::ReadKeys => Out::Keys(l.read_keys().await?),
        Op::ReadReservation => Out::Reservation(l.read_reservation().await?),
        Op::ReportCapabilities => Out::Capabilities(l.report_capabilities().await?),
        Op::ReadFullStatus => Out::FullStatus(l.read_full_status().await?),
        Op::Register(req) => Out::Report(l.register(req).await?),
        Op::RegisterSpecIPt(req, ids) => Out::Report(l.register_spec_i_pt(req, &ids).await?),
        Op::Reserve(k, t) => Out::Report(l.reserve(k, t).await?),
        Op::Release(k, t) => Out::Report(l.release(k, t).await?),
        Op::Clear(k) => Out::Report(l.clear(k).await?),
        Op::Preempt {
            key,
            victim,
            ty,
            abort: false,
        } => Out::Report(l.preempt(key, victim, ty).await?),
        Op::Preempt {
            key,
            victim,
            ty,
            abort: true,
        } => Out::Report(l.preempt_and_abort(key, victim, ty).await?),
        Op::ReplaceLost(k, t) => Out::Report(l.replace_lost_reservation(k, t).await?),
        Op::RegisterAndMove {
            key,
            dest_key,
            ty,
            destination,
            relative_target_port,
            unreg,
            aptpl,
        } => Out::Report(
            l.register_and_move(
                key,
                dest_key,
                ty,
                &destination,
                relative_target_port,
                unreg,
                aptpl,
            )
            .await?,
        ),
        Op::Refresh => {
            l.refresh().await?;
            Out::Nothing
        }
    })
}

/// The runtime both front doors share: pyo3-async-runtimes' tokio runtime (multi-threaded,
/// IO and time drivers enabled), started on first use.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

type Panic = Box<dyn Any + Send + 'static>;

enum Msg<T> {
    Progress(Progress),
    Done(Result<T, Panic>),
}

/// How often a blocked caller wakes up to let Python handle signals (Ctrl-C).
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Runs `fut` on the shared runtime and waits for it with the GIL released (the blocking
/// front door). Ctrl-C (any pending signal whose handler raises) drops the future, which
/// stops its commands where they are, and raises. A panic becomes `InternalError`.
pub(crate) fn block_on<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    wait_with_progress(py, fut, None)
}

/// As [`block_on`], also calling `callback` (with the GIL held, on the caller's thread) for
/// each [`Progress`] received from `progress` before the result is returned. If the callback
/// raises, the operation is dropped and the exception propagates.
pub(crate) fn wait_with_progress<T, F>(
    py: Python<'_>,
    fut: F,
    progress: Option<(UnboundedReceiver<Progress>, Py<PyAny>)>,
) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Msg<T>>();
    let (forward, callback) = match progress {
        Some((mut prx, cb)) => {
            let ptx = tx.clone();
            let handle = runtime().spawn(async move {
                while let Some(p) = prx.recv().await {
                    if ptx.send(Msg::Progress(p)).is_err() {
                        break;
                    }
                }
            });
            (Some(handle), Some(cb))
        }
        None => (None, None),
    };
    let task = runtime().spawn(async move {
        let r = AssertUnwindSafe(fut).catch_unwind().await;
        if let Some(f) = forward {
            // The progress sender lives in `fut`, now dropped: the forwarder ends once it
            // has passed on every event, so progress always precedes the result.
            let _ = f.await;
        }
        let _ = tx.send(Msg::Done(r));
    });
    let abort = task.abort_handle();
    let mut rx = rx;
    loop {
        let (back, msg) = py.detach(move || {
            let m = rx.recv_timeout(SIGNAL_POLL);
            (rx, m)
        });
        rx = back;
        match msg {
            Ok(Msg::Done(Ok(v))) => return Ok(v),
            Ok(Msg::Done(Err(p))) => return Err(internal_error(py, &p)),
            Ok(Msg::Progress(p)) => {
                if let Some(cb) = &callback {
                    let obj = crate::convert::progress(py, &p)?;
                    if let Err(e) = cb.call1(py, (obj,)) {
                        abort.abort();
                        return Err(e);
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    abort.abort();
                    return Err(e);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(internal_error(
                    py,
                    &(Box::new("the operation's task ended without a result") as Panic),
                ));
            }
        }
    }
}

/// Runs blocking work (device discovery, opening devices) on the runtime's blocking pool,
/// inside the runtime's context, and waits for it as [`block_on`] does.
pub(crate) fn block_on_blocking<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let joined = block_on(py, async move { tokio::task::spawn_blocking(f).await })?;
    joined.map_err(|e| match e.try_into_panic() {
        Ok(p) => internal_error(py, &p),
        Err(e) => internal_error(py, &(Box::new(e.to_string()) as Panic)),
    })
}

/// Runs `f`, turning a panic into `InternalError` (for calls that do not go through the
/// runtime, such as the simulator's controls).
pub(crate) fn no_panic<T>(py: Python<'_>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(internal_error(py, &p)))
}

/// Wraps a future for the asyncio front door: a panic becomes `InternalError`.
pub(crate) async fn catch<T>(fut: impl Future<Output = T>) -> Result<T, Panic> {
    AssertUnwindSafe(fut).catch_unwind().await
}

/// Panics on purpose, for the tests that prove no panic reaches Python as anything but a
/// `pr_sdk.errors.InternalError`: `where_` is `"call"` (in the calling thread), `"sync"`
/// (in a runtime task, blocking front door) or `"async"` (returns an awaitable whose task
/// panics).
#[pyfunction]
#[pyo3(signature = (where_))]
pub(crate) fn _debug_panic<'py>(py: Python<'py>, where_: &str) -> PyResult<Bound<'py, PyAny>> {
    match where_ {
        "call" => no_panic(py, || -> PyResult<Bound<'py, PyAny>> {
            panic!("pr_sdk: deliberate panic (call)")
        }),
        "sync" => {
            block_on(py, async {
                if std::hint::black_box(true) {
                    panic!("pr_sdk: deliberate panic (sync)")
                }
            })?;
            Ok(py.None().into_bound(py))
        }
        "async" => pyo3_async_runtimes::tokio::future_into_py(py, async {
            let r: Result<(), Panic> = catch(async {
                if std::hint::black_box(true) {
                    panic!("pr_sdk: deliberate panic (async)")
                }
            })
            .await;
            match r {
                Ok(()) => Ok(()),
                Err(p) => Python::attach(|py| Err(internal_error(py, &p))),
            }
        }),
        other => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "where_ must be 'call', 'sync' or 'async', not {other:?}"
        ))),
    }
}
