//! Real libvirt in the lab guest, for lab tests: writes libvirt's configuration into the
//! guest (whose root is a throw-away overlay), starts virtlockd and libvirtd directly (the
//! guest has no systemd), runs transient QEMU domains with `virsh create`, and stops
//! everything when dropped (domains destroyed first, then libvirtd, then virtlockd).
//!
//! Refuses to run outside the lab guest: it overwrites `/etc/libvirt/qemu.conf`,
//! `qemu-lockd.conf`, `libvirtd.conf` and `virtlockd.conf`, which only the guest's overlay
//! may lose. Every failure panics saying why (with the daemons' log tails).
//!
//! ```ignore
//! let lab = Libvirt::start(&LibvirtConfig::lockd());
//! let image = lab.image("disk0.img", 1 << 20);
//! let xml = lab.domain_xml("vm1", &DomainDisk::File(image));
//! lab.create("vm1", &xml).expect("libvirt starts the domain");
//! lab.destroy("vm1");
//! ```
//!
//! Configuration written (see [`Libvirt::start`]): `qemu.conf` with `user`/`group` root,
//! `dynamic_ownership = 0`, `remember_owner = 0`, `security_driver = "none"`,
//! `cgroup_controllers = [ ]`, `namespaces = [ ]`, `stdio_handler = "file"` (no virtlogd)
//! and, with [`LibvirtConfig::lock_manager`], `lock_manager = "lockd"`; `qemu-lockd.conf`
//! with `auto_disk_leases = 1`, `require_lease_for_disks = 1`, `file_lockspace_dir` and
//! `scsi_lockspace_dir` in this run's temporary directory; `libvirtd.conf` with no
//! authentication on the UNIX sockets (root only) and a log file.

use std::cell::RefCell;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use pr_lock::LockspaceConfig;

/// libvirtd (package libvirt-daemon on Debian 12 and sid).
pub(crate) const LIBVIRTD: &str = "/usr/sbin/libvirtd";
/// virtlockd (libvirt-daemon on Debian 12, libvirt-daemon-lock on sid).
pub(crate) const VIRTLOCKD: &str = "/usr/sbin/virtlockd";
/// virsh (libvirt-clients).
pub(crate) const VIRSH: &str = "/usr/bin/virsh";
/// The QEMU the domains run under (qemu-system-x86).
pub(crate) const QEMU: &str = "/usr/bin/qemu-system-x86_64";
/// The connection URI.
pub(crate) const URI: &str = "qemu:///system";
/// libvirtd's read-write socket.
pub(crate) const LIBVIRT_SOCK: &str = "/run/libvirt/libvirt-sock";
/// virtlockd's socket.
pub(crate) const VIRTLOCKD_SOCK: &str = "/run/libvirt/virtlockd-sock";
/// Where libvirtd looks for its qemu hook script.
pub(crate) const QEMU_HOOK: &str = "/etc/libvirt/hooks/qemu";

/// The lockd driver's plugin: Debian 12 ships it in libvirt-daemon, sid in
/// libvirt-daemon-plugin-lockd.
const LOCKD_PLUGIN: &str = "/usr/lib/x86_64-linux-gnu/libvirt/lock-driver/lockd.so";
/// The QEMU connection driver (libvirt-daemon-driver-qemu).
const QEMU_DRIVER: &str =
    "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so";

/// How long libvirtd may take to answer its first call (its QEMU driver's start, which
/// under TCG-in-TCG may include probing QEMU) and one `virsh` call may take.
const DAEMON_LIMIT: Duration = Duration::from_secs(600);

/// What to configure.
#[derive(Clone, Debug, Default)]
pub(crate) struct LibvirtConfig {
    /// `lock_manager` in `qemu.conf` (`Some("lockd")`), or none.
    pub(crate) lock_manager: Option<String>,
    /// Extra lines appended to `qemu.conf`.
    pub(crate) qemu_conf_extra: String,
    /// A script installed as libvirt's qemu hook (`/etc/libvirt/hooks/qemu`, mode 0755)
    /// before libvirtd starts.
    pub(crate) qemu_hook: Option<PathBuf>,
}

