//! The NVMe reservation commands: their opcodes, Command Dword 10 and 11, and their data
//! buffers (NVM Command Set; the layouts Linux's `drivers/nvme/host/pr.c` sends and
//! `drivers/nvme/target/pr.c` parses).
//!
//! ```text
//! command             opcode  CDW10                                          CDW11     data (little-endian)
//! Reservation Register 0Dh    CPTPL(31:30) IEKEY(3) RREGA(2:0)               -         CRKEY(0-7) NRKEY(8-15), to device
//! Reservation Report   0Eh    NUMD (0's based count of dwords)               EDS(0)    Reservation Status, from device
//! Reservation Acquire  11h    RTYPE(15:8) IEKEY(3) RACQA(2:0)                -         CRKEY(0-7) PRKEY(8-15), to device
//! Reservation Release  15h    RTYPE(15:8) IEKEY(3) RRELA(2:0)                -         CRKEY(0-7), to device
//!
//! RREGA 0 register, 1 unregister, 2 replace; CPTPL 0 no change, 2 clear PTPL, 3 set PTPL (1 reserved)
//! RACQA 0 acquire, 1 preempt, 2 preempt and abort; RRELA 0 release, 1 clear
//! ```
//!
//! The opcodes' two low bits give the data direction (01b host to controller, 10b controller
//! to host), as for every NVMe command.
//!
//! ```
//! use pr_core::nvme::{NvmeReservationType, ResvCommand, ResvRelease, ResvReport};
//! use pr_core::types::ReservationKey;
//!
//! let rel = ResvCommand::Release(ResvRelease::release(
//!     ReservationKey(0xabc),
//!     NvmeReservationType::ExclusiveAccess,
//! ));
//! let mut data = [0u8; 8];
//! assert_eq!(rel.encode_data(&mut data), Ok(8));
//! assert_eq!((rel.opcode(), rel.cdw10(), rel.cdw11()), (0x15, Ok(0x0200), 0));
//! assert_eq!(ResvCommand::decode(0x15, 0x0200, 0, &data).unwrap(), rel);
//!
//! // Room for the header and 4 extended entries: 64 + 4 * 64 bytes, NUMD 79.
//! let rep = ResvReport::for_controllers(4, true);
//! assert_eq!((rep.numd, rep.len()), (79, 320));
//! ```

use zerocopy::byteorder::little_endian::U64;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::NvmeReservationType;
use super::report::{
    EXTENDED_ENTRY_LEN, EXTENDED_HEADER_LEN, STANDARD_ENTRY_LEN, STANDARD_HEADER_LEN,
};
use crate::error::{BuildError, DecodeError};
use crate::prout::PrOut;
use crate::types::{PrOutAction, PrOutFlags, ReservationKey, Scope};

/// Why an NVMe reservation command cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NvmeBuildError {
    /// Acquire (all actions) and Release (release action) need a reservation type.
    #[error("{command} needs a reservation type")]
    TypeRequired {
        /// The command and action, e.g. `Reservation Release (release)`.
        command: &'static str,
    },
    /// Release with the clear action takes no reservation type.
    #[error("{command} takes no reservation type (got RTYPE {code})")]
    TypeNotAllowed {
        /// The command and action.
        command: &'static str,
        /// The RTYPE given.
        code: u8,
    },
    /// IEKEY on Reservation Acquire or Release: NVMe 1.3 and later controllers (Reservation
    /// Capabilities bit 7 set; Linux's nvmet) fail it with Invalid Field in Command.
    #[error("{command}: IEKEY is only defined for Reservation Register on NVMe 1.3 and later")]
    IekeyNotAllowed {
        /// The command.
        command: &'static str,
    },
    /// An RTYPE code outside 1-6.
    #[error("invalid NVMe reservation type {code}: valid types are 1-6")]
    InvalidType {
        /// The code.
        code: u8,
    },
    /// The caller's buffer is shorter than the data.
    #[error("buffer too small: need {needed} bytes, have {available}")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// A Reservation Report length that NUMD cannot express or that cannot hold the header.
    #[error("Reservation Report length {len}: {reason}")]
    ReportLength {
        /// The length asked for, in bytes.
        len: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A SCSI PR OUT request that has no NVMe equivalent.
    #[error("{what} has no NVMe reservation equivalent")]
    NotOnNvme {
        /// The SCSI concept (`REGISTER AND MOVE`, `SPEC_I_PT`, ...).
        what: &'static str,
    },
    /// An entry's host identifier does not have the width of the report format (8 bytes
    /// without EDS, 16 with).
    #[error("host identifier of {len} bytes in a report {format}")]
    HostIdFormat {
        /// The host identifier's length.
        len: usize,
        /// `with EDS` or `without EDS`.
        format: &'static str,
    },
    /// The SCSI PR OUT request given to [`ResvCommand::from_prout`] is itself invalid.
    #[error(transparent)]
    Scsi(#[from] BuildError),
}

/// Opcodes of the reservation commands (NVM Command Set I/O commands).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
pub enum Opcode {
    /// 0Dh: Reservation Register.
    ReservationRegister = 0x0d,
    /// 0Eh: Reservation Report.
    ReservationReport = 0x0e,
    /// 11h: Reservation Acquire.
    ReservationAcquire = 0x11,
    /// 15h: Reservation Release.
    ReservationRelease = 0x15,
}

impl Opcode {
    /// The opcode byte.
    pub const fn code(self) -> u8 {
        match self {
            Opcode::ReservationRegister => 0x0d,
            Opcode::ReservationReport => 0x0e,
            Opcode::ReservationAcquire => 0x11,
            Opcode::ReservationRelease => 0x15,
        }
    }

    /// The reservation command for an opcode byte.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0x0d => Some(Opcode::ReservationRegister),
            0x0e => Some(Opcode::ReservationReport),
            0x11 => Some(Opcode::ReservationAcquire),
            0x15 => Some(Opcode::ReservationRelease),
            _ => None,
        }
    }

    /// Whether data moves from the host to the controller (opcode bits 1:0 = 01b).
    pub const fn is_data_out(self) -> bool {
        self.code() & 0x03 == 0x01
    }
}

