//! The lab proof of pr-lock on real LIO LUNs (run by `lab/test.sh` inside the QEMU guest,
//! `#[ignore]` everywhere else; `-- lab_lock` selects them).
//!
//! Two hosts on one machine: **node 1** is the LUN's dm-multipath map (its node-1 I_T
//! nexuses, `LAB_PATHS_i`); **node 2** is the LUN's node-2 nexuses (`LAB_NODE2_PATHS_i`,
//! in no map), opened through pr-multipath's front door as a LUN of those paths. SCSI
//! tells the hosts apart by their I_T nexuses and keys, exactly as it would two machines.
//!
//! Lockspaces: where a test says **shared lockspace**, it is one directory in the guest
//! that both nodes' processes use, standing for a lockspace on a shared filesystem that
//! every host mounts (libvirt's `scsi_lockspace_dir` on NFS or a cluster filesystem):
//! its fcntl locks are seen by both nodes. Where it says **per-host lockspaces**, each node
//! has its own directory (a local lockspace): the lock files say nothing about the other
//! host and only the reservation keeps it out.
//!
//! - `lab_lock_forced_preempt_fences_node1` (both transports) and
//!   `lab_lock_forced_preempt_and_abort_fences_node1_iscsi_only`: node 1 holds an
//!   exclusive [`DiskLock`] on the map (per-host lockspaces, the lock file named by the
//!   LUN's SCSI ID); node 2 is refused naming node 1's key, nothing of it left; node 2
//!   forces (PREEMPT, resp. PREEMPT AND ABORT, which deadlocks LIO over tcm_loop); node
//!   1's WRITE(10) (`sg_raw`) gets RESERVATION CONFLICT on every node-1 path while node
//!   2's is GOOD and node 1 can still read; node 1's release is `NotHeld` and changes
//!   nothing.
//! - `lab_lock_shared_locks_let_both_nodes_write`: both nodes hold shared locks (per-host
//!   lockspaces): Write Exclusive, All Registrants, both write; an exclusive lock is
//!   refused naming the other sharer; when node 1 leaves, its writes conflict and node
//!   2's still work; when node 2 leaves, the LUN is clean.
//! - `lab_lock_lapsed_lease_lets_node2_fence_without_force`: node 1's lock is held by
//!   `prsdk lock --key K1 --scsi-lockspace DIR MAP -- sleep 1000` (shared lockspace); node
//!   2's acquire with `file_lock_decides_liveness` fails (file lock busy) while node 1
//!   lives; node 1's holder is killed (SIGKILL: the kernel drops its fcntl lock, its
//!   reservation stays on the LUN); node 2 then acquires without force, fencing node 1 at
//!   the storage; node 1's writes conflict on every path.
//! - `lab_lock_names_a_real_lun_by_its_scsi_id`: the lock name of the map and of every
//!   node-1 and node-2 path is the one SCSI ID that `/lib/udev/scsi_id --replace-whitespace
//!   --whitelisted --device` prints, which is `LAB_WWID_i`; an image file gets the SHA-256
//!   name (as `sha256sum` computes it) and `FileOnly` enforcement.
//! - `lab_lock_races_on_real_pr_one_winner_each_round`: two processes (node 1 through the
//!   map, node 2 through its paths) acquire the LUN at once, 10 rounds of `LunLock` and 4
//!   of `DiskLock` with a shared lockspace: exactly one wins each round, the loser leaves
//!   no registration.
//! - `lab_lock_bad_input_is_refused_and_leaves_the_lun_clean`: a missing lockspace
//!   directory, a read-only one (a read-only tmpfs, for root), one not writable by
//!   `nobody` (a child process as nobody), releasing a key that is not registered
//!   (`NotHeld`, the holder untouched), the zero key: each a clear error, nothing left on
//!   the LUN.
//!
//! Every test starts and ends with the LUN cleared (register a cleanup key through node
//! 2, then CLEAR, through the front door) by a guard that also runs when the test fails,
//! and checks the end state with `sg_persist`. Node-2 contenders and holders are child
//! processes (fcntl locks belong to the process): this test binary run again with
//! `PR_LOCK_LAB_CHILD` set, executing only `child_entry`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use pr_core::types::{ReservationKey, ReservationType};
use pr_lab_support::{LabLun, run, run_ok, sg_persist_settled};
use pr_lock::names::{self, KeySource, NameKind, Programs};
use pr_lock::{
    DiskLock, DiskLockRequest, Enforcement, Error, LockspaceConfig, LunLock, LunLockOptions, Mode,
    Storage, release_key,
};
use pr_multipath::blocking::Lun;
use pr_multipath::{FenceAction, OpenOptions, RegisterRequest};

