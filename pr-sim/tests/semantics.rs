//! One test per SPC-5 rule (5.14 "Persistent reservations", 6.16, 6.17), on the SPC-5
//! personality.

mod common;
use common::*;

use pr_core::cdb::PrOutCdb;
use pr_core::prin::{
    Capabilities, CapabilityFlags, FullStatus, ReadKeys, ReadReservation, TypeMask,
};
use pr_core::prout::PrOut;
use pr_core::types::{PrInAction, ReservationKey as Key};
use pr_sim::LunConfig;

fn k(v: u64) -> Key {
    Key(v)
}

// ---------------------------------------------------------------- registration (5.14.7)

#[test]
fn register_from_unregistered_nexus_with_nonzero_reservation_key_conflicts() {
    let mut h = H::spc(2);
    conflict(&h.out(0, PrOut::register(k(5), k(K1))));
    assert!(h.keys().is_empty());
    assert_eq!(h.generation(), 0);
}

#[test]
fn register_creates_registration_and_increments_prgeneration() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    assert_eq!(h.keys(), [K1]);
    assert_eq!(h.generation(), 1);
}

#[test]
fn register_with_zero_sa_key_from_unregistered_nexus_is_good_and_registers_nothing() {
    let mut h = H::spc(1);
    good(&h.register(0, 0));
    assert!(h.keys().is_empty());
    assert_eq!(
        h.generation(),
        1,
        "a successful REGISTER counts, even without effect"
    );
}

#[test]
fn register_with_wrong_key_from_registered_nexus_conflicts() {
    let mut h = H::spc(1);
    good(&h.register(0, K1));
    conflict(&h.out(0, PrOut::register(k(K2), k(K3))));
    assert_eq!(h.keys(), [K1]);
    assert_eq!(h.generation(), 1, "failed commands do not count");
}

#[test]
fn register_with_current_key_replaces_the_key() {
    let mut h = H::spc(1);
    good(&h.register(0, K1));
    good(&h.out(0, PrOut::register(k(K1), k(K2))));
    assert_eq!(h.keys(), [K2]);
    assert_eq!(h.generation(), 2);
}

#[test]
fn register_and_ignore_existing_key_ignores_the_reservation_key() {
    let mut h = H::spc(1);
    good(&h.register(0, K1));
    good(&h.out(0, PrOut::register_ignore(k(K3))));
    assert_eq!(h.keys(), [K3]);
    good(&h.out(0, PrOut::register_ignore(k(0))));
    assert!(h.keys().is_empty());
}

#[test]
fn registration_is_per_i_t_nexus() {
    let mut h = H::spc(1);
    good(&h.register(0, K1));
    let alt = h.alt(0);
    assert!(!h.lu.is_registered(&alt));
    good(&h.out_at(&alt, PrOut::register(k(0), k(K1))));
    assert_eq!(
        h.keys(),
        [K1, K1],
        "READ KEYS lists one key per registered I_T nexus"
    );
}

#[test]
fn all_tg_pt_registers_the_initiator_port_on_every_target_port() {
    let mut h = H::spc(1);
    good(&h.out(0, PrOut::register(k(0), k(K1)).with_all_tg_pt()));
    let alt = h.alt(0);
    assert!(h.lu.is_registered(&alt));
    assert!(h.lu.registrations().iter().all(|r| r.all_tg_pt));
    assert_eq!(h.generation(), 1);
    // Unregistering with ALL_TG_PT removes every one of them.
    good(&h.out(0, PrOut::register(k(K1), k(0)).with_all_tg_pt()));
    assert!(h.keys().is_empty());
}

#[test]
fn all_tg_pt_without_atp_c_is_invalid_field_in_parameter_list() {
    let mut h = H::new(LunConfig::spc5().without(CapabilityFlags::ATP_C), 1);
    let r = h.out(0, PrOut::register(k(0), k(K1)).with_all_tg_pt());
    check(&r, 5, 0x26, 0);
    assert_eq!(field(&r), Some((false, 20, Some(2))));
}

#[test]
fn spec_i_pt_registers_each_transport_id_on_the_receiving_target_port() {
    let mut h = H::spc(3);
    let ids = [sas(1), sas(2)];
    good(&h.out(0, PrOut::register(k(0), k(K1)).with_spec_i_pt(&ids)));
    assert_eq!(h.keys(), [K1, K1, K1]);
    assert!(h.lu.is_registered(&h.n[1].clone()));
    assert!(h.lu.is_registered(&h.n[2].clone()));
    assert!(!h.lu.is_registered(&h.alt(1)));
    assert_eq!(h.generation(), 1, "one PRgeneration step per command");
}

#[test]
fn spec_i_pt_with_all_tg_pt_registers_on_every_target_port() {
    let mut h = H::spc(2);
    let ids = [sas(1)];
    good(
        &h.out(
            0,
            PrOut::register(k(0), k(K1))
                .with_spec_i_pt(&ids)
                .with_all_tg_pt(),
        ),
    );
    assert_eq!(h.keys().len(), 4);
    assert!(h.lu.is_registered(&h.alt(1)));
}

#[test]
fn spec_i_pt_without_sip_c_is_invalid_field_in_parameter_list() {
    let mut h = H::new(LunConfig::spc5().without(CapabilityFlags::SIP_C), 2);
    let ids = [sas(1)];
    let r = h.out(0, PrOut::register(k(0), k(K1)).with_spec_i_pt(&ids));
    check(&r, 5, 0x26, 0);
    assert_eq!(field(&r), Some((false, 20, Some(3))));
    assert!(h.keys().is_empty());
}

#[test]
fn spec_i_pt_from_a_registered_nexus_is_invalid_field_in_parameter_list() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    let ids = [sas(1)];
    check(
        &h.out(0, PrOut::register(k(K1), k(K2)).with_spec_i_pt(&ids)),
        5,
        0x26,
        0,
    );
}

