//! The qemu-pr-helper wire protocol, sans IO: bytes in, frames out, and the reverse. No
//! socket, no file descriptor, no clock; the server and the client move the bytes (and
//! the one file descriptor each request carries by `SCM_RIGHTS`).
//!
//! A connection, as QEMU's `docs/interop/pr-helper.rst` and `scsi/qemu-pr-helper.c` define
//! it (all integers big-endian):
//!
//! 1. The helper sends a 4-byte feature word; the client answers with its own. No feature
//!    is defined: both are 0, and the helper closes a connection whose word is not 0.
//! 2. Each request: a 16-byte CDB (with exactly one file descriptor attached), then for PR
//!    OUT the parameter list. Only PERSISTENT RESERVE IN (5Eh) and OUT (5Fh) are valid;
//!    anything else closes the connection. The transfer length is read as QEMU's
//!    `scsi_cdb_xfer` reads a 10-byte CDB: bytes 7-8 (PR IN ALLOCATION LENGTH; for PR OUT
//!    the low 16 bits of PARAMETER LIST LENGTH, which QEMU's helper also reads alone). A
//!    length above [`DATA_SIZE`] closes the connection.
//! 3. Each reply: `{be32 result; be32 sz; u8 sense[96]}` ([`RESPONSE_HEADER_SIZE`] bytes),
//!    then `sz` bytes of data. `result` is the SCSI status; `sz` is non-zero only for a PR
//!    IN that completed GOOD and is at most the allocation length; the sense is always
//!    sent, zero-padded.
//!
//! One request at a time per connection: the client waits for the reply before the next
//! request (a server may still read pipelined requests and answer them in order).

use thiserror::Error;

/// Bytes of the CDB in a request.
pub const CDB_SIZE: usize = 16;
/// Bytes of sense in a reply.
pub const SENSE_SIZE: usize = 96;
/// Most data bytes a request or reply carries.
pub const DATA_SIZE: usize = 8192;
/// Bytes of the feature word each side sends first.
pub const FEATURES_SIZE: usize = 4;
/// Bytes of a reply before its data.
pub const RESPONSE_HEADER_SIZE: usize = 8 + SENSE_SIZE;
/// The two operation codes the protocol carries (pr-core's).
pub use pr_core::cdb::{PERSISTENT_RESERVE_IN, PERSISTENT_RESERVE_OUT};

/// The feature word this implementation sends and accepts: none is defined.
pub const FEATURES: u32 = 0;

/// Why a frame is refused. Every one of them ends the connection, as in qemu-pr-helper.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The peer asked for features that do not exist.
    #[error("unknown features requested: {0:#010x}")]
    Features(u32),
    /// The CDB is not PERSISTENT RESERVE IN or OUT.
    #[error("invalid CDB (operation code {0:#04x}), closing the connection")]
    NotPersistentReserve(u8),
    /// The transfer length is larger than [`DATA_SIZE`].
    #[error("transfer length {0} is larger than {DATA_SIZE}")]
    TooLong(usize),
    /// A reply's `sz` is larger than [`DATA_SIZE`] (a client decoding a reply).
    #[error("reply size {0} is larger than {DATA_SIZE}")]
    ReplyTooLong(u32),
    /// The request carries no file descriptor.
    #[error("no file descriptor in request")]
    NoFd,
    /// The request carries more than one file descriptor.
    #[error("more than one file descriptor in request")]
    TooManyFds,
    /// The data given to an encoder does not fit the CDB's length.
    #[error("the data is {given} bytes, the CDB says {expected}")]
    DataLength {
        /// Bytes given.
        given: usize,
        /// Bytes the CDB announces.
        expected: usize,
    },
}

/// Direction of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// PERSISTENT RESERVE IN: the reply carries up to `transfer_len` bytes.
    In,
    /// PERSISTENT RESERVE OUT: `transfer_len` parameter bytes follow the CDB.
    Out,
}

