//! Lab test of the two personalities under the stack's own fence agents (issue 14's
//! proof item; run by `lab/test.sh` inside the QEMU guest, `#[ignore]` everywhere else).
//!
//! Each test runs one sequence of fence-agent actions twice from the same clean state:
//! once with the stack's real tool behind the agent, once with `prsdk` under the tool's
//! name. The agent is always the stack's own (`/usr/sbin/fence_scsi`,
//! `/usr/sbin/fence_mpath`, Python, with `--verbose`, so its standard error carries every
//! command it ran with that command's exit status and output), and it finds the tool
//! through a link at the same path in both runs (`--sg_persist-path DIR/sg_persist`,
//! `--mpathpersist-path DIR/mpathpersist`), pointing at the real tool in the first run and
//! at `prsdk` in the second; `sg_turs` stays the stack's (`/usr/bin/sg_turs`, the agent's
//! default, so no `--sg_turs-path`). For every action: the agent's exit status, standard
//! output and standard error must be equal, and so must the end state of every LUN (the
//! registered keys, sorted, and the reservation's key and type, read with the stack's
//! `sg_persist` on a node-1 path after the action). The transcript (the real tool's run,
//! normalised) and a summary line are kept in
//! `target/tmp/lab_fence_agents-TOOL-STACK-TRANSPORT.txt`.
//!
//! Normalised, and only this: the timestamp that starts each of the agent's log lines;
//! PR generations (`generation=0x...`) as offsets from the first printed for the same
//! LUN in the same action (the two runs start from different generations); on the sid
//! stack the version line of `sg_persist -V` (fence_scsi's monitor runs it; sid's
//! sg_persist is 1.48, the personality is 1.46's).
//!
//! Two nodes share the guest: node 1 acts on the LUNs' multipath maps, node 2 on its own
//! path devices (in no map), as the other lab tests model them. Each node has its own
//! agent state: before each action the test puts that node's files (fence_scsi's
//! `/var/run/cluster.key` and `.dev`, fence_mpath's `/var/run/cluster/mpath.devices`) in
//! place and saves them back after, as two hosts would each keep theirs.
//!
//! Unit attentions: before each action the test consumes the pending ones on every path
//! (the stack's `sg_persist -n -k` until it no longer ends in UNIT ATTENTION), in both runs
//! alike (fence_scsi's own `sg_turs` does not do it on sid: sg3-utils 1.48's answers
//! "bad pass-through setup" on the lab's devices and consumes none); an action that fails
//! on a unit attention all the same (multipathd's path checker and the agent's own
//! commands race for them) is run again, at most twice, after consuming them, as
//! Pacemaker retries a failed fencing action; the retries are printed and counted in the
//! summary, and only the last attempt is compared.
//!
//! What cannot run here, and why:
//! - Every `off` sends PREEMPT AND ABORT (both agents), which deadlocks LIO over tcm_loop
//!   (`lab/README.md`): over `loop` the sequences leave `off` out and say so; over iSCSI
//!   they fence.
//! - On sid, fence_scsi's `on` for a node that is already on is left out: fence_scsi 4.17
//!   then preempts the node's own key through one path, leaving a unit attention on its
//!   other paths, and its `sg_turs` does not consume it there, so whether its next
//!   `sg_persist` fails depends on when multipathd's path checker ran (with either tool).
//!   On Debian 12 (fence_scsi 4.12 re-registers without preempting) it runs.
//! - fence_mpath needs a multipath map for each node, and the lab has one multipathd,
//!   one `/etc/multipath/prkeys` and maps over node 1's nexuses only (node 2's are
//!   blacklisted). So fence_mpath runs as node 1 only; node 2's registrations are made by
//!   the stack's `sg_persist` on its path (not compared), and it is node 1 that fences
//!   node 2. "Node 2 fences node 1" is covered by fence_scsi.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use pr_lab_support::{LabLun, need, run};

const SG_PERSIST: &str = "/usr/bin/sg_persist";
const MPATHPERSIST: &str = "/sbin/mpathpersist";
const FENCE_SCSI: &str = "/usr/sbin/fence_scsi";
const FENCE_MPATH: &str = "/usr/sbin/fence_mpath";
const CLUSTER: &str = "labcluster";
/// In an agent's arguments: the corosync-cmapctl stand-in's path.
const CMAP: &str = "@CMAPCTL@";

