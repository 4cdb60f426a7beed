//! Lab test (`#[ignore]`, run by `lab/test.sh`, or `lab/run.sh -l 1 -p 2 -n 1 -- <binary>
//! --ignored --test-threads=1`, on tcm_loop and on iSCSI alike): live migration of a
//! guest's reservation without the VMM's help, through the tracker and the control
//! interface, between two "hosts" of one LIO LUN.
//!
//! Two pr-helper daemons run in the lab guest: the **source** (`--track
//! --control=src.ctl`) serves node 1, either its first path device (`LAB_PATHS_0`'s first)
//! or its multipath map (`LAB_MPATH_0`: every node-1 nexus); the **destination**
//! (`--control=dst.ctl`) serves node 2's path (`LAB_NODE2_PATHS_0`). This test process
//! plays the guest on the source through `pr_helper::client`: it registers a key and
//! reserves. Then the hand-over as a libvirt hook would run it: the state exported from
//! the source's control socket (or, for QEMU 11's sequence, written by hand as the
//! `scsi-disk/pr` migration subsection carries it: `{key, type}`), `handover` on the
//! destination's. READ FULL STATUS (read directly on node 2's path device through
//! pr-multipath, no daemon in between) must then show the key registered on node 2's nexus
//! only, holding the reservation, and WRITE(10) must get RESERVATION CONFLICT through every
//! source nexus and GOOD through the destination's. `failback` on the source then returns
//! registration and reservation to node 1.
//!
//! The cases: Write Exclusive and Write Exclusive - Registrants Only from the tracker's
//! export, on the path device and on the map; Write Exclusive - All Registrants from a
//! hand-written QEMU 11 state, on both; a registration without reservation on both (LIO's
//! self-PREEMPT without a reservation removes the sender's own registration, so the
//! hand-over's REGISTER AND IGNORE must leave the destination registered).

mod common;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use common::lab::{Daemon, Direct, OURS, Registration, full_status, reset, rw, summary};
use pr_helper::BlockingClient;
use pr_helper::client::{basic_params, pr_out_cdb};
use pr_helper::control::{self, Request as Control, Response};
use pr_helper::tracker::GuestState;
use pr_lab_support::LabLun;

/// Where the guest's device is on the source host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// Node 1's first path device: one nexus.
    Path,
    /// Node 1's multipath map: every node-1 nexus.
    Map,
}

/// Where the state given to `handover` comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StateFrom {
    /// The source's tracker, through `export` on its control socket.
    Tracker,
    /// Written by hand, as QEMU 11's migration stream carries it.
    Qemu,
}

struct Hosts {
    source: Daemon,
    destination: Daemon,
}

fn start_hosts() -> Hosts {
    let dir = PathBuf::from("/run/pr-helper-lab-migrate");
    std::fs::create_dir_all(&dir).unwrap();
    let ctl = |n: &str| dir.join(n);
    let source = Daemon::start(
        "source",
        OURS,
        &dir.join("src.sock"),
        Some(&ctl("src.ctl")),
        &[
            "--track".into(),
            format!("--control={}", ctl("src.ctl").display()),
        ],
    );
    let destination = Daemon::start(
        "destination",
        OURS,
        &dir.join("dst.sock"),
        Some(&ctl("dst.ctl")),
        &[format!("--control={}", ctl("dst.ctl").display())],
    );
    Hosts {
        source,
        destination,
    }
}

/// A guest's command through the source daemon, sent again after a unit attention.
fn guest_call(c: &mut BlockingClient, dev: &std::fs::File, cdb: [u8; 16], data: &[u8]) -> u8 {
    for _ in 0..5 {
        let r = c.call(dev, &cdb, data).unwrap();
        if r.status() != 0x02 || r.sense_key_asc_ascq().map(|s| s.0) != Some(6) {
            assert_eq!(
                r.status(),
                0,
                "guest command {:02x?}: {:?}",
                &cdb[..3],
                r.sense_key_asc_ascq()
            );
            return r.status();
        }
    }
    panic!(
        "guest command {:02x?}: unit attention after unit attention",
        &cdb[..3]
    );
}

/// The control request `line` (one JSON object) sent as is; the answer.
fn raw_control(path: &Path, line: &str) -> Response {
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.write_all(line.as_bytes()).unwrap();
    s.write_all(b"\n").unwrap();
    let mut answer = String::new();
    std::io::BufReader::new(s).read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{answer:?}: {e}"))
}

fn assert_sequence_ok(what: &str, r: &Response) {
    assert!(r.ok, "{what}: {r:?}");
    let steps = r.steps.as_ref().expect("steps");
    assert_eq!(
        steps.len(),
        3,
        "{what}: REGISTER, PREEMPT, REGISTER AND IGNORE: {r:?}"
    );
    assert!(steps.iter().all(|s| s.status == 0), "{what}: {r:?}");
}

