// SPDX-License-Identifier: MIT OR Apache-2.0
//! The exported `pr_*` functions, constants and C types. Every function body runs inside
//! the panic boundary of the private `ffi` module and reaches its pointers only through
//! its helpers; this file has no `unsafe`.
#![allow(non_camel_case_types)]

use std::ffi::{CString, c_char, c_int, c_void};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::stream::{self, StreamExt};
use pr_core::transport_id::TransportId;
use pr_core::types::{ReservationKey, ReservationType};
use pr_multipath::RegisterRequest;
use pr_multipath::sgio::FromMapOptions;
use tokio_util::sync::CancellationToken;

use crate::core::{AnyPath, DeviceCore, InAnswer, InOp, LunCore, OutOp, SimCore, lun_from_paths};
use crate::error::{ErrorInfo, cstring, pr_error, pr_result};
use crate::ffi::{
    self, Handle, Out, boundary, boundary_or, free_handle, handle_ref, into_handle, opt_ref,
    opt_str_arg, slice_arg, str_arg,
};
use crate::runtime;

// ---------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------

/// Major version of this library.
pub const PR_SDK_VERSION_MAJOR: u32 = 0;
/// Minor version of this library.
pub const PR_SDK_VERSION_MINOR: u32 = 1;
/// Patch version of this library.
pub const PR_SDK_VERSION_PATCH: u32 = 0;
/// The version as one number, `(MAJOR << 16) | (MINOR << 8) | PATCH`, for `#if` tests.
pub const PR_SDK_VERSION_NUMBER: u32 =
    (PR_SDK_VERSION_MAJOR << 16) | (PR_SDK_VERSION_MINOR << 8) | PR_SDK_VERSION_PATCH;

/// Reservation type 1h: Write Exclusive.
pub const PR_TYPE_WRITE_EXCLUSIVE: u32 = 0x1;
/// Reservation type 3h: Exclusive Access.
pub const PR_TYPE_EXCLUSIVE_ACCESS: u32 = 0x3;
/// Reservation type 5h: Write Exclusive, Registrants Only.
pub const PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY: u32 = 0x5;
/// Reservation type 6h: Exclusive Access, Registrants Only.
pub const PR_TYPE_EXCLUSIVE_ACCESS_REG_ONLY: u32 = 0x6;
/// Reservation type 7h: Write Exclusive, All Registrants.
pub const PR_TYPE_WRITE_EXCLUSIVE_ALL_REGS: u32 = 0x7;
/// Reservation type 8h: Exclusive Access, All Registrants.
pub const PR_TYPE_EXCLUSIVE_ACCESS_ALL_REGS: u32 = 0x8;

/// PR OUT service action 00h REGISTER.
pub const PR_OUT_REGISTER: u32 = 0x0;
/// PR OUT service action 01h RESERVE.
pub const PR_OUT_RESERVE: u32 = 0x1;
/// PR OUT service action 02h RELEASE.
pub const PR_OUT_RELEASE: u32 = 0x2;
/// PR OUT service action 03h CLEAR.
pub const PR_OUT_CLEAR: u32 = 0x3;
/// PR OUT service action 04h PREEMPT.
pub const PR_OUT_PREEMPT: u32 = 0x4;
/// PR OUT service action 05h PREEMPT AND ABORT.
pub const PR_OUT_PREEMPT_AND_ABORT: u32 = 0x5;
/// PR OUT service action 06h REGISTER AND IGNORE EXISTING KEY.
pub const PR_OUT_REGISTER_AND_IGNORE: u32 = 0x6;
/// PR OUT service action 07h REGISTER AND MOVE.
pub const PR_OUT_REGISTER_AND_MOVE: u32 = 0x7;
/// PR OUT service action 08h REPLACE LOST RESERVATION.
pub const PR_OUT_REPLACE_LOST_RESERVATION: u32 = 0x8;

/// Flag APTPL (activate persist through power loss): REGISTER, REGISTER AND IGNORE,
/// REGISTER AND MOVE.
pub const PR_FLAG_APTPL: u32 = 0x01;
/// Flag UNREG: REGISTER AND MOVE unregisters the sender.
pub const PR_FLAG_UNREG: u32 = 0x02;
/// Flag ALL_TG_PT (register on all target ports): REGISTER, REGISTER AND IGNORE.
pub const PR_FLAG_ALL_TG_PT: u32 = 0x04;
/// Flag SPEC_I_PT: set implicitly when TransportIDs are given to REGISTER; accepted, and
/// then TransportIDs are required.
pub const PR_FLAG_SPEC_I_PT: u32 = 0x08;

/// The most TransportIDs one call accepts (SPEC_I_PT lists); a larger count is refused
/// before the array is read.
pub const PR_MAX_TRANSPORT_IDS: usize = 1024;
/// The most LUNs one many-LUN call accepts.
pub const PR_MAX_FLEET_LUNS: usize = 1 << 20;
/// The most paths one `pr_lun_open_*` call accepts.
pub const PR_MAX_PATHS: usize = 1024;

/// `pr_device_open*`: open read-only (PR IN only; PR OUT is refused).
pub const PR_OPEN_READ_ONLY: u32 = 0x01;
/// `pr_lun_open`: do not talk to multipathd.
pub const PR_LUN_NO_MULTIPATHD: u32 = 0x01;
/// `pr_lun_open`: do not read multipath.conf and the prkeys file (no configured-key check).
pub const PR_LUN_NO_CONFIG: u32 = 0x02;

/// REPORT CAPABILITIES bit RLR_C (REPLACE LOST RESERVATION capable).
pub const PR_CAP_RLR_C: u16 = 0x8000;
/// REPORT CAPABILITIES bit CRH (compatible reservation handling).
pub const PR_CAP_CRH: u16 = 0x1000;
/// REPORT CAPABILITIES bit SIP_C (SPEC_I_PT capable).
pub const PR_CAP_SIP_C: u16 = 0x0800;
/// REPORT CAPABILITIES bit ATP_C (ALL_TG_PT capable).
pub const PR_CAP_ATP_C: u16 = 0x0400;
/// REPORT CAPABILITIES bit PTPL_C (persist through power loss capable).
pub const PR_CAP_PTPL_C: u16 = 0x0100;
/// REPORT CAPABILITIES bit TMV (type mask valid).
pub const PR_CAP_TMV: u16 = 0x0080;
/// REPORT CAPABILITIES bit PTPL_A (persist through power loss activated).
pub const PR_CAP_PTPL_A: u16 = 0x0001;

/// Simulator logical unit personality: SPC-5.
pub const PR_SIM_SPC5: u32 = 0;
/// Simulator logical unit personality: the Linux LIO target.
pub const PR_SIM_LIO: u32 = 1;

/// Simulator fault: answer with CHECK CONDITION, UNIT ATTENTION (asc, ascq).
pub const PR_SIM_FAULT_UNIT_ATTENTION: u32 = 1;
/// Simulator fault: answer BUSY.
pub const PR_SIM_FAULT_BUSY: u32 = 2;
/// Simulator fault: answer TASK SET FULL.
pub const PR_SIM_FAULT_TASK_SET_FULL: u32 = 3;
/// Simulator fault: answer CHECK CONDITION, NOT READY (asc, ascq).
pub const PR_SIM_FAULT_NOT_READY: u32 = 4;

// ---------------------------------------------------------------------------------------
// Handles and C structs
// ---------------------------------------------------------------------------------------

/// One path device: a SCSI disk (`/dev/sdX`), an sg node (`/dev/sgN`), or one simulated
/// path. Every action is exactly one command on this one I_T nexus (retried on UNIT
/// ATTENTION up to 5 times and on BUSY / TASK SET FULL with backoff). Thread-safe: one
/// handle may be used from several threads at once.
pub struct pr_device {
    _private: [u8; 0],
}

/// One logical unit over many paths: a dm-multipath map, or a set of device or simulated
/// paths, with pr-multipath's semantics (REGISTER fanned out to every path, failover, the
/// failed-path workarounds). Thread-safe.
pub struct pr_lun {
    _private: [u8; 0],
}

/// A software SCSI target with persistent reservations (pr-sim): logical units, initiator
/// ports and paths, with fault injection. Nothing is visible to the operating system.
pub struct pr_sim {
    _private: [u8; 0],
}

/// A cancellation token for many-LUN operations. Cancelling stops new LUNs from being
/// started; LUNs already started finish their operation.
pub struct pr_cancel {
    _private: [u8; 0],
}

/// The answer of READ KEYS.
pub struct pr_keys {
    _private: [u8; 0],
}

/// The answer of READ RESERVATION.
pub struct pr_reservation {
    _private: [u8; 0],
}

/// The answer of REPORT CAPABILITIES.
pub struct pr_capabilities {
    _private: [u8; 0],
}

/// The answer of READ FULL STATUS, with every descriptor (no 32-entry cap).
pub struct pr_full_status {
    _private: [u8; 0],
}

/// The per-LUN results of a many-LUN operation.
pub struct pr_fleet_result {
    _private: [u8; 0],
}

/// The arguments of the generic PR OUT calls (`pr_device_out`, `pr_lun_out`). Fields an
/// action does not use are ignored; zero-initialise the struct.
#[repr(C)]
pub struct pr_out_params {
    /// RESERVATION KEY (for REGISTER: the current key, 0 when unregistered).
    pub key: u64,
    /// SERVICE ACTION RESERVATION KEY (REGISTER: the new key; PREEMPT: the victim; REGISTER
    /// AND MOVE: the destination's key; REPLACE LOST RESERVATION: the new key).
    pub sa_key: u64,
    /// A `PR_TYPE_*` value (RESERVE, RELEASE, PREEMPT, REGISTER AND MOVE, REPLACE LOST).
    pub type_: u32,
    /// `PR_FLAG_*` bits valid for the action.
    pub flags: u32,
    /// TransportIDs in `sg_persist --transport-id` text form: the SPEC_I_PT list of
    /// REGISTER, or exactly one for REGISTER AND MOVE.
    pub transport_ids: *const *const c_char,
    /// Number of `transport_ids` (at most `PR_MAX_TRANSPORT_IDS`).
    pub transport_id_count: usize,
    /// RELATIVE TARGET PORT IDENTIFIER of REGISTER AND MOVE.
    pub relative_target_port: u16,
}

