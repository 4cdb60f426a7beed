//! The vocabulary of persistent reservations: keys, reservation types, scopes, service actions
//! and PR OUT flags (SPC-5 6.16, 6.17).

use core::fmt;
use core::str::FromStr;

use crate::error::Error;

/// An 8-byte reservation key. Displayed as `sg_persist` and `mpathpersist` print keys:
/// unpadded lower-case hex with a `0x` prefix.
///
/// With the `serde` feature it serializes as that same string, `"0x1234"`, not as a number:
/// a 64-bit key does not survive a JSON number in JavaScript. It deserializes from any form
/// [`FromStr`] reads (`"0x1234"`, `"1234h"`, `"4660"`) and from an integer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ReservationKey(pub u64);

impl ReservationKey {
    /// The zero key: "no key" in a RESERVATION KEY field, "unregister" as a SERVICE ACTION
    /// RESERVATION KEY of REGISTER.
    pub const ZERO: ReservationKey = ReservationKey(0);

    /// The key as the 8 big-endian bytes that go on the wire.
    pub const fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// A key from its 8 big-endian wire bytes.
    pub const fn from_be_bytes(b: [u8; 8]) -> Self {
        ReservationKey(u64::from_be_bytes(b))
    }

    /// Whether this is the zero key.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl From<u64> for ReservationKey {
    fn from(v: u64) -> Self {
        ReservationKey(v)
    }
}

impl From<ReservationKey> for u64 {
    fn from(k: ReservationKey) -> Self {
        k.0
    }
}

impl fmt::Display for ReservationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Debug for ReservationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReservationKey({:#x})", self.0)
    }
}

impl FromStr for ReservationKey {
    type Err = Error;

    /// Parses a key the way `sg_persist` reads `--param-rk`: `0x`/`0X`-prefixed hex, hex with
    /// an `h`/`H` suffix, or decimal. At most 64 bits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let parsed = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            u64::from_str_radix(h, 16)
        } else if let Some(h) = t.strip_suffix('h').or_else(|| t.strip_suffix('H')) {
            u64::from_str_radix(h, 16)
        } else {
            t.parse::<u64>()
        };
        parsed
            .map(ReservationKey)
            .map_err(|_| Error::InvalidKey { text_len: s.len() })
    }
}

/// A persistent reservation type (SPC-5 table 6.16, the TYPE field). The obsolete codes 0h,
/// 2h and 4h and the reserved codes 9h-Fh are not representable; raw bytes that carry them
/// are exposed as `u8` by the decoders.
///
/// With the `serde` feature: its snake_case name, e.g. `"write_exclusive_registrants_only"`
/// (serialized and deserialized).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[repr(u8)]
pub enum ReservationType {
    /// 1h: Write Exclusive. Only the holder may write; anyone may read.
    WriteExclusive = 0x1,
    /// 3h: Exclusive Access. Only the holder may read or write.
    ExclusiveAccess = 0x3,
    /// 5h: Write Exclusive, Registrants Only. Registrants may write.
    WriteExclusiveRegistrantsOnly = 0x5,
    /// 6h: Exclusive Access, Registrants Only. Registrants may read and write.
    ExclusiveAccessRegistrantsOnly = 0x6,
    /// 7h: Write Exclusive, All Registrants. Every registrant is a holder.
    WriteExclusiveAllRegistrants = 0x7,
    /// 8h: Exclusive Access, All Registrants. Every registrant is a holder.
    ExclusiveAccessAllRegistrants = 0x8,
}

impl ReservationType {
    /// All six types, in code order.
    pub const ALL: [ReservationType; 6] = [
        ReservationType::WriteExclusive,
        ReservationType::ExclusiveAccess,
        ReservationType::WriteExclusiveRegistrantsOnly,
        ReservationType::ExclusiveAccessRegistrantsOnly,
        ReservationType::WriteExclusiveAllRegistrants,
        ReservationType::ExclusiveAccessAllRegistrants,
    ];

    /// The 4-bit TYPE code.
    pub const fn code(self) -> u8 {
        match self {
            ReservationType::WriteExclusive => 0x1,
            ReservationType::ExclusiveAccess => 0x3,
            ReservationType::WriteExclusiveRegistrantsOnly => 0x5,
            ReservationType::ExclusiveAccessRegistrantsOnly => 0x6,
            ReservationType::WriteExclusiveAllRegistrants => 0x7,
            ReservationType::ExclusiveAccessAllRegistrants => 0x8,
        }
    }

