//! The LIO personality against the bytes captured from LIO (pr-core's fixtures) and the
//! departures listed in DEPARTURES.md.

mod common;
use common::*;

use pr_core::cdb::{PrInCdb, PrOutCdb};
use pr_core::prout::PrOut;
use pr_core::types::{PrInAction, ReservationKey as Key};
use pr_sim::{LunConfig, Sim, SimPath, lab_iscsi_nexuses, lab_loop_nexuses};

const FIX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../pr-core/tests/fixtures/lio/"
);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIX}{name}")).unwrap()
}

fn k(v: u64) -> Key {
    Key(v)
}

fn exec(p: &SimPath, cdb: &[u8], data: &[u8], room: usize) -> pr_sim::Reply {
    let core_nexus = p.nexus();
    p.sim()
        .with_core(|c| c.execute(core_nexus, p.lun(), cdb, data, room))
}

fn out(p: &SimPath, req: PrOut<'_>) -> pr_sim::Reply {
    let mut cdb = [0u8; 10];
    req.encode_cdb(&mut cdb).unwrap();
    let mut params = vec![0u8; req.param_len().unwrap()];
    req.encode_params(&mut params).unwrap();
    exec(p, &cdb, &params, 0)
}

fn prin(p: &SimPath, action: PrInAction, alloc: u16) -> Vec<u8> {
    let r = exec(
        p,
        &PrInCdb::new(action, alloc).to_bytes(),
        &[],
        usize::from(alloc),
    );
    good(&r);
    r.data
}

/// The capture's "3reg" state: 0x1111, 0x2222, 0x3333 registered through paths 1-3.
fn three_registered(iscsi: bool) -> Vec<SimPath> {
    let nexuses = if iscsi {
        lab_iscsi_nexuses(3)
    } else {
        lab_loop_nexuses(3)
    };
    let (_, paths) = Sim::single_lun(LunConfig::lio(), &nexuses);
    for (p, key) in paths.iter().zip([K1, K2, K3]) {
        good(&out(p, PrOut::register(k(0), k(key))));
    }
    paths
}

#[test]
fn lio_read_full_status_truncation_matches_the_captures_byte_for_byte() {
    for (t, iscsi) in [("loop", false), ("iscsi", true)] {
        let p = three_registered(iscsi);
        for alloc in [16u16, 64, 100, 120, 200] {
            let want = fixture(&format!("{t}-3reg-alloc{alloc}.read_full_status.bin"));
            assert_eq!(
                prin(&p[0], PrInAction::ReadFullStatus, alloc),
                want,
                "{t} alloc {alloc}"
            );
        }
        assert_eq!(
            prin(&p[0], PrInAction::ReadFullStatus, 8192),
            fixture(&format!("{t}-3reg.read_full_status.bin")),
            "{t}"
        );
        assert_eq!(
            prin(&p[0], PrInAction::ReadKeys, 8192),
            fixture(&format!("{t}-3reg.read_keys.bin"))
        );
        assert_eq!(
            prin(&p[0], PrInAction::ReadKeys, 16),
            fixture(&format!("{t}-3reg-alloc16.read_keys.bin"))
        );
        assert_eq!(
            prin(&p[0], PrInAction::ReadKeys, 20),
            fixture(&format!("{t}-3reg-alloc20.read_keys.bin"))
        );
        assert_eq!(
            prin(&p[0], PrInAction::ReportCapabilities, 8192),
            fixture(&format!("{t}-3reg.report_capabilities.bin"))
        );
    }
}

