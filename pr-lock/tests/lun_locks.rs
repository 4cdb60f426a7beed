//! LUN locks on the simulator (pr-sim behind pr-multipath's front door), with the SPC-5
//! and the LIO personalities: two hosts with two paths each to shared LUNs.

use std::time::Duration;

use pr_core::outcome::CommandError;
use pr_core::transport::{Cdb, Request, Transport};
use pr_core::types::{ReservationKey, ReservationType};
use pr_lock::lun::{EXCLUSIVE_TYPE, SHARED_TYPE};
use pr_lock::{
    DiskLock, DiskLockRequest, Enforcement, Error, LockspaceConfig, LunLock, LunLockOptions, Mode,
    Storage, release_key,
};
use pr_multipath::blocking::{self, Lun};
use pr_sim::{BLOCK_LEN, Cluster, ClusterSpec, Latency, LunConfig, Sim, SimPath};

const K1: ReservationKey = ReservationKey(0x1111);
const K2: ReservationKey = ReservationKey(0x2222);

fn clusters() -> Vec<(&'static str, Cluster)> {
    [("spc5", LunConfig::spc5()), ("lio", LunConfig::lio())]
        .into_iter()
        .map(|(n, lun_config)| {
            (
                n,
                Sim::cluster(&ClusterSpec {
                    luns: 1,
                    lun_config,
                    ..ClusterSpec::default()
                }),
            )
        })
        .collect()
}

/// Node `n`'s LUN (both its paths).
fn lun(c: &Cluster, n: usize) -> Lun {
    Lun::simulated("lun0", c.nodes[n].paths[0].clone())
}

fn paths(c: &Cluster, n: usize) -> Vec<SimPath> {
    c.nodes[n].paths[0].clone()
}

#[derive(Debug, PartialEq, Eq)]
enum Io {
    Good,
    Conflict,
    Other(String),
}

/// WRITE(10) (or READ(10)) of block 0 down one path, re-sent after UNIT ATTENTION.
fn io(path: &SimPath, write: bool) -> Io {
    let path = path.clone();
    blocking::block_on(async move {
        for _ in 0..4 {
            let op = if write { 0x2a } else { 0x28 };
            let cdb = Cdb::new(&[op, 0, 0, 0, 0, 0, 0, 0, 1, 0]).unwrap();
            let req = if write {
                Request::data_out(cdb, vec![0x5a; BLOCK_LEN])
            } else {
                Request::data_in(cdb, BLOCK_LEN)
            };
            let r = path.execute(req).await.unwrap();
            match r.completion.check() {
                Ok(()) => return Io::Good,
                Err(CommandError::UnitAttention { .. }) => continue,
                Err(e) if e.is_reservation_conflict() => return Io::Conflict,
                Err(e) => return Io::Other(e.to_string()),
            }
        }
        Io::Other("UNIT ATTENTION four times".into())
    })
    .unwrap()
}

fn writes(c: &Cluster, n: usize) -> Vec<Io> {
    paths(c, n).iter().map(|p| io(p, true)).collect()
}

fn state(
    l: &Lun,
) -> (
    Vec<ReservationKey>,
    Option<(ReservationKey, Option<ReservationType>)>,
) {
    let mut keys = l.read_keys().unwrap().keys;
    keys.sort();
    let res = l
        .read_reservation()
        .unwrap()
        .reservation
        .map(|r| (r.key, r.reservation_type()));
    (keys, res)
}

