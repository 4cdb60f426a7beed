//! The deterministic device server of one logical unit: registrations, the persistent
//! reservation, PRgeneration, unit attentions, APTPL, and the media-access commands that
//! reservations govern. [`LogicalUnit::execute`] takes a CDB and data-out bytes from one I_T
//! nexus and returns status, sense and data-in; nothing here is asynchronous or reads a clock.

use std::collections::{BTreeMap, HashMap, VecDeque};

use pr_core::cdb::{PrInCdb, PrOutCdb};
use pr_core::prin::{
    Capabilities, CapabilityFlags, FullStatus, FullStatusEntry, ReadKeys, ReadReservation,
    Reservation as WireReservation, TypeMask,
};
use pr_core::prout::{BasicParams, MoveParams};
use pr_core::sense::{ScsiStatus, SenseKey};
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, PrOutAction, PrOutFlags, ReservationKey, ReservationType, Scope};

use crate::config::{BLOCK_LEN, LunConfig, Personality};
use crate::persist::{self, Stored, StoredReg};
use crate::reply::{Condition, FieldRef, Reply};

/// An I_T nexus as the device server knows it: the initiator port's TransportID and the
/// relative target port identifier of the target port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ItNexus {
    /// The initiator port.
    pub initiator: TransportId<'static>,
    /// The target port's RELATIVE TARGET PORT IDENTIFIER.
    pub relative_target_port: u16,
}

impl ItNexus {
    /// The nexus of `initiator` through target port `relative_target_port`.
    pub fn new(initiator: TransportId<'static>, relative_target_port: u16) -> Self {
        ItNexus {
            initiator,
            relative_target_port,
        }
    }
}

/// One registration, as [`LogicalUnit::registrations`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationInfo {
    /// The registered I_T nexus.
    pub nexus: ItNexus,
    /// Its reservation key.
    pub key: ReservationKey,
    /// Whether it was made with ALL_TG_PT set.
    pub all_tg_pt: bool,
}

/// The persistent reservation, as [`LogicalUnit::reservation`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservationInfo {
    /// Its type.
    pub reservation_type: ReservationType,
    /// Its holder; `None` for the all-registrants types, where every registrant holds it.
    pub holder: Option<ItNexus>,
}

/// Operation codes the simulator implements.
pub mod opcode {
    /// TEST UNIT READY.
    pub const TEST_UNIT_READY: u8 = 0x00;
    /// REQUEST SENSE.
    pub const REQUEST_SENSE: u8 = 0x03;
    /// INQUIRY.
    pub const INQUIRY: u8 = 0x12;
    /// READ CAPACITY (10).
    pub const READ_CAPACITY_10: u8 = 0x25;
    /// READ (10).
    pub const READ_10: u8 = 0x28;
    /// WRITE (10).
    pub const WRITE_10: u8 = 0x2a;
    /// PERSISTENT RESERVE IN.
    pub const PERSISTENT_RESERVE_IN: u8 = 0x5e;
    /// PERSISTENT RESERVE OUT.
    pub const PERSISTENT_RESERVE_OUT: u8 = 0x5f;
    /// READ (16).
    pub const READ_16: u8 = 0x88;
    /// WRITE (16).
    pub const WRITE_16: u8 = 0x8a;
    /// REPORT LUNS.
    pub const REPORT_LUNS: u8 = 0xa0;
}

/// Unit attention codes the device server establishes.
pub mod ua {
    /// 29h/00h POWER ON, RESET, OR BUS DEVICE RESET OCCURRED.
    pub const POWER_ON: (u8, u8) = (0x29, 0x00);
    /// 2Ah/03h RESERVATIONS PREEMPTED.
    pub const RESERVATIONS_PREEMPTED: (u8, u8) = (0x2a, 0x03);
    /// 2Ah/04h RESERVATIONS RELEASED.
    pub const RESERVATIONS_RELEASED: (u8, u8) = (0x2a, 0x04);
    /// 2Ah/05h REGISTRATIONS PREEMPTED.
    pub const REGISTRATIONS_PREEMPTED: (u8, u8) = (0x2a, 0x05);
}

#[derive(Clone, Debug)]
struct Reg {
    /// Identity of this registration (the LIO personality may hold two for one nexus).
    id: u64,
    nexus: ItNexus,
    key: ReservationKey,
    all_tg_pt: bool,
}

