//! READ FULL STATUS (SPC-5 6.16.5): PRGENERATION, ADDITIONAL LENGTH, then one descriptor per
//! registration:
//!
//! ```text
//! 0-7    RESERVATION KEY
//! 8-11   reserved
//! 12     ALL_TG_PT(1) R_HOLDER(0)
//! 13     SCOPE(7:4) TYPE(3:0)          (meaningful when R_HOLDER is set)
//! 14-17  reserved
//! 18-19  RELATIVE TARGET PORT IDENTIFIER
//! 20-23  ADDITIONAL DESCRIPTOR LENGTH   (the TransportID's length)
//! 24..   TransportID
//! ```

use zerocopy::byteorder::big_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{HEADER_LEN, header, needed};
use crate::error::DecodeError;
use crate::transport_id::{TransportId, TransportIdError};
use crate::types::{ReservationKey, ReservationType, Scope};

/// Length of a descriptor without its TransportID.
pub const DESCRIPTOR_HEADER_LEN: usize = 24;
/// A generous bound on one descriptor's length (24 bytes plus the longest TransportID a
/// device sends in practice, an iSCSI initiator port name).
pub const MAX_DESCRIPTOR_LEN: usize = DESCRIPTOR_HEADER_LEN + 264;

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
struct DescLayout {
    key: U64,
    reserved: [u8; 4],
    flags: u8,
    scope_type: u8,
    reserved2: [u8; 4],
    relative_target_port: U16,
    additional_length: U32,
}

const _: () = assert!(core::mem::size_of::<DescLayout>() == DESCRIPTOR_HEADER_LEN);

const ALL_TG_PT: u8 = 0x02;
const R_HOLDER: u8 = 0x01;

/// Whether a READ FULL STATUS response holds every descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truncation {
    /// Every descriptor is present, as far as can be told.
    Complete,
    /// ADDITIONAL LENGTH says more bytes exist: re-issue with this allocation length.
    Cut {
        /// The allocation length that returns everything.
        needed: u32,
    },
    /// ADDITIONAL LENGTH is satisfied, but the allocation length left no room for one more
    /// descriptor. Targets that return whole descriptors only and count only those in
    /// ADDITIONAL LENGTH (the Linux LIO target does) look complete then: re-issue with a
    /// larger allocation length to be sure.
    Possible,
}

/// A borrowed view of a READ FULL STATUS response.
#[derive(Clone, Copy, Debug)]
pub struct FullStatus<'a> {
    generation: u32,
    additional_length: u32,
    body: &'a [u8],
    returned: usize,
}

