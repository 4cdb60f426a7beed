//! File locks across processes. POSIX record locks belong to the process, so every
//! contender is a child process: this test binary run again with `PR_LOCK_CHILD` set,
//! executing only `child_entry`, which takes a lock, says what happened on standard
//! output, and holds the lock until told to stop.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use pr_lock::names::{NameKind, Resource};
use pr_lock::{Error, FileLock, Mode, create_lockspace_dir};

const CHILD: &str = "PR_LOCK_CHILD";

/// In a child: `DIR NAME MODE GO STOP` in `PR_LOCK_CHILD`. Waits for the file GO, tries
/// the lock, prints `RESULT won` or `RESULT busy ...` / `RESULT error ...`, and if it won,
/// holds it until the file STOP exists, then releases and prints `RESULT released`.
#[test]
fn child_entry() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let parts: Vec<&str> = spec.split('\t').collect();
    let [dir, name, mode, go, stop] = parts[..] else {
        panic!("bad {CHILD}: {spec:?}");
    };
    let mode = if mode == "shared" {
        Mode::Shared
    } else {
        Mode::Exclusive
    };
    let resource = Resource {
        dir: Some(dir.into()),
        name: name.into(),
        kind: NameKind::Sha256,
    };
    while !Path::new(go).exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let out = std::io::stdout();
    match FileLock::acquire(&resource, mode) {
        Ok(lock) => {
            writeln!(out.lock(), "RESULT won").unwrap();
            out.lock().flush().unwrap();
            while !Path::new(stop).exists() {
                std::thread::sleep(Duration::from_millis(2));
            }
            lock.release().unwrap();
            writeln!(out.lock(), "RESULT released").unwrap();
        }
        Err(e @ Error::FileLockBusy { .. }) => writeln!(out.lock(), "RESULT busy {e}").unwrap(),
        Err(e) => writeln!(out.lock(), "RESULT error {e}").unwrap(),
    }
    out.lock().flush().unwrap();
}

struct Contender {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Contender {
    fn spawn(dir: &Path, name: &str, mode: &str, go: &Path, stop: &Path) -> Contender {
        Self::spawn_as(dir, name, mode, go, stop, None)
    }

