//! Registrations: REGISTER and REGISTER AND IGNORE EXISTING KEY, with SPEC_I_PT and ALL_TG_PT,
//! for both personalities, and the registration bookkeeping the other service actions share.

use pr_core::prout::BasicParams;
use pr_core::transport_id::TransportId;
use pr_core::types::{PrOutAction, PrOutFlags, ReservationKey, ReservationType};

use super::{
    Fail, ItNexus, LogicalUnit, R, Reg, Resv, insufficient_registration_resources, invalid_cdb,
    invalid_param, same_initiator_name, supported_tid, u32_of, ua,
};

impl LogicalUnit {
    pub(super) fn key_of(&self, nexus: &ItNexus) -> Option<ReservationKey> {
        self.regs.iter().find(|r| &r.nexus == nexus).map(|r| r.key)
    }

    pub(super) fn push_reg(&mut self, nexus: ItNexus, key: ReservationKey, all_tg_pt: bool) {
        self.next_reg_id = self.next_reg_id.wrapping_add(1);
        self.regs.push(Reg {
            id: self.next_reg_id,
            nexus,
            key,
            all_tg_pt,
        });
    }

    pub(super) fn bump(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    pub(super) fn check_key(&self, nexus: &ItNexus, key: ReservationKey) -> R<()> {
        match self.key_of(nexus) {
            Some(k) if k == key => Ok(()),
            _ => Err(Fail::Conflict),
        }
    }

    /// The nexuses of `nexus`'s initiator port on every target port (SPC ALL_TG_PT).
    pub(super) fn all_ports_of(&self, nexus: &ItNexus) -> Vec<ItNexus> {
        let mut v: Vec<ItNexus> = self
            .target_ports
            .iter()
            .map(|&p| ItNexus::new(nexus.initiator.clone(), p))
            .collect();
        if !v.contains(nexus) {
            v.push(nexus.clone());
        }
        v
    }

    /// The known nexuses of `nexus`'s initiator port, `nexus` first (LIO ALL_TG_PT).
    pub(super) fn known_ports_of(&self, nexus: &ItNexus) -> Vec<ItNexus> {
        let mut v = vec![nexus.clone()];
        for n in &self.known {
            if n.initiator == nexus.initiator && !v.contains(n) {
                v.push(n.clone());
            }
        }
        v
    }

    pub(super) fn parse_spec_tids(
        &self,
        b: &BasicParams<'_>,
    ) -> R<Vec<(TransportId<'static>, u16)>> {
        let mut out = Vec::new();
        let mut at: usize = 28;
        let mut rest = b.transport_id_bytes;
        while !rest.is_empty() {
            let field = u16::try_from(at).unwrap_or(u16::MAX);
            let (t, n) = TransportId::decode(rest).map_err(|_| invalid_param(field, None))?;
            if !supported_tid(&t) {
                return Err(invalid_param(field, None));
            }
            out.push((t.into_owned(), field));
            rest = rest.get(n..).unwrap_or(&[]);
            at = at.saturating_add(n);
        }
        Ok(out)
    }

    pub(super) fn spc_register(
        &mut self,
        nexus: &ItNexus,
        action: PrOutAction,
        b: &BasicParams<'_>,
        all_tg_pt: bool,
    ) -> R<()> {
        let current = self.key_of(nexus);
        let spec = b.flags.contains(PrOutFlags::SPEC_I_PT);
        match current {
            None => {
                if action == PrOutAction::Register && !b.key.is_zero() {
                    return Err(Fail::Conflict);
                }
                if b.sa_key.is_zero() {
                    return Ok(());
                }
                let mut new: Vec<ItNexus> = if all_tg_pt {
                    self.all_ports_of(nexus)
                } else {
                    vec![nexus.clone()]
                };
                if spec {
                    for (tid, field) in self.parse_spec_tids(b)? {
                        let targets = if all_tg_pt {
                            self.target_ports.clone()
                        } else {
                            vec![nexus.relative_target_port]
                        };
                        for p in targets {
                            let n = ItNexus::new(tid.clone(), p);
                            if self.is_registered(&n) {
                                return Err(invalid_param(field, None));
                            }
                            if !new.contains(&n) {
                                new.push(n);
                            }
                        }
                    }
                }
                let new: Vec<ItNexus> =
                    new.into_iter().filter(|n| !self.is_registered(n)).collect();
                if self.regs.len().saturating_add(new.len()) > self.config.max_registrations {
                    return Err(insufficient_registration_resources());
                }
                for n in new {
                    self.push_reg(n, b.sa_key, all_tg_pt);
                }
                Ok(())
            }
            Some(k) => {
                if action == PrOutAction::Register && k != b.key {
                    return Err(Fail::Conflict);
                }
                if spec {
                    return Err(invalid_param(20, Some(3)));
                }
                let targets = if all_tg_pt {
                    self.all_ports_of(nexus)
                } else {
                    vec![nexus.clone()]
                };
                if b.sa_key.is_zero() {
                    for n in targets {
                        if self.is_registered(&n) {
                            self.unregister(&n);
                        }
                    }
                } else {
                    let add = targets.iter().filter(|n| !self.is_registered(n)).count();
                    if self.regs.len().saturating_add(add) > self.config.max_registrations {
                        return Err(insufficient_registration_resources());
                    }
                    for n in targets {
                        match self.regs.iter_mut().find(|r| r.nexus == n) {
                            Some(r) => r.key = b.sa_key,
                            None => self.push_reg(n, b.sa_key, all_tg_pt),
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Removes `nexus`'s registrations, with SPC's effect on the reservation (5.14.11.2.3
    /// of SPC-5: the holder's unregistration releases a non-all-registrants reservation;
    /// registrants-only types then give RESERVATIONS RELEASED to the other registrants).
    pub(super) fn unregister(&mut self, nexus: &ItNexus) {
        let was_single_holder = matches!(&self.resv, Some(r) if r.holder.as_ref() == Some(nexus));
        self.regs.retain(|r| &r.nexus != nexus);
        if was_single_holder
            && let Some(r) = self.resv.take()
            && matches!(
                r.ty,
                ReservationType::WriteExclusiveRegistrantsOnly
                    | ReservationType::ExclusiveAccessRegistrantsOnly
            )
        {
            for n in self.registered_nexuses() {
                self.add_ua(&n, ua::RESERVATIONS_RELEASED);
            }
        }
        self.settle();
    }

    /// Ends an all-registrants reservation without registrants, and a reservation whose
    /// holder is no longer registered.
    pub(super) fn settle(&mut self) {
        if self.lio() {
            // LIO releases only where its code says so; a holder pointer to a registration
            // that is gone (not reachable in the lab's topologies) ends the reservation.
            if self.resv.is_some() && self.lio_holder().is_none() {
                self.resv = None;
            }
            return;
        }
        let drop = match &self.resv {
            Some(r) if r.ty.is_all_registrants() => self.regs.is_empty(),
            Some(Resv {
                holder: Some(h), ..
            }) => !self.is_registered(h),
            Some(_) => true,
            None => false,
        };
        if drop {
            self.resv = None;
        }
    }

    /// Registered nexuses, each once, in registration order.
    pub(super) fn registered_nexuses(&self) -> Vec<ItNexus> {
        let mut v: Vec<ItNexus> = Vec::new();
        for r in &self.regs {
            if !v.contains(&r.nexus) {
                v.push(r.nexus.clone());
            }
        }
        v
    }

    /// REGISTER (`res_key` given) and REGISTER AND IGNORE EXISTING KEY (`None`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn lio_register(
        &mut self,
        nexus: &ItNexus,
        res_key: Option<ReservationKey>,
        sa_key: ReservationKey,
        aptpl: bool,
        all_tg_pt: bool,
        spec: bool,
        p: &[u8],
    ) -> R<()> {
        let Some(i) = self.lio_locate(nexus) else {
            if res_key.is_some_and(|k| !k.is_zero()) {
                return Err(Fail::Conflict);
            }
            if sa_key.is_zero() {
                // Nothing happens (not even the APTPL update).
                return Ok(());
            }
            let mine: Vec<ItNexus> = if all_tg_pt {
                self.known_ports_of(nexus)
            } else {
                vec![nexus.clone()]
            };
            let mut dests: Vec<ItNexus> = Vec::new();
            if spec {
                // core_scsi3_decode_spec_i_port: every check answers INVALID FIELD IN
                // PARAMETER LIST; TransportIDs of registered nexuses are skipped, the
                // issuer's own is not (it is not registered yet): it gets a second
                // registration.
                if p.len() < 28 {
                    return Err(invalid_param(24, None));
                }
                let tpdl = usize::try_from(u32_of(p, 24)).unwrap_or(usize::MAX);
                if tpdl.saturating_add(28) != p.len() {
                    return Err(invalid_param(24, None));
                }
                let mut at: usize = 28;
                while at < p.len() {
                    let field = u16::try_from(at).unwrap_or(u16::MAX);
                    let rest = p.get(at..).unwrap_or(&[]);
                    let (tid, n) =
                        TransportId::decode(rest).map_err(|_| invalid_param(field, None))?;
                    if !supported_tid(&tid) || n == 0 {
                        return Err(invalid_param(field, None));
                    }
                    let tid = tid.into_owned();
                    let found: Vec<ItNexus> = self
                        .known
                        .iter()
                        .filter(|k| k.initiator == tid)
                        .cloned()
                        .collect();
                    let Some(first) = found.first().cloned() else {
                        return Err(invalid_param(field, None));
                    };
                    if self.lio_locate(&first).is_none() {
                        if all_tg_pt {
                            dests.extend(found);
                        } else {
                            dests.push(first);
                        }
                    }
                    at = at.saturating_add(n);
                }
            }
            if self
                .regs
                .len()
                .saturating_add(mine.len())
                .saturating_add(dests.len())
                > self.config.max_registrations
            {
                return Err(insufficient_registration_resources());
            }
            for n in mine.into_iter().chain(dests) {
                self.lio_add(n, sa_key, all_tg_pt);
            }
            self.aptpl = aptpl;
            return Ok(());
        };
        let reg = self.regs.get(i).cloned().ok_or(Fail::Conflict)?;
        if res_key.is_some_and(|k| k != reg.key) {
            return Err(Fail::Conflict);
        }
        if spec {
            return Err(invalid_param(20, Some(3)));
        }
        if reg.all_tg_pt && !all_tg_pt {
            return Err(invalid_cdb(0, None));
        }
        if !sa_key.is_zero() {
            // Only the first registration of the nexus changes.
            if let Some(r) = self.regs.get_mut(i) {
                r.key = sa_key;
            }
            self.bump();
            self.aptpl = aptpl;
            return Ok(());
        }
        // Unregister (PRgeneration unchanged).
        let holder = self.lio_holder();
        let held_type = self.resv.as_ref().map(|r| r.ty);
        let is_holder = holder == Some(i);
        if !is_holder
            && reg.all_tg_pt
            && let Some(h) = holder.and_then(|h| self.regs.get(h))
            && same_initiator_name(&h.nexus, &reg.nexus)
            && h.key == reg.key
        {
            return Err(Fail::Conflict);
        }
        if is_holder {
            self.lio_release(Some(reg.id));
        }
        if reg.all_tg_pt {
            // The initiator's other ALL_TG_PT registrations with the CDB's RESERVATION KEY
            // (0 for REGISTER AND IGNORE EXISTING KEY, which matches none).
            let rk = res_key.unwrap_or(ReservationKey::ZERO);
            let others: Vec<u64> = self
                .regs
                .iter()
                .filter(|r| {
                    r.id != reg.id
                        && r.all_tg_pt
                        && r.key == rk
                        && same_initiator_name(&r.nexus, &reg.nexus)
                })
                .map(|r| r.id)
                .collect();
            for id in others {
                self.lio_free(id);
            }
        }
        self.lio_free(reg.id);
        if is_holder
            && matches!(
                held_type,
                Some(
                    ReservationType::WriteExclusiveRegistrantsOnly
                        | ReservationType::ExclusiveAccessRegistrantsOnly
                )
            )
        {
            self.lio_ua_to_list(None, ua::RESERVATIONS_RELEASED);
        }
        self.settle();
        self.aptpl = aptpl;
        Ok(())
    }
}