#[test]
fn lio_reservation_states_match_the_captures() {
    for (t, iscsi) in [("loop", false), ("iscsi", true)] {
        let p = three_registered(iscsi);
        good(&out(&p[0], PrOut::reserve(k(K1), WE_RO)));
        assert_eq!(
            prin(&p[0], PrInAction::ReadReservation, 8192),
            fixture(&format!("{t}-3reg-resv5.read_reservation.bin"))
        );
        assert_eq!(
            prin(&p[0], PrInAction::ReadReservation, 8),
            fixture(&format!("{t}-3reg-resv5-alloc8.read_reservation.bin"))
        );
        assert_eq!(
            prin(&p[0], PrInAction::ReadFullStatus, 8192),
            fixture(&format!("{t}-3reg-resv5.read_full_status.bin"))
        );
        assert_eq!(
            prin(&p[1], PrInAction::ReadFullStatus, 8192),
            fixture(&format!("{t}-3reg-resv5-via-path2.read_full_status.bin"))
        );
        assert_eq!(
            prin(&p[0], PrInAction::ReadFullStatus, 16),
            fixture(&format!("{t}-3reg-resv5-alloc16.read_full_status.bin"))
        );
        // CLEAR, then the UA on path 2 (ua-after-clear-tur).
        good(&out(&p[0], PrOut::clear(k(K1))));
        let r = exec(&p[1], &[0; 6], &[], 0);
        assert_eq!(
            r.sense.as_bytes(),
            fixture(&format!("{t}-ua-after-clear-tur.sense.bin"))
        );
    }
}

#[test]
fn lio_all_registrants_and_move_states_match_the_captures() {
    let p = three_registered(false);
    good(&out(&p[0], PrOut::reserve(k(K1), WE_AR)));
    // Generation 3 in this sim vs 0xb in the capture: compare from byte 4 on.
    let fs = prin(&p[0], PrInAction::ReadFullStatus, 8192);
    assert_eq!(
        fs[4..],
        fixture("loop-3reg-resv7.read_full_status.bin")[4..]
    );
    let rr = prin(&p[0], PrInAction::ReadReservation, 8192);
    assert_eq!(
        rr[4..],
        fixture("loop-3reg-resv7.read_reservation.bin")[4..]
    );

    let (_, p) = Sim::single_lun(LunConfig::lio(), &lab_loop_nexuses(3));
    good(&out(&p[0], PrOut::register(k(0), k(K1))));
    good(&out(&p[2], PrOut::register(k(0), k(K3))));
    good(&out(&p[0], PrOut::reserve(k(K1), WE)));
    let dest = lab_loop_nexuses(3)[1].0.clone();
    good(&out(
        &p[0],
        PrOut::register_and_move(k(K1), k(K2), WE, &dest, 2),
    ));
    assert_eq!(
        prin(&p[0], PrInAction::ReadFullStatus, 8192)[4..],
        fixture("loop-moved.read_full_status.bin")[4..]
    );
    assert_eq!(
        prin(&p[0], PrInAction::ReadKeys, 8192)[4..],
        fixture("loop-moved.read_keys.bin")[4..]
    );
}

