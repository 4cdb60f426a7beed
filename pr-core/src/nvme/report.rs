//! The Reservation Status data structure returned by Reservation Report, read in place.
//!
//! ```text
//! header (24 bytes; with EDS 64: bytes 24-63 reserved)
//!  0-3   GEN      generation, incremented by Register, preempt and Clear
//!  4     RTYPE    type of the reservation held, 0 when none
//!  5-6   REGCTL   number of registered controllers (all of them, whatever fits)
//!  7-8   reserved
//!  9     PTPLS    bit 0: persist through power loss state
//!  10-23 reserved
//! registered controller data structure (24 bytes)   extended (64 bytes, EDS)
//!  0-1   CNTLID (FFFFh: dynamic controller)          0-1   CNTLID
//!  2     RCSTS bit 0: holds the reservation          2     RCSTS
//!  3-7   reserved                                     3-7   reserved
//!  8-15  HOSTID (64-bit)                              8-15  RKEY
//!  16-23 RKEY                                         16-31 HOSTID (128-bit)
//!                                                     32-63 reserved
//! ```
//!
//! All fields are little-endian. A controller fills as many entries as NUMD leaves room for
//! while REGCTL counts them all, so a short buffer shows as [`ReservationReport::is_truncated`]
//! and [`ReservationReport::needed_len`] gives the length to ask for
//! ([`super::ResvReport::for_len`]). Hosts that registered with a 128-bit Host Identifier
//! need EDS: without it the controller answers Host Identifier Inconsistent Format, and
//! Linux's host driver then retries without EDS (`nvme_pr_resv_report`).

use core::fmt;

use zerocopy::byteorder::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::NvmeReservationType;
use super::command::{NvmeBuildError, report_len};
use crate::error::DecodeError;
use crate::types::ReservationKey;

/// Length of the header without EDS.
pub const STANDARD_HEADER_LEN: usize = 24;
/// Length of the header with EDS.
pub const EXTENDED_HEADER_LEN: usize = 64;
/// Length of a registered controller data structure.
pub const STANDARD_ENTRY_LEN: usize = 24;
/// Length of a registered controller extended data structure.
pub const EXTENDED_ENTRY_LEN: usize = 64;
/// CNTLID reported for a dynamic controller (Linux's nvmet reports every registrant so).
pub const CNTLID_DYNAMIC: u16 = 0xffff;

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
struct HeaderLayout {
    generation: U32,
    rtype: u8,
    regctl: U16,
    reserved: [u8; 2],
    ptpls: u8,
    reserved2: [u8; 14],
}

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
struct StandardEntry {
    cntlid: U16,
    rcsts: u8,
    reserved: [u8; 5],
    host_id: [u8; 8],
    rkey: U64,
}

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
struct ExtendedEntry {
    cntlid: U16,
    rcsts: u8,
    reserved: [u8; 5],
    rkey: U64,
    host_id: [u8; 16],
    reserved2: [u8; 32],
}

const _: () = assert!(core::mem::size_of::<HeaderLayout>() == STANDARD_HEADER_LEN);
const _: () = assert!(core::mem::size_of::<StandardEntry>() == STANDARD_ENTRY_LEN);
const _: () = assert!(core::mem::size_of::<ExtendedEntry>() == EXTENDED_ENTRY_LEN);

const RCSTS_HOLDER: u8 = 0x01;

/// A Host Identifier as a report carries it: 64 bits without EDS, 128 bits with.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum HostId {
    /// 64-bit Host Identifier (8 bytes as on the wire).
    Bits64([u8; 8]),
    /// 128-bit (extended) Host Identifier (16 bytes as on the wire; Linux uses a UUID).
    Bits128([u8; 16]),
}

impl HostId {
    /// The bytes as on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            HostId::Bits64(b) => b,
            HostId::Bits128(b) => b,
        }
    }

    /// Whether every byte is zero.
    pub fn is_zero(&self) -> bool {
        self.as_bytes().iter().all(|&b| b == 0)
    }
}

