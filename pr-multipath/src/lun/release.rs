//! RELEASE on every usable path, and the release workaround for a reservation held through
//! a path this host cannot use.

use pr_core::transport::Transport;
use pr_core::types::{PrOutAction, ReservationKey, ReservationType};

use crate::error::{Error, Result};
use crate::exec;
use crate::report::{OutCommand, Phase, Report};

use super::preempt::PreemptWork;
use super::safety::HoldCheck;
use super::{MultipathLun, decisive};

impl<T: Transport> MultipathLun<T> {
    /// RELEASE on every usable path. If the reservation is still held by `key` afterwards
    /// (the holder path is unusable) and the safety check confirms this host took it, the
    /// release workaround runs: suspend the map without flushing, PREEMPT our own key on a
    /// usable path, RELEASE there, re-register every usable path, resume. A type other than
    /// the held one is refused ([`Error::TypeMismatch`], a reservation conflict).
    pub async fn release(&self, key: ReservationKey, ty: ReservationType) -> Result<Report> {
        let mut report = Report::new(&self.name);
        exec::encode_out(&exec::prout_of(
            &OutCommand::new(PrOutAction::Release, key, ReservationKey(0)).typed(ty),
        ))?;
        self.check_key(None, key, &mut report).await?;
        self.refresh_if_stale(&mut report).await;
        self.release_in(key, ty, false, &mut report).await?;
        self.set_hold(None, &mut report).await;
        Ok(report)
    }

    /// Returns whether the workaround also unregistered (when `unregister`).
    pub(super) async fn release_in(
        &self,
        key: ReservationKey,
        ty: ReservationType,
        unregister: bool,
        report: &mut Report,
    ) -> Result<bool> {
        let targets = self.usable();
        if targets.is_empty() {
            return Err(Error::NoUsablePath {
                lun: self.name.clone(),
            });
        }
        let phase = if unregister {
            Phase::ReleaseFirst
        } else {
            Phase::Initial
        };
        let cmd = OutCommand::new(PrOutAction::Release, key, ReservationKey(0)).typed(ty);
        let results = self.fan_out(&targets, phase, |_| cmd).await;
        let mut any_ok = false;
        let mut fails = Vec::new();
        for (_, s) in results {
            match &s.result {
                Ok(()) => any_ok = true,
                Err(f) => fails.push(f.clone()),
            }
            report.steps.push(s);
        }
        if !any_ok {
            return Err(self.failed(
                "RELEASE",
                decisive(&fails.iter().collect::<Vec<_>>()),
                report,
            ));
        }
        match self.hold_check(key, report).await? {
            HoldCheck::NotHeld => Ok(false),
            HoldCheck::Unconfirmed(_) => Err(self.safety_refusal(key, report)),
            HoldCheck::Confirmed(tc) if tc != ty.code() => Err(Error::TypeMismatch {
                lun: self.name.clone(),
                requested: ty,
                held: tc,
                report: Box::new(report.clone()),
            }),
            HoldCheck::Confirmed(_) => {
                report.notes.push(
                    "the path holding the reservation is not usable: release workaround \
                     (suspend, PREEMPT own key, RELEASE, re-register, resume)"
                        .into(),
                );
                let work = if unregister {
                    PreemptWork::ReleaseUnregister
                } else {
                    PreemptWork::Release
                };
                self.self_preempt(key, key, PrOutAction::Preempt, ty, work, report)
                    .await?;
                Ok(unregister)
            }
        }
    }
}