#[test]
fn lio_sense_bytes_match_the_captures() {
    let p = three_registered(false);
    // prin-invalid-sa, prin-report-capabilities-alloc4
    let r = exec(&p[1], &[0x5e, 0x1f, 0, 0, 0, 0, 0, 0, 0x20, 0], &[], 32);
    assert_eq!(
        r.sense.as_bytes(),
        fixture("loop-prin-invalid-sa.sense.bin")
    );
    let r = exec(&p[0], &[0x5e, 2, 0, 0, 0, 0, 0, 0, 4, 0], &[], 4);
    assert_eq!(
        r.sense.as_bytes(),
        fixture("loop-prin-report-capabilities-alloc4.sense.bin")
    );
    // prout-register-len16
    let r = exec(&p[2], &[0x5f, 0, 0, 0, 0, 0, 0, 0, 0x10, 0], &[0; 16], 0);
    assert_eq!(
        r.sense.as_bytes(),
        fixture("loop-prout-register-len16.sense.bin")
    );
    // prout-release-spec-i-pt
    let mut l = vec![0u8; 24];
    l[..8].copy_from_slice(&K2.to_be_bytes());
    l[20] = 0x08;
    let r = exec(&p[1], &[0x5f, 2, 5, 0, 0, 0, 0, 0, 0x18, 0], &l, 0);
    assert_eq!(
        r.sense.as_bytes(),
        fixture("loop-prout-release-spec-i-pt.sense.bin")
    );
    // prout-invalid-sa, prout-replace-lost-raw
    l[20] = 0;
    let r = exec(&p[1], &[0x5f, 0x1f, 0, 0, 0, 0, 0, 0, 0x18, 0], &l, 0);
    assert_eq!(
        r.sense.as_bytes(),
        fixture("loop-prout-invalid-sa.sense.bin")
    );
    let r = exec(&p[1], &[0x5f, 8, 5, 0, 0, 0, 0, 0, 0x18, 0], &l, 0);
    assert_eq!(
        r.sense.as_bytes(),
        fixture("loop-prout-replace-lost-raw.sense.bin")
    );
    // PREEMPT then ua-preempted-tur
    good(&out(&p[0], PrOut::reserve(k(K1), WE_RO)));
    good(&out(&p[1], PrOut::preempt(k(K2), k(K1), WE_RO)));
    let r = exec(&p[0], &[0; 6], &[], 0);
    assert_eq!(
        r.sense.as_bytes(),
        fixture("loop-ua-preempted-tur.sense.bin")
    );
    // write10 from the preempted and the unregistered paths: RESERVATION CONFLICT.
    conflict(&exec(&p[0], &write10(), &[0; 512], 0));
    good(&out(&p[2], PrOut::register(k(K3), k(0))));
    conflict(&exec(&p[2], &write10(), &[0; 512], 0));
    good(&exec(&p[1], &write10(), &[0; 512], 0));
}

#[test]
fn lio_ptpl_a_follows_the_last_register_and_clear_turns_it_off() {
    let (_, p) = Sim::single_lun(LunConfig::lio(), &lab_loop_nexuses(2));
    good(&out(&p[0], PrOut::register(k(0), k(K1)).with_aptpl()));
    good(&out(&p[1], PrOut::register(k(0), k(K2)).with_aptpl()));
    assert_eq!(
        prin(&p[0], PrInAction::ReportCapabilities, 8),
        fixture("loop-aptpl.report_capabilities.bin")
    );
    good(&out(&p[0], PrOut::clear(k(K1))));
    exec(&p[1], &[0; 6], &[], 0);
    assert_eq!(
        prin(&p[1], PrInAction::ReportCapabilities, 8),
        fixture("loop-none-after-aptpl.report_capabilities.bin")
    );
}

#[test]
fn lio_unregistered_nexus_without_reservation_gets_not_ready_for_reserve_release_clear_move() {
    let mut h = H::lio(2);
    let dest = sas(1);
    check(&h.reserve(0, 0, WE), 2, 0x08, 0);
    check(&h.out(0, PrOut::release(k(0), WE)), 2, 0x08, 0);
    check(&h.out(0, PrOut::clear(k(0))), 2, 0x08, 0);
    check(
        &h.out(0, PrOut::register_and_move(k(0), k(K2), WE, &dest, 1)),
        2,
        0x08,
        0,
    );
    good(&h.register(1, K2));
    good(&h.reserve(1, K2, WE));
    conflict(&h.reserve(0, 0, WE));
    conflict(&h.out(0, PrOut::clear(k(0))));
}

#[test]
fn lio_unregistering_does_not_increment_prgeneration() {
    let mut h = H::lio(1);
    good(&h.register(0, K1));
    assert_eq!(h.generation(), 1);
    good(&h.out(0, PrOut::register(k(K1), k(0))));
    assert_eq!(h.generation(), 1);
    good(&h.out(0, PrOut::register_ignore(k(K2))));
    good(&h.out(0, PrOut::register_ignore(k(K3))));
    assert_eq!(h.generation(), 3);
}

