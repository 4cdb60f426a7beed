//! Lab-only helpers (`#[ignore]` tests inside the lab guest): our daemon as a child
//! process, the LUN looked at directly through pr-multipath's front door (one path device
//! at a time, never through a daemon), READ FULL STATUS labelled by nexus, WRITE(10) and
//! the reset between cases.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pr_core::prin::FullStatus;
use pr_core::transport::{Cdb, Request, Transport};
use pr_core::transport_id::TransportId;
use pr_helper::client::{basic_params, pr_in_cdb, pr_out_cdb};
use pr_lab_support::LabLun;
use pr_multipath::{Lun, OpenOptions, RawReply};

/// Debian's helper (package qemu-system-common), the one ours is compared with.
pub const QEMU_PR_HELPER: &str = "/usr/bin/qemu-pr-helper";

/// Our daemon, built by cargo for the tests.
pub const OURS: &str = env!("CARGO_BIN_EXE_pr-helper");

/// A helper daemon (ours or another) started for a test; killed when dropped.
pub struct Daemon {
    pub name: String,
    pub socket: PathBuf,
    pub control: Option<PathBuf>,
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
        if let Some(c) = &self.control {
            let _ = std::fs::remove_file(c);
        }
    }
}

impl Daemon {
    /// Starts `program -k SOCKET ARGS...` and waits (20 s at most) until its socket and,
    /// if given, its control socket accept connections.
    pub fn start(
        name: &str,
        program: &str,
        socket: &Path,
        control: Option<&Path>,
        args: &[String],
    ) -> Daemon {
        let _ = std::fs::remove_file(socket);
        if let Some(c) = control {
            let _ = std::fs::remove_file(c);
        }
        let child = Command::new(program)
            .arg("-k")
            .arg(socket)
            .args(args)
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let mut d = Daemon {
            name: name.to_owned(),
            socket: socket.to_path_buf(),
            control: control.map(Path::to_path_buf),
            child,
        };
        let until = Instant::now() + Duration::from_secs(20);
        // A socket file exists from bind(2), before listen(2): wait until it accepts.
        let accepts = |p: &Path| std::os::unix::net::UnixStream::connect(p).is_ok();
        while !accepts(socket) || control.is_some_and(|c| !accepts(c)) {
            if let Ok(Some(s)) = d.child.try_wait() {
                panic!("{name} exited at start: {s}");
            }
            assert!(Instant::now() < until, "{name}: no socket after 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }
}

/// `program -k SOCKET` started as [`Daemon::start`] starts it, with no other argument.
pub fn start(name: &str, program: &str, socket: &Path) -> Daemon {
    Daemon::start(name, program, socket, None, &[])
}

/// `path` opened read-write.
pub fn rw(path: &Path) -> File {
    File::options()
        .read(true)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// The sense key of fixed or descriptor sense bytes.
pub fn sense_key(sense: &[u8]) -> Option<u8> {
    match sense.first().map(|b| b & 0x7f) {
        Some(0x70 | 0x71) => sense.get(2).map(|k| k & 0x0f),
        Some(0x72 | 0x73) => sense.get(1).map(|k| k & 0x0f),
        _ => None,
    }
}

/// One path device (a SCSI disk of one nexus), opened through pr-multipath as a LUN of
/// one path: how the tests look at the LUN without any daemon in between.
pub struct Direct {
    pub path: PathBuf,
    lun: Lun,
}

impl Direct {
    pub fn open(path: &Path) -> Direct {
        let name = path.display().to_string();
        let lun = Lun::open_paths(name.clone(), &[name.as_str()], &OpenOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        Direct {
            path: path.to_path_buf(),
            lun,
        }
    }

    /// A PR command, sent again (5 times at most) while the nexus reports a unit attention.
    pub fn pr(&self, cdb: &[u8], params: &[u8]) -> RawReply {
        for _ in 0..5 {
            let r = runtime()
                .block_on(self.lun.pass_through(cdb, params))
                .unwrap_or_else(|e| panic!("{}: {e}", self.path.display()));
            if !(r.status == 0x02 && sense_key(&r.sense) == Some(6)) {
                return r;
            }
        }
        panic!(
            "{}: unit attention after unit attention",
            self.path.display()
        );
    }

    /// A WRITE(10) of one 512-byte block of zeros at LBA 2048 (the lab LUNs are scratch):
    /// its SCSI status after any unit attention (GOOD 00h, RESERVATION CONFLICT 18h, ...).
    pub fn write_status(&self) -> u8 {
        let cdb = Cdb::new(&[0x2a, 0, 0, 0, 0x08, 0, 0, 0, 1, 0]).expect("a WRITE(10) CDB");
        let path = &self.lun.paths()[0];
        let mut status = 0xff;
        for _ in 0..5 {
            let r = runtime()
                .block_on(
                    path.transport()
                        .execute(Request::data_out(cdb, vec![0; 512])),
                )
                .unwrap_or_else(|e| panic!("WRITE(10) on {}: {e}", self.path.display()));
            status = r.completion.status.0;
            if status != 0x02 {
                break;
            }
        }
        status
    }
}

/// The initiator port name a TransportID names, as `LAB_INITIATORS` spells it.
pub fn initiator_of(t: &TransportId<'_>) -> String {
    match t {
        TransportId::Sas { address } => format!("naa.{address:016x}"),
        TransportId::Iscsi { name, .. } => name.to_string(),
        other => format!("{other:?}"),
    }
}

/// One registration of READ FULL STATUS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// `n1p<i>` (node-1 nexus i), `n2p<i>` or the initiator name.
    pub nexus: String,
    pub key: u64,
    pub holder: bool,
    pub type_code: u8,
    pub relative_target_port: u16,
    /// The TransportID's bytes, as the device reported them.
    pub transport_id: Vec<u8>,
}

/// The LUN's registrations, read with READ FULL STATUS through `via`, each labelled with
/// the lab nexus it belongs to.
pub fn full_status(lab: &LabLun, via: &Direct) -> Vec<Registration> {
    let r = via.pr(&pr_in_cdb(3, 8192), &[]);
    assert_eq!(r.status, 0, "READ FULL STATUS: {:02x?}", r.sense);
    let fs = FullStatus::decode(&r.data).expect("READ FULL STATUS decodes");
    fs.descriptors()
        .map(|d| {
            let name = d
                .transport_id()
                .map(|t| initiator_of(&t))
                .unwrap_or_else(|e| format!("?{e}"));
            let nexus = if let Some(i) = lab.initiators.iter().position(|n| *n == name) {
                format!("n1p{i}")
            } else if let Some(i) = lab.node2_initiators.iter().position(|n| *n == name) {
                format!("n2p{i}")
            } else {
                name
            };
            Registration {
                nexus,
                key: d.key().0,
                holder: d.is_holder(),
                type_code: d.type_code(),
                relative_target_port: d.relative_target_port(),
                transport_id: d.transport_id_bytes().to_vec(),
            }
        })
        .collect()
}

/// Registrations as `nexus -> (key, holder, type)` (sorted, one line in messages).
pub fn summary(regs: &[Registration]) -> BTreeMap<String, (u64, bool, u8)> {
    regs.iter()
        .map(|r| (r.nexus.clone(), (r.key, r.holder, r.type_code)))
        .collect()
}

/// No registration and no reservation on the LUN, and no unit attention left on any
/// nexus: node 2 registers, CLEARs, then every nexus reads the keys once.
pub fn reset(lab: &LabLun) {
    let node2 = Direct::open(&lab.node2[0]);
    let r = node2.pr(&pr_out_cdb(6, 0, 24), &basic_params(0, 0xe, 0));
    assert_eq!(r.status, 0, "reset: REGISTER AND IGNORE: {:02x?}", r.sense);
    let r = node2.pr(&pr_out_cdb(3, 0, 24), &basic_params(0xe, 0, 0));
    assert_eq!(r.status, 0, "reset: CLEAR: {:02x?}", r.sense);
    for p in lab.paths.iter().chain(&lab.node2) {
        let r = Direct::open(p).pr(&pr_in_cdb(0, 8192), &[]);
        assert_eq!(r.status, 0, "reset: READ KEYS on {}", p.display());
        assert_eq!(&r.data[4..8], &[0u8; 4], "reset left keys");
    }
}
