//! QEMU as a client of a pr-helper, for lab tests: starts `qemu-system-x86_64` booting the
//! SCSI pump (`tests/qemu-guest/`, built here with its `build.sh`) and sends SCSI commands
//! through the guest's virtio-scsi controller, so that QEMU's own SCSI stack and
//! `pr-manager-helper` carry them. Also a minimal QMP client (for migration).
//!
//! Include with `#[path = "common/qemu.rs"] mod qemu;`.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// The QEMU binary (`QEMU` in the environment, else `qemu-system-x86_64`).
pub fn qemu_binary() -> String {
    std::env::var("QEMU").unwrap_or_else(|_| "qemu-system-x86_64".to_string())
}

/// QEMU's version as (major, minor), from `-version`.
pub fn qemu_version() -> (u32, u32) {
    let out = Command::new(qemu_binary())
        .arg("-version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} -version: {e}", qemu_binary()));
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .unwrap_or_else(|| panic!("no version in {text:?}"));
    let mut it = v.split('.').map(|n| n.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// Builds the pump (once per test binary run; `build.sh` skips an up-to-date build) and
/// returns its path.
pub fn pump_elf() -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/qemu-guest");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("qemu-guest");
    let st = Command::new("bash")
        .arg(src.join("build.sh"))
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("cannot run tests/qemu-guest/build.sh: {e}"));
    assert!(st.success(), "tests/qemu-guest/build.sh failed: {st}");
    out.join("pump.elf")
}

/// One reply of the pump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PumpReply {
    /// virtio-scsi response (0 = VIRTIO_SCSI_S_OK).
    pub response: u8,
    /// SCSI status.
    pub status: u8,
    /// Sense bytes as the guest got them.
    pub sense: Vec<u8>,
    /// The device's residual.
    pub resid: u32,
    /// Data-in (only with GOOD status).
    pub data: Vec<u8>,
}

impl PumpReply {
    /// Sense key, ASC, ASCQ of fixed-format sense.
    pub fn sense_key_asc_ascq(&self) -> Option<(u8, u8, u8)> {
        (self.sense.len() >= 14).then(|| (self.sense[2] & 0xf, self.sense[12], self.sense[13]))
    }
}