/// One READ FULL STATUS descriptor (without its TransportID: see
/// `pr_full_status_transport_id`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct pr_full_status_entry {
    /// The reservation key.
    pub key: u64,
    /// RELATIVE TARGET PORT IDENTIFIER.
    pub relative_target_port: u16,
    /// TYPE code (meaningful when `holder`; the scope is always LU_SCOPE in SPC-5).
    pub type_: u8,
    /// ALL_TG_PT.
    pub all_tg_pt: bool,
    /// R_HOLDER: this registration holds the reservation.
    pub holder: bool,
}

/// Progress of a many-LUN operation, called once per finished (or skipped) LUN **on the
/// thread that called `pr_fleet_*`**, never concurrently, never from a library thread.
/// `done` counts LUNs finished so far (this one included) out of `total`; `lun` is valid
/// during the call only; `outcome` is that LUN's result. Return 0 to go on, non-zero to
/// cancel the LUNs not yet started: no LUN is started while the callback runs, so the
/// cancellation is exact (LUNs already in flight, up to `concurrency - 1`, finish). Keep
/// it short: commands already in flight wait for it too. The callback may call other
/// `pr_*` functions.
pub type pr_progress_fn = Option<
    extern "C" fn(
        user_data: *mut c_void,
        done: usize,
        total: usize,
        lun: *const c_char,
        outcome: pr_result,
    ) -> c_int,
>;

/// Options of a many-LUN operation; a NULL options pointer means all defaults.
#[repr(C)]
pub struct pr_fleet_options {
    /// How many LUNs are worked on at once (0: 32).
    pub concurrency: usize,
    /// Optional cancellation token (NULL: none). Must outlive the call.
    pub cancel: *const pr_cancel,
    /// Optional progress callback (NULL: none).
    pub progress: pr_progress_fn,
    /// Passed to `progress` as is.
    pub user_data: *mut c_void,
}

pub(crate) struct DeviceHandle {
    core: Arc<DeviceCore>,
    name: CString,
}

pub(crate) struct LunHandle {
    core: Arc<LunCore>,
    name: CString,
}

pub(crate) struct KeysHandle {
    info: pr_multipath::KeysInfo,
    path: CString,
}

pub(crate) struct ReservationHandle {
    info: pr_multipath::ReservationInfo,
    path: CString,
}

pub(crate) struct CapabilitiesHandle {
    caps: pr_core::prin::Capabilities,
    path: CString,
}

pub(crate) struct FullStatusHandle {
    info: pr_multipath::FullStatusInfo,
    texts: Vec<Option<CString>>,
    path: CString,
}

pub(crate) struct FleetEntry {
    name: CString,
    error: Option<ErrorInfo>,
}

impl Handle for pr_device {
    type Inner = DeviceHandle;
}
impl Handle for pr_lun {
    type Inner = LunHandle;
}
impl Handle for pr_sim {
    type Inner = SimCore;
}
impl Handle for pr_cancel {
    type Inner = CancellationToken;
}
impl Handle for pr_keys {
    type Inner = KeysHandle;
}
impl Handle for pr_reservation {
    type Inner = ReservationHandle;
}
impl Handle for pr_capabilities {
    type Inner = CapabilitiesHandle;
}
impl Handle for pr_full_status {
    type Inner = FullStatusHandle;
}
impl Handle for pr_fleet_result {
    type Inner = Vec<FleetEntry>;
}

// ---------------------------------------------------------------------------------------
// Library
// ---------------------------------------------------------------------------------------

/// The library version as text, e.g. "0.1.0". Static storage.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sdk_version() -> *const c_char {
    c"0.1.0".as_ptr()
}

/// The library version as `PR_SDK_VERSION_NUMBER` computes it, to compare the header with
/// the loaded library.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sdk_version_number() -> u32 {
    PR_SDK_VERSION_NUMBER
}

/// The static message of a result code; an unknown value gives "unknown result code".
/// Takes the raw value so that any number is safe to pass.
#[unsafe(no_mangle)]
pub extern "C" fn pr_result_message(code: u32) -> *const c_char {
    match pr_result::from_u32(code) {
        Some(r) => r.message_c().as_ptr(),
        None => c"unknown result code".as_ptr(),
    }
}

/// Stops and joins the library's runtime thread (started by the first call that sends a
/// command). Call it once no other thread is inside a `pr_*` call, after freeing the
/// handles, e.g. before `dlclose` or at exit so that leak checkers see nothing running. A
/// later call starts a new runtime thread. Safe to call more than once.
#[unsafe(no_mangle)]
pub extern "C" fn pr_library_exit() {
    boundary_or((), || {
        runtime::shutdown();
    });
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

fn err_ref<'a>(e: *const pr_error) -> Option<&'a ErrorInfo> {
    handle_ref::<pr_error>(e, "error").ok()
}

/// Frees an error object. NULL is a no-op. Do not free the errors owned by a
/// `pr_fleet_result` (those returned by `pr_fleet_result_error`).
#[unsafe(no_mangle)]
pub extern "C" fn pr_error_free(error: *mut pr_error) {
    boundary_or((), || free_handle(error));
}

/// The error's code (`PR_ERR_INVALID_ARGUMENT` for NULL).
#[unsafe(no_mangle)]
pub extern "C" fn pr_error_code(error: *const pr_error) -> pr_result {
    boundary_or(pr_result::PR_ERR_PANIC, || {
        err_ref(error).map_or(pr_result::PR_ERR_INVALID_ARGUMENT, |e| e.code)
    })
}

/// The error's full message, valid as long as the error (NULL for NULL).
#[unsafe(no_mangle)]
pub extern "C" fn pr_error_message(error: *const pr_error) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        err_ref(error).map_or(std::ptr::null(), |e| e.message.as_ptr())
    })
}

/// The device, path or map the failure happened on, or NULL when not known.
#[unsafe(no_mangle)]
pub extern "C" fn pr_error_path(error: *const pr_error) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        err_ref(error)
            .and_then(|e| e.path.as_ref())
            .map_or(std::ptr::null(), |p| p.as_ptr())
    })
}

/// The SCSI status byte, or -1 when the command did not complete at the device.
#[unsafe(no_mangle)]
pub extern "C" fn pr_error_scsi_status(error: *const pr_error) -> c_int {
    boundary_or(-1, || {
        err_ref(error)
            .and_then(|e| e.status)
            .map_or(-1, c_int::from)
    })
}

/// The sense bytes and their count in `*len` (`len` may be NULL); NULL and 0 when there
/// are none. Valid as long as the error.
#[unsafe(no_mangle)]
pub extern "C" fn pr_error_sense(error: *const pr_error, len: *mut usize) -> *const u8 {
    boundary_or(std::ptr::null(), || {
        let sense = err_ref(error).map_or(&[][..], |e| e.sense.as_slice());
        if let Ok(out) = Out::new(len, "len") {
            out.write(sense.len());
        }
        if sense.is_empty() {
            std::ptr::null()
        } else {
            sense.as_ptr()
        }
    })
}

/// The sense key (0-15), or -1 without sense data.
#[unsafe(no_mangle)]
pub extern "C" fn pr_error_sense_key(error: *const pr_error) -> c_int {
    boundary_or(-1, || {
        err_ref(error)
            .and_then(|e| e.sense_key)
            .map_or(-1, c_int::from)
    })
}

/// The ADDITIONAL SENSE CODE, or -1 without one.
#[unsafe(no_mangle)]
pub extern "C" fn pr_error_asc(error: *const pr_error) -> c_int {
    boundary_or(-1, || {
        err_ref(error)
            .and_then(|e| e.asc_ascq)
            .map_or(-1, |(a, _)| c_int::from(a))
    })
}

/// The ADDITIONAL SENSE CODE QUALIFIER, or -1 without one.
#[unsafe(no_mangle)]
pub extern "C" fn pr_error_ascq(error: *const pr_error) -> c_int {
    boundary_or(-1, || {
        err_ref(error)
            .and_then(|e| e.asc_ascq)
            .map_or(-1, |(_, q)| c_int::from(q))
    })
}

/// The Linux host status (`DID_*`) reported with the failure, 0 if none.
#[unsafe(no_mangle)]
pub extern "C" fn pr_error_host_status(error: *const pr_error) -> u16 {
    boundary_or(0, || err_ref(error).map_or(0, |e| e.host_status))
}

/// The Linux driver status reported with the failure, 0 if none.
#[unsafe(no_mangle)]
pub extern "C" fn pr_error_driver_status(error: *const pr_error) -> u16 {
    boundary_or(0, || err_ref(error).map_or(0, |e| e.driver_status))
}

/// Whether the failed command may have taken effect at the device all the same (timeout,
/// lost reply, transport failure): re-read the state before retrying a PR OUT.
#[unsafe(no_mangle)]
pub extern "C" fn pr_error_outcome_unknown(error: *const pr_error) -> bool {
    boundary_or(false, || err_ref(error).is_some_and(|e| e.outcome_unknown))
}

/// For a multipath operation: every command sent on every path and its outcome, as text;
/// NULL otherwise. Valid as long as the error.
#[unsafe(no_mangle)]
pub extern "C" fn pr_error_report(error: *const pr_error) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        err_ref(error)
            .and_then(|e| e.report.as_ref())
            .map_or(std::ptr::null(), |r| r.as_ptr())
    })
}

