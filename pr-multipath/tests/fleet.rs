//! Many LUNs: unfence, fence, progress, cancellation, concurrency bounds.

mod common;

use std::time::Duration;

use common::*;
use pr_core::types::{ReservationKey as K, ReservationType as Ty};
use pr_multipath::{
    CancellationToken, Error, FenceAction, FleetOptions, LunOptions, LunOutcome, MultipathLun,
    fence, unfence,
};
use pr_sim::LunConfig;
use pr_sim::sim::{Latency, SimPath};

const KA: K = K(0xa1);
const KB: K = K(0xb2);

#[tokio::test]
async fn unfence_then_fence_across_luns() {
    let c = cluster(2, 4, 16, LunConfig::spc5());
    let a: Vec<MultipathLun<SimPath>> = (0..16).map(|l| lun_of(&c, 0, l)).collect();
    let b: Vec<MultipathLun<SimPath>> = (0..16).map(|l| lun_of(&c, 1, l)).collect();
    let ar: Vec<&MultipathLun<SimPath>> = a.iter().collect();
    let br: Vec<&MultipathLun<SimPath>> = b.iter().collect();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let opts = FleetOptions {
        concurrency: 4,
        progress: Some(tx),
        ..FleetOptions::default()
    };
    let res = unfence(&ar, KA, &opts).await;
    assert!(res.iter().all(|r| r.is_ok()));
    assert_eq!(
        res.iter().map(|r| r.lun.clone()).collect::<Vec<_>>(),
        a.iter().map(|l| l.name().to_owned()).collect::<Vec<_>>()
    );
    let mut done = Vec::new();
    while let Ok(p) = rx.try_recv() {
        assert_eq!(p.total, 16);
        assert_eq!(p.outcome, LunOutcome::Ok);
        done.push(p.done);
    }
    assert_eq!(done, (1..=16).collect::<Vec<_>>());
    assert!(
        unfence(&br, KB, &FleetOptions::default())
            .await
            .iter()
            .all(|r| r.is_ok())
    );
    for l in &a {
        l.reserve(KA, Ty::WriteExclusiveRegistrantsOnly)
            .await
            .unwrap();
    }
    let res = fence(
        &br,
        KB,
        KA,
        Ty::WriteExclusiveRegistrantsOnly,
        &FleetOptions::default(),
    )
    .await;
    assert!(
        res.iter().all(|r| r.is_ok()),
        "{:?}",
        res.iter().find(|r| !r.is_ok())
    );
    for (i, &l) in c.luns.iter().enumerate() {
        let ka = keys_of(&c.sim, l, &c.nodes[0].paths[i]);
        assert!(
            ka.values().all(Option::is_none),
            "node 0 fenced off LUN {i}"
        );
        let kb = keys_of(&c.sim, l, &c.nodes[1].paths[i]);
        assert!(kb.values().all(|k| *k == Some(KB)));
        assert_eq!(reservation_of(&c.sim, l), Some((Some(KB), 5)));
    }
    // Unfencing again is idempotent.
    assert!(
        unfence(&br, KB, &FleetOptions::default())
            .await
            .iter()
            .all(|r| r.is_ok())
    );
}

