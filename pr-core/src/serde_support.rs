//! The plain, JSON-ready form of pr-core's values (cargo feature `serde`, off by default).
//!
//! Every type a caller gets back as a result implements [`serde::Serialize`]. The form is
//! meant to be read by programs in any language (a JSON document, a Python dict), so it
//! is stable and names things rather than exposing Rust's layout:
//!
//! | type | form | example |
//! | --- | --- | --- |
//! | [`ReservationKey`] | lower-case hex string with `0x`, as `Display` prints it | `"0x1234"` |
//! | [`ReservationType`] | snake_case name | `"write_exclusive_registrants_only"` |
//! | [`Scope`] | `"logical_unit"`, or `{"other": code}` | `"logical_unit"` |
//! | [`PrInAction`], [`PrOutAction`] | snake_case name | `"read_full_status"`, `"preempt_and_abort"` |
//! | [`PrOutFlags`], [`CapabilityFlags`] | array of lower-case flag names | `["aptpl", "all_tg_pt"]` |
//! | [`TypeMask`] | array of the [`ReservationType`]s it holds, in code order | `["write_exclusive", "exclusive_access"]` |
//! | [`AllowCommands`] | the 3-bit code | `0` |
//! | [`Reservation`] | `{"key", "scope", "type_code", "type"}` (`type`: name, or `null` for an obsolete or reserved code) | |
//! | [`Capabilities`] | `{"length", "flags", "allow_commands", "type_mask", "reserved_flag_bits", "reserved_type_bits"}` | |
//! | [`ProtocolId`] | snake_case name, or `{"other": code}` | `"iscsi"`, `"fibre_channel"` |
//! | [`TransportId`] | `{"protocol", "text", "hex"}`: `text` is the `sg_persist` form `Display` writes (which [`TransportId::parse`] reads back), `hex` the encoded TransportID (`null` if it cannot be encoded) | `{"protocol": "sas", "text": "sas,5001405a00000001", "hex": "0600…"}` |
//! | [`ScsiStatus`] | `{"code", "name"}` with SAM's name, `null` for a reserved code | `{"code": 24, "name": "RESERVATION CONFLICT"}` |
//! | [`HostStatus`] | `{"code", "name"}` with Linux's `DID_*` name or `null` | `{"code": 17, "name": "DID_NEXUS_FAILURE"}` |
//! | [`DriverStatus`] | `{"code", "name", "suggestion"}`: `code` the whole value, `name` of its low four bits (`DRIVER_*`), `suggestion` of its high four (`SUGGEST_*`), each `null` when undefined | |
//! | [`SenseKey`] | snake_case name | `"illegal_request"` |
//! | [`FieldPointer`] | `{"c_d": "cdb" \| "parameter_list", "bit_pointer", "field_pointer"}` | |
//! | [`SenseBuf`] | the sense bytes as a lower-case hex string, no separators | `"7000050000000a…"` |
//! | [`CommandError`] | a summary object, see below | |
//! | [`TransportError`] | `{"kind", "message", "device", "errno"}` | |
//! | [`NvmeReservationType`] | snake_case name, as [`ReservationType`]'s | `"exclusive_access"` |
//! | [`NvmeStatus`] | `{"code", "sct", "sc", "crd", "more", "dnr", "name"}`: `code` the whole 15-bit value, `name` of SCT/SC or `null` | `{"code": 16515, "sct": 0, "sc": 131, …, "name": "Reservation Conflict"}` |
//! | [`NvmeIoctlResult`] | `"success"`, `{"status": NvmeStatus}` or `{"errno": n}` | `{"errno": 4}` |
//! | [`Disposition`] | snake_case name | `"retry_other_path"` |
//! | [`HostId`] | lower-case hex string of its 8 or 16 bytes | `"0011…"` |
//! | [`RegisteredController`] | `{"cntlid", "rcsts", "holds_reservation", "host_id", "key"}` | |
//! | [`ReservationReport`] | `{"generation", "type_code", "type", "registered_controllers", "persist_through_power_loss", "extended", "truncated", "needed_len", "controllers"}` (`controllers`: those present) | |
//!
//! Conventions:
//! - Keys are strings because a 64-bit key does not survive a JSON number in JavaScript
//!   (or any reader that parses numbers as doubles): `0x8000000000000001` would come back
//!   as `0x8000000000000000`.
//! - An enum whose variants carry no data is a snake_case string; an enum with data uses
//!   serde's default form: a unit variant is a string, a variant with data an object of
//!   one member, `{"variant": data}`.
//! - Byte strings (sense data, TransportIDs) are lower-case hex strings without separators.
//! - Durations are integer microseconds, in members named `…_us`.
//! - A flag set is an array of names; bits without a name (only possible through
//!   `from_bits_retain`) appear as hex strings such as `"0x40"`.
//! - Optional members are present with `null`, so every object of a type has the same
//!   members.
//!
//! A [`CommandError`] is summarized, not mirrored: `{"kind", "message", "status", "sense_key",
//! "asc", "ascq", "additional_sense", "field", "host_status", "driver_status", "sense",
//! "retryable", "path_failure"}`. `kind` is the variant in snake_case (`"reservation_conflict"`,
//! `"unit_attention"`, `"illegal_request"`, `"transport"`, ...), `message` its `Display` text,
//! `additional_sense` the name of ASC/ASCQ, `sense` the hex sense bytes (`null` when there
//! are none); members that do not apply to the variant are `null`.
//!
//! Deserialization: the simple values that a command-line tool or a daemon reads back
//! ([`ReservationKey`], [`ReservationType`], [`Scope`], [`PrInAction`], [`PrOutAction`],
//! [`PrOutFlags`]) also implement [`serde::Deserialize`], from the form above; a key is also
//! read from the other forms [`ReservationKey::from_str`](core::str::FromStr) accepts
//! (`"1234h"`, decimal `"4660"`) and from a JSON integer. The results (responses, errors)
//! are not deserialized: they are produced by a device, not by a caller.
//!
//! [`Hex`] and [`Micros`] serialize bytes and durations this way, for crates that build
//! their own forms on top (pr-multipath does).
//!
//! ```
//! use pr_core::types::{ReservationKey, ReservationType};
//! # fn main() -> Result<(), serde_json::Error> {
//! assert_eq!(serde_json::to_string(&ReservationKey(0x1234))?, r#""0x1234""#);
//! assert_eq!(
//!     serde_json::to_string(&ReservationType::WriteExclusiveRegistrantsOnly)?,
//!     r#""write_exclusive_registrants_only""#
//! );
//! let key: ReservationKey = serde_json::from_str(r#""0xabc""#)?;
//! assert_eq!(key, ReservationKey(0xabc));
//! # Ok(())
//! # }
//! ```
//!
//! [`Scope`]: crate::types::Scope
//! [`PrInAction`]: crate::types::PrInAction
//! [`PrOutAction`]: crate::types::PrOutAction
//! [`ProtocolId`]: crate::transport_id::ProtocolId
//! [`SenseKey`]: crate::sense::SenseKey
//! [`NvmeReservationType`]: crate::nvme::NvmeReservationType
//! [`NvmeIoctlResult`]: crate::nvme::NvmeIoctlResult
//! [`Disposition`]: crate::nvme::Disposition

