// SPDX-License-Identifier: MIT OR Apache-2.0
//! Result codes ([`pr_result`]) and the error object ([`pr_error`]) of the C API, and the
//! conversion of pr-multipath's errors (through [`ErrorKind`] and the decisive failure's
//! pr-core outcome) into them. No `unsafe` here.

use std::ffi::CString;

use pr_core::outcome::CommandError;
use pr_core::transport::TransportError;
use pr_multipath::blocking::BridgeError;
use pr_multipath::{ErrorKind, Failure};

/// The result of every fallible call. `PR_OK` is 0; errors are banded from 7000 so that they
/// never collide with errno values, and a value once published is never reused (retired
/// codes stay here as comments).
///
/// - 7000-7099: the call itself (arguments, library state).
/// - 7100-7199: devices, paths and the operating system.
/// - 7200-7299: the SCSI outcome of a command that reached the device.
/// - 7300-7399: multipath policy (pr-multipath refused or could not finish safely).
/// - 7400-7499: disk and LUN locks (pr-lock).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum pr_result {
    /// Success.
    PR_OK = 0,
    /// A required pointer argument was NULL; the error message names it.
    PR_ERR_NULL_ARGUMENT = 7000,
    /// An argument is out of range or inconsistent (a reservation type, a service action, a
    /// flag not valid for the action, an index, a count above its limit, a string that is not
    /// UTF-8); the error message names it.
    PR_ERR_INVALID_ARGUMENT = 7001,
    /// A TransportID text could not be parsed (`sg_persist --transport-id` forms).
    PR_ERR_INVALID_TRANSPORT_ID = 7002,
    /// A bug: Rust code panicked. The panic was caught at the API boundary; the library
    /// remains usable.
    PR_ERR_PANIC = 7003,
    /// The library's runtime thread could not be started or stopped before answering.
    PR_ERR_RUNTIME = 7004,
    /// The operation was cancelled before it started.
    PR_ERR_CANCELLED = 7005,
    /// A many-LUN operation finished but not every LUN succeeded (failed or cancelled); the
    /// per-LUN result object is returned all the same.
    PR_ERR_FLEET_INCOMPLETE = 7006,
    /// `pr_set_log_callback`: the library cannot route its log here because the process
    /// already has a global `tracing` subscriber (a Rust program that embeds libpr_sdk and
    /// logs on its own).
    PR_ERR_LOG_UNAVAILABLE = 7007,
    /// No such multipath map, device node or file descriptor; the message names what was
    /// given.
    PR_ERR_NOT_FOUND = 7100,
    /// The device exists but may not be opened as asked.
    PR_ERR_PERMISSION_DENIED = 7101,
    /// What was given exists but is neither a SCSI device nor a multipath map (a regular
    /// file, a directory, `/dev/null`, a partition, a dm device of another target); the
    /// message names it and says what it is.
    PR_ERR_NOT_SCSI = 7102,
    /// An operating-system call failed (the message has the errno text).
    PR_ERR_OS = 7103,
    /// A command timed out; whether it reached the device is unknown.
    PR_ERR_TIMEOUT = 7104,
    /// The path is down (failed, offline, or made to fail in the simulator).
    PR_ERR_PATH_DOWN = 7105,
    /// No path of the LUN is usable.
    PR_ERR_NO_USABLE_PATH = 7106,
    /// The transport cannot carry this command.
    PR_ERR_UNSUPPORTED = 7107,
    /// The transport refused the request (for example PR OUT on a read-only device).
    PR_ERR_INVALID_REQUEST = 7108,
    /// Device-mapper, multipathd or multipath configuration failed (a missing map is
    /// `PR_ERR_NOT_FOUND`).
    PR_ERR_MAP = 7109,
    /// RESERVATION CONFLICT.
    PR_ERR_RESERVATION_CONFLICT = 7200,
    /// CHECK CONDITION, ILLEGAL REQUEST (the device rejected a field; see the sense data).
    PR_ERR_ILLEGAL_REQUEST = 7201,
    /// CHECK CONDITION, UNIT ATTENTION (still pending after the retries).
    PR_ERR_UNIT_ATTENTION = 7202,
    /// CHECK CONDITION, NOT READY.
    PR_ERR_NOT_READY = 7203,
    /// CHECK CONDITION with another sense key, or without usable sense data.
    PR_ERR_CHECK_CONDITION = 7204,
    /// Another unsuccessful SCSI status (BUSY, TASK SET FULL, ACA ACTIVE, TASK ABORTED, ...).
    PR_ERR_SCSI_STATUS = 7205,
    /// The command did not complete at the device (host or driver status).
    PR_ERR_TRANSPORT = 7206,
    /// A PR IN response could not be decoded.
    PR_ERR_DECODE = 7207,
    /// The key does not match the configured `reservation_key`; nothing was sent.
    PR_ERR_KEY_MISMATCH = 7300,
    /// The safety check refused to preempt on the caller's behalf.
    PR_ERR_SAFETY_CHECK = 7301,
    /// RELEASE with a type other than the held reservation's.
    PR_ERR_TYPE_MISMATCH = 7302,
    /// The LUN is held by another host (its reservation, or for an exclusive lock its
    /// registrations): not acquired, nothing of this call left on the LUN. The holders'
    /// keys are in the error object (`pr_error_holders`), the LUN in `pr_error_path`;
    /// forcing fences them.
    PR_ERR_LOCK_HELD = 7400,
    /// Another process (virtlockd, or another program, on this host or on a shared
    /// filesystem another) holds a conflicting lock on the lock file (`pr_error_path`).
    PR_ERR_LOCK_FILE_BUSY = 7401,
    /// This process already holds a lock on this lock file (fcntl locks belong to the
    /// process: a second one would silently merge with the first).
    PR_ERR_LOCK_HELD_BY_THIS_PROCESS = 7402,
    /// The lockspace directory (`pr_error_path`) does not exist.
    PR_ERR_NO_LOCKSPACE = 7403,
    /// The lockspace path (`pr_error_path`) exists but is not a directory.
    PR_ERR_LOCKSPACE_NOT_A_DIRECTORY = 7404,
    /// Release of a LUN lock whose key is not registered (fenced meanwhile, or never
    /// taken); nothing was changed.
    PR_ERR_LOCK_NOT_HELD = 7405,
    /// Forcing did not remove a holder (its key is in `pr_error_holders`).
    PR_ERR_FENCE_FAILED = 7406,
    /// The program that names a lock as libvirt does (`/lib/udev/scsi_id`, `lvs`) could
    /// not be run (`pr_error_path`).
    PR_ERR_LOCK_NAME_PROGRAM = 7407,
}

