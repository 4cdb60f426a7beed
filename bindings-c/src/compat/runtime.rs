//! The one runtime thread that synchronous C callers use to drive the async core.
//!
//! A named thread (`mpathpersist-rt`) owns a current-thread tokio runtime (plus tokio's
//! blocking pool, `mpathpersist-io`, where SG_IO runs); it is started by the first call
//! that needs it. Each call spawns a boxed future onto that runtime through its
//! handle (which needs no runtime context) and waits for the reply on a mutex and a
//! condition variable, so the caller's thread never enters a runtime: a caller that itself runs tokio (even on a current-thread runtime) neither
//! panics ("cannot start a runtime from within a runtime") nor deadlocks; it only blocks
//! its own thread for the duration of the call, as any blocking C call does.
//!
//! - [`shutdown`] (from `libmpathpersist_exit` / `mpath_lib_exit`) stops the runtime
//!   (waiting up to 5 s for its blocking threads) and joins the thread; the next call starts a new one, so init/exit pairs may repeat.
//! - After `fork()` the child has no runtime thread (only the forking thread survives):
//!   the first call in the child sees that the process id changed, forgets the parent's
//!   bridge without touching it (it is kept, not dropped: its threads do not exist in the
//!   child) and starts a fresh thread. A fork that happens while another thread holds
//!   the bridge's lock is the usual "fork in a threaded program" hazard: call exit before
//!   forking, or only exec in the child.
//! - A panic inside a job is caught by tokio (the task ends, its reply sender is
//!   dropped); the caller sees [`BridgeError::Lost`].

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::sys;

type Job = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

struct Bridge {
    handle: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    pid: u32,
}

static BRIDGE: Mutex<Option<Bridge>> = Mutex::new(None);

/// Bridges inherited from the parent through `fork()`: their threads do not exist in
/// this process, so they can be neither joined nor dropped; they are kept (reachable,
/// not leaked) for the life of the process.
static INHERITED: Mutex<Vec<Bridge>> = Mutex::new(Vec::new());

fn keep_inherited(b: Bridge) {
    INHERITED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(b);
}

/// Why a call could not be run on the runtime thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BridgeError {
    /// The runtime or its thread could not be created.
    Start,
    /// The job ended without a reply (it panicked, or the runtime stopped).
    Lost,
}

fn lock() -> std::sync::MutexGuard<'static, Option<Bridge>> {
    BRIDGE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn start() -> Result<Bridge, BridgeError> {
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let ready = Arc::new(Slot {
        state: Mutex::new(None),
        ready: Condvar::new(),
    });
    let reply = Reply {
        slot: Arc::clone(&ready),
        sent: false,
    };
    // The runtime is built on its own thread: the caller's thread only spawns onto it
    // through its handle and waits (nothing of tokio or std's thread bookkeeping is set
    // up on the caller's thread).
    let thread = std::thread::Builder::new()
        .name("mpathpersist-rt".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name("mpathpersist-io")
                .build()
            else {
                drop(reply); // the starter sees BridgeError::Lost
                return;
            };
            reply.send(rt.handle().clone());
            // Runs the spawned jobs until libmpathpersist_exit drops or fires `stop_tx`.
            rt.block_on(async move {
                let _ = stop_rx.await;
            });
            // Wait (boundedly) for the blocking-pool threads, so that none is left behind
            // after libmpathpersist_exit; an SG_IO still running past the limit keeps its
            // thread until it completes.
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        })
        .map_err(|_| BridgeError::Start)?;
    let handle = wait(&ready).map_err(|_| BridgeError::Start)?;
    Ok(Bridge {
        handle,
        stop: Some(stop_tx),
        thread: Some(thread),
        pid: sys::pid(),
    })
}

/// A one-shot reply slot waited on with a mutex and a condition variable (no
/// `thread::current()` bookkeeping on the caller's thread).
struct Slot<R> {
    state: Mutex<Option<Result<R, BridgeError>>>,
    ready: Condvar,
}

