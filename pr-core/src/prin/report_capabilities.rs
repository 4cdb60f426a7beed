//! REPORT CAPABILITIES (SPC-5 6.16.4): an 8-byte response describing what the device server
//! supports.
//!
//! ```text
//! 0-1  LENGTH (8)
//! 2    RLR_C(7) CRH(4) SIP_C(3) ATP_C(2) PTPL_C(0)
//! 3    TMV(7) ALLOW COMMANDS(6:4) PTPL_A(0)
//! 4-5  PERSISTENT RESERVATION TYPE MASK: WR_EX_AR(15) EX_AC_RO(14) WR_EX_RO(13) EX_AC(11)
//!      WR_EX(9) EX_AC_AR(0)
//! 6-7  reserved
//! ```

use zerocopy::byteorder::big_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::DecodeError;
use crate::types::ReservationType;

/// Length of the response.
pub const CAPABILITIES_LEN: usize = 8;

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
struct Layout {
    length: U16,
    flags: U16,
    type_mask: U16,
    reserved: [u8; 2],
}

bitflags::bitflags! {
    /// The capability bits of bytes 2-3, as one big-endian 16-bit value (ALLOW COMMANDS,
    /// bits 6:4 of byte 3, is kept apart in [`AllowCommands`]).
    ///
    /// With the `serde` feature: an array of lower-case names, e.g. `["sip_c", "atp_c"]`.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
    pub struct CapabilityFlags: u16 {
        /// Replace Lost Reservation Capable.
        const RLR_C = 0x8000;
        /// Compatible Reservation Handling (RESERVE(6)/RELEASE(6) interplay).
        const CRH = 0x1000;
        /// Specify Initiator Ports Capable (SPEC_I_PT).
        const SIP_C = 0x0800;
        /// All Target Ports Capable (ALL_TG_PT).
        const ATP_C = 0x0400;
        /// Persist Through Power Loss Capable (APTPL).
        const PTPL_C = 0x0100;
        /// Type Mask Valid.
        const TMV = 0x0080;
        /// Persist Through Power Loss Activated.
        const PTPL_A = 0x0001;
    }
}

bitflags::bitflags! {
    /// The PERSISTENT RESERVATION TYPE MASK (bytes 4-5, big-endian).
    ///
    /// With the `serde` feature: an array of the [`ReservationType`]s it holds, in code
    /// order, e.g. `["write_exclusive", "exclusive_access"]`.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
    pub struct TypeMask: u16 {
        /// Write Exclusive, All Registrants (7h).
        const WR_EX_AR = 0x8000;
        /// Exclusive Access, Registrants Only (6h).
        const EX_AC_RO = 0x4000;
        /// Write Exclusive, Registrants Only (5h).
        const WR_EX_RO = 0x2000;
        /// Exclusive Access (3h).
        const EX_AC = 0x0800;
        /// Write Exclusive (1h).
        const WR_EX = 0x0200;
        /// Exclusive Access, All Registrants (8h).
        const EX_AC_AR = 0x0001;
    }
}

impl TypeMask {
    /// The mask bit of one reservation type.
    pub const fn of(t: ReservationType) -> TypeMask {
        match t {
            ReservationType::WriteExclusive => TypeMask::WR_EX,
            ReservationType::ExclusiveAccess => TypeMask::EX_AC,
            ReservationType::WriteExclusiveRegistrantsOnly => TypeMask::WR_EX_RO,
            ReservationType::ExclusiveAccessRegistrantsOnly => TypeMask::EX_AC_RO,
            ReservationType::WriteExclusiveAllRegistrants => TypeMask::WR_EX_AR,
            ReservationType::ExclusiveAccessAllRegistrants => TypeMask::EX_AC_AR,
        }
    }

    /// Whether the mask has the bit of `t`.
    pub fn supports(self, t: ReservationType) -> bool {
        self.contains(TypeMask::of(t))
    }
}

/// The ALLOW COMMANDS field (3 bits): which commands pass through reservations of the Write
/// Exclusive and Exclusive Access families.
///
/// With the `serde` feature: the code, a number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct AllowCommands(pub u8);

impl AllowCommands {
    /// A short description of the code (SPC-5 table "ALLOW COMMANDS field").
    pub fn description(self) -> &'static str {
        match self.0 {
            0 => "no information about allowed commands",
            1 => "TEST UNIT READY allowed through Write Exclusive and Exclusive Access",
            2 => {
                "TEST UNIT READY allowed; PERSISTENT RESERVE IN and listed non-media commands not allowed through Write Exclusive"
            }
            3 => {
                "TEST UNIT READY allowed; PERSISTENT RESERVE IN and listed non-media commands allowed through Write Exclusive"
            }
            4 => "as 3, and the listed commands allowed through Exclusive Access",
            5 => "as 4, and READ-type commands from registered I_T nexuses under Write Exclusive",
            _ => "reserved",
        }
    }
}