impl pr_result {
    /// The static message of a code.
    pub fn message(self) -> &'static str {
        self.message_c().to_str().unwrap_or("")
    }

    /// The NUL-terminated static message.
    pub(crate) fn message_c(self) -> &'static std::ffi::CStr {
        match self {
            pr_result::PR_OK => c"success",
            pr_result::PR_ERR_NULL_ARGUMENT => c"a required pointer argument is NULL",
            pr_result::PR_ERR_INVALID_ARGUMENT => c"invalid argument",
            pr_result::PR_ERR_INVALID_TRANSPORT_ID => c"invalid TransportID text",
            pr_result::PR_ERR_PANIC => c"internal error (a panic was caught)",
            pr_result::PR_ERR_RUNTIME => c"the library's runtime thread is not available",
            pr_result::PR_ERR_CANCELLED => c"cancelled before it started",
            pr_result::PR_ERR_FLEET_INCOMPLETE => c"not every LUN succeeded",
            pr_result::PR_ERR_LOG_UNAVAILABLE => {
                c"another tracing subscriber is installed in this process"
            }
            pr_result::PR_ERR_NOT_FOUND => c"no such multipath map or device",
            pr_result::PR_ERR_PERMISSION_DENIED => c"permission denied",
            pr_result::PR_ERR_NOT_SCSI => c"not a SCSI device",
            pr_result::PR_ERR_OS => c"operating-system error",
            pr_result::PR_ERR_TIMEOUT => c"command timed out",
            pr_result::PR_ERR_PATH_DOWN => c"path down",
            pr_result::PR_ERR_NO_USABLE_PATH => c"no usable path",
            pr_result::PR_ERR_UNSUPPORTED => c"not supported by this transport",
            pr_result::PR_ERR_INVALID_REQUEST => c"request refused by the transport",
            pr_result::PR_ERR_MAP => c"multipath map, multipathd or configuration error",
            pr_result::PR_ERR_RESERVATION_CONFLICT => c"reservation conflict",
            pr_result::PR_ERR_ILLEGAL_REQUEST => c"illegal request",
            pr_result::PR_ERR_UNIT_ATTENTION => c"unit attention",
            pr_result::PR_ERR_NOT_READY => c"not ready",
            pr_result::PR_ERR_CHECK_CONDITION => c"check condition",
            pr_result::PR_ERR_SCSI_STATUS => c"unsuccessful SCSI status",
            pr_result::PR_ERR_TRANSPORT => c"transport error (host or driver status)",
            pr_result::PR_ERR_DECODE => c"cannot decode the response",
            pr_result::PR_ERR_KEY_MISMATCH => c"configured reservation key doesn't match",
            pr_result::PR_ERR_SAFETY_CHECK => c"safety check refused to preempt",
            pr_result::PR_ERR_TYPE_MISMATCH => c"reservation type mismatch",
            pr_result::PR_ERR_LOCK_HELD => c"the LUN is held by another host",
            pr_result::PR_ERR_LOCK_FILE_BUSY => c"the lock file is held by another process",
            pr_result::PR_ERR_LOCK_HELD_BY_THIS_PROCESS => {
                c"this process already holds this lock file"
            }
            pr_result::PR_ERR_NO_LOCKSPACE => c"the lockspace directory does not exist",
            pr_result::PR_ERR_LOCKSPACE_NOT_A_DIRECTORY => {
                c"the lockspace location is not a directory"
            }
            pr_result::PR_ERR_LOCK_NOT_HELD => c"the lock is not held",
            pr_result::PR_ERR_FENCE_FAILED => c"fencing the holder failed",
            pr_result::PR_ERR_LOCK_NAME_PROGRAM => c"cannot run the program that names the lock",
        }
    }

    /// Every code, for tests and for [`from_u32`](Self::from_u32).
    pub(crate) const ALL: [pr_result; 38] = [
        pr_result::PR_OK,
        pr_result::PR_ERR_NULL_ARGUMENT,
        pr_result::PR_ERR_INVALID_ARGUMENT,
        pr_result::PR_ERR_INVALID_TRANSPORT_ID,
        pr_result::PR_ERR_PANIC,
        pr_result::PR_ERR_RUNTIME,
        pr_result::PR_ERR_CANCELLED,
        pr_result::PR_ERR_FLEET_INCOMPLETE,
        pr_result::PR_ERR_LOG_UNAVAILABLE,
        pr_result::PR_ERR_NOT_FOUND,
        pr_result::PR_ERR_PERMISSION_DENIED,
        pr_result::PR_ERR_NOT_SCSI,
        pr_result::PR_ERR_OS,
        pr_result::PR_ERR_TIMEOUT,
        pr_result::PR_ERR_PATH_DOWN,
        pr_result::PR_ERR_NO_USABLE_PATH,
        pr_result::PR_ERR_UNSUPPORTED,
        pr_result::PR_ERR_INVALID_REQUEST,
        pr_result::PR_ERR_MAP,
        pr_result::PR_ERR_RESERVATION_CONFLICT,
        pr_result::PR_ERR_ILLEGAL_REQUEST,
        pr_result::PR_ERR_UNIT_ATTENTION,
        pr_result::PR_ERR_NOT_READY,
        pr_result::PR_ERR_CHECK_CONDITION,
        pr_result::PR_ERR_SCSI_STATUS,
        pr_result::PR_ERR_TRANSPORT,
        pr_result::PR_ERR_DECODE,
        pr_result::PR_ERR_KEY_MISMATCH,
        pr_result::PR_ERR_SAFETY_CHECK,
        pr_result::PR_ERR_TYPE_MISMATCH,
        pr_result::PR_ERR_LOCK_HELD,
        pr_result::PR_ERR_LOCK_FILE_BUSY,
        pr_result::PR_ERR_LOCK_HELD_BY_THIS_PROCESS,
        pr_result::PR_ERR_NO_LOCKSPACE,
        pr_result::PR_ERR_LOCKSPACE_NOT_A_DIRECTORY,
        pr_result::PR_ERR_LOCK_NOT_HELD,
        pr_result::PR_ERR_FENCE_FAILED,
        pr_result::PR_ERR_LOCK_NAME_PROGRAM,
    ];

    /// The code with this value, if any.
    pub fn from_u32(v: u32) -> Option<pr_result> {
        Self::ALL.iter().copied().find(|r| *r as u32 == v)
    }
}

