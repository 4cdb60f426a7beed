//! The native subcommands of `prsdk` (issue 14): PR IN reads (`keys`, `reservation`,
//! `capabilities`, `status`), `show` (every map's reservation state), the PR OUT actions
//! (`register`, `reserve`, `release`, `clear`, `preempt`, `register-and-move`) and
//! `fence` / `unfence` across many LUNs, on maps and devices named on the command line or
//! every map (`--all-maps`), with human tables or JSON (`--json`, schema in
//! `pr-cli/README.md`), on real devices or on a simulated cluster (`--sim`). Everything
//! goes through pr-multipath's front door ([`pr_multipath::blocking::Lun`] and its fleet
//! operations).

use std::io::{BufRead, IsTerminal, Write};

use pr_core::transport_id::TransportId;
use pr_core::types::{ReservationKey, ReservationType};
use pr_multipath::blocking::{self, Lun};
use pr_multipath::{
    Error, ErrorKind, FenceAction, FleetOptions, FromMapOptions, LunOutcome, LunResult, OutRequest,
    PathState, RegisterRequest,
};
use serde_json::{Value, json};

/// The version of the JSON documents `--json` prints (the `"schema"` member).
pub const SCHEMA: u32 = 1;

/// Exit status: every target succeeded.
pub const EXIT_OK: i32 = 0;
/// Exit status: bad command line (unknown command or option, bad key or type, missing or
/// conflicting options, no target).
pub const EXIT_USAGE: i32 = 1;
/// Exit status: a target could not be opened (no such map or device, not a SCSI device).
pub const EXIT_TARGET: i32 = 2;
/// Exit status: the operating system refused access (not root, no `CAP_SYS_RAWIO`).
pub const EXIT_PERMISSION: i32 = 3;
/// Exit status: RESERVATION CONFLICT.
pub const EXIT_CONFLICT: i32 = 4;
/// Exit status: the device refused the request (ILLEGAL REQUEST) or the transport cannot
/// carry it.
pub const EXIT_ILLEGAL: i32 = 5;
/// Exit status: no path could carry the command, or another device error.
pub const EXIT_DEVICE: i32 = 6;
/// Exit status: anything else (configured key mismatch, safety check, system trouble,
/// cancelled, internal error).
pub const EXIT_OTHER: i32 = 7;

/// The exit status for an error of `kind`.
pub fn exit_code(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::InvalidArgument | ErrorKind::NotFound | ErrorKind::NotScsi => EXIT_TARGET,
        ErrorKind::PermissionDenied => EXIT_PERMISSION,
        ErrorKind::ReservationConflict => EXIT_CONFLICT,
        ErrorKind::IllegalRequest | ErrorKind::Unsupported => EXIT_ILLEGAL,
        ErrorKind::PathFailure | ErrorKind::DeviceError => EXIT_DEVICE,
        _ => EXIT_OTHER,
    }
}

/// Usage of the native subcommands.
pub const USAGE: &str = "\
Native commands (prsdk [OPTIONS] COMMAND [TARGET...]):
  keys | reservation | capabilities | status      PR IN on each target
  show                                            every map's reservation state
  register --key NEW [--old-key OLD] [--ignore] [--aptpl] [--all-tg-pt]
           [--transport-id TID]... (SPEC_I_PT)                  (--key 0: unregister)
  reserve --key K --type T        release --key K --type T        clear --key K
  preempt --key K --victim V --type T [--abort]
  register-and-move --key K --dest-key D --type T --transport-id TID --rtp N [--unreg]
  replace-lost-reservation --key NEW --type T
  fence --key K --victim V [--type T] [--preempt]   remove V from every target
  unfence --key K                                   register K on every target
TARGET: a map name, /dev/mapper/NAME, /dev/dm-N, /dev/sdX, /dev/sgN; or --all-maps.
Options: --json  (JSON, schema 1)   --all-maps   -v|-vv|-vvv (tracing to standard error)
  --sim [--topology NODESxPATHSxLUNS] [--node N] [--fresh] [--down PATH]... [--script F]
        a simulated cluster (default 2x2x3, LIO's behaviour; maps mpatha, mpathb, ...;
        paths nNpPlL), node 1 holding WR_EX_RO with key 0x1111 and node 2 registered
        with 0x2222 on every LUN unless --fresh; commands run as node N (default 1).
        --script FILE (- for standard input): one command line a line on one cluster.
TYPE: wr_ex ex_ac wr_ex_ro ex_ac_ro wr_ex_ar ex_ac_ar, or the code (1 3 5 6 7 8).
Exit status: 0 ok, 1 usage, 2 no such target, 3 permission, 4 reservation conflict,
  5 illegal request, 6 path or device failure, 7 other; the first failing target's.
";

/// The native commands.
const COMMANDS: &[&str] = &[
    "keys",
    "reservation",
    "capabilities",
    "status",
    "show",
    "register",
    "reserve",
    "release",
    "clear",
    "preempt",
    "register-and-move",
    "replace-lost-reservation",
    "fence",
    "unfence",
];

/// A command-line error: the message.
struct Usage(String);

