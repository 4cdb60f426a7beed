//! `prsdk libvirt-hook`: libvirt's qemu hook (`/etc/libvirt/hooks/qemu`, called as
//! `qemu DOMAIN OPERATION SUB-OPERATION EXTRA` with the domain XML on standard input) that
//! holds a domain's disk locks (pr-lock) from `prepare begin` to `release end`, without
//! patching libvirt. See pr-lock/README.md, "libvirt hook".
//!
//! fcntl locks and a reservation's lifetime belong to a process, and the hook process
//! exits at once, so `prepare begin` starts a detached holder (this binary again,
//! `libvirt-hook holder DOMAIN`, in its own session, standard streams on /dev/null so that
//! libvirt, which reads the hook's output to its end, is not kept waiting) that takes
//! every disk's lock, all or nothing, and tells the hook through a pipe that it holds
//! them or why not. Its pid file `STATE/DOMAIN.pid` is flock'ed while it lives. `release
//! end` signals it (SIGTERM, after checking that the pid is this domain's holder) and
//! waits, bounded, for it to release and exit; the holder leaves what releasing said in
//! `STATE/DOMAIN.result`, which the hook reads and removes. With a reservation key, a
//! LUN where this host's key is registered already is refused (a second lock of one key
//! would, once released, drop the first's reservation), and holders acquire one at a
//! time (`STATE/acquire.lock`, flock'ed, host-wide, left in place).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::native::{EXIT_CONFLICT, EXIT_OTHER, EXIT_TARGET, EXIT_USAGE, lock_exit_code};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{SigSet, Signal, kill};
use nix::unistd::Pid;
use pr_core::types::ReservationKey;
use pr_lock::libvirt::{ConfValue, Domain, conf_settings, lockd_conf};
use pr_lock::{
    DiskLock, DiskLockRequest, Error, LockspaceConfig, LunLock, LunLockOptions, Storage,
};
use pr_multipath::blocking::Lun;

/// Where the configuration is read unless `--config` or [`CONF_ENV`] says otherwise.
const DEFAULT_CONF: &str = "/etc/pr-sdk/libvirt-hook.conf";
/// The environment variable that names the configuration file (below `--config`).
const CONF_ENV: &str = "PRSDK_LIBVIRT_HOOK_CONF";
const DEFAULT_STATE: &str = "/run/pr-sdk/libvirt-hook";
const DEFAULT_LOCKD_CONF: &str = "/etc/libvirt/qemu-lockd.conf";

/// What the hook holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hold {
    /// The reservations only, beside libvirt's own `lock_manager = "lockd"`, which holds
    /// the lock files (two holders of one lock file would refuse each other).
    Reservation,
    /// Lock files and reservations: libvirt runs without a lock manager.
    Both,
}

/// The hook's configuration.
#[derive(Clone, Debug)]
struct Config {
    hold: Hold,
    key: Option<ReservationKey>,
    lockspace: LockspaceConfig,
    liveness: bool,
    state_dir: PathBuf,
    release_timeout: Duration,
}

struct Failure {
    code: i32,
    message: String,
}

