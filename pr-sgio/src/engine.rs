//! Execution engines: how a blocking kernel call becomes an `async` one.
//!
//! Three engines, chosen per device with [`crate::OpenOptions::engine`]; the default is the
//! blocking pool (see [`crate::Engine`] for why).
//!
//! # The bounded blocking pool (default)
//!
//! `SG_IO` and the block PR ioctls block the calling thread until the command completes, so
//! they cannot run on a tokio worker. [`run_blocking`] runs each call with
//! [`tokio::task::spawn_blocking`], but only after taking a permit from a [`Limiter`] (a
//! semaphore), and the permit moves into the blocking closure. So at most
//! [`Limiter::permits`] threads of each limiter are ever blocked in the kernel on behalf of
//! this crate, however many futures are started or abandoned: the rest wait, without a
//! thread, for a permit. By default every device shares [`Limiter::global`]
//! ([`DEFAULT_MAX_BLOCKING`] permits).
//!
//! **Why a dropped future is memory-safe.** The closure given to `spawn_blocking` *owns*
//! everything the kernel touches: an `Arc` of the file descriptor, the CDB, the data buffer,
//! the sense buffer and the permit. The future only holds the `JoinHandle`. If the future is
//! dropped (or its timeout fires) while the thread is still inside `ioctl`, the closure keeps
//! running to the end and frees those buffers only after the kernel has returned; the file
//! descriptor cannot be closed under it either. Nothing the kernel may still write into is
//! ever freed early. The command itself is *not* cancelled: it runs to completion (or to its
//! SG_IO timeout) at the device, so a caller of PR OUT must assume that it may have taken
//! effect.
//!
//! # The in-place engine
//!
//! [`Engine::InPlace`](crate::Engine::InPlace) takes a permit of the same [`Limiter`]
//! (waiting for it asynchronously), then runs SG_IO on the *calling* thread inside
//! [`tokio::task::block_in_place`]: on a multi-thread runtime the worker first hands its
//! other tasks to another thread, so the runtime is not blocked; from a multi-thread
//! runtime's `block_on` the call simply blocks that thread. The command starts and completes
//! inside one `poll`, so no future can be dropped while the kernel holds its buffers (they
//! live on the polling thread's stack frame), and the permit bounds the threads blocked in
//! the kernel as for the pool (without it, every `block_in_place` would move the worker to
//! a new blocking thread, up to tokio's `max_blocking_threads`). `block_in_place` panics on
//! a current-thread runtime, so there ([`in_place_supported`] is false) the engine uses the
//! blocking pool instead; it never panics. (Entering a multi-thread runtime's handle from
//! inside a current-thread runtime's `block_on` is not detected: don't.)
//!
//! Trade-offs, measured in `BENCHMARKS.md`: the lowest single-command latency (no thread
//! hand-off, no reactor round trip), but the request's timeout is enforced by the kernel
//! only (no `tokio::time` deadline can fire while the thread is blocked), every other future
//! of the same task (a `join_all` fan-out over paths) waits for the command, and many
//! concurrent commands cost a core hand-off each.
//!
//! # The sg v3 asynchronous engine (sg nodes only)
//!
//! [`SgV3Engine`] submits with `write()` on `/dev/sgN` and reaps with non-blocking `read()`,
//! woken by [`tokio::io::unix::AsyncFd`]; it uses no thread at all. Each command carries a
//! `pack_id`; whichever future finds the fd readable reaps *every* ready completion and hands
//! each to its owner through a oneshot channel, so no wake-up is lost when several commands
//! are in flight. The queue depth is bounded by [`SG_V3_QUEUE_DEPTH`] (the sg driver's own
//! per-fd limit); a slot is released when its command is reaped, not when its future is
//! dropped. Buffers stay owned by [`crate::sys::SgV3Queue`] until reaped (see there).

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use pr_core::outcome::{Completion, SenseBuf};
use pr_core::sense::ScsiStatus;
use pr_core::transport::{DataDirection, Request, Response, TransportError};
use tokio::io::unix::AsyncFd;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::error::os_error;
use crate::sys::{self, SgBuffers, SgDirection, SgReply, SgV3Queue};

