//! The project's one runtime bridge: a named thread (`pr-sdk-runtime`) owns a
//! current-thread tokio runtime (time and IO drivers on; SG_IO runs on its blocking pool),
//! started by the first call that needs it, in the manner of `reqwest::blocking`.
//!
//! - [`spawn`] hands a future to that thread through the runtime's handle and returns a
//!   [`Pending`]: the caller waits on a mutex and a condition variable ([`Pending::wait`],
//!   or [`Pending::wait_timeout`] to look at signals in between), or awaits it from any
//!   executor ([`Pending`] is a `Future`).
//! - [`block_on`] and [`block_here`] poll the future on the calling thread instead, inside
//!   the runtime's context (the runtime thread still drives timers and IO, SG_IO still
//!   runs on the blocking pool): no hand-off to the runtime thread and back for a caller
//!   that only waits. A caller already inside a tokio runtime (or the runtime thread) goes
//!   through [`spawn`] instead, so it neither panics nor deadlocks.
//! - Dropping a [`Pending`] before it finished aborts the task: commands not yet sent are
//!   never sent; a command already at the device completes there.
//! - A panic in the task is caught on the runtime thread and becomes
//!   [`BridgeError::Panicked`] with its message; the thread survives.
//! - [`shutdown`] stops the runtime (waiting up to 5 s for its blocking threads) and joins
//!   the thread; the next call starts a new one.
//! - After `fork()` the child has no runtime thread: the first call in the child sees
//!   another process id, sets the parent's bridge aside untouched (its threads do not
//!   exist here) and starts its own. Do not fork while another thread is inside a call.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

/// The name of the runtime thread.
pub const THREAD_NAME: &str = "pr-sdk-runtime";

/// Why a call could not be run on the runtime thread, or its result was lost.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BridgeError {
    /// The runtime or its thread could not be started.
    #[error("the pr-sdk runtime thread could not be started: {0}")]
    Start(String),
    /// The task panicked (a bug: please report it); the message of the panic.
    #[error("internal error (a panic, please report it): {0}")]
    Panicked(String),
    /// The task ended without a result: it was aborted, or the runtime was shut down.
    #[error("the operation was stopped before it finished (aborted, or the runtime was shut down)")]
    Lost,
}

struct Bridge {
    handle: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    pid: u32,
}

static BRIDGE: Mutex<Option<Bridge>> = Mutex::new(None);

std::thread_local! {
    /// Set on the runtime thread. A constant initialiser: reading it on a caller's thread
    /// allocates nothing (`std::thread::current()` would register the caller's thread
    /// with std, memory that a C program's leak checker reports at exit).
    static ON_RUNTIME: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Bridges inherited through `fork()`: their threads do not exist in this process, so
/// they are neither joined nor dropped, only kept.
static INHERITED: Mutex<Vec<Bridge>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn start() -> Result<Bridge, BridgeError> {
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (slot, reply) = slot::<tokio::runtime::Handle>();
    let thread = std::thread::Builder::new()
        .name(THREAD_NAME.into())
        .spawn(move || {
            ON_RUNTIME.with(|f| f.set(true));
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name("pr-sdk-io")
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    reply.put(Err(BridgeError::Start(e.to_string())));
                    return;
                }
            };
            reply.put(Ok(rt.handle().clone()));
            rt.block_on(async move {
                let _ = stop_rx.await;
            });
            rt.shutdown_timeout(Duration::from_secs(5));
        })
        .map_err(|e| BridgeError::Start(e.to_string()))?;
    let handle = slot.wait()?;
    Ok(Bridge {
        handle,
        stop: Some(stop_tx),
        thread: Some(thread),
        pid: std::process::id(),
    })
}

/// The runtime's handle, starting its thread when needed (and anew in a forked child).
pub fn handle() -> Result<tokio::runtime::Handle, BridgeError> {
    let mut guard = lock(&BRIDGE);
    if guard.as_ref().is_some_and(|b| b.pid != std::process::id())
        && let Some(old) = guard.take()
    {
        lock(&INHERITED).push(old);
    }
    if guard.is_none() {
        *guard = Some(start()?);
    }
    guard
        .as_ref()
        .map(|b| b.handle.clone())
        .ok_or_else(|| BridgeError::Start("no runtime".into()))
}

