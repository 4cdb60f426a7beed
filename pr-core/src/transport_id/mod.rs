//! TransportIDs: how SPC-5 names an initiator port in PERSISTENT RESERVE OUT parameter lists
//! (SPEC_I_PT, REGISTER AND MOVE) and in READ FULL STATUS descriptors.
//!
//! Byte 0 of every TransportID holds the FORMAT CODE in bits 7:6 and the PROTOCOL
//! IDENTIFIER in bits 3:0 (bits 5:4 are reserved). The rest depends on the protocol:
//!
//! ```text
//! protocol            format  length  fields (byte offsets; everything else reserved, zero)
//! 0h Fibre Channel    00b     24      8..16  N_PORT_NAME
//! 1h parallel SCSI    00b     24      2..4   SCSI ADDRESS, 4..6 obsolete,
//!                                     6..8   RELATIVE TARGET PORT IDENTIFIER
//! 2h SSA              -       24      no layout defined by SPC; kept opaque
//! 3h IEEE 1394 (SBP)  00b     24      8..16  EUI-64 NAME
//! 4h SRP (RDMA)       00b     24      8..24  INITIATOR PORT IDENTIFIER
//! 5h iSCSI            00b     4+n     2..4   ADDITIONAL LENGTH (n), 4.. ISCSI NAME, NUL-terminated
//!                     01b     4+n     2..4   n, 4.. ISCSI NAME ",i,0x" ISID-in-hex, NUL-terminated
//! 6h SAS              00b     24      4..12  SAS ADDRESS
//! Ah SOP (PCIe)       00b     24      2..4   ROUTING IDENTIFIER
//! ```
//!
//! For iSCSI, n is a multiple of 4 and at least 20; the text is followed by at least one NUL
//! and NUL padding up to n. Protocols 7h (ADT), 8h (ATA), 9h (UAS), Bh (PCIe), Fh (none) and
//! the reserved codes have no TransportID layout, and neither have format codes other than
//! the ones above: those decode to [`TransportId::Other`], which keeps the bytes.
//!
//! [`TransportId::decode`] borrows from its input and never allocates. It is lenient where
//! real targets are (an iSCSI name without its NUL inside the ADDITIONAL LENGTH, an ADDITIONAL
//! LENGTH below 20, non-zero reserved bytes, the old Linux LIO layout with a NUL before
//! `,i,0x`) and strict where a value cannot be read (short buffer, bad UTF-8, no separator).
//!
//! [`TransportId::parse`] reads the text forms of `sg_persist --transport-id`:
//! `fcp,<16 hex>`, `spi,<address>,<relative target port>`, `sbp,<16 hex>`, `srp,<32 hex>`,
//! `sas,<16 hex>`, `sop,<hex routing id>`, iSCSI names starting `iqn.`, `eui.` or `naa.`
//! (optionally followed by `,i,0x` and the 12 hex digits of the ISID), or the TransportID
//! itself as hex bytes separated by commas or spaces. [`TransportId`]'s `Display` writes the
//! form that `parse` reads back.
//!
//! ```
//! use pr_core::transport_id::TransportId;
//!
//! let tid = TransportId::parse("sas,5001405a00000001").unwrap();
//! assert_eq!(tid, TransportId::Sas { address: 0x5001_405a_0000_0001 });
//! let mut buf = [0u8; 24];
//! assert_eq!(tid.encode(&mut buf), Ok(24));
//! assert_eq!(&buf[..12], &[0x06, 0, 0, 0, 0x50, 0x01, 0x40, 0x5a, 0, 0, 0, 1]);
//! let (back, used) = TransportId::decode(&buf).unwrap();
//! assert_eq!((back, used), (tid.clone(), 24));
//! assert_eq!(tid.to_string(), "sas,5001405a00000001");
//!
//! let port = TransportId::parse("iqn.2003-01.org.linux-iscsi.h:init,i,0x00023d000001").unwrap();
//! assert_eq!(port.format_code(), 1);
//! ```

use std::borrow::Cow;
use std::fmt;

mod decode;
mod describe;
mod encode;
#[cfg(test)]
mod tests;
mod text;

pub use describe::Describe;

/// Length of every fixed-size TransportID, which is also the smallest TransportID SPC allows.
pub const FIXED_LEN: usize = 24;