/// Default number of threads that may be blocked in SG_IO or a PR ioctl at once, for all
/// devices sharing [`Limiter::global`].
pub const DEFAULT_MAX_BLOCKING: usize = 16;

/// Commands in flight at once on one sg node with the sg v3 engine.
pub const SG_V3_QUEUE_DEPTH: usize = 16;

/// How much longer than the request's timeout the transport waits for a blocking call before
/// it reports [`TransportError::Timeout`] (SCSI error handling after a command timeout can
/// take a while; the kernel's own timeout normally fires first).
pub const TIMEOUT_GRACE: Duration = Duration::from_secs(5);

/// Sense buffer size requested from the kernel (the sg header's `mx_sb_len` is one byte).
pub const SENSE_LEN: usize = 252;

/// Extra bytes given to the kernel beyond the request's length for PERSISTENT RESERVE IN
/// READ FULL STATUS.
///
/// The Linux LIO target's READ FULL STATUS checks only the TransportID's length against the
/// allocation length before writing a descriptor, so it can write up to 32 bytes (a 24-byte
/// descriptor header and the check's 8-byte header miscount) past the allocation length.
/// Over tcm_loop the target writes straight into the initiator's buffer, which SG_IO maps
/// from user memory when it is 4-byte aligned: those bytes would land on whatever follows
/// the buffer on the heap (`sg_persist` aborts with a corrupted heap there). The transfer
/// length is therefore the request's length plus this slack: the target clamps its data
/// length to the CDB's allocation length, the stray bytes fall into the slack, and the
/// response is truncated back to at most the request's length.
pub const DATA_IN_SLACK: usize = 64;

/// Whether a CDB gets [`DATA_IN_SLACK`]: PERSISTENT RESERVE IN READ FULL STATUS only (the
/// only command known to overrun; the slack makes LIO log a transfer-length mismatch, so it
/// is not given to every command).
pub(crate) fn needs_slack(cdb: &[u8]) -> bool {
    matches!(cdb, [0x5e, sa, ..] if sa & 0x1f == 0x03)
}

/// Adds [`DATA_IN_SLACK`] to a data-in buffer when [`needs_slack`]; returns the request's
/// length.
pub(crate) fn add_slack(cdb: &[u8], direction: DataDirection, buf: &mut Vec<u8>) -> usize {
    let len = buf.len();
    if direction == DataDirection::FromDevice && len > 0 && needs_slack(cdb) {
        buf.resize(len + DATA_IN_SLACK, 0);
    }
    len
}

/// Undoes [`add_slack`]: the buffer back to `len` bytes and the residual relative to `len`
/// (bytes beyond `len` that a device may have sent are dropped, as if not transferred).
pub(crate) fn remove_slack(
    direction: DataDirection,
    buf: &mut Vec<u8>,
    len: usize,
    reply: &mut SgReply,
) {
    if direction == DataDirection::FromDevice && buf.len() > len {
        let slack = u32::try_from(buf.len() - len).unwrap_or(u32::MAX);
        buf.truncate(len);
        reply.resid = reply.resid.saturating_sub(slack);
    }
}

/// A bound on the threads blocked in the kernel: a counting semaphore shared by the devices
/// given the same limiter.
#[derive(Clone, Debug)]
pub struct Limiter {
    sem: Arc<Semaphore>,
    permits: usize,
}

impl Limiter {
    /// A limiter allowing `permits` blocking calls at once (at least 1).
    pub fn new(permits: usize) -> Self {
        let permits = permits.max(1);
        Limiter {
            sem: Arc::new(Semaphore::new(permits)),
            permits,
        }
    }

    /// The process-wide limiter used by default ([`DEFAULT_MAX_BLOCKING`] permits).
    pub fn global() -> Self {
        static GLOBAL: OnceLock<Limiter> = OnceLock::new();
        GLOBAL
            .get_or_init(|| Limiter::new(DEFAULT_MAX_BLOCKING))
            .clone()
    }