#[test]
fn spec_i_pt_with_a_service_action_other_than_register_is_invalid_field_in_parameter_list() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    let mut p = vec![0u8; 24];
    p[..8].copy_from_slice(&K1.to_be_bytes());
    p[20] = 0x08;
    let cdb = PrOutCdb {
        service_action: 2,
        scope: 0,
        type_code: 1,
        parameter_list_length: 24,
        control: 0,
    }
    .to_bytes();
    check(&h.raw(0, &cdb, &p, 0), 5, 0x26, 0);
}

#[test]
fn spec_i_pt_naming_a_registered_nexus_registers_nothing() {
    let mut h = H::spc(3);
    good(&h.register(1, K2));
    let ids = [sas(2), sas(1)];
    let r = h.out(0, PrOut::register(k(0), k(K1)).with_spec_i_pt(&ids));
    check(&r, 5, 0x26, 0);
    assert_eq!(h.keys(), [K2]);
}

#[test]
fn spec_i_pt_with_inconsistent_transportid_length_is_parameter_list_length_error() {
    let mut h = H::spc(2);
    let ids = [sas(1)];
    let p = PrOut::register(k(0), k(K1)).with_spec_i_pt(&ids);
    let mut cdb = [0u8; 10];
    p.encode_cdb(&mut cdb).unwrap();
    let mut params = vec![0u8; p.param_len().unwrap()];
    p.encode_params(&mut params).unwrap();
    params[27] = 40; // TRANSPORTID PARAMETER DATA LENGTH no longer matches
    check(&h.raw(0, &cdb, &params, 0), 5, 0x1a, 0);
}

#[test]
fn spec_i_pt_with_undecodable_transport_id_points_at_it() {
    let mut h = H::spc(2);
    let mut p = vec![0u8; 28 + 24];
    p[20] = 0x08;
    p[8..16].copy_from_slice(&K1.to_be_bytes());
    p[27] = 24;
    p[28] = 0x0e; // reserved protocol identifier
    let cdb = PrOutCdb {
        service_action: 0,
        scope: 0,
        type_code: 0,
        parameter_list_length: 52,
        control: 0,
    }
    .to_bytes();
    let r = h.raw(0, &cdb, &p, 0);
    check(&r, 5, 0x26, 0);
    assert_eq!(field(&r), Some((false, 28, None)));
}

#[test]
fn parameter_list_length_other_than_24_is_parameter_list_length_error() {
    let mut h = H::spc(1);
    for len in [0u32, 16, 23, 25, 32] {
        let cdb = PrOutCdb {
            service_action: 0,
            scope: 0,
            type_code: 0,
            parameter_list_length: len,
            control: 0,
        }
        .to_bytes();
        let mut p = vec![0u8; len as usize];
        if p.len() >= 16 {
            p[8..16].copy_from_slice(&K1.to_be_bytes());
        }
        let r = h.raw(0, &cdb, &p, 0);
        check(&r, 5, 0x1a, 0);
        assert_eq!(field(&r), Some((true, 5, None)));
    }
    assert!(h.keys().is_empty());
}

#[test]
fn insufficient_registration_resources_beyond_the_limit() {
    let mut h = H::new(LunConfig::spc5().with_max_registrations(2), 3);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    check(&h.register(2, K3), 5, 0x55, 0x04);
    let ids = [sas(2)];
    good(&h.out(1, PrOut::register(k(K2), k(0))));
    check(
        &h.out(1, PrOut::register(k(0), k(K2)).with_spec_i_pt(&ids)),
        5,
        0x55,
        0x04,
    );
    assert_eq!(h.keys(), [K1]);
}

// ---------------------------------------------------------------- CDB checks

#[test]
fn reserved_service_action_is_invalid_field_in_cdb_pointing_at_byte_1() {
    let mut h = H::spc(1);
    let cdb = PrOutCdb {
        service_action: 0x1f,
        scope: 0,
        type_code: 0,
        parameter_list_length: 24,
        control: 0,
    }
    .to_bytes();
    let r = h.raw(0, &cdb, &[0; 24], 0);
    check(&r, 5, 0x24, 0);
    assert_eq!(field(&r), Some((true, 1, Some(4))));
    let r = h.raw(0, &[0x5e, 0x1f, 0, 0, 0, 0, 0, 0, 32, 0], &[], 32);
    check(&r, 5, 0x24, 0);
}

#[test]
fn reserved_type_and_scope_are_invalid_field_in_cdb() {
    let mut h = H::spc(1);
    good(&h.register(0, K1));
    let mut p = vec![0u8; 24];
    p[..8].copy_from_slice(&K1.to_be_bytes());
    for (ty, scope, bit) in [(0u8, 0u8, 3u8), (2, 0, 3), (4, 0, 3), (9, 0, 3), (1, 1, 7)] {
        let cdb = PrOutCdb {
            service_action: 1,
            scope,
            type_code: ty,
            parameter_list_length: 24,
            control: 0,
        }
        .to_bytes();
        let r = h.raw(0, &cdb, &p, 0);
        check(&r, 5, 0x24, 0);
        assert_eq!(field(&r), Some((true, 2, Some(bit))));
    }
    assert!(h.lu.reservation().is_none());
}

#[test]
fn type_missing_from_the_type_mask_is_invalid_field_in_cdb() {
    let mut caps = LunConfig::full_capabilities();
    caps.type_mask = TypeMask::WR_EX | TypeMask::EX_AC;
    let mut h = H::new(LunConfig::spc5().with_capabilities(caps), 1);
    good(&h.register(0, K1));
    check(&h.reserve(0, K1, WE_RO), 5, 0x24, 0);
    good(&h.reserve(0, K1, WE));
}

#[test]
fn unknown_operation_code_is_invalid_command_operation_code() {
    let mut h = H::spc(1);
    let r = h.raw(0, &[0xc0, 0, 0, 0, 0, 0], &[], 0);
    check(&r, 5, 0x20, 0);
    check(&h.raw(0, &[], &[], 0), 5, 0x20, 0);
}