#[test]
fn node_2_is_refused_then_forces_and_node_1_is_fenced_at_the_storage() {
    for (name, c) in clusters() {
        let (n1, n2) = (lun(&c, 0), lun(&c, 1));
        let held = LunLock::acquire(&n1, K1, Mode::Exclusive, &LunLockOptions::default()).unwrap();
        // Every path of node 1 registered; Write Exclusive, Registrants Only by K1.
        assert_eq!(
            state(&n1),
            (vec![K1, K1], Some((K1, Some(EXCLUSIVE_TYPE)))),
            "{name}"
        );
        assert_eq!(writes(&c, 0), [Io::Good, Io::Good], "{name}");
        assert_eq!(writes(&c, 1), [Io::Conflict, Io::Conflict], "{name}");

        // Node 2 is refused, with node 1's key; nothing of node 2 is left on the LUN.
        let e = LunLock::acquire(&n2, K2, Mode::Exclusive, &LunLockOptions::default()).unwrap_err();
        assert!(
            matches!(&e, Error::Held { holders, .. } if holders == &[K1]),
            "{name}: {e:?}"
        );
        assert_eq!(
            e.to_string(),
            "lun0: held by key 0x1111 (Write Exclusive, registrants only reservation); \
             not acquired (force fences the holder)",
            "{name}"
        );
        assert_eq!(
            state(&n2),
            (vec![K1, K1], Some((K1, Some(EXCLUSIVE_TYPE)))),
            "{name}"
        );
        let e = LunLock::acquire(&n2, K2, Mode::Shared, &LunLockOptions::default()).unwrap_err();
        assert!(
            matches!(&e, Error::Held { holders, .. } if holders == &[K1]),
            "{name}: {e:?}"
        );

        // Node 2 forces: node 1 is fenced (PREEMPT AND ABORT), its writes conflict on every
        // path, node 2's succeed on every path, node 1 can still read.
        let force = LunLockOptions {
            force: true,
            ..LunLockOptions::default()
        };
        let taken = LunLock::acquire(&n2, K2, Mode::Exclusive, &force).unwrap();
        assert_eq!(
            state(&n2),
            (vec![K2, K2], Some((K2, Some(EXCLUSIVE_TYPE)))),
            "{name}"
        );
        assert_eq!(writes(&c, 0), [Io::Conflict, Io::Conflict], "{name}");
        assert_eq!(writes(&c, 1), [Io::Good, Io::Good], "{name}");
        assert_eq!(io(&paths(&c, 0)[0], false), Io::Good, "{name}");

        // Node 1's lock is gone: releasing it says so, and changes nothing.
        let e = held.release().unwrap_err();
        assert!(matches!(e, Error::NotHeld { key: K1, .. }), "{name}: {e:?}");
        assert_eq!(
            e.to_string(),
            "lun0: key 0x1111 is not registered: no lock of this host to release"
        );
        assert_eq!(state(&n2).0, vec![K2, K2], "{name}");

        // Node 2 releases: nothing is left.
        taken.release().unwrap();
        assert_eq!(state(&n2), (vec![], None), "{name}");
        assert_eq!(writes(&c, 0), [Io::Good, Io::Good], "{name}");
    }
}

#[test]
fn shared_locks_let_every_sharer_write_and_keep_exclusive_out() {
    for (name, c) in clusters() {
        let (n1, n2) = (lun(&c, 0), lun(&c, 1));
        let o = LunLockOptions::default();
        let s1 = LunLock::acquire(&n1, K1, Mode::Shared, &o).unwrap();
        let s2 = LunLock::acquire(&n2, K2, Mode::Shared, &o).unwrap();
        let (keys, res) = state(&n1);
        assert_eq!(keys, vec![K1, K1, K2, K2], "{name}");
        // All-registrants reservations report key 0.
        assert_eq!(res, Some((ReservationKey(0), Some(SHARED_TYPE))), "{name}");
        assert_eq!(writes(&c, 0), [Io::Good, Io::Good], "{name}");
        assert_eq!(writes(&c, 1), [Io::Good, Io::Good], "{name}");
        // An exclusive lock is refused while another host shares, naming it.
        s2.release().unwrap();
        let e = LunLock::acquire(&n2, K2, Mode::Exclusive, &o).unwrap_err();
        assert!(
            matches!(&e, Error::Held { holders, .. } if holders == &[K1]),
            "{name}: {e:?}"
        );
        assert!(
            e.to_string()
                .contains("Write Exclusive, all registrants reservation"),
            "{e}"
        );
        // Unregistered hosts cannot write while node 1 shares.
        assert_eq!(writes(&c, 1), [Io::Conflict, Io::Conflict], "{name}");
        // The last sharer's release lets the reservation lapse.
        s1.release().unwrap();
        assert_eq!(state(&n1), (vec![], None), "{name}");
    }
}

