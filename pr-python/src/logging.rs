// SPDX-License-Identifier: MIT OR Apache-2.0
//! Logging: the Rust crates' `tracing` events reach Python's `logging`. No tracing
//! subscriber is installed, so tracing's `log` feature turns each event into a `log`
//! record, which pyo3-log hands to the Python logger `pr_sdk.<target>` (`::` becomes `.`:
//! pr-multipath's events go to `pr_sdk.pr_multipath...`, this module's to
//! `pr_sdk.pr_python`). Records at DEBUG and above cross over; the Python logger's level
//! and handlers decide the rest (looked up on every record, so configuring `logging` at
//! any time works).
//!
//! Most records come from pr-multipath's runtime thread, which never takes the GIL for
//! them: a record is copied into a bounded queue ([`CAPACITY`] records; when it is full
//! the oldest are dropped and counted, and a warning says how many), and the queue is
//! handed to Python by [`deliver`] on a thread that holds the GIL anyway: the caller's,
//! when a blocking call returns and at each of its signal checks (every
//! [`crate::core::SIGNAL_POLL`]), and the asyncio result's conversion. Taking the GIL on
//! the runtime thread for every record (two or three per operation) made each operation
//! about three times slower on the simulator (`pr-python/BENCHMARKS.md`).

use std::collections::VecDeque;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use pr_multipath::InResult;
use pyo3::prelude::*;

use crate::core::Done;

/// The target (Python logger `pr_sdk.pr_python`) of this module's own events.
pub(crate) const TARGET: &str = "pr_python";

/// Records held for Python at most; beyond it the oldest are dropped (and counted).
pub(crate) const CAPACITY: usize = 4096;

/// One `log` record, owned, waiting for [`deliver`].
struct Held {
    level: log::Level,
    target: String,
    message: String,
    module_path: Option<String>,
    file: Option<String>,
    line: Option<u32>,
}

/// The records not yet handed to Python, and how many were dropped since the last
/// delivery.
struct Queue {
    records: VecDeque<Held>,
    dropped: u64,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    records: VecDeque::new(),
    dropped: 0,
});

/// pyo3-log's logger, used only by [`deliver`] (with the GIL held).
static PYTHON: OnceLock<pyo3_log::Logger> = OnceLock::new();

/// The `log` logger of the extension: queues records, never takes the GIL.
struct ToQueue;

impl log::Log for ToQueue {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Debug && !crate::core::exiting()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let held = Held {
            level: record.level(),
            target: record.target().to_owned(),
            message: record.args().to_string(),
            module_path: record.module_path().map(str::to_owned),
            file: record.file().map(str::to_owned),
            line: record.line(),
        };
        let mut q = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
        if q.records.len() >= CAPACITY {
            q.records.pop_front();
            q.dropped += 1;
        }
        q.records.push_back(held);
    }

    fn flush(&self) {}
}

/// Routes `log` records (and with them `tracing` events) to Python's `logging`, through
/// the queue that [`deliver`] empties.
pub(crate) fn install(py: Python<'_>) -> PyResult<()> {
    let logger = pyo3_log::Logger::new(py, pyo3_log::Caching::Loggers)?
        .set_prefix("pr_sdk")
        .filter(log::LevelFilter::Debug);
    // A re-import after the module was dropped from `sys.modules` keeps the first ones.
    let _ = PYTHON.set(logger);
    if log::set_logger(&ToQueue).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
    Ok(())
}

/// Hands the queued records to Python's `logging`, oldest first, on this thread (which
/// holds the GIL), after a warning if records were dropped.
pub(crate) fn deliver(_py: Python<'_>) {
    let (records, dropped) = {
        let mut q = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
        if q.records.is_empty() && q.dropped == 0 {
            return;
        }
        (
            std::mem::take(&mut q.records),
            std::mem::take(&mut q.dropped),
        )
    };
    let Some(python) = PYTHON.get() else { return };
    if dropped > 0 {
        log::Log::log(
            python,
            &log::Record::builder()
                .level(log::Level::Warn)
                .target(TARGET)
                .args(format_args!(
                    "{dropped} log records were dropped (more than {CAPACITY} waited for Python)"
                ))
                .build(),
        );
    }
    for h in records {
        log::Log::log(
            python,
            &log::Record::builder()
                .level(h.level)
                .target(&h.target)
                .args(format_args!("{}", h.message))
                .module_path(h.module_path.as_deref())
                .file(h.file.as_deref())
                .line(h.line)
                .build(),
        );
    }
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
