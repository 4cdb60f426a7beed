//! The actions libmpathpersist handles specially or not at all: REGISTER with SPEC_I_PT,
//! REPLACE LOST RESERVATION and REGISTER AND MOVE.

use std::sync::atomic::Ordering;

use pr_core::prout::PrOut;
use pr_core::transport::{Request, Transport};
use pr_core::transport_id::TransportId;
use pr_core::types::{PrOutAction, PrOutFlags, ReservationKey, ReservationType};

use crate::error::{Error, Result};
use crate::exec;
use crate::report::{Command, OutCommand, PathRegistration, Phase, Report};

use super::{ConflictPolicy, Hold, MultipathLun, RegisterRequest};

impl<T: Transport> MultipathLun<T> {
    /// REGISTER with SPEC_I_PT: registers `new_key` for this host's paths **and** for the
    /// I_T nexuses the TransportIDs `ids` name. As libmpathpersist does, the command with
    /// SPEC_I_PT and the TransportIDs is sent once, through the first usable path (failing
    /// over to the next on a path failure: the TransportIDs must be registered once only,
    /// a second SPEC_I_PT registration of the same nexuses is a RESERVATION CONFLICT); the
    /// other usable paths then get the plain REGISTER (SPEC_I_PT cleared) as in
    /// [`register`](Self::register), with its conflict policy. `req` must be a REGISTER
    /// (not REGISTER AND IGNORE EXISTING KEY, which cannot carry SPEC_I_PT) to a non-zero
    /// key.
    ///
    /// What a rollback cannot undo: the registrations of the nexuses named by `ids`
    /// (only those initiators can unregister them). Under [`ConflictPolicy::Rollback`] a
    /// failure of the fan-out unregisters this host's first path again and says so in the
    /// report; the named nexuses stay registered.
    pub async fn register_spec_i_pt(
        &self,
        req: RegisterRequest,
        ids: &[TransportId<'_>],
    ) -> Result<Report> {
        self.logged("REGISTER (SPEC_I_PT)", async {
            let mut report = Report::new(&self.name);
            let mut flags = PrOutFlags::empty();
            if req.aptpl {
                flags |= PrOutFlags::APTPL;
            }
            let all_tg_pt = req.all_tg_pt.unwrap_or(self.options.all_tg_pt);
            let mut p = PrOut::register(req.old_key, req.new_key).with_spec_i_pt(ids);
            if req.ignore_existing {
                p.action = PrOutAction::RegisterAndIgnoreExistingKey;
            }
            if req.aptpl {
                p = p.with_aptpl();
            }
            if all_tg_pt {
                p = p.with_all_tg_pt();
                flags |= PrOutFlags::ALL_TG_PT;
            }
            if req.new_key.is_zero() {
                return Err(Error::Config {
                    path: self.name.clone(),
                    reason: "REGISTER with SPEC_I_PT needs a non-zero new key".into(),
                });
            }
            let request = exec::encode_out(&p)?;
            let cmd = OutCommand::new(req.action(), req.old_key, req.new_key).flags(p.flags);
            let revert = self.check_key(Some(&req), req.new_key, &mut report).await?;
            let r = self
                .register_spec_i_pt_in(&req, cmd, &request, flags, &mut report)
                .await;
            match r {
                Ok(()) => Ok(report),
                Err(e) => {
                    self.revert_key(revert).await;
                    Err(e)
                }
            }
        })
        .await
    }

    async fn register_spec_i_pt_in(
        &self,
        req: &RegisterRequest,
        cmd: OutCommand,
        request: &Request,
        flags: PrOutFlags,
        report: &mut Report,
    ) -> Result<()> {
        self.refresh_if_stale(report).await;
        let first = match self
            .one_path(Phase::Initial, Command::Out(cmd), request, false, report)
            .await
        {
            Ok(i) => i,
            Err(f) => return Err(self.one_path_error("REGISTER (SPEC_I_PT)", f, report)),
        };
        report.notes.push(format!(
            "SPEC_I_PT: the TransportIDs were registered through {}; SPEC_I_PT cleared for \
             the other paths",
            self.path_name(first)
        ));
        let policy = req.policy.unwrap_or(self.options.conflict_policy);
        if let Err(e) = self.register_fanout_except(req, Some(first), report).await {
            if policy == ConflictPolicy::Rollback {
                let undo = OutCommand::new(PrOutAction::Register, req.new_key, req.old_key)
                    .flags(flags & !PrOutFlags::APTPL);
                let step = self.send_out(first, Phase::Rollback, undo).await;
                let undone = step.is_ok();
                report.steps.push(step);
                if undone {
                    self.set_reg(report, first, PathRegistration::RolledBack);
                }
                report.notes.push(
                    "rollback: the nexuses named by the TransportIDs stay registered (only \
                     their initiators can unregister them)"
                        .into(),
                );
            }
            return Err(e.with_report(report));
        }
        if req.aptpl {
            self.aptpl.store(true, Ordering::Relaxed);
        } else {
            self.aptpl.store(false, Ordering::Relaxed);
        }
        Box::pin(self.key_change(req, report)).await?;
        self.after_register(req, report).await;
        Ok(())
    }

    /// REPLACE LOST RESERVATION (SPC-5): after the device server lost a reservation (it
    /// reports the "previous reservation lost" sense), `new_key` (this host's registered
    /// key) takes a new reservation of type `ty`. Sent through one path with failover on
    /// path failures, like RESERVE; recorded as this host's hold for the safety check. The
    /// device then holds the registration of that one I_T nexus only, so `new_key` is
    /// registered on every other usable path afterwards (REGISTER AND IGNORE EXISTING KEY,
    /// as [`register`](Self::register) fans out).
    pub async fn replace_lost_reservation(
        &self,
        new_key: ReservationKey,
        ty: ReservationType,
    ) -> Result<Report> {
        self.logged("REPLACE LOST RESERVATION", async {
            let mut report = Report::new(&self.name);
            let cmd = OutCommand::new(
                PrOutAction::ReplaceLostReservation,
                ReservationKey(0),
                new_key,
            )
            .typed(ty);
            let request = exec::encode_out(&exec::prout_of(&cmd))?;
            self.check_key(None, new_key, &mut report).await?;
            self.refresh_if_stale(&mut report).await;
            self.initial_one_path(cmd, &request, "REPLACE LOST RESERVATION", &mut report)
                .await?;
            let Some(first) = report
                .steps
                .iter()
                .rev()
                .find(|s| s.is_ok())
                .and_then(|s| self.paths.iter().position(|p| p.name() == s.path))
            else {
                return Err(self.failed("REPLACE LOST RESERVATION", None, &report));
            };
            self.set_hold(
                Some(Hold {
                    key: new_key,
                    reservation_type: ty,
                }),
                &mut report,
            )
            .await;
            // The device kept only the issuing nexus's registration: register the key on the
            // other usable paths again, as multipathd would when they come back.
            let req = RegisterRequest::register_ignore(new_key);
            if let Err(e) = self
                .register_fanout_except(&req, Some(first), &mut report)
                .await
            {
                return Err(e.with_report(&report));
            }
            self.after_register(&req, &mut report).await;
            Ok(report)
        })
        .await
    }

    /// REGISTER AND MOVE through one path with failover on path failures: moves the
    /// reservation held with `key` to the I_T nexus `destination` (through
    /// `relative_target_port`), registered with `dest_key`. `unreg` unregisters the
    /// issuing nexus afterwards. libmpathpersist refuses this action on multipath maps.
    #[allow(clippy::too_many_arguments)]
    pub async fn register_and_move(
        &self,
        key: ReservationKey,
        dest_key: ReservationKey,
        ty: ReservationType,
        destination: &TransportId<'_>,
        relative_target_port: u16,
        unreg: bool,
        aptpl: bool,
    ) -> Result<Report> {
        self.logged("REGISTER AND MOVE", async {
            let mut report = Report::new(&self.name);
            let mut p =
                PrOut::register_and_move(key, dest_key, ty, destination, relative_target_port);
            if unreg {
                p = p.with_unreg();
            }
            if aptpl {
                p = p.with_aptpl();
            }
            let request = exec::encode_out(&p)?;
            let cmd = OutCommand::new(PrOutAction::RegisterAndMove, key, dest_key)
                .typed(ty)
                .flags(p.flags);
            self.check_key(None, key, &mut report).await?;
            self.refresh_if_stale(&mut report).await;
            self.initial_one_path(cmd, &request, "REGISTER AND MOVE", &mut report)
                .await?;
            self.set_hold(None, &mut report).await;
            Ok(report)
        })
        .await
    }
}
