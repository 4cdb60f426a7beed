//! What the device server answers: a SCSI status, sense data and data-in bytes, and the
//! fixed-format sense data it builds (pr-core decodes sense data but has no encoder).

use pr_core::outcome::SenseBuf;
use pr_core::sense::{ScsiStatus, SenseKey};

/// Length of the fixed-format sense data the simulator returns (response code 70h,
/// ADDITIONAL SENSE LENGTH 0Ah), as LIO does.
pub const SENSE_LEN: usize = 18;

/// A field an ILLEGAL REQUEST points at (the SKSV field pointer of SPC-5 4.4.2.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldRef {
    /// `true`: the field is in the CDB (C/D = 1); `false`: in the parameter list.
    pub in_cdb: bool,
    /// Byte offset of the field.
    pub byte: u16,
    /// Bit (0-7) of the field's most significant bit, when it does not start at bit 7.
    pub bit: Option<u8>,
}

impl FieldRef {
    /// A CDB field at `byte` (and `bit`).
    pub const fn cdb(byte: u16, bit: Option<u8>) -> Self {
        FieldRef {
            in_cdb: true,
            byte,
            bit,
        }
    }

    /// A parameter-list field at `byte` (and `bit`).
    pub const fn param(byte: u16, bit: Option<u8>) -> Self {
        FieldRef {
            in_cdb: false,
            byte,
            bit,
        }
    }
}

/// A sense condition: key, ASC, ASCQ, and an optional field pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Condition {
    /// The sense key.
    pub key: SenseKey,
    /// ADDITIONAL SENSE CODE.
    pub asc: u8,
    /// ADDITIONAL SENSE CODE QUALIFIER.
    pub ascq: u8,
    /// The field pointer (ILLEGAL REQUEST only), sent with SKSV set.
    pub field: Option<FieldRef>,
}

impl Condition {
    /// A condition without a field pointer.
    pub const fn new(key: SenseKey, asc: u8, ascq: u8) -> Self {
        Condition {
            key,
            asc,
            ascq,
            field: None,
        }
    }

    /// ILLEGAL REQUEST with `asc`/`ascq` pointing at `field`.
    pub const fn illegal(asc: u8, ascq: u8, field: Option<FieldRef>) -> Self {
        Condition {
            key: SenseKey::IllegalRequest,
            asc,
            ascq,
            field,
        }
    }

    /// UNIT ATTENTION `asc`/`ascq`.
    pub const fn unit_attention(asc: u8, ascq: u8) -> Self {
        Condition::new(SenseKey::UnitAttention, asc, ascq)
    }

    /// The 18 bytes of fixed-format, current sense data (70h).
    pub fn to_fixed(&self) -> [u8; SENSE_LEN] {
        let field = self.field.map(|f| pr_core::sense::FieldPointer {
            c_d: if f.in_cdb {
                pr_core::sense::FieldLocation::Cdb
            } else {
                pr_core::sense::FieldLocation::ParameterList
            },
            bit_pointer: f.bit,
            field_pointer: f.byte,
        });
        pr_core::sense::encode_fixed(self.key, self.asc, self.ascq, field)
    }
}

/// The device server's answer to one command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The SAM status.
    pub status: ScsiStatus,
    /// Sense data (CHECK CONDITION only).
    pub sense: SenseBuf,
    /// The data-in bytes transferred (already cut to the allocation length).
    pub data: Vec<u8>,
}

impl Reply {
    /// GOOD with `data`.
    pub fn good(data: Vec<u8>) -> Self {
        Reply {
            status: ScsiStatus::GOOD,
            sense: SenseBuf::EMPTY,
            data,
        }
    }

    /// A status without sense or data (RESERVATION CONFLICT, BUSY, TASK SET FULL).
    pub fn status(status: ScsiStatus) -> Self {
        Reply {
            status,
            sense: SenseBuf::EMPTY,
            data: Vec::new(),
        }
    }

    /// CHECK CONDITION with `cond` as fixed-format sense data.
    pub fn check(cond: &Condition) -> Self {
        Reply {
            status: ScsiStatus::CHECK_CONDITION,
            sense: SenseBuf::new(&cond.to_fixed()),
            data: Vec::new(),
        }
    }

    /// The sense key, ASC and ASCQ, when the reply carries sense data.
    pub fn sense_code(&self) -> Option<(u8, u8, u8)> {
        let s = self.sense.as_bytes();
        match (s.get(2), s.get(12), s.get(13)) {
            (Some(k), Some(a), Some(q)) => Some((k & 0x0f, *a, *q)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pr_core::sense::{FieldLocation, Sense, SenseKeySpecific};

    #[test]
    fn fixed_sense_decodes_with_pr_core() {
        let c = Condition::illegal(0x24, 0, Some(FieldRef::cdb(2, Some(3))));
        let b = c.to_fixed();
        let s = Sense::parse(&b).unwrap();
        assert_eq!(s.key(), SenseKey::IllegalRequest);
        assert_eq!(s.asc_ascq(), Some((0x24, 0)));
        match s.sense_key_specific() {
            Some(SenseKeySpecific::FieldPointer(fp)) => {
                assert_eq!(fp.c_d, FieldLocation::Cdb);
                assert_eq!(fp.field_pointer, 2);
                assert_eq!(fp.bit_pointer, Some(3));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lio_style_sense_bytes() {
        let b = Condition::unit_attention(0x2a, 0x05).to_fixed();
        assert_eq!(
            b,
            [
                0x70, 0, 6, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x2a, 5, 0, 0, 0, 0
            ]
        );
    }
}