#[test]
fn lio_spec_i_pt_counts_each_registration_duplicates_the_issuer_and_skips_registered() {
    let mut h = H::lio(3);
    good(&h.register(2, K3));
    let ids = [sas(0), sas(1), sas(2)];
    let g = h.generation();
    good(&h.out(0, PrOut::register(k(0), k(K1)).with_spec_i_pt(&ids)));
    // issuer + duplicate issuer + nexus 1; nexus 2 keeps its key.
    assert_eq!(h.keys(), [K3, K1, K1, K1]);
    assert_eq!(h.generation(), g + 3);
    let r = h.prin(1, PrInAction::ReadFullStatus, 8192);
    let fs = pr_core::prin::FullStatus::decode(&r.data).unwrap();
    assert_eq!(fs.descriptors().count(), 4);
    // From a registered nexus: 5/26/00, as SPC.
    check(
        &h.out(0, PrOut::register(k(K1), k(K2)).with_spec_i_pt(&ids)),
        5,
        0x26,
        0,
    );
}

#[test]
fn lio_spec_i_pt_naming_an_unknown_initiator_is_invalid_field_in_parameter_list() {
    let mut h = H::lio(1);
    let ids = [sas(9)];
    check(
        &h.out(0, PrOut::register(k(0), k(K1)).with_spec_i_pt(&ids)),
        5,
        0x26,
        0,
    );
}

#[test]
fn lio_all_tg_pt_sticks_to_the_registration() {
    let mut h = H::lio(1);
    good(&h.out(0, PrOut::register(k(0), k(K1)).with_all_tg_pt()));
    check(&h.out(0, PrOut::register(k(K1), k(K2))), 5, 0x24, 0);
    check(&h.out(0, PrOut::register(k(K1), k(0))), 5, 0x24, 0);
    good(&h.out(0, PrOut::register(k(K1), k(K2)).with_all_tg_pt()));
    let r = h.prin(0, PrInAction::ReadFullStatus, 8192);
    let fs = pr_core::prin::FullStatus::decode(&r.data).unwrap();
    assert!(
        fs.descriptors()
            .all(|d| d.all_tg_pt() && d.relative_target_port() == 0)
    );
}

#[test]
fn lio_release_with_wrong_type_conflicts_and_wrong_key_without_reservation_is_good() {
    let mut h = H::lio(1);
    good(&h.register(0, K1));
    good(&h.out(0, PrOut::release(k(K2), WE)));
    good(&h.reserve(0, K1, WE));
    conflict(&h.out(0, PrOut::release(k(K1), EA)));
    assert!(h.holder().is_some());
}

#[test]
fn lio_register_and_move_without_reservation_is_invalid_field_in_cdb_and_keeps_type() {
    let mut h = H::lio(2);
    good(&h.register(0, K1));
    let dest = sas(1);
    check(
        &h.out(0, PrOut::register_and_move(k(K1), k(K2), WE, &dest, 1)),
        5,
        0x24,
        0,
    );
    good(&h.reserve(0, K1, EA_RO));
    let mut cdb = [0u8; 10];
    let req = PrOut::register_and_move(k(K1), k(K2), WE, &dest, 1);
    req.encode_cdb(&mut cdb).unwrap();
    cdb[2] = 0x0d; // a reserved type: ignored
    let mut params = vec![0u8; req.param_len().unwrap()];
    req.encode_params(&mut params).unwrap();
    good(&h.raw(0, &cdb, &params, 0));
    assert_eq!(h.holder(), Some((Some(1), EA_RO)));
}

#[test]
fn lio_reserve_with_scope_is_invalid_field_in_parameter_list() {
    let mut h = H::lio(1);
    good(&h.register(0, K1));
    let mut l = vec![0u8; 24];
    l[..8].copy_from_slice(&K1.to_be_bytes());
    let cdb = PrOutCdb {
        service_action: 1,
        scope: 2,
        type_code: 1,
        parameter_list_length: 24,
        control: 0,
    }
    .to_bytes();
    check(&h.raw(0, &cdb, &l, 0), 5, 0x26, 0);
}