    /// As [`spawn`](Self::spawn), as user and group `as_user` when given, running
    /// `exe` (a copy of this binary that user can run) instead of this binary.
    fn spawn_as(
        dir: &Path,
        name: &str,
        mode: &str,
        go: &Path,
        stop: &Path,
        as_user: Option<(u32, &Path)>,
    ) -> Contender {
        let spec = format!(
            "{}\t{name}\t{mode}\t{}\t{}",
            dir.display(),
            go.display(),
            stop.display()
        );
        let exe = match as_user {
            Some((_, exe)) => exe.to_owned(),
            None => std::env::current_exe().unwrap(),
        };
        let mut cmd = Command::new(exe);
        cmd.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
            .env(CHILD, spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some((uid, _)) = as_user {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(uid);
        }
        // A copy just written may be "busy" for a moment: another test thread's fork can
        // hold its write descriptor until that child execs.
        let mut tries = 0;
        let mut child = loop {
            match cmd.spawn() {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                r => break r.unwrap(),
            }
        };
        let out = BufReader::new(child.stdout.take().unwrap());
        Contender { child, out }
    }

    /// The next `RESULT` line, without the prefix.
    fn result(&mut self) -> String {
        let mut line = String::new();
        let mut seen = String::new();
        loop {
            line.clear();
            assert!(
                self.out.read_line(&mut line).unwrap() > 0,
                "child ended without a result; it printed {seen:?}"
            );
            seen.push_str(&line);
            // The harness prints "test child_entry ... " before the first line.
            if let Some(at) = line.find("RESULT ") {
                return line[at + 7..].trim_end().to_owned();
            }
        }
    }

    fn finish(mut self) {
        assert!(self.child.wait().unwrap().success());
    }
}

struct Scene {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    go: PathBuf,
    stop: PathBuf,
}

fn scene() -> Scene {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lockd/files");
    create_lockspace_dir(&dir).unwrap();
    Scene {
        go: tmp.path().join("go"),
        stop: tmp.path().join("stop"),
        dir,
        _tmp: tmp,
    }
}

const NAME: &str = "c82d6ed601881ec10942753ab2cfa1b5eb12354b60c9b90fb557dfd211272fad";

#[test]
fn of_processes_racing_for_an_exclusive_lock_exactly_one_wins() {
    for round in 0..5 {
        let s = scene();
        let mut cs: Vec<Contender> = (0..6)
            .map(|_| Contender::spawn(&s.dir, NAME, "exclusive", &s.go, &s.stop))
            .collect();
        std::fs::write(&s.go, b"").unwrap();
        let results: Vec<String> = cs.iter_mut().map(Contender::result).collect();
        let won = results.iter().filter(|r| *r == "won").count();
        let busy = results.iter().filter(|r| r.starts_with("busy")).count();
        assert_eq!((won, busy), (1, 5), "round {round}: {results:#?}");
        let busy_text = results.iter().find(|r| r.starts_with("busy")).unwrap();
        assert!(
            busy_text.contains("lock is held by another process (exclusive lock refused"),
            "{busy_text}"
        );
        assert!(s.dir.join(NAME).exists());
        std::fs::write(&s.stop, b"").unwrap();
        for (mut c, r) in cs.into_iter().zip(&results) {
            if r == "won" {
                assert_eq!(c.result(), "released");
            }
            c.finish();
        }
        // The winner unlinked the file on release; nobody else created one.
        assert_eq!(std::fs::read_dir(&s.dir).unwrap().count(), 0);
    }
}

#[test]
fn shared_locks_coexist_and_keep_an_exclusive_one_out() {
    let s = scene();
    // One stop file each: sharers released together may all fail to upgrade while the
    // others still hold, and then leave the file (virtlockd does the same; harmless).
    let stops: Vec<PathBuf> = (0..3)
        .map(|i| s.stop.with_extension(format!("{i}")))
        .collect();
    let mut sharers: Vec<Contender> = stops
        .iter()
        .map(|stop| Contender::spawn(&s.dir, NAME, "shared", &s.go, stop))
        .collect();
    std::fs::write(&s.go, b"").unwrap();
    for c in &mut sharers {
        assert_eq!(c.result(), "won");
    }
    let mut excl = Contender::spawn(&s.dir, NAME, "exclusive", &s.go, &s.stop);
    let r = excl.result();
    assert!(r.starts_with("busy"), "{r}");
    excl.finish();
    // In this process too: a shared lock is granted, an exclusive one refused.
    let res = Resource {
        dir: Some(s.dir.clone()),
        name: NAME.into(),
        kind: NameKind::Sha256,
    };
    let e = FileLock::acquire(&res, Mode::Exclusive).unwrap_err();
    assert!(matches!(e, Error::FileLockBusy { .. }), "{e}");
    let mine = FileLock::acquire(&res, Mode::Shared).unwrap();
    // Releasing one shared lock while others hold it leaves the file (the upgrade to
    // exclusive fails, so it is not unlinked).
    mine.release().unwrap();
    assert!(s.dir.join(NAME).exists());
    for (i, (mut c, stop)) in sharers.into_iter().zip(&stops).enumerate() {
        std::fs::write(stop, b"").unwrap();
        assert_eq!(c.result(), "released");
        c.finish();
        // Only the last sharer's upgrade succeeds, and only it unlinks the file.
        assert_eq!(s.dir.join(NAME).exists(), i < 2, "after sharer {i}");
    }
}

#[test]
fn an_exclusive_lock_keeps_a_shared_one_out_and_release_lets_it_in() {
    let s = scene();
    let res = Resource {
        dir: Some(s.dir.clone()),
        name: NAME.into(),
        kind: NameKind::Sha256,
    };
    let held = FileLock::acquire(&res, Mode::Exclusive).unwrap();
    let path = held.path().to_owned();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600 & !umask());
    std::fs::write(&s.go, b"").unwrap();
    let mut c = Contender::spawn(&s.dir, NAME, "shared", &s.go, &s.stop);
    assert!(c.result().starts_with("busy"));
    c.finish();
    held.release().unwrap();
    assert!(
        !path.exists(),
        "an exclusive holder unlinks its AUTOCREATE file"
    );
    let mut c = Contender::spawn(&s.dir, NAME, "shared", &s.go, &s.stop);
    assert_eq!(c.result(), "won");
    std::fs::write(&s.stop, b"").unwrap();
    assert_eq!(c.result(), "released");
    c.finish();
}

fn umask() -> u32 {
    // The process umask, read without changing it for long: set and restore.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    nix::sys::stat::umask(old);
    old.bits()
}

#[test]
fn a_second_lock_of_the_same_process_is_refused_and_the_first_survives() {
    let s = scene();
    let res = Resource {
        dir: Some(s.dir.clone()),
        name: NAME.into(),
        kind: NameKind::Sha256,
    };
    let first = FileLock::acquire(&res, Mode::Exclusive).unwrap();
    for mode in [Mode::Exclusive, Mode::Shared] {
        let e = FileLock::acquire(&res, mode).unwrap_err();
        assert!(matches!(e, Error::HeldByThisProcess { .. }), "{e}");
    }
    // The refused attempts closed no descriptor of the file: the lock still keeps other
    // processes out.
    std::fs::write(&s.go, b"").unwrap();
    let mut c = Contender::spawn(&s.dir, NAME, "shared", &s.go, &s.stop);
    assert!(c.result().starts_with("busy"));
    c.finish();
    first.release().unwrap();
}

#[test]
fn a_missing_lockspace_directory_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("no/such/dir");
    let res = Resource {
        dir: Some(dir.clone()),
        name: NAME.into(),
        kind: NameKind::Sha256,
    };
    let e = FileLock::acquire(&res, Mode::Exclusive).unwrap_err();
    assert!(matches!(e, Error::NoLockspace { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!("{}: lockspace directory does not exist", dir.display())
    );
    assert!(!dir.exists(), "nothing created");
    // A file where the directory should be.
    let f = tmp.path().join("file");
    std::fs::write(&f, b"").unwrap();
    let e = FileLock::acquire(
        &Resource {
            dir: Some(f.clone()),
            ..res.clone()
        },
        Mode::Exclusive,
    )
    .unwrap_err();
    assert!(matches!(e, Error::NotADirectory { .. }), "{e}");
    assert!(create_lockspace_dir(&f).is_err());
    // create_lockspace_dir makes it as virtlockd does: 0700, parents included.
    create_lockspace_dir(&dir).unwrap();
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700 & !umask());
    let lock = FileLock::acquire(&res, Mode::Exclusive).unwrap();
    lock.release().unwrap();
}

#[test]
fn a_lockspace_directory_that_is_not_writable_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = tmp.path().join("ro");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let go = tmp.path().join("go");
    std::fs::write(&go, b"").unwrap();
    let stop = tmp.path().join("stop");
    std::fs::write(&stop, b"").unwrap();
    // Root (CAP_DAC_OVERRIDE) ignores the mode bits: run the contender as nobody then.
    let probe = dir.join("probe");
    let privileged = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    // The build directory may not be reachable by nobody (a checkout under /root): run
    // a copy of this binary from the 0755 temporary directory.
    let exe = tmp.path().join("child");
    if privileged {
        std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let as_user = privileged.then_some((65534, exe.as_path()));
    let mut c = Contender::spawn_as(&dir, NAME, "exclusive", &go, &stop, as_user);
    let r = c.result();
    assert!(
        r.starts_with(&format!(
            "error {}: open/create lock file: Permission denied",
            dir.join(NAME).display()
        )),
        "{r}"
    );
    c.finish();
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
fn a_direct_lease_never_creates_the_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = tmp.path().join("missing.img");
    let res = Resource {
        dir: None,
        name: disk.to_string_lossy().into_owned(),
        kind: NameKind::Direct,
    };
    let e = FileLock::acquire(&res, Mode::Exclusive).unwrap_err();
    assert!(
        e.to_string().contains("open lock file: No such file"),
        "{e}"
    );
    assert!(!disk.exists());
    std::fs::write(&disk, b"data").unwrap();
    let lock = FileLock::acquire(&res, Mode::Exclusive).unwrap();
    lock.release().unwrap();
    assert_eq!(
        std::fs::read(&disk).unwrap(),
        b"data",
        "a direct lease is never unlinked"
    );
}