fn fail(code: i32, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

impl Config {
    fn load(path: &Path) -> Result<Config, Failure> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(EXIT_USAGE, format!("configuration {}: {e}", path.display())))?;
        let bad = |m: String| fail(EXIT_USAGE, format!("configuration {}: {m}", path.display()));
        let mut hold = None;
        let mut key = None;
        let mut dirs = LockspaceConfig::default();
        let mut dirs_given = false;
        let mut lockd = PathBuf::from(DEFAULT_LOCKD_CONF);
        let mut liveness = false;
        let mut state_dir = PathBuf::from(DEFAULT_STATE);
        let mut timeout = 60u64;
        for (name, value) in conf_settings(&text).map_err(bad)? {
            let string = |v: &ConfValue| match v {
                ConfValue::Str(s) => Ok(s.clone()),
                ConfValue::Int(_) => Err(bad(format!("{name}: a \"string\" is expected"))),
            };
            let int = |v: &ConfValue| match v {
                ConfValue::Int(i) => Ok(*i),
                ConfValue::Str(_) => Err(bad(format!("{name}: an integer is expected"))),
            };
            match name.as_str() {
                "hold" => {
                    hold = Some(match string(&value)?.as_str() {
                        "reservation" => Hold::Reservation,
                        "both" => Hold::Both,
                        other => {
                            return Err(bad(format!(
                                "hold = \"{other}\": \"reservation\" (beside libvirt's lockd) or \"both\" (lock files too, libvirt without a lock manager)"
                            )));
                        }
                    })
                }
                "key" => {
                    let k = match &value {
                        ConfValue::Str(s) => s.parse::<ReservationKey>().map_err(|_| {
                            bad(format!("key \"{s}\": 0x-prefixed hex or decimal, 64 bits"))
                        })?,
                        ConfValue::Int(i) => ReservationKey(
                            u64::try_from(*i).map_err(|_| bad("key: negative".into()))?,
                        ),
                    };
                    if k.0 == 0 {
                        return Err(bad("key must not be 0".into()));
                    }
                    key = Some(k);
                }
                "file_lockspace_dir" | "scsi_lockspace_dir" | "lvm_lockspace_dir" => {
                    let s = string(&value)?;
                    let dir = (!s.is_empty()).then(|| PathBuf::from(s));
                    match name.as_str() {
                        "file_lockspace_dir" => dirs.file_dir = dir,
                        "scsi_lockspace_dir" => dirs.scsi_dir = dir,
                        _ => dirs.lvm_dir = dir,
                    }
                    dirs_given = true;
                }
                "lockd_conf" => lockd = PathBuf::from(string(&value)?),
                "file_lock_decides_liveness" => liveness = int(&value)? != 0,
                "state_dir" => state_dir = PathBuf::from(string(&value)?),
                "release_timeout" => {
                    timeout = u64::try_from(int(&value)?)
                        .ok()
                        .filter(|t| (1..=3600).contains(t))
                        .ok_or_else(|| bad("release_timeout: 1 to 3600 seconds".into()))?;
                }
                other => return Err(bad(format!("unknown setting {other:?}"))),
            }
        }
        let hold = hold.ok_or_else(|| {
            bad("no hold = \"reservation\" or \"both\" (see pr-lock/README.md)".into())
        })?;
        if hold == Hold::Reservation && key.is_none() {
            return Err(bad(
                "hold = \"reservation\" needs this host's key = \"0x…\"".into(),
            ));
        }
        if liveness && (hold != Hold::Both || key.is_none()) {
            return Err(bad(
                "file_lock_decides_liveness needs hold = \"both\" and a key".into(),
            ));
        }
        let lockspace = if dirs_given || hold == Hold::Reservation {
            dirs
        } else {
            // As libvirt's lockd: its qemu-lockd.conf, or direct leases without one.
            match std::fs::read_to_string(&lockd) {
                Ok(t) => lockd_conf(&t).map_err(|e| {
                    fail(
                        EXIT_USAGE,
                        format!("lockd configuration {}: {e}", lockd.display()),
                    )
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => LockspaceConfig::default(),
                Err(e) => {
                    return Err(fail(
                        EXIT_USAGE,
                        format!("lockd configuration {}: {e}", lockd.display()),
                    ));
                }
            }
        };
        Ok(Config {
            hold,
            key,
            lockspace,
            liveness,
            state_dir,
            release_timeout: Duration::from_secs(timeout),
        })
    }
}

/// Runs `prsdk libvirt-hook ARGS` (`args`: what follows `libvirt-hook`). Returns the exit
/// status. Nothing is ever written on standard output: for `migrate begin` and `restore
/// begin`, libvirt takes the hook's output as a replacement domain XML (empty: unchanged).
pub(crate) fn run(
    args: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
    stdin: &mut dyn BufRead,
) -> i32 {
    let mut config = None;
    let mut rest = args;
    loop {
        match rest.first().map(String::as_str) {
            Some("--config") => match rest.get(1) {
                Some(c) => {
                    config = Some(PathBuf::from(c));
                    rest = &rest[2..];
                }
                None => return usage(err, "--config needs a file"),
            },
            Some(a) if a.starts_with("--config=") => {
                config = Some(PathBuf::from(&a[9..]));
                rest = &rest[1..];
            }
            _ => break,
        }
    }
    let config = config
        .or_else(|| std::env::var_os(CONF_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONF));
    let words: Vec<&str> = rest.iter().map(String::as_str).collect();
    let mut xml = String::new();
    // Read all of standard input whatever the operation: libvirt writes the domain XML
    // there and must not get EPIPE.
    let mut read_input = |xml: &mut String| {
        stdin
            .read_to_string(xml)
            .map(drop)
            .map_err(|e| fail(EXIT_OTHER, format!("standard input: {e}")))
    };
    match words[..] {
        ["--help" | "-h"] => {
            let text = crate::generate::help::command("libvirt-hook").unwrap_or_default();
            let _ = out.write_all(text.as_bytes());
            0
        }
        ["holder", domain] => match read_input(&mut xml) {
            Ok(()) => holder(&config, domain, &xml),
            Err(f) => holder_report(&f),
        },
        ["qemu", domain, op, subop, ..] if words.len() <= 5 => {
            let read = read_input(&mut xml);
            let result = match (op, subop) {
                ("prepare", "begin") => read.and_then(|()| prepare(&config, domain, &xml)),
                ("release", "end") => release(&config, domain),
                _ => Ok(()),
            };
            match result {
                Ok(()) => 0,
                Err(f) => {
                    let _ = writeln!(err, "prsdk libvirt-hook: domain {domain}: {}", f.message);
                    f.code
                }
            }
        }
        [driver, ..] if driver != "qemu" && driver != "holder" => usage(
            err,
            &format!(
                "'{driver}': only libvirt's qemu hook is supported \
                 (qemu DOMAIN OPERATION SUB-OPERATION EXTRA)"
            ),
        ),
        _ => usage(
            err,
            "usage: prsdk libvirt-hook [--config FILE] qemu DOMAIN OPERATION SUB-OPERATION [EXTRA]",
        ),
    }
}

fn usage(err: &mut dyn Write, m: &str) -> i32 {
    let _ = writeln!(err, "prsdk libvirt-hook: {m}");
    EXIT_USAGE
}

fn check_domain_name(domain: &str) -> Result<(), Failure> {
    if domain.is_empty()
        || domain == "."
        || domain == ".."
        || domain.contains('/')
        || domain.contains('\0')
    {
        return Err(fail(EXIT_USAGE, "not a usable domain name"));
    }
    Ok(())
}

fn state_file(config: &Config, domain: &str, ext: &str) -> PathBuf {
    config.state_dir.join(format!("{domain}.{ext}"))
}

/// `prepare begin`: start the holder, wait for its word.
fn prepare(config_path: &Path, domain: &str, xml: &str) -> Result<(), Failure> {
    check_domain_name(domain)?;
    let config = Config::load(config_path)?;
    let plan = plan(domain, xml)?;
    if plan.disks.is_empty() {
        tracing::info!(domain, "no disk to lock");
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.state_dir)
        .map_err(|e| {
            fail(
                EXIT_OTHER,
                format!("state directory {}: {e}", config.state_dir.display()),
            )
        })?;
    let pidfile = state_file(&config, domain, "pid");
    if let Some(file) = open_existing(&pidfile)? {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(_stale) => {
                // A holder that died without releasing: its lock files went with it.
                let _ = std::fs::remove_file(&pidfile);
                let _ = std::fs::remove_file(state_file(&config, domain, "result"));
            }
            Err((_, _)) => {
                return Err(fail(
                    EXIT_CONFLICT,
                    format!(
                        "a holder (pid {}) already holds this domain's disks (its release end did not run?); not started again",
                        read_pid(&pidfile).map_or("?".into(), |p| p.to_string())
                    ),
                ));
            }
        }
    }
    let exe = std::env::current_exe()
        .map_err(|e| fail(EXIT_OTHER, format!("cannot find this program: {e}")))?;
    let mut child = Command::new(exe)
        .arg("libvirt-hook")
        .arg("--config")
        .arg(config_path)
        .arg("holder")
        .arg(domain)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail(EXIT_OTHER, format!("cannot start the lock holder: {e}")))?;
    if let Some(mut input) = child.stdin.take() {
        // A holder that fails early closes its end: its report says why.
        let _ = input.write_all(xml.as_bytes());
    }
    let mut report = String::new();
    if let Some(mut output) = child.stdout.take() {
        let _ = output.read_to_string(&mut report);
    }
    let report = report.trim_end();
    if report == "held" {
        tracing::info!(domain, "holder holds the disks");
        // The holder goes on alone; init reaps it.
        return Ok(());
    }
    let status = child.wait();
    let parsed = report
        .strip_prefix("error ")
        .and_then(|r| r.split_once(' '))
        .and_then(|(c, m)| Some((c.parse::<i32>().ok()?, m)));
    match parsed {
        Some((code, message)) => Err(fail(code, message.replace('\u{1f}', "\n"))),
        None => Err(fail(
            EXIT_OTHER,
            format!("the lock holder ended without a word ({status:?})"),
        )),
    }
}