use core::fmt::{self, Write as _};
use core::time::Duration;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeSeq, SerializeStruct, Serializer};

use crate::nvme::{HostId, NvmeStatus, RegisteredController, ReservationReport};
use crate::outcome::{CommandError, DriverStatus, HostStatus, SenseBuf};
use crate::prin::{AllowCommands, Capabilities, CapabilityFlags, Reservation, TypeMask};
use crate::sense::{FieldPointer, ScsiStatus};
use crate::transport::TransportError;
use crate::transport_id::TransportId;
use crate::types::{PrOutFlags, ReservationKey, ReservationType};

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

/// Bytes that serialize as one lower-case hex string without separators (`"0a1b"`); its
/// `Display` writes the same text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl Serialize for Hex<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A duration that serializes as an integer number of microseconds (saturating at
/// `u64::MAX`, some 584,000 years).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Micros(pub Duration);

impl Serialize for Micros {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(self.0.as_micros()).unwrap_or(u64::MAX))
    }
}

/// A flag set as an array of lower-case names, with any unnamed bits as one hex string.
fn serialize_flags<S, F>(flags: &F, s: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    F: bitflags::Flags,
    F::Bits: Into<u64>,
{
    let unnamed = flags.bits().into() & !F::all().bits().into();
    let mut seq = s.serialize_seq(None)?;
    for (name, _) in flags.iter_names() {
        seq.serialize_element(&LowerCase(name))?;
    }
    if unnamed != 0 {
        seq.serialize_element(&format_args!("{unnamed:#x}"))?;
    }
    seq.end()
}

/// A `&str` serialized in lower case.
struct LowerCase<'a>(&'a str);