#[derive(Clone, Debug)]
struct Resv {
    ty: ReservationType,
    /// `None` for the all-registrants types.
    holder: Option<ItNexus>,
    /// LIO personality: the registration LIO points to as the holder (`dev_pr_res_holder`),
    /// for the all-registrants types too.
    holder_reg: Option<u64>,
}

/// Why a command did not complete with GOOD.
#[derive(Clone, Debug)]
enum Fail {
    Conflict,
    Check(Condition),
}

type R<T> = Result<T, Fail>;

fn invalid_cdb(byte: u16, bit: Option<u8>) -> Fail {
    Fail::Check(Condition::illegal(0x24, 0, Some(FieldRef::cdb(byte, bit))))
}

fn invalid_param(byte: u16, bit: Option<u8>) -> Fail {
    Fail::Check(Condition::illegal(
        0x26,
        0,
        Some(FieldRef::param(byte, bit)),
    ))
}

fn param_len_error() -> Fail {
    Fail::Check(Condition::illegal(0x1a, 0, Some(FieldRef::cdb(5, None))))
}

fn insufficient_registration_resources() -> Fail {
    Fail::Check(Condition::illegal(0x55, 0x04, None))
}

/// LIO's NOT READY, LOGICAL UNIT COMMUNICATION FAILURE.
fn lu_comm_failure() -> Fail {
    Fail::Check(Condition::new(SenseKey::NotReady, 0x08, 0x00))
}

fn u16_of(b: &[u8], at: usize) -> u16 {
    match (b.get(at), b.get(at.saturating_add(1))) {
        (Some(h), Some(l)) => u16::from_be_bytes([*h, *l]),
        _ => 0,
    }
}

fn u32_of(b: &[u8], at: usize) -> u32 {
    b.get(at..at.saturating_add(4))
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, u32::from_be_bytes)
}

fn u64_of(b: &[u8], at: usize) -> u64 {
    b.get(at..at.saturating_add(8))
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map_or(0, u64::from_be_bytes)
}

fn supported_tid(t: &TransportId<'_>) -> bool {
    !matches!(t, TransportId::Other { .. } | TransportId::Ssa { .. })
}

/// Whether two nexuses have the same initiator port name (LIO compares node ACL names:
/// an iSCSI name without its ISID, otherwise the whole TransportID).
fn same_initiator_name(a: &ItNexus, b: &ItNexus) -> bool {
    match (&a.initiator, &b.initiator) {
        (TransportId::Iscsi { name: x, .. }, TransportId::Iscsi { name: y, .. }) => x == y,
        (x, y) => x == y,
    }
}

/// The ISID of an iSCSI initiator port TransportID.
fn isid_of<'a>(t: &'a TransportId<'_>) -> Option<&'a str> {
    match t {
        TransportId::Iscsi { isid, .. } => isid.as_deref(),
        _ => None,
    }
}

/// What a media-access command does, for the reservation conflict table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Read,
    Write,
    TestUnitReady,
}

/// One simulated logical unit's device server.
#[derive(Clone, Debug)]
pub struct LogicalUnit {
    config: LunConfig,
    target_ports: Vec<u16>,
    known: Vec<ItNexus>,
    generation: u32,
    regs: Vec<Reg>,
    resv: Option<Resv>,
    aptpl: bool,
    lost: bool,
    uas: HashMap<ItNexus, VecDeque<(u8, u8)>>,
    blocks: BTreeMap<u64, Vec<u8>>,
    next_reg_id: u64,
    /// LIO personality: the nexuses LIO counts as registered when it checks a command
    /// against the reservation (`DEF_PR_REG_ACTIVE`; see `lio_free`).
    lio_active: Vec<ItNexus>,
}

impl LogicalUnit {
    /// A logical unit reachable through the target ports `target_ports` (relative target
    /// port identifiers). When the configuration names an APTPL state file that exists and
    /// parses, its registrations and reservation are restored (as at power on).
    pub fn new(config: LunConfig, target_ports: Vec<u16>) -> Self {
        let mut lu = LogicalUnit {
            config,
            target_ports,
            known: Vec::new(),
            generation: 0,
            regs: Vec::new(),
            resv: None,
            aptpl: false,
            lost: false,
            uas: HashMap::new(),
            blocks: BTreeMap::new(),
            next_reg_id: 0,
            lio_active: Vec::new(),
        };
        lu.load_state_file();
        lu
    }

