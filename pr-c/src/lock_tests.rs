// SPDX-License-Identifier: MIT OR Apache-2.0
//! Rust-side tests of the lock calls (`pr_disk_lock_*`, `pr_lun_lock_*`,
//! `pr_lun_release_key`) on a simulated cluster of two hosts with two paths each (pr-lock's
//! own `tests/lun_locks.rs` scenarios, through the C ABI): refusal naming the holder,
//! forcing, the fenced host's WRITE refused by the LUN, keep and release by key, disk locks
//! over a `pr_lun` and file-only, and every bad argument. `tests/c/locks.c` (run by
//! `test.sh`) does the same from C, with a forked child contending for a lock file.

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use pr_core::outcome::CommandError;
use pr_core::transport::{Cdb, Request, Transport};
use pr_multipath::blocking;

use crate::error::ErrorInfo;
use crate::ffi::handle_ref;
use crate::*;

const K1: u64 = 0x1111;
const K2: u64 = 0x2222;

fn text(p: *const c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: the library returns NUL-terminated strings that live as long as their owner,
    // which the caller keeps alive.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The code, message and holders of a failed call's error (freed here).
fn failure(r: pr_result, err: *mut pr_error) -> (pr_result, String, Vec<u64>, Option<String>) {
    assert_ne!(r, pr_result::PR_OK);
    assert!(!err.is_null(), "no error object for {r:?}");
    assert_eq!(pr_error_code(err), r);
    let msg = text(pr_error_message(err));
    let mut n = usize::MAX;
    let p = pr_error_holders(err, &mut n);
    let holders = if n == 0 {
        assert!(p.is_null());
        Vec::new()
    } else {
        // SAFETY: `n` keys at `p`, owned by `err`, which lives until freed below.
        unsafe { std::slice::from_raw_parts(p, n) }.to_vec()
    };
    let path = (!pr_error_path(err).is_null()).then(|| text(pr_error_path(err)));
    pr_error_free(err);
    (r, msg, holders, path)
}

struct Cluster {
    sim: *mut pr_sim,
    lun: [*mut pr_lun; 2],
}

impl Cluster {
    fn new(personality: u32) -> Self {
        let mut err = ptr::null_mut();
        let mut sim = ptr::null_mut();
        assert_eq!(
            pr_sim_cluster(2, 2, 1, personality, &mut sim, &mut err),
            pr_result::PR_OK
        );
        let mut lun = [ptr::null_mut(); 2];
        for (node, l) in lun.iter_mut().enumerate() {
            assert_eq!(
                pr_sim_cluster_lun(sim, node, 0, l, &mut err),
                pr_result::PR_OK
            );
        }
        Cluster { sim, lun }
    }

    fn keys(&self) -> Vec<u64> {
        let mut err = ptr::null_mut();
        let mut k = ptr::null_mut();
        assert_eq!(
            pr_lun_read_keys(self.lun[0], &mut k, &mut err),
            pr_result::PR_OK
        );
        let mut out = Vec::new();
        for i in 0..pr_keys_count(k) {
            let mut v = 0;
            assert_eq!(pr_keys_get(k, i, &mut v, &mut err), pr_result::PR_OK);
            out.push(v);
        }
        pr_keys_free(k);
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The reservation's holder and type, if any.
    fn holder(&self) -> Option<(u64, u32)> {
        let mut err = ptr::null_mut();
        let mut r = ptr::null_mut();
        assert_eq!(
            pr_lun_read_reservation(self.lun[0], &mut r, &mut err),
            pr_result::PR_OK
        );
        let out =
            pr_reservation_is_held(r).then(|| (pr_reservation_key(r), pr_reservation_type(r)));
        pr_reservation_free(r);
        out
    }

    /// WRITE(10) of block 0 down each of node `n`'s paths: true where it was GOOD, false
    /// where it got RESERVATION CONFLICT (re-sent after UNIT ATTENTION).
    fn writes(&self, n: usize) -> Vec<bool> {
        let core = handle_ref(self.sim.cast_const(), "sim").unwrap();
        (0..2)
            .map(|port| {
                let mut id = 0;
                let mut err = ptr::null_mut();
                assert_eq!(
                    pr_sim_cluster_path(self.sim, n, 0, port, &mut id, &mut err),
                    pr_result::PR_OK
                );
                let path = core.path(id, "path").unwrap();
                blocking::block_on(async move {
                    for _ in 0..4 {
                        let cdb = Cdb::new(&[0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0]).unwrap();
                        let req = Request::data_out(cdb, vec![0x5a; ::pr_sim::BLOCK_LEN]);
                        let r = path.execute(req).await.unwrap();
                        match r.completion.check() {
                            Ok(()) => return true,
                            Err(CommandError::UnitAttention { .. }) => continue,
                            Err(e) if e.is_reservation_conflict() => return false,
                            Err(e) => panic!("WRITE: {e}"),
                        }
                    }
                    panic!("UNIT ATTENTION four times")
                })
                .unwrap()
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for l in self.lun {
            pr_lun_free(l);
        }
        pr_sim_free(self.sim);
    }
}

#[test]
fn lun_locks_refuse_name_the_holder_force_and_fence_writes() {
    let _g = crate::tests::serial();
    for personality in [PR_SIM_SPC5, PR_SIM_LIO] {
        let c = Cluster::new(personality);
        let mut err = ptr::null_mut();
        let mut l1 = ptr::null_mut();
        assert_eq!(
            pr_lun_lock_acquire(c.lun[0], K1, PR_LOCK_EXCLUSIVE, 0, &mut l1, &mut err),
            pr_result::PR_OK
        );
        assert!(pr_lun_lock_is_held(l1));
        assert_eq!(pr_lun_lock_key(l1), K1);
        assert_eq!(c.holder(), Some((K1, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY)));

        // Node 2 is refused, told node 1's key, and leaves nothing on the LUN.
        let mut l2 = ptr::null_mut();
        let r = pr_lun_lock_acquire(c.lun[1], K2, PR_LOCK_EXCLUSIVE, 0, &mut l2, &mut err);
        let (code, msg, holders, path) = failure(r, err);
        assert_eq!(code, pr_result::PR_ERR_LOCK_HELD);
        assert_eq!(holders, vec![K1]);
        assert!(msg.contains("0x1111") && msg.contains("force"), "{msg}");
        assert_eq!(path.as_deref(), Some("lun0"));
        assert!(l2.is_null());
        assert_eq!(c.keys(), vec![K1]);
        assert_eq!(c.writes(0), vec![true, true]);

        // Node 2 forces: node 1 is fenced, its WRITEs conflict on both paths.
        err = ptr::null_mut();
        assert_eq!(
            pr_lun_lock_acquire(
                c.lun[1],
                K2,
                PR_LOCK_EXCLUSIVE,
                PR_LOCK_FORCE,
                &mut l2,
                &mut err
            ),
            pr_result::PR_OK
        );
        assert_eq!(c.keys(), vec![K2]);
        assert_eq!(c.holder(), Some((K2, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY)));
        assert_eq!(c.writes(0), vec![false, false]);
        assert_eq!(c.writes(1), vec![true, true]);

        // Node 1's release finds its key gone: not held, nothing changed.
        let r = pr_lun_lock_release(l1, &mut err);
        assert_eq!(failure(r, err).0, pr_result::PR_ERR_LOCK_NOT_HELD);
        assert!(!pr_lun_lock_is_held(l1));
        err = ptr::null_mut();
        assert_eq!(pr_lun_lock_release(l1, &mut err), pr_result::PR_OK);
        pr_lun_lock_free(l1);
        assert_eq!(c.keys(), vec![K2]);

        // Node 2 keeps its lock past the handle, then releases it by key.
        let mut kept = 0;
        assert_eq!(pr_lun_lock_keep(l2, &mut kept, &mut err), pr_result::PR_OK);
        assert_eq!(kept, K2);
        let r = pr_lun_lock_keep(l2, &mut kept, &mut err);
        assert_eq!(failure(r, err).0, pr_result::PR_ERR_LOCK_NOT_HELD);
        err = ptr::null_mut();
        pr_lun_lock_free(l2);
        assert_eq!(c.holder(), Some((K2, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY)));
        assert_eq!(
            pr_lun_release_key(c.lun[1], K2, PR_LOCK_EXCLUSIVE, &mut err),
            pr_result::PR_OK
        );
        assert_eq!(c.keys(), Vec::<u64>::new());
        assert_eq!(c.holder(), None);
        let r = pr_lun_release_key(c.lun[1], K2, PR_LOCK_EXCLUSIVE, &mut err);
        assert_eq!(failure(r, err).0, pr_result::PR_ERR_LOCK_NOT_HELD);
    }
}

#[test]
fn shared_lun_locks_coexist_and_free_releases() {
    let _g = crate::tests::serial();
    let c = Cluster::new(PR_SIM_SPC5);
    let mut err = ptr::null_mut();
    let (mut a, mut b) = (ptr::null_mut(), ptr::null_mut());
    assert_eq!(
        pr_lun_lock_acquire(c.lun[0], K1, PR_LOCK_SHARED, 0, &mut a, &mut err),
        pr_result::PR_OK
    );
    assert_eq!(
        pr_lun_lock_acquire(c.lun[1], K2, PR_LOCK_SHARED, 0, &mut b, &mut err),
        pr_result::PR_OK
    );
    assert_eq!(pr_lun_lock_mode(b), PR_LOCK_SHARED);
    assert_eq!(c.keys(), vec![K1, K2]);
    assert_eq!(
        c.holder().map(|h| h.1),
        Some(PR_TYPE_WRITE_EXCLUSIVE_ALL_REGS)
    );
    assert_eq!(c.writes(0), vec![true, true]);
    assert_eq!(c.writes(1), vec![true, true]);
    // Freeing a held lock releases it, as dropping a LunLock does.
    pr_lun_lock_free(a);
    assert_eq!(c.keys(), vec![K2]);
    pr_lun_lock_free(b);
    assert_eq!(c.keys(), Vec::<u64>::new());
    assert_eq!(c.holder(), None);
}

fn options() -> pr_disk_lock_options {
    pr_disk_lock_options::default()
}

fn acquire(disk: &str, o: &pr_disk_lock_options) -> Result<*mut pr_disk_lock, pr_result> {
    let disk = CString::new(disk).unwrap();
    let mut l = ptr::null_mut();
    let mut err = ptr::null_mut();
    match pr_disk_lock_acquire(disk.as_ptr(), o, &mut l, &mut err) {
        pr_result::PR_OK => Ok(l),
        r => {
            pr_error_free(err);
            Err(r)
        }
    }
}

#[test]
fn a_disk_lock_over_a_lun_holds_the_file_and_the_reservation() {
    let _g = crate::tests::serial();
    let c = Cluster::new(PR_SIM_SPC5);
    let dir = tempfile::tempdir().unwrap();
    let dir_c = CString::new(dir.path().to_str().unwrap()).unwrap();
    let disk = "/dev/mapper/mpatha";
    let mut o = options();
    o.file_lockspace_dir = dir_c.as_ptr();
    o.key = K1;
    o.lun = c.lun[0];
    let l = acquire(disk, &o).unwrap();
    let file = dir.path().join(pr_lock::names::sha256_name(disk));
    assert_eq!(text(pr_disk_lock_path(l)), file.display().to_string());
    assert_eq!(
        text(pr_disk_lock_name(l)),
        pr_lock::names::sha256_name(disk)
    );
    assert_eq!(pr_disk_lock_name_kind(l), PR_LOCK_NAME_SHA256);
    assert_eq!(pr_disk_lock_enforcement(l), PR_LOCK_FILE_AND_RESERVATION);
    assert!(pr_disk_lock_file_only_reason(l).is_null());
    assert_eq!(pr_disk_lock_key(l), K1);
    assert!(file.exists());
    assert_eq!(c.holder(), Some((K1, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY)));

    // Node 2 over another lockspace (its own host's) is refused by the LUN, with K1.
    let dir2 = tempfile::tempdir().unwrap();
    let dir2_c = CString::new(dir2.path().to_str().unwrap()).unwrap();
    let mut o2 = o;
    o2.file_lockspace_dir = dir2_c.as_ptr();
    o2.key = K2;
    o2.lun = c.lun[1];
    let mut l2 = ptr::null_mut();
    let mut err = ptr::null_mut();
    let disk_c = CString::new(disk).unwrap();
    let r = pr_disk_lock_acquire(disk_c.as_ptr(), &o2, &mut l2, &mut err);
    let (code, _, holders, _) = failure(r, err);
    assert_eq!(code, pr_result::PR_ERR_LOCK_HELD);
    assert_eq!(holders, vec![K1]);
    // Its lock file was released with the failure.
    assert_eq!(std::fs::read_dir(dir2.path()).unwrap().count(), 0);

    // Freeing the held lock releases both.
    pr_disk_lock_free(l);
    assert!(!file.exists());
    assert_eq!(c.keys(), Vec::<u64>::new());
}

#[test]
fn a_file_only_disk_lock_names_its_file_and_refuses_a_second_lock_of_this_process() {
    let _g = crate::tests::serial();
    let dir = tempfile::tempdir().unwrap();
    let dir_c = CString::new(dir.path().to_str().unwrap()).unwrap();
    let disk = "/var/lib/libvirt/images/vm1.qcow2";
    let mut o = options();
    o.file_lockspace_dir = dir_c.as_ptr();
    let l = acquire(disk, &o).unwrap();
    assert!(pr_disk_lock_is_held(l));
    assert_eq!(pr_disk_lock_enforcement(l), PR_LOCK_FILE_ONLY);
    assert_eq!(
        text(pr_disk_lock_file_only_reason(l)),
        "no reservation key given"
    );
    let file = dir.path().join(pr_lock::names::sha256_name(disk));
    assert!(file.exists());
    assert_eq!(
        acquire(disk, &o).unwrap_err(),
        pr_result::PR_ERR_LOCK_HELD_BY_THIS_PROCESS
    );
    let mut err = ptr::null_mut();
    assert_eq!(pr_disk_lock_release(l, &mut err), pr_result::PR_OK);
    assert!(!pr_disk_lock_is_held(l));
    assert!(!file.exists());
    // Released twice: nothing to do; the getters still describe the lock.
    assert_eq!(pr_disk_lock_release(l, &mut err), pr_result::PR_OK);
    assert_eq!(text(pr_disk_lock_path(l)), file.display().to_string());
    pr_disk_lock_free(l);

    // A key and file_only: the lock file only, said so.
    o.key = K1;
    o.file_only = true;
    let l = acquire(disk, &o).unwrap();
    assert_eq!(text(pr_disk_lock_file_only_reason(l)), "no LUN asked for");
    pr_disk_lock_free(l);
    assert!(!file.exists());

    // A NULL options pointer: a direct lease on the disk itself (here a file).
    let image = dir.path().join("image.raw");
    std::fs::write(&image, b"x").unwrap();
    let image_c = CString::new(image.to_str().unwrap()).unwrap();
    let mut l = ptr::null_mut();
    assert_eq!(
        pr_disk_lock_acquire(image_c.as_ptr(), ptr::null(), &mut l, &mut err),
        pr_result::PR_OK
    );
    assert_eq!(pr_disk_lock_name_kind(l), PR_LOCK_NAME_DIRECT);
    assert_eq!(text(pr_disk_lock_path(l)), image.display().to_string());
    pr_disk_lock_free(l);
    assert!(image.exists(), "a direct lease never unlinks the disk");
}

#[test]
fn bad_lock_arguments_are_named() {
    let _g = crate::tests::serial();
    let c = Cluster::new(PR_SIM_SPC5);
    let dir = tempfile::tempdir().unwrap();
    let missing = CString::new(dir.path().join("nope").to_str().unwrap()).unwrap();
    let a_file = dir.path().join("file");
    std::fs::write(&a_file, b"").unwrap();
    let a_file_c = CString::new(a_file.to_str().unwrap()).unwrap();
    let dir_c = CString::new(dir.path().to_str().unwrap()).unwrap();
    let disk = c"/var/lib/libvirt/images/vm1.qcow2";
    let call = |disk: *const c_char, o: &pr_disk_lock_options| {
        let mut l = ptr::null_mut();
        let mut err = ptr::null_mut();
        let r = pr_disk_lock_acquire(disk, o, &mut l, &mut err);
        assert!(l.is_null());
        failure(r, err)
    };

    let mut o = options();
    o.file_lockspace_dir = missing.as_ptr();
    let (code, msg, _, path) = call(disk.as_ptr(), &o);
    assert_eq!(code, pr_result::PR_ERR_NO_LOCKSPACE);
    assert!(msg.contains("does not exist"), "{msg}");
    assert_eq!(path.as_deref(), missing.to_str().ok());

    o.file_lockspace_dir = a_file_c.as_ptr();
    assert_eq!(
        call(disk.as_ptr(), &o).0,
        pr_result::PR_ERR_LOCKSPACE_NOT_A_DIRECTORY
    );

    o.file_lockspace_dir = dir_c.as_ptr();
    let (code, msg, ..) = call(ptr::null(), &o);
    assert_eq!(code, pr_result::PR_ERR_NULL_ARGUMENT);
    assert!(msg.contains("`disk`"), "{msg}");
    let bad_utf8 = [0x2f_u8, 0xff, 0xfe, 0];
    let (code, msg, ..) = call(bad_utf8.as_ptr().cast(), &o);
    assert_eq!(code, pr_result::PR_ERR_INVALID_ARGUMENT);
    assert!(msg.contains("`disk`") && msg.contains("UTF-8"), "{msg}");
    let (code, msg, ..) = call(c"relative/disk".as_ptr(), &o);
    assert_eq!(code, pr_result::PR_ERR_INVALID_ARGUMENT);
    assert!(msg.contains("`disk`"), "{msg}");

    let mut f = o;
    f.force = true;
    let (code, msg, ..) = call(disk.as_ptr(), &f);
    assert_eq!(code, pr_result::PR_ERR_INVALID_ARGUMENT);
    assert!(
        msg.contains("options->force") && msg.contains("key"),
        "{msg}"
    );

    let mut m = o;
    m.mode = 2;
    assert!(call(disk.as_ptr(), &m).1.contains("options->mode"));
    let mut both = o;
    both.lun = c.lun[0];
    both.file_only = true;
    assert!(call(disk.as_ptr(), &both).1.contains("contradict"));
    for size in [0, 8, std::mem::size_of::<pr_disk_lock_options>() + 8] {
        let mut s = o;
        s.struct_size = size;
        let (code, msg, ..) = call(disk.as_ptr(), &s);
        assert_eq!(code, pr_result::PR_ERR_INVALID_ARGUMENT);
        assert!(msg.contains("struct_size"), "{msg}");
    }
    let bad_dir = [0xff_u8, 0];
    let mut d = o;
    d.scsi_lockspace_dir = bad_dir.as_ptr().cast();
    assert!(
        call(disk.as_ptr(), &d)
            .1
            .contains("options->scsi_lockspace_dir")
    );
    // Nothing was left in the lockspace by any refused call.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let mut l = ptr::null_mut();
    let mut err = ptr::null_mut();
    let r = pr_lun_lock_acquire(
        c.lun[0],
        0,
        PR_LOCK_EXCLUSIVE,
        PR_LOCK_FORCE,
        &mut l,
        &mut err,
    );
    let (code, msg, ..) = failure(r, err);
    assert_eq!(code, pr_result::PR_ERR_INVALID_ARGUMENT);
    assert!(msg.contains("`key`"), "{msg}");
    let r = pr_lun_lock_acquire(c.lun[0], K1, 9, 0, &mut l, &mut err);
    assert!(failure(r, err).1.contains("`mode`"));
    let r = pr_lun_lock_acquire(c.lun[0], K1, PR_LOCK_EXCLUSIVE, 0x80, &mut l, &mut err);
    assert!(failure(r, err).1.contains("flags"));
    let r = pr_lun_lock_acquire(ptr::null(), K1, PR_LOCK_EXCLUSIVE, 0, &mut l, &mut err);
    assert_eq!(failure(r, err).0, pr_result::PR_ERR_NULL_ARGUMENT);
    let r = pr_lun_lock_acquire(
        c.lun[0],
        K1,
        PR_LOCK_EXCLUSIVE,
        0,
        ptr::null_mut(),
        &mut err,
    );
    assert_eq!(failure(r, err).0, pr_result::PR_ERR_NULL_ARGUMENT);
    let r = pr_lun_release_key(c.lun[0], 0, PR_LOCK_EXCLUSIVE, &mut err);
    assert_eq!(failure(r, err).0, pr_result::PR_ERR_INVALID_ARGUMENT);
    let r = pr_lun_lock_release(ptr::null_mut(), &mut err);
    assert_eq!(failure(r, err).0, pr_result::PR_ERR_NULL_ARGUMENT);
    let r = pr_disk_lock_release(ptr::null_mut(), &mut err);
    assert_eq!(failure(r, err).0, pr_result::PR_ERR_NULL_ARGUMENT);
    assert!(l.is_null());
    assert_eq!(c.keys(), Vec::<u64>::new());

    // Getters and frees take NULL.
    assert!(pr_disk_lock_path(ptr::null()).is_null());
    assert!(pr_disk_lock_name(ptr::null()).is_null());
    assert!(pr_disk_lock_file_only_reason(ptr::null()).is_null());
    assert_eq!(pr_disk_lock_name_kind(ptr::null()), 0);
    assert_eq!(pr_disk_lock_enforcement(ptr::null()), 0);
    assert!(!pr_disk_lock_is_held(ptr::null()));
    assert!(!pr_lun_lock_is_held(ptr::null()));
    assert_eq!(pr_lun_lock_key(ptr::null()), 0);
    let mut n = 7;
    assert!(pr_error_holders(ptr::null(), &mut n).is_null());
    assert_eq!(n, 0);
    pr_disk_lock_free(ptr::null_mut());
    pr_lun_lock_free(ptr::null_mut());
}

#[test]
fn lock_errors_map_to_their_codes() {
    use pr_core::types::ReservationKey;
    use pr_lock::Error as E;
    let io = |kind| E::Io {
        path: "/x".into(),
        what: "open/create lock file",
        source: std::io::Error::from(kind),
    };
    let cases = [
        (
            io(std::io::ErrorKind::PermissionDenied),
            pr_result::PR_ERR_PERMISSION_DENIED,
        ),
        (
            io(std::io::ErrorKind::NotFound),
            pr_result::PR_ERR_NOT_FOUND,
        ),
        (io(std::io::ErrorKind::Other), pr_result::PR_ERR_OS),
        (
            E::KeyProgram {
                program: "/lib/udev/scsi_id".into(),
                disk: "/dev/sdx".into(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            },
            pr_result::PR_ERR_LOCK_NAME_PROGRAM,
        ),
        (
            E::FenceFailed {
                lun: "lun0".into(),
                victim: ReservationKey(K1),
                reason: "x".into(),
            },
            pr_result::PR_ERR_FENCE_FAILED,
        ),
        (E::ZeroKey, pr_result::PR_ERR_INVALID_ARGUMENT),
        (
            E::Pr(pr_multipath::Error::NotScsi {
                what: "/tmp".into(),
                reason: "a directory".into(),
            }),
            pr_result::PR_ERR_NOT_SCSI,
        ),
    ];
    for (e, code) in cases {
        let info = ErrorInfo::from_lock(&e);
        assert_eq!(info.code, code, "{e}");
        assert!(info.message.to_str().unwrap().contains(&e.to_string()));
    }
    let f = ErrorInfo::from_lock(&E::FenceFailed {
        lun: "lun0".into(),
        victim: ReservationKey(K1),
        reason: "x".into(),
    });
    assert_eq!(f.holders, vec![K1]);
}