/// What a request's CDB announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// The CDB as received.
    pub cdb: [u8; CDB_SIZE],
    /// PR IN or PR OUT.
    pub direction: Direction,
    /// PR IN: allocation length; PR OUT: parameter bytes that follow.
    pub transfer_len: usize,
}

impl Header {
    /// Reads the CDB of a request; refuses what qemu-pr-helper refuses.
    pub fn parse(cdb: [u8; CDB_SIZE]) -> Result<Self, FrameError> {
        let direction = match cdb[0] {
            PERSISTENT_RESERVE_IN => Direction::In,
            PERSISTENT_RESERVE_OUT => Direction::Out,
            other => return Err(FrameError::NotPersistentReserve(other)),
        };
        let transfer_len = usize::from(u16::from_be_bytes([cdb[7], cdb[8]]));
        if transfer_len > DATA_SIZE {
            return Err(FrameError::TooLong(transfer_len));
        }
        Ok(Header {
            cdb,
            direction,
            transfer_len,
        })
    }

    /// Bytes that follow the CDB in the request.
    pub fn data_len(&self) -> usize {
        match self.direction {
            Direction::In => 0,
            Direction::Out => self.transfer_len,
        }
    }
}

/// One complete request, without its file descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestFrame {
    /// The CDB and what it announces.
    pub header: Header,
    /// PR OUT parameter list (empty for PR IN).
    pub data: Vec<u8>,
}

/// The feature word, as sent.
pub fn encode_features(features: u32) -> [u8; FEATURES_SIZE] {
    features.to_be_bytes()
}

/// Checks the peer's feature word: only [`FEATURES`] (0) is accepted.
pub fn check_features(word: [u8; FEATURES_SIZE]) -> Result<(), FrameError> {
    match u32::from_be_bytes(word) {
        FEATURES => Ok(()),
        other => Err(FrameError::Features(other)),
    }
}

/// An incremental request decoder: feed it the bytes as they arrive, take complete
/// requests out. It never holds more than one request's bytes
/// ([`CDB_SIZE`] + [`DATA_SIZE`]).
#[derive(Clone, Debug, Default)]
pub struct RequestDecoder {
    cdb: Vec<u8>,
    header: Option<Header>,
    data: Vec<u8>,
}

impl RequestDecoder {
    /// A decoder at the start of a request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the decoder is between requests (no byte of the next one seen yet).
    pub fn is_idle(&self) -> bool {
        self.cdb.is_empty() && self.header.is_none()
    }

    /// Whether the CDB of the current request is complete (the file descriptor must have
    /// arrived with its bytes by then).
    pub fn cdb_complete(&self) -> bool {
        self.header.is_some()
    }

    /// How many bytes the current request still needs (at least 1).
    pub fn wanted(&self) -> usize {
        match &self.header {
            None => CDB_SIZE - self.cdb.len(),
            Some(h) => (h.data_len() - self.data.len()).max(1),
        }
    }

    /// Consumes bytes from the front of `input` (only as many as the current request
    /// needs) and returns the request once it is complete. An error leaves the decoder
    /// unusable: the connection must close.
    pub fn decode(&mut self, input: &mut &[u8]) -> Result<Option<RequestFrame>, FrameError> {
        if self.header.is_none() {
            let take = (CDB_SIZE - self.cdb.len()).min(input.len());
            let (head, rest) = input.split_at(take);
            self.cdb.extend_from_slice(head);
            *input = rest;
            if self.cdb.len() < CDB_SIZE {
                return Ok(None);
            }
            let mut cdb = [0u8; CDB_SIZE];
            cdb.copy_from_slice(&self.cdb);
            self.header = Some(Header::parse(cdb)?);
        }
        let Some(header) = self.header else {
            return Ok(None);
        };
        let take = (header.data_len() - self.data.len()).min(input.len());
        let (head, rest) = input.split_at(take);
        self.data.extend_from_slice(head);
        *input = rest;
        if self.data.len() < header.data_len() {
            return Ok(None);
        }
        let data = std::mem::take(&mut self.data);
        self.cdb.clear();
        self.header = None;
        Ok(Some(RequestFrame { header, data }))
    }
}

