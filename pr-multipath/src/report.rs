//! What an operation did, path by path: every command sent (with what was sent, how many
//! attempts, and the outcome with its sense), the map suspend/resume calls, multipathd
//! updates, and for registration changes the resulting state of each path.
//!
//! # Plain data (feature `serde`)
//!
//! With the cargo feature `serde`, every result of pr-multipath implements
//! `serde::Serialize` in a stable, JSON-ready form: a [`Report`] and its parts, the PR IN
//! answers ([`InResult`](crate::InResult), [`KeysInfo`](crate::KeysInfo), ...), the fleet's
//! [`LunResult`](crate::LunResult) and [`Progress`](crate::Progress), and
//! [`Error`](crate::Error) with its [`ErrorKind`](crate::ErrorKind). The values of pr-core
//! inside them serialize as pr-core's `serde_support` module describes: keys as hex
//! strings (`"0x1234"`, since a 64-bit key does not survive a JSON number in JavaScript),
//! reservation types and actions as snake_case names, TransportIDs as
//! `{"protocol", "text", "hex"}`, sense bytes as lower-case hex. Here too:
//! - an enum without data is a snake_case string; one with data uses serde's default form,
//!   a string for a unit variant and `{"variant": data}` for the others;
//! - durations are integer microseconds, in members named `…_us`;
//! - optional members are present with `null`.
//!
//! Only the simple values a caller passes in also deserialize (pr-core's keys, types and
//! actions, [`ConflictPolicy`](crate::ConflictPolicy), [`FenceAction`](crate::FenceAction));
//! results are produced by the library, not read back. Each type's documentation gives its
//! form.

use core::fmt;

use pr_core::types::{PrInAction, PrOutAction, PrOutFlags, ReservationKey, ReservationType};

use crate::error::Failure;

/// A PERSISTENT RESERVE OUT command as sent.
///
/// With the `serde` feature: `{"action": "register", "key": "0x0", "sa_key": "0x1234",
/// "reservation_type": null, "flags": ["aptpl"]}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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
///
/// With the `serde` feature: `{"in": "read_keys"}` or `{"out": {...}}` (an [`OutCommand`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
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
///
/// With the `serde` feature: its snake_case name, e.g. `"initial"`, `"ignore_retry"`,
/// `"self_preempt"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
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
///
/// With the `serde` feature: `{"path", "phase", "command", "attempts", "elapsed_us", "ok",
/// "failure"}`: `elapsed_us` is [`elapsed`](Self::elapsed) in integer microseconds, `ok`
/// whether it succeeded, `failure` the [`Failure`] or `null`.
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
///
/// With the `serde` feature: `"suspended"`, `"resumed"`, `"no_map_control"`, or
/// `{"failed": {"op": "suspend", "message": "..."}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
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
///
/// With the `serde` feature: `"changed"`, `"unchanged"`, `"rolled_back"`, `"unknown"`,
/// `"skipped_unusable"`, or `{"covered_by": "sdc"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
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
///
/// With the `serde` feature: `{"path": "sdb", "registration": "changed"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PathState {
    /// The path.
    pub path: String,
    /// Its state.
    pub registration: PathRegistration,
}

/// Everything an operation did.
///
/// With the `serde` feature: `{"lun", "steps", "map_events", "registrations", "notes"}`
/// (arrays of [`Step`], [`MapEvent`], [`PathState`] and strings); see the module
/// documentation for the conventions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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

#[cfg(feature = "serde")]
mod serde_impl {
    use pr_core::serde_support::Micros;
    use serde::ser::{Serialize, SerializeStruct, Serializer};

    use super::Step;

    impl Serialize for Step {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut st = s.serialize_struct("Step", 7)?;
            st.serialize_field("path", &self.path)?;
            st.serialize_field("phase", &self.phase)?;
            st.serialize_field("command", &self.command)?;
            st.serialize_field("attempts", &self.attempts)?;
            st.serialize_field("elapsed_us", &Micros(self.elapsed))?;
            st.serialize_field("ok", &self.result.is_ok())?;
            st.serialize_field("failure", &self.result.as_ref().err())?;
            st.end()
        }
    }
}