    /// The type for a TYPE code, or `None` for obsolete and reserved codes.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0x1 => Some(ReservationType::WriteExclusive),
            0x3 => Some(ReservationType::ExclusiveAccess),
            0x5 => Some(ReservationType::WriteExclusiveRegistrantsOnly),
            0x6 => Some(ReservationType::ExclusiveAccessRegistrantsOnly),
            0x7 => Some(ReservationType::WriteExclusiveAllRegistrants),
            0x8 => Some(ReservationType::ExclusiveAccessAllRegistrants),
            _ => None,
        }
    }

    /// Whether every registrant is a reservation holder (7h, 8h). READ RESERVATION then
    /// reports key 0, and the reservation ends only when the last registrant goes.
    pub const fn is_all_registrants(self) -> bool {
        matches!(
            self,
            ReservationType::WriteExclusiveAllRegistrants
                | ReservationType::ExclusiveAccessAllRegistrants
        )
    }

    /// Whether registrants that are not the holder get full access (5h-8h).
    pub const fn admits_registrants(self) -> bool {
        matches!(
            self,
            ReservationType::WriteExclusiveRegistrantsOnly
                | ReservationType::ExclusiveAccessRegistrantsOnly
                | ReservationType::WriteExclusiveAllRegistrants
                | ReservationType::ExclusiveAccessAllRegistrants
        )
    }

    /// Whether non-permitted nexuses are denied reads too (the Exclusive Access family).
    pub const fn is_exclusive_access(self) -> bool {
        matches!(
            self,
            ReservationType::ExclusiveAccess
                | ReservationType::ExclusiveAccessRegistrantsOnly
                | ReservationType::ExclusiveAccessAllRegistrants
        )
    }

    /// The name `sg_persist` and `mpathpersist` print, e.g. "Write Exclusive, registrants only".
    pub const fn name(self) -> &'static str {
        match self {
            ReservationType::WriteExclusive => "Write Exclusive",
            ReservationType::ExclusiveAccess => "Exclusive Access",
            ReservationType::WriteExclusiveRegistrantsOnly => "Write Exclusive, registrants only",
            ReservationType::ExclusiveAccessRegistrantsOnly => "Exclusive Access, registrants only",
            ReservationType::WriteExclusiveAllRegistrants => "Write Exclusive, all registrants",
            ReservationType::ExclusiveAccessAllRegistrants => "Exclusive Access, all registrants",
        }
    }

    /// The short name used in SPC's REPORT CAPABILITIES type mask: `WR_EX`, `EX_AC`,
    /// `WR_EX_RO`, `EX_AC_RO`, `WR_EX_AR`, `EX_AC_AR`.
    pub const fn short_name(self) -> &'static str {
        match self {
            ReservationType::WriteExclusive => "WR_EX",
            ReservationType::ExclusiveAccess => "EX_AC",
            ReservationType::WriteExclusiveRegistrantsOnly => "WR_EX_RO",
            ReservationType::ExclusiveAccessRegistrantsOnly => "EX_AC_RO",
            ReservationType::WriteExclusiveAllRegistrants => "WR_EX_AR",
            ReservationType::ExclusiveAccessAllRegistrants => "EX_AC_AR",
        }
    }
}

impl TryFrom<u8> for ReservationType {
    type Error = Error;
    fn try_from(code: u8) -> Result<Self, Error> {
        ReservationType::from_code(code).ok_or(Error::InvalidReservationType(code))
    }
}

impl fmt::Display for ReservationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name printed for a raw TYPE code, valid or not: the type's name, or
/// `obsolete [0]`, `obsolete [0xa]` ... as `sg_persist` prints them.
pub fn type_code_name(code: u8) -> TypeCodeName {
    TypeCodeName(code)
}

/// Display adapter returned by [`type_code_name`].
#[derive(Clone, Copy, Debug)]
pub struct TypeCodeName(u8);

impl fmt::Display for TypeCodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match ReservationType::from_code(self.0) {
            Some(t) => f.write_str(t.name()),
            None if self.0 < 10 => write!(f, "obsolete [{}]", self.0),
            None => write!(f, "obsolete [{:#x}]", self.0),
        }
    }
}

/// The SCOPE field. SPC-5 defines only logical-unit scope; the element and extent scopes
/// of SPC-2 are obsolete and kept only so that raw bytes can be named.
///
/// With the `serde` feature: `"logical_unit"`, or `{"other": code}` (serialized and
/// deserialized).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Scope {
    /// 0h: LU_SCOPE, the whole logical unit.
    #[default]
    LogicalUnit,
    /// Any other (obsolete or reserved) 4-bit scope code.
    Other(u8),
}

impl Scope {
    /// The 4-bit SCOPE code.
    pub const fn code(self) -> u8 {
        match self {
            Scope::LogicalUnit => 0,
            Scope::Other(c) => c & 0x0f,
        }
    }