const K1: ReservationKey = ReservationKey(0x10c1);
const K2: ReservationKey = ReservationKey(0x10c2);
const CLEANUP: ReservationKey = ReservationKey(0xfeed);
const WE_RO: ReservationType = ReservationType::WriteExclusiveRegistrantsOnly;
const SG_PERSIST: &str = "/usr/bin/sg_persist";
const SCSI_ID: &str = "/lib/udev/scsi_id";
const CHILD: &str = "PR_LOCK_LAB_CHILD";

// ---------------------------------------------------------------- the two nodes

/// One LUN of the lab seen by both nodes, cleared when made and when dropped.
struct Nodes {
    lab: LabLun,
    map: String,
    node1: Lun,
    node2: Lun,
}

fn node2_lun(lab: &LabLun) -> Lun {
    let devs: Vec<String> = lab.node2.iter().map(|p| p.display().to_string()).collect();
    let lun = pr_multipath::Lun::open_paths("node2", &devs, &OpenOptions::default())
        .unwrap_or_else(|e| panic!("node 2's paths {devs:?}: {e}"));
    Lun::from(lun)
}

impl Nodes {
    fn get() -> Nodes {
        let lab = LabLun::get(0);
        let map = lab.map.display().to_string();
        let node1 = Lun::open(&map).unwrap_or_else(|e| panic!("open {map}: {e}"));
        let node2 = node2_lun(&lab);
        let n = Nodes {
            lab,
            map,
            node1,
            node2,
        };
        n.clear();
        assert_eq!(n.state(), (vec![], None), "LUN not clean after CLEAR");
        n
    }

    fn node2_path(&self) -> String {
        self.lab.node2[0].display().to_string()
    }

    /// Register the cleanup key through node 2 and CLEAR: every registration and the
    /// reservation gone, whatever the test left.
    fn clear(&self) {
        self.node2
            .register(RegisterRequest::register_ignore(CLEANUP))
            .expect("register the cleanup key through node 2");
        self.node2.clear(CLEANUP).expect("CLEAR through node 2");
    }

    /// Sorted keys and the reservation (holder, type), read through the map.
    #[allow(clippy::type_complexity)]
    fn state(
        &self,
    ) -> (
        Vec<ReservationKey>,
        Option<(ReservationKey, Option<ReservationType>)>,
    ) {
        let mut keys = self.node1.read_keys().expect("READ KEYS").keys;
        keys.sort();
        let res = self
            .node1
            .read_reservation()
            .expect("READ RESERVATION")
            .reservation
            .map(|r| (r.key, r.reservation_type()));
        (keys, res)
    }

    /// The LUN as `key` holding it exclusively through `n` paths shows it.
    fn held_by(&self, key: ReservationKey, n: usize) {
        assert_eq!(self.state(), (vec![key; n], Some((key, Some(WE_RO)))));
    }

    /// No key, no reservation, read by `sg_persist` through a node-1 path and a node-2 path.
    fn assert_clean(&self) {
        assert_eq!(self.state(), (vec![], None));
        for dev in [self.lab.paths[0].display().to_string(), self.node2_path()] {
            let keys = sg_persist_settled(SG_PERSIST, &["-n", "-i", "-k"], &dev, 5);
            assert!(keys.contains("there are NO registered"), "{dev}: {keys}");
            let res = sg_persist_settled(SG_PERSIST, &["-n", "-i", "-r"], &dev, 5);
            assert!(res.contains("there is NO reservation"), "{dev}: {res}");
        }
    }

    fn node1_sgs(&self) -> Vec<String> {
        self.lab
            .sgs
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    }

    fn node2_sg(&self) -> String {
        self.lab.node2_sgs[0].display().to_string()
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        // Runs on failure too: the next test (and the next lab user) gets a clean LUN.
        let r = self
            .node2
            .register(RegisterRequest::register_ignore(CLEANUP))
            .and_then(|_| self.node2.clear(CLEANUP));
        if let Err(e) = r {
            eprintln!("lab_lock: clearing the LUN failed: {e}");
        }
    }
}

// ---------------------------------------------------------------- IO

#[derive(Clone, Debug, PartialEq, Eq)]
enum Io {
    Good,
    Conflict,
    Other(String),
}

/// One 512-byte block (block 64) read or written through an sg node with `sg_raw`,
/// re-sent after a UNIT ATTENTION (status 6: a pending one from a preemption comes first).
fn io(sg: &str, write: bool) -> Io {
    let mut last = String::new();
    for _ in 0..5 {
        let (rc, out, err) = if write {
            run(
                "sg_raw",
                &[
                    "-s",
                    "512",
                    "-i",
                    "/dev/zero",
                    sg,
                    "2a",
                    "00",
                    "00",
                    "00",
                    "00",
                    "40",
                    "00",
                    "00",
                    "01",
                    "00",
                ],
            )
        } else {
            run(
                "sg_raw",
                &[
                    "-r",
                    "512",
                    "-o",
                    "/dev/null",
                    sg,
                    "28",
                    "00",
                    "00",
                    "00",
                    "00",
                    "40",
                    "00",
                    "00",
                    "01",
                    "00",
                ],
            )
        };
        match rc {
            0 => return Io::Good,
            24 => return Io::Conflict,
            _ if format!("{out}{err}")
                .to_lowercase()
                .contains("reservation conflict") =>
            {
                return Io::Conflict;
            }
            6 => last = format!("unit attention: {out}{err}"),
            _ => return Io::Other(format!("sg_raw status {rc}: {out}{err}")),
        }
    }
    Io::Other(last)
}

