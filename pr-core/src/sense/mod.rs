//! SCSI status codes, sense data and their names.
//!
//! - [`ScsiStatus`]: the SAM status byte, with every status code SAM-5 defines.
//! - [`SenseKey`]: the sixteen sense keys.
//! - [`Sense`]: a borrowed, zero-copy view of sense data in either format SPC defines,
//!   fixed (response codes 70h and 71h) or descriptor (72h and 73h), which decodes whatever
//!   a truncated buffer still holds and says what it does not.
//! - [`asc_ascq_name`] and [`AscAscq`]: names of additional sense codes and qualifiers, from
//!   a sorted table searched without allocating.
//!
//! Nothing here allocates or panics, whatever the bytes.

use core::fmt;

use crate::error::DecodeError;

mod asc_table;
mod descriptor;
#[cfg(test)]
mod tests;

use asc_table::ASC_TABLE;
pub use descriptor::{Descriptors, RawDescriptor, SenseDescriptor};

// ---------------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------------

/// A SAM status byte.
///
/// The value is kept exactly as the transport reported it. The Linux sg driver reports
/// `status` as the whole SAM byte (not the shifted `masked_status` of old drivers). SCSI-2
/// reserved bit 0 and bits 7 and 6 of the byte; SAM-2 and later use bit 6 for TASK ABORTED
/// (40h). Every method that interprets the byte ([`name`](Self::name),
/// [`is_good`](Self::is_good), `Display`, and the classification in
/// [`outcome`](crate::outcome)) therefore first applies [`ScsiStatus::MASK`] (7Eh): bits 1-6
/// are the status code, bits 0 and 7 (reserved or vendor specific) are ignored. This is the
/// mask `sg3_utils` uses too.
///
/// With the `serde` feature: `{"code": 24, "name": "RESERVATION CONFLICT"}` (the byte as
/// reported, and the name of its masked code, `null` for a reserved code).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct ScsiStatus(pub u8);

impl ScsiStatus {
    /// 00h GOOD.
    pub const GOOD: ScsiStatus = ScsiStatus(0x00);
    /// 02h CHECK CONDITION: sense data describes the error.
    pub const CHECK_CONDITION: ScsiStatus = ScsiStatus(0x02);
    /// 04h CONDITION MET (PRE-FETCH): a success.
    pub const CONDITION_MET: ScsiStatus = ScsiStatus(0x04);
    /// 08h BUSY: the logical unit cannot accept the command now.
    pub const BUSY: ScsiStatus = ScsiStatus(0x08);
    /// 10h INTERMEDIATE (obsolete, linked commands).
    pub const INTERMEDIATE: ScsiStatus = ScsiStatus(0x10);
    /// 14h INTERMEDIATE-CONDITION MET (obsolete, linked commands).
    pub const INTERMEDIATE_CONDITION_MET: ScsiStatus = ScsiStatus(0x14);
    /// 18h RESERVATION CONFLICT.
    pub const RESERVATION_CONFLICT: ScsiStatus = ScsiStatus(0x18);
    /// 22h COMMAND TERMINATED (obsolete; treated like CHECK CONDITION).
    pub const COMMAND_TERMINATED: ScsiStatus = ScsiStatus(0x22);
    /// 28h TASK SET FULL.
    pub const TASK_SET_FULL: ScsiStatus = ScsiStatus(0x28);
    /// 30h ACA ACTIVE.
    pub const ACA_ACTIVE: ScsiStatus = ScsiStatus(0x30);
    /// 40h TASK ABORTED: another I_T nexus (task management, or PREEMPT AND ABORT with
    /// TAS set) aborted the command.
    pub const TASK_ABORTED: ScsiStatus = ScsiStatus(0x40);

    /// The bits of the byte that carry the status code (bits 1-6).
    pub const MASK: u8 = 0x7e;

