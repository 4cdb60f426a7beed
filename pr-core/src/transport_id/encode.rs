//! Binary encoding of TransportIDs: [`TransportId::encode`] and the checks it makes first.

use super::{Error, TransportId, TransportIdError, byte0, check_isid, iscsi_text_len};
use super::{
    FIXED_LEN, ISCSI_HEADER_LEN, ISCSI_MAX_TEXT, ISCSI_MIN_ADDITIONAL, ISID_SEPARATOR, PROTO_ISCSI,
};

impl TransportId<'_> {
    /// Number of bytes [`encode`](Self::encode) writes: 24 for the fixed formats; for iSCSI,
    /// 4 + the text with its NUL rounded up to a multiple of 4 (at least 20); for
    /// [`Other`](Self::Other), 1 + its bytes.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Iscsi { name, isid } => iscsi_total_len(iscsi_text_len(name, isid.as_deref())),
            Self::Other { bytes, .. } => bytes.len().saturating_add(1),
            _ => FIXED_LEN,
        }
    }

    /// Writes the TransportID to the start of `out`: exactly [`encoded_len`](Self::encoded_len)
    /// bytes, reserved and pad bytes zero. Returns that length. Never allocates.
    ///
    /// Fails if `out` is too short, or for an iSCSI TransportID whose name is empty, contains
    /// NUL, is too long ([`ISCSI_MAX_TEXT`]), or (with an ISID) contains `,i,0x`, or whose ISID
    /// is not 12 hex digits; or for an [`Ssa`](Self::Ssa) or [`Other`](Self::Other) whose
    /// protocol or format does not fit its bits. An `Other` is written as it is, even if it
    /// has the protocol and format of another variant.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, TransportIdError> {
        self.validate()?;
        let len = self.encoded_len();
        let available = out.len();
        let dst = out.get_mut(..len).ok_or(Error::OutputTooSmall {
            needed: len,
            available,
        })?;
        let mut slots = dst.iter_mut();
        let written: Result<(), core::convert::Infallible> = self.emit(|b| {
            if let Some(slot) = slots.next() {
                *slot = b;
            }
            Ok(())
        });
        // `emit` produces exactly `encoded_len` bytes; zero whatever it might not have reached.
        let Ok(()) = written;
        for slot in slots {
            *slot = 0;
        }
        Ok(len)
    }

    /// Checks what `encode` requires beyond buffer space.
    fn validate(&self) -> Result<(), TransportIdError> {
        match self {
            Self::Iscsi { name, isid } => validate_iscsi(name, isid.as_deref()),
            Self::Ssa { format, .. } => check_format(*format),
            Self::Other {
                protocol, format, ..
            } => {
                if *protocol > 0x0F {
                    return Err(Error::FieldOutOfRange {
                        what: "TransportID protocol identifier",
                        value: *protocol,
                        max: 0x0F,
                    });
                }
                check_format(*format)
            }
            _ => Ok(()),
        }
    }

    /// Feeds the wire bytes, exactly `encoded_len` of them, to `sink`, without validation.
    pub(super) fn emit<E>(&self, mut sink: impl FnMut(u8) -> Result<(), E>) -> Result<(), E> {
        match self {
            Self::Iscsi { name, isid } => {
                let isid = isid.as_deref();
                let text_len = iscsi_text_len(name, isid);
                let additional = iscsi_additional_len(text_len);
                let [hi, lo] = u16::try_from(additional).unwrap_or(u16::MAX).to_be_bytes();
                let b0 = byte0(u8::from(isid.is_some()), PROTO_ISCSI);
                for b in [b0, 0, hi, lo] {
                    sink(b)?;
                }
                let sep = isid.map_or(&[][..], |_| ISID_SEPARATOR.as_bytes());
                let text = name
                    .bytes()
                    .chain(sep.iter().copied())
                    .chain(isid.unwrap_or_default().bytes());
                for b in text {
                    sink(b)?;
                }
                for _ in 0..additional.saturating_sub(text_len) {
                    sink(0)?;
                }
                Ok(())
            }
            Self::Other {
                protocol,
                format,
                bytes,
            } => {
                sink(byte0(*format, *protocol))?;
                bytes.iter().try_for_each(|&b| sink(b))
            }
            fixed => fixed.fixed_bytes().into_iter().try_for_each(sink),
        }
    }

    /// The 24 wire bytes of a fixed-size variant (all zero for iSCSI and Other).
    fn fixed_bytes(&self) -> [u8; FIXED_LEN] {
        let mut a = [0u8; FIXED_LEN];
        put(
            &mut a,
            0,
            &[byte0(self.format_code(), self.protocol_code())],
        );
        match self {
            Self::FibreChannel { n_port_name } => put(&mut a, 8, &n_port_name.to_be_bytes()),
            Self::ParallelScsi {
                scsi_address,
                relative_target_port,
            } => {
                put(&mut a, 2, &scsi_address.to_be_bytes());
                put(&mut a, 6, &relative_target_port.to_be_bytes());
            }
            Self::Ssa { data, .. } => put(&mut a, 1, data),
            Self::Ieee1394 { eui64 } => put(&mut a, 8, &eui64.to_be_bytes()),
            Self::Srp { port_id } => put(&mut a, 8, port_id),
            Self::Sas { address } => put(&mut a, 4, &address.to_be_bytes()),
            Self::Sop { routing_id } => put(&mut a, 2, &routing_id.to_be_bytes()),
            Self::Iscsi { .. } | Self::Other { .. } => {}
        }
        a
    }
}

/// Copies `src` into `dst` from `at`, as far as `dst` reaches.
fn put(dst: &mut [u8], at: usize, src: &[u8]) {
    for (d, s) in dst.iter_mut().skip(at).zip(src) {
        *d = *s;
    }
}

fn check_format(format: u8) -> Result<(), TransportIdError> {
    if format > 0x03 {
        return Err(Error::FieldOutOfRange {
            what: "TransportID format code",
            value: format,
            max: 0x03,
        });
    }
    Ok(())
}

/// ADDITIONAL LENGTH for iSCSI text: text + NUL, rounded up to a multiple of 4, at least 20.
fn iscsi_additional_len(text_len: usize) -> usize {
    let padded = text_len.saturating_add(1).saturating_add(3) & !3usize;
    padded.max(ISCSI_MIN_ADDITIONAL)
}

fn iscsi_total_len(text_len: usize) -> usize {
    ISCSI_HEADER_LEN.saturating_add(iscsi_additional_len(text_len))
}

pub(super) fn validate_iscsi(name: &str, isid: Option<&str>) -> Result<(), TransportIdError> {
    if name.is_empty() {
        return Err(Error::IscsiNameEmpty);
    }
    if name.contains('\0') || isid.is_some_and(|i| i.contains('\0')) {
        return Err(Error::IscsiNul);
    }
    if let Some(isid) = isid {
        if name.contains(ISID_SEPARATOR) {
            return Err(Error::IscsiNameHasSeparator);
        }
        check_isid(isid, 0)?;
    }
    let len = iscsi_text_len(name, isid);
    if len > ISCSI_MAX_TEXT {
        return Err(Error::IscsiNameTooLong {
            len,
            max: ISCSI_MAX_TEXT,
        });
    }
    Ok(())
}