fn open_existing(path: &Path) -> Result<Option<File>, Failure> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(fail(EXIT_OTHER, format!("{}: {e}", path.display()))),
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// What to lock for a domain.
struct Plan {
    disks: Vec<pr_lock::libvirt::Disk>,
}

fn plan(domain: &str, xml: &str) -> Result<Plan, Failure> {
    let parsed = Domain::parse(xml).map_err(|e| fail(EXIT_USAGE, e.to_string()))?;
    if parsed.name != domain {
        return Err(fail(
            EXIT_USAGE,
            format!(
                "the domain XML on standard input is domain {:?}, not this one",
                parsed.name
            ),
        ));
    }
    if let Some(s) = parsed.skipped.iter().find(|s| s.lockd_would_lock) {
        return Err(fail(
            EXIT_TARGET,
            format!("disk {}: {}; not started", s.target, s.reason),
        ));
    }
    for s in &parsed.skipped {
        tracing::info!(domain, disk = s.target, reason = s.reason, "not locked");
    }
    Ok(Plan {
        disks: parsed.disks,
    })
}

/// One disk's lock, as the holder holds it.
enum Held {
    Disk(DiskLock),
    Lun(LunLock),
    /// A disk that is not a SCSI device under `hold = "reservation"`: nothing to hold.
    Nothing,
}

