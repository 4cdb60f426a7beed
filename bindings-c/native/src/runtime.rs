// SPDX-License-Identifier: MIT OR Apache-2.0
//! The one runtime thread that drives the async core for synchronous C callers (the
//! `reqwest::blocking` pattern).
//!
//! - A thread named `pr-sdk-runtime` owns a current-thread tokio runtime (time and IO
//!   drivers enabled; SG_IO runs on that runtime's blocking pool). It is started by the first
//!   call that needs it.
//! - Each call sends a boxed future over a channel; the runtime thread spawns it as a task
//!   (so calls from many C threads run concurrently) and the task sends the answer back on a
//!   `std::sync::mpsc` channel the caller blocks on. The caller's thread never enters a
//!   tokio runtime: a caller that itself runs tokio (a worker thread, inside `block_on`) is
//!   safe, it is only blocked like any synchronous call.
//! - A panic inside the future is caught on the runtime thread and answered as
//!   `PR_ERR_PANIC`; the runtime thread survives.
//! - `pr_library_exit()` closes the channel and joins the thread; tasks still running are
//!   dropped with the runtime (their callers get `PR_ERR_RUNTIME`). A later call starts a
//!   new runtime thread.
//! - **fork()**: the runtime thread does not exist in a child. The first call in the child
//!   sees a different process id, sets the parent's runtime aside (kept, never touched, a
//!   few hundred bytes) and starts its own; `pr_library_exit()` in the child joins the
//!   child's. Handles opened before the fork work in the child (they hold no thread). Do not fork while another thread is inside a `pr_*` call (its locks
//!   would be copied held), as with any multithreaded library.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

use futures_util::FutureExt;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::error::{ErrorInfo, pr_result};

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

struct RuntimeThread {
    tx: UnboundedSender<Job>,
    join: JoinHandle<()>,
    pid: u32,
}

static RUNTIME: Mutex<Option<RuntimeThread>> = Mutex::new(None);

/// The runtime threads of parent processes, in a forked child: they do not exist here, and
/// their handles are kept (never dropped, never used) rather than forgotten, so that the
/// memory stays reachable for leak checkers.
static INHERITED: Mutex<Vec<RuntimeThread>> = Mutex::new(Vec::new());

fn inherit(t: RuntimeThread) {
    INHERITED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(t);
}

/// The name of the runtime thread.
pub const THREAD_NAME: &str = "pr-sdk-runtime";

fn start() -> Result<RuntimeThread, ErrorInfo> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("pr-sdk-blocking")
        .build()
        .map_err(|e| {
            ErrorInfo::new(
                pr_result::PR_ERR_RUNTIME,
                format!("cannot build the tokio runtime: {e}"),
            )
        })?;
    let (tx, mut rx) = unbounded_channel::<Job>();
    let join = std::thread::Builder::new()
        .name(THREAD_NAME.to_owned())
        .spawn(move || {
            rt.block_on(async move {
                while let Some(job) = rx.recv().await {
                    tokio::spawn(job);
                }
            });
            // Dropping the runtime here drops the tasks still running and waits for the
            // blocking pool's threads.
            drop(rt);
        })
        .map_err(|e| {
            ErrorInfo::new(
                pr_result::PR_ERR_RUNTIME,
                format!("cannot start the runtime thread: {e}"),
            )
        })?;
    Ok(RuntimeThread {
        tx,
        join,
        pid: std::process::id(),
    })
}

fn submit(job: Job) -> Result<(), ErrorInfo> {
    let mut g = RUNTIME.lock().unwrap_or_else(PoisonError::into_inner);
    let pid = std::process::id();
    if let Some(t) = g.take() {
        if t.pid == pid {
            *g = Some(t);
        } else {
            // A forked child: the parent's runtime thread does not exist here. Dropping its
            // handles could wait for it forever; keep them aside instead.
            inherit(t);
        }
    }
    let t = match g.as_mut() {
        Some(t) => t,
        None => g.insert(start()?),
    };
    t.tx.send(job)
        .map_err(|_| ErrorInfo::new(pr_result::PR_ERR_RUNTIME, "the runtime thread has stopped"))
}

/// Runs `fut` on the runtime thread and blocks the calling thread until it answers.
pub(crate) fn run<F, R>(fut: F) -> Result<R, ErrorInfo>
where
    F: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<R, ErrorInfo>>(1);
    submit(Box::pin(async move {
        let r = AssertUnwindSafe(fut).catch_unwind().await.map_err(|p| {
            ErrorInfo::new(
                pr_result::PR_ERR_PANIC,
                format!("internal error: {}", crate::ffi::panic_message(p.as_ref())),
            )
        });
        let _ = tx.send(r);
    }))?;
    rx.recv().unwrap_or_else(|_| {
        Err(ErrorInfo::new(
            pr_result::PR_ERR_RUNTIME,
            "the runtime thread stopped before the call finished (pr_library_exit?)",
        ))
    })
}

/// Starts `fut` on the runtime thread without waiting for it (the caller waits on its own
/// channel). A panic inside it is caught and dropped: `fut`'s own channel then closes,
/// which its waiter reports.
pub(crate) fn spawn<F>(fut: F) -> Result<(), ErrorInfo>
where
    F: Future<Output = ()> + Send + 'static,
{
    submit(Box::pin(async move {
        let _ = AssertUnwindSafe(fut).catch_unwind().await;
    }))
}

/// Runs blocking work (device discovery, opening nodes) on the runtime's blocking pool.
pub(crate) fn run_blocking<F, R>(f: F) -> Result<R, ErrorInfo>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    run(async move {
        tokio::task::spawn_blocking(f).await.map_err(|e| {
            ErrorInfo::new(
                pr_result::PR_ERR_PANIC,
                format!("internal error in blocking work: {e}"),
            )
        })
    })?
}

/// Stops and joins the runtime thread, if one runs in this process. Returns whether one
/// was running.
pub(crate) fn shutdown() -> bool {
    let t = RUNTIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    match t {
        Some(t) if t.pid == std::process::id() => {
            drop(t.tx);
            if t.join.thread().id() != std::thread::current().id() {
                let _ = t.join.join();
            }
            true
        }
        Some(t) => {
            inherit(t);
            false
        }
        None => false,
    }
}

/// Whether a runtime thread runs in this process (for tests).
#[cfg(test)]
pub(crate) fn is_running() -> bool {
    RUNTIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .is_some_and(|t| t.pid == std::process::id())
}
