//! One LUN, many paths, on pr-sim: fan-out, policies, failover, retries, workarounds.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use pr_core::types::{PrOutAction as A, ReservationKey as K, ReservationType as Ty};
use pr_multipath::config::{ConfiguredKey, KeySource};
use pr_multipath::multipathd::Multipathd;
use pr_multipath::{
    ConflictPolicy, Error, Hold, LunOptions, MultipathLun, Path, PathRegistration, PathState,
    RegisterRequest, RetryPolicy,
};
use pr_sim::sim::{Injection, Latency, SimPath};
use pr_sim::{LunConfig, Sim};

const KA: K = K(0xaaaa);
const KB: K = K(0xbbbb);
const KX: K = K(0x5555);

fn setup(paths: usize) -> (pr_sim::sim::Cluster, MultipathLun<SimPath>) {
    let c = cluster(2, paths, 1, LunConfig::spc5());
    let lun = lun_of(&c, 0, 0);
    (c, lun)
}

fn names(c: &pr_sim::sim::Cluster, node: usize) -> Vec<String> {
    c.nodes[node].paths[0]
        .iter()
        .map(|p| pr_core::transport::Transport::name(p).to_owned())
        .collect()
}

fn keys(c: &pr_sim::sim::Cluster, node: usize) -> Vec<Option<K>> {
    let m = keys_of(&c.sim, c.luns[0], &c.nodes[node].paths[0]);
    names(c, node).iter().map(|n| m[n]).collect()
}

/// Registers `key` on one path only, behind the LUN's back.
async fn register_one(p: &SimPath, old: K, key: K) {
    let l = MultipathLun::new("side", vec![Path::new("side", p.clone())]);
    l.register(RegisterRequest::register(old, key))
        .await
        .unwrap();
}

#[tokio::test]
async fn register_fans_out_to_every_usable_path() {
    let (c, lun) = setup(4);
    lun.set_path_state("n0p3l0", PathState::Failed);
    let r = lun
        .register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    assert_eq!(keys(&c, 0), vec![Some(KA), Some(KA), Some(KA), None]);
    assert_eq!(r.steps.len(), 3);
    assert_eq!(
        r.registration_of("n0p0l0"),
        Some(&PathRegistration::Changed)
    );
    assert_eq!(
        r.registration_of("n0p3l0"),
        Some(&PathRegistration::SkippedUnusable)
    );
    // The reservation key is visible once per registered nexus.
    let k = lun.read_keys().await.unwrap();
    assert_eq!(k.keys, vec![KA; 3]);
}

#[tokio::test]
async fn all_tg_pt_sends_one_command_per_host() {
    let sim = Sim::new(2);
    let l = sim.add_lun(LunConfig::spc5());
    let i0 = sim.add_initiator(pr_core::transport_id::TransportId::Sas {
        address: 0x5001_4050_0000_0001,
    });
    let i1 = sim.add_initiator(pr_core::transport_id::TransportId::Sas {
        address: 0x5001_4050_0000_0002,
    });
    let mut paths = Vec::new();
    let mut raw = Vec::new();
    for (h, i) in [(0u32, i0), (1, i1)] {
        for t in 1..=2u16 {
            let p = sim.path(i, t, l).unwrap().named(format!("h{h}t{t}"));
            raw.push(p.clone());
            paths.push(Path::new(format!("h{h}t{t}"), p).with_host(h));
        }
    }
    let lun = MultipathLun::new("m", paths);
    let r = lun
        .register(RegisterRequest::register(K(0), KA).all_tg_pt(true))
        .await
        .unwrap();
    assert_eq!(r.steps.len(), 2, "{r}");
    assert_eq!(
        r.registration_of("h0t2"),
        Some(&PathRegistration::CoveredBy("h0t1".into()))
    );
    // ALL_TG_PT registered every target port of each initiator.
    let m = keys_of(&sim, l, &raw);
    assert!(m.values().all(|k| *k == Some(KA)), "{m:?}");
}

#[tokio::test]
async fn conflict_is_retried_with_register_and_ignore() {
    let (c, lun) = setup(3);
    register_one(&c.nodes[0].paths[0][2], K(0), KX).await;
    let r = lun
        .register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    assert_eq!(keys(&c, 0), vec![Some(KA); 3]);
    assert_eq!(
        r.actions_of("n0p2l0"),
        vec![A::Register, A::RegisterAndIgnoreExistingKey]
    );
    assert_eq!(r.actions_of("n0p0l0"), vec![A::Register]);
    assert_eq!(
        r.registration_of("n0p2l0"),
        Some(&PathRegistration::Changed)
    );
}

#[tokio::test]
async fn conflict_with_rollback_leaves_the_lun_as_before() {
    let (c, lun) = setup(3);
    register_one(&c.nodes[0].paths[0][2], K(0), KX).await;
    let e = lun
        .register(RegisterRequest::register(K(0), KA).policy(ConflictPolicy::Rollback))
        .await
        .unwrap_err();
    assert!(e.is_reservation_conflict(), "{e}");
    assert_eq!(keys(&c, 0), vec![None, None, Some(KX)]);
    let r = e.report().unwrap();
    assert_eq!(r.actions_of("n0p0l0"), vec![A::Register, A::Register]);
    assert_eq!(
        r.registration_of("n0p0l0"),
        Some(&PathRegistration::RolledBack)
    );
    assert_eq!(
        r.registration_of("n0p2l0"),
        Some(&PathRegistration::Unchanged)
    );
    // Key change rollback restores the old key, not "unregistered".
    let (c, lun) = setup(3);
    lun.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    register_one(&c.nodes[0].paths[0][1], KA, KX).await;
    let e = lun
        .register(RegisterRequest::register(KA, KB).policy(ConflictPolicy::Rollback))
        .await
        .unwrap_err();
    assert!(e.is_reservation_conflict());
    assert_eq!(keys(&c, 0), vec![Some(KA), Some(KX), Some(KA)]);
}

