//! The cross-face scenario, as the Rust faces run it, and the text every face prints for
//! it: one canonical dump that `tests/cross-face.sh` compares byte for byte across Rust
//! async, Rust blocking, the native C API (`bindings-c/native/tests/c/cross_face.c`) and
//! Python (`bindings-python/tests/cross_face.py`).
//!
//! The scenario, on the simulator (two nodes with two paths each to three LUNs, SPC-5):
//! 1. node 1 registers key `0x1111` on every path of every LUN, node 2 key `0x2222`;
//! 2. node 1 reserves every LUN, Write Exclusive - Registrants Only;
//! 3. node 1's first path to every LUN fails;
//! 4. node 2 fences node 1 (PREEMPT) from every LUN at once, then retries the fence;
//! 5. every LUN's READ FULL STATUS is read through node 2.
//!
//! The dump: one line per LUN and fence (`fence1 lun0 ok`, `fence2 lun0 already_fenced`),
//! then per LUN the READ FULL STATUS generation and every descriptor (key, ALL_TG_PT,
//! R_HOLDER, scope and type, relative target port, TransportID bytes in hex): every field
//! of the response, so equal dumps mean byte-identical responses. Descriptors are in the
//! order the device returned them.

use pr_core::types::{ReservationKey, ReservationType};
use pr_multipath::{FenceAction, FleetOptions, FullStatusInfo, Lun, LunOutcome, LunResult};
use pr_sim::{ClusterSpec, Sim};

/// Node 1's key.
pub const KEY1: ReservationKey = ReservationKey(0x1111);
/// Node 2's key.
pub const KEY2: ReservationKey = ReservationKey(0x2222);
/// The reservation type.
pub const TYPE: ReservationType = ReservationType::WriteExclusiveRegistrantsOnly;

/// The per-LUN outcome word of the dump.
pub fn outcome_word(r: &LunResult) -> String {
    match r.outcome() {
        LunOutcome::Ok => "ok".into(),
        LunOutcome::AlreadyFenced => "already_fenced".into(),
        LunOutcome::Cancelled => "cancelled".into(),
        LunOutcome::Failed(_) => match &r.result {
            Err(e) => format!("failed:{:?}", e.kind()).to_lowercase(),
            Ok(_) => "failed".into(),
        },
    }
}

/// The dump lines of one LUN's READ FULL STATUS.
pub fn full_status_lines(lun: &str, fs: &FullStatusInfo) -> Vec<String> {
    let mut out = vec![format!("rfs {lun} generation={}", fs.generation)];
    for e in &fs.entries {
        let tid: String = e
            .transport_id_bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        out.push(format!(
            "rfs {lun} key=0x{:x} all_tg_pt={} holder={} type={} rtpi={} tid={tid}",
            e.key.0,
            u8::from(e.all_tg_pt),
            u8::from(e.holder),
            e.type_code,
            e.relative_target_port,
        ));
    }
    out
}

/// The two nodes' LUNs over a fresh simulated cluster.
fn setup() -> (Sim, Vec<Lun>, Vec<Lun>, Vec<pr_sim::SimPath>) {
    let cluster = Sim::cluster(&ClusterSpec::default());
    let luns_of = |node: usize| -> Vec<Lun> {
        cluster.nodes[node]
            .paths
            .iter()
            .enumerate()
            .map(|(i, paths)| Lun::simulated(format!("lun{i}"), paths.clone()))
            .collect()
    };
    let first_paths_of_node1 = cluster.nodes[0]
        .paths
        .iter()
        .filter_map(|p| p.first().cloned())
        .collect();
    (
        cluster.sim.clone(),
        luns_of(0),
        luns_of(1),
        first_paths_of_node1,
    )
}

fn fence_options() -> FleetOptions {
    FleetOptions {
        fence_action: FenceAction::Preempt,
        ..FleetOptions::default()
    }
}

/// The scenario through the async front door; returns the dump.
pub async fn run_async() -> pr_multipath::Result<String> {
    let (_sim, node1, node2, failing) = setup();
    let mut out = Vec::new();
    let n1: Vec<&Lun> = node1.iter().collect();
    let n2: Vec<&Lun> = node2.iter().collect();
    for r in pr_multipath::unfence(&n1, KEY1, &FleetOptions::default()).await {
        r.result?;
    }
    for r in pr_multipath::unfence(&n2, KEY2, &FleetOptions::default()).await {
        r.result?;
    }
    for lun in &node1 {
        lun.reserve(KEY1, TYPE).await?;
    }
    for p in &failing {
        p.set_down(true);
    }
    for round in ["fence1", "fence2"] {
        for r in pr_multipath::fence(&n2, KEY2, KEY1, TYPE, &fence_options()).await {
            out.push(format!("{round} {} {}", r.lun, outcome_word(&r)));
        }
    }
    for lun in &node2 {
        out.extend(full_status_lines(
            lun.name(),
            &lun.read_full_status().await?,
        ));
    }
    Ok(out.join("\n") + "\n")
}

/// The scenario through the blocking front door ([`pr_multipath::blocking`]); returns the
/// dump.
pub fn run_blocking() -> pr_multipath::Result<String> {
    use pr_multipath::blocking;
    let (_sim, node1, node2, failing) = setup();
    let node1: Vec<blocking::Lun> = node1.into_iter().map(blocking::Lun::from).collect();
    let node2: Vec<blocking::Lun> = node2.into_iter().map(blocking::Lun::from).collect();
    let mut out = Vec::new();
    for r in blocking::unfence(&node1, KEY1, &FleetOptions::default())? {
        r.result?;
    }
    for r in blocking::unfence(&node2, KEY2, &FleetOptions::default())? {
        r.result?;
    }
    for lun in &node1 {
        lun.reserve(KEY1, TYPE)?;
    }
    for p in &failing {
        p.set_down(true);
    }
    for round in ["fence1", "fence2"] {
        for r in blocking::fence(&node2, KEY2, KEY1, TYPE, &fence_options())? {
            out.push(format!("{round} {} {}", r.lun, outcome_word(&r)));
        }
    }
    for lun in &node2 {
        out.extend(full_status_lines(lun.name(), &lun.read_full_status()?));
    }
    Ok(out.join("\n") + "\n")
}