#[test]
fn lio_prin_allocation_length_below_8_is_invalid_field_in_cdb() {
    // READ KEYS, READ RESERVATION, READ FULL STATUS need 8 bytes; REPORT CAPABILITIES 6
    // (target_core_pr.c; the lab differential test checks 6 and 7 on the real target).
    let mut h = H::lio(1);
    for a in PrInAction::ALL {
        let short = if a == PrInAction::ReportCapabilities {
            5
        } else {
            7
        };
        let r = h.prin(0, a, short);
        check(&r, 5, 0x24, 0);
        assert!(field(&r).is_none(), "LIO never sets SKSV");
    }
    let r = h.prin(0, PrInAction::ReportCapabilities, 6);
    assert_eq!(r.data.len(), 6);
}

#[test]
fn lio_read_reservation_shorter_than_22_bytes_has_a_zero_key() {
    let mut h = H::lio(1);
    good(&h.register(0, K1));
    good(&h.reserve(0, K1, WE));
    let r = h.prin(0, PrInAction::ReadReservation, 16);
    assert_eq!(r.data.len(), 16);
    assert_eq!(&r.data[4..8], &[0, 0, 0, 16]);
    assert_eq!(&r.data[8..16], &[0; 8]);
    let r = h.prin(0, PrInAction::ReadReservation, 22);
    assert_eq!(&r.data[8..16], &K1.to_be_bytes());
}

#[test]
fn lio_reports_one_unit_attention_and_discards_the_rest() {
    let mut h = H::lio(1);
    let n = h.n[0].clone();
    h.lu.add_unit_attention(&n, 0x2a, 0x03);
    h.lu.add_unit_attention(&n, 0x2a, 0x05);
    h.lu.add_unit_attention(&n, 0x29, 0x00);
    assert_eq!(h.uas(0), [(0x29, 0), (0x2a, 3), (0x2a, 5)]);
    check(&h.raw(0, &[0; 6], &[], 0), 6, 0x29, 0);
    good(&h.raw(0, &[0; 6], &[], 0));
}

#[test]
fn lio_rejects_replace_lost_reservation() {
    let mut h = H::lio(1);
    check(
        &h.out(0, PrOut::replace_lost_reservation(k(K1), WE)),
        5,
        0x24,
        0,
    );
}

// ---------------------------------------------------------------------------------------
// Rules found by the lab differential test (DEPARTURES.md #29-#34)
// ---------------------------------------------------------------------------------------

fn lio_paths(n: usize) -> Vec<SimPath> {
    let nexuses = lab_loop_nexuses(n);
    let (sim, paths) = Sim::single_lun(LunConfig::lio(), &nexuses);
    for p in &paths {
        let nx = p.it_nexus().unwrap();
        sim.with_lun(p.lun(), |lu| lu.add_nexus(nx));
    }
    paths
}

fn keys_of(p: &SimPath) -> Vec<u64> {
    let d = prin(p, PrInAction::ReadKeys, 8192);
    d[8..]
        .chunks(8)
        .map(|c| u64::from_be_bytes(c.try_into().unwrap()))
        .collect()
}

fn tur(p: &SimPath) -> pr_sim::Reply {
    exec(p, &[0; 6], &[], 0)
}

/// #5, #31: the issuer named in its own SPEC_I_PT list is registered twice; REGISTER AND
/// IGNORE EXISTING KEY changes only its first registration.
#[test]
fn lio_register_changes_only_the_first_of_two_registrations() {
    let p = lio_paths(3);
    let me = lab_loop_nexuses(3)[0].0.clone();
    let ids = [me];
    good(&out(
        &p[0],
        PrOut::register(k(0), k(K1)).with_spec_i_pt(&ids),
    ));
    assert_eq!(keys_of(&p[0]), vec![K1, K1]);
    good(&out(&p[0], PrOut::register_ignore(k(K2))));
    assert_eq!(keys_of(&p[0]), vec![K2, K1]);
    good(&out(&p[0], PrOut::register_ignore(k(0))));
    assert_eq!(keys_of(&p[0]), vec![K1]);
}