#[tokio::test]
async fn rollback_undoes_a_registration_whose_reply_was_lost() {
    let (c, lun) = setup(3);
    register_one(&c.nodes[0].paths[0][2], K(0), KX).await;
    c.nodes[0].paths[0][1].lose_replies(1);
    let e = lun
        .register(RegisterRequest::register(K(0), KA).policy(ConflictPolicy::Rollback))
        .await
        .unwrap_err();
    assert!(e.is_reservation_conflict(), "{e}");
    // The lost reply's REGISTER executed; the rollback found and undid it.
    assert_eq!(keys(&c, 0), vec![None, None, Some(KX)]);
    let r = e.report().unwrap();
    assert_eq!(
        r.registration_of("n0p1l0"),
        Some(&PathRegistration::RolledBack),
        "{r}"
    );
}

#[tokio::test]
async fn lost_reply_on_a_path_that_stays_usable_is_resolved() {
    // A refresher that says every path is up: the unknown registration must be settled.
    struct AllUp(Vec<String>);
    impl pr_multipath::PathRefresher for AllUp {
        fn refresh(
            &self,
        ) -> futures_util::future::BoxFuture<'_, pr_multipath::Result<Vec<(String, PathState)>>>
        {
            Box::pin(async move {
                Ok(self
                    .0
                    .iter()
                    .map(|n| (n.clone(), PathState::Usable))
                    .collect())
            })
        }
    }
    let (c, lun) = setup(3);
    let lun = lun.with_refresher(Arc::new(AllUp(names(&c, 0))));
    c.nodes[0].paths[0][1].lose_replies(1);
    let r = lun
        .register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    assert_eq!(keys(&c, 0), vec![Some(KA); 3]);
    assert_eq!(
        r.actions_of("n0p1l0"),
        vec![A::Register, A::RegisterAndIgnoreExistingKey]
    );
}

#[tokio::test]
async fn reserve_fails_over_when_a_path_is_down() {
    let (c, lun) = setup(3);
    lun.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    c.nodes[0].paths[0][0].set_down(true);
    let r = lun
        .reserve(KA, Ty::WriteExclusiveRegistrantsOnly)
        .await
        .unwrap();
    assert_eq!(r.steps.len(), 2, "{r}");
    assert!(r.steps[0].result.as_ref().unwrap_err().is_path_failure());
    assert_eq!(r.steps[1].path, "n0p1l0");
    assert_eq!(lun.path("n0p0l0").unwrap().state(), PathState::Failed);
    assert_eq!(reservation_of(&c.sim, c.luns[0]), Some((Some(KA), 5)));
    // PR IN walks past the failed path.
    let rr = lun.read_reservation().await.unwrap();
    assert_eq!(rr.path, "n0p1l0");
    assert_eq!(rr.reservation.unwrap().key, KA);
    // The other node cannot reserve.
    let other = lun_of(&c, 1, 0);
    other
        .register(RegisterRequest::register(K(0), KB))
        .await
        .unwrap();
    let e = other.reserve(KB, Ty::WriteExclusive).await.unwrap_err();
    assert!(e.is_reservation_conflict());
    assert_eq!(
        e.report().unwrap().steps.len(),
        3,
        "RESERVE tries every path on conflict: {}",
        e.report().unwrap()
    );
}