/// Node 2's fence_mpath key (registered by sg_persist on its path).
const MPATH_KEY2: &str = "2b2b";
/// Node 1's fence_mpath key (the plug; multipathd's configured key after `on`).
const MPATH_KEY1: &str = "1a1a";

fn all_luns() -> Vec<LabLun> {
    let n: usize = need("LAB_LUNS").trim().parse().expect("LAB_LUNS");
    (0..n).map(LabLun::get).collect()
}

/// Every path device of the lab: node 1's and node 2's.
fn all_paths(luns: &[LabLun]) -> Vec<String> {
    luns.iter()
        .flat_map(|l| l.paths.iter().chain(&l.node2))
        .map(|p| p.display().to_string())
        .collect()
}

/// Consumes the pending unit attentions of each device: the stack's `sg_persist -n -k`
/// until it no longer ends in UNIT ATTENTION (at most 6 times). Not `sg_turs`: sid's
/// (sg3-utils 1.48) prints "Test unit ready: bad pass-through setup" for every lab device
/// and exits 0 without sending anything.
fn drain(devs: &[String]) {
    for d in devs {
        for _ in 0..6 {
            if run(SG_PERSIST, &["-n", "-k", d]).0 != 6 {
                break;
            }
        }
    }
}

/// The stack's `sg_persist ARGS DEV`, re-sent on UNIT ATTENTION; must then succeed.
fn sg_persist(args: &[&str], dev: &str) -> String {
    pr_lab_support::sg_persist_settled(SG_PERSIST, args, dev, 6)
}

/// Every registration and reservation of every LUN gone, multipathd's key and status for
/// the maps unset, no agent state, no unit attention pending.
fn reset(luns: &[LabLun]) {
    for lun in luns {
        let all = lun.devices();
        for p in &all {
            sg_persist(&["-n", "-o", "-I", "-S", "0xfeed"], p);
        }
        sg_persist(&["-n", "-o", "-C", "-K", "0xfeed"], &all[0]);
        let _ = run("multipathd", &["unsetprkey", "map", &lun.map_name]);
        let _ = run("multipathd", &["unsetprstatus", "map", &lun.map_name]);
        drain(&all);
        let keys = sg_persist(&["-n", "-k"], &all[0]);
        assert!(
            keys.contains("there are NO registered reservation keys"),
            "reset left registrations on {}:\n{keys}",
            lun.map.display()
        );
    }
    for f in STATE_FILES {
        let _ = std::fs::remove_file(f);
    }
}

/// Keys (sorted) and reservation of every LUN, read with the stack's sg_persist on the
/// first node-1 path.
fn end_state(luns: &[LabLun]) -> String {
    let mut s = String::new();
    for lun in luns {
        let p = lun.paths[0].display().to_string();
        let keys = sg_persist(&["-n", "-k"], &p);
        let mut k: Vec<&str> = keys
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("0x"))
            .collect();
        k.sort_unstable();
        let res = sg_persist(&["-n", "-r"], &p);
        let holder = res
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("Key=") || l.starts_with("scope:"))
            .collect::<Vec<_>>()
            .join(" ");
        s.push_str(&format!(
            "{}: keys [{}] reservation [{}]\n",
            lun.map_name,
            k.join(" "),
            if holder.is_empty() { "none" } else { &holder }
        ));
    }
    s
}

/// One step of a sequence.
#[derive(Clone, Debug)]
enum Step {
    /// The agent as node N, with these arguments (the tool's path option and `-v` added).
    Agent(u8, Vec<String>),
    /// Node 2 by the stack's sg_persist on each of its paths (fence_mpath's sequence);
    /// not compared, but the end state after it is.
    Node2SgPersist(Vec<String>),
}

/// What one step gave.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    label: String,
    rc: i32,
    stdout: String,
    stderr: String,
    state: String,
    retries: u32,
}

/// The agent whose runs are compared and the tool it drives.
struct Agent {
    program: &'static str,
    /// The tool's name (the link's name, the personality's argv[0]).
    tool: &'static str,
    real_tool: &'static str,
    path_option: &'static str,
}

const SCSI: Agent = Agent {
    program: FENCE_SCSI,
    tool: "sg_persist",
    real_tool: SG_PERSIST,
    path_option: "--sg_persist-path",
};

