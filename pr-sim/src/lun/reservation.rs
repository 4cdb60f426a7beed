//! RESERVE, RELEASE and CLEAR, for both personalities.

use pr_core::types::{ReservationKey, ReservationType};

use crate::reply::Condition;

use super::{Fail, ItNexus, LogicalUnit, R, Resv, invalid_param, lu_comm_failure, ua};

impl LogicalUnit {
    pub(super) fn reserve(&mut self, nexus: &ItNexus, ty: ReservationType) -> R<()> {
        match &self.resv {
            Some(r) => {
                if self.is_holder(nexus) && r.ty == ty {
                    Ok(())
                } else {
                    Err(Fail::Conflict)
                }
            }
            None => {
                self.resv = Some(Resv {
                    ty,
                    holder: (!ty.is_all_registrants()).then(|| nexus.clone()),
                    holder_reg: None,
                });
                Ok(())
            }
        }
    }

    pub(super) fn release(
        &mut self,
        nexus: &ItNexus,
        ty: ReservationType,
        scope: u8,
        lio: bool,
    ) -> R<()> {
        let Some(r) = &self.resv else { return Ok(()) };
        if !self.is_holder(nexus) {
            return Ok(());
        }
        if r.ty != ty || scope != 0 {
            return Err(if lio {
                Fail::Conflict
            } else {
                Fail::Check(Condition::illegal(0x26, 0x04, None))
            });
        }
        let released = r.ty;
        self.resv = None;
        if released.admits_registrants() {
            for n in self.registered_nexuses() {
                if &n != nexus {
                    self.add_ua(&n, ua::RESERVATIONS_RELEASED);
                }
            }
        }
        Ok(())
    }

    pub(super) fn clear(&mut self, nexus: &ItNexus) {
        for n in self.registered_nexuses() {
            if &n != nexus {
                self.add_ua(&n, ua::RESERVATIONS_PREEMPTED);
            }
        }
        self.regs.clear();
        self.resv = None;
        self.bump();
    }

    pub(super) fn lio_reserve(
        &mut self,
        nexus: &ItNexus,
        ty: ReservationType,
        scope: u8,
        res_key: ReservationKey,
    ) -> R<()> {
        let Some(i) = self.lio_locate(nexus) else {
            return Err(lu_comm_failure());
        };
        let reg = self.regs.get(i).cloned().ok_or(Fail::Conflict)?;
        if reg.key != res_key {
            return Err(Fail::Conflict);
        }
        if scope != 0 {
            return Err(invalid_param(0, None));
        }
        if let Some(r) = &self.resv {
            if !(self.lio_holder() == Some(i) || r.ty.is_all_registrants()) || r.ty != ty {
                return Err(Fail::Conflict);
            }
            return Ok(());
        }
        self.lio_set_reservation(ty, reg.id);
        Ok(())
    }

    pub(super) fn lio_release_sa(
        &mut self,
        nexus: &ItNexus,
        type_code: u8,
        scope: u8,
        res_key: ReservationKey,
    ) -> R<()> {
        let Some(i) = self.lio_locate(nexus) else {
            return Err(lu_comm_failure());
        };
        let reg = self.regs.get(i).cloned().ok_or(Fail::Conflict)?;
        let Some(r) = self.resv.clone() else {
            return Ok(());
        };
        if !(self.lio_holder() == Some(i) || r.ty.is_all_registrants()) {
            return Ok(());
        }
        if reg.key != res_key {
            return Err(Fail::Conflict);
        }
        if r.ty.code() != type_code || scope != 0 {
            return Err(Fail::Conflict);
        }
        self.resv = None;
        if matches!(type_code, 5..=8) {
            self.lio_ua_to_list(Some(reg.id), ua::RESERVATIONS_RELEASED);
        }
        Ok(())
    }

    pub(super) fn lio_clear(&mut self, nexus: &ItNexus, res_key: ReservationKey) -> R<()> {
        let Some(i) = self.lio_locate(nexus) else {
            return Err(lu_comm_failure());
        };
        let reg = self.regs.get(i).cloned().ok_or(Fail::Conflict)?;
        if reg.key != res_key {
            return Err(Fail::Conflict);
        }
        self.resv = None;
        self.lio_ua_to_list(Some(reg.id), ua::RESERVATIONS_PREEMPTED);
        self.regs.clear();
        self.lio_active.clear();
        self.aptpl = false;
        self.bump();
        Ok(())
    }
}
