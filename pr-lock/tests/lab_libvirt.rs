//! The proof with real libvirt, in the lab guest: Debian's libvirtd with
//! `lock_manager = "lockd"` (virtlockd, `auto_disk_leases`, `require_lease_for_disks`,
//! `scsi_lockspace_dir` and `file_lockspace_dir`) starts tiny QEMU domains (TCG, no guest
//! OS) on a LIO LUN's multipath map and on an image file, and pr-lock takes the same disks:
//!
//! - while the domain runs, `DiskLock::acquire` fails with `FileLockBusy` naming the lock
//!   file virtlockd holds, which is the one file in the lockspace directory, and the one
//!   pr-lock names (SCSI ID from `scsi_id` for the LUN, SHA-256 of the path for the file);
//! - while pr-lock holds the disk (file lock and, on the LUN, the reservation), `virsh
//!   create` fails with libvirt's lock error (`Lockspace resource '…' is locked`);
//! - after pr-lock releases, `virsh create` succeeds; after `virsh destroy`, pr-lock's
//!   acquire succeeds.
//!
//! Run by `lab/test.sh` on both stacks (iSCSI topology only: `iscsi_only`, to run once per
//! stack); by hand: `lab/test.sh --stack debian12 --topology iscsi -- lab_libvirt`.
//! It fails, saying why, when libvirt is missing or does not run.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use common::libvirt::{DomainDisk, Libvirt, LibvirtConfig};
use pr_core::types::ReservationKey;
use pr_lab_support::LabLun;
use pr_lock::names::{self, NameKind, Programs};
use pr_lock::{DiskLock, DiskLockRequest, Enforcement, Error, Mode};

/// This host's reservation key for pr-lock's hold of the LUN.
const KEY: ReservationKey = ReservationKey(0x11b7_0001);

/// The files in `dir`, sorted.
fn files_in(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    v.sort();
    v
}