impl fmt::Display for HostId {
    /// Lower-case hex; a 128-bit identifier in the 8-4-4-4-12 form of a UUID.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.as_bytes().iter().enumerate() {
            if matches!(self, HostId::Bits128(_)) && matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// One registered controller (a registrant), decoded.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RegisteredController {
    /// CNTLID ([`CNTLID_DYNAMIC`] for a dynamic controller).
    pub cntlid: u16,
    /// RCSTS as sent; bit 0 is [`RegisteredController::holds_reservation`].
    pub rcsts: u8,
    /// HOSTID.
    pub host_id: HostId,
    /// RKEY: the registrant's key.
    pub key: ReservationKey,
}

impl RegisteredController {
    /// RCSTS bit 0: this registrant holds the reservation (every registrant does under an
    /// all-registrants type).
    pub fn holds_reservation(&self) -> bool {
        self.rcsts & RCSTS_HOLDER != 0
    }
}

/// A borrowed view of a Reservation Status data structure.
#[derive(Clone, Copy, Debug)]
pub struct ReservationReport<'a> {
    header: &'a HeaderLayout,
    eds: bool,
    body: &'a [u8],
}

impl<'a> ReservationReport<'a> {
    /// Decodes a report returned with EDS set (`eds`) or clear. Only the header (24 or 64
    /// bytes) is required; entries are read by [`ReservationReport::controllers`], as many
    /// as are complete in `bytes` and counted by REGCTL.
    pub fn decode(bytes: &'a [u8], eds: bool) -> Result<Self, DecodeError> {
        let (header, rest) =
            HeaderLayout::ref_from_prefix(bytes).map_err(|_| DecodeError::Short {
                what: "NVMe Reservation Status",
                len: bytes.len(),
                needed: header_len(eds),
            })?;
        let body = if eds {
            rest.get(EXTENDED_HEADER_LEN.saturating_sub(STANDARD_HEADER_LEN)..)
                .ok_or(DecodeError::Short {
                    what: "NVMe Reservation Status (extended)",
                    len: bytes.len(),
                    needed: EXTENDED_HEADER_LEN,
                })?
        } else {
            rest
        };
        Ok(ReservationReport { header, eds, body })
    }

    /// GEN.
    pub fn generation(&self) -> u32 {
        self.header.generation.get()
    }

    /// RTYPE as sent (0: no reservation).
    pub fn type_code(&self) -> u8 {
        self.header.rtype
    }

    /// The reservation type held; `None` when there is no reservation (or the code is
    /// reserved).
    pub fn reservation_type(&self) -> Option<NvmeReservationType> {
        NvmeReservationType::from_code(self.header.rtype)
    }

    /// REGCTL: the number of registered controllers, including those that did not fit.
    pub fn registered_controllers(&self) -> u16 {
        self.header.regctl.get()
    }

    /// PTPLS bit 0: reservations persist through power loss.
    pub fn persist_through_power_loss(&self) -> bool {
        self.header.ptpls & 0x01 != 0
    }

    /// Whether the report uses the extended format (128-bit host identifiers).
    pub fn is_extended(&self) -> bool {
        self.eds
    }

