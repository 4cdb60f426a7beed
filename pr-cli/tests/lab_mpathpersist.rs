//! Lab test of the mpathpersist personality on a real dm-multipath map over LIO (run by
//! `lab/test.sh` inside the QEMU guest; `#[ignore]` everywhere else).
//!
//! `prsdk_mpathpersist_matches_the_stacks_mpathpersist`: one sequence of mpathpersist
//! command lines on LUN 0's map (registrations, a key change, a configured-key mismatch,
//! reservations, conflicts, a type-less RESERVE, short allocation lengths, hex and
//! verbose reads, release, the other node's registration and reservation, preempt,
//! unregister, clear, a batch file, bad arguments, a path device that is no map,
//! `/dev/null` and a missing device), with the other node's steps
//! done by `sg_persist` on its path, runs twice from the same clean state: once through
//! the stack's `/sbin/mpathpersist`, once through `prsdk` invoked as `mpathpersist`.
//! Every mpathpersist step's exit status and standard output must be equal, normalised
//! as `pr-mpathpersist/tests/lab_compat.rs` does: PR generations as offsets from the
//! first printed in the run, READ FULL STATUS descriptors sorted (paths register
//! concurrently). On the sid stack (mpathpersist 0.15.1) ours runs as 0.15
//! (`PRSDK_MPATHPERSIST=0.15`; and REPORT CAPABILITIES once more through a link named
//! `mpathpersist-0.15`), on debian12 as 0.9.4 (the default), and both must print and exit
//! exactly as the stack's, REPORT CAPABILITIES included. Steps marked sid-only run on sid
//! alone: a RESERVE with no configured key, which 0.15 (and pr-multipath) refuses with
//! exit 1 where 0.9.4 sends it (a divergence of our 0.9.4 personality, documented in
//! `pr-cli/README.md`), and a RESERVE through paths that sg_persist unregistered behind
//! multipathd's back, which LIO answers with NOT READY: 0.15 exits 15 (0.9.4: 2). No step gives `-X`: 0.9.4 and 0.15
//! clear SPEC_I_PT in the parameter list their first path's thread shares while that
//! thread may not have sent it yet (in this lab 0.9.4's REGISTER went out without the
//! TransportIDs), so what they send is a race; `-X` is compared on the host.

use std::os::unix::process::CommandExt;
use std::process::Command;

use pr_lab_support::{LabLun, run};

const MPATHPERSIST: &str = "/sbin/mpathpersist";
const SG_PERSIST: &str = "/usr/bin/sg_persist";
const KEY: &str = "0x123abc";
const KEY2: &str = "0x456def";
const OTHER: &str = "0xbbb";

/// What a step names as its device (appended to its arguments).
#[derive(Clone, Copy, Debug)]
enum Dev {
    Map,
    /// Node 1's first path device: a block device that is no map.
    Path,
    Null,
    Missing,
    /// Nothing appended.
    None,
}

#[derive(Clone, Debug)]
enum Step {
    /// mpathpersist arguments and the device.
    Mp(Vec<String>, Dev),
    /// `-f FILE` with these lines (`MAP` replaced by the map's node).
    Batch(Vec<String>),
    /// The other node: sg_persist arguments, its path appended; not compared.
    Other(Vec<String>),
    /// This node without multipathd: sg_persist arguments, run on each of node 1's
    /// paths; not compared.
    Own(Vec<String>),
    /// A step run (and compared) on the sid stack only.
    SidOnly(Box<Step>),
}

fn mp(args: &[&str], dev: Dev) -> Step {
    Step::Mp(args.iter().map(|s| (*s).to_owned()).collect(), dev)
}

fn sid_only(step: Step) -> Step {
    Step::SidOnly(Box::new(step))
}

fn own(args: &[&str]) -> Step {
    Step::Own(args.iter().map(|s| (*s).to_owned()).collect())
}

fn other(args: &[&str]) -> Step {
    Step::Other(args.iter().map(|s| (*s).to_owned()).collect())
}

