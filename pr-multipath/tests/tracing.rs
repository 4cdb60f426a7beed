//! What the library tells a `tracing` subscriber: one event per command (debug when it
//! succeeded, debug too when it failed for good) with its path, action, outcome, duration and
//! retries, a trace event per retry, and one info event per LUN operation.

mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use pr_core::types::{ReservationKey as K, ReservationType as Ty};
use pr_multipath::RegisterRequest;
use pr_sim::LunConfig;
use pr_sim::sim::Injection;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// One recorded event: its level and fields (values as text).
#[derive(Clone, Debug)]
struct Rec {
    level: Level,
    fields: BTreeMap<String, String>,
}

impl Rec {
    fn get(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }
}

/// A subscriber that records every event.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Rec>>,
    next_span: AtomicU64,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.events.lock().unwrap().push(Rec {
            level: *event.metadata().level(),
            fields,
        });
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Runs `f` on a current-thread runtime with `rec` as the default subscriber.
fn traced<F: Future<Output = ()>>(rec: &Arc<Recorder>, f: F) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    tracing::subscriber::with_default(rec.clone(), || rt.block_on(f));
}

#[test]
fn commands_and_lun_operations_are_traced() {
    let c = cluster(1, 2, 1, LunConfig::spc5());
    let lun = lun_of(&c, 0, 0);
    c.nodes[0].paths[0][0].inject(Injection::UnitAttention(0x29, 0x00), 1);
    let rec = Arc::new(Recorder::default());
    traced(&rec, async {
        lun.register(RegisterRequest::register(K(0), K(0xaa)))
            .await
            .unwrap();
        // Not registered with this key: RESERVATION CONFLICT on both paths.
        lun.reserve(K(0xbb), Ty::WriteExclusive).await.unwrap_err();
    });
    let events = rec.events.lock().unwrap().clone();
    let commands: Vec<&Rec> = events
        .iter()
        .filter(|e| e.fields.contains_key("action") && e.fields.contains_key("outcome"))
        .collect();

    // REGISTER: one debug event per path; the unit attention is one retry, traced.
    let registers: Vec<&&Rec> = commands
        .iter()
        .filter(|e| e.get("action") == "PR OUT REGISTER")
        .collect();
    assert_eq!(registers.len(), 2, "{events:#?}");
    for e in &registers {
        assert_eq!(e.level, Level::DEBUG);
        assert_eq!(e.get("outcome"), "ok");
        assert!(!e.get("duration").is_empty());
        let retries = if e.get("path") == "n0p0l0" { "1" } else { "0" };
        assert_eq!(e.get("retries"), retries, "{e:?}");
    }
    let retry = events
        .iter()
        .find(|e| e.level == Level::TRACE)
        .expect("a retry event");
    assert_eq!(retry.get("path"), "n0p0l0");
    assert_eq!(retry.get("action"), "PR OUT REGISTER");
    assert!(retry.get("reason").contains("unit attention"), "{retry:?}");

    // RESERVE: a debug "command failed" event per path that answered RESERVATION CONFLICT.
    let reserves: Vec<&&Rec> = commands
        .iter()
        .filter(|e| e.get("action") == "PR OUT RESERVE")
        .collect();
    assert_eq!(reserves.len(), 2, "{events:#?}");
    for e in &reserves {
        assert_eq!(e.level, Level::DEBUG);
        assert_eq!(e.get("outcome"), "reservation conflict", "{e:?}");
    }

    // One info event per LUN operation, with its outcome.
    let ops: Vec<&Rec> = events.iter().filter(|e| e.level == Level::INFO).collect();
    assert_eq!(ops.len(), 2, "{ops:#?}");
    assert_eq!(ops[0].get("lun"), "mpath0l0");
    assert_eq!(ops[0].get("op"), "REGISTER");
    assert_eq!(ops[0].get("outcome"), "ok");
    assert_eq!(ops[1].get("op"), "RESERVE");
    assert!(
        ops[1]
            .get("outcome")
            .starts_with("mpath0l0: RESERVE failed"),
        "{:?}",
        ops[1]
    );
}