    /// The registered controllers present: the first REGCTL complete entries.
    pub fn controllers(&self) -> RegisteredControllers<'a> {
        RegisteredControllers {
            rest: self.body,
            remaining: self.registered_controllers(),
            eds: self.eds,
        }
    }

    /// The number of entries present (at most REGCTL).
    pub fn controllers_present(&self) -> u16 {
        let n = self
            .body
            .len()
            .checked_div(entry_len(self.eds))
            .unwrap_or(0);
        u16::try_from(n)
            .unwrap_or(u16::MAX)
            .min(self.registered_controllers())
    }

    /// The first registrant that holds the reservation.
    pub fn holder(&self) -> Option<RegisteredController> {
        self.controllers()
            .find(RegisteredController::holds_reservation)
    }

    /// The keys of the registrants present, in order.
    pub fn keys(&self) -> impl Iterator<Item = ReservationKey> + 'a {
        self.controllers().map(|c| c.key)
    }

    /// Whether REGCTL counts entries that are not in the bytes.
    pub fn is_truncated(&self) -> bool {
        self.controllers_present() < self.registered_controllers()
    }

    /// When truncated, the length that holds every entry (pass it to
    /// [`super::ResvReport::for_len`]).
    pub fn needed_len(&self) -> Option<u64> {
        self.is_truncated()
            .then(|| report_len(self.registered_controllers(), self.eds))
    }

    /// Writes a report into `out` (sized to the length the host asked for), as a controller
    /// would: the header, then every entry that fits entirely; REGCTL counts all entries.
    /// Returns the bytes written (header and whole entries). Entries' host identifiers must
    /// have the width of the format.
    pub fn encode(
        generation: u32,
        rtype: u8,
        ptpls: bool,
        entries: impl IntoIterator<Item = RegisteredController>,
        eds: bool,
        out: &mut [u8],
    ) -> Result<usize, NvmeBuildError> {
        let hl = header_len(eds);
        let el = entry_len(eds);
        let available = out.len();
        let (head, mut rest) =
            out.split_at_mut_checked(hl)
                .ok_or(NvmeBuildError::BufferTooSmall {
                    needed: hl,
                    available,
                })?;
        let mut count: u16 = 0;
        let mut written = hl;
        for e in entries {
            count = count.saturating_add(1);
            let Some((dst, after)) = rest.split_at_mut_checked(el) else {
                rest = &mut [];
                check_width(&e.host_id, eds)?;
                continue;
            };
            match (e.host_id, eds) {
                (HostId::Bits64(h), false) => dst.copy_from_slice(
                    StandardEntry {
                        cntlid: U16::new(e.cntlid),
                        rcsts: e.rcsts,
                        reserved: [0; 5],
                        host_id: h,
                        rkey: U64::new(e.key.0),
                    }
                    .as_bytes(),
                ),
                (HostId::Bits128(h), true) => dst.copy_from_slice(
                    ExtendedEntry {
                        cntlid: U16::new(e.cntlid),
                        rcsts: e.rcsts,
                        reserved: [0; 5],
                        rkey: U64::new(e.key.0),
                        host_id: h,
                        reserved2: [0; 32],
                    }
                    .as_bytes(),
                ),
                (h, _) => check_width(&h, eds)?,
            }
            rest = after;
            written = written.saturating_add(el);
        }
        head.fill(0);
        let h = HeaderLayout {
            generation: U32::new(generation),
            rtype,
            regctl: U16::new(count),
            reserved: [0; 2],
            ptpls: u8::from(ptpls),
            reserved2: [0; 14],
        };
        if let Some(dst) = head.get_mut(..STANDARD_HEADER_LEN) {
            dst.copy_from_slice(h.as_bytes());
        }
        Ok(written)
    }
}

fn check_width(h: &HostId, eds: bool) -> Result<(), NvmeBuildError> {
    match (h, eds) {
        (HostId::Bits64(_), false) | (HostId::Bits128(_), true) => Ok(()),
        _ => Err(NvmeBuildError::HostIdFormat {
            len: h.as_bytes().len(),
            format: if eds { "with EDS" } else { "without EDS" },
        }),
    }
}

const fn header_len(eds: bool) -> usize {
    if eds {
        EXTENDED_HEADER_LEN
    } else {
        STANDARD_HEADER_LEN
    }
}

const fn entry_len(eds: bool) -> usize {
    if eds {
        EXTENDED_ENTRY_LEN
    } else {
        STANDARD_ENTRY_LEN
    }
}

/// Iterator over the registered controllers of a [`ReservationReport`].
#[derive(Clone, Debug)]
pub struct RegisteredControllers<'a> {
    rest: &'a [u8],
    remaining: u16,
    eds: bool,
}