// ---------------------------------------------------------------- RESERVE (5.14.9)

#[test]
fn reserve_by_unregistered_nexus_or_with_wrong_key_conflicts() {
    let mut h = H::spc(2);
    conflict(&h.reserve(0, 0, WE));
    good(&h.register(0, K1));
    conflict(&h.reserve(0, K2, WE));
    assert!(h.lu.reservation().is_none());
}

#[test]
fn reserve_while_another_nexus_holds_conflicts() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.reserve(0, K1, WE_RO));
    conflict(&h.reserve(1, K2, WE_RO));
    assert_eq!(h.holder(), Some((Some(0), WE_RO)));
}

#[test]
fn reserve_same_type_by_holder_is_good_and_does_not_change_prgeneration() {
    let mut h = H::spc(1);
    good(&h.register(0, K1));
    good(&h.reserve(0, K1, EA));
    let g = h.generation();
    good(&h.reserve(0, K1, EA));
    assert_eq!(h.generation(), g);
}

#[test]
fn reserve_other_type_by_holder_conflicts() {
    let mut h = H::spc(1);
    good(&h.register(0, K1));
    good(&h.reserve(0, K1, WE));
    conflict(&h.reserve(0, K1, EA));
    assert_eq!(h.holder(), Some((Some(0), WE)));
}

// ---------------------------------------------------------------- RELEASE (5.14.11.2)

#[test]
fn release_without_reservation_or_by_non_holder_is_good_without_effect() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.out(1, PrOut::release(k(K2), WE)));
    good(&h.reserve(0, K1, WE));
    good(&h.out(1, PrOut::release(k(K2), WE)));
    assert_eq!(h.holder(), Some((Some(0), WE)));
}

#[test]
fn release_by_unregistered_nexus_or_with_wrong_key_conflicts() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.reserve(0, K1, WE));
    conflict(&h.out(1, PrOut::release(k(0), WE)));
    conflict(&h.out(0, PrOut::release(k(K2), WE)));
    assert!(h.holder().is_some());
}

#[test]
fn release_with_wrong_type_is_invalid_release_of_persistent_reservation() {
    let mut h = H::spc(1);
    good(&h.register(0, K1));
    good(&h.reserve(0, K1, WE));
    check(&h.out(0, PrOut::release(k(K1), EA)), 5, 0x26, 0x04);
    assert!(h.holder().is_some());
}

#[test]
fn release_of_registrants_only_reservation_gives_reservations_released_to_other_registrants() {
    let mut h = H::spc(3);
    for i in 0..3 {
        good(&h.register(i, [K1, K2, K3][i]));
    }
    good(&h.reserve(0, K1, WE_RO));
    let g = h.generation();
    good(&h.out(0, PrOut::release(k(K1), WE_RO)));
    assert!(h.lu.reservation().is_none());
    assert_eq!(h.generation(), g, "RELEASE does not count");
    assert!(h.uas(0).is_empty());
    assert_eq!(h.uas(1), [(0x2a, 0x04)]);
    assert_eq!(h.uas(2), [(0x2a, 0x04)]);
}

#[test]
fn release_of_write_exclusive_gives_no_unit_attention() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.reserve(0, K1, WE));
    good(&h.out(0, PrOut::release(k(K1), WE)));
    assert!(h.uas(1).is_empty());
}

// ---------------------------------------------------------------- unregistering (5.14.11.2.3)

#[test]
fn unregistering_the_holder_releases_the_reservation() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.reserve(0, K1, WE));
    good(&h.out(0, PrOut::register(k(K1), k(0))));
    assert!(h.lu.reservation().is_none());
    assert!(h.uas(1).is_empty(), "no UA for Write Exclusive");
}

#[test]
fn unregistering_a_registrants_only_holder_gives_reservations_released() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.reserve(0, K1, EA_RO));
    good(&h.out(0, PrOut::register(k(K1), k(0))));
    assert!(h.lu.reservation().is_none());
    assert_eq!(h.uas(1), [(0x2a, 0x04)]);
}

#[test]
fn all_registrants_reservation_ends_only_with_the_last_registrant() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.reserve(0, K1, WE_AR));
    good(&h.out(0, PrOut::register(k(K1), k(0))));
    assert_eq!(h.holder(), Some((None, WE_AR)));
    good(&h.out(1, PrOut::register(k(K2), k(0))));
    assert!(h.lu.reservation().is_none());
}

#[test]
fn all_registrants_every_registrant_is_holder_and_read_reservation_reports_key_0() {
    let mut h = H::spc(3);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.reserve(1, K2, EA_AR));
    // Another registrant re-reserving the same type is a holder: GOOD.
    good(&h.reserve(0, K1, EA_AR));
    conflict(&h.reserve(0, K1, WE_AR));
    let r = h.prin(2, PrInAction::ReadReservation, 100);
    let rr = ReadReservation::decode(&r.data).unwrap();
    let res = rr.reservation().unwrap();
    assert_eq!(res.key.0, 0);
    assert_eq!(res.type_code, 8);
    let r = h.prin(2, PrInAction::ReadFullStatus, 1000);
    let fs = FullStatus::decode(&r.data).unwrap();
    let d: Vec<_> = fs.descriptors().collect();
    assert_eq!(d.len(), 2);
    assert!(d.iter().all(|x| x.is_holder() && x.type_code() == 8));
    // A registrant that joins later is a holder too.
    good(&h.register(2, K3));
    assert!(h.lu.is_holder(&h.n[2].clone()));
}

// ---------------------------------------------------------------- CLEAR (5.14.11.3)

