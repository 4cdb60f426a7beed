//! The hook with real libvirt, in the lab guest: `prsdk libvirt-hook` installed as
//! `/etc/libvirt/hooks/qemu` with `hold = "reservation"` beside libvirt's own
//! `lock_manager = "lockd"` (virtlockd holds the lock file, the hook the LUN's
//! reservation). `virsh create` of a domain on the LUN's multipath map:
//!
//! - the LUN shows this host's key holding Write Exclusive, Registrants Only, and virtlockd
//!   holds the lock file at the same time (the two do not get in each other's way);
//! - node 2's WRITE(10) (a nexus outside the map: another host) gets RESERVATION
//!   CONFLICT;
//! - before that, while another host (node 2's nexus) holds the LUN, `virsh create` fails
//!   (the hook's `prepare begin` is refused) and nothing of ours is left on the LUN;
//! - a second domain of this host on the same LUN is refused by the hook (this host's key
//!   is there already), and the first domain's reservation survives that failed start;
//! - `virsh destroy` runs `release end`: the reservation and this key's registrations are
//!   gone, the holder has exited, no state is left.
//!
//! Uses pr-lock's libvirt scaffold (`pr-lock/tests/common/libvirt.rs`). By hand:
//! `lab/test.sh --stack debian12 --topology iscsi -- lab_libvirt_hook`. It fails, saying
//! why, when libvirt is missing or does not run.

#[allow(dead_code)]
#[path = "../../pr-lock/tests/common/libvirt.rs"]
mod libvirt;

use std::path::Path;
use std::time::Instant;

use libvirt::{DomainDisk, Libvirt, LibvirtConfig};
use pr_lab_support::{LabLun, run, sg_persist_settled};

const PRSDK: &str = env!("CARGO_BIN_EXE_prsdk");

/// The domains' state files in `dir` (not the host-wide `acquire.lock`).
fn domain_state(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .filter(|n| n != "acquire.lock")
                .collect()
        })
        .unwrap_or_default()
}
/// This host's key in the hook's configuration.
const KEY: &str = "0x11b70002";
/// Another host's key, held on node 2's nexus for the refusal.
const OTHER: &str = "0x22b70002";

fn reservation(dev: &str) -> String {
    sg_persist_settled("sg_persist", &["-n", "-i", "-r"], dev, 5)
}

fn keys(dev: &str) -> String {
    sg_persist_settled("sg_persist", &["-n", "-i", "-k"], dev, 5)
}

/// WRITE(10) of one 512-byte block at LBA 0 through `dev` with sg_raw: (status, output).
fn write_block(dev: &str, data: &Path) -> (i32, String) {
    let (rc, out, err) = run(
        "sg_raw",
        &[
            "-s",
            "512",
            "-i",
            data.to_str().unwrap(),
            dev,
            "2a",
            "00",
            "00",
            "00",
            "00",
            "00",
            "00",
            "00",
            "01",
            "00",
        ],
    );
    (rc, format!("{out}{err}"))
}

