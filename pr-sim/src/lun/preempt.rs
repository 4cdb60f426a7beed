//! PREEMPT and PREEMPT AND ABORT, for every personality.

use pr_core::types::{ReservationKey, ReservationType};

use super::{Fail, ItNexus, LogicalUnit, R, Reg, Resv, invalid_cdb, invalid_param, ua};

impl LogicalUnit {
    /// PREEMPT "removing registrations" (SPC-4 r36f 5.13.11.2.5; SPC-5 keeps it): every
    /// registration with `key` goes, **the issuer's own included** when it carries that key
    /// ("It is not an error ... to set the RESERVATION KEY and the SERVICE ACTION RESERVATION
    /// KEY to the same value, however, no unit attention condition is established for the
    /// I_T nexus on which the PERSISTENT RESERVE OUT command was received. The registration
    /// is removed."); every other nexus that lost its registration gets 2Ah/05h.
    pub(super) fn remove_key(&mut self, key: ReservationKey, issuer: &ItNexus) {
        self.remove_registrations(key, issuer, false);
    }

    /// PREEMPT of the holder (SPC-4 r36f 5.13.11.2.4.3 item b): every registration with
    /// `key` except the issuer's; returns the nexuses that lost their registration.
    pub(super) fn remove_key_except(
        &mut self,
        key: ReservationKey,
        issuer: &ItNexus,
    ) -> Vec<ItNexus> {
        self.remove_registrations(key, issuer, true)
    }

    /// Removes every registration with `key` (the issuer's too unless `keep_issuer`) and
    /// gives each other nexus that lost one 2Ah/05h REGISTRATIONS PREEMPTED; returns those
    /// nexuses.
    pub(super) fn remove_registrations(
        &mut self,
        key: ReservationKey,
        issuer: &ItNexus,
        keep_issuer: bool,
    ) -> Vec<ItNexus> {
        let mut removed = Vec::new();
        self.regs.retain(|r| {
            if r.key != key || (keep_issuer && &r.nexus == issuer) {
                return true;
            }
            if &r.nexus != issuer && !removed.contains(&r.nexus) {
                removed.push(r.nexus.clone());
            }
            false
        });
        for n in &removed {
            self.add_ua(n, ua::REGISTRATIONS_PREEMPTED);
        }
        removed
    }

    pub(super) fn preempt(
        &mut self,
        nexus: &ItNexus,
        sa: ReservationKey,
        ty: ReservationType,
    ) -> R<()> {
        let exists = self.regs.iter().any(|r| r.key == sa);
        match self.resv.clone() {
            None => {
                if sa.is_zero() {
                    return Err(invalid_param(8, None));
                }
                if !exists {
                    return Err(Fail::Conflict);
                }
                self.remove_key(sa, nexus);
            }
            Some(r) if r.ty.is_all_registrants() => {
                if sa.is_zero() {
                    // Every other registration goes; the issuer gets a new reservation.
                    let others: Vec<ItNexus> = self
                        .registered_nexuses()
                        .into_iter()
                        .filter(|n| n != nexus)
                        .collect();
                    self.regs.retain(|x| &x.nexus == nexus);
                    for n in &others {
                        self.add_ua(n, ua::REGISTRATIONS_PREEMPTED);
                    }
                    self.resv = Some(Resv {
                        ty,
                        holder: (!ty.is_all_registrants()).then(|| nexus.clone()),
                        holder_reg: None,
                    });
                } else {
                    // Table 72: all registrants, non-zero key: remove registrations
                    // (5.13.11.2.5), the issuer's own included.
                    if !exists {
                        return Err(Fail::Conflict);
                    }
                    self.remove_key(sa, nexus);
                }
            }
            Some(r) => {
                if sa.is_zero() {
                    return Err(invalid_param(8, None));
                }
                if !exists {
                    return Err(Fail::Conflict);
                }
                let holder_key = r.holder.as_ref().and_then(|h| self.key_of(h));
                if holder_key == Some(sa) {
                    self.remove_key_except(sa, nexus);
                    let changed = r.ty != ty;
                    self.resv = Some(Resv {
                        ty,
                        holder: (!ty.is_all_registrants()).then(|| nexus.clone()),
                        holder_reg: None,
                    });
                    if changed {
                        for n in self.registered_nexuses() {
                            if &n != nexus {
                                self.add_ua(&n, ua::RESERVATIONS_RELEASED);
                            }
                        }
                    }
                } else {
                    self.remove_key(sa, nexus);
                }
            }
        }
        self.bump();
        Ok(())
    }