fn sequence() -> Vec<Step> {
    use Dev::{Map, Missing, Null, Path};
    let rk = format!("--param-rk={KEY}");
    let sark = format!("--param-sark={KEY}");
    let sark2 = format!("--param-sark={KEY2}");
    vec![
        mp(&["-i", "-k"], Map),
        mp(&["-i", "-r"], Map),
        mp(&["-i", "-s"], Map),
        mp(&["-i", "-c"], Map),
        // No key configured (multipathd's prkeys has none for the map): 0.15 refuses
        // (1, "no configured reservation key"); 0.9.4 would send it (11 here).
        sid_only(mp(&["-o", "-R", "-T", "5", "-K", KEY], Map)),
        // One registration (the other node's): a READ FULL STATUS cut inside its
        // TransportID, and one cut inside the descriptor.
        other(&[
            "-n",
            "--out",
            "--register",
            &format!("--param-sark={OTHER}"),
        ]),
        mp(&["--alloc-length=40", "-i", "-s"], Map),
        mp(&["-l", "20", "-i", "-s"], Map),
        other(&["-n", "-o", "-G", "-K", OTHER, "-S", "0"]),
        mp(&["--out", "--register", &sark], Map),
        mp(&["-i", "-k"], Map),
        mp(&["-i", "-s"], Map),
        mp(&["--out", "--register", &rk, &sark2], Map),
        mp(&["--in", "--read-keys"], Map),
        mp(&["--out", "--register-ignore", &sark], Map),
        mp(&["-i", "-k"], Map),
        // The configured key (multipathd's prkeys file) is KEY now.
        mp(&["-o", "-R", "-T", "5", "-K", KEY2], Map),
        mp(&["--out", "--reserve", &rk, "--prout-type=5"], Map),
        mp(&["-i", "-r"], Map),
        mp(&["-i", "-s"], Map),
        mp(&["-o", "-R", "-T", "5", "-K", KEY], Map),
        mp(&["-o", "-R", "-T", "6", "-K", KEY], Map),
        mp(&["-o", "-R", "-K", KEY], Map),
        mp(&["-l", "8", "-i", "-k"], Map),
        mp(&["-l", "16", "-i", "-r"], Map),
        mp(&["-i", "-r", "-H"], Map),
        mp(&["-v", "3", "-i", "-k"], Map),
        mp(&["-i", "--read-full"], Map),
        other(&[
            "-n",
            "--out",
            "--register",
            &format!("--param-sark={OTHER}"),
        ]),
        mp(&["-i", "-k"], Map),
        mp(&["-i", "-s"], Map),
        mp(&["--out", "--release", &rk, "--prout-type=5"], Map),
        mp(&["-i", "-r"], Map),
        other(&[
            "-n",
            "--out",
            "--reserve",
            &format!("--param-rk={OTHER}"),
            "--prout-type=5",
        ]),
        mp(&["-i", "-r"], Map),
        mp(&["-o", "-R", "-T", "5", "-K", KEY], Map),
        mp(
            &[
                "--out",
                "--preempt",
                &rk,
                &format!("--param-sark={OTHER}"),
                "--prout-type=5",
            ],
            Map,
        ),
        mp(&["-i", "-k"], Map),
        mp(&["-i", "-r"], Map),
        mp(&["-i", "-s"], Map),
        mp(&["-o", "-G", "-K", KEY, "-S", "0"], Map),
        mp(&["-i", "-k"], Map),
        mp(&["-i", "-r"], Map),
        mp(&["--out", "--register", &sark], Map),
        mp(&["-o", "-C", "-K", KEY], Map),
        mp(&["-i", "-k"], Map),
        mp(&["-i", "-r"], Map),
        // CLEAR unset the configured key: as the first sid-only step.
        sid_only(mp(&["-o", "-R", "-T", "5", "-K", KEY], Map)),
        mp(&["-i", "-c"], Map),
        Step::Batch(
            [
                "# a batch file",
                "mpathpersist -o -I -S 0x123abc MAP",
                "",
                "-i -k MAP   # the keys",
                "-x",
                "-o -R -T 1 -K 0x123abc MAP",
                "-i -r MAP",
                "-f nested",
                "-o -L -T 1 -K 0x123abc MAP",
                "-i -r MAP",
                "-o -C -K 0x123abc MAP",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        ),
        mp(&["-i", "-k"], Map),
        mp(&["-i"], Map),
        mp(&["-o", "-G", "-R"], Map),
        mp(&["-i", "-k", "-r"], Map),
        mp(&["-o"], Map),
        mp(&["-G", "-S", KEY], Map),
        mp(&["-K", "zz"], Map),
        mp(&["--bogus"], Map),
        mp(&["-i", "-k", "extra"], Map),
        mp(&["-i", "-k"], Path),
        mp(&["-i", "-k"], Null),
        mp(&["-i", "-k"], Missing),
        mp(&["-f", "/nonexistent/batch"], Dev::None),
        mp(&[], Dev::None),
        mp(&["--out", "--register", &sark], Map),
        mp(&["-i", "-k"], Map),
        // Our paths unregistered behind multipathd's back (its key stays KEY): LIO
        // answers RESERVE with NOT READY on every path, which 0.15 counts retryable (15;
        // 0.9.4: 2).
        sid_only(own(&["-n", "-o", "-G", "-K", KEY, "-S", "0"])),
        sid_only(mp(&["-o", "-R", "-T", "5", "-K", KEY], Map)),
    ]
}

/// `sg_persist ARGS DEV`, re-sent on UNIT ATTENTION; must then succeed.
fn sg_persist(args: &[&str], dev: &str) -> String {
    pr_lab_support::sg_persist_settled(SG_PERSIST, args, dev, 5)
}

/// Registrations and reservation gone, multipathd's key and status for the map unset.
fn reset(lun: &LabLun) {
    let all = lun.devices();
    for p in &all {
        sg_persist(&["-n", "-o", "-I", "-S", "0xfeed"], p);
    }
    sg_persist(&["-n", "-o", "-C", "-K", "0xfeed"], &all[0]);
    let _ = run("multipathd", &["unsetprkey", "map", &lun.map_name]);
    let _ = run("multipathd", &["unsetprstatus", "map", &lun.map_name]);
    for p in &all {
        sg_persist(&["-n", "-k"], p);
    }
    let keys = sg_persist(&["-n", "-k"], &all[0]);
    assert!(
        keys.contains("there are NO registered reservation keys"),
        "reset left registrations:\n{keys}"
    );
}

/// The environment variable that chooses our personality's version.
const VERSION_ENV: &str = "PRSDK_MPATHPERSIST";

/// How a program is run: its path, the name it is given as `argv[0]`, and the value of
/// [`VERSION_ENV`] (removed when `None`).
#[derive(Clone, Copy, Debug)]
struct Prog<'a> {
    path: &'a str,
    arg0: &'a str,
    version: Option<&'a str>,
}

