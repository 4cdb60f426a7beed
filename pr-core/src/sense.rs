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

/// Iterator over the descriptors of descriptor-format sense data; see
/// [`Sense::descriptors`].
#[derive(Clone, Debug)]
pub struct Descriptors<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Descriptors<'a> {
    type Item = RawDescriptor<'a>;

    fn next(&mut self) -> Option<RawDescriptor<'a>> {
        let (&type_code, after_type) = self.rest.split_first()?;
        let Some((&len, body)) = after_type.split_first() else {
            self.rest = &[];
            return Some(RawDescriptor {
                type_code,
                additional_length: None,
                data: &[],
            });
        };
        match body.split_at_checked(usize::from(len)) {
            Some((data, rest)) => {
                self.rest = rest;
                Some(RawDescriptor {
                    type_code,
                    additional_length: Some(len),
                    data,
                })
            }
            None => {
                self.rest = &[];
                Some(RawDescriptor {
                    type_code,
                    additional_length: Some(len),
                    data: body,
                })
            }
        }
    }
}

/// One sense data descriptor as it is: type, additional length and the bytes after the
/// two-byte header.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RawDescriptor<'a> {
    type_code: u8,
    additional_length: Option<u8>,
    data: &'a [u8],
}

impl<'a> RawDescriptor<'a> {
    /// The DESCRIPTOR TYPE.
    pub fn type_code(&self) -> u8 {
        self.type_code
    }

    /// The ADDITIONAL LENGTH field, `None` when the data ended before it.
    pub fn additional_length(&self) -> Option<u8> {
        self.additional_length
    }

    /// The descriptor's bytes after its two-byte header (fewer than the additional length
    /// when truncated).
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Whether the sense data ended before this descriptor did.
    pub fn is_truncated(&self) -> bool {
        match self.additional_length {
            Some(len) => self.data.len() < usize::from(len),
            None => true,
        }
    }

    /// The descriptor decoded by type. A known type whose bytes are too few for its format
    /// decodes as [`SenseDescriptor::Other`].
    pub fn decode(&self) -> SenseDescriptor<'a> {
        self.decode_known().unwrap_or(SenseDescriptor::Other {
            type_code: self.type_code,
            data: self.data,
        })
    }

    fn decode_known(&self) -> Option<SenseDescriptor<'a>> {
        let d = self.data;
        Some(match self.type_code {
            0x00 => SenseDescriptor::Information {
                valid: d.first()? & 0x80 != 0,
                information: u64::from_be_bytes(d.get(2..10)?.try_into().ok()?),
            },
            0x01 => {
                SenseDescriptor::CommandSpecific(u64::from_be_bytes(d.get(2..10)?.try_into().ok()?))
            }
            0x02 => SenseDescriptor::SenseKeySpecific(d.get(0..3)?.try_into().ok()?),
            0x03 => SenseDescriptor::FieldReplaceableUnit(*d.get(1)?),
            0x0a => SenseDescriptor::ProgressIndication {
                key: SenseKey::from_nibble(*d.first()?),
                asc: *d.get(1)?,
                ascq: *d.get(2)?,
                progress: Progress(u16::from_be_bytes(d.get(4..6)?.try_into().ok()?)),
            },
            _ => return None,
        })
    }
}

/// A decoded sense data descriptor.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum SenseDescriptor<'a> {
    /// 00h information.
    Information {
        /// The VALID bit (SPC requires it set).
        valid: bool,
        /// The INFORMATION field.
        information: u64,
    },
    /// 01h command-specific information.
    CommandSpecific(u64),
    /// 02h sense-key specific: the three bytes, SKSV in bit 7 of the first (interpret with
    /// [`SenseKeySpecific::decode`]).
    SenseKeySpecific([u8; 3]),
    /// 03h field replaceable unit code.
    FieldReplaceableUnit(u8),
    /// 0Ah another progress indication (of an operation other than the one reported).
    ProgressIndication {
        /// The operation's sense key.
        key: SenseKey,
        /// Its ASC.
        asc: u8,
        /// Its ASCQ.
        ascq: u8,
        /// How far it has come.
        progress: Progress,
    },
    /// Any other type, or a known type with too few bytes.
    Other {
        /// The DESCRIPTOR TYPE.
        type_code: u8,
        /// The bytes after the two-byte header.
        data: &'a [u8],
    },
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

