//! Lab test of the sg_persist personality on real LIO path devices (run by `lab/test.sh`
//! inside the QEMU guest; `#[ignore]` everywhere else).
//!
//! `prsdk_sg_persist_matches_the_stacks_sg_persist`: one sequence of 57 sg_persist
//! command lines on LUN 0's two node-1 path devices and its node-2 path (registers, key
//! changes, reservations, conflicts, a release of the wrong type, REPLACE LOST
//! RESERVATION, preempt, clear, hex and truncated reads, the INQUIRY header, read-only
//! opens, bad arguments and contradictions, a missing device) runs twice from the same
//! clean state: once through the stack's `/usr/bin/sg_persist`, once through `prsdk`
//! invoked as `sg_persist`. Every step's exit status and standard output must be equal.
//! Normalised: PR generations as offsets from the first printed in the run (the two runs
//! start from different generations). A step that ends in UNIT ATTENTION (exit 6: the
//! nexus reports an earlier PREEMPT or CLEAR once, unless multipathd's path checker took
//! it first) is sent again, up to 5 times, with both tools alike, and only its last
//! result is compared. No step reads a response past what the device sent (sg_persist
//! prints stale memory there), and none asks READ FULL STATUS for fewer bytes than it has:
//! sg_persist 1.46 then aborts in malloc over tcm_loop (seen in this test with
//! `--maxlen=40 -H`, and in pr-core's LIO captures with 120).

use std::os::unix::process::CommandExt;
use std::process::Command;

use pr_lab_support::LabLun;

const DEBIAN: &str = "/usr/bin/sg_persist";

/// Which device a step names.
#[derive(Clone, Copy, Debug)]
enum Dev {
    /// Node 1's first path device (in the map).
    P1,
    /// Node 1's second path device (in the map).
    P2,
    /// Node 2's path device (in no map).
    N2,
    /// A name that does not exist.
    Missing,
}

use Dev::{Missing, N2, P1, P2};

const A: &str = "0x1a";
const B: &str = "0x2b";
const B2: &str = "0x2c";
const C: &str = "0x3c";