/// A decoded REPORT CAPABILITIES response (8 bytes, copied: it is smaller than a pointer
/// pair).
///
/// With the `serde` feature: `{"length", "flags", "allow_commands", "type_mask",
/// "reserved_flag_bits", "reserved_type_bits"}`, each member as its type serializes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Capabilities {
    /// The LENGTH field (8 from every conforming device).
    pub length: u16,
    /// The capability bits.
    pub flags: CapabilityFlags,
    /// ALLOW COMMANDS.
    pub allow_commands: AllowCommands,
    /// The type mask (meaningful when [`CapabilityFlags::TMV`] is set).
    pub type_mask: TypeMask,
    /// Bits of bytes 2-3 that SPC-5 leaves reserved, as sent (normally 0).
    pub reserved_flag_bits: u16,
    /// Bits of the type mask that SPC-5 leaves reserved, as sent (normally 0).
    pub reserved_type_bits: u16,
}

impl Capabilities {
    /// Decodes a REPORT CAPABILITIES response; 8 bytes are required.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (l, _) = Layout::read_from_prefix(bytes).map_err(|_| DecodeError::Short {
            what: "REPORT CAPABILITIES response",
            len: bytes.len(),
            needed: CAPABILITIES_LEN,
        })?;
        let raw = l.flags.get();
        let tm = l.type_mask.get();
        Ok(Capabilities {
            length: l.length.get(),
            flags: CapabilityFlags::from_bits_truncate(raw),
            allow_commands: AllowCommands(u8::try_from((raw >> 4) & 0x7).unwrap_or(0)),
            type_mask: TypeMask::from_bits_truncate(tm),
            reserved_flag_bits: raw & !(CapabilityFlags::all().bits() | 0x0070),
            reserved_type_bits: tm & !TypeMask::all().bits(),
        })
    }

    /// The 8 wire bytes.
    pub fn to_bytes(&self) -> [u8; CAPABILITIES_LEN] {
        let allow = u16::from(self.allow_commands.0 & 0x7) << 4;
        let l = Layout {
            length: U16::new(self.length),
            flags: U16::new(self.flags.bits() | allow | self.reserved_flag_bits),
            type_mask: U16::new(self.type_mask.bits() | self.reserved_type_bits),
            reserved: [0; 2],
        };
        zerocopy::transmute!(l)
    }

    /// Writes the response into `out` (sized to the allocation length), returning the bytes
    /// written.
    pub fn encode(&self, out: &mut [u8]) -> usize {
        let b = self.to_bytes();
        let n = b.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), b.get(..n)) {
            dst.copy_from_slice(src);
        }
        n
    }

    /// Replace Lost Reservation Capable.
    pub fn rlr_c(&self) -> bool {
        self.flags.contains(CapabilityFlags::RLR_C)
    }
    /// Compatible Reservation Handling.
    pub fn crh(&self) -> bool {
        self.flags.contains(CapabilityFlags::CRH)
    }
    /// Specify Initiator Ports Capable.
    pub fn sip_c(&self) -> bool {
        self.flags.contains(CapabilityFlags::SIP_C)
    }
    /// All Target Ports Capable.
    pub fn atp_c(&self) -> bool {
        self.flags.contains(CapabilityFlags::ATP_C)
    }
    /// Persist Through Power Loss Capable.
    pub fn ptpl_c(&self) -> bool {
        self.flags.contains(CapabilityFlags::PTPL_C)
    }
    /// Type Mask Valid.
    pub fn tmv(&self) -> bool {
        self.flags.contains(CapabilityFlags::TMV)
    }
    /// Persist Through Power Loss Activated.
    pub fn ptpl_a(&self) -> bool {
        self.flags.contains(CapabilityFlags::PTPL_A)
    }
    /// Whether the device says it supports reservation type `t` (`None` when the type mask
    /// is not valid).
    pub fn supports(&self, t: ReservationType) -> Option<bool> {
        self.tmv().then(|| self.type_mask.supports(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lio_constant() {
        // LIO: 00 08 1d 91 ea 01 00 00 (CRH SIP_C ATP_C PTPL_C, TMV, ALLOW 001b, PTPL_A).
        let c = Capabilities::decode(&[0x00, 0x08, 0x1d, 0x91, 0xea, 0x01, 0, 0]).unwrap();
        assert!(c.crh() && c.sip_c() && c.atp_c() && c.ptpl_c() && c.tmv() && c.ptpl_a());
        assert!(!c.rlr_c());
        assert_eq!(c.allow_commands, AllowCommands(1));
        for t in ReservationType::ALL {
            assert_eq!(c.supports(t), Some(true));
        }
        assert_eq!((c.reserved_flag_bits, c.reserved_type_bits), (0, 0));
        assert_eq!(c.to_bytes(), [0x00, 0x08, 0x1d, 0x91, 0xea, 0x01, 0, 0]);
    }

    #[test]
    fn short_is_error() {
        assert!(Capabilities::decode(&[0, 8, 0x1d]).is_err());
    }

    proptest! {
        #[test]
        fn bytes_roundtrip(b in proptest::array::uniform6(any::<u8>())) {
            let bytes = [b[0], b[1], b[2], b[3], b[4], b[5], 0, 0];
            let c = Capabilities::decode(&bytes).unwrap();
            prop_assert_eq!(c.to_bytes(), bytes);
        }
    }
}
