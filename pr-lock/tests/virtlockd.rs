//! Interop with the real virtlockd (Debian's, package `libvirt-daemon`): virtlockd takes a
//! lock through its RPC (program 0xEA7BEEF, version 1: CREATE_LOCKSPACE, REGISTER,
//! ACQUIRE_RESOURCE, RELEASE_RESOURCE) as libvirt's lockd driver does, and each side must
//! block the other. Needs root (virtlockd's privileged socket) and the daemon: run with
//! `cargo test -p pr-lock --test virtlockd -- --ignored`; it fails, saying why, when it
//! cannot run. It uses a running virtlockd (`/run/libvirt/virtlockd-sock`) or starts one
//! and stops it afterwards.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pr_lock::names::{self, LockspaceConfig, NameKind, Programs};
use pr_lock::{DiskLock, DiskLockRequest, Error, FileLock, Mode, Storage};

const VIRTLOCKD: &str = "/usr/sbin/virtlockd";
const SOCKET: &str = "/run/libvirt/virtlockd-sock";
const PROGRAM: u32 = 0xEA7_BEEF;
const CREATE_LOCKSPACE: u32 = 8;
const REGISTER: u32 = 1;
const ACQUIRE: u32 = 6;
const RELEASE: u32 = 7;
const SHARED: u32 = 1;
const AUTOCREATE: u32 = 2;

/// XDR arguments.
#[derive(Default)]
struct Xdr(Vec<u8>);

