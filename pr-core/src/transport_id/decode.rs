//! Binary decoding of TransportIDs: [`TransportId::decode`], lenient where real targets are.

use std::borrow::Cow;

use super::{Error, FIXED_LEN, ISCSI_HEADER_LEN, ISID_SEPARATOR, TransportId, TransportIdError};
use super::{
    PROTO_FC, PROTO_ISCSI, PROTO_SAS, PROTO_SBP, PROTO_SOP, PROTO_SPI, PROTO_SRP, PROTO_SSA,
};

impl<'a> TransportId<'a> {
    /// Decodes one TransportID from the start of `bytes`, returning it and the number of bytes
    /// it occupies (24 for the fixed formats, 4 + ADDITIONAL LENGTH for iSCSI). Bytes after it
    /// are ignored, so this walks a list of TransportIDs. Never allocates, never panics.
    pub fn decode(bytes: &'a [u8]) -> Result<(Self, usize), TransportIdError> {
        let Some(&b0) = bytes.first() else {
            return Err(Error::Short {
                what: "TransportID buffer",
                len: 0,
                needed: FIXED_LEN,
            });
        };
        let protocol = b0 & 0x0F;
        let format = b0.wrapping_shr(6);
        if protocol == PROTO_ISCSI {
            return decode_iscsi(bytes, format);
        }
        let fixed: &'a [u8; FIXED_LEN] = bytes
            .get(..FIXED_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(Error::Short {
                what: "TransportID buffer",
                len: bytes.len(),
                needed: FIXED_LEN,
            })?;
        let tid = match (protocol, format) {
            (PROTO_FC, 0) => Self::FibreChannel {
                n_port_name: u64::from_be_bytes(take(fixed, 8)),
            },
            (PROTO_SPI, 0) => Self::ParallelScsi {
                scsi_address: u16::from_be_bytes(take(fixed, 2)),
                relative_target_port: u16::from_be_bytes(take(fixed, 6)),
            },
            (PROTO_SSA, format) => Self::Ssa {
                format,
                data: take(fixed, 1),
            },
            (PROTO_SBP, 0) => Self::Ieee1394 {
                eui64: u64::from_be_bytes(take(fixed, 8)),
            },
            (PROTO_SRP, 0) => Self::Srp {
                port_id: take(fixed, 8),
            },
            (PROTO_SAS, 0) => Self::Sas {
                address: u64::from_be_bytes(take(fixed, 4)),
            },
            (PROTO_SOP, 0) => Self::Sop {
                routing_id: u16::from_be_bytes(take(fixed, 2)),
            },
            _ => Self::Other {
                protocol,
                format,
                bytes: Cow::Borrowed(fixed.get(1..).unwrap_or_default()),
            },
        };
        Ok((tid, FIXED_LEN))
    }
}

/// `N` bytes of `b` from `at` (zeros if out of range, which the callers rule out).
fn take<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    b.get(at..)
        .and_then(|s| s.get(..N))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0; N])
}

fn decode_iscsi(bytes: &[u8], format: u8) -> Result<(TransportId<'_>, usize), TransportIdError> {
    let header: [u8; ISCSI_HEADER_LEN] = bytes
        .get(..ISCSI_HEADER_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::Short {
            what: "iSCSI TransportID header",
            len: bytes.len(),
            needed: ISCSI_HEADER_LEN,
        })?;
    let [_, _, hi, lo] = header;
    let total = ISCSI_HEADER_LEN.saturating_add(usize::from(u16::from_be_bytes([hi, lo])));
    let short = Error::Short {
        what: "iSCSI TransportID",
        len: bytes.len(),
        needed: total,
    };
    let whole = bytes.get(..total).ok_or(short)?;
    if format > 1 {
        let tid = TransportId::Other {
            protocol: PROTO_ISCSI,
            format,
            bytes: Cow::Borrowed(whole.get(1..).unwrap_or_default()),
        };
        return Ok((tid, total));
    }
    let body = whole.get(ISCSI_HEADER_LEN..).unwrap_or_default();
    let (text, after_nul) = split_at_nul(body);
    let (name, isid) = if format == 0 {
        (text, None)
    } else if let Some((name, isid)) = split_separator(text) {
        (name, Some(isid))
    } else {
        // Older Linux LIO targets wrote the name's NUL before ",i,0x" and the ISID.
        let isid = after_nul
            .and_then(|rest| rest.strip_prefix(ISID_SEPARATOR.as_bytes()))
            .ok_or(Error::IscsiMissingSeparator)?;
        (text, Some(split_at_nul(isid).0))
    };
    let name = core::str::from_utf8(name).map_err(|_| Error::NotUtf8 { what: "iSCSI name" })?;
    if name.is_empty() {
        return Err(Error::IscsiNameEmpty);
    }
    let isid = isid
        .map(core::str::from_utf8)
        .transpose()
        .map_err(|_| Error::NotUtf8 { what: "iSCSI ISID" })?;
    let tid = TransportId::Iscsi {
        name: Cow::Borrowed(name),
        isid: isid.map(Cow::Borrowed),
    };
    Ok((tid, total))
}

/// The bytes before the first NUL (all of them if none), and those after that NUL.
fn split_at_nul(b: &[u8]) -> (&[u8], Option<&[u8]>) {
    let mut parts = b.splitn(2, |&c| c == 0);
    (parts.next().unwrap_or_default(), parts.next())
}

/// Splits at the first `,i,0x`.
fn split_separator(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let sep = ISID_SEPARATOR.as_bytes();
    let at = text.windows(sep.len()).position(|w| w == sep)?;
    let name = text.get(..at)?;
    let isid = text.get(at..)?.get(sep.len()..)?;
    Some((name, isid))
}