    /// The number of calls allowed at once.
    pub fn permits(&self) -> usize {
        self.permits
    }

    /// Permits free right now.
    pub fn available(&self) -> usize {
        self.sem.available_permits()
    }
}

fn require_runtime() -> Result<(), TransportError> {
    tokio::runtime::Handle::try_current()
        .map(|_| ())
        .map_err(|_| {
            TransportError::InvalidRequest(
                "pr-sgio must run inside a tokio runtime with the time driver enabled".to_owned(),
            )
        })
}

/// Runs `f` on tokio's blocking pool once `limiter` grants a permit, and waits at most
/// `deadline` for it. See the module documentation for why this is safe to cancel.
pub async fn run_blocking<R, F>(
    limiter: &Limiter,
    deadline: Duration,
    f: F,
) -> Result<R, TransportError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    require_runtime()?;
    // Fast path without creating an `Acquire` future when a permit is free.
    let permit: OwnedSemaphorePermit = match limiter.sem.clone().try_acquire_owned() {
        Ok(p) => p,
        Err(_) => limiter
            .sem
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| TransportError::Closed)?,
    };
    let handle = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f()
    });
    match tokio::time::timeout(deadline, handle).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(_)) => Err(TransportError::Closed),
        Err(_) => Err(TransportError::Timeout(deadline)),
    }
}

/// The SG_IO timeout in milliseconds for a request timeout.
pub(crate) fn timeout_ms(t: Duration) -> u32 {
    u32::try_from(t.as_millis()).unwrap_or(u32::MAX).max(1)
}

fn sg_dir(d: DataDirection) -> SgDirection {
    match d {
        DataDirection::None => SgDirection::None,
        DataDirection::ToDevice => SgDirection::ToDevice,
        DataDirection::FromDevice => SgDirection::FromDevice,
    }
}

/// Turns an SG_IO reply into a [`Response`], or into [`TransportError::Timeout`] when the
/// host or driver byte says the command timed out. Other host and driver bytes stay in the
/// completion for the caller to classify.
pub fn response_from_reply(
    reply: &SgReply,
    sense: &[u8],
    direction: DataDirection,
    mut buf: Vec<u8>,
    timeout: Duration,
    elapsed: Duration,
) -> Result<Response, TransportError> {
    if reply.host_status == sys::DID_TIME_OUT || (reply.driver_status & 0x0f) == sys::DRIVER_TIMEOUT
    {
        return Err(TransportError::Timeout(timeout));
    }
    let len = buf.len();
    let residual = usize::try_from(reply.resid).unwrap_or(usize::MAX).min(len);
    if direction == DataDirection::FromDevice {
        buf.truncate(len - residual);
    }
    let sense_len = usize::from(reply.sense_len).min(sense.len());
    let completion = Completion {
        status: ScsiStatus(reply.status),
        sense: SenseBuf::new(sense.get(..sense_len).unwrap_or(&[])),
        host_status: reply.host_status,
        driver_status: reply.driver_status,
        residual: u32::try_from(residual).unwrap_or(u32::MAX),
        duration: elapsed,
    };
    Ok(Response { completion, buf })
}

/// Runs one SG_IO call on the current thread (blocking it) and turns the reply into a
/// [`Response`]. Every buffer the kernel touches is owned by this frame.
pub(crate) fn sg_io_call(
    fd: BorrowedFd<'_>,
    device: &str,
    request: Request,
) -> Result<Response, TransportError> {
    let Request {
        cdb,
        direction,
        mut buf,
        timeout,
    } = request;
    let len = add_slack(cdb.as_bytes(), direction, &mut buf);
    let mut sense = [0u8; SENSE_LEN];
    // `hdr.duration` is in whole milliseconds (0 for a fast command), so the duration is
    // measured here (two clock reads).
    let started = Instant::now();
    let r = sys::sg_io(
        fd,
        cdb.as_bytes(),
        sg_dir(direction),
        &mut buf,
        &mut sense,
        timeout_ms(timeout),
    );
    let elapsed = started.elapsed();
    match r {
        Ok(mut reply) => {
            remove_slack(direction, &mut buf, len, &mut reply);
            response_from_reply(&reply, &sense, direction, buf, timeout, elapsed)
        }
        Err(e) => Err(os_error("SG_IO", device, e)),
    }
}