    /// The status with the reserved bits 0 and 7 cleared.
    pub const fn masked(self) -> ScsiStatus {
        ScsiStatus(self.0 & Self::MASK)
    }

    /// The status code's name (of the masked byte), or `None` for a reserved code.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.masked().0 {
            0x00 => "GOOD",
            0x02 => "CHECK CONDITION",
            0x04 => "CONDITION MET",
            0x08 => "BUSY",
            0x10 => "INTERMEDIATE",
            0x14 => "INTERMEDIATE-CONDITION MET",
            0x18 => "RESERVATION CONFLICT",
            0x22 => "COMMAND TERMINATED",
            0x28 => "TASK SET FULL",
            0x30 => "ACA ACTIVE",
            0x40 => "TASK ABORTED",
            _ => return None,
        })
    }

    /// Whether the (masked) status reports success: GOOD or CONDITION MET.
    pub const fn is_good(self) -> bool {
        matches!(self.masked().0, 0x00 | 0x04)
    }
}

impl fmt::Display for ScsiStatus {
    /// The name (`RESERVATION CONFLICT`), with the raw byte appended when reserved bits were
    /// set (`RESERVATION CONFLICT (raw 19h)`); `reserved status 0Ch` for unknown codes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) if self.masked().0 == self.0 => f.write_str(name),
            Some(name) => write!(f, "{name} (raw {:02X}h)", self.0),
            None => write!(f, "reserved status {:02X}h", self.0),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sense key
// ---------------------------------------------------------------------------------------------

/// A sense key (the 4-bit SENSE KEY field).
///
/// With the `serde` feature: its snake_case name, e.g. `"illegal_request"`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum SenseKey {
    /// 0h NO SENSE.
    NoSense,
    /// 1h RECOVERED ERROR: the command completed after recovery.
    RecoveredError,
    /// 2h NOT READY.
    NotReady,
    /// 3h MEDIUM ERROR.
    MediumError,
    /// 4h HARDWARE ERROR.
    HardwareError,
    /// 5h ILLEGAL REQUEST.
    IllegalRequest,
    /// 6h UNIT ATTENTION.
    UnitAttention,
    /// 7h DATA PROTECT.
    DataProtect,
    /// 8h BLANK CHECK.
    BlankCheck,
    /// 9h VENDOR SPECIFIC.
    VendorSpecific,
    /// Ah COPY ABORTED.
    CopyAborted,
    /// Bh ABORTED COMMAND.
    AbortedCommand,
    /// Ch reserved (formerly EQUAL).
    Reserved,
    /// Dh VOLUME OVERFLOW.
    VolumeOverflow,
    /// Eh MISCOMPARE.
    Miscompare,
    /// Fh COMPLETED.
    Completed,
}

impl SenseKey {
    /// The key for a code 0h-Fh; `None` above Fh.
    pub const fn from_code(code: u8) -> Option<SenseKey> {
        if code > 0x0f {
            None
        } else {
            Some(Self::from_nibble(code))
        }
    }

    /// The key in the low four bits of `byte` (the upper bits are ignored).
    pub(crate) const fn from_nibble(byte: u8) -> SenseKey {
        match byte & 0x0f {
            0x0 => SenseKey::NoSense,
            0x1 => SenseKey::RecoveredError,
            0x2 => SenseKey::NotReady,
            0x3 => SenseKey::MediumError,
            0x4 => SenseKey::HardwareError,
            0x5 => SenseKey::IllegalRequest,
            0x6 => SenseKey::UnitAttention,
            0x7 => SenseKey::DataProtect,
            0x8 => SenseKey::BlankCheck,
            0x9 => SenseKey::VendorSpecific,
            0xa => SenseKey::CopyAborted,
            0xb => SenseKey::AbortedCommand,
            0xc => SenseKey::Reserved,
            0xd => SenseKey::VolumeOverflow,
            0xe => SenseKey::Miscompare,
            _ => SenseKey::Completed,
        }
    }

