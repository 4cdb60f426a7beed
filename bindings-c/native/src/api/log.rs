// SPDX-License-Identifier: MIT OR Apache-2.0
//! The log of the library for C programs: `pr_set_log_callback` routes pr-multipath's
//! `tracing` events (each command: path, action, outcome, duration, retries; each LUN
//! operation) and libprsdk's own (each call) to a callback or to stderr.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};

use crate::error::{ErrorInfo, pr_error, pr_result};
use crate::ffi::{UserData, boundary};
use crate::logging::{self, Sink};

/// Log level: nothing.
pub const PR_LOG_OFF: c_int = 0;
/// Log level: errors.
pub const PR_LOG_ERROR: c_int = 1;
/// Log level: warnings (a command that failed on a path, ...).
pub const PR_LOG_WARN: c_int = 2;
/// Log level: information (each LUN operation and its outcome).
pub const PR_LOG_INFO: c_int = 3;
/// Log level: debugging (each command on each path; each `pr_*` call).
pub const PR_LOG_DEBUG: c_int = 4;
/// Log level: everything (each retry).
pub const PR_LOG_TRACE: c_int = 5;

/// A log callback: `level` is a `PR_LOG_*` value (1 to 5), `message` one line of text
/// (spans, target, message and fields, e.g. `pr_multipath::exec: command path=sdb
/// action=READ KEYS outcome=ok ...`) valid during the call only, `user_data` as given to
/// `pr_set_log_callback`. Called on whichever thread logs, library threads included,
/// possibly from several at once: it must be thread-safe, return quickly, and call no
/// `pr_*` function (an event it causes is dropped).
pub type pr_log_fn =
    Option<extern "C" fn(level: c_int, message: *const c_char, user_data: *mut c_void)>;

/// Sends the library's log events up to `max_level` (`PR_LOG_OFF` to `PR_LOG_TRACE`) to
/// `callback` with `user_data`, or with a NULL `callback` to stderr (`prsdk: LEVEL: ...`).
/// `PR_LOG_OFF` stops the log. Nothing is logged until this is called. When it returns, the
/// previous callback is not called any more (its `user_data` may be freed). The first call
/// that turns the log on installs the library's `tracing` subscriber for the whole process;
/// in a process that already has one (a Rust program embedding the library) it fails with
/// `PR_ERR_LOG_UNAVAILABLE`. `pr_library_exit` leaves the log as it is.
#[unsafe(no_mangle)]
pub extern "C" fn pr_set_log_callback(
    callback: pr_log_fn,
    user_data: *mut c_void,
    max_level: c_int,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let level = u8::try_from(max_level)
            .ok()
            .filter(|l| c_int::from(*l) <= PR_LOG_TRACE)
            .ok_or_else(|| {
                ErrorInfo::invalid(
                    "max_level",
                    format!("{max_level} is not a PR_LOG_* level (0 to 5)"),
                )
            })?;
        let sink = match callback {
            Some(cb) => Sink::Callback(cb, UserData(user_data)),
            None => Sink::Stderr,
        };
        logging::set(sink, level)
    })
}
