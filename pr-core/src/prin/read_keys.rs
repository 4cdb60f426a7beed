//! READ KEYS (SPC-5 6.16.2): PRGENERATION, ADDITIONAL LENGTH, then one 8-byte key per
//! registered I_T nexus.

use zerocopy::byteorder::big_endian::{U32, U64};
use zerocopy::{FromBytes, IntoBytes};

use super::{HEADER_LEN, header, needed};
use crate::error::DecodeError;
use crate::types::ReservationKey;

/// A borrowed view of a READ KEYS response.
#[derive(Clone, Copy, Debug)]
pub struct ReadKeys<'a> {
    generation: u32,
    additional_length: u32,
    keys: &'a [U64],
    returned: usize,
}

impl<'a> ReadKeys<'a> {
    /// Decodes a READ KEYS response. Only the 8-byte header is required; the key list is
    /// clamped to ADDITIONAL LENGTH and to the bytes present (a trailing partial key is
    /// ignored and counts as truncation).
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let (h, rest) = header("READ KEYS response", bytes)?;
        let additional_length = h.additional_length.get();
        let listed = usize::try_from(additional_length).unwrap_or(usize::MAX);
        let body = rest.get(..listed.min(rest.len())).unwrap_or(&[]);
        let (keys, _) =
            <[U64]>::ref_from_prefix_with_elems(body, body.len() / 8).map_err(|_| {
                DecodeError::BadLength {
                    what: "READ KEYS ADDITIONAL LENGTH",
                    value: additional_length,
                }
            })?;
        Ok(ReadKeys {
            generation: h.generation.get(),
            additional_length,
            keys,
            returned: bytes.len(),
        })
    }

    /// PRGENERATION.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// ADDITIONAL LENGTH as reported: 8 times the number of registered keys, even when the
    /// response was truncated.
    pub fn additional_length(&self) -> u32 {
        self.additional_length
    }

    /// The keys present in the response, in the device's order.
    pub fn keys(&self) -> Keys<'a> {
        Keys {
            inner: self.keys.iter(),
        }
    }

    /// How many keys are present in the response.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the response holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many keys are registered according to ADDITIONAL LENGTH.
    pub fn reported_count(&self) -> u32 {
        self.additional_length / 8
    }

    /// Whether the device had more keys than the response carries.
    pub fn is_truncated(&self) -> bool {
        self.needed_alloc_len().is_some()
    }

    /// The allocation length that would return the whole list, when this one was cut.
    pub fn needed_alloc_len(&self) -> Option<u32> {
        needed(self.additional_length, self.returned)
    }

    /// Writes a READ KEYS response into `out` (sized to the allocation length): the header
    /// with ADDITIONAL LENGTH counting every key, then the key list cut at the allocation
    /// length (possibly inside a key, as SPC truncates). Returns the
    /// bytes written. Allocates nothing.
    pub fn encode(
        generation: u32,
        keys: impl IntoIterator<Item = ReservationKey>,
        out: &mut [u8],
    ) -> usize {
        let mut written = 0usize;
        let mut total: u32 = 0;
        for (i, k) in keys.into_iter().enumerate() {
            total = total.saturating_add(8);
            let at = i.saturating_mul(8).saturating_add(HEADER_LEN);
            if at < out.len() {
                // The allocation length may cut a key in the middle (SPC truncates bytes).
                let end = at.saturating_add(8).min(out.len());
                let kb = k.to_be_bytes();
                if let (Some(dst), Some(src)) =
                    (out.get_mut(at..end), kb.get(..end.saturating_sub(at)))
                {
                    dst.copy_from_slice(src);
                }
                written = end;
            }
        }
        let h = super::Header {
            generation: U32::new(generation),
            additional_length: U32::new(total),
        };
        let hb = h.as_bytes();
        let n = hb.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), hb.get(..n)) {
            dst.copy_from_slice(src);
        }
        written.max(n)
    }
}

/// Iterator over the keys of a [`ReadKeys`] view.
#[derive(Clone, Debug)]
pub struct Keys<'a> {
    inner: core::slice::Iter<'a, U64>,
}

impl Iterator for Keys<'_> {
    type Item = ReservationKey;
    fn next(&mut self) -> Option<ReservationKey> {
        self.inner.next().map(|k| ReservationKey(k.get()))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for Keys<'_> {}
impl DoubleEndedIterator for Keys<'_> {
    fn next_back(&mut self) -> Option<ReservationKey> {
        self.inner.next_back().map(|k| ReservationKey(k.get()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_and_short() {
        let r = ReadKeys::decode(&[0, 0, 0, 9, 0, 0, 0, 0]).unwrap();
        assert_eq!((r.generation(), r.len(), r.is_truncated()), (9, 0, false));
        assert!(ReadKeys::decode(&[0; 7]).is_err());
    }

    #[test]
    fn partial_key_is_truncation() {
        let mut b = vec![0u8, 0, 0, 1, 0, 0, 0, 16];
        b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
        let r = ReadKeys::decode(&b).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r.needed_alloc_len(), Some(24));
    }

    #[test]
    fn trailing_bytes_beyond_additional_length_ignored() {
        let mut b = vec![0u8, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7];
        b.extend_from_slice(&[0xff; 16]);
        let r = ReadKeys::decode(&b).unwrap();
        assert_eq!(r.keys().collect::<Vec<_>>(), [ReservationKey(7)]);
        assert!(!r.is_truncated());
    }

    proptest! {
        #[test]
        fn roundtrip(generation: u32, keys in proptest::collection::vec(any::<u64>(), 0..40), alloc in 0usize..400) {
            let keys: Vec<ReservationKey> = keys.into_iter().map(ReservationKey).collect();
            let mut out = vec![0u8; alloc];
            let n = ReadKeys::encode(generation, keys.iter().copied(), &mut out);
            prop_assert_eq!(n, alloc.min(8 + 8 * keys.len()));
            match ReadKeys::decode(&out[..n]) {
                Ok(r) => {
                    prop_assert_eq!(r.generation(), generation);
                    prop_assert_eq!(r.reported_count() as usize, keys.len());
                    let got: Vec<_> = r.keys().collect();
                    prop_assert_eq!(&got[..], &keys[..got.len()]);
                    prop_assert_eq!(r.is_truncated(), got.len() < keys.len());
                }
                Err(_) => prop_assert!(n < 8),
            }
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            if let Ok(r) = ReadKeys::decode(&bytes) {
                let _ = r.keys().count();
                let _ = r.needed_alloc_len();
            }
        }
    }
}
