//! `prsdk lock` through the binary: on the simulated cluster (`--sim`, seeded: node 1
//! holds WR_EX_RO with 0x1111 on every LUN, node 2 is registered with 0x2222) and on lock
//! files in temporary directories of this host (no root, no hardware). Contenders are
//! nested `prsdk lock` processes (fcntl locks belong to the process).

use std::path::Path;
use std::process::Command;

const PRSDK: &str = env!("CARGO_BIN_EXE_prsdk");

/// Runs `prsdk ARGS`; returns (exit status, stdout, stderr).
fn prsdk(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(PRSDK).args(args).output().expect("prsdk runs");
    (
        out.status.code().expect("exit status, not a signal"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read lockspace")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The SHA-256 name libvirt gives `/dev/mapper/mpatha` (`printf %s /dev/mapper/mpatha |
/// sha256sum`).
const MPATHA_SHA256: &str = "d567a9c3051344738f98c4aaaeb4dc21fe7e8480ec3e42b21113beb9c545b757";

#[test]
fn sim_refused_with_the_holders_key_and_nothing_left() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap();
    let (code, out, err) = prsdk(&[
        "--sim",
        "--node",
        "2",
        "lock",
        "--key",
        "0x2222",
        "--file-lockspace",
        dir,
        "/dev/mapper/mpatha",
        "--",
        "echo",
        "ran",
    ]);
    assert_eq!(code, 4, "{err}");
    assert_eq!(out, "", "the command must not run");
    assert!(err.contains("held by key 0x1111"), "{err}");
    assert!(err.contains("force fences the holder"), "{err}");
    assert!(entries(d.path()).is_empty(), "{:?}", entries(d.path()));
}

#[test]
fn sim_forced_runs_and_releases_everything() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap();
    // One simulated cluster for the whole script: node 2 forces node 1 out, runs the
    // command, releases; then the LUN shows no key and no reservation.
    let script = d.path().join("script");
    std::fs::write(
        &script,
        format!(
            "lock --node 2 --key 0x2222 --force --file-lockspace {dir} /dev/mapper/mpatha -- true\n\
             keys --json mpatha\n\
             reservation --json mpatha\n"
        ),
    )
    .unwrap();
    let (code, out, err) = prsdk(&["--sim", "--script", script.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("[exit 0]"), "{out}");
    // After the lock's "[exit 0]": the JSON documents of keys and reservation.
    let (_, after) = out.split_once("[exit 0]\n").expect("lock's status");
    let docs: Vec<serde_json::Value> = after
        .split("[exit 0]\n")
        .filter_map(|part| part.split_once('\n').map(|(_, doc)| doc.trim()))
        .filter(|doc| !doc.is_empty())
        .map(|doc| serde_json::from_str(doc).expect("json"))
        .collect();
    assert_eq!(docs.len(), 2, "{out}");
    let data = |i: usize| docs[i]["results"][0]["data"].clone();
    assert_eq!(data(0)["keys"], serde_json::json!([]), "{out}");
    assert_eq!(data(1)["reservation"], serde_json::Value::Null, "{out}");
    assert!(entries(d.path()).iter().all(|e| e == "script"));
}

#[test]
fn sim_fresh_lun_locked_and_status_passed_through() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap();
    // While the command runs, the lock file exists (named by the SHA-256 of the path).
    let (code, out, err) = prsdk(&[
        "--sim",
        "--fresh",
        "lock",
        "--key",
        "0x1111",
        "--file-lockspace",
        dir,
        "/dev/mapper/mpatha",
        "--",
        "sh",
        "-c",
        &format!("ls {dir}; exit 42"),
    ]);
    assert_eq!(code, 42, "{err}");
    assert_eq!(out.trim(), MPATHA_SHA256, "{out}");
    assert!(entries(d.path()).is_empty());
}

#[test]
fn file_lock_exclusive_shared_and_signal() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap();
    let disk = "/dev/disk/by-id/not-a-real-disk";
    let lock = |extra: &[&str], cmd: &[&str]| {
        let mut a = vec!["lock", "--file-lockspace", dir];
        a.extend_from_slice(extra);
        a.push(disk);
        a.push("--");
        a.extend_from_slice(cmd);
        a.into_iter().map(str::to_owned).collect::<Vec<String>>()
    };
    let nest = |outer: &[&str], inner: &[&str], cmd: &[&str]| {
        let mut a = lock(outer, &[PRSDK]);
        a.extend(lock(inner, cmd));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        prsdk(&a)
    };
    // Exclusive keeps exclusive and shared out; the inner refusal is the outer status.
    let (code, _, err) = nest(&[], &[], &["true"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("lock is held by another process"), "{err}");
    assert_eq!(nest(&[], &["--shared"], &["true"]).0, 4);
    // Shared with shared; shared keeps exclusive out.
    let (code, out, err) = nest(&["--shared"], &["--shared"], &["echo", "both"]);
    assert_eq!((code, out.as_str()), (0, "both\n"), "{err}");
    assert_eq!(nest(&["--shared"], &[], &["true"]).0, 4);
    // A command killed by a signal: 128 + N.
    let a = lock(&[], &["sh", "-c", "kill -TERM $$"]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    assert_eq!(prsdk(&a).0, 128 + 15);
    // Ctrl-C reaches the whole process group: the holder ignores it while COMMAND runs
    // (here COMMAND sends SIGINT to prsdk itself), lives, releases, passes the status on.
    let a = lock(
        &[],
        &[
            "sh",
            "-c",
            "kill -INT $PPID; kill -QUIT $PPID; sleep 0.1; exit 5",
        ],
    );
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    assert_eq!(prsdk(&a).0, 5);
    assert!(entries(d.path()).is_empty(), "{:?}", entries(d.path()));
    // A command that does not exist: 127, the lock released.
    let a = lock(&[], &["/nonexistent/command"]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    assert_eq!(prsdk(&a).0, 127);
    assert!(entries(d.path()).is_empty(), "{:?}", entries(d.path()));
}

#[test]
fn usage_errors() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap();
    for (args, msg) in [
        (
            vec!["lock", "--file-lockspace", dir, "/dev/x"],
            "no command",
        ),
        (
            vec!["lock", "--file-lockspace", dir, "--", "true"],
            "no disk",
        ),
        (
            vec![
                "lock",
                "--file-lockspace",
                dir,
                "/dev/x",
                "/dev/y",
                "--",
                "true",
            ],
            "one disk",
        ),
        (
            vec![
                "lock",
                "--force",
                "--file-lockspace",
                dir,
                "/dev/x",
                "--",
                "true",
            ],
            "--force needs --key",
        ),
        (
            vec!["lock", "--type", "wr_ex", "/dev/x", "--", "true"],
            "--type does not apply to lock",
        ),
        (vec!["keys", "mpatha", "--", "true"], "applies to lock only"),
        (
            vec![
                "reserve", "--shared", "--key", "1", "--type", "wr_ex", "mpatha",
            ],
            "--shared does not apply to reserve",
        ),
    ] {
        let (code, _, err) = prsdk(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    // A lockspace directory that does not exist: a target error, nothing created.
    let missing = d.path().join("missing");
    let (code, _, err) = prsdk(&[
        "lock",
        "--file-lockspace",
        missing.to_str().unwrap(),
        "/dev/x",
        "--",
        "true",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("lockspace directory does not exist"), "{err}");
    assert!(!missing.exists());
}