fn writes(sgs: &[String]) -> Vec<Io> {
    sgs.iter().map(|s| io(s, true)).collect()
}

// ---------------------------------------------------------------- helpers

/// A progress line on the real standard error (libtest captures only the print macros),
/// so that a lab log shows how far a test got even when it hangs.
fn progress(msg: &str) {
    let _ = writeln!(std::io::stderr(), "lab_lock: {msg}");
}

fn scsi_id(dev: &str) -> String {
    let out = run_ok(
        SCSI_ID,
        &["--replace-whitespace", "--whitelisted", "--device", dev],
    );
    out.lines().next().unwrap_or_default().to_owned()
}

fn scsi_lockspace(dir: &Path) -> LockspaceConfig {
    LockspaceConfig {
        scsi_dir: Some(dir.into()),
        ..LockspaceConfig::default()
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read lockspace")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// PREEMPT over tcm_loop (PREEMPT AND ABORT deadlocks LIO there), else PREEMPT AND ABORT.
fn fence_action(lab: &LabLun) -> FenceAction {
    if lab.is_iscsi() {
        FenceAction::PreemptAndAbort
    } else {
        FenceAction::Preempt
    }
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(
            Instant::now() < end,
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `prsdk`: next to this test binary's directory (`target/debug/deps/..`), where `cargo
/// test --workspace` (and so `lab/test.sh`) builds it; `PRSDK` overrides.
fn prsdk() -> PathBuf {
    if let Ok(p) = std::env::var("PRSDK") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("current_exe");
    let p = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("prsdk"))
        .unwrap_or_default();
    assert!(
        p.is_file(),
        "{}: prsdk not found next to the test binary (build the workspace's tests with \
         `cargo test --workspace --no-run`, as lab/test.sh does, or set PRSDK)",
        p.display()
    );
    p
}

// ---------------------------------------------------------------- 1. enforcement

fn forced_fence_enforcement(action: FenceAction) {
    progress(&format!("enforcement with {action:?}"));
    let n = Nodes::get();
    let dir1 = tempfile::tempdir().unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let id = scsi_id(&n.map);
    let node1_paths = n.lab.paths.len();
    let node2_paths = n.lab.node2.len();

    // Node 1 holds the map.
    let l1 = DiskLock::acquire(
        &DiskLockRequest::new(n.map.clone(), Mode::Exclusive, scsi_lockspace(dir1.path())).key(K1),
    )
    .expect("node 1 acquires its map");
    assert_eq!(l1.enforcement(), &Enforcement::FileAndReservation);
    assert_eq!(l1.resource().kind, NameKind::Scsi);
    assert_eq!(l1.resource().name, id);
    assert_eq!(entries(dir1.path()), vec![id.clone()]);
    n.held_by(K1, node1_paths);
    assert_eq!(writes(&n.node1_sgs()), vec![Io::Good; node1_paths]);
    assert_eq!(io(&n.node2_sg(), true), Io::Conflict, "unregistered node 2");

    // Node 2 is refused, naming node 1's key; nothing of it is left.
    let mut req2 =
        DiskLockRequest::new(n.node2_path(), Mode::Exclusive, scsi_lockspace(dir2.path()))
            .key(K2)
            .storage(Storage::Lun(n.node2.clone()));
    req2.lun_options.fence_action = action;
    let e = DiskLock::acquire(&req2).unwrap_err();
    assert!(
        matches!(&e, Error::Held { holders, .. } if holders == &[K1]),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains(&format!("held by key {K1}")), "{msg}");
    assert!(msg.contains("force fences the holder"), "{msg}");
    n.held_by(K1, node1_paths);
    assert!(entries(dir2.path()).is_empty());

    // Node 2 forces: node 1 is fenced at the storage.
    let l2 = DiskLock::acquire(&req2.clone().force(true)).expect("node 2 forces");
    assert_eq!(
        l2.resource().name,
        id,
        "node 2's lock file has node 1's name"
    );
    n.held_by(K2, node2_paths);
    assert_eq!(
        writes(&n.node1_sgs()),
        vec![Io::Conflict; node1_paths],
        "node 1's WRITE(10) on every node-1 path after {action:?}"
    );
    assert_eq!(io(&n.node2_sg(), true), Io::Good, "node 2 writes");
    for sg in n.node1_sgs() {
        assert_eq!(io(&sg, false), Io::Good, "node 1 still reads through {sg}");
    }

    // Node 1's release: not held any more, and it changes nothing on the LUN.
    let e = l1.release().unwrap_err();
    assert!(
        matches!(&e, Error::NotHeld { key, .. } if *key == K1),
        "{e:?}"
    );
    n.held_by(K2, node2_paths);
    assert!(
        entries(dir1.path()).is_empty(),
        "node 1's lock file unlinked"
    );

    l2.release().expect("node 2 releases");
    assert!(entries(dir2.path()).is_empty());
    n.assert_clean();
}

/// Shared locks on a real LUN (libvirt's `<shareable/>`): both nodes hold one (per-host
/// lockspaces: one process cannot hold two locks of one lock file), the LUN shows Write
/// Exclusive, All Registrants with both keys, and both nodes write; an exclusive lock is
/// refused while the other sharer holds; after node 1 releases, its writes conflict and
/// node 2's still work; after node 2 releases, the LUN is clean.
#[test]
#[ignore = "needs the lab (lab/test.sh)"]
fn lab_lock_shared_locks_let_both_nodes_write() {
    progress("shared locks");
    let n = Nodes::get();
    let dir1 = tempfile::tempdir().unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let (p1, p2) = (n.lab.paths.len(), n.lab.node2.len());
    let we_ar = Some(ReservationType::WriteExclusiveAllRegistrants);

    let l1 = DiskLock::acquire(
        &DiskLockRequest::new(n.map.clone(), Mode::Shared, scsi_lockspace(dir1.path())).key(K1),
    )
    .expect("node 1 shares its map");
    let l2 = DiskLock::acquire(
        &DiskLockRequest::new(n.node2_path(), Mode::Shared, scsi_lockspace(dir2.path()))
            .key(K2)
            .storage(Storage::Lun(n.node2.clone())),
    )
    .expect("node 2 shares the LUN");
    assert_eq!(l1.enforcement(), &Enforcement::FileAndReservation);
    assert_eq!(l2.enforcement(), &Enforcement::FileAndReservation);
    let (keys, res) = n.state();
    let mut want = vec![K1; p1];
    want.extend(vec![K2; p2]);
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(
        res.map(|(_, t)| t),
        Some(we_ar),
        "Write Exclusive, All Registrants"
    );
    assert_eq!(writes(&n.node1_sgs()), vec![Io::Good; p1], "node 1 writes");
    assert_eq!(io(&n.node2_sg(), true), Io::Good, "node 2 writes");

    // An exclusive lock conflicts with the other sharer, naming it; nothing changes.
    let e =
        LunLock::acquire(&n.node1, K1, Mode::Exclusive, &LunLockOptions::default()).unwrap_err();
    assert!(
        matches!(&e, Error::Held { holders, .. } if holders == &[K2]),
        "{e:?}"
    );
    assert_eq!(n.state().0, want);

    // Node 1 leaves: the reservation stays with node 2, node 1 can no longer write.
    l1.release().expect("node 1 releases");
    assert!(entries(dir1.path()).is_empty());
    let (keys, res) = n.state();
    assert_eq!(keys, vec![K2; p2]);
    assert_eq!(res.map(|(_, t)| t), Some(we_ar));
    assert_eq!(
        writes(&n.node1_sgs()),
        vec![Io::Conflict; p1],
        "node 1 unregistered under an all-registrants reservation"
    );
    assert_eq!(io(&n.node2_sg(), true), Io::Good, "node 2 still writes");

    // The last sharer leaves: the reservation lapses with its registration.
    l2.release().expect("node 2 releases");
    assert!(entries(dir2.path()).is_empty());
    n.assert_clean();
}

#[test]
#[ignore = "needs the lab (lab/test.sh)"]
fn lab_lock_forced_preempt_fences_node1() {
    forced_fence_enforcement(FenceAction::Preempt);
}

#[test]
#[ignore = "needs the lab over iSCSI (lab/test.sh): PREEMPT AND ABORT deadlocks LIO over tcm_loop"]
fn lab_lock_forced_preempt_and_abort_fences_node1_iscsi_only() {
    let lab = LabLun::get(0);
    assert!(
        lab.is_iscsi(),
        "PREEMPT AND ABORT deadlocks LIO over tcm_loop (lab/README.md): run this over iSCSI \
         (lab/test.sh --topology iscsi)"
    );
    forced_fence_enforcement(FenceAction::PreemptAndAbort);
}

// ---------------------------------------------------------------- 2. both mechanisms

/// A `prsdk lock ... -- sleep 1000` process and its `sleep`, killed on drop.
struct Holder {
    child: Child,
}

impl Holder {
    fn children(&self) -> Vec<i32> {
        let pid = self.child.id();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// SIGKILL to the holder (its `sleep` first, so that nothing outlives the test).
    fn kill(&mut self) {
        for pid in self.children() {
            let _ = run("kill", &["-KILL", &pid.to_string()]);
        }
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.kill();
    }
}

#[test]
#[ignore = "needs the lab (lab/test.sh)"]
fn lab_lock_lapsed_lease_lets_node2_fence_without_force() {
    let n = Nodes::get();
    let shared = tempfile::tempdir().unwrap();
    let dir = shared.path().display().to_string();
    let id = scsi_id(&n.map);
    let lock_file = shared.path().join(&id);
    let node1_paths = n.lab.paths.len();

    // Node 1: `prsdk lock` holds the map while `sleep` runs.
    let prsdk = prsdk();
    progress(&format!("lapsed lease: starting {} lock", prsdk.display()));
    let mut holder = Holder {
        child: Command::new(&prsdk)
            .args([
                "lock",
                "--key",
                &K1.to_string(),
                "--scsi-lockspace",
                &dir,
                &n.map,
                "--",
                "sleep",
                "1000",
            ])
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", prsdk.display())),
    };
    // (Its first child is scsi_id, naming the lock; `sleep` runs once both locks are held.)
    wait_until("prsdk lock to hold the map and run sleep", 60, || {
        holder.children().iter().any(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
        })
    });
    progress("lapsed lease: node 1's prsdk lock holds the map");
    assert!(lock_file.exists(), "{}", lock_file.display());
    n.held_by(K1, node1_paths);

    // Node 2, trusting the shared lockspace: refused while node 1 lives.
    let mut req2 = DiskLockRequest::new(
        n.node2_path(),
        Mode::Exclusive,
        scsi_lockspace(shared.path()),
    )
    .key(K2)
    .storage(Storage::Lun(n.node2.clone()));
    req2.file_lock_decides_liveness = true;
    req2.lun_options.fence_action = fence_action(&n.lab);
    let e = DiskLock::acquire(&req2).unwrap_err();
    assert!(
        matches!(&e, Error::FileLockBusy { name, .. } if *name == id),
        "{e:?}"
    );
    n.held_by(K1, node1_paths);
    assert_eq!(writes(&n.node1_sgs()), vec![Io::Good; node1_paths]);

    // Node 1 dies: the kernel drops its fcntl lock, its reservation stays.
    progress("lapsed lease: node 2 refused while node 1 lives; killing node 1's holder");
    holder.kill();
    assert!(lock_file.exists(), "a killed holder does not unlink");
    n.held_by(K1, node1_paths);

    // Node 2 takes the file lock, so node 1's lease lapsed: it fences node 1 without force.
    assert!(!req2.lun_options.force);
    progress("lapsed lease: node 1 killed, its reservation stays; node 2 acquires");
    let l2 = DiskLock::acquire(&req2).expect("node 2 acquires after node 1 died");
    assert_eq!(l2.enforcement(), &Enforcement::FileAndReservation);
    n.held_by(K2, n.lab.node2.len());
    assert_eq!(
        writes(&n.node1_sgs()),
        vec![Io::Conflict; node1_paths],
        "the dead holder's node may not write"
    );
    assert_eq!(io(&n.node2_sg(), true), Io::Good);

    l2.release().expect("node 2 releases");
    assert!(entries(shared.path()).is_empty());
    n.assert_clean();
}

// ---------------------------------------------------------------- 3. the SCSI key

#[test]
#[ignore = "needs the lab (lab/test.sh)"]
fn lab_lock_names_a_real_lun_by_its_scsi_id() {
    let n = Nodes::get();
    let tmp = tempfile::tempdir().unwrap();
    let scsi = tmp.path().join("scsi");
    let files = tmp.path().join("files");
    std::fs::create_dir(&scsi).unwrap();
    std::fs::create_dir(&files).unwrap();
    let ls = LockspaceConfig {
        scsi_dir: Some(scsi.clone()),
        file_dir: Some(files.clone()),
        ..LockspaceConfig::default()
    };
    let id = scsi_id(&n.map);
    assert!(!id.is_empty(), "scsi_id printed nothing for {}", n.map);
    assert_eq!(id, n.lab.wwid, "scsi_id vs LAB_WWID_0 (multipath's WWID)");
    let disks: Vec<String> = std::iter::once(n.map.clone())
        .chain(n.lab.devices())
        .collect();
    for disk in &disks {
        assert_eq!(scsi_id(disk), id, "scsi_id of {disk}");
        let r = names::resolve(disk, &ls, &Programs::default()).unwrap();
        assert_eq!(
            (r.kind, r.name.as_str()),
            (NameKind::Scsi, id.as_str()),
            "{disk}"
        );
        assert_eq!(r.path(), scsi.join(&id), "{disk}");
    }
    eprintln!("lab_lock: {} disks named {id}: {disks:?}", disks.len());

    // An image file: the SHA-256 of its path, and no reservation.
    let image = tmp.path().join("vm1.img");
    std::fs::write(&image, vec![0u8; 4096]).unwrap();
    let image = image.display().to_string();
    let sha = run_ok("bash", &["-c", &format!("printf %s '{image}' | sha256sum")]);
    let sha = sha.split_whitespace().next().unwrap_or_default().to_owned();
    let l = DiskLock::acquire(&DiskLockRequest::new(image.clone(), Mode::Exclusive, ls).key(K1))
        .expect("an image file is locked");
    assert_eq!(l.resource().kind, NameKind::Sha256);
    assert_eq!(l.resource().name, sha);
    assert_eq!(l.resource().name, names::sha256_name(&image));
    assert!(
        matches!(l.enforcement(), Enforcement::FileOnly(_)),
        "{:?}",
        l.enforcement()
    );
    assert!(l.lun_lock().is_none());
    assert_eq!(entries(&files), vec![sha]);
    n.assert_clean();
    l.release().unwrap();
    assert!(entries(&files).is_empty());
    n.assert_clean();
}

// ---------------------------------------------------------------- 4. races

/// In a child: `NODE\tWHAT\tDIR\tGO\tSTOP` in `PR_LOCK_LAB_CHILD` (NODE `1`: the map with
/// K1; `2`: the node-2 paths with K2; WHAT `lun`: a `LunLock`, `disk`: a `DiskLock` with
/// the SCSI lockspace DIR). Opens its LUN, prints `READY`, waits for the file GO, acquires,
/// prints `RESULT won`, `RESULT held ...`, `RESULT busy ...` or `RESULT error ...`; a
/// winner holds until the file STOP exists, releases and prints `RESULT released`.
#[test]
fn child_entry() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let parts: Vec<&str> = spec.split('\t').collect();
    let [node, what, dir, go, stop] = parts[..] else {
        panic!("bad {CHILD}: {spec:?}");
    };
    let lab = LabLun::get(0);
    let (lun, key, disk) = if node == "1" {
        let map = lab.map.display().to_string();
        (Lun::open(&map).unwrap(), K1, map)
    } else {
        (node2_lun(&lab), K2, lab.node2[0].display().to_string())
    };
    let out = std::io::stdout();
    // Each on a line of its own (libtest's "test child_entry ... " has no newline).
    let say = |s: &str| {
        let mut o = out.lock();
        writeln!(o, "\n{s}").unwrap();
        o.flush().unwrap();
    };
    say("READY");
    while !Path::new(go).exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    enum Held {
        Lun(LunLock),
        Disk(DiskLock),
    }
    let r = if what == "lun" {
        LunLock::acquire(&lun, key, Mode::Exclusive, &LunLockOptions::default()).map(Held::Lun)
    } else {
        let req = DiskLockRequest::new(disk, Mode::Exclusive, scsi_lockspace(Path::new(dir)))
            .key(key)
            .storage(Storage::Lun(lun));
        DiskLock::acquire(&req).map(Held::Disk)
    };
    match r {
        Ok(l) => {
            say("RESULT won");
            while !Path::new(stop).exists() {
                std::thread::sleep(Duration::from_millis(2));
            }
            let r = match l {
                Held::Lun(l) => l.release(),
                Held::Disk(l) => l.release(),
            };
            match r {
                Ok(()) => say("RESULT released"),
                Err(e) => say(&format!("RESULT error releasing: {e}")),
            }
        }
        Err(e @ Error::Held { .. }) => say(&format!("RESULT held {e}")),
        Err(e @ Error::FileLockBusy { .. }) => say(&format!("RESULT busy {e}")),
        Err(e) => say(&format!("RESULT error {e}")),
    }
}

struct Contender {
    node: usize,
    child: Child,
    lines: Receiver<String>,
}

/// How long a contender may take to say the next thing.
const CONTENDER_SECS: u64 = 60;

impl Contender {
    fn spawn(node: usize, spec: String) -> Contender {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
            .env(CHILD, spec)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn a contender");
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(std::result::Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Contender { node, child, lines }
    }

    /// The next line starting with `prefix`, without it; fails after [`CONTENDER_SECS`].
    fn line(&mut self, prefix: &str) -> String {
        let end = Instant::now() + Duration::from_secs(CONTENDER_SECS);
        let mut seen = Vec::new();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.trim_end().strip_prefix(prefix) {
                        return rest.trim_start().to_owned();
                    }
                    seen.push(line);
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "node {}'s contender did not say {prefix:?} within {CONTENDER_SECS} s \
                     (it said {seen:?})",
                    self.node
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "node {}'s contender ended before saying {prefix:?} (it said {seen:?})",
                    self.node
                ),
            }
        }
    }

    fn finish(mut self) {
        let st = self.child.wait().unwrap();
        assert!(st.success(), "node {}'s contender: {st}", self.node);
    }
}