impl Xdr {
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn fixed(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn string(mut self, s: &str) -> Self {
        self = self.u32(u32::try_from(s.len()).unwrap());
        self.0.extend_from_slice(s.as_bytes());
        while self.0.len() % 4 != 0 {
            self.0.push(0);
        }
        self
    }
}

struct Client {
    sock: UnixStream,
    serial: u32,
}

impl Client {
    /// One call; `Err(message)` when virtlockd answers with an error.
    fn call(&mut self, procedure: u32, args: Xdr) -> Result<(), String> {
        let header = Xdr::default()
            .u32(PROGRAM)
            .u32(1)
            .u32(procedure)
            .u32(0) // CALL
            .u32(self.serial)
            .u32(0); // OK
        self.serial += 1;
        let len = 4 + header.0.len() + args.0.len();
        let mut msg = Xdr::default().u32(u32::try_from(len).unwrap()).0;
        msg.extend_from_slice(&header.0);
        msg.extend_from_slice(&args.0);
        self.sock.write_all(&msg).unwrap();
        let mut len = [0u8; 4];
        self.sock.read_exact(&mut len).unwrap();
        let mut reply = vec![0u8; usize::try_from(u32::from_be_bytes(len)).unwrap() - 4];
        self.sock.read_exact(&mut reply).unwrap();
        let word = |at: usize| u32::from_be_bytes(reply[at..at + 4].try_into().unwrap());
        assert_eq!(
            (word(0), word(8)),
            (PROGRAM, procedure),
            "reply to another call"
        );
        if word(20) == 0 {
            return Ok(());
        }
        // virNetMessageError: code, domain, then the message as an optional string.
        let body = 24;
        if word(body + 8) == 1 {
            let n = usize::try_from(word(body + 12)).unwrap();
            let text = &reply[body + 16..body + 16 + n];
            return Err(String::from_utf8_lossy(text).into_owned());
        }
        Err(format!("error code {}", word(body)))
    }
}

struct Daemon(Option<Child>);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGTERM first, so that it removes its sockets; SIGKILL after 5 s.
        if let Some(c) = &mut self.0 {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let start = Instant::now();
            while c.try_wait().ok().flatten().is_none() {
                if start.elapsed() > Duration::from_secs(5) {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn connect(tmp: &Path) -> (Daemon, Client) {
    assert!(
        Path::new(VIRTLOCKD).exists(),
        "{VIRTLOCKD} is missing: install Debian's libvirt-daemon (lab/setup.sh does)"
    );
    assert_eq!(
        std::fs::metadata("/proc/self").unwrap().uid(),
        0,
        "virtlockd's privileged socket needs root"
    );
    let mut daemon = Daemon(None);
    if UnixStream::connect(SOCKET).is_err() {
        let conf = tmp.join("virtlockd.conf");
        std::fs::write(&conf, b"").unwrap();
        let child = Command::new(VIRTLOCKD)
            .arg("-f")
            .arg(&conf)
            .arg("-p")
            .arg(tmp.join("virtlockd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        daemon.0 = Some(child);
    }
    let start = Instant::now();
    loop {
        match UnixStream::connect(SOCKET) {
            Ok(sock) => {
                return (daemon, Client { sock, serial: 1 });
            }
            Err(e) if start.elapsed() < Duration::from_secs(20) => {
                if let Some(c) = &mut daemon.0 {
                    assert!(
                        c.try_wait().unwrap().is_none(),
                        "virtlockd exited at start ({e})"
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("{SOCKET}: virtlockd does not answer: {e}"),
        }
    }
}

#[test]
#[ignore = "needs root and Debian's virtlockd (package libvirt-daemon): run with --ignored"]
fn host_only_virtlockd_and_pr_lock_block_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    let (_daemon, mut vl) = connect(tmp.path());
    // The "VM": the lock owner virtlockd records. Not this process: virtlockd kills a
    // client that is its own owner and disconnects while holding leases.
    let mut vm = Command::new("sleep").arg("600").spawn().unwrap();

    let dir = tmp.path().join("lockd/files");
    vl.call(
        CREATE_LOCKSPACE,
        Xdr::default().string(dir.to_str().unwrap()),
    )
    .unwrap();
    // virtlockd made the lockspace directory as create_lockspace_dir does: 0700.
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o077, 0, "{mode:o}");
    let owner = Xdr::default()
        .fixed(&[0x5a; 16])
        .string("pr-lock-interop")
        .u32(1)
        .u32(vm.id())
        .u32(0);
    vl.call(REGISTER, owner).unwrap();

    let disk = "/var/lib/libvirt/images/interop.img";
    let lockspace = LockspaceConfig {
        file_dir: Some(dir.clone()),
        ..LockspaceConfig::default()
    };
    let resource = names::resolve(disk, &lockspace, &Programs::default()).unwrap();
    assert_eq!(resource.kind, NameKind::Sha256);
    let name = resource.name.clone();
    let acquire = |flags: u32| {
        Xdr::default()
            .string(dir.to_str().unwrap())
            .string(&name)
            .u32(flags)
    };
    let release = || {
        Xdr::default()
            .string(dir.to_str().unwrap())
            .string(&name)
            .u32(0)
    };

    // 1. virtlockd holds it exclusively (as libvirt asks for a read-write disk): ours fails,
    //    shared or exclusive, through FileLock and through DiskLock.
    vl.call(ACQUIRE, acquire(AUTOCREATE)).unwrap();
    assert!(resource.path().exists());
    for mode in [Mode::Exclusive, Mode::Shared] {
        let e = FileLock::acquire(&resource, mode).unwrap_err();
        assert!(matches!(e, Error::FileLockBusy { .. }), "{e}");
    }
    let req = DiskLockRequest::new(disk, Mode::Exclusive, lockspace.clone()).storage(Storage::None);
    let e = DiskLock::acquire(&req).unwrap_err();
    assert!(
        e.to_string().contains("lock is held by another process"),
        "{e}"
    );
    vl.call(RELEASE, release()).unwrap();
    assert!(!resource.path().exists(), "virtlockd unlinks on release");

    // 2. Ours holds it exclusively: virtlockd's acquire fails with its lock error, in
    //    either mode.
    let ours = DiskLock::acquire(&req).unwrap();
    for flags in [AUTOCREATE, AUTOCREATE | SHARED] {
        let e = vl.call(ACQUIRE, acquire(flags)).unwrap_err();
        assert!(e.contains("is locked"), "virtlockd said: {e}");
    }
    ours.release().unwrap();
    assert!(!resource.path().exists());

    // 3. Shared with shared (libvirt's <shareable/>): both hold; the first to release
    //    leaves the file (its upgrade fails), the last unlinks it.
    let ours = FileLock::acquire(&resource, Mode::Shared).unwrap();
    vl.call(ACQUIRE, acquire(AUTOCREATE | SHARED)).unwrap();
    let e = FileLock::acquire(&resource, Mode::Exclusive).unwrap_err();
    assert!(matches!(e, Error::HeldByThisProcess { .. }), "{e}");
    ours.release().unwrap();
    assert!(resource.path().exists(), "virtlockd still holds it shared");
    let e = FileLock::acquire(&resource, Mode::Exclusive).unwrap_err();
    assert!(matches!(e, Error::FileLockBusy { .. }), "{e}");
    vl.call(RELEASE, release()).unwrap();
    assert!(
        !resource.path().exists(),
        "the last sharer (virtlockd) unlinks"
    );

    // 4. Ours again, after virtlockd unlinked: the inode check finds the new file.
    let again = FileLock::acquire(&resource, Mode::Exclusive).unwrap();
    again.release().unwrap();

    let _ = vm.kill();
    let _ = vm.wait();
}
