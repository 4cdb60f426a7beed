//! Lab tests of the drop-in `libmpathpersist.so.0` on real dm-multipath maps (run by
//! `lab/test.sh` inside the QEMU guest; `#[ignore]` everywhere else).
//!
//! They need the versioned library built on the host first: `lab/test.sh` runs
//! `pr-mpathpersist/build-compat.sh target/lab-test/compat-lib` and
//! `BUILD_ONLY=1 pr-mpathpersist/tests/c/run.sh` before it boots the guest. Set
//! `PR_COMPAT_LIB_DIR` to use another directory. A missing library is a failure, never
//! a skip.
//!
//! - `mpathpersist_matches_debian_library`: Debian's unchanged `/sbin/mpathpersist` runs
//!   the same command sequence (register, register-ignore, key change, reserve, read
//!   keys, read reservation, read full status, report capabilities, a key mismatch,
//!   release, preempt, clear) twice on a multipath map, once with Debian's
//!   libmpathpersist and once with ours through `LD_LIBRARY_PATH`; each step's stdout
//!   and exit status must be equal. `..._preempt_abort_iscsi_only` does the same with
//!   PREEMPT AND ABORT (which deadlocks LIO over tcm_loop).
//! - `mpathpersist_hex_dumps_the_response_as_debian`: `mpathpersist -H -i -k` dumps the
//!   same READ KEYS bytes on stderr with both libraries.
//! - `c_smoke_under_asan` / `c_smoke_under_valgrind`: `tests/c/smoke.c` on a map.

use std::path::{Path, PathBuf};
use std::process::Command;

use pr_lab_support::{LabLun, run, run_ok};

const MPATHPERSIST: &str = "/sbin/mpathpersist";
/// This host's key and the other node's.
const KEY: &str = "0x123abc";
const KEY2: &str = "0x456def";
const OTHER: &str = "0xbbb";

fn compat_lib_dir() -> PathBuf {
    let dir = std::env::var_os("PR_COMPAT_LIB_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/lab-test/compat-lib"),
        PathBuf::from,
    );
    let lib = dir.join("libmpathpersist.so.0");
    assert!(
        lib.is_file(),
        "{} is missing: build it on the host first with `pr-mpathpersist/build-compat.sh \
         target/lab-test/compat-lib` (lab/test.sh does), or set PR_COMPAT_LIB_DIR",
        lib.display()
    );
    dir
}

/// `sg_persist ARGS`, re-sent on UNIT ATTENTION (exit status 6: the nexus reports the
/// previous CLEAR or PREEMPT once); must then succeed.
fn sg_persist(args: &[&str]) -> String {
    for _ in 0..5 {
        let (rc, out, err) = run("sg_persist", args);
        match rc {
            0 => return out,
            6 => continue,
            _ => panic!("sg_persist {args:?} failed ({rc}):\n{out}\n{err}"),
        }
    }
    run_ok("sg_persist", args)
}

/// Registrations and reservation of the LUN gone, multipathd's key for the map unset.
fn reset(lun: &LabLun) {
    let all: Vec<String> = lun
        .paths
        .iter()
        .chain(&lun.node2)
        .map(|p| p.display().to_string())
        .collect();
    for p in &all {
        sg_persist(&["-n", "--out", "--register-ignore", "--param-sark=0xfeed", p]);
    }
    sg_persist(&["-n", "--out", "--clear", "--param-rk=0xfeed", &all[0]]);
    let _ = run("multipathd", &["unsetprkey", "map", &lun.map_name]);
    let _ = run("multipathd", &["unsetprstatus", "map", &lun.map_name]);
    // Each nexus reports the CLEAR once: take that unit attention now.
    for p in &all {
        sg_persist(&["-n", "-i", "-k", p]);
    }
    let keys = sg_persist(&["-n", "-i", "-k", &all[0]]);
    assert!(
        keys.contains("there are NO registered reservation keys"),
        "reset left registrations:\n{keys}"
    );
}