/// An error: what [`pr_error`] holds. Built in Rust, handed to C boxed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorInfo {
    /// The code.
    pub code: pr_result,
    /// The full message (never empty).
    pub message: CString,
    /// The path (device node, simulator path or map) the decisive failure happened on.
    pub path: Option<CString>,
    /// The SCSI status, when the command completed at the device.
    pub status: Option<u8>,
    /// The sense bytes (empty when none).
    pub sense: Vec<u8>,
    /// The sense key, when there is sense data.
    pub sense_key: Option<u8>,
    /// ASC and ASCQ, when there is sense data that has them.
    pub asc_ascq: Option<(u8, u8)>,
    /// Linux host and driver status bytes (0 when not reported).
    pub host_status: u16,
    /// See [`host_status`](Self::host_status).
    pub driver_status: u16,
    /// Whether the command may have taken effect although it failed.
    pub outcome_unknown: bool,
    /// The per-path report of a multipath operation, as text.
    pub report: Option<CString>,
    /// For a lock held by others: their reservation keys (the reservation holder's
    /// first); for a failed fence: the victim's. Empty otherwise.
    pub holders: Vec<u64>,
}

/// A C string from any text: interior NUL bytes become U+FFFD.
pub(crate) fn cstring(s: impl Into<String>) -> CString {
    let s: String = s.into();
    CString::new(s.replace('\0', "\u{fffd}")).unwrap_or_default()
}

