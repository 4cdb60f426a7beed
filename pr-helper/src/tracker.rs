//! The migration tracker, sans IO: what a guest's reservation is, learned from the PR OUT
//! commands that pass through the daemon, so that it can follow the guest to another host
//! when the VMM cannot carry it (QEMU before 11, other VMMs). Bytes of CDB, parameter list
//! and status go in; state comes out, serialisable with serde (JSON).
//!
//! The rules are those of QEMU 11's `migrate-pr` snoop (`hw/scsi/scsi-generic.c`), per
//! LUN and per client instead of per guest disk, and only for commands that completed
//! GOOD:
//!
//! | service action | effect |
//! | --- | --- |
//! | REGISTER, REGISTER AND IGNORE EXISTING KEY | key = SERVICE ACTION RESERVATION KEY; 0 also clears the type; REGISTER from key 0 to 0 changes nothing |
//! | RESERVE | type = the CDB's type |
//! | RELEASE | type = none |
//! | CLEAR | key = none, type = none |
//! | REPLACE LOST RESERVATION | key = SERVICE ACTION RESERVATION KEY, type = the CDB's type |
//! | PREEMPT, PREEMPT AND ABORT | the caller reads the reservation ([`Observation::ReadReservation`]) and hands the answer to [`Tracker::observe_reservation`]: type = the reported type if the holder's key is ours, else none |
//! | REGISTER AND MOVE | ignored |
//!
//! One departure from QEMU, on purpose: an all-registrants reservation (types 7h and 8h)
//! reports key 0 in READ RESERVATION; QEMU compares that with the guest's key and forgets
//! the type, the tracker keeps it while the guest is registered (every registrant holds
//! such a reservation).
//!
//! While tracking, REPORT CAPABILITIES answers must have SIP_C and ATP_C cleared
//! ([`mask_capabilities`]), as QEMU does: a registration made with SPEC_I_PT or ALL_TG_PT
//! names other initiators, which a hand-over cannot move.
//!
//! [`handover`] gives the commands the destination sends before the guest runs (QEMU's
//! sequence with the fixes of QEMU 11.1 for LIO, REFERENCE §6.1), and [`failback`] those
//! the source sends when the migration fails.

use std::collections::BTreeMap;

use pr_core::cdb::{PERSISTENT_RESERVE_IN, PrOutCdb};
use pr_core::prin::{CapabilityFlags, ReadReservation};
use pr_core::prout::BasicParams;
use pr_core::types::{PrInAction, PrOutAction, ReservationKey};
use serde::{Deserialize, Serialize};

use crate::client;
use crate::wire::CDB_SIZE;

/// SIP_C (bit 3) and ATP_C (bit 2) of REPORT CAPABILITIES byte 2 (pr-core's
/// [`CapabilityFlags`] hold bytes 2-3).
pub const SIP_C_ATP_C: u8 =
    ((CapabilityFlags::SIP_C.bits() | CapabilityFlags::ATP_C.bits()) >> 8) as u8;

/// What is known of one guest's registration and reservation on one LUN.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestState {
    /// The guest's key (0: not registered).
    pub key: ReservationKey,
    /// The type of the reservation it holds (0: none).
    pub reservation_type: u8,
}

/// What the caller must do after [`Tracker::observe_out`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observation {
    /// Nothing: the state is up to date (changed or not).
    Done,
    /// Send READ RESERVATION ([`read_reservation_cdb`]) on the same LUN and pass the answer
    /// to [`Tracker::observe_reservation`] (after a PREEMPT).
    ReadReservation,
}

/// One entry of the tracker's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The LUN (the daemon uses its WWID or name).
    pub lun: String,
    /// The client (the daemon uses the peer's identity).
    pub client: String,
    /// What is known.
    pub state: GuestState,
}

/// The tracked state of every LUN and client seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tracker {
    entries: BTreeMap<(String, String), GuestState>,
}

/// The READ RESERVATION CDB the caller sends on [`Observation::ReadReservation`] (24 bytes
/// of allocation, as QEMU).
pub fn read_reservation_cdb() -> [u8; CDB_SIZE] {
    client::pr_in_cdb(PrInAction::ReadReservation.code(), 24)
}

/// Clears SIP_C and ATP_C in a REPORT CAPABILITIES answer (no effect on a shorter one).
pub fn mask_capabilities(data: &mut [u8]) {
    if let Some(b) = data.get_mut(2) {
        *b &= !SIP_C_ATP_C;
    }
}

/// Whether `cdb` is PR IN REPORT CAPABILITIES.
pub fn is_report_capabilities(cdb: &[u8]) -> bool {
    cdb.first() == Some(&PERSISTENT_RESERVE_IN)
        && cdb.get(1).and_then(|b| PrInAction::from_code(b & 0x1f))
            == Some(PrInAction::ReportCapabilities)
}