    /// The 4-bit code.
    pub const fn code(self) -> u8 {
        match self {
            SenseKey::NoSense => 0x0,
            SenseKey::RecoveredError => 0x1,
            SenseKey::NotReady => 0x2,
            SenseKey::MediumError => 0x3,
            SenseKey::HardwareError => 0x4,
            SenseKey::IllegalRequest => 0x5,
            SenseKey::UnitAttention => 0x6,
            SenseKey::DataProtect => 0x7,
            SenseKey::BlankCheck => 0x8,
            SenseKey::VendorSpecific => 0x9,
            SenseKey::CopyAborted => 0xa,
            SenseKey::AbortedCommand => 0xb,
            SenseKey::Reserved => 0xc,
            SenseKey::VolumeOverflow => 0xd,
            SenseKey::Miscompare => 0xe,
            SenseKey::Completed => 0xf,
        }
    }

    /// SPC's name: `NO SENSE`, `ILLEGAL REQUEST`, `UNIT ATTENTION`, ...
    pub const fn name(self) -> &'static str {
        match self {
            SenseKey::NoSense => "NO SENSE",
            SenseKey::RecoveredError => "RECOVERED ERROR",
            SenseKey::NotReady => "NOT READY",
            SenseKey::MediumError => "MEDIUM ERROR",
            SenseKey::HardwareError => "HARDWARE ERROR",
            SenseKey::IllegalRequest => "ILLEGAL REQUEST",
            SenseKey::UnitAttention => "UNIT ATTENTION",
            SenseKey::DataProtect => "DATA PROTECT",
            SenseKey::BlankCheck => "BLANK CHECK",
            SenseKey::VendorSpecific => "VENDOR SPECIFIC",
            SenseKey::CopyAborted => "COPY ABORTED",
            SenseKey::AbortedCommand => "ABORTED COMMAND",
            SenseKey::Reserved => "RESERVED",
            SenseKey::VolumeOverflow => "VOLUME OVERFLOW",
            SenseKey::Miscompare => "MISCOMPARE",
            SenseKey::Completed => "COMPLETED",
        }
    }
}

impl fmt::Display for SenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ---------------------------------------------------------------------------------------------
// Sense-key specific information
// ---------------------------------------------------------------------------------------------

/// Where the field an ILLEGAL REQUEST points at lies (the C/D bit).
///
/// With the `serde` feature: `"cdb"` or `"parameter_list"`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum FieldLocation {
    /// C/D = 1: in the CDB.
    Cdb,
    /// C/D = 0: in the parameter list (data-out buffer).
    ParameterList,
}

/// The field pointer of an ILLEGAL REQUEST: which byte (and bit) of the CDB or parameter list
/// the device server rejected.
///
/// With the `serde` feature: `{"c_d": "cdb", "bit_pointer": 7, "field_pointer": 2}`
/// (`bit_pointer` `null` when the device gave none).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FieldPointer {
    /// CDB or parameter list (the C/D bit).
    pub c_d: FieldLocation,
    /// The bit (0-7) within the byte, when the device gave one (BPV set).
    pub bit_pointer: Option<u8>,
    /// The byte's offset within the CDB or parameter list.
    pub field_pointer: u16,
}

impl fmt::Display for FieldPointer {
    /// `CDB byte 2 bit 7`, `parameter list byte 12`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.c_d {
            FieldLocation::Cdb => f.write_str("CDB")?,
            FieldLocation::ParameterList => f.write_str("parameter list")?,
        }
        write!(f, " byte {}", self.field_pointer)?;
        if let Some(bit) = self.bit_pointer {
            write!(f, " bit {bit}")?;
        }
        Ok(())
    }
}

/// Length of the fixed-format sense data [`encode_fixed`] writes.
pub const FIXED_SENSE_LEN: usize = 18;

