// SPDX-License-Identifier: MIT OR Apache-2.0
//! VM disk locks (pr-lock) for C: `pr_disk_lock` (the lock file libvirt's virtlockd would
//! use, then the LUN's reservation) and `pr_lun_lock` (the reservation alone), with
//! `pr_lun_release_key` for a lock an earlier process kept. Every rule is pr-lock's
//! (naming, the fcntl lock, reservation types, refusing and forcing, release order); this
//! module converts C arguments, results and errors, as the CLI's `prsdk lock` and Python's
//! `pr_sdk.DiskLock`/`LunLock` do.
#![allow(non_camel_case_types)]

use std::ffi::{CString, c_char};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use pr_core::types::ReservationKey;
use pr_lock::{
    DiskLock, DiskLockRequest, Enforcement, LockspaceConfig, LunLock, LunLockOptions, Mode,
    NameKind, Storage,
};
use pr_multipath::FenceAction;

use crate::api::lun::pr_lun;
use crate::api::prout::check_flags;
use crate::error::{ErrorInfo, cstring, pr_error, pr_result};
use crate::ffi::{
    Handle, Out, boundary, boundary_or, free_handle, handle_ref, into_handle, opt_str_arg,
    sized_opt_ref, str_arg,
};

/// Lock mode: one holder (fcntl `F_WRLCK`; Write Exclusive, Registrants Only).
pub const PR_LOCK_EXCLUSIVE: u32 = 0;
/// Lock mode: many holders, as libvirt's `<shareable/>` disks (fcntl `F_RDLCK`; Write
/// Exclusive, All Registrants).
pub const PR_LOCK_SHARED: u32 = 1;

/// `pr_lun_lock_acquire` flag: fence the other holders instead of failing (only for a
/// caller that knows they are dead or must lose the disk).
pub const PR_LOCK_FORCE: u32 = 0x01;
/// `pr_lun_lock_acquire` flag: forcing sends PREEMPT instead of PREEMPT AND ABORT (for
/// targets where PREEMPT AND ABORT is a problem, as LIO over tcm_loop).
pub const PR_LOCK_PREEMPT_ONLY: u32 = 0x02;

/// How a lock file is named: the SHA-256 of the disk path, in `file_lockspace_dir`.
pub const PR_LOCK_NAME_SHA256: u32 = 1;
/// How a lock file is named: the SCSI ID (`scsi_id`), in `scsi_lockspace_dir`.
pub const PR_LOCK_NAME_SCSI: u32 = 2;
/// How a lock file is named: the LVM UUID (`lvs`), in `lvm_lockspace_dir`.
pub const PR_LOCK_NAME_LVM: u32 = 3;
/// How a lock file is named: the disk itself (a direct lease; no lockspace directory
/// applies).
pub const PR_LOCK_NAME_DIRECT: u32 = 4;

/// Enforcement of a disk lock: the lock file and the LUN's reservation.
pub const PR_LOCK_FILE_AND_RESERVATION: u32 = 1;
/// Enforcement of a disk lock: the lock file only (no key, `file_only`, or the disk is not
/// a SCSI device; `pr_disk_lock_file_only_reason` says which).
pub const PR_LOCK_FILE_ONLY: u32 = 2;

/// How `pr_disk_lock_acquire` locks a disk. Zero-initialise it and set `struct_size` to
/// `sizeof(pr_disk_lock_options)` (the size your header declares: later versions of the
/// library append fields and give the defaults to a smaller struct); a NULL options
/// pointer means all defaults: exclusive, no lockspace directory (a direct lease on the
/// disk itself), no key (the lock file only).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct pr_disk_lock_options {
    /// `sizeof(pr_disk_lock_options)`.
    pub struct_size: usize,
    /// This host's reservation key, distinct per host; 0: none, the lock file only.
    pub key: u64,
    /// `PR_LOCK_EXCLUSIVE` or `PR_LOCK_SHARED`.
    pub mode: u32,
    /// Fence the LUN's other holders instead of failing (needs a key). The lock file is
    /// never forced: a live holder of it cannot be overridden.
    pub force: bool,
    /// Forcing sends PREEMPT instead of PREEMPT AND ABORT.
    pub preempt_only: bool,
    /// Holding the lock file proves that the previous holder is gone (the lockspace is on
    /// a shared filesystem every host uses): a LUN still held by another key is fenced as
    /// if forced. Off by default.
    pub file_lock_decides_liveness: bool,
    /// No reservation: the lock file only, even with a key (contradicts `lun`).
    pub file_only: bool,
    /// libvirt's `file_lockspace_dir` (NULL: not configured).
    pub file_lockspace_dir: *const c_char,
    /// libvirt's `scsi_lockspace_dir` (NULL: not configured).
    pub scsi_lockspace_dir: *const c_char,
    /// libvirt's `lvm_lockspace_dir` (NULL: not configured).
    pub lvm_lockspace_dir: *const c_char,
    /// The LUN that enforces the lock, already open (or simulated); it must outlive the
    /// call (the lock keeps its own reference). NULL: the disk path is opened through the
    /// front door, and a disk that is not a SCSI device gets the lock file only.
    pub lun: *const pr_lun,
}