/// The parsed command line.
#[derive(Default)]
struct Opts {
    command: String,
    targets: Vec<String>,
    json: bool,
    all_maps: bool,
    sim: bool,
    topology: Option<String>,
    node: Option<String>,
    fresh: bool,
    down: Vec<String>,
    key: Option<String>,
    old_key: Option<String>,
    victim: Option<String>,
    dest_key: Option<String>,
    rtype: Option<String>,
    transport_id: Vec<String>,
    all_tg_pt: bool,
    rtp: Option<String>,
    ignore: bool,
    aptpl: bool,
    abort: bool,
    unreg: bool,
    preempt: bool,
    script: Option<String>,
    verbose: u8,
}

fn parse(args: &[String]) -> Result<Opts, Usage> {
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(long) = a.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let flag = |b: &mut bool| -> Result<(), Usage> {
                if attached.is_some() {
                    return Err(Usage(format!("option '--{name}' takes no value")));
                }
                *b = true;
                Ok(())
            };
            let mut value = |slot: &mut Option<String>| -> Result<(), Usage> {
                let v = match attached.clone() {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| Usage(format!("option '--{name}' needs a value")))?,
                };
                if slot.is_some() {
                    return Err(Usage(format!("option '--{name}' given twice")));
                }
                *slot = Some(v);
                Ok(())
            };
            match name {
                "json" => flag(&mut o.json)?,
                "verbose" if attached.is_none() => o.verbose = o.verbose.saturating_add(1),
                "all-maps" => flag(&mut o.all_maps)?,
                "sim" => flag(&mut o.sim)?,
                "fresh" => flag(&mut o.fresh)?,
                "ignore" => flag(&mut o.ignore)?,
                "aptpl" => flag(&mut o.aptpl)?,
                "abort" => flag(&mut o.abort)?,
                "unreg" => flag(&mut o.unreg)?,
                "preempt" => flag(&mut o.preempt)?,
                "topology" => value(&mut o.topology)?,
                "node" => value(&mut o.node)?,
                "key" => value(&mut o.key)?,
                "old-key" => value(&mut o.old_key)?,
                "victim" => value(&mut o.victim)?,
                "dest-key" => value(&mut o.dest_key)?,
                "type" => value(&mut o.rtype)?,
                "transport-id" => {
                    let mut t = None;
                    value(&mut t)?;
                    o.transport_id.extend(t);
                }
                "all-tg-pt" => flag(&mut o.all_tg_pt)?,
                "rtp" => value(&mut o.rtp)?,
                "script" => value(&mut o.script)?,
                "down" => {
                    let mut d = None;
                    value(&mut d)?;
                    o.down.extend(d);
                }
                _ => return Err(Usage(format!("unknown option '{a}'"))),
            }
        } else if a.len() > 1 && a.starts_with('-') && a[1..].bytes().all(|b| b == b'v') {
            let n = u8::try_from(a.len() - 1).unwrap_or(u8::MAX);
            o.verbose = o.verbose.saturating_add(n);
        } else if a.starts_with('-') && a.len() > 1 {
            return Err(Usage(format!("unknown option '{a}'")));
        } else if o.command.is_empty() {
            if !COMMANDS.contains(&a.as_str()) {
                return Err(Usage(format!("unknown command '{a}'")));
            }
            o.command = a.clone();
        } else {
            o.targets.push(a.clone());
        }
    }
    if o.script.is_some() && !o.command.is_empty() {
        return Err(Usage(
            "--script takes no command: the commands are in the script".into(),
        ));
    }
    if o.command.is_empty() && o.script.is_none() {
        return Err(Usage("no command given".into()));
    }
    if o.command == "show" && !o.targets.is_empty() && o.all_maps {
        return Err(Usage("show takes maps or --all-maps, not both".into()));
    }
    if o.all_maps && !o.targets.is_empty() {
        return Err(Usage("give targets or --all-maps, not both".into()));
    }
    Ok(o)
}

fn key_of(name: &str, v: &Option<String>) -> Result<ReservationKey, Usage> {
    let v = v
        .as_deref()
        .ok_or_else(|| Usage(format!("--{name} is required")))?;
    v.parse::<ReservationKey>().map_err(|_| {
        Usage(format!(
            "bad --{name} '{v}': a key is 0x-prefixed hex (up to 16 digits) or decimal"
        ))
    })
}

/// A TransportID in sg_persist's `-X` text form.
fn transport_id(t: &str) -> Result<TransportId<'static>, Usage> {
    TransportId::parse(t)
        .map(TransportId::into_owned)
        .map_err(|e| Usage(format!("bad --transport-id '{t}': {e}")))
}

/// A reservation type from its short name (`wr_ex_ro`, `WR-EX-RO`) or code (`5`, `0x5`).
fn type_of(v: &Option<String>, default: Option<ReservationType>) -> Result<ReservationType, Usage> {
    let Some(v) = v.as_deref() else {
        return default.ok_or_else(|| Usage("--type is required".into()));
    };
    let norm = v.to_ascii_uppercase().replace('-', "_");
    if let Some(t) = ReservationType::ALL.iter().find(|t| t.short_name() == norm) {
        return Ok(*t);
    }
    let code = match norm.strip_prefix("0X") {
        Some(h) => u8::from_str_radix(h, 16).ok(),
        None => norm.parse::<u8>().ok(),
    };
    code.and_then(ReservationType::from_code).ok_or_else(|| {
        Usage(format!(
            "bad --type '{v}': one of wr_ex ex_ac wr_ex_ro ex_ac_ro wr_ex_ar ex_ac_ar, or 1 3 5 6 7 8"
        ))
    })
}

