//! The deterministic device server of one logical unit: registrations, the persistent
//! reservation, PRgeneration, unit attentions, APTPL, and the media-access commands that
//! reservations govern. [`LogicalUnit::execute`] takes a CDB and data-out bytes from one I_T
//! nexus and returns status, sense and data-in; nothing here is asynchronous or reads a clock.

use std::collections::{BTreeMap, HashMap, VecDeque};

use pr_core::prin::Capabilities;
use pr_core::sense::{ScsiStatus, SenseKey};
use pr_core::transport_id::TransportId;
use pr_core::types::{PrOutAction, ReservationKey, ReservationType};

use crate::config::{BLOCK_LEN, LunConfig, Personality};
use crate::reply::{Condition, FieldRef, Reply};

mod access;
mod aptpl;
mod lio;
mod move_;
mod preempt;
mod prin;
mod prout;
mod registration;
mod reservation;
mod unit_attention;

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

    fn lio(&self) -> bool {
        self.config.personality.is_lio()
    }

    /// LIO of Linux 7.1 and later: PREEMPT checks TYPE and SCOPE only when it uses them.
    fn lio7_1(&self) -> bool {
        self.config.personality == Personality::Lio7_1
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
}
