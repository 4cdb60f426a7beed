// SPDX-License-Identifier: MIT OR Apache-2.0
//! Logging: the Rust crates' `tracing` events reach Python's `logging`. No tracing
//! subscriber is installed, so tracing's `log` feature turns each event into a `log`
//! record, which pyo3-log hands to the Python logger `pr_sdk.<target>` (`::` becomes `.`:
//! pr-multipath's events go to `pr_sdk.pr_multipath...`, this module's to
//! `pr_sdk.pr_python`). Records at DEBUG and above cross over; the Python logger's level
//! and handlers decide the rest (looked up on every record, so configuring `logging` at
//! any time works).
//!
//! The records of operations come from pr-multipath's runtime thread, which takes the GIL
//! to log: every wait in this module releases the GIL, and no lock of pr-multipath or
//! pr-sim is taken with the GIL held while an operation may be logging under it.

use std::time::Duration;

use pr_multipath::InResult;
use pyo3::prelude::*;

use crate::core::Done;

/// The target (Python logger `pr_sdk.pr_python`) of this module's own events.
pub(crate) const TARGET: &str = "pr_python";

/// pyo3-log's logger, silent once the interpreter exits (taking the GIL then would end
/// the logging thread: see [`crate::core::exiting`]).
struct ToPython(pyo3_log::Logger);

impl log::Log for ToPython {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        !crate::core::exiting() && self.0.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !crate::core::exiting() {
            self.0.log(record);
        }
    }

    fn flush(&self) {}
}

/// Routes `log` records (and with them `tracing` events) to Python's `logging`.
pub(crate) fn install(py: Python<'_>) -> PyResult<()> {
    let logger = pyo3_log::Logger::new(py, pyo3_log::Caching::Loggers)?
        .set_prefix("pr_sdk")
        .filter(log::LevelFilter::Debug);
    // Fails only when this shared object installed one already (a re-import after the
    // module was dropped from `sys.modules`): that one keeps working.
    if log::set_boxed_logger(Box::new(ToPython(logger))).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
    Ok(())
}

/// Logs one finished operation on one LUN (DEBUG): the LUN, the action, the paths it
/// went through, how it ended and how long it took.
pub(crate) fn call_done(
    lun: &str,
    action: &str,
    done: &pr_multipath::Result<Done>,
    elapsed: Duration,
) {
    let ms = elapsed.as_secs_f64() * 1000.0;
    match done {
        Ok(Done::In(r)) => {
            let path = match r {
                InResult::Keys(k) => k.path.as_str(),
                InResult::Reservation(r) => r.path.as_str(),
                InResult::FullStatus(s) => s.path.as_str(),
                InResult::Capabilities(_) => "",
            };
            if path.is_empty() {
                tracing::debug!(target: TARGET, "{lun}: {action}: ok ({ms:.3} ms)");
            } else {
                tracing::debug!(target: TARGET, "{lun}: {action} through {path}: ok ({ms:.3} ms)");
            }
        }
        Ok(Done::Report(report)) => {
            let mut paths: Vec<&str> = Vec::new();
            for s in &report.steps {
                if !paths.contains(&s.path.as_str()) {
                    paths.push(&s.path);
                }
            }
            tracing::debug!(
                target: TARGET,
                "{lun}: {action} through {}: ok, {} commands ({ms:.3} ms)",
                paths.join(", "),
                report.steps.len()
            );
        }
        Ok(Done::Nothing) => tracing::debug!(target: TARGET, "{lun}: {action}: ok ({ms:.3} ms)"),
        Err(e) => tracing::debug!(target: TARGET, "{lun}: {action} failed ({ms:.3} ms): {e}"),
    }
}