#[test]
fn clear_removes_every_registration_and_the_reservation_and_gives_reservations_preempted() {
    let mut h = H::spc(3);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.reserve(0, K1, WE_RO));
    let g = h.generation();
    good(&h.out(1, PrOut::clear(k(K2))));
    assert!(h.keys().is_empty());
    assert!(h.lu.reservation().is_none());
    assert_eq!(h.generation(), g + 1);
    assert_eq!(h.uas(0), [(0x2a, 0x03)]);
    assert!(h.uas(1).is_empty());
    assert!(h.uas(2).is_empty(), "unregistered nexuses get nothing");
}

#[test]
fn clear_by_unregistered_or_wrong_key_conflicts() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    conflict(&h.out(1, PrOut::clear(k(0))));
    conflict(&h.out(0, PrOut::clear(k(K2))));
    assert_eq!(h.keys(), [K1]);
}

// ---------------------------------------------------------------- PREEMPT (5.14.11.4)

#[test]
fn preempt_of_the_holder_moves_the_reservation_and_removes_the_victims() {
    let mut h = H::spc(3);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.register(2, K3));
    good(&h.reserve(0, K1, WE_RO));
    let g = h.generation();
    good(&h.out(1, PrOut::preempt(k(K2), k(K1), WE_RO)));
    assert_eq!(h.holder(), Some((Some(1), WE_RO)));
    assert_eq!(h.keys(), [K2, K3]);
    assert_eq!(h.generation(), g + 1);
    assert_eq!(h.uas(0), [(0x2a, 0x05)]);
    assert!(h.uas(2).is_empty(), "same type: the others get nothing");
}

#[test]
fn preempt_changing_the_type_gives_reservations_released_to_remaining_registrants() {
    let mut h = H::spc(3);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.register(2, K3));
    good(&h.reserve(0, K1, WE_RO));
    good(&h.out(1, PrOut::preempt(k(K2), k(K1), EA)));
    assert_eq!(h.holder(), Some((Some(1), EA)));
    assert_eq!(h.uas(0), [(0x2a, 0x05)]);
    assert_eq!(h.uas(2), [(0x2a, 0x04)]);
}

#[test]
fn preempt_of_a_non_holder_removes_registrations_only() {
    let mut h = H::spc(3);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.register(2, K3));
    good(&h.reserve(0, K1, WE));
    good(&h.out(1, PrOut::preempt(k(K2), k(K3), EA)));
    assert_eq!(h.holder(), Some((Some(0), WE)), "reservation unchanged");
    assert_eq!(h.keys(), [K1, K2]);
    assert_eq!(h.uas(2), [(0x2a, 0x05)]);
}

#[test]
fn preempt_without_reservation_removes_registrations() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.out(0, PrOut::preempt(k(K1), k(K2), WE)));
    assert!(h.lu.reservation().is_none());
    assert_eq!(h.keys(), [K1]);
}

#[test]
fn preempt_with_unknown_key_conflicts() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.reserve(0, K1, WE));
    let g = h.generation();
    conflict(&h.out(0, PrOut::preempt(k(K1), k(0x9999), WE)));
    assert_eq!(h.generation(), g);
}

#[test]
fn preempt_with_zero_key_outside_all_registrants_is_invalid_field_in_parameter_list() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    let r = h.out(0, PrOut::preempt(k(K1), k(0), WE));
    check(&r, 5, 0x26, 0);
    assert_eq!(field(&r), Some((false, 8, None)));
    good(&h.reserve(0, K1, WE));
    check(&h.out(0, PrOut::preempt(k(K1), k(0), WE)), 5, 0x26, 0);
}

#[test]
fn preempt_with_zero_key_of_all_registrants_removes_every_other_registrant() {
    let mut h = H::spc(3);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.register(2, K3));
    good(&h.reserve(0, K1, WE_AR));
    good(&h.out(1, PrOut::preempt(k(K2), k(0), EA)));
    assert_eq!(h.keys(), [K2]);
    assert_eq!(h.holder(), Some((Some(1), EA)));
    assert_eq!(h.uas(0), [(0x2a, 0x05)]);
    assert_eq!(h.uas(2), [(0x2a, 0x05)]);
}

#[test]
fn preempt_with_nonzero_key_of_all_registrants_removes_only_those_registrations() {
    let mut h = H::spc(3);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.register(2, K3));
    good(&h.reserve(0, K1, WE_AR));
    good(&h.out(1, PrOut::preempt(k(K2), k(K3), EA)));
    assert_eq!(h.keys(), [K1, K2]);
    assert_eq!(h.holder(), Some((None, WE_AR)));
}

#[test]
fn self_preempt_keeps_the_issuer_and_changes_the_type() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.reserve(0, K1, WE));
    good(&h.out(0, PrOut::preempt(k(K1), k(K1), EA_RO)));
    assert_eq!(h.holder(), Some((Some(0), EA_RO)));
    assert_eq!(h.keys(), [K1, K2]);
    assert_eq!(h.uas(1), [(0x2a, 0x04)]);
}

#[test]
fn preempt_and_abort_preempts_like_preempt() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.reserve(0, K1, WE_RO));
    good(&h.out(1, PrOut::preempt_and_abort(k(K2), k(K1), WE_RO)));
    assert_eq!(h.holder(), Some((Some(1), WE_RO)));
    assert_eq!(h.uas(0), [(0x2a, 0x05)]);
    check(&h.raw(0, &write10(), &[0; 512], 0), 6, 0x2a, 0x05);
    conflict(&h.raw(0, &write10(), &[0; 512], 0));
}

#[test]
fn preempt_by_unregistered_nexus_conflicts() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    conflict(&h.out(1, PrOut::preempt(k(0), k(K1), WE)));
    assert_eq!(h.keys(), [K1]);
}

// ---------------------------------------------------------------- REGISTER AND MOVE (5.14.8)

#[test]
fn register_and_move_registers_the_destination_and_moves_the_reservation_with_its_type() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.reserve(0, K1, WE));
    let dest = sas(1);
    let g = h.generation();
    // SPC-4 r36f 5.13.8: SCOPE and TYPE are ignored; the reservation keeps its type.
    good(&h.out(0, PrOut::register_and_move(k(K1), k(K2), EA, &dest, 1)));
    assert_eq!(h.holder(), Some((Some(1), WE)));
    assert_eq!(h.keys(), [K1, K2]);
    assert_eq!(h.generation(), g + 1);
}

