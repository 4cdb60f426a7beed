//! The text forms of `sg_persist --transport-id`: [`TransportId::parse`] reads them, and
//! `Display` (with [`FromStr`]) writes the form `parse` reads back.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use super::encode::validate_iscsi;
use super::{Error, TransportId, TransportIdError, check_hex_digits, check_isid};
use super::{FIXED_LEN, ISCSI_HEADER_LEN, ISCSI_PREFIXES, ISID_SEPARATOR, PROTO_ISCSI};

impl<'a> TransportId<'a> {
    /// Parses one of the text forms that `sg_persist --transport-id` accepts (see the module
    /// documentation). Leading and trailing blanks are ignored; the leadins `fcp,`, `spi,`,
    /// `sbp,`, `srp,`, `sas,`, `sop,` in any case. iSCSI names borrow from `s`; the hex-bytes
    /// form is decoded as binary and returned owned.
    pub fn parse(s: &'a str) -> Result<Self, TransportIdError> {
        let start = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let base = s.len().saturating_sub(start.len());
        let t = start.trim_end_matches(|c: char| c.is_ascii_whitespace());
        if t.is_empty() {
            return Err(Error::EmptyText);
        }
        if let Some(rest) = t.get(4..) {
            let off = base.saturating_add(4);
            let leadin = t.get(..4).unwrap_or_default();
            let is = |l: &str| leadin.eq_ignore_ascii_case(l);
            if is("fcp,") {
                let n = parse_hex_array::<8>(rest, off, "fcp transport id", "fcp,", "16")?;
                return Ok(Self::FibreChannel {
                    n_port_name: u64::from_be_bytes(n),
                });
            }
            if is("sbp,") {
                let n = parse_hex_array::<8>(rest, off, "sbp transport id", "sbp,", "16")?;
                return Ok(Self::Ieee1394 {
                    eui64: u64::from_be_bytes(n),
                });
            }
            if is("sas,") {
                let n = parse_hex_array::<8>(rest, off, "sas transport id", "sas,", "16")?;
                return Ok(Self::Sas {
                    address: u64::from_be_bytes(n),
                });
            }
            if is("srp,") {
                let port_id = parse_hex_array::<16>(rest, off, "srp transport id", "srp,", "32")?;
                return Ok(Self::Srp { port_id });
            }
            if is("spi,") {
                return parse_spi(rest, off);
            }
            if is("sop,") {
                return parse_sop(rest, off);
            }
        }
        if ISCSI_PREFIXES.iter().any(|p| t.starts_with(p)) {
            return parse_iscsi(t, base);
        }
        if t.bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b',' || b == b' ' || b == b'\t')
        {
            return parse_hex_bytes(t);
        }
        Err(Error::Unrecognized)
    }

    /// Writes the wire bytes as comma-separated hex (the form `parse` decodes as binary).
    fn write_hex_bytes(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        self.emit(|b| {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{b:02x}")
        })
    }
}

impl fmt::Display for TransportId<'_> {
    /// The canonical text form, which [`TransportId::parse`] reads back: `fcp,`, `spi,`,
    /// `sbp,`, `srp,`, `sas,` or `sop,` forms, the iSCSI name (with `,i,0x` and ISID), or, for
    /// SSA, `Other` and iSCSI names that the name form cannot carry, the hex bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FibreChannel { n_port_name } => write!(f, "fcp,{n_port_name:016x}"),
            Self::ParallelScsi {
                scsi_address,
                relative_target_port,
            } => write!(f, "spi,{scsi_address},{relative_target_port}"),
            Self::Ieee1394 { eui64 } => write!(f, "sbp,{eui64:016x}"),
            Self::Srp { port_id } => {
                f.write_str("srp,")?;
                port_id.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
            Self::Sas { address } => write!(f, "sas,{address:016x}"),
            Self::Sop { routing_id } => write!(f, "sop,{routing_id:04x}"),
            Self::Iscsi { name, isid } if check_iscsi_text(name, isid.as_deref(), 0).is_ok() => {
                f.write_str(name)?;
                match isid {
                    Some(isid) => write!(f, "{ISID_SEPARATOR}{isid}"),
                    None => Ok(()),
                }
            }
            other => other.write_hex_bytes(f),
        }
    }
}

impl FromStr for TransportId<'static> {
    type Err = TransportIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TransportId::parse(s).map(TransportId::into_owned)
    }
}

