// SPDX-License-Identifier: MIT OR Apache-2.0
//! The library as a whole: its version, the messages of result codes, and
//! `pr_library_exit`, which stops the runtime thread of pr-multipath's blocking bridge.

use std::ffi::c_char;

use pr_multipath::blocking;

use crate::error::pr_result;
use crate::ffi::boundary_or;

/// Major version of this library.
pub const PR_SDK_VERSION_MAJOR: u32 = 0;
/// Minor version of this library.
pub const PR_SDK_VERSION_MINOR: u32 = 1;
/// Patch version of this library.
pub const PR_SDK_VERSION_PATCH: u32 = 0;
/// The version as one number, `(MAJOR << 16) | (MINOR << 8) | PATCH`, for `#if` tests.
pub const PR_SDK_VERSION_NUMBER: u32 =
    (PR_SDK_VERSION_MAJOR << 16) | (PR_SDK_VERSION_MINOR << 8) | PR_SDK_VERSION_PATCH;

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

/// Stops and joins the library's runtime thread (`pr-sdk-runtime`, started by the first
/// call that sends a command). Call it once no other thread is inside a `pr_*` call, after
/// freeing the handles, e.g. before `dlclose` or at exit so that leak checkers see nothing
/// running. A later call starts a new runtime thread. Safe to call more than once. The log
/// callback (`pr_set_log_callback`) stays as it is.
#[unsafe(no_mangle)]
pub extern "C" fn pr_library_exit() {
    boundary_or((), blocking::shutdown);
}