/// Encodes current, fixed-format (70h) sense data: `key`, `asc`/`ascq`, and for ILLEGAL
/// REQUEST an optional field pointer (SKSV set, C/D, BPV and bit pointer). ADDITIONAL SENSE
/// LENGTH is 10. Device servers (the simulator) use it; [`Sense::parse`] reads it back.
///
/// ```
/// use pr_core::sense::{encode_fixed, FieldLocation, FieldPointer, Sense, SenseKey};
/// let fp = FieldPointer { c_d: FieldLocation::Cdb, bit_pointer: Some(4), field_pointer: 2 };
/// let b = encode_fixed(SenseKey::IllegalRequest, 0x24, 0x00, Some(fp));
/// let s = Sense::parse(&b).unwrap();
/// assert_eq!((s.key(), s.asc_ascq(), s.field_pointer()), (SenseKey::IllegalRequest, Some((0x24, 0)), Some(fp)));
/// ```
pub fn encode_fixed(
    key: SenseKey,
    asc: u8,
    ascq: u8,
    field: Option<FieldPointer>,
) -> [u8; FIXED_SENSE_LEN] {
    let mut sks = [0u8; 3];
    if let Some(f) = field {
        let mut b15 = 0x80;
        if f.c_d == FieldLocation::Cdb {
            b15 |= 0x40;
        }
        if let Some(bit) = f.bit_pointer {
            b15 |= 0x08 | (bit & 0x07);
        }
        let [hi, lo] = f.field_pointer.to_be_bytes();
        sks = [b15, hi, lo];
    }
    [
        0x70,
        0,
        key.code() & 0x0f,
        0,
        0,
        0,
        0,
        0x0a,
        0,
        0,
        0,
        0,
        asc,
        ascq,
        0,
        sks[0],
        sks[1],
        sks[2],
    ]
}

/// A progress indication: the numerator of a fraction of 65536 (`0x8000` is half done).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Progress(pub u16);

impl Progress {
    /// Progress in tenths of a percent (0-999).
    pub fn per_mille(self) -> u32 {
        u32::from(self.0)
            .checked_mul(1000)
            .and_then(|v| v.checked_div(65536))
            .unwrap_or(0)
    }
}

impl fmt::Display for Progress {
    /// `45.3%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pm = self.per_mille();
        let whole = pm.checked_div(10).unwrap_or(0);
        let tenth = pm.checked_rem(10).unwrap_or(0);
        write!(f, "{whole}.{tenth}%")
    }
}

/// The three sense-key specific bytes, interpreted by sense key (SPC "sense key specific
/// sense data"). Only produced when SKSV is set.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum SenseKeySpecific {
    /// ILLEGAL REQUEST: the rejected field.
    FieldPointer(FieldPointer),
    /// NOT READY or NO SENSE: how far a long operation (format, sanitize...) has come.
    Progress(Progress),
    /// RECOVERED ERROR, MEDIUM ERROR, HARDWARE ERROR: the actual retry count.
    ActualRetryCount(u16),
    /// COPY ABORTED: the segment pointer.
    SegmentPointer {
        /// SD: the pointer is relative to the segment descriptor (else to the parameter list).
        segment_descriptor: bool,
        /// The bit within the byte, when given (BPV set).
        bit_pointer: Option<u8>,
        /// The byte offset.
        field_pointer: u16,
    },
    /// UNIT ATTENTION: whether the unit attention condition queue overflowed.
    UnitAttention {
        /// The OVERFLOW bit.
        overflow: bool,
    },
    /// Any other sense key: the three bytes as they are (byte 0 includes SKSV).
    Raw([u8; 3]),
}

