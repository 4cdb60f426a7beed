//! The daemon's server: many connections at once on one Unix socket, one command at a time
//! on each, as qemu-pr-helper serves them (see [`crate::wire`] for the frames).
//!
//! For each request the server:
//! 1. reads the 16-byte CDB with exactly one file descriptor (none, two, a CDB that is not
//!    PR IN/OUT, a length above 8192 bytes, or a descriptor that arrives with the PR OUT
//!    data: the connection closes without a reply, as qemu-pr-helper's does), then the PR
//!    OUT data;
//! 2. refuses PR OUT on a descriptor opened `O_RDONLY` with CHECK CONDITION, ILLEGAL
//!    REQUEST, INVALID COMMAND OPERATION CODE (5/20/00), as qemu-pr-helper does;
//! 3. finds the LUN behind the descriptor ([`LunSource`], on a blocking-pool thread): a
//!    device that is not a SCSI
//!    device or map, or cannot be opened, gets ABORTED COMMAND, I/O PROCESS TERMINATED
//!    (B/00/06), what qemu-pr-helper's SG_IO on such a descriptor gives;
//! 4. runs the command with [`Lun::pass_through`](pr_multipath::Lun::pass_through) (on a
//!    single SG_IO device, [`pass_through_on_this_thread`](pr_multipath::Lun::pass_through_on_this_thread)
//!    on that same thread: one SG_IO call, whose timeout the kernel enforces): the
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
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
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
    pub async fn serve_connection(
        &self,
        mut stream: UnixStream,
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
        stream
            .write_all(&wire::encode_features(wire::FEATURES))
            .await?;
        let mut word = [0u8; FEATURES_SIZE];
        tokio::select! {
            _ = shutdown.cancelled() => return Err(ConnectionEnd::Shutdown),
            r = stream.read_exact(&mut word) => { r?; }
        }
        wire::check_features(word)?;
        loop {
            let (frame, fd) = tokio::select! {
                _ = shutdown.cancelled() => return Err(ConnectionEnd::Shutdown),
                r = read_request(&stream) => r?,
            };
            let reply = self.execute(frame, fd, &client).await;
            stream.write_all(&reply.encode()).await?;
        }
    }

    /// Runs one request (the descriptor is closed when it returns).
    async fn execute(&self, frame: RequestFrame, fd: OwnedFd, client: &str) -> Reply {
        let header = frame.header;
        if header.direction == Direction::Out && sys::is_read_only(fd.as_fd()).unwrap_or(false) {
            return check_condition(SenseKey::IllegalRequest, 0x20, 0x00);
        }
        // One blocking-pool thread per request finds the LUN and, on a single device, sends
        // the command too (one SG_IO through the client's descriptor), so that a request
        // costs one thread hand-off; a map's command runs on the runtime afterwards.
        let luns = Arc::clone(&self.luns);
        let cdb = header.cdb;
        let params = frame.data;
        let joined = tokio::task::spawn_blocking(move || {
            // The descriptor goes to the LUN (a single device's commands go through it)
            // and is closed with it, before the reply.
            let found = luns.lun_for_owned(fd);
            let done = found
                .as_ref()
                .ok()
                .and_then(|lun| lun.pass_through_on_this_thread(&cdb, &params));
            (found, done, params)
        })
        .await;
        let (lun, done, params) = match joined {
            Ok((Ok(lun), done, params)) => (lun, done, params),
            Ok((Err(e), ..)) => {
                tracing::info!(target: "pr_helper::server", "no LUN behind the descriptor: {e}");
                return check_condition(SenseKey::AbortedCommand, 0x00, 0x06);
            }
            Err(e) => {
                tracing::warn!(target: "pr_helper::server", "LUN lookup failed: {e}");
                return check_condition(SenseKey::AbortedCommand, 0x00, 0x06);
            }
        };
        let result = match done {
            Some(r) => r,
            None => lun.pass_through(&header.cdb, &params).await,
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
                    let r = lun
                        .pass_through(&tracker::read_reservation_cdb(), &[])
                        .await;
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

/// Reads one request and its descriptor, as qemu-pr-helper accepts them.
async fn read_request(stream: &UnixStream) -> Result<(RequestFrame, OwnedFd), ConnectionEnd> {
    let mut decoder = RequestDecoder::new();
    let mut fd: Option<OwnedFd> = None;
    let mut buf = vec![0u8; CDB_SIZE + DATA_SIZE];
    loop {
        let want = decoder.wanted().min(buf.len());
        let slot = &mut buf[..want];
        let got = stream
            .async_io(Interest::READABLE, || {
                sys::recv_with_fds(stream.as_fd(), slot)
            })
            .await?;
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
