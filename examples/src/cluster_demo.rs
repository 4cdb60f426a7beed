//! The newcomer demo: a two-node cluster on pr-sim, step by step.
//!
//! 1. Both nodes register their key on every path of every LUN ([`pr_multipath::unfence`],
//!    what `fence_scsi` does for "on").
//! 2. Node 1 reserves every LUN, Write Exclusive, Registrants Only.
//! 3. One of node 1's initiator ports fails: reads, writes and PR commands go on through
//!    the other path (with the per-path report of a REGISTER); then the port comes back
//!    and its paths are re-registered, as multipathd does.
//! 4. Node 2 fences node 1: PREEMPT AND ABORT of node 1's key on every LUN
//!    ([`pr_multipath::fence`], with its progress stream).
//! 5. Node 1's WRITEs now get RESERVATION CONFLICT (its READs still work: registrants
//!    only restricts writes).
//!
//! After each step the state of every LUN is read with READ FULL STATUS (through node 2's
//! paths) and printed as a table: one row per I_T nexus (initiator TransportID and
//! relative target port), one column per LUN. Nothing is random: there is no latency and no
//! probabilistic fault (the paths' fault generators are seeded anyway), so the output is
//! the same on every run.

use pr_core::outcome::CommandError;
use pr_core::prin::FullStatus;
use pr_core::transport::{Cdb, Request, Transport};
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, PrOutAction, ReservationKey, ReservationType};
use pr_multipath::{
    Failure, FleetOptions, FullStatusInfo, LunOutcome, LunResult, MultipathLun, Path,
    PathRegistration, Progress, RegisterRequest, Report, fence, unfence,
};
use pr_sim::{BLOCK_LEN, Cluster, ClusterSpec, LunConfig, Sim, SimPath};

/// The cluster name the node keys are derived from.
pub const CLUSTER_NAME: &str = "pr-demo";

/// The first four hex digits of MD5(`"pr-demo"`) (`a19640a4...`, from `md5sum`), which is
/// what `fence_scsi` takes from the corosync cluster name.
pub const CLUSTER_ID_PREFIX: u16 = 0xa196;

/// Seed of the simulated paths' fault generators.
pub const SEED: u64 = 0x5eed;

/// Cluster nodes.
pub const NODES: usize = 2;
/// Paths from each node to each LUN (one per initiator port).
pub const PATHS: usize = 2;
/// Shared LUNs.
pub const LUNS: usize = 3;

/// The reservation type node 1 takes (and node 2 takes over when fencing).
pub const RESERVATION: ReservationType = ReservationType::WriteExclusiveRegistrantsOnly;

/// A node's key as `fence_scsi` generates it (`"%.4s%.4d" % (cluster_id, node_id)`): four
/// hex digits of the cluster id, then the corosync node id written as (at least) four
/// *decimal* digits, the whole read as hex. Node 2 of a cluster whose id starts `a196` gets
/// `0xa1960002`; node 12 gets `0xa1960012`.
pub fn fence_scsi_key(cluster_id_prefix: u16, node_id: u32) -> ReservationKey {
    let text = format!("{cluster_id_prefix:04x}{node_id:04}");
    // At most 4 + 10 hex digits: always fits.
    ReservationKey(u64::from_str_radix(&text, 16).unwrap_or(0))
}

/// Which data command [`IoCheck`] sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoOp {
    /// READ(10) of block 0.
    Read,
    /// WRITE(10) of block 0.
    Write,
}

impl IoOp {
    fn name(self) -> &'static str {
        match self {
            IoOp::Read => "READ",
            IoOp::Write => "WRITE",
        }
    }
}

/// One data command sent straight down one path (not through pr-multipath: dm-multipath
/// routes data IO, not this SDK), re-sent after a UNIT ATTENTION as the kernel does.
#[derive(Clone, Debug)]
pub struct IoCheck {
    /// The node, from 1.
    pub node: usize,
    /// The LUN's map name.
    pub lun: String,
    /// The path (node-local device name).
    pub path: String,
    /// READ or WRITE.
    pub op: IoOp,
    /// Every attempt's outcome, in order.
    pub attempts: Vec<Result<(), Failure>>,
}

impl IoCheck {
    /// The outcome of the last attempt.
    pub fn outcome(&self) -> Option<&Result<(), Failure>> {
        self.attempts.last()
    }

