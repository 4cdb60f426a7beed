//! PERSISTENT RESERVE IN: READ KEYS, READ RESERVATION, REPORT CAPABILITIES and READ FULL STATUS.

use pr_core::cdb::PrInCdb;
use pr_core::prin::{
    CapabilityFlags, FullStatus, FullStatusEntry, ReadKeys, ReadReservation,
    Reservation as WireReservation,
};
use pr_core::types::{PrInAction, ReservationKey, Scope};

use super::{ItNexus, LogicalUnit, R, invalid_cdb};

impl LogicalUnit {
    pub(super) fn pr_in(&self, nexus: &ItNexus, cdb: &[u8], data_in_len: usize) -> R<Vec<u8>> {
        let _ = nexus;
        let c = PrInCdb::decode(cdb).map_err(|_| invalid_cdb(0, None))?;
        let action = PrInAction::from_code(c.service_action).ok_or(invalid_cdb(1, Some(4)))?;
        let alloc = usize::from(c.allocation_length);
        // LIO: READ KEYS, READ RESERVATION and READ FULL STATUS need 8 bytes, REPORT
        // CAPABILITIES 6.
        let lio_min = if action == PrInAction::ReportCapabilities {
            6
        } else {
            8
        };
        if self.lio() && alloc < lio_min {
            return Err(invalid_cdb(7, None));
        }
        let room = alloc.min(data_in_len);
        let mut out = vec![0u8; room];
        let n = match action {
            PrInAction::ReadKeys => {
                ReadKeys::encode(self.generation, self.regs.iter().map(|r| r.key), &mut out)
            }
            PrInAction::ReadReservation => {
                let wire = self.resv.as_ref().map(|r| WireReservation {
                    key: if r.ty.is_all_registrants() {
                        ReservationKey::ZERO
                    } else {
                        r.holder
                            .as_ref()
                            .and_then(|h| self.key_of(h))
                            .unwrap_or(ReservationKey::ZERO)
                    },
                    scope: Scope::LogicalUnit,
                    type_code: r.ty.code(),
                });
                if self.lio() && wire.is_some() && alloc < 22 {
                    // LIO writes the header (ADDITIONAL LENGTH 16) and leaves the rest zero.
                    let mut full = [0u8; 24];
                    ReadReservation::encode(self.generation, wire, &mut full);
                    full[8..].fill(0);
                    let n = room.min(24);
                    out[..n].copy_from_slice(&full[..n]);
                    n
                } else {
                    ReadReservation::encode(self.generation, wire, &mut out)
                }
            }
            PrInAction::ReportCapabilities => {
                let mut caps = self.caps();
                caps.flags.set(
                    CapabilityFlags::PTPL_A,
                    self.aptpl && caps.flags.contains(CapabilityFlags::PTPL_C),
                );
                caps.encode(&mut out)
            }
            PrInAction::ReadFullStatus => {
                let entries = self.full_status_entries();
                if self.lio() {
                    let full = self.encode_full(&entries);
                    let n = lio_full_status_truncate(&full, &entries, alloc);
                    let n = n.min(room);
                    let mut full = full;
                    // LIO's ADDITIONAL LENGTH counts only what it decided to add.
                    let add = u32::try_from(lio_full_status_added(&entries, alloc)).unwrap_or(0);
                    if let Some(h) = full.get_mut(4..8) {
                        h.copy_from_slice(&add.to_be_bytes());
                    }
                    out[..n].copy_from_slice(&full[..n]);
                    n
                } else {
                    FullStatus::encode(self.generation, entries, &mut out, false).unwrap_or(0)
                }
            }
        };
        out.truncate(n);
        Ok(out)
    }

    pub(super) fn encode_full(&self, entries: &[FullStatusEntry<'static>]) -> Vec<u8> {
        let total: usize = entries
            .iter()
            .map(|e| 24usize.saturating_add(e.transport_id.encoded_len()))
            .sum::<usize>()
            .saturating_add(8);
        let mut full = vec![0u8; total];
        let n = FullStatus::encode(self.generation, entries.iter().cloned(), &mut full, false)
            .unwrap_or(0);
        full.truncate(n);
        full
    }

    pub(super) fn full_status_entries(&self) -> Vec<FullStatusEntry<'static>> {
        let lio_holder = self.resv.as_ref().and_then(|v| v.holder_reg);
        let all_reg = self
            .resv
            .as_ref()
            .is_some_and(|v| v.ty.is_all_registrants());
        self.regs
            .iter()
            .map(|r| {
                // LIO marks the registration it points to as the holder (not every
                // registration of that nexus), and every one for the all-registrants types.
                let holder = if self.lio() {
                    all_reg || lio_holder == Some(r.id)
                } else {
                    self.is_holder(&r.nexus)
                };
                FullStatusEntry {
                    key: r.key,
                    all_tg_pt: r.all_tg_pt,
                    r_holder: holder,
                    scope: Scope::LogicalUnit,
                    type_code: match (&self.resv, holder) {
                        (Some(v), true) => v.ty.code(),
                        _ => 0,
                    },
                    relative_target_port: if self.lio() && r.all_tg_pt {
                        0
                    } else {
                        r.nexus.relative_target_port
                    },
                    transport_id: r.nexus.initiator.clone(),
                }
            })
            .collect()
    }
}

/// LIO's READ FULL STATUS: before each descriptor it compares the TransportID length plus
/// the bytes already counted with the allocation length; when that exceeds it, it stops.
/// Otherwise the whole descriptor is counted in ADDITIONAL LENGTH (whether or not it fits).
/// Returns the ADDITIONAL LENGTH LIO reports.
fn lio_full_status_added(entries: &[FullStatusEntry<'_>], alloc: usize) -> usize {
    let mut add: usize = 0;
    for e in entries {
        let tid = e.transport_id.encoded_len();
        if tid.saturating_add(add) > alloc {
            break;
        }
        add = add.saturating_add(24).saturating_add(tid);
    }
    add
}

/// The number of bytes LIO transfers for READ FULL STATUS: 8 + its ADDITIONAL LENGTH, cut
/// at the allocation length and at what exists.
fn lio_full_status_truncate(full: &[u8], entries: &[FullStatusEntry<'_>], alloc: usize) -> usize {
    lio_full_status_added(entries, alloc)
        .saturating_add(8)
        .min(alloc)
        .min(full.len())
}
