//! A client of the qemu-pr-helper protocol, for any helper: this crate's daemon or QEMU's
//! `qemu-pr-helper`. [`Client`] is asynchronous (tokio), [`BlockingClient`] blocks the
//! calling thread. Both send one request at a time, as the protocol requires, and hand
//! back the helper's [`Reply`] (status, sense, data) unchanged.
//!
//! ```no_run
//! # async fn f() -> Result<(), pr_helper::client::ClientError> {
//! use pr_helper::client::{Client, pr_in_cdb};
//! let device = std::fs::File::open("/dev/sdb")?;
//! let mut helper = Client::connect("/run/qemu-pr-helper.sock").await?;
//! let reply = helper.call(&device, &pr_in_cdb(0x00, 8192), &[]).await?; // READ KEYS
//! println!("status {:#04x}, {} bytes", reply.status(), reply.data.len());
//! # Ok(()) }
//! ```

use pr_core::cdb::{PrInCdb, PrOutCdb};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::UnixStream;

use crate::sys;
use crate::wire::{
    self, CDB_SIZE, FEATURES_SIZE, FrameError, RESPONSE_HEADER_SIZE, Reply, ReplyHeader,
};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The socket failed, or the helper closed the connection (it does so, without a
    /// reply, for requests it refuses: no or two descriptors, a CDB that is not PR IN/OUT,
    /// a length above 8192 bytes).
    #[error("helper connection: {0}")]
    Io(#[from] io::Error),
    /// The request or the helper's bytes break the protocol.
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// A PR IN CDB (16 bytes, as the protocol carries it) of `service_action` and
/// `allocation_length`.
pub fn pr_in_cdb(service_action: u8, allocation_length: u16) -> [u8; CDB_SIZE] {
    let cdb = PrInCdb {
        service_action: service_action & 0x1f,
        allocation_length,
        control: 0,
    };
    padded(cdb.to_bytes())
}

/// A PR OUT CDB of `service_action`, `scope_type` (scope in bits 7:4, type in 3:0) and
/// `parameter_list_length`.
pub fn pr_out_cdb(
    service_action: u8,
    scope_type: u8,
    parameter_list_length: u16,
) -> [u8; CDB_SIZE] {
    let cdb = PrOutCdb {
        service_action: service_action & 0x1f,
        scope: scope_type >> 4,
        type_code: scope_type & 0x0f,
        parameter_list_length: u32::from(parameter_list_length),
        control: 0,
    };
    padded(cdb.to_bytes())
}

/// A 10-byte PR CDB in the protocol's 16 bytes.
fn padded(cdb: [u8; pr_core::cdb::CDB_LEN]) -> [u8; CDB_SIZE] {
    let mut c = [0u8; CDB_SIZE];
    c[..cdb.len()].copy_from_slice(&cdb);
    c
}

/// A basic 24-byte PR OUT parameter list: RESERVATION KEY, SERVICE ACTION RESERVATION KEY
/// and the flags byte (SPEC_I_PT 08h, ALL_TG_PT 04h, APTPL 01h).
pub fn basic_params(key: u64, sa_key: u64, flags: u8) -> [u8; 24] {
    let mut p = [0u8; 24];
    p[..8].copy_from_slice(&key.to_be_bytes());
    p[8..16].copy_from_slice(&sa_key.to_be_bytes());
    p[20] = flags;
    p
}

/// An asynchronous connection to a helper.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
}

impl Client {
    /// Connects to the helper's socket and exchanges the feature words.
    pub async fn connect(path: impl AsRef<Path>) -> Result<Self, ClientError> {
        Self::from_stream(UnixStream::connect(path).await?).await
    }

    /// Takes a connected stream and exchanges the feature words.
    pub async fn from_stream(mut stream: UnixStream) -> Result<Self, ClientError> {
        let mut word = [0u8; FEATURES_SIZE];
        stream.read_exact(&mut word).await?;
        wire::check_features(word)?;
        stream
            .write_all(&wire::encode_features(wire::FEATURES))
            .await?;
        Ok(Client { stream })
    }

    /// Sends one request (`cdb` padded to 16 bytes, `device`'s descriptor with it, and the
    /// PR OUT parameter list, exactly as long as bytes 7-8 of the CDB say) and reads the
    /// reply.
    pub async fn call(
        &mut self,
        device: &impl AsFd,
        cdb: &[u8],
        data: &[u8],
    ) -> Result<Reply, ClientError> {
        let bytes = wire::encode_request(cdb, data)?;
        let fd = device.as_fd();
        let mut sent = 0;
        while sent < bytes.len() {
            let fds: &[BorrowedFd<'_>] = if sent == 0 { &[fd] } else { &[] };
            let piece = &bytes[sent..];
            sent += self
                .stream
                .async_io(Interest::WRITABLE, || {
                    sys::send_with_fds(self.stream.as_fd(), piece, fds, true)
                })
                .await?;
        }
        let mut header = [0u8; RESPONSE_HEADER_SIZE];
        self.stream.read_exact(&mut header).await?;
        let h = ReplyHeader::decode(&header)?;
        let mut data = vec![0u8; h.size];
        self.stream.read_exact(&mut data).await?;
        Ok(Reply {
            result: h.result,
            sense: h.sense,
            data,
        })
    }

    /// The underlying stream (for tests that misbehave on purpose).
    pub fn stream_mut(&mut self) -> &mut UnixStream {
        &mut self.stream
    }
}

/// A blocking connection to a helper.
#[derive(Debug)]
pub struct BlockingClient {
    stream: StdUnixStream,
}

impl BlockingClient {
    /// Connects to the helper's socket and exchanges the feature words.
    pub fn connect(path: impl AsRef<Path>) -> Result<Self, ClientError> {
        let mut stream = StdUnixStream::connect(path)?;
        let mut word = [0u8; FEATURES_SIZE];
        stream.read_exact(&mut word)?;
        wire::check_features(word)?;
        stream.write_all(&wire::encode_features(wire::FEATURES))?;
        Ok(BlockingClient { stream })
    }

    /// As [`Client::call`], blocking.
    pub fn call(
        &mut self,
        device: &impl AsFd,
        cdb: &[u8],
        data: &[u8],
    ) -> Result<Reply, ClientError> {
        let bytes = wire::encode_request(cdb, data)?;
        let fd = device.as_fd();
        let mut sent = 0;
        while sent < bytes.len() {
            let fds: &[BorrowedFd<'_>] = if sent == 0 { &[fd] } else { &[] };
            sent += sys::send_with_fds(self.stream.as_fd(), &bytes[sent..], fds, false)?;
        }
        let mut header = [0u8; RESPONSE_HEADER_SIZE];
        self.stream.read_exact(&mut header)?;
        let h = ReplyHeader::decode(&header)?;
        let mut data = vec![0u8; h.size];
        self.stream.read_exact(&mut data)?;
        Ok(Reply {
            result: h.result,
            sense: h.sense,
            data,
        })
    }

    /// Sends raw bytes with the given descriptors attached (any number, none included):
    /// for tests that break the protocol on purpose.
    pub fn send_raw(&mut self, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> Result<usize, ClientError> {
        Ok(sys::send_with_fds(self.stream.as_fd(), bytes, fds, false)?)
    }

    /// The underlying stream (timeouts, ...).
    pub fn stream(&self) -> &StdUnixStream {
        &self.stream
    }

    /// The underlying stream, to read and write on it directly.
    pub fn stream_mut(&mut self) -> &mut StdUnixStream {
        &mut self.stream
    }
}