// ---------------------------------------------------------------------------------------
// Argument validation
// ---------------------------------------------------------------------------------------

fn res_type(v: u32, name: &str) -> Result<ReservationType, ErrorInfo> {
    u8::try_from(v)
        .ok()
        .and_then(ReservationType::from_code)
        .ok_or_else(|| {
            ErrorInfo::invalid(
                name,
                format!("{v:#x} is not a reservation type (PR_TYPE_*: 1, 3, 5, 6, 7, 8)"),
            )
        })
}

fn check_flags(flags: u32, allowed: u32, action: &str) -> Result<(), ErrorInfo> {
    let bad = flags & !allowed;
    if bad != 0 {
        return Err(ErrorInfo::invalid(
            "flags",
            format!("flag bits {bad:#x} are not valid for {action}"),
        ));
    }
    Ok(())
}

fn parse_tid(text: &str, name: &str) -> Result<TransportId<'static>, ErrorInfo> {
    TransportId::parse(text)
        .map(TransportId::into_owned)
        .map_err(|e| {
            ErrorInfo::new(
                pr_result::PR_ERR_INVALID_TRANSPORT_ID,
                format!("argument `{name}`: {text:?}: {e}"),
            )
        })
}

fn tid_list(
    ptr: *const *const c_char,
    count: usize,
) -> Result<Vec<TransportId<'static>>, ErrorInfo> {
    let ptrs = slice_arg(ptr, count, PR_MAX_TRANSPORT_IDS, "transport_ids")?;
    let mut out = Vec::with_capacity(ptrs.len());
    for (i, p) in ptrs.iter().enumerate() {
        let name = format!("transport_ids[{i}]");
        out.push(parse_tid(str_arg(*p, &name)?, &name)?);
    }
    Ok(out)
}

/// Validates a generic PR OUT request.
fn out_op(sa: u32, p: &pr_out_params) -> Result<OutOp, ErrorInfo> {
    let key = ReservationKey(p.key);
    let sa_key = ReservationKey(p.sa_key);
    let no_tids = |what: &str| {
        if p.transport_id_count != 0 {
            Err(ErrorInfo::invalid(
                "transport_id_count",
                format!("{what} takes no TransportIDs"),
            ))
        } else {
            Ok(())
        }
    };
    Ok(match sa {
        PR_OUT_REGISTER | PR_OUT_REGISTER_AND_IGNORE => {
            let what = if sa == PR_OUT_REGISTER {
                "REGISTER"
            } else {
                "REGISTER AND IGNORE EXISTING KEY"
            };
            check_flags(
                p.flags,
                PR_FLAG_APTPL | PR_FLAG_ALL_TG_PT | PR_FLAG_SPEC_I_PT,
                what,
            )?;
            let spec_i_pt = tid_list(p.transport_ids, p.transport_id_count)?;
            if p.flags & PR_FLAG_SPEC_I_PT != 0 && spec_i_pt.is_empty() {
                return Err(ErrorInfo::invalid(
                    "transport_ids",
                    "PR_FLAG_SPEC_I_PT needs at least one TransportID",
                ));
            }
            OutOp::Register {
                old: key,
                new: sa_key,
                ignore: sa == PR_OUT_REGISTER_AND_IGNORE,
                aptpl: p.flags & PR_FLAG_APTPL != 0,
                all_tg_pt: p.flags & PR_FLAG_ALL_TG_PT != 0,
                spec_i_pt,
            }
        }
        PR_OUT_RESERVE => {
            check_flags(p.flags, 0, "RESERVE")?;
            no_tids("RESERVE")?;
            OutOp::Reserve {
                key,
                ty: res_type(p.type_, "type")?,
            }
        }
        PR_OUT_RELEASE => {
            check_flags(p.flags, 0, "RELEASE")?;
            no_tids("RELEASE")?;
            OutOp::Release {
                key,
                ty: res_type(p.type_, "type")?,
            }
        }
        PR_OUT_CLEAR => {
            check_flags(p.flags, 0, "CLEAR")?;
            no_tids("CLEAR")?;
            OutOp::Clear { key }
        }
        PR_OUT_PREEMPT | PR_OUT_PREEMPT_AND_ABORT => {
            check_flags(p.flags, 0, "PREEMPT")?;
            no_tids("PREEMPT")?;
            OutOp::Preempt {
                key,
                victim: sa_key,
                ty: res_type(p.type_, "type")?,
                abort: sa == PR_OUT_PREEMPT_AND_ABORT,
            }
        }
        PR_OUT_REGISTER_AND_MOVE => {
            check_flags(p.flags, PR_FLAG_APTPL | PR_FLAG_UNREG, "REGISTER AND MOVE")?;
            if p.transport_id_count != 1 {
                return Err(ErrorInfo::invalid(
                    "transport_id_count",
                    format!(
                        "REGISTER AND MOVE takes exactly one TransportID, not {}",
                        p.transport_id_count
                    ),
                ));
            }
            let mut tids = tid_list(p.transport_ids, 1)?;
            let tid = tids.pop().ok_or_else(|| ErrorInfo::null("transport_ids"))?;
            OutOp::Move {
                key,
                dest: sa_key,
                ty: res_type(p.type_, "type")?,
                tid,
                rtpi: p.relative_target_port,
                unreg: p.flags & PR_FLAG_UNREG != 0,
                aptpl: p.flags & PR_FLAG_APTPL != 0,
            }
        }
        PR_OUT_REPLACE_LOST_RESERVATION => {
            check_flags(p.flags, 0, "REPLACE LOST RESERVATION")?;
            no_tids("REPLACE LOST RESERVATION")?;
            OutOp::ReplaceLost {
                new: sa_key,
                ty: res_type(p.type_, "type")?,
            }
        }
        other => {
            return Err(ErrorInfo::invalid(
                "service_action",
                format!("{other:#x} is not a PR OUT service action (PR_OUT_*: 0-8)"),
            ));
        }
    })
}

fn params(key: u64, sa_key: u64, type_: u32, flags: u32) -> pr_out_params {
    pr_out_params {
        key,
        sa_key,
        type_,
        flags,
        transport_ids: std::ptr::null(),
        transport_id_count: 0,
        relative_target_port: 0,
    }
}

// ---------------------------------------------------------------------------------------
// Targets: what pr_device and pr_lun have in common
// ---------------------------------------------------------------------------------------

enum Target {
    Device(Arc<DeviceCore>),
    Lun(Arc<LunCore>),
}

impl Target {
    fn device(d: *const pr_device) -> Result<Target, ErrorInfo> {
        Ok(Target::Device(Arc::clone(&handle_ref(d, "device")?.core)))
    }

    fn lun(l: *const pr_lun) -> Result<Target, ErrorInfo> {
        Ok(Target::Lun(Arc::clone(&handle_ref(l, "lun")?.core)))
    }

    fn out(self, op: OutOp) -> Result<(), ErrorInfo> {
        runtime::run(async move {
            match self {
                Target::Device(d) => d.prout(&op).await,
                Target::Lun(l) => l.prout(&op).await.map(drop),
            }
        })?
    }

    fn inq(self, op: InOp) -> Result<InAnswer, ErrorInfo> {
        runtime::run(async move {
            match self {
                Target::Device(d) => d.prin(op).await,
                Target::Lun(l) => l.prin(op).await,
            }
        })?
    }
}

fn do_out(
    target: impl FnOnce() -> Result<Target, ErrorInfo>,
    sa: u32,
    p: *const pr_out_params,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let t = target()?;
        let p = opt_ref(p, "params")?.ok_or_else(|| ErrorInfo::null("params"))?;
        let op = out_op(sa, p)?;
        t.out(op)
    })
}

fn do_out_simple(
    target: impl FnOnce() -> Result<Target, ErrorInfo>,
    sa: u32,
    p: pr_out_params,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let t = target()?;
        let op = out_op(sa, &p)?;
        t.out(op)
    })
}

fn do_in<H: Handle>(
    target: impl FnOnce() -> Result<Target, ErrorInfo>,
    op: InOp,
    out: *mut *mut H,
    err: *mut *mut pr_error,
    wrap: impl FnOnce(InAnswer) -> Option<H::Inner>,
) -> pr_result {
    boundary(err, || {
        let t = target()?;
        let out = Out::new(out, "out")?;
        let answer = t.inq(op)?;
        let inner = wrap(answer).ok_or_else(|| {
            ErrorInfo::new(
                pr_result::PR_ERR_PANIC,
                "internal error: wrong PR IN answer",
            )
        })?;
        out.write(into_handle::<H>(inner));
        Ok(())
    })
}

fn keys_of(a: InAnswer) -> Option<KeysHandle> {
    match a {
        InAnswer::Keys(info) => Some(KeysHandle {
            path: cstring(info.path.clone()),
            info,
        }),
        _ => None,
    }
}

fn reservation_of(a: InAnswer) -> Option<ReservationHandle> {
    match a {
        InAnswer::Reservation(info) => Some(ReservationHandle {
            path: cstring(info.path.clone()),
            info,
        }),
        _ => None,
    }
}

fn caps_of(a: InAnswer) -> Option<CapabilitiesHandle> {
    match a {
        InAnswer::Capabilities(caps, path) => Some(CapabilitiesHandle {
            caps,
            path: cstring(path),
        }),
        _ => None,
    }
}

