//! REGISTER AND MOVE, for both personalities.

use pr_core::prout::MoveParams;
use pr_core::transport_id::TransportId;
use pr_core::types::{PrOutFlags, ReservationKey};

use crate::reply::Condition;

use super::{
    Fail, ItNexus, LogicalUnit, R, Resv, insufficient_registration_resources, invalid_cdb,
    invalid_param, isid_of, lu_comm_failure, same_initiator_name, supported_tid, u16_of, u32_of,
};

impl LogicalUnit {
    /// REGISTER AND MOVE (SPC-4 r36f 5.13.8, table 70).
    pub(super) fn register_and_move(&mut self, nexus: &ItNexus, m: &MoveParams<'_>) -> R<()> {
        let Some(key) = self.key_of(nexus) else {
            return Err(Fail::Conflict);
        };
        if key != m.key {
            return Err(Fail::Conflict);
        }
        // "there is no persistent reservation established": ILLEGAL REQUEST, INVALID FIELD
        // IN CDB (no field in the CDB is wrong: no field pointer).
        let Some(r) = self.resv.clone() else {
            return Err(Fail::Check(Condition::illegal(0x24, 0, None)));
        };
        if r.ty.is_all_registrants() || r.holder.as_ref() != Some(nexus) {
            return Err(Fail::Conflict);
        }
        if m.sa_key.is_zero() {
            return Err(invalid_param(8, None));
        }
        let (tid, used) =
            TransportId::decode(m.transport_id_bytes).map_err(|_| invalid_param(24, None))?;
        if !supported_tid(&tid) || used != m.transport_id_bytes.len() {
            return Err(invalid_param(24, None));
        }
        let dest = ItNexus::new(tid.into_owned(), m.relative_target_port);
        if !self.target_ports.contains(&dest.relative_target_port) {
            return Err(invalid_param(18, None));
        }
        // "a TransportID that is the same as the initiator port of the I_T nexus on which the
        // command [was] received": INVALID FIELD IN PARAMETER LIST (whatever the port).
        if dest.initiator == nexus.initiator {
            return Err(invalid_param(24, None));
        }
        // "It is not an error for a REGISTER AND MOVE service action to register an I_T nexus
        // that is already registered with the same reservation key or a different
        // reservation key": its key is replaced.
        match self.regs.iter_mut().find(|x| x.nexus == dest) {
            Some(x) => x.key = m.sa_key,
            None => {
                if self.regs.len() >= self.config.max_registrations {
                    return Err(insufficient_registration_resources());
                }
                self.push_reg(dest.clone(), m.sa_key, false);
            }
        }
        self.resv = Some(Resv {
            ty: r.ty,
            holder: Some(dest),
            holder_reg: None,
        });
        if m.flags.contains(PrOutFlags::UNREG) {
            self.regs.retain(|x| &x.nexus != nexus);
        }
        self.aptpl = m.flags.contains(PrOutFlags::APTPL);
        self.bump();
        Ok(())
    }

    pub(super) fn lio_register_and_move(
        &mut self,
        nexus: &ItNexus,
        res_key: ReservationKey,
        sa_key: ReservationKey,
        aptpl: bool,
        unreg: bool,
        p: &[u8],
    ) -> R<()> {
        let Some(i) = self.lio_locate(nexus) else {
            return Err(lu_comm_failure());
        };
        let me = self.regs.get(i).cloned().ok_or(Fail::Conflict)?;
        if me.key != res_key {
            return Err(Fail::Conflict);
        }
        if sa_key.is_zero() {
            return Err(invalid_param(8, None));
        }
        let tlen = usize::try_from(u32_of(p, 20)).unwrap_or(usize::MAX);
        if tlen.saturating_add(24) != p.len() {
            return Err(invalid_param(20, None));
        }
        let rtpi = u16_of(p, 18);
        if !self.target_ports.contains(&rtpi) {
            return Err(invalid_param(18, None));
        }
        // The first TransportID of the list is used.
        let (tid, _) =
            TransportId::decode(p.get(24..).unwrap_or(&[])).map_err(|_| invalid_param(24, None))?;
        if !supported_tid(&tid) {
            return Err(invalid_param(24, None));
        }
        let dest = ItNexus::new(tid.into_owned(), rtpi);
        if same_initiator_name(&dest, nexus) {
            // Same initiator: refused unless both carry ISIDs and they differ.
            let (a, b) = (isid_of(&dest.initiator), isid_of(&nexus.initiator));
            if a.is_none() || b.is_none() || a == b {
                return Err(invalid_param(24, None));
            }
        }
        if !self.known.contains(&dest) {
            return Err(invalid_param(24, None));
        }
        let Some(r) = self.resv.clone() else {
            return Err(invalid_cdb(0, None));
        };
        if !(self.lio_holder() == Some(i) || r.ty.is_all_registrants()) {
            return Err(Fail::Conflict);
        }
        if r.ty.is_all_registrants() {
            return Err(Fail::Conflict);
        }
        let dest_id = match self.lio_locate(&dest) {
            None => {
                if self.regs.len() >= self.config.max_registrations {
                    return Err(insufficient_registration_resources());
                }
                self.lio_add(dest.clone(), sa_key, false)
            }
            Some(d) => {
                let id = self.regs.get(d).map_or(0, |x| x.id);
                if let Some(x) = self.regs.get_mut(d) {
                    x.key = sa_key;
                }
                self.bump();
                id
            }
        };
        // The reservation keeps its type (the CDB's TYPE and SCOPE are ignored).
        self.resv = None;
        self.lio_set_reservation(r.ty, dest_id);
        if unreg {
            self.lio_free(me.id);
        }
        self.aptpl = aptpl;
        Ok(())
    }
}
