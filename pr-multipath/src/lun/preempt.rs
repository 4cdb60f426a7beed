//! PREEMPT and PREEMPT AND ABORT, and the self-preemption sequence shared with the release
//! workaround: suspend the map, PREEMPT on one path, optionally RELEASE, re-register, resume.

use pr_core::transport::Transport;
use pr_core::types::{PrOutAction, PrOutFlags, ReservationKey, ReservationType};

use crate::error::{Error, Result};
use crate::exec;
use crate::report::{Command, MapEvent, OutCommand, Phase, Report};

use super::fanout::decisive;
use super::{Hold, MultipathLun};

/// What the self-preemption sequence does after its PREEMPT, on the same path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PreemptWork {
    /// Nothing: re-register every usable path (preempting all registrants, self-preempt).
    None,
    /// RELEASE, then re-register every usable path (the release workaround).
    Release,
    /// RELEASE and unregister that path; no re-registration (unregistering the holder).
    ReleaseUnregister,
}

/// How a PREEMPT is carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PreemptSequence {
    /// One path, failing over on path failures.
    OnePath,
    /// Suspend, PREEMPT, re-register our paths, resume: the PREEMPT also removes the
    /// registrations of our other paths.
    SelfPreempt(SelfPreemptReason),
}

/// Why a PREEMPT removes our own paths' registrations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SelfPreemptReason {
    /// SA key 0 against an all-registrants reservation removes every other registrant.
    AllRegistrants,
    /// The victim is our own key.
    OwnKey,
}

/// The plan of a PREEMPT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct PreemptPlan {
    pub(super) sequence: PreemptSequence,
    /// The victim holds the reservation, so afterwards this host does.
    pub(super) takes_reservation: bool,
}

/// The plan of a PREEMPT of `victim` by `key`, given the holder's key from READ
/// RESERVATION (`None`: no reservation, or it could not be read; `Some(0)`: an
/// all-registrants reservation).
pub(super) fn preempt_plan(
    holder: Option<ReservationKey>,
    key: ReservationKey,
    victim: ReservationKey,
) -> PreemptPlan {
    let takes_reservation = holder == Some(victim);
    let sequence = if takes_reservation && victim.is_zero() {
        PreemptSequence::SelfPreempt(SelfPreemptReason::AllRegistrants)
    } else if victim == key {
        PreemptSequence::SelfPreempt(SelfPreemptReason::OwnKey)
    } else {
        PreemptSequence::OnePath
    };
    PreemptPlan {
        sequence,
        takes_reservation,
    }
}

impl<T: Transport> MultipathLun<T> {
    /// PREEMPT of `victim` by `key` with type `ty`: removes the registrations of `victim`
    /// and, when `victim` holds the reservation, takes it with type `ty`.
    ///
    /// - `victim` is 0 and the reservation is an all-registrants one (READ RESERVATION
    ///   key 0): SA key 0 removes every other registration, our other paths' included, so
    ///   it runs as a self-preemption: suspend, PREEMPT, re-register our paths, resume.
    /// - `victim == key` (self-preempt, for example to change the type): the same sequence.
    /// - otherwise one path with failover on path failures.
    ///
    /// When the victim held the reservation, this host records that it holds it now. A
    /// victim key that is not registered is a reservation conflict (SPC).
    pub async fn preempt(
        &self,
        key: ReservationKey,
        victim: ReservationKey,
        ty: ReservationType,
    ) -> Result<Report> {
        self.preempt_with(PrOutAction::Preempt, key, victim, ty)
            .await
    }

    /// PREEMPT AND ABORT of `victim` by `key` with type `ty`: as [`preempt`](Self::preempt),
    /// and the device server also aborts the commands of the preempted I_T nexuses (the
    /// fencing action of fence_scsi and fence_mpath). LIO over tcm_loop can deadlock on it;
    /// [`preempt`](Self::preempt) fences there too.
    pub async fn preempt_and_abort(
        &self,
        key: ReservationKey,
        victim: ReservationKey,
        ty: ReservationType,
    ) -> Result<Report> {
        self.preempt_with(PrOutAction::PreemptAndAbort, key, victim, ty)
            .await
    }

