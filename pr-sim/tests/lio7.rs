//! What changed in LIO between Linux 6.1 ([`Personality::Lio`]) and 7.1
//! ([`Personality::Lio7_1`]): PREEMPT and PREEMPT AND ABORT check TYPE and SCOPE only when
//! they preempt the reservation (Linux commit 070ec6f69141, DEPARTURES.md "LIO 7.1"). Every
//! test runs both versions and states each one's answer; the 7.1 answers are those LIO
//! 7.2.13 gave in the lab differential test.
//!
//! [`Personality::Lio`]: pr_sim::Personality::Lio
//! [`Personality::Lio7_1`]: pr_sim::Personality::Lio7_1

mod common;
use common::*;

use pr_core::cdb::PrOutCdb;
use pr_sim::{LunConfig, Personality, Reply};

const PREEMPT: u8 = 0x04;
const PREEMPT_AND_ABORT: u8 = 0x05;
/// Reserved TYPE codes (0, 2, 4 and 9 to 15 are reserved in SPC-5).
const RESERVED_TYPES: [u8; 4] = [0, 2, 9, 15];

/// PREEMPT (or PREEMPT AND ABORT, `sa`) with any TYPE and SCOPE.
fn preempt_raw(h: &mut H, i: usize, sa: u8, scope: u8, ty: u8, key: u64, sa_key: u64) -> Reply {
    let mut l = vec![0u8; 24];
    l[..8].copy_from_slice(&key.to_be_bytes());
    l[8..16].copy_from_slice(&sa_key.to_be_bytes());
    let cdb = PrOutCdb {
        service_action: sa,
        scope,
        type_code: ty,
        parameter_list_length: 24,
        control: 0,
    }
    .to_bytes();
    h.raw(i, &cdb, &l, 0)
}

/// Both versions, with the 6.1 harness first.
fn both(n: usize) -> [(Personality, H); 2] {
    [
        (Personality::Lio, H::lio(n)),
        (Personality::Lio7_1, H::lio7_1(n)),
    ]
}

/// Removing registrations (no reservation): 6.1 rejects a reserved TYPE (24h/00h) and a
/// non-zero SCOPE (26h/00h); 7.1 ignores both and removes the registrations.
#[test]
fn preempt_removing_registrations_ignores_type_and_scope_from_7_1() {
    for sa in [PREEMPT, PREEMPT_AND_ABORT] {
        for ty in RESERVED_TYPES {
            for (p, mut h) in both(2) {
                good(&h.register(0, K1));
                good(&h.register(1, K2));
                let r = preempt_raw(&mut h, 0, sa, 0, ty, K1, K2);
                if p == Personality::Lio {
                    check(&r, 5, 0x24, 0);
                    assert_eq!(h.keys(), vec![K1, K2], "{p} type {ty}");
                    assert!(h.uas(1).is_empty());
                } else {
                    good(&r);
                    assert_eq!(h.keys(), vec![K1], "{p} type {ty}");
                    assert_eq!(h.uas(1), vec![(0x2a, 0x05)]);
                }
                assert_eq!(h.holder(), None);
            }
        }
        for (p, mut h) in both(2) {
            good(&h.register(0, K1));
            good(&h.register(1, K2));
            let r = preempt_raw(&mut h, 0, sa, 1, 1, K1, K2);
            if p == Personality::Lio {
                check(&r, 5, 0x26, 0);
                assert_eq!(h.keys(), vec![K1, K2]);
            } else {
                good(&r);
                assert_eq!(h.keys(), vec![K1]);
            }
        }
    }
}

/// Removing registrations while another nexus holds the reservation (the SA key is not the
/// holder's): the same difference; the reservation stays.
#[test]
fn preempt_of_a_non_holder_key_ignores_type_and_scope_from_7_1() {
    for (p, mut h) in both(3) {
        good(&h.register(0, K1));
        good(&h.register(1, K2));
        good(&h.register(2, K3));
        good(&h.reserve(0, K1, WE));
        let r = preempt_raw(&mut h, 1, PREEMPT, 0, 15, K2, K3);
        let r2 = preempt_raw(&mut h, 1, PREEMPT, 2, 1, K2, K3);
        if p == Personality::Lio {
            check(&r, 5, 0x24, 0);
            check(&r2, 5, 0x26, 0);
            assert_eq!(h.keys(), vec![K1, K2, K3]);
        } else {
            good(&r);
            conflict(&r2); // nothing left with that key
            assert_eq!(h.keys(), vec![K1, K2]);
        }
        assert_eq!(h.holder(), Some((Some(0), WE)), "{p}");
    }
}

/// Removing the issuer's own key with a reserved TYPE: 7.1 removes the issuer's
/// registration (as any PREEMPT of its own key does, DEPARTURES.md #34).
#[test]
fn preempt_of_its_own_key_with_a_reserved_type_removes_the_issuer_from_7_1() {
    for (p, mut h) in both(2) {
        good(&h.register(0, K1));
        good(&h.register(1, K2));
        let g = h.generation();
        let r = preempt_raw(&mut h, 0, PREEMPT, 0, 15, K1, K1);
        if p == Personality::Lio {
            check(&r, 5, 0x24, 0);
            assert_eq!(h.keys(), vec![K1, K2]);
            assert_eq!(h.generation(), g);
        } else {
            good(&r);
            assert_eq!(h.keys(), vec![K2]);
            assert_eq!(h.generation(), g + 1);
            assert!(h.uas(0).is_empty());
        }
    }
}

