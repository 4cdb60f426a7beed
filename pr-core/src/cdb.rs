//! PERSISTENT RESERVE IN (5Eh) and PERSISTENT RESERVE OUT (5Fh) CDBs, 10 bytes each
//! (SPC-5 6.16, 6.17), encoded into a caller's array and decoded from raw bytes.
//!
//! ```text
//! byte   PR IN (5Eh)                      PR OUT (5Fh)
//!  0     OPERATION CODE                   OPERATION CODE
//!  1     SERVICE ACTION (4:0)             SERVICE ACTION (4:0)
//!  2     reserved                         SCOPE (7:4) | TYPE (3:0)
//!  3-4   reserved                         reserved
//!  5-6   reserved                         PARAMETER LIST LENGTH (BE32, bytes 5-8)
//!  7-8   ALLOCATION LENGTH (BE16)
//!  9     CONTROL                          CONTROL
//! ```
//!
//! ```
//! use pr_core::cdb::{PrInCdb, PrOutCdb};
//! use pr_core::types::PrInAction;
//!
//! let cdb = PrInCdb::new(PrInAction::ReadFullStatus, 8192).to_bytes();
//! assert_eq!(cdb, [0x5e, 0x03, 0, 0, 0, 0, 0, 0x20, 0x00, 0]);
//! let out = PrOutCdb { service_action: 0x01, scope: 0, type_code: 5, parameter_list_length: 24, control: 0 };
//! assert_eq!(out.to_bytes(), [0x5f, 0x01, 0x05, 0, 0, 0, 0, 0, 24, 0]);
//! assert_eq!(PrOutCdb::decode(&out.to_bytes()).unwrap(), out);
//! ```

use zerocopy::byteorder::big_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::DecodeError;
use crate::types::PrInAction;

/// Operation code of PERSISTENT RESERVE IN.
pub const PERSISTENT_RESERVE_IN: u8 = 0x5e;
/// Operation code of PERSISTENT RESERVE OUT.
pub const PERSISTENT_RESERVE_OUT: u8 = 0x5f;
/// Length of both CDBs.
pub const CDB_LEN: usize = 10;
/// The largest PR IN allocation length the 16-bit field can carry.
pub const MAX_ALLOCATION_LENGTH: u16 = u16::MAX;

/// Wire layout of the PR IN CDB.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
struct PrInLayout {
    opcode: u8,
    service_action: u8,
    reserved: [u8; 5],
    allocation_length: U16,
    control: u8,
}

/// Wire layout of the PR OUT CDB.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
struct PrOutLayout {
    opcode: u8,
    service_action: u8,
    scope_type: u8,
    reserved: [u8; 2],
    parameter_list_length: U32,
    control: u8,
}

const _: () = assert!(core::mem::size_of::<PrInLayout>() == CDB_LEN);
const _: () = assert!(core::mem::size_of::<PrOutLayout>() == CDB_LEN);

/// The fields of a PERSISTENT RESERVE IN CDB. The service action is kept raw (5 bits) so
/// that invalid codes can be sent and decoded; [`PrInCdb::action`] types it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PrInCdb {
    /// SERVICE ACTION, bits 4:0 of byte 1.
    pub service_action: u8,
    /// ALLOCATION LENGTH: the most bytes the device may return.
    pub allocation_length: u16,
    /// CONTROL byte (normally 0).
    pub control: u8,
}

impl PrInCdb {
    /// A PR IN CDB for `action` with room for `allocation_length` bytes.
    pub const fn new(action: PrInAction, allocation_length: u16) -> Self {
        PrInCdb {
            service_action: action.code(),
            allocation_length,
            control: 0,
        }
    }

    /// The typed service action, `None` for a reserved code.
    pub const fn action(&self) -> Option<PrInAction> {
        PrInAction::from_code(self.service_action)
    }

    /// Writes the CDB into `out`. Bits 7:5 of the service action byte are written as zero.
    pub fn encode(&self, out: &mut [u8; CDB_LEN]) {
        let l = PrInLayout {
            opcode: PERSISTENT_RESERVE_IN,
            service_action: self.service_action & 0x1f,
            reserved: [0; 5],
            allocation_length: U16::new(self.allocation_length),
            control: self.control,
        };
        *out = zerocopy::transmute!(l);
    }

    /// The CDB as an array.
    pub fn to_bytes(&self) -> [u8; CDB_LEN] {
        let mut b = [0; CDB_LEN];
        self.encode(&mut b);
        b
    }

