//! REGISTER and REGISTER AND IGNORE EXISTING KEY: the fan-out, the conflict policies
//! (retry with REGISTER AND IGNORE, or rollback), unregistering the holder, the key change
//! workaround, multipathd's prstatus, and re-registering a returning path.

use std::sync::atomic::Ordering;

use pr_core::transport::Transport;
use pr_core::types::{PrOutAction, PrOutFlags, ReservationKey, ReservationType};

use crate::error::{Error, Failure, Result};
use crate::exec;
use crate::path::{Path, PathState};
use crate::report::{Command, OutCommand, PathRegistration, PathState as RegState, Phase, Report};

use super::fanout::{self, NextStep, Outcomes, decisive};
use super::safety::HoldCheck;
use super::{ConflictPolicy, Hold, MultipathLun, RegisterRequest, lock};

impl<T: Transport> MultipathLun<T> {
    /// REGISTER or REGISTER AND IGNORE EXISTING KEY on every usable path, concurrently
    /// (bounded by [`LunOptions::concurrency`](super::LunOptions::concurrency)); with ALL_TG_PT on one path per SCSI host.
    ///
    /// - Conflicts on some paths after success on others: [`ConflictPolicy`].
    /// - Paths that fail with a path failure are marked failed and skipped (multipathd
    ///   registers paths that come back); a path whose reply was lost but that the refresher
    ///   still reports usable is re-sent REGISTER AND IGNORE EXISTING KEY (RetryWithIgnore)
    ///   or rolled back (Rollback).
    /// - Unregistering (new key 0) a key that holds the reservation releases it first (with
    ///   the release workaround when the holder path is unusable).
    /// - Changing the key while the reservation is held by the old key on an unusable path
    ///   moves the reservation to the new key with PREEMPT (after the safety check).
    pub async fn register(&self, req: RegisterRequest) -> Result<Report> {
        self.logged(req.action().name(), async {
            let mut report = Report::new(&self.name);
            let main = OutCommand::new(req.action(), req.old_key, req.new_key);
            exec::encode_out(&exec::prout_of(&main))?;
            let revert = self.check_key(Some(&req), req.new_key, &mut report).await?;
            let r = self.register_in(req, &mut report).await;
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

    async fn register_in(&self, req: RegisterRequest, report: &mut Report) -> Result<()> {
        self.refresh_if_stale(report).await;
        let unregistering = req.new_key.is_zero();
        if unregistering && !req.old_key.is_zero() {
            match self.hold_check(req.old_key, report).await {
                Ok(HoldCheck::Confirmed(tc)) => {
                    if let Some(ty) = ReservationType::from_code(tc)
                        && !ty.is_all_registrants()
                    {
                        report.notes.push(
                            "unregistering the holder: releasing the reservation first".into(),
                        );
                        let done = Box::pin(self.release_in(req.old_key, ty, true, report)).await?;
                        self.set_hold(None, report).await;
                        if done {
                            // The workaround already unregistered the last path.
                            self.after_register(&req, report).await;
                            self.mark_after_self_unregister(report);
                            return Ok(());
                        }
                    }
                }
                Ok(HoldCheck::Unconfirmed(_)) => report.notes.push(
                    "the reservation is held by the key being unregistered, but this host's \
                     hold is not confirmed: unregistering without releasing first"
                        .into(),
                ),
                Ok(HoldCheck::NotHeld) => {}
                Err(e) => report.notes.push(format!(
                    "could not read the reservation before unregistering: {e}"
                )),
            }
        }
        self.register_fanout(&req, report).await?;
        if req.aptpl {
            self.aptpl.store(true, Ordering::Relaxed);
        } else if !unregistering {
            self.aptpl.store(false, Ordering::Relaxed);
        }
        Box::pin(self.key_change(&req, report)).await?;
        self.after_register(&req, report).await;
        Ok(())
    }

    /// After the release workaround unregistered: the path that preempted and unregistered
    /// is Changed; the PREEMPT removed every registration with the old key, but a usable
    /// path registered with another key keeps it, so the others are Unknown.
    fn mark_after_self_unregister(&self, report: &mut Report) {
        let preempter = report
            .steps
            .iter()
            .find(|s| {
                s.phase == Phase::SelfPreempt
                    && s.is_ok()
                    && s.command.out().is_some_and(|o| {
                        matches!(
                            o.action,
                            PrOutAction::Preempt | PrOutAction::PreemptAndAbort
                        )
                    })
            })
            .map(|s| s.path.clone());
        report.registrations = self
            .paths
            .iter()
            .map(|p| RegState {
                path: p.name().to_owned(),
                registration: if !p.is_usable() {
                    PathRegistration::SkippedUnusable
                } else if preempter.as_deref() == Some(p.name()) {
                    PathRegistration::Changed
                } else {
                    PathRegistration::Unknown
                },
            })
            .collect();
        report.notes.push(
            "the self-preempt removed every registration with the old key; paths registered \
             with another key keep it"
                .into(),
        );
    }

    /// Tells multipathd about the registration: `unsetprstatus` after unregistering;
    /// `setprstatus` (with the path list) only when multipathd's key for the map is the key
    /// just registered. multipathd takes prstatus to mean "registered with my key": 0.13+
    /// checks it at once (READ KEYS, then REGISTER AND IGNORE 0 on the first usable path
    /// when its own key is missing: seen with 0.15.1 in the lab), and every version
    /// registers returning paths with its key. So a key registered without the configured
    /// key check (no multipath.conf read) that multipathd does not know unsets prstatus
    /// instead, with a note.
    pub(super) async fn after_register(&self, req: &RegisterRequest, report: &mut Report) {
        let Some(d) = &self.daemon else { return };
        if !req.new_key.is_zero() && self.configured_key().is_none_or(|c| c.key != req.new_key) {
            let theirs = match d.get_prkey(&self.name).await {
                Ok(k) => k.map(|k| k.key),
                Err(e) => {
                    report.notes.push(format!(
                        "multipathd getprkey failed ({e}): prstatus left as it was"
                    ));
                    return;
                }
            };
            if theirs != Some(req.new_key) {
                let theirs = theirs.map_or_else(|| "none".to_owned(), |k| k.to_string());
                let r = d.unset_prstatus(&self.name).await;
                report.notes.push(format!(
                    "multipathd's key for the map is {theirs}, not {}: prstatus {} \
                     (setprstatus would make multipathd 0.13+ unregister a path, and \
                     multipathd registers returning paths with its own key)",
                    req.new_key,
                    match r {
                        Ok(()) => "unset".to_owned(),
                        Err(e) => format!("not set (unsetprstatus failed: {e})"),
                    }
                ));
                return;
            }
        }
        let r = if req.new_key.is_zero() {
            d.unset_prstatus(&self.name).await
        } else {
            let mut list = Vec::new();
            for p in self.paths.iter().filter(|p| p.is_usable()) {
                if list.is_empty() {
                    list.push(p.name().to_owned());
                } else {
                    list.push(p.dev_t().unwrap_or(p.name()).to_owned());
                }
            }
            d.set_prstatus(&self.name, &list).await
        };
        match r {
            Ok(()) => report.notes.push(format!(
                "multipathd: {}prstatus",
                if req.new_key.is_zero() {
                    "unset"
                } else {
                    "set"
                }
            )),
            Err(e) => report
                .notes
                .push(format!("multipathd prstatus update failed: {e}")),
        }
    }

    /// multipath-tools' `preempt_missing_path`.
    pub(super) async fn key_change(
        &self,
        req: &RegisterRequest,
        report: &mut Report,
    ) -> Result<()> {
        let (old, new) = (req.old_key, req.new_key);
        if old.is_zero() || new.is_zero() {
            if lock(&self.hold).is_some() || self.daemon.is_some() {
                self.set_hold(None, report).await;
            }
            return Ok(());
        }
        if old == new {
            return Ok(());
        }
        let info = match self.read_reservation_in(report).await {
            Ok(i) => i,
            Err(e) => {
                report
                    .notes
                    .push(format!("key change: could not read the reservation: {e}"));
                return Ok(());
            }
        };
        let Some(res) = info.reservation else {
            self.set_hold(None, report).await;
            return Ok(());
        };
        if res.key != old {
            if res.key != new {
                self.set_hold(None, report).await;
            } else if let Some(h) = self.hold()
                && h.key == old
            {
                *lock(&self.hold) = Some(Hold { key: new, ..h });
            }
            return Ok(());
        }
        let Some(ty) = res.reservation_type() else {
            return Ok(());
        };
        if !self.we_took_it(old, report).await {
            report.notes.push(format!(
                "key change: the reservation is still held by the old key {old}, but this \
                 host's hold is not confirmed: not preempting it"
            ));
            return Ok(());
        }
        report.notes.push(format!(
            "key change: the reservation is held by the old key {old} on an unusable path: \
             moving it to {new} with PREEMPT"
        ));
        let cmd = OutCommand::new(PrOutAction::Preempt, new, old).typed(ty);
        let request = exec::encode_out(&exec::prout_of(&cmd))?;
        match self
            .one_path(
                Phase::KeyChangePreempt,
                Command::Out(cmd),
                &request,
                false,
                report,
            )
            .await
        {
            Ok(_) => {
                self.set_hold(
                    Some(Hold {
                        key: new,
                        reservation_type: ty,
                    }),
                    report,
                )
                .await;
                Ok(())
            }
            Err(f) => Err(self.one_path_error("PREEMPT of the old key", f, report)),
        }
    }

    pub(super) fn set_reg(&self, report: &mut Report, idx: usize, state: PathRegistration) {
        let name = self.path_name(idx);
        if let Some(r) = report.registrations.iter_mut().find(|r| r.path == name) {
            r.registration = state;
        } else {
            report.registrations.push(RegState {
                path: name,
                registration: state,
            });
        }
    }

    async fn register_fanout(&self, req: &RegisterRequest, report: &mut Report) -> Result<()> {
        self.register_fanout_except(req, None, report).await
    }

    /// The fan-out of REGISTER to every usable path but `done` (a path the caller already
    /// registered, with ALL_TG_PT: its SCSI host), which is reported Changed.
    pub(super) async fn register_fanout_except(
        &self,
        req: &RegisterRequest,
        done: Option<usize>,
        report: &mut Report,
    ) -> Result<()> {
        let all_tg_pt = req.all_tg_pt.unwrap_or(self.options.all_tg_pt);
        let policy = req.policy.unwrap_or(self.options.conflict_policy);
        let mut flags = PrOutFlags::empty();
        if req.aptpl {
            flags |= PrOutFlags::APTPL;
        }
        if all_tg_pt {
            flags |= PrOutFlags::ALL_TG_PT;
        }
        let what = req.action().name();
        let targets = fanout::register_targets(&self.path_views(), all_tg_pt, done);
        report.registrations = targets.registrations;
        let targets = targets.send;
        if targets.is_empty() {
            return match done {
                Some(_) => Ok(()),
                None => Err(Error::NoUsablePath {
                    lun: self.name.clone(),
                }),
            };
        }
        let key_field = if req.ignore_existing {
            ReservationKey(0)
        } else {
            req.old_key
        };
        let main = OutCommand::new(req.action(), key_field, req.new_key).flags(flags);
        // A rollback may only touch a path whose outcome is unknown if that path cannot have
        // had the new key before (else undoing "our" change would change someone else's
        // registration): the rollback policy reads the keys first.
        let unknown_rollback_safe =
            if policy == ConflictPolicy::Rollback && !req.ignore_existing && !req.new_key.is_zero()
            {
                match self.read_keys_in(report).await {
                    Ok(k) => !k.keys.contains(&req.new_key),
                    Err(_) => false,
                }
            } else {
                req.ignore_existing
            };
        let results = self.fan_out(&targets, Phase::Initial, |_| main).await;

        let mut o = Outcomes::default();
        let mut failures: Vec<Failure> = Vec::new();
        for (i, step) in results {
            o.add(i, step.result.as_ref().map(|_| ()));
            if let Err(f) = &step.result {
                failures.push(f.clone());
            }
            report.steps.push(step);
        }
        for &i in &o.ok {
            self.set_reg(report, i, PathRegistration::Changed);
        }
        for &i in o.conflict.iter().chain(&o.other) {
            self.set_reg(report, i, PathRegistration::Unchanged);
        }
        for &i in &o.unknown {
            self.set_reg(report, i, PathRegistration::Unknown);
        }
        let decisive_failure = decisive(&failures);

        // Paths that failed without an answer but are still usable per the refresher have
        // an unknown registration on a live path: that must be resolved.
        let mut live_unknown = Vec::new();
        if !o.unknown.is_empty() && self.refresher.is_some() {
            self.refresh_noted(report).await;
            live_unknown = o
                .unknown
                .iter()
                .copied()
                .filter(|&i| self.paths.get(i).is_some_and(Path::is_usable))
                .collect();
        }

        let next = fanout::after_fanout(
            &o,
            &live_unknown,
            policy,
            req.ignore_existing,
            unknown_rollback_safe,
        );
        match next {
            NextStep::Done { unknown } => {
                if unknown > 0 {
                    report.notes.push(format!(
                        "{unknown} path(s) failed during {what} and are now marked failed; \
                         their registration is unknown until they return"
                    ));
                }
                Ok(())
            }
            NextStep::Fail => Err(self.failed(what, decisive_failure, report)),
            NextStep::RetryWithIgnore(retry) => {
                let cmd = OutCommand::new(
                    PrOutAction::RegisterAndIgnoreExistingKey,
                    ReservationKey(0),
                    req.new_key,
                )
                .flags(flags);
                let results = self.fan_out(&retry, Phase::IgnoreRetry, |_| cmd).await;
                let mut fails = Vec::new();
                for (i, step) in results {
                    match &step.result {
                        Ok(()) => self.set_reg(report, i, PathRegistration::Changed),
                        Err(f) if f.is_path_failure() => {
                            self.set_reg(report, i, PathRegistration::Unknown)
                        }
                        Err(f) => fails.push(f.clone()),
                    }
                    report.steps.push(step);
                }
                if fails.is_empty() {
                    report.notes.push(format!(
                        "{} path(s) had a conflict or no answer: registered with REGISTER AND \
                         IGNORE EXISTING KEY",
                        retry.len()
                    ));
                    Ok(())
                } else {
                    Err(self.failed(what, decisive(&fails), report))
                }
            }
            NextStep::Rollback { undo, unknown_left } => {
                if unknown_left > 0 {
                    report.notes.push(
                        "rollback: paths without an answer are left as they are (their earlier \
                         key cannot be told apart from the new one)"
                            .into(),
                    );
                }
                Box::pin(self.rollback(req, flags, &o.ok, &undo, report)).await;
                Err(self.failed(what, decisive_failure, report))
            }
        }
    }

    async fn rollback(
        &self,
        req: &RegisterRequest,
        flags: PrOutFlags,
        ok: &[usize],
        undo: &[usize],
        report: &mut Report,
    ) {
        if req.old_key == req.new_key && !req.ignore_existing {
            for &i in ok {
                self.set_reg(report, i, PathRegistration::Unchanged);
            }
            return;
        }
        let cmd = if req.ignore_existing {
            OutCommand::new(
                PrOutAction::RegisterAndIgnoreExistingKey,
                ReservationKey(0),
                req.old_key,
            )
        } else {
            OutCommand::new(PrOutAction::Register, req.new_key, req.old_key)
        }
        .flags(flags & PrOutFlags::ALL_TG_PT);
        let results = self.fan_out(undo, Phase::Rollback, |_| cmd).await;
        for (i, step) in results {
            let was_ok = ok.contains(&i);
            let state = match &step.result {
                Ok(()) => PathRegistration::RolledBack,
                // A REGISTER with the new key as the current key conflicts on a path that
                // never took the change: it is unchanged.
                Err(f) if f.is_reservation_conflict() && !was_ok && !req.ignore_existing => {
                    PathRegistration::Unchanged
                }
                Err(_) => PathRegistration::Unknown,
            };
            self.set_reg(report, i, state);
            report.steps.push(step);
        }
        report
            .notes
            .push("rollback: registration changes undone (see registrations)".into());
    }

    /// Re-registers `key` on the path `name` and marks it usable: what multipathd does when a
    /// path comes back (REGISTER AND IGNORE EXISTING KEY with the map's key). For LUNs
    /// without multipathd.
    pub async fn reinstate_path(&self, name: &str, key: ReservationKey) -> Result<Report> {
        self.logged("reinstate path", async {
            let mut report = Report::new(&self.name);
            let Some(idx) = self.paths.iter().position(|p| p.name() == name) else {
                return Err(Error::Config {
                    path: self.name.clone(),
                    reason: format!("no path named {name}"),
                });
            };
            if let Some(p) = self.paths.get(idx) {
                p.set_state(PathState::Usable);
            }
            if key.is_zero() {
                return Ok(report);
            }
            let cmd = OutCommand::new(
                PrOutAction::RegisterAndIgnoreExistingKey,
                ReservationKey(0),
                key,
            )
            .flags(self.default_flags());
            let step = self.send_out(idx, Phase::Reregister, cmd).await;
            let failed = step.result.clone().err();
            report.steps.push(step);
            match failed {
                None => Ok(report),
                Some(f) => Err(self.failed("re-registering a returning path", Some(f), &report)),
            }
        })
        .await
    }
}