fn hex_val(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Exactly `2 * N` hex digits as `N` big-endian bytes.
fn parse_hex_array<const N: usize>(
    s: &str,
    off: usize,
    what: &'static str,
    after: &'static str,
    expected: &'static str,
) -> Result<[u8; N], TransportIdError> {
    check_hex_digits(s, off, what)?;
    if s.len() != N.saturating_mul(2) {
        return Err(Error::HexDigitCount {
            what,
            after,
            expected,
            got: s.len(),
        });
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        let hi = pair.first().copied().and_then(hex_val).unwrap_or(0);
        let lo = pair.get(1).copied().and_then(hex_val).unwrap_or(0);
        *o = hi.wrapping_shl(4) | lo;
    }
    Ok(out)
}

/// `<scsi address>,<relative target port>`, both decimal.
fn parse_spi(s: &str, off: usize) -> Result<TransportId<'static>, TransportIdError> {
    let (addr, rtpi) = s.split_once(',').ok_or(Error::SpiSyntax)?;
    let rtpi_off = off.saturating_add(addr.len()).saturating_add(1);
    let scsi_address = parse_dec_u16(addr, off, "spi transport id: SCSI address")?;
    let relative_target_port =
        parse_dec_u16(rtpi, rtpi_off, "spi transport id: relative target port")?;
    Ok(TransportId::ParallelScsi {
        scsi_address,
        relative_target_port,
    })
}

fn parse_dec_u16(s: &str, off: usize, what: &'static str) -> Result<u16, TransportIdError> {
    if s.is_empty() {
        return Err(Error::SpiSyntax);
    }
    if let Some((i, ch)) = s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(Error::BadChar {
            what,
            ch,
            pos: off.saturating_add(i),
        });
    }
    s.parse::<u16>().map_err(|_| Error::NumberTooLarge {
        what,
        max: u32::from(u16::MAX),
    })
}

/// A hex routing ID of 1 to 4 digits, optionally `0x`-prefixed.
fn parse_sop(s: &str, off: usize) -> Result<TransportId<'static>, TransportIdError> {
    let (digits, off) = match s.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("0x") => {
            (s.get(2..).unwrap_or_default(), off.saturating_add(2))
        }
        _ => (s, off),
    };
    check_hex_digits(digits, off, "sop transport id")?;
    if digits.is_empty() || digits.len() > 4 {
        return Err(Error::HexDigitCount {
            what: "sop transport id",
            after: "sop,",
            expected: "1 to 4",
            got: digits.len(),
        });
    }
    let routing_id = u16::from_str_radix(digits, 16).map_err(|_| Error::NumberTooLarge {
        what: "sop transport id: routing id",
        max: u32::from(u16::MAX),
    })?;
    Ok(TransportId::Sop { routing_id })
}

/// Whether the text form can carry this iSCSI name and ISID (and `parse` would give them
/// back): a recognized prefix, no blanks or control characters, no separator in the name, a
/// 12-digit ISID, and a length that encodes. `off` is the name's offset in the text.
fn check_iscsi_text(name: &str, isid: Option<&str>, off: usize) -> Result<(), TransportIdError> {
    if !ISCSI_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return Err(Error::Unrecognized);
    }
    if name.len() <= 4 {
        return Err(Error::IscsiNameEmpty);
    }
    if let Some((i, ch)) = name
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || c.is_control())
    {
        return Err(Error::BadChar {
            what: "iSCSI name",
            ch,
            pos: off.saturating_add(i),
        });
    }
    if name.contains(ISID_SEPARATOR) {
        return Err(Error::IscsiNameHasSeparator);
    }
    if let Some(isid) = isid {
        let isid_off = off
            .saturating_add(name.len())
            .saturating_add(ISID_SEPARATOR.len());
        check_isid(isid, isid_off)?;
    }
    validate_iscsi(name, isid)
}

fn parse_iscsi(t: &str, off: usize) -> Result<TransportId<'_>, TransportIdError> {
    let (name, isid) = match t.split_once(ISID_SEPARATOR) {
        Some((name, isid)) => (name, Some(isid)),
        None => (t, None),
    };
    check_iscsi_text(name, isid, off)?;
    Ok(TransportId::Iscsi {
        name: Cow::Borrowed(name),
        isid: isid.map(Cow::Borrowed),
    })
}

/// Hex bytes separated by commas and/or blanks; zero-padded to 24 bytes (and to the
/// ADDITIONAL LENGTH of an iSCSI TransportID) as `sg_persist` does, then decoded.
fn parse_hex_bytes(t: &str) -> Result<TransportId<'static>, TransportIdError> {
    let mut buf: Vec<u8> = Vec::new();
    for field in t.split(',') {
        let before = buf.len();
        for token in field.split_ascii_whitespace() {
            let index = buf.len();
            let b = u8::from_str_radix(token, 16).map_err(|_| Error::HexByteTooLarge { index })?;
            buf.push(b);
        }
        if buf.len() == before {
            return Err(Error::HexEmptyField { index: before });
        }
    }
    let given = buf.len();
    let mut want = FIXED_LEN.max(given);
    if let &[b0, _, hi, lo, ..] = buf.as_slice() {
        if b0 & 0x0F == PROTO_ISCSI {
            let total = ISCSI_HEADER_LEN.saturating_add(usize::from(u16::from_be_bytes([hi, lo])));
            want = want.max(total);
        }
    }
    buf.resize(want, 0);
    let (tid, consumed) = TransportId::decode(&buf)?;
    if buf
        .get(consumed..)
        .unwrap_or_default()
        .iter()
        .any(|&b| b != 0)
    {
        return Err(Error::TrailingBytes { consumed, given });
    }
    Ok(tid.into_owned())
}