    /// The configuration.
    pub fn config(&self) -> &LunConfig {
        &self.config
    }

    /// Makes `nexus` known to the device server: it receives power-on unit attentions, and
    /// the LIO personality resolves SPEC_I_PT, ALL_TG_PT and REGISTER AND MOVE TransportIDs
    /// against the known nexuses (LIO only registers initiators it has sessions or ACLs for).
    pub fn add_nexus(&mut self, nexus: ItNexus) {
        if !self.known.contains(&nexus) {
            self.known.push(nexus);
        }
    }

    /// The known I_T nexuses.
    pub fn known_nexuses(&self) -> &[ItNexus] {
        &self.known
    }

    /// PRgeneration.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The registrations, in registration order.
    pub fn registrations(&self) -> Vec<RegistrationInfo> {
        self.regs
            .iter()
            .map(|r| RegistrationInfo {
                nexus: r.nexus.clone(),
                key: r.key,
                all_tg_pt: r.all_tg_pt,
            })
            .collect()
    }

    /// The persistent reservation, if any.
    pub fn reservation(&self) -> Option<ReservationInfo> {
        self.resv.as_ref().map(|r| ReservationInfo {
            reservation_type: r.ty,
            holder: r.holder.clone(),
        })
    }

    /// Whether persist through power loss is active (PTPL_A).
    pub fn aptpl_active(&self) -> bool {
        self.aptpl
    }

    /// Whether the logical unit is in the "reservation lost" state (see
    /// [`LogicalUnit::lose_reservation`]).
    pub fn is_reservation_lost(&self) -> bool {
        self.lost
    }