fn full_of(a: InAnswer) -> Option<FullStatusHandle> {
    match a {
        InAnswer::Full(info) => Some(FullStatusHandle {
            texts: info
                .entries
                .iter()
                .map(|e| e.transport_id.as_ref().map(|t| cstring(t.to_string())))
                .collect(),
            path: cstring(info.path.clone()),
            info,
        }),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// pr_device
// ---------------------------------------------------------------------------------------

fn open_device(path: String, read_only: bool) -> Result<DeviceHandle, ErrorInfo> {
    let dev = runtime::run_blocking(move || {
        pr_sgio::Device::open_with(&path, &pr_sgio::OpenOptions::new().read_only(read_only))
    })?
    .map_err(|e| ErrorInfo::from_sgio(&e))?;
    let name = cstring(dev.path().to_string_lossy());
    Ok(DeviceHandle {
        core: Arc::new(DeviceCore {
            path: AnyPath::Sg(dev),
        }),
        name,
    })
}

/// Opens a SCSI disk or sg node (`PR_OPEN_READ_ONLY`: read-only). Errors:
/// `PR_ERR_NOT_FOUND`, `PR_ERR_PERMISSION_DENIED`, `PR_ERR_NOT_SCSI` (a regular file,
/// `/dev/null`, a partition, ...), `PR_ERR_OS`. A dm-multipath map opens too (the kernel
/// then picks the path), but `pr_lun_open` is what a map wants.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_open(
    path: *const c_char,
    flags: u32,
    out: *mut *mut pr_device,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let path = str_arg(path, "path")?.to_owned();
        check_flags(flags, PR_OPEN_READ_ONLY, "pr_device_open")?;
        let out = Out::new(out, "out")?;
        let h = open_device(path, flags & PR_OPEN_READ_ONLY != 0)?;
        out.write(into_handle::<pr_device>(h));
        Ok(())
    })
}

/// Opens the device a file descriptor of the caller refers to, anew (through
/// `/proc/self/fd/FD`, with the access `flags` ask for). The caller keeps its descriptor.
/// A negative or closed descriptor gives `PR_ERR_INVALID_ARGUMENT` / `PR_ERR_NOT_FOUND`; a
/// regular file or `/dev/null` gives `PR_ERR_NOT_SCSI`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_open_fd(
    fd: c_int,
    flags: u32,
    out: *mut *mut pr_device,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        if fd < 0 {
            return Err(ErrorInfo::invalid(
                "fd",
                format!("{fd} is not a file descriptor"),
            ));
        }
        check_flags(flags, PR_OPEN_READ_ONLY, "pr_device_open_fd")?;
        let out = Out::new(out, "out")?;
        let h = open_device(
            format!("/proc/self/fd/{fd}"),
            flags & PR_OPEN_READ_ONLY != 0,
        )?;
        out.write(into_handle::<pr_device>(h));
        Ok(())
    })
}

/// Opens one simulated path of `sim` as a device.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_open_sim(
    sim: *const pr_sim,
    path: u32,
    out: *mut *mut pr_device,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let s = handle_ref(sim, "sim")?;
        let p = s.path(path, "path")?;
        let out = Out::new(out, "out")?;
        let name = cstring(pr_core::transport::Transport::name(&p));
        out.write(into_handle::<pr_device>(DeviceHandle {
            core: Arc::new(DeviceCore {
                path: AnyPath::Sim(p),
            }),
            name,
        }));
        Ok(())
    })
}

/// Frees a device (closes it). NULL is a no-op. Commands in flight on other threads keep
/// the device open until they finish.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_free(device: *mut pr_device) {
    boundary_or((), || free_handle(device));
}

/// The device's name (its path, or the simulated path's name); valid as long as the
/// handle. NULL for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_name(device: *const pr_device) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        handle_ref(device, "device").map_or(std::ptr::null(), |d| d.name.as_ptr())
    })
}

/// Any PR OUT service action (`PR_OUT_*`) with its arguments in `params`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_out(
    device: *const pr_device,
    service_action: u32,
    params: *const pr_out_params,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out(|| Target::device(device), service_action, params, err)
}

/// REGISTER: from `key` (0 when not registered) to `new_key` (0: unregister). Flags:
/// `PR_FLAG_APTPL`, `PR_FLAG_ALL_TG_PT`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_register(
    device: *const pr_device,
    key: u64,
    new_key: u64,
    flags: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out_simple(
        || Target::device(device),
        PR_OUT_REGISTER,
        params(key, new_key, 0, flags),
        err,
    )
}

/// REGISTER AND IGNORE EXISTING KEY to `new_key`. Flags: `PR_FLAG_APTPL`,
/// `PR_FLAG_ALL_TG_PT`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_register_ignore(
    device: *const pr_device,
    new_key: u64,
    flags: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out_simple(
        || Target::device(device),
        PR_OUT_REGISTER_AND_IGNORE,
        params(0, new_key, 0, flags),
        err,
    )
}

/// RESERVE with `type_` (`PR_TYPE_*`).
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_reserve(
    device: *const pr_device,
    key: u64,
    type_: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out_simple(
        || Target::device(device),
        PR_OUT_RESERVE,
        params(key, 0, type_, 0),
        err,
    )
}

/// RELEASE of a reservation of `type_`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_release(
    device: *const pr_device,
    key: u64,
    type_: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out_simple(
        || Target::device(device),
        PR_OUT_RELEASE,
        params(key, 0, type_, 0),
        err,
    )
}

/// CLEAR: removes every registration and the reservation.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_clear(
    device: *const pr_device,
    key: u64,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out_simple(
        || Target::device(device),
        PR_OUT_CLEAR,
        params(key, 0, 0, 0),
        err,
    )
}

/// PREEMPT (`abort` false) or PREEMPT AND ABORT (`abort` true) of `victim` by `key`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_preempt(
    device: *const pr_device,
    key: u64,
    victim: u64,
    type_: u32,
    abort: bool,
    err: *mut *mut pr_error,
) -> pr_result {
    let sa = if abort {
        PR_OUT_PREEMPT_AND_ABORT
    } else {
        PR_OUT_PREEMPT
    };
    do_out_simple(
        || Target::device(device),
        sa,
        params(key, victim, type_, 0),
        err,
    )
}

/// REGISTER AND MOVE: moves the reservation held by `key` to the nexus of `transport_id`
/// (`sg_persist` text form, e.g. "sas,5001405000010000" or
/// "iqn.2003-01.org.linux-iscsi.x:y,i,0x23d000000001") through target port
/// `relative_target_port`, registering it with `dest_key`. Flags: `PR_FLAG_UNREG`,
/// `PR_FLAG_APTPL`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_register_and_move(
    device: *const pr_device,
    key: u64,
    dest_key: u64,
    type_: u32,
    transport_id: *const c_char,
    relative_target_port: u16,
    flags: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    let tids = [transport_id];
    let mut p = params(key, dest_key, type_, flags);
    p.transport_ids = tids.as_ptr();
    p.transport_id_count = 1;
    p.relative_target_port = relative_target_port;
    do_out_simple(|| Target::device(device), PR_OUT_REGISTER_AND_MOVE, p, err)
}

/// REPLACE LOST RESERVATION: registers `new_key` and reserves with `type_` after the
/// device lost its reservation information.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_replace_lost_reservation(
    device: *const pr_device,
    new_key: u64,
    type_: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out_simple(
        || Target::device(device),
        PR_OUT_REPLACE_LOST_RESERVATION,
        params(0, new_key, type_, 0),
        err,
    )
}

/// READ KEYS; `*out` receives a result to free with `pr_keys_free`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_read_keys(
    device: *const pr_device,
    out: *mut *mut pr_keys,
    err: *mut *mut pr_error,
) -> pr_result {
    do_in(|| Target::device(device), InOp::ReadKeys, out, err, keys_of)
}

/// READ RESERVATION; free with `pr_reservation_free`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_read_reservation(
    device: *const pr_device,
    out: *mut *mut pr_reservation,
    err: *mut *mut pr_error,
) -> pr_result {
    do_in(
        || Target::device(device),
        InOp::ReadReservation,
        out,
        err,
        reservation_of,
    )
}

/// REPORT CAPABILITIES; free with `pr_capabilities_free`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_report_capabilities(
    device: *const pr_device,
    out: *mut *mut pr_capabilities,
    err: *mut *mut pr_error,
) -> pr_result {
    do_in(
        || Target::device(device),
        InOp::Capabilities,
        out,
        err,
        caps_of,
    )
}

/// READ FULL STATUS with every descriptor (the allocation length grows as needed; no
/// 32-entry cap); free with `pr_full_status_free`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_read_full_status(
    device: *const pr_device,
    out: *mut *mut pr_full_status,
    err: *mut *mut pr_error,
) -> pr_result {
    do_in(
        || Target::device(device),
        InOp::FullStatus,
        out,
        err,
        full_of,
    )
}

// ---------------------------------------------------------------------------------------
// pr_lun
// ---------------------------------------------------------------------------------------

/// Opens a dm-multipath map (`mpatha`, `/dev/mapper/mpatha` or `/dev/dm-3`): discovers its
/// paths, opens each path device, reads multipath.conf and the prkeys file (unless
/// `PR_LUN_NO_CONFIG`) and talks to multipathd (unless `PR_LUN_NO_MULTIPATHD`). Needs root.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_open(
    map: *const c_char,
    flags: u32,
    out: *mut *mut pr_lun,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let map = str_arg(map, "map")?.to_owned();
        check_flags(
            flags,
            PR_LUN_NO_MULTIPATHD | PR_LUN_NO_CONFIG,
            "pr_lun_open",
        )?;
        let out = Out::new(out, "out")?;
        let mut opts = FromMapOptions::default();
        if flags & PR_LUN_NO_MULTIPATHD != 0 {
            opts.multipathd = false;
        }
        if flags & PR_LUN_NO_CONFIG != 0 {
            opts.multipath_conf = None;
        }
        let lun =
            runtime::run_blocking(move || pr_multipath::MultipathLun::from_map_with(&map, &opts))?
                .map_err(|e| ErrorInfo::from_multipath(&e))?;
        let name = cstring(lun.name());
        out.write(into_handle::<pr_lun>(LunHandle {
            core: Arc::new(LunCore::Map(lun)),
            name,
        }));
        Ok(())
    })
}

