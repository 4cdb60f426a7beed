//! Runs the cluster demo's logic and checks its end state against the simulator itself, so
//! the README's first command cannot rot.

use pr_core::types::{ReservationKey, ReservationType};
use pr_examples::cluster_demo::{self, Demo, IoOp, LUNS, PATHS, fence_scsi_key};

async fn run_demo() -> (Demo, Vec<String>) {
    let mut lines = Vec::new();
    let mut sink = |l: &str| lines.push(l.to_owned());
    let demo = cluster_demo::run(&mut sink).await.expect("demo runs");
    (demo, lines)
}

#[test]
fn fence_scsi_keys() {
    assert_eq!(fence_scsi_key(0xa196, 1), ReservationKey(0xa196_0001));
    // The node id is written in decimal, then read as hex, as fence_scsi does.
    assert_eq!(fence_scsi_key(0xa196, 12), ReservationKey(0xa196_0012));
    assert_eq!(fence_scsi_key(0x00ff, 2), ReservationKey(0x00ff_0002));
}

#[tokio::test]
async fn demo_ends_with_node1_fenced() {
    let (demo, lines) = run_demo().await;
    demo.verify().expect("the demo's promised end state");
    let k1 = demo.keys[0];
    let k2 = demo.keys[1];
    assert_eq!(k1, ReservationKey(0xa196_0001));
    assert_eq!(k2, ReservationKey(0xa196_0002));

    // One snapshot per step that changes the LUNs (register, reserve, path down, fence).
    let steps: Vec<&str> = demo.snapshots.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(steps, ["registered", "reserved", "port0 down", "fenced"]);
    // After registering: every path of both nodes, no reservation.
    let first = &demo.snapshots[0];
    for st in &first.luns {
        assert_eq!(st.entries.len(), 2 * PATHS);
        assert!(st.entries.iter().all(|e| !e.holder));
    }
    // After reserving, and while port0 is down: node 1's first path holds WR_EX_RO.
    for snap in &demo.snapshots[1..3] {
        for st in &snap.luns {
            let holder: Vec<_> = st.entries.iter().filter(|e| e.holder).collect();
            assert_eq!(holder.len(), 1);
            assert_eq!(holder[0].key, k1);
            assert_eq!(holder[0].relative_target_port, 1);
            assert_eq!(
                holder[0].type_code,
                ReservationType::WriteExclusiveRegistrantsOnly.code()
            );
            assert_eq!(st.entries.len(), 2 * PATHS);
        }
    }

    // The simulator's own view agrees with what READ FULL STATUS said.
    let c = &demo.cluster;
    assert_eq!(c.luns.len(), LUNS);
    for (l, &lun) in c.luns.iter().enumerate() {
        c.sim
            .with_lun(lun, |lu| {
                lu.check_invariants().unwrap();
                let regs = lu.registrations();
                assert_eq!(regs.len(), PATHS, "LUN {l}");
                assert!(regs.iter().all(|r| r.key == k2));
                for p in &c.nodes[0].paths[l] {
                    let it = p.it_nexus().unwrap();
                    assert!(!lu.is_registered(&it), "node 1 still registered on LUN {l}");
                }
                let res = lu.reservation().expect("reserved");
                assert_eq!(
                    res.reservation_type,
                    ReservationType::WriteExclusiveRegistrantsOnly
                );
                let holder = res.holder.expect("a holder nexus");
                assert_eq!(holder, c.nodes[1].paths[l][0].it_nexus().unwrap());
            })
            .unwrap();
    }

    // Node 1's writes: unit attention (registrations preempted), then RESERVATION CONFLICT.
    let writes: Vec<_> = demo
        .final_io
        .iter()
        .filter(|io| io.node == 1 && io.op == IoOp::Write)
        .collect();
    assert_eq!(writes.len(), LUNS * PATHS);
    for w in writes {
        assert!(w.is_reservation_conflict(), "{w:?}");
    }

    // The progress stream covered every LUN once.
    let done: Vec<usize> = demo.fence_progress.iter().map(|p| p.done).collect();
    assert_eq!(done, (1..=LUNS).collect::<Vec<_>>());

    // The output says what happened.
    let text = lines.join("\n");
    for needle in [
        "0xa1960001",
        "reservation conflict",
        "REGISTRATIONS PREEMPTED",
        "is down",
        "[###] 3/3",
    ] {
        assert!(text.contains(needle), "output lacks {needle:?}:\n{text}");
    }
    assert!(lines.len() < 120, "{} lines: keep it short", lines.len());
}

#[tokio::test]
async fn demo_output_is_deterministic() {
    let (_, a) = run_demo().await;
    let (_, b) = run_demo().await;
    assert_eq!(a, b);
}