/// Executes `request` with SG_IO on `fd` through the bounded blocking pool.
pub(crate) async fn sg_io_pooled(
    fd: Arc<OwnedFd>,
    limiter: &Limiter,
    device: Arc<str>,
    request: Request,
) -> Result<Response, TransportError> {
    let deadline = request.timeout.saturating_add(TIMEOUT_GRACE);
    run_blocking(limiter, deadline, move || {
        sg_io_call(fd.as_fd(), &device, request)
    })
    .await?
}

/// Whether [`tokio::task::block_in_place`] may be called here: inside a multi-thread
/// runtime. (On a current-thread runtime it would panic.)
pub fn in_place_supported() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// Executes `request` with SG_IO on the calling thread inside
/// [`tokio::task::block_in_place`], after taking a permit of `limiter`; on a runtime where
/// that is not allowed (current-thread), through the blocking pool
/// ([`sg_io_pooled`]). See [`Engine::InPlace`](crate::Engine::InPlace).
pub(crate) async fn sg_io_in_place(
    fd: &Arc<OwnedFd>,
    limiter: &Limiter,
    device: &Arc<str>,
    request: Request,
) -> Result<Response, TransportError> {
    if !in_place_supported() {
        require_runtime()?;
        return sg_io_pooled(fd.clone(), limiter, device.clone(), request).await;
    }
    // Waiting for the permit is the only await: a future dropped here has sent nothing.
    let _permit = match limiter.sem.try_acquire() {
        Ok(p) => p,
        Err(_) => limiter
            .sem
            .acquire()
            .await
            .map_err(|_| TransportError::Closed)?,
    };
    // The whole command runs inside this one poll: nothing the kernel writes into can
    // outlive it, and the permit is held until the kernel has returned.
    tokio::task::block_in_place(|| sg_io_call(fd.as_fd(), device, request))
}

type Waiter = (oneshot::Sender<(SgReply, SgBuffers)>, OwnedSemaphorePermit);

/// The sg v3 asynchronous engine on one `/dev/sgN` (see the module documentation).
#[derive(Debug)]
pub struct SgV3Engine {
    afd: AsyncFd<SgV3Queue>,
    next_id: AtomicI32,
    waiters: Mutex<HashMap<i32, Waiter>>,
    slots: Arc<Semaphore>,
}