impl ErrorInfo {
    /// An error with a code and a message only.
    pub fn new(code: pr_result, message: impl Into<String>) -> Self {
        let mut m: String = message.into();
        if m.is_empty() {
            m = code.message().to_owned();
        }
        ErrorInfo {
            code,
            message: cstring(m),
            path: None,
            status: None,
            sense: Vec::new(),
            sense_key: None,
            asc_ascq: None,
            host_status: 0,
            driver_status: 0,
            outcome_unknown: false,
            report: None,
            holders: Vec::new(),
        }
    }

    /// `argument `name` is NULL`.
    pub fn null(name: &str) -> Self {
        Self::new(
            pr_result::PR_ERR_NULL_ARGUMENT,
            format!("argument `{name}` is NULL"),
        )
    }

    /// An invalid argument, named.
    pub fn invalid(name: &str, why: impl std::fmt::Display) -> Self {
        Self::new(
            pr_result::PR_ERR_INVALID_ARGUMENT,
            format!("argument `{name}`: {why}"),
        )
    }

    fn with_path(mut self, path: Option<&str>) -> Self {
        if let Some(p) = path.filter(|p| !p.is_empty()) {
            self.path = Some(cstring(p));
        }
        self
    }

    /// From a command that completed unsuccessfully.
    pub fn from_command(e: &CommandError, path: Option<&str>, message: String) -> Self {
        let code = match e {
            CommandError::ReservationConflict { .. } => pr_result::PR_ERR_RESERVATION_CONFLICT,
            CommandError::IllegalRequest { .. } => pr_result::PR_ERR_ILLEGAL_REQUEST,
            CommandError::UnitAttention { .. } => pr_result::PR_ERR_UNIT_ATTENTION,
            CommandError::NotReady { .. } => pr_result::PR_ERR_NOT_READY,
            CommandError::MediumError { .. }
            | CommandError::HardwareError { .. }
            | CommandError::AbortedCommand { .. }
            | CommandError::DataProtect { .. }
            | CommandError::OtherSenseKey { .. }
            | CommandError::NoSenseData { .. }
            | CommandError::MalformedSense { .. } => pr_result::PR_ERR_CHECK_CONDITION,
            CommandError::Transport { .. } => pr_result::PR_ERR_TRANSPORT,
            _ => pr_result::PR_ERR_SCSI_STATUS,
        };
        let mut info = ErrorInfo::new(code, message).with_path(path);
        info.status = e.status().map(|s| s.0);
        info.sense = e.sense_bytes().to_vec();
        info.sense_key = e.sense_key().map(|k| k.code());
        info.asc_ascq = e.asc_ascq();
        match e {
            CommandError::ReservationConflict { host_status } => {
                info.host_status = host_status.0;
            }
            CommandError::Transport {
                host_status,
                driver_status,
            } => {
                info.host_status = host_status.0;
                info.driver_status = driver_status.0;
                info.outcome_unknown = true;
            }
            _ => {}
        }
        info
    }