/// The sending half: a reply, or [`BridgeError::Lost`] when dropped without one (the
/// job panicked or was dropped).
struct Reply<R> {
    slot: Arc<Slot<R>>,
    sent: bool,
}

impl<R> Reply<R> {
    fn send(mut self, value: R) {
        self.put(Ok(value));
        self.sent = true;
    }

    fn put(&self, value: Result<R, BridgeError>) {
        let mut st = self
            .slot
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *st = Some(value);
        self.slot.ready.notify_one();
    }
}

impl<R> Drop for Reply<R> {
    fn drop(&mut self) {
        if !self.sent {
            self.put(Err(BridgeError::Lost));
        }
    }
}

fn wait<R>(slot: &Slot<R>) -> Result<R, BridgeError> {
    let mut st = slot
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        if let Some(v) = st.take() {
            return v;
        }
        st = slot
            .ready
            .wait(st)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
    }
}

/// The runtime's handle, starting the runtime thread when needed (and anew in a forked
/// child).
fn handle() -> Result<tokio::runtime::Handle, BridgeError> {
    let mut guard = lock();
    if guard.as_ref().is_some_and(|b| b.pid != sys::pid()) {
        // Forked child: the parent's thread does not exist here. Keep its bridge aside
        // (dropping the runtime would try to stop threads that are not there).
        if let Some(old) = guard.take() {
            keep_inherited(old);
        }
    }
    if guard.is_none() {
        *guard = Some(start()?);
    }
    guard
        .as_ref()
        .map(|b| b.handle.clone())
        .ok_or(BridgeError::Start)
}

fn reply_slot<R>() -> (Arc<Slot<R>>, Reply<R>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(None),
        ready: Condvar::new(),
    });
    let reply = Reply {
        slot: Arc::clone(&slot),
        sent: false,
    };
    (slot, reply)
}

/// Runs `fut` as a task on the runtime thread and waits for its output.
pub(crate) fn run<F, R>(fut: F) -> Result<R, BridgeError>
where
    F: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let (slot, reply) = reply_slot();
    let job: Job = Box::pin(async move {
        let out = fut.await;
        reply.send(out);
    });
    // Spawning through the handle needs no runtime context on this thread; if the runtime
    // were gone the job would be dropped and the reply report Lost.
    drop(handle()?.spawn(job));
    wait(&slot)
}

/// Stops and joins the runtime thread, if it runs (in this process). Idempotent.
pub(crate) fn shutdown() {
    let bridge = lock().take();
    if let Some(mut b) = bridge {
        if b.pid != sys::pid() {
            keep_inherited(b);
            return;
        }
        let thread = b.thread.take();
        if let Some(stop) = b.stop.take() {
            let _ = stop.send(());
        }
        drop(b);
        // Never called on the runtime thread itself (it runs no C code), so this join
        // cannot wait for its own thread.
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

/// Whether the runtime thread is running in this process (for tests).
#[cfg(test)]
pub(crate) fn is_running() -> bool {
    lock().as_ref().is_some_and(|b| b.pid == sys::pid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_from_inside_a_tokio_runtime_and_restarts_after_shutdown() {
        // A caller that is itself on a current-thread runtime must not panic or deadlock.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let v = rt.block_on(async { run(async { 41 + 1 }) });
        assert_eq!(v, Ok(42));
        assert!(is_running());
        shutdown();
        assert!(!is_running());
        shutdown(); // twice is fine
        assert_eq!(run(async { 7 }), Ok(7));
        let name = run(async { std::thread::current().name().map(str::to_owned) }).unwrap();
        assert_eq!(name.as_deref(), Some("mpathpersist-rt"));
        let panicked = run(async {
            if std::hint::black_box(true) {
                panic!("boom (expected by the test)");
            }
            1
        });
        assert_eq!(panicked, Err(BridgeError::Lost));
        assert_eq!(
            run(async { 3 }),
            Ok(3),
            "the thread survives a panicking job"
        );
    }
}