#[derive(Debug)]
enum Step {
    /// mpathpersist arguments (the map path is appended).
    Mp(Vec<String>),
    /// The other node (a node-2 path): sg_persist arguments, path appended; not compared.
    Other(Vec<String>),
}

fn mp(args: &[&str]) -> Step {
    Step::Mp(args.iter().map(|s| (*s).to_owned()).collect())
}

fn other(args: &[&str]) -> Step {
    Step::Other(args.iter().map(|s| (*s).to_owned()).collect())
}

fn sequence(abort: bool) -> Vec<Step> {
    let rk = format!("--param-rk={KEY}");
    let rk2 = format!("--param-rk={KEY2}");
    let sark = format!("--param-sark={KEY}");
    let sark2 = format!("--param-sark={KEY2}");
    let sark_other = format!("--param-sark={OTHER}");
    let preempt = if abort {
        "--preempt-abort"
    } else {
        "--preempt"
    };
    vec![
        mp(&["--out", "--register", &sark]),
        mp(&["-i", "-k"]),
        mp(&["--out", "--register", &rk, &sark2]),
        mp(&["-i", "-k"]),
        mp(&["--out", "--register-ignore", &sark]),
        mp(&["-i", "-k"]),
        mp(&["--out", "--reserve", &rk, "--prout-type=5"]),
        mp(&["-i", "-r"]),
        mp(&["-i", "-s"]),
        mp(&["-i", "-c"]),
        mp(&["--out", "--reserve", &rk2, "--prout-type=5"]),
        mp(&["--out", "--release", &rk, "--prout-type=5"]),
        mp(&["-i", "-r"]),
        other(&["-n", "--out", "--register", &sark_other]),
        mp(&["-i", "-k"]),
        other(&[
            "-n",
            "--out",
            "--reserve",
            &format!("--param-rk={OTHER}"),
            "--prout-type=5",
        ]),
        mp(&["-i", "-r"]),
        mp(&[
            "--out",
            preempt,
            &rk,
            &format!("--param-sark={OTHER}"),
            "--prout-type=5",
        ]),
        mp(&["-i", "-k"]),
        mp(&["-i", "-s"]),
        mp(&["-i", "-r"]),
        mp(&["--out", "--clear", &rk]),
        mp(&["-i", "-k"]),
        mp(&["-i", "-r"]),
    ]
}

/// Checks that `/sbin/mpathpersist` (Debian 12's 0.9.4 or sid's 0.15.1, whose imports
/// include `LIBMPATHPERSIST_2.2.0` and `__LIBMPATHPERSIST_INT_2.1.0` names) resolves
/// `libmpathpersist.so.0` to the library in `dir` under `LD_LIBRARY_PATH`, with every
/// symbol version it needs found (`ldd -r` reports a missing one).
fn assert_loads_ours(dir: &Path) {
    let o = Command::new("ldd")
        .args(["-r", MPATHPERSIST])
        .env("LD_LIBRARY_PATH", dir)
        .output()
        .expect("run ldd");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let ours = dir.join("libmpathpersist.so.0").display().to_string();
    assert!(
        o.status.success()
            && text.contains(&ours)
            && !text.contains("not found")
            && !text.contains("undefined symbol"),
        "{MPATHPERSIST} does not load {ours} with all its symbol versions:\n{text}"
    );
}

