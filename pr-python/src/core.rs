// SPDX-License-Identifier: MIT OR Apache-2.0
//! The one core under both front doors: the handle on a LUN that both views of a device
//! share, the operations (one [`Call`] per method, run by [`run`]), and the waits on
//! pr-multipath's runtime bridge ([`pr_multipath::blocking`]): blocking with the GIL
//! released ([`wait`]), or as an asyncio awaitable ([`awaitable`]).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use pr_core::types::PrInAction;
use pr_multipath::blocking::{self, Pending};
use pr_multipath::{InResult, Lun, OutRequest, Report};
use pyo3::prelude::*;

use crate::errors::{bridge_error, closed_error, internal_error_message};

/// One LUN as the Python objects hold it: `Device` and `AsyncDevice` views of one device
/// share one handle, so closing either closes both. Operations in flight keep their own
/// reference: closing lets them finish, and the LUN's file descriptors are closed when
/// the last of them ends.
pub(crate) struct Handle {
    name: String,
    simulated: bool,
    lun: Mutex<Option<Arc<Lun>>>,
}

impl Handle {
    /// A handle on `lun`, open.
    pub(crate) fn new(lun: Lun) -> Arc<Self> {
        Arc::new(Handle {
            name: lun.name().to_owned(),
            simulated: lun.paths().iter().any(|p| p.transport().is_simulated()),
            lun: Mutex::new(Some(Arc::new(lun))),
        })
    }

    /// The LUN's name (also once closed).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Whether the LUN's paths are simulated (also once closed).
    pub(crate) fn simulated(&self) -> bool {
        self.simulated
    }

    /// The LUN, or `DeviceClosedError`.
    pub(crate) fn lun(&self, py: Python<'_>) -> PyResult<Arc<Lun>> {
        self.lun
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| closed_error(py, &self.name))
    }

    /// Closes the handle (idempotent).
    pub(crate) fn close(&self) {
        let lun = self
            .lun
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(lun);
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.lun
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }
}

/// One operation on one LUN, its arguments already converted from Python (in
/// [`crate::ops`]).
pub(crate) enum Call {
    /// A PERSISTENT RESERVE OUT action.
    Out(OutRequest),
    /// A PERSISTENT RESERVE IN action.
    In(PrInAction),
    /// Re-read the path states.
    Refresh,
}

impl Call {
    /// The action's name (`READ KEYS`, `PREEMPT AND ABORT`, ...).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Call::Out(r) => r.action().name(),
            Call::In(a) => a.name(),
            Call::Refresh => "refresh",
        }
    }
}

/// What a [`Call`] returns.
pub(crate) enum Done {
    /// A PR OUT action's report.
    Report(Report),
    /// A PR IN action's answer.
    In(InResult),
    /// Nothing (refresh).
    Nothing,
}

/// Runs `call` on `lun` through pr-multipath's front door, and logs it (target
/// `pr_python`: the Python logger `pr_sdk.pr_python`).
pub(crate) async fn run(lun: Arc<Lun>, call: Call) -> pr_multipath::Result<Done> {
    let t0 = Instant::now();
    let action = call.name();
    let done = match call {
        Call::Out(request) => lun.execute(&request).await.map(Done::Report),
        Call::In(action) => lun.pr_in(action).await.map(Done::In),
        Call::Refresh => lun.refresh().await.map(|()| Done::Nothing),
    };
    crate::logging::call_done(lun.name(), action, &done, t0.elapsed());
    done
}