    /// The scope for a 4-bit code.
    pub const fn from_code(code: u8) -> Self {
        match code & 0x0f {
            0 => Scope::LogicalUnit,
            c => Scope::Other(c),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::LogicalUnit => f.write_str("LU_SCOPE"),
            Scope::Other(1) => f.write_str("obsolete scope [1]"),
            Scope::Other(2) => f.write_str("Element_SCOPE"),
            Scope::Other(c) => write!(f, "reserved scope [{c:#x}]"),
        }
    }
}

/// A PERSISTENT RESERVE IN service action (SPC-5 6.16.1).
///
/// With the `serde` feature: its snake_case name, e.g. `"read_full_status"` (serialized and
/// deserialized).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[repr(u8)]
pub enum PrInAction {
    /// 00h READ KEYS.
    ReadKeys = 0x00,
    /// 01h READ RESERVATION.
    ReadReservation = 0x01,
    /// 02h REPORT CAPABILITIES.
    ReportCapabilities = 0x02,
    /// 03h READ FULL STATUS.
    ReadFullStatus = 0x03,
}

impl PrInAction {
    /// All four actions.
    pub const ALL: [PrInAction; 4] = [
        PrInAction::ReadKeys,
        PrInAction::ReadReservation,
        PrInAction::ReportCapabilities,
        PrInAction::ReadFullStatus,
    ];

    /// The 5-bit service action code.
    pub const fn code(self) -> u8 {
        match self {
            PrInAction::ReadKeys => 0,
            PrInAction::ReadReservation => 1,
            PrInAction::ReportCapabilities => 2,
            PrInAction::ReadFullStatus => 3,
        }
    }

    /// The action for a service action code.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(PrInAction::ReadKeys),
            1 => Some(PrInAction::ReadReservation),
            2 => Some(PrInAction::ReportCapabilities),
            3 => Some(PrInAction::ReadFullStatus),
            _ => None,
        }
    }

    /// SPC's name, e.g. "READ FULL STATUS".
    pub const fn name(self) -> &'static str {
        match self {
            PrInAction::ReadKeys => "READ KEYS",
            PrInAction::ReadReservation => "READ RESERVATION",
            PrInAction::ReportCapabilities => "REPORT CAPABILITIES",
            PrInAction::ReadFullStatus => "READ FULL STATUS",
        }
    }
}

impl fmt::Display for PrInAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A PERSISTENT RESERVE OUT service action (SPC-5 6.17.1).
///
/// With the `serde` feature: its snake_case name, e.g. `"preempt_and_abort"` (serialized
/// and deserialized).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[repr(u8)]
pub enum PrOutAction {
    /// 00h REGISTER.
    Register = 0x00,
    /// 01h RESERVE.
    Reserve = 0x01,
    /// 02h RELEASE.
    Release = 0x02,
    /// 03h CLEAR.
    Clear = 0x03,
    /// 04h PREEMPT.
    Preempt = 0x04,
    /// 05h PREEMPT AND ABORT.
    PreemptAndAbort = 0x05,
    /// 06h REGISTER AND IGNORE EXISTING KEY.
    RegisterAndIgnoreExistingKey = 0x06,
    /// 07h REGISTER AND MOVE.
    RegisterAndMove = 0x07,
    /// 08h REPLACE LOST RESERVATION.
    ReplaceLostReservation = 0x08,
}

impl PrOutAction {
    /// All nine actions.
    pub const ALL: [PrOutAction; 9] = [
        PrOutAction::Register,
        PrOutAction::Reserve,
        PrOutAction::Release,
        PrOutAction::Clear,
        PrOutAction::Preempt,
        PrOutAction::PreemptAndAbort,
        PrOutAction::RegisterAndIgnoreExistingKey,
        PrOutAction::RegisterAndMove,
        PrOutAction::ReplaceLostReservation,
    ];

    /// The 5-bit service action code.
    pub const fn code(self) -> u8 {
        match self {
            PrOutAction::Register => 0,
            PrOutAction::Reserve => 1,
            PrOutAction::Release => 2,
            PrOutAction::Clear => 3,
            PrOutAction::Preempt => 4,
            PrOutAction::PreemptAndAbort => 5,
            PrOutAction::RegisterAndIgnoreExistingKey => 6,
            PrOutAction::RegisterAndMove => 7,
            PrOutAction::ReplaceLostReservation => 8,
        }
    }