    /// From a command that did not complete at the device.
    pub fn from_transport(e: &TransportError, path: Option<&str>, message: String) -> Self {
        let code = match e {
            TransportError::Timeout(_) => pr_result::PR_ERR_TIMEOUT,
            TransportError::Os { .. } => pr_result::PR_ERR_OS,
            TransportError::PathDown { .. } => pr_result::PR_ERR_PATH_DOWN,
            TransportError::Unsupported { .. } => pr_result::PR_ERR_UNSUPPORTED,
            TransportError::InvalidRequest(_) => pr_result::PR_ERR_INVALID_REQUEST,
            _ => pr_result::PR_ERR_OS,
        };
        let mut info = ErrorInfo::new(code, message).with_path(path);
        info.outcome_unknown = Failure::Transport(e.clone()).outcome_unknown();
        info
    }

    /// From one failed command on one path.
    pub fn from_failure(f: &Failure, path: Option<&str>, message: String) -> Self {
        let mut info = match f {
            Failure::Transport(t) => Self::from_transport(t, path, message),
            Failure::Command(c) => Self::from_command(c, path, message),
        };
        if f.kind() == ErrorKind::PermissionDenied {
            info.code = pr_result::PR_ERR_PERMISSION_DENIED;
        }
        info
    }

    /// From the runtime bridge: a panic in the task is `PR_ERR_PANIC`, a task that could
    /// not start or was lost is `PR_ERR_RUNTIME`.
    pub fn from_bridge(e: &BridgeError) -> Self {
        let code = match e {
            BridgeError::Panicked(_) => pr_result::PR_ERR_PANIC,
            _ => pr_result::PR_ERR_RUNTIME,
        };
        ErrorInfo::new(code, e.to_string())
    }

