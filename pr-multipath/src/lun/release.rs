//! RELEASE on every usable path, and the release workaround for a reservation held through
//! a path this host cannot use.

use pr_core::prin::Reservation;
use pr_core::transport::Transport;
use pr_core::types::{PrOutAction, ReservationKey, ReservationType};

use crate::error::{Error, Result};
use crate::exec;
use crate::report::{OutCommand, Phase, Report};

use super::MultipathLun;
use super::fanout::decisive;
use super::preempt::PreemptWork;

impl<T: Transport> MultipathLun<T> {
    /// RELEASE on every usable path, then READ RESERVATION:
    ///
    /// - held by `key` with another type than `ty`: [`Error::TypeMismatch`] (a reservation
    ///   conflict, as multipath-tools 0.13+ reports it); nothing else is done;
    /// - still held by `key` with type `ty` (the holder path is unusable) and the safety
    ///   check confirms this host took it: the release workaround runs: suspend the map
    ///   without flushing, PREEMPT our own key on a usable path, RELEASE there, re-register
    ///   every usable path, resume. Not confirmed: [`Error::SafetyCheck`].
    pub async fn release(&self, key: ReservationKey, ty: ReservationType) -> Result<Report> {
        self.logged("RELEASE", async {
            let mut report = Report::new(&self.name);
            exec::encode_out(&exec::prout_of(
                &OutCommand::new(PrOutAction::Release, key, ReservationKey(0)).typed(ty),
            ))?;
            self.check_key(None, key, &mut report).await?;
            self.refresh_if_stale(&mut report).await;
            self.release_in(key, ty, false, &mut report).await?;
            self.set_hold(None, &mut report).await;
            Ok(report)
        })
        .await
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
            return Err(self.failed("RELEASE", decisive(&fails), report));
        }
        // Check the type first (multipath-tools 0.13+ `mpath_prout_rel`): a reservation
        // still held by our key with another type is a conflict, not a failed path.
        let info = self.read_reservation_in(report).await?;
        match after_release(info.reservation.as_ref(), key, ty) {
            AfterRelease::Released => Ok(false),
            AfterRelease::TypeMismatch { held } => Err(Error::TypeMismatch {
                lun: self.name.clone(),
                requested: ty,
                held,
                report: Box::new(report.clone()),
            }),
            AfterRelease::StillHeld => {
                if !self.we_took_it(key, report).await {
                    return Err(self.safety_refusal(key, report));
                }
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
                Box::pin(self.self_preempt(key, key, PrOutAction::Preempt, ty, work, report))
                    .await?;
                Ok(unregister)
            }
        }
    }
}

/// What READ RESERVATION after a RELEASE that reached the device calls for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AfterRelease {
    /// Our key does not hold the reservation (any more): done.
    Released,
    /// Our key holds it with another type than the caller's: RELEASE cannot release it
    /// (SPC: INVALID RELEASE OF PERSISTENT RESERVATION, LIO: RESERVATION CONFLICT), and
    /// the caller is told so, as multipath-tools 0.13+ does (a reservation conflict).
    TypeMismatch {
        /// The TYPE code held.
        held: u8,
    },
    /// Our key still holds it with the caller's type although RELEASE went to every usable
    /// path: the holder is a path this host cannot use. The release workaround applies,
    /// after the safety check.
    StillHeld,
}

/// The decision after the RELEASE fan-out, from the reservation READ RESERVATION reports
/// (`None`: no reservation), our `key` and the type `ty` the caller released.
pub(super) fn after_release(
    reservation: Option<&Reservation>,
    key: ReservationKey,
    ty: ReservationType,
) -> AfterRelease {
    match reservation {
        Some(r) if !key.is_zero() && r.key == key => {
            if r.type_code == ty.code() {
                AfterRelease::StillHeld
            } else {
                AfterRelease::TypeMismatch { held: r.type_code }
            }
        }
        _ => AfterRelease::Released,
    }
}

#[cfg(test)]
mod tests {
    use pr_core::types::Scope;

    use super::*;

    const KEY: ReservationKey = ReservationKey(0xaa);

    fn held(key: u64, type_code: u8) -> Reservation {
        Reservation {
            key: ReservationKey(key),
            scope: Scope::LogicalUnit,
            type_code,
        }
    }

    #[test]
    fn nothing_held_or_held_by_another_key_is_released() {
        assert_eq!(
            after_release(None, KEY, ReservationType::WriteExclusive),
            AfterRelease::Released
        );
        assert_eq!(
            after_release(Some(&held(0xbb, 1)), KEY, ReservationType::WriteExclusive),
            AfterRelease::Released
        );
        // All-registrants reservations report key 0: not ours to work around.
        assert_eq!(
            after_release(
                Some(&held(0, 7)),
                KEY,
                ReservationType::WriteExclusiveAllRegistrants
            ),
            AfterRelease::Released
        );
        assert_eq!(
            after_release(
                Some(&held(0, 7)),
                ReservationKey(0),
                ReservationType::WriteExclusiveAllRegistrants
            ),
            AfterRelease::Released
        );
    }

    #[test]
    fn our_key_with_another_type_is_a_mismatch_not_a_workaround() {
        assert_eq!(
            after_release(Some(&held(0xaa, 1)), KEY, ReservationType::ExclusiveAccess),
            AfterRelease::TypeMismatch { held: 1 }
        );
        assert_eq!(
            after_release(Some(&held(0xaa, 2)), KEY, ReservationType::ExclusiveAccess),
            AfterRelease::TypeMismatch { held: 2 }
        );
    }

    #[test]
    fn our_key_with_the_same_type_still_held_needs_the_workaround() {
        assert_eq!(
            after_release(
                Some(&held(0xaa, 5)),
                KEY,
                ReservationType::WriteExclusiveRegistrantsOnly
            ),
            AfterRelease::StillHeld
        );
    }
}