/// Node-1 nexuses of the source: labels and direct handles.
fn source_nexuses(lab: &LabLun, source: Source) -> Vec<(String, Direct)> {
    let n = match source {
        Source::Path => 1,
        Source::Map => lab.paths.len(),
    };
    (0..n)
        .map(|i| (format!("n1p{i}"), Direct::open(&lab.paths[i])))
        .collect()
}

/// Checks that `key` is registered on exactly the nexuses `on` (and nowhere else), and,
/// with a reservation type, that it is held by them with that type.
fn expect_on(what: &str, regs: &[Registration], on: &[&str], key: u64, ty: u8) {
    let s = summary(regs);
    let registered: Vec<&str> = s.keys().map(String::as_str).collect();
    assert_eq!(
        registered.len(),
        regs.len(),
        "{what}: a nexus registered twice: {regs:?}"
    );
    assert_eq!(registered, on, "{what}: registered nexuses: {s:?}");
    assert!(
        regs.iter().all(|r| r.key == key),
        "{what}: keys {s:?}, expected {key:#x}"
    );
    let holders: Vec<&Registration> = regs.iter().filter(|r| r.holder).collect();
    if ty == 0 {
        assert!(holders.is_empty(), "{what}: a reservation is held: {s:?}");
        return;
    }
    assert!(!holders.is_empty(), "{what}: no reservation: {s:?}");
    assert!(
        holders.iter().all(|r| r.type_code == ty),
        "{what}: type {s:?}, expected {ty}"
    );
    if matches!(ty, 7 | 8) {
        assert_eq!(
            holders.len(),
            regs.len(),
            "{what}: all registrants hold: {s:?}"
        );
    } else {
        assert_eq!(holders.len(), 1, "{what}: one holder: {s:?}");
    }
}

/// The writes of each nexus: GOOD where the guest runs, RESERVATION CONFLICT elsewhere
/// (no reservation: GOOD everywhere). Under Write Exclusive only the holder of a map's
/// nexuses may write.
fn expect_writes(
    what: &str,
    running: &[(String, Direct)],
    fenced: &[(String, Direct)],
    regs: &[Registration],
    ty: u8,
) {
    for (label, d) in running {
        let holder = regs.iter().any(|r| r.nexus == *label && r.holder);
        let want = if ty == 1 && !holder { 0x18 } else { 0 };
        assert_eq!(
            d.write_status(),
            want,
            "{what}: WRITE(10) through {label} ({}), holder {holder}",
            d.path.display()
        );
    }
    for (label, d) in fenced {
        let want = if ty == 0 { 0 } else { 0x18 };
        assert_eq!(
            d.write_status(),
            want,
            "{what}: WRITE(10) through {label} ({})",
            d.path.display()
        );
    }
}