// `sized_opt_ref` reads `struct_size` at offset 0.
const _: () = assert!(std::mem::offset_of!(pr_disk_lock_options, struct_size) == 0);

/// The size of the first version of `pr_disk_lock_options`.
const DISK_LOCK_OPTIONS_V1: usize = std::mem::size_of::<pr_disk_lock_options>();

impl Default for pr_disk_lock_options {
    fn default() -> Self {
        pr_disk_lock_options {
            struct_size: std::mem::size_of::<Self>(),
            key: 0,
            mode: PR_LOCK_EXCLUSIVE,
            force: false,
            preempt_only: false,
            file_lock_decides_liveness: false,
            file_only: false,
            file_lockspace_dir: std::ptr::null(),
            scsi_lockspace_dir: std::ptr::null(),
            lvm_lockspace_dir: std::ptr::null(),
            lun: std::ptr::null(),
        }
    }
}

/// A disk lock taken by `pr_disk_lock_acquire`: the lock file (held by this process: fcntl
/// locks belong to the process and go with it) and, unless file-only, the LUN's
/// reservation. `pr_disk_lock_release` releases it; `pr_disk_lock_free` frees the handle,
/// releasing the lock first if it is still held. Thread-safe.
pub struct pr_disk_lock {
    _private: [u8; 0],
}

/// A LUN lock taken by `pr_lun_lock_acquire`: this host's key registered on every path and
/// the reservation. `pr_lun_lock_release` releases it, `pr_lun_lock_keep` leaves it on the
/// LUN; `pr_lun_lock_free` frees the handle, releasing the lock first if it is still held.
/// Thread-safe.
pub struct pr_lun_lock {
    _private: [u8; 0],
}

/// What a `pr_disk_lock` holds: the lock while held, and what C reads about it (fixed at
/// acquire, valid as long as the handle).
pub(crate) struct DiskLockHandle {
    held: Mutex<Option<DiskLock>>,
    path: CString,
    name: CString,
    kind: u32,
    enforcement: u32,
    reason: Option<CString>,
    key: u64,
    mode: u32,
}

/// What a `pr_lun_lock` holds.
pub(crate) struct LunLockHandle {
    held: Mutex<Option<LunLock>>,
    key: u64,
    mode: u32,
}