impl<'a> FullStatus<'a> {
    /// Decodes a READ FULL STATUS response. Only the header is required; descriptors are
    /// read lazily by [`FullStatus::descriptors`].
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let (h, rest) = header("READ FULL STATUS response", bytes)?;
        let additional_length = h.additional_length.get();
        let listed = usize::try_from(additional_length).unwrap_or(usize::MAX);
        Ok(FullStatus {
            generation: h.generation.get(),
            additional_length,
            body: rest.get(..listed.min(rest.len())).unwrap_or(&[]),
            returned: bytes.len(),
        })
    }

    /// PRGENERATION.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// ADDITIONAL LENGTH as reported.
    pub fn additional_length(&self) -> u32 {
        self.additional_length
    }

    /// The descriptors present in the response. A descriptor cut off by the end of the
    /// data is not returned (see [`FullStatus::truncation`]).
    pub fn descriptors(&self) -> FullStatusIter<'a> {
        FullStatusIter { rest: self.body }
    }

    /// Whether ADDITIONAL LENGTH says the response was cut.
    pub fn is_truncated(&self) -> bool {
        self.needed_alloc_len().is_some()
    }

    /// The allocation length that would return every descriptor, when ADDITIONAL LENGTH
    /// says this response was cut.
    pub fn needed_alloc_len(&self) -> Option<u32> {
        needed(self.additional_length, self.returned)
    }

    /// Whether the response is complete, given the allocation length it was requested with.
    pub fn truncation(&self, allocation_length: u32) -> Truncation {
        if let Some(n) = self.needed_alloc_len() {
            return Truncation::Cut { needed: n };
        }
        let room = usize::try_from(allocation_length)
            .unwrap_or(usize::MAX)
            .saturating_sub(self.returned);
        if room < MAX_DESCRIPTOR_LEN && allocation_length < u32::from(u16::MAX) {
            Truncation::Possible
        } else {
            Truncation::Complete
        }
    }

    /// Writes a READ FULL STATUS response into `out` (sized to the allocation length) and
    /// returns the bytes written.
    ///
    /// With `whole_descriptors == false` the response follows SPC: ADDITIONAL LENGTH counts
    /// every descriptor and the bytes are cut at the allocation length. With `true` only the
    /// descriptors that fit entirely are written and ADDITIONAL LENGTH counts only those (a
    /// conservative target behaviour that clients must be ready for; the Linux LIO target's
    /// own, odder algorithm is reproduced by `pr-sim`'s LIO personality, not here).
    pub fn encode<'t>(
        generation: u32,
        entries: impl IntoIterator<Item = FullStatusEntry<'t>>,
        out: &mut [u8],
        whole_descriptors: bool,
    ) -> Result<usize, TransportIdError> {
        let mut at = HEADER_LEN;
        let mut total: usize = 0;
        let mut scratch = [0u8; MAX_DESCRIPTOR_LEN.saturating_add(256)];
        for e in entries {
            let tl = e.transport_id.encoded_len();
            let dl = DESCRIPTOR_HEADER_LEN.saturating_add(tl);
            let available = scratch.len();
            let d = scratch
                .get_mut(..dl)
                .ok_or(TransportIdError::OutputTooSmall {
                    needed: dl,
                    available,
                })?;
            let (h, t) = d.split_at_mut(DESCRIPTOR_HEADER_LEN);
            let mut flags = 0;
            if e.all_tg_pt {
                flags |= ALL_TG_PT;
            }
            if e.r_holder {
                flags |= R_HOLDER;
            }
            let l = DescLayout {
                key: U64::new(e.key.0),
                reserved: [0; 4],
                flags,
                scope_type: (e.scope.code() << 4) | (e.type_code & 0x0f),
                reserved2: [0; 4],
                relative_target_port: U16::new(e.relative_target_port),
                additional_length: U32::new(u32::try_from(tl).unwrap_or(u32::MAX)),
            };
            h.copy_from_slice(l.as_bytes());
            e.transport_id.encode(t)?;
            let end = at.saturating_add(dl);
            if end <= out.len() {
                if let Some(dst) = out.get_mut(at..end) {
                    dst.copy_from_slice(d);
                }
            } else if whole_descriptors {
                break;
            } else {
                let n = out.len().saturating_sub(at);
                if let (Some(dst), Some(src)) = (out.get_mut(at..), d.get(..n)) {
                    dst.copy_from_slice(src);
                }
            }
            at = end;
            total = total.saturating_add(dl);
        }
        let h = super::Header {
            generation: U32::new(generation),
            additional_length: U32::new(u32::try_from(total).unwrap_or(u32::MAX)),
        };
        let hb = h.as_bytes();
        let n = hb.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), hb.get(..n)) {
            dst.copy_from_slice(src);
        }
        Ok(at.min(out.len()).max(n))
    }
}

/// Iterator over the descriptors of a [`FullStatus`] view.
#[derive(Clone, Debug)]
pub struct FullStatusIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for FullStatusIter<'a> {
    type Item = FullStatusDescriptor<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let (d, after) = DescLayout::ref_from_prefix(self.rest).ok()?;
        let tl = usize::try_from(d.additional_length.get()).unwrap_or(usize::MAX);
        let Some(tid) = after.get(..tl) else {
            self.rest = &[];
            return None;
        };
        self.rest = after.get(tl..).unwrap_or(&[]);
        Some(FullStatusDescriptor {
            layout: d,
            transport_id_bytes: tid,
        })
    }
}

/// One READ FULL STATUS descriptor, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct FullStatusDescriptor<'a> {
    layout: &'a DescLayout,
    transport_id_bytes: &'a [u8],
}

impl<'a> FullStatusDescriptor<'a> {
    /// RESERVATION KEY of the registration.
    pub fn key(&self) -> ReservationKey {
        ReservationKey(self.layout.key.get())
    }

    /// ALL_TG_PT: the registration applies to all target ports.
    pub fn all_tg_pt(&self) -> bool {
        self.layout.flags & ALL_TG_PT != 0
    }

    /// R_HOLDER: this I_T nexus holds the reservation.
    pub fn is_holder(&self) -> bool {
        self.layout.flags & R_HOLDER != 0
    }

    /// SCOPE (meaningful for holders).
    pub fn scope(&self) -> Scope {
        Scope::from_code(self.layout.scope_type >> 4)
    }

    /// The raw TYPE code (meaningful for holders).
    pub fn type_code(&self) -> u8 {
        self.layout.scope_type & 0x0f
    }

    /// The typed reservation type, for holders with a valid code.
    pub fn reservation_type(&self) -> Option<ReservationType> {
        if self.is_holder() {
            ReservationType::from_code(self.type_code())
        } else {
            None
        }
    }

    /// RELATIVE TARGET PORT IDENTIFIER (0 when ALL_TG_PT is set).
    pub fn relative_target_port(&self) -> u16 {
        self.layout.relative_target_port.get()
    }