/// Data of Reservation Register (16 bytes, little-endian).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RegisterData {
    /// CRKEY: the current reservation key.
    pub crkey: U64,
    /// NRKEY: the new reservation key.
    pub nrkey: U64,
}

/// Data of Reservation Acquire (16 bytes, little-endian).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct AcquireData {
    /// CRKEY: the current reservation key.
    pub crkey: U64,
    /// PRKEY: the key to preempt (preempt actions).
    pub prkey: U64,
}

/// Data of Reservation Release (8 bytes, little-endian).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct ReleaseData {
    /// CRKEY: the current reservation key.
    pub crkey: U64,
}

/// Length of the Register and Acquire data.
pub const KEY_PAIR_LEN: usize = 16;
/// Length of the Release data.
pub const RELEASE_DATA_LEN: usize = 8;

const _: () = assert!(core::mem::size_of::<RegisterData>() == KEY_PAIR_LEN);
const _: () = assert!(core::mem::size_of::<AcquireData>() == KEY_PAIR_LEN);
const _: () = assert!(core::mem::size_of::<ReleaseData>() == RELEASE_DATA_LEN);

const IEKEY: u32 = 1 << 3;
const ACTION_MASK: u32 = 0x07;

/// RREGA: the Reservation Register action.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RegisterAction {
    /// 0: register NRKEY.
    Register,
    /// 1: unregister (CRKEY must match unless IEKEY).
    Unregister,
    /// 2: replace CRKEY by NRKEY (CRKEY must match unless IEKEY).
    Replace,
}

impl RegisterAction {
    /// The RREGA code.
    pub const fn code(self) -> u8 {
        match self {
            RegisterAction::Register => 0,
            RegisterAction::Unregister => 1,
            RegisterAction::Replace => 2,
        }
    }

    /// The action for an RREGA code (3-7 are reserved).
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(RegisterAction::Register),
            1 => Some(RegisterAction::Unregister),
            2 => Some(RegisterAction::Replace),
            _ => None,
        }
    }
}

/// CPTPL: Change Persist Through Power Loss State, bits 31:30 of Register's CDW10.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Cptpl {
    /// 0: leave PTPL as it is.
    #[default]
    NoChange,
    /// 2: clear PTPL: reservations and registrations are released on power loss.
    Clear,
    /// 3: set PTPL: reservations and registrations survive power loss (Linux's host driver
    /// always sends this, like `sd`'s APTPL).
    Persist,
}

impl Cptpl {
    /// The 2-bit code (1 is reserved).
    pub const fn code(self) -> u8 {
        match self {
            Cptpl::NoChange => 0,
            Cptpl::Clear => 2,
            Cptpl::Persist => 3,
        }
    }

    /// The value for a 2-bit code; 1 (reserved) and larger values are `None`.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Cptpl::NoChange),
            2 => Some(Cptpl::Clear),
            3 => Some(Cptpl::Persist),
            _ => None,
        }
    }
}

/// RACQA: the Reservation Acquire action.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AcquireAction {
    /// 0: acquire a reservation.
    Acquire,
    /// 1: preempt the registrants with key PRKEY (and their reservation).
    Preempt,
    /// 2: preempt, and abort the preempted hosts' commands (the fencing primitive).
    PreemptAndAbort,
}

impl AcquireAction {
    /// The RACQA code.
    pub const fn code(self) -> u8 {
        match self {
            AcquireAction::Acquire => 0,
            AcquireAction::Preempt => 1,
            AcquireAction::PreemptAndAbort => 2,
        }
    }

    /// The action for a RACQA code (3-7 are reserved).
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(AcquireAction::Acquire),
            1 => Some(AcquireAction::Preempt),
            2 => Some(AcquireAction::PreemptAndAbort),
            _ => None,
        }
    }
}

/// RRELA: the Reservation Release action.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ReleaseAction {
    /// 0: release the reservation (RTYPE must match the one held).
    Release,
    /// 1: clear every registration and the reservation.
    Clear,
}

impl ReleaseAction {
    /// The RRELA code.
    pub const fn code(self) -> u8 {
        match self {
            ReleaseAction::Release => 0,
            ReleaseAction::Clear => 1,
        }
    }

    /// The action for an RRELA code (2-7 are reserved).
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(ReleaseAction::Release),
            1 => Some(ReleaseAction::Clear),
            _ => None,
        }
    }
}

fn low_byte(v: u32) -> u8 {
    let [b, ..] = v.to_le_bytes();
    b
}

fn rtype_field(v: u32) -> u8 {
    let [_, b, ..] = v.to_le_bytes();
    b
}

fn write_data<T: IntoBytes + Immutable>(d: &T, out: &mut [u8]) -> Result<usize, NvmeBuildError> {
    let b = d.as_bytes();
    let available = out.len();
    let dst = out
        .get_mut(..b.len())
        .ok_or(NvmeBuildError::BufferTooSmall {
            needed: b.len(),
            available,
        })?;
    dst.copy_from_slice(b);
    Ok(b.len())
}

fn short(what: &'static str, len: usize, needed: usize) -> DecodeError {
    DecodeError::Short { what, len, needed }
}

/// Reservation Register.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ResvRegister {
    /// RREGA.
    pub action: RegisterAction,
    /// CRKEY (ignored by the controller for [`RegisterAction::Register`] and with IEKEY).
    pub crkey: ReservationKey,
    /// NRKEY (ignored for [`RegisterAction::Unregister`]).
    pub nrkey: ReservationKey,
    /// IEKEY: ignore the current key (do not check CRKEY).
    pub iekey: bool,
    /// CPTPL.
    pub cptpl: Cptpl,
}