const MPATH: Agent = Agent {
    program: FENCE_MPATH,
    tool: "mpathpersist",
    real_tool: MPATHPERSIST,
    path_option: "--mpathpersist-path",
};

/// The agents' state on a host: fence_scsi keeps its key and devices beside its
/// `STORE_PATH` (`/var/run/cluster` + `.key`, `.dev`), fence_mpath in its `--store-path`
/// directory.
const STATE_FILES: [&str; 3] = [
    "/var/run/cluster.key",
    "/var/run/cluster.dev",
    "/var/run/cluster/mpath.devices",
];

/// Puts node `dir`'s saved state files in place (removing those it has not).
fn restore_state(dir: &Path) {
    for (i, f) in STATE_FILES.iter().enumerate() {
        let saved = dir.join(i.to_string());
        let _ = std::fs::remove_file(f);
        if saved.exists() {
            if let Some(parent) = Path::new(f).parent() {
                std::fs::create_dir_all(parent).expect("state directory");
            }
            std::fs::copy(&saved, f).unwrap_or_else(|e| panic!("restore {f}: {e}"));
        }
    }
}

/// Saves the state files into node `dir` (and removes them from the host).
fn save_state(dir: &Path) {
    for (i, f) in STATE_FILES.iter().enumerate() {
        let saved = dir.join(i.to_string());
        let _ = std::fs::remove_file(&saved);
        if Path::new(f).exists() {
            std::fs::copy(f, &saved).unwrap_or_else(|e| panic!("save {f}: {e}"));
            let _ = std::fs::remove_file(f);
        }
    }
}

fn run_sequence(
    agent: &Agent,
    luns: &[LabLun],
    steps: &[Step],
    dir: &Path,
    target: &str,
) -> Vec<Outcome> {
    reset(luns);
    let link = dir.join("bin").join(agent.tool);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(target, &link).expect("the tool's link");
    let nodes: Vec<PathBuf> = (1..=2).map(|n| dir.join(format!("node{n}"))).collect();
    for n in &nodes {
        let _ = std::fs::remove_dir_all(n);
        std::fs::create_dir_all(n).expect("node state directory");
    }
    let paths = all_paths(luns);
    let mut out = Vec::new();
    for step in steps {
        drain(&paths);
        match step {
            Step::Agent(node, args) => {
                let state = &nodes[usize::from(*node) - 1];
                let mut retries = 0;
                let (rc, stdout, stderr) = loop {
                    restore_state(state);
                    let cmap = dir.join("corosync-cmapctl").display().to_string();
                    let o = Command::new(agent.program)
                        .args(args.iter().map(|a| a.replace(CMAP, &cmap)))
                        .arg(format!("{}={}", agent.path_option, link.display()))
                        .arg("-v")
                        .output()
                        .unwrap_or_else(|e| panic!("{}: {e}", agent.program));
                    save_state(state);
                    let r = (
                        o.status.code().unwrap_or(-1),
                        String::from_utf8_lossy(&o.stdout).into_owned(),
                        String::from_utf8_lossy(&o.stderr).into_owned(),
                    );
                    if r.0 == 0 || !r.2.contains("Unit attention") || retries == 2 {
                        break r;
                    }
                    retries += 1;
                    eprintln!(
                        "{} ({target}): node {node} {args:?} met a unit attention, retried",
                        agent.program
                    );
                    drain(&paths);
                };
                drain(&paths);
                out.push(Outcome {
                    label: format!("node {node}: {} {}", agent.program, args.join(" ")),
                    rc,
                    stdout,
                    stderr,
                    state: end_state(luns),
                    retries,
                });
            }
            Step::Node2SgPersist(args) => {
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                for lun in luns {
                    sg_persist(&a, &lun.node2[0].display().to_string());
                }
                drain(&paths);
                out.push(Outcome {
                    label: format!("node 2: sg_persist {} (its paths)", args.join(" ")),
                    rc: 0,
                    stdout: String::new(),
                    stderr: String::new(),
                    state: end_state(luns),
                    retries: 0,
                });
            }
        }
    }
    let _ = std::fs::remove_file(&link);
    reset(luns);
    out
}

