//! The exported C entry points of `libmpathpersist.so.0`.
//!
//! Every function here is `#[unsafe(no_mangle)] extern "C"` with the exact C name, and
//! nothing else in the crate graph is: the cdylib exports exactly these (bound to their
//! version nodes in `symver.rs`). Each body runs inside a panic boundary, which turns a
//! panic into the function's failure value (`MPATH_PR_OTHER`, NULL, ...) instead of
//! letting it reach C. Pointer arguments are checked for NULL (`MPATH_PR_SYNTAX_ERROR`),
//! the caller's structures are copied into owned Rust values before any I/O, and the
//! results are written back only into the structure of the service action.

use core::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use pr_core::types::{PrInAction, ReservationKey};

use super::abi::*;
use super::ops::{self, ProutArgs, ProutOp, Target, TransportId_};
use super::runtime::{self, BridgeError};
use super::{fill, log, sys};

/// `mpath_mx_alloc_len`: when non-zero, the ALLOCATION LENGTH of every PR IN (capped at
/// 8192). A 4-byte writable data object, zero-initialised; `mpathpersist -l` writes it
/// (through a copy relocation in the executable, which the library reads through its GOT).
#[unsafe(no_mangle)]
#[allow(non_upper_case_globals)]
pub static mpath_mx_alloc_len: AtomicU32 = AtomicU32::new(0);

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// The opaque value `mpath_lib_init` returns (libmpathpersist returns its `struct
/// config *`; callers only pass it back to `mpath_lib_exit`).
static LIB_CONFIG: u8 = 0;

