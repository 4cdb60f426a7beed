//! Errors of pr-multipath. Every error that comes from a command keeps the command's
//! [`CommandError`] (with its sense bytes) or [`TransportError`], and every error of an
//! operation that touched several paths carries the full per-path [`Report`].

use pr_core::outcome::CommandError;
use pr_core::transport::TransportError;
use pr_core::types::{ReservationKey, ReservationType, type_code_name};

use crate::multipathd::MultipathdError;
use crate::report::Report;

/// Why one command on one path did not succeed.
///
/// With the `serde` feature: `{"kind", "message", "path_failure", "outcome_unknown",
/// "command_error", "transport_error"}`: the [`ErrorKind`](crate::ErrorKind), the `Display`
/// text, [`is_path_failure`](Self::is_path_failure),
/// [`outcome_unknown`](Self::outcome_unknown), and pr-core's summary of the
/// [`CommandError`] (with the sense bytes as hex) or of the [`TransportError`], the other
/// `null`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The command did not complete at the device (path down, timeout, OS error).
    #[error("{0}")]
    Transport(TransportError),
    /// The command completed unsuccessfully; the error keeps the sense bytes.
    #[error("{0}")]
    Command(CommandError),
}

impl Failure {
    /// Whether another path may succeed where this one failed: every transport error except
    /// a malformed request, and the command errors pr-core classifies as path failures
    /// (host byte, `DID_*` failures, NOT READY 04h/0Bh-0Ch, ...).
    pub fn is_path_failure(&self) -> bool {
        match self {
            Failure::Transport(TransportError::InvalidRequest(_)) => false,
            Failure::Transport(_) => true,
            Failure::Command(c) => c.is_path_failure(),
        }
    }

    /// Whether the command may have taken effect at the device although it failed: a
    /// timeout, an OS error or a path that dropped it, or a transport-level host/driver
    /// status. A reply lost on the way back looks exactly like this.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Failure::Transport(
                TransportError::InvalidRequest(_) | TransportError::Unsupported { .. },
            ) => false,
            Failure::Transport(_) => true,
            Failure::Command(c) => matches!(c, CommandError::Transport { .. }),
        }
    }

    /// Whether the device answered RESERVATION CONFLICT.
    pub fn is_reservation_conflict(&self) -> bool {
        matches!(self, Failure::Command(c) if c.is_reservation_conflict())
    }

    /// The pr-core classification, when the command completed at the device.
    pub fn command_error(&self) -> Option<&CommandError> {
        match self {
            Failure::Command(c) => Some(c),
            Failure::Transport(_) => None,
        }
    }

    /// The sense bytes, empty when there were none.
    pub fn sense_bytes(&self) -> &[u8] {
        self.command_error().map_or(&[], CommandError::sense_bytes)
    }
}