impl Tracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// The state of `client` on `lun`, if any command of it was seen.
    pub fn state(&self, lun: &str, client: &str) -> Option<GuestState> {
        self.entries
            .get(&(lun.to_owned(), client.to_owned()))
            .copied()
    }

    /// Sets (imports) the state of `client` on `lun`.
    pub fn set(&mut self, lun: &str, client: &str, state: GuestState) {
        self.entries
            .insert((lun.to_owned(), client.to_owned()), state);
    }

    /// Forgets `client` on `lun`; returns what was known.
    pub fn remove(&mut self, lun: &str, client: &str) -> Option<GuestState> {
        self.entries.remove(&(lun.to_owned(), client.to_owned()))
    }

    /// Every entry, in (LUN, client) order.
    pub fn entries(&self) -> Vec<Entry> {
        self.entries
            .iter()
            .map(|((lun, client), state)| Entry {
                lun: lun.clone(),
                client: client.clone(),
                state: *state,
            })
            .collect()
    }

    /// The state as JSON: a list of [`Entry`].
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.entries()).unwrap_or_else(|_| "[]".to_owned())
    }

    /// A tracker from [`to_json`](Self::to_json)'s output.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        let entries: Vec<Entry> = serde_json::from_str(json)?;
        let mut t = Tracker::new();
        for e in entries {
            t.set(&e.lun, &e.client, e.state);
        }
        Ok(t)
    }

    /// Learns from one command that `client` sent to `lun` and that completed with
    /// `status`. Anything but a PR OUT that completed GOOD (00h) changes nothing.
    pub fn observe_out(
        &mut self,
        lun: &str,
        client: &str,
        cdb: &[u8],
        params: &[u8],
        status: u8,
    ) -> Observation {
        let Ok(c) = PrOutCdb::decode(cdb) else {
            return Observation::Done;
        };
        // A device completes no PR OUT with a shorter list GOOD; nothing to learn from it.
        let (true, Ok(p)) = (status == 0, BasicParams::decode(params)) else {
            return Observation::Done;
        };
        let (ty, old_key, new_key) = (c.type_code, p.key, p.sa_key);
        let id = (lun.to_owned(), client.to_owned());
        let mut s = self.entries.get(&id).copied().unwrap_or_default();
        match PrOutAction::from_code(c.service_action) {
            Some(a @ (PrOutAction::Register | PrOutAction::RegisterAndIgnoreExistingKey)) => {
                if a == PrOutAction::Register && old_key.0 == 0 && new_key.0 == 0 {
                    return Observation::Done;
                }
                s.key = new_key;
                if new_key.0 == 0 {
                    s.reservation_type = 0;
                }
            }
            Some(PrOutAction::Reserve) => s.reservation_type = ty,
            Some(PrOutAction::Release) => s.reservation_type = 0,
            Some(PrOutAction::Clear) => s = GuestState::default(),
            Some(PrOutAction::Preempt | PrOutAction::PreemptAndAbort) => {
                self.entries.insert(id, s);
                return Observation::ReadReservation;
            }
            Some(PrOutAction::ReplaceLostReservation) => {
                s.key = new_key;
                s.reservation_type = ty;
            }
            Some(PrOutAction::RegisterAndMove) | None => return Observation::Done,
        }
        self.entries.insert(id, s);
        Observation::Done
    }

    /// Learns from the READ RESERVATION answer (`status`, `data`) sent after a PREEMPT of
    /// `client` on `lun`. A failed or short answer leaves the state as it was.
    pub fn observe_reservation(&mut self, lun: &str, client: &str, status: u8, data: &[u8]) {
        let (true, Ok(answer)) = (status == 0, ReadReservation::decode(data)) else {
            return;
        };
        let id = (lun.to_owned(), client.to_owned());
        let Some(s) = self.entries.get_mut(&id) else {
            return;
        };
        if answer.additional_length() < 16 {
            s.reservation_type = 0;
            return;
        }
        let Some(r) = answer.reservation() else {
            return;
        };
        let (holder, ty) = (r.key, r.type_code);
        let all_registrants = matches!(ty, 0x07 | 0x08);
        s.reservation_type = if holder == s.key || (all_registrants && s.key.0 != 0) {
            ty
        } else {
            0
        };
    }
}

/// One PR OUT command of a hand-over: a 16-byte CDB and its 24-byte parameter list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutCommand {
    /// The CDB (PR OUT, parameter list length 24).
    pub cdb: [u8; CDB_SIZE],
    /// The parameter list.
    pub params: [u8; 24],
}