/// #32: after its first registration is removed, a nexus whose second registration remains
/// counts as unregistered for media access under a registrants-only reservation, yet its PR
/// OUT commands still find the registration.
#[test]
fn lio_registered_flag_is_cleared_by_removing_either_registration() {
    let p = lio_paths(3);
    let me = lab_loop_nexuses(3)[0].0.clone();
    let ids = [me];
    good(&out(
        &p[0],
        PrOut::register(k(0), k(K1)).with_spec_i_pt(&ids),
    ));
    good(&out(&p[1], PrOut::register(k(0), k(K2))));
    good(&out(&p[1], PrOut::reserve(k(K2), EA_RO)));
    good(&exec(&p[0], &read10(), &[], 512));
    good(&out(&p[0], PrOut::register_ignore(k(0))));
    assert_eq!(keys_of(&p[1]), vec![K1, K2]);
    conflict(&exec(&p[0], &read10(), &[], 512));
    // RELEASE from a nexus LIO does not count as registered: conflict before it runs.
    conflict(&out(&p[0], PrOut::release(k(K1), EA_RO)));
    // REGISTER passes the check and finds the remaining registration.
    good(&out(&p[0], PrOut::register(k(K1), k(K3))));
    assert_eq!(keys_of(&p[1]), vec![K3, K2]);
}

/// #30: REPLACE LOST RESERVATION (and any unknown service action) from a non-holder while a
/// reservation exists is a RESERVATION CONFLICT; from the holder, INVALID FIELD IN CDB.
#[test]
fn lio_unknown_service_action_from_a_non_holder_is_a_reservation_conflict() {
    let p = lio_paths(3);
    good(&out(&p[0], PrOut::register(k(0), k(K1))));
    good(&out(&p[1], PrOut::register(k(0), k(K2))));
    good(&out(&p[0], PrOut::reserve(k(K1), WE)));
    let mut cdb = [0u8; 10];
    PrOut::reserve(k(K2), WE).encode_cdb(&mut cdb).unwrap();
    cdb[1] = 0x08;
    let params = {
        let mut v = vec![0u8; 24];
        v[..8].copy_from_slice(&K2.to_be_bytes());
        v
    };
    conflict(&exec(&p[1], &cdb, &params, 0));
    let mut held = params.clone();
    held[..8].copy_from_slice(&K1.to_be_bytes());
    check(&exec(&p[0], &cdb, &held, 0), 5, 0x24, 0);
}

/// #30: RESERVE from a registered non-holder passes LIO's reservation check under a
/// registrants-only reservation (and then conflicts in RESERVE itself), while a parameter
/// list error is reported first.
#[test]
fn lio_reserve_from_a_registrant_under_registrants_only_reaches_its_own_checks() {
    let p = lio_paths(3);
    good(&out(&p[0], PrOut::register(k(0), k(K1))));
    good(&out(&p[1], PrOut::register(k(0), k(K2))));
    good(&out(&p[0], PrOut::reserve(k(K1), WE_RO)));
    conflict(&out(&p[1], PrOut::reserve(k(K2), WE_RO)));
    let mut cdb = [0u8; 10];
    PrOut::reserve(k(K2), WE_RO).encode_cdb(&mut cdb).unwrap();
    let mut params = vec![0u8; 24];
    params[..8].copy_from_slice(&K2.to_be_bytes());
    params[20] = 0x08; // SPEC_I_PT with RESERVE
    check(&exec(&p[1], &cdb, &params, 0), 5, 0x26, 0);
    // Under Write Exclusive the same RESERVE conflicts before any parameter check.
    good(&out(&p[0], PrOut::release(k(K1), WE_RO)));
    good(&out(&p[0], PrOut::reserve(k(K1), WE)));
    check(&tur(&p[1]), 6, 0x2a, 0x04);
    conflict(&exec(&p[1], &cdb, &params, 0));
}

