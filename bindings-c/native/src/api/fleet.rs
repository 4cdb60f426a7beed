// SPDX-License-Identifier: MIT OR Apache-2.0
//! Many-LUN fence and unfence: pr-multipath's fleet operations
//! ([`pr_multipath::fleet`]) run on the runtime thread while the calling thread delivers
//! their progress to the C callback and waits; cancellation tokens; the per-LUN results.
//!
//! Three small functions hold everything that depends on pr-multipath's fleet types, so
//! that a change there touches one place each: [`run_fleet`] (the call), [`progress_code`]
//! (a [`Progress`] as the callback's arguments) and [`fleet_entry`] (a [`LunResult`] as a
//! C result).
#![allow(non_camel_case_types)]

use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::Arc;

use pr_core::types::{ReservationKey, ReservationType};
use pr_multipath::blocking;
use pr_multipath::fleet::{self, FenceAction, FleetOptions, LunOutcome, LunResult, Progress};
use pr_multipath::{CancellationToken, Lun};

use crate::api::lun::pr_lun;
use crate::api::prout::res_type;
use crate::error::{ErrorInfo, cstring, pr_error, pr_result};
use crate::ffi::{
    self, Handle, Out, boundary, boundary_or, free_handle, handle_ref, into_handle, opt_ref,
    slice_arg,
};

/// The most LUNs one many-LUN call accepts.
pub const PR_MAX_FLEET_LUNS: usize = 1 << 20;

/// A cancellation token for many-LUN operations. Cancelling stops new LUNs from being
/// started; LUNs already started finish their operation.
pub struct pr_cancel {
    _private: [u8; 0],
}

/// The per-LUN results of a many-LUN operation.
pub struct pr_fleet_result {
    _private: [u8; 0],
}

/// Progress of a many-LUN operation, called once per LUN, finished or not started,
/// **on the thread that called `pr_fleet_*`**, never concurrently, never from a library
/// thread. `done` counts LUNs reported so far (this one included) out of `total`; `lun` is
/// valid during the call only; `outcome` is `PR_OK` (done, or already fenced),
/// `PR_ERR_CANCELLED` (not started), or `PR_ERR_FLEET_INCOMPLETE` for a LUN that failed
/// (its error, with its own code, is in the result object). Return 0 to go on, non-zero to
/// cancel the LUNs not yet started. The operation does not wait for the callback: by the
/// time it returns, the next LUNs (up to `concurrency`) may have started, and they finish.
/// The callback may call other `pr_*` functions.
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
    /// `pr_fleet_fence` sends PREEMPT instead of PREEMPT AND ABORT (false: PREEMPT AND
    /// ABORT, as fence_scsi does; LIO over tcm_loop hangs on PREEMPT AND ABORT).
    pub preempt_only: bool,
}

/// One LUN's result, as C sees it.
pub(crate) struct FleetEntry {
    name: CString,
    error: Option<ErrorInfo>,
    already_fenced: bool,
}

impl Handle for pr_cancel {
    type Inner = CancellationToken;
}
impl Handle for pr_fleet_result {
    type Inner = Vec<FleetEntry>;
}

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

#[derive(Clone, Copy)]
enum FleetOp {
    Unfence(ReservationKey),
    Fence(ReservationKey, ReservationKey, ReservationType),
}

/// The fleet call itself.
async fn run_fleet(luns: &[&Lun], op: FleetOp, options: &FleetOptions) -> Vec<LunResult> {
    match op {
        FleetOp::Unfence(key) => fleet::unfence(luns, key, options).await,
        FleetOp::Fence(key, victim, ty) => fleet::fence(luns, key, victim, ty, options).await,
    }
}

/// The `outcome` the progress callback gets for a LUN.
fn progress_code(p: &Progress) -> pr_result {
    match p.outcome {
        LunOutcome::Ok | LunOutcome::AlreadyFenced => pr_result::PR_OK,
        LunOutcome::Cancelled => pr_result::PR_ERR_CANCELLED,
        LunOutcome::Failed(_) => pr_result::PR_ERR_FLEET_INCOMPLETE,
    }
}