/// One run of the sequence; per mpathpersist step: (command line, exit status, stdout,
/// stderr).
fn run_sequence(
    lun: &LabLun,
    lib: Option<&Path>,
    steps: &[Step],
) -> Vec<(String, i32, String, String)> {
    reset(lun);
    if let Some(dir) = lib {
        assert_loads_ours(dir);
    }
    let map = lun.map.display().to_string();
    let node2 = lun.node2[0].display().to_string();
    let mut out = Vec::new();
    for step in steps {
        match step {
            Step::Mp(args) => {
                let mut c = Command::new(MPATHPERSIST);
                c.args(args).arg(&map);
                c.env_remove("LD_LIBRARY_PATH");
                if let Some(dir) = lib {
                    c.env("LD_LIBRARY_PATH", dir);
                }
                let o = c.output().expect("run mpathpersist");
                out.push((
                    format!("mpathpersist {}", args.join(" ")),
                    o.status.code().unwrap_or(-1),
                    String::from_utf8_lossy(&o.stdout).into_owned(),
                    String::from_utf8_lossy(&o.stderr).into_owned(),
                ));
            }
            Step::Other(args) => {
                let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
                a.push(&node2);
                let mut res = run("sg_persist", &a);
                for _ in 0..5 {
                    if res.0 != 6 {
                        break;
                    }
                    res = run("sg_persist", &a); // unit attention: once per nexus
                }
                let (rc, o, e) = res;
                // A failing setup step of the other node must fail the test in both runs
                // alike: record it so the comparison sees it.
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

/// PR generations as offsets from the first one printed in the run (the two runs start
/// from different generations; each PR OUT must move it by the same amount), and READ
/// FULL STATUS descriptors in sorted order (both libraries register the paths
/// concurrently, so the device lists them in any order).
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
        if cmd.ends_with(" -i -s") {
            let (head, blocks) = split_blocks(&text);
            let mut blocks = blocks;
            blocks.sort();
            text = head + &blocks.concat();
        }
        *stdout = text;
    }
}

fn split_blocks(text: &str) -> (String, Vec<String>) {
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
    (head, blocks)
}

fn compare(abort: bool) {
    let lib = compat_lib_dir();
    let lun = LabLun::get(0);
    assert!(
        Path::new(MPATHPERSIST).exists(),
        "{MPATHPERSIST} is not installed"
    );
    let steps = sequence(abort);
    let mut debian = run_sequence(&lun, None, &steps);
    let mut ours = run_sequence(&lun, Some(&lib), &steps);
    normalize(&mut debian);
    normalize(&mut ours);
    let mut diffs = Vec::new();
    let mut transcript = String::new();
    for (d, o) in debian.iter().zip(&ours) {
        transcript.push_str(&format!(
            "$ {}  -> exit {} (Debian) / {} (ours)\n{}",
            d.0, d.1, o.1, o.2
        ));
        if d.1 != o.1 || d.2 != o.2 {
            diffs.push(format!(
                "step `{}`:\n  Debian: exit {}\n{}  stderr: {}\n  ours:   exit {}\n{}  stderr: {}",
                d.0,
                d.1,
                d.2,
                d.3.trim_end(),
                o.1,
                o.2,
                o.3.trim_end()
            ));
        }
    }
    println!("{transcript}");
    assert_eq!(debian.len(), ours.len());
    assert!(
        debian
            .iter()
            .filter(|s| s.0.starts_with("mpathpersist"))
            .any(|s| s.1 == 0),
        "no mpathpersist step succeeded with Debian's library: the lab is broken"
    );
    assert!(
        diffs.is_empty(),
        "{} step(s) differ:\n{}",
        diffs.len(),
        diffs.join("\n\n")
    );
}

#[test]
#[ignore = "needs the lab (lab/test.sh)"]
fn mpathpersist_matches_debian_library() {
    compare(false);
}

#[test]
#[ignore = "needs the lab (lab/test.sh); PREEMPT AND ABORT deadlocks LIO over tcm_loop"]
fn mpathpersist_matches_debian_library_preempt_abort_iscsi_only() {
    compare(true);
}

/// The `dumpHex` lines of `stderr` (Debian's `mpathpersist` prefixes each message with a
/// `seconds.micros | ` timestamp; ours does not).
fn hex_dump_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(|l| match l.split_once(" | ") {
            Some((t, rest)) if t.chars().all(|c| c.is_ascii_digit() || c == '.') => rest,
            _ => l,
        })
        .filter(|l| {
            l.starts_with("        ")
                && l.trim().split(' ').all(|w| {
                    w.is_empty() || (w.len() == 2 && w.chars().all(|c| c.is_ascii_hexdigit()))
                })
        })
        .map(|l| l.trim_end().to_owned())
        .collect()
}

/// `mpathpersist -H -i -k` (0.9.4 passes `noisy` for `-H`): the library dumps the READ
/// KEYS response on stderr. With ours as with Debian's, the same bytes.
#[test]
#[ignore = "needs the lab (lab/test.sh)"]
fn mpathpersist_hex_dumps_the_response_as_debian() {
    let lib = compat_lib_dir();
    let lun = LabLun::get(0);
    reset(&lun);
    let map = lun.map.display().to_string();
    let sark = format!("--param-sark={KEY}");
    let (rc, o, e) = run(MPATHPERSIST, &["--out", "--register", &sark, &map]);
    assert_eq!(rc, 0, "register with Debian's library:\n{o}{e}");
    let mut dumps = Vec::new();
    for dir in [None, Some(lib.as_path())] {
        let mut c = Command::new(MPATHPERSIST);
        c.args(["-H", "-i", "-k", &map])
            .env_remove("LD_LIBRARY_PATH");
        if let Some(d) = dir {
            c.env("LD_LIBRARY_PATH", d);
        }
        let o = c.output().expect("run mpathpersist");
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{stderr}");
        println!(
            "{}:\n{stderr}",
            if dir.is_some() { "ours" } else { "Debian" }
        );
        dumps.push(hex_dump_lines(&stderr));
    }
    reset(&lun);
    assert!(!dumps[0].is_empty(), "Debian's library dumped nothing");
    assert_eq!(dumps[1], dumps[0], "ours vs Debian's hex dump");
}

fn smoke_args(lun: &LabLun) -> Vec<String> {
    vec![
        lun.map.display().to_string(),
        lun.paths.len().to_string(),
        "0x5eed".to_owned(),
    ]
}

fn c_tests_dir() -> PathBuf {
    let d = compat_lib_dir().join("c-tests");
    assert!(
        d.join("smoke-asan").is_file() && d.join("smoke").is_file(),
        "{}: the C test programs are missing: build them on the host with \
         `BUILD_ONLY=1 pr-mpathpersist/tests/c/run.sh target/lab-test/compat-lib` (lab/test.sh does)",
        d.display()
    );
    d
}

#[test]
#[ignore = "needs the lab (lab/test.sh)"]
fn c_smoke_under_asan() {
    let lun = LabLun::get(1);
    let dir = c_tests_dir();
    reset(&lun);
    let args = smoke_args(&lun);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let exe = dir.join("smoke-asan").display().to_string();
    let o = Command::new(&exe)
        .args(&a)
        .env("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1")
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        .output()
        .expect("run smoke-asan");
    reset(&lun);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    println!("{text}");
    assert!(o.status.success(), "smoke under ASAN failed:\n{text}");
    assert!(text.contains(", 0 failed"), "{text}");
}

#[test]
#[ignore = "needs the lab (lab/test.sh)"]
fn c_smoke_under_valgrind() {
    let lun = LabLun::get(1);
    let dir = c_tests_dir();
    reset(&lun);
    let args = smoke_args(&lun);
    let exe = dir.join("smoke").display().to_string();
    let supp = format!(
        "--suppressions={}/tests/c/valgrind.supp",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut a = vec![
        "-q",
        supp.as_str(),
        "--error-exitcode=1",
        "--leak-check=full",
        "--show-leak-kinds=definite,indirect,possible",
        "--errors-for-leak-kinds=definite,indirect,possible",
        exe.as_str(),
    ];
    a.extend(args.iter().map(String::as_str));
    let (rc, o, e) = run("valgrind", &a);
    reset(&lun);
    println!("{o}{e}");
    assert_eq!(rc, 0, "smoke under valgrind failed:\n{o}{e}");
    assert!(o.contains(", 0 failed"), "{o}");
}