/// A LUN named `name` over the given path devices (SCSI disks or sg nodes of one logical
/// unit, `count` at most `PR_MAX_PATHS`), all usable, one path group, without multipathd
/// or configuration.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_open_paths(
    name: *const c_char,
    devices: *const *const c_char,
    count: usize,
    out: *mut *mut pr_lun,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let name = str_arg(name, "name")?.to_owned();
        let ptrs = slice_arg(devices, count, PR_MAX_PATHS, "devices")?;
        if ptrs.is_empty() {
            return Err(ErrorInfo::invalid("count", "a LUN needs at least one path"));
        }
        let mut nodes = Vec::with_capacity(ptrs.len());
        for (i, p) in ptrs.iter().enumerate() {
            nodes.push(str_arg(*p, &format!("devices[{i}]"))?.to_owned());
        }
        let out = Out::new(out, "out")?;
        let opened = runtime::run_blocking(move || {
            nodes
                .iter()
                .map(|n| pr_sgio::Device::open(n).map(|d| (n.clone(), d)))
                .collect::<Result<Vec<_>, _>>()
        })?
        .map_err(|e| ErrorInfo::from_sgio(&e))?;
        let paths = opened
            .into_iter()
            .map(|(n, d)| (n, AnyPath::Sg(d), None))
            .collect();
        let core = lun_from_paths(&name, paths);
        out.write(into_handle::<pr_lun>(LunHandle {
            core: Arc::new(core),
            name: cstring(name),
        }));
        Ok(())
    })
}

/// A LUN named `name` over simulated paths of `sim` (ids from `pr_sim_add_path`, all to
/// the same logical unit). Each path's SCSI host is its initiator port, so ALL_TG_PT
/// registers one path per initiator.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_open_sim(
    sim: *const pr_sim,
    name: *const c_char,
    paths: *const u32,
    count: usize,
    out: *mut *mut pr_lun,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let s = handle_ref(sim, "sim")?;
        let name = str_arg(name, "name")?.to_owned();
        let ids = slice_arg(paths, count, PR_MAX_PATHS, "paths")?;
        if ids.is_empty() {
            return Err(ErrorInfo::invalid("count", "a LUN needs at least one path"));
        }
        let mut list = Vec::with_capacity(ids.len());
        let mut lun = None;
        for (i, id) in ids.iter().enumerate() {
            let p = s.path(*id, &format!("paths[{i}]"))?;
            match lun {
                None => lun = Some(p.lun()),
                Some(l) if l != p.lun() => {
                    return Err(ErrorInfo::invalid(
                        &format!("paths[{i}]"),
                        format!(
                            "path {id} leads to logical unit {}, the others to {}",
                            p.lun().0,
                            l.0
                        ),
                    ));
                }
                Some(_) => {}
            }
            let host = u32::try_from(p.nexus().initiator.0).ok();
            let pname = pr_core::transport::Transport::name(&p).to_owned();
            list.push((pname, AnyPath::Sim(p), host));
        }
        let out = Out::new(out, "out")?;
        let core = lun_from_paths(&name, list);
        out.write(into_handle::<pr_lun>(LunHandle {
            core: Arc::new(core),
            name: cstring(name),
        }));
        Ok(())
    })
}

/// Frees a LUN. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_free(lun: *mut pr_lun) {
    boundary_or((), || free_handle(lun));
}

/// The LUN's name (the map name); valid as long as the handle. NULL for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_name(lun: *const pr_lun) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        handle_ref(lun, "lun").map_or(std::ptr::null(), |l| l.name.as_ptr())
    })
}

/// The number of paths (usable or not); 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_path_count(lun: *const pr_lun) -> usize {
    boundary_or(0, || {
        handle_ref(lun, "lun").map_or(0, |l| l.core.path_count())
    })
}

/// The number of paths pr-multipath considers usable now; 0 for NULL. A path that failed a
/// command is marked failed until `pr_lun_reinstate_path` (or, on a real map, until the map
/// reports it active again).
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_usable_path_count(lun: *const pr_lun) -> usize {
    boundary_or(0, || {
        handle_ref(lun, "lun").map_or(0, |l| l.core.usable_paths().len())
    })
}

/// Brings a path that came back into use: marks it usable and registers `key` on it with
/// REGISTER AND IGNORE EXISTING KEY (`key` 0: only marks it usable).
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_reinstate_path(
    lun: *const pr_lun,
    path: *const c_char,
    key: u64,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let core = Arc::clone(&handle_ref(lun, "lun")?.core);
        let path = str_arg(path, "path")?.to_owned();
        if !core.set_path_usable(&path, true) {
            return Err(ErrorInfo::invalid(
                "path",
                format!("{path:?} is not a path of {}", core.name()),
            ));
        }
        if key == 0 {
            return Ok(());
        }
        runtime::run(async move {
            let r = match &*core {
                LunCore::Map(l) => l.reinstate_path(&path, ReservationKey(key)).await,
                LunCore::Paths(l) => l.reinstate_path(&path, ReservationKey(key)).await,
            };
            r.map(drop).map_err(|e| ErrorInfo::from_multipath(&e))
        })?
    })
}

/// Any PR OUT service action (`PR_OUT_*`) with pr-multipath semantics.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_out(
    lun: *const pr_lun,
    service_action: u32,
    params: *const pr_out_params,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out(|| Target::lun(lun), service_action, params, err)
}

/// REGISTER on every usable path (ALL_TG_PT: one per SCSI host), from `key` (0 when not
/// registered) to `new_key` (0: unregister, releasing first if this key holds the
/// reservation). Flags: `PR_FLAG_APTPL`, `PR_FLAG_ALL_TG_PT`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_register(
    lun: *const pr_lun,
    key: u64,
    new_key: u64,
    flags: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out_simple(
        || Target::lun(lun),
        PR_OUT_REGISTER,
        params(key, new_key, 0, flags),
        err,
    )
}

/// REGISTER with SPEC_I_PT: registers `new_key` for this host's paths and for the
/// initiator ports of `transport_ids` (`count` at most `PR_MAX_TRANSPORT_IDS`, text forms
/// of `sg_persist`). Flags: `PR_FLAG_APTPL`, `PR_FLAG_ALL_TG_PT`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_register_spec_i_pt(
    lun: *const pr_lun,
    key: u64,
    new_key: u64,
    flags: u32,
    transport_ids: *const *const c_char,
    count: usize,
    err: *mut *mut pr_error,
) -> pr_result {
    let mut p = params(key, new_key, 0, flags | PR_FLAG_SPEC_I_PT);
    p.transport_ids = transport_ids;
    p.transport_id_count = count;
    do_out_simple(|| Target::lun(lun), PR_OUT_REGISTER, p, err)
}

/// REGISTER AND IGNORE EXISTING KEY to `new_key` on every usable path.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_register_ignore(
    lun: *const pr_lun,
    new_key: u64,
    flags: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out_simple(
        || Target::lun(lun),
        PR_OUT_REGISTER_AND_IGNORE,
        params(0, new_key, 0, flags),
        err,
    )
}

/// RESERVE through one path (the next on path failure).
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_reserve(
    lun: *const pr_lun,
    key: u64,
    type_: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out_simple(
        || Target::lun(lun),
        PR_OUT_RESERVE,
        params(key, 0, type_, 0),
        err,
    )
}

/// RELEASE on every usable path (with the release workaround when the holder path is
/// down).
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_release(
    lun: *const pr_lun,
    key: u64,
    type_: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out_simple(
        || Target::lun(lun),
        PR_OUT_RELEASE,
        params(key, 0, type_, 0),
        err,
    )
}

/// CLEAR through one path.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_clear(lun: *const pr_lun, key: u64, err: *mut *mut pr_error) -> pr_result {
    do_out_simple(|| Target::lun(lun), PR_OUT_CLEAR, params(key, 0, 0, 0), err)
}

/// PREEMPT or PREEMPT AND ABORT (`abort`) of `victim` by `key`, through one path.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_preempt(
    lun: *const pr_lun,
    key: u64,
    victim: u64,
    type_: u32,
    abort: bool,
    err: *mut *mut pr_error,
) -> pr_result {
    let sa = if abort {
        PR_OUT_PREEMPT_AND_ABORT
    } else {
        PR_OUT_PREEMPT
    };
    do_out_simple(|| Target::lun(lun), sa, params(key, victim, type_, 0), err)
}

/// REGISTER AND MOVE through one path (see `pr_device_register_and_move`).
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_register_and_move(
    lun: *const pr_lun,
    key: u64,
    dest_key: u64,
    type_: u32,
    transport_id: *const c_char,
    relative_target_port: u16,
    flags: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    let tids = [transport_id];
    let mut p = params(key, dest_key, type_, flags);
    p.transport_ids = tids.as_ptr();
    p.transport_id_count = 1;
    p.relative_target_port = relative_target_port;
    do_out_simple(|| Target::lun(lun), PR_OUT_REGISTER_AND_MOVE, p, err)
}

/// REPLACE LOST RESERVATION through one path, then REGISTER AND IGNORE on the others.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_replace_lost_reservation(
    lun: *const pr_lun,
    new_key: u64,
    type_: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out_simple(
        || Target::lun(lun),
        PR_OUT_REPLACE_LOST_RESERVATION,
        params(0, new_key, type_, 0),
        err,
    )
}

/// READ KEYS through the first path that answers.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_read_keys(
    lun: *const pr_lun,
    out: *mut *mut pr_keys,
    err: *mut *mut pr_error,
) -> pr_result {
    do_in(|| Target::lun(lun), InOp::ReadKeys, out, err, keys_of)
}

