//! The LIO personalities' PERSISTENT RESERVE OUT: a model of LIO's registration list
//! (drivers/target/target_core_pr.c, Linux 6.1, and 7.1's change to PREEMPT; behaviour only,
//! no code taken) and its service action dispatch.

use pr_core::cdb::PrOutCdb;
use pr_core::types::{PrOutAction, ReservationKey, ReservationType};

use super::{ItNexus, LogicalUnit, R, Resv, invalid_cdb, invalid_param, param_len_error, u64_of};

// LIO keeps a list of registrations. The same nexus can be on it twice (SPEC_I_PT
// naming the issuer); a command works on the *first* registration of its nexus. The
// reservation is a pointer to one registration (`holder_reg`), also for the
// all-registrants types (the one that reserved; when it unregisters, the head of the
// list). Separately, a per-nexus flag (`lio_active`, LIO's DEF_PR_REG_ACTIVE) is what
// the reservation check of every command calls "registered": set when a registration of
// the nexus is added, cleared when any registration of the nexus is freed.
impl LogicalUnit {
    /// The first registration of `nexus` (LIO's `core_scsi3_locate_pr_reg`).
    pub(super) fn lio_locate(&self, nexus: &ItNexus) -> Option<usize> {
        self.regs.iter().position(|r| &r.nexus == nexus)
    }

    /// The registration the reservation points to.
    pub(super) fn lio_holder(&self) -> Option<usize> {
        let id = self.resv.as_ref()?.holder_reg?;
        self.regs.iter().position(|r| r.id == id)
    }

    pub(super) fn lio_index_of(&self, id: u64) -> Option<usize> {
        self.regs.iter().position(|r| r.id == id)
    }

    /// Recomputes the LIO bookkeeping after registrations were set wholesale (power on,
    /// APTPL state loaded).
    pub(super) fn lio_fixup(&mut self) {
        self.lio_active.clear();
        for r in &self.regs {
            if !self.lio_active.contains(&r.nexus) {
                self.lio_active.push(r.nexus.clone());
            }
        }
        let first = |lu: &LogicalUnit, h: &Option<ItNexus>| match h {
            Some(n) => lu.regs.iter().find(|r| &r.nexus == n).map(|r| r.id),
            None => lu.regs.first().map(|r| r.id),
        };
        if let Some(r) = &self.resv
            && r.holder_reg.is_none()
        {
            let id = first(self, &r.holder);
            if let Some(v) = self.resv.as_mut() {
                v.holder_reg = id;
            }
        }
    }

    /// Adds a registration at the tail (PRgeneration + 1 each, as LIO counts).
    pub(super) fn lio_add(&mut self, nexus: ItNexus, key: ReservationKey, all_tg_pt: bool) -> u64 {
        self.push_reg(nexus.clone(), key, all_tg_pt);
        if !self.lio_active.contains(&nexus) {
            self.lio_active.push(nexus);
        }
        self.bump();
        self.next_reg_id
    }

    /// Frees registration `id`: it leaves the list and its nexus stops counting as
    /// registered for the reservation check, even when it has another registration.
    pub(super) fn lio_free(&mut self, id: u64) {
        if let Some(i) = self.lio_index_of(id) {
            let r = self.regs.remove(i);
            self.lio_active.retain(|n| n != &r.nexus);
        }
    }

    /// LIO's release of the reservation; with `unreg`, that registration is freed as well
    /// and an all-registrants reservation passes to the head of the list.
    pub(super) fn lio_release(&mut self, unreg: Option<u64>) {
        let old = self.resv.take();
        if let Some(id) = unreg {
            self.lio_free(id);
            if let Some(o) = old
                && o.ty.is_all_registrants()
                && let Some(head) = self.regs.first()
            {
                self.resv = Some(Resv {
                    ty: o.ty,
                    holder: None,
                    holder_reg: Some(head.id),
                });
            }
        }
    }

    pub(super) fn lio_set_reservation(&mut self, ty: ReservationType, id: u64) {
        let holder = self
            .lio_index_of(id)
            .and_then(|i| self.regs.get(i))
            .map(|r| r.nexus.clone());
        self.resv = Some(Resv {
            ty,
            holder: if ty.is_all_registrants() {
                None
            } else {
                holder
            },
            holder_reg: Some(id),
        });
    }

    pub(super) fn lio_pr_out(&mut self, nexus: &ItNexus, c: &PrOutCdb, p: &[u8]) -> R<()> {
        // target_scsi3_emulate_pr_out: the parameter list before the service action.
        if p.len() < 24 {
            return Err(param_len_error());
        }
        let sa = c.service_action & 0x1f;
        let res_key = ReservationKey(u64_of(p, 0));
        let sa_key = ReservationKey(u64_of(p, 8));
        let is_move = sa == PrOutAction::RegisterAndMove.code();
        let flags = p.get(if is_move { 17 } else { 20 }).copied().unwrap_or(0);
        let (spec, all_tg_pt, aptpl, unreg) = if is_move {
            (false, false, flags & 0x01 != 0, flags & 0x02 != 0)
        } else {
            (
                flags & 0x08 != 0,
                flags & 0x04 != 0,
                flags & 0x01 != 0,
                false,
            )
        };
        if spec && sa != PrOutAction::Register.code() {
            return Err(invalid_param(20, Some(3)));
        }
        if !spec && !is_move && p.len() != 24 {
            return Err(param_len_error());
        }
        let valid_type = ReservationType::from_code(c.type_code);
        match PrOutAction::from_code(sa) {
            Some(PrOutAction::Register) => {
                self.lio_register(nexus, Some(res_key), sa_key, aptpl, all_tg_pt, spec, p)
            }
            Some(PrOutAction::RegisterAndIgnoreExistingKey) => {
                self.lio_register(nexus, None, sa_key, aptpl, all_tg_pt, spec, p)
            }
            Some(PrOutAction::Reserve) => {
                let ty = valid_type.ok_or(invalid_cdb(2, None))?;
                self.lio_reserve(nexus, ty, c.scope, res_key)
            }
            Some(PrOutAction::Release) => self.lio_release_sa(nexus, c.type_code, c.scope, res_key),
            Some(PrOutAction::Clear) => self.lio_clear(nexus, res_key),
            Some(PrOutAction::Preempt | PrOutAction::PreemptAndAbort) => {
                // 6.1 checks TYPE before anything else; 7.1 only where it is used (inside).
                if !self.lio7_1() && valid_type.is_none() {
                    return Err(invalid_cdb(2, None));
                }
                self.lio_preempt(nexus, c.type_code, c.scope, res_key, sa_key)
            }
            Some(PrOutAction::RegisterAndMove) => {
                self.lio_register_and_move(nexus, res_key, sa_key, aptpl, unreg, p)
            }
            Some(PrOutAction::ReplaceLostReservation) | None => Err(invalid_cdb(1, None)),
        }
    }
}