#[tokio::test]
async fn unit_attentions_are_retried_and_kept_when_they_persist() {
    let (c, lun) = setup(2);
    c.nodes[0].paths[0][0].inject(Injection::UnitAttention(0x2a, 0x03), 3);
    let r = lun
        .register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    let s = r.steps_of("n0p0l0").next().unwrap();
    assert_eq!(s.attempts, 4);
    // Six in a row exceed the 5 retries: the error keeps the sense.
    c.nodes[0].paths[0][0].inject(Injection::UnitAttention(0x2a, 0x05), 6);
    let e = lun.clear(KA).await.unwrap_err();
    let ce = e.command_error().expect("command error");
    assert!(ce.is_unit_attention());
    assert_eq!(ce.asc_ascq(), Some((0x2a, 0x05)));
    assert!(!ce.sense_bytes().is_empty());
    assert!(e.to_string().contains("unit attention"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn busy_and_not_ready_are_waited_for() {
    let (c, _) = setup(1);
    let p = c.nodes[0].paths[0][0].clone();
    p.inject(Injection::Busy, 2);
    let lun = MultipathLun::new("m", vec![Path::new("nr", NotReady::new(p.clone(), 3))]);
    let t0 = tokio::time::Instant::now();
    let r = lun
        .register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    assert_eq!(r.steps[0].attempts, 6, "{r}");
    // 10 + 20 + 40 + 80 + 160 ms of backoff.
    assert_eq!(t0.elapsed(), Duration::from_millis(310));
    // A LUN that never becomes ready gives up after the configured wait, with the sense.
    let stuck = MultipathLun::new("m", vec![Path::new("nr", NotReady::new(p, 1000))]).with_options(
        LunOptions {
            retry: RetryPolicy {
                not_ready_wait: Duration::from_secs(2),
                ..RetryPolicy::default()
            },
            ..LunOptions::default()
        },
    );
    let e = stuck.read_keys().await.unwrap_err();
    assert_eq!(e.command_error().unwrap().asc_ascq(), Some((0x04, 0x01)));
}

/// Registers KA on node 0's paths, reserves type 5 (through path 0), then takes path 0 down.
async fn held_on_failed_path(c: &pr_sim::sim::Cluster, lun: &MultipathLun<SimPath>) {
    lun.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    lun.reserve(KA, Ty::WriteExclusiveRegistrantsOnly)
        .await
        .unwrap();
    c.nodes[0].paths[0][0].set_down(true);
    lun.set_path_state("n0p0l0", PathState::Failed);
    c.sim.clear_trace();
}

#[tokio::test]
async fn release_workaround_when_the_holder_path_is_down() {
    let (c, lun) = setup(3);
    let map = FakeMap::with_sim(&c.sim);
    let lun = lun.with_map_control(map.clone());
    held_on_failed_path(&c, &lun).await;
    let r = lun
        .release(KA, Ty::WriteExclusiveRegistrantsOnly)
        .await
        .unwrap();
    let mut seq = sequence(&c.sim, Some(&map));
    // n0p2l0 holds a REGISTRATIONS PREEMPTED unit attention: its re-registration is sent twice.
    seq.dedup();
    assert_eq!(r.steps_of("n0p2l0").last().unwrap().attempts, 2, "{r}");
    // RELEASE fan-out (either order), then the exact workaround sequence.
    let mut fan: Vec<_> = seq[..2].to_vec();
    fan.sort();
    assert_eq!(fan, vec!["n0p1l0 RELEASE", "n0p2l0 RELEASE"]);
    let mut rest = seq[2..].to_vec();
    let tail: Vec<String> = rest.split_off(6);
    assert_eq!(
        rest[..4],
        ["n0p1l0 IN 1", "suspend", "n0p1l0 PREEMPT", "n0p1l0 RELEASE"]
    );
    let mut rereg = vec![rest[4].clone(), rest[5].clone()];
    rereg.sort();
    assert_eq!(
        rereg,
        vec![
            "n0p1l0 REGISTER AND IGNORE EXISTING KEY",
            "n0p2l0 REGISTER AND IGNORE EXISTING KEY"
        ]
    );
    assert_eq!(tail, vec!["resume"]);
    assert_eq!(map.calls(), vec!["suspend mpath0l0", "resume mpath0l0"]);
    assert!(r.suspended());
    assert_eq!(r.actions_of("n0p0l0"), vec![]);
    assert_eq!(reservation_of(&c.sim, c.luns[0]), None);
    assert_eq!(keys(&c, 0), vec![None, Some(KA), Some(KA)]);
    assert_eq!(lun.hold(), None);
    // The path comes back and is registered again, as multipathd would.
    c.nodes[0].paths[0][0].set_down(false);
    lun.reinstate_path("n0p0l0", KA).await.unwrap();
    assert_eq!(keys(&c, 0), vec![Some(KA); 3]);
}

#[tokio::test]
async fn safety_check_refuses_without_proof_of_the_hold() {
    let (c, lun) = setup(3);
    held_on_failed_path(&c, &lun).await;
    // A fresh LUN object: no own record, no multipathd.
    let map = Arc::new(FakeMap::default());
    let fresh = lun_of(&c, 0, 0).with_map_control(map.clone());
    fresh.set_path_state("n0p0l0", PathState::Failed);
    let e = fresh
        .release(KA, Ty::WriteExclusiveRegistrantsOnly)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::SafetyCheck { .. }), "{e}");
    assert!(map.calls().is_empty());
    assert_eq!(reservation_of(&c.sim, c.luns[0]), Some((Some(KA), 5)));
    // 0.9.4's multipathd has no prhold: still refused, and the report says why.
    let old = FakeDaemon::new(false);
    let fresh = lun_of(&c, 0, 0)
        .with_map_control(map.clone())
        .with_multipathd(Multipathd::new(old.clone()));
    fresh.set_path_state("n0p0l0", PathState::Failed);
    let e = fresh
        .release(KA, Ty::WriteExclusiveRegistrantsOnly)
        .await
        .unwrap_err();
    assert!(
        e.report()
            .unwrap()
            .notes
            .iter()
            .any(|n| n.contains("no prhold")),
        "{:?}",
        e.report()
    );
    // A modern multipathd that says prhold is set is proof enough.
    let new = FakeDaemon::new(true);
    new.set("prhold", "set");
    let fresh = lun_of(&c, 0, 0)
        .with_map_control(map.clone())
        .with_multipathd(Multipathd::new(new.clone()));
    fresh.set_path_state("n0p0l0", PathState::Failed);
    fresh
        .release(KA, Ty::WriteExclusiveRegistrantsOnly)
        .await
        .unwrap();
    assert_eq!(reservation_of(&c.sim, c.luns[0]), None);
    assert_eq!(new.get("prhold").as_deref(), Some("unset"));
    assert!(new.log().contains(&"unsetprhold map mpath0l0".to_owned()));
}

#[tokio::test]
async fn release_with_the_wrong_type_is_a_conflict() {
    let (c, lun) = setup(3);
    held_on_failed_path(&c, &lun).await;
    let e = lun.release(KA, Ty::ExclusiveAccess).await.unwrap_err();
    assert!(matches!(e, Error::TypeMismatch { held: 5, .. }), "{e}");
    assert!(e.is_reservation_conflict());
    assert_eq!(reservation_of(&c.sim, c.luns[0]), Some((Some(KA), 5)));
}

/// The drop-in's case: this host holds a Write Exclusive reservation through a usable path
/// and releases with another type, from a LUN object that has no record of the hold (a new
/// process, multipathd without prhold). multipath-tools 0.13+ checks the type first: a
/// reservation conflict naming both types, no safety check, no workaround.
#[tokio::test]
async fn release_with_another_type_than_held_is_checked_before_the_workaround() {
    for config in [LunConfig::spc5(), LunConfig::lio()] {
        let c = cluster(2, 3, 1, config);
        let holder = lun_of(&c, 0, 0);
        holder
            .register(RegisterRequest::register(K(0), KA))
            .await
            .unwrap();
        holder.reserve(KA, Ty::WriteExclusive).await.unwrap();
        let map = FakeMap::with_sim(&c.sim);
        let fresh = lun_of(&c, 0, 0)
            .with_map_control(map.clone())
            .with_multipathd(Multipathd::new(FakeDaemon::new(false)));
        assert_eq!(fresh.hold(), None);
        let e = fresh.release(KA, Ty::ExclusiveAccess).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::TypeMismatch {
                    requested: Ty::ExclusiveAccess,
                    held: 1,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "mpath0l0: release type 3 (Exclusive Access) doesn't match the reservation's \
             type 1 (Write Exclusive)"
        );
        assert!(e.is_reservation_conflict());
        let r = e.report().unwrap();
        // RELEASE went to every usable path, then READ RESERVATION; nothing else.
        for p in ["n0p0l0", "n0p1l0", "n0p2l0"] {
            assert_eq!(r.actions_of(p)[0], A::Release, "{r}");
            assert!(!r.actions_of(p).contains(&A::Preempt), "{r}");
        }
        assert!(map.calls().is_empty(), "{:?}", map.calls());
        assert!(!r.notes.iter().any(|n| n.contains("prhold")), "{r}");
        assert_eq!(reservation_of(&c.sim, c.luns[0]), Some((Some(KA), 1)));
        // With the held type, the same LUN object releases it.
        fresh.release(KA, Ty::WriteExclusive).await.unwrap();
        assert_eq!(reservation_of(&c.sim, c.luns[0]), None);
    }
}

#[tokio::test]
async fn key_change_moves_a_reservation_held_on_an_unusable_path() {
    let (c, lun) = setup(3);
    held_on_failed_path(&c, &lun).await;
    let r = lun
        .register(RegisterRequest::register(KA, KB))
        .await
        .unwrap();
    assert_eq!(r.actions_of("n0p1l0"), vec![A::Register, A::Preempt], "{r}");
    assert_eq!(reservation_of(&c.sim, c.luns[0]), Some((Some(KB), 5)));
    assert_eq!(keys(&c, 0), vec![None, Some(KB), Some(KB)]);
    assert_eq!(
        lun.hold(),
        Some(Hold {
            key: KB,
            reservation_type: Ty::WriteExclusiveRegistrantsOnly
        })
    );
}

#[tokio::test]
async fn key_change_while_holding_on_a_usable_path_needs_no_preempt() {
    let (c, lun) = setup(2);
    lun.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    lun.reserve(KA, Ty::WriteExclusive).await.unwrap();
    let r = lun
        .register(RegisterRequest::register(KA, KB))
        .await
        .unwrap();
    assert!(!r.actions_of("n0p0l0").contains(&A::Preempt));
    assert_eq!(reservation_of(&c.sim, c.luns[0]), Some((Some(KB), 1)));
    assert_eq!(lun.hold().unwrap().key, KB);
}

#[tokio::test]
async fn unregistering_the_holder_releases_first() {
    // Holder path usable: RELEASE, then unregister everywhere.
    let (c, lun) = setup(2);
    lun.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    lun.reserve(KA, Ty::WriteExclusiveRegistrantsOnly)
        .await
        .unwrap();
    let r = lun
        .register(RegisterRequest::register(KA, K(0)))
        .await
        .unwrap();
    assert_eq!(r.actions_of("n0p0l0"), vec![A::Release, A::Register]);
    assert_eq!(reservation_of(&c.sim, c.luns[0]), None);
    assert_eq!(keys(&c, 0), vec![None, None]);

    // Holder path down: the workaround releases and unregisters the last path.
    let (c, lun) = setup(3);
    let map = FakeMap::with_sim(&c.sim);
    let lun = lun.with_map_control(map.clone());
    held_on_failed_path(&c, &lun).await;
    let r = lun
        .register(RegisterRequest::register(KA, K(0)))
        .await
        .unwrap();
    assert_eq!(
        r.actions_of("n0p1l0"),
        vec![
            A::Release,
            A::Preempt,
            A::Release,
            A::RegisterAndIgnoreExistingKey
        ],
        "{r}"
    );
    assert_eq!(r.actions_of("n0p2l0"), vec![A::Release]);
    assert_eq!(map.calls().len(), 2);
    assert_eq!(reservation_of(&c.sim, c.luns[0]), None);
    assert_eq!(keys(&c, 0), vec![None, None, None]);
}

#[tokio::test]
async fn preempting_an_all_registrants_reservation_keeps_our_paths_registered() {
    let (c, a) = setup(2);
    let b = lun_of(&c, 1, 0);
    let map = FakeMap::with_sim(&c.sim);
    let b = b.with_map_control(map.clone());
    a.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    a.reserve(KA, Ty::WriteExclusiveAllRegistrants)
        .await
        .unwrap();
    b.register(RegisterRequest::register(K(0), KB))
        .await
        .unwrap();
    let r = b
        .preempt(KB, K(0), Ty::WriteExclusiveRegistrantsOnly)
        .await
        .unwrap();
    assert_eq!(map.calls(), vec!["suspend mpath1l0", "resume mpath1l0"]);
    assert_eq!(
        r.actions_of("n1p0l0"),
        vec![A::Preempt, A::RegisterAndIgnoreExistingKey]
    );
    assert_eq!(keys(&c, 0), vec![None, None]);
    assert_eq!(keys(&c, 1), vec![Some(KB), Some(KB)]);
    assert_eq!(reservation_of(&c.sim, c.luns[0]), Some((Some(KB), 5)));
    assert_eq!(b.hold().unwrap().key, KB);
}

#[tokio::test]
async fn self_preempt_changes_the_type_and_re_registers() {
    let (c, lun) = setup(3);
    let map = FakeMap::with_sim(&c.sim);
    let lun = lun.with_map_control(map.clone());
    lun.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    lun.reserve(KA, Ty::WriteExclusive).await.unwrap();
    c.sim.clear_trace();
    lun.preempt(KA, KA, Ty::ExclusiveAccessRegistrantsOnly)
        .await
        .unwrap();
    let seq = sequence(&c.sim, Some(&map));
    assert_eq!(seq[0..3], ["n0p0l0 IN 1", "suspend", "n0p0l0 PREEMPT"]);
    assert_eq!(seq.last().unwrap(), "resume");
    assert_eq!(keys(&c, 0), vec![Some(KA); 3]);
    assert_eq!(reservation_of(&c.sim, c.luns[0]), Some((Some(KA), 6)));
}

#[tokio::test]
async fn fence_another_node_with_preempt_and_abort() {
    let (c, a) = setup(2);
    let b = lun_of(&c, 1, 0);
    a.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    a.reserve(KA, Ty::WriteExclusiveRegistrantsOnly)
        .await
        .unwrap();
    b.register(RegisterRequest::register(K(0), KB))
        .await
        .unwrap();
    b.preempt_and_abort(KB, KA, Ty::WriteExclusiveRegistrantsOnly)
        .await
        .unwrap();
    assert_eq!(keys(&c, 0), vec![None, None]);
    assert_eq!(reservation_of(&c.sim, c.luns[0]), Some((Some(KB), 5)));
    // Preempting a key nobody has is a conflict, with the sense-less status kept.
    let e = b
        .preempt(KB, KX, Ty::WriteExclusiveRegistrantsOnly)
        .await
        .unwrap_err();
    assert!(e.is_reservation_conflict(), "{e}");
}

#[tokio::test]
async fn clear_and_pr_in_through_the_map() {
    let (c, lun) = setup(2);
    lun.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    let caps = lun.report_capabilities().await.unwrap();
    assert!(caps.sip_c());
    lun.clear(KA).await.unwrap();
    assert_eq!(keys(&c, 0), vec![None, None]);
    assert!(lun.read_keys().await.unwrap().keys.is_empty());
}

#[tokio::test]
async fn read_full_status_is_complete_beyond_32_entries_and_lio_truncation() {
    let sim = Sim::new(1);
    let l = sim.add_lun(LunConfig::lio().with_max_registrations(400));
    let mut paths = Vec::new();
    for i in 0..200u64 {
        let init = sim.add_initiator(pr_core::transport_id::TransportId::Sas {
            address: 0x5001_4050_0001_0000 + i,
        });
        paths.push(sim.path(init, 1, l).unwrap().named(format!("p{i}")));
    }
    for p in &paths {
        register_one(p, K(0), KA).await;
    }
    let lun = MultipathLun::new(
        "m",
        paths
            .iter()
            .take(2)
            .enumerate()
            .map(|(i, p)| Path::new(format!("p{i}"), p.clone()))
            .collect(),
    );
    let fs = lun.read_full_status().await.unwrap();
    assert_eq!(fs.entries.len(), 200);
    assert!(fs.issues >= 2, "re-issued after a possibly cut response");
    assert!(
        fs.entries
            .iter()
            .all(|e| e.key == KA && e.transport_id.is_some())
    );
}

#[tokio::test]
async fn register_and_move_through_the_map() {
    let (c, a) = setup(2);
    a.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    a.reserve(KA, Ty::WriteExclusive).await.unwrap();
    let dest = c.nodes[1].paths[0][0].it_nexus().unwrap();
    a.register_and_move(
        KA,
        KB,
        Ty::WriteExclusive,
        &dest.initiator,
        dest.relative_target_port,
        false,
        false,
    )
    .await
    .unwrap();
    let holder = c
        .sim
        .with_lun(c.luns[0], |lu| lu.reservation())
        .unwrap()
        .unwrap()
        .holder;
    assert_eq!(holder, Some(dest));
    assert_eq!(reservation_of(&c.sim, c.luns[0]), Some((Some(KB), 1)));
    assert_eq!(a.hold(), None);
}

#[tokio::test]
async fn configured_key_is_enforced_with_multipathd_wording() {
    let (c, lun) = setup(2);
    let lun = lun.with_configured_key(Some(ConfiguredKey {
        key: K(0x123abc),
        aptpl: false,
        source: KeySource::Config,
    }));
    c.sim.clear_trace();
    let e = lun
        .register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "mpath0l0: configured reservation key doesn't match: 0x123abc"
    );
    assert!(c.sim.trace().is_empty(), "nothing was sent");
    let e = lun.reserve(KA, Ty::WriteExclusive).await.unwrap_err();
    assert!(matches!(e, Error::KeyMismatch { .. }));
    lun.register(RegisterRequest::register(K(0), K(0x123abc)))
        .await
        .unwrap();
    // Unregistering is always allowed.
    lun.register(RegisterRequest::register(K(0x123abc), K(0)))
        .await
        .unwrap();
}