/// #34: PREEMPT with the issuer's own key when it is not the holder's removes the issuer's
/// registration too, without a unit attention for it.
#[test]
fn lio_preempt_of_its_own_key_removes_the_issuer_too() {
    let p = lio_paths(3);
    good(&out(&p[0], PrOut::register(k(0), k(K2))));
    good(&out(&p[1], PrOut::register(k(0), k(K2))));
    good(&out(&p[2], PrOut::register(k(0), k(K3))));
    good(&out(&p[0], PrOut::preempt(k(K2), k(K2), WE)));
    assert_eq!(keys_of(&p[2]), vec![K3]);
    good(&tur(&p[0]));
    check(&tur(&p[1]), 6, 0x2a, 0x05);
}

/// #29: REGISTER AND MOVE with a TransportID length that does not match the parameter list
/// length is INVALID FIELD IN PARAMETER LIST, and comes before "no reservation".
#[test]
fn lio_register_and_move_checks_the_list_before_the_reservation() {
    let p = lio_paths(3);
    good(&out(&p[0], PrOut::register(k(0), k(K1))));
    let dest = lab_loop_nexuses(3)[1].0.clone();
    let req = PrOut::register_and_move(k(K1), k(K2), WE, &dest, 2);
    let mut cdb = [0u8; 10];
    req.encode_cdb(&mut cdb).unwrap();
    let mut params = vec![0u8; req.param_len().unwrap()];
    req.encode_params(&mut params).unwrap();
    check(&exec(&p[0], &cdb, &params, 0), 5, 0x24, 0);
    params.extend_from_slice(&[0; 8]);
    let n = u32::try_from(params.len()).unwrap();
    cdb[5..9].copy_from_slice(&n.to_be_bytes());
    check(&exec(&p[0], &cdb, &params, 0), 5, 0x26, 0);
}

// ---------------------------------------------------------------------------------------
// One test per remaining DEPARTURES.md row
// ---------------------------------------------------------------------------------------

/// #4: a REGISTER that registers nothing leaves PRgeneration (SPC counts it).
#[test]
fn lio_register_that_registers_nothing_leaves_prgeneration() {
    let mut h = H::lio(1);
    good(&h.register(0, 0));
    assert_eq!(h.generation(), 0);
    good(&h.out(0, PrOut::register_ignore(k(0))));
    assert_eq!(h.generation(), 0);
}

/// #14: REGISTER AND MOVE with two TransportIDs uses the first.
#[test]
fn lio_register_and_move_uses_the_first_of_two_transport_ids() {
    let p = lio_paths(3);
    good(&out(&p[0], PrOut::register(k(0), k(K1))));
    good(&out(&p[0], PrOut::reserve(k(K1), WE)));
    let dest = lab_loop_nexuses(3)[1].0.clone();
    let req = PrOut::register_and_move(k(K1), k(K2), WE, &dest, 2);
    let mut cdb = [0u8; 10];
    req.encode_cdb(&mut cdb).unwrap();
    let mut params = vec![0u8; req.param_len().unwrap()];
    req.encode_params(&mut params).unwrap();
    let mut other = vec![0u8; 24];
    lab_loop_nexuses(3)[2].0.encode(&mut other).unwrap();
    params.extend_from_slice(&other);
    let tl = u32::try_from(params.len() - 24).unwrap();
    params[20..24].copy_from_slice(&tl.to_be_bytes());
    let pll = u32::try_from(params.len()).unwrap();
    cdb[5..9].copy_from_slice(&pll.to_be_bytes());
    good(&exec(&p[0], &cdb, &params, 0));
    assert_eq!(keys_of(&p[0]), vec![K1, K2]);
}