// ---------------------------------------------------------------------------------------
// Targets: real devices or a simulated cluster
// ---------------------------------------------------------------------------------------

/// One target: its name and the opened LUN, or why it could not be opened.
type Target = (String, Result<Lun, Error>);

/// The simulated cluster of `--sim`.
struct SimCluster {
    /// `nodes[n][l]`: node n+1's LUN l (map `mpath` + letter).
    nodes: Vec<Vec<Lun>>,
    _cluster: pr_sim::Cluster,
}

/// The map name of LUN `l` (`mpatha`, ..., `mpathz`, `mpathaa`, ...), as multipath names them.
fn map_name(l: usize) -> String {
    let mut s = String::new();
    let mut n = l + 1;
    while n > 0 {
        let d = (n - 1) % 26;
        s.insert(0, char::from(b'a' + u8::try_from(d).unwrap_or(0)));
        n = (n - 1) / 26;
    }
    format!("mpath{s}")
}

/// The seeded keys of the simulated nodes: node n (from 1) has 0x1111 * n.
fn sim_key(node: usize) -> ReservationKey {
    ReservationKey(0x1111 * u64::try_from(node).unwrap_or(0))
}

fn parse_topology(t: &str) -> Result<(usize, usize, usize), Usage> {
    let bad = || {
        Usage(format!(
            "bad --topology '{t}': NODESxPATHSxLUNS, e.g. 2x2x3 (nodes 1-8, paths 1-8, LUNs 1-256)"
        ))
    };
    let parts: Vec<usize> = t
        .split('x')
        .map(|p| p.parse::<usize>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    match parts[..] {
        [n, p, l] if (1..=8).contains(&n) && (1..=8).contains(&p) && (1..=256).contains(&l) => {
            Ok((n, p, l))
        }
        _ => Err(bad()),
    }
}

impl SimCluster {
    fn new(o: &Opts) -> Result<Self, Usage> {
        let (nodes, paths, luns) = parse_topology(o.topology.as_deref().unwrap_or("2x2x3"))?;
        let cluster = pr_sim::Sim::cluster(&pr_sim::ClusterSpec {
            nodes,
            paths_per_node: paths,
            luns,
            lun_config: pr_sim::LunConfig::lio(),
        });
        let by_node: Vec<Vec<Lun>> = cluster
            .nodes
            .iter()
            .map(|n| {
                n.paths
                    .iter()
                    .enumerate()
                    .map(|(l, p)| Lun::simulated(map_name(l), p.clone()))
                    .collect()
            })
            .collect();
        let sim = SimCluster {
            nodes: by_node,
            _cluster: cluster,
        };
        if !o.fresh {
            sim.seed();
        }
        Ok(sim)
    }

    /// The node a command runs as (`--node`, default 1), after marking its `--down` paths
    /// failed.
    fn node_of(&self, o: &Opts) -> Result<usize, Usage> {
        let nodes = self.nodes.len();
        let node = match o.node.as_deref() {
            None => 1,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=nodes).contains(n))
                .ok_or_else(|| Usage(format!("bad --node '{v}': a node from 1 to {nodes}")))?,
        };
        for d in &o.down {
            let found = self.nodes[node - 1]
                .iter()
                .any(|l| l.as_async().set_path_state(d, PathState::Failed));
            if !found {
                return Err(Usage(format!(
                    "bad --down '{d}': no path of that name on node {node}"
                )));
            }
        }
        Ok(node)
    }

    /// Node 1 registers 0x1111 and reserves WR_EX_RO on every LUN, the other nodes register
    /// 0x1111 * n.
    fn seed(&self) {
        for (n, luns) in self.nodes.iter().enumerate() {
            let key = sim_key(n + 1);
            for lun in luns {
                let r = lun.register(RegisterRequest::register_ignore(key));
                if n == 0 && r.is_ok() {
                    let _ = lun.reserve(key, ReservationType::WriteExclusiveRegistrantsOnly);
                }
                tracing::debug!(lun = lun.name(), node = n + 1, "seeded");
            }
        }
    }

    fn luns(&self, node: usize) -> &[Lun] {
        &self.nodes[node - 1]
    }

    fn open(&self, node: usize, name: &str) -> Result<Lun, Error> {
        let map = name.strip_prefix("/dev/mapper/").unwrap_or(name);
        if let Some(l) = self.luns(node).iter().find(|l| l.name() == map) {
            return Ok(l.clone());
        }
        let short = name.strip_prefix("/dev/").unwrap_or(name);
        for lun in self.luns(node) {
            if let Some(p) = lun.as_async().path(short) {
                if let pr_multipath::AnyPath::Sim(s) = p.transport() {
                    return Ok(Lun::simulated(short, [s.clone()]));
                }
            }
        }
        Err(Error::NotFound {
            what: name.to_owned(),
            reason: format!(
                "no such simulated map or path (maps {}..{}, paths like n0p0l0)",
                map_name(0),
                map_name(self.luns(node).len().saturating_sub(1))
            ),
        })
    }
}

