//! The daemon's server: many connections at once on one Unix socket, one command at a time
//! on each, as qemu-pr-helper serves them (see [`crate::wire`] for the frames). The
//! runtime accepts connections; each connection is then served on a thread of its own
//! with a blocking socket ([`Server::serve_connection`]), so that a command on a path
//! device is read, sent (one SG_IO) and answered by one thread, with no hand-off.
//!
//! For each request the server:
//! 1. reads the 16-byte CDB with exactly one file descriptor (none, two, a CDB that is not
//!    PR IN/OUT, a length above 8192 bytes, or a descriptor that arrives with the PR OUT
//!    data: the connection closes without a reply, as qemu-pr-helper's does), then the PR
//!    OUT data;
//! 2. refuses PR OUT on a descriptor opened `O_RDONLY` with CHECK CONDITION, ILLEGAL
//!    REQUEST, INVALID COMMAND OPERATION CODE (5/20/00), as qemu-pr-helper does;
//! 3. finds the LUN behind the descriptor ([`LunSource`]): a device that is not a SCSI
//!    device or map, or cannot be opened, gets ABORTED COMMAND, I/O PROCESS TERMINATED
//!    (B/00/06), what qemu-pr-helper's SG_IO on such a descriptor gives;
//! 4. runs the command with [`Lun::pass_through`](pr_multipath::Lun::pass_through) (on a
//!    single SG_IO device, [`pass_through_on_this_thread`](pr_multipath::Lun::pass_through_on_this_thread):
//!    one SG_IO call on the connection's thread, whose timeout the kernel enforces): the
//!    device's (or, for a map, the array's) status, sense and data. A command that did not
//!    complete at the device gets BUSY when it timed out (as qemu-pr-helper maps a
//!    driver timeout) and otherwise ABORTED COMMAND, LOGICAL UNIT COMMUNICATION FAILURE
//!    (B/08/00);
//! 5. with tracking on, feeds the [`Tracker`] and masks SIP_C/ATP_C in REPORT
//!    CAPABILITIES;
//! 6. closes the descriptor and replies (`sz` non-zero only for a PR IN that completed
//!    GOOD, at most the allocation length).
//!
//! On shutdown the server stops accepting, closes connections that wait for a request,
//! and lets commands under way finish.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pr_core::sense::SenseKey;
use pr_core::transport::TransportError;
use pr_multipath::{Failure, RawReply};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream as StdUnixStream;
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::luns::LunSource;
use crate::sys;
use crate::tracker::{self, Observation, Tracker};
use crate::wire::{
    self, CDB_SIZE, DATA_SIZE, Direction, FEATURES_SIZE, FrameError, Reply, RequestDecoder,
    RequestFrame,
};

/// Why a connection ended (for logs and tests).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionEnd {
    /// The peer closed the connection between requests.
    #[error("closed by the client")]
    Closed,
    /// The peer closed the connection in the middle of a request.
    #[error("closed by the client in the middle of a request")]
    ClosedMidFrame,
    /// The server is shutting down.
    #[error("server shutting down")]
    Shutdown,
    /// A frame was refused.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The socket failed.
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
}

/// The server: where LUNs come from, and the tracker when tracking is on.
#[derive(Clone)]
pub struct Server {
    luns: Arc<dyn LunSource>,
    tracker: Option<Arc<Mutex<Tracker>>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("tracking", &self.tracker.is_some())
            .finish()
    }
}

fn check_condition(key: SenseKey, asc: u8, ascq: u8) -> Reply {
    let r = RawReply::check_condition(key, asc, ascq);
    Reply::new(r.status, &r.sense, Vec::new())
}

/// The reply of a command that did not complete at the device.
fn reply_of_error(e: &pr_multipath::Error) -> Reply {
    if let Some(Failure::Transport(TransportError::Timeout(_))) = e.failure() {
        return Reply::new(0x08, &[], Vec::new());
    }
    check_condition(SenseKey::AbortedCommand, 0x08, 0x00)
}

impl Server {
    /// A server of the LUNs `luns` finds, without tracking.
    pub fn new(luns: Arc<dyn LunSource>) -> Self {
        Server {
            luns,
            tracker: None,
        }
    }