impl ResvRegister {
    /// Register `key` for this host.
    pub const fn register(key: ReservationKey) -> Self {
        ResvRegister {
            action: RegisterAction::Register,
            crkey: ReservationKey::ZERO,
            nrkey: key,
            iekey: false,
            cptpl: Cptpl::NoChange,
        }
    }

    /// Unregister this host, registered with `current`.
    pub const fn unregister(current: ReservationKey) -> Self {
        ResvRegister {
            action: RegisterAction::Unregister,
            crkey: current,
            nrkey: ReservationKey::ZERO,
            iekey: false,
            cptpl: Cptpl::NoChange,
        }
    }

    /// Replace this host's key `current` by `new`.
    pub const fn replace(current: ReservationKey, new: ReservationKey) -> Self {
        ResvRegister {
            action: RegisterAction::Replace,
            crkey: current,
            nrkey: new,
            iekey: false,
            cptpl: Cptpl::NoChange,
        }
    }

    /// Sets IEKEY (the controller does not check CRKEY).
    pub const fn ignore_existing_key(mut self) -> Self {
        self.iekey = true;
        self
    }

    /// Sets CPTPL.
    pub const fn with_cptpl(mut self, cptpl: Cptpl) -> Self {
        self.cptpl = cptpl;
        self
    }

    /// Sets CPTPL to [`Cptpl::Persist`].
    pub const fn persist(self) -> Self {
        self.with_cptpl(Cptpl::Persist)
    }

    /// CDW10. Every combination is valid.
    pub fn cdw10(&self) -> u32 {
        let mut v = u32::from(self.action.code()) | (u32::from(self.cptpl.code()) << 30);
        if self.iekey {
            v |= IEKEY;
        }
        v
    }

    /// The 16-byte data buffer.
    pub fn data(&self) -> RegisterData {
        RegisterData {
            crkey: U64::new(self.crkey.0),
            nrkey: U64::new(self.nrkey.0),
        }
    }

    fn decode(cdw10: u32, data: &[u8]) -> Result<Self, DecodeError> {
        let action = RegisterAction::from_code(low_byte(cdw10 & ACTION_MASK)).ok_or(
            DecodeError::BadField {
                what: "Reservation Register RREGA",
                value: cdw10 & ACTION_MASK,
            },
        )?;
        let cptpl = Cptpl::from_code(low_byte(cdw10 >> 30)).ok_or(DecodeError::BadField {
            what: "Reservation Register CPTPL",
            value: cdw10 >> 30,
        })?;
        let (d, _) = RegisterData::ref_from_prefix(data)
            .map_err(|_| short("Reservation Register data", data.len(), KEY_PAIR_LEN))?;
        Ok(ResvRegister {
            action,
            crkey: ReservationKey(d.crkey.get()),
            nrkey: ReservationKey(d.nrkey.get()),
            iekey: cdw10 & IEKEY != 0,
            cptpl,
        })
    }
}

/// Reservation Acquire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ResvAcquire {
    /// RACQA.
    pub action: AcquireAction,
    /// CRKEY: this host's registered key.
    pub crkey: ReservationKey,
    /// PRKEY: the key whose registrants are preempted (preempt actions; 0 otherwise).
    pub prkey: ReservationKey,
    /// RTYPE.
    pub rtype: NvmeReservationType,
    /// IEKEY as sent (refused by [`ResvAcquire::validate`]; kept so that decoded commands
    /// show it).
    pub iekey: bool,
}

impl ResvAcquire {
    /// Acquire a reservation of type `rtype` with this host's key `key`.
    pub const fn acquire(key: ReservationKey, rtype: NvmeReservationType) -> Self {
        ResvAcquire {
            action: AcquireAction::Acquire,
            crkey: key,
            prkey: ReservationKey::ZERO,
            rtype,
            iekey: false,
        }
    }

    /// Preempt the registrants with key `victim`, taking the reservation as `rtype` if they
    /// held it. A `victim` of 0 is valid only against an all-registrants reservation.
    pub const fn preempt(
        key: ReservationKey,
        victim: ReservationKey,
        rtype: NvmeReservationType,
    ) -> Self {
        ResvAcquire {
            action: AcquireAction::Preempt,
            crkey: key,
            prkey: victim,
            rtype,
            iekey: false,
        }
    }

    /// As [`ResvAcquire::preempt`], and abort the preempted hosts' commands.
    pub const fn preempt_and_abort(
        key: ReservationKey,
        victim: ReservationKey,
        rtype: NvmeReservationType,
    ) -> Self {
        ResvAcquire {
            action: AcquireAction::PreemptAndAbort,
            ..ResvAcquire::preempt(key, victim, rtype)
        }
    }

    /// Refuses IEKEY ([`NvmeBuildError::IekeyNotAllowed`]).
    pub fn validate(&self) -> Result<(), NvmeBuildError> {
        if self.iekey {
            return Err(NvmeBuildError::IekeyNotAllowed {
                command: "Reservation Acquire",
            });
        }
        Ok(())
    }

    /// CDW10, after [`ResvAcquire::validate`].
    pub fn cdw10(&self) -> Result<u32, NvmeBuildError> {
        self.validate()?;
        Ok(self.raw_cdw10())
    }

    fn raw_cdw10(&self) -> u32 {
        let mut v = u32::from(self.action.code()) | (u32::from(self.rtype.code()) << 8);
        if self.iekey {
            v |= IEKEY;
        }
        v
    }

    /// The 16-byte data buffer.
    pub fn data(&self) -> AcquireData {
        AcquireData {
            crkey: U64::new(self.crkey.0),
            prkey: U64::new(self.prkey.0),
        }
    }