#[tokio::test(start_paused = true)]
async fn cancellation_stops_scheduling_new_luns() {
    let c = cluster(1, 2, 10, LunConfig::spc5());
    for per_lun in &c.nodes[0].paths {
        for p in per_lun {
            p.set_latency(Latency::Fixed(Duration::from_millis(10)));
        }
    }
    let luns: Vec<MultipathLun<SimPath>> = (0..10).map(|l| lun_of(&c, 0, l)).collect();
    let refs: Vec<&MultipathLun<SimPath>> = luns.iter().collect();
    let cancel = CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let opts = FleetOptions {
        concurrency: 2,
        cancel: cancel.clone(),
        progress: Some(tx),
        ..FleetOptions::default()
    };
    let canceller = async {
        // After the first two LUNs finish (10 ms), cancel.
        let p = rx.recv().await.unwrap();
        assert_eq!(p.done, 1);
        cancel.cancel();
        rx
    };
    let (res, mut rx) = tokio::join!(unfence(&refs, KA, &opts), canceller);
    assert_eq!(res.len(), 10);
    let ok = res.iter().filter(|r| r.is_ok()).count();
    let cancelled = res
        .iter()
        .filter(|r| matches!(r.result, Err(Error::Cancelled { .. })))
        .count();
    assert_eq!(ok + cancelled, 10);
    assert!((2..=4).contains(&ok), "{ok} LUNs ran");
    // Every LUN is accounted for in the progress stream.
    let mut last = 1;
    while let Ok(p) = rx.try_recv() {
        last = p.done;
    }
    assert_eq!(last, 10);
    // LUNs not started have no registration.
    let untouched = res.iter().position(|r| !r.is_ok()).unwrap();
    let k = keys_of(&c.sim, c.luns[untouched], &c.nodes[0].paths[untouched]);
    assert!(k.values().all(Option::is_none));
}

#[tokio::test(start_paused = true)]
async fn many_luns_run_at_commands_times_latency_over_concurrency() {
    let luns_n = 200;
    let c = cluster(1, 4, luns_n, LunConfig::spc5());
    for per_lun in &c.nodes[0].paths {
        for p in per_lun {
            p.set_latency(Latency::Fixed(Duration::from_millis(1)));
        }
    }
    let luns: Vec<MultipathLun<SimPath>> = (0..luns_n)
        .map(|l| {
            lun_of(&c, 0, l).with_options(LunOptions {
                concurrency: 8,
                ..LunOptions::default()
            })
        })
        .collect();
    let refs: Vec<&MultipathLun<SimPath>> = luns.iter().collect();
    let t0 = tokio::time::Instant::now();
    let opts = FleetOptions {
        concurrency: 20,
        ..FleetOptions::default()
    };
    let res = unfence(&refs, KA, &opts).await;
    assert!(res.iter().all(|r| r.is_ok()));
    // 200 LUNs x 4 paths = 800 commands of 1 ms, 80 in flight at once: 10 ms ideal.
    let elapsed = t0.elapsed();
    assert!(elapsed <= Duration::from_millis(15), "{elapsed:?}");
}

/// Node 1 (KB) fences node 0 (KA) off `n` LUNs where node 0 holds the reservation.
async fn fenced_cluster(n: usize) -> (pr_sim::sim::Cluster, Vec<MultipathLun<SimPath>>) {
    let c = cluster(2, 2, n, LunConfig::spc5());
    let a: Vec<MultipathLun<SimPath>> = (0..n).map(|l| lun_of(&c, 0, l)).collect();
    let b: Vec<MultipathLun<SimPath>> = (0..n).map(|l| lun_of(&c, 1, l)).collect();
    let ar: Vec<&MultipathLun<SimPath>> = a.iter().collect();
    let br: Vec<&MultipathLun<SimPath>> = b.iter().collect();
    let opts = FleetOptions::default();
    assert!(unfence(&ar, KA, &opts).await.iter().all(|r| r.is_ok()));
    assert!(unfence(&br, KB, &opts).await.iter().all(|r| r.is_ok()));
    for l in &a {
        l.reserve(KA, Ty::WriteExclusiveRegistrantsOnly)
            .await
            .unwrap();
    }
    (c, b)
}