#[tokio::test]
async fn file_keys_are_set_through_multipathd_and_reverted_on_failure() {
    let (c, lun) = setup(2);
    let d = FakeDaemon::new(true);
    let lun = lun
        .with_configured_key(Some(ConfiguredKey {
            key: K(0),
            aptpl: false,
            source: KeySource::File,
        }))
        .with_multipathd(Multipathd::new(d.clone()));
    lun.register(RegisterRequest::register(K(0), KA).aptpl())
        .await
        .unwrap();
    assert_eq!(d.get("prkey").as_deref(), Some("aaaa:aptpl"));
    assert_eq!(lun.configured_key().unwrap().key, KA);
    assert_eq!(d.get("prstatus").as_deref(), Some("set"));
    assert_eq!(d.get("pathlist").as_deref(), Some("\"n0p0l0 8:16\""));
    // A change that fails everywhere restores the stored key.
    for p in &c.nodes[0].paths[0] {
        p.set_down(true);
    }
    assert!(
        lun.register(RegisterRequest::register(KA, KB))
            .await
            .is_err()
    );
    assert_eq!(lun.configured_key().unwrap().key, KA);
    assert_eq!(d.get("prkey").as_deref(), Some("aaaa:aptpl"));
}

#[tokio::test]
async fn multipathd_bookkeeping_modern_and_old() {
    for modern in [true, false] {
        let (_c, lun) = setup(2);
        let d = FakeDaemon::new(modern);
        // multipathd's key for the map (no configured key on the LUN: asked with getprkey)
        d.set("prkey", "aaaa");
        let lun = lun.with_multipathd(Multipathd::new(d.clone()));
        lun.register(RegisterRequest::register(K(0), KA))
            .await
            .unwrap();
        lun.reserve(KA, Ty::WriteExclusive).await.unwrap();
        lun.release(KA, Ty::WriteExclusive).await.unwrap();
        let log = d.log();
        assert_eq!(
            log.iter().any(|l| l.starts_with("setprhold")),
            modern,
            "{log:?}"
        );
        assert_eq!(
            log.iter().any(|l| l.contains("pathlist")),
            modern,
            "{log:?}"
        );
        assert!(log.contains(&"setprstatus map mpath0l0".to_owned()) || modern);
        assert_eq!(d.get("prstatus").as_deref(), Some("set"));
        let caps = Multipathd::new(d.clone()).probe("mpath0l0").await.unwrap();
        assert_eq!(caps.prhold, modern);
    }
}