fn hex(b: &[u8]) -> String {
    if b.is_empty() {
        return "-".into();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if s == "-" {
        return Ok(Vec::new());
    }
    if s.len() % 2 != 0 {
        return Err(format!("odd hex string {s:?}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| format!("{s:?}: {e}")))
        .collect()
}

/// Parses an `R ...` line of the pump.
pub fn parse_reply(line: &str) -> Result<PumpReply, String> {
    let f: Vec<&str> = line.split(' ').collect();
    if f.len() != 6 || f[0] != "R" {
        return Err(format!("not a reply line: {line:?}"));
    }
    let num = |s: &str| u32::from_str_radix(s, 16).map_err(|e| format!("{s:?}: {e}"));
    Ok(PumpReply {
        response: num(f[1])? as u8,
        status: num(f[2])? as u8,
        sense: unhex(f[3])?,
        resid: num(f[4])?,
        data: unhex(f[5])?,
    })
}

/// How to start one QEMU.
#[derive(Clone, Debug, Default)]
pub struct QemuConfig {
    /// A name for messages and the log file.
    pub name: String,
    /// The helper's socket (`-object pr-manager-helper,path=`).
    pub helper_socket: PathBuf,
    /// The block device behind `scsi-block`.
    pub device: PathBuf,
    /// Extra `scsi-block` properties (e.g. `migrate-pr=on`).
    pub scsi_block_props: String,
    /// A QMP socket to create (`-qmp unix:PATH,server=on,wait=off`).
    pub qmp: Option<PathBuf>,
    /// `-incoming URI`.
    pub incoming: Option<String>,
    /// Where QEMU's stderr goes.
    pub log: PathBuf,
    /// Instead of the helper and `scsi-block`: QEMU's emulated `scsi-hd` on this image
    /// file (to check the pump without a SCSI device or helper).
    pub emulated_disk: Option<PathBuf>,
    /// More command-line arguments (e.g. `-trace`).
    pub extra_args: Vec<String>,
}

/// A running QEMU with the pump.
pub struct Qemu {
    pub name: String,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    /// From spawn to the pump's READY line.
    pub boot: Duration,
    pub log: PathBuf,
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Qemu {
    /// The command line for `cfg`.
    pub fn args(cfg: &QemuConfig, pump: &Path) -> Vec<String> {
        let mut a: Vec<String> = [
            "-nodefaults",
            "-no-user-config",
            "-machine",
            "pc,accel=tcg",
            "-m",
            "64",
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            "stdio",
            "-no-reboot",
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=4",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let qboot = Path::new("/usr/share/qemu/qboot.rom");
        if qboot.exists() {
            a.extend(["-bios".into(), qboot.display().to_string()]);
        }
        a.extend(["-kernel".into(), pump.display().to_string()]);
        if let Some(img) = &cfg.emulated_disk {
            a.extend([
                "-device".into(),
                "virtio-scsi-pci,id=scsi0,disable-modern=on".into(),
                "-drive".into(),
                format!("if=none,id=d0,format=raw,file={}", img.display()),
                "-device".into(),
                "scsi-hd,drive=d0,bus=scsi0.0,channel=0,scsi-id=0,lun=0".into(),
            ]);
        } else {
            a.extend([
                "-object".into(),
                format!(
                    "pr-manager-helper,id=pr0,path={}",
                    cfg.helper_socket.display()
                ),
                "-device".into(),
                "virtio-scsi-pci,id=scsi0,disable-modern=on".into(),
                "-blockdev".into(),
                format!(
                    "driver=host_device,node-name=d0,filename={},pr-manager=pr0",
                    cfg.device.display()
                ),
                "-device".into(),
                format!(
                    "scsi-block,drive=d0,bus=scsi0.0,channel=0,scsi-id=0,lun=0{}",
                    if cfg.scsi_block_props.is_empty() {
                        String::new()
                    } else {
                        format!(",{}", cfg.scsi_block_props)
                    }
                ),
            ]);
        }
        if let Some(q) = &cfg.qmp {
            a.extend([
                "-qmp".into(),
                format!("unix:{},server=on,wait=off", q.display()),
            ]);
        }
        if let Some(i) = &cfg.incoming {
            a.extend(["-incoming".into(), i.clone()]);
        }
        a.extend(cfg.extra_args.iter().cloned());
        a
    }

    /// Spawns QEMU; with `wait_ready` waits (up to `timeout`) for the pump's READY line.
    pub fn spawn(cfg: &QemuConfig, wait_ready: bool, timeout: Duration) -> Qemu {
        let pump = pump_elf();
        let args = Self::args(cfg, &pump);
        let log = std::fs::File::create(&cfg.log)
            .unwrap_or_else(|e| panic!("{}: {e}", cfg.log.display()));
        let t0 = Instant::now();
        let mut child = Command::new(qemu_binary())
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", qemu_binary()));
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = Vec::new();
            loop {
                line.clear();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let s = String::from_utf8_lossy(&line).trim_end().to_string();
                        if tx.send(s).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let mut q = Qemu {
            name: cfg.name.clone(),
            child,
            stdin,
            lines: rx,
            boot: Duration::ZERO,
            log: cfg.log.clone(),
        };
        if wait_ready {
            q.wait_ready(timeout);
            q.boot = t0.elapsed();
        }
        q
    }

    fn log_tail(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Next line from the guest's serial port.
    fn line(&mut self, timeout: Duration) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(l) => l,
            Err(RecvTimeoutError::Timeout) => panic!(
                "{}: no line from the pump within {timeout:?}; QEMU log:\n{}",
                self.name,
                self.log_tail()
            ),
            Err(RecvTimeoutError::Disconnected) => {
                let st = self.child.wait().ok();
                panic!(
                    "{}: QEMU's serial port closed (QEMU exited: {st:?}); QEMU log:\n{}",
                    self.name,
                    self.log_tail()
                )
            }
        }
    }

    /// Waits for `PUMP READY`, skipping what the firmware prints.
    pub fn wait_ready(&mut self, timeout: Duration) {
        let until = Instant::now() + timeout;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let l = self.line(left.max(Duration::from_millis(1)));
            if l.contains("PUMP READY") {
                return;
            }
            assert!(!l.contains("PUMP ERROR"), "{}: {l}", self.name);
        }
    }

    /// Sends one command through the pump to target 0, LUN 0. `data_in` is the data-in
    /// buffer's length (QEMU needs at least the CDB's allocation length).
    pub fn call(&mut self, cdb: &[u8], data_out: &[u8], data_in: usize) -> PumpReply {
        let line = format!("C 0 0 {} {} {:x}\n", hex(cdb), hex(data_out), data_in);
        self.stdin
            .write_all(line.as_bytes())
            .and_then(|_| self.stdin.flush())
            .unwrap_or_else(|e| panic!("{}: writing to the pump: {e}", self.name));
        loop {
            let l = self.line(Duration::from_secs(120));
            if l.starts_with("R ") {
                return parse_reply(&l).unwrap_or_else(|e| panic!("{}: {e}", self.name));
            }
            assert!(!l.starts_with("E "), "{}: pump: {l}", self.name);
        }
    }

    /// TEST UNIT READY until GOOD (clears QEMU's own power-on unit attention and any of the
    /// device's), at most `n` times; returns the statuses and sense seen before.
    pub fn settle(&mut self, n: usize) -> Vec<PumpReply> {
        let mut seen = Vec::new();
        for _ in 0..n {
            let r = self.call(&[0u8; 6], &[], 0);
            if r.status == 0 && r.response == 0 {
                return seen;
            }
            seen.push(r);
        }
        panic!("{}: TEST UNIT READY never GOOD: {seen:?}", self.name);
    }

    /// Whether QEMU has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// QEMU's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A minimal QMP client.
pub struct Qmp {
    stream: BufReader<UnixStream>,
}

impl Qmp {
    /// Connects (retrying for up to `timeout`) and leaves capabilities negotiation mode.
    pub fn connect(path: &Path, timeout: Duration) -> Qmp {
        let until = Instant::now() + timeout;
        let s = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() < until => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("QMP {}: {e}", path.display()),
            }
        };
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        let mut q = Qmp {
            stream: BufReader::new(s),
        };
        let greeting = q.read_line();
        assert!(greeting.contains("QMP"), "QMP greeting: {greeting}");
        q.execute(r#"{"execute":"qmp_capabilities"}"#);
        q
    }

    fn read_line(&mut self) -> String {
        let mut l = String::new();
        self.stream
            .read_line(&mut l)
            .unwrap_or_else(|e| panic!("QMP read: {e}"));
        assert!(!l.is_empty(), "QMP: connection closed");
        l
    }

    /// Sends `json` and returns the `return` or `error` line (events are skipped).
    pub fn execute(&mut self, json: &str) -> String {
        let s = self.stream.get_mut();
        s.write_all(json.as_bytes()).unwrap();
        s.write_all(b"\n").unwrap();
        loop {
            let l = self.read_line();
            if l.contains("\"return\"") || l.contains("\"error\"") {
                return l;
            }
        }
    }

    /// Polls `query-migrate` until the status is one of `until` (or `timeout`); returns the
    /// last reply.
    pub fn wait_migration(&mut self, until: &[&str], timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            let r = self.execute(r#"{"execute":"query-migrate"}"#);
            if until
                .iter()
                .any(|u| r.contains(&format!("\"status\": \"{u}\"")))
            {
                return r;
            }
            assert!(
                Instant::now() < end,
                "migration did not reach {until:?}: {r}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Reads whatever is buffered (events), without blocking for long.
    pub fn drain(&mut self) -> String {
        let s = self.stream.get_mut();
        s.set_nonblocking(true).unwrap();
        let mut out = String::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        s.set_nonblocking(false).unwrap();
        out
    }
}
