//! The decisions of a REGISTER fan-out, without IO: which paths the command goes to (every
//! usable path, or one per SCSI host with ALL_TG_PT), how each path's failure is counted,
//! and what the outcomes call for under the [`ConflictPolicy`] (done, fail, retry with
//! REGISTER AND IGNORE EXISTING KEY, or roll back). `register.rs` sends the commands and
//! feeds the outcomes in.

use crate::error::Failure;
use crate::report::{PathRegistration, PathState as RegState};

use super::ConflictPolicy;

/// What the choice of targets needs to know about one path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct PathView<'a> {
    pub(super) name: &'a str,
    pub(super) usable: bool,
    /// The SCSI host (for ALL_TG_PT, one command per host).
    pub(super) host: Option<u32>,
}

/// Where a REGISTER goes, and the registration state of the paths it does not go to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Targets {
    /// Indexes of the paths to send to, in path order.
    pub(super) send: Vec<usize>,
    /// One entry per path, in path order: the paths not sent to are `SkippedUnusable`,
    /// `CoveredBy` (ALL_TG_PT: another path of the same host) or `Changed` (`done`); the
    /// others are `Unchanged` until their outcome is known.
    pub(super) registrations: Vec<RegState>,
}

/// The targets of a REGISTER over `paths`: every usable path, with `all_tg_pt` only the
/// first usable path of each SCSI host (a path without a known host always gets its own
/// command). `done` is a path the caller already registered (SPEC_I_PT, REPLACE LOST
/// RESERVATION): it is not sent to, and with `all_tg_pt` neither is any other path of its
/// host.
pub(super) fn register_targets(
    paths: &[PathView<'_>],
    all_tg_pt: bool,
    done: Option<usize>,
) -> Targets {
    let done_view = done.and_then(|d| paths.get(d));
    let done_host = done_view.and_then(|v| v.host).filter(|_| all_tg_pt);
    // The first usable path of each host, the done path's host taken by the done path.
    let mut hosts: Vec<(u32, &str)> = Vec::new();
    if let (Some(h), Some(v)) = (done_host, done_view) {
        hosts.push((h, v.name));
    }
    let mut send = Vec::new();
    let mut registrations = Vec::with_capacity(paths.len());
    for (i, p) in paths.iter().enumerate() {
        let registration = if Some(i) == done {
            PathRegistration::Changed
        } else if !p.usable {
            PathRegistration::SkippedUnusable
        } else if let Some(h) = p.host.filter(|_| all_tg_pt) {
            if let Some((_, first)) = hosts.iter().find(|(hh, _)| *hh == h) {
                PathRegistration::CoveredBy((*first).to_owned())
            } else {
                hosts.push((h, p.name));
                send.push(i);
                PathRegistration::Unchanged
            }
        } else {
            send.push(i);
            PathRegistration::Unchanged
        };
        registrations.push(RegState {
            path: p.name.to_owned(),
            registration,
        });
    }
    Targets {
        send,
        registrations,
    }
}

/// How one path's failure counts in a REGISTER fan-out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FailureClass {
    /// RESERVATION CONFLICT: the path kept its registration.
    Conflict,
    /// No answer (path failure, timeout, lost reply): the registration is unknown.
    Unknown,
    /// Any other answer: the path kept its registration.
    Other,
}

impl FailureClass {
    pub(super) fn of(f: &Failure) -> Self {
        if f.is_reservation_conflict() {
            FailureClass::Conflict
        } else if f.is_path_failure() || f.outcome_unknown() {
            FailureClass::Unknown
        } else {
            FailureClass::Other
        }
    }
}

/// The outcomes of a REGISTER fan-out, by path index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Outcomes {
    pub(super) ok: Vec<usize>,
    pub(super) conflict: Vec<usize>,
    pub(super) unknown: Vec<usize>,
    pub(super) other: Vec<usize>,
}

impl Outcomes {
    /// Counts the outcome of path `i`.
    pub(super) fn add(&mut self, i: usize, result: Result<(), &Failure>) {
        match result.map_err(FailureClass::of) {
            Ok(()) => self.ok.push(i),
            Err(FailureClass::Conflict) => self.conflict.push(i),
            Err(FailureClass::Unknown) => self.unknown.push(i),
            Err(FailureClass::Other) => self.other.push(i),
        }
    }
}