impl Serialize for LowerCase<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for LowerCase<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0
            .chars()
            .try_for_each(|c| f.write_char(c.to_ascii_lowercase()))
    }
}

// ---------------------------------------------------------------------------------------------
// Keys and flags (serialized and deserialized)
// ---------------------------------------------------------------------------------------------

impl Serialize for ReservationKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReservationKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl Visitor<'_> for KeyVisitor {
            type Value = ReservationKey;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a reservation key: a string such as \"0x1234\", or an integer")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ReservationKey, E> {
                v.parse().map_err(|_| {
                    E::invalid_value(de::Unexpected::Str(v), &"a key such as \"0x1234\"")
                })
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ReservationKey, E> {
                Ok(ReservationKey(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ReservationKey, E> {
                u64::try_from(v)
                    .map(ReservationKey)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
        }

        d.deserialize_any(KeyVisitor)
    }
}

impl Serialize for PrOutFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_flags(self, s)
    }
}

impl<'de> Deserialize<'de> for PrOutFlags {
    /// From an array of flag names (any case) and hex strings of unnamed bits.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FlagsVisitor;

        impl<'de> Visitor<'de> for FlagsVisitor {
            type Value = PrOutFlags;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of PR OUT flag names (aptpl, all_tg_pt, spec_i_pt, unreg)")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PrOutFlags, A::Error> {
                let mut flags = PrOutFlags::empty();
                while let Some(name) = seq.next_element::<String>()? {
                    flags |= pr_out_flag(&name).ok_or_else(|| {
                        de::Error::invalid_value(de::Unexpected::Str(&name), &self)
                    })?;
                }
                Ok(flags)
            }
        }

        d.deserialize_seq(FlagsVisitor)
    }
}

/// One PR OUT flag by name (any case), or unnamed bits as `0x` hex.
fn pr_out_flag(name: &str) -> Option<PrOutFlags> {
    if let Some(h) = name.strip_prefix("0x") {
        return u8::from_str_radix(h, 16)
            .ok()
            .map(PrOutFlags::from_bits_retain);
    }
    PrOutFlags::all()
        .iter_names()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, f)| f)
}

// ---------------------------------------------------------------------------------------------
// PR IN results
// ---------------------------------------------------------------------------------------------

impl Serialize for Reservation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Reservation", 4)?;
        st.serialize_field("key", &self.key)?;
        st.serialize_field("scope", &self.scope)?;
        st.serialize_field("type_code", &self.type_code)?;
        st.serialize_field("type", &self.reservation_type())?;
        st.end()
    }
}

impl Serialize for CapabilityFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_flags(self, s)
    }
}

