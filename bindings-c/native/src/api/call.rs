// SPDX-License-Identifier: MIT OR Apache-2.0
//! How one PR call from C runs on a `pr_device` or a `pr_lun`: both hold a
//! [`blocking::Lun`] (a device is a LUN of one path), so one code path serves both. PR OUT
//! goes through [`out_request`] into [`blocking::Lun::execute`]; PR IN through
//! [`blocking::Lun::pr_in`], whose [`InResult`] becomes a result object.
//!
//! A device differs from a LUN in two ways only: a path failure never makes it refuse the
//! next call (a device has no other path to fail over to, so each call tries its one path
//! again), and one opened read-only refuses PR OUT before anything is sent.
//!
//! Each call is logged at debug level (target `prsdk`): the function's action, the LUN, the
//! path that answered or the error.

use pr_core::types::PrInAction;
use pr_multipath::blocking;
use pr_multipath::{InResult, PathState};

use crate::api::prout::{out_request, pr_out_params};
use crate::error::{ErrorInfo, pr_error, pr_result};
use crate::ffi::{Handle, Out, boundary, into_handle, opt_ref};

/// What a call runs on.
pub(crate) struct Target {
    /// The LUN (for a device: its one-path LUN).
    pub(crate) lun: blocking::Lun,
    /// A device (`pr_device`) rather than a LUN.
    pub(crate) device: bool,
    /// A device opened with `PR_OPEN_READ_ONLY`.
    pub(crate) read_only: bool,
}

impl Target {
    fn prepare(&self) {
        if self.device {
            for p in self.lun.as_async().paths() {
                p.set_state(PathState::Usable);
            }
        }
    }

    /// Runs one PR OUT action.
    pub(crate) fn out(&self, request: pr_multipath::OutRequest) -> Result<(), ErrorInfo> {
        let action = request.action().name();
        let name = self.lun.name();
        if self.read_only {
            return Err(ErrorInfo::new(
                pr_result::PR_ERR_INVALID_REQUEST,
                format!(
                    "{name}: PERSISTENT RESERVE OUT {action} refused: the device was opened \
                     read-only (PR_OPEN_READ_ONLY)"
                ),
            ));
        }
        self.prepare();
        match self.lun.execute(request) {
            Ok(report) => {
                tracing::debug!(target: "prsdk", "{name}: {action}: ok (through {})", paths_of(&report));
                Ok(())
            }
            Err(e) => {
                tracing::debug!(target: "prsdk", "{name}: {action}: {e}");
                Err(ErrorInfo::from(e))
            }
        }
    }

    /// Runs one PR IN action.
    pub(crate) fn pr_in(&self, action: PrInAction) -> Result<InResult, ErrorInfo> {
        self.prepare();
        let name = self.lun.name();
        match self.lun.pr_in(action) {
            Ok(r) => {
                tracing::debug!(target: "prsdk", "{name}: {action}: ok (through {})", self.answered_by(&r));
                Ok(r)
            }
            Err(e) => {
                tracing::debug!(target: "prsdk", "{name}: {action}: {e}");
                Err(ErrorInfo::from(e))
            }
        }
    }

    /// The path that answered a PR IN action, for the log.
    fn answered_by(&self, r: &InResult) -> String {
        match r {
            InResult::Keys(k) => k.path.clone(),
            InResult::Reservation(r) => r.path.clone(),
            InResult::FullStatus(f) => f.path.clone(),
            _ => self.first_usable_path(),
        }
    }

    /// The first usable path: the one a PR IN goes to first (and, after a call, the one
    /// that answered it, since the paths that failed before it are marked failed).
    pub(crate) fn first_usable_path(&self) -> String {
        self.lun
            .as_async()
            .usable_paths()
            .first()
            .map_or_else(String::new, |p| (*p).to_owned())
    }
}

/// The paths a PR OUT action sent commands on, in order, for the log.
fn paths_of(report: &pr_multipath::Report) -> String {
    let mut paths: Vec<&str> = report.steps.iter().map(|s| s.path.as_str()).collect();
    paths.dedup();
    paths.join(", ")
}

/// A generic PR OUT call (`pr_device_out`, `pr_lun_out`).
pub(crate) fn do_out(
    target: impl FnOnce() -> Result<Target, ErrorInfo>,
    sa: u32,
    p: *const pr_out_params,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let t = target()?;
        let p = opt_ref(p, "params")?.ok_or_else(|| ErrorInfo::null("params"))?;
        t.out(out_request(sa, p)?)
    })
}

/// A convenience PR OUT call, its arguments gathered into a `pr_out_params`.
pub(crate) fn do_out_simple(
    target: impl FnOnce() -> Result<Target, ErrorInfo>,
    sa: u32,
    p: pr_out_params,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let t = target()?;
        t.out(out_request(sa, &p)?)
    })
}

/// A PR IN call: the answer becomes a result object of type `H` by `wrap`.
pub(crate) fn do_in<H: Handle>(
    target: impl FnOnce() -> Result<Target, ErrorInfo>,
    action: PrInAction,
    out: *mut *mut H,
    err: *mut *mut pr_error,
    wrap: impl FnOnce(InResult, &Target) -> Option<H::Inner>,
) -> pr_result {
    boundary(err, || {
        let t = target()?;
        let out = Out::new(out, "out")?;
        let answer = t.pr_in(action)?;
        let inner = wrap(answer, &t).ok_or_else(|| {
            ErrorInfo::new(
                pr_result::PR_ERR_PANIC,
                format!("internal error: the answer to {action} is of another action"),
            )
        })?;
        out.write(into_handle::<H>(inner));
        Ok(())
    })
}