/// The five ASCII characters between the iSCSI name and the ISID in an iSCSI initiator port
/// TransportID (format 01b).
pub const ISID_SEPARATOR: &str = ",i,0x";

/// Number of hex digits of an ISID (6 bytes) in an iSCSI initiator port TransportID.
pub const ISID_HEX_DIGITS: usize = 12;

/// Most bytes of iSCSI text (the name, or name + `,i,0x` + ISID) that [`TransportId::encode`]
/// and [`TransportId::parse`] accept: with its NUL it fills an ADDITIONAL LENGTH of 252, a
/// 256-byte TransportID. (RFC 7143 limits an iSCSI name itself to 223 bytes.)
pub const ISCSI_MAX_TEXT: usize = 251;

/// Smallest ADDITIONAL LENGTH of an iSCSI TransportID that SPC allows.
const ISCSI_MIN_ADDITIONAL: usize = 20;
/// Length of the iSCSI TransportID header (byte 0, reserved, ADDITIONAL LENGTH).
const ISCSI_HEADER_LEN: usize = 4;
/// iSCSI name type prefixes `parse` recognizes (RFC 3720 iqn./eui., RFC 3980 naa.).
const ISCSI_PREFIXES: [&str; 3] = ["iqn.", "eui.", "naa."];

const PROTO_FC: u8 = 0x0;
const PROTO_SPI: u8 = 0x1;
const PROTO_SSA: u8 = 0x2;
const PROTO_SBP: u8 = 0x3;
const PROTO_SRP: u8 = 0x4;
const PROTO_ISCSI: u8 = 0x5;
const PROTO_SAS: u8 = 0x6;
const PROTO_SOP: u8 = 0xA;

/// The PROTOCOL IDENTIFIER values of SPC-5 (the low nibble of TransportID byte 0, also used
/// by VPD designators and protocol-specific mode and log pages).
///
/// With the `serde` feature: its snake_case name (`"fibre_channel"`, `"iscsi"`, `"sas"`,
/// ...), or `{"other": code}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum ProtocolId {
    /// 0h: Fibre Channel (FCP).
    FibreChannel,
    /// 1h: parallel SCSI (SPI), obsolete in SPC-5.
    ParallelScsi,
    /// 2h: Serial Storage Architecture (SSA-S3P).
    Ssa,
    /// 3h: IEEE 1394 (SBP).
    Ieee1394,
    /// 4h: SCSI RDMA Protocol (SRP).
    Srp,
    /// 5h: Internet SCSI (iSCSI).
    Iscsi,
    /// 6h: SAS Serial SCSI Protocol.
    Sas,
    /// 7h: Automation/Drive Interface Transport (ADT).
    Adt,
    /// 8h: AT Attachment Interface (ATA).
    Ata,
    /// 9h: USB Attached SCSI (UAS).
    Uas,
    /// Ah: SCSI over PCI Express (SOP).
    Sop,
    /// Bh: PCI Express protocols (PCIe), added in SPC-5.
    Pcie,
    /// Fh: no specific protocol.
    None,
    /// Any other value (Ch to Eh are reserved).
    Other(u8),
}

impl ProtocolId {
    /// The protocol for a PROTOCOL IDENTIFIER value. Values without a name in SPC-5 (Ch to Eh,
    /// and anything above Fh) become [`ProtocolId::Other`].
    #[must_use]
    pub const fn from_code(code: u8) -> Self {
        match code {
            0x0 => Self::FibreChannel,
            0x1 => Self::ParallelScsi,
            0x2 => Self::Ssa,
            0x3 => Self::Ieee1394,
            0x4 => Self::Srp,
            0x5 => Self::Iscsi,
            0x6 => Self::Sas,
            0x7 => Self::Adt,
            0x8 => Self::Ata,
            0x9 => Self::Uas,
            0xA => Self::Sop,
            0xB => Self::Pcie,
            0xF => Self::None,
            other => Self::Other(other),
        }
    }