    fn decode(cdw10: u32, data: &[u8]) -> Result<Self, DecodeError> {
        let action = AcquireAction::from_code(low_byte(cdw10 & ACTION_MASK)).ok_or(
            DecodeError::BadField {
                what: "Reservation Acquire RACQA",
                value: cdw10 & ACTION_MASK,
            },
        )?;
        let rtype =
            NvmeReservationType::from_code(rtype_field(cdw10)).ok_or(DecodeError::BadField {
                what: "Reservation Acquire RTYPE",
                value: u32::from(rtype_field(cdw10)),
            })?;
        let (d, _) = AcquireData::ref_from_prefix(data)
            .map_err(|_| short("Reservation Acquire data", data.len(), KEY_PAIR_LEN))?;
        Ok(ResvAcquire {
            action,
            crkey: ReservationKey(d.crkey.get()),
            prkey: ReservationKey(d.prkey.get()),
            rtype,
            iekey: cdw10 & IEKEY != 0,
        })
    }
}

/// Reservation Release.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ResvRelease {
    /// RRELA.
    pub action: ReleaseAction,
    /// CRKEY: this host's registered key.
    pub crkey: ReservationKey,
    /// RTYPE: required by release (and must match the type held, or the controller answers
    /// Reservation Conflict), refused by clear.
    pub rtype: Option<NvmeReservationType>,
    /// IEKEY as sent (refused by [`ResvRelease::validate`]).
    pub iekey: bool,
}

impl ResvRelease {
    /// Release the reservation of type `rtype` held with `key`.
    pub const fn release(key: ReservationKey, rtype: NvmeReservationType) -> Self {
        ResvRelease {
            action: ReleaseAction::Release,
            crkey: key,
            rtype: Some(rtype),
            iekey: false,
        }
    }

    /// Clear every registration and the reservation, as a registrant with `key`.
    pub const fn clear(key: ReservationKey) -> Self {
        ResvRelease {
            action: ReleaseAction::Clear,
            crkey: key,
            rtype: None,
            iekey: false,
        }
    }

    /// Checks: release needs a type, clear takes none, IEKEY is refused.
    pub fn validate(&self) -> Result<(), NvmeBuildError> {
        match (self.action, self.rtype) {
            (ReleaseAction::Release, None) => {
                return Err(NvmeBuildError::TypeRequired {
                    command: "Reservation Release (release)",
                });
            }
            (ReleaseAction::Clear, Some(t)) => {
                return Err(NvmeBuildError::TypeNotAllowed {
                    command: "Reservation Release (clear)",
                    code: t.code(),
                });
            }
            _ => {}
        }
        if self.iekey {
            return Err(NvmeBuildError::IekeyNotAllowed {
                command: "Reservation Release",
            });
        }
        Ok(())
    }

    /// CDW10, after [`ResvRelease::validate`].
    pub fn cdw10(&self) -> Result<u32, NvmeBuildError> {
        self.validate()?;
        Ok(self.raw_cdw10())
    }

    fn raw_cdw10(&self) -> u32 {
        let mut v = u32::from(self.action.code())
            | (u32::from(self.rtype.map_or(0, NvmeReservationType::code)) << 8);
        if self.iekey {
            v |= IEKEY;
        }
        v
    }

    /// The 8-byte data buffer.
    pub fn data(&self) -> ReleaseData {
        ReleaseData {
            crkey: U64::new(self.crkey.0),
        }
    }

    fn decode(cdw10: u32, data: &[u8]) -> Result<Self, DecodeError> {
        let action = ReleaseAction::from_code(low_byte(cdw10 & ACTION_MASK)).ok_or(
            DecodeError::BadField {
                what: "Reservation Release RRELA",
                value: cdw10 & ACTION_MASK,
            },
        )?;
        let rtype = match action {
            // Clear ignores RTYPE.
            ReleaseAction::Clear => None,
            ReleaseAction::Release => {
                Some(NvmeReservationType::from_code(rtype_field(cdw10)).ok_or(
                    DecodeError::BadField {
                        what: "Reservation Release RTYPE",
                        value: u32::from(rtype_field(cdw10)),
                    },
                )?)
            }
        };
        let (d, _) = ReleaseData::ref_from_prefix(data)
            .map_err(|_| short("Reservation Release data", data.len(), RELEASE_DATA_LEN))?;
        Ok(ResvRelease {
            action,
            crkey: ReservationKey(d.crkey.get()),
            rtype,
            iekey: cdw10 & IEKEY != 0,
        })
    }
}

/// Reservation Report: how many bytes to return (NUMD) and in which format (EDS).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ResvReport {
    /// NUMD: the number of dwords to return, 0's based (bytes = 4 × (NUMD + 1)).
    pub numd: u32,
    /// EDS: the extended data structure (128-bit host identifiers, 64-byte entries).
    pub eds: bool,
}

impl ResvReport {
    /// A report returning `len` bytes. `len` must be a multiple of 4 and hold at least the
    /// header (24 bytes, or 64 with EDS; Linux's nvmet refuses less than 64 with Invalid
    /// Field), and at most 2^34 bytes.
    pub fn for_len(len: u64, eds: bool) -> Result<Self, NvmeBuildError> {
        let header = if eds {
            EXTENDED_HEADER_LEN
        } else {
            STANDARD_HEADER_LEN
        };
        if len % 4 != 0 {
            return Err(NvmeBuildError::ReportLength {
                len,
                reason: "not a multiple of 4 (NUMD counts dwords)",
            });
        }
        if len < u64::try_from(header).unwrap_or(u64::MAX) {
            return Err(NvmeBuildError::ReportLength {
                len,
                reason: "shorter than the Reservation Status header",
            });
        }
        let numd = u32::try_from((len / 4).saturating_sub(1)).map_err(|_| {
            NvmeBuildError::ReportLength {
                len,
                reason: "longer than NUMD can express",
            }
        })?;
        Ok(ResvReport { numd, eds })
    }