impl SenseKeySpecific {
    /// Interprets three sense-key specific bytes for `key`; `None` when SKSV is clear.
    pub fn decode(key: SenseKey, bytes: [u8; 3]) -> Option<SenseKeySpecific> {
        let [b0, b1, b2] = bytes;
        if b0 & 0x80 == 0 {
            return None;
        }
        let value = u16::from_be_bytes([b1, b2]);
        let bit_pointer = if b0 & 0x08 != 0 {
            Some(b0 & 0x07)
        } else {
            None
        };
        Some(match key {
            SenseKey::IllegalRequest => SenseKeySpecific::FieldPointer(FieldPointer {
                c_d: if b0 & 0x40 != 0 {
                    FieldLocation::Cdb
                } else {
                    FieldLocation::ParameterList
                },
                bit_pointer,
                field_pointer: value,
            }),
            SenseKey::NotReady | SenseKey::NoSense => SenseKeySpecific::Progress(Progress(value)),
            SenseKey::RecoveredError | SenseKey::MediumError | SenseKey::HardwareError => {
                SenseKeySpecific::ActualRetryCount(value)
            }
            SenseKey::CopyAborted => SenseKeySpecific::SegmentPointer {
                segment_descriptor: b0 & 0x20 != 0,
                bit_pointer,
                field_pointer: value,
            },
            SenseKey::UnitAttention => SenseKeySpecific::UnitAttention {
                overflow: b0 & 0x01 != 0,
            },
            _ => SenseKeySpecific::Raw(bytes),
        })
    }
}

impl fmt::Display for SenseKeySpecific {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SenseKeySpecific::FieldPointer(fp) => fp.fmt(f),
            SenseKeySpecific::Progress(p) => write!(f, "progress {p}"),
            SenseKeySpecific::ActualRetryCount(n) => write!(f, "actual retry count {n}"),
            SenseKeySpecific::SegmentPointer {
                segment_descriptor,
                bit_pointer,
                field_pointer,
            } => {
                let base = if *segment_descriptor {
                    "segment descriptor"
                } else {
                    "parameter list"
                };
                write!(f, "{base} byte {field_pointer}")?;
                if let Some(bit) = bit_pointer {
                    write!(f, " bit {bit}")?;
                }
                Ok(())
            }
            SenseKeySpecific::UnitAttention { overflow: true } => {
                f.write_str("unit attention queue overflowed")
            }
            SenseKeySpecific::UnitAttention { overflow: false } => {
                f.write_str("unit attention queue not overflowed")
            }
            SenseKeySpecific::Raw([a, b, c]) => {
                write!(f, "sense-key specific {a:02x} {b:02x} {c:02x}")
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sense data
// ---------------------------------------------------------------------------------------------

/// The two sense data formats.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SenseFormat {
    /// Fixed format, response codes 70h (current) and 71h (deferred).
    Fixed,
    /// Descriptor format, response codes 72h (current) and 73h (deferred).
    Descriptor,
}

/// Fewest bytes [`Sense::parse`] accepts for fixed format: up to the sense key (byte 2).
const FIXED_MIN: usize = 3;
/// Fewest bytes [`Sense::parse`] accepts for descriptor format: up to the sense key (byte 1).
const DESC_MIN: usize = 2;
/// Length of the header both formats share before the ADDITIONAL SENSE LENGTH counts.
const HEADER: usize = 8;

/// A borrowed view of sense data.
///
/// [`parse`](Self::parse) checks only the response code and that the sense key is present;
/// everything else is read on demand, and an accessor whose field lies beyond the end of the
/// data returns `None`. The data is taken to end at `8 + ADDITIONAL SENSE LENGTH` when the
/// buffer holds byte 7 (bytes after that are ignored, as Linux does); a buffer shorter than
/// that, or shorter than 8 bytes, is [truncated](Self::is_truncated).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Sense<'a> {
    bytes: &'a [u8],
    buffer_len: usize,
    format: SenseFormat,
}

