//! PREEMPT and PREEMPT AND ABORT, and the self-preemption sequence shared with the release
//! workaround: suspend the map, PREEMPT on one path, optionally RELEASE, re-register, resume.

use pr_core::transport::Transport;
use pr_core::types::{PrOutAction, PrOutFlags, ReservationKey, ReservationType};

use crate::error::{Error, Result};
use crate::exec;
use crate::report::{Command, MapEvent, OutCommand, Phase, Report};

use super::{Hold, MultipathLun, decisive, replace_report};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PreemptWork {
    None,
    Release,
    ReleaseUnregister,
}

impl<T: Transport> MultipathLun<T> {
    /// PREEMPT (or PREEMPT AND ABORT with `abort`) of `victim` by `key`.
    ///
    /// - `victim` holds an all-registrants reservation (READ RESERVATION key 0) and is 0:
    ///   SA key 0 removes every other registration, our other paths' included, so it runs
    ///   as a self-preemption: suspend, PREEMPT, re-register our paths, resume.
    /// - `victim == key` (self-preempt): the same sequence.
    /// - otherwise one path with failover on path failures.
    ///
    /// When the victim held the reservation, this host records that it holds it now.
    pub async fn preempt(
        &self,
        key: ReservationKey,
        victim: ReservationKey,
        ty: ReservationType,
        abort: bool,
    ) -> Result<Report> {
        let mut report = Report::new(&self.name);
        let action = if abort {
            PrOutAction::PreemptAndAbort
        } else {
            PrOutAction::Preempt
        };
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
        let preempting_reservation = holder == Some(victim);
        if preempting_reservation && victim.is_zero() {
            report
                .notes
                .push("preempting an all-registrants reservation: self-preempt sequence".into());
            self.self_preempt(key, victim, action, ty, PreemptWork::None, &mut report)
                .await?;
        } else if victim == key {
            report
                .notes
                .push("preempting our own key: self-preempt sequence".into());
            self.self_preempt(key, victim, action, ty, PreemptWork::None, &mut report)
                .await?;
        } else {
            self.initial_one_path(cmd, &request, action.name(), &mut report)
                .await?;
        }
        if preempting_reservation {
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
            (Err(e), _) => Err(replace_report(e, report)),
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
                    decisive(&fails.iter().collect::<Vec<_>>()),
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