/// Encodes a request (without its file descriptor, which goes with the first byte): the
/// CDB padded to 16 bytes, then `data`, which must be exactly the PR OUT length the CDB
/// announces (empty for PR IN).
pub fn encode_request(cdb: &[u8], data: &[u8]) -> Result<Vec<u8>, FrameError> {
    let mut c = [0u8; CDB_SIZE];
    let n = cdb.len().min(CDB_SIZE);
    c[..n].copy_from_slice(&cdb[..n]);
    let header = Header::parse(c)?;
    if data.len() != header.data_len() {
        return Err(FrameError::DataLength {
            given: data.len(),
            expected: header.data_len(),
        });
    }
    let mut out = Vec::with_capacity(CDB_SIZE + data.len());
    out.extend_from_slice(&c);
    out.extend_from_slice(data);
    Ok(out)
}

/// One reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The SCSI status (QEMU reads it as `int32_t result`).
    pub result: u32,
    /// Sense data, always [`SENSE_SIZE`] bytes (zero-padded).
    pub sense: [u8; SENSE_SIZE],
    /// Data in.
    pub data: Vec<u8>,
}

impl Reply {
    /// A reply of `status`, with `sense` (cut to [`SENSE_SIZE`]) and `data` (cut to
    /// [`DATA_SIZE`]).
    pub fn new(status: u8, sense: &[u8], data: Vec<u8>) -> Self {
        let mut s = [0u8; SENSE_SIZE];
        let n = sense.len().min(SENSE_SIZE);
        s[..n].copy_from_slice(&sense[..n]);
        let mut data = data;
        data.truncate(DATA_SIZE);
        Reply {
            result: u32::from(status),
            sense: s,
            data,
        }
    }

    /// The status byte (`result`, which QEMU reads as the SCSI status).
    pub fn status(&self) -> u8 {
        u8::try_from(self.result).unwrap_or(u8::MAX)
    }

    /// The sense key, ASC and ASCQ of fixed or descriptor sense, when there is sense.
    pub fn sense_key_asc_ascq(&self) -> Option<(u8, u8, u8)> {
        match self.sense[0] & 0x7f {
            0x70 | 0x71 => Some((self.sense[2] & 0x0f, self.sense[12], self.sense[13])),
            0x72 | 0x73 => Some((self.sense[1] & 0x0f, self.sense[2], self.sense[3])),
            _ => None,
        }
    }

    /// The bytes on the wire: header, then data.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RESPONSE_HEADER_SIZE + self.data.len());
        out.extend_from_slice(&self.result.to_be_bytes());
        let sz = u32::try_from(self.data.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&sz.to_be_bytes());
        out.extend_from_slice(&self.sense);
        out.extend_from_slice(&self.data);
        out
    }
}

/// A reply header as read by a client: the status, the data size that follows, the sense.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyHeader {
    /// `result`.
    pub result: u32,
    /// `sz`: data bytes that follow.
    pub size: usize,
    /// The sense.
    pub sense: [u8; SENSE_SIZE],
}

