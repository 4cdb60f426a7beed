//! Decoding real responses captured from the Linux LIO target (kernel 6.1, fileio LUN, three
//! I_T nexuses over tcm_loop with SAS TransportIDs and over iSCSI with iSCSI TransportIDs).
//! `tests/fixtures/lio/README.md` says how each file was captured and what sg_persist decoded.

use pr_core::outcome::{CommandError, Completion, SenseBuf};
use pr_core::prin::{
    Capabilities, FullStatus, FullStatusEntry, ReadKeys, ReadReservation, Truncation,
};
use pr_core::sense::{ScsiStatus, Sense, SenseKey};
use pr_core::transport_id::TransportId;
use pr_core::types::{ReservationKey, ReservationType, Scope};

macro_rules! fx {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/lio/",
            $name
        ))
    };
}

const K1: ReservationKey = ReservationKey(0x1111);
const K2: ReservationKey = ReservationKey(0x2222);
const K3: ReservationKey = ReservationKey(0x3333);

fn sas(i: u64) -> TransportId<'static> {
    TransportId::Sas {
        address: 0x5001405a00000000 + i,
    }
}

fn iscsi(p: u8, isid: u8) -> TransportId<'static> {
    TransportId::parse(&format!(
        "iqn.2003-01.org.linux-iscsi.prlab:init.p{p},i,0x00023d00000{isid}"
    ))
    .unwrap()
    .into_owned()
}

fn keys(b: &[u8]) -> (u32, Vec<ReservationKey>) {
    let r = ReadKeys::decode(b).unwrap();
    (r.generation(), r.keys().collect())
}

fn entries(b: &[u8]) -> Vec<FullStatusEntry<'_>> {
    FullStatus::decode(b)
        .unwrap()
        .descriptors()
        .map(|d| d.to_entry().unwrap())
        .collect()
}

fn entry(
    key: ReservationKey,
    tid: TransportId<'static>,
    rtpi: u16,
    holder: Option<u8>,
) -> FullStatusEntry<'static> {
    FullStatusEntry {
        key,
        all_tg_pt: false,
        r_holder: holder.is_some(),
        scope: Scope::LogicalUnit,
        type_code: holder.unwrap_or(0),
        relative_target_port: rtpi,
        transport_id: tid,
    }
}

/// Re-encoding a complete READ FULL STATUS with our encoder gives LIO's bytes back.
fn reencodes(b: &[u8]) {
    let es = entries(b);
    let fs = FullStatus::decode(b).unwrap();
    let mut out = vec![0u8; b.len()];
    let n = FullStatus::encode(fs.generation(), es, &mut out, false).unwrap();
    assert_eq!(&out[..n], b);
}

#[test]
fn empty_lun() {
    for (k, r, c, s) in [
        (
            fx!("loop-none.read_keys.bin"),
            &fx!("loop-none.read_reservation.bin")[..],
            fx!("loop-none.report_capabilities.bin"),
            &fx!("loop-none.read_full_status.bin")[..],
        ),
        (
            fx!("iscsi-none.read_keys.bin"),
            &fx!("iscsi-none.read_reservation.bin")[..],
            fx!("iscsi-none.report_capabilities.bin"),
            &fx!("iscsi-none.read_full_status.bin")[..],
        ),
    ] {
        assert_eq!(keys(k), (0, vec![]));
        let rr = ReadReservation::decode(r).unwrap();
        assert!(rr.reservation().is_none() && !rr.is_reserved());
        let caps = Capabilities::decode(c).unwrap();
        assert_eq!(caps.to_bytes(), [0x00, 0x08, 0x1d, 0x90, 0xea, 0x01, 0, 0]);
        assert!(caps.crh() && caps.sip_c() && caps.atp_c() && caps.ptpl_c() && caps.tmv());
        assert!(!caps.rlr_c() && !caps.ptpl_a());
        assert_eq!(caps.allow_commands.0, 1);
        assert!(
            ReservationType::ALL
                .iter()
                .all(|&t| caps.supports(t) == Some(true))
        );
        assert_eq!(FullStatus::decode(s).unwrap().descriptors().count(), 0);
    }
}

#[test]
fn three_registrants_loop() {
    assert_eq!(keys(fx!("loop-3reg.read_keys.bin")), (3, vec![K1, K2, K3]));
    let b = fx!("loop-3reg.read_full_status.bin");
    assert_eq!(
        entries(b),
        vec![
            entry(K1, sas(0), 1, None),
            entry(K2, sas(1), 2, None),
            entry(K3, sas(2), 3, None)
        ]
    );
    assert_eq!(
        FullStatus::decode(b).unwrap().truncation(8192),
        Truncation::Complete
    );
    reencodes(b);
    // The same state read through another path.
    assert_eq!(
        entries(fx!("loop-3reg-via-path3.read_full_status.bin")).len(),
        3
    );
}