    /// The unit attentions pending for `nexus` (ASC, ASCQ), first to be reported first.
    pub fn pending_unit_attentions(&self, nexus: &ItNexus) -> Vec<(u8, u8)> {
        self.uas
            .get(nexus)
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Whether `nexus` holds the reservation (every registrant does for the all-registrants
    /// types).
    pub fn is_holder(&self, nexus: &ItNexus) -> bool {
        match &self.resv {
            None => false,
            Some(r) if r.ty.is_all_registrants() => self.is_registered(nexus),
            Some(r) => r.holder.as_ref() == Some(nexus),
        }
    }

    /// Whether `nexus` is registered.
    pub fn is_registered(&self, nexus: &ItNexus) -> bool {
        self.regs.iter().any(|r| &r.nexus == nexus)
    }

    /// Checks the model's invariants: at most one reservation, its holder registered, the
    /// all-registrants types only with registrants, no key 0 registered, the registration
    /// limit respected. Returns what is broken.
    pub fn check_invariants(&self) -> Result<(), String> {
        if self.regs.iter().any(|r| r.key.is_zero()) {
            return Err("a registration has key 0".into());
        }
        if self.regs.len() > self.config.max_registrations {
            return Err(format!(
                "{} registrations, limit {}",
                self.regs.len(),
                self.config.max_registrations
            ));
        }
        match &self.resv {
            None => Ok(()),
            Some(r) if r.ty.is_all_registrants() => {
                if r.holder.is_some() {
                    Err("all-registrants reservation with a single holder".into())
                } else if self.regs.is_empty() {
                    Err("all-registrants reservation without registrants".into())
                } else {
                    Ok(())
                }
            }
            Some(r) => match &r.holder {
                None => Err("reservation without holder".into()),
                Some(h) if !self.is_registered(h) => Err("holder is not registered".into()),
                Some(_) => Ok(()),
            },
        }
    }

    // -----------------------------------------------------------------------------------
    // Events
    // -----------------------------------------------------------------------------------

    /// A power cycle: unit attentions, PRgeneration and (without APTPL) every registration
    /// and the reservation are lost; with APTPL they are read back from the state file (or
    /// kept, without one). Every known nexus gets 29h/00h POWER ON, RESET, OR BUS DEVICE
    /// RESET OCCURRED. The media contents survive.
    pub fn power_cycle(&mut self) {
        self.generation = 0;
        self.uas.clear();
        self.lost = false;
        if self.aptpl {
            if self.config.state_file.is_some() {
                self.regs.clear();
                self.resv = None;
                self.aptpl = false;
                self.load_state_file();
            }
        } else {
            self.regs.clear();
            self.resv = None;
        }
        self.lio_fixup();
        let known = self.known.clone();
        for n in &known {
            self.add_ua(n, ua::POWER_ON);
        }
    }

    /// Simulates a device that lost its persistent reservation information (a recoverable
    /// lost persistent reservation, SPC-4 r36f 5.13.5.3.2): registrations and reservation
    /// are gone, and until a REPLACE LOST RESERVATION succeeds every command except it,
    /// INQUIRY, REPORT LUNS and REQUEST SENSE ends in CHECK CONDITION, DATA PROTECT, 44h/01h
    /// PERSISTENT RESERVATION INFORMATION LOST. (The LIO personality, which has no such
    /// state in LIO, applies it to PR OUT, TEST UNIT READY and media access only.)
    pub fn lose_reservation(&mut self) {
        self.regs.clear();
        self.resv = None;
        self.lost = true;
        self.lio_active.clear();
    }

    /// Queues a unit attention for `nexus`, as this personality queues them.
    pub fn add_unit_attention(&mut self, nexus: &ItNexus, asc: u8, ascq: u8) {
        self.add_ua(nexus, (asc, ascq));
    }

    fn add_ua(&mut self, nexus: &ItNexus, code: (u8, u8)) {
        let lio = self.lio();
        let q = self.uas.entry(nexus.clone()).or_default();
        if lio {
            // LIO compares the new condition with the head of the queue only; 29h goes in
            // front of 2Ah; everything else goes to the tail.
            match q.front().copied() {
                None => q.push_back(code),
                Some(head) if head == code => {}
                Some((0x29, hq)) => {
                    if code.0 == 0x29 && code.1 > hq {
                        q.push_front(code)
                    } else {
                        q.push_back(code)
                    }
                }
                Some((0x2a, _)) if code.0 == 0x29 => q.push_front(code),
                Some(_) => q.push_back(code),
            }
        } else if code.0 == 0x29 {
            // A power on or reset supersedes every condition queued before it.
            q.clear();
            q.push_back(code);
        } else if !q.contains(&code) {
            q.push_back(code);
        }
    }

    /// Takes the unit attention to report to `nexus`: the first one (SPC: one at a time;
    /// LIO: the first, and the others are discarded).
    fn take_ua(&mut self, nexus: &ItNexus) -> Option<(u8, u8)> {
        let lio = self.lio();
        let q = self.uas.get_mut(nexus)?;
        let first = q.pop_front();
        if lio {
            q.clear();
        }
        first
    }

    fn lio(&self) -> bool {
        self.config.personality == Personality::Lio
    }

    fn caps(&self) -> Capabilities {
        if self.lio() {
            LunConfig::lio_capabilities()
        } else {
            self.config.capabilities
        }
    }

    // -----------------------------------------------------------------------------------
    // Command execution
    // -----------------------------------------------------------------------------------

    /// Executes one command from `nexus`. `data_out` is the data-out buffer (PR OUT
    /// parameter list, WRITE data); `data_in_len` is the room the initiator has for data-in
    /// (the transfer is cut to it and to the CDB's allocation length). Never panics.
    pub fn execute(
        &mut self,
        nexus: &ItNexus,
        cdb: &[u8],
        data_out: &[u8],
        data_in_len: usize,
    ) -> Reply {
        self.add_nexus(nexus.clone());
        let Some(&op) = cdb.first() else {
            return Reply::check(&Condition::illegal(0x20, 0, Some(FieldRef::cdb(0, None))));
        };
        // SAM-5 5.14: INQUIRY, REPORT LUNS and REQUEST SENSE neither report nor (except
        // REQUEST SENSE, which returns it as data) clear a unit attention.
        if !matches!(
            op,
            opcode::INQUIRY | opcode::REPORT_LUNS | opcode::REQUEST_SENSE
        ) && let Some((asc, ascq)) = self.take_ua(nexus)
        {
            return Reply::check(&Condition::unit_attention(asc, ascq));
        }
        let r = self.dispatch(nexus, op, cdb, data_out, data_in_len);
        match r {
            Ok(data) => {
                let mut data = data;
                data.truncate(data_in_len);
                Reply::good(data)
            }
            Err(Fail::Conflict) => Reply::status(ScsiStatus::RESERVATION_CONFLICT),
            Err(Fail::Check(mut c)) => {
                if self.lio() {
                    // LIO never sets SKSV.
                    c.field = None;
                }
                Reply::check(&c)
            }
        }
    }

    fn dispatch(
        &mut self,
        nexus: &ItNexus,
        op: u8,
        cdb: &[u8],
        data_out: &[u8],
        data_in_len: usize,
    ) -> R<Vec<u8>> {
        let lost = Fail::Check(Condition::new(SenseKey::DataProtect, 0x44, 0x01));
        // SPC-4 r36f 5.13.5.3.2 (recoverable lost persistent reservation): every command
        // other than PERSISTENT RESERVE OUT with REPLACE LOST RESERVATION and those listed in
        // 5.13.5.2 (INQUIRY, REPORT LUNS, REQUEST SENSE among what the simulator implements)
        // ends in DATA PROTECT, 44h/01h PERSISTENT RESERVATION INFORMATION LOST, PERSISTENT
        // RESERVE IN and READ CAPACITY included. (The LIO personality keeps its older rule:
        // PR OUT, TEST UNIT READY and media access only; LIO itself has no such state.)
        let is_rlr = op == opcode::PERSISTENT_RESERVE_OUT
            && cdb.get(1).map(|b| b & 0x1f) == Some(PrOutAction::ReplaceLostReservation.code());
        if self.lost
            && !self.lio()
            && !is_rlr
            && matches!(
                op,
                opcode::TEST_UNIT_READY
                    | opcode::READ_CAPACITY_10
                    | opcode::READ_10
                    | opcode::READ_16
                    | opcode::WRITE_10
                    | opcode::WRITE_16
                    | opcode::PERSISTENT_RESERVE_IN
                    | opcode::PERSISTENT_RESERVE_OUT
            )
        {
            return Err(lost);
        }
        match op {
            opcode::INQUIRY => self.inquiry(cdb),
            opcode::REQUEST_SENSE => Ok(self.request_sense(nexus, cdb)),
            opcode::REPORT_LUNS => {
                // Answered by the target (it knows the LUN inventory); alone, LUN 0.
                let mut d = vec![0u8; 16];
                d[3] = 8;
                Ok(d)
            }
            opcode::PERSISTENT_RESERVE_IN => self.pr_in(nexus, cdb, data_in_len),
            opcode::PERSISTENT_RESERVE_OUT => {
                if self.lost && !is_rlr {
                    return Err(lost);
                }
                self.pr_out(nexus, cdb, data_out).map(|()| Vec::new())
            }
            opcode::TEST_UNIT_READY => {
                if self.lost {
                    return Err(lost);
                }
                if self.lio() {
                    // LIO: TEST UNIT READY never conflicts (ALLOW COMMANDS 001b).
                    return Ok(Vec::new());
                }
                self.check_access(nexus, Access::TestUnitReady)?;
                Ok(Vec::new())
            }
            opcode::READ_CAPACITY_10 => {
                let last =
                    u32::try_from(self.config.block_count.saturating_sub(1)).unwrap_or(u32::MAX);
                let mut d = last.to_be_bytes().to_vec();
                d.extend_from_slice(&u32::try_from(BLOCK_LEN).unwrap_or(512).to_be_bytes());
                Ok(d)
            }
            opcode::READ_10 | opcode::READ_16 | opcode::WRITE_10 | opcode::WRITE_16 => {
                if self.lost {
                    return Err(lost);
                }
                self.media(nexus, op, cdb, data_out)
            }
            _ => Err(Fail::Check(Condition::illegal(
                0x20,
                0,
                Some(FieldRef::cdb(0, None)),
            ))),
        }
    }

    fn inquiry(&self, cdb: &[u8]) -> R<Vec<u8>> {
        if cdb.len() < 6 {
            return Err(invalid_cdb(0, None));
        }
        let evpd = cdb.get(1).is_some_and(|b| b & 1 != 0);
        let page = cdb.get(2).copied().unwrap_or(0);
        let alloc = usize::from(u16_of(cdb, 3));
        let mut d = if evpd {
            match page {
                0x00 => vec![0, 0, 0, 2, 0x00, 0x80],
                0x80 => {
                    let s = self.config.serial.as_bytes();
                    let n = s.len().min(250);
                    let mut d = vec![0, 0x80, 0, u8::try_from(n).unwrap_or(0)];
                    d.extend_from_slice(s.get(..n).unwrap_or(&[]));
                    d
                }
                _ => return Err(invalid_cdb(2, None)),
            }
        } else {
            if page != 0 {
                return Err(invalid_cdb(2, None));
            }
            let mut d = vec![0u8; 36];
            d[2] = 0x07; // SPC-5
            d[3] = 0x02; // response data format 2
            d[4] = 31;
            d[8..16].copy_from_slice(b"PR-SIM  ");
            let product: &[u8; 16] = if self.lio() {
                b"SIMULATED LIO   "
            } else {
                b"SIMULATED SPC-5 "
            };
            d[16..32].copy_from_slice(product);
            d[32..36].copy_from_slice(b"0001");
            d
        };
        d.truncate(alloc);
        Ok(d)
    }

    fn request_sense(&mut self, nexus: &ItNexus, cdb: &[u8]) -> Vec<u8> {
        let alloc = usize::from(cdb.get(4).copied().unwrap_or(0));
        let cond = match self.take_ua(nexus) {
            Some((asc, ascq)) => Condition::unit_attention(asc, ascq),
            None => Condition::new(SenseKey::NoSense, 0, 0),
        };
        let mut d = cond.to_fixed().to_vec();
        d.truncate(alloc);
        d
    }

    fn check_access(&self, nexus: &ItNexus, access: Access) -> R<()> {
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

    fn media(&mut self, nexus: &ItNexus, op: u8, cdb: &[u8], data_out: &[u8]) -> R<Vec<u8>> {
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

    // -----------------------------------------------------------------------------------
    // PERSISTENT RESERVE IN
    // -----------------------------------------------------------------------------------

    fn pr_in(&self, nexus: &ItNexus, cdb: &[u8], data_in_len: usize) -> R<Vec<u8>> {
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

    fn encode_full(&self, entries: &[FullStatusEntry<'static>]) -> Vec<u8> {
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

    fn full_status_entries(&self) -> Vec<FullStatusEntry<'static>> {
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

    fn key_of(&self, nexus: &ItNexus) -> Option<ReservationKey> {
        self.regs.iter().find(|r| &r.nexus == nexus).map(|r| r.key)
    }

    // -----------------------------------------------------------------------------------
    // PERSISTENT RESERVE OUT
    // -----------------------------------------------------------------------------------

    fn pr_out(&mut self, nexus: &ItNexus, cdb: &[u8], data_out: &[u8]) -> R<()> {
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

    fn check_type(&self, c: &PrOutCdb) -> R<ReservationType> {
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

    fn spc_pr_out(&mut self, nexus: &ItNexus, c: &PrOutCdb, p: &[u8]) -> R<()> {
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

    fn push_reg(&mut self, nexus: ItNexus, key: ReservationKey, all_tg_pt: bool) {
        self.next_reg_id = self.next_reg_id.wrapping_add(1);
        self.regs.push(Reg {
            id: self.next_reg_id,
            nexus,
            key,
            all_tg_pt,
        });
    }

    fn bump(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    fn check_key(&self, nexus: &ItNexus, key: ReservationKey) -> R<()> {
        match self.key_of(nexus) {
            Some(k) if k == key => Ok(()),
            _ => Err(Fail::Conflict),
        }
    }

    /// The nexuses of `nexus`'s initiator port on every target port (SPC ALL_TG_PT).
    fn all_ports_of(&self, nexus: &ItNexus) -> Vec<ItNexus> {
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
    fn known_ports_of(&self, nexus: &ItNexus) -> Vec<ItNexus> {
        let mut v = vec![nexus.clone()];
        for n in &self.known {
            if n.initiator == nexus.initiator && !v.contains(n) {
                v.push(n.clone());
            }
        }
        v
    }

    fn parse_spec_tids(&self, b: &BasicParams<'_>) -> R<Vec<(TransportId<'static>, u16)>> {
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

    fn spc_register(
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
    fn unregister(&mut self, nexus: &ItNexus) {
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
    fn settle(&mut self) {
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
    fn registered_nexuses(&self) -> Vec<ItNexus> {
        let mut v: Vec<ItNexus> = Vec::new();
        for r in &self.regs {
            if !v.contains(&r.nexus) {
                v.push(r.nexus.clone());
            }
        }
        v
    }

    fn reserve(&mut self, nexus: &ItNexus, ty: ReservationType) -> R<()> {
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

    fn release(&mut self, nexus: &ItNexus, ty: ReservationType, scope: u8, lio: bool) -> R<()> {
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

    fn clear(&mut self, nexus: &ItNexus) {
        for n in self.registered_nexuses() {
            if &n != nexus {
                self.add_ua(&n, ua::RESERVATIONS_PREEMPTED);
            }
        }
        self.regs.clear();
        self.resv = None;
        self.bump();
    }

    /// PREEMPT "removing registrations" (SPC-4 r36f 5.13.11.2.5; SPC-5 keeps it): every
    /// registration with `key` goes, **the issuer's own included** when it carries that key
    /// ("It is not an error ... to set the RESERVATION KEY and the SERVICE ACTION RESERVATION
    /// KEY to the same value, however, no unit attention condition is established for the
    /// I_T nexus on which the PERSISTENT RESERVE OUT command was received. The registration
    /// is removed."); every other nexus that lost its registration gets 2Ah/05h.
    fn remove_key(&mut self, key: ReservationKey, issuer: &ItNexus) {
        self.remove_registrations(key, issuer, false);
    }

    /// PREEMPT of the holder (SPC-4 r36f 5.13.11.2.4.3 item b): every registration with
    /// `key` except the issuer's; returns the nexuses that lost their registration.
    fn remove_key_except(&mut self, key: ReservationKey, issuer: &ItNexus) -> Vec<ItNexus> {
        self.remove_registrations(key, issuer, true)
    }

    /// Removes every registration with `key` (the issuer's too unless `keep_issuer`) and
    /// gives each other nexus that lost one 2Ah/05h REGISTRATIONS PREEMPTED; returns those
    /// nexuses.
    fn remove_registrations(
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

    fn preempt(&mut self, nexus: &ItNexus, sa: ReservationKey, ty: ReservationType) -> R<()> {
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

    /// REGISTER AND MOVE (SPC-4 r36f 5.13.8, table 70).
    fn register_and_move(&mut self, nexus: &ItNexus, m: &MoveParams<'_>) -> R<()> {
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

    // -----------------------------------------------------------------------------------
    // The LIO personality's PERSISTENT RESERVE OUT: a model of LIO's registration list
    // (drivers/target/target_core_pr.c, Linux 6.1; behaviour only, no code taken)
    // -----------------------------------------------------------------------------------
    //
    // LIO keeps a list of registrations. The same nexus can be on it twice (SPEC_I_PT
    // naming the issuer); a command works on the *first* registration of its nexus. The
    // reservation is a pointer to one registration (`holder_reg`), also for the
    // all-registrants types (the one that reserved; when it unregisters, the head of the
    // list). Separately, a per-nexus flag (`lio_active`, LIO's DEF_PR_REG_ACTIVE) is what
    // the reservation check of every command calls "registered": set when a registration of
    // the nexus is added, cleared when any registration of the nexus is freed.

    /// The first registration of `nexus` (LIO's `core_scsi3_locate_pr_reg`).
    fn lio_locate(&self, nexus: &ItNexus) -> Option<usize> {
        self.regs.iter().position(|r| &r.nexus == nexus)
    }

    /// The registration the reservation points to.
    fn lio_holder(&self) -> Option<usize> {
        let id = self.resv.as_ref()?.holder_reg?;
        self.regs.iter().position(|r| r.id == id)
    }

    fn lio_index_of(&self, id: u64) -> Option<usize> {
        self.regs.iter().position(|r| r.id == id)
    }

    /// Recomputes the LIO bookkeeping after registrations were set wholesale (power on,
    /// APTPL state loaded).
    fn lio_fixup(&mut self) {
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
    fn lio_add(&mut self, nexus: ItNexus, key: ReservationKey, all_tg_pt: bool) -> u64 {
        self.push_reg(nexus.clone(), key, all_tg_pt);
        if !self.lio_active.contains(&nexus) {
            self.lio_active.push(nexus);
        }
        self.bump();
        self.next_reg_id
    }

    /// Frees registration `id`: it leaves the list and its nexus stops counting as
    /// registered for the reservation check, even when it has another registration.
    fn lio_free(&mut self, id: u64) {
        if let Some(i) = self.lio_index_of(id) {
            let r = self.regs.remove(i);
            self.lio_active.retain(|n| n != &r.nexus);
        }
    }

    /// LIO's release of the reservation; with `unreg`, that registration is freed as well
    /// and an all-registrants reservation passes to the head of the list.
    fn lio_release(&mut self, unreg: Option<u64>) {
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

    fn lio_set_reservation(&mut self, ty: ReservationType, id: u64) {
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

    /// Queues `code` for the nexus of every registration on the list except `except`
    /// (LIO walks the list, so a nexus registered twice is visited twice).
    fn lio_ua_to_list(&mut self, except: Option<u64>, code: (u8, u8)) {
        let targets: Vec<ItNexus> = self
            .regs
            .iter()
            .filter(|r| Some(r.id) != except)
            .map(|r| r.nexus.clone())
            .collect();
        for n in targets {
            self.add_ua(&n, code);
        }
    }

    /// LIO's check of a command against the reservation, before the command runs
    /// (`target_scsi3_pr_reservation_check`, `core_scsi3_pr_seq_non_holder`): `true` for
    /// RESERVATION CONFLICT. The holder is the nexus of the registration the reservation
    /// points to (for the all-registrants types too); "registered" is the per-nexus flag.
    fn lio_conflicts(&self, nexus: &ItNexus, op: u8, service_action: u8, write: bool) -> bool {
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

    fn lio_pr_out(&mut self, nexus: &ItNexus, c: &PrOutCdb, p: &[u8]) -> R<()> {
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
                let ty = valid_type.ok_or(invalid_cdb(2, None))?;
                self.lio_preempt(nexus, ty, c.scope, res_key, sa_key)
            }
            Some(PrOutAction::RegisterAndMove) => {
                self.lio_register_and_move(nexus, res_key, sa_key, aptpl, unreg, p)
            }
            Some(PrOutAction::ReplaceLostReservation) | None => Err(invalid_cdb(1, None)),
        }
    }

    /// REGISTER (`res_key` given) and REGISTER AND IGNORE EXISTING KEY (`None`).
    #[allow(clippy::too_many_arguments)]
    fn lio_register(
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

    fn lio_reserve(
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

    fn lio_release_sa(
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

    fn lio_clear(&mut self, nexus: &ItNexus, res_key: ReservationKey) -> R<()> {
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

    fn lio_preempt(
        &mut self,
        nexus: &ItNexus,
        ty: ReservationType,
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
        if scope != 0 {
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
            if all_reg && sa_key.is_zero() {
                self.lio_set_reservation(ty, me.id);
            }
            self.bump();
            return Ok(());
        }
        // The SA key is the holder's: preempt the reservation.
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

    fn lio_register_and_move(
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

    // -----------------------------------------------------------------------------------
    // APTPL
    // -----------------------------------------------------------------------------------

    fn stored(&self) -> Stored {
        Stored {
            regs: self
                .regs
                .iter()
                .map(|r| StoredReg {
                    nexus: r.nexus.clone(),
                    key: r.key,
                    all_tg_pt: r.all_tg_pt,
                })
                .collect(),
            resv: self.resv.as_ref().map(|r| (r.ty, r.holder.clone())),
        }
    }

    /// The text of the APTPL state file for the current state.
    pub fn state_text(&self) -> String {
        persist::encode(&self.stored())
    }

    fn persist(&self) -> R<()> {
        let Some(path) = &self.config.state_file else {
            return Ok(());
        };
        let r = if self.aptpl {
            persist::write_atomically(path, &self.state_text())
        } else {
            persist::remove(path)
        };
        // The state changed in memory; the device reports that it could not store it.
        r.map_err(|_| lu_comm_failure())
    }

    fn load_state_file(&mut self) {
        let Some(path) = &self.config.state_file else {
            return;
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let Ok(st) = persist::decode(&text) else {
            return;
        };
        self.regs.clear();
        for r in st.regs {
            self.push_reg(r.nexus, r.key, r.all_tg_pt);
        }
        self.resv = st.resv.map(|(ty, holder)| Resv {
            ty,
            holder,
            holder_reg: None,
        });
        self.aptpl = true;
        self.settle();
        self.lio_fixup();
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
