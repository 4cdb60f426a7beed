//! The ALLOCATION LENGTH of a PERSISTENT RESERVE IN command: what to ask for first, and when
//! and how far to grow it after a response. This is the project's one rule for it; every
//! engine that sends PR IN (pr-multipath's LUN, libpr_sdk, the lab's raw engine) follows it.
//!
//! # Why a PR IN is re-issued
//! The ALLOCATION LENGTH in the CDB caps the bytes the device returns. A device with more to
//! say cuts its answer there, and its ADDITIONAL LENGTH still tells how much there was
//! (SPC-5 6.16): READ KEYS and READ RESERVATION say exactly how long a complete answer is,
//! so the command is re-issued once with that length.
//!
//! READ FULL STATUS cannot be trusted the same way. The Linux LIO target decides descriptor
//! by descriptor whether to include one, comparing only the TransportID's length plus what
//! it has counted so far with the allocation length (leaving out the 24-byte descriptor
//! header and the 8-byte response header), and counts in ADDITIONAL LENGTH only the
//! descriptors it included. So an answer can look complete while registrants are missing
//! ([`Truncation::Possible`]), and a cut answer's ADDITIONAL LENGTH can undercount: asked
//! again with exactly that length, LIO includes more descriptors and may cut again. Whenever a
//! READ FULL STATUS answer is or may be incomplete, the command is therefore re-issued
//! straight at 65535, the largest allocation length the CDB can carry.
//!
//! REPORT CAPABILITIES has a fixed 8-byte answer and never grows.
//!
//! # When growth stops
//! [`next_alloc_len`] returns a length strictly greater than the one just used, or `None`,
//! and never more than [`MAX_ALLOC_LEN`] (65535): at 65535 it always returns `None`. A loop
//! that re-issues while it returns `Some` therefore ends, whatever the device answers. With
//! a device that answers consistently it ends after one re-issue: READ KEYS and READ
//! RESERVATION get the length they asked for, and READ FULL STATUS gets 65535. Only a
//! device whose list grows between the commands (or that misreports ADDITIONAL LENGTH) can
//! make READ KEYS ask again; an engine caps its attempts anyway ([`MAX_ATTEMPTS`]), and
//! returns a response still cut at 65535 as it is (SPC has no larger allocation length).
//!
//! ```
//! use pr_core::prin::alloc::{initial_alloc_len, next_alloc_len};
//! use pr_core::prin::ReadKeys;
//! use pr_core::types::{PrInAction, ReservationKey};
//!
//! // A device with three keys answers an allocation length of 16: header + one key.
//! let mut answer = [0u8; 16];
//! ReadKeys::encode(1, [ReservationKey(1), ReservationKey(2), ReservationKey(3)], &mut answer);
//! assert_eq!(next_alloc_len(PrInAction::ReadKeys, 16, &answer), Some(32));
//!
//! // The whole list at the usual first length: nothing to grow.
//! let mut answer = vec![0u8; usize::from(initial_alloc_len(PrInAction::ReadKeys))];
//! let n = ReadKeys::encode(1, [ReservationKey(1)], &mut answer);
//! assert_eq!(next_alloc_len(PrInAction::ReadKeys, 8192, &answer[..n]), None);
//! ```

use super::{FullStatus, HEADER_LEN, ReadKeys, ReadReservation, Truncation};
use crate::types::PrInAction;

/// The allocation length of a first PR IN attempt: 8192, for every action.
///
/// 8192 is what sg3_utils' `sg_persist` and multipath-tools' `mpathpersist` ask for: it holds
/// 1023 keys in one READ KEYS, and READ RESERVATION (24 bytes) and REPORT CAPABILITIES
/// (8 bytes) always fit. Ask [`initial_alloc_len`] rather than use this constant, so that a
/// later per-action choice reaches every caller.
pub const DEFAULT_ALLOC_LEN: u16 = 8192;

/// The largest allocation length a PERSISTENT RESERVE IN CDB can carry (a 16-bit field):
/// growth stops here.
pub const MAX_ALLOC_LEN: u16 = u16::MAX;

/// The smallest allocation length that holds a PR IN response header (PRGENERATION and
/// ADDITIONAL LENGTH, or REPORT CAPABILITIES' whole answer): 8.
pub const MIN_ALLOC_LEN: u16 = 8;

// The header length, spelt as the 16-bit CDB field.
const _: () = assert!(MIN_ALLOC_LEN == 8 && HEADER_LEN == 8);

/// The most PR IN commands an engine should send for one answer: the first, the one
/// re-issue a consistent device needs, and two more for a device whose list grows between
/// the commands. An answer still incomplete after that is returned as it is (its view says
/// it is truncated).
pub const MAX_ATTEMPTS: u32 = 4;