fn migrate(lab: &LabLun, source: Source, ty: u8, from: StateFrom) {
    let case = format!("{source:?} source, type {ty}, state from {from:?}");
    eprintln!("--- {case}");
    let t = std::time::Instant::now();
    reset(lab);
    let hosts = start_hosts();
    let key = 0x6b65_7900_u64 + u64::from(ty);
    let src_dev: &Path = match source {
        Source::Path => &lab.paths[0],
        Source::Map => &lab.map,
    };
    let dst_dev: &Path = &lab.node2[0];
    let node1 = source_nexuses(lab, source);
    let node2 = vec![("n2p0".to_owned(), Direct::open(dst_dev))];
    let node1_labels: Vec<&str> = node1.iter().map(|(l, _)| l.as_str()).collect();

    // The guest on the source host.
    let mut guest = BlockingClient::connect(&hosts.source.socket).unwrap();
    let dev = rw(src_dev);
    guest_call(
        &mut guest,
        &dev,
        pr_out_cdb(0, 0, 24),
        &basic_params(0, key, 0),
    );
    if ty != 0 {
        guest_call(
            &mut guest,
            &dev,
            pr_out_cdb(1, ty, 24),
            &basic_params(key, 0, 0),
        );
    }
    let regs = full_status(lab, &node2[0].1);
    expect_on(&format!("{case}: before"), &regs, &node1_labels, key, ty);
    expect_writes(&format!("{case}: before"), &node1, &node2, &regs, ty);

    // The state the hand-over carries.
    let state = match from {
        StateFrom::Tracker => {
            let ctl = hosts.source.control.as_ref().unwrap();
            let exported = control::request(ctl, &Control::Export).unwrap();
            assert!(exported.ok, "{case}: export: {exported:?}");
            let entries = exported.entries.unwrap();
            let me = format!(",pid={}", std::process::id());
            let mine: Vec<_> = entries.iter().filter(|e| e.client.ends_with(&me)).collect();
            assert_eq!(mine.len(), 1, "{case}: the guest's entries: {entries:?}");
            let want_lun = match source {
                Source::Path => lab.paths[0]
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                Source::Map => lab.wwid.clone(),
            };
            assert_eq!(mine[0].lun, want_lun, "{case}: the tracked LUN");
            assert_eq!(
                (mine[0].state.key.0, mine[0].state.reservation_type),
                (key, ty),
                "{case}: the tracked state"
            );
            mine[0].state
        }
        StateFrom::Qemu => {
            let json = format!(r#"{{"key":"{key:#x}","reservation_type":{ty}}}"#);
            serde_json::from_str::<GuestState>(&json).unwrap()
        }
    };

    // The hand-over on the destination host.
    let dst_ctl = hosts.destination.control.as_ref().unwrap();
    let r = match from {
        StateFrom::Tracker => control::request(
            dst_ctl,
            &Control::Handover {
                device: dst_dev.display().to_string(),
                state,
            },
        )
        .unwrap(),
        StateFrom::Qemu => raw_control(
            dst_ctl,
            &format!(
                r#"{{"op":"handover","device":"{}","state":{{"key":"{key:#x}","reservation_type":{ty}}}}}"#,
                dst_dev.display()
            ),
        ),
    };
    assert_sequence_ok(&format!("{case}: handover"), &r);
    let regs = full_status(lab, &node2[0].1);
    expect_on(
        &format!("{case}: after the hand-over"),
        &regs,
        &["n2p0"],
        key,
        ty,
    );
    expect_writes(
        &format!("{case}: after the hand-over"),
        &node2,
        &node1,
        &regs,
        ty,
    );

    // The migration failed: the source takes everything back.
    let r = control::request(
        hosts.source.control.as_ref().unwrap(),
        &Control::Failback {
            device: src_dev.display().to_string(),
            state,
        },
    )
    .unwrap();
    assert_sequence_ok(&format!("{case}: failback"), &r);
    let regs = full_status(lab, &node2[0].1);
    expect_on(
        &format!("{case}: after failback"),
        &regs,
        &node1_labels,
        key,
        ty,
    );
    expect_writes(
        &format!("{case}: after failback"),
        &node1,
        &node2,
        &regs,
        ty,
    );

    // The guest's own commands still work on the source.
    let r = guest
        .call(&dev, &pr_helper::client::pr_in_cdb(0, 8192), &[])
        .unwrap();
    let r = if r.status() == 0x02 && r.sense_key_asc_ascq().map(|s| s.0) == Some(6) {
        guest
            .call(&dev, &pr_helper::client::pr_in_cdb(0, 8192), &[])
            .unwrap()
    } else {
        r
    };
    assert_eq!(r.status(), 0, "{case}: READ KEYS through the source daemon");
    drop(hosts);
    reset(lab);
    eprintln!("--- {case}: passed in {:.1?}", t.elapsed());
}

#[test]
#[ignore = "needs the lab: lab/test.sh, or lab/run.sh -l 1 -p 2 -n 1 -- <binary> --ignored"]
fn from_a_path_device_with_the_trackers_state() {
    let lab = LabLun::get(0);
    for ty in [1, 5] {
        migrate(&lab, Source::Path, ty, StateFrom::Tracker);
    }
}

#[test]
#[ignore = "needs the lab: lab/test.sh, or lab/run.sh -l 1 -p 2 -n 1 -- <binary> --ignored"]
fn from_the_map_to_node2s_path_with_the_trackers_state() {
    let lab = LabLun::get(0);
    for ty in [1, 5] {
        migrate(&lab, Source::Map, ty, StateFrom::Tracker);
    }
}

#[test]
#[ignore = "needs the lab: lab/test.sh, or lab/run.sh -l 1 -p 2 -n 1 -- <binary> --ignored"]
fn with_the_state_qemu_11_sends_all_registrants() {
    let lab = LabLun::get(0);
    for source in [Source::Path, Source::Map] {
        migrate(&lab, source, 7, StateFrom::Qemu);
    }
}

#[test]
#[ignore = "needs the lab: lab/test.sh, or lab/run.sh -l 1 -p 2 -n 1 -- <binary> --ignored"]
fn a_registration_without_reservation_stays_registered_on_node2() {
    let lab = LabLun::get(0);
    for source in [Source::Path, Source::Map] {
        migrate(&lab, source, 0, StateFrom::Tracker);
    }
}