/// How long a blocked caller waits before it lets Python run its signal handlers (Ctrl-C).
pub(crate) const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Set when the interpreter starts to exit (an `atexit` handler, which runs after the
/// non-daemon threads were joined and before daemon threads are stopped).
static EXITING: AtomicBool = AtomicBool::new(false);

/// Whether the interpreter is exiting: no thread of this module may take the GIL any
/// more. (Before Python 3.14, a thread that takes it during finalization is ended with
/// `pthread_exit`, whose unwinding through Rust frames aborts the process.)
pub(crate) fn exiting() -> bool {
    EXITING.load(Ordering::Acquire)
}

/// The `atexit` handler that sets [`exiting`].
#[pyfunction]
pub(crate) fn _at_exit() {
    EXITING.store(true, Ordering::Release);
}

/// Runs `f` with the GIL released (a wait of at most [`SIGNAL_POLL`]), as
/// `Python::detach`, except that once the interpreter is exiting the (daemon) thread never
/// takes the GIL back: it sleeps until the process ends, as Python 3.14 does with such
/// threads.
pub(crate) fn detached<T, F>(py: Python<'_>, f: F) -> T
where
    T: Send,
    F: Send + FnOnce() -> T,
{
    py.detach(|| {
        let out = f();
        while exiting() {
            std::thread::park();
        }
        out
    })
}

/// Runs `fut` through pr-multipath's runtime bridge (`blocking::block_here`: polled on
/// this thread with the GIL released, the runtime thread driving its IO and timers) and
/// every [`SIGNAL_POLL`] takes the GIL to hand over log records and run Python's signal
/// handlers: one that raises (Ctrl-C) drops the future, which stops the operation where it
/// is (commands not yet sent are never sent), and propagates. A panic becomes
/// `InternalError`.
pub(crate) fn wait<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let out = detached(py, move || {
        blocking::block_here(fut, SIGNAL_POLL, || {
            if exiting() {
                return Ok(());
            }
            Python::attach(|py| {
                crate::logging::deliver(py);
                py.check_signals()
            })
        })
    });
    crate::logging::deliver(py);
    match out {
        Ok(done) => done,
        Err(e) => Err(bridge_error(py, &e)),
    }
}

/// Waits for `pending` as [`wait`] does.
pub(crate) fn wait_pending<T: Send>(py: Python<'_>, mut pending: Pending<T>) -> PyResult<T> {
    loop {
        let done = detached(py, || pending.wait_timeout(SIGNAL_POLL));
        crate::logging::deliver(py);
        match done {
            Some(Ok(v)) => return Ok(v),
            Some(Err(e)) => return Err(bridge_error(py, &e)),
            // An error from a signal handler drops `pending`: the task is aborted.
            None => py.check_signals()?,
        }
    }
}

/// Runs blocking work (device discovery, opening devices) on the runtime's blocking pool
/// and waits for it with the GIL released.
pub(crate) fn wait_blocking<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let done = detached(py, || blocking::runtime::block_on_blocking(f));
    crate::logging::deliver(py);
    done.map_err(|e| bridge_error(py, &e))
}

/// Runs blocking work (opening a device) on the runtime's blocking pool, as an asyncio
/// future (see [`awaitable`]).
pub(crate) fn awaitable_blocking<'py, T, F, C>(
    py: Python<'py>,
    f: F,
    convert: C,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    crate::asyncio::awaitable(
        py,
        blocking::runtime::on_blocking_pool(f),
        move |py, r| match r {
            Ok(v) => convert(py, v),
            Err(e) => Err(bridge_error(py, &e)),
        },
    )
}

/// Runs `f`, turning a panic into `InternalError` (for calls that do not go through the
/// runtime, such as the simulator's controls).
pub(crate) fn no_panic<T>(py: Python<'_>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        Err(internal_error_message(
            py,
            &blocking::runtime::panic_message(p.as_ref()),
        ))
    })
}

/// Panics on purpose, for the tests that prove no panic reaches Python as anything but a
/// `pr_sdk.errors.InternalError`: `where_` is `"call"` (in the calling thread), `"sync"`
/// (in a runtime task, blocking front door) or `"async"` (returns an awaitable whose task
/// panics).
#[pyfunction]
#[pyo3(signature = (where_))]
pub(crate) fn _debug_panic<'py>(py: Python<'py>, where_: &str) -> PyResult<Bound<'py, PyAny>> {
    async fn boom(what: &'static str) {
        if std::hint::black_box(true) {
            panic!("pr_sdk: deliberate panic ({what})")
        }
    }
    match where_ {
        "call" => no_panic(py, || -> PyResult<Bound<'py, PyAny>> {
            panic!("pr_sdk: deliberate panic (call)")
        }),
        "sync" => {
            wait(py, boom("sync"))?;
            Ok(py.None().into_bound(py))
        }
        "async" => crate::awaitable::Awaitable::lazy(py, |py| {
            crate::asyncio::awaitable(py, boom("async"), |py, ()| Ok(py.None()))
        }),
        other => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "where_ must be 'call', 'sync' or 'async', not {other:?}"
        ))),
    }
}