/// READ RESERVATION through the first path that answers.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_read_reservation(
    lun: *const pr_lun,
    out: *mut *mut pr_reservation,
    err: *mut *mut pr_error,
) -> pr_result {
    do_in(
        || Target::lun(lun),
        InOp::ReadReservation,
        out,
        err,
        reservation_of,
    )
}

/// REPORT CAPABILITIES through the first path that answers.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_report_capabilities(
    lun: *const pr_lun,
    out: *mut *mut pr_capabilities,
    err: *mut *mut pr_error,
) -> pr_result {
    do_in(|| Target::lun(lun), InOp::Capabilities, out, err, caps_of)
}

/// READ FULL STATUS through the first path that answers, every descriptor.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_read_full_status(
    lun: *const pr_lun,
    out: *mut *mut pr_full_status,
    err: *mut *mut pr_error,
) -> pr_result {
    do_in(|| Target::lun(lun), InOp::FullStatus, out, err, full_of)
}

// ---------------------------------------------------------------------------------------
// PR IN results
// ---------------------------------------------------------------------------------------

fn index_arg(i: usize, len: usize) -> Result<usize, ErrorInfo> {
    if i < len {
        Ok(i)
    } else {
        Err(ErrorInfo::invalid(
            "index",
            format!("{i} is out of range (count {len})"),
        ))
    }
}

/// Frees a READ KEYS result. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn pr_keys_free(keys: *mut pr_keys) {
    boundary_or((), || free_handle(keys));
}

/// PRGENERATION; 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_keys_generation(keys: *const pr_keys) -> u32 {
    boundary_or(0, || {
        handle_ref(keys, "keys").map_or(0, |k| k.info.generation)
    })
}

/// The number of keys (one per registered I_T nexus); 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_keys_count(keys: *const pr_keys) -> usize {
    boundary_or(0, || {
        handle_ref(keys, "keys").map_or(0, |k| k.info.keys.len())
    })
}

/// The key at `index` into `*out`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_keys_get(
    keys: *const pr_keys,
    index: usize,
    out: *mut u64,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let k = handle_ref(keys, "keys")?;
        let out = Out::new(out, "out")?;
        let i = index_arg(index, k.info.keys.len())?;
        out.write(k.info.keys.get(i).map_or(0, |k| k.0));
        Ok(())
    })
}

/// The path that answered; valid as long as the result.
#[unsafe(no_mangle)]
pub extern "C" fn pr_keys_path(keys: *const pr_keys) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        handle_ref(keys, "keys").map_or(std::ptr::null(), |k| k.path.as_ptr())
    })
}

/// Frees a READ RESERVATION result. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn pr_reservation_free(reservation: *mut pr_reservation) {
    boundary_or((), || free_handle(reservation));
}

/// PRGENERATION; 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_reservation_generation(reservation: *const pr_reservation) -> u32 {
    boundary_or(0, || {
        handle_ref(reservation, "reservation").map_or(0, |r| r.info.generation)
    })
}

/// Whether a reservation is held; false for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_reservation_is_held(reservation: *const pr_reservation) -> bool {
    boundary_or(false, || {
        handle_ref(reservation, "reservation").is_ok_and(|r| r.info.reservation.is_some())
    })
}

/// The holder's key (0 for the all-registrants types, when none is held, and for NULL).
#[unsafe(no_mangle)]
pub extern "C" fn pr_reservation_key(reservation: *const pr_reservation) -> u64 {
    boundary_or(0, || {
        handle_ref(reservation, "reservation")
            .ok()
            .and_then(|r| r.info.reservation)
            .map_or(0, |r| r.key.0)
    })
}

/// The TYPE code (`PR_TYPE_*`, or an obsolete code as sent); 0 when none is held.
#[unsafe(no_mangle)]
pub extern "C" fn pr_reservation_type(reservation: *const pr_reservation) -> u32 {
    boundary_or(0, || {
        handle_ref(reservation, "reservation")
            .ok()
            .and_then(|r| r.info.reservation)
            .map_or(0, |r| u32::from(r.type_code))
    })
}

/// The SCOPE code (0: LU_SCOPE); 0 when none is held.
#[unsafe(no_mangle)]
pub extern "C" fn pr_reservation_scope(reservation: *const pr_reservation) -> u32 {
    boundary_or(0, || {
        handle_ref(reservation, "reservation")
            .ok()
            .and_then(|r| r.info.reservation)
            .map_or(0, |r| u32::from(r.scope.code()))
    })
}

/// The path that answered; valid as long as the result.
#[unsafe(no_mangle)]
pub extern "C" fn pr_reservation_path(reservation: *const pr_reservation) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        handle_ref(reservation, "reservation").map_or(std::ptr::null(), |r| r.path.as_ptr())
    })
}

/// Frees a REPORT CAPABILITIES result. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn pr_capabilities_free(caps: *mut pr_capabilities) {
    boundary_or((), || free_handle(caps));
}

/// Bytes 2-3 of the response: the `PR_CAP_*` bits (ALLOW COMMANDS in bits 6:4, see
/// `pr_capabilities_allow_commands`); 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_capabilities_flags(caps: *const pr_capabilities) -> u16 {
    boundary_or(0, || {
        handle_ref(caps, "caps").map_or(0, |c| {
            c.caps.flags.bits()
                | (u16::from(c.caps.allow_commands.0 & 0x7) << 4)
                | c.caps.reserved_flag_bits
        })
    })
}

/// The PERSISTENT RESERVATION TYPE MASK (meaningful when `PR_CAP_TMV` is set): bit
/// 0x8000 WR_EX_AR, 0x4000 EX_AC_RO, 0x2000 WR_EX_RO, 0x0800 EX_AC, 0x0200 WR_EX, 0x0001
/// EX_AC_AR; 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_capabilities_type_mask(caps: *const pr_capabilities) -> u16 {
    boundary_or(0, || {
        handle_ref(caps, "caps").map_or(0, |c| c.caps.type_mask.bits() | c.caps.reserved_type_bits)
    })
}

/// The ALLOW COMMANDS field (0-7); 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_capabilities_allow_commands(caps: *const pr_capabilities) -> u8 {
    boundary_or(0, || {
        handle_ref(caps, "caps").map_or(0, |c| c.caps.allow_commands.0 & 0x7)
    })
}

/// The path that answered; valid as long as the result.
#[unsafe(no_mangle)]
pub extern "C" fn pr_capabilities_path(caps: *const pr_capabilities) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        handle_ref(caps, "caps").map_or(std::ptr::null(), |c| c.path.as_ptr())
    })
}

/// Frees a READ FULL STATUS result. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn pr_full_status_free(status: *mut pr_full_status) {
    boundary_or((), || free_handle(status));
}

/// PRGENERATION; 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_full_status_generation(status: *const pr_full_status) -> u32 {
    boundary_or(0, || {
        handle_ref(status, "status").map_or(0, |s| s.info.generation)
    })
}

/// The number of descriptors (all of them: no cap); 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_full_status_count(status: *const pr_full_status) -> usize {
    boundary_or(0, || {
        handle_ref(status, "status").map_or(0, |s| s.info.entries.len())
    })
}

/// The descriptor at `index` into `*out`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_full_status_get(
    status: *const pr_full_status,
    index: usize,
    out: *mut pr_full_status_entry,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let s = handle_ref(status, "status")?;
        let out = Out::new(out, "out")?;
        let i = index_arg(index, s.info.entries.len())?;
        let e = s
            .info
            .entries
            .get(i)
            .ok_or_else(|| ErrorInfo::invalid("index", "out of range"))?;
        out.write(pr_full_status_entry {
            key: e.key.0,
            relative_target_port: e.relative_target_port,
            type_: e.type_code & 0x0f,
            all_tg_pt: e.all_tg_pt,
            holder: e.holder,
        });
        Ok(())
    })
}

/// The TransportID of descriptor `index` in `sg_persist` text form (e.g.
/// "sas,5001405000010000"), valid as long as the result; NULL when `index` is out of range
/// or the TransportID does not decode (its bytes are still there:
/// `pr_full_status_transport_id_bytes`).
#[unsafe(no_mangle)]
pub extern "C" fn pr_full_status_transport_id(
    status: *const pr_full_status,
    index: usize,
) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        handle_ref(status, "status")
            .ok()
            .and_then(|s| s.texts.get(index))
            .and_then(Option::as_ref)
            .map_or(std::ptr::null(), |t| t.as_ptr())
    })
}

/// The raw TransportID bytes of descriptor `index` and their count in `*len` (`len` may be
/// NULL); NULL and 0 when out of range.
#[unsafe(no_mangle)]
pub extern "C" fn pr_full_status_transport_id_bytes(
    status: *const pr_full_status,
    index: usize,
    len: *mut usize,
) -> *const u8 {
    boundary_or(std::ptr::null(), || {
        let bytes = handle_ref(status, "status")
            .ok()
            .and_then(|s| s.info.entries.get(index))
            .map_or(&[][..], |e| e.transport_id_bytes.as_slice());
        if let Ok(out) = Out::new(len, "len") {
            out.write(bytes.len());
        }
        if bytes.is_empty() {
            std::ptr::null()
        } else {
            bytes.as_ptr()
        }
    })
}

/// The path that answered; valid as long as the result.
#[unsafe(no_mangle)]
pub extern "C" fn pr_full_status_path(status: *const pr_full_status) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        handle_ref(status, "status").map_or(std::ptr::null(), |s| s.path.as_ptr())
    })
}

// ---------------------------------------------------------------------------------------
// Cancellation and many-LUN operations
// ---------------------------------------------------------------------------------------