#[test]
fn register_and_move_with_unreg_unregisters_the_issuer() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.reserve(0, K1, WE));
    let dest = sas(1);
    good(&h.out(
        0,
        PrOut::register_and_move(k(K1), k(K2), WE, &dest, 1).with_unreg(),
    ));
    assert_eq!(h.keys(), [K2]);
    assert_eq!(h.holder(), Some((Some(1), WE)));
}

#[test]
fn register_and_move_by_non_holder_conflicts_and_without_reservation_is_invalid_field_in_cdb() {
    let mut h = H::spc(3);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    let dest = sas(2);
    // SPC-4 r36f 5.13.8: no reservation: ILLEGAL REQUEST, INVALID FIELD IN CDB.
    let r = h.out(0, PrOut::register_and_move(k(K1), k(K3), WE, &dest, 1));
    check(&r, 5, 0x24, 0);
    good(&h.reserve(1, K2, WE));
    conflict(&h.out(0, PrOut::register_and_move(k(K1), k(K3), WE, &dest, 1)));
    conflict(&h.out(2, PrOut::register_and_move(k(0), k(K3), WE, &dest, 1)));
}

#[test]
fn register_and_move_of_all_registrants_reservation_conflicts() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.reserve(0, K1, WE_AR));
    let dest = sas(1);
    conflict(&h.out(0, PrOut::register_and_move(k(K1), k(K2), WE, &dest, 1)));
}

#[test]
fn register_and_move_invalid_destination_is_invalid_field_in_parameter_list() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.reserve(0, K1, WE));
    let me = sas(0);
    check(
        &h.out(0, PrOut::register_and_move(k(K1), k(K2), WE, &me, 1)),
        5,
        0x26,
        0,
    );
    let dest = sas(1);
    let r = h.out(0, PrOut::register_and_move(k(K1), k(K2), WE, &dest, 9));
    check(&r, 5, 0x26, 0);
    assert_eq!(field(&r), Some((false, 18, None)));
    check(
        &h.out(0, PrOut::register_and_move(k(K1), k(0), WE, &dest, 1)),
        5,
        0x26,
        0,
    );
    // The issuer's own initiator port through another target port: still "the same as the
    // initiator port of the I_T nexus on which the command [was] received".
    check(
        &h.out(0, PrOut::register_and_move(k(K1), k(K2), WE, &me, 2)),
        5,
        0x26,
        0,
    );
    assert!(h.lu.is_holder(&h.n[0]));
}

#[test]
fn register_and_move_to_an_already_registered_nexus_replaces_its_key() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.reserve(0, K1, WE));
    let dest = sas(1);
    good(&h.out(0, PrOut::register_and_move(k(K1), k(K3), WE, &dest, 1)));
    assert_eq!(h.keys(), [K1, K3]);
    assert_eq!(h.holder(), Some((Some(1), WE)));
}

// ---------------------------------------------------------------- REPLACE LOST RESERVATION

#[test]
fn lost_reservation_blocks_media_and_pr_out_until_replace_lost_reservation() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.reserve(0, K1, WE));
    h.lu.lose_reservation();
    // SPC-4 r36f 5.13.5.3.2: everything but REPLACE LOST RESERVATION and the commands of
    // 5.13.5.2 (INQUIRY, REPORT LUNS, REQUEST SENSE, ...) ends in 7/44h/01h, PR IN too.
    check(&h.raw(1, &read10(), &[], 512), 7, 0x44, 0x01);
    check(&h.register(1, K2), 7, 0x44, 0x01);
    check(&h.prin(1, PrInAction::ReadKeys, 100), 7, 0x44, 0x01);
    check(&h.raw(1, &[0; 6], &[], 0), 7, 0x44, 0x01);
    good(&h.raw(1, &[0x12, 0, 0, 0, 36, 0], &[], 36));
    assert_ne!(h.generation(), 0);
    good(&h.out(1, PrOut::replace_lost_reservation(k(K3), EA)));
    assert_eq!(h.keys(), [K3]);
    assert_eq!(h.holder(), Some((Some(1), EA)));
    // 5.13.11.3 item e): PRgeneration is set to zero.
    assert_eq!(h.generation(), 0);
    good(&h.raw(1, &read10(), &[], 512));
    conflict(&h.raw(0, &read10(), &[], 512));
}

#[test]
fn replace_lost_reservation_without_a_loss_is_invalid_release_of_persistent_reservation() {
    // SPC-4 r36f 5.13.11.3.
    let mut h = H::spc(1);
    check(
        &h.out(0, PrOut::replace_lost_reservation(k(K1), WE)),
        5,
        0x26,
        0x04,
    );
}

#[test]
fn replace_lost_reservation_without_rlr_c_is_invalid_field_in_cdb() {
    let mut h = H::new(LunConfig::spc5().without(CapabilityFlags::RLR_C), 1);
    let r = h.out(0, PrOut::replace_lost_reservation(k(K1), WE));
    check(&r, 5, 0x24, 0);
    assert_eq!(field(&r), Some((true, 1, Some(4))));
}

// ---------------------------------------------------------------- media access table (5.14.1)