#[test]
fn forcing_an_exclusive_lock_over_sharers_fences_them_all() {
    for (name, c) in clusters() {
        let (n1, n2) = (lun(&c, 0), lun(&c, 1));
        let o = LunLockOptions::default();
        let s1 = LunLock::acquire(&n1, K1, Mode::Shared, &o).unwrap();
        let force = LunLockOptions {
            force: true,
            ..o.clone()
        };
        let x = LunLock::acquire(&n2, K2, Mode::Exclusive, &force).unwrap();
        assert_eq!(
            state(&n2),
            (vec![K2, K2], Some((K2, Some(EXCLUSIVE_TYPE)))),
            "{name}"
        );
        assert_eq!(writes(&c, 0), [Io::Conflict, Io::Conflict], "{name}");
        assert_eq!(writes(&c, 1), [Io::Good, Io::Good], "{name}");
        assert_eq!(s1.keep(), K1);
        // And a shared lock forced over an exclusive one.
        let s1 = LunLock::acquire(&n1, K1, Mode::Shared, &force).unwrap();
        assert_eq!(
            state(&n1),
            (vec![K1, K1], Some((ReservationKey(0), Some(SHARED_TYPE))))
        );
        assert_eq!(writes(&c, 1), [Io::Conflict, Io::Conflict], "{name}");
        assert!(matches!(x.release(), Err(Error::NotHeld { .. })));
        s1.release().unwrap();
        assert_eq!(state(&n1), (vec![], None), "{name}");
    }
}

#[test]
fn hosts_racing_for_one_lun_exactly_one_wins_and_the_loser_leaves_nothing() {
    for round in 0..30u64 {
        let c = Sim::cluster(&ClusterSpec {
            luns: 1,
            ..ClusterSpec::default()
        });
        // Latency on every path so that the two hosts' commands interleave: both read an
        // empty LUN and register, and RESERVE decides (an instrumented run took that path
        // in 30 of 30 rounds).
        for n in 0..2 {
            for p in paths(&c, n) {
                p.seed_faults(round * 7 + n as u64);
                p.set_latency(Latency::Uniform {
                    min: Duration::from_micros(100),
                    max: Duration::from_millis(2),
                });
            }
        }
        let (n1, n2) = (lun(&c, 0), lun(&c, 1));
        let go = std::sync::Barrier::new(2);
        let (r1, r2) = std::thread::scope(|s| {
            let a = s.spawn(|| {
                go.wait();
                LunLock::acquire(&n1, K1, Mode::Exclusive, &LunLockOptions::default())
            });
            let b = s.spawn(|| {
                go.wait();
                LunLock::acquire(&n2, K2, Mode::Exclusive, &LunLockOptions::default())
            });
            (a.join().unwrap(), b.join().unwrap())
        });
        let (winner, loser_err, wk) = match (r1, r2) {
            (Ok(w), Err(e)) => (w, e, K1),
            (Err(e), Ok(w)) => (w, e, K2),
            (a, b) => panic!("round {round}: not exactly one winner: {a:?} / {b:?}"),
        };
        match &loser_err {
            Error::Held { holders, .. } => {
                assert!(holders.contains(&wk), "round {round}: {loser_err}")
            }
            e => panic!("round {round}: {e:?}"),
        }
        assert_eq!(
            state(&n1),
            (vec![wk, wk], Some((wk, Some(EXCLUSIVE_TYPE)))),
            "round {round}"
        );
        winner.release().unwrap();
        assert_eq!(state(&n1), (vec![], None));
    }
}

#[test]
fn bad_keys_and_releases_of_unheld_locks_are_clear_errors() {
    let c = Sim::cluster(&ClusterSpec {
        luns: 1,
        ..ClusterSpec::default()
    });
    let n1 = lun(&c, 0);
    let e = LunLock::acquire(
        &n1,
        ReservationKey(0),
        Mode::Exclusive,
        &LunLockOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::ZeroKey), "{e:?}");
    let e = release_key(&n1, K1, Mode::Exclusive).unwrap_err();
    assert!(matches!(e, Error::NotHeld { .. }), "{e:?}");
    assert_eq!(state(&n1), (vec![], None));
}