/// A new, not cancelled, token.
#[unsafe(no_mangle)]
pub extern "C" fn pr_cancel_new(out: *mut *mut pr_cancel, err: *mut *mut pr_error) -> pr_result {
    boundary(err, || {
        Out::new(out, "out")?.write(into_handle::<pr_cancel>(CancellationToken::new()));
        Ok(())
    })
}

/// Cancels: many-LUN operations using the token start no new LUN. Thread-safe: call it
/// from any thread while an operation runs.
#[unsafe(no_mangle)]
pub extern "C" fn pr_cancel_cancel(cancel: *const pr_cancel, err: *mut *mut pr_error) -> pr_result {
    boundary(err, || {
        handle_ref(cancel, "cancel")?.cancel();
        Ok(())
    })
}

/// Whether the token was cancelled; false for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_cancel_is_cancelled(cancel: *const pr_cancel) -> bool {
    boundary_or(false, || {
        handle_ref(cancel, "cancel").is_ok_and(CancellationToken::is_cancelled)
    })
}

/// Frees a token (after every operation using it returned). NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn pr_cancel_free(cancel: *mut pr_cancel) {
    boundary_or((), || free_handle(cancel));
}

enum FleetMsg {
    /// A LUN finished. With a progress callback, `ack` carries back whether the callback
    /// asked to cancel, and no further LUN is started before it answers.
    Progress {
        lun: CString,
        code: pr_result,
        ack: Option<tokio::sync::oneshot::Sender<bool>>,
    },
    Done(Vec<FleetEntry>),
    /// The operation panicked on the runtime thread.
    Panicked(ErrorInfo),
}

#[derive(Clone, Copy)]
enum FleetOp {
    Unfence(ReservationKey),
    Fence(ReservationKey, ReservationKey, ReservationType),
}

fn fleet(
    luns: *const *const pr_lun,
    count: usize,
    op: FleetOp,
    options: *const pr_fleet_options,
    out: *mut *mut pr_fleet_result,
    err: *mut *mut pr_error,
) -> pr_result {
    let mut incomplete: Option<String> = None;
    let r = boundary(err, || {
        let ptrs = slice_arg(luns, count, PR_MAX_FLEET_LUNS, "luns")?;
        let mut cores = Vec::with_capacity(ptrs.len());
        for (i, p) in ptrs.iter().enumerate() {
            cores.push(Arc::clone(&handle_ref(*p, &format!("luns[{i}]"))?.core));
        }
        let opts = opt_ref(options, "options")?;
        let concurrency = opts.map_or(0, |o| o.concurrency);
        let concurrency = if concurrency == 0 { 32 } else { concurrency };
        let parent = match opts {
            Some(o) if !o.cancel.is_null() => {
                Some(handle_ref(o.cancel, "options->cancel")?.clone())
            }
            _ => None,
        };
        let progress = opts.and_then(|o| o.progress);
        let user_data = opts.map_or(std::ptr::null_mut(), |o| o.user_data);
        let out = Out::new(out, "out")?;
        let token = parent.map_or_else(CancellationToken::new, |p| p.child_token());
        let (tx, rx) = std::sync::mpsc::channel::<FleetMsg>();
        let task_token = token.clone();
        let has_progress = progress.is_some();
        let panic_tx = tx.clone();
        let fut = async move {
            let total = cores.len();
            let ptx = tx.clone();
            let mut results: Vec<Option<FleetEntry>> = (0..total).map(|_| None).collect();
            let run = stream::iter(cores.clone().into_iter().enumerate())
                .map(|(i, l)| {
                    let token = task_token.clone();
                    async move {
                        // Cancelled: this LUN is not started (its slot stays empty).
                        if token.is_cancelled() {
                            return (i, None);
                        }
                        let r = match op {
                            FleetOp::Unfence(key) => lun_register_ignore(&l, key).await,
                            FleetOp::Fence(key, victim, ty) => l
                                .prout(&OutOp::Preempt {
                                    key,
                                    victim,
                                    ty,
                                    abort: true,
                                })
                                .await
                                .map(drop),
                        };
                        (i, Some(r))
                    }
                })
                .buffer_unordered(concurrency);
            futures_util::pin_mut!(run);
            while let Some((i, r)) = run.next().await {
                let Some(r) = r else { continue };
                let name = cores
                    .get(i)
                    .map_or_else(String::new, |c| c.name().to_owned());
                let code = r.as_ref().err().map_or(pr_result::PR_OK, |e| e.code);
                let (ack, acked) = if has_progress {
                    let (a, b) = tokio::sync::oneshot::channel();
                    (Some(a), Some(b))
                } else {
                    (None, None)
                };
                let _ = ptx.send(FleetMsg::Progress {
                    lun: cstring(name.clone()),
                    code,
                    ack,
                });
                if let Some(acked) = acked
                    && acked.await == Ok(true)
                {
                    task_token.cancel();
                }
                if let Some(slot) = results.get_mut(i) {
                    *slot = Some(FleetEntry {
                        name: cstring(name),
                        error: r.err(),
                    });
                }
            }
            let mut entries = Vec::with_capacity(total);
            for (i, slot) in results.into_iter().enumerate() {
                let entry = slot.unwrap_or_else(|| {
                    let name = cores
                        .get(i)
                        .map_or_else(String::new, |c| c.name().to_owned());
                    let _ = ptx.send(FleetMsg::Progress {
                        lun: cstring(name.clone()),
                        code: pr_result::PR_ERR_CANCELLED,
                        ack: None,
                    });
                    FleetEntry {
                        error: Some(ErrorInfo::new(
                            pr_result::PR_ERR_CANCELLED,
                            format!("{name}: cancelled before it started"),
                        )),
                        name: cstring(name),
                    }
                });
                entries.push(entry);
            }
            let _ = tx.send(FleetMsg::Done(entries));
        };
        runtime::spawn(async move {
            if let Err(p) = AssertUnwindSafe(fut).catch_unwind().await {
                let _ = panic_tx.send(FleetMsg::Panicked(ErrorInfo::new(
                    pr_result::PR_ERR_PANIC,
                    format!("internal error: {}", ffi::panic_message(p.as_ref())),
                )));
            }
        })?;
        let total = count;
        let mut done = 0usize;
        let entries = loop {
            match rx.recv() {
                Ok(FleetMsg::Progress { lun, code, ack }) => {
                    done = done.saturating_add(1);
                    let stop = progress
                        .is_some_and(|cb| cb(user_data, done, total, lun.as_ptr(), code) != 0);
                    if stop {
                        token.cancel();
                    }
                    if let Some(ack) = ack {
                        let _ = ack.send(stop);
                    }
                }
                Ok(FleetMsg::Done(entries)) => break entries,
                Ok(FleetMsg::Panicked(e)) => return Err(e),
                Err(_) => {
                    return Err(ErrorInfo::new(
                        pr_result::PR_ERR_RUNTIME,
                        "the runtime thread stopped before the operation finished \
                         (pr_library_exit, or an internal error)",
                    ));
                }
            }
        };
        let failed: Vec<&FleetEntry> = entries.iter().filter(|e| e.error.is_some()).collect();
        if let Some(first) = failed.first() {
            let msg = first
                .error
                .as_ref()
                .map_or_else(String::new, |e| e.message.to_string_lossy().into_owned());
            incomplete = Some(format!(
                "{} of {} LUNs did not succeed; first: {msg}",
                failed.len(),
                entries.len()
            ));
        }
        out.write(into_handle::<pr_fleet_result>(entries));
        Ok(())
    });
    match incomplete {
        Some(msg) if r == pr_result::PR_OK => {
            ffi::fail(err, ErrorInfo::new(pr_result::PR_ERR_FLEET_INCOMPLETE, msg))
        }
        _ => r,
    }
}

async fn lun_register_ignore(l: &LunCore, key: ReservationKey) -> Result<(), ErrorInfo> {
    let req = RegisterRequest::register_ignore(key);
    let r = match l {
        LunCore::Map(m) => m.register(req).await,
        LunCore::Paths(m) => m.register(req).await,
    };
    r.map(drop).map_err(|e| ErrorInfo::from_multipath(&e))
}

/// Unfence: REGISTER AND IGNORE EXISTING KEY of `key` on every usable path of every LUN
/// (`count` at most `PR_MAX_FLEET_LUNS`), up to `options->concurrency` LUNs at once.
/// Returns `PR_OK` when every LUN succeeded and `PR_ERR_FLEET_INCOMPLETE` (with a summary
/// in `*err`) when some failed or were cancelled; **in both cases `*out` receives the
/// per-LUN results** (free with
/// `pr_fleet_result_free`). Other errors (bad arguments) leave `*out` untouched. Progress:
/// see `pr_progress_fn` (on the calling thread).
#[unsafe(no_mangle)]
pub extern "C" fn pr_fleet_unfence(
    luns: *const *const pr_lun,
    count: usize,
    key: u64,
    options: *const pr_fleet_options,
    out: *mut *mut pr_fleet_result,
    err: *mut *mut pr_error,
) -> pr_result {
    if key == 0 {
        return boundary(err, || {
            Err(ErrorInfo::invalid(
                "key",
                "unfencing with key 0 would unregister",
            ))
        });
    }
    fleet(
        luns,
        count,
        FleetOp::Unfence(ReservationKey(key)),
        options,
        out,
        err,
    )
}

/// Fence: PREEMPT AND ABORT of `victim` by `my_key` with `type_` on every LUN (see
/// `pr_fleet_unfence` for results, concurrency, progress and cancellation).
#[unsafe(no_mangle)]
pub extern "C" fn pr_fleet_fence(
    luns: *const *const pr_lun,
    count: usize,
    my_key: u64,
    victim: u64,
    type_: u32,
    options: *const pr_fleet_options,
    out: *mut *mut pr_fleet_result,
    err: *mut *mut pr_error,
) -> pr_result {
    let ty = match res_type(type_, "type") {
        Ok(t) => t,
        Err(e) => return boundary(err, || Err(e)),
    };
    fleet(
        luns,
        count,
        FleetOp::Fence(ReservationKey(my_key), ReservationKey(victim), ty),
        options,
        out,
        err,
    )
}

