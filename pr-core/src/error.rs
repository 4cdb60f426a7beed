//! Errors of pr-core: requests that cannot be built, bytes that cannot be decoded, text that
//! cannot be parsed, and commands that completed unsuccessfully.

use crate::types::{PrInAction, PrOutAction};

/// Why a PR OUT request (CDB or parameter list) cannot be built. Each variant names what was
/// wrong, so that a caller can show it as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The action needs a reservation type (RESERVE, RELEASE, PREEMPT, PREEMPT AND ABORT,
    /// REGISTER AND MOVE, REPLACE LOST RESERVATION) and none was given.
    #[error("{action} needs a reservation type")]
    TypeRequired {
        /// The action.
        action: PrOutAction,
    },
    /// A type was given to an action whose TYPE field SPC ignores (REGISTER, REGISTER AND
    /// IGNORE EXISTING KEY, CLEAR).
    #[error("{action} takes no reservation type (got type code {code:#x})")]
    TypeNotAllowed {
        /// The action.
        action: PrOutAction,
        /// The type code that was given.
        code: u8,
    },
    /// A flag was given to an action that does not take it.
    #[error("{action} does not take the {flag} flag")]
    FlagNotAllowed {
        /// The action.
        action: PrOutAction,
        /// The flag's name (`SPEC_I_PT`, `ALL_TG_PT`, `APTPL`, `UNREG`).
        flag: &'static str,
    },
    /// SPEC_I_PT was set but no TransportID was given.
    #[error("SPEC_I_PT needs at least one TransportID")]
    SpecIPtWithoutTransportIds,
    /// TransportIDs were given to an action that takes none (only REGISTER with SPEC_I_PT,
    /// REGISTER AND IGNORE EXISTING KEY with SPEC_I_PT, and REGISTER AND MOVE take them).
    #[error("{action} takes no TransportIDs without SPEC_I_PT (got {count})")]
    TransportIdsNotAllowed {
        /// The action.
        action: PrOutAction,
        /// How many were given.
        count: usize,
    },
    /// REGISTER AND MOVE needs exactly one TransportID.
    #[error("REGISTER AND MOVE needs exactly one TransportID (got {count})")]
    MoveNeedsOneTransportId {
        /// How many were given.
        count: usize,
    },
    /// REGISTER AND MOVE cannot move an all-registrants reservation (types 7h, 8h).
    #[error("REGISTER AND MOVE cannot move an all-registrants reservation (type {code:#x})")]
    MoveAllRegistrants {
        /// The type code.
        code: u8,
    },
    /// A TransportID could not be encoded.
    #[error("TransportID {index}: {reason}")]
    BadTransportId {
        /// Its position in the list.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The parameter list would exceed what the 32-bit PARAMETER LIST LENGTH (or a
    /// TransportID length field) can describe.
    #[error("parameter list too long: {len} bytes")]
    ParameterListTooLong {
        /// The length that was needed.
        len: usize,
    },
    /// The caller's buffer is shorter than the encoding.
    #[error("buffer too small: need {needed} bytes, have {available}")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// A PR IN allocation length below the 8-byte header (SPC allows it; no target returns
    /// anything useful, LIO rejects it).
    #[error("allocation length {len} is below the 8-byte response header")]
    AllocationLengthTooSmall {
        /// The length asked for.
        len: u16,
    },
}

/// Why response bytes cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than the fixed part of the format.
    #[error("{what}: {len} bytes, need at least {needed}")]
    Short {
        /// The structure being decoded.
        what: &'static str,
        /// Bytes available.
        len: usize,
        /// Bytes the fixed part needs.
        needed: usize,
    },
    /// A length field is impossible (not a multiple of the element size, too small, ...).
    #[error("{what}: invalid length field {value}")]
    BadLength {
        /// The structure and field.
        what: &'static str,
        /// Its value.
        value: u32,
    },
    /// A field holds a value the format does not allow.
    #[error("{what}: invalid value {value:#x}")]
    BadField {
        /// The field.
        what: &'static str,
        /// Its value.
        value: u32,
    },
    /// The response is not for the service action the caller asked to decode.
    #[error("response does not belong to {action}")]
    WrongAction {
        /// The action the caller expected.
        action: PrInAction,
    },
    /// Text in a binary field is not valid UTF-8 (for example an iSCSI name).
    #[error("{what}: not valid UTF-8")]
    NotUtf8 {
        /// The field.
        what: &'static str,
    },
}

/// Any pr-core error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Bytes could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A TransportID's text form could not be parsed or its bytes encoded.
    #[error(transparent)]
    TransportId(#[from] crate::transport_id::TransportIdError),
    /// A command completed with an error status, sense data or a transport failure.
    #[error(transparent)]
    Command(#[from] crate::outcome::CommandError),
    /// An NVMe reservation command could not be built.
    #[error(transparent)]
    Nvme(#[from] crate::nvme::NvmeBuildError),
    /// A reservation key in text form could not be parsed.
    #[error(
        "invalid reservation key ({text_len} characters): expected 0x-prefixed hex, hex with an h suffix, or decimal, at most 64 bits"
    )]
    InvalidKey {
        /// Length of the rejected text.
        text_len: usize,
    },
    /// A reservation type code is obsolete or reserved.
    #[error("invalid reservation type code {0:#x}: valid types are 1h, 3h, 5h, 6h, 7h, 8h")]
    InvalidReservationType(u8),
}
