//! The mpathpersist personality against Debian 12's own `/sbin/mpathpersist`
//! (multipath-tools 0.9.4) on this host, where no multipath map is needed: the command
//! line's errors (getopt's, bad numbers, keys, types, allocation lengths, TransportIDs,
//! extra operands, `-f` twice), help, no parameters, and what comes after the command
//! line is accepted. Both run as `mpathpersist` (argv[0]) and must give the same exit
//! status, the same standard output and the same standard error, normalised: libmultipath's
//! timestamped log lines (`123.456 | ...`) are dropped, the usage text (our own wording)
//! is cut, and where device-mapper cannot be reached (a host or container without it:
//! mpathpersist 0.9.4 then exits 1 once the command line is read) only libdevmapper's
//! first two lines are kept. Both need root (mpathpersist refuses to run otherwise) and
//! the real tool (`multipath-tools`): without them this test fails and says so.

use std::os::unix::process::CommandExt;
use std::process::Command;

const DEBIAN: &str = "/sbin/mpathpersist";

struct Run {
    code: i32,
    out: String,
    err: String,
}

fn run(program: &str, args: &[&str]) -> Run {
    let o = Command::new(program)
        .arg0("mpathpersist")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    Run {
        code: o.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Whether a line is a libmultipath log line (`seconds.micros | message`).
fn is_log_line(l: &str) -> bool {
    l.split_once(" | ")
        .is_some_and(|(t, _)| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit() || c == b'.'))
}

/// Standard error as compared: no log lines, nothing from the usage text on, nothing
/// after libdevmapper's first complaint.
fn normalise(err: &str) -> String {
    let mut out = String::new();
    for line in err.split_inclusive('\n') {
        if is_log_line(line) {
            continue;
        }
        if line.starts_with("multipath-tools v") || line.starts_with("Usage: mpathpersist") {
            out.push_str("<usage>\n");
            break;
        }
        out.push_str(line);
        if line.starts_with("Failure to communicate with kernel device-mapper") {
            break;
        }
    }
    out
}

const CASES: &[&[&str]] = &[
    &[],
    &["-h"],
    &["--help"],
    &["--he", "/dev/null"],
    &["-h", "-x"],
    &["-x", "-h"],
    &["-x"],
    &["-q", "/dev/null"],
    &["-K"],
    &["--param-rk"],
    &["-i", "-k", "-d"],
    &["--bogus", "/dev/null"],
    &["--in=1", "/dev/null"],
    &["--re", "/dev/null"],
    &["--read", "/dev/null"],
    &["--pre", "/dev/null"],
    &["-K", "zz", "/dev/null"],
    &["-S", "", "/dev/null"],
    &["--param-sark=q", "/dev/null"],
    &["-T", "q", "/dev/null"],
    &["--prout-type", "-", "/dev/null"],
    &["-l", "zz", "/dev/null"],
    &["-l", "8193", "/dev/null"],
    &["-l", "-1", "/dev/null"],
    &["--alloc-length=99999999999", "/dev/null"],
    &["-v", "x", "/dev/null"],
    &["--verbose=", "/dev/null"],
    &["-vq", "/dev/null"],
    &["-X", "sas,12x", "/dev/null"],
    &["-X", "fcp,zz", "/dev/null"],
    &["-X", "FCP,0g", "/dev/null"],
    &["-X", "SAS,", "-X", "sas,5001405,", "/dev/null"],
    &["-f", "a", "-f", "b"],
    &["--batch-file=a", "-i", "-f", "b", "/dev/null"],
    &["-i", "-k", "a", "b"],
    &["-d", "a", "b"],
    &["-d", "a", "b", "c"],
    &["-i", "-k", "-K", "1", "-S", "zz", "/dev/null"],
    // Accepted command lines: on to device-mapper, then the checks that follow.
    &["-i", "-k", "/dev/null"],
    &["--in", "--read-k", "/dev/null"],
    &["-o", "/dev/null"],
    &["-i", "-o", "/dev/null"],
    &["/dev/null"],
    &["-i", "-k"],
    &["-v", "3", "-i", "-k", "/dev/null"],
    &["-l", "8192", "-i", "-s", "/nonexistent"],
    &["-o", "-R", "-K", "1", "/dev/null"],
    &[
        "-X",
        "iqn.2026-12.org.example:node1",
        "-o",
        "-G",
        "/dev/null",
    ],
    &["-X", "whatever", "-o", "-G", "-S", "1", "/dev/null"],
    &["-H", "-i", "-c", "--", "-x"],
];

#[test]
fn command_lines_as_debian_mpathpersist() {
    assert!(
        std::path::Path::new(DEBIAN).exists(),
        "{DEBIAN} is missing: install multipath-tools (lab/setup.sh does)"
    );
    let ours = env!("CARGO_BIN_EXE_prsdk");
    // A too-long iSCSI name is reported and yet accepted (0.9.4's quirk).
    let long = format!("iqn.{}", "a".repeat(240));
    let long_case: Vec<&str> = vec!["-X", &long, "-o", "-G", "/dev/null"];
    let mut cases: Vec<&[&str]> = CASES.to_vec();
    cases.push(&long_case);
    let mut failures = Vec::new();
    for args in &cases {
        let real = run(DEBIAN, args);
        if real.err.contains("need to be root") {
            panic!("{DEBIAN} needs root; run this test as root");
        }
        let mine = run(ours, args);
        let (re, me) = (normalise(&real.err), normalise(&mine.err));
        if real.code != mine.code || real.out != mine.out || re != me {
            failures.push(format!(
                "{args:?}:\n  debian: exit {} stdout {:?} stderr {re:?}\n  ours:   exit {} \
                 stdout {:?} stderr {me:?}",
                real.code, real.out, mine.code, mine.out
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} command lines differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("{} command lines as {DEBIAN}", cases.len());
}