impl SgV3Engine {
    /// An engine on `fd`, an sg node opened read-write with `O_NONBLOCK`. Must be called
    /// inside a tokio runtime.
    pub fn new(fd: OwnedFd) -> std::io::Result<Self> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(std::io::Error::other(
                "the sg v3 engine must be created inside a tokio runtime",
            ));
        }
        Ok(SgV3Engine {
            afd: sys::register_sg_queue(SgV3Queue::new(fd))?,
            next_id: AtomicI32::new(1),
            waiters: Mutex::new(HashMap::new()),
            slots: Arc::new(Semaphore::new(SG_V3_QUEUE_DEPTH)),
        })
    }

    /// Commands submitted and not yet reaped.
    pub fn in_flight(&self) -> usize {
        self.afd.get_ref().in_flight()
    }

    /// Reaps every ready completion and hands each to its waiter.
    fn drain(&self) -> Result<(), Errno> {
        while let Some((reply, bufs)) = self.afd.get_ref().reap()? {
            let waiter = self
                .waiters
                .lock()
                .ok()
                .and_then(|mut m| m.remove(&reply.pack_id));
            if let Some((tx, _permit)) = waiter {
                // The receiver may be gone (the caller's future was dropped); the buffers
                // and the slot are released here either way.
                let _ = tx.send((reply, bufs));
            }
        }
        Ok(())
    }

    /// Waits for readability once and drains.
    async fn poll_once(&self, device: &str) -> Result<(), TransportError> {
        let mut guard = self.afd.readable().await.map_err(|e| {
            os_error(
                "poll",
                device,
                Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            )
        })?;
        match guard.try_io(|_| -> std::io::Result<()> {
            match self.drain() {
                Ok(()) => Err(std::io::ErrorKind::WouldBlock.into()),
                Err(e) => Err(std::io::Error::from_raw_os_error(e as i32)),
            }
        }) {
            Ok(Err(e)) if e.kind() != std::io::ErrorKind::WouldBlock => Err(os_error(
                "read",
                device,
                Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            )),
            _ => Ok(()),
        }
    }

    fn fresh_id(&self) -> i32 {
        loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed) & 0x3fff_ffff;
            let taken = self
                .waiters
                .lock()
                .map(|m| m.contains_key(&id))
                .unwrap_or(false);
            if id != 0 && !taken {
                return id;
            }
        }
    }

    /// Executes one request.
    pub async fn execute(
        &self,
        device: &str,
        request: Request,
    ) -> Result<Response, TransportError> {
        require_runtime()?;
        let Request {
            cdb,
            direction,
            buf,
            timeout,
        } = request;
        let deadline = timeout.saturating_add(TIMEOUT_GRACE);
        let work = async {
            // A slot, draining meanwhile so that abandoned commands release theirs.
            let permit = loop {
                tokio::select! {
                    p = self.slots.clone().acquire_owned() => break p.map_err(|_| TransportError::Closed)?,
                    r = self.poll_once(device) => r?,
                }
            };
            let id = self.fresh_id();
            let (tx, mut rx) = oneshot::channel();
            if let Ok(mut m) = self.waiters.lock() {
                m.insert(id, (tx, permit));
            }
            let mut buf = buf;
            let len = add_slack(cdb.as_bytes(), direction, &mut buf);
            let bufs = SgBuffers {
                data: buf,
                sense: vec![0u8; SENSE_LEN],
            };
            let started = Instant::now();
            if let Err((e, _bufs)) = self.afd.get_ref().submit(
                id,
                cdb.as_bytes(),
                sg_dir(direction),
                bufs,
                timeout_ms(timeout),
            ) {
                if let Ok(mut m) = self.waiters.lock() {
                    m.remove(&id);
                }
                return Err(os_error("write", device, e));
            }
            let (mut reply, mut bufs) = loop {
                tokio::select! {
                    r = &mut rx => break r.map_err(|_| TransportError::Closed)?,
                    r = self.poll_once(device) => r?,
                }
            };
            let elapsed = started.elapsed();
            remove_slack(direction, &mut bufs.data, len, &mut reply);
            response_from_reply(&reply, &bufs.sense, direction, bufs.data, timeout, elapsed)
        };
        match tokio::time::timeout(deadline, work).await {
            Ok(r) => r,
            Err(_) => Err(TransportError::Timeout(deadline)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u8, host: u16, driver: u16, resid: u32, sense_len: u8) -> SgReply {
        SgReply {
            status,
            host_status: host,
            driver_status: driver,
            resid,
            sense_len,
            ..Default::default()
        }
    }

    #[test]
    fn reply_truncates_data_in() {
        let r = response_from_reply(
            &reply(0, 0, 0, 8, 0),
            &[],
            DataDirection::FromDevice,
            vec![1; 24],
            Duration::from_secs(1),
            Duration::from_millis(3),
        )
        .unwrap();
        assert_eq!(r.buf.len(), 16);
        assert_eq!(r.completion.residual, 8);
        assert_eq!(r.completion.status, ScsiStatus::GOOD);
        assert_eq!(r.completion.duration, Duration::from_millis(3));
        // Data out is given back whole.
        let r = response_from_reply(
            &reply(0x18, 0, 0, 0, 0),
            &[],
            DataDirection::ToDevice,
            vec![1; 24],
            Duration::from_secs(1),
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(r.buf.len(), 24);
        assert_eq!(r.completion.status, ScsiStatus::RESERVATION_CONFLICT);
        // A resid larger than the buffer is clamped.
        let r = response_from_reply(
            &reply(0, 0, 0, 1000, 0),
            &[],
            DataDirection::FromDevice,
            vec![1; 24],
            Duration::from_secs(1),
            Duration::ZERO,
        )
        .unwrap();
        assert!(r.buf.is_empty());
        assert_eq!(r.completion.residual, 24);
    }

    #[test]
    fn reply_keeps_sense_and_host_bytes() {
        let sense = [
            0x70u8, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x2a, 0x03, 0, 0, 0, 0,
        ];
        let r = response_from_reply(
            &reply(2, 0, sys::DRIVER_SENSE, 0, 18),
            &sense,
            DataDirection::FromDevice,
            vec![0; 8],
            Duration::from_secs(1),
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(r.completion.status, ScsiStatus::CHECK_CONDITION);
        assert_eq!(r.completion.sense.as_bytes(), &sense);
        assert_eq!(r.completion.driver_status, 8);
        let r = response_from_reply(
            &reply(0, sys::DID_TRANSPORT_FAILFAST, 0, 0, 0),
            &[],
            DataDirection::None,
            vec![],
            Duration::from_secs(1),
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(r.completion.host_status, 0x0f);
    }

    #[test]
    fn reply_timeouts() {
        for (h, d) in [
            (sys::DID_TIME_OUT, 0),
            (0, sys::DRIVER_TIMEOUT),
            (0, 0x10 | sys::DRIVER_TIMEOUT),
        ] {
            let e = response_from_reply(
                &reply(0, h, d, 0, 0),
                &[],
                DataDirection::None,
                vec![],
                Duration::from_secs(2),
                Duration::ZERO,
            )
            .unwrap_err();
            assert_eq!(e, TransportError::Timeout(Duration::from_secs(2)));
        }
    }

    #[test]
    fn data_in_slack_is_invisible() {
        // 152 of 8192 bytes sent: the kernel counts the slack as not transferred.
        let rfs = [0x5e, 0x03, 0, 0, 0, 0, 0, 0x20, 0, 0];
        assert!(needs_slack(&rfs) && !needs_slack(&[0x5e, 0, 0, 0, 0, 0, 0, 0x20, 0, 0]));
        let mut buf = vec![0u8; 8192];
        let len = add_slack(&rfs, DataDirection::FromDevice, &mut buf);
        assert_eq!((len, buf.len()), (8192, 8192 + DATA_IN_SLACK));
        buf[8192 + 10] = 0xee; // a stray byte written past the allocation length
        let mut r = reply(0, 0, 0, (8192 + DATA_IN_SLACK - 152) as u32, 0);
        remove_slack(DataDirection::FromDevice, &mut buf, len, &mut r);
        assert_eq!((buf.len(), r.resid), (8192, 8192 - 152));
        let resp = response_from_reply(
            &r,
            &[],
            DataDirection::FromDevice,
            buf,
            Duration::from_secs(1),
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(
            (resp.buf.len(), resp.completion.residual),
            (152, 8192 - 152)
        );
        // A device that filled the slack too: the response stops at the request's length.
        let mut buf = vec![0u8; 16];
        let len = add_slack(&rfs, DataDirection::FromDevice, &mut buf);
        let mut r = reply(0, 0, 0, 0, 0);
        remove_slack(DataDirection::FromDevice, &mut buf, len, &mut r);
        assert_eq!((buf.len(), r.resid), (16, 0));
        // Data out, empty buffers and other commands are left alone.
        let mut buf = vec![1u8; 24];
        assert_eq!(add_slack(&rfs, DataDirection::ToDevice, &mut buf), 24);
        assert_eq!(buf.len(), 24);
        let mut buf = Vec::new();
        assert_eq!(add_slack(&rfs, DataDirection::FromDevice, &mut buf), 0);
        assert!(buf.is_empty());
        let mut buf = vec![0u8; 8192];
        assert_eq!(
            add_slack(
                &[0x5e, 0, 0, 0, 0, 0, 0, 0x20, 0, 0],
                DataDirection::FromDevice,
                &mut buf
            ),
            8192
        );
        assert_eq!(buf.len(), 8192);
    }

    #[test]
    fn timeout_ms_clamps() {
        assert_eq!(timeout_ms(Duration::ZERO), 1);
        assert_eq!(timeout_ms(Duration::from_secs(30)), 30_000);
        assert_eq!(timeout_ms(Duration::from_secs(u64::MAX)), u32::MAX);
    }

    #[tokio::test]
    async fn limiter_bounds_threads() {
        use std::sync::atomic::AtomicUsize;
        let lim = Limiter::new(2);
        let active = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (lim, active, peak) = (lim.clone(), active.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                run_blocking(&lim, Duration::from_secs(10), move || {
                    let n = active.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    active.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 2);
        assert_eq!(lim.available(), 2);
    }

    #[tokio::test]
    async fn dropped_future_keeps_permit_until_call_returns() {
        let lim = Limiter::new(1);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let r = run_blocking(&lim, Duration::from_millis(20), move || {
            let _ = rx.recv_timeout(Duration::from_secs(5));
        })
        .await;
        assert!(matches!(r, Err(TransportError::Timeout(_))));
        // The closure is still running and still holds the only permit.
        assert_eq!(lim.available(), 0);
        tx.send(()).unwrap();
        for _ in 0..200 {
            if lim.available() == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("permit not released");
    }

    fn dev_null() -> Arc<OwnedFd> {
        Arc::new(std::fs::File::open("/dev/null").unwrap().into())
    }

    #[test]
    fn in_place_detects_the_runtime_flavor() {
        assert!(!in_place_supported());
        let ct = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(!ct.block_on(async { in_place_supported() }));
        let mt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        assert!(mt.block_on(async { in_place_supported() }));
        assert!(mt.block_on(async { tokio::spawn(async { in_place_supported() }).await.unwrap() }));
    }

    /// The in-place engine never panics: on a current-thread runtime it falls back to the
    /// pool, on a multi-thread runtime it blocks in place (from `block_on` and from a worker),
    /// and the SG_IO error (here ENOTTY from /dev/null) comes back either way, with the
    /// permit returned.
    #[test]
    fn in_place_falls_back_on_current_thread() {
        let req = || {
            Request::data_in(
                pr_core::transport::Cdb::from([0x5e, 0, 0, 0, 0, 0, 0, 0, 8, 0]),
                8,
            )
        };
        let check = |r: Result<Response, TransportError>| {
            let e = r.unwrap_err();
            assert!(e.to_string().contains("SG_IO"), "{e}");
        };
        let lim = Limiter::new(1);
        let (fd, name): (_, Arc<str>) = (dev_null(), Arc::from("/dev/null"));
        let ct = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        check(ct.block_on(sg_io_in_place(&fd, &lim, &name, req())));
        let mt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        check(mt.block_on(sg_io_in_place(&fd, &lim, &name, req())));
        let (fd2, lim2, name2) = (fd.clone(), lim.clone(), name.clone());
        check(
            mt.block_on(mt.spawn(async move { sg_io_in_place(&fd2, &lim2, &name2, req()).await }))
                .unwrap(),
        );
        assert_eq!(lim.available(), 1);
        // Outside any runtime: an error, no panic.
        let r = futures_lite_block_on(sg_io_in_place(&fd, &lim, &name, req()));
        assert!(matches!(r, Err(TransportError::InvalidRequest(_))), "{r:?}");
    }

    #[test]
    fn outside_runtime_is_an_error() {
        let lim = Limiter::new(1);
        let fut = run_blocking(&lim, Duration::from_secs(1), || ());
        let r = futures_lite_block_on(fut);
        assert!(matches!(r, Err(TransportError::InvalidRequest(m)) if m.contains("tokio runtime")));
    }

    /// Polls a future that must complete without waiting.
    fn futures_lite_block_on<F: core::future::Future>(f: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("future pending"),
        }
    }
}
