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

use pr_core::prin::Response;
use pr_core::types::PrInAction;
use pr_multipath::blocking;

use super::abi::*;
use super::ops::{self, Answer, Target};
use super::{fill, log, prout, sys, trace};

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

// -------------------------------------------------------------------------------------
// Library setup
// -------------------------------------------------------------------------------------

/// `int libmpathpersist_init(void)`: 0. The configuration (`/etc/multipath.conf`, the
/// prkeys file) is read by each call, so nothing is loaded here; pr-multipath's runtime
/// thread starts with the first call that needs it. May be called again after `libmpathpersist_exit`.
#[unsafe(no_mangle)]
pub extern "C" fn libmpathpersist_init() -> c_int {
    boundary(1, || {
        INITIALISED.store(true, Ordering::Release);
        0
    })
}

/// `int libmpathpersist_exit(void)`: drops the session's LUNs and stops and joins
/// pr-multipath's runtime thread (`pr_multipath::blocking::shutdown`; the next call
/// starts it again); 0. Harmless without a prior init, and when called twice.
#[unsafe(no_mangle)]
pub extern "C" fn libmpathpersist_exit() -> c_int {
    boundary(0, || {
        ops::session_end();
        blocking::shutdown();
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
    target: impl FnOnce() -> Result<Target, c_int>,
    rq_servact: c_int,
    resp: *mut PrinResp,
    noisy: c_int,
    cached: bool,
) -> c_int {
    trace::scoped(|| {
        let action = match ops::prin_action(rq_servact) {
            Ok(a) => a,
            Err(code) => return code,
        };
        if resp.is_null() {
            log::msg(0, format_args!("NULL response buffer"));
            return MPATH_PR_SYNTAX_ERROR;
        }
        let target = match target() {
            Ok(t) => t,
            Err(code) => return code,
        };
        let alloc = ops::prin_alloc_len(action, mpath_mx_alloc_len.load(Ordering::Relaxed));
        match ops::prin(&target, action, alloc, cached) {
            // SAFETY: `resp` is not NULL; the caller passes a buffer for the result of
            // `rq_servact` (as `mpath_alloc_prin_response(rq_servact)` allocates it: the
            // service action's own structure, READ FULL STATUS with room for MPATH_MX_TIDS
            // descriptor pointers after it).
            Ok(answer) => unsafe { deliver(action, &answer, noisy != 0, resp) },
            Err(code) => code,
        }
    })
}

/// What every PR IN does with its answer, however it was obtained (on the caller's
/// thread or through the runtime thread): says which path answered, dumps the response
/// when `noisy` (at level 0, as libmpathpersist's `dumpHex(..., 1)`), decodes it with
/// pr-core and writes the caller's structure. `MPATH_PR_OTHER` when the response does not
/// decode (then nothing is written).
///
/// # Safety
///
/// As [`write_prin`].
unsafe fn deliver(action: PrInAction, answer: &Answer, noisy: bool, resp: *mut PrinResp) -> c_int {
    log::msg(
        3,
        format_args!(
            "{}: PR IN {} answered by {}",
            answer.lun,
            action.name(),
            answer.path
        ),
    );
    if noisy {
        log::dump(&answer.bytes);
    }
    match Response::decode(action, &answer.bytes) {
        Ok(response) => {
            // SAFETY: per this function's contract.
            unsafe { write_prin(&response, resp) };
            MPATH_PR_SUCCESS
        }
        Err(e) => {
            log::msg(
                0,
                format_args!(
                    "{}: {}: cannot decode the {} response: {e}",
                    answer.lun,
                    answer.path,
                    action.name()
                ),
            );
            MPATH_PR_OTHER
        }
    }
}

/// Writes `response` into the caller's result structure of its service action.
///
/// # Safety
///
/// `resp` points to a writable, suitably aligned result structure of the response's
/// service action (for READ FULL STATUS followed by [`MPATH_MX_TIDS`] descriptor pointers)
/// that no other thread accesses during the call.
unsafe fn write_prin(response: &Response<'_>, resp: *mut PrinResp) {
    let d = resp.cast::<u8>();
    match response {
        Response::ReadKeys(rk) => {
            // SAFETY: per the function's contract the structure is there and exclusive.
            fill::read_keys(unsafe { &mut *d.cast::<PrinReaddescr>() }, rk);
        }
        Response::ReadReservation(rr) => {
            // SAFETY: as above, 24 bytes.
            fill::read_reservation(unsafe { &mut *d.cast::<PrinResvdescr>() }, rr);
        }
        Response::ReportCapabilities(c) => {
            // SAFETY: as above, 8 bytes.
            fill::report_capabilities(unsafe { &mut *d.cast::<PrinCapdescr>() }, c);
        }
        Response::ReadFullStatus(fs) => {
            let (generation, records) = fill::full_status_records(fs);
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
        prin_common(|| ops::map_of_fd(fd), rq_servact, resp, noisy, false)
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
        prin_common(|| ops::map_of_fd(fd), rq_servact, resp, noisy, true)
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

/// Copies the caller's TransportIDs (`trnptid_list`) when `sa_flags` has SPEC_I_PT (none
/// otherwise).
///
/// # Safety
///
/// `paramp` is a readable `struct prout_param_descriptor`; when `sa_flags` has SPEC_I_PT,
/// its `trnptid_list` holds `num_transportid` entries (checked against MPATH_MX_TIDS
/// before any is read), each NULL or pointing to a readable `struct transportid`.
unsafe fn transport_ids(paramp: *const ProutParamDescriptor) -> Result<Vec<TransportId>, c_int> {
    // SAFETY: per the contract the fixed part of the structure is readable.
    let (flags, num) = unsafe { ((*paramp).sa_flags, (*paramp).num_transportid) };
    if flags & MPATH_F_SPEC_I_PT_MASK == 0 {
        return Ok(Vec::new());
    }
    let n = usize::try_from(num).unwrap_or(usize::MAX);
    if n > MPATH_MX_TIDS {
        log::msg(
            0,
            format_args!("num_transportid {num} exceeds {MPATH_MX_TIDS}"),
        );
        return Err(MPATH_PR_SYNTAX_ERROR);
    }
    let mut tids = Vec::with_capacity(n);
    for i in 0..n {
        // SAFETY: i < num_transportid <= MPATH_MX_TIDS entries the caller provides.
        let p = unsafe { transport_id_ptr(paramp, i) };
        if p.is_null() {
            log::msg(0, format_args!("trnptid_list[{i}] is NULL"));
            return Err(MPATH_PR_SYNTAX_ERROR);
        }
        // SAFETY: a non-NULL entry points to a readable struct transportid (258 bytes,
        // alignment 1).
        tids.push(unsafe { p.read_unaligned() });
    }
    Ok(tids)
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
    trace::scoped(|| {
        if paramp.is_null() {
            log::msg(0, format_args!("NULL parameter descriptor"));
            return MPATH_PR_SYNTAX_ERROR;
        }
        // SAFETY: `paramp` is not NULL; the caller passes its prout_param_descriptor
        // (with num_transportid entries in trnptid_list when SPEC_I_PT is set).
        let tids = match unsafe { transport_ids(paramp) } {
            Ok(t) => t,
            Err(code) => return code,
        };
        // SAFETY: as above; the structure stays the caller's, unchanged, during the call.
        let param = unsafe { &*paramp };
        let request = match prout::out_request(rq_servact, rq_scope, rq_type, param, &tids) {
            Ok(r) => r,
            Err(code) => return code,
        };
        let dump = match &request {
            Some(r) if noisy != 0 => Some(prout::parameter_dump(param, r)),
            _ => None,
        };
        let target = match target() {
            Ok(t) => t,
            Err(code) => return code,
        };
        match request {
            Some(r) => ops::prout(&target, r, dump.as_deref(), cached),
            None => {
                log::msg(
                    0,
                    format_args!("REGISTER AND MOVE is not supported through a multipath map"),
                );
                MPATH_PR_OTHER
            }
        }
    })
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
        if log != 0 {
            log::dump(bytes);
        } else {
            sys::c_stdout(&log::hex_dump(bytes));
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
        prin_common(|| path_target(dev), rq_servact, resp, noisy, false)
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

#[cfg(test)]
mod tests {
    use super::*;
    use pr_sim::Injection;
    use std::sync::Arc;

    #[test]
    fn both_pr_in_paths_log_dump_and_fill_alike() {
        let (c, lun) = ops::sim_lun("mpathq");
        let lun = Arc::new(lun);
        // The first READ KEYS is answered BUSY on the caller's thread: it gives up there
        // and the runtime thread's retries answer. The second is answered on the caller's
        // thread.
        c.nodes[0].paths[0][0].inject(Injection::Busy, 1);
        ops::session_begin();
        ops::session_insert((250, 7), lun);
        let target = Target::Map {
            name: "mpathq".into(),
            devt: (250, 7),
        };
        log::set_verbosity(3);
        let mut dumps = Vec::new();
        let _serial = ops::RUNTIME_TESTS.lock();
        blocking::shutdown();
        for round in 0..2 {
            let resp = mpath_alloc_prin_response(MPATH_PRIN_RKEY_SA).cast::<PrinResp>();
            assert!(!resp.is_null());
            let (rc, lines) = log::capture(|| {
                prin_common(|| Ok(target.clone()), MPATH_PRIN_RKEY_SA, resp, 1, true)
            });
            assert_eq!(rc, MPATH_PR_SUCCESS, "{lines:?}");
            // Round 0 needed the runtime thread; round 1 did not start it again.
            assert_eq!(blocking::runtime::is_running(), round == 0);
            blocking::shutdown();
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with("mpathq: PR IN READ KEYS answered by sd")),
                "{lines:?}"
            );
            // The 8 bytes of an empty READ KEYS response, dumpHex's layout.
            let dump: Vec<&String> = lines.iter().filter(|l| l.starts_with("        ")).collect();
            assert_eq!(dump.len(), 1, "{lines:?}");
            assert!(dump[0].ends_with(" 00 00 00 00"), "{lines:?}");
            dumps.push(dump[0].clone());
            // SAFETY: allocated above for READ KEYS and filled by the call.
            let keys = unsafe { (*resp).prin_descriptor.prin_readkeys };
            assert_eq!(keys.additional_length, 0);
            // SAFETY: from calloc, released once.
            unsafe { libc::free(resp.cast()) };
        }
        log::set_verbosity(0);
        ops::session_end();
        // Same generation, same dump, whichever path answered.
        assert_eq!(dumps[0], dumps[1]);
    }
}