impl Serialize for TypeMask {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let unnamed = self.bits() & !TypeMask::all().bits();
        let mut seq = s.serialize_seq(None)?;
        for t in ReservationType::ALL {
            if self.supports(t) {
                seq.serialize_element(&t)?;
            }
        }
        if unnamed != 0 {
            seq.serialize_element(&format_args!("{unnamed:#x}"))?;
        }
        seq.end()
    }
}

impl Serialize for AllowCommands {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.0)
    }
}

impl Serialize for Capabilities {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Capabilities", 6)?;
        st.serialize_field("length", &self.length)?;
        st.serialize_field("flags", &self.flags)?;
        st.serialize_field("allow_commands", &self.allow_commands)?;
        st.serialize_field("type_mask", &self.type_mask)?;
        st.serialize_field("reserved_flag_bits", &self.reserved_flag_bits)?;
        st.serialize_field("reserved_type_bits", &self.reserved_type_bits)?;
        st.end()
    }
}

// ---------------------------------------------------------------------------------------------
// TransportIDs
// ---------------------------------------------------------------------------------------------

impl Serialize for TransportId<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = vec![0u8; self.encoded_len()];
        let encoded = self.encode(&mut buf).ok().and_then(|n| buf.get(..n));
        let mut st = s.serialize_struct("TransportId", 3)?;
        st.serialize_field("protocol", &self.protocol())?;
        st.serialize_field("text", &format_args!("{self}"))?;
        st.serialize_field("hex", &encoded.map(Hex))?;
        st.end()
    }
}

// ---------------------------------------------------------------------------------------------
// Status, sense and command errors
// ---------------------------------------------------------------------------------------------

impl Serialize for ScsiStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ScsiStatus", 2)?;
        st.serialize_field("code", &self.0)?;
        st.serialize_field("name", &self.name())?;
        st.end()
    }
}

impl Serialize for HostStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("HostStatus", 2)?;
        st.serialize_field("code", &self.0)?;
        st.serialize_field("name", &self.name())?;
        st.end()
    }
}

impl Serialize for DriverStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("DriverStatus", 3)?;
        st.serialize_field("code", &self.0)?;
        st.serialize_field("name", &self.name())?;
        st.serialize_field("suggestion", &self.suggestion_name())?;
        st.end()
    }
}

impl Serialize for SenseBuf {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Hex(self.as_bytes()).serialize(s)
    }
}

/// The snake_case name of a [`CommandError`] variant.
fn command_error_kind(e: &CommandError) -> &'static str {
    match e {
        CommandError::ReservationConflict { .. } => "reservation_conflict",
        CommandError::UnitAttention { .. } => "unit_attention",
        CommandError::NotReady { .. } => "not_ready",
        CommandError::IllegalRequest { .. } => "illegal_request",
        CommandError::MediumError { .. } => "medium_error",
        CommandError::HardwareError { .. } => "hardware_error",
        CommandError::AbortedCommand { .. } => "aborted_command",
        CommandError::DataProtect { .. } => "data_protect",
        CommandError::OtherSenseKey { .. } => "other_sense_key",
        CommandError::NoSenseData { .. } => "no_sense_data",
        CommandError::MalformedSense { .. } => "malformed_sense",
        CommandError::Busy => "busy",
        CommandError::TaskSetFull => "task_set_full",
        CommandError::AcaActive => "aca_active",
        CommandError::TaskAborted => "task_aborted",
        CommandError::Transport { .. } => "transport",
        CommandError::UnexpectedStatus { .. } => "unexpected_status",
    }
}