    /// LIO's PREEMPT and PREEMPT AND ABORT. `type_code` is the CDB's TYPE: the 6.1
    /// personality has validated it already (before everything else, `lio_pr_out`); 7.1
    /// validates TYPE and then SCOPE here, after the registration, key and SA key checks,
    /// and only when the command preempts the reservation (the SA key is the holder's, or
    /// it is zero under an all-registrants reservation); removing registrations ignores both.
    pub(super) fn lio_preempt(
        &mut self,
        nexus: &ItNexus,
        type_code: u8,
        scope: u8,
        res_key: ReservationKey,
        sa_key: ReservationKey,
    ) -> R<()> {
        let Some(i) = self.lio_locate(nexus) else {
            return Err(Fail::Conflict);
        };
        let me = self.regs.get(i).cloned().ok_or(Fail::Conflict)?;
        if me.key != res_key {
            return Err(Fail::Conflict);
        }
        let lio7_1 = self.lio7_1();
        if !lio7_1 && scope != 0 {
            return Err(invalid_param(0, None));
        }
        let all_reg = self
            .resv
            .as_ref()
            .is_some_and(|r| r.ty.is_all_registrants());
        if !all_reg && sa_key.is_zero() {
            return Err(invalid_param(8, None));
        }
        let holder = self.lio_holder();
        let holder_key = holder.and_then(|h| self.regs.get(h)).map(|r| r.key);
        // The TYPE (and SCOPE) matter only when a reservation is preempted or, under an
        // all-registrants reservation, replaced (SA key 0). 6.1 checked both before this.
        let uses_type =
            self.resv.is_some() && (holder_key == Some(sa_key) || (all_reg && sa_key.is_zero()));
        let new_ty = if uses_type {
            let ty = ReservationType::from_code(type_code).ok_or(invalid_cdb(2, None))?;
            if lio7_1 && scope != 0 {
                return Err(invalid_param(0, None));
            }
            Some(ty)
        } else {
            None
        };
        let snapshot: Vec<Reg> = self.regs.clone();
        if self.resv.is_none() || holder_key != Some(sa_key) {
            // Removing registrations (no reservation, or SA key not the holder's).
            let mut unmatched = !sa_key.is_zero();
            for e in &snapshot {
                if !all_reg {
                    if e.key != sa_key {
                        continue;
                    }
                    unmatched = false;
                    // The issuer's own registration goes too when it carries the key.
                    self.lio_free(e.id);
                    if e.id != me.id {
                        self.add_ua(&e.nexus, ua::REGISTRATIONS_PREEMPTED);
                    }
                } else {
                    if !sa_key.is_zero() && e.key != sa_key {
                        continue;
                    }
                    unmatched = false;
                    if e.id == me.id {
                        continue;
                    }
                    self.lio_free(e.id);
                    self.add_ua(&e.nexus, ua::REGISTRATIONS_PREEMPTED);
                }
            }
            if unmatched {
                return Err(Fail::Conflict);
            }
            if let Some(ty) = new_ty.filter(|_| all_reg && sa_key.is_zero()) {
                self.lio_set_reservation(ty, me.id);
            }
            self.bump();
            return Ok(());
        }
        // The SA key is the holder's: preempt the reservation.
        let ty = new_ty.ok_or(invalid_cdb(2, None))?;
        let old_ty = self.resv.as_ref().map(|r| r.ty);
        if holder != Some(i) {
            self.resv = None;
        }
        for e in &snapshot {
            if e.id == me.id || (!sa_key.is_zero() && e.key != sa_key) {
                continue;
            }
            self.lio_free(e.id);
            self.add_ua(&e.nexus, ua::REGISTRATIONS_PREEMPTED);
        }
        self.lio_set_reservation(ty, me.id);
        if old_ty != Some(ty) {
            self.lio_ua_to_list(Some(me.id), ua::RESERVATIONS_RELEASED);
        }
        self.bump();
        Ok(())
    }
}