    /// Whether the last attempt got RESERVATION CONFLICT.
    pub fn is_reservation_conflict(&self) -> bool {
        matches!(self.outcome(), Some(Err(f)) if f.is_reservation_conflict())
    }

    /// Whether the last attempt succeeded.
    pub fn is_good(&self) -> bool {
        matches!(self.outcome(), Some(Ok(())))
    }
}

/// The state of every LUN after one step, as READ FULL STATUS reported it.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The step's title.
    pub step: String,
    /// One entry per LUN, in LUN order.
    pub luns: Vec<FullStatusInfo>,
}

/// Everything the demo did, for checks.
#[derive(Debug)]
pub struct Demo {
    /// The simulated cluster (its target can be inspected directly).
    pub cluster: Cluster,
    /// The node keys, node 1 first.
    pub keys: Vec<ReservationKey>,
    /// The state of the LUNs after each step.
    pub snapshots: Vec<Snapshot>,
    /// The progress events of the fence, in the order they arrived.
    pub fence_progress: Vec<Progress>,
    /// The data commands of the last step.
    pub final_io: Vec<IoCheck>,
}

impl Demo {
    /// Checks the end state the demo promises: on every LUN only node 2's paths are
    /// registered (with node 2's key), node 2 holds a Write Exclusive, Registrants Only
    /// reservation, every WRITE of node 1 got RESERVATION CONFLICT, its READs and node 2's
    /// WRITEs succeeded. Returns what is wrong, if anything.
    pub fn verify(&self) -> Result<(), String> {
        let (Some(&k1), Some(&k2)) = (self.keys.first(), self.keys.get(1)) else {
            return Err("missing node keys".into());
        };
        let last = self.snapshots.last().ok_or("no snapshot")?;
        if last.luns.len() != LUNS {
            return Err(format!("{} LUNs in the last snapshot", last.luns.len()));
        }
        for (i, st) in last.luns.iter().enumerate() {
            if st.entries.len() != PATHS || st.entries.iter().any(|e| e.key != k2) {
                return Err(format!(
                    "LUN {i}: registrations {:?}, expected {PATHS} of {k2}",
                    st.entries.iter().map(|e| e.key).collect::<Vec<_>>()
                ));
            }
            if st.entries.iter().any(|e| e.key == k1) {
                return Err(format!("LUN {i}: node 1's key survived the fence"));
            }
            let holders: Vec<_> = st.entries.iter().filter(|e| e.holder).collect();
            if holders.len() != 1 || holders.iter().any(|h| h.type_code != RESERVATION.code()) {
                return Err(format!("LUN {i}: holders {holders:?}"));
            }
        }
        let writes1: Vec<_> = self
            .final_io
            .iter()
            .filter(|c| c.node == 1 && c.op == IoOp::Write)
            .collect();
        if writes1.len() != LUNS * PATHS || !writes1.iter().all(|c| c.is_reservation_conflict()) {
            return Err(format!("node 1's writes: {writes1:?}"));
        }
        if !self
            .final_io
            .iter()
            .filter(|c| c.node == 2 || c.op == IoOp::Read)
            .all(IoCheck::is_good)
        {
            return Err("a READ of node 1 or a WRITE of node 2 failed".into());
        }
        let fenced = self
            .fence_progress
            .iter()
            .filter(|p| p.outcome == LunOutcome::Ok)
            .count();
        if fenced != LUNS {
            return Err(format!("{fenced} LUNs fenced"));
        }
        Ok(())
    }
}

/// Where the demo writes its lines.
pub type Out<'a> = &'a mut dyn FnMut(&str);

macro_rules! say {
    ($out:expr) => { ($out)("") };
    ($out:expr, $($arg:tt)*) => { ($out)(&format!($($arg)*)) };
}

fn map_name(lun: usize) -> String {
    let c = u8::try_from(lun % 26).map_or('?', |d| char::from(b'a' + d));
    format!("mpath{c}")
}

/// Node-local device name of path `path` to LUN `lun` (`sda` is the boot disk).
fn dev_name(lun: usize, path: usize) -> String {
    let i = 1 + lun * PATHS + path;
    let c = u8::try_from(i % 26).map_or('?', |d| char::from(b'a' + d));
    format!("sd{c}")
}

/// One I_T nexus of the cluster: a row of the state table.
struct Nexus {
    label: String,
    transport_id: Option<TransportId<'static>>,
    target_port: u16,
}