/// ASC/ASCQ names, sorted by `ASC << 8 | ASCQ`. Names as in T10's ASC/ASCQ assignments
/// (asc-num), typed for this crate; cross-checked against the tables in the Linux kernel
/// and sg3_utils.
static ASC_TABLE: &[(u16, &str)] = &[
    (0x0000, "NO ADDITIONAL SENSE INFORMATION"),
    (0x0001, "FILEMARK DETECTED"),
    (0x0002, "END-OF-PARTITION/MEDIUM DETECTED"),
    (0x0003, "SETMARK DETECTED"),
    (0x0004, "BEGINNING-OF-PARTITION/MEDIUM DETECTED"),
    (0x0005, "END-OF-DATA DETECTED"),
    (0x0006, "I/O PROCESS TERMINATED"),
    (0x0007, "PROGRAMMABLE EARLY WARNING DETECTED"),
    (0x0016, "OPERATION IN PROGRESS"),
    (0x0017, "CLEANING REQUESTED"),
    (0x0018, "ERASE OPERATION IN PROGRESS"),
    (0x0019, "LOCATE OPERATION IN PROGRESS"),
    (0x001A, "REWIND OPERATION IN PROGRESS"),
    (0x001B, "SET CAPACITY OPERATION IN PROGRESS"),
    (0x001C, "VERIFY OPERATION IN PROGRESS"),
    (0x001D, "ATA PASS THROUGH INFORMATION AVAILABLE"),
    (0x001E, "CONFLICTING SA CREATION REQUEST"),
    (
        0x001F,
        "LOGICAL UNIT TRANSITIONING TO ANOTHER POWER CONDITION",
    ),
    (0x0020, "EXTENDED COPY INFORMATION AVAILABLE"),
    (0x0021, "ATOMIC COMMAND ABORTED DUE TO ACA"),
    (0x0022, "DEFERRED MICROCODE IS PENDING"),
    (0x0100, "NO INDEX/SECTOR SIGNAL"),
    (0x0200, "NO SEEK COMPLETE"),
    (0x0300, "PERIPHERAL DEVICE WRITE FAULT"),
    (0x0301, "NO WRITE CURRENT"),
    (0x0302, "EXCESSIVE WRITE ERRORS"),
    (0x0400, "LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE"),
    (0x0401, "LOGICAL UNIT IS IN PROCESS OF BECOMING READY"),
    (
        0x0402,
        "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED",
    ),
    (
        0x0403,
        "LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED",
    ),
    (0x0404, "LOGICAL UNIT NOT READY, FORMAT IN PROGRESS"),
    (0x0405, "LOGICAL UNIT NOT READY, REBUILD IN PROGRESS"),
    (0x0406, "LOGICAL UNIT NOT READY, RECALCULATION IN PROGRESS"),
    (0x0407, "LOGICAL UNIT NOT READY, OPERATION IN PROGRESS"),
    (0x0408, "LOGICAL UNIT NOT READY, LONG WRITE IN PROGRESS"),
    (0x0409, "LOGICAL UNIT NOT READY, SELF-TEST IN PROGRESS"),
    (
        0x040A,
        "LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION",
    ),
    (
        0x040B,
        "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE",
    ),
    (
        0x040C,
        "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN UNAVAILABLE STATE",
    ),
    (0x040D, "LOGICAL UNIT NOT READY, STRUCTURE CHECK REQUIRED"),
    (
        0x040E,
        "LOGICAL UNIT NOT READY, SECURITY SESSION IN PROGRESS",
    ),
    (
        0x0410,
        "LOGICAL UNIT NOT READY, AUXILIARY MEMORY NOT ACCESSIBLE",
    ),
    (
        0x0411,
        "LOGICAL UNIT NOT READY, NOTIFY (ENABLE SPINUP) REQUIRED",
    ),
    (0x0412, "LOGICAL UNIT NOT READY, OFFLINE"),
    (0x0413, "LOGICAL UNIT NOT READY, SA CREATION IN PROGRESS"),
    (
        0x0414,
        "LOGICAL UNIT NOT READY, SPACE ALLOCATION IN PROGRESS",
    ),
    (0x0415, "LOGICAL UNIT NOT READY, ROBOTICS DISABLED"),
    (0x0416, "LOGICAL UNIT NOT READY, CONFIGURATION REQUIRED"),
    (0x0417, "LOGICAL UNIT NOT READY, CALIBRATION REQUIRED"),
    (0x0418, "LOGICAL UNIT NOT READY, A DOOR IS OPEN"),
    (
        0x0419,
        "LOGICAL UNIT NOT READY, OPERATING IN SEQUENTIAL MODE",
    ),
    (
        0x041A,
        "LOGICAL UNIT NOT READY, START STOP UNIT COMMAND IN PROGRESS",
    ),
    (0x041B, "LOGICAL UNIT NOT READY, SANITIZE IN PROGRESS"),
    (
        0x041C,
        "LOGICAL UNIT NOT READY, ADDITIONAL POWER USE NOT YET GRANTED",
    ),
    (0x041D, "LOGICAL UNIT NOT READY, CONFIGURATION IN PROGRESS"),
    (
        0x041E,
        "LOGICAL UNIT NOT READY, MICROCODE ACTIVATION REQUIRED",
    ),
    (
        0x041F,
        "LOGICAL UNIT NOT READY, MICROCODE DOWNLOAD REQUIRED",
    ),
    (
        0x0420,
        "LOGICAL UNIT NOT READY, LOGICAL UNIT RESET REQUIRED",
    ),
    (0x0421, "LOGICAL UNIT NOT READY, HARD RESET REQUIRED"),
    (0x0422, "LOGICAL UNIT NOT READY, POWER CYCLE REQUIRED"),
    (0x0423, "LOGICAL UNIT NOT READY, AFFILIATION REQUIRED"),
    (0x0424, "DEPOPULATION IN PROGRESS"),
    (0x0425, "DEPOPULATION RESTORATION IN PROGRESS"),
    (0x0500, "LOGICAL UNIT DOES NOT RESPOND TO SELECTION"),
    (0x0600, "NO REFERENCE POSITION FOUND"),
    (0x0700, "MULTIPLE PERIPHERAL DEVICES SELECTED"),
    (0x0800, "LOGICAL UNIT COMMUNICATION FAILURE"),
    (0x0801, "LOGICAL UNIT COMMUNICATION TIME-OUT"),
    (0x0802, "LOGICAL UNIT COMMUNICATION PARITY ERROR"),
    (
        0x0803,
        "LOGICAL UNIT COMMUNICATION CRC ERROR (ULTRA-DMA/32)",
    ),
    (0x0804, "UNREACHABLE COPY TARGET"),
    (0x0900, "TRACK FOLLOWING ERROR"),
    (0x0904, "HEAD SELECT FAULT"),
    (0x0A00, "ERROR LOG OVERFLOW"),
    (0x0B00, "WARNING"),
    (0x0B01, "WARNING - SPECIFIED TEMPERATURE EXCEEDED"),
    (0x0B02, "WARNING - ENCLOSURE DEGRADED"),
    (0x0B03, "WARNING - BACKGROUND SELF-TEST FAILED"),
    (
        0x0B04,
        "WARNING - BACKGROUND PRE-SCAN DETECTED MEDIUM ERROR",
    ),
    (
        0x0B05,
        "WARNING - BACKGROUND MEDIUM SCAN DETECTED MEDIUM ERROR",
    ),
    (0x0B06, "WARNING - NON-VOLATILE CACHE NOW VOLATILE"),
    (0x0B07, "WARNING - DEGRADED POWER TO NON-VOLATILE CACHE"),
    (0x0B08, "WARNING - POWER LOSS EXPECTED"),
    (0x0B09, "WARNING - DEVICE STATISTICS NOTIFICATION ACTIVE"),
    (0x0B0A, "WARNING - HIGH CRITICAL TEMPERATURE LIMIT EXCEEDED"),
    (0x0B0B, "WARNING - LOW CRITICAL TEMPERATURE LIMIT EXCEEDED"),
    (
        0x0B0C,
        "WARNING - HIGH OPERATING TEMPERATURE LIMIT EXCEEDED",
    ),
    (0x0B0D, "WARNING - LOW OPERATING TEMPERATURE LIMIT EXCEEDED"),
    (0x0B0E, "WARNING - HIGH CRITICAL HUMIDITY LIMIT EXCEEDED"),
    (0x0B0F, "WARNING - LOW CRITICAL HUMIDITY LIMIT EXCEEDED"),
    (0x0B10, "WARNING - HIGH OPERATING HUMIDITY LIMIT EXCEEDED"),
    (0x0B11, "WARNING - LOW OPERATING HUMIDITY LIMIT EXCEEDED"),
    (0x0B12, "WARNING - MICROCODE SECURITY AT RISK"),
    (
        0x0B13,
        "WARNING - MICROCODE DIGITAL SIGNATURE VALIDATION FAILURE",
    ),
    (0x0B14, "WARNING - PHYSICAL ELEMENT STATUS CHANGE"),
    (0x0C00, "WRITE ERROR"),
    (0x0C01, "WRITE ERROR - RECOVERED WITH AUTO REALLOCATION"),
    (0x0C02, "WRITE ERROR - AUTO REALLOCATION FAILED"),
    (0x0C03, "WRITE ERROR - RECOMMEND REASSIGNMENT"),
    (0x0C04, "COMPRESSION CHECK MISCOMPARE ERROR"),
    (0x0C05, "DATA EXPANSION OCCURRED DURING COMPRESSION"),
    (0x0C06, "BLOCK NOT COMPRESSIBLE"),
    (0x0C07, "WRITE ERROR - RECOVERY NEEDED"),
    (0x0C08, "WRITE ERROR - RECOVERY FAILED"),
    (0x0C09, "WRITE ERROR - LOSS OF STREAMING"),
    (0x0C0A, "WRITE ERROR - PADDING BLOCKS ADDED"),
    (0x0C0B, "AUXILIARY MEMORY WRITE ERROR"),
    (0x0C0C, "WRITE ERROR - UNEXPECTED UNSOLICITED DATA"),
    (0x0C0D, "WRITE ERROR - NOT ENOUGH UNSOLICITED DATA"),
    (0x0C0E, "MULTIPLE WRITE ERRORS"),
    (0x0C0F, "DEFECTS IN ERROR WINDOW"),
    (0x0C10, "INCOMPLETE MULTIPLE ATOMIC WRITE OPERATIONS"),
    (0x0C11, "WRITE ERROR - RECOVERY SCAN NEEDED"),
    (0x0C12, "WRITE ERROR - INSUFFICIENT ZONE RESOURCES"),
    (0x0D00, "ERROR DETECTED BY THIRD PARTY TEMPORARY INITIATOR"),
    (0x0D01, "THIRD PARTY DEVICE FAILURE"),
    (0x0D02, "COPY TARGET DEVICE NOT REACHABLE"),
    (0x0D03, "INCORRECT COPY TARGET DEVICE TYPE"),
    (0x0D04, "COPY TARGET DEVICE DATA UNDERRUN"),
    (0x0D05, "COPY TARGET DEVICE DATA OVERRUN"),
    (0x0E00, "INVALID INFORMATION UNIT"),
    (0x0E01, "INFORMATION UNIT TOO SHORT"),
    (0x0E02, "INFORMATION UNIT TOO LONG"),
    (0x0E03, "INVALID FIELD IN COMMAND INFORMATION UNIT"),
    (0x1000, "ID CRC OR ECC ERROR"),
    (0x1001, "LOGICAL BLOCK GUARD CHECK FAILED"),
    (0x1002, "LOGICAL BLOCK APPLICATION TAG CHECK FAILED"),
    (0x1003, "LOGICAL BLOCK REFERENCE TAG CHECK FAILED"),
    (
        0x1004,
        "LOGICAL BLOCK PROTECTION ERROR ON RECOVER BUFFERED DATA",
    ),
    (0x1005, "LOGICAL BLOCK PROTECTION METHOD ERROR"),
    (0x1100, "UNRECOVERED READ ERROR"),
    (0x1101, "READ RETRIES EXHAUSTED"),
    (0x1102, "ERROR TOO LONG TO CORRECT"),
    (0x1103, "MULTIPLE READ ERRORS"),
    (0x1104, "UNRECOVERED READ ERROR - AUTO REALLOCATE FAILED"),
    (0x1107, "DATA RE-SYNCHRONIZATION ERROR"),
    (0x1108, "INCOMPLETE BLOCK READ"),
    (0x1109, "NO GAP FOUND"),
    (0x110A, "MISCORRECTED ERROR"),
    (0x110B, "UNRECOVERED READ ERROR - RECOMMEND REASSIGNMENT"),
    (
        0x110C,
        "UNRECOVERED READ ERROR - RECOMMEND REWRITE THE DATA",
    ),
    (0x110D, "DE-COMPRESSION CRC ERROR"),
    (0x110E, "CANNOT DECOMPRESS USING DECLARED ALGORITHM"),
    (0x1111, "READ ERROR - LOSS OF STREAMING"),
    (0x1112, "AUXILIARY MEMORY READ ERROR"),
    (0x1113, "READ ERROR - FAILED RETRANSMISSION REQUEST"),
    (0x1114, "READ ERROR - LBA MARKED BAD BY APPLICATION CLIENT"),
    (0x1115, "WRITE AFTER SANITIZE REQUIRED"),
    (0x1200, "ADDRESS MARK NOT FOUND FOR ID FIELD"),
    (0x1300, "ADDRESS MARK NOT FOUND FOR DATA FIELD"),
    (0x1400, "RECORDED ENTITY NOT FOUND"),
    (0x1401, "RECORD NOT FOUND"),
    (0x1402, "FILEMARK OR SETMARK NOT FOUND"),
    (0x1403, "END-OF-DATA NOT FOUND"),
    (0x1404, "BLOCK SEQUENCE ERROR"),
    (0x1405, "RECORD NOT FOUND - RECOMMEND REASSIGNMENT"),
    (0x1406, "RECORD NOT FOUND - DATA AUTO-REALLOCATED"),
    (0x1407, "LOCATE OPERATION FAILURE"),
    (0x1500, "RANDOM POSITIONING ERROR"),
    (0x1501, "MECHANICAL POSITIONING ERROR"),
    (0x1502, "POSITIONING ERROR DETECTED BY READ OF MEDIUM"),
    (0x1600, "DATA SYNCHRONIZATION MARK ERROR"),
    (0x1601, "DATA SYNC ERROR - DATA REWRITTEN"),
    (0x1602, "DATA SYNC ERROR - RECOMMEND REWRITE"),
    (0x1603, "DATA SYNC ERROR - DATA AUTO-REALLOCATED"),
    (0x1604, "DATA SYNC ERROR - RECOMMEND REASSIGNMENT"),
    (0x1700, "RECOVERED DATA WITH NO ERROR CORRECTION APPLIED"),
    (0x1701, "RECOVERED DATA WITH RETRIES"),
    (0x1702, "RECOVERED DATA WITH POSITIVE HEAD OFFSET"),
    (0x1703, "RECOVERED DATA WITH NEGATIVE HEAD OFFSET"),
    (0x1704, "RECOVERED DATA WITH RETRIES AND/OR CIRC APPLIED"),
    (0x1705, "RECOVERED DATA USING PREVIOUS SECTOR ID"),
    (0x1706, "RECOVERED DATA WITHOUT ECC - DATA AUTO-REALLOCATED"),
    (
        0x1707,
        "RECOVERED DATA WITHOUT ECC - RECOMMEND REASSIGNMENT",
    ),
    (0x1708, "RECOVERED DATA WITHOUT ECC - RECOMMEND REWRITE"),
    (0x1709, "RECOVERED DATA WITHOUT ECC - DATA REWRITTEN"),
    (0x1800, "RECOVERED DATA WITH ERROR CORRECTION APPLIED"),
    (0x1801, "RECOVERED DATA WITH ERROR CORR. & RETRIES APPLIED"),
    (0x1802, "RECOVERED DATA - DATA AUTO-REALLOCATED"),
    (0x1805, "RECOVERED DATA - RECOMMEND REASSIGNMENT"),
    (0x1806, "RECOVERED DATA - RECOMMEND REWRITE"),
    (0x1807, "RECOVERED DATA WITH ECC - DATA REWRITTEN"),
    (0x1900, "DEFECT LIST ERROR"),
    (0x1901, "DEFECT LIST NOT AVAILABLE"),
    (0x1902, "DEFECT LIST ERROR IN PRIMARY LIST"),
    (0x1903, "DEFECT LIST ERROR IN GROWN LIST"),
    (0x1A00, "PARAMETER LIST LENGTH ERROR"),
    (0x1B00, "SYNCHRONOUS DATA TRANSFER ERROR"),
    (0x1C00, "DEFECT LIST NOT FOUND"),
    (0x1C01, "PRIMARY DEFECT LIST NOT FOUND"),
    (0x1C02, "GROWN DEFECT LIST NOT FOUND"),
    (0x1D00, "MISCOMPARE DURING VERIFY OPERATION"),
    (0x1D01, "MISCOMPARE VERIFY OF UNMAPPED LBA"),
    (0x1E00, "RECOVERED ID WITH ECC CORRECTION"),
    (0x1F00, "PARTIAL DEFECT LIST TRANSFER"),
    (0x2000, "INVALID COMMAND OPERATION CODE"),
    (0x2001, "ACCESS DENIED - INITIATOR PENDING-ENROLLED"),
    (0x2002, "ACCESS DENIED - NO ACCESS RIGHTS"),
    (0x2003, "ACCESS DENIED - INVALID MGMT ID KEY"),
    (0x2004, "ILLEGAL COMMAND WHILE IN WRITE CAPABLE STATE"),
    (0x2005, "OBSOLETE"),
    (0x2006, "ILLEGAL COMMAND WHILE IN EXPLICIT ADDRESS MODE"),
    (0x2007, "ILLEGAL COMMAND WHILE IN IMPLICIT ADDRESS MODE"),
    (0x2008, "ACCESS DENIED - ENROLLMENT CONFLICT"),
    (0x2009, "ACCESS DENIED - INVALID LU IDENTIFIER"),
    (0x200A, "ACCESS DENIED - INVALID PROXY TOKEN"),
    (0x200B, "ACCESS DENIED - ACL LUN CONFLICT"),
    (0x200C, "ILLEGAL COMMAND WHEN NOT IN APPEND-ONLY MODE"),
    (0x200D, "NOT AN ADMINISTRATIVE LOGICAL UNIT"),
    (0x200E, "NOT A SUBSIDIARY LOGICAL UNIT"),
    (0x200F, "NOT A CONGLOMERATE LOGICAL UNIT"),
    (0x2100, "LOGICAL BLOCK ADDRESS OUT OF RANGE"),
    (0x2101, "INVALID ELEMENT ADDRESS"),
    (0x2102, "INVALID ADDRESS FOR WRITE"),
    (0x2103, "INVALID WRITE CROSSING LAYER JUMP"),
    (0x2104, "UNALIGNED WRITE COMMAND"),
    (0x2105, "WRITE BOUNDARY VIOLATION"),
    (0x2106, "ATTEMPT TO READ INVALID DATA"),
    (0x2107, "READ BOUNDARY VIOLATION"),
    (0x2108, "MISALIGNED WRITE COMMAND"),
    (0x2109, "ATTEMPT TO ACCESS GAP ZONE"),
    (0x2200, "ILLEGAL FUNCTION (USE 20 00, 24 00, OR 26 00)"),
    (0x2300, "INVALID TOKEN OPERATION, CAUSE NOT REPORTABLE"),
    (0x2301, "INVALID TOKEN OPERATION, UNSUPPORTED TOKEN TYPE"),
    (
        0x2302,
        "INVALID TOKEN OPERATION, REMOTE TOKEN USAGE NOT SUPPORTED",
    ),
    (
        0x2303,
        "INVALID TOKEN OPERATION, REMOTE ROD TOKEN CREATION NOT SUPPORTED",
    ),
    (0x2304, "INVALID TOKEN OPERATION, TOKEN UNKNOWN"),
    (0x2305, "INVALID TOKEN OPERATION, TOKEN CORRUPT"),
    (0x2306, "INVALID TOKEN OPERATION, TOKEN REVOKED"),
    (0x2307, "INVALID TOKEN OPERATION, TOKEN EXPIRED"),
    (0x2308, "INVALID TOKEN OPERATION, TOKEN CANCELLED"),
    (0x2309, "INVALID TOKEN OPERATION, TOKEN DELETED"),
    (0x230A, "INVALID TOKEN OPERATION, INVALID TOKEN LENGTH"),
    (0x2400, "INVALID FIELD IN CDB"),
    (0x2401, "CDB DECRYPTION ERROR"),
    (0x2402, "OBSOLETE"),
    (0x2403, "OBSOLETE"),
    (0x2404, "SECURITY AUDIT VALUE FROZEN"),
    (0x2405, "SECURITY WORKING KEY FROZEN"),
    (0x2406, "NONCE NOT UNIQUE"),
    (0x2407, "NONCE TIMESTAMP OUT OF RANGE"),
    (0x2408, "INVALID XCDB"),
    (0x2409, "INVALID FAST FORMAT"),
    (0x2500, "LOGICAL UNIT NOT SUPPORTED"),
    (0x2600, "INVALID FIELD IN PARAMETER LIST"),
    (0x2601, "PARAMETER NOT SUPPORTED"),
    (0x2602, "PARAMETER VALUE INVALID"),
    (0x2603, "THRESHOLD PARAMETERS NOT SUPPORTED"),
    (0x2604, "INVALID RELEASE OF PERSISTENT RESERVATION"),
    (0x2605, "DATA DECRYPTION ERROR"),
    (0x2606, "TOO MANY TARGET DESCRIPTORS"),
    (0x2607, "UNSUPPORTED TARGET DESCRIPTOR TYPE CODE"),
    (0x2608, "TOO MANY SEGMENT DESCRIPTORS"),
    (0x2609, "UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE"),
    (0x260A, "UNEXPECTED INEXACT SEGMENT"),
    (0x260B, "INLINE DATA LENGTH EXCEEDED"),
    (0x260C, "INVALID OPERATION FOR COPY SOURCE OR DESTINATION"),
    (0x260D, "COPY SEGMENT GRANULARITY VIOLATION"),
    (0x260E, "INVALID PARAMETER WHILE PORT IS ENABLED"),
    (0x260F, "INVALID DATA-OUT BUFFER INTEGRITY CHECK VALUE"),
    (0x2610, "DATA DECRYPTION KEY FAIL LIMIT REACHED"),
    (0x2611, "INCOMPLETE KEY-ASSOCIATED DATA SET"),
    (0x2612, "VENDOR SPECIFIC KEY REFERENCE NOT FOUND"),
    (0x2613, "APPLICATION TAG MODE PAGE IS INVALID"),
    (0x2614, "TAPE STREAM MIRRORING PREVENTED"),
    (0x2615, "COPY SOURCE OR COPY DESTINATION NOT AUTHORIZED"),
    (0x2616, "FAST COPY NOT POSSIBLE"),
    (0x2700, "WRITE PROTECTED"),
    (0x2701, "HARDWARE WRITE PROTECTED"),
    (0x2702, "LOGICAL UNIT SOFTWARE WRITE PROTECTED"),
    (0x2703, "ASSOCIATED WRITE PROTECT"),
    (0x2704, "PERSISTENT WRITE PROTECT"),
    (0x2705, "PERMANENT WRITE PROTECT"),
    (0x2706, "CONDITIONAL WRITE PROTECT"),
    (0x2707, "SPACE ALLOCATION FAILED WRITE PROTECT"),
    (0x2708, "ZONE IS READ ONLY"),
    (0x2800, "NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED"),
    (0x2801, "IMPORT OR EXPORT ELEMENT ACCESSED"),
    (0x2802, "FORMAT-LAYER MAY HAVE CHANGED"),
    (0x2803, "IMPORT/EXPORT ELEMENT ACCESSED, MEDIUM CHANGED"),
    (0x2900, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED"),
    (0x2901, "POWER ON OCCURRED"),
    (0x2902, "SCSI BUS RESET OCCURRED"),
    (0x2903, "BUS DEVICE RESET FUNCTION OCCURRED"),
    (0x2904, "DEVICE INTERNAL RESET"),
    (0x2905, "TRANSCEIVER MODE CHANGED TO SINGLE-ENDED"),
    (0x2906, "TRANSCEIVER MODE CHANGED TO LVD"),
    (0x2907, "I_T NEXUS LOSS OCCURRED"),
    (0x2A00, "PARAMETERS CHANGED"),
    (0x2A01, "MODE PARAMETERS CHANGED"),
    (0x2A02, "LOG PARAMETERS CHANGED"),
    (0x2A03, "RESERVATIONS PREEMPTED"),
    (0x2A04, "RESERVATIONS RELEASED"),
    (0x2A05, "REGISTRATIONS PREEMPTED"),
    (0x2A06, "ASYMMETRIC ACCESS STATE CHANGED"),
    (0x2A07, "IMPLICIT ASYMMETRIC ACCESS STATE TRANSITION FAILED"),
    (0x2A08, "PRIORITY CHANGED"),
    (0x2A09, "CAPACITY DATA HAS CHANGED"),
    (0x2A0A, "ERROR HISTORY I_T NEXUS CLEARED"),
    (0x2A0B, "ERROR HISTORY SNAPSHOT RELEASED"),
    (0x2A0C, "ERROR RECOVERY ATTRIBUTES HAVE CHANGED"),
    (0x2A0D, "DATA ENCRYPTION CAPABILITIES CHANGED"),
    (0x2A10, "TIMESTAMP CHANGED"),
    (
        0x2A11,
        "DATA ENCRYPTION PARAMETERS CHANGED BY ANOTHER I_T NEXUS",
    ),
    (
        0x2A12,
        "DATA ENCRYPTION PARAMETERS CHANGED BY VENDOR SPECIFIC EVENT",
    ),
    (0x2A13, "DATA ENCRYPTION KEY INSTANCE COUNTER HAS CHANGED"),
    (0x2A14, "SA CREATION CAPABILITIES DATA HAS CHANGED"),
    (0x2A15, "MEDIUM REMOVAL PREVENTION PREEMPTED"),
    (0x2A16, "ZONE RESET WRITE POINTER RECOMMENDED"),
    (0x2B00, "COPY CANNOT EXECUTE SINCE HOST CANNOT DISCONNECT"),
    (0x2C00, "COMMAND SEQUENCE ERROR"),
    (0x2C01, "TOO MANY WINDOWS SPECIFIED"),
    (0x2C02, "INVALID COMBINATION OF WINDOWS SPECIFIED"),
    (0x2C03, "CURRENT PROGRAM AREA IS NOT EMPTY"),
    (0x2C04, "CURRENT PROGRAM AREA IS EMPTY"),
    (0x2C05, "ILLEGAL POWER CONDITION REQUEST"),
    (0x2C06, "PERSISTENT PREVENT CONFLICT"),
    (0x2C07, "PREVIOUS BUSY STATUS"),
    (0x2C08, "PREVIOUS TASK SET FULL STATUS"),
    (0x2C09, "PREVIOUS RESERVATION CONFLICT STATUS"),
    (0x2C0A, "PARTITION OR COLLECTION CONTAINS USER OBJECTS"),
    (0x2C0B, "NOT RESERVED"),
    (0x2C0C, "ORWRITE GENERATION DOES NOT MATCH"),
    (0x2C0D, "RESET WRITE POINTER NOT ALLOWED"),
    (0x2C0E, "ZONE IS OFFLINE"),
    (0x2C0F, "STREAM NOT OPEN"),
    (0x2C10, "UNWRITTEN DATA IN ZONE"),
    (0x2C11, "DESCRIPTOR FORMAT SENSE DATA REQUIRED"),
    (0x2C12, "ZONE IS INACTIVE"),
    (0x2C13, "WELL KNOWN LOGICAL UNIT ACCESS REQUIRED"),
    (0x2D00, "OVERWRITE ERROR ON UPDATE IN PLACE"),
    (0x2E00, "INSUFFICIENT TIME FOR OPERATION"),
    (0x2E01, "COMMAND TIMEOUT BEFORE PROCESSING"),
    (0x2E02, "COMMAND TIMEOUT DURING PROCESSING"),
    (
        0x2E03,
        "COMMAND TIMEOUT DURING PROCESSING DUE TO ERROR RECOVERY",
    ),
    (0x2F00, "COMMANDS CLEARED BY ANOTHER INITIATOR"),
    (0x2F01, "COMMANDS CLEARED BY POWER LOSS NOTIFICATION"),
    (0x2F02, "COMMANDS CLEARED BY DEVICE SERVER"),
    (0x2F03, "SOME COMMANDS CLEARED BY QUEUING LAYER EVENT"),
    (0x3000, "INCOMPATIBLE MEDIUM INSTALLED"),
    (0x3001, "CANNOT READ MEDIUM - UNKNOWN FORMAT"),
    (0x3002, "CANNOT READ MEDIUM - INCOMPATIBLE FORMAT"),
    (0x3003, "CLEANING CARTRIDGE INSTALLED"),
    (0x3004, "CANNOT WRITE MEDIUM - UNKNOWN FORMAT"),
    (0x3005, "CANNOT WRITE MEDIUM - INCOMPATIBLE FORMAT"),
    (0x3006, "CANNOT FORMAT MEDIUM - INCOMPATIBLE MEDIUM"),
    (0x3007, "CLEANING FAILURE"),
    (0x3010, "MEDIUM NOT FORMATTED"),
    (0x3100, "MEDIUM FORMAT CORRUPTED"),
    (0x3101, "FORMAT COMMAND FAILED"),
    (0x3102, "ZONED FORMATTING FAILED DUE TO SPARE LINKING"),
    (0x3103, "SANITIZE COMMAND FAILED"),
    (0x3104, "DEPOPULATION FAILED"),
    (0x3105, "DEPOPULATION RESTORATION FAILED"),
    (0x3200, "NO DEFECT SPARE LOCATION AVAILABLE"),
    (0x3201, "DEFECT LIST UPDATE FAILURE"),
    (0x3300, "TAPE LENGTH ERROR"),
    (0x3400, "ENCLOSURE FAILURE"),
    (0x3500, "ENCLOSURE SERVICES FAILURE"),
    (0x3501, "UNSUPPORTED ENCLOSURE FUNCTION"),
    (0x3502, "ENCLOSURE SERVICES UNAVAILABLE"),
    (0x3503, "ENCLOSURE SERVICES TRANSFER FAILURE"),
    (0x3504, "ENCLOSURE SERVICES TRANSFER REFUSED"),
    (0x3505, "ENCLOSURE SERVICES CHECKSUM ERROR"),
    (0x3700, "ROUNDED PARAMETER"),
    (0x3800, "EVENT STATUS NOTIFICATION"),
    (0x3802, "ESN - POWER MANAGEMENT CLASS EVENT"),
    (0x3804, "ESN - MEDIA CLASS EVENT"),
    (0x3806, "ESN - DEVICE BUSY CLASS EVENT"),
    (0x3807, "THIN PROVISIONING SOFT THRESHOLD REACHED"),
    (0x3808, "DEPOPULATION INTERRUPTED"),
    (0x3900, "SAVING PARAMETERS NOT SUPPORTED"),
    (0x3A00, "MEDIUM NOT PRESENT"),
    (0x3A01, "MEDIUM NOT PRESENT - TRAY CLOSED"),
    (0x3A02, "MEDIUM NOT PRESENT - TRAY OPEN"),
    (0x3A03, "MEDIUM NOT PRESENT - LOADABLE"),
    (
        0x3A04,
        "MEDIUM NOT PRESENT - MEDIUM AUXILIARY MEMORY ACCESSIBLE",
    ),
    (0x3B00, "SEQUENTIAL POSITIONING ERROR"),
    (0x3B0D, "MEDIUM DESTINATION ELEMENT FULL"),
    (0x3B0E, "MEDIUM SOURCE ELEMENT EMPTY"),
    (0x3B0F, "END OF MEDIUM REACHED"),
    (0x3B11, "MEDIUM MAGAZINE NOT ACCESSIBLE"),
    (0x3B12, "MEDIUM MAGAZINE REMOVED"),
    (0x3B13, "MEDIUM MAGAZINE INSERTED"),
    (0x3B14, "MEDIUM MAGAZINE LOCKED"),
    (0x3B15, "MEDIUM MAGAZINE UNLOCKED"),
    (0x3B16, "MECHANICAL POSITIONING OR CHANGER ERROR"),
    (0x3D00, "INVALID BITS IN IDENTIFY MESSAGE"),
    (0x3E00, "LOGICAL UNIT HAS NOT SELF-CONFIGURED YET"),
    (0x3E01, "LOGICAL UNIT FAILURE"),
    (0x3E02, "TIMEOUT ON LOGICAL UNIT"),
    (0x3E03, "LOGICAL UNIT FAILED SELF-TEST"),
    (0x3E04, "LOGICAL UNIT UNABLE TO UPDATE SELF-TEST LOG"),
    (0x3F00, "TARGET OPERATING CONDITIONS HAVE CHANGED"),
    (0x3F01, "MICROCODE HAS BEEN CHANGED"),
    (0x3F02, "CHANGED OPERATING DEFINITION"),
    (0x3F03, "INQUIRY DATA HAS CHANGED"),
    (0x3F04, "COMPONENT DEVICE ATTACHED"),
    (0x3F05, "DEVICE IDENTIFIER CHANGED"),
    (0x3F06, "REDUNDANCY GROUP CREATED OR MODIFIED"),
    (0x3F07, "REDUNDANCY GROUP DELETED"),
    (0x3F08, "SPARE CREATED OR MODIFIED"),
    (0x3F09, "SPARE DELETED"),
    (0x3F0A, "VOLUME SET CREATED OR MODIFIED"),
    (0x3F0B, "VOLUME SET DELETED"),
    (0x3F0C, "VOLUME SET DEASSIGNED"),
    (0x3F0D, "VOLUME SET REASSIGNED"),
    (0x3F0E, "REPORTED LUNS DATA HAS CHANGED"),
    (0x3F0F, "ECHO BUFFER OVERWRITTEN"),
    (0x3F10, "MEDIUM LOADABLE"),
    (0x3F11, "MEDIUM AUXILIARY MEMORY ACCESSIBLE"),
    (0x3F12, "ISCSI IP ADDRESS ADDED"),
    (0x3F13, "ISCSI IP ADDRESS REMOVED"),
    (0x3F14, "ISCSI IP ADDRESS CHANGED"),
    (0x3F15, "INSPECT REFERRALS SENSE DESCRIPTORS"),
    (0x3F16, "MICROCODE HAS BEEN CHANGED WITHOUT RESET"),
    (0x3F17, "ZONE TRANSITION TO FULL"),
    (0x3F18, "BIND COMPLETED"),
    (0x3F19, "BIND REDIRECTED"),
    (0x3F1A, "SUBSIDIARY BINDING CHANGED"),
    (0x4000, "RAM FAILURE (SHOULD USE 40 NN)"),
    (0x4100, "DATA PATH FAILURE (SHOULD USE 40 NN)"),
    (0x4200, "POWER-ON OR SELF-TEST FAILURE (SHOULD USE 40 NN)"),
    (0x4300, "MESSAGE ERROR"),
    (0x4400, "INTERNAL TARGET FAILURE"),
    (0x4401, "PERSISTENT RESERVATION INFORMATION LOST"),
    (0x4471, "ATA DEVICE FAILED SET FEATURES"),
    (0x4500, "SELECT OR RESELECT FAILURE"),
    (0x4600, "UNSUCCESSFUL SOFT RESET"),
    (0x4700, "SCSI PARITY ERROR"),
    (0x4701, "DATA PHASE CRC ERROR DETECTED"),
    (0x4702, "SCSI PARITY ERROR DETECTED DURING ST DATA PHASE"),
    (0x4703, "INFORMATION UNIT IUCRC ERROR DETECTED"),
    (0x4704, "ASYNCHRONOUS INFORMATION PROTECTION ERROR DETECTED"),
    (0x4705, "PROTOCOL SERVICE CRC ERROR"),
    (0x4706, "PHY TEST FUNCTION IN PROGRESS"),
    (0x477F, "SOME COMMANDS CLEARED BY ISCSI PROTOCOL EVENT"),
    (0x4800, "INITIATOR DETECTED ERROR MESSAGE RECEIVED"),
    (0x4900, "INVALID MESSAGE ERROR"),
    (0x4A00, "COMMAND PHASE ERROR"),
    (0x4B00, "DATA PHASE ERROR"),
    (0x4B01, "INVALID TARGET PORT TRANSFER TAG RECEIVED"),
    (0x4B02, "TOO MUCH WRITE DATA"),
    (0x4B03, "ACK/NAK TIMEOUT"),
    (0x4B04, "NAK RECEIVED"),
    (0x4B05, "DATA OFFSET ERROR"),
    (0x4B06, "INITIATOR RESPONSE TIMEOUT"),
    (0x4B07, "CONNECTION LOST"),
    (0x4B08, "DATA-IN BUFFER OVERFLOW - DATA BUFFER SIZE"),
    (
        0x4B09,
        "DATA-IN BUFFER OVERFLOW - DATA BUFFER DESCRIPTOR AREA",
    ),
    (0x4B0A, "DATA-IN BUFFER ERROR"),
    (0x4B0B, "DATA-OUT BUFFER OVERFLOW - DATA BUFFER SIZE"),
    (
        0x4B0C,
        "DATA-OUT BUFFER OVERFLOW - DATA BUFFER DESCRIPTOR AREA",
    ),
    (0x4B0D, "DATA-OUT BUFFER ERROR"),
    (0x4B0E, "PCIE FABRIC ERROR"),
    (0x4B0F, "PCIE COMPLETION TIMEOUT"),
    (0x4B10, "PCIE COMPLETER ABORT"),
    (0x4B11, "PCIE POISONED TLP RECEIVED"),
    (0x4B12, "PCIE ECRC CHECK FAILED"),
    (0x4B13, "PCIE UNSUPPORTED REQUEST"),
    (0x4B14, "PCIE ACS VIOLATION"),
    (0x4B15, "PCIE TLP PREFIX BLOCKED"),
    (0x4C00, "LOGICAL UNIT FAILED SELF-CONFIGURATION"),
    (0x4E00, "OVERLAPPED COMMANDS ATTEMPTED"),
    (0x5300, "MEDIA LOAD OR EJECT FAILED"),
    (0x5302, "MEDIUM REMOVAL PREVENTED"),
    (0x5400, "SCSI TO HOST SYSTEM INTERFACE FAILURE"),
    (0x5500, "SYSTEM RESOURCE FAILURE"),
    (0x5501, "SYSTEM BUFFER FULL"),
    (0x5502, "INSUFFICIENT RESERVATION RESOURCES"),
    (0x5503, "INSUFFICIENT RESOURCES"),
    (0x5504, "INSUFFICIENT REGISTRATION RESOURCES"),
    (0x5505, "INSUFFICIENT ACCESS CONTROL RESOURCES"),
    (0x5506, "AUXILIARY MEMORY OUT OF SPACE"),
    (0x5507, "QUOTA ERROR"),
    (
        0x5508,
        "MAXIMUM NUMBER OF SUPPLEMENTAL DECRYPTION KEYS EXCEEDED",
    ),
    (0x5509, "MEDIUM AUXILIARY MEMORY NOT ACCESSIBLE"),
    (0x550A, "DATA CURRENTLY UNAVAILABLE"),
    (0x550B, "INSUFFICIENT POWER FOR OPERATION"),
    (0x550C, "INSUFFICIENT RESOURCES TO CREATE ROD"),
    (0x550D, "INSUFFICIENT RESOURCES TO CREATE ROD TOKEN"),
    (0x550E, "INSUFFICIENT ZONE RESOURCES"),
    (0x550F, "INSUFFICIENT ZONE RESOURCES TO COMPLETE WRITE"),
    (0x5510, "MAXIMUM NUMBER OF STREAMS OPEN"),
    (0x5511, "INSUFFICIENT RESOURCES TO BIND"),
    (0x5A00, "OPERATOR REQUEST OR STATE CHANGE INPUT"),
    (0x5A01, "OPERATOR MEDIUM REMOVAL REQUEST"),
    (0x5A02, "OPERATOR SELECTED WRITE PROTECT"),
    (0x5A03, "OPERATOR SELECTED WRITE PERMIT"),
    (0x5B00, "LOG EXCEPTION"),
    (0x5B01, "THRESHOLD CONDITION MET"),
    (0x5B02, "LOG COUNTER AT MAXIMUM"),
    (0x5B03, "LOG LIST CODES EXHAUSTED"),
    (0x5C00, "RPL STATUS CHANGE"),
    (0x5C01, "SPINDLES SYNCHRONIZED"),
    (0x5C02, "SPINDLES NOT SYNCHRONIZED"),
    (0x5D00, "FAILURE PREDICTION THRESHOLD EXCEEDED"),
    (0x5D01, "MEDIA FAILURE PREDICTION THRESHOLD EXCEEDED"),
    (0x5D02, "LOGICAL UNIT FAILURE PREDICTION THRESHOLD EXCEEDED"),
    (
        0x5D03,
        "SPARE AREA EXHAUSTION PREDICTION THRESHOLD EXCEEDED",
    ),
    (
        0x5D10,
        "HARDWARE IMPENDING FAILURE GENERAL HARD DRIVE FAILURE",
    ),
    (
        0x5D11,
        "HARDWARE IMPENDING FAILURE DRIVE ERROR RATE TOO HIGH",
    ),
    (
        0x5D12,
        "HARDWARE IMPENDING FAILURE DATA ERROR RATE TOO HIGH",
    ),
    (
        0x5D13,
        "HARDWARE IMPENDING FAILURE SEEK ERROR RATE TOO HIGH",
    ),
    (
        0x5D14,
        "HARDWARE IMPENDING FAILURE TOO MANY BLOCK REASSIGNS",
    ),
    (0x5D15, "HARDWARE IMPENDING FAILURE ACCESS TIMES TOO HIGH"),
    (
        0x5D16,
        "HARDWARE IMPENDING FAILURE START UNIT TIMES TOO HIGH",
    ),
    (0x5D17, "HARDWARE IMPENDING FAILURE CHANNEL PARAMETRICS"),
    (0x5D18, "HARDWARE IMPENDING FAILURE CONTROLLER DETECTED"),
    (0x5D19, "HARDWARE IMPENDING FAILURE THROUGHPUT PERFORMANCE"),
    (0x5D1A, "HARDWARE IMPENDING FAILURE SEEK TIME PERFORMANCE"),
    (0x5D1B, "HARDWARE IMPENDING FAILURE SPIN-UP RETRY COUNT"),
    (
        0x5D1C,
        "HARDWARE IMPENDING FAILURE DRIVE CALIBRATION RETRY COUNT",
    ),
    (
        0x5D20,
        "CONTROLLER IMPENDING FAILURE GENERAL HARD DRIVE FAILURE",
    ),
    (
        0x5D21,
        "CONTROLLER IMPENDING FAILURE DRIVE ERROR RATE TOO HIGH",
    ),
    (
        0x5D22,
        "CONTROLLER IMPENDING FAILURE DATA ERROR RATE TOO HIGH",
    ),
    (
        0x5D23,
        "CONTROLLER IMPENDING FAILURE SEEK ERROR RATE TOO HIGH",
    ),
    (
        0x5D24,
        "CONTROLLER IMPENDING FAILURE TOO MANY BLOCK REASSIGNS",
    ),
    (0x5D25, "CONTROLLER IMPENDING FAILURE ACCESS TIMES TOO HIGH"),
    (
        0x5D26,
        "CONTROLLER IMPENDING FAILURE START UNIT TIMES TOO HIGH",
    ),
    (0x5D27, "CONTROLLER IMPENDING FAILURE CHANNEL PARAMETRICS"),
    (0x5D28, "CONTROLLER IMPENDING FAILURE CONTROLLER DETECTED"),
    (
        0x5D29,
        "CONTROLLER IMPENDING FAILURE THROUGHPUT PERFORMANCE",
    ),
    (0x5D2A, "CONTROLLER IMPENDING FAILURE SEEK TIME PERFORMANCE"),
    (0x5D2B, "CONTROLLER IMPENDING FAILURE SPIN-UP RETRY COUNT"),
    (
        0x5D2C,
        "CONTROLLER IMPENDING FAILURE DRIVE CALIBRATION RETRY COUNT",
    ),
    (
        0x5D30,
        "DATA CHANNEL IMPENDING FAILURE GENERAL HARD DRIVE FAILURE",
    ),
    (
        0x5D31,
        "DATA CHANNEL IMPENDING FAILURE DRIVE ERROR RATE TOO HIGH",
    ),
    (
        0x5D32,
        "DATA CHANNEL IMPENDING FAILURE DATA ERROR RATE TOO HIGH",
    ),
    (
        0x5D33,
        "DATA CHANNEL IMPENDING FAILURE SEEK ERROR RATE TOO HIGH",
    ),
    (
        0x5D34,
        "DATA CHANNEL IMPENDING FAILURE TOO MANY BLOCK REASSIGNS",
    ),
    (
        0x5D35,
        "DATA CHANNEL IMPENDING FAILURE ACCESS TIMES TOO HIGH",
    ),
    (
        0x5D36,
        "DATA CHANNEL IMPENDING FAILURE START UNIT TIMES TOO HIGH",
    ),
    (0x5D37, "DATA CHANNEL IMPENDING FAILURE CHANNEL PARAMETRICS"),
    (0x5D38, "DATA CHANNEL IMPENDING FAILURE CONTROLLER DETECTED"),
    (
        0x5D39,
        "DATA CHANNEL IMPENDING FAILURE THROUGHPUT PERFORMANCE",
    ),
    (
        0x5D3A,
        "DATA CHANNEL IMPENDING FAILURE SEEK TIME PERFORMANCE",
    ),
    (0x5D3B, "DATA CHANNEL IMPENDING FAILURE SPIN-UP RETRY COUNT"),
    (
        0x5D3C,
        "DATA CHANNEL IMPENDING FAILURE DRIVE CALIBRATION RETRY COUNT",
    ),
    (0x5D40, "SERVO IMPENDING FAILURE GENERAL HARD DRIVE FAILURE"),
    (0x5D41, "SERVO IMPENDING FAILURE DRIVE ERROR RATE TOO HIGH"),
    (0x5D42, "SERVO IMPENDING FAILURE DATA ERROR RATE TOO HIGH"),
    (0x5D43, "SERVO IMPENDING FAILURE SEEK ERROR RATE TOO HIGH"),
    (0x5D44, "SERVO IMPENDING FAILURE TOO MANY BLOCK REASSIGNS"),
    (0x5D45, "SERVO IMPENDING FAILURE ACCESS TIMES TOO HIGH"),
    (0x5D46, "SERVO IMPENDING FAILURE START UNIT TIMES TOO HIGH"),
    (0x5D47, "SERVO IMPENDING FAILURE CHANNEL PARAMETRICS"),
    (0x5D48, "SERVO IMPENDING FAILURE CONTROLLER DETECTED"),
    (0x5D49, "SERVO IMPENDING FAILURE THROUGHPUT PERFORMANCE"),
    (0x5D4A, "SERVO IMPENDING FAILURE SEEK TIME PERFORMANCE"),
    (0x5D4B, "SERVO IMPENDING FAILURE SPIN-UP RETRY COUNT"),
    (
        0x5D4C,
        "SERVO IMPENDING FAILURE DRIVE CALIBRATION RETRY COUNT",
    ),
    (
        0x5D50,
        "SPINDLE IMPENDING FAILURE GENERAL HARD DRIVE FAILURE",
    ),
    (
        0x5D51,
        "SPINDLE IMPENDING FAILURE DRIVE ERROR RATE TOO HIGH",
    ),
    (0x5D52, "SPINDLE IMPENDING FAILURE DATA ERROR RATE TOO HIGH"),
    (0x5D53, "SPINDLE IMPENDING FAILURE SEEK ERROR RATE TOO HIGH"),
    (0x5D54, "SPINDLE IMPENDING FAILURE TOO MANY BLOCK REASSIGNS"),
    (0x5D55, "SPINDLE IMPENDING FAILURE ACCESS TIMES TOO HIGH"),
    (
        0x5D56,
        "SPINDLE IMPENDING FAILURE START UNIT TIMES TOO HIGH",
    ),
    (0x5D57, "SPINDLE IMPENDING FAILURE CHANNEL PARAMETRICS"),
    (0x5D58, "SPINDLE IMPENDING FAILURE CONTROLLER DETECTED"),
    (0x5D59, "SPINDLE IMPENDING FAILURE THROUGHPUT PERFORMANCE"),
    (0x5D5A, "SPINDLE IMPENDING FAILURE SEEK TIME PERFORMANCE"),
    (0x5D5B, "SPINDLE IMPENDING FAILURE SPIN-UP RETRY COUNT"),
    (
        0x5D5C,
        "SPINDLE IMPENDING FAILURE DRIVE CALIBRATION RETRY COUNT",
    ),
    (
        0x5D60,
        "FIRMWARE IMPENDING FAILURE GENERAL HARD DRIVE FAILURE",
    ),
    (
        0x5D61,
        "FIRMWARE IMPENDING FAILURE DRIVE ERROR RATE TOO HIGH",
    ),
    (
        0x5D62,
        "FIRMWARE IMPENDING FAILURE DATA ERROR RATE TOO HIGH",
    ),
    (
        0x5D63,
        "FIRMWARE IMPENDING FAILURE SEEK ERROR RATE TOO HIGH",
    ),
    (
        0x5D64,
        "FIRMWARE IMPENDING FAILURE TOO MANY BLOCK REASSIGNS",
    ),
    (0x5D65, "FIRMWARE IMPENDING FAILURE ACCESS TIMES TOO HIGH"),
    (
        0x5D66,
        "FIRMWARE IMPENDING FAILURE START UNIT TIMES TOO HIGH",
    ),
    (0x5D67, "FIRMWARE IMPENDING FAILURE CHANNEL PARAMETRICS"),
    (0x5D68, "FIRMWARE IMPENDING FAILURE CONTROLLER DETECTED"),
    (0x5D69, "FIRMWARE IMPENDING FAILURE THROUGHPUT PERFORMANCE"),
    (0x5D6A, "FIRMWARE IMPENDING FAILURE SEEK TIME PERFORMANCE"),
    (0x5D6B, "FIRMWARE IMPENDING FAILURE SPIN-UP RETRY COUNT"),
    (
        0x5D6C,
        "FIRMWARE IMPENDING FAILURE DRIVE CALIBRATION RETRY COUNT",
    ),
    (0x5D73, "MEDIA IMPENDING FAILURE ENDURANCE LIMIT MET"),
    (0x5DFF, "FAILURE PREDICTION THRESHOLD EXCEEDED (FALSE)"),
    (0x5E00, "LOW POWER CONDITION ON"),
    (0x5E01, "IDLE CONDITION ACTIVATED BY TIMER"),
    (0x5E02, "STANDBY CONDITION ACTIVATED BY TIMER"),
    (0x5E03, "IDLE CONDITION ACTIVATED BY COMMAND"),
    (0x5E04, "STANDBY CONDITION ACTIVATED BY COMMAND"),
    (0x5E05, "IDLE_B CONDITION ACTIVATED BY TIMER"),
    (0x5E06, "IDLE_B CONDITION ACTIVATED BY COMMAND"),
    (0x5E07, "IDLE_C CONDITION ACTIVATED BY TIMER"),
    (0x5E08, "IDLE_C CONDITION ACTIVATED BY COMMAND"),
    (0x5E09, "STANDBY_Y CONDITION ACTIVATED BY TIMER"),
    (0x5E0A, "STANDBY_Y CONDITION ACTIVATED BY COMMAND"),
    (0x5E41, "POWER STATE CHANGE TO ACTIVE"),
    (0x5E42, "POWER STATE CHANGE TO IDLE"),
    (0x5E43, "POWER STATE CHANGE TO STANDBY"),
    (0x5E45, "POWER STATE CHANGE TO SLEEP"),
    (0x5E47, "POWER STATE CHANGE TO DEVICE CONTROL"),
    (0x6500, "VOLTAGE FAULT"),
    (0x6700, "CONFIGURATION FAILURE"),
    (0x6701, "CONFIGURATION OF INCAPABLE LOGICAL UNITS FAILED"),
    (0x6702, "ADD LOGICAL UNIT FAILED"),
    (0x6703, "MODIFICATION OF LOGICAL UNIT FAILED"),
    (0x6704, "EXCHANGE OF LOGICAL UNIT FAILED"),
    (0x6705, "REMOVE OF LOGICAL UNIT FAILED"),
    (0x6706, "ATTACHMENT OF LOGICAL UNIT FAILED"),
    (0x6707, "CREATION OF LOGICAL UNIT FAILED"),
    (0x6708, "ASSIGN FAILURE OCCURRED"),
    (0x6709, "MULTIPLY ASSIGNED LOGICAL UNIT"),
    (0x670A, "SET TARGET PORT GROUPS COMMAND FAILED"),
    (0x670B, "ATA DEVICE FEATURE NOT ENABLED"),
    (0x670C, "COMMAND REJECTED"),
    (0x670D, "EXPLICIT BIND NOT ALLOWED"),
    (0x6800, "LOGICAL UNIT NOT CONFIGURED"),
    (0x6801, "SUBSIDIARY LOGICAL UNIT NOT CONFIGURED"),
    (0x6900, "DATA LOSS ON LOGICAL UNIT"),
    (0x6901, "MULTIPLE LOGICAL UNIT FAILURES"),
    (0x6902, "PARITY/DATA MISMATCH"),
    (0x6A00, "INFORMATIONAL, REFER TO LOG"),
    (0x6B00, "STATE CHANGE HAS OCCURRED"),
    (0x6B01, "REDUNDANCY LEVEL GOT BETTER"),
    (0x6B02, "REDUNDANCY LEVEL GOT WORSE"),
    (0x6C00, "REBUILD FAILURE OCCURRED"),
    (0x6D00, "RECALCULATE FAILURE OCCURRED"),
    (0x6E00, "COMMAND TO LOGICAL UNIT FAILED"),
    (0x7100, "DECOMPRESSION EXCEPTION LONG ALGORITHM ID"),
    (0x7400, "SECURITY ERROR"),
    (0x7401, "UNABLE TO DECRYPT DATA"),
    (0x7402, "UNENCRYPTED DATA ENCOUNTERED WHILE DECRYPTING"),
    (0x7403, "INCORRECT DATA ENCRYPTION KEY"),
    (0x7404, "CRYPTOGRAPHIC INTEGRITY VALIDATION FAILED"),
    (0x7405, "ERROR DECRYPTING DATA"),
    (0x7440, "AUTHENTICATION FAILED"),
    (0x7471, "LOGICAL UNIT ACCESS NOT AUTHORIZED"),
    (0x7479, "SECURITY CONFLICT IN TRANSLATED DEVICE"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The Linux LIO target's UNIT ATTENTION after PREEMPT (fixed format).
    const LIO_UA_PREEMPTED: [u8; 18] = [
        0x70, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x05, 0x00,
        0x00, 0x00, 0x00,
    ];

    #[test]
    fn status_names_and_mask() {
        assert_eq!(
            ScsiStatus::RESERVATION_CONFLICT.name(),
            Some("RESERVATION CONFLICT")
        );
        assert_eq!(ScsiStatus(0x19).masked(), ScsiStatus::RESERVATION_CONFLICT);
        assert_eq!(ScsiStatus(0x40).masked(), ScsiStatus::TASK_ABORTED);
        assert_eq!(ScsiStatus(0x81).masked(), ScsiStatus::GOOD);
        assert!(ScsiStatus(0x01).is_good());
        assert!(ScsiStatus::CONDITION_MET.is_good());
        assert!(!ScsiStatus::BUSY.is_good());
        assert_eq!(ScsiStatus::TASK_SET_FULL.to_string(), "TASK SET FULL");
        assert_eq!(
            ScsiStatus(0x19).to_string(),
            "RESERVATION CONFLICT (raw 19h)"
        );
        assert_eq!(ScsiStatus(0x0c).to_string(), "reserved status 0Ch");
        for code in [
            0x00, 0x02, 0x04, 0x08, 0x10, 0x14, 0x18, 0x22, 0x28, 0x30, 0x40,
        ] {
            assert!(ScsiStatus(code).name().is_some(), "{code:#x}");
        }
    }

    #[test]
    fn sense_key_round_trip() {
        for code in 0..=0x0f {
            let key = SenseKey::from_code(code).unwrap();
            assert_eq!(key.code(), code);
        }
        assert_eq!(SenseKey::from_code(0x10), None);
        assert_eq!(SenseKey::from_code(0x05).unwrap().name(), "ILLEGAL REQUEST");
        assert_eq!(SenseKey::Completed.to_string(), "COMPLETED");
    }

    #[test]
    fn lio_unit_attention_after_preempt() {
        let s = Sense::parse(&LIO_UA_PREEMPTED).unwrap();
        assert_eq!(s.format(), SenseFormat::Fixed);
        assert_eq!(s.response_code(), 0x70);
        assert!(s.is_current() && !s.is_deferred());
        assert_eq!(s.key(), SenseKey::UnitAttention);
        assert_eq!(s.asc_ascq(), Some((0x2a, 0x05)));
        assert_eq!(s.information(), None);
        assert_eq!(s.command_specific_information(), Some(0));
        assert_eq!(s.sense_key_specific(), None);
        assert!(!s.is_truncated());
        assert_eq!(s.descriptors().count(), 0);
        assert_eq!(
            s.to_string(),
            "UNIT ATTENTION: REGISTRATIONS PREEMPTED (asc 2Ah, ascq 05h)"
        );
    }

    #[test]
    fn illegal_request_field_pointer() {
        // INVALID FIELD IN CDB, SKSV, C/D=1, BPV, bit 7, byte 2; VALID with INFORMATION.
        let b = [
            0xf0, 0x00, 0x05, 0x00, 0x00, 0x12, 0x34, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x24, 0x00,
            0x00, 0xcf, 0x00, 0x02,
        ];
        let s = Sense::parse(&b).unwrap();
        assert_eq!(s.key(), SenseKey::IllegalRequest);
        assert_eq!(s.information(), Some(0x1234));
        let fp = s.field_pointer().unwrap();
        assert_eq!(
            fp,
            FieldPointer {
                c_d: FieldLocation::Cdb,
                bit_pointer: Some(7),
                field_pointer: 2
            }
        );
        assert_eq!(fp.to_string(), "CDB byte 2 bit 7");
        assert_eq!(
            s.to_string(),
            "ILLEGAL REQUEST: INVALID FIELD IN CDB (asc 24h, ascq 00h), CDB byte 2 bit 7"
        );
        // Parameter list, no bit pointer.
        let mut p = b;
        p[12] = 0x26;
        p[15] = 0x80;
        p[16] = 0x00;
        p[17] = 0x18;
        let s = Sense::parse(&p).unwrap();
        assert_eq!(
            s.field_pointer().unwrap().to_string(),
            "parameter list byte 24"
        );
        // SKSV clear: no field pointer.
        p[15] = 0x40;
        assert_eq!(Sense::parse(&p).unwrap().field_pointer(), None);
        assert_eq!(
            Sense::parse(&p).unwrap().sense_key_specific_bytes(),
            Some([0x40, 0, 0x18])
        );
    }

    #[test]
    fn descriptor_format_with_sense_key_specific() {
        // 72h, NOT READY, 04h/04h FORMAT IN PROGRESS, information + SKS descriptors.
        let b = [
            0x72, 0x02, 0x04, 0x04, 0x00, 0x00, 0x00, 0x14, // header, 20 bytes follow
            0x00, 0x0a, 0x80, 0x00, 0, 0, 0, 0, 0, 0, 0x10, 0x00, // information 0x1000
            0x02, 0x06, 0x80, 0x80, 0x00, 0x00, 0x00, 0x00, // SKS progress 0x8000
        ];
        let s = Sense::parse(&b).unwrap();
        assert_eq!(s.format(), SenseFormat::Descriptor);
        assert!(s.is_current());
        assert_eq!(s.key(), SenseKey::NotReady);
        assert_eq!(s.asc_ascq(), Some((0x04, 0x04)));
        assert_eq!(s.information(), Some(0x1000));
        assert_eq!(s.command_specific_information(), None);
        assert_eq!(s.progress(), Some(Progress(0x8000)));
        assert_eq!(s.progress().unwrap().to_string(), "50.0%");
        assert!(!s.is_truncated());
        let ds: Vec<_> = s.descriptors().collect();
        assert_eq!(ds.len(), 2);
        assert_eq!(ds[0].type_code(), 0x00);
        assert_eq!(ds[1].type_code(), 0x02);
        assert_eq!(
            ds[1].decode(),
            SenseDescriptor::SenseKeySpecific([0x80, 0x80, 0x00])
        );
        assert_eq!(
            s.to_string(),
            "NOT READY: LOGICAL UNIT NOT READY, FORMAT IN PROGRESS (asc 04h, ascq 04h), \
             progress 50.0%"
        );
    }

    #[test]
    fn descriptor_illegal_request_and_other_descriptors() {
        let b = [
            0x73, 0x05, 0x26, 0x00, 0x00, 0x00, 0x00, 0x18, // deferred, 24 bytes follow
            0x02, 0x06, 0x80, 0x00, 0x0c, 0x00, 0x00, 0x00, // SKS: parameter list byte 12
            0x01, 0x0a, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0x07, // command-specific 7
            0x03, 0x02, 0x00, 0x42, // FRU 42h
        ];
        let s = Sense::parse(&b).unwrap();
        assert!(s.is_deferred());
        assert_eq!(s.key(), SenseKey::IllegalRequest);
        assert_eq!(s.command_specific_information(), Some(7));
        assert_eq!(s.field_replaceable_unit(), Some(0x42));
        assert_eq!(
            s.field_pointer(),
            Some(FieldPointer {
                c_d: FieldLocation::ParameterList,
                bit_pointer: None,
                field_pointer: 12
            })
        );
        assert!(
            s.to_string()
                .ends_with("parameter list byte 12 [deferred error]")
        );
    }

    #[test]
    fn truncated_sense_decodes_what_is_there() {
        // Only 8 bytes: key, but no ASC/ASCQ.
        let s = Sense::parse(&LIO_UA_PREEMPTED[..8]).unwrap();
        assert_eq!(s.key(), SenseKey::UnitAttention);
        assert_eq!(s.asc(), None);
        assert_eq!(s.asc_ascq(), None);
        assert!(s.is_truncated());
        assert_eq!(
            s.to_string(),
            "UNIT ATTENTION (no additional sense code: sense data ends after 8 bytes)"
        );
        // 14 bytes: ASC/ASCQ, but no sense-key specific bytes.
        let s = Sense::parse(&LIO_UA_PREEMPTED[..14]).unwrap();
        assert_eq!(s.asc_ascq(), Some((0x2a, 0x05)));
        assert_eq!(s.sense_key_specific_bytes(), None);
        assert_eq!(s.field_replaceable_unit(), None);
        assert!(s.is_truncated());
        assert!(s.to_string().ends_with("[truncated]"));
        // 3 bytes: just the key.
        let s = Sense::parse(&LIO_UA_PREEMPTED[..3]).unwrap();
        assert_eq!(s.key(), SenseKey::UnitAttention);
        assert_eq!(s.additional_length(), None);
        // Too short or not sense at all.
        assert!(matches!(
            Sense::parse(&LIO_UA_PREEMPTED[..2]),
            Err(DecodeError::Short { needed: 3, .. })
        ));
        assert!(matches!(Sense::parse(&[]), Err(DecodeError::Short { .. })));
        assert!(matches!(
            Sense::parse(&[0x7f, 0, 0]),
            Err(DecodeError::BadField { value: 0x7f, .. })
        ));
        // Additional length caps the data: bytes past it are ignored.
        let mut long = [0u8; 30];
        long[..18].copy_from_slice(&LIO_UA_PREEMPTED);
        long[7] = 6; // claims 14 bytes
        let s = Sense::parse(&long).unwrap();
        assert_eq!(s.as_bytes().len(), 14);
        assert_eq!(s.sense_key_specific_bytes(), None);
    }

    #[test]
    fn truncated_descriptor() {
        let b = [
            0x72, 0x06, 0x29, 0x07, 0, 0, 0, 0x0c, 0x00, 0x0a, 0x80, 0x00, 0x00,
        ];
        let s = Sense::parse(&b).unwrap();
        assert!(s.is_truncated());
        assert_eq!(s.asc_ascq(), Some((0x29, 0x07)));
        let ds: Vec<_> = s.descriptors().collect();
        assert_eq!(ds.len(), 1);
        assert!(ds[0].is_truncated());
        assert_eq!(ds[0].data(), &[0x80, 0x00, 0x00]);
        assert!(matches!(
            ds[0].decode(),
            SenseDescriptor::Other { type_code: 0, .. }
        ));
        assert_eq!(s.information(), None);
        // Header cut after the type byte.
        let b = [0x72, 0x06, 0x29, 0x07, 0, 0, 0, 0x02, 0x05];
        let ds: Vec<_> = Sense::parse(&b).unwrap().descriptors().collect();
        assert_eq!(ds.len(), 1);
        assert_eq!(ds[0].additional_length(), None);
        assert!(ds[0].is_truncated());
    }

    #[test]
    fn retry_count_and_ua_overflow() {
        let mut b = [0u8; 18];
        b[0] = 0x70;
        b[2] = 0x03;
        b[7] = 10;
        b[15] = 0x80;
        b[17] = 5;
        let s = Sense::parse(&b).unwrap();
        assert_eq!(
            s.sense_key_specific(),
            Some(SenseKeySpecific::ActualRetryCount(5))
        );
        b[2] = 0x06;
        b[15] = 0x81;
        let s = Sense::parse(&b).unwrap();
        assert_eq!(
            s.sense_key_specific(),
            Some(SenseKeySpecific::UnitAttention { overflow: true })
        );
    }

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(ASC_TABLE.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(ASC_TABLE.len() > 500);
        for &(_, name) in ASC_TABLE {
            assert!(!name.is_empty());
            assert_eq!(name, name.trim());
        }
    }

    #[test]
    fn pr_relevant_names() {
        let want = [
            (0x2a, 0x03, "RESERVATIONS PREEMPTED"),
            (0x2a, 0x04, "RESERVATIONS RELEASED"),
            (0x2a, 0x05, "REGISTRATIONS PREEMPTED"),
            (0x29, 0x00, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED"),
            (0x29, 0x07, "I_T NEXUS LOSS OCCURRED"),
            (0x04, 0x07, "LOGICAL UNIT NOT READY, OPERATION IN PROGRESS"),
            (
                0x04,
                0x0a,
                "LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION",
            ),
            (
                0x04,
                0x0b,
                "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE",
            ),
            (
                0x04,
                0x0c,
                "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN UNAVAILABLE STATE",
            ),
            (0x20, 0x00, "INVALID COMMAND OPERATION CODE"),
            (0x24, 0x00, "INVALID FIELD IN CDB"),
            (0x25, 0x00, "LOGICAL UNIT NOT SUPPORTED"),
            (0x26, 0x00, "INVALID FIELD IN PARAMETER LIST"),
            (0x26, 0x04, "INVALID RELEASE OF PERSISTENT RESERVATION"),
            (0x1a, 0x00, "PARAMETER LIST LENGTH ERROR"),
            (0x2c, 0x00, "COMMAND SEQUENCE ERROR"),
            (0x2c, 0x09, "PREVIOUS RESERVATION CONFLICT STATUS"),
            (0x3f, 0x01, "MICROCODE HAS BEEN CHANGED"),
            (0x3f, 0x03, "INQUIRY DATA HAS CHANGED"),
            (0x3f, 0x0e, "REPORTED LUNS DATA HAS CHANGED"),
            (0x2f, 0x00, "COMMANDS CLEARED BY ANOTHER INITIATOR"),
            (0x2f, 0x02, "COMMANDS CLEARED BY DEVICE SERVER"),
            (0x55, 0x02, "INSUFFICIENT RESERVATION RESOURCES"),
            (0x55, 0x04, "INSUFFICIENT REGISTRATION RESOURCES"),
            (0x08, 0x00, "LOGICAL UNIT COMMUNICATION FAILURE"),
            (0x3a, 0x00, "MEDIUM NOT PRESENT"),
            (0x44, 0x00, "INTERNAL TARGET FAILURE"),
            (0x47, 0x00, "SCSI PARITY ERROR"),
            (0x4b, 0x07, "CONNECTION LOST"),
            (0x5d, 0x00, "FAILURE PREDICTION THRESHOLD EXCEEDED"),
            (
                0x5d,
                0x12,
                "HARDWARE IMPENDING FAILURE DATA ERROR RATE TOO HIGH",
            ),
            (
                0x5d,
                0x6c,
                "FIRMWARE IMPENDING FAILURE DRIVE CALIBRATION RETRY COUNT",
            ),
            (0x0e, 0x03, "INVALID FIELD IN COMMAND INFORMATION UNIT"),
        ];
        for (asc, ascq, name) in want {
            assert_eq!(asc_ascq_name(asc, ascq), Some(name), "{asc:02x}/{ascq:02x}");
        }
        for ascq in 0x00..=0x14 {
            if ascq != 0x0e && ascq != 0x0f {
                assert!(asc_ascq_name(0x2a, ascq).is_some(), "2A/{ascq:02x}");
            }
        }
        for ascq in 0x00..=0x07 {
            assert!(asc_ascq_name(0x29, ascq).is_some(), "29/{ascq:02x}");
        }
        assert_eq!(asc_ascq_name(0x2a, 0x0e), None);
    }

    #[test]
    fn asc_display_ranges() {
        let s = |asc, ascq| AscAscq::new(asc, ascq).to_string();
        assert_eq!(s(0x2a, 0x05), "REGISTRATIONS PREEMPTED");
        assert_eq!(s(0x40, 0x00), "RAM FAILURE (SHOULD USE 40 NN)");
        assert_eq!(s(0x40, 0x85), "DIAGNOSTIC FAILURE ON COMPONENT 85h");
        assert_eq!(s(0x4d, 0x2a), "TAGGED OVERLAPPED COMMANDS (TASK TAG 2Ah)");
        assert_eq!(
            s(0x70, 0x03),
            "DECOMPRESSION EXCEPTION SHORT ALGORITHM ID OF 03h"
        );
        assert_eq!(s(0x80, 0x01), "VENDOR SPECIFIC");
        assert_eq!(s(0x04, 0x85), "VENDOR SPECIFIC QUALIFIER 85h OF ASC 04h");
        assert_eq!(
            s(0x5d, 0xff),
            "FAILURE PREDICTION THRESHOLD EXCEEDED (FALSE)"
        );
        assert_eq!(s(0x5d, 0x85), "VENDOR SPECIFIC QUALIFIER 85h OF ASC 5Dh");
        assert_eq!(s(0x2a, 0x7e), "UNKNOWN ASC/ASCQ");
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(s) = Sense::parse(&bytes) {
                let _ = (s.key(), s.asc(), s.ascq(), s.information(), s.progress());
                let _ = (s.command_specific_information(), s.field_replaceable_unit());
                let _ = (s.sense_key_specific(), s.is_truncated(), s.is_deferred());
                prop_assert!(s.as_bytes().len() <= bytes.len());
                for d in s.descriptors() {
                    let _ = (d.decode(), d.is_truncated());
                }
                let _ = s.to_string();
            }
        }

        #[test]
        fn structured_sense_never_panics(
            rc in 0x70u8..=0x73,
            len in 0usize..64,
            fill in proptest::collection::vec(any::<u8>(), 64),
        ) {
            let mut b = fill;
            b[0] = rc;
            b.truncate(len);
            if let Ok(s) = Sense::parse(&b) {
                let _ = s.to_string();
                prop_assert!(s.descriptors().count() <= 32);
            }
        }

        #[test]
        fn asc_display_never_panics(asc in any::<u8>(), ascq in any::<u8>()) {
            prop_assert!(!AscAscq::new(asc, ascq).to_string().is_empty());
        }
    }
}