impl OutCommand {
    fn new(service_action: u8, ty: u8, key: ReservationKey, sa_key: ReservationKey) -> Self {
        let cdb = client::pr_out_cdb(service_action, ty & 0x0f, 24);
        let params = client::basic_params(key.0, sa_key.0, 0);
        OutCommand { cdb, params }
    }
}

/// The PREEMPT type sent when the guest holds no reservation: LIO rejects TYPE 0 even on a
/// PREEMPT that only removes registrations (REFERENCE §6.1); Write Exclusive is valid
/// everywhere and, without a reservation to take, has no effect of its own.
const PREEMPT_TYPE_WITHOUT_RESERVATION: u8 = 0x01;

/// The commands the destination sends, in order, to take over `state` before the guest
/// runs: REGISTER (key 0 to the guest's key), then PREEMPT with the guest's key as both
/// keys (a self-preempt: it takes the source's reservation atomically and removes the
/// source's registration), then REGISTER AND IGNORE EXISTING KEY with the guest's key,
/// because without a reservation LIO's self-PREEMPT removes the sender's own registration
/// too. Nothing when the guest is not registered.
pub fn handover(state: GuestState) -> Vec<OutCommand> {
    if state.key.0 == 0 {
        return Vec::new();
    }
    let ty = if state.reservation_type == 0 {
        PREEMPT_TYPE_WITHOUT_RESERVATION
    } else {
        state.reservation_type
    };
    vec![
        OutCommand::new(0x00, 0, ReservationKey(0), state.key),
        OutCommand::new(0x04, ty, state.key, state.key),
        OutCommand::new(0x06, 0, ReservationKey(0), state.key),
    ]
}