struct Node {
    id: usize,
    key: ReservationKey,
    luns: Vec<MultipathLun<SimPath>>,
    /// `paths[lun][path]`, the simulator handles (for faults and data commands).
    paths: Vec<Vec<SimPath>>,
}

impl Node {
    fn refs(&self) -> Vec<&MultipathLun<SimPath>> {
        self.luns.iter().collect()
    }
}

fn build() -> (Cluster, Vec<Node>, Vec<Nexus>) {
    let cluster = Sim::cluster(&ClusterSpec {
        nodes: NODES,
        paths_per_node: PATHS,
        luns: LUNS,
        lun_config: LunConfig::spc5(),
    });
    let mut seed = SEED;
    let mut nodes = Vec::new();
    let mut nexuses = Vec::new();
    for (n, node) in cluster.nodes.iter().enumerate() {
        let id = n + 1;
        let key = fence_scsi_key(CLUSTER_ID_PREFIX, u32::try_from(id).unwrap_or(0));
        let mut luns = Vec::new();
        let mut named: Vec<Vec<SimPath>> = Vec::new();
        for (l, per_lun) in node.paths.iter().enumerate() {
            let paths = per_lun
                .iter()
                .enumerate()
                .map(|(p, sp)| {
                    sp.seed_faults(seed);
                    seed = seed.wrapping_add(1);
                    // Errors then name the path as the node knows it: `node1:sdb`.
                    let sp = sp.clone().named(format!("node{id}:{}", dev_name(l, p)));
                    Path::new(dev_name(l, p), sp).with_host(u32::try_from(p).unwrap_or(0))
                })
                .collect();
            luns.push(MultipathLun::new(map_name(l), paths));
            named.push(
                luns.last()
                    .map(|m: &MultipathLun<SimPath>| {
                        m.paths().iter().map(|p| p.transport().clone()).collect()
                    })
                    .unwrap_or_default(),
            );
        }
        for (p, &init) in node.initiators.iter().enumerate() {
            let target_port = node
                .paths
                .first()
                .and_then(|per| per.get(p))
                .map_or(0, |sp| sp.nexus().target_port);
            nexuses.push(Nexus {
                label: format!("node{id} port{p}"),
                transport_id: cluster.sim.transport_id(init),
                target_port,
            });
        }
        nodes.push(Node {
            id,
            key,
            luns,
            paths: named,
        });
    }
    (cluster, nodes, nexuses)
}

/// Reads every LUN's state through `observer`'s paths.
async fn snapshot(observer: &Node, step: &str) -> Result<Snapshot, pr_multipath::Error> {
    let mut luns = Vec::new();
    for lun in &observer.luns {
        luns.push(lun.read_full_status().await?);
    }
    Ok(Snapshot {
        step: step.to_owned(),
        luns,
    })
}

fn type_name(code: u8) -> String {
    ReservationType::from_code(code)
        .map_or_else(|| format!("type {code:#x}"), |t| t.short_name().to_owned())
}

fn print_table(out: Out<'_>, nexuses: &[Nexus], names: &[String], snap: &Snapshot) {
    const LABEL: usize = 42;
    const COL: usize = 13;
    let mut line = format!("  {:<LABEL$}", "LUN state (READ FULL STATUS)");
    for n in names {
        line.push_str(&format!("{n:<COL$}"));
    }
    say!(out, "{}", line.trim_end());
    let mut gen_line = format!("  {:<LABEL$}", "PRgeneration");
    let mut res_line = format!("  {:<LABEL$}", "reservation");
    for st in &snap.luns {
        gen_line.push_str(&format!("{:<COL$}", format!("{:#x}", st.generation)));
        let res = st
            .entries
            .iter()
            .find(|e| e.holder)
            .map_or_else(|| "none".to_owned(), |e| type_name(e.type_code));
        res_line.push_str(&format!("{res:<COL$}"));
    }
    say!(out, "{}", gen_line.trim_end());
    say!(out, "{}", res_line.trim_end());
    let matches = |nx: &Nexus, e: &pr_multipath::StatusEntry| {
        e.transport_id.is_some()
            && e.transport_id == nx.transport_id
            && (e.all_tg_pt || e.relative_target_port == nx.target_port)
    };
    for nx in nexuses {
        let tid = nx
            .transport_id
            .as_ref()
            .map_or_else(|| "?".to_owned(), ToString::to_string);
        let mut row = format!(
            "  {:<LABEL$}",
            format!("{} {tid} tport {}", nx.label, nx.target_port)
        );
        for st in &snap.luns {
            let cell = st.entries.iter().find(|e| matches(nx, e)).map_or_else(
                || "-".to_owned(),
                |e| format!("{}{}", e.key, if e.holder { "*" } else { "" }),
            );
            row.push_str(&format!("{cell:<COL$}"));
        }
        say!(out, "{}", row.trim_end());
    }
    // Registrations of nexuses the demo does not know (there should be none).
    for (l, st) in snap.luns.iter().enumerate() {
        for e in st
            .entries
            .iter()
            .filter(|e| !nexuses.iter().any(|nx| matches(nx, e)))
        {
            say!(
                out,
                "  {}: also key {} from {:?} tport {}",
                names.get(l).map_or("?", String::as_str),
                e.key,
                e.transport_id,
                e.relative_target_port
            );
        }
    }
    say!(out, "  (* = reservation holder, - = not registered)");
}