#[test]
#[ignore = "needs the lab guest (lab/test.sh) with libvirt"]
fn lab_libvirt_hook_reservation_beside_lockd_iscsi_only() {
    let t0 = Instant::now();
    let luns: usize = pr_lab_support::need("LAB_LUNS")
        .trim()
        .parse()
        .expect("LAB_LUNS");
    let lun = LabLun::get(luns - 1);
    let node1 = lun.paths[0].display().to_string();
    let node2 = lun.node2[0].display().to_string();
    // Nothing of an earlier test on the LUN.
    let before = keys(&node1);
    assert!(
        !before.contains(KEY),
        "{KEY} registered before the test: {before}"
    );

    let work = tempfile::tempdir().expect("temporary directory");
    let conf = work.path().join("libvirt-hook.conf");
    let state = work.path().join("state");
    std::fs::write(
        &conf,
        format!(
            "hold = \"reservation\"\nkey = \"{KEY}\"\nstate_dir = \"{}\"\n",
            state.display()
        ),
    )
    .expect("write the hook's configuration");
    let script = work.path().join("qemu");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexec {PRSDK} libvirt-hook --config {} qemu \"$@\"\n",
            conf.display()
        ),
    )
    .expect("write the hook script");
    let data = work.path().join("block");
    std::fs::write(&data, [0u8; 512]).expect("write the block");

    let lab = Libvirt::start(&LibvirtConfig {
        qemu_hook: Some(script),
        ..LibvirtConfig::lockd()
    });
    let name = "prsdk-hook";
    let xml = lab.domain_xml(name, &DomainDisk::Block(lun.map.clone()));

    // Another host (node 2's nexus) holds the LUN: libvirt refuses to start the domain.
    sg_persist_settled("sg_persist", &["-n", "-o", "-G", "-S", OTHER], &node2, 5);
    sg_persist_settled(
        "sg_persist",
        &["-n", "-o", "-R", "-K", OTHER, "-T", "5"],
        &node2,
        5,
    );
    match lab.create(name, &xml) {
        Ok(_) => panic!("libvirt started {name} while {OTHER} holds the LUN"),
        Err(e) => {
            println!("while {OTHER} holds the LUN, virsh create fails: {e}");
            // libvirt (9.0) puts the hook's standard error in its error.
            assert!(
                e.contains("Hook script execution failed")
                    && e.contains("unexpected exit status 4")
                    && e.contains(&format!(
                        "prsdk libvirt-hook: domain {name}: disk vda ({}): {}: held by key {OTHER}",
                        lun.map.display(),
                        lun.map_name
                    )),
                "libvirt's error does not carry the hook's refusal: {e}"
            );
        }
    }
    let k = keys(&node1);
    assert!(
        !k.contains(KEY),
        "the refused start left {KEY} registered:\n{k}"
    );
    assert_eq!(
        domain_state(&state),
        Vec::<String>::new(),
        "the refused start left state in {}",
        state.display()
    );
    sg_persist_settled(
        "sg_persist",
        &["-n", "-o", "-L", "-K", OTHER, "-T", "5"],
        &node2,
        5,
    );
    sg_persist_settled(
        "sg_persist",
        &["-n", "-o", "-G", "-K", OTHER, "-S", "0"],
        &node2,
        5,
    );
    let took = lab
        .create(name, &xml)
        .unwrap_or_else(|e| panic!("virsh create {name}: {e}\n{}", lab.logs()));

    // The hook's holder holds the reservation; virtlockd the lock file.
    let r = reservation(&node1);
    println!("{name} runs; sg_persist -r on {node1}:\n{r}");
    assert!(
        r.contains(&format!("Key={KEY}")) && r.contains("Write Exclusive, registrants only"),
        "the LUN does not show {KEY}'s Write Exclusive, Registrants Only reservation:\n{r}"
    );
    let scsi_dir = lab.lockspace().scsi_dir.expect("scsi lockspace");
    let lock_files = std::fs::read_dir(&scsi_dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(
        lock_files,
        1,
        "virtlockd's lock file in {}",
        scsi_dir.display()
    );
    let pidfile = state.join(format!("{name}.pid"));
    let pid =
        std::fs::read_to_string(&pidfile).unwrap_or_else(|e| panic!("{}: {e}", pidfile.display()));
    println!("the hook's holder: pid {}", pid.trim());

    // Another host's write is refused by the LUN.
    let (rc, out) = write_block(&node2, &data);
    println!("node 2's WRITE(10) on {node2}: status {rc}: {out}");
    assert!(
        rc != 0 && out.to_ascii_lowercase().contains("reservation conflict"),
        "node 2's write was not refused with RESERVATION CONFLICT (status {rc}): {out}"
    );
    // This host's paths still write (the guest's IO goes through the map).
    let (rc, out) = write_block(&node1, &data);
    assert_eq!(rc, 0, "node 1's write through {node1}: {out}");

    // A second domain of this host on the same LUN is refused by the hook (this host's
    // key is on the LUN already), and its failed start's release end leaves the first
    // domain's reservation in place.
    let xml2 = lab.domain_xml("prsdk-hook2", &DomainDisk::Block(lun.map.clone()));
    match lab.create("prsdk-hook2", &xml2) {
        Ok(_) => panic!("libvirt started a second domain on {}", lun.map.display()),
        Err(e) => {
            println!("a second domain on the same LUN: {e}");
            assert!(
                e.contains(&format!("held by key {KEY} (this host's own key")),
                "the second domain was not refused by the hook: {e}"
            );
        }
    }
    let r = reservation(&node1);
    assert!(
        r.contains(&format!("Key={KEY}")) && r.contains("Write Exclusive, registrants only"),
        "the second domain's refused start dropped the first one's reservation:\n{r}"
    );

    // virsh destroy: release end; the reservation and the registrations go.
    lab.destroy(name);
    let r = reservation(&node1);
    assert!(
        !r.contains(KEY),
        "after virsh destroy the reservation is still there:\n{r}"
    );
    let k = keys(&node1);
    assert!(
        !k.contains(KEY),
        "after virsh destroy {KEY} is still registered:\n{k}"
    );
    assert!(
        !pidfile.exists() && domain_state(&state).is_empty(),
        "state left in {}",
        state.display()
    );
    let (rc, out) = write_block(&node2, &data);
    assert_eq!(rc, 0, "node 2's write after the release: {out}");
    drop(lab);
    println!(
        "libvirt hook lab ({}): virsh create {:.1} s; test total {:.1} s",
        std::env::var("LAB_STACK").unwrap_or_default(),
        took.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}