    /// PREEMPT or PREEMPT AND ABORT (`action`).
    pub(crate) async fn preempt_with(
        &self,
        action: PrOutAction,
        key: ReservationKey,
        victim: ReservationKey,
        ty: ReservationType,
    ) -> Result<Report> {
        self.logged(action.name(), async {
            let mut report = Report::new(&self.name);
            let cmd = OutCommand::new(action, key, victim).typed(ty);
            let request = exec::encode_out(&exec::prout_of(&cmd))?;
            self.check_key(None, key, &mut report).await?;
            self.refresh_if_stale(&mut report).await;
            let holder = match self.read_reservation_in(&mut report).await {
                Ok(i) => i.reservation.map(|r| r.key),
                Err(e) => {
                    report.notes.push(format!(
                        "could not read the reservation before preempting: {e}"
                    ));
                    None
                }
            };
            let plan = preempt_plan(holder, key, victim);
            match plan.sequence {
                PreemptSequence::OnePath => {
                    self.initial_one_path(cmd, &request, action.name(), &mut report)
                        .await?;
                }
                PreemptSequence::SelfPreempt(why) => {
                    report.notes.push(
                        match why {
                            SelfPreemptReason::AllRegistrants => {
                                "preempting an all-registrants reservation: self-preempt sequence"
                            }
                            SelfPreemptReason::OwnKey => {
                                "preempting our own key: self-preempt sequence"
                            }
                        }
                        .into(),
                    );
                    Box::pin(self.self_preempt(
                        key,
                        victim,
                        action,
                        ty,
                        PreemptWork::None,
                        &mut report,
                    ))
                    .await?;
                }
            }
            if plan.takes_reservation {
                self.set_hold(
                    Some(Hold {
                        key,
                        reservation_type: ty,
                    }),
                    &mut report,
                )
                .await;
            }
            Ok(report)
        })
        .await
    }

    async fn map_op(&self, suspend: bool, report: &mut Report) -> Result<()> {
        let Some(mc) = &self.map_control else {
            if suspend {
                report.map_events.push(MapEvent::NoMapControl);
            }
            return Ok(());
        };
        let (op, r) = if suspend {
            ("suspend", mc.suspend_noflush(&self.name).await)
        } else {
            ("resume", mc.resume(&self.name).await)
        };
        match r {
            Ok(()) => {
                report.map_events.push(if suspend {
                    MapEvent::Suspended
                } else {
                    MapEvent::Resumed
                });
                Ok(())
            }
            Err(message) => {
                report.map_events.push(MapEvent::Failed {
                    op,
                    message: message.clone(),
                });
                Err(Error::MapControl {
                    lun: self.name.clone(),
                    op,
                    message,
                    report: Box::new(report.clone()),
                })
            }
        }
    }