    /// The action for a service action code.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(PrOutAction::Register),
            1 => Some(PrOutAction::Reserve),
            2 => Some(PrOutAction::Release),
            3 => Some(PrOutAction::Clear),
            4 => Some(PrOutAction::Preempt),
            5 => Some(PrOutAction::PreemptAndAbort),
            6 => Some(PrOutAction::RegisterAndIgnoreExistingKey),
            7 => Some(PrOutAction::RegisterAndMove),
            8 => Some(PrOutAction::ReplaceLostReservation),
            _ => None,
        }
    }

    /// Whether the CDB's TYPE field is meaningful (and required) for this action.
    pub const fn uses_type(self) -> bool {
        matches!(
            self,
            PrOutAction::Reserve
                | PrOutAction::Release
                | PrOutAction::Preempt
                | PrOutAction::PreemptAndAbort
                | PrOutAction::RegisterAndMove
                | PrOutAction::ReplaceLostReservation
        )
    }

    /// Whether this action registers a key (REGISTER, REGISTER AND IGNORE EXISTING KEY).
    pub const fn is_register(self) -> bool {
        matches!(
            self,
            PrOutAction::Register | PrOutAction::RegisterAndIgnoreExistingKey
        )
    }

    /// SPC's name, e.g. "PREEMPT AND ABORT".
    pub const fn name(self) -> &'static str {
        match self {
            PrOutAction::Register => "REGISTER",
            PrOutAction::Reserve => "RESERVE",
            PrOutAction::Release => "RELEASE",
            PrOutAction::Clear => "CLEAR",
            PrOutAction::Preempt => "PREEMPT",
            PrOutAction::PreemptAndAbort => "PREEMPT AND ABORT",
            PrOutAction::RegisterAndIgnoreExistingKey => "REGISTER AND IGNORE EXISTING KEY",
            PrOutAction::RegisterAndMove => "REGISTER AND MOVE",
            PrOutAction::ReplaceLostReservation => "REPLACE LOST RESERVATION",
        }
    }
}

impl fmt::Display for PrOutAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

bitflags::bitflags! {
    /// PR OUT parameter flags.
    ///
    /// `SPEC_I_PT`, `ALL_TG_PT` and `APTPL` carry their bit positions in byte 20 of the
    /// basic parameter list. `UNREG` belongs to the REGISTER AND MOVE list (byte 17, bit 1,
    /// where `APTPL` sits at bit 0); the encoder places each flag where its list wants it.
    ///
    /// With the `serde` feature: an array of lower-case names, e.g. `["aptpl", "all_tg_pt"]`
    /// (serialized and deserialized; unnamed bits as hex strings such as `"0x40"`).
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
    pub struct PrOutFlags: u8 {
        /// Activate Persist Through Power Loss.
        const APTPL = 0x01;
        /// Register on all target ports of the initiator port.
        const ALL_TG_PT = 0x04;
        /// Specify initiator ports: the list carries TransportIDs to register too.
        const SPEC_I_PT = 0x08;
        /// REGISTER AND MOVE only: unregister the issuing nexus after the move.
        const UNREG = 0x80;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parse_forms() {
        assert_eq!(
            "0x1a".parse::<ReservationKey>().unwrap(),
            ReservationKey(0x1a)
        );
        assert_eq!(
            "1aH".parse::<ReservationKey>().unwrap(),
            ReservationKey(0x1a)
        );
        assert_eq!("26".parse::<ReservationKey>().unwrap(), ReservationKey(26));
        assert!("0xg".parse::<ReservationKey>().is_err());
        assert!("0x1ffffffffffffffff".parse::<ReservationKey>().is_err());
        assert_eq!(ReservationKey(0xabc).to_string(), "0xabc");
    }

    #[test]
    fn type_codes_roundtrip() {
        for t in ReservationType::ALL {
            assert_eq!(ReservationType::from_code(t.code()), Some(t));
            assert_eq!(t as u8, t.code());
        }
        for c in [0u8, 2, 4, 9, 15] {
            assert!(ReservationType::try_from(c).is_err());
        }
        assert_eq!(type_code_name(0xa).to_string(), "obsolete [0xa]");
        assert_eq!(type_code_name(4).to_string(), "obsolete [4]");
        assert_eq!(
            type_code_name(5).to_string(),
            "Write Exclusive, registrants only"
        );
    }

    #[test]
    fn action_codes_roundtrip() {
        for a in PrOutAction::ALL {
            assert_eq!(PrOutAction::from_code(a.code()), Some(a));
        }
        for a in PrInAction::ALL {
            assert_eq!(PrInAction::from_code(a.code()), Some(a));
        }
        assert_eq!(PrOutAction::from_code(9), None);
        assert_eq!(PrInAction::from_code(4), None);
    }
}
