//! The lab cross-face test: one scenario on a real dm-multipath map, run twice from a
//! cleared LUN, once through the drop-in `libmpathpersist.so.0` (Debian's unchanged
//! `/sbin/mpathpersist` with `LD_LIBRARY_PATH` pointing at ours) and once through the
//! native C API (`pr-c/tests/c/lab_cross_face.c`, compiled by gcc at run time against
//! libpr_sdk); both must leave the LUN in the same state, and in the state the scenario
//! implies.
//!
//! The scenario, on LUN 0 (node 1 = this host's map through the face under test, node 2 =
//! the lab's node-2 path driven by `sg_persist` as a neutral peer):
//!  1. node 1 registers K1 on every path of the map, node 2 registers K2;
//!  2. node 1 reserves Write Exclusive - Registrants Only (type 5);
//!  3. node 1's first path fails (multipathd marks it failed);
//!  4. node 1 preempts K2 (PREEMPT, not PREEMPT AND ABORT, which hangs LIO over
//!     tcm_loop: the test runs on both lab topologies);
//!  5. the preempt is retried once; each face's answers are recorded and printed, not
//!     compared (libmpathpersist's PREEMPT of a key that is gone is a reservation
//!     conflict; the native fleet fence reports the LUN already fenced);
//!  6. the LUN state: READ FULL STATUS and READ RESERVATION with `sg_persist` on a node-1
//!     path that is up, generations made relative to the start of the run and full status
//!     descriptors sorted (the faces register the paths concurrently).
//!
//! Then the path is restored and the LUN cleared, so that the next lab test starts clean.
//!
//! Needs, besides the lab: the drop-in built on the host (`lab/test.sh` runs
//! `pr-mpathpersist/build-compat.sh target/lab-test/compat-lib`; `PR_COMPAT_LIB_DIR`
//! overrides), gcc (the guest shares the host's root) and libpr_sdk.so, which
//! `cargo test -p pr-tests` builds next to this test binary (pr-c is a dev-dependency;
//! `PR_SDK_LIB_DIR` overrides). Any of them missing is a failure, never a skip.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use pr_lab_support::{LabLun, guest_tools, run, run_ok};

const MPATHPERSIST: &str = "/sbin/mpathpersist";
/// Node 1's key (both faces), node 2's key, and the key the reset registers.
const K1: u64 = 0x1c_f001;
const K2: u64 = 0x2c_f002;
const RESET_KEY: u64 = 0xfeed;
/// Write Exclusive - Registrants Only.
const TYPE: u32 = 5;
const TYPE_TEXT: &str = "Write Exclusive, registrants only";

fn hex(k: u64) -> String {
    format!("0x{k:x}")
}

/// What a command answered.
#[derive(Debug)]
struct Answer {
    step: &'static str,
    command: String,
    status: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "  [{}] $ {}  -> exit {}",
            self.step, self.command, self.status
        )?;
        for line in self.stdout.lines().chain(self.stderr.lines()) {
            writeln!(f, "      {line}")?;
        }
        Ok(())
    }
}

