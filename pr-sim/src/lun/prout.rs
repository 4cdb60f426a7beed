//! PERSISTENT RESERVE OUT: parameter list checks and the service action dispatch of the SPC
//! personality (REPLACE LOST RESERVATION included), and the common PR OUT entry point.

use pr_core::cdb::PrOutCdb;
use pr_core::prin::{CapabilityFlags, TypeMask};
use pr_core::prout::{BasicParams, MoveParams};
use pr_core::types::{PrOutAction, PrOutFlags, ReservationType};

use crate::reply::Condition;

use super::{
    Fail, ItNexus, LogicalUnit, R, Resv, invalid_cdb, invalid_param, opcode, param_len_error,
};

impl LogicalUnit {
    pub(super) fn pr_out(&mut self, nexus: &ItNexus, cdb: &[u8], data_out: &[u8]) -> R<()> {
        let c = PrOutCdb::decode(cdb).map_err(|_| invalid_cdb(0, None))?;
        let pll = usize::try_from(c.parameter_list_length).unwrap_or(usize::MAX);
        let params = data_out.get(..pll).ok_or_else(param_len_error)?;
        // A PR OUT with a parameter list is a data-out ("write") command for this check.
        if self.lio()
            && self.lio_conflicts(
                nexus,
                opcode::PERSISTENT_RESERVE_OUT,
                c.service_action,
                pll > 0,
            )
        {
            return Err(Fail::Conflict);
        }
        let r = if self.lio() {
            self.lio_pr_out(nexus, &c, params)
        } else {
            self.spc_pr_out(nexus, &c, params)
        };
        if r.is_ok() {
            self.settle();
            self.persist()?;
        }
        r
    }

    pub(super) fn check_type(&self, c: &PrOutCdb) -> R<ReservationType> {
        if c.scope != 0 {
            return Err(invalid_cdb(2, Some(7)));
        }
        let ty = ReservationType::from_code(c.type_code).ok_or(invalid_cdb(2, Some(3)))?;
        let caps = self.caps();
        if caps.flags.contains(CapabilityFlags::TMV) && !caps.type_mask.contains(TypeMask::of(ty)) {
            return Err(invalid_cdb(2, Some(3)));
        }
        Ok(ty)
    }

    pub(super) fn spc_pr_out(&mut self, nexus: &ItNexus, c: &PrOutCdb, p: &[u8]) -> R<()> {
        let caps = self.caps();
        let action = PrOutAction::from_code(c.service_action)
            .filter(|a| *a != PrOutAction::ReplaceLostReservation || caps.rlr_c())
            .ok_or(invalid_cdb(1, Some(4)))?;
        // REGISTER AND MOVE ignores SCOPE and TYPE (SPC-4 r36f 5.13.8 item b); the
        // reservation moves with its own scope and type (item g).
        let ty = if action.uses_type() && action != PrOutAction::RegisterAndMove {
            Some(self.check_type(c)?)
        } else {
            None
        };
        if action == PrOutAction::RegisterAndMove {
            let m = MoveParams::decode(p).map_err(|_| param_len_error())?;
            let tlen = usize::try_from(m.transport_id_length).unwrap_or(usize::MAX);
            if 24usize.saturating_add(tlen) != p.len() {
                return Err(param_len_error());
            }
            if m.flags.contains(PrOutFlags::APTPL) && !caps.ptpl_c() {
                return Err(invalid_param(17, Some(0)));
            }
            return self.register_and_move(nexus, &m);
        }
        if p.len() < 24 {
            return Err(param_len_error());
        }
        let spec = p.get(20).is_some_and(|f| f & 0x08 != 0);
        if spec && (action != PrOutAction::Register || !caps.sip_c()) {
            return Err(invalid_param(20, Some(3)));
        }
        let b = BasicParams::decode(p).map_err(|_| param_len_error())?;
        if spec {
            if p.len() < 28
                || 28usize
                    .saturating_add(usize::try_from(b.transport_id_length).unwrap_or(usize::MAX))
                    != p.len()
            {
                return Err(param_len_error());
            }
        } else if p.len() != 24 {
            return Err(param_len_error());
        }
        let all_tg_pt = action.is_register() && b.flags.contains(PrOutFlags::ALL_TG_PT);
        if all_tg_pt && !caps.atp_c() {
            return Err(invalid_param(20, Some(2)));
        }
        let aptpl_applies = action.is_register() || action == PrOutAction::ReplaceLostReservation;
        if aptpl_applies && b.flags.contains(PrOutFlags::APTPL) && !caps.ptpl_c() {
            return Err(invalid_param(20, Some(0)));
        }
        match action {
            PrOutAction::Register | PrOutAction::RegisterAndIgnoreExistingKey => {
                self.spc_register(nexus, action, &b, all_tg_pt)?;
                self.aptpl = b.flags.contains(PrOutFlags::APTPL);
                self.bump();
                Ok(())
            }
            PrOutAction::Reserve => {
                self.check_key(nexus, b.key)?;
                self.reserve(nexus, ty.ok_or(invalid_cdb(2, Some(3)))?)
            }
            PrOutAction::Release => {
                self.check_key(nexus, b.key)?;
                self.release(nexus, ty.ok_or(invalid_cdb(2, Some(3)))?, c.scope, false)
            }
            PrOutAction::Clear => {
                self.check_key(nexus, b.key)?;
                self.clear(nexus);
                Ok(())
            }
            PrOutAction::Preempt | PrOutAction::PreemptAndAbort => {
                self.check_key(nexus, b.key)?;
                self.preempt(nexus, b.sa_key, ty.ok_or(invalid_cdb(2, Some(3)))?)
            }
            PrOutAction::ReplaceLostReservation => {
                // SPC-4 r36f 5.13.11.3. Nothing was lost: ILLEGAL REQUEST, 26h/04h INVALID
                // RELEASE OF PERSISTENT RESERVATION. (The RESERVATION KEY field "shall
                // contain zero" (6.16.3), but no error is defined for another value: it is
                // not checked.)
                if !self.lost {
                    return Err(Fail::Check(Condition::illegal(0x26, 0x04, None)));
                }
                if b.sa_key.is_zero() {
                    return Err(invalid_param(8, None));
                }
                self.regs.clear();
                self.push_reg(nexus.clone(), b.sa_key, false);
                let ty = ty.ok_or(invalid_cdb(2, Some(3)))?;
                self.resv = Some(Resv {
                    ty,
                    holder: (!ty.is_all_registrants()).then(|| nexus.clone()),
                    holder_reg: None,
                });
                self.lost = false;
                self.aptpl = b.flags.contains(PrOutFlags::APTPL);
                // 5.13.11.3 item e): PRgeneration is set to zero (not incremented).
                self.generation = 0;
                Ok(())
            }
            PrOutAction::RegisterAndMove => Err(invalid_cdb(1, Some(4))),
        }
    }
}