/// Stops and joins the runtime thread if it runs in this process; tasks still running
/// are dropped (their waiters get [`BridgeError::Lost`]). Idempotent; never call it from
/// a task on the runtime itself.
pub fn shutdown() {
    let bridge = lock(&BRIDGE).take();
    if let Some(mut b) = bridge {
        if b.pid != std::process::id() {
            lock(&INHERITED).push(b);
            return;
        }
        let thread = b.thread.take();
        if let Some(stop) = b.stop.take() {
            let _ = stop.send(());
        }
        drop(b);
        if let Some(t) = thread
            && !ON_RUNTIME.with(std::cell::Cell::get)
        {
            let _ = t.join();
        }
    }
}

/// Whether the runtime thread runs in this process.
pub fn is_running() -> bool {
    lock(&BRIDGE)
        .as_ref()
        .is_some_and(|b| b.pid == std::process::id())
}

/// Runs `fut` on the runtime thread; the returned [`Pending`] gives its output.
pub fn spawn<F>(fut: F) -> Result<Pending<F::Output>, BridgeError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (slot, reply) = slot();
    let task = handle()?.spawn(async move {
        let out = AssertUnwindSafe(fut).catch_unwind().await;
        reply.put(out.map_err(|p| BridgeError::Panicked(panic_message(p.as_ref()))));
    });
    Ok(Pending {
        slot,
        abort: Some(task.abort_handle()),
    })
}

/// Runs `fut` to completion and blocks the calling thread until it is done: polled on
/// the calling thread inside the runtime's context (see [`block_here`]), or through
/// [`spawn`] when the caller is already inside a tokio runtime.
pub fn block_on<F>(fut: F) -> Result<F::Output, BridgeError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match run_here(fut, None, || Ok::<(), std::convert::Infallible>(()))? {
        Ok(v) => Ok(v),
        Err(never) => match never {},
    }
}

/// Runs `fut` on the calling thread, as [`block_on`] does on the runtime thread, and
/// calls `on_tick` every `tick` while it runs; when `on_tick` returns an error, the future
/// is dropped (commands not yet sent are never sent) and that error is returned.
///
/// The future is polled here, inside the runtime's context (`Handle::block_on`): the
/// runtime thread keeps driving the timers and IO, and SG_IO still runs on the runtime's
/// blocking pool, but the future's own steps cost no hand-off to the runtime thread and
/// back, which is what makes [`spawn`] + [`Pending::wait`] slower for a caller that only
/// waits (two thread wake-ups per call, each costly under emulation). A caller that is
/// already inside a tokio runtime, or is the runtime thread, cannot enter one: for it the
/// future runs through [`spawn`] and the caller waits for it on the [`Pending`], with the
/// same ticks. A panic in the future is [`BridgeError::Panicked`].
pub fn block_here<F, E>(
    fut: F,
    tick: Duration,
    on_tick: impl FnMut() -> Result<(), E>,
) -> Result<Result<F::Output, E>, BridgeError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    run_here(fut, Some(tick), on_tick)
}