    /// A report with room for the header and `controllers` registered-controller entries.
    pub fn for_controllers(controllers: u16, eds: bool) -> Self {
        let len = report_len(controllers, eds);
        ResvReport {
            // At most 64 + 65535 × 64 bytes: a multiple of 4 that fits NUMD.
            numd: u32::try_from(len / 4).unwrap_or(u32::MAX).saturating_sub(1),
            eds,
        }
    }

    /// The number of bytes this report asks for: 4 × (NUMD + 1).
    pub fn len(&self) -> u64 {
        (u64::from(self.numd).saturating_add(1)).saturating_mul(4)
    }

    /// Whether the report asks for no bytes (never: NUMD is 0's based).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// CDW10: NUMD.
    pub fn cdw10(&self) -> u32 {
        self.numd
    }

    /// CDW11: EDS in bit 0.
    pub fn cdw11(&self) -> u32 {
        u32::from(self.eds)
    }
}

/// The length of a Reservation Status data structure with `controllers` entries: 24 + 24 × n
/// bytes, or with EDS 64 + 64 × n bytes.
pub fn report_len(controllers: u16, eds: bool) -> u64 {
    let (h, e) = if eds {
        (EXTENDED_HEADER_LEN, EXTENDED_ENTRY_LEN)
    } else {
        (STANDARD_HEADER_LEN, STANDARD_ENTRY_LEN)
    };
    let h = u64::try_from(h).unwrap_or(u64::MAX);
    let e = u64::try_from(e).unwrap_or(u64::MAX);
    h.saturating_add(e.saturating_mul(u64::from(controllers)))
}

/// Any NVMe reservation command.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ResvCommand {
    /// Reservation Register.
    Register(ResvRegister),
    /// Reservation Acquire.
    Acquire(ResvAcquire),
    /// Reservation Release.
    Release(ResvRelease),
    /// Reservation Report.
    Report(ResvReport),
}

impl ResvCommand {
    /// The opcode.
    pub fn opcode_kind(&self) -> Opcode {
        match self {
            ResvCommand::Register(_) => Opcode::ReservationRegister,
            ResvCommand::Acquire(_) => Opcode::ReservationAcquire,
            ResvCommand::Release(_) => Opcode::ReservationRelease,
            ResvCommand::Report(_) => Opcode::ReservationReport,
        }
    }

    /// The opcode byte.
    pub fn opcode(&self) -> u8 {
        self.opcode_kind().code()
    }

    /// Checks the command ([`ResvAcquire::validate`], [`ResvRelease::validate`]; every
    /// Register is valid; a Report must hold its header).
    pub fn validate(&self) -> Result<(), NvmeBuildError> {
        match self {
            ResvCommand::Register(_) => Ok(()),
            ResvCommand::Acquire(a) => a.validate(),
            ResvCommand::Release(r) => r.validate(),
            ResvCommand::Report(r) => ResvReport::for_len(r.len(), r.eds).map(|_| ()),
        }
    }

    /// Command Dword 10, after validation.
    pub fn cdw10(&self) -> Result<u32, NvmeBuildError> {
        self.validate()?;
        Ok(self.raw_cdw10())
    }

    fn raw_cdw10(&self) -> u32 {
        match self {
            ResvCommand::Register(r) => r.cdw10(),
            ResvCommand::Acquire(a) => a.raw_cdw10(),
            ResvCommand::Release(r) => r.raw_cdw10(),
            ResvCommand::Report(r) => r.cdw10(),
        }
    }

    /// Command Dword 11 (EDS for Report, 0 otherwise).
    pub fn cdw11(&self) -> u32 {
        match self {
            ResvCommand::Report(r) => r.cdw11(),
            _ => 0,
        }
    }

    /// Bytes of the data buffer: 16 (Register, Acquire) or 8 (Release) sent to the
    /// controller, or the Report's length received from it.
    pub fn data_len(&self) -> u64 {
        match self {
            ResvCommand::Register(_) | ResvCommand::Acquire(_) => 16,
            ResvCommand::Release(_) => 8,
            ResvCommand::Report(r) => r.len(),
        }
    }

    /// Validates the command and writes its data (Register, Acquire, Release) into the start
    /// of `out`, returning the bytes written; a Report sends no data and writes 0 bytes.
    pub fn encode_data(&self, out: &mut [u8]) -> Result<usize, NvmeBuildError> {
        self.validate()?;
        match self {
            ResvCommand::Register(r) => write_data(&r.data(), out),
            ResvCommand::Acquire(a) => write_data(&a.data(), out),
            ResvCommand::Release(r) => write_data(&r.data(), out),
            ResvCommand::Report(_) => Ok(0),
        }
    }

    /// Decodes a command as a controller receives it: opcode, CDW10, CDW11 and the data sent
    /// (ignored for Report). Reserved action codes, RTYPE codes outside 1-6 (except with the
    /// clear action, which ignores RTYPE), the reserved CPTPL value and short data are
    /// errors; IEKEY is returned as sent.
    pub fn decode(opcode: u8, cdw10: u32, cdw11: u32, data: &[u8]) -> Result<Self, DecodeError> {
        match Opcode::from_code(opcode) {
            Some(Opcode::ReservationRegister) => {
                ResvRegister::decode(cdw10, data).map(ResvCommand::Register)
            }
            Some(Opcode::ReservationAcquire) => {
                ResvAcquire::decode(cdw10, data).map(ResvCommand::Acquire)
            }
            Some(Opcode::ReservationRelease) => {
                ResvRelease::decode(cdw10, data).map(ResvCommand::Release)
            }
            Some(Opcode::ReservationReport) => Ok(ResvCommand::Report(ResvReport {
                numd: cdw10,
                eds: cdw11 & 1 != 0,
            })),
            None => Err(DecodeError::BadField {
                what: "NVMe reservation opcode",
                value: u32::from(opcode),
            }),
        }
    }