/// Any pr-multipath error.
///
/// With the `serde` feature: `{"kind", "message", "lun", "sense", "failure", "report"}`:
/// the [`ErrorKind`](crate::ErrorKind), the `Display` text, the LUN when the error
/// concerns one (else `null`), the sense bytes of the decisive command as lower-case hex
/// (`null` when there are none), the decisive [`Failure`] ([`failure`](Self::failure)) and
/// the [`Report`] ([`report`](Self::report)), each `null` when the error has none.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No path of the LUN is usable.
    #[error("{lun}: no usable path")]
    NoUsablePath {
        /// The LUN (map name).
        lun: String,
    },
    /// An operation failed. `failure` is the decisive failure (the one the caller would
    /// get from a single-path device: a reservation conflict if any path had one, else the
    /// first error); `report` lists every command sent on every path, with its outcome and
    /// sense, and what each path's registration is now.
    #[error("{lun}: {what} failed: {}", failure.as_ref().map_or_else(|| "see report".to_owned(), |f| f.to_string()))]
    Failed {
        /// The LUN.
        lun: String,
        /// The operation (`REGISTER`, `RELEASE`, ...).
        what: String,
        /// The decisive failure.
        failure: Option<Box<Failure>>,
        /// Everything that was done.
        report: Box<Report>,
    },
    /// The key given does not match the configured `reservation_key` (multipath.conf or the
    /// prkeys file); nothing was sent. Same text as multipathd/libmpathpersist.
    #[error("{lun}: configured reservation key doesn't match: {configured}")]
    KeyMismatch {
        /// The LUN.
        lun: String,
        /// The configured key.
        configured: ReservationKey,
        /// The key the caller gave.
        given: ReservationKey,
    },
    /// A `reservation_key` configuration applies to this LUN but sets no key.
    #[error("{lun}: no configured reservation key")]
    NoConfiguredKey {
        /// The LUN.
        lun: String,
    },
    /// The safety check refused to preempt on the caller's behalf.
    #[error("{lun}: safety check refused to preempt: {reason}")]
    SafetyCheck {
        /// The LUN.
        lun: String,
        /// Why.
        reason: String,
        /// What was done before the check (the first phase of the operation).
        report: Box<Report>,
    },
    /// RELEASE with a type other than the one the reservation is held with by the caller's
    /// key: nothing was released. libmpathpersist (multipath-tools 0.13+) reports it as a
    /// reservation conflict (`MPATH_PR_RESERV_CONFLICT`), and so does
    /// [`is_reservation_conflict`](Error::is_reservation_conflict).
    #[error(
        "{lun}: release type {} ({requested}) doesn't match the reservation's type {held} ({})",
        .requested.code(),
        type_code_name(*.held)
    )]
    TypeMismatch {
        /// The LUN.
        lun: String,
        /// The type the caller released.
        requested: ReservationType,
        /// The TYPE code of the reservation.
        held: u8,
        /// What was done (the RELEASE fan-out and the READ RESERVATION that found it).
        report: Box<Report>,
    },
    /// This node's key is not registered on the LUN, so it cannot preempt (fence) another
    /// node there: the device answered RESERVATION CONFLICT, and READ KEYS does not list
    /// the key. Register it first (unfence).
    #[error("{lun}: this node's key {key} is not registered on the LUN")]
    NotRegistered {
        /// The LUN.
        lun: String,
        /// This node's key.
        key: ReservationKey,
        /// What was done (the PREEMPT that conflicted and the READ KEYS).
        report: Box<Report>,
    },
    /// Suspending or resuming the map failed.
    #[error("{lun}: map {op} failed: {message}")]
    MapControl {
        /// The LUN.
        lun: String,
        /// `suspend` or `resume`.
        op: &'static str,
        /// The underlying error.
        message: String,
        /// What was done.
        report: Box<Report>,
    },
    /// A PR IN response could not be decoded.
    #[error("{lun}: {path}: cannot decode {what}: {source}")]
    Decode {
        /// The LUN.
        lun: String,
        /// The path that answered.
        path: String,
        /// The response.
        what: &'static str,
        /// Why.
        source: pr_core::DecodeError,
    },
    /// A request could not be built; nothing was sent.
    #[error("cannot build the request: {0}")]
    Build(#[from] pr_core::BuildError),
    /// multipathd could not be reached or refused a command.
    #[error(transparent)]
    Multipathd(#[from] MultipathdError),
    /// A configuration file could not be read or parsed.
    #[error("{path}: {reason}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong (with a line number when there is one).
        reason: String,
    },
    /// pr-sgio failed (discovery, opening a path device, dm ioctls).
    #[error(transparent)]
    Sgio(Box<pr_sgio::Error>),
    /// The operation was cancelled before it started.
    #[error("{lun}: cancelled before it started")]
    Cancelled {
        /// The LUN.
        lun: String,
    },
    /// An argument is unusable as given (an empty device name, a bad descriptor, ...).
    #[error("{what}: {reason}")]
    InvalidArgument {
        /// What the caller gave.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No multipath map or device by that name or path.
    #[error("{what}: {reason}")]
    NotFound {
        /// What the caller gave.
        what: String,
        /// What was looked for.
        reason: String,
    },
    /// It exists but is neither a SCSI device nor a multipath map (a regular file, a
    /// directory, `/dev/null`, a partition, a dm device of another target).
    #[error("{what}: not a SCSI device: {reason}")]
    NotScsi {
        /// What the caller gave.
        what: String,
        /// What it is instead.
        reason: String,
    },
    /// The blocking API's runtime thread failed (see [`crate::blocking`]).
    #[error(transparent)]
    Runtime(#[from] crate::blocking::BridgeError),
}

impl From<pr_sgio::Error> for Error {
    fn from(e: pr_sgio::Error) -> Self {
        Error::Sgio(Box::new(e))
    }
}

impl Error {
    /// The decisive failure of a failed operation.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Error::Failed { failure, .. } => failure.as_deref(),
            // The PREEMPT that conflicted, with its sense.
            Error::NotRegistered { report, .. } => report
                .steps
                .iter()
                .rev()
                .find_map(|s| s.result.as_ref().err()),
            _ => None,
        }
    }

    /// The pr-core classification (with sense) of the decisive failure.
    pub fn command_error(&self) -> Option<&CommandError> {
        self.failure().and_then(Failure::command_error)
    }

    /// Whether the operation failed with RESERVATION CONFLICT (including a type mismatch on
    /// RELEASE, which libmpathpersist reports as a conflict, and a fence by a node that is
    /// not registered).
    pub fn is_reservation_conflict(&self) -> bool {
        matches!(
            self,
            Error::TypeMismatch { .. } | Error::NotRegistered { .. }
        ) || self.failure().is_some_and(Failure::is_reservation_conflict)
    }

    /// The per-path report, for errors of operations that sent commands.
    pub fn report(&self) -> Option<&Report> {
        match self {
            Error::Failed { report, .. }
            | Error::SafetyCheck { report, .. }
            | Error::TypeMismatch { report, .. }
            | Error::NotRegistered { report, .. }
            | Error::MapControl { report, .. } => Some(report),
            _ => None,
        }
    }

    /// The same error with `report` in place of its report (errors without one are
    /// returned as they are).
    pub(crate) fn with_report(self, report: &Report) -> Error {
        let r = Box::new(report.clone());
        match self {
            Error::Failed {
                lun, what, failure, ..
            } => Error::Failed {
                lun,
                what,
                failure,
                report: r,
            },
            Error::SafetyCheck { lun, reason, .. } => Error::SafetyCheck {
                lun,
                reason,
                report: r,
            },
            Error::TypeMismatch {
                lun,
                requested,
                held,
                ..
            } => Error::TypeMismatch {
                lun,
                requested,
                held,
                report: r,
            },
            Error::NotRegistered { lun, key, .. } => Error::NotRegistered {
                lun,
                key,
                report: r,
            },
            Error::MapControl {
                lun, op, message, ..
            } => Error::MapControl {
                lun,
                op,
                message,
                report: r,
            },
            other => other,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    /// The LUN the error concerns, when it names one.
    pub fn lun(&self) -> Option<&str> {
        match self {
            Error::NoUsablePath { lun }
            | Error::Failed { lun, .. }
            | Error::KeyMismatch { lun, .. }
            | Error::NoConfiguredKey { lun }
            | Error::SafetyCheck { lun, .. }
            | Error::TypeMismatch { lun, .. }
            | Error::NotRegistered { lun, .. }
            | Error::MapControl { lun, .. }
            | Error::Decode { lun, .. }
            | Error::Cancelled { lun } => Some(lun),
            Error::Build(_)
            | Error::Multipathd(_)
            | Error::Config { .. }
            | Error::Sgio(_)
            | Error::InvalidArgument { .. }
            | Error::NotFound { .. }
            | Error::NotScsi { .. }
            | Error::Runtime(_) => None,
        }
    }

    /// The sense bytes of the decisive command, if there are any.
    pub fn sense_bytes(&self) -> Option<&[u8]> {
        let command = match self {
            Error::Sgio(e) => e.command_error(),
            other => other.command_error(),
        };
        command.map(|c| c.sense_bytes()).filter(|b| !b.is_empty())
    }
}

#[cfg(feature = "serde")]
mod serde_impl {
    use pr_core::serde_support::Hex;
    use serde::ser::{Serialize, SerializeStruct, Serializer};

    use super::{Error, Failure};

    impl Serialize for Failure {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let (command, transport) = match self {
                Failure::Command(c) => (Some(c), None),
                Failure::Transport(t) => (None, Some(t)),
            };
            let mut st = s.serialize_struct("Failure", 6)?;
            st.serialize_field("kind", &self.kind())?;
            st.serialize_field("message", &format_args!("{self}"))?;
            st.serialize_field("path_failure", &self.is_path_failure())?;
            st.serialize_field("outcome_unknown", &self.outcome_unknown())?;
            st.serialize_field("command_error", &command)?;
            st.serialize_field("transport_error", &transport)?;
            st.end()
        }
    }

    impl Serialize for Error {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut st = s.serialize_struct("Error", 6)?;
            st.serialize_field("kind", &self.kind())?;
            st.serialize_field("message", &format_args!("{self}"))?;
            st.serialize_field("lun", &self.lun())?;
            st.serialize_field("sense", &self.sense_bytes().map(Hex))?;
            st.serialize_field("failure", &self.failure())?;
            st.serialize_field("report", &self.report())?;
            st.end()
        }
    }
}
