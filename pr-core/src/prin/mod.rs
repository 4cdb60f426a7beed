//! Borrowed, zero-copy views of the four PERSISTENT RESERVE IN responses, and encoders that
//! write them (for device servers such as `pr-sim`).
//!
//! Every view borrows the response bytes; keys and descriptors are read in place by
//! iterators. Every view clamps what it reads to both the ADDITIONAL LENGTH the device
//! reported and the bytes actually returned, and reports truncation: when the device had
//! more to say than the allocation length allowed, [`ReadKeys::needed_alloc_len`] (and its
//! siblings) give the allocation length to re-issue the command with (SPC allows up to
//! 65535). [`alloc`] holds the project's one rule for the allocation length to send first
//! and to grow to.
//!
//! ```
//! use pr_core::prin::ReadKeys;
//! use pr_core::types::ReservationKey;
//!
//! // PRgeneration 5, ADDITIONAL LENGTH 24 (three keys), but only two keys fit in 24 bytes.
//! let bytes = [0, 0, 0, 5, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0x11, 0x11,
//!              0, 0, 0, 0, 0, 0, 0x22, 0x22];
//! let rk = ReadKeys::decode(&bytes).unwrap();
//! assert_eq!(rk.generation(), 5);
//! assert_eq!(rk.keys().collect::<Vec<_>>(), [ReservationKey(0x1111), ReservationKey(0x2222)]);
//! assert!(rk.is_truncated());
//! assert_eq!(rk.needed_alloc_len(), Some(32));
//! ```

pub mod alloc;
mod read_full_status;
mod read_keys;
mod read_reservation;
mod report_capabilities;

pub use read_full_status::{
    DESCRIPTOR_HEADER_LEN, FullStatus, FullStatusDescriptor, FullStatusEntry, FullStatusIter,
    MAX_DESCRIPTOR_LEN, Truncation,
};
pub use read_keys::{Keys, ReadKeys};
pub use read_reservation::{FULL_LEN as READ_RESERVATION_LEN, ReadReservation, Reservation};
pub use report_capabilities::{
    AllowCommands, CAPABILITIES_LEN, Capabilities, CapabilityFlags, TypeMask,
};

use zerocopy::byteorder::big_endian::U32;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::DecodeError;
use crate::types::PrInAction;

/// Length of the PRGENERATION + ADDITIONAL LENGTH header of READ KEYS, READ RESERVATION and
/// READ FULL STATUS.
pub const HEADER_LEN: usize = 8;

/// The header shared by READ KEYS, READ RESERVATION and READ FULL STATUS.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct Header {
    pub(crate) generation: U32,
    pub(crate) additional_length: U32,
}

pub(crate) fn header<'a>(
    what: &'static str,
    bytes: &'a [u8],
) -> Result<(&'a Header, &'a [u8]), DecodeError> {
    Header::ref_from_prefix(bytes).map_err(|_| DecodeError::Short {
        what,
        len: bytes.len(),
        needed: HEADER_LEN,
    })
}

/// The allocation length to re-issue a PR IN with when `8 + additional_length` bytes were
/// available but only `returned` came back: `None` when nothing was cut.
pub(crate) fn needed(additional_length: u32, returned: usize) -> Option<u32> {
    let total = additional_length.saturating_add(8);
    (usize::try_from(total).unwrap_or(usize::MAX) > returned).then_some(total)
}

/// Any decoded PR IN response.
#[derive(Clone, Copy, Debug)]
pub enum Response<'a> {
    /// READ KEYS.
    ReadKeys(ReadKeys<'a>),
    /// READ RESERVATION.
    ReadReservation(ReadReservation<'a>),
    /// REPORT CAPABILITIES.
    ReportCapabilities(Capabilities),
    /// READ FULL STATUS.
    ReadFullStatus(FullStatus<'a>),
}

impl<'a> Response<'a> {
    /// Decodes the response of `action`.
    pub fn decode(action: PrInAction, bytes: &'a [u8]) -> Result<Self, DecodeError> {
        Ok(match action {
            PrInAction::ReadKeys => Response::ReadKeys(ReadKeys::decode(bytes)?),
            PrInAction::ReadReservation => {
                Response::ReadReservation(ReadReservation::decode(bytes)?)
            }
            PrInAction::ReportCapabilities => {
                Response::ReportCapabilities(Capabilities::decode(bytes)?)
            }
            PrInAction::ReadFullStatus => Response::ReadFullStatus(FullStatus::decode(bytes)?),
        })
    }

    /// The allocation length to re-issue the command with, when the response was cut short
    /// by the allocation length.
    pub fn needed_alloc_len(&self) -> Option<u32> {
        match self {
            Response::ReadKeys(r) => r.needed_alloc_len(),
            Response::ReadReservation(r) => r.needed_alloc_len(),
            Response::ReportCapabilities(_) => None,
            Response::ReadFullStatus(r) => r.needed_alloc_len(),
        }
    }
}