impl ReplyHeader {
    /// Reads a reply header; a size above [`DATA_SIZE`] is refused.
    pub fn decode(bytes: &[u8; RESPONSE_HEADER_SIZE]) -> Result<Self, FrameError> {
        let result = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let sz = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let size = usize::try_from(sz).unwrap_or(usize::MAX);
        if size > DATA_SIZE {
            return Err(FrameError::ReplyTooLong(sz));
        }
        let mut sense = [0u8; SENSE_SIZE];
        sense.copy_from_slice(&bytes[8..]);
        Ok(ReplyHeader {
            result,
            size,
            sense,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdb(op: u8, len: u16) -> [u8; 16] {
        let mut c = [0u8; 16];
        c[0] = op;
        c[7..9].copy_from_slice(&len.to_be_bytes());
        c
    }

    #[test]
    fn features_are_zero_both_ways() {
        assert_eq!(encode_features(FEATURES), [0, 0, 0, 0]);
        assert_eq!(check_features([0; 4]), Ok(()));
        assert_eq!(check_features([0, 0, 0, 1]), Err(FrameError::Features(1)));
    }

    #[test]
    fn requests_decode_byte_by_byte_and_in_one_piece() {
        let mut stream = encode_request(&cdb(0x5f, 24)[..10], &[7u8; 24]).unwrap();
        stream.extend(encode_request(&cdb(0x5e, 8192), &[]).unwrap());
        for chunk in [1, 5, 16, 17, 1000] {
            let mut d = RequestDecoder::new();
            let mut got = Vec::new();
            for piece in stream.chunks(chunk) {
                let mut input = piece;
                while !input.is_empty() {
                    if let Some(f) = d.decode(&mut input).unwrap() {
                        got.push(f);
                    }
                }
            }
            assert!(d.is_idle());
            assert_eq!(got.len(), 2, "chunk {chunk}");
            assert_eq!(got[0].data, vec![7u8; 24]);
            assert_eq!(got[0].header.direction, Direction::Out);
            assert_eq!(got[1].header.transfer_len, 8192);
            assert!(got[1].data.is_empty());
        }
    }

    #[test]
    fn what_qemu_pr_helper_refuses_is_refused() {
        let mut d = RequestDecoder::new();
        let c = cdb(0x12, 0);
        assert_eq!(
            d.decode(&mut &c[..]),
            Err(FrameError::NotPersistentReserve(0x12))
        );
        let c = cdb(0x5e, 8193);
        assert_eq!(
            RequestDecoder::new().decode(&mut &c[..]),
            Err(FrameError::TooLong(8193))
        );
        // Only bytes 7-8 count: PARAMETER LIST LENGTH 0x0100_0018 is read as 24.
        let mut c = cdb(0x5f, 24);
        c[5] = 1;
        assert_eq!(Header::parse(c).unwrap().transfer_len, 24);
        assert_eq!(
            encode_request(&cdb(0x5f, 24), &[0; 23]),
            Err(FrameError::DataLength {
                given: 23,
                expected: 24
            })
        );
    }

    #[test]
    fn a_decoder_takes_only_what_its_request_needs() {
        let mut d = RequestDecoder::new();
        let req = encode_request(&cdb(0x5e, 8), &[]).unwrap();
        let mut input = &[req.as_slice(), &[0x5e, 1, 2]].concat()[..];
        assert!(d.decode(&mut input).unwrap().is_some());
        assert_eq!(input, &[0x5e, 1, 2]);
        assert_eq!(d.wanted(), CDB_SIZE);
        assert!(d.decode(&mut input).unwrap().is_none());
        assert_eq!(d.wanted(), CDB_SIZE - 3);
        assert!(!d.is_idle());
    }

    #[test]
    fn replies_round_trip() {
        let r = Reply::new(
            0x02,
            &[0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0],
            vec![],
        );
        let b = r.encode();
        assert_eq!(b.len(), RESPONSE_HEADER_SIZE);
        let h = ReplyHeader::decode(b[..RESPONSE_HEADER_SIZE].try_into().unwrap()).unwrap();
        assert_eq!((h.result, h.size), (2, 0));
        assert_eq!(r.sense_key_asc_ascq(), Some((5, 0x24, 0)));
        let r = Reply::new(0, &[], vec![1; 9000]);
        assert_eq!(r.data.len(), DATA_SIZE);
        let mut b = r.encode();
        b[4..8].copy_from_slice(&8193u32.to_be_bytes());
        assert_eq!(
            ReplyHeader::decode(b[..RESPONSE_HEADER_SIZE].try_into().unwrap()),
            Err(FrameError::ReplyTooLong(8193))
        );
    }
}