fn fleet_ref<'a>(r: *const pr_fleet_result) -> Option<&'a Vec<FleetEntry>> {
    handle_ref(r, "result").ok()
}

/// Frees many-LUN results (and the errors they own). NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn pr_fleet_result_free(result: *mut pr_fleet_result) {
    boundary_or((), || free_handle(result));
}

/// The number of LUNs (as many as were passed, in the same order); 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_fleet_result_count(result: *const pr_fleet_result) -> usize {
    boundary_or(0, || fleet_ref(result).map_or(0, Vec::len))
}

/// The number of LUNs that failed or were cancelled; 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_fleet_result_failed_count(result: *const pr_fleet_result) -> usize {
    boundary_or(0, || {
        fleet_ref(result).map_or(0, |v| v.iter().filter(|e| e.error.is_some()).count())
    })
}

/// The name of LUN `index`; NULL when out of range.
#[unsafe(no_mangle)]
pub extern "C" fn pr_fleet_result_lun(
    result: *const pr_fleet_result,
    index: usize,
) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        fleet_ref(result)
            .and_then(|v| v.get(index))
            .map_or(std::ptr::null(), |e| e.name.as_ptr())
    })
}

/// The result of LUN `index` (`PR_OK`, its error's code, `PR_ERR_CANCELLED`);
/// `PR_ERR_INVALID_ARGUMENT` when out of range or NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_fleet_result_status(
    result: *const pr_fleet_result,
    index: usize,
) -> pr_result {
    boundary_or(pr_result::PR_ERR_PANIC, || {
        fleet_ref(result)
            .and_then(|v| v.get(index))
            .map_or(pr_result::PR_ERR_INVALID_ARGUMENT, |e| {
                e.error.as_ref().map_or(pr_result::PR_OK, |x| x.code)
            })
    })
}

/// The error of LUN `index` (with its sense data and report), owned by `result`: do not
/// free it. NULL when that LUN succeeded or `index` is out of range.
#[unsafe(no_mangle)]
pub extern "C" fn pr_fleet_result_error(
    result: *const pr_fleet_result,
    index: usize,
) -> *const pr_error {
    boundary_or(std::ptr::null(), || {
        fleet_ref(result)
            .and_then(|v| v.get(index))
            .and_then(|e| e.error.as_ref())
            .map_or(std::ptr::null(), |x| {
                std::ptr::from_ref(x).cast::<pr_error>()
            })
    })
}

// ---------------------------------------------------------------------------------------
// pr_sim
// ---------------------------------------------------------------------------------------

/// A simulated target with `target_ports` target ports (relative target port identifiers
/// 1..=target_ports; 1 to 255), no logical unit and no initiator.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_new(
    target_ports: u16,
    out: *mut *mut pr_sim,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        if !(1..=255).contains(&target_ports) {
            return Err(ErrorInfo::invalid(
                "target_ports",
                format!("{target_ports} is not in 1..=255"),
            ));
        }
        let out = Out::new(out, "out")?;
        out.write(into_handle::<pr_sim>(SimCore {
            sim: ::pr_sim::Sim::new(target_ports),
            paths: std::sync::Mutex::new(Vec::new()),
            lun_count: std::sync::Mutex::new(0),
        }));
        Ok(())
    })
}

/// Frees a simulator handle. NULL is a no-op. Devices and LUNs opened over its paths stay
/// usable (they share the simulated target).
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_free(sim: *mut pr_sim) {
    boundary_or((), || free_handle(sim));
}

/// Adds a logical unit (`PR_SIM_SPC5` or `PR_SIM_LIO` personality); its number (0, 1, ...)
/// goes to `*lun`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_add_lun(
    sim: *const pr_sim,
    personality: u32,
    lun: *mut u16,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let s = handle_ref(sim, "sim")?;
        let config = match personality {
            PR_SIM_SPC5 => ::pr_sim::LunConfig::spc5(),
            PR_SIM_LIO => ::pr_sim::LunConfig::lio(),
            other => {
                return Err(ErrorInfo::invalid(
                    "personality",
                    format!("{other} is not PR_SIM_SPC5 (0) or PR_SIM_LIO (1)"),
                ));
            }
        };
        let out = Out::new(lun, "lun")?;
        let mut count = s
            .lun_count
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *count >= u32::from(u16::MAX) {
            return Err(ErrorInfo::invalid(
                "sim",
                "the simulator is full (65,535 logical units)",
            ));
        }
        let l = s.sim.add_lun(config);
        *count += 1;
        out.write(l.0);
        Ok(())
    })
}

/// Adds an initiator port with a TransportID (`sg_persist` text form, e.g.
/// "sas,5001405000010000" or "iqn.1994-05.com.example:node1,i,0x23d000000001"); its id goes
/// to `*initiator`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_add_initiator(
    sim: *const pr_sim,
    transport_id: *const c_char,
    initiator: *mut u32,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let s = handle_ref(sim, "sim")?;
        let tid = parse_tid(str_arg(transport_id, "transport_id")?, "transport_id")?;
        let out = Out::new(initiator, "initiator")?;
        let id = s.sim.add_initiator(tid);
        let id = u32::try_from(id.0)
            .map_err(|_| ErrorInfo::invalid("sim", "too many initiator ports"))?;
        out.write(id);
        Ok(())
    })
}

/// Adds a path: `initiator` through target port `target_port` to logical unit `lun`, named
/// `name` (NULL: the simulator's default, e.g. `i0t1l0` for initiator 0, target port 1,
/// LUN 0); its id goes to `*path`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_add_path(
    sim: *const pr_sim,
    initiator: u32,
    target_port: u16,
    lun: u16,
    name: *const c_char,
    path: *mut u32,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let s = handle_ref(sim, "sim")?;
        let name = opt_str_arg(name, "name")?.map(str::to_owned);
        let out = Out::new(path, "path")?;
        let init = usize::try_from(initiator)
            .map_err(|_| ErrorInfo::invalid("initiator", "out of range"))?;
        let p = s
            .sim
            .path(::pr_sim::InitiatorId(init), target_port, ::pr_sim::Lun(lun))
            .map_err(|e| {
                let arg = match e {
                    ::pr_sim::SimError::NoInitiator(_) => "initiator",
                    ::pr_sim::SimError::NoTargetPort(_) => "target_port",
                    ::pr_sim::SimError::NoLun(_) => "lun",
                };
                ErrorInfo::invalid(arg, e)
            })?;
        let p = match name {
            Some(n) => p.named(n),
            None => p,
        };
        let mut paths = s
            .paths
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let id =
            u32::try_from(paths.len()).map_err(|_| ErrorInfo::invalid("sim", "too many paths"))?;
        paths.push(p);
        out.write(id);
        Ok(())
    })
}

/// Takes a path down (`down` true: its commands fail with `PR_ERR_PATH_DOWN` and never reach
/// the logical unit) or brings it back.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_path_set_down(
    sim: *const pr_sim,
    path: u32,
    down: bool,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        handle_ref(sim, "sim")?.path(path, "path")?.set_down(down);
        Ok(())
    })
}

/// Answers the next `count` commands on a path with a fault (`PR_SIM_FAULT_*`; `asc` and
/// `ascq` for the CHECK CONDITION faults) instead of executing them.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_path_inject(
    sim: *const pr_sim,
    path: u32,
    fault: u32,
    asc: u8,
    ascq: u8,
    count: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let p = handle_ref(sim, "sim")?.path(path, "path")?;
        let inj = match fault {
            PR_SIM_FAULT_UNIT_ATTENTION => ::pr_sim::Injection::UnitAttention(asc, ascq),
            PR_SIM_FAULT_BUSY => ::pr_sim::Injection::Busy,
            PR_SIM_FAULT_TASK_SET_FULL => ::pr_sim::Injection::TaskSetFull,
            PR_SIM_FAULT_NOT_READY => ::pr_sim::Injection::NotReady { asc, ascq },
            other => {
                return Err(ErrorInfo::invalid(
                    "fault",
                    format!("{other} is not a PR_SIM_FAULT_* value"),
                ));
            }
        };
        if count > 1_000_000 {
            return Err(ErrorInfo::invalid("count", "at most 1,000,000"));
        }
        p.inject(inj, usize::try_from(count).unwrap_or(0));
        Ok(())
    })
}

/// The next `count` commands on a path execute but their replies are lost: the caller gets
/// `PR_ERR_TIMEOUT` after the logical unit's state changed.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_path_lose_replies(
    sim: *const pr_sim,
    path: u32,
    count: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        handle_ref(sim, "sim")?
            .path(path, "path")?
            .lose_replies(count);
        Ok(())
    })
}

/// Clears every fault of a path (up, no injections).
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_path_clear_faults(
    sim: *const pr_sim,
    path: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        handle_ref(sim, "sim")?.path(path, "path")?.clear_faults();
        Ok(())
    })
}

/// Makes logical unit `lun` lose its persistent reservation information (then REPLACE
/// LOST RESERVATION applies).
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_lose_reservation(
    sim: *const pr_sim,
    lun: u16,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        handle_ref(sim, "sim")?
            .sim
            .lose_reservation(::pr_sim::Lun(lun))
            .map_err(|e| ErrorInfo::invalid("lun", e))
    })
}

/// Power-cycles the simulated target: non-APTPL state is lost; every nexus gets UNIT
/// ATTENTION.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_power_cycle(sim: *const pr_sim, err: *mut *mut pr_error) -> pr_result {
    boundary(err, || {
        handle_ref(sim, "sim")?.sim.power_cycle();
        Ok(())
    })
}