/// #15: REGISTER AND MOVE to an initiator the target has no nexus with.
#[test]
fn lio_register_and_move_to_an_unknown_initiator_is_invalid_field_in_parameter_list() {
    let mut h = H::lio(1);
    good(&h.register(0, K1));
    good(&h.reserve(0, K1, WE));
    let stranger = sas(7);
    check(
        &h.out(0, PrOut::register_and_move(k(K1), k(K2), WE, &stranger, 1)),
        5,
        0x26,
        0,
    );
}

/// #17: the parameter list length is checked before the service action.
#[test]
fn lio_checks_the_parameter_list_length_before_the_service_action() {
    let mut h = H::lio(1);
    let cdb = [0x5f, 0x1f, 0, 0, 0, 0, 0, 0, 10, 0];
    check(&h.raw(0, &cdb, &[0; 10], 0), 5, 0x1a, 0);
    let mut h = H::spc(1);
    check(&h.raw(0, &cdb, &[0; 10], 0), 5, 0x24, 0);
}

/// #18: a SPEC_I_PT list whose TRANSPORTID PARAMETER DATA LENGTH does not match is INVALID
/// FIELD IN PARAMETER LIST (SPC: PARAMETER LIST LENGTH ERROR).
#[test]
fn lio_spec_i_pt_list_length_mismatch_is_invalid_field_in_parameter_list() {
    let ids = [sas(1)];
    let req = PrOut::register(k(0), k(K1)).with_spec_i_pt(&ids);
    let mut cdb = [0u8; 10];
    req.encode_cdb(&mut cdb).unwrap();
    let mut params = vec![0u8; req.param_len().unwrap()];
    req.encode_params(&mut params).unwrap();
    params[27] = params[27].wrapping_add(4);
    let mut h = H::lio(2);
    check(&h.raw(0, &cdb, &params, 0), 5, 0x26, 0);
    let mut h = H::spc(2);
    check(&h.raw(0, &cdb, &params, 0), 5, 0x1a, 0);
}

/// #33: an all-registrants reservation keeps one holder registration in LIO; when that one
/// unregisters, the head of the list becomes the holder and the reservation stays.
#[test]
fn lio_all_registrants_reservation_passes_to_the_head_of_the_list() {
    let mut h = H::lio(3);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.register(2, K3));
    good(&h.reserve(1, K2, WE_AR));
    good(&h.out(1, PrOut::register(k(K2), k(0))));
    assert_eq!(h.holder().map(|x| x.1), Some(WE_AR));
    let r = h.prin(0, PrInAction::ReadFullStatus, 8192);
    let fs = pr_core::prin::FullStatus::decode(&r.data).unwrap();
    assert!(fs.descriptors().all(|d| d.is_holder()));
}

/// The project's lab: `lab_*_topology` against what `lab_diff` read from LIO's READ FULL
/// STATUS in the lab logs (tcm_loop `-p 3 -n 1`, iSCSI `-p 2 -n 1` and `-p 3`).
#[test]
fn lab_topologies_match_what_the_lab_reported() {
    let show = |v: Vec<(pr_core::transport_id::TransportId<'static>, u16)>| -> Vec<String> {
        v.into_iter().map(|(t, p)| format!("{t} {p}")).collect()
    };
    assert_eq!(
        show(pr_sim::lab_loop_topology(3, 1)),
        [
            "sas,500140a100000000 2",
            "sas,500140a100000001 3",
            "sas,500140a100000002 4",
            "sas,500140a200000000 1",
        ]
    );
    assert_eq!(
        show(pr_sim::lab_iscsi_topology(2, 1)),
        [
            "iqn.2003-01.org.linux-iscsi.labpr:node1.p0,i,0x00023d000002 1",
            "iqn.2003-01.org.linux-iscsi.labpr:node1.p1,i,0x00023d000003 1",
            "iqn.2003-01.org.linux-iscsi.labpr:node2.p0,i,0x00023d000001 1",
        ]
    );
    assert_eq!(
        show(pr_sim::lab_iscsi_topology(3, 0))[2],
        "iqn.2003-01.org.linux-iscsi.labpr:node1.p2,i,0x00023d000003 1"
    );
}
