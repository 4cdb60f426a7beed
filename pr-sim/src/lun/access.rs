//! Media access: the commands a reservation governs (TEST UNIT READY, READ, WRITE) and the
//! reservation conflict rules that decide them.

use pr_core::types::ReservationType;

use crate::config::BLOCK_LEN;
use crate::reply::Condition;

use super::{Access, Fail, ItNexus, LogicalUnit, R, invalid_cdb, opcode, u16_of, u32_of, u64_of};

impl LogicalUnit {
    pub(super) fn check_access(&self, nexus: &ItNexus, access: Access) -> R<()> {
        let Some(r) = &self.resv else { return Ok(()) };
        let registered = self.is_registered(nexus);
        let holder = self.is_holder(nexus);
        let access = if access == Access::TestUnitReady {
            if self.caps().allow_commands.0 >= 1 {
                return Ok(());
            }
            Access::Read
        } else {
            access
        };
        let conflict = match (access, r.ty) {
            (Access::Read, ReservationType::ExclusiveAccess) => !holder,
            (
                Access::Read,
                ReservationType::ExclusiveAccessRegistrantsOnly
                | ReservationType::ExclusiveAccessAllRegistrants,
            ) => !registered,
            (Access::Read, _) => false,
            (_, ReservationType::WriteExclusive | ReservationType::ExclusiveAccess) => !holder,
            (_, _) => !registered,
        };
        if conflict {
            Err(Fail::Conflict)
        } else {
            Ok(())
        }
    }

    pub(super) fn media(
        &mut self,
        nexus: &ItNexus,
        op: u8,
        cdb: &[u8],
        data_out: &[u8],
    ) -> R<Vec<u8>> {
        let write = matches!(op, opcode::WRITE_10 | opcode::WRITE_16);
        let (need, lba, len) = if matches!(op, opcode::READ_10 | opcode::WRITE_10) {
            (10, u64::from(u32_of(cdb, 2)), u64::from(u16_of(cdb, 7)))
        } else {
            (16, u64_of(cdb, 2), u64::from(u32_of(cdb, 10)))
        };
        if cdb.len() < need {
            return Err(invalid_cdb(0, None));
        }
        if self.lio() {
            if self.lio_conflicts(nexus, op, 0, write) {
                return Err(Fail::Conflict);
            }
        } else {
            self.check_access(nexus, if write { Access::Write } else { Access::Read })?;
        }
        if lba.saturating_add(len) > self.config.block_count {
            return Err(Fail::Check(Condition::illegal(0x21, 0, None)));
        }
        let mut out = Vec::new();
        for i in 0..len {
            let b = lba.saturating_add(i);
            let start = usize::try_from(i)
                .unwrap_or(usize::MAX)
                .saturating_mul(BLOCK_LEN);
            if write {
                let mut blk = vec![0u8; BLOCK_LEN];
                if let Some(src) = data_out.get(start..) {
                    let n = src.len().min(BLOCK_LEN);
                    blk[..n].copy_from_slice(&src[..n]);
                }
                if blk.iter().all(|&x| x == 0) {
                    self.blocks.remove(&b);
                } else {
                    self.blocks.insert(b, blk);
                }
            } else {
                match self.blocks.get(&b) {
                    Some(blk) => out.extend_from_slice(blk),
                    None => out.resize(out.len().saturating_add(BLOCK_LEN), 0),
                }
            }
        }
        Ok(out)
    }

    /// LIO's check of a command against the reservation, before the command runs
    /// (`target_scsi3_pr_reservation_check`, `core_scsi3_pr_seq_non_holder`): `true` for
    /// RESERVATION CONFLICT. The holder is the nexus of the registration the reservation
    /// points to (for the all-registrants types too); "registered" is the per-nexus flag.
    pub(super) fn lio_conflicts(
        &self,
        nexus: &ItNexus,
        op: u8,
        service_action: u8,
        write: bool,
    ) -> bool {
        let Some(r) = &self.resv else { return false };
        if self
            .lio_holder()
            .and_then(|i| self.regs.get(i))
            .is_some_and(|h| &h.nexus == nexus)
        {
            return false;
        }
        let registered = self.lio_active.contains(nexus);
        let code = r.ty.code();
        let we = matches!(code, 1 | 5 | 7);
        let reg_only = matches!(code, 5 | 6);
        let all_reg = matches!(code, 7 | 8);
        match op {
            opcode::PERSISTENT_RESERVE_OUT => match service_action & 0x1f {
                // REGISTER, REGISTER AND IGNORE EXISTING KEY: allowed.
                0 | 6 => return false,
                // RELEASE, CLEAR, PREEMPT, PREEMPT AND ABORT: allowed for a registered
                // nexus; otherwise the general rules below decide.
                2..=5 if registered => return false,
                // RESERVE, REGISTER AND MOVE: the general rules below decide (so a
                // registered nexus passes under a registrants-only or all-registrants
                // reservation).
                1..=5 | 7 => {}
                // Any other service action: conflict.
                _ => return true,
            },
            opcode::TEST_UNIT_READY
            | opcode::INQUIRY
            | opcode::REPORT_LUNS
            | opcode::REQUEST_SENSE
            | opcode::PERSISTENT_RESERVE_IN => return false,
            _ => {}
        }
        if we && !registered {
            return write;
        }
        if (reg_only || all_reg) && registered {
            return false;
        }
        !(we && registered && !write)
    }
}