fn commands_sent(report: &Report) -> u32 {
    report.steps.iter().map(|s| s.attempts).sum()
}

fn path_of(report: &Report, action: PrOutAction) -> String {
    report
        .steps
        .iter()
        .find(|s| s.is_ok() && s.command.out().is_some_and(|o| o.action == action))
        .map_or_else(|| "?".to_owned(), |s| s.path.clone())
}

fn summarize_fleet(results: &[LunResult]) -> (usize, u32) {
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let cmds = results
        .iter()
        .map(|r| match &r.result {
            Ok(rep) => commands_sent(rep),
            Err(_) => 0,
        })
        .sum();
    (ok, cmds)
}

fn outcome_text(r: &Result<(), Failure>) -> String {
    match r {
        Ok(()) => "GOOD".to_owned(),
        Err(f) => f.to_string(),
    }
}

/// Sends READ(10) or WRITE(10) of block 0 down `path`, re-sending after a UNIT ATTENTION
/// (at most three attempts).
async fn data_io(path: &SimPath, op: IoOp) -> Vec<Result<(), Failure>> {
    let mut attempts = Vec::new();
    for _ in 0..3 {
        let opcode = match op {
            IoOp::Read => 0x28,
            IoOp::Write => 0x2a,
        };
        // LBA 0, one block.
        let cdb = [opcode, 0, 0, 0, 0, 0, 0, 0, 1, 0];
        let Some(cdb) = Cdb::new(&cdb) else {
            break;
        };
        let len = BLOCK_LEN;
        let request = match op {
            IoOp::Read => Request::data_in(cdb, len),
            IoOp::Write => Request::data_out(cdb, vec![0x5a; len]),
        };
        let result = match path.execute(request).await {
            Ok(r) => r.completion.check().map_err(Failure::Command),
            Err(e) => Err(Failure::Transport(e)),
        };
        let again = matches!(
            &result,
            Err(Failure::Command(CommandError::UnitAttention { .. }))
        );
        attempts.push(result);
        if !again {
            break;
        }
    }
    attempts
}

async fn io_check(node: &Node, lun: usize, path: usize, op: IoOp) -> IoCheck {
    let attempts = match node.paths.get(lun).and_then(|per| per.get(path)) {
        Some(sp) => data_io(sp, op).await,
        None => Vec::new(),
    };
    IoCheck {
        node: node.id,
        lun: map_name(lun),
        path: dev_name(lun, path),
        op,
        attempts,
    }
}

fn io_line(c: &IoCheck) -> String {
    let steps: Vec<String> = c.attempts.iter().map(outcome_text).collect();
    format!(
        "node{} {:<5} {} via {}: {}",
        c.node,
        c.op.name(),
        c.lun,
        c.path,
        steps.join(", re-sent: ")
    )
}