impl LibvirtConfig {
    /// libvirt's lockd lock manager (virtlockd), with automatic disk leases required.
    pub(crate) fn lockd() -> Self {
        LibvirtConfig {
            lock_manager: Some("lockd".into()),
            ..Default::default()
        }
    }
}

/// A domain's one disk.
#[derive(Clone, Debug)]
pub(crate) enum DomainDisk {
    /// A block device (`<disk type='block'>`), e.g. `/dev/mapper/mpatha`.
    Block(PathBuf),
    /// An image file (`<disk type='file'>`, raw).
    File(PathBuf),
}

impl DomainDisk {
    /// The path as the domain XML names it (it names the lock file).
    pub(crate) fn path(&self) -> &Path {
        match self {
            DomainDisk::Block(p) | DomainDisk::File(p) => p,
        }
    }
}

/// How long things took (for the test's report; never asserted).
#[derive(Clone, Debug, Default)]
pub(crate) struct Timings {
    /// virtlockd's socket answered after this.
    pub(crate) virtlockd_ready: Duration,
    /// libvirtd answered its first call (`virsh version`) after this: its drivers'
    /// start, which includes libvirt's QEMU capability probe (measured: 10.6 s of it on
    /// Debian 12's libvirt 9.0 under TCG-in-TCG).
    pub(crate) libvirtd_ready: Duration,
    /// `virsh domcapabilities` for [`QEMU`] (libvirt's QEMU capability probe when the
    /// driver's start has not done it; then only the cache lookup).
    pub(crate) probe: Duration,
}

/// A child daemon, ended on drop (SIGTERM, SIGKILL after 10 s).
struct Daemon {
    name: &'static str,
    child: Option<Child>,
}