    /// The NVMe command for a SCSI PERSISTENT RESERVE OUT request, as Linux's NVMe driver
    /// maps the block layer's PR calls (`drivers/nvme/host/pr.c`), with the differences
    /// noted below. A third: Linux sets IEKEY on release and clear when the key is 0 (and on
    /// reserve with `PR_FL_IGNORE_KEY`); this mapping never sets it outside Register, because
    /// Linux's own target (nvmet) and NVMe 1.3 and later controllers refuse it there.
    ///
    /// - REGISTER: key 0 → register; new key 0 → unregister (Linux sends replace with NRKEY 0
    ///   instead); otherwise replace. APTPL → [`Cptpl::Persist`], else [`Cptpl::NoChange`]
    ///   (Linux always sends Persist).
    /// - REGISTER AND IGNORE EXISTING KEY: register with IEKEY (new key 0: unregister with
    ///   IEKEY). NVMe has no exact equivalent: a host already registered with another key
    ///   gets Reservation Conflict and must use replace with IEKEY.
    /// - RESERVE → acquire; PREEMPT, PREEMPT AND ABORT → the acquire actions, the SERVICE
    ///   ACTION RESERVATION KEY becoming PRKEY; RELEASE → release; CLEAR → clear.
    /// - REGISTER AND MOVE, REPLACE LOST RESERVATION, SPEC_I_PT, ALL_TG_PT and a scope other
    ///   than LU_SCOPE: [`NvmeBuildError::NotOnNvme`].
    pub fn from_prout(p: &PrOut<'_>) -> Result<Self, NvmeBuildError> {
        p.validate()?;
        if p.scope != Scope::LogicalUnit {
            return Err(NvmeBuildError::NotOnNvme {
                what: "a scope other than LU_SCOPE",
            });
        }
        if p.flags.contains(PrOutFlags::SPEC_I_PT) {
            return Err(NvmeBuildError::NotOnNvme { what: "SPEC_I_PT" });
        }
        if p.flags.contains(PrOutFlags::ALL_TG_PT) {
            return Err(NvmeBuildError::NotOnNvme { what: "ALL_TG_PT" });
        }
        let cptpl = if p.flags.contains(PrOutFlags::APTPL) {
            Cptpl::Persist
        } else {
            Cptpl::NoChange
        };
        let ty = p.reservation_type.map(NvmeReservationType::from_scsi);
        let need_ty = |ty: Option<NvmeReservationType>| {
            ty.ok_or(NvmeBuildError::Scsi(BuildError::TypeRequired {
                action: p.action,
            }))
        };
        Ok(match p.action {
            PrOutAction::Register => {
                let r = if p.key.is_zero() {
                    ResvRegister::register(p.sa_key)
                } else if p.sa_key.is_zero() {
                    ResvRegister::unregister(p.key)
                } else {
                    ResvRegister::replace(p.key, p.sa_key)
                };
                ResvCommand::Register(r.with_cptpl(cptpl))
            }
            PrOutAction::RegisterAndIgnoreExistingKey => {
                let r = if p.sa_key.is_zero() {
                    ResvRegister::unregister(ReservationKey::ZERO)
                } else {
                    ResvRegister::register(p.sa_key)
                };
                ResvCommand::Register(r.ignore_existing_key().with_cptpl(cptpl))
            }
            PrOutAction::Reserve => ResvCommand::Acquire(ResvAcquire::acquire(p.key, need_ty(ty)?)),
            PrOutAction::Preempt => {
                ResvCommand::Acquire(ResvAcquire::preempt(p.key, p.sa_key, need_ty(ty)?))
            }
            PrOutAction::PreemptAndAbort => ResvCommand::Acquire(ResvAcquire::preempt_and_abort(
                p.key,
                p.sa_key,
                need_ty(ty)?,
            )),
            PrOutAction::Release => ResvCommand::Release(ResvRelease::release(p.key, need_ty(ty)?)),
            PrOutAction::Clear => ResvCommand::Release(ResvRelease::clear(p.key)),
            PrOutAction::RegisterAndMove => {
                return Err(NvmeBuildError::NotOnNvme {
                    what: "REGISTER AND MOVE",
                });
            }
            PrOutAction::ReplaceLostReservation => {
                return Err(NvmeBuildError::NotOnNvme {
                    what: "REPLACE LOST RESERVATION",
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport_id::TransportId;
    use crate::types::ReservationType;
    use proptest::prelude::*;

    const K1: ReservationKey = ReservationKey(0x1122_3344_5566_7788);
    const K2: ReservationKey = ReservationKey(0xabcd);

    fn enc(c: &ResvCommand) -> (u8, u32, u32, Vec<u8>) {
        let mut buf = vec![0xeeu8; 32];
        let n = c.encode_data(&mut buf).unwrap();
        buf.truncate(n);
        (c.opcode(), c.cdw10().unwrap(), c.cdw11(), buf)
    }

    #[test]
    fn opcodes_and_directions() {
        for (op, code, out) in [
            (Opcode::ReservationRegister, 0x0d, true),
            (Opcode::ReservationReport, 0x0e, false),
            (Opcode::ReservationAcquire, 0x11, true),
            (Opcode::ReservationRelease, 0x15, true),
        ] {
            assert_eq!(op.code(), code);
            assert_eq!(Opcode::from_code(code), Some(op));
            assert_eq!(op.is_data_out(), out);
        }
        assert_eq!(Opcode::from_code(0x01), None);
    }

    #[test]
    fn register_bytes() {
        // Linux's IOC_PR_REGISTER with old 0: register, CPTPL 11b.
        let (op, c10, c11, d) = enc(&ResvCommand::Register(ResvRegister::register(K2).persist()));
        assert_eq!((op, c10, c11), (0x0d, 0xc000_0000, 0));
        let mut want = [0u8; 16];
        want[8..].copy_from_slice(&0xabcdu64.to_le_bytes());
        assert_eq!(d, want);
        // Replace with IEKEY: RREGA 2, bit 3.
        let (_, c10, _, d) = enc(&ResvCommand::Register(
            ResvRegister::replace(K1, K2).ignore_existing_key(),
        ));
        assert_eq!(c10, 0x0000_000a);
        assert_eq!(&d[..8], &[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
        // Unregister, clearing PTPL: RREGA 1, CPTPL 10b.
        let (_, c10, _, d) = enc(&ResvCommand::Register(
            ResvRegister::unregister(K1).with_cptpl(Cptpl::Clear),
        ));
        assert_eq!(c10, 0x8000_0001);
        assert_eq!(&d[8..], &[0; 8]);
    }

    #[test]
    fn acquire_release_bytes() {
        let (op, c10, _, d) = enc(&ResvCommand::Acquire(ResvAcquire::preempt_and_abort(
            K1,
            K2,
            NvmeReservationType::ExclusiveAccessAllRegistrants,
        )));
        assert_eq!((op, c10), (0x11, 0x0602));
        assert_eq!(&d[8..], &0xabcdu64.to_le_bytes());
        let (_, c10, _, _) = enc(&ResvCommand::Acquire(ResvAcquire::preempt(
            K1,
            K2,
            NvmeReservationType::WriteExclusive,
        )));
        assert_eq!(c10, 0x0101);
        let (op, c10, _, d) = enc(&ResvCommand::Release(ResvRelease::clear(K1)));
        assert_eq!((op, c10, d.len()), (0x15, 0x0001, 8));
        assert_eq!(d, K1.0.to_le_bytes());
    }

    #[test]
    fn report_sizing() {
        let r = ResvReport::for_len(4096, true).unwrap();
        assert_eq!((r.cdw10(), r.cdw11(), r.len()), (1023, 1, 4096));
        let r = ResvReport::for_controllers(0, false);
        assert_eq!((r.numd, r.len()), (5, 24));
        let r = ResvReport::for_controllers(u16::MAX, true);
        assert_eq!(r.len(), 64 + 64 * 65535);
        assert_eq!(report_len(3, false), 24 + 72);
        for (len, eds) in [(4096 + 2, true), (60, true), (20, false), (1 << 36, false)] {
            assert!(matches!(
                ResvReport::for_len(len, eds),
                Err(NvmeBuildError::ReportLength { .. })
            ));
        }
        // A decoded report with a NUMD too small for its header does not validate.
        let small = ResvCommand::Report(ResvReport { numd: 3, eds: true });
        assert!(small.cdw10().is_err());
    }

    #[test]
    fn invalid_commands_are_named() {
        let mut a = ResvAcquire::acquire(K1, NvmeReservationType::WriteExclusive);
        a.iekey = true;
        let mut r = ResvRelease::release(K1, NvmeReservationType::WriteExclusive);
        let mut c = ResvRelease::clear(K1);
        c.rtype = Some(NvmeReservationType::ExclusiveAccess);
        let mut ri = ResvRelease::clear(K1);
        ri.iekey = true;
        r.rtype = None;
        let cases = [
            (
                ResvCommand::Acquire(a),
                NvmeBuildError::IekeyNotAllowed {
                    command: "Reservation Acquire",
                },
            ),
            (
                ResvCommand::Release(r),
                NvmeBuildError::TypeRequired {
                    command: "Reservation Release (release)",
                },
            ),
            (
                ResvCommand::Release(c),
                NvmeBuildError::TypeNotAllowed {
                    command: "Reservation Release (clear)",
                    code: 2,
                },
            ),
            (
                ResvCommand::Release(ri),
                NvmeBuildError::IekeyNotAllowed {
                    command: "Reservation Release",
                },
            ),
        ];
        for (cmd, want) in cases {
            assert_eq!(cmd.cdw10(), Err(want.clone()));
            assert_eq!(cmd.encode_data(&mut [0; 16]), Err(want.clone()));
            assert!(!want.to_string().is_empty());
        }
        let reg = ResvCommand::Register(ResvRegister::register(K1));
        assert_eq!(
            reg.encode_data(&mut [0; 15]),
            Err(NvmeBuildError::BufferTooSmall {
                needed: 16,
                available: 15
            })
        );
    }

    #[test]
    fn decode_rejects_reserved_values() {
        let d = [0u8; 16];
        assert!(ResvCommand::decode(0x0d, 3, 0, &d).is_err()); // RREGA 3
        assert!(ResvCommand::decode(0x0d, 1 << 30, 0, &d).is_err()); // CPTPL 01b
        assert!(ResvCommand::decode(0x11, 0x0003 | 0x100, 0, &d).is_err()); // RACQA 3
        assert!(ResvCommand::decode(0x11, 0x0700, 0, &d).is_err()); // RTYPE 7
        assert!(ResvCommand::decode(0x15, 0x0000, 0, &d).is_err()); // release, RTYPE 0
        assert!(ResvCommand::decode(0x15, 0x0002, 0, &d).is_err()); // RRELA 2
        assert!(ResvCommand::decode(0x15, 0x0100, 0, &d[..7]).is_err()); // short
        assert!(ResvCommand::decode(0x0d, 0, 0, &d[..15]).is_err()); // short
        assert!(ResvCommand::decode(0x02, 0, 0, &d).is_err()); // Read
        // Clear ignores RTYPE; IEKEY is kept as sent.
        let c = ResvCommand::decode(0x15, 0xff09, 0, &d).unwrap();
        let ResvCommand::Release(r) = c else { panic!() };
        assert_eq!(
            (r.action, r.rtype, r.iekey),
            (ReleaseAction::Clear, None, true)
        );
    }

    #[test]
    fn from_prout_mapping() {
        use ReservationType as S;
        let t = |c: ResvCommand| (c.opcode(), c.cdw10().unwrap());
        let m = |p: PrOut<'_>| ResvCommand::from_prout(&p).unwrap();
        assert_eq!(
            t(m(PrOut::register(ReservationKey(0), K2).with_aptpl())),
            (0x0d, 0xc000_0000)
        );
        assert_eq!(t(m(PrOut::register(K1, K2))), (0x0d, 2));
        assert_eq!(t(m(PrOut::register(K1, ReservationKey(0)))), (0x0d, 1));
        assert_eq!(t(m(PrOut::register_ignore(K2))), (0x0d, 8));
        assert_eq!(t(m(PrOut::register_ignore(ReservationKey(0)))), (0x0d, 9));
        assert_eq!(t(m(PrOut::reserve(K1, S::ExclusiveAccess))), (0x11, 0x0200));
        assert_eq!(
            t(m(PrOut::preempt(K1, K2, S::WriteExclusiveAllRegistrants))),
            (0x11, 0x0501)
        );
        assert_eq!(
            t(m(PrOut::preempt_and_abort(
                K1,
                K2,
                S::ExclusiveAccessRegistrantsOnly
            ))),
            (0x11, 0x0402)
        );
        assert_eq!(
            t(m(PrOut::release(K1, S::WriteExclusiveRegistrantsOnly))),
            (0x15, 0x0300)
        );
        assert_eq!(t(m(PrOut::clear(K1))), (0x15, 1));
        let ResvCommand::Acquire(a) = m(PrOut::preempt(K1, K2, S::WriteExclusive)) else {
            panic!()
        };
        assert_eq!((a.crkey, a.prkey), (K1, K2));

        let sas = TransportId::Sas { address: 1 };
        let ids = [sas.clone()];
        let not = |p: PrOut<'_>| ResvCommand::from_prout(&p).unwrap_err();
        assert_eq!(
            not(PrOut::register_and_move(K1, K2, S::WriteExclusive, &sas, 1)),
            NvmeBuildError::NotOnNvme {
                what: "REGISTER AND MOVE"
            }
        );
        assert_eq!(
            not(PrOut::replace_lost_reservation(K2, S::WriteExclusive)),
            NvmeBuildError::NotOnNvme {
                what: "REPLACE LOST RESERVATION"
            }
        );
        assert_eq!(
            not(PrOut::register(ReservationKey(0), K2).with_spec_i_pt(&ids)),
            NvmeBuildError::NotOnNvme { what: "SPEC_I_PT" }
        );
        assert_eq!(
            not(PrOut::register(ReservationKey(0), K2).with_all_tg_pt()),
            NvmeBuildError::NotOnNvme { what: "ALL_TG_PT" }
        );
        assert!(matches!(
            not(PrOut::register(K1, K2).with_type(S::WriteExclusive)),
            NvmeBuildError::Scsi(_)
        ));
    }

    fn arb_type() -> impl Strategy<Value = NvmeReservationType> {
        proptest::sample::select(NvmeReservationType::ALL.to_vec())
    }

    fn arb_command() -> impl Strategy<Value = ResvCommand> {
        let key = any::<u64>().prop_map(ReservationKey);
        prop_oneof![
            (0u8..3, key.clone(), key.clone(), any::<bool>(), 0usize..3).prop_map(
                |(a, c, n, ie, p)| {
                    let action = RegisterAction::from_code(a).unwrap();
                    let nrkey = if action == RegisterAction::Unregister {
                        ReservationKey(0)
                    } else {
                        n
                    };
                    ResvCommand::Register(ResvRegister {
                        action,
                        crkey: c,
                        nrkey,
                        iekey: ie,
                        cptpl: [Cptpl::NoChange, Cptpl::Clear, Cptpl::Persist][p],
                    })
                }
            ),
            (0u8..3, key.clone(), key.clone(), arb_type()).prop_map(|(a, c, p, t)| {
                ResvCommand::Acquire(ResvAcquire {
                    action: AcquireAction::from_code(a).unwrap(),
                    crkey: c,
                    prkey: p,
                    rtype: t,
                    iekey: false,
                })
            }),
            (any::<bool>(), key, arb_type()).prop_map(|(clear, c, t)| {
                ResvCommand::Release(if clear {
                    ResvRelease::clear(c)
                } else {
                    ResvRelease::release(c, t)
                })
            }),
            (6u32.., any::<bool>()).prop_map(|(n, eds)| {
                ResvCommand::Report(ResvReport {
                    numd: if eds { n.max(15) } else { n },
                    eds,
                })
            }),
        ]
    }

    proptest! {
        #[test]
        fn roundtrip(c in arb_command()) {
            let (op, c10, c11, d) = enc(&c);
            prop_assert_eq!(u64::try_from(d.len()).unwrap(), if op == 0x0e { 0 } else { c.data_len() });
            prop_assert_eq!(ResvCommand::decode(op, c10, c11, &d).unwrap(), c);
        }

        #[test]
        fn decode_never_panics(op: u8, c10: u32, c11: u32, d in proptest::collection::vec(any::<u8>(), 0..20)) {
            if let Ok(c) = ResvCommand::decode(op, c10, c11, &d) {
                let _ = (c.cdw10(), c.cdw11(), c.data_len(), c.encode_data(&mut [0; 16]));
            }
        }

        #[test]
        fn for_len_is_exact(n in 16u64..100_000, eds: bool) {
            let len = n * 4;
            if let Ok(r) = ResvReport::for_len(len, eds) {
                prop_assert_eq!(r.len(), len);
            }
        }
    }
}