    /// The same server with the migration tracker on (see [`crate::tracker`]).
    pub fn with_tracking(mut self) -> Self {
        self.tracker = Some(Arc::new(Mutex::new(Tracker::new())));
        self
    }

    pub(crate) fn tracker_handle(&self) -> Option<Arc<Mutex<Tracker>>> {
        self.tracker.clone()
    }

    pub(crate) fn lun_source(&self) -> Arc<dyn LunSource> {
        Arc::clone(&self.luns)
    }

    /// A copy of the tracker's state, when tracking is on.
    pub fn tracker(&self) -> Option<Tracker> {
        self.tracker
            .as_ref()
            .map(|t| t.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Accepts connections on `listener` until `shutdown` is cancelled, then waits for the
    /// connections' commands under way (connections waiting for a request close at once).
    /// Accept errors (out of descriptors, ...) are logged and retried after a pause.
    pub async fn serve(&self, listener: UnixListener, shutdown: CancellationToken) {
        let mut tasks = JoinSet::new();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let server = self.clone();
                        let token = shutdown.clone();
                        tasks.spawn(async move {
                            if let Err(e) = server.serve_connection(stream, token).await {
                                tracing::debug!(target: "pr_helper::server", "connection ended: {e}");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!(target: "pr_helper::server", "accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        drop(listener);
        while tasks.join_next().await.is_some() {}
    }

    /// Serves one connection until the client closes it, a frame is refused, or
    /// `shutdown` is cancelled while it waits for a request.
    ///
    /// The connection is served on a thread of its own, with a blocking socket: it reads
    /// each request, finds the LUN and, on a single device, sends the command (one SG_IO
    /// through the client's descriptor) and writes the reply, all on that thread, so that a
    /// command on a path device costs no thread hand-off (a map's command runs on the
    /// runtime, `Handle::block_on`). A client holds one thread, as one command at a time is
    /// what a connection carries; a device that does not answer holds only its client's
    /// connection. On shutdown, the socket's read side is shut down: a thread waiting for a
    /// request returns at once, a command under way finishes and its reply is written.
    pub async fn serve_connection(
        &self,
        stream: UnixStream,
        shutdown: CancellationToken,
    ) -> Result<(), ConnectionEnd> {
        let client = match stream.peer_cred() {
            Ok(c) => format!(
                "uid={},pid={}",
                c.uid(),
                c.pid().map_or_else(|| "?".to_owned(), |p| p.to_string())
            ),
            Err(_) => "unknown".to_owned(),
        };
        let stream = stream.into_std()?;
        stream.set_nonblocking(false)?;
        let reads = stream.try_clone()?;
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let server = self.clone();
        let runtime = tokio::runtime::Handle::current();
        let token = shutdown.clone();
        std::thread::Builder::new()
            .name("pr-helper-conn".into())
            .spawn(move || {
                let _ = tx.send(server.run_connection(&stream, &client, &token, &runtime));
            })?;
        let lost = || {
            ConnectionEnd::Io(io::Error::other(
                "the connection's thread ended without a result",
            ))
        };
        tokio::select! {
            r = &mut rx => return r.unwrap_or_else(|_| Err(lost())),
            _ = shutdown.cancelled() => {}
        }
        let _ = reads.shutdown(std::net::Shutdown::Read);
        rx.await.unwrap_or_else(|_| Err(lost()))
    }

    /// The connection's thread: the features, then requests until the end.
    fn run_connection(
        &self,
        stream: &StdUnixStream,
        client: &str,
        shutdown: &CancellationToken,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(), ConnectionEnd> {
        let stopped = |e: ConnectionEnd| {
            if shutdown.is_cancelled() {
                ConnectionEnd::Shutdown
            } else {
                e
            }
        };
        let mut writer = stream;
        writer.write_all(&wire::encode_features(wire::FEATURES))?;
        let mut word = [0u8; FEATURES_SIZE];
        let mut reader = stream;
        reader
            .read_exact(&mut word)
            .map_err(|e| stopped(e.into()))?;
        wire::check_features(word)?;
        loop {
            if shutdown.is_cancelled() {
                return Err(ConnectionEnd::Shutdown);
            }
            let (frame, fd) = read_request(stream).map_err(stopped)?;
            let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.execute(frame, fd, client, runtime)
            }))
            .unwrap_or_else(|_| {
                tracing::warn!(target: "pr_helper::server", "a request's execution panicked");
                check_condition(SenseKey::AbortedCommand, 0x00, 0x06)
            });
            writer.write_all(&reply.encode())?;
        }
    }

    /// Runs one request on the connection's thread (the descriptor is closed when it
    /// returns).
    fn execute(
        &self,
        frame: RequestFrame,
        fd: OwnedFd,
        client: &str,
        runtime: &tokio::runtime::Handle,
    ) -> Reply {
        let header = frame.header;
        if header.direction == Direction::Out && sys::is_read_only(fd.as_fd()).unwrap_or(false) {
            return check_condition(SenseKey::IllegalRequest, 0x20, 0x00);
        }
        // The descriptor goes to the LUN (a single device's commands go through it) and is
        // closed with it, before the reply.
        let lun = match self.luns.lun_for_owned(fd) {
            Ok(lun) => lun,
            Err(e) => {
                tracing::info!(target: "pr_helper::server", "no LUN behind the descriptor: {e}");
                return check_condition(SenseKey::AbortedCommand, 0x00, 0x06);
            }
        };
        let params = frame.data;
        let result = match lun.pass_through_on_this_thread(&header.cdb, &params) {
            Some(r) => r,
            None => runtime.block_on(lun.pass_through(&header.cdb, &params)),
        };
        let raw = match result {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(target: "pr_helper::server", "{}: {e}", lun.name());
                return reply_of_error(&e);
            }
        };
        let good = raw.status == 0;
        let mut data = if header.direction == Direction::In && good {
            raw.data
        } else {
            Vec::new()
        };
        data.truncate(header.transfer_len.min(DATA_SIZE));
        if let Some(t) = &self.tracker {
            let id = lun.wwid().unwrap_or(lun.name()).to_owned();
            if header.direction == Direction::Out {
                let next = t.lock().unwrap_or_else(|p| p.into_inner()).observe_out(
                    &id,
                    client,
                    &header.cdb,
                    &params,
                    raw.status,
                );
                if next == Observation::ReadReservation {
                    let r =
                        runtime.block_on(lun.pass_through(&tracker::read_reservation_cdb(), &[]));
                    if let Ok(r) = r {
                        t.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .observe_reservation(&id, client, r.status, &r.data);
                    }
                }
            } else if good && tracker::is_report_capabilities(&header.cdb) {
                tracker::mask_capabilities(&mut data);
            }
        }
        Reply::new(raw.status, &raw.sense, data)
    }
}

/// Reads one request and its descriptor, as qemu-pr-helper accepts them (blocking).
fn read_request(stream: &StdUnixStream) -> Result<(RequestFrame, OwnedFd), ConnectionEnd> {
    let mut decoder = RequestDecoder::new();
    let mut fd: Option<OwnedFd> = None;
    let mut buf = vec![0u8; CDB_SIZE + DATA_SIZE];
    loop {
        let want = decoder.wanted().min(buf.len());
        let slot = &mut buf[..want];
        let got = loop {
            match sys::recv_with_fds(stream.as_fd(), slot, true) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        let with_fds = !got.fds.is_empty();
        if got.truncated
            || got.fds.len() > 1
            || (with_fds && (fd.is_some() || decoder.cdb_complete()))
        {
            return Err(FrameError::TooManyFds.into());
        }
        if let Some(f) = got.fds.into_iter().next() {
            fd = Some(f);
        }
        if got.len == 0 {
            return Err(if decoder.is_idle() {
                ConnectionEnd::Closed
            } else {
                ConnectionEnd::ClosedMidFrame
            });
        }
        let mut input = &buf[..got.len];
        let was_complete = decoder.cdb_complete();
        let frame = decoder.decode(&mut input)?;
        if !was_complete && (decoder.cdb_complete() || frame.is_some()) && fd.is_none() {
            return Err(FrameError::NoFd.into());
        }
        if let Some(frame) = frame {
            let fd = fd.ok_or(FrameError::NoFd)?;
            return Ok((frame, fd));
        }
    }
}