impl Drop for Contender {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One round: both nodes acquire at once; returns the winner's node (1 or 2).
fn race_round(n: &Nodes, what: &str, dir: &Path, round: usize) -> usize {
    let go = dir.join(format!(".go{round}"));
    let stop = dir.join(format!(".stop{round}"));
    let spec = |node: usize| {
        format!(
            "{node}\t{what}\t{}\t{}\t{}",
            dir.display(),
            go.display(),
            stop.display()
        )
    };
    progress(&format!(
        "{what} race round {round}: starting both contenders"
    ));
    let mut c = [Contender::spawn(1, spec(1)), Contender::spawn(2, spec(2))];
    for x in &mut c {
        x.line("READY");
    }
    progress(&format!("{what} race round {round}: both ready, go"));
    std::fs::write(&go, b"").unwrap();
    let results: Vec<String> = c.iter_mut().map(|x| x.line("RESULT")).collect();
    let won: Vec<usize> = (0..2).filter(|&i| results[i] == "won").collect();
    assert_eq!(won.len(), 1, "{what} round {round}: {results:?}");
    let w = won[0];
    let loser = &results[1 - w];
    progress(&format!(
        "{what} race round {round}: node {} won; {results:?}",
        w + 1
    ));
    // A LunLock loses at the LUN (held by the winner's key); a DiskLock at the shared
    // lock file, before its LUN is touched.
    let expect = if what == "lun" { "held " } else { "busy " };
    assert!(
        loser.starts_with(expect),
        "{what} round {round}: loser said {loser:?}"
    );
    // Only the winner is registered (the loser removed what it added).
    let (key, paths) = if w == 0 {
        (K1, n.lab.paths.len())
    } else {
        (K2, n.lab.node2.len())
    };
    n.held_by(key, paths);
    std::fs::write(&stop, b"").unwrap();
    assert_eq!(c[w].line("RESULT"), "released");
    let [a, b] = c;
    a.finish();
    b.finish();
    assert_eq!(
        n.state(),
        (vec![], None),
        "{what} round {round}: left behind"
    );
    std::fs::remove_file(&go).unwrap();
    std::fs::remove_file(&stop).unwrap();
    w + 1
}

/// The "Attempted RESERVE ... while reservation already held" lines in the kernel log
/// (LIO logs each RESERVE it refuses with RESERVATION CONFLICT).
fn reserve_conflicts_logged() -> usize {
    let (_, out, _) = run("dmesg", &[]);
    out.lines()
        .filter(|l| l.contains("Attempted RESERVE") && l.contains("already held"))
        .count()
}

#[test]
#[ignore = "needs the lab (lab/test.sh)"]
fn lab_lock_races_on_real_pr_one_winner_each_round() {
    let n = Nodes::get();
    let shared = tempfile::tempdir().unwrap();
    let conflicts_before = reserve_conflicts_logged();
    let mut wins = [[0usize; 2]; 2];
    // The RESERVE refusals if every LunLock round came down to the RESERVE: the front door
    // fails a conflicting RESERVE over to the loser's next path, so it is sent (and
    // refused) once per path of the loser.
    let mut all_at_reserve = 0;
    for (i, (what, rounds)) in [("lun", 10), ("disk", 4)].into_iter().enumerate() {
        for round in 0..rounds {
            let w = race_round(&n, what, shared.path(), round);
            wins[i][w - 1] += 1;
            if what == "lun" {
                all_at_reserve += if w == 1 {
                    n.lab.node2.len()
                } else {
                    n.lab.paths.len()
                };
            }
        }
    }
    // Whether rounds came down to the RESERVE (both registered, LIO refused the second
    // RESERVE and logged it) rather than the loser seeing the winner's hold first: a
    // figure, not an assertion (the kernel log may be rate-limited).
    let decided_by_reserve = reserve_conflicts_logged().saturating_sub(conflicts_before);
    progress(&format!(
        "races won (node 1, node 2): LunLock {:?} of 10, DiskLock {:?} of 4; RESERVE \
         refusals LIO logged: {decided_by_reserve} ({all_at_reserve} if every LunLock round \
         came down to the RESERVE)",
        wins[0], wins[1]
    ));
    assert!(entries(shared.path()).is_empty());
    n.assert_clean();
}

// ---------------------------------------------------------------- 5. bad input

/// A SCSI ID given, not computed (`scsi_id` cannot open the disk as `nobody`).
struct FixedId(String);

impl KeySource for FixedId {
    fn lvm_key(&self, _disk: &str) -> pr_lock::Result<Option<String>> {
        Ok(None)
    }
    fn scsi_key(&self, _disk: &str) -> pr_lock::Result<Option<String>> {
        Ok(Some(self.0.clone()))
    }
}

/// In a child run as `nobody`: `DISK\tDIR\tSCSI_ID` in `PR_LOCK_LAB_NOBODY`; takes a
/// `DiskLock` of DISK named SCSI_ID in DIR and prints `RESULT won` or `RESULT error ...`.
#[test]
fn nobody_child_entry() {
    let Ok(spec) = std::env::var("PR_LOCK_LAB_NOBODY") else {
        return;
    };
    let parts: Vec<&str> = spec.split('\t').collect();
    let [disk, dir, id] = parts[..] else {
        panic!("bad PR_LOCK_LAB_NOBODY: {spec:?}");
    };
    let req = DiskLockRequest::new(disk, Mode::Exclusive, scsi_lockspace(Path::new(dir))).key(K1);
    match DiskLock::acquire_with_keys(&req, &FixedId(id.into())) {
        Ok(_) => println!("RESULT won"),
        Err(e) => println!("RESULT error {e}"),
    }
}

#[test]
#[ignore = "needs the lab (lab/test.sh)"]
fn lab_lock_bad_input_is_refused_and_leaves_the_lun_clean() {
    let n = Nodes::get();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let id = scsi_id(&n.map);
    let req = |dir: &Path| {
        DiskLockRequest::new(n.map.clone(), Mode::Exclusive, scsi_lockspace(dir)).key(K1)
    };

    // A missing lockspace directory.
    let missing = tmp.path().join("missing");
    let e = DiskLock::acquire(&req(&missing)).unwrap_err();
    assert!(
        matches!(&e, Error::NoLockspace { dir } if *dir == missing),
        "{e:?}"
    );
    assert!(!missing.exists());
    n.assert_clean();

    // A read-only one (root ignores mode bits: a read-only tmpfs).
    let ro = tmp.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    run_ok(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            "ro,size=1m",
            "lab-lock-ro",
            &ro.display().to_string(),
        ],
    );
    let e = DiskLock::acquire(&req(&ro));
    run_ok("umount", &[&ro.display().to_string()]);
    let e = e.unwrap_err();
    assert!(
        matches!(&e, Error::Io { source, .. } if source.raw_os_error() == Some(libc::EROFS)),
        "{e:?}"
    );
    assert!(e.to_string().contains(&id), "{e}");
    n.assert_clean();