impl Daemon {
    fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let start = Instant::now();
        while c.try_wait().ok().flatten().is_none() {
            if start.elapsed() > Duration::from_secs(10) {
                eprintln!(
                    "libvirt lab: {} ignored SIGTERM for 10 s: killed",
                    self.name
                );
                let _ = c.kill();
                let _ = c.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// libvirt running in the lab guest: virtlockd and libvirtd started by [`Libvirt::start`],
/// stopped (after destroying the domains [`create`](Libvirt::create) started) on drop.
pub(crate) struct Libvirt {
    dir: tempfile::TempDir,
    lockspace: LockspaceConfig,
    timings: Timings,
    domains: RefCell<Vec<String>>,
    // Field order is drop order: libvirtd before virtlockd.
    libvirtd: Daemon,
    virtlockd: Daemon,
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("{}: cannot create: {e}", parent.display()));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: cannot write: {e}", path.display()));
}

/// Panics unless this is the lab guest, as root, with libvirt installed.
fn check_environment() {
    let topology = pr_lab_support::need("LAB_TOPOLOGY");
    assert!(
        topology.starts_with("/run/lab/") && Path::new(&topology).exists(),
        "LAB_TOPOLOGY={topology} is not the lab guest's /run/lab/topology.sh: this test \
         rewrites /etc/libvirt and must run in the lab guest only (lab/test.sh)"
    );
    assert_eq!(
        std::fs::metadata("/proc/self").map(|m| m.uid()).ok(),
        Some(0),
        "libvirt's system daemons need root"
    );
    let stack = std::env::var("LAB_STACK").unwrap_or_else(|_| "debian12".into());
    for (file, package) in [
        (LIBVIRTD, "libvirt-daemon"),
        (
            VIRTLOCKD,
            "libvirt-daemon (Debian 12) / libvirt-daemon-lock (sid)",
        ),
        (VIRSH, "libvirt-clients"),
        (QEMU_DRIVER, "libvirt-daemon-driver-qemu"),
        (
            LOCKD_PLUGIN,
            "libvirt-daemon (Debian 12) / libvirt-daemon-plugin-lockd (sid)",
        ),
        (QEMU, "qemu-system-x86"),
    ] {
        assert!(
            Path::new(file).exists(),
            "{file} is missing on the {stack} stack: install {package} (lab/setup.sh on \
             Debian 12, lab/stack/sid.packages on sid)"
        );
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| format!("({e})"));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Libvirt {
    /// Writes the configuration, starts virtlockd, then libvirtd, and waits until libvirtd
    /// answers; then measures libvirt's QEMU capability probe (`virsh domcapabilities`).
    /// Panics saying why when anything is missing or fails.
    pub(crate) fn start(config: &LibvirtConfig) -> Libvirt {
        check_environment();
        for sock in [LIBVIRT_SOCK, VIRTLOCKD_SOCK] {
            assert!(
                UnixStream::connect(sock).is_err(),
                "{sock} answers already: another libvirt daemon runs in this guest"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("pr-lock-libvirt.")
            .tempdir()
            .expect("temporary directory");
        let d = dir.path();
        let lockspace = LockspaceConfig {
            file_dir: Some(d.join("lockd/files")),
            scsi_dir: Some(d.join("lockd/scsi")),
            lvm_dir: None,
        };
        let mut qemu_conf = String::from(
            "# written by pr-lock's lab tests (tests/common/libvirt.rs)\n\
             user = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\nremember_owner = 0\n\
             security_driver = \"none\"\ncgroup_controllers = [ ]\nnamespaces = [ ]\n\
             stdio_handler = \"file\"\n",
        );
        if let Some(m) = &config.lock_manager {
            qemu_conf.push_str(&format!("lock_manager = \"{m}\"\n"));
        }
        qemu_conf.push_str(&config.qemu_conf_extra);
        qemu_conf.push('\n');
        write(Path::new("/etc/libvirt/qemu.conf"), &qemu_conf);
        write(
            Path::new("/etc/libvirt/qemu-lockd.conf"),
            &format!(
                "auto_disk_leases = 1\nrequire_lease_for_disks = 1\n\
                 file_lockspace_dir = \"{}\"\nscsi_lockspace_dir = \"{}\"\n",
                d.join("lockd/files").display(),
                d.join("lockd/scsi").display()
            ),
        );
        let libvirtd_conf = d.join("libvirtd.conf");
        write(
            &libvirtd_conf,
            &format!(
                "unix_sock_group = \"root\"\nunix_sock_ro_perms = \"0700\"\n\
                 unix_sock_rw_perms = \"0700\"\nauth_unix_ro = \"none\"\nauth_unix_rw = \"none\"\n\
                 log_outputs = \"3:file:{}\"\n",
                d.join("libvirtd.log").display()
            ),
        );
        let virtlockd_conf = d.join("virtlockd.conf");
        write(
            &virtlockd_conf,
            &format!(
                "log_outputs = \"3:file:{}\"\n",
                d.join("virtlockd.log").display()
            ),
        );
        // The host's network driver would autostart its default network (dnsmasq,
        // firewall): not wanted here, and slow. Only the guest's overlay loses the link.
        let _ = std::fs::remove_file("/etc/libvirt/qemu/networks/autostart/default.xml");
        if let Some(hook) = &config.qemu_hook {
            let dest = Path::new(QEMU_HOOK);
            std::fs::create_dir_all(dest.parent().unwrap()).expect("/etc/libvirt/hooks");
            std::fs::copy(hook, dest)
                .unwrap_or_else(|e| panic!("{} -> {QEMU_HOOK}: {e}", hook.display()));
            std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755))
                .expect("chmod the hook");
        }
        // A capability cache left in the root by a libvirtd that ran on the host would
        // spare the probe: every run probes, as on a fresh machine.
        let _ = std::fs::remove_dir_all("/var/cache/libvirt/qemu/capabilities");
        for dir in [
            "/run/libvirt",
            "/var/log/libvirt/qemu",
            "/var/lib/libvirt/qemu",
            "/var/cache/libvirt/qemu",
        ] {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
        }

        let spawn = |program: &str, conf: &Path, name: &str| -> Child {
            let log = std::fs::File::create(d.join(format!("{name}.stderr"))).expect("log file");
            Command::new(program)
                .arg("-f")
                .arg(conf)
                .arg("-p")
                .arg(d.join(format!("{name}.pid")))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {program}: {e}"))
        };

        let t0 = Instant::now();
        let mut virtlockd = Daemon {
            name: "virtlockd",
            child: Some(spawn(VIRTLOCKD, &virtlockd_conf, "virtlockd")),
        };
        loop {
            if UnixStream::connect(VIRTLOCKD_SOCK).is_ok() {
                break;
            }
            if let Some(st) = virtlockd.exited() {
                panic!(
                    "virtlockd exited at start ({st}):\n{}\n{}",
                    tail(&d.join("virtlockd.stderr"), 20),
                    tail(&d.join("virtlockd.log"), 20)
                );
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "{VIRTLOCKD_SOCK}: virtlockd does not answer after 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let virtlockd_ready = t0.elapsed();

        let t0 = Instant::now();
        let libvirtd = Daemon {
            name: "libvirtd",
            child: Some(spawn(LIBVIRTD, &libvirtd_conf, "libvirtd")),
        };
        let mut lab = Libvirt {
            dir,
            lockspace,
            timings: Timings {
                virtlockd_ready,
                ..Default::default()
            },
            domains: RefCell::new(Vec::new()),
            libvirtd,
            virtlockd,
        };
        loop {
            if UnixStream::connect(LIBVIRT_SOCK).is_ok() {
                break;
            }
            if let Some(st) = lab.libvirtd.exited() {
                panic!("libvirtd exited at start ({st}):\n{}", lab.logs());
            }
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "{LIBVIRT_SOCK}: libvirtd made no socket in 120 s:\n{}",
                lab.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = lab.virsh(&["version"]);
        assert!(
            out.status.success(),
            "libvirtd does not answer `virsh version`:\n{}\n{}",
            text(&out),
            lab.logs()
        );
        lab.timings.libvirtd_ready = t0.elapsed();
        eprintln!(
            "libvirt lab: virtlockd ready in {:.1} s, libvirtd in {:.1} s\n{}",
            virtlockd_ready.as_secs_f64(),
            lab.timings.libvirtd_ready.as_secs_f64(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
        let t0 = Instant::now();
        let out = lab.virsh(&[
            "domcapabilities",
            "--virttype",
            "qemu",
            "--emulatorbin",
            QEMU,
            "--arch",
            "x86_64",
        ]);
        assert!(
            out.status.success(),
            "libvirt cannot probe {QEMU}:\n{}\n{}",
            text(&out),
            lab.logs()
        );
        lab.timings.probe = t0.elapsed();
        eprintln!(
            "libvirt lab: QEMU capabilities (virsh domcapabilities) in {:.1} s",
            lab.timings.probe.as_secs_f64()
        );
        lab
    }

    /// The lockspace directories written to `qemu-lockd.conf` (virtlockd creates them).
    pub(crate) fn lockspace(&self) -> LockspaceConfig {
        self.lockspace.clone()
    }

    /// This run's temporary directory (lockspaces, logs, images); removed on drop.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// How long the daemons took to start, and the QEMU probe.
    pub(crate) fn timings(&self) -> &Timings {
        &self.timings
    }

    /// Runs `virsh -c qemu:///system ARGS` (limited to 600 s by `timeout`).
    pub(crate) fn virsh(&self, args: &[&str]) -> Output {
        Command::new("timeout")
            .arg(DAEMON_LIMIT.as_secs().to_string())
            .arg(VIRSH)
            .args(["-c", URI])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {VIRSH}: {e}"))
    }

    /// A raw image file of `size` bytes (sparse) in this run's directory.
    pub(crate) fn image(&self, name: &str, size: u64) -> PathBuf {
        let path = self.dir().join(name);
        let f = std::fs::File::create(&path)
            .unwrap_or_else(|e| panic!("{}: cannot create: {e}", path.display()));
        f.set_len(size).expect("size the image");
        path
    }

    /// A tiny transient domain: 64 MiB, one vCPU, TCG (`type='qemu'`), no network, no
    /// graphics, no USB, no balloon, one virtio disk (raw). With no guest OS it sits in
    /// the firmware.
    pub(crate) fn domain_xml(&self, name: &str, disk: &DomainDisk) -> String {
        let disk = match disk {
            DomainDisk::Block(p) => format!(
                "<disk type='block' device='disk'><driver name='qemu' type='raw'/>\
                 <source dev='{}'/><target dev='vda' bus='virtio'/></disk>",
                p.display()
            ),
            DomainDisk::File(p) => format!(
                "<disk type='file' device='disk'><driver name='qemu' type='raw'/>\
                 <source file='{}'/><target dev='vda' bus='virtio'/></disk>",
                p.display()
            ),
        };
        format!(
            "<domain type='qemu'>\n  <name>{name}</name>\n  <memory unit='MiB'>64</memory>\n  \
             <vcpu>1</vcpu>\n  <os><type arch='x86_64'>hvm</type></os>\n  <devices>\n    \
             <emulator>{QEMU}</emulator>\n    {disk}\n    \
             <controller type='usb' model='none'/>\n    <memballoon model='none'/>\n  \
             </devices>\n</domain>\n"
        )
    }

    /// `virsh create` of `xml` (a transient domain named `name`): `Ok(time taken)`, or
    /// `Err(virsh's output)`. A started domain is destroyed on drop unless
    /// [`destroy`](Self::destroy)ed before.
    pub(crate) fn create(&self, name: &str, xml: &str) -> Result<Duration, String> {
        let file = self.dir().join(format!("{name}.xml"));
        write(&file, xml);
        let t0 = Instant::now();
        let out = self.virsh(&["create", &file.to_string_lossy()]);
        let took = t0.elapsed();
        if out.status.success() {
            self.domains.borrow_mut().push(name.to_owned());
            eprintln!(
                "libvirt lab: virsh create {name}: {:.1} s",
                took.as_secs_f64()
            );
            Ok(took)
        } else {
            Err(text(&out))
        }
    }

    /// `virsh destroy NAME`; panics when it fails.
    pub(crate) fn destroy(&self, name: &str) {
        let out = self.virsh(&["destroy", name]);
        assert!(
            out.status.success(),
            "virsh destroy {name}:\n{}\n{}",
            text(&out),
            self.logs()
        );
        self.domains.borrow_mut().retain(|d| d != name);
    }

    /// The tails of libvirtd's and virtlockd's logs and the domains' QEMU logs.
    pub(crate) fn logs(&self) -> String {
        let d = self.dir();
        let mut s = String::new();
        for f in [
            "libvirtd.stderr",
            "libvirtd.log",
            "virtlockd.stderr",
            "virtlockd.log",
        ] {
            s.push_str(&format!("--- {f}\n{}\n", tail(&d.join(f), 30)));
        }
        if let Ok(entries) = std::fs::read_dir("/var/log/libvirt/qemu") {
            for e in entries.flatten() {
                s.push_str(&format!(
                    "--- {}\n{}\n",
                    e.path().display(),
                    tail(&e.path(), 15)
                ));
            }
        }
        s
    }
}

impl Drop for Libvirt {
    fn drop(&mut self) {
        for name in self.domains.borrow().iter() {
            let out = self.virsh(&["destroy", name]);
            if !out.status.success() {
                eprintln!("libvirt lab: virsh destroy {name} on drop: {}", text(&out));
            }
        }
        self.libvirtd.stop();
        self.virtlockd.stop();
    }
}

/// A command's standard output and error, for messages.
pub(crate) fn text(out: &Output) -> String {
    format!(
        "{} {}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
    .trim()
    .to_owned()
}