/// [`block_here`], with no ticks when `tick` is `None`.
fn run_here<F, E>(
    fut: F,
    tick: Option<Duration>,
    mut on_tick: impl FnMut() -> Result<(), E>,
) -> Result<Result<F::Output, E>, BridgeError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handle = handle()?;
    if tokio::runtime::Handle::try_current().is_ok() || ON_RUNTIME.with(std::cell::Cell::get) {
        let mut pending = spawn(fut)?;
        let Some(tick) = tick else {
            return pending.wait().map(Ok);
        };
        loop {
            if let Some(done) = pending.wait_timeout(tick) {
                return done.map(Ok);
            }
            if let Err(e) = on_tick() {
                return Ok(Err(e));
            }
        }
    }
    handle.block_on(async move {
        let fut = AssertUnwindSafe(fut).catch_unwind();
        tokio::pin!(fut);
        let first = tick.and_then(|t| tokio::time::Instant::now().checked_add(t));
        let mut ticks = match (first, tick) {
            (Some(at), Some(t)) => {
                let mut i = tokio::time::interval_at(at, t);
                i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                Some(i)
            }
            _ => None,
        };
        loop {
            let tick = async {
                match ticks.as_mut() {
                    Some(i) => {
                        i.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                biased;
                out = &mut fut => {
                    return out
                        .map(Ok)
                        .map_err(|p| BridgeError::Panicked(panic_message(p.as_ref())));
                }
                () = tick => {
                    if let Err(e) = on_tick() {
                        return Ok(Err(e));
                    }
                }
            }
        }
    })
}

/// Runs blocking work (discovery, opening devices) on the runtime's blocking pool and
/// waits for it.
pub fn block_on_blocking<R, F>(f: F) -> Result<R, BridgeError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    block_on(on_blocking_pool(f))?
}

/// Runs blocking work on the blocking pool of the runtime this future is polled in (the
/// bridge's, through [`spawn`] or [`block_on`]); a panic of `f` is
/// [`BridgeError::Panicked`].
pub async fn on_blocking_pool<R, F>(f: F) -> Result<R, BridgeError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| match e.try_into_panic() {
            Ok(p) => BridgeError::Panicked(panic_message(p.as_ref())),
            Err(_) => BridgeError::Lost,
        })
}

/// The text of a panic payload.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

struct State<R> {
    value: Option<Result<R, BridgeError>>,
    waker: Option<Waker>,
}

struct Slot<R> {
    state: Mutex<State<R>>,
    ready: Condvar,
}