    // One that nobody may not write, for a process running as nobody.
    let ro_mode = tmp.path().join("r-x");
    std::fs::create_dir(&ro_mode).unwrap();
    std::fs::set_permissions(&ro_mode, std::fs::Permissions::from_mode(0o555)).unwrap();
    let exe = tmp.path().join("child");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(&exe)
        .args([
            "--exact",
            "nobody_child_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            "PR_LOCK_LAB_NOBODY",
            format!("{}\t{}\t{id}", n.map, ro_mode.display()),
        )
        .stdin(Stdio::null())
        .uid(65534)
        .gid(65534)
        .output()
        .expect("run the child as nobody");
    let text = String::from_utf8_lossy(&out.stdout);
    let expect = format!(
        "RESULT error {}: open/create lock file: Permission denied",
        ro_mode.join(&id).display()
    );
    assert!(text.contains(&expect), "{text}");
    assert!(entries(&ro_mode).is_empty());
    n.assert_clean();

    // Releasing a lock that is not held: NotHeld, and the holder is untouched.
    let l2 = LunLock::acquire(&n.node2, K2, Mode::Exclusive, &LunLockOptions::default())
        .expect("node 2 holds");
    let e = release_key(&n.node1, K1, Mode::Exclusive).unwrap_err();
    assert!(
        matches!(&e, Error::NotHeld { key, .. } if *key == K1),
        "{e:?}"
    );
    assert!(e.to_string().contains("is not registered"), "{e}");
    n.held_by(K2, n.lab.node2.len());
    l2.release().unwrap();
    n.assert_clean();

    // The zero key: refused before anything is sent; the lock file taken first is gone.
    let dir = tmp.path().join("ok");
    std::fs::create_dir(&dir).unwrap();
    let e = DiskLock::acquire(&req(&dir).key(ReservationKey::ZERO)).unwrap_err();
    assert!(matches!(e, Error::ZeroKey), "{e:?}");
    assert!(entries(&dir).is_empty());
    let e = LunLock::acquire(
        &n.node1,
        ReservationKey::ZERO,
        Mode::Exclusive,
        &LunLockOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::ZeroKey), "{e:?}");
    let e = release_key(&n.node1, ReservationKey::ZERO, Mode::Exclusive).unwrap_err();
    assert!(matches!(e, Error::ZeroKey), "{e:?}");
    assert_eq!(e.to_string(), "the reservation key must not be 0");
    n.assert_clean();
}