/// The allocation length to send PR IN `action` with first (see [`DEFAULT_ALLOC_LEN`]).
pub const fn initial_alloc_len(action: PrInAction) -> u16 {
    match action {
        PrInAction::ReadKeys
        | PrInAction::ReadReservation
        | PrInAction::ReportCapabilities
        | PrInAction::ReadFullStatus => DEFAULT_ALLOC_LEN,
    }
}

/// The allocation length to re-issue PR IN `action` with after the device answered
/// `response` (the bytes it returned, at most `alloc_len` of them) to an allocation length
/// of `alloc_len`; `None` when the answer is complete, or when a larger allocation length
/// cannot help (already 65535, or nothing decodable to go by).
///
/// - READ KEYS, READ RESERVATION: the length ADDITIONAL LENGTH asks for (8 + ADDITIONAL
///   LENGTH), capped at 65535, when it is more than `alloc_len`.
/// - READ FULL STATUS: 65535 when [`FullStatus::truncation`] is not
///   [`Truncation::Complete`] (cut, or possibly cut silently by a LIO-like target; see the
///   [module documentation](self)).
/// - REPORT CAPABILITIES: never.
/// - Any action, `alloc_len` below [`MIN_ALLOC_LEN`] (too small for the response header):
///   [`initial_alloc_len`].
///
/// A `Some` is always greater than `alloc_len`, so a loop that re-issues while this returns
/// `Some` ends (at 65535 at the latest). Pure and allocation-free.
pub fn next_alloc_len(action: PrInAction, alloc_len: u16, response: &[u8]) -> Option<u16> {
    if alloc_len < MIN_ALLOC_LEN {
        return Some(initial_alloc_len(action));
    }
    let needed = match action {
        PrInAction::ReadKeys => ReadKeys::decode(response).ok()?.needed_alloc_len(),
        PrInAction::ReadReservation => ReadReservation::decode(response).ok()?.needed_alloc_len(),
        PrInAction::ReportCapabilities => None,
        PrInAction::ReadFullStatus => {
            match FullStatus::decode(response)
                .ok()?
                .truncation(u32::from(alloc_len))
            {
                Truncation::Complete => None,
                Truncation::Cut { .. } | Truncation::Possible => Some(u32::from(MAX_ALLOC_LEN)),
            }
        }
    };
    let next = u16::try_from(needed?).unwrap_or(MAX_ALLOC_LEN);
    (next > alloc_len).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prin::FullStatusEntry;
    use crate::transport_id::TransportId;
    use crate::types::{ReservationKey, Scope};
    use proptest::prelude::*;

    /// What a device answers to one allocation length.
    type Device<'a> = dyn Fn(u16) -> Vec<u8> + 'a;

    /// Issues `action` from `first` until the rule stops: the allocation lengths sent and
    /// the last answer. Checks on every step that the length grows and stays in range, and
    /// fails if more than 65536 commands would be sent.
    fn drive(action: PrInAction, first: u16, device: &Device<'_>) -> (Vec<u16>, Vec<u8>) {
        let mut sent = vec![first];
        let mut alloc = first;
        loop {
            let answer = device(alloc);
            match next_alloc_len(action, alloc, &answer) {
                None => return (sent, answer),
                Some(next) => {
                    assert!(next > alloc, "{action}: {alloc} -> {next}");
                    assert!(sent.len() <= 65536, "{action}: no end");
                    sent.push(next);
                    alloc = next;
                }
            }
        }
    }

    fn keys(n: usize) -> impl Fn(u16) -> Vec<u8> {
        move |alloc| {
            let mut out = vec![0u8; usize::from(alloc)];
            let k = (0..n).map(|i| ReservationKey(u64::try_from(i).unwrap() + 1));
            let len = ReadKeys::encode(1, k, &mut out);
            out.truncate(len);
            out
        }
    }

    fn iscsi_entries(names: &[String]) -> Vec<FullStatusEntry<'_>> {
        names
            .iter()
            .map(|n| FullStatusEntry {
                key: ReservationKey(0x1111),
                all_tg_pt: false,
                r_holder: false,
                scope: Scope::LogicalUnit,
                type_code: 0,
                relative_target_port: 1,
                transport_id: TransportId::Iscsi {
                    name: n.as_str().into(),
                    isid: Some("00023d000001".into()),
                },
            })
            .collect()
    }

    fn names(n: usize, len: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("iqn.2003-01.org.linux-iscsi.lab:{i:0>len$}"))
            .collect()
    }

    /// READ FULL STATUS as SPC says (bytes cut at the allocation length, ADDITIONAL LENGTH
    /// counting everything) or whole descriptors only.
    fn full_status(names: Vec<String>, whole: bool) -> impl Fn(u16) -> Vec<u8> {
        move |alloc| {
            let mut out = vec![0u8; usize::from(alloc)];
            let n = FullStatus::encode(2, iscsi_entries(&names), &mut out, whole).unwrap();
            out.truncate(n);
            out
        }
    }

    /// READ FULL STATUS as the Linux LIO target builds it: before each descriptor it checks
    /// only the TransportID's length plus what it already counted against the allocation
    /// length, counts every descriptor that passes in ADDITIONAL LENGTH, and sends at most
    /// the allocation length of that.
    fn lio_full_status(names: Vec<String>) -> impl Fn(u16) -> Vec<u8> {
        move |alloc| {
            let entries = iscsi_entries(&names);
            let mut added = 0usize;
            for e in &entries {
                let tid = e.transport_id.encoded_len();
                if tid + added > usize::from(alloc) {
                    break;
                }
                added += 24 + tid;
            }
            let mut all = vec![0u8; 8 + entries.len() * MAX_DESC];
            let n = FullStatus::encode(2, entries, &mut all, false).unwrap();
            all.truncate(n);
            all[4..8].copy_from_slice(&u32::try_from(added).unwrap().to_be_bytes());
            all.truncate((8 + added).min(usize::from(alloc)));
            all
        }
    }

    const MAX_DESC: usize = crate::prin::MAX_DESCRIPTOR_LEN;

    #[test]
    fn initial_lengths() {
        for a in PrInAction::ALL {
            assert_eq!(initial_alloc_len(a), 8192);
            assert!(initial_alloc_len(a) >= MIN_ALLOC_LEN);
        }
    }

    #[test]
    fn read_keys_grows_to_what_it_asks_for_capped() {
        assert_eq!(drive(PrInAction::ReadKeys, 8192, &keys(3)).0, [8192]);
        let (sent, answer) = drive(PrInAction::ReadKeys, 8192, &keys(2000));
        assert_eq!(sent, [8192, 16008]);
        assert_eq!(ReadKeys::decode(&answer).unwrap().keys().count(), 2000);
        // 9000 keys need 72008 bytes: 65535, still cut, and nothing more to try.
        let (sent, answer) = drive(PrInAction::ReadKeys, 16, &keys(9000));
        assert_eq!(sent, [16, 65535]);
        assert!(ReadKeys::decode(&answer).unwrap().is_truncated());
        assert_eq!(next_alloc_len(PrInAction::ReadKeys, 65535, &answer), None);
    }

    #[test]
    fn read_reservation_grows_to_24() {
        let dev = |alloc: u16| {
            let mut out = vec![0u8; usize::from(alloc)];
            let r = crate::prin::Reservation {
                key: ReservationKey(9),
                scope: Scope::LogicalUnit,
                type_code: 5,
            };
            let n = ReadReservation::encode(1, Some(r), &mut out);
            out.truncate(n);
            out
        };
        assert_eq!(drive(PrInAction::ReadReservation, 8, &dev).0, [8, 24]);
        assert_eq!(drive(PrInAction::ReadReservation, 8192, &dev).0, [8192]);
    }

    #[test]
    fn report_capabilities_never_grows() {
        let caps = [0x00, 0x08, 0x1d, 0x91, 0xea, 0x01, 0, 0];
        assert_eq!(
            next_alloc_len(PrInAction::ReportCapabilities, 8, &caps),
            None
        );
        assert_eq!(
            next_alloc_len(PrInAction::ReportCapabilities, 8192, &caps),
            None
        );
    }

    #[test]
    fn too_small_for_a_header_restarts_at_the_initial_length() {
        for a in PrInAction::ALL {
            assert_eq!(next_alloc_len(a, 0, &[]), Some(8192));
            assert_eq!(next_alloc_len(a, 7, &[0; 7]), Some(8192));
        }
    }

    #[test]
    fn undecodable_answers_do_not_grow() {
        for a in PrInAction::ALL {
            assert_eq!(next_alloc_len(a, 8192, &[]), None);
            assert_eq!(next_alloc_len(a, 8192, &[0; 5]), None);
        }
    }

    #[test]
    fn read_full_status_goes_straight_to_65535() {
        // Cut by the allocation length (SPC): 65535, not the length it asks for.
        let spc = full_status(names(3, 40), false);
        let first = spc(100);
        assert!(matches!(
            FullStatus::decode(&first).unwrap().truncation(100),
            Truncation::Cut { .. }
        ));
        assert_eq!(
            next_alloc_len(PrInAction::ReadFullStatus, 100, &first),
            Some(65535)
        );
        // Whole descriptors only: looks complete, may not be.
        let (sent, answer) = drive(
            PrInAction::ReadFullStatus,
            200,
            &full_status(names(3, 40), true),
        );
        assert_eq!(sent, [200, 65535]);
        assert_eq!(
            FullStatus::decode(&answer).unwrap().descriptors().count(),
            3
        );
        // Room for one more descriptor: complete at once.
        assert_eq!(
            drive(
                PrInAction::ReadFullStatus,
                8192,
                &full_status(names(3, 40), true)
            )
            .0,
            [8192]
        );
        // LIO: the cut answer's ADDITIONAL LENGTH undercounts; re-issuing with it would cut
        // again.
        let lio = lio_full_status(names(10, 60));
        // (140-byte descriptors: the second is counted at 256 bytes, but 8 + 280 > 270.)
        let first = lio(270);
        let Truncation::Cut { needed } = FullStatus::decode(&first).unwrap().truncation(270) else {
            panic!("LIO's answer to 270 bytes is cut");
        };
        let again = lio(u16::try_from(needed).unwrap());
        assert_ne!(
            FullStatus::decode(&again).unwrap().truncation(needed),
            Truncation::Complete
        );
        let (sent, answer) = drive(PrInAction::ReadFullStatus, 270, &lio);
        assert_eq!(sent, [270, 65535]);
        assert_eq!(
            FullStatus::decode(&answer).unwrap().descriptors().count(),
            10
        );
        // At 65535 nothing more can be asked.
        assert_eq!(
            next_alloc_len(PrInAction::ReadFullStatus, 65535, &first),
            None
        );
    }

    fn action() -> impl Strategy<Value = PrInAction> {
        prop::sample::select(PrInAction::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn never_shrinks_never_panics(
            a in action(),
            alloc: u16,
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            if let Some(n) = next_alloc_len(a, alloc, &bytes) {
                prop_assert!(n > alloc);
            }
            prop_assert_eq!(next_alloc_len(a, MAX_ALLOC_LEN, &bytes), None);
        }

        /// Whatever a device answers to each length (answers picked at random, in turn),
        /// the lengths only grow and the loop ends.
        #[test]
        fn growth_terminates_against_any_device(
            a in action(),
            first: u16,
            answers in proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..64), 1..8),
            lengths in proptest::collection::vec(any::<u32>(), 1..8),
        ) {
            // Answers with an arbitrary ADDITIONAL LENGTH, so that growth really happens.
            let answers: Vec<Vec<u8>> = answers
                .into_iter()
                .zip(lengths.iter().cycle())
                .map(|(mut b, l)| {
                    b.resize(b.len().max(8), 0);
                    b[4..8].copy_from_slice(&l.to_be_bytes());
                    b
                })
                .collect();
            let turn = std::cell::Cell::new(0usize);
            let dev = |alloc: u16| {
                let i = turn.get();
                turn.set(i + 1);
                let mut b = answers[i % answers.len()].clone();
                b.truncate(usize::from(alloc));
                b
            };
            let (sent, _) = drive(a, first, &dev);
            prop_assert!(sent.windows(2).all(|w| w[0] < w[1]));
        }

        /// A consistent device needs at most one re-issue, and afterwards the answer is
        /// whole whenever it fits in 65535 bytes.
        #[test]
        fn consistent_devices_need_one_reissue(
            n in 0usize..300,
            name_len in 1usize..200,
            first in MIN_ALLOC_LEN..=MAX_ALLOC_LEN,
            kind in 0u8..3,
        ) {
            let names = names(n, name_len);
            let dev: Box<Device<'_>> = match kind {
                0 => Box::new(full_status(names, false)),
                1 => Box::new(full_status(names, true)),
                _ => Box::new(lio_full_status(names)),
            };
            let (sent, answer) = drive(PrInAction::ReadFullStatus, first, &dev);
            prop_assert!(sent.len() <= 2, "{:?}", sent);
            let fs = FullStatus::decode(&answer).unwrap();
            let whole = dev(MAX_ALLOC_LEN);
            let all = FullStatus::decode(&whole).unwrap().descriptors().count();
            prop_assert_eq!(fs.descriptors().count(), all);

            let (sent, answer) = drive(PrInAction::ReadKeys, first, &keys(n * 30));
            prop_assert!(sent.len() <= 2, "{:?}", sent);
            let rk = ReadKeys::decode(&answer).unwrap();
            prop_assert_eq!(rk.is_truncated(), 8 + n * 30 * 8 > 65535);
        }
    }
}