    /// From a pr-multipath error: the code from its [`ErrorKind`], refined by the decisive
    /// failure's SCSI or transport outcome where the C API has a finer code; the path of
    /// that failure (or the LUN, or what the caller gave); its sense data and report.
    pub fn from_multipath(e: &pr_multipath::Error) -> Self {
        use pr_multipath::Error as E;
        let message = e.to_string();
        let mut info = match e {
            E::Runtime(b) => {
                let mut i = Self::from_bridge(b);
                i.message = cstring(message);
                return i;
            }
            E::Failed {
                lun,
                failure: Some(f),
                report,
                ..
            } => {
                let path = report
                    .steps
                    .iter()
                    .find(|s| s.result.as_ref().err() == Some(&**f))
                    .map_or(lun.as_str(), |s| s.path.as_str());
                Self::from_failure(f, Some(path), message)
            }
            E::NotRegistered { lun, report, .. } => {
                // The code says what happened (conflict: not registered); the status and
                // sense are the PREEMPT's that conflicted.
                let mut i = match e.failure() {
                    Some(f) => {
                        let path = report
                            .steps
                            .iter()
                            .find(|s| s.result.as_ref().err() == Some(f))
                            .map_or(lun.as_str(), |s| s.path.as_str());
                        Self::from_failure(f, Some(path), message)
                    }
                    None => ErrorInfo::new(code_of(e), message).with_path(subject_of(e)),
                };
                i.code = code_of(e);
                i
            }
            _ => ErrorInfo::new(code_of(e), message).with_path(subject_of(e)),
        };
        if let Some(r) = e.report() {
            info.report = Some(cstring(r.to_string()));
        }
        info
    }
}

impl ErrorInfo {
    /// From a pr-lock error: a PR command's failure keeps its SCSI status, sense data and
    /// report (as every other call's); a lock held by others names their keys
    /// ([`holders`](Self::holders)) and the LUN; file and directory errors name the path.
    pub fn from_lock(e: &pr_lock::Error) -> Self {
        use pr_lock::Error as E;
        let message = e.to_string();
        let display = |p: &std::path::Path| p.display().to_string();
        match e {
            E::Pr(p) => Self::from_multipath(p),
            E::Held { lun, holders, .. } => {
                let mut i = Self::new(pr_result::PR_ERR_LOCK_HELD, message).with_path(Some(lun));
                i.holders = holders.iter().map(|k| k.0).collect();
                i
            }
            E::FenceFailed { lun, victim, .. } => {
                let mut i = Self::new(pr_result::PR_ERR_FENCE_FAILED, message).with_path(Some(lun));
                i.holders = vec![victim.0];
                i
            }
            E::NotHeld { lun, .. } => {
                Self::new(pr_result::PR_ERR_LOCK_NOT_HELD, message).with_path(Some(lun))
            }
            E::FileLockBusy { path, .. } => {
                Self::new(pr_result::PR_ERR_LOCK_FILE_BUSY, message).with_path(Some(&display(path)))
            }
            E::HeldByThisProcess { path } => {
                Self::new(pr_result::PR_ERR_LOCK_HELD_BY_THIS_PROCESS, message)
                    .with_path(Some(&display(path)))
            }
            E::NoLockspace { dir } => {
                Self::new(pr_result::PR_ERR_NO_LOCKSPACE, message).with_path(Some(&display(dir)))
            }
            E::NotADirectory { dir } => {
                Self::new(pr_result::PR_ERR_LOCKSPACE_NOT_A_DIRECTORY, message)
                    .with_path(Some(&display(dir)))
            }
            E::Io { path, source, .. } => {
                let code = match source.kind() {
                    std::io::ErrorKind::PermissionDenied => pr_result::PR_ERR_PERMISSION_DENIED,
                    std::io::ErrorKind::NotFound => pr_result::PR_ERR_NOT_FOUND,
                    _ => pr_result::PR_ERR_OS,
                };
                Self::new(code, message).with_path(Some(&display(path)))
            }
            E::KeyProgram { program, .. } => {
                Self::new(pr_result::PR_ERR_LOCK_NAME_PROGRAM, message)
                    .with_path(Some(&display(program)))
            }
            E::InvalidDisk { .. } => Self::invalid("disk", message),
            E::ZeroKey => Self::invalid("key", message),
            // A variant pr-lock adds later: its message, as an OS-level failure.
            _ => Self::new(pr_result::PR_ERR_OS, message),
        }
    }
}