/// A key registered without the configured-key check (no multipath.conf read) that
/// multipathd does not know: prstatus is unset, not set. multipathd 0.13+ answers
/// setprstatus by checking the registrations against its own key and unregisters a path
/// when that key is missing (lab, sid: multipath-tools 0.15.1).
#[tokio::test]
async fn register_with_a_key_multipathd_does_not_know_leaves_prstatus_unset() {
    for (theirs, modern) in [(None, true), (Some("bbbb"), true), (None, false)] {
        let (_c, lun) = setup(2);
        let d = FakeDaemon::new(modern);
        d.set("prstatus", "set");
        if let Some(k) = theirs {
            d.set("prkey", k);
        }
        let lun = lun.with_multipathd(Multipathd::new(d.clone()));
        let rep = lun
            .register(RegisterRequest::register_ignore(KA))
            .await
            .unwrap();
        let log = d.log();
        assert!(
            !log.iter().any(|l| l.starts_with("setprstatus")),
            "{theirs:?}: {log:?}"
        );
        assert_eq!(d.get("prstatus").as_deref(), Some("unset"), "{log:?}");
        assert!(
            rep.notes.iter().any(|n| n.contains(&format!(
                "is {}, not",
                theirs.map_or("none".to_owned(), |k| format!("0x{k}"))
            ))),
            "{:?}",
            rep.notes
        );
        // Once multipathd has the key, prstatus is set again.
        d.set("prkey", "aaaa");
        lun.register(RegisterRequest::register_ignore(KA))
            .await
            .unwrap();
        assert_eq!(d.get("prstatus").as_deref(), Some("set"), "{:?}", d.log());
    }
}

