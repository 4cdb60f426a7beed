// SPDX-License-Identifier: MIT OR Apache-2.0
//! The library's log: pr-multipath (and libprsdk itself) emit [`tracing`] events; when the
//! C program asks for them (`pr_set_log_callback`), a small [`Layer`] over
//! tracing-subscriber's registry formats each event with its spans as one line of text and
//! hands it to the C callback, or writes it to stderr. Nothing is installed until then: a
//! library installs no global subscriber by default. Once installed it stays (a process has
//! one global subscriber); turning the log off makes it inert (`max_level_hint` off, so
//! disabled events cost one atomic load at their call site, as without a subscriber).

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{OnceLock, PoisonError, RwLock};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber, span};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::error::{ErrorInfo, cstring, pr_result};
use crate::ffi::UserData;

/// The C log callback: the level (1 error ... 5 trace), the line, the user's pointer.
pub(crate) type LogFn = extern "C" fn(level: c_int, message: *const c_char, user_data: *mut c_void);

/// Where the lines go.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Sink {
    /// `prsdk: LEVEL: line` on stderr.
    Stderr,
    /// The C callback.
    Callback(LogFn, UserData),
}

/// The highest level delivered: 0 off, 1 error, 2 warn, 3 info, 4 debug, 5 trace.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(0);
/// Where lines go; the write lock is taken only to change it, so that once
/// [`set`] returns no line goes to the previous sink.
static SINK: RwLock<Option<Sink>> = RwLock::new(None);
/// Whether the subscriber could be installed (once per process).
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

thread_local! {
    /// Set while this thread delivers a line: an event raised meanwhile (by the callback)
    /// is dropped instead of recursing.
    static DELIVERING: Cell<bool> = const { Cell::new(false) };
}

/// The number of a level (1 error ... 5 trace).
pub(crate) fn level_number(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

fn filter_of(max: u8) -> LevelFilter {
    match max {
        0 => LevelFilter::OFF,
        1 => LevelFilter::ERROR,
        2 => LevelFilter::WARN,
        3 => LevelFilter::INFO,
        4 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

fn install() -> Result<(), ErrorInfo> {
    INSTALLED
        .get_or_init(|| {
            let subscriber = tracing_subscriber::registry().with(CLayer);
            tracing::subscriber::set_global_default(subscriber).map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| {
            ErrorInfo::new(
                pr_result::PR_ERR_LOG_UNAVAILABLE,
                format!("cannot install libprsdk's log subscriber: {e}"),
            )
        })
}

/// Sends events up to `max_level` (0: none) to `sink`, installing the subscriber the
/// first time a sink is set. When it returns, the previous sink gets no further line.
pub(crate) fn set(sink: Sink, max_level: u8) -> Result<(), ErrorInfo> {
    if DELIVERING.get() {
        // The callback's own thread holds the sink: changing it here would never return.
        return Err(ErrorInfo::new(
            pr_result::PR_ERR_INVALID_ARGUMENT,
            "pr_set_log_callback cannot be called from the log callback",
        ));
    }
    if max_level > 0 {
        install()?;
    }
    let mut guard = SINK.write().unwrap_or_else(PoisonError::into_inner);
    *guard = (max_level > 0).then_some(sink);
    MAX_LEVEL.store(max_level, Ordering::Release);
    drop(guard);
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}

fn deliver(level: u8, line: &str) {
    if DELIVERING.get() {
        return;
    }
    DELIVERING.set(true);
    let guard = SINK.read().unwrap_or_else(PoisonError::into_inner);
    match *guard {
        Some(Sink::Stderr) => {
            let name = ["", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
                .get(usize::from(level))
                .copied()
                .unwrap_or("LOG");
            let _ = writeln!(std::io::stderr(), "prsdk: {name}: {line}");
        }
        Some(Sink::Callback(cb, user_data)) => {
            let text = cstring(line);
            cb(c_int::from(level), text.as_ptr(), user_data.0);
        }
        None => {}
    }
    drop(guard);
    DELIVERING.set(false);
}

/// The fields of an event or span as text: the message first, then ` name=value` pairs.
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }
}

/// The layer that formats events for C.
struct CLayer;

impl<S> Layer<S> for CLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Decided per event by `enabled`: the level can change at run time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        level_number(metadata.level()) <= MAX_LEVEL.load(Ordering::Acquire)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(filter_of(MAX_LEVEL.load(Ordering::Acquire)))
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut fields = Fields::default();
            attrs.record(&mut fields);
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut line = String::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                line.push_str(span.name());
                if let Some(f) = span.extensions().get::<Fields>()
                    && !f.rest.is_empty()
                {
                    let _ = write!(line, "{{{}}}", f.rest.trim_start());
                }
                line.push_str(": ");
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let _ = write!(
            line,
            "{}: {}{}",
            event.metadata().target(),
            fields.message,
            fields.rest
        );
        deliver(level_number(event.metadata().level()), &line);
    }
}