#[test]
fn a_key_registered_already_is_refused_when_the_lock_must_be_its_only_user() {
    for (name, c) in clusters() {
        let n1 = lun(&c, 0);
        let first = LunLock::acquire(&n1, K1, Mode::Exclusive, &LunLockOptions::default()).unwrap();
        let before = state(&n1);
        // Without the option a second lock of the same key succeeds (the key holds it).
        LunLock::acquire(&n1, K1, Mode::Exclusive, &LunLockOptions::default())
            .unwrap()
            .keep();
        let sole = LunLockOptions {
            refuse_own_registration: true,
            ..LunLockOptions::default()
        };
        let e = LunLock::acquire(&n1, K1, Mode::Exclusive, &sole).unwrap_err();
        assert!(
            matches!(&e, Error::Held { holders, forceable: false, .. } if holders == &[K1]),
            "{name}: {e:?}"
        );
        assert!(e.to_string().contains("this host's own key"), "{name}: {e}");
        // The refusal changed nothing: the first lock still holds.
        assert_eq!(state(&n1), before, "{name}");
        first.release().unwrap();
        assert_eq!(state(&n1), (vec![], None), "{name}");
        // Free again: the option takes it.
        LunLock::acquire(&n1, K1, Mode::Exclusive, &sole)
            .unwrap()
            .release()
            .unwrap();
    }
}

#[test]
fn a_disk_lock_takes_the_file_lock_first_and_a_lapsed_lease_lets_the_next_host_fence() {
    let c = Sim::cluster(&ClusterSpec {
        luns: 1,
        ..ClusterSpec::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let lockspace = LockspaceConfig {
        file_dir: Some(tmp.path().into()),
        ..LockspaceConfig::default()
    };
    let disk = "/var/lib/libvirt/images/shared.img";
    // Node 1 holds the LUN but its lease holder died (the file lock is gone with it): its
    // reservation outlives it.
    let n1 =
        LunLock::acquire(&lun(&c, 0), K1, Mode::Exclusive, &LunLockOptions::default()).unwrap();
    assert_eq!(n1.keep(), K1);
    // Node 2 without trusting the file lock: refused, naming node 1; the file lock it took
    // is released again.
    let req = DiskLockRequest::new(disk, Mode::Exclusive, lockspace.clone())
        .key(K2)
        .storage(Storage::Lun(lun(&c, 1)));
    let e = DiskLock::acquire(&req).unwrap_err();
    assert!(
        matches!(&e, Error::Held { holders, .. } if holders == &[K1]),
        "{e:?}"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    // With the file lock deciding liveness (a shared lockspace), node 2 fences node 1.
    let req = DiskLockRequest {
        file_lock_decides_liveness: true,
        ..req
    };
    let lock = DiskLock::acquire(&req).unwrap();
    assert_eq!(lock.enforcement(), &Enforcement::FileAndReservation);
    assert!(tmp.path().join(pr_lock::names::sha256_name(disk)).exists());
    assert_eq!(writes(&c, 0), [Io::Conflict, Io::Conflict]);
    assert_eq!(writes(&c, 1), [Io::Good, Io::Good]);
    // Node 2 releases: reservation, registration and lock file are gone.
    lock.release().unwrap();
    assert_eq!(state(&lun(&c, 1)), (vec![], None));
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn a_disk_that_is_not_a_scsi_device_gets_the_file_lock_only_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("vm1.img");
    std::fs::write(&image, b"").unwrap();
    let locks = tmp.path().join("locks");
    pr_lock::create_lockspace_dir(&locks).unwrap();
    let lockspace = LockspaceConfig {
        file_dir: Some(locks.clone()),
        ..LockspaceConfig::default()
    };
    let req = DiskLockRequest::new(image.to_str().unwrap(), Mode::Exclusive, lockspace).key(K1);
    let lock = DiskLock::acquire(&req).unwrap();
    match lock.enforcement() {
        Enforcement::FileOnly(why) => {
            assert!(
                why.contains("not a SCSI device") && why.contains("regular file"),
                "{why}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(lock.lun_lock().is_none());
    // The second lock from this process on the same disk is refused, the first kept.
    let e = DiskLock::acquire(&req).unwrap_err();
    assert!(matches!(e, Error::HeldByThisProcess { .. }), "{e:?}");
    lock.release().unwrap();
    assert_eq!(std::fs::read_dir(&locks).unwrap().count(), 0);
}