fn one(program: Prog<'_>, args: &[String]) -> (i32, String, String) {
    let mut c = Command::new(program.path);
    c.arg0(program.arg0)
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove(VERSION_ENV);
    if let Some(v) = program.version {
        c.env(VERSION_ENV, v);
    }
    let o = c
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.path));
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn run_sequence(lun: &LabLun, program: Prog<'_>, sid: bool) -> Vec<(String, i32, String, String)> {
    reset(lun);
    let map = lun.map.display().to_string();
    let node2 = lun.node2[0].display().to_string();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut out = Vec::new();
    for step in sequence() {
        let step = match step {
            Step::SidOnly(s) if sid => *s,
            Step::SidOnly(_) => continue,
            s => s,
        };
        match step {
            Step::Mp(mut args, dev) => {
                match dev {
                    Dev::Map => args.push(map.clone()),
                    Dev::Path => args.push(lun.paths[0].display().to_string()),
                    Dev::Null => args.push("/dev/null".into()),
                    Dev::Missing => args.push("/dev/prsdk-no-such-device".into()),
                    Dev::None => {}
                }
                let r = one(program, &args);
                out.push((format!("mpathpersist {}", args.join(" ")), r.0, r.1, r.2));
            }
            Step::Batch(lines) => {
                let file = dir.path().join("batch");
                let text: String = lines
                    .iter()
                    .map(|l| format!("{}\n", l.replace("MAP", &map)))
                    .collect();
                std::fs::write(&file, text).expect("write the batch file");
                let args = vec!["-f".to_owned(), file.display().to_string()];
                let r = one(program, &args);
                out.push((format!("mpathpersist -f <{lines:?}>"), r.0, r.1, r.2));
            }
            Step::Own(args) => {
                for p in &lun.paths {
                    let a: Vec<&str> = args.iter().map(String::as_str).collect();
                    let _ = sg_persist(&a, &p.display().to_string());
                }
                out.push((
                    format!("(this node, sg_persist on each path) {}", args.join(" ")),
                    0,
                    String::new(),
                    String::new(),
                ));
            }
            Step::SidOnly(_) => unreachable!("unwrapped above"),
            Step::Other(args) => {
                let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
                a.push(&node2);
                let mut res = run(SG_PERSIST, &a);
                for _ in 0..5 {
                    if res.0 != 6 {
                        break;
                    }
                    res = run(SG_PERSIST, &a);
                }
                let (rc, o, e) = res;
                out.push((
                    format!("(other node) sg_persist {}", args.join(" ")),
                    rc,
                    String::new(),
                    if rc == 0 {
                        String::new()
                    } else {
                        format!("{o}{e}")
                    },
                ));
            }
        }
    }
    reset(lun);
    out
}

