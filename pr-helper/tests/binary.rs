//! The `pr-helper` binary: its command line, a run on a socket (pidfile, capabilities,
//! SIGTERM, the socket removed), and systemd socket activation through
//! `systemd-socket-activate` (the test fails, saying so, when that tool is missing).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pr_helper::BlockingClient;
use pr_helper::client::pr_in_cdb;

const BIN: &str = env!("CARGO_BIN_EXE_pr-helper");

/// Waits until `path` accepts connections: the socket file appears at bind(2), before
/// listen(2), so its mere existence is not enough on a busy machine.
fn wait_for(path: &Path, child: &mut Child) {
    let until = Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect(path).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("pr-helper exited early: {status}");
        }
        assert!(Instant::now() < until, "{} never accepted", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child killed when the test ends, failed or not, so that a failing test leaks no
/// daemon (one holding the test's standard error would also hold up whoever reads it).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl std::ops::Deref for Reaped {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < until, "pr-helper did not exit on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_keys_on_dev_null(socket: &Path) -> (u8, Option<(u8, u8, u8)>) {
    let mut c = BlockingClient::connect(socket).unwrap();
    let dev = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .unwrap();
    let r = c.call(&dev, &pr_in_cdb(0, 8192), &[]).unwrap();
    (r.status(), r.sense_key_asc_ascq())
}

#[test]
fn the_command_line_is_qemu_pr_helpers() {
    let out = Command::new(BIN).arg("-h").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--socket",
        "--pidfile",
        "--daemon",
        "--user",
        "--group",
        "--trace",
    ] {
        assert!(help.contains(opt), "{opt} missing from --help");
    }
    assert!(help.contains("/var/run/qemu-pr-helper.sock"));
    let out = Command::new(BIN).arg("-V").output().unwrap();
    assert!(out.status.success());
    let out = Command::new(BIN)
        .args(["-k", "relative.sock"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("socket path must be absolute"));
    let out = Command::new(BIN).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--help"));
}

#[test]
fn it_serves_drops_privileges_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("s.sock");
    let pidfile = dir.path().join("pid");
    let mut child = Reaped(
        Command::new(BIN)
            .arg("-k")
            .arg(&socket)
            .arg("-f")
            .arg(&pidfile)
            .arg("--timeout=5")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(&socket, &mut child);
    assert_eq!(
        read_keys_on_dev_null(&socket),
        (0x02, Some((0x0b, 0x00, 0x06)))
    );
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    assert_eq!(pid.trim(), child.id().to_string());
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let cap = |name: &str| -> u64 {
        let v = status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim();
        u64::from_str_radix(v, 16).unwrap()
    };
    let root = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .is_some_and(|u| u.split_whitespace().nth(1) == Some("0"));
    if root {
        // CAP_SYS_RAWIO (17) and CAP_SYS_ADMIN (21), nothing else.
        assert_eq!(cap("CapEff:"), (1 << 17) | (1 << 21));
        assert_eq!(cap("CapPrm:"), (1 << 17) | (1 << 21));
        assert_eq!(cap("CapBnd:"), (1 << 17) | (1 << 21));
    }
    let s = terminate(&mut child);
    assert!(s.success(), "{s}");
    assert!(!socket.exists(), "socket left behind");
    assert!(pidfile.exists(), "the pidfile stays, as qemu-pr-helper's");
}

fn socket_activate() -> Option<PathBuf> {
    [
        "/usr/bin/systemd-socket-activate",
        "/bin/systemd-socket-activate",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

#[test]
fn systemd_socket_activation() {
    let Some(activate) = socket_activate() else {
        panic!(
            "systemd-socket-activate is not installed (package systemd): cannot test socket activation"
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("act.sock");
    let mut child = Reaped(
        Command::new(activate)
            .arg("-l")
            .arg(&socket)
            .arg(BIN)
            .arg("--timeout=5")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(&socket, &mut child);
    assert_eq!(
        read_keys_on_dev_null(&socket),
        (0x02, Some((0x0b, 0x00, 0x06)))
    );
    // systemd-socket-activate exec()s pr-helper in its own process.
    let s = terminate(&mut child);
    assert!(s.success(), "{s}");
    // `-k` with socket activation is refused, as qemu-pr-helper refuses it.
    let socket2 = dir.path().join("act2.sock");
    let mut child = Command::new(socket_activate().unwrap())
        .arg("-l")
        .arg(&socket2)
        .arg(BIN)
        .arg("-k")
        .arg(dir.path().join("other.sock"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&socket2, &mut child);
    let _ = std::os::unix::net::UnixStream::connect(&socket2);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("socket activation"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