/// What a REGISTER fan-out's outcomes call for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum NextStep {
    /// Success. Paths without an answer (now marked failed) keep an unknown registration
    /// until they return: `unknown` of them.
    Done {
        /// How many paths did not answer.
        unknown: usize,
    },
    /// The operation failed, with the decisive failure.
    Fail,
    /// [`ConflictPolicy::RetryWithIgnore`]: send REGISTER AND IGNORE EXISTING KEY to these
    /// paths (conflicts, and live paths without an answer).
    RetryWithIgnore(Vec<usize>),
    /// [`ConflictPolicy::Rollback`]: undo the change on these paths, then fail.
    /// `unknown_left` paths without an answer are left as they are (not safe to undo).
    Rollback {
        /// The paths to undo.
        undo: Vec<usize>,
        /// How many paths without an answer are not undone.
        unknown_left: usize,
    },
}

/// The decision after a REGISTER fan-out.
///
/// - `live_unknown`: the paths without an answer that the refresher still reports usable
///   (their registration is unknown on a live path, so it must be settled).
/// - `ignore_existing`: the command was REGISTER AND IGNORE EXISTING KEY (a conflict
///   there cannot be fixed by sending it again).
/// - `unknown_rollback_safe`: a rollback may touch the paths without an answer (they
///   cannot have had the new key before).
pub(super) fn after_fanout(
    o: &Outcomes,
    live_unknown: &[usize],
    policy: ConflictPolicy,
    ignore_existing: bool,
    unknown_rollback_safe: bool,
) -> NextStep {
    let clean = o.conflict.is_empty() && o.other.is_empty();
    if clean && !o.ok.is_empty() && live_unknown.is_empty() {
        return NextStep::Done {
            unknown: o.unknown.len(),
        };
    }
    if o.ok.is_empty() && o.unknown.is_empty() {
        // Nothing changed anywhere.
        return NextStep::Fail;
    }
    match policy {
        ConflictPolicy::RetryWithIgnore => {
            let can_retry = o.other.is_empty()
                && !o.ok.is_empty()
                && (!ignore_existing || o.conflict.is_empty());
            if !can_retry {
                return NextStep::Fail;
            }
            let mut retry = o.conflict.clone();
            retry.extend(live_unknown);
            if retry.is_empty() {
                NextStep::Done { unknown: 0 }
            } else {
                NextStep::RetryWithIgnore(retry)
            }
        }
        ConflictPolicy::Rollback => {
            let mut undo = o.ok.clone();
            let unknown_left = if unknown_rollback_safe {
                undo.extend(&o.unknown);
                0
            } else {
                o.unknown.len()
            };
            NextStep::Rollback { undo, unknown_left }
        }
    }
}

/// The failure a caller of a single-path device would have got: a reservation conflict if
/// any path had one, else the first failure.
pub(super) fn decisive<'a>(failures: impl IntoIterator<Item = &'a Failure>) -> Option<Failure> {
    let mut first = None;
    for f in failures {
        if f.is_reservation_conflict() {
            return Some(f.clone());
        }
        first.get_or_insert(f);
    }
    first.cloned()
}

#[cfg(test)]
mod tests {
    use pr_core::outcome::CommandError;
    use pr_core::transport::TransportError;

    use super::*;

