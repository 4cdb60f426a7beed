// SPDX-License-Identifier: MIT OR Apache-2.0
//! The native C API on real devices: a dm-multipath map of LIO LUNs (node 1's paths) and a
//! node-2 path outside every map, in the project's QEMU lab; the lock calls on the map
//! (the lock file named by the real `scsi_id`, the reservation through the front door). The test calls the exported
//! `pr_*` functions exactly as a C program does (through the rlib of the same code).
//!
//! `#[ignore]`d: run with `lab/test.sh` (it runs every ignored test of the workspace in
//! the guest). Uses LUN 1 and leaves it cleared. No PREEMPT AND ABORT (it deadlocks LIO
//! over tcm_loop).

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use pr_lab_support::LabLun;
use pr_sdk::*;

const K1: u64 = 0x7101;
const K1B: u64 = 0x7102;
const K2: u64 = 0x7202;

fn text(p: *const c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: the library returns NUL-terminated strings owned by a live object.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Panics with the error object's message when `r` is not `PR_OK`.
fn ok(what: &str, r: pr_result, err: *mut pr_error) {
    if r != pr_result::PR_OK {
        let msg = if err.is_null() {
            "(no error object)".to_owned()
        } else {
            text(pr_error_message(err))
        };
        panic!("{what}: {r:?}: {msg}");
    }
    assert!(err.is_null(), "{what}: error object on success");
}

fn c(s: &std::path::Path) -> CString {
    CString::new(s.to_string_lossy().into_owned()).unwrap()
}

/// The keys of a READ KEYS result, which it frees.
fn keys_taken(k: *mut pr_keys) -> Vec<u64> {
    let mut err = ptr::null_mut();
    let v = (0..pr_keys_count(k))
        .map(|i| {
            let mut key = 0;
            ok("key", pr_keys_get(k, i, &mut key, &mut err), err);
            key
        })
        .collect();
    pr_keys_free(k);
    v
}

fn keys_of_lun(lun: *const pr_lun) -> Vec<u64> {
    let mut err = ptr::null_mut();
    let mut k = ptr::null_mut();
    ok("read keys", pr_lun_read_keys(lun, &mut k, &mut err), err);
    keys_taken(k)
}

/// Node 2 removes every registration: REGISTER AND IGNORE, then CLEAR.
fn reset(node2: *const pr_device) {
    let mut err = ptr::null_mut();
    ok(
        "reset: register",
        pr_device_register_ignore(node2, 0x7fff, 0, &mut err),
        err,
    );
    ok(
        "reset: clear",
        pr_device_clear(node2, 0x7fff, &mut err),
        err,
    );
}

#[test]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
fn c_api_on_a_real_multipath_map() {
    let lab = LabLun::get(1);
    let mut err: *mut pr_error = ptr::null_mut();

    // Node 2: a device on its path, opened by path and by file descriptor.
    let mut node2 = ptr::null_mut();
    ok(
        "open node-2 path",
        pr_device_open(c(&lab.node2[0]).as_ptr(), 0, &mut node2, &mut err),
        err,
    );
    let file = std::fs::File::open(&lab.node2_sgs[0]).expect("node-2 sg node");
    let mut node2_fd = ptr::null_mut();
    ok(
        "open node-2 sg by fd",
        pr_device_open_fd(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            PR_OPEN_READ_ONLY,
            &mut node2_fd,
            &mut err,
        ),
        err,
    );
    reset(node2);

    // Node 1: the map, with multipathd and multipath.conf as on a real host.
    let mut lun = ptr::null_mut();
    let map = CString::new(lab.map_name.clone()).unwrap();
    ok(
        "open map",
        pr_lun_open(map.as_ptr(), 0, &mut lun, &mut err),
        err,
    );
    assert_eq!(text(pr_lun_name(lun)), lab.map_name);
    assert_eq!(pr_lun_path_count(lun), lab.paths.len());

    // REGISTER fans out to every path of the map; node 2 registers on its one path.
    ok("register", pr_lun_register(lun, 0, K1, 0, &mut err), err);
    ok(
        "node 2 register",
        pr_device_register(node2, 0, K2, 0, &mut err),
        err,
    );
    let keys = keys_of_lun(lun);
    assert_eq!(keys.iter().filter(|&&k| k == K1).count(), lab.paths.len());
    assert_eq!(keys.iter().filter(|&&k| k == K2).count(), 1);

    // RESERVE through the map; node 2 sees it through its read-only sg descriptor.
    ok(
        "reserve",
        pr_lun_reserve(lun, K1, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY, &mut err),
        err,
    );
    let mut res = ptr::null_mut();
    ok(
        "node 2 read reservation",
        pr_device_read_reservation(node2_fd, &mut res, &mut err),
        err,
    );
    assert!(pr_reservation_is_held(res));
    assert_eq!(pr_reservation_key(res), K1);
    assert_eq!(pr_reservation_type(res), PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY);
    pr_reservation_free(res);

    // Node 2's RESERVE of another type conflicts, with the status in the error object.
    assert_eq!(
        pr_device_reserve(node2, K2, PR_TYPE_EXCLUSIVE_ACCESS, &mut err),
        pr_result::PR_ERR_RESERVATION_CONFLICT
    );
    assert_eq!(pr_error_scsi_status(err), 0x18);
    // Paths are named by their kernel name (`sdc`), as pr-multipath names them.
    let kernel_name = std::fs::canonicalize(&lab.node2[0])
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    assert_eq!(text(pr_error_path(err)), kernel_name);
    assert_eq!(text(pr_device_name(node2)), kernel_name);
    pr_error_free(err);
    err = ptr::null_mut();
    // PR OUT on the read-only descriptor is refused before it reaches the kernel.
    assert_eq!(
        pr_device_clear(node2_fd, K2, &mut err),
        pr_result::PR_ERR_INVALID_REQUEST
    );
    pr_error_free(err);
    err = ptr::null_mut();

    // READ FULL STATUS through the map: every registration, one holder, TransportIDs as
    // text that pr-core parses back.
    let mut fs = ptr::null_mut();
    ok(
        "full status",
        pr_lun_read_full_status(lun, &mut fs, &mut err),
        err,
    );
    assert_eq!(pr_full_status_count(fs), lab.paths.len() + 1);
    let mut holders = 0;
    for i in 0..pr_full_status_count(fs) {
        let mut e = pr_full_status_entry::default();
        ok(
            "descriptor",
            pr_full_status_get(fs, i, &mut e, &mut err),
            err,
        );
        let tid = text(pr_full_status_transport_id(fs, i));
        pr_core::transport_id::TransportId::parse(&tid).expect("TransportID text parses");
        if e.holder {
            holders += 1;
            assert_eq!(e.key, K1);
        }
    }
    assert_eq!(holders, 1);
    pr_full_status_free(fs);

    let mut caps = ptr::null_mut();
    ok(
        "capabilities",
        pr_lun_report_capabilities(lun, &mut caps, &mut err),
        err,
    );
    assert_ne!(pr_capabilities_flags(caps) & PR_CAP_TMV, 0);
    pr_capabilities_free(caps);

    // Many-LUN unfence over the map (one LUN here): REGISTER AND IGNORE to K1B keeps the
    // reservation with the new key.
    let luns = [lun.cast_const()];
    let mut fleet = ptr::null_mut();
    ok(
        "unfence",
        pr_fleet_unfence(luns.as_ptr(), 1, K1B, ptr::null(), &mut fleet, &mut err),
        err,
    );
    assert_eq!(pr_fleet_result_status(fleet, 0), pr_result::PR_OK);
    pr_fleet_result_free(fleet);
    let keys = keys_of_lun(lun);
    assert_eq!(keys.iter().filter(|&&k| k == K1B).count(), lab.paths.len());

    // The same LUN assembled from node 1's path devices (no map): the same keys.
    let nodes: Vec<CString> = lab.paths.iter().map(|p| c(p)).collect();
    let ptrs: Vec<*const c_char> = nodes.iter().map(|n| n.as_ptr()).collect();
    let mut by_paths = ptr::null_mut();
    ok(
        "open paths",
        pr_lun_open_paths(
            c"lab-paths".as_ptr(),
            ptrs.as_ptr(),
            ptrs.len(),
            &mut by_paths,
            &mut err,
        ),
        err,
    );
    assert_eq!(pr_lun_path_count(by_paths), lab.paths.len());
    let mut seen = keys_of_lun(by_paths);
    let mut want = keys_of_lun(lun);
    seen.sort_unstable();
    want.sort_unstable();
    assert_eq!(seen, want);
    pr_lun_free(by_paths);

    // RELEASE and CLEAR through the map.
    ok(
        "release",
        pr_lun_release(lun, K1B, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY, &mut err),
        err,
    );
    ok("clear", pr_lun_clear(lun, K1B, &mut err), err);
    assert!(keys_of_lun(lun).is_empty());

    pr_lun_free(lun);
    pr_device_free(node2);
    pr_device_free(node2_fd);
    drop(file);
    pr_library_exit();
}

/// The reservation as node 2 reads it: holder and type, if any.
fn holder_of(node2: *const pr_device) -> Option<(u64, u32)> {
    let mut err = ptr::null_mut();
    let mut r = ptr::null_mut();
    ok(
        "read reservation",
        pr_device_read_reservation(node2, &mut r, &mut err),
        err,
    );
    let out = pr_reservation_is_held(r).then(|| (pr_reservation_key(r), pr_reservation_type(r)));
    pr_reservation_free(r);
    out
}

#[test]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
fn c_api_disk_lock_on_a_real_multipath_map() {
    let lab = LabLun::get(1);
    let mut err: *mut pr_error = ptr::null_mut();
    let mut node2 = ptr::null_mut();
    ok(
        "open node-2 path",
        pr_device_open(c(&lab.node2[0]).as_ptr(), 0, &mut node2, &mut err),
        err,
    );
    reset(node2);

    // Node 1 locks the map by its path, as a domain XML names it, with libvirt's
    // scsi_lockspace_dir: the lock file is named by what the real scsi_id prints.
    let dir = tempfile::tempdir().unwrap();
    let dir_c = c(dir.path());
    let o = pr_disk_lock_options {
        scsi_lockspace_dir: dir_c.as_ptr(),
        key: K1,
        ..Default::default()
    };
    let disk = c(&lab.map);
    let mut lock = ptr::null_mut();
    ok(
        "disk lock",
        pr_disk_lock_acquire(disk.as_ptr(), &o, &mut lock, &mut err),
        err,
    );
    assert_eq!(pr_disk_lock_enforcement(lock), PR_LOCK_FILE_AND_RESERVATION);
    assert_eq!(pr_disk_lock_name_kind(lock), PR_LOCK_NAME_SCSI);
    let map = lab.map.to_string_lossy().into_owned();
    let scsi_id = pr_lab_support::run_ok(
        "/lib/udev/scsi_id",
        &["--replace-whitespace", "--whitelisted", "--device", &map],
    );
    let name = text(pr_disk_lock_name(lock));
    assert_eq!(Some(name.as_str()), scsi_id.lines().next());
    assert!(dir.path().join(&name).exists());
    let keys = keys_of_lun_device(node2);
    assert_eq!(keys.iter().filter(|&&k| k == K1).count(), lab.paths.len());
    assert_eq!(keys.len(), lab.paths.len());
    assert_eq!(
        holder_of(node2),
        Some((K1, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY))
    );

    // Node 2, as a LUN of its one path, is refused with node 1's key, leaving nothing.
    let node2_path = c(&lab.node2[0]);
    let paths = [node2_path.as_ptr()];
    let name2 = CString::new("node2").unwrap();
    let mut lun2 = ptr::null_mut();
    ok(
        "node-2 LUN",
        pr_lun_open_paths(name2.as_ptr(), paths.as_ptr(), 1, &mut lun2, &mut err),
        err,
    );
    let mut refused = ptr::null_mut();
    let r = pr_lun_lock_acquire(lun2, K2, PR_LOCK_EXCLUSIVE, 0, &mut refused, &mut err);
    assert_eq!(r, pr_result::PR_ERR_LOCK_HELD);
    let mut n = 0;
    let holders = pr_error_holders(err, &mut n);
    assert_eq!(n, 1);
    // SAFETY: one key at `holders`, owned by `err`, freed below.
    assert_eq!(unsafe { *holders }, K1);
    pr_error_free(err);
    err = ptr::null_mut();
    assert!(refused.is_null());
    assert_eq!(keys_of_lun_device(node2).len(), lab.paths.len());

    // Release: reservation, registrations and lock file gone.
    ok("release", pr_disk_lock_release(lock, &mut err), err);
    assert!(keys_of_lun_device(node2).is_empty());
    assert_eq!(holder_of(node2), None);
    assert!(!dir.path().join(&name).exists());
    pr_disk_lock_free(lock);
    pr_lun_free(lun2);
    reset(node2);
    pr_device_free(node2);
    pr_library_exit();
}

fn keys_of_lun_device(dev: *const pr_device) -> Vec<u64> {
    let mut err = ptr::null_mut();
    let mut k = ptr::null_mut();
    ok("read keys", pr_device_read_keys(dev, &mut k, &mut err), err);
    keys_taken(k)
}