    /// The TransportID's raw bytes.
    pub fn transport_id_bytes(&self) -> &'a [u8] {
        self.transport_id_bytes
    }

    /// The decoded TransportID of the initiator port.
    pub fn transport_id(&self) -> Result<TransportId<'a>, TransportIdError> {
        TransportId::decode(self.transport_id_bytes).map(|(t, _)| t)
    }

    /// The descriptor as an entry (for comparison or re-encoding).
    pub fn to_entry(&self) -> Result<FullStatusEntry<'a>, TransportIdError> {
        Ok(FullStatusEntry {
            key: self.key(),
            all_tg_pt: self.all_tg_pt(),
            r_holder: self.is_holder(),
            scope: self.scope(),
            type_code: self.type_code(),
            relative_target_port: self.relative_target_port(),
            transport_id: self.transport_id()?,
        })
    }
}

/// The values of one READ FULL STATUS descriptor, for encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullStatusEntry<'a> {
    /// RESERVATION KEY.
    pub key: ReservationKey,
    /// ALL_TG_PT.
    pub all_tg_pt: bool,
    /// R_HOLDER.
    pub r_holder: bool,
    /// SCOPE.
    pub scope: Scope,
    /// Raw TYPE code (0 for non-holders).
    pub type_code: u8,
    /// RELATIVE TARGET PORT IDENTIFIER.
    pub relative_target_port: u16,
    /// The initiator port's TransportID.
    pub transport_id: TransportId<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(key: u64, holder: bool, addr: u64) -> FullStatusEntry<'static> {
        FullStatusEntry {
            key: ReservationKey(key),
            all_tg_pt: false,
            r_holder: holder,
            scope: Scope::LogicalUnit,
            type_code: if holder { 5 } else { 0 },
            relative_target_port: 1,
            transport_id: TransportId::Sas { address: addr },
        }
    }

    #[test]
    fn spc_layout_two_descriptors() {
        let mut out = [0u8; 200];
        let es = [
            entry(0x11, true, 0x5001405a00000001),
            entry(0x22, false, 0x5001405a00000002),
        ];
        let n = FullStatus::encode(7, es.clone(), &mut out, false).unwrap();
        assert_eq!(n, 8 + 2 * 48);
        assert_eq!(&out[..8], &[0, 0, 0, 7, 0, 0, 0, 96]);
        assert_eq!(out[8 + 12], 0x01);
        assert_eq!(out[8 + 13], 0x05);
        assert_eq!(&out[8 + 18..8 + 24], &[0, 1, 0, 0, 0, 24]);
        assert_eq!(out[8 + 24], 0x06);
        let fs = FullStatus::decode(&out[..n]).unwrap();
        let got: Vec<_> = fs.descriptors().map(|d| d.to_entry().unwrap()).collect();
        assert_eq!(got, es);
        assert_eq!(fs.truncation(8192), Truncation::Complete);
    }

    #[test]
    fn truncation_both_ways() {
        let es = [entry(1, false, 1), entry(2, false, 2), entry(3, false, 3)];
        let mut out = [0u8; 100];
        // SPC: bytes cut, ADDITIONAL LENGTH = all.
        let n = FullStatus::encode(1, es.clone(), &mut out, false).unwrap();
        let fs = FullStatus::decode(&out[..n]).unwrap();
        assert_eq!(fs.descriptors().count(), 1);
        assert_eq!(fs.truncation(100), Truncation::Cut { needed: 152 });
        // LIO: whole descriptors only.
        let n = FullStatus::encode(1, es, &mut out, true).unwrap();
        assert_eq!(n, 8 + 48);
        let fs = FullStatus::decode(&out[..n]).unwrap();
        assert_eq!(fs.additional_length(), 48);
        assert_eq!(fs.descriptors().count(), 1);
        assert_eq!(fs.truncation(100), Truncation::Possible);
    }

    fn arb_entry() -> impl Strategy<Value = FullStatusEntry<'static>> {
        (
            any::<u64>(),
            any::<bool>(),
            any::<bool>(),
            0u8..16,
            any::<u16>(),
            any::<u64>(),
        )
            .prop_map(|(k, a, h, t, r, addr)| FullStatusEntry {
                key: ReservationKey(k),
                all_tg_pt: a,
                r_holder: h,
                scope: Scope::LogicalUnit,
                type_code: t,
                relative_target_port: r,
                transport_id: TransportId::Sas { address: addr },
            })
    }

    proptest! {
        #[test]
        fn roundtrip(generation: u32, es in proptest::collection::vec(arb_entry(), 0..30)) {
            let mut out = vec![0u8; 8 + 48 * es.len()];
            let n = FullStatus::encode(generation, es.clone(), &mut out, false).unwrap();
            let fs = FullStatus::decode(&out[..n]).unwrap();
            prop_assert_eq!(fs.generation(), generation);
            let got: Vec<_> = fs.descriptors().map(|d| d.to_entry().unwrap()).collect();
            prop_assert_eq!(got, es);
            prop_assert!(!fs.is_truncated());
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), alloc: u32) {
            if let Ok(fs) = FullStatus::decode(&bytes) {
                for d in fs.descriptors() {
                    let _ = (d.key(), d.reservation_type(), d.transport_id());
                }
                let _ = fs.truncation(alloc);
            }
        }
    }
}