impl Handle for pr_disk_lock {
    type Inner = DiskLockHandle;
}
impl Handle for pr_lun_lock {
    type Inner = LunLockHandle;
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn mode_arg(mode: u32, name: &str) -> Result<Mode, ErrorInfo> {
    match mode {
        PR_LOCK_EXCLUSIVE => Ok(Mode::Exclusive),
        PR_LOCK_SHARED => Ok(Mode::Shared),
        other => Err(ErrorInfo::invalid(
            name,
            format!("{other} is not a lock mode (PR_LOCK_EXCLUSIVE 0, PR_LOCK_SHARED 1)"),
        )),
    }
}

fn mode_code(mode: Mode) -> u32 {
    match mode {
        Mode::Exclusive => PR_LOCK_EXCLUSIVE,
        Mode::Shared => PR_LOCK_SHARED,
    }
}

fn kind_code(kind: NameKind) -> u32 {
    match kind {
        NameKind::Sha256 => PR_LOCK_NAME_SHA256,
        NameKind::Scsi => PR_LOCK_NAME_SCSI,
        NameKind::Lvm => PR_LOCK_NAME_LVM,
        NameKind::Direct => PR_LOCK_NAME_DIRECT,
    }
}

fn dir_arg(ptr: *const c_char, name: &str) -> Result<Option<PathBuf>, ErrorInfo> {
    Ok(opt_str_arg(ptr, name)?.map(PathBuf::from))
}

/// The pr-lock request of a `pr_disk_lock_acquire` call.
fn disk_request(disk: &str, o: &pr_disk_lock_options) -> Result<DiskLockRequest, ErrorInfo> {
    let mode = mode_arg(o.mode, "options->mode")?;
    let lockspace = LockspaceConfig {
        file_dir: dir_arg(o.file_lockspace_dir, "options->file_lockspace_dir")?,
        scsi_dir: dir_arg(o.scsi_lockspace_dir, "options->scsi_lockspace_dir")?,
        lvm_dir: dir_arg(o.lvm_lockspace_dir, "options->lvm_lockspace_dir")?,
    };
    if o.force && o.key == 0 {
        return Err(ErrorInfo::invalid(
            "options->force",
            "forcing needs a key (only a LUN's reservation can be forced, never a lock file)",
        ));
    }
    let mut request = DiskLockRequest::new(disk, mode, lockspace).force(o.force);
    if o.key != 0 {
        request = request.key(ReservationKey(o.key));
    }
    if o.preempt_only {
        request.lun_options.fence_action = FenceAction::Preempt;
    }
    request.file_lock_decides_liveness = o.file_lock_decides_liveness;
    request.storage = match (!o.lun.is_null(), o.file_only) {
        (true, true) => {
            return Err(ErrorInfo::invalid(
                "options->file_only",
                "a LUN (options->lun) and file_only contradict each other",
            ));
        }
        (true, false) => Storage::Lun(handle_ref(o.lun, "options->lun")?.lun().clone()),
        (false, true) => Storage::None,
        (false, false) => Storage::Open,
    };
    Ok(request)
}

/// Locks `disk` (its path exactly as the domain XML names it: it names the lock file) as
/// libvirt's virtlockd would, then (with a key) with the LUN's reservation, into `*out`
/// (free with `pr_disk_lock_free`). The lock file is named as libvirt does: a `/dev` path
/// with `lvm_lockspace_dir` by its LVM UUID (`lvs`), with `scsi_lockspace_dir` by its SCSI
/// ID (`scsi_id`), else with `file_lockspace_dir` by the SHA-256 of the path, else the disk
/// itself (a direct lease). `options` may be NULL (see `pr_disk_lock_options`). Errors:
/// `PR_ERR_LOCK_FILE_BUSY`, `PR_ERR_LOCK_HELD` (another host holds the LUN: its keys in
/// `pr_error_holders`; nothing of this call is left), `PR_ERR_LOCK_HELD_BY_THIS_PROCESS`,
/// `PR_ERR_NO_LOCKSPACE`, `PR_ERR_LOCKSPACE_NOT_A_DIRECTORY`, `PR_ERR_PERMISSION_DENIED`,
/// `PR_ERR_LOCK_NAME_PROGRAM`, a PR command's own code with its SCSI status and sense
/// data; on any error nothing is held.
#[unsafe(no_mangle)]
pub extern "C" fn pr_disk_lock_acquire(
    disk: *const c_char,
    options: *const pr_disk_lock_options,
    out: *mut *mut pr_disk_lock,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let disk = str_arg(disk, "disk")?;
        let o = sized_opt_ref(
            options,
            DISK_LOCK_OPTIONS_V1,
            pr_disk_lock_options::default(),
            "options",
        )?
        .unwrap_or_default();
        let request = disk_request(disk, &o)?;
        let out = Out::new(out, "out")?;
        let held = DiskLock::acquire(&request).map_err(|e| {
            tracing::debug!(target: "pr_sdk", "{disk}: disk lock: {e}");
            ErrorInfo::from(e)
        })?;
        let resource = held.resource();
        let (enforcement, reason) = match held.enforcement() {
            Enforcement::FileAndReservation => (PR_LOCK_FILE_AND_RESERVATION, None),
            Enforcement::FileOnly(why) => (PR_LOCK_FILE_ONLY, Some(cstring(why.as_str()))),
        };
        let handle = DiskLockHandle {
            path: cstring(resource.path().display().to_string()),
            name: cstring(resource.name.as_str()),
            kind: kind_code(resource.kind),
            enforcement,
            reason,
            key: o.key,
            mode: mode_code(request.mode),
            held: Mutex::new(Some(held)),
        };
        tracing::debug!(target: "pr_sdk", "{disk}: disk lock acquired ({})",
            handle.path.to_string_lossy());
        out.write(into_handle::<pr_disk_lock>(handle));
        Ok(())
    })
}

