// SPDX-License-Identifier: MIT OR Apache-2.0
//! The error object's getters. Error objects are made by the `ffi` boundary from
//! [`ErrorInfo`](crate::error::ErrorInfo) and are immutable.

use std::ffi::{c_char, c_int};

use crate::error::{ErrorInfo, pr_error, pr_result};
use crate::ffi::{Out, boundary_or, free_handle, handle_ref};

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

/// For `PR_ERR_LOCK_HELD`: the keys of the hosts that hold the LUN (the reservation
/// holder's first, then other registrants); for `PR_ERR_FENCE_FAILED`: the key that was to
/// be fenced. Their count goes to `*count` (`count` may be NULL); NULL and 0 for other
/// errors. Valid as long as the error.
#[unsafe(no_mangle)]
pub extern "C" fn pr_error_holders(error: *const pr_error, count: *mut usize) -> *const u64 {
    boundary_or(std::ptr::null(), || {
        let holders = err_ref(error).map_or(&[][..], |e| e.holders.as_slice());
        if let Ok(out) = Out::new(count, "count") {
            out.write(holders.len());
        }
        if holders.is_empty() {
            std::ptr::null()
        } else {
            holders.as_ptr()
        }
    })
}
