//! What an operation did, path by path: every command sent (with what was sent, how many
//! attempts, and the outcome with its sense), the map suspend/resume calls, multipathd
//! updates, and for registration changes the resulting state of each path.

use core::fmt;

use pr_core::types::{PrInAction, PrOutAction, PrOutFlags, ReservationKey, ReservationType};

use crate::error::Failure;

/// A PERSISTENT RESERVE OUT command as sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutCommand {
    /// The service action.
    pub action: PrOutAction,
    /// RESERVATION KEY.
    pub key: ReservationKey,
    /// SERVICE ACTION RESERVATION KEY.
    pub sa_key: ReservationKey,
    /// TYPE, for the actions that take one.
    pub reservation_type: Option<ReservationType>,
    /// APTPL, ALL_TG_PT, UNREG.
    pub flags: PrOutFlags,
}

impl OutCommand {
    pub(crate) fn new(action: PrOutAction, key: ReservationKey, sa_key: ReservationKey) -> Self {
        OutCommand {
            action,
            key,
            sa_key,
            reservation_type: None,
            flags: PrOutFlags::empty(),
        }
    }

    pub(crate) fn typed(mut self, ty: ReservationType) -> Self {
        self.reservation_type = Some(ty);
        self
    }

    pub(crate) fn flags(mut self, flags: PrOutFlags) -> Self {
        self.flags = flags;
        self
    }
}

impl fmt::Display for OutCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} key={} sa_key={}", self.action, self.key, self.sa_key)?;
        if let Some(t) = self.reservation_type {
            write!(f, " type={}", t.short_name())?;
        }
        if self.flags.contains(PrOutFlags::APTPL) {
            f.write_str(" aptpl")?;
        }
        if self.flags.contains(PrOutFlags::ALL_TG_PT) {
            f.write_str(" all_tg_pt")?;
        }
        if self.flags.contains(PrOutFlags::UNREG) {
            f.write_str(" unreg")?;
        }
        Ok(())
    }
}

/// A command as sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// PERSISTENT RESERVE IN.
    In(PrInAction),
    /// PERSISTENT RESERVE OUT.
    Out(OutCommand),
}

impl Command {
    /// The PR OUT command, if this is one.
    pub fn out(&self) -> Option<&OutCommand> {
        match self {
            Command::Out(o) => Some(o),
            Command::In(_) => None,
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::In(a) => write!(f, "PR IN {}", a.name()),
            Command::Out(o) => write!(f, "{o}"),
        }
    }
}

/// Why a command was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The caller's command.
    Initial,
    /// REGISTER AND IGNORE EXISTING KEY on a path where REGISTER had a conflict
    /// ([`ConflictPolicy::RetryWithIgnore`](crate::ConflictPolicy::RetryWithIgnore)).
    IgnoreRetry,
    /// Undoing a registration change ([`ConflictPolicy::Rollback`](crate::ConflictPolicy::Rollback)).
    Rollback,
    /// A PR IN to learn the reservation before or after the operation.
    Check,
    /// PREEMPT moving a reservation held by the old key (on an unusable path) to the new key.
    KeyChangePreempt,
    /// RELEASE before unregistering a key that holds the reservation.
    ReleaseFirst,
    /// A step of a self-preemption (release workaround, preempt of all registrants, self
    /// preempt): PREEMPT, RELEASE, final unregister.
    SelfPreempt,
    /// REGISTER AND IGNORE EXISTING KEY restoring the paths' registrations after a self
    /// preemption.
    Reregister,
}

/// One command on one path and its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The path's name.
    pub path: String,
    /// Why it was sent.
    pub phase: Phase,
    /// What was sent.
    pub command: Command,
    /// How many times it was sent (unit attentions, BUSY and NOT READY retries included).
    pub attempts: u32,
    /// From the first send to the final outcome, retries and their waits included (zero
    /// when nothing was sent).
    pub elapsed: std::time::Duration,
    /// Its outcome; the error keeps the sense.
    pub result: Result<(), Failure>,
}

impl Step {
    /// Whether it succeeded.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{:?}] {}: ", self.path, self.phase, self.command)?;
        match &self.result {
            Ok(()) => f.write_str("ok")?,
            Err(e) => write!(f, "{e}")?,
        }
        if self.attempts > 1 {
            write!(f, " ({} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

/// A suspend or resume of the map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapEvent {
    /// Suspended without flushing.
    Suspended,
    /// Resumed.
    Resumed,
    /// There is no map control (a LUN without a dm map): the step ran without suspending.
    NoMapControl,
    /// The suspend or resume failed.
    Failed {
        /// `suspend` or `resume`.
        op: &'static str,
        /// Why.
        message: String,
    },
}

/// The registration state of one path after a registration change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathRegistration {
    /// The path now has the new key (or is unregistered, for an unregister).
    Changed,
    /// The path was not changed (its command failed before taking effect, or the rollback
    /// restored it).
    Unchanged,
    /// The path was changed and then restored by the rollback.
    RolledBack,
    /// The path's state is unknown: the command may have taken effect but no reply came,
    /// and the path could not be checked (multipathd re-registers paths that come back).
    Unknown,
    /// The path was not usable and nothing was sent to it.
    SkippedUnusable,
    /// ALL_TG_PT: another path of the same SCSI host carried the registration.
    CoveredBy(String),
}

/// The registration state of one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathState {
    /// The path.
    pub path: String,
    /// Its state.
    pub registration: PathRegistration,
}

/// Everything an operation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The LUN.
    pub lun: String,
    /// Every command sent, in the order they completed.
    pub steps: Vec<Step>,
    /// Suspend and resume calls on the map.
    pub map_events: Vec<MapEvent>,
    /// For REGISTER and REGISTER AND IGNORE EXISTING KEY: each path's resulting state.
    pub registrations: Vec<PathState>,
    /// What else happened: multipathd updates, workarounds taken, checks that were skipped.
    pub notes: Vec<String>,
}

impl Report {
    pub(crate) fn new(lun: &str) -> Self {
        Report {
            lun: lun.to_owned(),
            ..Report::default()
        }
    }

    /// The steps sent to one path, in order.
    pub fn steps_of<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a Step> + 'a {
        self.steps.iter().filter(move |s| s.path == path)
    }

    /// The PR OUT actions sent to one path, in order (a compact view for tests and logs).
    pub fn actions_of(&self, path: &str) -> Vec<PrOutAction> {
        self.steps_of(path)
            .filter_map(|s| s.command.out().map(|o| o.action))
            .collect()
    }

    /// The registration state of one path.
    pub fn registration_of(&self, path: &str) -> Option<&PathRegistration> {
        self.registrations
            .iter()
            .find(|p| p.path == path)
            .map(|p| &p.registration)
    }

    /// Whether a workaround suspended the map.
    pub fn suspended(&self) -> bool {
        self.map_events.contains(&MapEvent::Suspended)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}:", self.lun)?;
        for s in &self.steps {
            writeln!(f, "  {s}")?;
        }
        for e in &self.map_events {
            writeln!(f, "  map: {e:?}")?;
        }
        for p in &self.registrations {
            writeln!(f, "  {}: {:?}", p.path, p.registration)?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        Ok(())
    }
}