fn answer(step: &'static str, c: &mut Command) -> Answer {
    let command = format!(
        "{} {}",
        Path::new(c.get_program()).display(),
        c.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let o = c
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command}: {e}"));
    Answer {
        step,
        command,
        status: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Node 1's side of the scenario, through one face.
enum Face {
    /// Debian's `/sbin/mpathpersist` with our `libmpathpersist.so.0` from this directory.
    DropIn(PathBuf),
    /// `lab_cross_face.c` built against libpr_sdk.
    Native(PathBuf),
}

impl Face {
    fn name(&self) -> &'static str {
        match self {
            Face::DropIn(_) => "drop-in libmpathpersist.so.0 (Debian's mpathpersist)",
            Face::Native(_) => "native C API (libpr_sdk, lab_cross_face.c)",
        }
    }

    fn mpathpersist(lib: &Path, args: &[String], map: &Path) -> Command {
        let mut c = Command::new(MPATHPERSIST);
        c.args(args)
            .arg(map)
            .env_remove("LD_LIBRARY_PATH")
            .env("LD_LIBRARY_PATH", lib);
        c
    }

    fn native(exe: &Path, map: &Path, args: &[String]) -> Command {
        let mut c = Command::new(exe);
        c.arg(map).args(args);
        c
    }

    fn register(&self, map: &Path, key: u64) -> Answer {
        let mut c = match self {
            Face::DropIn(lib) => Self::mpathpersist(
                lib,
                &[
                    "--out".into(),
                    "--register".into(),
                    format!("--param-sark={}", hex(key)),
                ],
                map,
            ),
            Face::Native(exe) => Self::native(exe, map, &["register".into(), hex(key)]),
        };
        answer("register", &mut c)
    }

    fn reserve(&self, map: &Path, key: u64) -> Answer {
        let mut c = match self {
            Face::DropIn(lib) => Self::mpathpersist(
                lib,
                &[
                    "--out".into(),
                    "--reserve".into(),
                    format!("--param-rk={}", hex(key)),
                    format!("--prout-type={TYPE}"),
                ],
                map,
            ),
            Face::Native(exe) => {
                Self::native(exe, map, &["reserve".into(), hex(key), TYPE.to_string()])
            }
        };
        answer("reserve", &mut c)
    }

    fn preempt(&self, step: &'static str, map: &Path, key: u64, victim: u64) -> Answer {
        let mut c = match self {
            Face::DropIn(lib) => Self::mpathpersist(
                lib,
                &[
                    "--out".into(),
                    "--preempt".into(),
                    format!("--param-rk={}", hex(key)),
                    format!("--param-sark={}", hex(victim)),
                    format!("--prout-type={TYPE}"),
                ],
                map,
            ),
            Face::Native(exe) => Self::native(
                exe,
                map,
                &["fence".into(), hex(key), hex(victim), TYPE.to_string()],
            ),
        };
        answer(step, &mut c)
    }
}

/// `sg_persist ARGS`, re-sent on UNIT ATTENTION (exit status 6: a nexus reports the
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

fn all_paths(lun: &LabLun) -> Vec<String> {
    lun.paths
        .iter()
        .chain(&lun.node2)
        .map(|p| p.display().to_string())
        .collect()
}

/// No registration, no reservation, multipathd's key and prstatus of the map unset, and
/// the unit attentions of the CLEAR taken on every nexus.
fn reset(lun: &LabLun) {
    let all = all_paths(lun);
    let sark = format!("--param-sark={}", hex(RESET_KEY));
    for p in &all {
        sg_persist(&["-n", "--out", "--register-ignore", &sark, p]);
    }
    let rk = format!("--param-rk={}", hex(RESET_KEY));
    sg_persist(&["-n", "--out", "--clear", &rk, &all[0]]);
    let _ = run("multipathd", &["unsetprstatus", "map", &lun.map_name]);
    let _ = run("multipathd", &["unsetprkey", "map", &lun.map_name]);
    for p in &all {
        sg_persist(&["-n", "-i", "-k", p]);
    }
    let keys = sg_persist(&["-n", "-i", "-k", &all[0]]);
    assert!(
        keys.contains("there are NO registered reservation keys"),
        "reset left registrations:\n{keys}"
    );
    let res = sg_persist(&["-n", "-i", "-r", &all[0]]);
    assert!(
        res.contains("there is NO reservation held"),
        "reset left a reservation:\n{res}"
    );
}

/// The number after `generation=0x` in `text`.
fn generation(text: &str) -> i64 {
    let pos = text
        .find("generation=0x")
        .unwrap_or_else(|| panic!("no PR generation in:\n{text}"));
    let hex: String = text[pos + 13..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    i64::from_str_radix(&hex, 16).expect("hex generation")
}

/// `sg_persist` output with its generation written relative to `base`, and, for READ
/// FULL STATUS, the descriptors (blocks starting `Key=`) in sorted order.
fn normalize(text: &str, base: i64) -> String {
    let mut head = String::new();
    let mut blocks: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        let line = match line.find("generation=0x") {
            Some(pos) => {
                let g = generation(line);
                let digits = line[pos + 13..]
                    .chars()
                    .take_while(char::is_ascii_hexdigit)
                    .count();
                format!(
                    "{}generation=<start{:+}>{}",
                    &line[..pos],
                    g - base,
                    &line[pos + 13 + digits..]
                )
            }
            None => line.to_owned(),
        };
        if line.trim_start().starts_with("Key=") {
            blocks.push(String::new());
        }
        match blocks.last_mut() {
            Some(b) => b.push_str(&line),
            None => head.push_str(&line),
        }
    }
    blocks.sort();
    head + &blocks.concat()
}

/// The LUN state through `dev` (a node-1 path that is up), normalised.
fn lun_state(dev: &str, base: i64) -> String {
    let fs = sg_persist(&["-n", "-i", "-s", dev]);
    let rr = sg_persist(&["-n", "-i", "-r", dev]);
    format!(
        "READ FULL STATUS:\n{}READ RESERVATION:\n{}",
        normalize(&fs, base),
        normalize(&rr, base)
    )
}

/// A node-1 path taken offline; restored (and waited for) on `restore` or on drop, after
/// multipathd's key and prstatus of the map are unset (so that multipathd does not
/// register the key on it again when it comes back).
struct FailedPath {
    dev: String,
    map: String,
    restored: bool,
}

impl FailedPath {
    fn fail(dev: &Path, map: &str) -> FailedPath {
        let dev = dev.display().to_string();
        let t = Instant::now();
        guest_tools(&format!(
            "lab_fail_path {dev} && lab_wait_path_state {dev} failed 90"
        ));
        eprintln!(
            "    {dev} offline; multipathd has it failed after {:.1}s",
            t.elapsed().as_secs_f64()
        );
        FailedPath {
            dev,
            map: map.to_owned(),
            restored: false,
        }
    }

    /// Restores the path; Err with the reason when it does not come back.
    fn try_restore(&mut self) -> Result<(), String> {
        self.restored = true;
        let _ = run("multipathd", &["unsetprstatus", "map", &self.map]);
        let _ = run("multipathd", &["unsetprkey", "map", &self.map]);
        let tools = std::env::var("LAB_GUEST_TOOLS").unwrap_or_default();
        let (rc, out, err) = run(
            "bash",
            &[
                "-c",
                &format!(
                    ". '{tools}' && lab_restore_path {0} && lab_wait_path_state {0} active 60",
                    self.dev
                ),
            ],
        );
        if rc == 0 {
            Ok(())
        } else {
            Err(format!("restoring {} failed ({rc}): {out}{err}", self.dev))
        }
    }

    fn restore(mut self) {
        if let Err(e) = self.try_restore() {
            panic!("{e}");
        }
    }
}

impl Drop for FailedPath {
    fn drop(&mut self) {
        if !self.restored {
            if let Err(e) = self.try_restore() {
                eprintln!("lab_cross_face: {e}");
            }
        }
    }
}

/// One run of the scenario through `face`: (its transcript, the normalised end state).
fn scenario(lun: &LabLun, face: &Face) -> (String, String) {
    eprintln!("  --- {}", face.name());
    reset(lun);
    let up = lun.paths[1].display().to_string();
    let node2 = lun.node2[0].display().to_string();
    let base = generation(&sg_persist(&["-n", "-i", "-k", &up]));
    let mut transcript = format!("{}:\n", face.name());
    let must = |a: Answer, transcript: &mut String| {
        transcript.push_str(&a.to_string());
        assert_eq!(a.status, 0, "{}: step failed:\n{transcript}", face.name());
    };

    // 1. registrations: node 1 through the face, node 2 with sg_persist
    must(face.register(&lun.map, K1), &mut transcript);
    let sark2 = format!("--param-sark={}", hex(K2));
    sg_persist(&["-n", "--out", "--register", &sark2, &node2]);
    transcript.push_str(&format!(
        "  [node 2] sg_persist --register {sark2} {node2}\n"
    ));
    // 2. node 1 reserves
    must(face.reserve(&lun.map, K1), &mut transcript);
    // 3. node 1's first path fails
    let failed = FailedPath::fail(&lun.paths[0], &lun.map_name);
    transcript.push_str(&format!("  [path] {} failed\n", lun.paths[0].display()));
    // 4. node 1 preempts node 2
    must(face.preempt("preempt", &lun.map, K1, K2), &mut transcript);
    // 5. the preempt again: recorded, not required to succeed
    let retry = face.preempt("retry", &lun.map, K1, K2);
    transcript.push_str(&retry.to_string());
    if let Face::Native(_) = face {
        assert!(
            retry.status == 0 && retry.stdout.contains(": already_fenced"),
            "the native fleet fence must report the LUN already fenced on the retry:\n{transcript}"
        );
    }
    // 6. the LUN state, while the path is still failed
    let state = lun_state(&up, base);
    failed.restore();
    reset(lun);
    (transcript, state)
}

/// What the scenario implies: K1 registered through every node-1 nexus (the failed path's
/// registration stays at the target), K2 gone, one holder of type 5 with K1.
fn check_expected(lun: &LabLun, state: &str) -> Result<(), String> {
    let (fs, rr) = state
        .split_once("READ RESERVATION:\n")
        .ok_or("no READ RESERVATION part")?;
    let k1 = format!("Key={}", hex(K1));
    let descriptors = fs.matches("Key=").count();
    let mut wrong = Vec::new();
    if descriptors != lun.paths.len() {
        wrong.push(format!(
            "{descriptors} registrations, expected {} (one per node-1 path)",
            lun.paths.len()
        ));
    }
    if fs.matches(&k1).count() != lun.paths.len() {
        wrong.push(format!("{k1} is not registered on every node-1 path"));
    }
    if state.contains(&format!("Key={}", hex(K2))) {
        wrong.push("node 2's key is still there".into());
    }
    if fs.matches("<< Reservation holder >>").count() != 1 {
        wrong.push("not exactly one reservation holder".into());
    }
    if !fs.contains(TYPE_TEXT) {
        wrong.push(format!("the holder's type is not {TYPE_TEXT}"));
    }
    if !(rr.contains(&k1) && rr.contains(TYPE_TEXT)) {
        wrong.push(format!("READ RESERVATION is not {k1}, {TYPE_TEXT}"));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("; "))
    }
}

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