#[tokio::test]
async fn a_retried_fence_reports_already_fenced_on_every_lun() {
    for action in [FenceAction::PreemptAndAbort, FenceAction::Preempt] {
        let (c, b) = fenced_cluster(4).await;
        let br: Vec<&MultipathLun<SimPath>> = b.iter().collect();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let opts = FleetOptions {
            fence_action: action,
            progress: Some(tx),
            ..FleetOptions::default()
        };
        let first = fence(&br, KB, KA, Ty::WriteExclusiveRegistrantsOnly, &opts).await;
        for r in &first {
            assert_eq!(r.outcome(), LunOutcome::Ok, "{:?}", r.result);
            assert!(!r.already_fenced);
            let steps = &r.result.as_ref().unwrap().steps;
            assert!(
                steps
                    .iter()
                    .any(|s| s.command.out().is_some_and(|o| o.action == action.action())),
                "{steps:?}"
            );
        }
        while rx.try_recv().is_ok() {}
        // The retry (the fencing node did not learn the outcome, say) succeeds again.
        let again = fence(&br, KB, KA, Ty::WriteExclusiveRegistrantsOnly, &opts).await;
        assert_eq!(again.len(), 4);
        for r in &again {
            assert!(r.is_ok(), "{}: {:?}", r.lun, r.result);
            assert!(r.already_fenced);
            assert_eq!(r.outcome(), LunOutcome::AlreadyFenced);
            let report = r.result.as_ref().unwrap();
            assert!(
                report.notes.iter().any(|n| n.contains("already fenced")),
                "{report}"
            );
        }
        let mut outcomes = Vec::new();
        while let Ok(p) = rx.try_recv() {
            outcomes.push(p.outcome);
        }
        assert_eq!(outcomes, vec![LunOutcome::AlreadyFenced; 4]);
        // Nothing changed: node 1 holds every LUN, node 0 is gone.
        for (i, &l) in c.luns.iter().enumerate() {
            assert_eq!(reservation_of(&c.sim, l), Some((Some(KB), 5)));
            let ka = keys_of(&c.sim, l, &c.nodes[0].paths[i]);
            assert!(ka.values().all(Option::is_none));
        }
    }
}

#[tokio::test]
async fn fencing_from_an_unregistered_node_is_a_clear_error() {
    let c = cluster(2, 2, 3, LunConfig::spc5());
    let a: Vec<MultipathLun<SimPath>> = (0..3).map(|l| lun_of(&c, 0, l)).collect();
    let b: Vec<MultipathLun<SimPath>> = (0..3).map(|l| lun_of(&c, 1, l)).collect();
    let ar: Vec<&MultipathLun<SimPath>> = a.iter().collect();
    let br: Vec<&MultipathLun<SimPath>> = b.iter().collect();
    assert!(
        unfence(&ar, KA, &FleetOptions::default())
            .await
            .iter()
            .all(|r| r.is_ok())
    );
    // Node 1 never unfenced: its PREEMPT is a RESERVATION CONFLICT on every LUN.
    let res = fence(
        &br,
        KB,
        KA,
        Ty::WriteExclusiveRegistrantsOnly,
        &FleetOptions::default(),
    )
    .await;
    for (i, r) in res.iter().enumerate() {
        let e = r.result.as_ref().unwrap_err();
        assert!(
            matches!(e, Error::NotRegistered { key, .. } if *key == KB),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            format!("mpath1l{i}: this node's key 0xb2 is not registered on the LUN")
        );
        assert!(e.is_reservation_conflict());
        assert!(!r.already_fenced);
        assert!(matches!(r.outcome(), LunOutcome::Failed(_)));
        // The report has the PREEMPT that conflicted and the READ KEYS that explained it.
        let report = e.report().unwrap();
        assert!(report.steps.iter().any(|s| s.command.out().is_some()));
        assert!(
            report
                .steps
                .iter()
                .any(|s| s.command
                    == pr_multipath::Command::In(pr_core::types::PrInAction::ReadKeys))
        );
    }
    // Node 0 keeps its registrations.
    for (i, &l) in c.luns.iter().enumerate() {
        let ka = keys_of(&c.sim, l, &c.nodes[0].paths[i]);
        assert!(ka.values().all(|k| *k == Some(KA)));
    }
    // Once registered, fencing a key that is registered nowhere finds nothing to remove.
    assert!(
        unfence(&br, KB, &FleetOptions::default())
            .await
            .iter()
            .all(|r| r.is_ok())
    );
    let res = fence(
        &br,
        KB,
        K(0x777),
        Ty::WriteExclusiveRegistrantsOnly,
        &FleetOptions::default(),
    )
    .await;
    assert!(res.iter().all(|r| r.is_ok() && r.already_fenced));
}