/// Opens the disk's LUN; `Ok(None)`: not a SCSI device.
fn open_lun(disk: &pr_lock::libvirt::Disk) -> Result<Option<Lun>, Error> {
    match Lun::open(&disk.path) {
        Ok(l) => Ok(Some(l)),
        Err(pr_multipath::Error::NotScsi { .. }) => Ok(None),
        Err(e) => Err(Error::Pr(e)),
    }
}

/// Each domain's holder holds its LUNs under this host's one key: a LUN where the key is
/// registered already is refused (another domain of this host holds it, or a killed
/// holder left its registration), since releasing a second lock of the key would drop the
/// first one's reservation and registration.
fn lun_options() -> LunLockOptions {
    LunLockOptions {
        refuse_own_registration: true,
        ..LunLockOptions::default()
    }
}

fn acquire(config: &Config, disk: &pr_lock::libvirt::Disk) -> Result<Held, Error> {
    match config.hold {
        Hold::Both => {
            let mut request =
                DiskLockRequest::new(disk.path.clone(), disk.mode, config.lockspace.clone());
            request.file_lock_decides_liveness = config.liveness;
            request = match config.key {
                Some(k) => match open_lun(disk)? {
                    Some(lun) => {
                        request.lun_options = lun_options();
                        request.key(k).storage(Storage::Lun(lun))
                    }
                    None => request.storage(Storage::None),
                },
                None => request.storage(Storage::None),
            };
            DiskLock::acquire(&request).map(Held::Disk)
        }
        Hold::Reservation => {
            let Some(key) = config.key else {
                return Ok(Held::Nothing);
            };
            match open_lun(disk)? {
                Some(lun) => LunLock::acquire(&lun, key, disk.mode, &lun_options()).map(Held::Lun),
                None => Ok(Held::Nothing),
            }
        }
    }
}

fn release_one(held: Held) -> Result<(), Error> {
    match held {
        Held::Disk(l) => l.release(),
        Held::Lun(l) => l.release(),
        Held::Nothing => Ok(()),
    }
}