/// Releases the lock: the LUN's reservation and registration, then the lock file (unlinked
/// as virtlockd does); both are attempted and the first error is returned (the lock is no
/// longer held either way). A lock already released: nothing to do, `PR_OK`. The handle
/// stays valid (its getters still describe what was locked) until `pr_disk_lock_free`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_disk_lock_release(
    lock: *mut pr_disk_lock,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let h = handle_ref(lock, "lock")?;
        // Taken out under the mutex, released without it.
        let held = self::lock(&h.held).take();
        match held {
            Some(l) => Ok(l.release()?),
            None => Ok(()),
        }
    })
}

/// Frees a disk lock handle, releasing the lock first if it is still held (errors then
/// only logged; call `pr_disk_lock_release` to see them). NULL is a no-op. A child made by
/// `fork()` must not free its parent's locks' handles expecting to release them: it holds
/// none of its parent's fcntl locks (its copy never unlinks the parent's lock file), and
/// releasing would remove the parent's reservation.
#[unsafe(no_mangle)]
pub extern "C" fn pr_disk_lock_free(lock: *mut pr_disk_lock) {
    boundary_or((), || free_handle(lock));
}

fn disk_ref<'a>(l: *const pr_disk_lock) -> Option<&'a DiskLockHandle> {
    handle_ref(l, "lock").ok()
}

/// Whether the lock is held (acquired and not yet released); false for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_disk_lock_is_held(lock: *const pr_disk_lock) -> bool {
    boundary_or(false, || {
        disk_ref(lock).is_some_and(|h| self::lock(&h.held).is_some())
    })
}

/// The lock file (for a direct lease, the disk itself); valid as long as the handle. NULL
/// for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_disk_lock_path(lock: *const pr_disk_lock) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        disk_ref(lock).map_or(std::ptr::null(), |h| h.path.as_ptr())
    })
}

/// The lockspace resource name (the SHA-256, SCSI ID or LVM UUID, or the disk path for a
/// direct lease); valid as long as the handle. NULL for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_disk_lock_name(lock: *const pr_disk_lock) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        disk_ref(lock).map_or(std::ptr::null(), |h| h.name.as_ptr())
    })
}

/// How the lock file was named (`PR_LOCK_NAME_*`); 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_disk_lock_name_kind(lock: *const pr_disk_lock) -> u32 {
    boundary_or(0, || disk_ref(lock).map_or(0, |h| h.kind))
}

/// How the lock is enforced: `PR_LOCK_FILE_AND_RESERVATION` or `PR_LOCK_FILE_ONLY`; 0 for
/// NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_disk_lock_enforcement(lock: *const pr_disk_lock) -> u32 {
    boundary_or(0, || disk_ref(lock).map_or(0, |h| h.enforcement))
}

/// Why the lock file alone enforces the lock ("no reservation key given", "no LUN asked
/// for", or why the disk is not a SCSI device); NULL when the reservation enforces it too,
/// and for NULL. Valid as long as the handle.
#[unsafe(no_mangle)]
pub extern "C" fn pr_disk_lock_file_only_reason(lock: *const pr_disk_lock) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        disk_ref(lock)
            .and_then(|h| h.reason.as_ref())
            .map_or(std::ptr::null(), |r| r.as_ptr())
    })
}

/// The reservation key given (0: none); 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_disk_lock_key(lock: *const pr_disk_lock) -> u64 {
    boundary_or(0, || disk_ref(lock).map_or(0, |h| h.key))
}

/// The mode (`PR_LOCK_EXCLUSIVE` or `PR_LOCK_SHARED`); `PR_LOCK_EXCLUSIVE` for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_disk_lock_mode(lock: *const pr_disk_lock) -> u32 {
    boundary_or(PR_LOCK_EXCLUSIVE, || {
        disk_ref(lock).map_or(PR_LOCK_EXCLUSIVE, |h| h.mode)
    })
}