    /// The PROTOCOL IDENTIFIER value.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::FibreChannel => 0x0,
            Self::ParallelScsi => 0x1,
            Self::Ssa => 0x2,
            Self::Ieee1394 => 0x3,
            Self::Srp => 0x4,
            Self::Iscsi => 0x5,
            Self::Sas => 0x6,
            Self::Adt => 0x7,
            Self::Ata => 0x8,
            Self::Uas => 0x9,
            Self::Sop => 0xA,
            Self::Pcie => 0xB,
            Self::None => 0xF,
            Self::Other(code) => code,
        }
    }

    /// A human-readable name of the protocol.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::FibreChannel => "Fibre Channel (FCP)",
            Self::ParallelScsi => "parallel SCSI (SPI)",
            Self::Ssa => "Serial Storage Architecture (SSA)",
            Self::Ieee1394 => "IEEE 1394 (SBP)",
            Self::Srp => "SCSI RDMA Protocol (SRP)",
            Self::Iscsi => "Internet SCSI (iSCSI)",
            Self::Sas => "Serial Attached SCSI (SAS)",
            Self::Adt => "Automation/Drive Interface Transport (ADT)",
            Self::Ata => "AT Attachment Interface (ATA)",
            Self::Uas => "USB Attached SCSI (UAS)",
            Self::Sop => "SCSI over PCI Express (SOP)",
            Self::Pcie => "PCI Express (PCIe)",
            Self::None => "no specific protocol",
            Self::Other(_) => "reserved protocol identifier",
        }
    }
}

impl fmt::Display for ProtocolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Other(code) => write!(f, "reserved protocol identifier {code:#x}"),
            known => f.write_str(known.name()),
        }
    }
}

/// One TransportID, decoded. Text fields borrow from the bytes or text they came from.
///
/// With the `serde` feature it serializes as `{"protocol", "text", "hex"}`: the
/// [`ProtocolId`], the text form `Display` writes (as `sg_persist` reads it, and
/// [`TransportId::parse`] reads it back), and the encoded TransportID as a lower-case hex
/// string (`null` if it cannot be encoded). It is not deserialized: parse the text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransportId<'a> {
    /// Fibre Channel (protocol 0h, format 00b, 24 bytes).
    FibreChannel {
        /// N_PORT_NAME of the initiator port (bytes 8..16).
        n_port_name: u64,
    },
    /// Parallel SCSI (protocol 1h, format 00b, 24 bytes).
    ParallelScsi {
        /// SCSI ADDRESS of the initiator port (bytes 2..4).
        scsi_address: u16,
        /// RELATIVE TARGET PORT IDENTIFIER through which the initiator was seen (bytes 6..8).
        relative_target_port: u16,
    },
    /// SSA (protocol 2h): SPC defines no layout, so the 24 bytes are kept as they are.
    Ssa {
        /// FORMAT CODE (0 to 3).
        format: u8,
        /// Bytes 1..24.
        data: [u8; 23],
    },
    /// IEEE 1394 / SBP (protocol 3h, format 00b, 24 bytes).
    Ieee1394 {
        /// EUI-64 NAME of the initiator port (bytes 8..16).
        eui64: u64,
    },
    /// SCSI RDMA Protocol (protocol 4h, format 00b, 24 bytes).
    Srp {
        /// INITIATOR PORT IDENTIFIER (bytes 8..24).
        port_id: [u8; 16],
    },
    /// iSCSI (protocol 5h): format 00b (initiator device: the name) when `isid` is `None`,
    /// format 01b (initiator port: name `,i,0x` ISID) when it is `Some`.
    Iscsi {
        /// iSCSI name of the initiator node.
        name: Cow<'a, str>,
        /// The ISID as hex digits, without the `,i,0x` separator (12 digits when encoded).
        isid: Option<Cow<'a, str>>,
    },
    /// SAS (protocol 6h, format 00b, 24 bytes).
    Sas {
        /// SAS address of the initiator port (bytes 4..12).
        address: u64,
    },
    /// SCSI over PCI Express (protocol Ah, format 00b, 24 bytes).
    Sop {
        /// PCIe ROUTING IDENTIFIER (bytes 2..4): bus, device, function (or bus, function
        /// with ARI).
        routing_id: u16,
    },
    /// A protocol or format code without a layout (or a reserved iSCSI format), kept as bytes.
    Other {
        /// PROTOCOL IDENTIFIER (0h to Fh).
        protocol: u8,
        /// FORMAT CODE (0 to 3).
        format: u8,
        /// Every byte after byte 0: 23 of them for a 24-byte TransportID; for iSCSI, the
        /// reserved byte, the ADDITIONAL LENGTH field and that many more bytes.
        bytes: Cow<'a, [u8]>,
    },
}