/// The four steps for one disk; returns a line for the summary.
/// `reservation`: whether pr-lock's hold includes the LUN's reservation (a multipath map)
/// or is the file lock only (an image file: pr-multipath says it is not a SCSI device).
fn prove(
    lab: &Libvirt,
    name: &str,
    disk: &DomainDisk,
    kind: NameKind,
    reservation: bool,
) -> String {
    let path = disk.path().to_string_lossy().into_owned();
    let lockspace = lab.lockspace();
    let expected = names::resolve(&path, &lockspace, &Programs::default())
        .unwrap_or_else(|e| panic!("{path}: pr-lock cannot name its lock: {e}"));
    assert_eq!(expected.kind, kind, "{path}: named {expected:?}");
    let dir = expected.dir.clone().expect("an indirect lease");
    // With this host's key: the image file gets the file lock only, by pr-lock's choice.
    let request = DiskLockRequest::new(path.clone(), Mode::Exclusive, lockspace).key(KEY);
    let xml = lab.domain_xml(name, disk);

    // 1. libvirt runs the domain: virtlockd holds the disk's lock file; ours fails.
    let first = lab
        .create(name, &xml)
        .unwrap_or_else(|e| panic!("virsh create {name} ({path}) failed: {e}\n{}", lab.logs()));
    assert_eq!(
        files_in(&dir),
        vec![expected.path()],
        "{path}: the lock file virtlockd created in {} is the one pr-lock names",
        dir.display()
    );
    match DiskLock::acquire(&request) {
        Err(e @ Error::FileLockBusy { .. }) => {
            let Error::FileLockBusy {
                path: busy,
                name: res,
                mode,
            } = &e
            else {
                unreachable!()
            };
            assert_eq!(busy, &expected.path(), "{e}");
            assert_eq!(res, &expected.name, "{e}");
            assert_eq!(*mode, Mode::Exclusive);
            println!("{name}: while libvirt runs the domain, pr-lock says: {e}");
        }
        Err(e) => {
            panic!("{path}: pr-lock's acquire while the domain runs: {e} (expected FileLockBusy)")
        }
        Ok(l) => panic!(
            "{path}: pr-lock acquired {} while libvirt's domain runs: virtlockd holds no lock",
            l.resource().path().display()
        ),
    }
    lab.destroy(name);
    let left = files_in(&dir);
    println!(
        "{name}: after virsh destroy the lockspace holds {left:?} (virtlockd {} the lock file)",
        if left.is_empty() { "unlinked" } else { "kept" }
    );

    // 2. pr-lock holds the disk: libvirt refuses to start the domain.
    let ours = DiskLock::acquire(&request)
        .unwrap_or_else(|e| panic!("{path}: pr-lock's acquire after virsh destroy: {e}"));
    assert_eq!(ours.resource(), &expected);
    match (reservation, ours.enforcement()) {
        (true, Enforcement::FileAndReservation) | (false, Enforcement::FileOnly(_)) => {}
        (_, other) => panic!("{path}: enforced as {other:?}"),
    }
    println!(
        "{name}: pr-lock holds {} ({:?})",
        expected.path().display(),
        ours.enforcement()
    );
    let t0 = Instant::now();
    match lab.create(name, &xml) {
        Ok(_) => panic!("{path}: libvirt started {name} while pr-lock held its lock file"),
        Err(e) => {
            println!(
                "{name}: while pr-lock holds the disk, virsh create fails in {:.1} s: {e}",
                t0.elapsed().as_secs_f64()
            );
            assert!(
                e.contains(&format!("Lockspace resource '{}' is locked", expected.name)),
                "{path}: virsh create failed, but not with libvirt's lock error for {}: {e}",
                expected.name
            );
        }
    }

    // 3. After pr-lock's release, libvirt starts it; after virsh destroy, pr-lock takes it.
    ours.release()
        .unwrap_or_else(|e| panic!("{path}: pr-lock's release: {e}"));
    let again = lab.create(name, &xml).unwrap_or_else(|e| {
        panic!(
            "{path}: virsh create after pr-lock released: {e}\n{}",
            lab.logs()
        )
    });
    lab.destroy(name);
    DiskLock::acquire(&request)
        .unwrap_or_else(|e| panic!("{path}: pr-lock's acquire after the second destroy: {e}"))
        .release()
        .unwrap_or_else(|e| panic!("{path}: pr-lock's release: {e}"));
    format!(
        "{name} ({path}, lock {}): virsh create {:.1} s, then {:.1} s",
        expected.path().display(),
        first.as_secs_f64(),
        again.as_secs_f64()
    )
}

#[test]
#[ignore = "needs the lab guest (lab/test.sh) with libvirt"]
fn lab_libvirt_lockd_and_pr_lock_block_each_other_iscsi_only() {
    let t0 = Instant::now();
    let luns: usize = pr_lab_support::need("LAB_LUNS")
        .trim()
        .parse()
        .expect("LAB_LUNS");
    // The last LUN: lab/selftest.sh works on LUN 0.
    let lun = LabLun::get(luns - 1);
    let lab = Libvirt::start(&LibvirtConfig::lockd());
    let t = lab.timings().clone();
    let image = lab.image("disk0.img", 1 << 20);
    let lun_line = prove(
        &lab,
        "prlock-lun",
        &DomainDisk::Block(lun.map.clone()),
        NameKind::Scsi,
        true,
    );
    let file_line = prove(
        &lab,
        "prlock-file",
        &DomainDisk::File(image),
        NameKind::Sha256,
        false,
    );
    drop(lab);
    println!(
        "libvirt lab ({}): virtlockd ready {:.1} s, libvirtd {:.1} s, domcapabilities {:.1} s\n  {lun_line}\n  {file_line}\n  test total {:.1} s",
        std::env::var("LAB_STACK").unwrap_or_default(),
        t.virtlockd_ready.as_secs_f64(),
        t.libvirtd_ready.as_secs_f64(),
        t.probe.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}