    /// Suspend the map (noflush), PREEMPT `sa_key` with `key` on one path, optionally
    /// RELEASE there (and unregister it), re-register every usable path, resume.
    pub(super) async fn self_preempt(
        &self,
        key: ReservationKey,
        sa_key: ReservationKey,
        action: PrOutAction,
        ty: ReservationType,
        work: PreemptWork,
        report: &mut Report,
    ) -> Result<()> {
        self.map_op(true, report).await?;
        let inner = self
            .self_preempt_suspended(key, sa_key, action, ty, work, report)
            .await;
        let resumed = self.map_op(false, report).await;
        match (inner, resumed) {
            (Err(e), _) => Err(e.with_report(report)),
            (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        }
    }

    async fn self_preempt_suspended(
        &self,
        key: ReservationKey,
        sa_key: ReservationKey,
        action: PrOutAction,
        ty: ReservationType,
        work: PreemptWork,
        report: &mut Report,
    ) -> Result<()> {
        let cmd = OutCommand::new(action, key, sa_key).typed(ty);
        let req = exec::encode_out(&exec::prout_of(&cmd))?;
        let p = match self
            .one_path(Phase::SelfPreempt, Command::Out(cmd), &req, false, report)
            .await
        {
            Ok(p) => p,
            Err(f) => return Err(self.one_path_error(action.name(), f, report)),
        };
        let mut first_err = None;
        if work != PreemptWork::None {
            let rel = OutCommand::new(PrOutAction::Release, key, ReservationKey(0)).typed(ty);
            let step = self.send_out(p, Phase::SelfPreempt, rel).await;
            let failed = step.result.clone().err();
            report.steps.push(step);
            if let Some(f) = failed {
                first_err = Some(self.failed("RELEASE after self-preempt", Some(f), report));
            } else if work == PreemptWork::ReleaseUnregister {
                let unreg = OutCommand::new(
                    PrOutAction::RegisterAndIgnoreExistingKey,
                    ReservationKey(0),
                    ReservationKey(0),
                )
                .flags(self.default_flags() & PrOutFlags::ALL_TG_PT);
                let step = self.send_out(p, Phase::SelfPreempt, unreg).await;
                if let Err(f) = step.result.clone() {
                    first_err = Some(self.failed("final unregister", Some(f), report));
                }
                report.steps.push(step);
            }
        }
        if work != PreemptWork::ReleaseUnregister {
            let targets = self.usable();
            let flags = self.default_flags();
            let steps = self
                .fan_out(&targets, Phase::Reregister, |_| {
                    OutCommand::new(
                        PrOutAction::RegisterAndIgnoreExistingKey,
                        ReservationKey(0),
                        key,
                    )
                    .flags(flags)
                })
                .await;
            let mut fails = Vec::new();
            for (_, s) in steps {
                if let Err(f) = &s.result
                    && !f.is_path_failure()
                {
                    fails.push(f.clone());
                }
                report.steps.push(s);
            }
            if first_err.is_none() && !fails.is_empty() {
                first_err = Some(self.failed(
                    "re-registration after self-preempt",
                    decisive(&fails),
                    report,
                ));
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINE: ReservationKey = ReservationKey(0xa);
    const THEIRS: ReservationKey = ReservationKey(0xb);
    const ZERO: ReservationKey = ReservationKey(0);

    fn plan(seq: PreemptSequence, takes_reservation: bool) -> PreemptPlan {
        PreemptPlan {
            sequence: seq,
            takes_reservation,
        }
    }

    #[test]
    fn preempting_another_node() {
        // The victim holds it: one path, and we hold it afterwards.
        assert_eq!(
            preempt_plan(Some(THEIRS), MINE, THEIRS),
            plan(PreemptSequence::OnePath, true)
        );
        // The victim is only registered (someone else, or nobody, holds it).
        assert_eq!(
            preempt_plan(None, MINE, THEIRS),
            plan(PreemptSequence::OnePath, false)
        );
        assert_eq!(
            preempt_plan(Some(MINE), MINE, THEIRS),
            plan(PreemptSequence::OnePath, false)
        );
    }

    #[test]
    fn sa_key_zero_against_all_registrants_is_a_self_preempt() {
        assert_eq!(
            preempt_plan(Some(ZERO), MINE, ZERO),
            plan(
                PreemptSequence::SelfPreempt(SelfPreemptReason::AllRegistrants),
                true
            )
        );
        // SA key 0 without an all-registrants reservation: the device decides (conflict).
        assert_eq!(
            preempt_plan(Some(THEIRS), MINE, ZERO),
            plan(PreemptSequence::OnePath, false)
        );
    }

    #[test]
    fn preempting_our_own_key_is_a_self_preempt() {
        assert_eq!(
            preempt_plan(Some(MINE), MINE, MINE),
            plan(
                PreemptSequence::SelfPreempt(SelfPreemptReason::OwnKey),
                true
            )
        );
        assert_eq!(
            preempt_plan(None, MINE, MINE),
            plan(
                PreemptSequence::SelfPreempt(SelfPreemptReason::OwnKey),
                false
            )
        );
    }
}