/// PR generations as offsets from the first printed in the run; READ FULL STATUS
/// descriptors sorted.
fn normalize(runs: &mut [(String, i32, String, String)]) {
    let mut base: Option<i64> = None;
    for (cmd, _, stdout, _) in runs.iter_mut() {
        let mut text = String::new();
        for line in stdout.split_inclusive('\n') {
            if let Some(pos) = line.find("generation=0x") {
                let hex: String = line[pos + 13..]
                    .chars()
                    .take_while(char::is_ascii_hexdigit)
                    .collect();
                let g = i64::from_str_radix(&hex, 16).expect("hex generation");
                let b = *base.get_or_insert(g);
                text.push_str(&line[..pos]);
                text.push_str(&format!("generation=<first{:+}>", g - b));
                text.push_str(&line[pos + 13 + hex.len()..]);
            } else {
                text.push_str(line);
            }
        }
        if cmd.contains(" -s ") || cmd.contains("--read-full") {
            let mut head = String::new();
            let mut blocks: Vec<String> = Vec::new();
            for line in text.split_inclusive('\n') {
                if line.starts_with("   Key = ") {
                    blocks.push(String::new());
                }
                match blocks.last_mut() {
                    Some(b) => b.push_str(line),
                    None => head.push_str(line),
                }
            }
            blocks.sort();
            text = head + &blocks.concat();
        }
        *stdout = text;
    }
}

#[test]
#[ignore = "needs the lab: lab/test.sh -- prsdk_mpathpersist"]
fn prsdk_mpathpersist_matches_the_stacks_mpathpersist() {
    assert!(
        std::path::Path::new(MPATHPERSIST).exists(),
        "{MPATHPERSIST} is not installed in the guest"
    );
    let stack = std::env::var("LAB_STACK").unwrap_or_default();
    assert!(
        stack == "sid" || stack == "debian12",
        "LAB_STACK is '{stack}': this test knows the mpathpersist of debian12 (0.9.4) and \
         sid (0.15.1) only"
    );
    let sid = stack == "sid";
    let lun = LabLun::get(0);
    let ours = env!("CARGO_BIN_EXE_prsdk");
    let version = if sid { "0.15" } else { "0.9.4" };
    let steps = sequence();
    let compared = steps
        .iter()
        .filter(|s| match s {
            Step::Other(_) | Step::Own(_) => false,
            Step::SidOnly(b) => sid && !matches!(**b, Step::Other(_) | Step::Own(_)),
            _ => true,
        })
        .count();
    assert!(compared >= 40, "{compared} mpathpersist steps");
    let stack_prog = Prog {
        path: MPATHPERSIST,
        arg0: "mpathpersist",
        version: None,
    };
    let our_prog = Prog {
        path: ours,
        arg0: "mpathpersist",
        version: Some(version),
    };
    let mut theirs = run_sequence(&lun, stack_prog, sid);
    let mut mine = run_sequence(&lun, our_prog, sid);
    normalize(&mut theirs);
    normalize(&mut mine);
    let mut diffs = Vec::new();
    let mut transcript = String::new();
    let mut codes = std::collections::BTreeMap::new();
    for (t, m) in theirs.iter().zip(&mine) {
        if !t.0.starts_with('(') {
            *codes.entry(t.1).or_insert(0) += 1;
        }
        transcript.push_str(&format!("$ {}\n{}[exit {}]\n", t.0, t.2, t.1));
        if t.1 != m.1 || t.2 != m.2 {
            diffs.push(format!(
                "{}:\n  stack's: exit {}\n{}  stderr: {}\n  ours:    exit {}\n{}  stderr: {}",
                t.0, t.1, t.2, t.3, m.1, m.2, m.3
            ));
        }
    }
    // The version chosen by the link name: REPORT CAPABILITIES through a link named
    // `mpathpersist-VERSION` (the environment variable removed) prints as the stack's.
    let map = lun.map.display().to_string();
    let caps_args = vec!["-i".to_owned(), "-c".to_owned(), map.clone()];
    let link_name = format!("mpathpersist-{version}");
    let by_link = Prog {
        path: ours,
        arg0: &link_name,
        version: None,
    };
    let (t, l) = (one(stack_prog, &caps_args), one(by_link, &caps_args));
    transcript.push_str(&format!(
        "$ {link_name} -i -c {map} (ours, by the link name)\n{}[exit {}]\n",
        l.1, l.0
    ));
    if t.0 != l.0 || t.1 != l.1 {
        diffs.push(format!(
            "{link_name} -i -c:\n  stack's: exit {}\n{}  ours:    exit {}\n{}  stderr: {}",
            t.0, t.1, l.0, l.1, l.2
        ));
    }
    eprintln!("{transcript}");
    eprintln!(
        "{compared} mpathpersist steps on {} ({}), ours as mpathpersist {version}, exit \
         statuses {codes:?}",
        lun.map.display(),
        lun.transport
    );
    assert!(
        diffs.is_empty(),
        "{} of {} steps differ:\n{}",
        diffs.len(),
        theirs.len(),
        diffs.join("\n")
    );
    // On sid, the NOT READY step must have ended as 15 (else it proved nothing).
    let required: &[i32] = if sid {
        &[0, 1, 5, 11, 12, 13, 15]
    } else {
        &[0, 1, 5, 11, 12, 13]
    };
    for &code in required {
        assert!(
            codes.contains_key(&code),
            "no step exited {code}: {codes:?}"
        );
    }
}
