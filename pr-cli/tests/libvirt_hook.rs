//! `prsdk libvirt-hook` driven exactly as libvirt drives `/etc/libvirt/hooks/qemu`: the
//! arguments `qemu DOMAIN OPERATION SUB-OPERATION EXTRA`, the domain XML on standard
//! input, standard output and error captured and read to their end (as libvirt's
//! virCommandRun does: a holder that kept them open would hang these tests). No root, no
//! hardware: image-file disks, lock files in a temporary lockspace (`hold = "both"`
//! without a key: lock files only). The contender checks use pr-lock in this process.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use pr_lock::{DiskLock, DiskLockRequest, Error, LockspaceConfig, Mode, Storage};

const PRSDK: &str = env!("CARGO_BIN_EXE_prsdk");

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    conf: PathBuf,
    state: PathBuf,
    locks: PathBuf,
}

impl Setup {
    /// A configuration with `hold = "both"`, no key, a temporary file lockspace and state
    /// directory; `extra` appended.
    fn new(extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let locks = root.join("lockd/files");
        std::fs::create_dir_all(&locks).unwrap();
        let state = root.join("run/libvirt-hook");
        let conf = root.join("libvirt-hook.conf");
        std::fs::write(
            &conf,
            format!(
                "# test\nhold = \"both\"\nfile_lockspace_dir = \"{}\"\nstate_dir = \"{}\"\nrelease_timeout = 30\n{extra}",
                locks.display(),
                state.display()
            ),
        )
        .unwrap();
        Setup {
            _dir: dir,
            root,
            conf,
            state,
            locks,
        }
    }

    fn image(&self, name: &str) -> String {
        let p = self.root.join(name);
        std::fs::write(&p, b"").unwrap();
        p.to_str().unwrap().to_owned()
    }