/// `2026-12-04 19:00:00,123 ` at the start of a line: the logging module's asctime.
fn strip_timestamp(line: &str) -> &str {
    let b = line.as_bytes();
    let shape = b"dddd-dd-dd dd:dd:dd,ddd ";
    if b.len() >= shape.len()
        && shape.iter().zip(b).all(|(s, c)| match s {
            b'd' => c.is_ascii_digit(),
            _ => s == c,
        })
    {
        &line[shape.len()..]
    } else {
        line
    }
}

/// Which LUN a device of the lab belongs to (its map, node 1's and node 2's paths).
fn lun_of(luns: &[LabLun]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for (i, l) in luns.iter().enumerate() {
        for p in std::iter::once(&l.map).chain(&l.paths).chain(&l.node2) {
            m.insert(p.display().to_string(), i);
        }
    }
    m
}

/// The agent's output with timestamps removed and PR generations as offsets from the
/// first printed for the same LUN (the device of the last `Executing:` line) in `bases`.
fn normalize_text(
    text: &str,
    bases: &mut HashMap<String, i64>,
    luns: &HashMap<String, usize>,
    sid: bool,
) -> String {
    let mut out = String::new();
    let mut device = String::new();
    for line in text.split_inclusive('\n') {
        let mut line = strip_timestamp(line).to_owned();
        if line.contains("Executing: ") {
            let dev = line.split_whitespace().last().unwrap_or_default();
            device = luns
                .get(dev)
                .map_or_else(|| dev.to_owned(), |i| format!("LUN {i}"));
        }
        while let Some(pos) = line.find("generation=0x") {
            let hex: String = line[pos + 13..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect();
            let Ok(g) = i64::from_str_radix(&hex, 16) else {
                break;
            };
            let b = *bases.entry(device.clone()).or_insert(g);
            line = format!(
                "{}generation=<{device} first{:+}>{}",
                &line[..pos],
                g - b,
                &line[pos + 13 + hex.len()..]
            );
        }
        if sid {
            if let Some(pos) = line.find("version: 0.") {
                // sg_persist -V: 0.67 (1.46, the personality) vs sid's 1.48.
                let end = line[pos..].find('\n').map_or(line.len(), |e| pos + e);
                line = format!("{}version: <sg_persist>{}", &line[..pos], &line[end..]);
            }
        }
        out.push_str(&line);
    }
    out
}

fn normalize(o: &mut Outcome, luns: &HashMap<String, usize>, sid: bool) {
    let mut bases = HashMap::new();
    o.stdout = normalize_text(&o.stdout, &mut bases, luns, sid);
    o.stderr = normalize_text(&o.stderr, &mut bases, luns, sid);
}

/// Runs `steps` with the real tool and with ours, compares, prints the transcript;
/// returns the exit statuses seen (for the coverage checks).
fn compare(agent: &Agent, luns: &[LabLun], steps: &[Step]) -> BTreeMap<i32, usize> {
    assert!(
        Path::new(agent.program).exists(),
        "{} is not installed in the guest (fence-agents; lab/setup.sh, sid.packages)",
        agent.program
    );
    assert!(
        Path::new(agent.real_tool).exists(),
        "{} is not installed in the guest",
        agent.real_tool
    );
    let sid = std::env::var("LAB_STACK").is_ok_and(|s| s == "sid");
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir_all(dir.path().join("bin")).expect("bin directory");
    write_cmapctl(dir.path());
    let ours = env!("CARGO_BIN_EXE_prsdk");
    let mut theirs = run_sequence(agent, luns, steps, dir.path(), agent.real_tool);
    let mut mine = run_sequence(agent, luns, steps, dir.path(), ours);
    let lun_map = lun_of(luns);
    let mut diffs = Vec::new();
    let mut transcript = String::new();
    let mut codes = BTreeMap::new();
    let mut retries = (0, 0);
    for (t, m) in theirs.iter_mut().zip(mine.iter_mut()) {
        normalize(t, &lun_map, sid);
        normalize(m, &lun_map, sid);
        retries.0 += t.retries;
        retries.1 += m.retries;
        *codes.entry(t.rc).or_insert(0) += 1;
        transcript.push_str(&format!(
            "$ {}\n--- stdout\n{}--- stderr\n{}[exit {}]\n--- end state\n{}\n",
            t.label, t.stdout, t.stderr, t.rc, t.state
        ));
        if (t.rc, &t.stdout, &t.stderr, &t.state) != (m.rc, &m.stdout, &m.stderr, &m.state) {
            diffs.push(format!(
                "{}:\n  real {}: exit {}\n--- stdout\n{}--- stderr\n{}--- end state\n{}\n  \
                 prsdk: exit {}\n--- stdout\n{}--- stderr\n{}--- end state\n{}",
                t.label,
                agent.tool,
                t.rc,
                t.stdout,
                t.stderr,
                t.state,
                m.rc,
                m.stdout,
                m.stderr,
                m.state
            ));
        }
    }
    let stack = std::env::var("LAB_STACK").unwrap_or_else(|_| "debian12".into());
    let summary = format!(
        "{}: {} steps on {} LUN(s) ({}, stack {stack}), exit statuses {codes:?}, \
         unit-attention retries: real {}, prsdk {}, {} step(s) differ",
        agent.program,
        theirs.len(),
        luns.len(),
        luns[0].transport,
        retries.0,
        retries.1,
        diffs.len()
    );
    eprintln!("{transcript}");
    eprintln!("{summary}");
    // Kept in the shared repository for the record (the harness shows a passing test's
    // output only with --nocapture).
    let record = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "lab_fence_agents-{}-{stack}-{}.txt",
        agent.tool, luns[0].transport
    ));
    let _ = std::fs::create_dir_all(env!("CARGO_TARGET_TMPDIR"));
    if let Err(e) = std::fs::write(
        &record,
        format!("{summary}\n\n{transcript}\n{}", diffs.join("\n")),
    ) {
        eprintln!("cannot write {}: {e}", record.display());
    } else {
        eprintln!("transcript: {}", record.display());
    }
    assert!(
        diffs.is_empty(),
        "{} of {} steps differ:\n{}",
        diffs.len(),
        theirs.len(),
        diffs.join("\n")
    );
    codes
}