fn sequence() -> Vec<(Vec<&'static str>, Dev)> {
    let s = |a: &[&'static str], d: Dev| (a.to_vec(), d);
    vec![
        s(&["-n", "-k"], P1),
        s(&[], P1),
        s(&["-n", "-r"], P1),
        s(&["-n", "-c"], P1),
        s(&["-n", "-s"], P1),
        s(&["-n", "-o", "-G", "-S", A], P1),
        s(&["-n", "-o", "-G", "-S", A], P1),
        s(&["-n", "--out", "--register-ignore", "--param-sark", B], P2),
        s(&["-n", "-o", "-I", "-S", C], N2),
        s(&["-n", "-k"], P1),
        s(&["-n", "-s"], P1),
        s(&["-n", "-o", "-R", "-T", "5", "-K", A], P1),
        s(&["-n", "-r"], P1),
        s(&["-n", "-o", "-R", "-T", "5", "-K", B], P2),
        s(&["-n", "-o", "-R", "-T", "5", "-K", A], P1),
        s(&["-n", "-o", "-R", "-T", "6", "-K", A], P1),
        s(&["-n", "-o", "-L", "-T", "6", "-K", A], P1),
        s(&["-n", "-o", "-L", "-T", "5", "-K", "0x99"], P1),
        s(&["-r", "-H"], P1),
        s(&["-n", "-s", "-HH"], P1),
        s(&["-n", "-k", "-HHH"], P1),
        s(&["-n", "-k", "-l", "10", "-H"], P1),
        s(&["-n", "-k", "-m", "16", "-H"], P1),
        s(&["-n", "-r", "--maxlen=8", "-H"], P1),
        s(&["-n", "-o", "-P", "-T", "5", "-K", C, "-S", A], N2),
        s(&["-n", "-r"], N2),
        s(&["-n", "-k"], N2),
        s(&["-n", "-o", "-G", "-K", B, "-S", B2], P2),
        s(&["-n", "-k"], N2),
        s(&["-n", "-o", "-C", "-K", A], P1),
        s(&["-n", "-o", "-I", "-Y", "-S", A], P1),
        s(&["-n", "-s"], P1),
        s(&["-n", "-o", "-R", "-T", "1", "-K", A], P1),
        s(&["-n", "-o", "-L", "-T", "5", "-K", C], N2),
        s(&["-n", "-r"], P1),
        s(&["-n", "-o", "-R", "-T", "8", "-K", A], P1),
        s(&["-n", "-r"], P2),
        s(&["-n", "-o", "-L", "-T", "8", "-K", A], P1),
        s(&["-n", "-o", "-z", "-T", "5", "-K", A], P1),
        s(&["-n", "-o", "-M", "-K", A], P1),
        s(&["-n", "-o", "-Q", "1", "-G"], P1),
        s(&["-n", "-i", "-o"], P1),
        s(&["-n", "-K", "zz"], P1),
        s(&["-n", "-o"], P1),
        s(&["-n", "-G", "-S", A], P1),
        s(&["--bogus"], P1),
        s(&["-n", "-k", "-r"], P1),
        s(&["-n", "-X", "1,2", "-k"], P1),
        s(&["-n", "-o", "-C", "-K", A], P1),
        s(&["-n", "-k"], P2),
        s(&["-n", "-s"], P1),
        s(&["-y", "-n", "-k"], P1),
        s(&["-n", "-o", "-y", "-I", "-S", A], P1),
        s(&["-n", "-o", "-G", "-K", A, "-S", "0"], P1),
        s(&["-n", "-k"], P1),
        s(&["-c"], P2),
        s(&["-n", "-k"], Missing),
    ]
}

/// One sg_persist run: exit status and standard output (standard error for the report).
fn one(program: &str, args: &[&str], dev: &str) -> (i32, String, String) {
    let o = Command::new(program)
        .arg0("sg_persist")
        .args(args)
        .arg(dev)
        .env_remove("SG_PERSIST_IN_RDONLY")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Debian's sg_persist, re-sent on UNIT ATTENTION; must succeed.
fn setup(args: &[&str], dev: &str) -> String {
    pr_lab_support::sg_persist_settled(DEBIAN, args, dev, 5)
}

/// Every registration and the reservation of the LUN gone, no unit attention pending on
/// the three devices the sequence uses.
fn reset(lun: &LabLun) {
    let all = lun.devices();
    for p in &all {
        setup(&["-n", "-o", "-I", "-S", "0xfeed"], p);
    }
    setup(&["-n", "-o", "-C", "-K", "0xfeed"], &all[0]);
    for p in &all {
        setup(&["-n", "-k"], p);
    }
    let keys = setup(&["-n", "-k"], &all[0]);
    assert!(
        keys.contains("there are NO registered reservation keys"),
        "reset left registrations:\n{keys}"
    );
}

fn run_sequence(lun: &LabLun, program: &str) -> Vec<(String, i32, String, String)> {
    reset(lun);
    let name = |d: Dev| match d {
        P1 => lun.paths[0].display().to_string(),
        P2 => lun.paths[1].display().to_string(),
        N2 => lun.node2[0].display().to_string(),
        Missing => "/dev/prsdk-no-such-device".to_owned(),
    };
    let mut out = Vec::new();
    for (args, dev) in sequence() {
        let dev = name(dev);
        let mut r = one(program, &args, &dev);
        for _ in 0..5 {
            if r.0 != 6 {
                break;
            }
            r = one(program, &args, &dev);
        }
        out.push((
            format!("sg_persist {} {dev}", args.join(" ")),
            r.0,
            r.1,
            r.2,
        ));
    }
    reset(lun);
    out
}

/// PR generations as offsets from the first printed in the run, in the decoded text
/// (`generation=0x...`) and in the full hex dumps (`-HH`, `-HHH`: the response's first
/// four bytes).
fn normalize(runs: &mut [(String, i32, String, String)]) {
    let mut base: Option<i64> = None;
    let mut offset = |g: i64| -> String { format!("<first{:+}>", g - *base.get_or_insert(g)) };
    for (cmd, _, stdout, _) in runs.iter_mut() {
        let full_hex = cmd.contains(" -HH") && !cmd.contains(" -c");
        let mut text = String::new();
        for (n, line) in stdout.split_inclusive('\n').enumerate() {
            if let Some(pos) = line.find("generation=0x") {
                let hex: String = line[pos + 13..]
                    .chars()
                    .take_while(char::is_ascii_hexdigit)
                    .collect();
                let g = i64::from_str_radix(&hex, 16).expect("hex generation");
                text.push_str(&line[..pos]);
                text.push_str(&format!("generation={}", offset(g)));
                text.push_str(&line[pos + 13 + hex.len()..]);
            } else if full_hex && n == 0 {
                // -HH has an offset column first, -HHH not.
                let mut words: Vec<&str> = line.split_whitespace().collect();
                if cmd.contains(" -HH ") && !words.is_empty() {
                    words.remove(0);
                }
                let g: String = words.iter().take(4).copied().collect();
                let g = i64::from_str_radix(&g, 16).expect("hex generation bytes");
                text.push_str(&format!("{} {}\n", offset(g), words[4..].join(" ")));
            } else {
                text.push_str(line);
            }
        }
        *stdout = text;
    }
}

#[test]
#[ignore = "needs the lab: lab/test.sh -- prsdk_sg_persist"]
fn prsdk_sg_persist_matches_the_stacks_sg_persist() {
    assert!(
        std::path::Path::new(DEBIAN).exists(),
        "{DEBIAN} is not installed in the guest"
    );
    let lun = LabLun::get(0);
    let ours = env!("CARGO_BIN_EXE_prsdk");
    let steps = sequence();
    assert!(steps.len() >= 40, "{} steps", steps.len());
    let mut theirs = run_sequence(&lun, DEBIAN);
    let mut mine = run_sequence(&lun, ours);
    normalize(&mut theirs);
    normalize(&mut mine);
    let mut diffs = Vec::new();
    let mut transcript = String::new();
    let mut codes = std::collections::BTreeMap::new();
    for (t, m) in theirs.iter().zip(&mine) {
        *codes.entry(t.1).or_insert(0) += 1;
        transcript.push_str(&format!("$ {}\n{}[exit {}]\n", t.0, t.2, t.1));
        if t.1 != m.1 || t.2 != m.2 {
            diffs.push(format!(
                "{}:\n  Debian: exit {}\n{}  stderr: {}\n  ours:   exit {}\n{}  stderr: {}",
                t.0, t.1, t.2, t.3, m.1, m.2, m.3
            ));
        }
    }
    eprintln!("{transcript}");
    eprintln!(
        "{} steps on {} ({}), exit statuses {codes:?}",
        theirs.len(),
        lun.paths[0].display(),
        lun.transport
    );
    assert!(
        diffs.is_empty(),
        "{} of {} steps differ:\n{}",
        diffs.len(),
        theirs.len(),
        diffs.join("\n")
    );
    // The sequence must have met what it is meant to: conflicts, illegal requests,
    // contradictions, syntax errors and a missing device, not only successes.
    for code in [0, 1, 5, 24, 31, 52] {
        assert!(
            codes.contains_key(&code),
            "no step exited {code}: {codes:?}"
        );
    }
}
