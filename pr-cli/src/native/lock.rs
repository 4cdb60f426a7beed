//! `prsdk lock`: pr-lock's [`DiskLock`] held while a command runs, like flock(1) (fcntl
//! locks live with the process that takes them, so the lock holder is this process and
//! the command runs as its child).

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use pr_lock::{DiskLock, DiskLockRequest, Enforcement, Error, LockspaceConfig, Mode, Storage};

use super::parse::{Opts, Usage, key_of};
use super::sim::{SimCluster, targets};
use super::{EXIT_CONFLICT, EXIT_OTHER, EXIT_PERMISSION, EXIT_TARGET, EXIT_USAGE, exit_code};

/// Exit status: COMMAND was found but could not be run (as the shells say).
pub(super) const EXIT_CANNOT_RUN: i32 = 126;
/// Exit status: COMMAND was not found.
pub(super) const EXIT_NOT_FOUND: i32 = 127;

/// The exit status for a pr-lock error (`prsdk lock` and the libvirt hook).
pub(crate) fn lock_exit_code(e: &Error) -> i32 {
    match e {
        Error::Held { .. } | Error::FileLockBusy { .. } | Error::HeldByThisProcess { .. } => {
            EXIT_CONFLICT
        }
        Error::NoLockspace { .. } | Error::NotADirectory { .. } | Error::InvalidDisk { .. } => {
            EXIT_TARGET
        }
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
            EXIT_PERMISSION
        }
        Error::ZeroKey => EXIT_USAGE,
        Error::Pr(e) => exit_code(e.kind()),
        _ => EXIT_OTHER,
    }
}

/// Runs `lock`: acquires, runs the command, releases. Returns the exit status.
pub(super) fn lock(
    o: &Opts,
    sim: Option<(&SimCluster, usize)>,
    err: &mut dyn Write,
) -> Result<i32, Usage> {
    if o.json || o.all_maps {
        return Err(Usage("--json and --all-maps do not apply to lock".into()));
    }
    let disk = match &o.targets[..] {
        [d] => d.clone(),
        [] => return Err(Usage("no disk: lock DISK -- COMMAND [ARG...]".into())),
        _ => {
            return Err(Usage(
                "lock takes one disk (the command goes after '--')".into(),
            ));
        }
    };
    if o.exec.is_empty() {
        return Err(Usage("no command: lock DISK -- COMMAND [ARG...]".into()));
    }
    let key = match o.key {
        Some(_) => Some(key_of("key", &o.key)?),
        None => None,
    };
    if o.force && key.is_none() {
        return Err(Usage(
            "--force needs --key (only a LUN's reservation can be forced, never a lock file)"
                .into(),
        ));
    }
    let dir = |d: &Option<String>| d.as_ref().map(PathBuf::from);
    let lockspace = LockspaceConfig {
        file_dir: dir(&o.file_lockspace),
        scsi_dir: dir(&o.scsi_lockspace),
        lvm_dir: dir(&o.lvm_lockspace),
    };
    let mode = if o.shared {
        Mode::Shared
    } else {
        Mode::Exclusive
    };
    let mut request = DiskLockRequest::new(disk.clone(), mode, lockspace).force(o.force);
    if let Some(k) = key {
        request = request.key(k);
    }
    if sim.is_some() {
        // The simulated map DISK names (opening it is the front door's business).
        let lun = targets(o, sim).pop().map(|(_, l)| l).unwrap_or_else(|| {
            Err(pr_multipath::Error::NotFound {
                what: disk.clone(),
                reason: "no target".into(),
            })
        });
        match lun {
            Ok(l) => request = request.storage(Storage::Lun(l)),
            Err(e) => {
                let _ = writeln!(err, "prsdk lock: {disk}: {e}");
                return Ok(exit_code(e.kind()));
            }
        }
    }
    let held = match DiskLock::acquire(&request) {
        Ok(l) => l,
        Err(e) => {
            let _ = writeln!(err, "prsdk lock: {e}");
            return Ok(lock_exit_code(&e));
        }
    };
    tracing::info!(disk, lock_file = %held.resource().path().display(),
        enforcement = ?held.enforcement(), "locked");
    if let Enforcement::FileOnly(why) = held.enforcement()
        && key.is_some()
    {
        let _ = writeln!(err, "prsdk lock: {disk}: lock file only ({why})");
    }
    // Ctrl-C goes to COMMAND (the foreground process group), not to the holder, which
    // must live to release the reservation: the holder ignores it from before the spawn.
    let waited =
        pr_lock::TerminalSignalsIgnored::spawn(Command::new(&o.exec[0]).args(&o.exec[1..]))
            .and_then(|(mut child, _ignored)| child.wait());
    let status = match waited {
        Ok(s) => {
            use std::os::unix::process::ExitStatusExt;
            s.code()
                .or_else(|| s.signal().map(|n| 128 + n))
                .unwrap_or(EXIT_OTHER)
        }
        Err(e) => {
            let _ = writeln!(err, "prsdk lock: {}: {e}", o.exec[0]);
            if e.kind() == std::io::ErrorKind::NotFound {
                EXIT_NOT_FOUND
            } else {
                EXIT_CANNOT_RUN
            }
        }
    };
    match held.release() {
        Ok(()) => Ok(status),
        Err(e) => {
            let _ = writeln!(err, "prsdk lock: release: {e}");
            Ok(if status == 0 { EXIT_OTHER } else { status })
        }
    }
}