/// Writes the holder's one-line report on standard output (the hook's pipe) and returns
/// the failure's status.
fn holder_report(f: &Failure) -> i32 {
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "error {} {}",
        f.code,
        f.message.replace('\n', "\u{1f}")
    );
    let _ = out.flush();
    f.code
}

/// The detached holder: takes the locks, says so, waits for SIGTERM, releases.
fn holder(config_path: &Path, domain: &str, xml: &str) -> i32 {
    // Its own session: no terminal, not in the hook's process group.
    let _ = nix::unistd::setsid();
    // SIGTERM (release end), SIGINT and SIGHUP are taken with sigwait, never by default
    // action: blocked before any thread starts, so that every thread inherits the mask.
    let mut signals = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        signals.add(s);
    }
    if let Err(e) = signals.thread_block() {
        return holder_report(&fail(EXIT_OTHER, format!("cannot block signals: {e}")));
    }
    if let Err(f) = check_domain_name(domain) {
        return holder_report(&f);
    }
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(f) => return holder_report(&f),
    };
    let plan = match plan(domain, xml) {
        Ok(p) => p,
        Err(f) => return holder_report(&f),
    };
    let pidfile = state_file(&config, domain, "pid");
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(&pidfile)
    {
        Ok(f) => f,
        Err(e) => {
            return holder_report(&fail(EXIT_OTHER, format!("{}: {e}", pidfile.display())));
        }
    };
    let mut pid_lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((_, e)) => {
            return holder_report(&fail(
                EXIT_CONFLICT,
                format!("another holder has {} ({e})", pidfile.display()),
            ));
        }
    };
    let wrote = pid_lock
        .set_len(0)
        .and_then(|()| writeln!(pid_lock, "{}", std::process::id()));
    if let Err(e) = wrote {
        let _ = std::fs::remove_file(&pidfile);
        return holder_report(&fail(EXIT_OTHER, format!("{}: {e}", pidfile.display())));
    }
    // One holder of this host acquires at a time: checking that this host's key is not
    // on a LUN yet and taking it must not interleave with another domain's start.
    // Only with a key: lock files need no such care (fcntl refuses a second holder).
    let serial = config.key.and_then(|_| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(config.state_dir.join("acquire.lock"))
            .ok()
            .and_then(|f| Flock::lock(f, FlockArg::LockExclusive).ok())
    });
    let mut held: Vec<Held> = Vec::new();
    for disk in &plan.disks {
        match acquire(&config, disk) {
            Ok(h) => held.push(h),
            Err(e) => {
                let mut message = format!("disk {} ({}): {e}", disk.target, disk.path);
                if let Error::FileLockBusy { path, .. } = &e
                    && let Some(who) = who_holds(path)
                {
                    message.push_str(&format!("; held by {who}"));
                }
                if lock_exit_code(&e) == EXIT_CONFLICT {
                    message.push_str(
                        "; not started (another domain, or another host, holds this disk; live migration of exclusive disks is not supported by this hook)",
                    );
                }
                for h in held.into_iter().rev() {
                    if let Err(e) = release_one(h) {
                        message.push_str(&format!("\nand releasing an earlier disk failed: {e}"));
                    }
                }
                let _ = std::fs::remove_file(&pidfile);
                return holder_report(&fail(lock_exit_code(&e), message));
            }
        }
    }
    drop(serial);
    {
        let mut out = std::io::stdout();
        let _ = writeln!(out, "held");
        let _ = out.flush();
    }
    // Let go of the hook's pipes (libvirt reads them to their end).
    if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stdin(&null);
    }
    loop {
        match signals.wait() {
            Ok(Signal::SIGTERM | Signal::SIGINT) => break,
            // SIGHUP: ignored (no terminal; a stray one must not drop the locks).
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    let mut errors = Vec::new();
    for h in held.into_iter().rev() {
        if let Err(e) = release_one(h) {
            errors.push(e.to_string());
        }
    }
    let result = if errors.is_empty() {
        "released\n".to_owned()
    } else {
        errors.join("\n") + "\n"
    };
    let _ = std::fs::write(state_file(&config, domain, "result"), result);
    let _ = std::fs::remove_file(&pidfile);
    drop(pid_lock);
    0
}

/// `release end`: SIGTERM to the holder, wait for it to release and exit.
fn release(config_path: &Path, domain: &str) -> Result<(), Failure> {
    check_domain_name(domain)?;
    let config = Config::load(config_path)?;
    let pidfile = state_file(&config, domain, "pid");
    let resultfile = state_file(&config, domain, "result");
    let Some(file) = open_existing(&pidfile)? else {
        // Nothing held for it (no disk to lock, a start refused before its holder took
        // anything, or not started through this hook): nothing to release. libvirt runs
        // `release end` after every stop and failed start, and logs a failing hook as an
        // error, so this is not one.
        tracing::info!(domain, state_dir = %config.state_dir.display(), "no lock holder: nothing to release");
        return Ok(());
    };
    let file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(_stale) => {
            let _ = std::fs::remove_file(&pidfile);
            let _ = std::fs::remove_file(&resultfile);
            return Err(fail(
                EXIT_OTHER,
                "its lock holder is gone without releasing (killed?): the kernel dropped its lock files, but reservations it took stay on the LUNs (see them with prsdk show)",
            ));
        }
        Err((file, _)) => file,
    };
    let pid = read_pid(&pidfile)
        .ok_or_else(|| fail(EXIT_OTHER, format!("{}: no pid in it", pidfile.display())))?;
    if !is_our_holder(pid, domain) {
        return Err(fail(
            EXIT_OTHER,
            format!(
                "pid {pid} in {} is not this domain's lock holder; not signalled",
                pidfile.display()
            ),
        ));
    }
    kill(Pid::from_raw(pid), Signal::SIGTERM).map_err(|e| {
        fail(
            EXIT_OTHER,
            format!("cannot signal its holder (pid {pid}): {e}"),
        )
    })?;
    let deadline = Instant::now() + config.release_timeout;
    let mut file = file;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(_gone) => break,
            Err((f, _)) => file = f,
        }
        if Instant::now() >= deadline {
            return Err(fail(
                EXIT_OTHER,
                format!(
                    "its lock holder (pid {pid}) did not release within {} s; it still holds the disks",
                    config.release_timeout.as_secs()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let result = std::fs::read_to_string(&resultfile).unwrap_or_default();
    let _ = std::fs::remove_file(&resultfile);
    let _ = std::fs::remove_file(&pidfile);
    match result.trim_end() {
        "released" => Ok(()),
        "" => Err(fail(
            EXIT_OTHER,
            format!("its lock holder (pid {pid}) ended without saying it released"),
        )),
        errors => Err(fail(EXIT_OTHER, format!("releasing: {errors}"))),
    }
}

/// Whether `pid` runs `… libvirt-hook … holder DOMAIN`.
fn is_our_holder(pid: i32, domain: &str) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = raw.split(|b| *b == 0).filter(|a| !a.is_empty()).collect();
    args.contains(&b"libvirt-hook".as_slice())
        && args.len() >= 2
        && args[args.len() - 2] == b"holder"
        && args[args.len() - 1] == domain.as_bytes()
}

/// Who holds a lock on byte 0 of the lock file `path` (fcntl `F_GETLK`): this hook's
/// holder of some domain, virtlockd, or another process of this host, with its pid.
/// `None` when nobody does any more, or when the holder is not a process of this host
/// (a lock on a shared filesystem held by another host reports no usable pid).
fn who_holds(path: &Path) -> Option<String> {
    let file = File::open(path).ok()?;
    // The lock an exclusive acquire would take: byte 0, length 1.
    let mut lock = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 1,
        l_pid: 0,
    };
    nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_GETLK(&mut lock)).ok()?;
    if lock.l_type == libc::F_UNLCK as libc::c_short || lock.l_pid <= 0 {
        return None;
    }
    let pid = lock.l_pid;
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if let [.., hook, _, _, holder, domain] = &args[..]
        && hook == "libvirt-hook"
        && holder == "holder"
    {
        return Some(format!("domain {domain} (its lock holder, pid {pid})"));
    }
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    match comm.trim() {
        "" => Some(format!("pid {pid}")),
        "virtlockd" => Some(format!(
            "virtlockd (pid {pid}: libvirt's lockd, for a running domain)"
        )),
        c => Some(format!("{c} (pid {pid})")),
    }
}
