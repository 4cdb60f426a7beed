//! The one asynchronous transport interface that every way of reaching a logical unit
//! implements: `pr-sgio`'s SG_IO and block-ioctl devices, `pr-sim`'s simulated paths, and
//! later a qemu-pr-helper client. `pr-multipath` is written against it.
//!
//! The interface is a single CDB executor ([`Transport::execute`]). It is runtime-agnostic
//! (plain `core::future::Future`), and buffers are *owned* by the request: a transport that
//! hands the buffer to the kernel keeps it alive until the kernel is done with it, so a
//! dropped future can never leave memory the kernel still writes into.

use core::fmt;
use core::future::Future;
use core::time::Duration;

use crate::outcome::Completion;

/// Longest CDB a request may carry (PERSISTENT RESERVE IN/OUT use 10 bytes).
pub const CDB_MAX: usize = 16;

/// A CDB of up to [`CDB_MAX`] bytes, kept inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cdb {
    bytes: [u8; CDB_MAX],
    len: u8,
}

impl Cdb {
    /// A CDB from its bytes, or `None` when it is empty or longer than [`CDB_MAX`].
    pub fn new(bytes: &[u8]) -> Option<Self> {
        let len = u8::try_from(bytes.len()).ok()?;
        let mut c = Cdb {
            bytes: [0; CDB_MAX],
            len,
        };
        c.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        if bytes.is_empty() { None } else { Some(c) }
    }

    /// The CDB's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The operation code (byte 0).
    pub fn opcode(&self) -> u8 {
        self.bytes[0]
    }
}

impl From<[u8; 10]> for Cdb {
    fn from(b: [u8; 10]) -> Self {
        let mut c = Cdb {
            bytes: [0; CDB_MAX],
            len: 10,
        };
        if let Some(dst) = c.bytes.get_mut(..10) {
            dst.copy_from_slice(&b);
        }
        c
    }
}

impl fmt::Debug for Cdb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cdb[")?;
        for (i, b) in self.as_bytes().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02x}")?;
        }
        f.write_str("]")
    }
}

/// Which way data moves.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum DataDirection {
    /// No data phase.
    None,
    /// The buffer's bytes go to the device (PR OUT parameter list, WRITE).
    ToDevice,
    /// The device fills the buffer (PR IN, READ); its length is the allocation length.
    FromDevice,
}

/// One command to execute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The CDB.
    pub cdb: Cdb,
    /// Direction of the data phase.
    pub direction: DataDirection,
    /// Data out, or room for data in (its length is the transfer length). Empty for
    /// [`DataDirection::None`].
    pub buf: Vec<u8>,
    /// How long the transport lets the command run before it reports
    /// [`TransportError::Timeout`].
    pub timeout: Duration,
}

impl Request {
    /// Default command timeout: PR commands are quick, but arrays under failover may take
    /// seconds.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// A request without a data phase.
    pub fn no_data(cdb: Cdb) -> Self {
        Request {
            cdb,
            direction: DataDirection::None,
            buf: Vec::new(),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// A request that sends `data` to the device.
    pub fn data_out(cdb: Cdb, data: Vec<u8>) -> Self {
        Request {
            cdb,
            direction: DataDirection::ToDevice,
            buf: data,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// A request that receives up to `len` bytes from the device.
    pub fn data_in(cdb: Cdb, len: usize) -> Self {
        Request {
            cdb,
            direction: DataDirection::FromDevice,
            buf: vec![0; len],
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// The same request with another timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A command that reached the device and completed (with any status).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status, sense, residual, host/driver status, duration.
    pub completion: Completion,
    /// The request's buffer, given back. For [`DataDirection::FromDevice`] it is truncated
    /// to the bytes the device transferred (allocation length minus residual).
    pub buf: Vec<u8>,
}

/// Why a command did not complete at the device: nothing to classify by SCSI status.
///
/// With the `serde` feature: `{"kind", "message", "device", "errno"}`, `kind` one of
/// `"timeout"`, `"os"`, `"path_down"`, `"unsupported"`, `"invalid_request"`, `"closed"`,
/// `message` the `Display` text, `device` and `errno` `null` where the variant has none.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The command did not complete within its timeout. Whether it reached the device is
    /// unknown.
    #[error("command timed out after {0:?}")]
    Timeout(Duration),
    /// An operating-system call failed.
    #[error("{op} on {device}: {message} (errno {errno})")]
    Os {
        /// The call (`open`, `SG_IO`, `IOC_PR_REGISTER`, ...).
        op: &'static str,
        /// The device path or name.
        device: String,
        /// The errno value.
        errno: i32,
        /// The system's text for it.
        message: String,
    },
    /// The path is down: failed, offline, deleted, or (in a simulator) made to fail.
    #[error("path {device} is down: {reason}")]
    PathDown {
        /// The device path or name.
        device: String,
        /// What is known about why.
        reason: String,
    },
    /// This transport cannot carry this command (for example the block-layer PR ioctls
    /// have no READ FULL STATUS).
    #[error("{device}: {what} is not supported by this transport: {reason}")]
    Unsupported {
        /// The device path or name.
        device: String,
        /// The command or feature.
        what: String,
        /// Why.
        reason: String,
    },
    /// The request itself is malformed for this transport (bad CDB length, buffer too big).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The transport has been shut down.
    #[error("transport closed")]
    Closed,
}

/// An asynchronous executor of SCSI commands on one I_T nexus (one path to one LU).
///
/// Implementations must be cancellation-safe in the memory sense: dropping the returned
/// future must not free a buffer the kernel (or any other agent) may still write into.
/// Whether a dropped command still executes on the device is transport-specific and
/// documented by each implementation; callers of PR OUT must assume it may have.
pub trait Transport: Send + Sync {
    /// Executes one command and returns its completion, whatever the SCSI status. Errors
    /// are reserved for commands that did not complete at the device.
    fn execute(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, TransportError>> + Send;

    /// A short human name for this path (device node, simulator path name, ...), used in
    /// error messages.
    fn name(&self) -> &str;
}

impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    fn execute(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, TransportError>> + Send {
        (**self).execute(request)
    }

    fn name(&self) -> &str {
        (**self).name()
    }
}