impl Serialize for CommandError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (host, driver) = match self {
            CommandError::ReservationConflict { host_status } => (Some(*host_status), None),
            CommandError::Transport {
                host_status,
                driver_status,
            } => (Some(*host_status), Some(*driver_status)),
            _ => (None, None),
        };
        let field: Option<&FieldPointer> = match self {
            CommandError::IllegalRequest { field, .. } => field.as_ref(),
            _ => None,
        };
        let sense = self.sense_bytes();
        let mut st = s.serialize_struct("CommandError", 13)?;
        st.serialize_field("kind", command_error_kind(self))?;
        st.serialize_field("message", &format_args!("{self}"))?;
        st.serialize_field("status", &self.status())?;
        st.serialize_field("sense_key", &self.sense_key())?;
        st.serialize_field("asc", &self.asc_ascq().map(|(asc, _)| asc))?;
        st.serialize_field("ascq", &self.asc_ascq().map(|(_, ascq)| ascq))?;
        st.serialize_field(
            "additional_sense",
            &self.additional_sense().map(|a| a.to_string()),
        )?;
        st.serialize_field("field", &field)?;
        st.serialize_field("host_status", &host)?;
        st.serialize_field("driver_status", &driver)?;
        st.serialize_field("sense", &(!sense.is_empty()).then_some(Hex(sense)))?;
        st.serialize_field("retryable", &self.is_retryable())?;
        st.serialize_field("path_failure", &self.is_path_failure())?;
        st.end()
    }
}

impl Serialize for TransportError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (kind, device, errno) = match self {
            TransportError::Timeout(_) => ("timeout", None, None),
            TransportError::Os { device, errno, .. } => ("os", Some(device.as_str()), Some(*errno)),
            TransportError::PathDown { device, .. } => ("path_down", Some(device.as_str()), None),
            TransportError::Unsupported { device, .. } => {
                ("unsupported", Some(device.as_str()), None)
            }
            TransportError::InvalidRequest(_) => ("invalid_request", None, None),
            TransportError::Closed => ("closed", None, None),
        };
        let mut st = s.serialize_struct("TransportError", 4)?;
        st.serialize_field("kind", kind)?;
        st.serialize_field("message", &format_args!("{self}"))?;
        st.serialize_field("device", &device)?;
        st.serialize_field("errno", &errno)?;
        st.end()
    }
}

// ---------------------------------------------------------------------------------------------
// NVMe
// ---------------------------------------------------------------------------------------------

impl Serialize for NvmeStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("NvmeStatus", 7)?;
        st.serialize_field("code", &self.0)?;
        st.serialize_field("sct", &self.sct())?;
        st.serialize_field("sc", &self.sc())?;
        st.serialize_field("crd", &self.crd())?;
        st.serialize_field("more", &self.more())?;
        st.serialize_field("dnr", &self.dnr())?;
        st.serialize_field("name", &self.name())?;
        st.end()
    }
}

impl Serialize for HostId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Hex(self.as_bytes()).serialize(s)
    }
}

impl Serialize for RegisteredController {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("RegisteredController", 5)?;
        st.serialize_field("cntlid", &self.cntlid)?;
        st.serialize_field("rcsts", &self.rcsts)?;
        st.serialize_field("holds_reservation", &self.holds_reservation())?;
        st.serialize_field("host_id", &self.host_id)?;
        st.serialize_field("key", &self.key)?;
        st.end()
    }
}

/// The registered controllers of a report, as a sequence.
struct Controllers<'a>(ReservationReport<'a>);

impl Serialize for Controllers<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.controllers())
    }
}

impl Serialize for ReservationReport<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ReservationReport", 9)?;
        st.serialize_field("generation", &self.generation())?;
        st.serialize_field("type_code", &self.type_code())?;
        st.serialize_field("type", &self.reservation_type())?;
        st.serialize_field("registered_controllers", &self.registered_controllers())?;
        st.serialize_field(
            "persist_through_power_loss",
            &self.persist_through_power_loss(),
        )?;
        st.serialize_field("extended", &self.is_extended())?;
        st.serialize_field("truncated", &self.is_truncated())?;
        st.serialize_field("needed_len", &self.needed_len())?;
        st.serialize_field("controllers", &Controllers(*self))?;
        st.end()
    }
}