/// The commands the source sends to take the LUN back when a migration fails after the
/// destination preempted: the same sequence from the source.
pub fn failback(state: GuestState) -> Vec<OutCommand> {
    handover(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: &str = "lun";
    const C: &str = "vm1";

    fn out(sa: u8, ty: u8) -> [u8; 16] {
        OutCommand::new(sa, ty, ReservationKey(0), ReservationKey(0)).cdb
    }

    fn params(key: u64, sa_key: u64) -> [u8; 24] {
        OutCommand::new(0, 0, ReservationKey(key), ReservationKey(sa_key)).params
    }

    fn state(t: &Tracker) -> (u64, u8) {
        let s = t.state(L, C).unwrap_or_default();
        (s.key.0, s.reservation_type)
    }

    fn registered_holder(ty: u8) -> Tracker {
        let mut t = Tracker::new();
        assert_eq!(
            t.observe_out(L, C, &out(0, 0), &params(0, 0xa), 0),
            Observation::Done
        );
        t.observe_out(L, C, &out(1, ty), &params(0xa, 0), 0);
        assert_eq!(state(&t), (0xa, ty));
        t
    }

    fn read_reservation(key: u64, ty: u8) -> Vec<u8> {
        let mut d = vec![0u8; 24];
        d[7] = 16;
        d[8..16].copy_from_slice(&key.to_be_bytes());
        d[21] = ty;
        d
    }

    #[test]
    fn register_and_register_and_ignore() {
        let mut t = Tracker::new();
        t.observe_out(L, C, &out(0, 0), &params(0, 0), 0);
        assert_eq!(t.state(L, C), None, "REGISTER 0 -> 0 changes nothing");
        t.observe_out(L, C, &out(6, 0), &params(0, 0xb), 0);
        assert_eq!(state(&t), (0xb, 0));
        let mut t = registered_holder(5);
        t.observe_out(L, C, &out(0, 0), &params(0xa, 0xc), 0);
        assert_eq!(state(&t), (0xc, 5), "a key change keeps the type");
        t.observe_out(L, C, &out(6, 0), &params(0, 0), 0);
        assert_eq!(state(&t), (0, 0), "unregistering clears the type");
    }

    #[test]
    fn reserve_release_clear_replace() {
        let mut t = registered_holder(3);
        t.observe_out(L, C, &out(2, 3), &params(0xa, 0), 0);
        assert_eq!(state(&t), (0xa, 0));
        t.observe_out(L, C, &out(1, 6), &params(0xa, 0), 0);
        t.observe_out(L, C, &out(3, 0), &params(0xa, 0), 0);
        assert_eq!(state(&t), (0, 0));
        t.observe_out(L, C, &out(8, 1), &params(0, 0xd), 0);
        assert_eq!(state(&t), (0xd, 1));
    }

    #[test]
    fn preempt_is_resolved_by_reading_the_reservation() {
        for sa in [4, 5] {
            let mut t = registered_holder(1);
            assert_eq!(
                t.observe_out(L, C, &out(sa, 3), &params(0xa, 0xb), 0),
                Observation::ReadReservation
            );
            t.observe_reservation(L, C, 0, &read_reservation(0xa, 3));
            assert_eq!(state(&t), (0xa, 3));
            // Another key holds: no reservation of ours.
            t.observe_out(L, C, &out(sa, 3), &params(0xa, 0xb), 0);
            t.observe_reservation(L, C, 0, &read_reservation(0xb, 3));
            assert_eq!(state(&t), (0xa, 0));
            // No reservation at all.
            t.observe_out(L, C, &out(sa, 3), &params(0xa, 0xb), 0);
            t.observe_reservation(L, C, 0, &[0, 0, 0, 1, 0, 0, 0, 0]);
            assert_eq!(state(&t), (0xa, 0));
            // All registrants: key 0 reported, the type kept while registered.
            t.observe_out(L, C, &out(sa, 7), &params(0xa, 0), 0);
            t.observe_reservation(L, C, 0, &read_reservation(0, 7));
            assert_eq!(state(&t), (0xa, 7));
            // A failed or short READ RESERVATION changes nothing.
            t.observe_reservation(L, C, 2, &[]);
            t.observe_reservation(L, C, 0, &[0; 4]);
            assert_eq!(state(&t), (0xa, 7));
        }
    }

    #[test]
    fn failures_and_other_commands_change_nothing() {
        let t0 = registered_holder(5);
        for (cdb, p, status) in [
            (out(3, 0), params(0xa, 0), 0x18u8),
            (out(3, 0), params(0xa, 0), 0x02),
            (out(2, 5), params(0xa, 0), 0x08),
            (out(7, 5), params(0xa, 0xb), 0),
            (out(0x1f, 0), params(0xa, 0), 0),
        ] {
            let mut t = t0.clone();
            assert_eq!(t.observe_out(L, C, &cdb, &p, status), Observation::Done);
            assert_eq!(t, t0, "{cdb:?} status {status}");
        }
        let mut t = t0.clone();
        t.observe_out(L, C, &out(3, 0), &params(0xa, 0)[..10], 0);
        t.observe_out(L, C, &[0x5e, 0, 0], &[], 0);
        t.observe_out(L, C, &[0x5f], &[], 0);
        assert_eq!(t, t0);
        // A PREEMPT that failed asks for nothing.
        assert_eq!(
            t.observe_out(L, C, &out(4, 5), &params(0xa, 0xb), 0x18),
            Observation::Done
        );
    }

    #[test]
    fn luns_and_clients_are_apart_and_the_state_round_trips_as_json() {
        let mut t = registered_holder(5);
        t.observe_out("other", C, &out(6, 0), &params(0, 0xe), 0);
        t.observe_out(L, "vm2", &out(6, 0), &params(0, 0xf), 0);
        assert_eq!(state(&t), (0xa, 5));
        assert_eq!(t.state("other", C).unwrap().key.0, 0xe);
        assert_eq!(t.state(L, "vm2").unwrap().key.0, 0xf);
        let json = t.to_json();
        assert!(json.contains("\"lun\":\"lun\""), "{json}");
        assert_eq!(Tracker::from_json(&json).unwrap(), t);
        assert!(Tracker::from_json("{").is_err());
        assert_eq!(t.remove(L, "vm2").unwrap().key.0, 0xf);
        assert_eq!(t.state(L, "vm2"), None);
    }

    #[test]
    fn capabilities_are_masked() {
        let mut caps = [0, 8, 0x1d, 0x91, 0xea, 0x01, 0, 0];
        assert!(is_report_capabilities(&[0x5e, 0x02]));
        assert!(!is_report_capabilities(&[0x5e, 0x00]));
        mask_capabilities(&mut caps);
        assert_eq!(caps[2], 0x11);
        mask_capabilities(&mut caps[..1]);
    }

    #[test]
    fn the_hand_over_registers_preempts_and_registers_again() {
        assert!(handover(GuestState::default()).is_empty());
        let s = GuestState {
            key: ReservationKey(0xa),
            reservation_type: 5,
        };
        let cmds = handover(s);
        let summary: Vec<(u8, u8, [u8; 16])> = cmds
            .iter()
            .map(|c| (c.cdb[1], c.cdb[2], c.params[..16].try_into().unwrap()))
            .collect();
        let k = 0xau64.to_be_bytes();
        let zero_then = |k2: [u8; 8]| -> [u8; 16] { [[0u8; 8], k2].concat().try_into().unwrap() };
        let both: [u8; 16] = [k, k].concat().try_into().unwrap();
        assert_eq!(
            summary,
            vec![(0, 0, zero_then(k)), (4, 5, both), (6, 0, zero_then(k))]
        );
        // Without a reservation the PREEMPT still carries a valid type.
        let cmds = handover(GuestState {
            key: ReservationKey(0xa),
            reservation_type: 0,
        });
        assert_eq!(cmds[1].cdb[2], 0x01);
        assert_eq!(failback(s), handover(s));
    }
}