impl Iterator for RegisteredControllers<'_> {
    type Item = RegisteredController;

    fn next(&mut self) -> Option<Self::Item> {
        self.remaining = self.remaining.checked_sub(1)?;
        let c = if self.eds {
            let (e, rest) = ExtendedEntry::ref_from_prefix(self.rest).ok()?;
            self.rest = rest;
            RegisteredController {
                cntlid: e.cntlid.get(),
                rcsts: e.rcsts,
                host_id: HostId::Bits128(e.host_id),
                key: ReservationKey(e.rkey.get()),
            }
        } else {
            let (e, rest) = StandardEntry::ref_from_prefix(self.rest).ok()?;
            self.rest = rest;
            RegisteredController {
                cntlid: e.cntlid.get(),
                rcsts: e.rcsts,
                host_id: HostId::Bits64(e.host_id),
                key: ReservationKey(e.rkey.get()),
            }
        };
        Some(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn standard_layout_by_hand() {
        // GEN 0x01020304, RTYPE 3 (WE-RO), REGCTL 2, PTPLS 1; entries: CNTLID 1, holder,
        // HOSTID 0x1111.., RKEY 0xaa; CNTLID 2, HOSTID 0x2222.., RKEY 0xbb.
        let mut b = vec![0u8; 24 + 48];
        b[0..4].copy_from_slice(&[4, 3, 2, 1]);
        b[4] = 3;
        b[5..7].copy_from_slice(&[2, 0]);
        b[9] = 1;
        b[24..26].copy_from_slice(&[1, 0]);
        b[26] = 1;
        b[32..40].copy_from_slice(&[0x11; 8]);
        b[40..48].copy_from_slice(&0xaau64.to_le_bytes());
        b[48..50].copy_from_slice(&[2, 0]);
        b[56..64].copy_from_slice(&[0x22; 8]);
        b[64..72].copy_from_slice(&0xbbu64.to_le_bytes());
        let r = ReservationReport::decode(&b, false).unwrap();
        assert_eq!(r.generation(), 0x0102_0304);
        assert_eq!(
            r.reservation_type(),
            Some(NvmeReservationType::WriteExclusiveRegistrantsOnly)
        );
        assert_eq!(r.registered_controllers(), 2);
        assert!(r.persist_through_power_loss());
        let cs: Vec<_> = r.controllers().collect();
        assert_eq!(cs.len(), 2);
        assert_eq!(
            cs[0],
            RegisteredController {
                cntlid: 1,
                rcsts: 1,
                host_id: HostId::Bits64([0x11; 8]),
                key: ReservationKey(0xaa),
            }
        );
        assert!(!cs[1].holds_reservation());
        assert_eq!(r.holder().unwrap().key, ReservationKey(0xaa));
        assert_eq!(
            r.keys().collect::<Vec<_>>(),
            [ReservationKey(0xaa), ReservationKey(0xbb)]
        );
        assert!(!r.is_truncated());
        // Re-encoding gives the same bytes.
        let mut out = vec![0xffu8; b.len()];
        let n = ReservationReport::encode(0x0102_0304, 3, true, cs, false, &mut out).unwrap();
        assert_eq!((n, &out), (b.len(), &b));
    }

    #[test]
    fn extended_layout_by_hand() {
        // As Linux's nvmet writes it: CNTLID FFFFh, RCSTS 1, RKEY at 8, 128-bit HOSTID at 16,
        // entries from byte 64.
        let mut b = vec![0u8; 128];
        b[0] = 9;
        b[4] = 6;
        b[5] = 1;
        b[64..66].copy_from_slice(&[0xff, 0xff]);
        b[66] = 1;
        b[72..80].copy_from_slice(&0x1234u64.to_le_bytes());
        let hid: [u8; 16] = core::array::from_fn(|i| u8::try_from(i).unwrap());
        b[80..96].copy_from_slice(&hid);
        let r = ReservationReport::decode(&b, true).unwrap();
        assert!(r.is_extended());
        let c = r.holder().unwrap();
        assert_eq!(c.cntlid, CNTLID_DYNAMIC);
        assert_eq!(c.key, ReservationKey(0x1234));
        assert_eq!(c.host_id, HostId::Bits128(hid));
        assert_eq!(
            c.host_id.to_string(),
            "00010203-0405-0607-0809-0a0b0c0d0e0f"
        );
        assert_eq!(HostId::Bits64([0xab; 8]).to_string(), "abababababababab");
        assert_eq!(
            r.reservation_type(),
            Some(NvmeReservationType::ExclusiveAccessAllRegistrants)
        );
        // Read as the standard format, the same bytes mean something else: the caller must
        // say which format it asked for.
        let s = ReservationReport::decode(&b, false).unwrap();
        assert_eq!(s.controllers().next().unwrap().key, ReservationKey(0));
    }

    #[test]
    fn short_header_and_truncation() {
        assert!(ReservationReport::decode(&[0; 23], false).is_err());
        assert!(ReservationReport::decode(&[0; 63], true).is_err());
        let es: Vec<_> = (0..3u8)
            .map(|i| RegisteredController {
                cntlid: u16::from(i),
                rcsts: 0,
                host_id: HostId::Bits64([i; 8]),
                key: ReservationKey(u64::from(i) + 1),
            })
            .collect();
        // Room for 1.5 entries: one is written, REGCTL says 3.
        let mut out = [0u8; 24 + 36];
        let n = ReservationReport::encode(1, 0, false, es.clone(), false, &mut out).unwrap();
        assert_eq!(n, 48);
        let r = ReservationReport::decode(&out, false).unwrap();
        assert_eq!(r.registered_controllers(), 3);
        assert_eq!(r.controllers_present(), 1);
        assert_eq!(r.controllers().collect::<Vec<_>>(), es[..1]);
        assert!(r.is_truncated());
        assert_eq!(r.needed_len(), Some(24 + 72));
        assert_eq!(r.reservation_type(), None);
        // REGCTL smaller than the bytes: only REGCTL entries are read.
        let mut out = [0u8; 96];
        ReservationReport::encode(1, 0, false, es.clone(), false, &mut out).unwrap();
        out[5] = 2;
        let r = ReservationReport::decode(&out, false).unwrap();
        assert_eq!(r.controllers().count(), 2);
        assert!(!r.is_truncated());
        // Wrong host identifier width, and no room for the header.
        assert!(matches!(
            ReservationReport::encode(1, 0, false, es.clone(), true, &mut [0u8; 256]),
            Err(NvmeBuildError::HostIdFormat { len: 8, .. })
        ));
        assert!(matches!(
            ReservationReport::encode(1, 0, false, es, true, &mut [0u8; 63]),
            Err(NvmeBuildError::BufferTooSmall { needed: 64, .. })
        ));
    }

    fn arb_entry(eds: bool) -> impl Strategy<Value = RegisteredController> {
        (any::<u16>(), any::<u8>(), any::<[u8; 16]>(), any::<u64>()).prop_map(
            move |(cntlid, rcsts, h, k)| RegisteredController {
                cntlid,
                rcsts,
                host_id: if eds {
                    HostId::Bits128(h)
                } else {
                    HostId::Bits64(core::array::from_fn(|i| h[i]))
                },
                key: ReservationKey(k),
            },
        )
    }

    fn arb_report() -> impl Strategy<Value = (bool, Vec<RegisteredController>)> {
        any::<bool>()
            .prop_flat_map(|eds| (Just(eds), proptest::collection::vec(arb_entry(eds), 0..20)))
    }

    proptest! {
        #[test]
        fn roundtrip((eds, es) in arb_report(), generation: u32, rtype: u8, ptpls: bool, cut in 0usize..1400) {
            let full = usize::try_from(report_len(u16::try_from(es.len()).unwrap(), eds)).unwrap();
            let mut out = vec![0u8; full];
            let n = ReservationReport::encode(generation, rtype, ptpls, es.clone(), eds, &mut out).unwrap();
            prop_assert_eq!(n, full);
            let r = ReservationReport::decode(&out, eds).unwrap();
            prop_assert_eq!((r.generation(), r.type_code(), r.persist_through_power_loss()), (generation, rtype, ptpls));
            prop_assert_eq!(r.controllers().collect::<Vec<_>>(), es.clone());
            prop_assert!(!r.is_truncated());
            // Cut anywhere after the header: the complete entries are read, the rest is
            // reported missing with the length that holds everything.
            let hl = header_len(eds);
            let cut = hl + cut.min(full - hl);
            let r = ReservationReport::decode(&out[..cut], eds).unwrap();
            let present = (cut - hl) / entry_len(eds);
            prop_assert_eq!(r.controllers().collect::<Vec<_>>(), es[..present].to_vec());
            prop_assert_eq!(r.is_truncated(), present < es.len());
            if present < es.len() {
                prop_assert_eq!(r.needed_len(), Some(u64::try_from(full).unwrap()));
            }
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), eds: bool) {
            if let Ok(r) = ReservationReport::decode(&bytes, eds) {
                let n = r.controllers().count();
                prop_assert!(n <= usize::from(r.registered_controllers()));
                let _ = (r.holder(), r.needed_len(), r.reservation_type());
                for c in r.controllers() { let _ = c.host_id.to_string(); }
            }
        }
    }
}