/// One LUN's result as C sees it. `already_fenced` is pr-multipath's per-LUN "already
/// fenced" outcome (a fence retried where the victim's key is gone).
fn fleet_entry(r: LunResult) -> FleetEntry {
    FleetEntry {
        name: cstring(r.lun),
        error: r.result.err().map(|e| ErrorInfo::from_multipath(&e)),
        already_fenced: r.already_fenced,
    }
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
        let mut list: Vec<Arc<Lun>> = Vec::with_capacity(ptrs.len());
        for (i, p) in ptrs.iter().enumerate() {
            let h = handle_ref(*p, &format!("luns[{i}]"))?;
            list.push(Arc::clone(h.lun().as_async()));
        }
        let opts = opt_ref(options, "options")?;
        let concurrency = opts.map_or(0, |o| o.concurrency);
        let cancel = match opts {
            Some(o) if !o.cancel.is_null() => {
                handle_ref(o.cancel, "options->cancel")?.child_token()
            }
            _ => CancellationToken::new(),
        };
        let progress = opts.and_then(|o| o.progress);
        let user_data = opts.map_or(std::ptr::null_mut(), |o| o.user_data);
        let out = Out::new(out, "out")?;

        // Progress goes from pr-multipath's channel (on the runtime thread) to a channel
        // this thread drains, calling the callback, until the operation is over.
        let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
        let (stx, srx) = std::sync::mpsc::channel::<Progress>();
        // Options pr-multipath may add keep their defaults.
        #[allow(clippy::needless_update)]
        let options = FleetOptions {
            concurrency: if concurrency == 0 { 32 } else { concurrency },
            cancel: cancel.clone(),
            progress: progress.is_some().then_some(ptx),
            fence_action: if opts.is_some_and(|o| o.preempt_only) {
                FenceAction::Preempt
            } else {
                FenceAction::PreemptAndAbort
            },
        };
        let pending = blocking::spawn(async move {
            let run = async move {
                let refs: Vec<&Lun> = list.iter().map(|l| &**l).collect();
                let results = run_fleet(&refs, op, &options).await;
                // Closes the progress channel: the forwarding below ends.
                drop(options);
                results
            };
            let forward = async move {
                while let Some(p) = prx.recv().await {
                    let _ = stx.send(p);
                }
            };
            futures_util::future::join(run, forward).await.0
        })?;
        for p in srx {
            let lun = cstring(p.lun.clone());
            let stop = progress.is_some_and(|cb| {
                cb(user_data, p.done, p.total, lun.as_ptr(), progress_code(&p)) != 0
            });
            if stop {
                cancel.cancel();
            }
        }
        let entries: Vec<FleetEntry> = pending.wait()?.into_iter().map(fleet_entry).collect();
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

/// Unfence: REGISTER AND IGNORE EXISTING KEY of `key` on every usable path of every LUN
/// (`count` at most `PR_MAX_FLEET_LUNS`), up to `options->concurrency` LUNs at once
/// (pr-multipath's `fleet::unfence`). Returns `PR_OK` when every LUN succeeded and
/// `PR_ERR_FLEET_INCOMPLETE` (with a summary in `*err`) when some failed or were cancelled;
/// **in both cases `*out` receives the per-LUN results**, in the order of `luns` (free
/// with `pr_fleet_result_free`). Other errors (bad arguments) leave `*out` untouched and
/// send nothing. Progress: see `pr_progress_fn` (on the calling thread).
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
    let op = FleetOp::Unfence(ReservationKey(key));
    fleet(luns, count, op, options, out, err)
}

/// Fence: PREEMPT AND ABORT of `victim` by `my_key` with `type_` on every LUN
/// (pr-multipath's `fleet::fence`; see `pr_fleet_unfence` for results, concurrency,
/// progress and cancellation). A LUN found already fenced counts as a success and says so
/// (`pr_fleet_result_already_fenced`).
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
    let op = FleetOp::Fence(ReservationKey(my_key), ReservationKey(victim), ty);
    fleet(luns, count, op, options, out, err)
}

fn fleet_ref<'a>(r: *const pr_fleet_result) -> Option<&'a Vec<FleetEntry>> {
    handle_ref(r, "result").ok()
}

fn entry<'a>(r: *const pr_fleet_result, index: usize) -> Option<&'a FleetEntry> {
    fleet_ref(r).and_then(|v| v.get(index))
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
        entry(result, index).map_or(std::ptr::null(), |e| e.name.as_ptr())
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
        entry(result, index).map_or(pr_result::PR_ERR_INVALID_ARGUMENT, |e| {
            e.error.as_ref().map_or(pr_result::PR_OK, |x| x.code)
        })
    })
}

/// Whether LUN `index` of a fence was already fenced: the victim's key was gone and this
/// node's registered (a fence that is retried). Its status is then `PR_OK` and nothing was
/// changed. False for other LUNs, for unfence, when out of range and for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_fleet_result_already_fenced(
    result: *const pr_fleet_result,
    index: usize,
) -> bool {
    boundary_or(false, || {
        entry(result, index).is_some_and(|e| e.already_fenced)
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
        entry(result, index)
            .and_then(|e| e.error.as_ref())
            .map_or(std::ptr::null(), |x| {
                std::ptr::from_ref(x).cast::<pr_error>()
            })
    })
}