/// Runs the demo, writing its output line by line to `out`.
pub async fn run(out: Out<'_>) -> Result<Demo, pr_multipath::Error> {
    let (cluster, nodes, nexuses) = build();
    let (Some(n1), Some(n2)) = (nodes.first(), nodes.get(1)) else {
        return Err(pr_multipath::Error::NoUsablePath {
            lun: "cluster".into(),
        });
    };
    let names: Vec<String> = (0..LUNS).map(map_name).collect();
    let mut snapshots = Vec::new();

    say!(
        out,
        "pr-sdk cluster demo on pr-sim: no hardware, no root, the same output every run (seed {SEED:#x})"
    );
    say!(
        out,
        "target: {} target ports, {LUNS} shared LUNs (SPC-5 device server): {}",
        cluster.sim.target_ports().len(),
        names.join(" ")
    );
    for node in &nodes {
        let paths: Vec<String> = (0..LUNS)
            .map(|l| {
                let devs: Vec<String> = (0..PATHS).map(|p| dev_name(l, p)).collect();
                format!("{} {}", map_name(l), devs.join("+"))
            })
            .collect();
        say!(
            out,
            "node{}: key {} (as fence_scsi derives it: MD5(\"{CLUSTER_NAME}\") starts {:04x}, node id {:04})",
            node.id,
            node.key,
            CLUSTER_ID_PREFIX,
            node.id,
        );
        say!(
            out,
            "       two initiator ports, paths {}",
            paths.join(", ")
        );
    }

    // 1. Register.
    say!(out);
    say!(
        out,
        "== 1. Both nodes register their key on every path of every LUN (pr_multipath::unfence) =="
    );
    for node in &nodes {
        let results = unfence(&node.refs(), node.key, &FleetOptions::default()).await;
        let (ok, cmds) = summarize_fleet(&results);
        say!(
            out,
            "  node{}: {ok}/{LUNS} LUNs ok, {} paths registered with {cmds} \
             REGISTER AND IGNORE EXISTING KEY commands",
            node.id,
            LUNS * PATHS
        );
        for r in &results {
            if let Err(e) = &r.result {
                say!(out, "  {}: {e}", r.lun);
            }
        }
    }
    let snap = snapshot(n2, "registered").await?;
    print_table(out, &nexuses, &names, &snap);
    snapshots.push(snap);

    // 2. Reserve.
    say!(out);
    say!(
        out,
        "== 2. node1 reserves every LUN: {} ({}) ==",
        RESERVATION.name(),
        RESERVATION.short_name()
    );
    let mut via = Vec::new();
    for lun in &n1.luns {
        let rep = lun.reserve(n1.key, RESERVATION).await?;
        via.push(format!(
            "{} via {}",
            lun.name(),
            path_of(&rep, PrOutAction::Reserve)
        ));
    }
    say!(out, "  RESERVE ok: {}", via.join(", "));
    let snap = snapshot(n2, "reserved").await?;
    print_table(out, &nexuses, &names, &snap);
    snapshots.push(snap);

    // 3. A path fails and comes back.
    say!(out);
    let down: Vec<String> = (0..LUNS).map(|l| dev_name(l, 0)).collect();
    say!(
        out,
        "== 3. node1's initiator port0 fails ({} down), then comes back ==",
        down.join(", ")
    );
    for per_lun in &n1.paths {
        if let Some(p) = per_lun.first() {
            p.set_down(true);
        }
    }
    for p in 0..PATHS {
        let c = io_check(n1, 0, p, IoOp::Write).await;
        say!(out, "  {}", io_line(&c));
    }
    let mut reports = Vec::new();
    for lun in &n1.luns {
        reports.push(
            lun.register(RegisterRequest::register_ignore(n1.key))
                .await?,
        );
    }
    if let Some(rep) = reports.first() {
        say!(
            out,
            "  node1 REGISTER AND IGNORE EXISTING KEY {} on {}, per-path report:",
            n1.key,
            rep.lun
        );
        for s in &rep.steps {
            say!(out, "    {s}");
        }
        for r in &rep.registrations {
            let what = match &r.registration {
                PathRegistration::Changed => "registered".to_owned(),
                PathRegistration::SkippedUnusable => "skipped (path failed)".to_owned(),
                PathRegistration::Unknown => {
                    "unknown (no answer; re-registered when it comes back)".to_owned()
                }
                other => format!("{other:?}"),
            };
            say!(out, "    {}: {what}", r.path);
        }
        let others: Vec<String> = reports
            .iter()
            .skip(1)
            .map(|r| {
                let ok: Vec<&str> = r
                    .registrations
                    .iter()
                    .filter(|p| p.registration == PathRegistration::Changed)
                    .map(|p| p.path.as_str())
                    .collect();
                format!("{} registered on {}", r.lun, ok.join("+"))
            })
            .collect();
        say!(out, "    {}", others.join(", "));
    }
    let mut answers = Vec::new();
    for lun in &n1.luns {
        let info = lun.read_reservation().await?;
        let held = info.reservation.map_or_else(
            || "none".to_owned(),
            |r| format!("{} {}", type_name(r.type_code), r.key),
        );
        answers.push(format!("{} {held} (from {})", lun.name(), info.path));
    }
    say!(out, "  node1 READ RESERVATION: {}", answers.join(", "));
    let snap = snapshot(n2, "port0 down").await?;
    say!(
        out,
        "  On the LUNs, the failed path keeps its registration and the reservation it holds:"
    );
    print_table(out, &nexuses, &names, &snap);
    snapshots.push(snap);
    for per_lun in &n1.paths {
        if let Some(p) = per_lun.first() {
            p.set_down(false);
        }
    }
    let mut back = Vec::new();
    for (l, lun) in n1.luns.iter().enumerate() {
        let rep = lun.reinstate_path(&dev_name(l, 0), n1.key).await?;
        back.push(format!(
            "{} {} ({} cmds)",
            lun.name(),
            dev_name(l, 0),
            commands_sent(&rep)
        ));
    }
    say!(
        out,
        "  port0 back: re-registered as multipathd does (MultipathLun::reinstate_path): {}",
        back.join(", ")
    );
    for p in 0..PATHS {
        let c = io_check(n1, 0, p, IoOp::Write).await;
        say!(out, "  {}", io_line(&c));
    }

    // 4. Fence.
    say!(out);
    say!(
        out,
        "== 4. node2 fences node1: PREEMPT AND ABORT of {} on every LUN (pr_multipath::fence) ==",
        n1.key
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
    let options = FleetOptions {
        concurrency: 2,
        progress: Some(tx),
        ..FleetOptions::default()
    };
    let refs = n2.refs();
    let fencing = async move {
        let results = fence(&refs, n2.key, n1.key, RESERVATION, &options).await;
        drop(options); // closes the progress stream
        results
    };
    let mut fence_progress = Vec::new();
    let progress = async {
        while let Some(p) = rx.recv().await {
            let bar: String = (0..p.total)
                .map(|i| if i < p.done { '#' } else { '.' })
                .collect();
            let how = match &p.outcome {
                LunOutcome::Ok => "fenced".to_owned(),
                LunOutcome::AlreadyFenced => "already fenced".to_owned(),
                LunOutcome::Failed(e) => format!("FAILED: {e}"),
                LunOutcome::Cancelled => "cancelled".to_owned(),
            };
            say!(out, "  [{bar}] {}/{} {} {how}", p.done, p.total, p.lun);
            fence_progress.push(p);
        }
    };
    let (results, ()) = tokio::join!(fencing, progress);
    for r in &results {
        match &r.result {
            Ok(rep) => {
                let steps: Vec<String> = rep
                    .steps
                    .iter()
                    .map(|s| format!("{} via {}", s.command, s.path))
                    .collect();
                say!(out, "  {}: {}", r.lun, steps.join("; "));
            }
            Err(e) => say!(out, "  {}: {e}", r.lun),
        }
    }
    let snap = snapshot(n2, "fenced").await?;
    print_table(out, &nexuses, &names, &snap);
    snapshots.push(snap);

    // 5. Node 1 is locked out.
    say!(out);
    say!(
        out,
        "== 5. node1 is fenced: its WRITEs get RESERVATION CONFLICT; READs still work ({}) ==",
        RESERVATION.short_name()
    );
    let mut final_io = Vec::new();
    for l in 0..LUNS {
        for p in 0..PATHS {
            let c = io_check(n1, l, p, IoOp::Write).await;
            say!(out, "  {}", io_line(&c));
            final_io.push(c);
        }
    }
    for (node, op) in [(n1, IoOp::Read), (n2, IoOp::Write)] {
        let c = io_check(node, 0, 0, op).await;
        say!(out, "  {}", io_line(&c));
        final_io.push(c);
    }
    if let Some(lun) = n2.luns.first() {
        let (path, buf) = lun.pr_in_raw(PrInAction::ReadFullStatus, 8192).await?;
        if let Ok(fs) = FullStatus::decode(&buf) {
            say!(
                out,
                "  {} READ FULL STATUS from node2 via {path}, as pr-core's Display prints it:",
                lun.name()
            );
            for line in fs.to_string().lines() {
                say!(out, "    {line}");
            }
        }
    }

    let keys = nodes.iter().map(|n| n.key).collect();
    Ok(Demo {
        cluster,
        keys,
        snapshots,
        fence_progress,
        final_io,
    })
}