/// Runs `f`, turning a panic into `on_panic`.
fn boundary<R>(on_panic: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

fn bridge_code(e: BridgeError) -> c_int {
    match e {
        BridgeError::Start => MPATH_PR_THREAD_ERROR,
        BridgeError::Lost => MPATH_PR_OTHER,
    }
}

// -------------------------------------------------------------------------------------
// Library setup
// -------------------------------------------------------------------------------------

/// `int libmpathpersist_init(void)`: 0. The configuration (`/etc/multipath.conf`, the
/// prkeys file) is read by each call, so nothing is loaded here; the runtime thread
/// starts with the first PR call. May be called again after `libmpathpersist_exit`.
#[unsafe(no_mangle)]
pub extern "C" fn libmpathpersist_init() -> c_int {
    boundary(1, || {
        INITIALISED.store(true, Ordering::Release);
        0
    })
}

/// `int libmpathpersist_exit(void)`: stops and joins the runtime thread; 0. Harmless
/// without a prior init, and when called twice.
#[unsafe(no_mangle)]
pub extern "C" fn libmpathpersist_exit() -> c_int {
    boundary(0, || {
        ops::session_end();
        runtime::shutdown();
        INITIALISED.store(false, Ordering::Release);
        0
    })
}

/// `struct config *mpath_lib_init(void)`: the old setup call; returns a non-NULL opaque
/// pointer that only `mpath_lib_exit` may receive.
#[unsafe(no_mangle)]
pub extern "C" fn mpath_lib_init() -> *mut c_void {
    boundary(core::ptr::null_mut(), || {
        INITIALISED.store(true, Ordering::Release);
        core::ptr::addr_of!(LIB_CONFIG).cast_mut().cast()
    })
}

/// `int mpath_lib_exit(struct config *)`: as `libmpathpersist_exit`; the pointer is
/// ignored (NULL included). 0.
#[unsafe(no_mangle)]
pub extern "C" fn mpath_lib_exit(_conf: *mut c_void) -> c_int {
    libmpathpersist_exit()
}

/// `int mpath_persistent_reserve_init_vecs(int verbose)`: sets the verbosity and starts
/// the session in which the `mpath_persistent_reserve_in__`/`_out__` (and `__`-prefixed)
/// calls keep the LUN of each map they used (its paths and open path devices), as
/// libmpathpersist keeps its map and path vectors; `MPATH_PR_SUCCESS`.
#[unsafe(no_mangle)]
pub extern "C" fn mpath_persistent_reserve_init_vecs(verbose: c_int) -> c_int {
    boundary(MPATH_PR_OTHER, || {
        log::set_verbosity(verbose);
        ops::session_begin();
        MPATH_PR_SUCCESS
    })
}

/// `void mpath_persistent_reserve_free_vecs(void)`: drops the LUNs cached since
/// `mpath_persistent_reserve_init_vecs`.
#[unsafe(no_mangle)]
pub extern "C" fn mpath_persistent_reserve_free_vecs() {
    boundary((), ops::session_end);
}

// -------------------------------------------------------------------------------------
// PR IN
// -------------------------------------------------------------------------------------

fn prin_common(
    target: Result<Target, c_int>,
    rq_servact: c_int,
    resp: *mut PrinResp,
    noisy: c_int,
    cached: bool,
) -> c_int {
    let action = match ops::prin_action(rq_servact) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if resp.is_null() {
        log::msg(0, format_args!("NULL response buffer"));
        return MPATH_PR_SYNTAX_ERROR;
    }
    let target = match target {
        Ok(t) => t,
        Err(code) => return code,
    };
    let alloc = ops::prin_alloc_len(action, mpath_mx_alloc_len.load(Ordering::Relaxed));
    let fast = if cached {
        ops::prin_fast(&target, action, alloc)
    } else {
        None
    };
    let buf = match fast {
        Some(buf) => buf,
        None => match runtime::run(ops::prin(target, action, alloc, cached)) {
            Ok(Ok(buf)) => buf,
            Ok(Err(code)) => return code,
            Err(e) => return bridge_code(e),
        },
    };
    log::noisy_dump(noisy != 0, "PR IN response", &buf);
    // SAFETY: `resp` is not NULL; the caller passes a buffer for the result of
    // `rq_servact` (as `mpath_alloc_prin_response(rq_servact)` allocates it: the
    // service action's own structure, READ FULL STATUS with room for MPATH_MX_TIDS
    // descriptor pointers after it). Only that structure is written.
    unsafe { write_prin(action, resp, &buf) };
    MPATH_PR_SUCCESS
}

/// Writes `buf` into the caller's result structure for `action`.
///
/// # Safety
///
/// `resp` points to a writable, suitably aligned result structure of `action` (for READ
/// FULL STATUS followed by [`MPATH_MX_TIDS`] descriptor pointers) that no other thread
/// accesses during the call.
unsafe fn write_prin(action: PrInAction, resp: *mut PrinResp, buf: &[u8]) {
    let d = resp.cast::<u8>();
    match action {
        PrInAction::ReadKeys => {
            // SAFETY: per the function's contract the structure is there and exclusive.
            fill::read_keys(unsafe { &mut *d.cast::<PrinReaddescr>() }, buf);
        }
        PrInAction::ReadReservation => {
            // SAFETY: as above, 24 bytes.
            fill::read_reservation(unsafe { &mut *d.cast::<PrinResvdescr>() }, buf);
        }
        PrInAction::ReportCapabilities => {
            // SAFETY: as above, 8 bytes.
            fill::report_capabilities(unsafe { &mut *d.cast::<PrinCapdescr>() }, buf);
        }
        PrInAction::ReadFullStatus => {
            let (generation, records) = fill::full_status_records(buf);
            let list = d.cast::<PrintFulldescrList>();
            // SAFETY: per the contract `list` is a writable print_fulldescr_list; the
            // records (30 at most, 270 bytes each) fit in its 8192-byte private_buffer,
            // and each pointer slot written is < MPATH_MX_TIDS.
            unsafe {
                (*list).prgeneration = generation;
                (*list).number_of_descriptor = u32::try_from(records.len()).unwrap_or(0);
                (*list).private_buffer = [0; MPATH_MAX_PARAM_LEN];
                let pb = core::ptr::addr_of_mut!((*list).private_buffer).cast::<PrinFulldescr>();
                for (i, rec) in records.iter().enumerate() {
                    let slot = pb.add(i);
                    slot.write_unaligned(*rec);
                    set_descriptor_ptr(list, i, slot);
                }
            }
        }
    }
}

/// `int mpath_persistent_reserve_in(int fd, int rq_servact, struct prin_resp *resp, int
/// noisy, int verbose)`.
#[unsafe(no_mangle)]
pub extern "C" fn mpath_persistent_reserve_in(
    fd: c_int,
    rq_servact: c_int,
    resp: *mut PrinResp,
    noisy: c_int,
    verbose: c_int,
) -> c_int {
    boundary(MPATH_PR_OTHER, || {
        log::set_verbosity(verbose);
        prin_common(ops::map_of_fd(fd), rq_servact, resp, noisy, false)
    })
}

/// `int mpath_persistent_reserve_in__(int fd, int rq_servact, struct prin_resp *resp, int
/// noisy)` (`LIBMPATHPERSIST_2.2.0`).
#[unsafe(no_mangle)]
pub extern "C" fn mpath_persistent_reserve_in__(
    fd: c_int,
    rq_servact: c_int,
    resp: *mut PrinResp,
    noisy: c_int,
) -> c_int {
    boundary(MPATH_PR_OTHER, || {
        prin_common(ops::map_of_fd(fd), rq_servact, resp, noisy, true)
    })
}

/// `int __mpath_persistent_reserve_in(...)`: the old name of
/// [`mpath_persistent_reserve_in__`].
#[unsafe(no_mangle)]
pub extern "C" fn __mpath_persistent_reserve_in(
    fd: c_int,
    rq_servact: c_int,
    resp: *mut PrinResp,
    noisy: c_int,
) -> c_int {
    mpath_persistent_reserve_in__(fd, rq_servact, resp, noisy)
}

// -------------------------------------------------------------------------------------
// PR OUT
// -------------------------------------------------------------------------------------

/// Copies what the call needs out of `*paramp`.
///
/// # Safety
///
/// `paramp` is a readable `struct prout_param_descriptor`; when `sa_flags` has SPEC_I_PT,
/// its `trnptid_list` holds `num_transportid` entries (checked against MPATH_MX_TIDS
/// before any is read), each NULL or pointing to a readable `struct transportid`.
unsafe fn read_prout(paramp: *const ProutParamDescriptor) -> Result<ProutArgs, c_int> {
    // SAFETY: per the contract the fixed part of the structure is readable.
    let (key, sa_key, flags, num) = unsafe {
        (
            (*paramp).key,
            (*paramp).sa_key,
            (*paramp).sa_flags,
            (*paramp).num_transportid,
        )
    };
    let mut tids = Vec::new();
    if flags & MPATH_F_SPEC_I_PT_MASK != 0 {
        let n = usize::try_from(num).unwrap_or(usize::MAX);
        if n > MPATH_MX_TIDS {
            log::msg(
                0,
                format_args!("num_transportid {num} exceeds {MPATH_MX_TIDS}"),
            );
            return Err(MPATH_PR_SYNTAX_ERROR);
        }
        for i in 0..n {
            // SAFETY: i < num_transportid <= MPATH_MX_TIDS entries the caller provides.
            let p = unsafe { transport_id_ptr(paramp, i) };
            if p.is_null() {
                log::msg(0, format_args!("trnptid_list[{i}] is NULL"));
                return Err(MPATH_PR_SYNTAX_ERROR);
            }
            // SAFETY: a non-NULL entry points to a readable struct transportid (258
            // bytes, alignment 1).
            let t = unsafe { p.read_unaligned() };
            // SAFETY: every member of the name union is plain bytes; iscsi_name spans it.
            let name = unsafe { t.name.iscsi_name };
            let copied = TransportId_ {
                format_code: t.format_code,
                protocol_id: t.protocol_id,
                name,
            };
            match ops::tid_wire(&copied) {
                Some(w) => tids.push(w),
                None => {
                    log::msg(
                        0,
                        format_args!("trnptid_list[{i}]: unsupported transport id"),
                    );
                    return Err(MPATH_PR_SYNTAX_ERROR);
                }
            }
        }
    }
    Ok(ProutArgs {
        key: ReservationKey::from_be_bytes(key),
        sa_key: ReservationKey::from_be_bytes(sa_key),
        flags,
        tids,
    })
}

fn prout_common(
    target: impl FnOnce() -> Result<Target, c_int>,
    rq_servact: c_int,
    rq_scope: c_int,
    rq_type: c_uint,
    paramp: *mut ProutParamDescriptor,
    noisy: c_int,
    cached: bool,
) -> c_int {
    let op = match ops::prout_op(rq_servact, rq_scope, rq_type) {
        Ok(op) => op,
        Err(code) => return code,
    };
    if paramp.is_null() {
        log::msg(0, format_args!("NULL parameter descriptor"));
        return MPATH_PR_SYNTAX_ERROR;
    }
    // SAFETY: `paramp` is not NULL; the caller passes its prout_param_descriptor (with
    // num_transportid entries in trnptid_list when SPEC_I_PT is set).
    let args = match unsafe { read_prout(paramp) } {
        Ok(a) => a,
        Err(code) => return code,
    };
    if args.flags & MPATH_F_SPEC_I_PT_MASK != 0
        && !args.tids.is_empty()
        && op != (ProutOp::Register { ignore: false })
    {
        log::msg(0, format_args!("SPEC_I_PT is only valid with REGISTER"));
        return MPATH_PR_SYNTAX_ERROR;
    }
    let mut basic = Vec::with_capacity(24);
    basic.extend_from_slice(&args.key.0.to_be_bytes());
    basic.extend_from_slice(&args.sa_key.0.to_be_bytes());
    basic.extend_from_slice(&[0, 0, 0, 0, args.flags, 0, 0, 0]);
    log::noisy_dump(noisy != 0, "PR OUT parameter list", &basic);
    let target = match target() {
        Ok(t) => t,
        Err(code) => return code,
    };
    match runtime::run(ops::prout(target, op, args, cached)) {
        Ok(code) => code,
        Err(e) => bridge_code(e),
    }
}

/// `int mpath_persistent_reserve_out(int fd, int rq_servact, int rq_scope, unsigned int
/// rq_type, struct prout_param_descriptor *paramp, int noisy, int verbose)`.
#[unsafe(no_mangle)]
pub extern "C" fn mpath_persistent_reserve_out(
    fd: c_int,
    rq_servact: c_int,
    rq_scope: c_int,
    rq_type: c_uint,
    paramp: *mut ProutParamDescriptor,
    noisy: c_int,
    verbose: c_int,
) -> c_int {
    boundary(MPATH_PR_OTHER, || {
        log::set_verbosity(verbose);
        prout_common(
            || ops::map_of_fd(fd),
            rq_servact,
            rq_scope,
            rq_type,
            paramp,
            noisy,
            false,
        )
    })
}

/// `int mpath_persistent_reserve_out__(int fd, int rq_servact, int rq_scope, unsigned int
/// rq_type, struct prout_param_descriptor *paramp, int noisy)` (`LIBMPATHPERSIST_2.2.0`).
#[unsafe(no_mangle)]
pub extern "C" fn mpath_persistent_reserve_out__(
    fd: c_int,
    rq_servact: c_int,
    rq_scope: c_int,
    rq_type: c_uint,
    paramp: *mut ProutParamDescriptor,
    noisy: c_int,
) -> c_int {
    boundary(MPATH_PR_OTHER, || {
        prout_common(
            || ops::map_of_fd(fd),
            rq_servact,
            rq_scope,
            rq_type,
            paramp,
            noisy,
            true,
        )
    })
}

/// `int __mpath_persistent_reserve_out(...)`: the old name of
/// [`mpath_persistent_reserve_out__`].
#[unsafe(no_mangle)]
pub extern "C" fn __mpath_persistent_reserve_out(
    fd: c_int,
    rq_servact: c_int,
    rq_scope: c_int,
    rq_type: c_uint,
    paramp: *mut ProutParamDescriptor,
    noisy: c_int,
) -> c_int {
    mpath_persistent_reserve_out__(fd, rq_servact, rq_scope, rq_type, paramp, noisy)
}

// -------------------------------------------------------------------------------------
// Internal ABI used by multipath-tools' own programs
// -------------------------------------------------------------------------------------

/// `void dumpHex(const char *str, int len, int log)`: hex dump of `len` bytes on `stdout`
/// (through the C stdio stream, in libmpathpersist's layout), or on stderr when `log` is
/// non-zero. NULL or `len <= 0`: nothing.
#[unsafe(no_mangle)]
pub extern "C" fn dumpHex(str: *const c_char, len: c_int, log: c_int) {
    boundary((), || {
        let Ok(n) = usize::try_from(len) else {
            return;
        };
        if str.is_null() || n == 0 {
            return;
        }
        // SAFETY: the caller passes `len` readable bytes at `str` (not NULL).
        let bytes = unsafe { core::slice::from_raw_parts(str.cast::<u8>(), n) };
        let text = log::hex_dump(bytes);
        if log != 0 {
            for line in text.lines() {
                log::msg(0, format_args!("{line}"));
            }
        } else {
            sys::c_stdout(&text);
        }
    });
}

/// `void *mpath_alloc_prin_response(int prin_sa)`: a zeroed buffer for the result of
/// `prin_sa` (READ FULL STATUS: with room for MPATH_MX_TIDS descriptor pointers), to be
/// released with `free()`; NULL for an unknown service action.
#[unsafe(no_mangle)]
pub extern "C" fn mpath_alloc_prin_response(prin_sa: c_int) -> *mut c_void {
    boundary(core::ptr::null_mut(), || {
        let Ok(action) = ops::prin_action(prin_sa) else {
            return core::ptr::null_mut();
        };
        let mut size = ops::prin_struct_size(action);
        if action == PrInAction::ReadFullStatus {
            size += MPATH_MX_TIDS * size_of::<*mut PrinFulldescr>();
        }
        sys::calloc(size)
    })
}

/// The kernel name of one path (`sdc`), from the C string `dev`.
fn path_target(dev: *const c_char) -> Result<Target, c_int> {
    if dev.is_null() {
        return Err(MPATH_PR_SYNTAX_ERROR);
    }
    // SAFETY: not NULL; the caller passes a NUL-terminated device name.
    let name = unsafe { CStr::from_ptr(dev) };
    match name.to_str() {
        Ok(n) if !n.is_empty() && !n.contains('/') && n.len() < 256 => {
            Ok(Target::Path(n.to_owned()))
        }
        _ => Err(MPATH_PR_SYNTAX_ERROR),
    }
}

/// `int prin_do_scsi_ioctl(char *dev, int rq_servact, struct prin_resp *resp, int noisy)`:
/// PR IN on the one path `/dev/<dev>`.
#[unsafe(no_mangle)]
pub extern "C" fn prin_do_scsi_ioctl(
    dev: *mut c_char,
    rq_servact: c_int,
    resp: *mut PrinResp,
    noisy: c_int,
) -> c_int {
    boundary(MPATH_PR_OTHER, || {
        prin_common(path_target(dev), rq_servact, resp, noisy, false)
    })
}

/// `int prout_do_scsi_ioctl(char *dev, int rq_servact, int rq_scope, unsigned int rq_type,
/// struct prout_param_descriptor *paramp, int noisy)`: PR OUT on the one path
/// `/dev/<dev>` (no configured-key check, no multipathd bookkeeping).
#[unsafe(no_mangle)]
pub extern "C" fn prout_do_scsi_ioctl(
    dev: *mut c_char,
    rq_servact: c_int,
    rq_scope: c_int,
    rq_type: c_uint,
    paramp: *mut ProutParamDescriptor,
    noisy: c_int,
) -> c_int {
    boundary(MPATH_PR_OTHER, || {
        prout_common(
            || path_target(dev),
            rq_servact,
            rq_scope,
            rq_type,
            paramp,
            noisy,
            false,
        )
    })
}

/// Whether `libmpathpersist_init` or `mpath_lib_init` ran and no exit since (informative:
/// every call works without it, as the runtime starts on demand).
pub fn initialised() -> bool {
    INITIALISED.load(Ordering::Acquire)
}