#[test]
fn media_access_conflicts_follow_spc_table_per_type_and_registration() {
    // (type, [holder read, holder write, registrant read, registrant write, other read, other write])
    let table = [
        (WE, [true, true, true, false, true, false]),
        (EA, [true, true, false, false, false, false]),
        (WE_RO, [true, true, true, true, true, false]),
        (EA_RO, [true, true, true, true, false, false]),
        (WE_AR, [true, true, true, true, true, false]),
        (EA_AR, [true, true, true, true, false, false]),
    ];
    for (ty, allowed) in table {
        let mut h = H::spc(3);
        good(&h.register(0, K1));
        good(&h.register(1, K2));
        good(&h.reserve(0, K1, ty));
        let mut got = Vec::new();
        for i in 0..3 {
            got.push(h.raw(i, &read10(), &[], 512).status.is_good());
            got.push(h.raw(i, &write10(), &[0x11; 512], 0).status.is_good());
        }
        assert_eq!(got, allowed, "type {ty:?}");
        // Commands that are always allowed.
        good(&h.raw(2, &[0x12, 0, 0, 0, 36, 0], &[], 36));
        good(&h.raw(2, &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[], 8));
        good(&h.prin(2, PrInAction::ReadKeys, 64));
        good(&h.raw(2, &[0, 0, 0, 0, 0, 0], &[], 0));
    }
}

#[test]
fn test_unit_ready_conflicts_like_a_read_when_allow_commands_is_0() {
    let mut caps = LunConfig::full_capabilities();
    caps.allow_commands = pr_core::prin::AllowCommands(0);
    let mut h = H::new(LunConfig::spc5().with_capabilities(caps), 2);
    good(&h.register(0, K1));
    good(&h.reserve(0, K1, EA));
    conflict(&h.raw(1, &[0, 0, 0, 0, 0, 0], &[], 0));
    good(&h.raw(0, &[0, 0, 0, 0, 0, 0], &[], 0));
}

#[test]
fn write_then_read_returns_the_data_and_lba_out_of_range_is_checked() {
    let mut h = H::spc(1);
    let mut w = write10();
    w[5] = 7;
    good(&h.raw(0, &w, &[0x5a; 512], 0));
    let mut r = read10();
    r[5] = 7;
    assert_eq!(h.raw(0, &r, &[], 512).data, vec![0x5a; 512]);
    let far = [0x88, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 1, 0, 0];
    check(&h.raw(0, &far, &[], 512), 5, 0x21, 0);
}

// ---------------------------------------------------------------- unit attentions (SAM-5 5.14)

#[test]
fn unit_attention_is_reported_once_to_the_next_command() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.out(1, PrOut::clear(k(K2))));
    check(&h.raw(0, &[0, 0, 0, 0, 0, 0], &[], 0), 6, 0x2a, 0x03);
    good(&h.raw(0, &[0, 0, 0, 0, 0, 0], &[], 0));
}

#[test]
fn unit_attention_also_terminates_pr_in_and_pr_out() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.out(1, PrOut::clear(k(K2))));
    check(&h.prin(0, PrInAction::ReadKeys, 64), 6, 0x2a, 0x03);
    h.lu.add_unit_attention(&h.n[0].clone(), 0x2a, 0x05);
    check(&h.register(0, K1), 6, 0x2a, 0x05);
    assert!(h.keys().is_empty(), "the PR OUT was not executed");
}

#[test]
fn unit_attentions_are_reported_in_the_order_they_were_established() {
    let mut h = H::spc(1);
    let n = h.n[0].clone();
    h.lu.add_unit_attention(&n, 0x2a, 0x03);
    h.lu.add_unit_attention(&n, 0x2a, 0x05);
    h.lu.add_unit_attention(&n, 0x2a, 0x03);
    assert_eq!(h.uas(0), [(0x2a, 0x03), (0x2a, 0x05)], "no duplicates");
    check(&h.raw(0, &[0; 6], &[], 0), 6, 0x2a, 0x03);
    check(&h.raw(0, &[0; 6], &[], 0), 6, 0x2a, 0x05);
    good(&h.raw(0, &[0; 6], &[], 0));
}

#[test]
fn inquiry_and_report_luns_neither_report_nor_clear_a_unit_attention() {
    let mut h = H::spc(1);
    let n = h.n[0].clone();
    h.lu.add_unit_attention(&n, 0x2a, 0x04);
    good(&h.raw(0, &[0x12, 0, 0, 0, 36, 0], &[], 36));
    good(&h.raw(0, &[0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0], &[], 64));
    assert_eq!(h.uas(0), [(0x2a, 0x04)]);
}

#[test]
fn request_sense_returns_the_unit_attention_as_data_and_clears_it() {
    let mut h = H::spc(1);
    let n = h.n[0].clone();
    h.lu.add_unit_attention(&n, 0x2a, 0x04);
    let r = h.raw(0, &[0x03, 0, 0, 0, 18, 0], &[], 18);
    good(&r);
    assert_eq!((r.data[2], r.data[12], r.data[13]), (6, 0x2a, 0x04));
    assert!(h.uas(0).is_empty());
    let r = h.raw(0, &[0x03, 0, 0, 0, 18, 0], &[], 18);
    assert_eq!(r.data[2], 0);
}

// ---------------------------------------------------------------- PR IN data (6.16)

#[test]
fn read_keys_is_cut_at_the_allocation_length_with_full_additional_length() {
    let mut h = H::spc(3);
    for i in 0..3 {
        good(&h.register(i, [K1, K2, K3][i]));
    }
    let r = h.prin(0, PrInAction::ReadKeys, 20);
    assert_eq!(r.data.len(), 20);
    let rk = ReadKeys::decode(&r.data).unwrap();
    assert_eq!(rk.additional_length(), 24);
    assert_eq!(rk.needed_alloc_len(), Some(32));
    assert_eq!(h.prin(0, PrInAction::ReadKeys, 0).data.len(), 0);
    assert_eq!(h.prin(0, PrInAction::ReadKeys, 4).data, [0, 0, 0, 3]);
}