impl<'a> Sense<'a> {
    /// A view of `bytes`, which must start with response code 70h-73h (bit 7 of byte 0, the
    /// fixed format's VALID bit, is ignored) and hold at least the sense key.
    pub fn parse(bytes: &'a [u8]) -> Result<Sense<'a>, DecodeError> {
        let Some(&b0) = bytes.first() else {
            return Err(DecodeError::Short {
                what: "sense data",
                len: 0,
                needed: DESC_MIN,
            });
        };
        let (format, min) = match b0 & 0x7f {
            0x70 | 0x71 => (SenseFormat::Fixed, FIXED_MIN),
            0x72 | 0x73 => (SenseFormat::Descriptor, DESC_MIN),
            other => {
                return Err(DecodeError::BadField {
                    what: "sense data response code",
                    value: u32::from(other),
                });
            }
        };
        if bytes.len() < min {
            return Err(DecodeError::Short {
                what: "sense data",
                len: bytes.len(),
                needed: min,
            });
        }
        let end = match bytes.get(7) {
            Some(&add) => usize::from(add).saturating_add(HEADER).min(bytes.len()),
            None => bytes.len(),
        };
        Ok(Sense {
            bytes: bytes.get(..end).unwrap_or(bytes),
            buffer_len: bytes.len(),
            format,
        })
    }

    /// The sense data (ending at `8 + ADDITIONAL SENSE LENGTH`, or where the buffer ends).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Fixed or descriptor format.
    pub fn format(&self) -> SenseFormat {
        self.format
    }

    /// The response code: 70h, 71h, 72h or 73h.
    pub fn response_code(&self) -> u8 {
        self.byte(0).unwrap_or(0) & 0x7f
    }

    /// Whether the sense describes the command it was returned for (70h, 72h).
    pub fn is_current(&self) -> bool {
        matches!(self.response_code(), 0x70 | 0x72)
    }

    /// Whether the sense describes an earlier command (a deferred error: 71h, 73h).
    pub fn is_deferred(&self) -> bool {
        matches!(self.response_code(), 0x71 | 0x73)
    }

    /// The sense key.
    pub fn key(&self) -> SenseKey {
        let at = match self.format {
            SenseFormat::Fixed => 2,
            SenseFormat::Descriptor => 1,
        };
        SenseKey::from_nibble(self.byte(at).unwrap_or(0))
    }

    /// The ADDITIONAL SENSE CODE, `None` when the data ends before it.
    pub fn asc(&self) -> Option<u8> {
        match self.format {
            SenseFormat::Fixed => self.byte(12),
            SenseFormat::Descriptor => self.byte(2),
        }
    }

    /// The ADDITIONAL SENSE CODE QUALIFIER, `None` when the data ends before it.
    pub fn ascq(&self) -> Option<u8> {
        match self.format {
            SenseFormat::Fixed => self.byte(13),
            SenseFormat::Descriptor => self.byte(3),
        }
    }

    /// ASC and ASCQ together, `None` unless both are present.
    pub fn asc_ascq(&self) -> Option<(u8, u8)> {
        Some((self.asc()?, self.ascq()?))
    }

    /// ASC and ASCQ as a nameable pair.
    pub fn additional_sense(&self) -> Option<AscAscq> {
        self.asc_ascq().map(|(asc, ascq)| AscAscq::new(asc, ascq))
    }

    /// The ADDITIONAL SENSE LENGTH field (byte 7), `None` in fewer than 8 bytes.
    pub fn additional_length(&self) -> Option<u8> {
        self.byte(7)
    }

    /// Whether the buffer ended before the sense data did: it is shorter than 8 bytes, or
    /// shorter than `8 + ADDITIONAL SENSE LENGTH`. Fields past the end read as `None`.
    pub fn is_truncated(&self) -> bool {
        match self.additional_length() {
            Some(add) => self.buffer_len < usize::from(add).saturating_add(HEADER),
            None => true,
        }
    }

    /// The INFORMATION field, when valid: fixed format bytes 3-6 with the VALID bit set, or
    /// an information descriptor (00h) with its VALID bit set.
    pub fn information(&self) -> Option<u64> {
        match self.format {
            SenseFormat::Fixed => {
                if self.byte(0)? & 0x80 == 0 {
                    return None;
                }
                let b: [u8; 4] = self.bytes.get(3..7)?.try_into().ok()?;
                Some(u64::from(u32::from_be_bytes(b)))
            }
            SenseFormat::Descriptor => self.descriptors().find_map(|d| match d.decode() {
                SenseDescriptor::Information {
                    valid: true,
                    information,
                } => Some(information),
                _ => None,
            }),
        }
    }

    /// The COMMAND-SPECIFIC INFORMATION field: fixed format bytes 8-11, or a
    /// command-specific information descriptor (01h).
    pub fn command_specific_information(&self) -> Option<u64> {
        match self.format {
            SenseFormat::Fixed => {
                let b: [u8; 4] = self.bytes.get(8..12)?.try_into().ok()?;
                Some(u64::from(u32::from_be_bytes(b)))
            }
            SenseFormat::Descriptor => self.descriptors().find_map(|d| match d.decode() {
                SenseDescriptor::CommandSpecific(v) => Some(v),
                _ => None,
            }),
        }
    }

    /// The FIELD REPLACEABLE UNIT CODE: fixed format byte 14, or a field replaceable unit
    /// descriptor (03h). 0 means no unit is identified.
    pub fn field_replaceable_unit(&self) -> Option<u8> {
        match self.format {
            SenseFormat::Fixed => self.byte(14),
            SenseFormat::Descriptor => self.descriptors().find_map(|d| match d.decode() {
                SenseDescriptor::FieldReplaceableUnit(code) => Some(code),
                _ => None,
            }),
        }
    }

    /// The three sense-key specific bytes as they are (SKSV is bit 7 of the first), from
    /// fixed format bytes 15-17 or a sense-key specific descriptor (02h).
    pub fn sense_key_specific_bytes(&self) -> Option<[u8; 3]> {
        match self.format {
            SenseFormat::Fixed => self.bytes.get(15..18)?.try_into().ok(),
            SenseFormat::Descriptor => self.descriptors().find_map(|d| match d.decode() {
                SenseDescriptor::SenseKeySpecific(bytes) => Some(bytes),
                _ => None,
            }),
        }
    }

    /// The sense-key specific information interpreted for this sense key; `None` when absent
    /// or when SKSV is clear.
    pub fn sense_key_specific(&self) -> Option<SenseKeySpecific> {
        SenseKeySpecific::decode(self.key(), self.sense_key_specific_bytes()?)
    }

    /// The field pointer of an ILLEGAL REQUEST, when the device gave one.
    pub fn field_pointer(&self) -> Option<FieldPointer> {
        match self.sense_key_specific()? {
            SenseKeySpecific::FieldPointer(fp) => Some(fp),
            _ => None,
        }
    }

    /// The progress of a long operation, from the sense-key specific bytes (NOT READY,
    /// NO SENSE) or, in descriptor format, a progress indication descriptor (0Ah).
    pub fn progress(&self) -> Option<Progress> {
        if let Some(SenseKeySpecific::Progress(p)) = self.sense_key_specific() {
            return Some(p);
        }
        self.descriptors().find_map(|d| match d.decode() {
            SenseDescriptor::ProgressIndication { progress, .. } => Some(progress),
            _ => None,
        })
    }

    /// The sense data descriptors (descriptor format only; none for fixed format). The
    /// iteration stops at the end of the data; a descriptor cut short by it is yielded with
    /// [`RawDescriptor::is_truncated`] set, and is the last.
    pub fn descriptors(&self) -> Descriptors<'a> {
        let rest = match self.format {
            SenseFormat::Fixed => &[],
            SenseFormat::Descriptor => self.bytes.get(HEADER..).unwrap_or(&[]),
        };
        Descriptors { rest }
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.bytes.get(at).copied()
    }
}

