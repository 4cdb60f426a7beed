//! READ RESERVATION (SPC-5 6.16.3): PRGENERATION, ADDITIONAL LENGTH (0 or 16), and when a
//! reservation exists its key, scope and type.

use zerocopy::byteorder::big_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{HEADER_LEN, header, needed};
use crate::error::DecodeError;
use crate::types::{ReservationKey, ReservationType, Scope};

/// The 16-byte reservation descriptor.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
struct Descriptor {
    key: U64,
    obsolete: [u8; 4],
    reserved: u8,
    scope_type: u8,
    obsolete2: [u8; 2],
}

/// Length of the response when a reservation exists.
pub const FULL_LEN: usize = HEADER_LEN + 16;

/// The reservation a READ RESERVATION response reports.
///
/// With the `serde` feature: `{"key": "0x1234", "scope": "logical_unit", "type_code": 5,
/// "type": "write_exclusive_registrants_only"}` (`type` `null` for an obsolete or reserved
/// code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reservation {
    /// The holder's key; 0 for the all-registrants types (7h, 8h).
    pub key: ReservationKey,
    /// The scope (LU_SCOPE).
    pub scope: Scope,
    /// The raw 4-bit TYPE code; see [`Reservation::reservation_type`].
    pub type_code: u8,
}

impl Reservation {
    /// The typed reservation type, `None` for obsolete or reserved codes.
    pub fn reservation_type(&self) -> Option<ReservationType> {
        ReservationType::from_code(self.type_code)
    }
}

/// A borrowed view of a READ RESERVATION response.
#[derive(Clone, Copy, Debug)]
pub struct ReadReservation<'a> {
    generation: u32,
    additional_length: u32,
    descriptor: Option<&'a Descriptor>,
    returned: usize,
}

impl<'a> ReadReservation<'a> {
    /// Decodes a READ RESERVATION response. ADDITIONAL LENGTH 0 means no reservation; any
    /// non-zero value is read as a descriptor when its 16 bytes are present (other
    /// lengths are accepted; only the first descriptor matters in LU_SCOPE).
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let (h, rest) = header("READ RESERVATION response", bytes)?;
        let additional_length = h.additional_length.get();
        let descriptor = if additional_length == 0 {
            None
        } else {
            Descriptor::ref_from_prefix(rest).ok().map(|(d, _)| d)
        };
        Ok(ReadReservation {
            generation: h.generation.get(),
            additional_length,
            descriptor,
            returned: bytes.len(),
        })
    }

    /// PRGENERATION.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// ADDITIONAL LENGTH as reported (0 or 16).
    pub fn additional_length(&self) -> u32 {
        self.additional_length
    }

    /// The reservation, if one exists and its descriptor was returned.
    pub fn reservation(&self) -> Option<Reservation> {
        self.descriptor.map(|d| Reservation {
            key: ReservationKey(d.key.get()),
            scope: Scope::from_code(d.scope_type >> 4),
            type_code: d.scope_type & 0x0f,
        })
    }

    /// Whether the device reports a reservation (even if the allocation length cut its
    /// descriptor off).
    pub fn is_reserved(&self) -> bool {
        self.additional_length != 0
    }

    /// Whether the descriptor was cut off by the allocation length.
    pub fn is_truncated(&self) -> bool {
        self.needed_alloc_len().is_some()
    }

    /// The allocation length that would return the whole response, when this one was cut.
    pub fn needed_alloc_len(&self) -> Option<u32> {
        needed(self.additional_length, self.returned)
    }

    /// Writes a READ RESERVATION response into `out` (sized to the allocation length),
    /// returning the bytes written.
    pub fn encode(generation: u32, reservation: Option<Reservation>, out: &mut [u8]) -> usize {
        let mut full = [0u8; FULL_LEN];
        let h = super::Header {
            generation: U32::new(generation),
            additional_length: U32::new(if reservation.is_some() { 16 } else { 0 }),
        };
        let (hb, db) = full.split_at_mut(HEADER_LEN);
        hb.copy_from_slice(h.as_bytes());
        let len = match reservation {
            Some(r) => {
                let d = Descriptor {
                    key: U64::new(r.key.0),
                    obsolete: [0; 4],
                    reserved: 0,
                    scope_type: (r.scope.code() << 4) | (r.type_code & 0x0f),
                    obsolete2: [0; 2],
                };
                db.copy_from_slice(d.as_bytes());
                FULL_LEN
            }
            None => HEADER_LEN,
        };
        let n = len.min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), full.get(..n)) {
            dst.copy_from_slice(src);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spc_layout() {
        let b = [
            0, 0, 0, 3, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0x11, 0x11, 0, 0, 0, 0, 0, 0x05, 0, 0,
        ];
        let r = ReadReservation::decode(&b).unwrap();
        let res = r.reservation().unwrap();
        assert_eq!(res.key, ReservationKey(0x1111));
        assert_eq!(
            res.reservation_type(),
            Some(ReservationType::WriteExclusiveRegistrantsOnly)
        );
        assert_eq!(res.scope, Scope::LogicalUnit);
        assert!(!r.is_truncated());
        let none = ReadReservation::decode(&[0, 0, 0, 3, 0, 0, 0, 0]).unwrap();
        assert!(none.reservation().is_none() && !none.is_reserved());
    }

    #[test]
    fn cut_descriptor() {
        let b = [0, 0, 0, 3, 0, 0, 0, 16, 0, 0];
        let r = ReadReservation::decode(&b).unwrap();
        assert!(r.is_reserved() && r.reservation().is_none());
        assert_eq!(r.needed_alloc_len(), Some(24));
    }

    proptest! {
        #[test]
        fn roundtrip(generation: u32, key: u64, t in 0u8..16, some: bool, alloc in 0usize..40) {
            let res = some.then_some(Reservation { key: ReservationKey(key), scope: Scope::LogicalUnit, type_code: t });
            let mut out = vec![0u8; alloc];
            let n = ReadReservation::encode(generation, res, &mut out);
            if let Ok(r) = ReadReservation::decode(&out[..n]) {
                prop_assert_eq!(r.generation(), generation);
                if n >= FULL_LEN || res.is_none() {
                    prop_assert_eq!(r.reservation(), res);
                }
            } else {
                prop_assert!(n < 8);
            }
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(r) = ReadReservation::decode(&bytes) {
                let _ = (r.reservation(), r.needed_alloc_len());
            }
        }
    }
}
