//! pr-multipath's `tracing` events in the library's verbose output.
//!
//! A library must not install a global subscriber: the host program may own one. So the
//! subscriber here ([`Verbose`], which writes the events of the `pr_*` crates on stderr as
//! [`log`] lines) is only ever the *scoped* default of one library call: entry points run
//! inside [`tracing::dispatcher::with_default`] on the caller's thread, and the futures
//! they hand to pr-multipath's runtime thread carry it with
//! [`WithSubscriber::with_subscriber`](tracing::instrument::WithSubscriber). It is used
//! only while the verbosity is above 0; otherwise a call carries the caller's own current
//! default (scoped or global) to the runtime thread, so a host that collects `tracing`
//! events sees pr-multipath's events of its calls.
//!
//! Verbosity to `tracing` level: 1 shows ERROR and WARN events, 2 INFO, 3 DEBUG (what
//! each command did), 4 and more TRACE. Spans of the `pr_*` crates are kept at any level
//! and name the context of an event: `span{field=value}: message field=value`.
//!
//! Not covered: events from closures that pr-multipath or pr-sgio run on tokio's blocking
//! pool themselves (tokio does not carry a dispatcher into `spawn_blocking`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Level, Metadata, Subscriber};

use super::log;

/// The verbosity from which events of `level` are shown.
fn verbosity_for(level: &Level) -> i32 {
    match *level {
        Level::ERROR | Level::WARN => 1,
        Level::INFO => 2,
        Level::DEBUG => 3,
        _ => 4,
    }
}

/// Whether `target` is one of the project's crates (`pr_multipath`, `pr_sgio`, ...).
fn ours(target: &str) -> bool {
    target.starts_with("pr_")
}

struct SpanData {
    name: &'static str,
    fields: String,
    refs: usize,
}

thread_local! {
    /// The spans entered on this thread, innermost last.
    static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// The subscriber behind the verbose output: formats the events of the `pr_*` crates
/// within the verbosity and hands each line to `out`.
pub(crate) struct Verbose {
    next: AtomicU64,
    spans: Mutex<HashMap<u64, SpanData>>,
    verbosity: fn() -> i32,
    out: fn(&str),
}

impl Verbose {
    /// Shows events within `verbosity()`, writing each line with `out`.
    pub(crate) fn new(verbosity: fn() -> i32, out: fn(&str)) -> Self {
        Verbose {
            next: AtomicU64::new(1),
            spans: Mutex::new(HashMap::new()),
            verbosity,
            out,
        }
    }

    fn spans(&self) -> std::sync::MutexGuard<'_, HashMap<u64, SpanData>> {
        self.spans.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `span{fields}: ` for each entered span, outermost first.
    fn context(&self) -> String {
        let stack = STACK.with(|s| s.borrow().clone());
        let spans = self.spans();
        let mut out = String::new();
        for id in stack {
            if let Some(s) = spans.get(&id) {
                if s.fields.is_empty() {
                    let _ = write!(out, "{}: ", s.name);
                } else {
                    let _ = write!(out, "{}{{{}}}: ", s.name, s.fields.trim_start());
                }
            }
        }
        out
    }
}

/// Collects the fields of a span or event: `message` apart, the others as ` name=value`.
struct Fields<'a> {
    message: Option<String>,
    rest: &'a mut String,
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            let _ = write!(self.rest, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = Some(format!("{value:?}"));
        } else {
            let _ = write!(self.rest, " {}={:?}", field.name(), value);
        }
    }
}