impl fmt::Display for Sense<'_> {
    /// `UNIT ATTENTION: REGISTRATIONS PREEMPTED (asc 2Ah, ascq 05h)`, followed by the
    /// sense-key specific information, and by notes on deferred or truncated sense.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key().name())?;
        match self.additional_sense() {
            Some(a) => write!(f, ": {a} (asc {:02X}h, ascq {:02X}h)", a.asc, a.ascq)?,
            None => write!(
                f,
                " (no additional sense code: sense data ends after {} bytes)",
                self.bytes.len()
            )?,
        }
        if let Some(sks) = self.sense_key_specific() {
            write!(f, ", {sks}")?;
        }
        if self.is_deferred() {
            f.write_str(" [deferred error]")?;
        }
        if self.is_truncated() && self.asc().is_some() {
            f.write_str(" [truncated]")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// ASC / ASCQ names
// ---------------------------------------------------------------------------------------------

/// The name T10 gives an ASC/ASCQ pair, when it is in this crate's table (about 630 entries:
/// SPC, SBC and the codes common to all device types; tape-, optical- and printer-only codes
/// are mostly left out). Ranges such as 40h/NNh are not in the table; [`AscAscq`]'s
/// `Display` renders them.
pub fn asc_ascq_name(asc: u8, ascq: u8) -> Option<&'static str> {
    let key = u16::from_be_bytes([asc, ascq]);
    ASC_TABLE
        .binary_search_by_key(&key, |&(code, _)| code)
        .ok()
        .and_then(|i| ASC_TABLE.get(i))
        .map(|&(_, name)| name)
}