#[tokio::test]
async fn no_usable_path() {
    let (_c, lun) = setup(2);
    lun.set_path_state("n0p0l0", PathState::Failed);
    lun.set_path_state("n0p1l0", PathState::Failed);
    assert!(matches!(
        lun.register(RegisterRequest::register(K(0), KA)).await,
        Err(Error::NoUsablePath { .. })
    ));
    assert!(matches!(
        lun.read_keys().await,
        Err(Error::NoUsablePath { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn fan_out_is_concurrent_and_bounded() {
    let (c, lun) = setup(8);
    for p in &c.nodes[0].paths[0] {
        p.set_latency(Latency::Fixed(Duration::from_millis(10)));
    }
    let lun = lun.with_options(LunOptions {
        concurrency: 4,
        ..LunOptions::default()
    });
    let t0 = tokio::time::Instant::now();
    lun.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    assert_eq!(t0.elapsed(), Duration::from_millis(20));
}

/// A refresher that counts its calls and reports the states it is told.
struct CountingRefresher {
    calls: std::sync::atomic::AtomicUsize,
    states: std::sync::Mutex<Vec<(String, PathState)>>,
}

impl pr_multipath::PathRefresher for CountingRefresher {
    fn refresh(
        &self,
    ) -> futures_util::future::BoxFuture<'_, pr_multipath::Result<Vec<(String, PathState)>>> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let s = self.states.lock().unwrap().clone();
        Box::pin(async move { Ok(s) })
    }
}

fn counting(c: &pr_sim::sim::Cluster) -> Arc<CountingRefresher> {
    Arc::new(CountingRefresher {
        calls: Default::default(),
        states: std::sync::Mutex::new(
            names(c, 0)
                .into_iter()
                .map(|n| (n, PathState::Usable))
                .collect(),
        ),
    })
}

fn calls(r: &CountingRefresher) -> usize {
    r.calls.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test]
async fn every_pr_out_action_refreshes_by_default() {
    let (c, lun) = setup(3);
    let r = counting(&c);
    let lun = lun.with_refresher(r.clone());
    assert!(!lun.states_fresh());
    lun.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    lun.reserve(KA, Ty::WriteExclusive).await.unwrap();
    lun.release(KA, Ty::WriteExclusive).await.unwrap();
    assert_eq!(calls(&r), 3);
}

#[tokio::test]
async fn fresh_states_skip_the_refresh_until_they_expire() {
    let (c, lun) = setup(3);
    let r = counting(&c);
    let lun = lun
        .with_refresher(r.clone())
        .with_states_fresh_for(Duration::from_secs(2));
    assert!(lun.states_fresh());
    lun.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    lun.reserve(KA, Ty::WriteExclusive).await.unwrap();
    assert_eq!(
        calls(&r),
        0,
        "states read at construction are still current"
    );
    // A path the outside view calls failed is only seen after the window.
    r.states.lock().unwrap()[0].1 = PathState::Failed;
    std::thread::sleep(Duration::from_millis(2100));
    assert!(!lun.states_fresh());
    lun.release(KA, Ty::WriteExclusive).await.unwrap();
    assert_eq!(calls(&r), 1);
    assert_eq!(lun.usable_paths().len(), 2);
    // Without a refresh interval every later action refreshes again.
    lun.reserve(KA, Ty::WriteExclusive).await.unwrap();
    assert_eq!(calls(&r), 2);
}

#[tokio::test]
async fn a_refresh_interval_spaces_the_refreshes() {
    let (c, lun) = setup(2);
    let r = counting(&c);
    let lun = lun
        .with_refresher(r.clone())
        .with_refresh_interval(Duration::from_secs(60));
    lun.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    lun.reserve(KA, Ty::WriteExclusive).await.unwrap();
    lun.release(KA, Ty::WriteExclusive).await.unwrap();
    assert_eq!(calls(&r), 1, "one refresh, then current for 60 s");
    lun.refresh().await.unwrap();
    assert_eq!(calls(&r), 2, "an explicit refresh always runs");
}

#[tokio::test]
async fn a_lost_reply_forces_a_refresh_inside_the_window() {
    let (c, lun) = setup(3);
    let r = counting(&c);
    let lun = lun
        .with_refresher(r.clone())
        .with_states_fresh_for(Duration::from_secs(60));
    c.nodes[0].paths[0][1].lose_replies(1);
    lun.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    assert_eq!(
        calls(&r),
        1,
        "the unknown registration is settled with a refresh"
    );
    assert_eq!(keys(&c, 0), vec![Some(KA); 3]);
}

fn spec_i_pt_sends(r: &pr_multipath::Report) -> Vec<String> {
    r.steps
        .iter()
        .filter(|s| {
            s.command
                .out()
                .is_some_and(|o| o.flags.contains(pr_core::types::PrOutFlags::SPEC_I_PT))
        })
        .map(|s| s.path.clone())
        .collect()
}

#[tokio::test]
async fn spec_i_pt_goes_once_through_the_first_path_and_plain_register_elsewhere() {
    let (c, lun) = setup(3);
    let tid = c.sim.transport_id(c.nodes[1].initiators[0]).unwrap();
    let r = lun
        .register_spec_i_pt(RegisterRequest::register(K(0), KA), &[tid])
        .await
        .unwrap();
    assert_eq!(keys(&c, 0), vec![Some(KA); 3], "{r}");
    assert_eq!(
        keys(&c, 1).iter().filter(|k| **k == Some(KA)).count(),
        1,
        "the named nexus is registered once: {r}"
    );
    assert_eq!(spec_i_pt_sends(&r), vec![names(&c, 0)[0].clone()]);
    assert_eq!(r.steps.len(), 3, "{r}");
    assert!(
        r.registrations
            .iter()
            .all(|g| g.registration == PathRegistration::Changed)
    );
}

#[tokio::test]
async fn spec_i_pt_fails_over_when_the_first_path_is_down() {
    let (c, lun) = setup(3);
    c.nodes[0].paths[0][0].set_down(true);
    let tid = c.sim.transport_id(c.nodes[1].initiators[0]).unwrap();
    let r = lun
        .register_spec_i_pt(RegisterRequest::register(K(0), KA), &[tid])
        .await
        .unwrap();
    assert_eq!(keys(&c, 0), vec![None, Some(KA), Some(KA)], "{r}");
    // Two own paths and node 1's initiator through the second path's target port.
    let tid1 = c.sim.transport_id(c.nodes[1].initiators[0]).unwrap();
    let named = c
        .sim
        .with_lun(c.luns[0], |lu| {
            lu.registrations()
                .iter()
                .filter(|g| g.nexus.initiator == tid1 && g.key == KA)
                .count()
        })
        .unwrap();
    assert_eq!(named, 1, "{r}");
    let n = names(&c, 0);
    assert_eq!(spec_i_pt_sends(&r), vec![n[0].clone(), n[1].clone()]);
    assert_eq!(lun.usable_paths(), vec![n[1].as_str(), n[2].as_str()]);
}

#[tokio::test]
async fn spec_i_pt_refuses_a_zero_key_and_register_and_ignore() {
    let (c, lun) = setup(2);
    let tid = c.sim.transport_id(c.nodes[1].initiators[0]).unwrap();
    assert!(
        lun.register_spec_i_pt(
            RegisterRequest::register(KA, K(0)),
            std::slice::from_ref(&tid)
        )
        .await
        .is_err()
    );
    assert!(
        lun.register_spec_i_pt(RegisterRequest::register_ignore(KA), &[tid])
            .await
            .is_err()
    );
    assert_eq!(keys(&c, 0), vec![None, None]);
    assert_eq!(keys(&c, 1), vec![None, None]);
}

#[tokio::test]
async fn replace_lost_reservation_fails_over_and_re_registers_every_path() {
    let (c, lun) = setup(3);
    lun.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    lun.reserve(KA, Ty::WriteExclusiveRegistrantsOnly)
        .await
        .unwrap();
    c.sim.lose_reservation(c.luns[0]).unwrap();
    assert_eq!(keys(&c, 0), vec![None; 3]);
    c.nodes[0].paths[0][0].set_down(true);
    let r = lun
        .replace_lost_reservation(KA, Ty::WriteExclusiveRegistrantsOnly)
        .await
        .unwrap();
    assert_eq!(keys(&c, 0), vec![None, Some(KA), Some(KA)], "{r}");
    assert_eq!(
        reservation_of(&c.sim, c.luns[0]),
        Some((Some(KA), Ty::WriteExclusiveRegistrantsOnly.code()))
    );
    assert_eq!(
        lun.hold(),
        Some(Hold {
            key: KA,
            reservation_type: Ty::WriteExclusiveRegistrantsOnly
        })
    );
    let rlr: Vec<_> = r
        .steps
        .iter()
        .filter(|s| {
            s.command
                .out()
                .is_some_and(|o| o.action == A::ReplaceLostReservation)
        })
        .map(|s| (s.path.clone(), s.is_ok()))
        .collect();
    let n = names(&c, 0);
    assert_eq!(rlr, vec![(n[0].clone(), false), (n[1].clone(), true)]);
}

#[tokio::test]
async fn replace_lost_reservation_when_nothing_was_lost_is_refused_with_sense() {
    let (c, lun) = setup(2);
    lun.register(RegisterRequest::register(K(0), KA))
        .await
        .unwrap();
    let e = lun
        .replace_lost_reservation(KA, Ty::WriteExclusive)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Failed { .. }), "{e}");
    assert_eq!(lun.hold(), None);
    assert_eq!(keys(&c, 0), vec![Some(KA); 2]);
}

#[tokio::test]
async fn spec_i_pt_rollback_undoes_own_paths_and_says_what_stays() {
    let (c, lun) = setup(3);
    register_one(&c.nodes[0].paths[0][2], K(0), KB).await;
    let tid = c.sim.transport_id(c.nodes[1].initiators[0]).unwrap();
    let e = lun
        .register_spec_i_pt(
            RegisterRequest::register(K(0), KA).policy(ConflictPolicy::Rollback),
            &[tid],
        )
        .await
        .unwrap_err();
    assert_eq!(keys(&c, 0), vec![None, None, Some(KB)], "{e}");
    let Error::Failed { report, .. } = &e else {
        panic!("{e}")
    };
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("TransportIDs stay registered")),
        "{report}"
    );
}