    fn view(name: &str, usable: bool, host: Option<u32>) -> PathView<'_> {
        PathView { name, usable, host }
    }

    fn states(t: &Targets) -> Vec<PathRegistration> {
        t.registrations
            .iter()
            .map(|r| r.registration.clone())
            .collect()
    }

    #[test]
    fn every_usable_path_without_all_tg_pt() {
        let paths = [
            view("a", true, Some(1)),
            view("b", false, Some(1)),
            view("c", true, Some(1)),
        ];
        let t = register_targets(&paths, false, None);
        assert_eq!(t.send, vec![0, 2]);
        assert_eq!(
            states(&t),
            vec![
                PathRegistration::Unchanged,
                PathRegistration::SkippedUnusable,
                PathRegistration::Unchanged
            ]
        );
    }

    #[test]
    fn all_tg_pt_sends_once_per_host_and_always_to_hostless_paths() {
        let paths = [
            view("a", false, Some(1)),
            view("b", true, Some(1)),
            view("c", true, Some(1)),
            view("d", true, Some(2)),
            view("e", true, None),
            view("f", true, None),
        ];
        let t = register_targets(&paths, true, None);
        assert_eq!(t.send, vec![1, 3, 4, 5]);
        assert_eq!(
            t.registrations[0].registration,
            PathRegistration::SkippedUnusable
        );
        assert_eq!(
            t.registrations[2].registration,
            PathRegistration::CoveredBy("b".into())
        );
    }

    #[test]
    fn the_done_path_and_its_host_are_not_sent_to() {
        let paths = [
            view("a", true, Some(1)),
            view("b", true, Some(1)),
            view("c", true, Some(2)),
        ];
        let t = register_targets(&paths, true, Some(1));
        assert_eq!(t.send, vec![2]);
        assert_eq!(
            states(&t),
            vec![
                PathRegistration::CoveredBy("b".into()),
                PathRegistration::Changed,
                PathRegistration::Unchanged
            ]
        );
        // Without ALL_TG_PT only the done path itself is left out.
        let t = register_targets(&paths, false, Some(1));
        assert_eq!(t.send, vec![0, 2]);
        // Nothing else usable: nothing to send.
        let t = register_targets(&paths[..2], true, Some(0));
        assert!(t.send.is_empty());
    }

    fn conflict() -> Failure {
        Failure::Command(CommandError::ReservationConflict {
            host_status: pr_core::outcome::HostStatus(0),
        })
    }

    fn lost() -> Failure {
        Failure::Transport(TransportError::Timeout(std::time::Duration::from_secs(1)))
    }

    fn illegal() -> Failure {
        Failure::Transport(TransportError::InvalidRequest("x".into()))
    }

    fn outcomes(results: &[Result<(), Failure>]) -> Outcomes {
        let mut o = Outcomes::default();
        for (i, r) in results.iter().enumerate() {
            o.add(i, r.as_ref().map(|_| ()));
        }
        o
    }

    #[test]
    fn failures_are_classified() {
        assert_eq!(FailureClass::of(&conflict()), FailureClass::Conflict);
        assert_eq!(FailureClass::of(&lost()), FailureClass::Unknown);
        assert_eq!(FailureClass::of(&illegal()), FailureClass::Other);
        let o = outcomes(&[Ok(()), Err(conflict()), Err(lost()), Err(illegal())]);
        assert_eq!(
            o,
            Outcomes {
                ok: vec![0],
                conflict: vec![1],
                unknown: vec![2],
                other: vec![3],
            }
        );
    }

    #[test]
    fn clean_fanout_is_done_even_with_dead_paths() {
        let o = outcomes(&[Ok(()), Err(lost())]);
        for p in [ConflictPolicy::RetryWithIgnore, ConflictPolicy::Rollback] {
            assert_eq!(
                after_fanout(&o, &[], p, false, false),
                NextStep::Done { unknown: 1 }
            );
        }
        // The same path still alive per the refresher must be settled.
        assert_eq!(
            after_fanout(&o, &[1], ConflictPolicy::RetryWithIgnore, false, false),
            NextStep::RetryWithIgnore(vec![1])
        );
    }

    #[test]
    fn nothing_changed_fails_under_both_policies() {
        let o = outcomes(&[Err(conflict()), Err(illegal())]);
        for p in [ConflictPolicy::RetryWithIgnore, ConflictPolicy::Rollback] {
            assert_eq!(after_fanout(&o, &[], p, false, false), NextStep::Fail);
        }
    }

    #[test]
    fn conflicts_after_success_are_retried_with_ignore() {
        let o = outcomes(&[Ok(()), Err(conflict()), Err(lost())]);
        assert_eq!(
            after_fanout(&o, &[2], ConflictPolicy::RetryWithIgnore, false, false),
            NextStep::RetryWithIgnore(vec![1, 2])
        );
        // REGISTER AND IGNORE that conflicted cannot be fixed by sending it again.
        assert_eq!(
            after_fanout(&o, &[], ConflictPolicy::RetryWithIgnore, true, false),
            NextStep::Fail
        );
        // Another error anywhere: no retry.
        let o = outcomes(&[Ok(()), Err(conflict()), Err(illegal())]);
        assert_eq!(
            after_fanout(&o, &[], ConflictPolicy::RetryWithIgnore, false, false),
            NextStep::Fail
        );
    }

    #[test]
    fn rollback_undoes_successes_and_unknowns_only_when_safe() {
        let o = outcomes(&[Ok(()), Err(conflict()), Err(lost())]);
        assert_eq!(
            after_fanout(&o, &[], ConflictPolicy::Rollback, false, true),
            NextStep::Rollback {
                undo: vec![0, 2],
                unknown_left: 0
            }
        );
        assert_eq!(
            after_fanout(&o, &[], ConflictPolicy::Rollback, false, false),
            NextStep::Rollback {
                undo: vec![0],
                unknown_left: 1
            }
        );
    }

    #[test]
    fn decisive_prefers_a_conflict() {
        assert_eq!(decisive([&lost(), &conflict()]), Some(conflict()));
        assert_eq!(decisive([&illegal(), &lost()]), Some(illegal()));
        assert_eq!(decisive([]), None);
    }
}