/// Why a TransportID cannot be decoded, encoded or parsed. Each message names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportIdError {
    /// Fewer bytes than the TransportID occupies.
    #[error("{what}: {len} bytes, need {needed}")]
    Short {
        /// What was being decoded.
        what: &'static str,
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// The caller's output buffer is shorter than the encoding.
    #[error("TransportID output buffer: {available} bytes, need {needed}")]
    OutputTooSmall {
        /// Bytes the encoding needs.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// A text field of a binary TransportID is not valid UTF-8.
    #[error("{what} is not valid UTF-8")]
    NotUtf8 {
        /// The field.
        what: &'static str,
    },
    /// An iSCSI TransportID without a name.
    #[error("iSCSI name is empty (or only its iqn./eui./naa. prefix)")]
    IscsiNameEmpty,
    /// An iSCSI name or ISID to encode contains a NUL, which would end the field early.
    #[error("iSCSI name or ISID contains a NUL byte")]
    IscsiNul,
    /// An iSCSI name to encode contains `,i,0x`, which would be read as the ISID separator.
    #[error("iSCSI name contains the ',i,0x' separator")]
    IscsiNameHasSeparator,
    /// An iSCSI initiator port TransportID (format 01b) without `,i,0x` after its name.
    #[error(
        "iSCSI initiator port TransportID (format 01b) has no ',i,0x' separator after its name"
    )]
    IscsiMissingSeparator,
    /// The iSCSI text does not fit in a 256-byte TransportID.
    #[error(
        "iSCSI name is {len} bytes (with ',i,0x' and the ISID, if any), longer than the {max} \
         that fit in a 256-byte TransportID"
    )]
    IscsiNameTooLong {
        /// Length of the name (with separator and ISID).
        len: usize,
        /// The most allowed ([`ISCSI_MAX_TEXT`]).
        max: usize,
    },
    /// A hex field has the wrong number of digits.
    #[error("{what}: expected {expected} hex digits after '{after}', got {got}")]
    HexDigitCount {
        /// The text form (e.g. `sas transport id`).
        what: &'static str,
        /// What precedes the digits (e.g. `sas,`).
        after: &'static str,
        /// How many digits the form takes (e.g. `16`, `1 to 4`).
        expected: &'static str,
        /// How many were given.
        got: usize,
    },
    /// A character that the text form does not allow.
    #[error("{what}: unexpected character {ch:?} at offset {pos}")]
    BadChar {
        /// The text form or field.
        what: &'static str,
        /// The character.
        ch: char,
        /// Its byte offset in the text.
        pos: usize,
    },
    /// A decimal number is too large for its field.
    #[error("{what}: number larger than {max}")]
    NumberTooLarge {
        /// The field.
        what: &'static str,
        /// The largest value the field holds.
        max: u32,
    },
    /// `spi,` not followed by two comma-separated decimal numbers.
    #[error(
        "spi transport id: expected '<scsi address>,<relative target port>' (decimal) after 'spi,'"
    )]
    SpiSyntax,
    /// A hex byte above FFh in the hex-bytes text form.
    #[error("hex TransportID: byte {index} is larger than 0xff")]
    HexByteTooLarge {
        /// Position of the byte (from 0).
        index: usize,
    },
    /// An empty field (two commas in a row, or a leading or trailing comma) in the hex-bytes
    /// text form.
    #[error(
        "hex TransportID: empty field before byte {index} (doubled, leading or trailing comma)"
    )]
    HexEmptyField {
        /// Position of the byte that would follow (from 0).
        index: usize,
    },
    /// The hex-bytes text form holds non-zero bytes after the end of the TransportID.
    #[error(
        "hex TransportID: {given} bytes given, but the TransportID ends after {consumed} and the \
         rest are not zero"
    )]
    TrailingBytes {
        /// Bytes the TransportID occupies.
        consumed: usize,
        /// Bytes given.
        given: usize,
    },
    /// A protocol identifier or format code does not fit its bit field.
    #[error("{what} {value:#x} does not fit (at most {max:#x})")]
    FieldOutOfRange {
        /// The field.
        what: &'static str,
        /// Its value.
        value: u8,
        /// The largest allowed.
        max: u8,
    },
    /// Empty (or all-blank) text.
    #[error("empty TransportID text")]
    EmptyText,
    /// Text that matches none of the forms.
    #[error(
        "unrecognized TransportID text: expected fcp,/spi,/sbp,/srp,/sas,/sop, followed by its \
         value, an iSCSI name (iqn./eui./naa.), or hex bytes"
    )]
    Unrecognized,
}

