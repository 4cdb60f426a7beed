//! Randomized schedules on pr-sim with injected faults (paths going down behind the LUN's
//! back, lost replies, unit attentions, conflicting registrations made behind its back),
//! checking invariants after every operation:
//! - the registrations of the LUN's paths are what the report told the caller (Changed: new
//!   key; Unchanged / RolledBack: the key before; Unknown / skipped: before, new or none);
//! - under the rollback policy a failed registration leaves no new key the report does not
//!   show as Unknown;
//! - a reservation held by our key is never silently lost by a registration change.

mod common;

use std::sync::Arc;

use common::*;
use pr_core::types::{ReservationKey as K, ReservationType as Ty};
use pr_multipath::{
    ConflictPolicy, MultipathLun, Path, PathRegistration, PathState, RegisterRequest,
};
use pr_sim::LunConfig;
use pr_sim::sim::{Injection, SimPath};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

const KEYS: [K; 2] = [K(0x1111), K(0x2222)];
const KX: K = K(0x7777);

#[tokio::test]
async fn randomized_schedules_keep_the_invariants() {
    let schedules = 1000u64;
    let mut ops = 0usize;
    let mut failures_seen = 0usize;
    for seed in 0..schedules {
        let mut rng = Rng(seed);
        let c = cluster(1, 3, 1, LunConfig::spc5());
        let raw: Vec<SimPath> = c.nodes[0].paths[0].clone();
        let names: Vec<String> = (0..3).map(|i| format!("n0p{i}l0")).collect();
        let map = Arc::new(FakeMap::default());
        let lun = lun_of(&c, 0, 0).with_map_control(map);
        let mut believed = K(0);
        for _ in 0..12 {
            // Faults.
            if rng.chance(25) {
                let i = usize::try_from(rng.below(3)).unwrap();
                raw[i].set_down(true);
                if rng.chance(50) {
                    lun.set_path_state(&names[i], PathState::Failed);
                }
            }
            if rng.chance(25) {
                for (p, n) in raw.iter().zip(&names) {
                    p.clear_faults();
                    lun.set_path_state(n, PathState::Usable);
                }
            }
            if rng.chance(20) {
                raw[usize::try_from(rng.below(3)).unwrap()].lose_replies(1);
            }
            if rng.chance(20) {
                raw[usize::try_from(rng.below(3)).unwrap()].inject(
                    Injection::UnitAttention(0x29, 0x00),
                    usize::try_from(1 + rng.below(3)).unwrap(),
                );
            }
            if rng.chance(10) {
                // A conflicting registration made behind the LUN's back.
                let p = raw[usize::try_from(rng.below(3)).unwrap()].clone();
                if !p.is_down() {
                    let side = MultipathLun::new("side", vec![Path::new("side", p)]);
                    let _ = side.register(RegisterRequest::register_ignore(KX)).await;
                }
            }
            let before = keys_of(&c.sim, c.luns[0], &raw);
            let res_before = reservation_of(&c.sim, c.luns[0]);
            ops += 1;
            match rng.below(4) {
                0 | 1 => {
                    let new = if rng.chance(15) {
                        K(0)
                    } else {
                        KEYS[usize::try_from(rng.below(2)).unwrap()]
                    };
                    let policy = if rng.chance(50) {
                        ConflictPolicy::Rollback
                    } else {
                        ConflictPolicy::RetryWithIgnore
                    };
                    let r = lun
                        .register(RegisterRequest::register(believed, new).policy(policy))
                        .await;
                    let report = match &r {
                        Ok(rep) => Some(rep.clone()),
                        Err(e) => e.report().cloned(),
                    };
                    if r.is_err() {
                        failures_seen += 1;
                    }
                    let after = keys_of(&c.sim, c.luns[0], &raw);
                    if let Some(rep) = report.filter(|r| !r.registrations.is_empty()) {
                        for n in &names {
                            let (b, a) = (before[n], after[n]);
                            let newk = (!new.is_zero()).then_some(new);
                            let ctx = || {
                                format!(
                                    "seed {seed} path {n}: before {b:?} after {a:?} new {new}\n{rep}"
                                )
                            };
                            match rep.registration_of(n) {
                                Some(PathRegistration::Changed) => assert_eq!(a, newk, "{}", ctx()),
                                Some(
                                    PathRegistration::Unchanged | PathRegistration::RolledBack,
                                ) if !rep.suspended() => {
                                    assert_eq!(a, b, "{}", ctx())
                                }
                                _ => assert!(a == b || a == newk || a.is_none(), "{}", ctx()),
                            }
                            if policy == ConflictPolicy::Rollback
                                && r.as_ref().is_err_and(|e| e.is_reservation_conflict())
                                && rep.registration_of(n) != Some(&PathRegistration::Unknown)
                                && b != newk
                            {
                                assert_ne!(a, newk, "rollback left the new key: {}", ctx());
                            }
                        }
                    }
                    // A held reservation is not silently lost by a key change.
                    if let Some((Some(holder), _)) = res_before
                        && holder == believed
                        && !new.is_zero()
                    {
                        let now = reservation_of(&c.sim, c.luns[0]);
                        assert!(
                            matches!(now, Some((Some(k), _)) if k == believed || k == new),
                            "seed {seed}: reservation of {holder} lost: {now:?} after {r:?}"
                        );
                    }
                    if r.is_ok() {
                        believed = new;
                    }
                }
                2 => {
                    if !believed.is_zero() {
                        let _ = lun
                            .reserve(believed, Ty::WriteExclusiveRegistrantsOnly)
                            .await;
                    }
                }
                _ => {
                    if !believed.is_zero() {
                        let _ = lun
                            .release(believed, Ty::WriteExclusiveRegistrantsOnly)
                            .await;
                    }
                }
            }
            c.sim
                .with_lun(c.luns[0], |lu| lu.check_invariants())
                .unwrap()
                .unwrap_or_else(|e| panic!("seed {seed}: simulator invariant: {e}"));
        }
    }
    eprintln!(
        "randomized: {schedules} schedules, {ops} operations, {failures_seen} failed registrations checked"
    );
}