#[test]
fn three_registrants_iscsi() {
    assert_eq!(keys(fx!("iscsi-3reg.read_keys.bin")), (3, vec![K1, K2, K3]));
    let b = fx!("iscsi-3reg.read_full_status.bin");
    let es = entries(b);
    assert_eq!(
        es,
        vec![
            entry(K1, iscsi(2, 1), 1, None),
            entry(K2, iscsi(1, 2), 1, None),
            entry(K3, iscsi(0, 3), 1, None)
        ]
    );
    // 64-byte iSCSI TransportIDs, format 01b: byte 0 = 0x45.
    let d = FullStatus::decode(b).unwrap().descriptors().next().unwrap();
    assert_eq!(d.transport_id_bytes().len(), 64);
    assert_eq!(d.transport_id_bytes()[0], 0x45);
    assert_eq!(
        es[0].transport_id.to_string(),
        "iqn.2003-01.org.linux-iscsi.prlab:init.p2,i,0x00023d000001"
    );
    reencodes(b);
}

#[test]
fn reservation_type5() {
    for (r, s, tid0) in [
        (
            &fx!("loop-3reg-resv5.read_reservation.bin")[..],
            &fx!("loop-3reg-resv5.read_full_status.bin")[..],
            sas(0),
        ),
        (
            &fx!("iscsi-3reg-resv5.read_reservation.bin")[..],
            &fx!("iscsi-3reg-resv5.read_full_status.bin")[..],
            iscsi(2, 1),
        ),
    ] {
        let rr = ReadReservation::decode(r).unwrap();
        let res = rr.reservation().unwrap();
        assert_eq!(res.key, K1);
        assert_eq!(
            res.reservation_type(),
            Some(ReservationType::WriteExclusiveRegistrantsOnly)
        );
        assert_eq!(rr.generation(), 3);
        let es = entries(s);
        assert_eq!(es[0], entry(K1, tid0, 1, Some(5)));
        assert!(!es[1].r_holder && !es[2].r_holder && es[1].type_code == 0);
        reencodes(s);
    }
    // Allocation length 8: only the header, ADDITIONAL LENGTH 16.
    let rr = ReadReservation::decode(fx!("loop-3reg-resv5-alloc8.read_reservation.bin")).unwrap();
    assert!(rr.is_reserved() && rr.reservation().is_none());
    assert_eq!(rr.needed_alloc_len(), Some(24));
}

#[test]
fn all_registrants_reservations() {
    for (r, s, code) in [
        (
            &fx!("loop-3reg-resv7.read_reservation.bin")[..],
            &fx!("loop-3reg-resv7.read_full_status.bin")[..],
            7u8,
        ),
        (
            &fx!("loop-3reg-resv8.read_reservation.bin")[..],
            &fx!("loop-3reg-resv8.read_full_status.bin")[..],
            8,
        ),
        (
            &fx!("iscsi-3reg-resv7.read_reservation.bin")[..],
            &fx!("iscsi-3reg-resv7.read_full_status.bin")[..],
            7,
        ),
    ] {
        let res = ReadReservation::decode(r).unwrap().reservation().unwrap();
        assert_eq!(res.key, ReservationKey(0), "all-registrants: key 0");
        assert!(res.reservation_type().unwrap().is_all_registrants());
        assert_eq!(res.type_code, code);
        let fs = FullStatus::decode(s).unwrap();
        assert_eq!(fs.descriptors().count(), 3);
        for d in fs.descriptors() {
            assert!(d.is_holder());
            assert_eq!(d.type_code(), code);
        }
    }
}

#[test]
fn all_tg_pt_and_aptpl() {
    let es = entries(fx!("loop-alltgpt.read_full_status.bin"));
    assert!(es[0].all_tg_pt && es[0].relative_target_port == 0 && es[0].key == K1);
    assert!(!es[1].all_tg_pt && es[1].relative_target_port == 2);
    let c = Capabilities::decode(fx!("loop-aptpl.report_capabilities.bin")).unwrap();
    assert!(c.ptpl_a());
    assert_eq!(c.to_bytes()[3], 0x91);
    assert!(
        !Capabilities::decode(fx!("loop-none-after-aptpl.report_capabilities.bin"))
            .unwrap()
            .ptpl_a()
    );
}

#[test]
fn register_and_move() {
    let es = entries(fx!("loop-moved.read_full_status.bin"));
    let moved = es.iter().find(|e| e.key == K2).unwrap();
    assert_eq!(*moved, entry(K2, sas(1), 2, Some(1)));
    assert!(es.iter().any(|e| e.key == K1 && !e.r_holder));
    let es = entries(fx!("iscsi-moved.read_full_status.bin"));
    assert_eq!(*es.last().unwrap(), entry(K2, iscsi(1, 2), 1, Some(1)));
}