type Error = TransportIdError;

impl<'a> TransportId<'a> {
    /// The same TransportID, owning its text and bytes.
    #[must_use]
    pub fn into_owned(self) -> TransportId<'static> {
        match self {
            Self::FibreChannel { n_port_name } => TransportId::FibreChannel { n_port_name },
            Self::ParallelScsi {
                scsi_address,
                relative_target_port,
            } => TransportId::ParallelScsi {
                scsi_address,
                relative_target_port,
            },
            Self::Ssa { format, data } => TransportId::Ssa { format, data },
            Self::Ieee1394 { eui64 } => TransportId::Ieee1394 { eui64 },
            Self::Srp { port_id } => TransportId::Srp { port_id },
            Self::Iscsi { name, isid } => TransportId::Iscsi {
                name: Cow::Owned(name.into_owned()),
                isid: isid.map(|i| Cow::Owned(i.into_owned())),
            },
            Self::Sas { address } => TransportId::Sas { address },
            Self::Sop { routing_id } => TransportId::Sop { routing_id },
            Self::Other {
                protocol,
                format,
                bytes,
            } => TransportId::Other {
                protocol,
                format,
                bytes: Cow::Owned(bytes.into_owned()),
            },
        }
    }

    /// The PROTOCOL IDENTIFIER.
    #[must_use]
    pub fn protocol(&self) -> ProtocolId {
        ProtocolId::from_code(self.protocol_code())
    }

    /// The FORMAT CODE (bits 7:6 of byte 0): 1 for an iSCSI initiator port TransportID, the
    /// stored value for [`Ssa`](Self::Ssa) and [`Other`](Self::Other), otherwise 0.
    #[must_use]
    pub fn format_code(&self) -> u8 {
        match self {
            Self::Iscsi { isid, .. } => u8::from(isid.is_some()),
            Self::Ssa { format, .. } | Self::Other { format, .. } => *format,
            _ => 0,
        }
    }

    fn protocol_code(&self) -> u8 {
        match self {
            Self::FibreChannel { .. } => PROTO_FC,
            Self::ParallelScsi { .. } => PROTO_SPI,
            Self::Ssa { .. } => PROTO_SSA,
            Self::Ieee1394 { .. } => PROTO_SBP,
            Self::Srp { .. } => PROTO_SRP,
            Self::Iscsi { .. } => PROTO_ISCSI,
            Self::Sas { .. } => PROTO_SAS,
            Self::Sop { .. } => PROTO_SOP,
            Self::Other { protocol, .. } => *protocol,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the binary and text forms.

/// Byte 0 of a TransportID.
fn byte0(format: u8, protocol: u8) -> u8 {
    (format & 0x03).wrapping_shl(6) | (protocol & 0x0F)
}

/// Bytes of iSCSI text: the name, or name + `,i,0x` + ISID.
fn iscsi_text_len(name: &str, isid: Option<&str>) -> usize {
    match isid {
        None => name.len(),
        Some(isid) => name
            .len()
            .saturating_add(ISID_SEPARATOR.len())
            .saturating_add(isid.len()),
    }
}

/// An ISID must be exactly 12 hex digits (either case). `off` is its offset in the text.
fn check_isid(isid: &str, off: usize) -> Result<(), TransportIdError> {
    check_hex_digits(isid, off, "iSCSI ISID")?;
    if isid.len() != ISID_HEX_DIGITS {
        return Err(Error::HexDigitCount {
            what: "iSCSI ISID",
            after: ISID_SEPARATOR,
            expected: "12",
            got: isid.len(),
        });
    }
    Ok(())
}

/// Fails on the first character of `s` that is not an ASCII hex digit.
fn check_hex_digits(s: &str, off: usize, what: &'static str) -> Result<(), TransportIdError> {
    match s.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        Some((i, ch)) => Err(Error::BadChar {
            what,
            ch,
            pos: off.saturating_add(i),
        }),
        None => Ok(()),
    }
}