#[test]
fn read_full_status_is_cut_at_the_allocation_length_as_spc_says() {
    let mut h = H::spc(3);
    for i in 0..3 {
        good(&h.register(i, [K1, K2, K3][i]));
    }
    good(&h.reserve(1, K2, WE_RO));
    let full = h.prin(0, PrInAction::ReadFullStatus, 8192);
    assert_eq!(full.data.len(), 8 + 3 * 48);
    let fs = FullStatus::decode(&full.data).unwrap();
    let d: Vec<_> = fs.descriptors().collect();
    assert_eq!(d.len(), 3);
    assert!(!d[0].is_holder() && d[1].is_holder() && !d[2].is_holder());
    assert_eq!(d[1].type_code(), 5);
    assert_eq!(d[2].relative_target_port(), 1);
    for alloc in [16u16, 64, 100, 120] {
        let r = h.prin(0, PrInAction::ReadFullStatus, alloc);
        assert_eq!(r.data, full.data[..usize::from(alloc)], "alloc {alloc}");
    }
}

#[test]
fn read_reservation_reports_holder_key_and_type_and_is_cut() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.reserve(0, K1, EA_RO));
    let r = h.prin(1, PrInAction::ReadReservation, 24);
    let res = ReadReservation::decode(&r.data)
        .unwrap()
        .reservation()
        .unwrap();
    assert_eq!((res.key.0, res.type_code), (K1, 6));
    let r = h.prin(1, PrInAction::ReadReservation, 16);
    assert_eq!(r.data.len(), 16);
    assert_eq!(&r.data[8..16], &K1.to_be_bytes());
}

#[test]
fn report_capabilities_reports_the_configuration_and_ptpl_a() {
    let mut h = H::new(LunConfig::spc5().without(CapabilityFlags::SIP_C), 1);
    let caps = Capabilities::decode(&h.prin(0, PrInAction::ReportCapabilities, 8).data).unwrap();
    assert!(!caps.sip_c() && caps.atp_c() && caps.ptpl_c() && caps.rlr_c() && !caps.ptpl_a());
    good(&h.out(0, PrOut::register(k(0), k(K1)).with_aptpl()));
    let caps = Capabilities::decode(&h.prin(0, PrInAction::ReportCapabilities, 8).data).unwrap();
    assert!(caps.ptpl_a());
    good(&h.out(0, PrOut::clear(k(K1))));
    let caps = Capabilities::decode(&h.prin(0, PrInAction::ReportCapabilities, 8).data).unwrap();
    assert!(caps.ptpl_a(), "SPC: CLEAR does not change the APTPL state");
    assert_eq!(h.prin(0, PrInAction::ReportCapabilities, 4).data.len(), 4);
}

#[test]
fn aptpl_without_ptpl_c_is_invalid_field_in_parameter_list() {
    let mut h = H::new(LunConfig::spc5().without(CapabilityFlags::PTPL_C), 1);
    let r = h.out(0, PrOut::register(k(0), k(K1)).with_aptpl());
    check(&r, 5, 0x26, 0);
    assert_eq!(field(&r), Some((false, 20, Some(0))));
}

// ---------------------------------------------------------------- PRgeneration (6.16.2)

#[test]
fn prgeneration_counts_register_clear_preempt_move_but_not_reserve_release_or_failures() {
    let mut h = H::spc(2);
    good(&h.register(0, K1)); // 1
    good(&h.register(1, K2)); // 2
    good(&h.reserve(0, K1, WE)); // 2
    conflict(&h.reserve(1, K2, WE)); // 2
    good(&h.out(1, PrOut::preempt(k(K2), k(K1), WE))); // 3
    check(&h.raw(0, &[0; 6], &[], 0), 6, 0x2a, 0x05);
    good(&h.register(0, K1)); // 4
    let dest = sas(0);
    good(&h.out(1, PrOut::register_and_move(k(K2), k(K1), WE, &dest, 1))); // 5
    good(&h.out(0, PrOut::release(k(K1), WE))); // 5
    good(&h.out(0, PrOut::register(k(K1), k(0)))); // 6
    good(&h.out(1, PrOut::clear(k(K2)))); // 7
    assert_eq!(h.generation(), 7);
    let r = h.prin(0, PrInAction::ReadKeys, 8);
    assert_eq!(ReadKeys::decode(&r.data).unwrap().generation(), 7);
}

// ---------------------------------------------------------------- power cycles and APTPL

#[test]
fn power_cycle_without_aptpl_loses_everything_and_gives_power_on_unit_attention() {
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.reserve(0, K1, WE));
    h.lu.power_cycle();
    assert!(h.keys().is_empty());
    assert!(h.lu.reservation().is_none());
    assert_eq!(h.generation(), 0);
    assert_eq!(h.uas(0), [(0x29, 0)]);
    assert_eq!(h.uas(1), [(0x29, 0)]);
    check(&h.raw(1, &[0; 6], &[], 0), 6, 0x29, 0);
    good(&h.raw(1, &[0; 6], &[], 0));
}

#[test]
fn power_on_unit_attention_supersedes_queued_ones() {
    let mut h = H::spc(2);
    let n = h.n[0].clone();
    h.lu.add_unit_attention(&n, 0x2a, 0x03);
    h.lu.power_cycle();
    assert_eq!(h.uas(0), [(0x29, 0)]);
}

#[test]
fn aptpl_state_survives_power_cycle_through_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lun0.aptpl");
    let cfg = LunConfig::spc5().with_state_file(&file);
    let mut h = H::new(cfg.clone(), 2);
    good(&h.out(0, PrOut::register(k(0), k(K1)).with_aptpl()));
    good(&h.out(1, PrOut::register(k(0), k(K2)).with_aptpl()));
    good(&h.reserve(1, K2, EA_RO));
    assert!(file.exists());
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("pr-sim aptpl 1\n"), "{text}");
    h.lu.power_cycle();
    assert_eq!(h.keys(), [K1, K2]);
    assert_eq!(h.holder(), Some((Some(1), EA_RO)));
    assert_eq!(
        h.generation(),
        0,
        "PRgeneration restarts at 0 whatever APTPL"
    );
    assert!(h.lu.aptpl_active());
    // A brand-new logical unit with the same file comes up with the same state.
    let h2 = H::new(cfg.clone(), 2);
    assert_eq!(h2.keys(), [K1, K2]);
    check(&h.raw(0, &[0; 6], &[], 0), 6, 0x29, 0);
    // REGISTER with APTPL=0 turns persistence off and removes the file.
    good(&h.out(0, PrOut::register(k(K1), k(K3))));
    assert!(!file.exists());
    h.lu.power_cycle();
    assert!(h.keys().is_empty());
}