/// An ASC/ASCQ pair whose `Display` is its name: the table's name when there is one, else a
/// rendering of T10's ranges (`DIAGNOSTIC FAILURE ON COMPONENT 85h`,
/// `TAGGED OVERLAPPED COMMANDS (TASK TAG 2Ah)`), `VENDOR SPECIFIC` for ASC 80h-FFh and
/// `VENDOR SPECIFIC QUALIFIER 85h OF ASC 04h` for ASCQ 80h-FFh, and
/// `UNKNOWN ASC/ASCQ` otherwise. The codes themselves are not printed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct AscAscq {
    /// The ADDITIONAL SENSE CODE.
    pub asc: u8,
    /// The ADDITIONAL SENSE CODE QUALIFIER.
    pub ascq: u8,
}

impl AscAscq {
    /// The pair.
    pub const fn new(asc: u8, ascq: u8) -> Self {
        AscAscq { asc, ascq }
    }

    /// The table's name for the pair, see [`asc_ascq_name`].
    pub fn name(self) -> Option<&'static str> {
        asc_ascq_name(self.asc, self.ascq)
    }
}

impl fmt::Display for AscAscq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (asc, ascq) = (self.asc, self.ascq);
        if let Some(name) = self.name() {
            return f.write_str(name);
        }
        match asc {
            0x40 => write!(f, "DIAGNOSTIC FAILURE ON COMPONENT {ascq:02X}h"),
            0x41 => write!(f, "DATA PATH FAILURE ({ascq:02X}h)"),
            0x42 => write!(f, "POWER-ON OR SELF-TEST FAILURE ({ascq:02X}h)"),
            0x4d => write!(f, "TAGGED OVERLAPPED COMMANDS (TASK TAG {ascq:02X}h)"),
            0x70 => write!(
                f,
                "DECOMPRESSION EXCEPTION SHORT ALGORITHM ID OF {ascq:02X}h"
            ),
            0x80..=0xff => f.write_str("VENDOR SPECIFIC"),
            _ if ascq >= 0x80 => {
                write!(f, "VENDOR SPECIFIC QUALIFIER {ascq:02X}h OF ASC {asc:02X}h")
            }
            _ => f.write_str("UNKNOWN ASC/ASCQ"),
        }
    }
}