/// The directory holding libpr_sdk.so: `PR_SDK_LIB_DIR`, else where cargo put it with
/// this test binary (`target/<profile>/deps`, pr-c being a dev-dependency), else the
/// repository's `target/debug/deps` (lab/test.sh copies binaries built elsewhere).
fn libpr_sdk_dir() -> PathBuf {
    let mut candidates = Vec::new();
    if let Some(d) = std::env::var_os("PR_SDK_LIB_DIR") {
        candidates.push(PathBuf::from(d));
    } else {
        if let Some(d) = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf))
        {
            candidates.push(d);
        }
        candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/deps"));
    }
    candidates
        .iter()
        .find(|d| d.join("libpr_sdk.so").is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "libpr_sdk.so is in none of {candidates:?}: build it with \
                 `cargo test -p pr-tests --no-run` (pr-c is a dev-dependency) or set PR_SDK_LIB_DIR"
            )
        })
}

/// Compiles `pr-c/tests/c/lab_cross_face.c` with gcc into a fresh directory, against
/// libpr_sdk staged there under its SONAME; returns the program.
fn build_native() -> PathBuf {
    let (rc, _, err) = run("sh", &["-c", "command -v gcc"]);
    assert_eq!(
        rc, 0,
        "gcc is missing: the native face is compiled at run time (the guest uses the host's \
         root; lab/setup.sh installs gcc): {err}"
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let src = repo.join("pr-c/tests/c/lab_cross_face.c");
    let include = repo.join("pr-c/include");
    assert!(src.is_file(), "{} is missing", src.display());
    let lib = libpr_sdk_dir().join("libpr_sdk.so");
    let dir = std::env::temp_dir().join(format!("lab_cross_face-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary directory");
    std::fs::copy(&lib, dir.join("libpr_sdk.so.0"))
        .unwrap_or_else(|e| panic!("copy {}: {e}", lib.display()));
    std::os::unix::fs::symlink("libpr_sdk.so.0", dir.join("libpr_sdk.so")).expect("symlink");
    let exe = dir.join("lab_cross_face");
    let d = dir.display().to_string();
    run_ok(
        "gcc",
        &[
            "-std=c11",
            "-D_GNU_SOURCE",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
            &include.display().to_string(),
            &src.display().to_string(),
            "-L",
            &d,
            "-lpr_sdk",
            &format!("-Wl,-rpath,{d}"),
            "-lpthread",
            "-o",
            &exe.display().to_string(),
        ],
    );
    eprintln!("    built {} against {}", exe.display(), lib.display());
    exe
}

#[test]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
fn lab_cross_face_drop_in_and_c_api_end_in_the_same_lun_state() {
    let lun = LabLun::get(0);
    assert!(
        Path::new(MPATHPERSIST).exists(),
        "{MPATHPERSIST} is not installed"
    );
    let faces = [Face::DropIn(compat_lib_dir()), Face::Native(build_native())];
    let runs: Vec<(String, String)> = faces.iter().map(|f| scenario(&lun, f)).collect();
    let mut report = String::new();
    for ((transcript, state), face) in runs.iter().zip(&faces) {
        let _ = writeln!(report, "{transcript}  end state (normalised):");
        for line in state.lines() {
            let _ = writeln!(report, "    {line}");
        }
        if let Err(e) = check_expected(&lun, state) {
            panic!(
                "{}: the end state is not what the scenario implies: {e}\n{report}",
                face.name()
            );
        }
    }
    println!("{report}");
    assert!(
        runs[0].1 == runs[1].1,
        "the two faces left different LUN states:\n{report}"
    );
    if let Face::Native(exe) = &faces[1] {
        if let Some(dir) = exe.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
