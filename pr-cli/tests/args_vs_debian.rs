//! The sg_persist personality against Debian 12's own `/usr/bin/sg_persist` (sg3-utils
//! 1.46) on this host, where no SCSI device is needed: command-line errors,
//! contradictions, help and version, missing devices, and names that are no SCSI device.
//! Both run as `sg_persist` (argv[0]), and must give the same exit status, the same
//! standard output and (where the case says so) the same standard error up to the usage
//! text, which is our own wording. sg3-utils is required (`lab/setup.sh` installs it):
//! without it this test fails and says so.

use std::os::unix::process::CommandExt;
use std::process::Command;

const DEBIAN: &str = "/usr/bin/sg_persist";

struct Run {
    code: i32,
    out: String,
    err: String,
}

fn run(program: &str, args: &[&str]) -> Run {
    let o = Command::new(program)
        .arg0("sg_persist")
        .args(args)
        .env_remove("SG_PERSIST_IN_RDONLY")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    Run {
        code: o.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Standard error up to the usage text.
fn before_usage(err: &str) -> &str {
    err.find("Usage: sg_persist").map_or(err, |i| &err[..i])
}

/// Whether standard error is compared (up to the usage text): not where it reports a
/// failed command, whose words differ.
const SAME_STDERR: bool = true;
const OWN_STDERR: bool = false;

const CASES: &[(&[&str], bool)] = &[
    (&[], SAME_STDERR),
    (&["-h"], OWN_STDERR),
    (&["-hh"], OWN_STDERR),
    (&["--help", "/dev/null"], OWN_STDERR),
    (&["-V"], SAME_STDERR),
    (&["-vV"], SAME_STDERR),
    (&["--version"], SAME_STDERR),
    (&["--bogus", "/dev/null"], SAME_STDERR),
    (&["-q", "/dev/null"], SAME_STDERR),
    (&["-x", "/dev/null"], SAME_STDERR),
    (&["--pre", "/dev/null"], SAME_STDERR),
    (&["--read", "/dev/null"], SAME_STDERR),
    (&["--in=1", "/dev/null"], SAME_STDERR),
    (&["-K"], SAME_STDERR),
    (&["--param-rk"], SAME_STDERR),
    (&["a", "b"], SAME_STDERR),
    (&["-d", "a", "b", "c"], SAME_STDERR),
    (&["-i", "-o", "/dev/null"], SAME_STDERR),
    (&["-k", "-r", "/dev/null"], SAME_STDERR),
    (&["-o", "/dev/null"], SAME_STDERR),
    (&["-o", "-G", "-k", "/dev/null"], SAME_STDERR),
    (&["-o", "-G", "-R", "/dev/null"], SAME_STDERR),
    (&["-G", "/dev/null"], SAME_STDERR),
    (&["-K", "zz", "/dev/null"], SAME_STDERR),
    (&["--param-sark=", "/dev/null"], SAME_STDERR),
    (&["-T", "q", "/dev/null"], SAME_STDERR),
    (&["-l", "2001", "/dev/null"], SAME_STDERR),
    (&["-l", "-1", "/dev/null"], SAME_STDERR),
    (&["-l", "zz", "/dev/null"], SAME_STDERR),
    (&["-m", "9k", "/dev/null"], SAME_STDERR),
    (&["-m", "8193", "/dev/null"], SAME_STDERR),
    (&["--maxlen=abc", "/dev/null"], SAME_STDERR),
    (&["-Q", "10000", "/dev/null"], SAME_STDERR),
    (&["-Q", "zz", "/dev/null"], SAME_STDERR),
    (&["-Q", "1", "-o", "-G", "/dev/null"], SAME_STDERR),
    (&["-U", "-o", "-G", "/dev/null"], SAME_STDERR),
    (&["-o", "-M", "/dev/null"], SAME_STDERR),
    (
        &[
            "-o",
            "-M",
            "-X",
            "sas,5001405a00000001",
            "-X",
            "file=/nonexistent",
            "/dev/null",
        ],
        SAME_STDERR,
    ),
    (&["-X", "sop,1", "/dev/null"], SAME_STDERR),
    (&["-X", "sas,123", "/dev/null"], SAME_STDERR),
    (&["-X", "fcp,zz", "/dev/null"], SAME_STDERR),
    (&["-X", "1,2,300", "/dev/null"], SAME_STDERR),
    (&["-X", "1;2", "/dev/null"], SAME_STDERR),
    (&["-X", "", "/dev/null"], SAME_STDERR),
    (&["-X", "file=/nonexistent/tids", "/dev/null"], SAME_STDERR),
    (&["/nonexistent"], SAME_STDERR),
    (&["-n", "/nonexistent"], SAME_STDERR),
    (&["-n", "-y", "/nonexistent"], SAME_STDERR),
    (&["-n", "-yy", "/nonexistent"], SAME_STDERR),
    (&["-o", "-I", "-S", "1", "/nonexistent"], SAME_STDERR),
    (&["-d", "/nonexistent"], SAME_STDERR),
    (&["--device=/nonexistent", "-s"], SAME_STDERR),
    (&["/dev/null"], OWN_STDERR),
    (&["/etc/passwd"], OWN_STDERR),
    (&["-c", "-H", "/etc/passwd"], OWN_STDERR),
    (&["-n", "/etc/passwd"], OWN_STDERR),
    (&["-n", "-o", "-R", "/dev/null"], OWN_STDERR),
    (
        &["-o", "-P", "-T", "5", "-K", "1", "-S", "2", "/dev/null"],
        OWN_STDERR,
    ),
    // -vvv decodes the TransportIDs given on standard output.
    (
        &[
            "-vvv",
            "-n",
            "-X",
            "sas,5001405a00000001",
            "-X",
            "iqn.2003-01.org.x:y,i,0x123",
            "/etc/passwd",
        ],
        OWN_STDERR,
    ),
    (
        &["-vvv", "-n", "-X", "1,2,3", "-o", "-G", "/etc/passwd"],
        OWN_STDERR,
    ),
    (
        &[
            "-vvv",
            "-n",
            "-X",
            "fcp,21000024ff301f5e",
            "-i",
            "/etc/passwd",
        ],
        OWN_STDERR,
    ),
];

#[test]
fn same_as_debian_sg_persist_without_a_device() {
    assert!(
        std::path::Path::new(DEBIAN).exists(),
        "{DEBIAN} is missing: install sg3-utils (lab/setup.sh does) to compare with it"
    );
    let ours = env!("CARGO_BIN_EXE_prsdk");
    let mut failures = Vec::new();
    for (args, same_stderr) in CASES {
        let theirs = run(DEBIAN, args);
        let mine = run(ours, args);
        let mut bad = Vec::new();
        if theirs.code != mine.code {
            bad.push(format!(
                "exit {} (Debian) != {} (ours)",
                theirs.code, mine.code
            ));
        }
        if theirs.out != mine.out {
            bad.push(format!("stdout:\n{:?}\n!=\n{:?}", theirs.out, mine.out));
        }
        if *same_stderr && before_usage(&theirs.err) != before_usage(&mine.err) {
            bad.push(format!(
                "stderr:\n{:?}\n!=\n{:?}",
                before_usage(&theirs.err),
                before_usage(&mine.err)
            ));
        }
        if theirs.err.contains("Usage: sg_persist") != mine.err.contains("Usage: sg_persist") {
            bad.push("usage printed by one only".into());
        }
        if !bad.is_empty() {
            failures.push(format!("sg_persist {args:?}:\n  {}", bad.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn prsdk_sg_persist_subcommand_is_the_same_personality() {
    let ours = env!("CARGO_BIN_EXE_prsdk");
    let o = Command::new(ours)
        .args(["sg_persist", "-K", "zz", "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "bad argument to '--param-rk'\n"
    );
    let o = Command::new(ours).arg0("mpathpersist").output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "the mpathpersist personality is not written: it must say so and fail"
    );
    let o = Command::new(ours).arg("bogus").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
}