#[test]
fn aptpl_without_state_file_survives_power_cycle_in_memory() {
    let mut h = H::spc(1);
    good(&h.out(0, PrOut::register(k(0), k(K1)).with_aptpl()));
    h.lu.power_cycle();
    assert_eq!(h.keys(), [K1]);
}

#[test]
fn state_file_write_failure_reports_logical_unit_communication_failure() {
    let mut h = H::new(
        LunConfig::spc5().with_state_file("/nonexistent-dir/x/aptpl"),
        1,
    );
    check(
        &h.out(0, PrOut::register(k(0), k(K1)).with_aptpl()),
        2,
        0x08,
        0,
    );
    assert_eq!(
        h.keys(),
        [K1],
        "the registration is made; only storing it failed"
    );
}

#[test]
fn invariants_hold_after_a_busy_scenario() {
    let mut h = H::spc(3);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.reserve(0, K1, WE_AR));
    good(&h.out(1, PrOut::preempt(k(K2), k(0), WE)));
    h.lu.check_invariants().unwrap();
}

// ---------------------------------------------------------------- rules checked against the
// SPC text (SPC-4 r36f; see DEPARTURES.md "Checked against the standard")

#[test]
fn preempt_with_the_issuers_own_key_removes_the_issuer_without_unit_attention() {
    // SPC-4 r36f 5.13.11.2.5: "no unit attention condition is established for the I_T
    // nexus on which the PERSISTENT RESERVE OUT command was received. The registration is
    // removed."
    let mut h = H::spc(3);
    good(&h.register(0, K2));
    good(&h.register(1, K2));
    good(&h.register(2, K3));
    good(&h.reserve(2, K3, WE));
    let g = h.generation();
    good(&h.out(0, PrOut::preempt(k(K2), k(K2), WE)));
    assert_eq!(h.keys(), [K3]);
    assert!(h.uas(0).is_empty());
    assert_eq!(h.uas(1), [(0x2a, 0x05)]);
    assert_eq!(h.holder(), Some((Some(2), WE)));
    assert_eq!(h.generation(), g + 1);
    // Without a reservation too.
    let mut h = H::spc(2);
    good(&h.register(0, K1));
    good(&h.register(1, K2));
    good(&h.out(0, PrOut::preempt(k(K1), k(K1), WE)));
    assert_eq!(h.keys(), [K2]);
    assert!(h.uas(0).is_empty());
}

#[test]
fn all_tg_pt_key_change_applies_on_every_target_port() {
    // SPC-4 r36f 6.16.3: "as if the same registration request had been received individually
    // through each target port".
    let mut h = H::spc(1);
    good(&h.out(0, PrOut::register(k(0), k(K1)).with_all_tg_pt()));
    good(&h.out(0, PrOut::register(k(K1), k(K2)).with_all_tg_pt()));
    assert_eq!(h.keys(), [K2, K2]);
    assert!(h.lu.registrations().iter().all(|r| r.all_tg_pt));
}

#[test]
fn all_tg_pt_registration_changes_per_nexus_without_all_tg_pt() {
    // 6.16.3: with ALL_TG_PT set to zero the registration applies "only to the target port
    // through which the PERSISTENT RESERVE OUT command was received".
    let mut h = H::spc(1);
    good(&h.out(0, PrOut::register(k(0), k(K1)).with_all_tg_pt()));
    good(&h.out(0, PrOut::register(k(K1), k(K2))));
    assert_eq!(h.keys(), [K2, K1]);
    good(&h.out(0, PrOut::register(k(K2), k(0))));
    assert_eq!(h.keys(), [K1]);
    assert!(h.lu.is_registered(&h.alt(0)));
}

#[test]
fn spec_i_pt_naming_the_issuer_registers_it_once() {
    let mut h = H::spc(2);
    let ids = [sas(0), sas(1)];
    good(&h.out(0, PrOut::register(k(0), k(K1)).with_spec_i_pt(&ids)));
    assert_eq!(h.keys(), [K1, K1]);
}

#[test]
fn register_and_move_with_two_transport_ids_is_invalid_field_in_parameter_list() {
    let mut h = H::spc(3);
    good(&h.register(0, K1));
    good(&h.reserve(0, K1, WE));
    let dest = sas(1);
    let req = PrOut::register_and_move(k(K1), k(K2), WE, &dest, 1);
    let mut cdb = [0u8; 10];
    req.encode_cdb(&mut cdb).unwrap();
    let mut params = vec![0u8; req.param_len().unwrap()];
    req.encode_params(&mut params).unwrap();
    let one = params[24..].to_vec();
    params.extend_from_slice(&one);
    let tl = u32::try_from(params.len() - 24).unwrap();
    params[20..24].copy_from_slice(&tl.to_be_bytes());
    let pll = u32::try_from(params.len()).unwrap();
    cdb[5..9].copy_from_slice(&pll.to_be_bytes());
    check(&h.raw(0, &cdb, &params, 0), 5, 0x26, 0);
    assert_eq!(h.holder(), Some((Some(0), WE)));
}

#[test]
fn inquiry_reports_the_personality_as_product() {
    let mut h = H::spc(1);
    let r = h.raw(0, &[0x12, 0, 0, 0, 36, 0], &[], 36);
    good(&r);
    assert_eq!(&r.data[16..32], b"SIMULATED SPC-5 ");
    let mut h = H::lio(1);
    let r = h.raw(0, &[0x12, 0, 0, 0, 36, 0], &[], 36);
    assert_eq!(&r.data[16..32], b"SIMULATED LIO   ");
}