impl Subscriber for Verbose {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        // The verbosity changes at run time: decide per event in `enabled`.
        if ours(metadata.target()) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        ours(metadata.target())
            && (metadata.is_span() || verbosity_for(metadata.level()) <= (self.verbosity)())
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = String::new();
        let mut v = Fields {
            message: None,
            rest: &mut fields,
        };
        span.record(&mut v);
        if let Some(m) = v.message {
            fields.insert_str(0, &format!(" {m}"));
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed).max(1);
        self.spans().insert(
            id,
            SpanData {
                name: span.metadata().name(),
                fields,
                refs: 1,
            },
        );
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut more = String::new();
        let mut v = Fields {
            message: None,
            rest: &mut more,
        };
        values.record(&mut v);
        if let Some(s) = self.spans().get_mut(&span.into_u64()) {
            s.fields.push_str(&more);
        }
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut rest = String::new();
        let mut v = Fields {
            message: None,
            rest: &mut rest,
        };
        event.record(&mut v);
        let mut line = self.context();
        line.push_str(v.message.as_deref().unwrap_or(event.metadata().name()));
        line.push_str(&rest);
        (self.out)(&line);
    }

    fn enter(&self, span: &Id) {
        STACK.with(|s| s.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        let id = span.into_u64();
        STACK.with(|s| {
            let mut s = s.borrow_mut();
            if let Some(at) = s.iter().rposition(|&x| x == id) {
                s.remove(at);
            }
        });
    }

    fn clone_span(&self, id: &Id) -> Id {
        if let Some(s) = self.spans().get_mut(&id.into_u64()) {
            s.refs += 1;
        }
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        let mut spans = self.spans();
        let key = id.into_u64();
        let Some(s) = spans.get_mut(&key) else {
            return false;
        };
        s.refs = s.refs.saturating_sub(1);
        if s.refs == 0 {
            spans.remove(&key);
            true
        } else {
            false
        }
    }
}

/// The library's verbose dispatcher, created on first use.
fn verbose() -> &'static Dispatch {
    static VERBOSE: OnceLock<Dispatch> = OnceLock::new();
    VERBOSE.get_or_init(|| Dispatch::new(Verbose::new(log::verbosity, log::line)))
}

/// The dispatcher one library call runs under: the verbose one when the verbosity is
/// above 0, else the caller's current default (what it would be without the library).
pub(crate) fn dispatch() -> Dispatch {
    if log::verbosity() > 0 {
        verbose().clone()
    } else {
        tracing::dispatcher::get_default(Dispatch::clone)
    }
}

/// Runs `f` on this thread with [`dispatch`] as the scoped default.
pub(crate) fn scoped<R>(f: impl FnOnce() -> R) -> R {
    tracing::dispatcher::with_default(&dispatch(), f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicI32;

    static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());
    static LEVEL: AtomicI32 = AtomicI32::new(0);

    fn capture(line: &str) {
        LINES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line.to_owned());
    }

    fn level() -> i32 {
        LEVEL.load(Ordering::Relaxed)
    }

    fn taken() -> Vec<String> {
        std::mem::take(&mut *LINES.lock().unwrap_or_else(PoisonError::into_inner))
    }

    #[test]
    fn events_of_our_crates_show_at_the_matching_verbosity_with_their_spans() {
        let d = Dispatch::new(Verbose::new(level, capture));
        let emit = || {
            let span = tracing::info_span!(target: "pr_multipath", "release", lun = "mpatha");
            let _e = span.enter();
            tracing::debug!(target: "pr_multipath::exec", path = "sdb", ms = 3, "RELEASE: GOOD");
            tracing::warn!(target: "pr_multipath", "path sdc failed");
            tracing::trace!(target: "pr_sgio", "SG_IO");
            tracing::error!(target: "someone_else", "not ours");
        };
        for (v, want) in [
            (0, vec![]),
            (1, vec!["release{lun=mpatha}: path sdc failed"]),
            (
                3,
                vec![
                    "release{lun=mpatha}: RELEASE: GOOD path=sdb ms=3",
                    "release{lun=mpatha}: path sdc failed",
                ],
            ),
            (
                4,
                vec![
                    "release{lun=mpatha}: RELEASE: GOOD path=sdb ms=3",
                    "release{lun=mpatha}: path sdc failed",
                    "release{lun=mpatha}: SG_IO",
                ],
            ),
        ] {
            LEVEL.store(v, Ordering::Relaxed);
            tracing::dispatcher::with_default(&d, emit);
            assert_eq!(taken(), want, "verbosity {v}");
        }
        // Outside the scoped default nothing reaches the subscriber.
        LEVEL.store(4, Ordering::Relaxed);
        emit();
        assert!(taken().is_empty());
    }
}