impl<R> Slot<R> {
    fn wait(&self) -> Result<R, BridgeError> {
        let mut st = lock(&self.state);
        loop {
            if let Some(v) = st.value.take() {
                return v;
            }
            st = self.ready.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The sending half of a [`Slot`]: a value, or [`BridgeError::Lost`] when dropped without
/// one (the task was aborted or dropped with the runtime).
struct Reply<R> {
    slot: Arc<Slot<R>>,
    sent: bool,
}

impl<R> Reply<R> {
    fn put(mut self, value: Result<R, BridgeError>) {
        self.fill(value);
        self.sent = true;
    }

    fn fill(&self, value: Result<R, BridgeError>) {
        let waker = {
            let mut st = lock(&self.slot.state);
            st.value = Some(value);
            st.waker.take()
        };
        self.slot.ready.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<R> Drop for Reply<R> {
    fn drop(&mut self) {
        if !self.sent {
            self.fill(Err(BridgeError::Lost));
        }
    }
}

fn slot<R>() -> (Arc<Slot<R>>, Reply<R>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State {
            value: None,
            waker: None,
        }),
        ready: Condvar::new(),
    });
    let reply = Reply {
        slot: Arc::clone(&slot),
        sent: false,
    };
    (slot, reply)
}

/// A task running on the runtime thread. Wait for it ([`wait`](Self::wait),
/// [`wait_timeout`](Self::wait_timeout)) or await it; dropping it first aborts the task.
#[must_use = "dropping a Pending aborts its task"]
pub struct Pending<R> {
    slot: Arc<Slot<R>>,
    abort: Option<AbortHandle>,
}

impl<R> std::fmt::Debug for Pending<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<R> Pending<R> {
    /// Blocks until the task is done.
    pub fn wait(mut self) -> Result<R, BridgeError> {
        let v = self.slot.wait();
        self.abort = None;
        v
    }

    /// Blocks at most `timeout`: `Some` with the result when the task is done (then
    /// [`wait`](Self::wait) must not be called again), `None` when it still runs.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<R, BridgeError>> {
        let deadline = Instant::now() + timeout;
        let mut st = lock(&self.slot.state);
        loop {
            if let Some(v) = st.value.take() {
                self.abort = None;
                return Some(v);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            st = self
                .slot
                .ready
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Whether the task has finished (its result is waiting).
    pub fn is_finished(&self) -> bool {
        lock(&self.slot.state).value.is_some()
    }

    /// Aborts the task now (as dropping does).
    pub fn abort(&self) {
        if let Some(a) = &self.abort {
            a.abort();
        }
    }
}

impl<R> Future for Pending<R> {
    type Output = Result<R, BridgeError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = lock(&self.slot.state);
        if let Some(v) = st.value.take() {
            drop(st);
            self.abort = None;
            return Poll::Ready(v);
        }
        st.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<R> Drop for Pending<R> {
    fn drop(&mut self) {
        if let Some(a) = self.abort.take() {
            a.abort();
        }
    }
}

/// Serialises the tests that shut the bridge down with the others that use it.
#[cfg(test)]
pub(crate) static TEST_LOCK: Mutex<()> = Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    fn serial() -> MutexGuard<'static, ()> {
        lock(&TEST_LOCK)
    }

    #[test]
    fn one_thread_runs_calls_from_inside_tokio_and_survives_panics() {
        let _g = serial();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(async { block_on(async { 41 + 1 }) }), Ok(42));
        let name = || async { std::thread::current().name().map(str::to_owned) };
        let spawned = spawn(name()).unwrap().wait().unwrap();
        assert_eq!(spawned.as_deref(), Some(THREAD_NAME));
        // block_on polls on the calling thread, unless that thread is inside a runtime
        let here = block_on(name()).unwrap();
        assert_eq!(here, std::thread::current().name().map(str::to_owned));
        let nested = rt.block_on(async { block_on(name()) }).unwrap();
        assert_eq!(nested.as_deref(), Some(THREAD_NAME));
        // block_here ticks while the future runs, and stops it on an error
        let mut ticks = 0;
        let slow = block_here(
            async { tokio::time::sleep(Duration::from_millis(60)).await },
            Duration::from_millis(10),
            || {
                ticks += 1;
                Ok::<(), ()>(())
            },
        );
        assert_eq!(slow, Ok(Ok(())));
        assert!(ticks >= 2, "{ticks} ticks in 60 ms of 10 ms ticks");
        let stopped = block_here(
            std::future::pending::<()>(),
            Duration::from_millis(5),
            || Err("stop"),
        );
        assert_eq!(stopped, Ok(Err("stop")));
        let p = block_on(async {
            if std::hint::black_box(true) {
                panic!("boom (expected by the test)");
            }
            1
        });
        assert_eq!(
            p,
            Err(BridgeError::Panicked("boom (expected by the test)".into()))
        );
        assert_eq!(block_on(async { 3 }), Ok(3), "the thread survives a panic");
        // awaited from another runtime
        assert_eq!(rt.block_on(spawn(async { 5 }).unwrap()), Ok(5));
        // blocking work
        assert_eq!(block_on_blocking(|| 9), Ok(9));
    }

    #[test]
    fn dropping_a_pending_task_aborts_it_and_wait_timeout_polls() {
        let _g = serial();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let mut p = spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            let _ = tx.send(());
        })
        .unwrap();
        assert!(p.wait_timeout(Duration::from_millis(20)).is_none());
        assert!(!p.is_finished());
        drop(p);
        // the task was aborted: its sender is dropped without sending
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
        );
        let mut q = spawn(async { 7 }).unwrap();
        let got = loop {
            if let Some(v) = q.wait_timeout(Duration::from_millis(10)) {
                break v;
            }
        };
        assert_eq!(got, Ok(7));
    }

    #[test]
    fn shutdown_joins_and_a_later_call_restarts() {
        let _g = serial();
        assert_eq!(block_on(async { 1 }), Ok(1));
        shutdown();
        assert!(!is_running());
        shutdown();
        assert_eq!(block_on(async { 2 }), Ok(2));
        assert!(is_running());
    }
}