    /// Runs the hook as libvirt does; returns (status, stdout, stderr).
    fn hook(&self, args: &[&str], xml: &str) -> (i32, String, String) {
        let mut child = Command::new(PRSDK)
            .arg("libvirt-hook")
            .arg("qemu")
            .args(args)
            .env("PRSDK_LIBVIRT_HOOK_CONF", &self.conf)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(xml.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().expect("an exit status"),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    fn state_files(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(&self.state) else {
            return Vec::new();
        };
        let mut v: Vec<String> = rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn try_lock(&self, disk: &str) -> Result<DiskLock, Error> {
        let lockspace = LockspaceConfig {
            file_dir: Some(self.locks.clone()),
            ..Default::default()
        };
        DiskLock::acquire(
            &DiskLockRequest::new(disk, Mode::Exclusive, lockspace).storage(Storage::None),
        )
    }
}

fn domain_xml(name: &str, disks: &[&str]) -> String {
    let mut devices = String::new();
    for (i, d) in disks.iter().enumerate() {
        devices.push_str(&format!(
            "    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n      <source file='{d}'/>\n      <target dev='vd{}' bus='virtio'/>\n    </disk>\n",
            (b'a' + i as u8) as char
        ));
    }
    format!(
        "<domain type='kvm'>\n  <name>{name}</name>\n  <uuid>0b0e9e4c-8a57-4e55-8f5c-3c1b7a3f0c{:02x}</uuid>\n  <memory unit='KiB'>524288</memory>\n  <os><type arch='x86_64'>hvm</type></os>\n  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n{devices}    <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>\n  </devices>\n</domain>\n",
        name.len()
    )
}

fn alive(pid: i32) -> bool {
    // Gone, or a zombie waiting for init: not alive.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            stat.rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next())
                != Some("Z")
        }
        Err(_) => false,
    }
}

/// Waits (at most 10 s) for `pid` to be gone: its flock is dropped while it exits, a
/// moment before it is a zombie.
fn gone(pid: i32) -> bool {
    for _ in 0..1000 {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

#[test]
fn holds_from_prepare_to_release_and_refuses_a_second_domain() {
    let s = Setup::new("");
    let (a, b) = (s.image("web1-a.qcow2"), s.image("web1-b.qcow2"));
    let xml = domain_xml("web1", &[&a, &b]);

    // Every operation libvirt runs, in order, for `virsh start web1`.
    let (code, out, err) = s.hook(&["web1", "prepare", "begin", "-"], &xml);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    for op in [["start", "begin"], ["started", "begin"]] {
        assert_eq!(
            s.hook(&["web1", op[0], op[1], "-"], &xml),
            (0, String::new(), String::new())
        );
    }
    assert_eq!(s.state_files(), ["web1.pid"]);
    let pid: i32 = std::fs::read_to_string(s.state.join("web1.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid));
    // The holder's lock files are virtlockd's, named by the SHA-256 of each path.
    let mut names: Vec<String> = std::fs::read_dir(&s.locks)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want = vec![
        pr_lock::names::sha256_name(&a),
        pr_lock::names::sha256_name(&b),
    ];
    want.sort();
    assert_eq!(names, want);

    // While it runs, nobody else gets either disk.
    for disk in [&a, &b] {
        match s.try_lock(disk) {
            Err(Error::FileLockBusy { .. }) => {}
            other => panic!("{disk}: {other:?}"),
        }
    }
    // A second domain with the same disk is refused, naming the disk; nothing of it stays.
    let other = s.image("web2.qcow2");
    let xml2 = domain_xml("web2", &[&other, &b]);
    let (code, out, err) = s.hook(&["web2", "prepare", "begin", "-"], &xml2);
    assert_eq!((code, out.as_str()), (4, ""), "{err}");
    assert!(
        err.starts_with("prsdk libvirt-hook: domain web2: disk vdb (")
            && err.contains(&b)
            && err.contains("lock is held by another process")
            && err.contains(&format!(
                "; held by domain web1 (its lock holder, pid {pid})"
            )),
        "{err}"
    );
    assert_eq!(s.state_files(), ["web1.pid"]);
    // web2's first disk was taken and released again (all or nothing).
    s.try_lock(&other).unwrap().release().unwrap();
    // libvirt runs `release end` after a failed start too: no holder for web2, nothing
    // to release, not an error (libvirt would log it as one).
    let (code, out, err) = s.hook(&["web2", "release", "end", "failed"], &xml2);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));

    // `virsh destroy web1`.
    assert_eq!(
        s.hook(&["web1", "stopped", "end", "-"], &xml),
        (0, String::new(), String::new())
    );
    let (code, out, err) = s.hook(&["web1", "release", "end", "destroyed"], &xml);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    assert!(gone(pid), "holder {pid} still runs");
    assert!(s.state_files().is_empty(), "{:?}", s.state_files());
    assert_eq!(std::fs::read_dir(&s.locks).unwrap().count(), 0);
    for disk in [&a, &b] {
        s.try_lock(disk).unwrap().release().unwrap();
    }
    // Started again after the release: held again.
    assert_eq!(s.hook(&["web1", "prepare", "begin", "-"], &xml).0, 0);
    assert_eq!(s.hook(&["web1", "release", "end", "shutdown"], &xml).0, 0);
    assert!(s.state_files().is_empty());
}

#[test]
fn migrate_and_restore_filters_print_nothing() {
    let s = Setup::new("");
    let a = s.image("m.qcow2");
    let xml = domain_xml("m1", &[&a]);
    for op in ["migrate", "restore", "reconnect", "attach"] {
        assert_eq!(
            s.hook(&["m1", op, "begin", "-"], &xml),
            (0, String::new(), String::new()),
            "{op}"
        );
    }
    assert!(s.state_files().is_empty());
}

#[test]
fn a_second_prepare_of_a_running_domain_is_refused() {
    let s = Setup::new("");
    let a = s.image("d.qcow2");
    let xml = domain_xml("d1", &[&a]);
    assert_eq!(s.hook(&["d1", "prepare", "begin", "-"], &xml).0, 0);
    let (code, _, err) = s.hook(&["d1", "prepare", "begin", "-"], &xml);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("already holds this domain's disks"), "{err}");
    assert_eq!(s.hook(&["d1", "release", "end", "-"], &xml).0, 0);
    assert!(s.state_files().is_empty());
}

#[test]
fn clear_errors_and_nothing_left_behind() {
    let s = Setup::new("");
    let a = s.image("e.qcow2");
    // Malformed XML.
    let (code, out, err) = s.hook(&["e1", "prepare", "begin", "-"], "<domain><name>e1</name>");
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with("prsdk libvirt-hook: domain e1: domain XML: not XML"),
        "{err}"
    );
    // The XML of another domain.
    let (code, _, err) = s.hook(&["e1", "prepare", "begin", "-"], &domain_xml("e2", &[&a]));
    assert_eq!(code, 1);
    assert!(err.contains("is domain \"e2\", not this one"), "{err}");
    // A volume disk: lockd would lock it, the hook cannot resolve it.
    let vol = "<domain><name>e1</name><devices><disk type='volume'>\
        <source pool='default' volume='v.qcow2'/><target dev='vda'/></disk></devices></domain>";
    let (code, _, err) = s.hook(&["e1", "prepare", "begin", "-"], vol);
    assert_eq!(code, 2);
    assert!(err.contains("disk vda: type='volume'"), "{err}");
    // Unknown domain on release: nothing held, nothing to do.
    let (code, out, err) = s.hook(&["nosuch", "release", "end", "-"], "");
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    // Bad domain names, unknown drivers, bad configurations.
    assert_eq!(s.hook(&["../x", "prepare", "begin", "-"], "").0, 1);
    assert!(s.state_files().is_empty());
    assert!(std::fs::read_dir(&s.locks).unwrap().next().is_none());

    // A missing lockspace directory: the holder says so and leaves nothing.
    let m = Setup::new("");
    std::fs::remove_dir(&m.locks).unwrap();
    let b = m.image("f.qcow2");
    let (code, _, err) = m.hook(&["f1", "prepare", "begin", "-"], &domain_xml("f1", &[&b]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("disk vda (") && err.contains("lockspace directory does not exist"),
        "{err}"
    );
    assert!(m.state_files().is_empty(), "{:?}", m.state_files());
}

#[test]
fn configuration_errors() {
    for (conf, want) in [
        ("", "no hold ="),
        ("hold = \"reservation\"\n", "needs this host's key"),
        ("hold = \"all\"\n", "hold = \"all\""),
        ("hold = \"both\"\nkey = \"0x0\"\n", "key must not be 0"),
        ("hold = \"both\"\nkey = \"zz\"\n", "key \"zz\""),
        (
            "hold = \"both\"\nfile_lock_decides_liveness = 1\n",
            "needs hold = \"both\" and a key",
        ),
        ("hold = \"both\"\nbogus = 1\n", "unknown setting \"bogus\""),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.conf");
        std::fs::write(&path, conf).unwrap();
        let out = Command::new(PRSDK)
            .args(["libvirt-hook", "--config"])
            .arg(&path)
            .args(["qemu", "x", "prepare", "begin", "-"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{conf:?}: {err}");
        assert!(err.contains(want), "{conf:?}: {err}");
    }
    // No configuration file at all.
    let out = Command::new(PRSDK)
        .args([
            "libvirt-hook",
            "--config",
            "/nonexistent/hook.conf",
            "qemu",
            "x",
            "release",
            "end",
            "-",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("configuration /nonexistent/hook.conf: No such file"),
        "{err}"
    );
    // Not the qemu driver.
    let out = Command::new(PRSDK)
        .args(["libvirt-hook", "lxc", "x", "prepare", "begin", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_killed_holder_is_reported_on_release() {
    let s = Setup::new("");
    let a = s.image("k.qcow2");
    let xml = domain_xml("k1", &[&a]);
    assert_eq!(s.hook(&["k1", "prepare", "begin", "-"], &xml).0, 0);
    let pid: i32 = std::fs::read_to_string(s.state.join("k1.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap()
            .code(),
        Some(0)
    );
    assert!(gone(pid));
    // The kernel dropped its lock file's lock.
    s.try_lock(&a).unwrap().release().unwrap();
    let (code, _, err) = s.hook(&["k1", "release", "end", "crashed"], &xml);
    assert_eq!(code, 7);
    assert!(err.contains("gone without releasing"), "{err}");
    assert!(s.state_files().is_empty());
}

#[test]
fn a_pid_file_naming_another_process_is_not_signalled() {
    let s = Setup::new("");
    let a = s.image("p.qcow2");
    let xml = domain_xml("p1", &[&a]);
    assert_eq!(s.hook(&["p1", "prepare", "begin", "-"], &xml).0, 0);
    let pidfile = s.state.join("p1.pid");
    let real = std::fs::read_to_string(&pidfile).unwrap();
    // Rewrite the (still flock'ed) pid file with this test's own pid.
    std::fs::write(&pidfile, format!("{}\n", std::process::id())).unwrap();
    let (code, _, err) = s.hook(&["p1", "release", "end", "-"], &xml);
    assert_eq!(code, 7);
    assert!(
        err.contains("is not this domain's lock holder; not signalled"),
        "{err}"
    );
    std::fs::write(&pidfile, real).unwrap();
    assert_eq!(s.hook(&["p1", "release", "end", "-"], &xml).0, 0);
    assert!(s.state_files().is_empty());
}