/// With a reserved TYPE, 6.1 answers 24h/00h before looking at the issuer; 7.1 checks the
/// registration (RESERVATION CONFLICT), the key (RESERVATION CONFLICT) and an SA key of 0
/// without an all-registrants reservation (26h/00h) first.
#[test]
fn preempt_with_a_reserved_type_checks_registration_and_keys_first_from_7_1() {
    for sa in [PREEMPT, PREEMPT_AND_ABORT] {
        for (p, mut h) in both(2) {
            good(&h.register(1, K2));
            let unregistered = preempt_raw(&mut h, 0, sa, 0, 9, 0, K2);
            let wrong_key = preempt_raw(&mut h, 1, sa, 0, 9, K1, K2);
            let zero_sa_key = preempt_raw(&mut h, 1, sa, 0, 9, K2, 0);
            if p == Personality::Lio {
                check(&unregistered, 5, 0x24, 0);
                check(&wrong_key, 5, 0x24, 0);
                check(&zero_sa_key, 5, 0x24, 0);
            } else {
                conflict(&unregistered);
                conflict(&wrong_key);
                check(&zero_sa_key, 5, 0x26, 0);
            }
            assert_eq!(h.keys(), vec![K2], "{p}");
        }
    }
}

/// Preempting the reservation uses TYPE and SCOPE: both versions reject a reserved TYPE
/// (24h/00h, checked before SCOPE) and a non-zero SCOPE (26h/00h) and change nothing.
#[test]
fn preempt_of_the_reservation_still_checks_type_then_scope() {
    for (p, mut h) in both(2) {
        good(&h.register(0, K1));
        good(&h.register(1, K2));
        good(&h.reserve(0, K1, WE));
        for ty in RESERVED_TYPES {
            check(&preempt_raw(&mut h, 1, PREEMPT, 0, ty, K2, K1), 5, 0x24, 0);
            check(&preempt_raw(&mut h, 1, PREEMPT, 1, ty, K2, K1), 5, 0x24, 0);
        }
        check(&preempt_raw(&mut h, 1, PREEMPT, 1, 3, K2, K1), 5, 0x26, 0);
        assert_eq!(h.keys(), vec![K1, K2], "{p}");
        assert_eq!(h.holder(), Some((Some(0), WE)), "{p}");
        good(&preempt_raw(&mut h, 1, PREEMPT, 0, 3, K2, K1));
        assert_eq!(h.keys(), vec![K2], "{p}");
        assert_eq!(h.holder(), Some((Some(1), EA)), "{p}");
    }
}

/// Under an all-registrants reservation an SA key of 0 replaces the reservation (TYPE
/// used): both versions reject a reserved TYPE and a SCOPE; a non-zero SA key that is not
/// the holder registration's removes registrations, where 7.1 ignores the TYPE.
#[test]
fn preempt_under_all_registrants_checks_type_only_when_replacing_the_reservation() {
    for (p, mut h) in both(3) {
        good(&h.register(0, K1));
        good(&h.register(1, K2));
        good(&h.register(2, K3));
        good(&h.reserve(0, K1, WE_AR));
        check(&preempt_raw(&mut h, 1, PREEMPT, 0, 15, K2, 0), 5, 0x24, 0);
        check(&preempt_raw(&mut h, 1, PREEMPT, 1, 1, K2, 0), 5, 0x26, 0);
        assert_eq!(h.keys(), vec![K1, K2, K3], "{p}");
        let r = preempt_raw(&mut h, 1, PREEMPT, 0, 15, K2, K3);
        if p == Personality::Lio {
            check(&r, 5, 0x24, 0);
            assert_eq!(h.keys(), vec![K1, K2, K3]);
        } else {
            good(&r);
            assert_eq!(h.keys(), vec![K1, K2]);
        }
        assert_eq!(h.holder().map(|(_, t)| t), Some(WE_AR), "{p}");
    }
}

#[test]
fn the_personality_follows_the_kernel_release() {
    for (release, want) in [
        ("6.1.0-56-amd64", Some(Personality::Lio)),
        ("6.12.57+deb13-amd64", Some(Personality::Lio)),
        ("7.0.3", Some(Personality::Lio)),
        ("7.1", Some(Personality::Lio7_1)),
        ("7.1-rc1", Some(Personality::Lio7_1)),
        ("7.2.13+deb14-amd64", Some(Personality::Lio7_1)),
        ("8.0.0", Some(Personality::Lio7_1)),
        ("7", None),
        ("seven.two", None),
        ("", None),
    ] {
        assert_eq!(Personality::lio_for_kernel(release), want, "{release:?}");
    }
    assert!(Personality::Lio.is_lio() && Personality::Lio7_1.is_lio());
    assert!(!Personality::Spc5.is_lio());
    assert_eq!(LunConfig::lio7_1().personality, Personality::Lio7_1);
    assert_eq!(
        LunConfig::lio7_1().capabilities,
        LunConfig::lio().capabilities
    );
}
