// SPDX-License-Identifier: MIT OR Apache-2.0
//! The asyncio bridge: an operation runs on pr-multipath's runtime thread
//! (`blocking::spawn`), and its result reaches an asyncio future of the caller's event
//! loop through one thread of this module, `pr-sdk-asyncio`, which takes the GIL for it.
//!
//! - The runtime thread never takes the GIL: it hands a [`Job`] (convert the result, then
//!   `loop.call_soon_threadsafe(complete, future, ...)`) to the `pr-sdk-asyncio` thread,
//!   which runs every job waiting in one GIL hold. A runtime thread that waited for the
//!   GIL would hold up every other operation of the process.
//! - Cancelling the asyncio future (a cancelled task, `asyncio.wait_for` timing out) drops
//!   the operation's `Pending`, which stops it (commands not yet sent are never sent).
//! - Once the interpreter is exiting ([`crate::core::exiting`]) the thread never takes the
//!   GIL again: it parks until the process ends, as Python 3.14 does with daemon threads.
//!   (pyo3-async-runtimes, used before, completed futures from its own threads, which could
//!   take the GIL during interpreter finalization and crash the process at exit.)
//! - After `fork()` the child starts its own thread on first use.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Mutex, PoisonError};

use futures_util::FutureExt;
use pr_multipath::blocking::{self, BridgeError, Pending};
use pyo3::prelude::*;

use crate::core::exiting;
use crate::errors::bridge_error;

/// Work that needs the GIL, run on the `pr-sdk-asyncio` thread.
pub(crate) type Job = Box<dyn FnOnce(Python<'_>) + Send>;

/// The sender to the `pr-sdk-asyncio` thread, and the process that started it.
static COMPLETER: Mutex<Option<(u32, Sender<Job>)>> = Mutex::new(None);

/// Hands `job` to the `pr-sdk-asyncio` thread (started on first use, and anew in a forked
/// child). `false` if the thread could not be started.
pub(crate) fn run_with_gil(job: Job) -> bool {
    let mut guard = COMPLETER.lock().unwrap_or_else(PoisonError::into_inner);
    let pid = std::process::id();
    if let Some((owner, tx)) = guard.as_ref()
        && *owner == pid
    {
        return match tx.send(job) {
            Ok(()) => true,
            Err(std::sync::mpsc::SendError(job)) => {
                *guard = None;
                drop(guard);
                run_with_gil(job)
            }
        };
    }
    let (tx, rx) = channel::<Job>();
    let started = std::thread::Builder::new()
        .name("pr-sdk-asyncio".into())
        .spawn(move || completer(&rx));
    if started.is_err() {
        return false;
    }
    let sent = tx.send(job).is_ok();
    *guard = Some((pid, tx));
    sent
}

/// The `pr-sdk-asyncio` thread: runs the jobs, every one waiting in one GIL hold.
fn completer(rx: &Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        if exiting() {
            park_forever();
        }
        Python::attach(|py| {
            // A job catches its own panics; this is the last guard of the thread.
            let run = |job: Job| {
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(py)));
            };
            run(first);
            while let Ok(job) = rx.try_recv() {
                run(job);
            }
            crate::logging::deliver(py);
        });
    }
}

fn park_forever() -> ! {
    loop {
        std::thread::park();
    }
}

/// Sets an asyncio future's result or exception unless it is already done (cancelled);
/// called by the event loop (`call_soon_threadsafe`).
#[pyfunction]
fn _complete(future: &Bound<'_, PyAny>, ok: bool, value: Bound<'_, PyAny>) -> PyResult<()> {
    if future.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    if ok {
        future.call_method1("set_result", (value,))?;
    } else {
        future.call_method1("set_exception", (value,))?;
    }
    Ok(())
}

/// Drops the operation's [`Pending`] when its asyncio future is done: when it was
/// cancelled, that stops the operation.
#[pyclass(frozen)]
struct StopOnDone {
    pending: Mutex<Option<Pending<()>>>,
}

#[pymethods]
impl StopOnDone {
    fn __call__(&self, _future: &Bound<'_, PyAny>) {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(pending);
    }
}

/// The running event loop of this thread (`asyncio.get_running_loop()`).
pub(crate) fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    py.import("asyncio")?.call_method0("get_running_loop")
}

/// `event_loop.call_soon_threadsafe(*args)` for a call built here, with the GIL: a failure
/// to build it, or a closed loop (nobody waits any more), goes nowhere else; any other
/// error is reported as unraisable.
pub(crate) fn call_soon<'py, A>(py: Python<'py>, event_loop: &Py<PyAny>, args: PyResult<A>)
where
    A: pyo3::call::PyCallArgs<'py>,
{
    let done = args.and_then(|a| event_loop.bind(py).call_method1("call_soon_threadsafe", a));
    if let Err(e) = done
        && !e.is_instance_of::<pyo3::exceptions::PyRuntimeError>(py)
    {
        e.write_unraisable(py, None);
    }
}

/// Schedules `value` (a result when `ok`, else an exception) on `future` in `event_loop`.
fn complete_later(
    py: Python<'_>,
    event_loop: &Py<PyAny>,
    future: &Py<PyAny>,
    ok: bool,
    value: Py<PyAny>,
) {
    let args = wrap_pyfunction!(_complete, py).map(|complete| (complete, future, ok, value));
    call_soon(py, event_loop, args);
}

/// Runs `fut` on pr-multipath's runtime thread and returns an asyncio future of the
/// running loop that gives `convert(py, output)`. Call it on the event loop's thread, with
/// the loop running.
pub(crate) fn awaitable<'py, T, F, C>(
    py: Python<'py>,
    fut: F,
    convert: C,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let event_loop = running_loop(py)?;
    let future = event_loop.call_method0("create_future")?;
    let (loop_ref, future_ref) = (event_loop.unbind(), future.clone().unbind());
    let pending = blocking::spawn(async move {
        // A panic of the operation or of `convert` fails the future with InternalError:
        // caught here, the asyncio future is always completed.
        let out = AssertUnwindSafe(fut).catch_unwind().await;
        let job: Job = Box::new(move |py| {
            // The operation's log records first: they are all queued by now, and must
            // reach `logging` before the awaiting coroutine resumes.
            crate::logging::deliver(py);
            let converted = out
                .map_err(|p| BridgeError::Panicked(blocking::runtime::panic_message(p.as_ref())))
                .map_err(|e| bridge_error(py, &e))
                .and_then(|v| {
                    std::panic::catch_unwind(AssertUnwindSafe(|| convert(py, v))).unwrap_or_else(
                        |p| {
                            let msg = blocking::runtime::panic_message(p.as_ref());
                            Err(bridge_error(py, &BridgeError::Panicked(msg)))
                        },
                    )
                });
            let (ok, value) = match converted {
                Ok(v) => (true, v),
                Err(e) => (false, e.into_value(py).into_any()),
            };
            complete_later(py, &loop_ref, &future_ref, ok, value);
        });
        // Not started: the future then never completes; nothing else can be done here.
        let _ = run_with_gil(job);
    })
    .map_err(|e| bridge_error(py, &e))?;
    let stop = Bound::new(
        py,
        StopOnDone {
            pending: Mutex::new(Some(pending)),
        },
    )?;
    future.call_method1("add_done_callback", (stop,))?;
    Ok(future)
}