/// Locks `lun` with its reservation alone (no lock file), with this host's `key` (not 0;
/// distinct per host: SCSI tells hosts apart only by key) in `mode` (`PR_LOCK_*`): `key`
/// registered on every path, then RESERVE (exclusive: Write Exclusive, Registrants Only;
/// shared: Write Exclusive, All Registrants), into `*out` (free with `pr_lun_lock_free`).
/// Flags: `PR_LOCK_FORCE`, `PR_LOCK_PREEMPT_ONLY`. `PR_ERR_LOCK_HELD` when another host
/// holds the LUN (its keys in `pr_error_holders`; nothing of this call left), else a PR
/// command's own error.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_lock_acquire(
    lun: *const pr_lun,
    key: u64,
    mode: u32,
    flags: u32,
    out: *mut *mut pr_lun_lock,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let l = handle_ref(lun, "lun")?.lun().clone();
        if key == 0 {
            return Err(ErrorInfo::invalid(
                "key",
                "the reservation key must not be 0",
            ));
        }
        let m = mode_arg(mode, "mode")?;
        check_flags(
            flags,
            PR_LOCK_FORCE | PR_LOCK_PREEMPT_ONLY,
            "pr_lun_lock_acquire",
        )?;
        let out = Out::new(out, "out")?;
        let options = LunLockOptions {
            force: flags & PR_LOCK_FORCE != 0,
            fence_action: if flags & PR_LOCK_PREEMPT_ONLY != 0 {
                FenceAction::Preempt
            } else {
                FenceAction::PreemptAndAbort
            },
            ..LunLockOptions::default()
        };
        let held = LunLock::acquire(&l, ReservationKey(key), m, &options).map_err(|e| {
            tracing::debug!(target: "pr_sdk", "{}: LUN lock: {e}", l.name());
            ErrorInfo::from(e)
        })?;
        out.write(into_handle::<pr_lun_lock>(LunLockHandle {
            held: Mutex::new(Some(held)),
            key,
            mode,
        }));
        Ok(())
    })
}

/// Releases the lock: RELEASE if this key holds the reservation, then unregisters every
/// path. `PR_ERR_LOCK_NOT_HELD` when the key was fenced meanwhile (nothing changed). A
/// lock already released or kept: nothing to do, `PR_OK`. The handle stays valid until
/// `pr_lun_lock_free`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_lock_release(
    lock: *mut pr_lun_lock,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let h = handle_ref(lock, "lock")?;
        let held = self::lock(&h.held).take();
        match held {
            Some(l) => Ok(l.release()?),
            None => Ok(()),
        }
    })
}

/// Leaves the lock on the LUN (for a lock that must outlive this process; a later process
/// releases it with `pr_lun_release_key`) and writes its key to `*key`; the handle then
/// holds nothing. `PR_ERR_LOCK_NOT_HELD` when it was released or kept already.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_lock_keep(
    lock: *mut pr_lun_lock,
    key: *mut u64,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let h = handle_ref(lock, "lock")?;
        let out = Out::new(key, "key")?;
        let held = self::lock(&h.held).take();
        let Some(l) = held else {
            return Err(ErrorInfo::new(
                pr_result::PR_ERR_LOCK_NOT_HELD,
                format!(
                    "key {}: this LUN lock was released or kept already: nothing to keep",
                    ReservationKey(h.key)
                ),
            ));
        };
        out.write(l.keep().0);
        Ok(())
    })
}

/// Frees a LUN lock handle, releasing the lock first if it is still held (errors then only
/// logged). NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_lock_free(lock: *mut pr_lun_lock) {
    boundary_or((), || free_handle(lock));
}

fn lun_lock_ref<'a>(l: *const pr_lun_lock) -> Option<&'a LunLockHandle> {
    handle_ref(l, "lock").ok()
}

/// Whether the lock is held (acquired, not yet released or kept); false for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_lock_is_held(lock: *const pr_lun_lock) -> bool {
    boundary_or(false, || {
        lun_lock_ref(lock).is_some_and(|h| self::lock(&h.held).is_some())
    })
}

/// This host's key; 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_lock_key(lock: *const pr_lun_lock) -> u64 {
    boundary_or(0, || lun_lock_ref(lock).map_or(0, |h| h.key))
}

/// The mode (`PR_LOCK_EXCLUSIVE` or `PR_LOCK_SHARED`); `PR_LOCK_EXCLUSIVE` for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_lock_mode(lock: *const pr_lun_lock) -> u32 {
    boundary_or(PR_LOCK_EXCLUSIVE, || {
        lun_lock_ref(lock).map_or(PR_LOCK_EXCLUSIVE, |h| h.mode)
    })
}

/// Releases the lock of `mode` that `key` holds on `lun`, taken by this or an earlier
/// process of this host (after `pr_lun_lock_keep`): RELEASE if `key` holds the
/// reservation, then unregisters every path. `PR_ERR_LOCK_NOT_HELD` when `key` is not
/// registered.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_release_key(
    lun: *const pr_lun,
    key: u64,
    mode: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let l = handle_ref(lun, "lun")?.lun().clone();
        if key == 0 {
            return Err(ErrorInfo::invalid(
                "key",
                "the reservation key must not be 0",
            ));
        }
        let m = mode_arg(mode, "mode")?;
        Ok(pr_lock::release_key(&l, ReservationKey(key), m)?)
    })
}