/// Opens the targets the command line names.
fn targets(o: &Opts, sim: Option<(&SimCluster, usize)>) -> Vec<Target> {
    match sim {
        Some((s, n)) if o.all_maps || (o.command == "show" && o.targets.is_empty()) => s
            .luns(n)
            .iter()
            .map(|l| (l.name().to_owned(), Ok(l.clone())))
            .collect(),
        Some((s, n)) => o
            .targets
            .iter()
            .map(|t| (t.clone(), s.open(n, t)))
            .collect(),
        None if o.all_maps || (o.command == "show" && o.targets.is_empty()) => {
            match pr_multipath::Lun::from_all_maps(&FromMapOptions::default()) {
                Ok(luns) => luns
                    .into_iter()
                    .map(|l| (l.name().to_owned(), Ok(Lun::from(l))))
                    .collect(),
                Err(e) => vec![("--all-maps".to_owned(), Err(e))],
            }
        }
        None => o
            .targets
            .iter()
            .map(|t| (t.clone(), Lun::open(t)))
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

/// Left-aligned columns, two spaces apart, the last column unpadded.
fn table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: Vec<&str>| {
        let mut s = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, c) in cells.iter().enumerate() {
            s.push_str(c);
            if i < last {
                let pad = widths[i].saturating_sub(c.chars().count()) + 2;
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(out, header.to_vec());
    for r in rows {
        line(out, r.iter().map(String::as_str).collect());
    }
}

/// Keys in order of first appearance, each with its count: `0x1111 (2), 0x2222`.
fn key_counts(keys: &[ReservationKey]) -> String {
    let mut seen: Vec<(ReservationKey, usize)> = Vec::new();
    for k in keys {
        match seen.iter_mut().find(|(s, _)| s == k) {
            Some((_, n)) => *n += 1,
            None => seen.push((*k, 1)),
        }
    }
    if seen.is_empty() {
        return "none".into();
    }
    seen.iter()
        .map(|(k, n)| {
            if *n == 1 {
                k.to_string()
            } else {
                format!("{k} ({n})")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn type_name(code: u8) -> String {
    ReservationType::from_code(code)
        .map(|t| t.short_name().to_owned())
        .unwrap_or_else(|| format!("type {code:#x}"))
}

/// A failure on one target, kept for the report: its kind, message and JSON form.
struct Failed {
    kind: ErrorKind,
    message: String,
    json: Value,
}

impl From<&Error> for Failed {
    fn from(e: &Error) -> Self {
        Failed {
            kind: e.kind(),
            message: e.to_string(),
            json: serde_json::to_value(e)
                .unwrap_or_else(|_| json!({"kind": "internal", "message": e.to_string()})),
        }
    }
}

impl From<Error> for Failed {
    fn from(e: Error) -> Self {
        Failed::from(&e)
    }
}

fn document(command: &str, results: Vec<Value>) -> Value {
    json!({"schema": SCHEMA, "command": command, "results": results})
}

fn print_json(out: &mut dyn Write, v: &Value) {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    let _ = writeln!(out, "{text}");
}

/// `message` about `name`, prefixed with it unless it names it already.
fn about(name: &str, message: &str) -> String {
    if message.starts_with(name) {
        message.to_owned()
    } else {
        format!("{name}: {message}")
    }
}

/// Keeps the exit status of the first failure.
fn fail(status: &mut i32, code: i32) {
    if *status == EXIT_OK {
        *status = code;
    }
}

// ---------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------

/// Runs a native command line (`args`: what follows the program name). Returns the exit
/// status.
pub fn run(
    args: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
    stdin: &mut dyn BufRead,
) -> i32 {
    let o = match parse(args) {
        Ok(o) => o,
        Err(Usage(m)) => {
            let _ = writeln!(err, "prsdk: {m}");
            let _ = writeln!(err, "Try 'prsdk --help'.");
            return EXIT_USAGE;
        }
    };
    if !o.sim
        && (o.topology.is_some()
            || o.node.is_some()
            || o.fresh
            || !o.down.is_empty()
            || o.script.is_some())
    {
        let _ = writeln!(
            err,
            "prsdk: --topology, --node, --fresh, --down and --script need --sim"
        );
        return EXIT_USAGE;
    }
    if o.verbose > 0 {
        let level = match o.verbose {
            1 => tracing::Level::INFO,
            2 => tracing::Level::DEBUG,
            _ => tracing::Level::TRACE,
        };
        // Standard error, unlocked per event (the runtime thread logs too).
        let _ = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    }
    let sim = match o.sim.then(|| SimCluster::new(&o)).transpose() {
        Ok(s) => s,
        Err(Usage(m)) => {
            let _ = writeln!(err, "prsdk: {m}");
            return EXIT_USAGE;
        }
    };
    if let (Some(script), Some(sim)) = (o.script.as_deref(), sim.as_ref()) {
        return run_script(script, sim, out, err, stdin);
    }
    match run_parsed(&o, sim.as_ref(), out, err) {
        Ok(code) => code,
        Err(Usage(m)) => {
            let _ = writeln!(err, "prsdk {}: {m}", o.command);
            EXIT_USAGE
        }
    }
}

/// `--script`: native command lines (without `prsdk`; `#` starts a comment), one a line,
/// on one simulated cluster, each printed (`$ ...`) with its standard output and error and
/// `[exit N]`. Returns 0 when every command succeeded, else the first failing status.
fn run_script(
    script: &str,
    sim: &SimCluster,
    out: &mut dyn Write,
    err: &mut dyn Write,
    stdin: &mut dyn BufRead,
) -> i32 {
    let text = if script == "-" {
        let mut t = String::new();
        if let Err(e) = stdin.read_to_string(&mut t) {
            let _ = writeln!(err, "prsdk: --script -: {e}");
            return EXIT_USAGE;
        }
        t
    } else {
        match std::fs::read_to_string(script) {
            Ok(t) => t,
            Err(e) => {
                let _ = writeln!(err, "prsdk: --script {script}: {e}");
                return EXIT_USAGE;
            }
        }
    };
    let mut status = EXIT_OK;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        let (mut o1, mut e1) = (Vec::new(), Vec::new());
        let code = match parse(&words) {
            Ok(o) if o.sim || o.script.is_some() || o.topology.is_some() || o.fresh => {
                let _ = writeln!(
                    e1,
                    "prsdk: --sim, --script, --topology and --fresh apply to the whole script"
                );
                EXIT_USAGE
            }
            Ok(o) => match run_parsed(&o, Some(sim), &mut o1, &mut e1) {
                Ok(c) => c,
                Err(Usage(m)) => {
                    let _ = writeln!(e1, "prsdk {}: {m}", o.command);
                    EXIT_USAGE
                }
            },
            Err(Usage(m)) => {
                let _ = writeln!(e1, "prsdk: {m}");
                EXIT_USAGE
            }
        };
        fail(&mut status, code);
        let _ = writeln!(out, "$ {line}");
        let _ = out.write_all(&o1);
        let _ = out.write_all(&e1);
        let _ = writeln!(out, "[exit {code}]");
    }
    status
}

fn run_parsed(
    o: &Opts,
    sim: Option<&SimCluster>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, Usage> {
    // Check the command's own arguments before opening anything.
    let action = out_action(o)?;
    let sim = match sim {
        Some(s) => Some((s, s.node_of(o)?)),
        None => None,
    };
    if o.targets.is_empty() && !o.all_maps && o.command != "show" {
        return Err(Usage(
            "no target: name maps or devices, or give --all-maps".into(),
        ));
    }
    let targets = targets(o, sim);
    Ok(match o.command.as_str() {
        "keys" | "reservation" | "capabilities" | "status" => read(o, &targets, out, err),
        "show" => show(o, &targets, out, err),
        "fence" | "unfence" => fleet(o, &targets, out, err)?,
        _ => match action {
            Some(req) => pr_out(o, req, &targets, out, err),
            None => EXIT_USAGE,
        },
    })
}

/// The PR OUT request of a PR OUT command, checked; `None` for the other commands.
fn out_action(o: &Opts) -> Result<Option<OutRequest>, Usage> {
    let only = |allowed: &[&str]| -> Result<(), Usage> {
        let given = [
            ("key", o.key.is_some()),
            ("old-key", o.old_key.is_some()),
            ("victim", o.victim.is_some()),
            ("dest-key", o.dest_key.is_some()),
            ("type", o.rtype.is_some()),
            ("transport-id", !o.transport_id.is_empty()),
            ("all-tg-pt", o.all_tg_pt),
            ("rtp", o.rtp.is_some()),
            ("ignore", o.ignore),
            ("aptpl", o.aptpl),
            ("abort", o.abort),
            ("unreg", o.unreg),
            ("preempt", o.preempt),
        ];
        match given.iter().find(|(n, g)| *g && !allowed.contains(n)) {
            Some((n, _)) => Err(Usage(format!("--{n} does not apply to {}", o.command))),
            None => Ok(()),
        }
    };
    let req = match o.command.as_str() {
        "register" => {
            only(&[
                "key",
                "old-key",
                "ignore",
                "aptpl",
                "all-tg-pt",
                "transport-id",
            ])?;
            let new_key = key_of("key", &o.key)?;
            if o.ignore && o.old_key.is_some() {
                return Err(Usage("--ignore and --old-key contradict each other".into()));
            }
            let mut r = if o.ignore {
                RegisterRequest::register_ignore(new_key)
            } else {
                let old = match o.old_key {
                    Some(_) => key_of("old-key", &o.old_key)?,
                    None => ReservationKey(0),
                };
                RegisterRequest::register(old, new_key)
            };
            if o.aptpl {
                r = r.aptpl();
            }
            if o.all_tg_pt {
                r = r.all_tg_pt(true);
            }
            let spec_i_pt = o
                .transport_id
                .iter()
                .map(|t| transport_id(t))
                .collect::<Result<Vec<_>, _>>()?;
            if !spec_i_pt.is_empty() && o.ignore {
                return Err(Usage(
                    "--transport-id (SPEC_I_PT) and --ignore contradict each other".into(),
                ));
            }
            OutRequest::Register {
                request: r,
                spec_i_pt,
            }
        }
        "reserve" | "release" => {
            only(&["key", "type"])?;
            let (key, reservation_type) = (key_of("key", &o.key)?, type_of(&o.rtype, None)?);
            if o.command == "reserve" {
                OutRequest::Reserve {
                    key,
                    reservation_type,
                }
            } else {
                OutRequest::Release {
                    key,
                    reservation_type,
                }
            }
        }
        "replace-lost-reservation" => {
            only(&["key", "type"])?;
            OutRequest::ReplaceLostReservation {
                new_key: key_of("key", &o.key)?,
                reservation_type: type_of(&o.rtype, None)?,
            }
        }
        "clear" => {
            only(&["key"])?;
            OutRequest::Clear {
                key: key_of("key", &o.key)?,
            }
        }
        "preempt" => {
            only(&["key", "victim", "type", "abort"])?;
            let (key, victim) = (key_of("key", &o.key)?, key_of("victim", &o.victim)?);
            let reservation_type = type_of(&o.rtype, None)?;
            if o.abort {
                OutRequest::PreemptAndAbort {
                    key,
                    victim,
                    reservation_type,
                }
            } else {
                OutRequest::Preempt {
                    key,
                    victim,
                    reservation_type,
                }
            }
        }
        "register-and-move" => {
            only(&[
                "key",
                "dest-key",
                "type",
                "transport-id",
                "rtp",
                "unreg",
                "aptpl",
            ])?;
            let destination = match &o.transport_id[..] {
                [] => return Err(Usage("--transport-id is required".into())),
                [t] => transport_id(t)?,
                _ => {
                    return Err(Usage("register-and-move takes one --transport-id".into()));
                }
            };
            let rtp = o
                .rtp
                .as_deref()
                .ok_or_else(|| Usage("--rtp is required".into()))?;
            let relative_target_port = match rtp.strip_prefix("0x") {
                Some(h) => u16::from_str_radix(h, 16).ok(),
                None => rtp.parse::<u16>().ok(),
            }
            .ok_or_else(|| Usage(format!("bad --rtp '{rtp}': a number from 0 to 65535")))?;
            OutRequest::RegisterAndMove {
                key: key_of("key", &o.key)?,
                destination_key: key_of("dest-key", &o.dest_key)?,
                reservation_type: type_of(&o.rtype, None)?,
                destination,
                relative_target_port,
                unregister: o.unreg,
                aptpl: o.aptpl,
            }
        }
        "fence" => {
            only(&["key", "victim", "type", "preempt"])?;
            key_of("key", &o.key)?;
            key_of("victim", &o.victim)?;
            type_of(
                &o.rtype,
                Some(ReservationType::WriteExclusiveRegistrantsOnly),
            )?;
            return Ok(None);
        }
        "unfence" => {
            only(&["key"])?;
            key_of("key", &o.key)?;
            return Ok(None);
        }
        _ => {
            only(&[])?;
            return Ok(None);
        }
    };
    Ok(Some(req))
}

fn read(o: &Opts, targets: &[Target], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut status = EXIT_OK;
    let mut results = Vec::new();
    let mut rows = Vec::new();
    for (name, lun) in targets {
        let answer: Result<(Value, Vec<Vec<String>>), Failed> =
            lun.as_ref().map_err(Failed::from).and_then(|lun| {
                let lun_name = lun.name().to_owned();
                Ok(match o.command.as_str() {
                    "keys" => {
                        let k = lun.read_keys()?;
                        let row = vec![
                            lun_name,
                            format!("{:#x}", k.generation),
                            key_counts(&k.keys),
                        ];
                        (serde_json::to_value(&k).unwrap_or(Value::Null), vec![row])
                    }
                    "reservation" => {
                        let r = lun.read_reservation()?;
                        let (holder, t) = match &r.reservation {
                            Some(h) => (h.key.to_string(), type_name(h.type_code)),
                            None => ("-".into(), "none".into()),
                        };
                        let row = vec![lun_name, format!("{:#x}", r.generation), holder, t];
                        (serde_json::to_value(&r).unwrap_or(Value::Null), vec![row])
                    }
                    "capabilities" => {
                        let c = lun.report_capabilities()?;
                        let types: Vec<&str> = ReservationType::ALL
                            .iter()
                            .filter(|t| c.supports(**t) == Some(true))
                            .map(|t| t.short_name())
                            .collect();
                        let flags: Vec<&str> = [
                            ("crh", c.crh()),
                            ("sip_c", c.sip_c()),
                            ("atp_c", c.atp_c()),
                            ("ptpl_c", c.ptpl_c()),
                            ("ptpl_a", c.ptpl_a()),
                            ("rlr_c", c.rlr_c()),
                        ]
                        .iter()
                        .filter(|(_, set)| *set)
                        .map(|(n, _)| *n)
                        .collect();
                        let types = if c.tmv() {
                            types.join(",")
                        } else {
                            "not reported".into()
                        };
                        let row = vec![lun_name, types, flags.join(",")];
                        (serde_json::to_value(c).unwrap_or(Value::Null), vec![row])
                    }
                    _ => {
                        let s = lun.read_full_status()?;
                        let gen_ = format!("{:#x}", s.generation);
                        let mut rows: Vec<Vec<String>> = s
                            .entries
                            .iter()
                            .map(|e| {
                                vec![
                                    lun_name.clone(),
                                    gen_.clone(),
                                    e.key.to_string(),
                                    if e.holder {
                                        type_name(e.type_code)
                                    } else {
                                        "-".into()
                                    },
                                    if e.all_tg_pt {
                                        "yes".into()
                                    } else {
                                        "no".into()
                                    },
                                    e.relative_target_port.to_string(),
                                    e.transport_id
                                        .as_ref()
                                        .map(ToString::to_string)
                                        .unwrap_or_else(|| "?".into()),
                                ]
                            })
                            .collect();
                        if rows.is_empty() {
                            rows.push(vec![lun_name, gen_, "none".into()]);
                        }
                        (serde_json::to_value(&s).unwrap_or(Value::Null), rows)
                    }
                })
            });
        match answer {
            Ok((data, r)) => {
                rows.extend(r);
                results.push(json!({"lun": name, "ok": true, "data": data, "error": null}));
            }
            Err(e) => {
                fail(&mut status, exit_code(e.kind));
                if !o.json {
                    let _ = writeln!(err, "prsdk {}: {}", o.command, about(name, &e.message));
                }
                results.push(json!({"lun": name, "ok": false, "data": null, "error": e.json}));
            }
        }
    }
    if o.json {
        print_json(out, &document(&o.command, results));
    } else if !rows.is_empty() {
        let header: &[&str] = match o.command.as_str() {
            "keys" => &["LUN", "GENERATION", "KEYS"],
            "reservation" => &["LUN", "GENERATION", "HOLDER", "TYPE"],
            "capabilities" => &["LUN", "TYPES", "FLAGS"],
            _ => &[
                "LUN",
                "GENERATION",
                "KEY",
                "HOLDS",
                "ALL_TG_PT",
                "RTP",
                "TRANSPORT_ID",
            ],
        };
        table(out, header, &rows);
    }
    status
}

fn show(o: &Opts, targets: &[Target], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut status = EXIT_OK;
    let mut results = Vec::new();
    let mut rows = Vec::new();
    for (name, lun) in targets {
        let state = lun.as_ref().map_err(Failed::from).and_then(|lun| {
            let (full, paths) = lun.path_keys()?;
            let res = lun.read_reservation()?;
            Ok((full, paths, res))
        });
        let (full, paths, res) = match state {
            Ok(s) => s,
            Err(e) => {
                fail(&mut status, exit_code(e.kind));
                if !o.json {
                    let _ = writeln!(err, "prsdk show: {}", about(name, &e.message));
                }
                results.push(json!({"lun": name, "ok": false, "data": null, "error": e.json}));
                continue;
            }
        };
        let (holder, t) = match &res.reservation {
            Some(h) => (h.key.to_string(), type_name(h.type_code)),
            None => ("-".into(), "none".into()),
        };
        // Whether this host holds it, when this host's key is known: its own record of a
        // hold, or multipath.conf's reservation_key.
        let held_here = res.reservation.as_ref().and_then(|h| {
            let l = lun.as_ref().ok()?.as_async();
            match (l.hold(), l.configured_key()) {
                (Some(m), _) => Some(m.key == h.key),
                (None, Some(c)) if c.key.0 != 0 => Some(c.key == h.key),
                _ => None,
            }
        });
        // Registrations that are none of this host's paths (every one when a path's
        // nexus is unknown).
        let all_known = paths.iter().all(|p| p.known);
        let lun_paths: Vec<(pr_core::transport_id::TransportId<'static>, u16)> = lun
            .as_ref()
            .map(|l| {
                l.as_async()
                    .paths()
                    .iter()
                    .filter_map(|p| p.transport().nexus())
                    .collect()
            })
            .unwrap_or_default();
        let others: Vec<ReservationKey> = full
            .entries
            .iter()
            .filter(|e| {
                !all_known
                    || !lun_paths
                        .iter()
                        .any(|(tid, rtp)| pr_multipath::nexus_names(tid, *rtp, e))
            })
            .map(|e| e.key)
            .collect();
        let down: Vec<&str> = paths
            .iter()
            .filter(|p| !p.usable)
            .map(|p| p.path.as_str())
            .collect();
        let mut first = vec![name.clone(), format!("{:#x}", full.generation), holder, t];
        let blank = || vec![String::new(); 4];
        for (i, p) in paths.iter().enumerate() {
            let key = match (p.known, p.key) {
                (false, _) => "unknown".to_owned(),
                (true, None) => "not registered".to_owned(),
                (true, Some(k)) if p.holder => format!("{k} holder"),
                (true, Some(k)) => k.to_string(),
            };
            let mut row = if i == 0 {
                std::mem::take(&mut first)
            } else {
                blank()
            };
            row.extend([
                p.path.clone(),
                if p.usable { "up" } else { "down" }.to_owned(),
                key,
            ]);
            rows.push(row);
        }
        let label = if all_known {
            "(other hosts)"
        } else {
            "(registered)"
        };
        let mut row = if paths.is_empty() { first } else { blank() };
        row.extend([label.to_owned(), String::new(), key_counts(&others)]);
        rows.push(row);
        results.push(json!({
            "lun": name, "ok": true, "error": null,
            "data": {
                "generation": full.generation,
                "reservation": res.reservation,
                "held_by_this_host": held_here,
                "paths": paths,
                "paths_down": down,
                "other_keys": others,
            }
        }));
    }
    if o.json {
        print_json(out, &document("show", results));
    } else if !rows.is_empty() {
        table(
            out,
            &[
                "MAP",
                "GENERATION",
                "HOLDER",
                "TYPE",
                "PATH",
                "STATE",
                "KEY",
            ],
            &rows,
        );
    } else if targets.is_empty() {
        let _ = writeln!(out, "no multipath maps");
    }
    status
}

fn pr_out(
    o: &Opts,
    req: OutRequest,
    targets: &[Target],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut status = EXIT_OK;
    let mut results = Vec::new();
    for (name, lun) in targets {
        let r = lun
            .as_ref()
            .map_err(Failed::from)
            .and_then(|lun| Ok(lun.execute(req.clone())?));
        match r {
            Ok(report) => {
                if !o.json {
                    let _ = writeln!(out, "{name}: {}: ok", o.command);
                }
                results.push(json!({"lun": name, "ok": true, "report": report, "error": null}));
            }
            Err(e) => {
                fail(&mut status, exit_code(e.kind));
                if !o.json {
                    let _ = writeln!(out, "{name}: {}: FAILED", o.command);
                    let _ = writeln!(err, "prsdk {}: {}", o.command, about(name, &e.message));
                }
                results.push(json!({"lun": name, "ok": false, "report": null, "error": e.json}));
            }
        }
    }
    if o.json {
        print_json(out, &document(&o.command, results));
    }
    status
}

fn fleet(
    o: &Opts,
    targets: &[Target],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, Usage> {
    let key = key_of("key", &o.key)?;
    let mut status = EXIT_OK;
    let mut results: Vec<Value> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    // Targets that did not open are failures of their own.
    let mut luns = Vec::new();
    for (name, lun) in targets {
        match lun {
            Ok(l) => luns.push(l.clone()),
            Err(e) => {
                fail(&mut status, exit_code(e.kind()));
                lines.push(format!("{}: FAILED: {}", name, about(name, &e.to_string())));
                results.push(json!({"lun": name, "outcome": {"failed": e.to_string()},
                    "already_fenced": false, "report": null, "error": Failed::from(e).json}));
            }
        }
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let progress_on_tty = !o.json && std::io::stderr().is_terminal();
    let options = FleetOptions {
        progress: progress_on_tty.then_some(tx),
        fence_action: if o.preempt {
            FenceAction::Preempt
        } else {
            FenceAction::PreemptAndAbort
        },
        ..FleetOptions::default()
    };
    let fence = o.command == "fence";
    let victim = if fence {
        key_of("victim", &o.victim)?
    } else {
        ReservationKey(0)
    };
    let t = type_of(
        &o.rtype,
        Some(ReservationType::WriteExclusiveRegistrantsOnly),
    )?;
    let luns = &luns;
    // The fleet operation runs on its own thread while this one draws the progress line
    // (standard error stays this thread's).
    let done = std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            if fence {
                blocking::fence(luns, key, victim, t, &options).map_err(|e| Failed::from(&e))
            } else {
                blocking::unfence(luns, key, &options).map_err(|e| Failed::from(&e))
            }
        });
        if progress_on_tty {
            while let Some(p) = rx.blocking_recv() {
                let _ = write!(err, "\r\x1b[K[{}/{}] {}", p.done, p.total, p.lun);
                let _ = err.flush();
            }
            let _ = writeln!(err);
        }
        worker.join()
    });
    let done = match done {
        Ok(d) => d,
        Err(_) => {
            let _ = writeln!(
                err,
                "prsdk {}: internal error: the fleet operation panicked",
                o.command
            );
            return Ok(EXIT_OTHER);
        }
    };
    let done: Vec<LunResult> = match done {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(err, "prsdk {}: {}", o.command, e.message);
            return Ok(exit_code(e.kind));
        }
    };
    for r in &done {
        let word = if o.command == "fence" {
            "fenced"
        } else {
            "unfenced"
        };
        match r.outcome() {
            LunOutcome::Ok => lines.push(format!("{}: {word}", r.lun)),
            LunOutcome::AlreadyFenced => lines.push(format!("{}: already fenced", r.lun)),
            LunOutcome::Cancelled => {
                fail(&mut status, EXIT_OTHER);
                lines.push(format!("{}: cancelled", r.lun));
            }
            LunOutcome::Failed(m) => {
                if let Err(e) = &r.result {
                    fail(&mut status, exit_code(e.kind()));
                }
                lines.push(format!("{}: FAILED: {m}", r.lun));
            }
        }
        results.push(serde_json::to_value(r).unwrap_or(Value::Null));
    }
    if o.json {
        print_json(out, &document(&o.command, results));
    } else {
        for l in &lines {
            let _ = writeln!(out, "{l}");
        }
        let failed = lines
            .iter()
            .filter(|l| l.contains(": FAILED") || l.ends_with(": cancelled"))
            .count();
        let already = lines
            .iter()
            .filter(|l| l.ends_with(": already fenced"))
            .count();
        let _ = writeln!(
            out,
            "{}: {} LUNs, {} done, {already} already fenced, {failed} failed",
            o.command,
            lines.len(),
            lines.len() - failed - already
        );
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_names_as_multipath_names_them() {
        assert_eq!(map_name(0), "mpatha");
        assert_eq!(map_name(25), "mpathz");
        assert_eq!(map_name(26), "mpathaa");
    }

    #[test]
    fn types_by_name_and_code() {
        let t = |s: &str| type_of(&Some(s.into()), None).ok();
        assert_eq!(
            t("wr-ex-ro"),
            Some(ReservationType::WriteExclusiveRegistrantsOnly)
        );
        assert_eq!(t("EX_AC"), Some(ReservationType::ExclusiveAccess));
        assert_eq!(
            t("0x8"),
            Some(ReservationType::ExclusiveAccessAllRegistrants)
        );
        assert_eq!(t("2"), None);
        assert_eq!(t("bogus"), None);
    }

    #[test]
    fn key_counts_group_in_order() {
        let k = |v| ReservationKey(v);
        assert_eq!(key_counts(&[k(1), k(2), k(1)]), "0x1 (2), 0x2");
        assert_eq!(key_counts(&[]), "none");
    }
}