/// A stand-in for corosync-cmapctl answering fence_scsi's two queries (node N is
/// `nodelist.node.N`, so its key is the cluster name's md5 prefix and N).
fn write_cmapctl(dir: &Path) {
    let p = dir.join("corosync-cmapctl");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\ncase \"$1\" in totem.cluster_name) echo \"totem.cluster_name (str) = \
             {CLUSTER}\";;\nnodelist) printf 'nodelist.node.0.name (str) = node0\\n\
             nodelist.node.1.name (str) = node1\\nnodelist.node.2.name (str) = node2\\n';; \
             esac\n"
        ),
    )
    .expect("write corosync-cmapctl");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

fn join(p: impl Iterator<Item = PathBuf>) -> String {
    p.map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `off` (PREEMPT AND ABORT) can run: not over tcm_loop.
fn can_fence(luns: &[LabLun]) -> bool {
    if luns[0].is_iscsi() {
        true
    } else {
        eprintln!(
            "loop topology: no `off` step (both agents send PREEMPT AND ABORT, which \
             deadlocks LIO over tcm_loop); run over iSCSI (lab/test.sh --topology iscsi)"
        );
        false
    }
}

#[test]
#[ignore = "needs the lab: lab/test.sh -- fence_agents"]
fn fence_agents_scsi_with_prsdk_as_sg_persist() {
    let luns = all_luns();
    let maps = join(luns.iter().map(|l| l.map.clone()));
    let node2 = join(luns.iter().map(|l| l.node2[0].clone()));
    let fence = can_fence(&luns);
    let sid = std::env::var("LAB_STACK").is_ok_and(|s| s == "sid");
    let agent = |node: u8, a: &[&str]| Step::Agent(node, strings(a));
    let mut steps = vec![
        // Before anything: no key file yet (monitor fails), node 1 off.
        agent(1, &["-o", "monitor", "-d", &maps]),
        agent(1, &["-o", "status", "-n", "node1", "-d", &maps]),
        // Unfence both nodes.
        agent(1, &["-o", "on", "-n", "node1", "-d", &maps]),
        agent(2, &["-o", "on", "-n", "node2", "-d", &node2]),
        agent(1, &["-o", "status", "-n", "node1", "-d", &maps]),
        agent(2, &["-o", "status", "-n", "node2", "-d", &node2]),
        agent(2, &["-o", "status", "-n", "node1", "-d", &node2]),
        agent(1, &["-o", "monitor", "-d", &maps]),
        agent(2, &["-o", "monitor", "-d", &node2]),
    ];
    if sid {
        eprintln!(
            "sid: no `on` of a node already on: fence_scsi 4.17 then preempts its own key \
             through one path, which leaves a unit attention on the node's other paths; its \
             sg_turs (sg3-utils 1.48) consumes none here, so whether its next sg_persist meets \
             that unit attention depends on when multipathd's path checker runs: the \
             transcript is not reproducible, with either tool"
        );
    } else {
        // On again: already registered (fence_scsi forces `on`).
        steps.extend([
            agent(1, &["-o", "on", "-n", "node1", "-d", &maps]),
            agent(1, &["-o", "status", "-n", "node1", "-d", &maps]),
        ]);
    }
    if fence {
        steps.extend([
            // Node 2 fences node 1, twice (the second finds it off).
            agent(2, &["-o", "off", "-n", "node1", "-d", &node2]),
            agent(2, &["-o", "status", "-n", "node1", "-d", &node2]),
            agent(1, &["-o", "status", "-n", "node1", "-d", &maps]),
            agent(2, &["-o", "monitor", "-d", &node2]),
            agent(2, &["-o", "off", "-n", "node1", "-d", &node2]),
            // Node 1 unfences again; node 2 keeps the reservation.
            agent(1, &["-o", "on", "-n", "node1", "-d", &maps]),
            agent(1, &["-o", "status", "-n", "node1", "-d", &maps]),
            agent(2, &["-o", "status", "-n", "node2", "-d", &node2]),
        ]);
    }
    // The corosync-cmapctl stand-in, in the directory the runs share.
    for s in &mut steps {
        if let Step::Agent(_, a) = s {
            a.insert(0, format!("--corosync-cmap-path={CMAP}"));
        }
    }
    let codes = compare(&SCSI, &luns, &steps);
    assert!(codes.contains_key(&0), "no action succeeded: {codes:?}");
    assert!(codes.contains_key(&2), "no status answered OFF: {codes:?}");
    assert!(codes.contains_key(&1), "no action failed: {codes:?}");
}

#[test]
#[ignore = "needs the lab: lab/test.sh -- fence_agents"]
fn fence_agents_mpath_with_prsdk_as_mpathpersist() {
    let luns = all_luns();
    let maps = join(luns.iter().map(|l| l.map.clone()));
    let fence = can_fence(&luns);
    let agent = |a: &[&str]| Step::Agent(1, strings(a));
    let reg2 = Step::Node2SgPersist(strings(&["-n", "-o", "-I", "-S", MPATH_KEY2]));
    let mut steps = vec![
        agent(&["-o", "status", "-n", MPATH_KEY1, "-d", &maps]),
        agent(&["-o", "monitor", "-d", &maps]),
        reg2.clone(),
        agent(&["-o", "on", "-n", MPATH_KEY1, "-d", &maps]),
        agent(&["-o", "status", "-n", MPATH_KEY1, "-d", &maps]),
        agent(&["-o", "status", "-n", MPATH_KEY2, "-d", &maps]),
        agent(&["-o", "monitor", "-d", &maps]),
        // On again: already registered (fence_mpath forces `on`).
        agent(&["-o", "on", "-n", MPATH_KEY1, "-d", &maps]),
        agent(&["-o", "status", "-n", MPATH_KEY1, "-d", &maps]),
    ];
    if fence {
        steps.extend([
            // Node 1 fences node 2, twice (the second finds it off).
            agent(&["-o", "off", "-n", MPATH_KEY2, "-d", &maps]),
            agent(&["-o", "status", "-n", MPATH_KEY2, "-d", &maps]),
            agent(&["-o", "off", "-n", MPATH_KEY2, "-d", &maps]),
            agent(&["-o", "monitor", "-d", &maps]),
            // Node 2 registers again.
            reg2,
            agent(&["-o", "status", "-n", MPATH_KEY2, "-d", &maps]),
        ]);
    }
    let codes = compare(&MPATH, &luns, &steps);
    assert!(codes.contains_key(&0), "no action succeeded: {codes:?}");
    assert!(codes.contains_key(&2), "no status answered OFF: {codes:?}");
}