impl From<pr_lock::Error> for ErrorInfo {
    fn from(e: pr_lock::Error) -> Self {
        ErrorInfo::from_lock(&e)
    }
}

impl From<BridgeError> for ErrorInfo {
    fn from(e: BridgeError) -> Self {
        ErrorInfo::from_bridge(&e)
    }
}

impl From<pr_multipath::Error> for ErrorInfo {
    fn from(e: pr_multipath::Error) -> Self {
        ErrorInfo::from_multipath(&e)
    }
}

/// The code of an error without a decisive command failure, from its kind (and, where the
/// C API has its own code for it, its variant).
fn code_of(e: &pr_multipath::Error) -> pr_result {
    use pr_multipath::Error as E;
    match e {
        E::NoUsablePath { .. } | E::Failed { .. } => return pr_result::PR_ERR_NO_USABLE_PATH,
        E::TypeMismatch { .. } => return pr_result::PR_ERR_TYPE_MISMATCH,
        E::Decode { .. } => return pr_result::PR_ERR_DECODE,
        E::MapControl { .. } | E::Multipathd(_) | E::Config { .. } => {
            return pr_result::PR_ERR_MAP;
        }
        _ => {}
    }
    match e.kind() {
        ErrorKind::InvalidArgument => pr_result::PR_ERR_INVALID_ARGUMENT,
        ErrorKind::NotFound => pr_result::PR_ERR_NOT_FOUND,
        ErrorKind::NotScsi => pr_result::PR_ERR_NOT_SCSI,
        ErrorKind::PermissionDenied => pr_result::PR_ERR_PERMISSION_DENIED,
        ErrorKind::ReservationConflict => pr_result::PR_ERR_RESERVATION_CONFLICT,
        ErrorKind::IllegalRequest => pr_result::PR_ERR_ILLEGAL_REQUEST,
        ErrorKind::DeviceError => pr_result::PR_ERR_CHECK_CONDITION,
        ErrorKind::PathFailure => pr_result::PR_ERR_NO_USABLE_PATH,
        ErrorKind::Unsupported => pr_result::PR_ERR_UNSUPPORTED,
        ErrorKind::KeyMismatch => pr_result::PR_ERR_KEY_MISMATCH,
        ErrorKind::SafetyCheck => pr_result::PR_ERR_SAFETY_CHECK,
        ErrorKind::Cancelled => pr_result::PR_ERR_CANCELLED,
        ErrorKind::Internal => pr_result::PR_ERR_PANIC,
        // System (device-mapper, sysfs, an OS call while opening) and any kind added later.
        _ => pr_result::PR_ERR_OS,
    }
}

/// What an error is about when no command failed: the LUN, the path that answered, or
/// what the caller gave.
fn subject_of(e: &pr_multipath::Error) -> Option<&str> {
    use pr_multipath::Error as E;
    match e {
        E::NoUsablePath { lun }
        | E::Failed { lun, .. }
        | E::KeyMismatch { lun, .. }
        | E::NoConfiguredKey { lun }
        | E::SafetyCheck { lun, .. }
        | E::TypeMismatch { lun, .. }
        | E::MapControl { lun, .. }
        | E::Cancelled { lun } => Some(lun),
        E::Decode { path, .. } => Some(path),
        E::InvalidArgument { what, .. } | E::NotFound { what, .. } | E::NotScsi { what, .. } => {
            Some(what)
        }
        _ => None,
    }
}

/// An error object: a [`pr_result`] with its message, the path it happened on, and for a
/// command that reached the device its SCSI status and sense data. Returned through the
/// `pr_error **err` argument of fallible calls (when that argument is not NULL); the caller
/// frees it with `pr_error_free`. Immutable: safe to read from several threads.
#[allow(non_camel_case_types)]
pub struct pr_error {
    _private: [u8; 0],
}