#[test]
fn read_keys_truncation() {
    let r = ReadKeys::decode(fx!("loop-3reg-alloc16.read_keys.bin")).unwrap();
    assert_eq!(r.keys().collect::<Vec<_>>(), vec![K1]);
    assert_eq!((r.reported_count(), r.needed_alloc_len()), (3, Some(32)));
    let r = ReadKeys::decode(fx!("iscsi-3reg-alloc20.read_keys.bin")).unwrap();
    assert_eq!(r.len(), 1, "half a key is not a key");
    assert_eq!(r.needed_alloc_len(), Some(32));
}

#[test]
fn read_full_status_truncation_as_lio_does_it() {
    // Spec-like: ADDITIONAL LENGTH 144, 120 bytes returned.
    let fs = FullStatus::decode(fx!("loop-3reg-alloc120.read_full_status.bin")).unwrap();
    assert_eq!(fs.truncation(120), Truncation::Cut { needed: 152 });
    assert_eq!(fs.descriptors().count(), 2);
    // LIO stopped early and counted only what it wrote: looks complete, is not.
    for (b, alloc, n) in [
        (
            &fx!("loop-3reg-alloc64.read_full_status.bin")[..],
            64u32,
            1usize,
        ),
        (&fx!("iscsi-3reg-alloc200.read_full_status.bin")[..], 200, 2),
        (&fx!("iscsi-3reg-alloc100.read_full_status.bin")[..], 100, 1),
        (&fx!("loop-3reg-alloc16.read_full_status.bin")[..], 16, 0),
    ] {
        let fs = FullStatus::decode(b).unwrap();
        assert!(!fs.is_truncated());
        assert_eq!(fs.descriptors().count(), n);
        assert_eq!(fs.truncation(alloc), Truncation::Possible, "alloc {alloc}");
    }
    // Descriptor cut inside its TransportID: not returned.
    let fs = FullStatus::decode(fx!("iscsi-3reg-alloc64.read_full_status.bin")).unwrap();
    assert_eq!(fs.descriptors().count(), 0);
    assert!(matches!(fs.truncation(64), Truncation::Cut { .. }));
}

#[test]
fn preempted_state() {
    assert_eq!(keys(fx!("loop-preempted.read_keys.bin")).1, vec![K2]);
    let res = ReadReservation::decode(fx!("loop-preempted.read_reservation.bin"))
        .unwrap()
        .reservation()
        .unwrap();
    assert_eq!((res.key, res.type_code), (K2, 5));
    assert_eq!(keys(fx!("iscsi-preempt-aborted.read_keys.bin")).1, vec![K2]);
}

fn check(sense: &[u8]) -> CommandError {
    Completion {
        status: ScsiStatus::CHECK_CONDITION,
        sense: SenseBuf::new(sense),
        host_status: 0,
        driver_status: 0,
        residual: 0,
        duration: std::time::Duration::ZERO,
    }
    .check()
    .unwrap_err()
}

#[test]
fn real_sense_data() {
    for (b, key, asc) in [
        (
            &fx!("loop-ua-preempted-tur.sense.bin")[..],
            SenseKey::UnitAttention,
            (0x2a, 0x05),
        ),
        (
            &fx!("iscsi-ua-preempt-abort-tur.sense.bin")[..],
            SenseKey::UnitAttention,
            (0x2a, 0x05),
        ),
        (
            &fx!("loop-ua-after-clear-tur.sense.bin")[..],
            SenseKey::UnitAttention,
            (0x2a, 0x03),
        ),
        (
            &fx!("loop-ua-after-release-tur.sense.bin")[..],
            SenseKey::UnitAttention,
            (0x2a, 0x04),
        ),
        (
            &fx!("loop-prin-invalid-sa.sense.bin")[..],
            SenseKey::IllegalRequest,
            (0x24, 0x00),
        ),
        (
            &fx!("loop-prout-replace-lost.sense.bin")[..],
            SenseKey::IllegalRequest,
            (0x24, 0x00),
        ),
        (
            &fx!("loop-prout-register-len16.sense.bin")[..],
            SenseKey::IllegalRequest,
            (0x1a, 0x00),
        ),
        (
            &fx!("loop-prout-release-spec-i-pt.sense.bin")[..],
            SenseKey::IllegalRequest,
            (0x26, 0x00),
        ),
    ] {
        let s = Sense::parse(b).unwrap();
        assert_eq!((s.key(), s.asc_ascq()), (key, Some(asc)));
        let e = check(b);
        assert_eq!(e.asc_ascq(), Some(asc));
        assert_eq!(e.sense_bytes(), b, "sense kept whole");
        assert_eq!(e.is_unit_attention(), key == SenseKey::UnitAttention);
        assert!(!e.to_string().is_empty());
    }
    let ua = check(fx!("loop-ua-preempted-tur.sense.bin"));
    assert!(ua.to_string().contains("REGISTRATIONS PREEMPTED"), "{ua}");
}