    /// Decodes a PR IN CDB. Fails when `bytes` is shorter than 10 bytes or is not a
    /// PERSISTENT RESERVE IN CDB. Reserved bits are ignored.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (l, _) = PrInLayout::read_from_prefix(bytes).map_err(|_| DecodeError::Short {
            what: "PERSISTENT RESERVE IN CDB",
            len: bytes.len(),
            needed: CDB_LEN,
        })?;
        if l.opcode != PERSISTENT_RESERVE_IN {
            return Err(DecodeError::BadField {
                what: "PERSISTENT RESERVE IN CDB operation code",
                value: u32::from(l.opcode),
            });
        }
        Ok(PrInCdb {
            service_action: l.service_action & 0x1f,
            allocation_length: l.allocation_length.get(),
            control: l.control,
        })
    }
}

/// The fields of a PERSISTENT RESERVE OUT CDB, raw. Build valid ones with
/// [`crate::prout::PrOut`]; this type also carries invalid combinations, for tests of a
/// device server's error handling and for decoding what an initiator sent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PrOutCdb {
    /// SERVICE ACTION, bits 4:0 of byte 1.
    pub service_action: u8,
    /// SCOPE, bits 7:4 of byte 2.
    pub scope: u8,
    /// TYPE, bits 3:0 of byte 2.
    pub type_code: u8,
    /// PARAMETER LIST LENGTH.
    pub parameter_list_length: u32,
    /// CONTROL byte (normally 0).
    pub control: u8,
}

impl PrOutCdb {
    /// Writes the CDB into `out`. Only the low 5 bits of the service action and the low 4
    /// bits of scope and type are used.
    pub fn encode(&self, out: &mut [u8; CDB_LEN]) {
        let l = PrOutLayout {
            opcode: PERSISTENT_RESERVE_OUT,
            service_action: self.service_action & 0x1f,
            scope_type: ((self.scope & 0x0f) << 4) | (self.type_code & 0x0f),
            reserved: [0; 2],
            parameter_list_length: U32::new(self.parameter_list_length),
            control: self.control,
        };
        *out = zerocopy::transmute!(l);
    }

    /// The CDB as an array.
    pub fn to_bytes(&self) -> [u8; CDB_LEN] {
        let mut b = [0; CDB_LEN];
        self.encode(&mut b);
        b
    }

    /// Decodes a PR OUT CDB. Fails when `bytes` is shorter than 10 bytes or is not a
    /// PERSISTENT RESERVE OUT CDB. Reserved bits are ignored.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (l, _) = PrOutLayout::read_from_prefix(bytes).map_err(|_| DecodeError::Short {
            what: "PERSISTENT RESERVE OUT CDB",
            len: bytes.len(),
            needed: CDB_LEN,
        })?;
        if l.opcode != PERSISTENT_RESERVE_OUT {
            return Err(DecodeError::BadField {
                what: "PERSISTENT RESERVE OUT CDB operation code",
                value: u32::from(l.opcode),
            });
        }
        Ok(PrOutCdb {
            service_action: l.service_action & 0x1f,
            scope: l.scope_type >> 4,
            type_code: l.scope_type & 0x0f,
            parameter_list_length: l.parameter_list_length.get(),
            control: l.control,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prin_layout_matches_spc() {
        let b = PrInCdb::new(PrInAction::ReadKeys, 0x1234).to_bytes();
        assert_eq!(b, [0x5e, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0]);
        let b = PrInCdb::new(PrInAction::ReportCapabilities, 8).to_bytes();
        assert_eq!(b, [0x5e, 2, 0, 0, 0, 0, 0, 0, 8, 0]);
    }

    #[test]
    fn prout_layout_matches_spc() {
        let c = PrOutCdb {
            service_action: 0x07,
            scope: 0,
            type_code: 1,
            parameter_list_length: 0x0102_0304,
            control: 0,
        };
        assert_eq!(c.to_bytes(), [0x5f, 7, 0x01, 0, 0, 1, 2, 3, 4, 0]);
    }

    #[test]
    fn decode_rejects_wrong_opcode_and_short() {
        assert!(PrInCdb::decode(&[0x5f; 10]).is_err());
        assert!(PrOutCdb::decode(&[0x5e; 10]).is_err());
        assert!(PrInCdb::decode(&[0x5e; 9]).is_err());
        assert!(PrOutCdb::decode(&[]).is_err());
    }

    proptest! {
        #[test]
        fn prin_roundtrip(sa in 0u8..32, len: u16, control: u8) {
            let c = PrInCdb { service_action: sa, allocation_length: len, control };
            prop_assert_eq!(PrInCdb::decode(&c.to_bytes()).unwrap(), c);
        }

        #[test]
        fn prout_roundtrip(sa in 0u8..32, scope in 0u8..16, ty in 0u8..16, len: u32, control: u8) {
            let c = PrOutCdb { service_action: sa, scope, type_code: ty, parameter_list_length: len, control };
            prop_assert_eq!(PrOutCdb::decode(&c.to_bytes()).unwrap(), c);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..20)) {
            let _ = PrInCdb::decode(&bytes);
            let _ = PrOutCdb::decode(&bytes);
        }
    }
}
