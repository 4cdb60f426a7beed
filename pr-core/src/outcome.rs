//! The outcome of a completed SCSI command: status, sense bytes, residual, host and driver
//! status and duration, and its classification into one typed error ([`CommandError`]) that
//! keeps the sense bytes, so no layer above ever has to throw them away.
//!
//! [`Completion::check`] turns a completion into `Ok(())` or one [`CommandError`]; the rules
//! are documented there. [`HostStatus`] and [`DriverStatus`] name the Linux host and driver
//! bytes.

use core::fmt;
use core::time::Duration;

use crate::sense::{AscAscq, FieldPointer, ScsiStatus, Sense, SenseKey};

/// Most sense bytes a completion keeps (SPC's maximum for fixed sense is 252 bytes).
pub const SENSE_MAX: usize = 252;

/// Sense bytes kept inline, without heap allocation.
///
/// With the `serde` feature: the bytes as one lower-case hex string (`""` when empty).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SenseBuf {
    bytes: [u8; SENSE_MAX],
    len: u8,
}

impl SenseBuf {
    /// No sense data.
    pub const EMPTY: SenseBuf = SenseBuf {
        bytes: [0; SENSE_MAX],
        len: 0,
    };

    /// Keeps up to [`SENSE_MAX`] bytes of `sense` (the rest is dropped).
    pub fn new(sense: &[u8]) -> Self {
        let mut s = SenseBuf::EMPTY;
        let n = sense.len().min(SENSE_MAX);
        if let (Some(dst), Some(src)) = (s.bytes.get_mut(..n), sense.get(..n)) {
            dst.copy_from_slice(src);
            s.len = u8::try_from(n).unwrap_or(u8::MAX);
        }
        s
    }

    /// The kept bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Whether there are no sense bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for SenseBuf {
    fn default() -> Self {
        SenseBuf::EMPTY
    }
}

impl core::fmt::Debug for SenseBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SenseBuf[")?;
        for (i, b) in self.as_bytes().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02x}")?;
        }
        f.write_str("]")
    }
}

/// Everything a transport reports about one completed command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The SAM status byte (GOOD, CHECK CONDITION, RESERVATION CONFLICT, ...).
    pub status: ScsiStatus,
    /// Sense data, when the status (or autosense) delivered any.
    pub sense: SenseBuf,
    /// Linux host byte (`DID_*`); 0 when the transport has none.
    pub host_status: u16,
    /// Linux driver byte (`DRIVER_*`); 0 when the transport has none.
    pub driver_status: u16,
    /// Bytes of the data-in or data-out buffer that were not transferred.
    pub residual: u32,
    /// How long the command took, as measured by the transport (pr-core reads no clock).
    pub duration: Duration,
}

impl Completion {
    /// The sense data, when there is any and it parses (see [`Sense::parse`]).
    pub fn sense(&self) -> Option<Sense<'_>> {
        Sense::parse(self.sense.as_bytes()).ok()
    }

    /// The Linux host byte, named.
    pub fn host(&self) -> HostStatus {
        HostStatus(self.host_status)
    }

    /// The Linux driver byte, named.
    pub fn driver(&self) -> DriverStatus {
        DriverStatus(self.driver_status)
    }

    /// Whether the command succeeded: [`check`](Self::check) returns `Ok`.
    pub fn is_good(&self) -> bool {
        self.check().is_ok()
    }

    /// Classifies the completion.
    ///
    /// The status byte is read through [`ScsiStatus::masked`]. A status the device returned
    /// wins over the Linux host byte: Linux sets a host byte for some device statuses
    /// (`DID_NEXUS_FAILURE` for RESERVATION CONFLICT, `DID_TARGET_FAILURE` or
    /// `DID_MEDIUM_ERROR` for some sense), and those do not make a transport failure.
    ///
    /// - GOOD, CONDITION MET: `Ok`, unless the host byte is non-zero or the driver byte
    ///   reports an error ([`DriverStatus::is_failure`]): then the command did not complete
    ///   at the device and the result is [`CommandError::Transport`], except for host
    ///   `DID_NEXUS_FAILURE`, which the Linux mid-layer sets only for a reservation conflict
    ///   and which gives [`CommandError::ReservationConflict`]. When the driver byte is
    ///   `DRIVER_SENSE` with sense data attached, the sense is classified as below (sense
    ///   that does not parse, NO SENSE, RECOVERED ERROR and COMPLETED stay `Ok`).
    /// - RESERVATION CONFLICT: [`CommandError::ReservationConflict`], whatever the host byte.
    /// - CHECK CONDITION, COMMAND TERMINATED: by sense key. RECOVERED ERROR and COMPLETED
    ///   are `Ok` (the sense stays available through [`sense`](Self::sense)); UNIT
    ///   ATTENTION, NOT READY, ILLEGAL REQUEST, MEDIUM ERROR, HARDWARE ERROR, ABORTED
    ///   COMMAND and DATA PROTECT have their own variants; any other key (including NO
    ///   SENSE) is [`CommandError::OtherSenseKey`]; no sense is
    ///   [`CommandError::NoSenseData`], sense that does not parse
    ///   [`CommandError::MalformedSense`]. Deferred errors (71h, 73h) are classified the same
    ///   way; [`Sense::is_deferred`] tells them apart.
    /// - BUSY, TASK SET FULL, ACA ACTIVE, TASK ABORTED: their variants.
    /// - Any other status: [`CommandError::UnexpectedStatus`].
    #[allow(clippy::result_large_err)] // The error keeps the sense bytes inline by design.
    pub fn check(&self) -> Result<(), CommandError> {
        let host = self.host();
        let driver = self.driver();
        match self.status.masked() {
            ScsiStatus::GOOD | ScsiStatus::CONDITION_MET => {
                if host == HostStatus::NEXUS_FAILURE {
                    Err(CommandError::ReservationConflict { host_status: host })
                } else if !host.is_ok() || driver.is_failure() {
                    Err(CommandError::Transport {
                        host_status: host,
                        driver_status: driver,
                    })
                } else if driver.code() == DriverStatus::SENSE.code() && !self.sense.is_empty() {
                    classify_sense(ScsiStatus::CHECK_CONDITION, &self.sense, true)
                } else {
                    Ok(())
                }
            }
            ScsiStatus::RESERVATION_CONFLICT => {
                Err(CommandError::ReservationConflict { host_status: host })
            }
            s @ (ScsiStatus::CHECK_CONDITION | ScsiStatus::COMMAND_TERMINATED) => {
                classify_sense(s, &self.sense, false)
            }
            ScsiStatus::BUSY => Err(CommandError::Busy),
            ScsiStatus::TASK_SET_FULL => Err(CommandError::TaskSetFull),
            ScsiStatus::ACA_ACTIVE => Err(CommandError::AcaActive),
            ScsiStatus::TASK_ABORTED => Err(CommandError::TaskAborted),
            _ => Err(CommandError::UnexpectedStatus {
                status: self.status,
                sense: self.sense,
            }),
        }
    }
}

/// Classifies sense data. `inferred`: the status was GOOD and only the driver byte said
/// there is sense, so anything short of a real error stays `Ok`.
#[allow(clippy::result_large_err)]
fn classify_sense(status: ScsiStatus, buf: &SenseBuf, inferred: bool) -> Result<(), CommandError> {
    let Ok(sense) = Sense::parse(buf.as_bytes()) else {
        return if inferred {
            Ok(())
        } else if buf.is_empty() {
            Err(CommandError::NoSenseData { status })
        } else {
            Err(CommandError::MalformedSense {
                status,
                sense: *buf,
            })
        };
    };
    let (asc, ascq) = sense.asc_ascq().unwrap_or((0, 0));
    let kept = *buf;
    match sense.key() {
        SenseKey::RecoveredError | SenseKey::Completed => Ok(()),
        SenseKey::NoSense if inferred => Ok(()),
        SenseKey::UnitAttention => Err(CommandError::UnitAttention {
            asc,
            ascq,
            sense: kept,
        }),
        SenseKey::NotReady => Err(CommandError::NotReady {
            asc,
            ascq,
            sense: kept,
        }),
        SenseKey::IllegalRequest => Err(CommandError::IllegalRequest {
            asc,
            ascq,
            field: sense.field_pointer(),
            sense: kept,
        }),
        SenseKey::MediumError => Err(CommandError::MediumError {
            asc,
            ascq,
            sense: kept,
        }),
        SenseKey::HardwareError => Err(CommandError::HardwareError {
            asc,
            ascq,
            sense: kept,
        }),
        SenseKey::AbortedCommand => Err(CommandError::AbortedCommand {
            asc,
            ascq,
            sense: kept,
        }),
        SenseKey::DataProtect => Err(CommandError::DataProtect {
            asc,
            ascq,
            sense: kept,
        }),
        key => Err(CommandError::OtherSenseKey {
            key,
            asc,
            ascq,
            sense: kept,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Linux host and driver bytes
// ---------------------------------------------------------------------------------------------

/// The Linux host byte (`DID_*`, from `include/scsi/scsi_status.h`): what the initiator's
/// host adapter driver and transport class say about the command's delivery.
///
/// With the `serde` feature: `{"code": 17, "name": "DID_NEXUS_FAILURE"}` (`name` `null` for
/// codes Linux does not define).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct HostStatus(pub u16);

impl HostStatus {
    /// 00h `DID_OK`.
    pub const OK: HostStatus = HostStatus(0x00);
    /// 01h `DID_NO_CONNECT`: could not connect before the timeout.
    pub const NO_CONNECT: HostStatus = HostStatus(0x01);
    /// 02h `DID_BUS_BUSY`: the bus stayed busy through the timeout.
    pub const BUS_BUSY: HostStatus = HostStatus(0x02);
    /// 03h `DID_TIME_OUT`: timed out.
    pub const TIME_OUT: HostStatus = HostStatus(0x03);
    /// 04h `DID_BAD_TARGET`: bad target.
    pub const BAD_TARGET: HostStatus = HostStatus(0x04);
    /// 05h `DID_ABORT`: aborted.
    pub const ABORT: HostStatus = HostStatus(0x05);
    /// 06h `DID_PARITY`: parity error.
    pub const PARITY: HostStatus = HostStatus(0x06);
    /// 07h `DID_ERROR`: internal error of the host adapter driver.
    pub const ERROR: HostStatus = HostStatus(0x07);
    /// 08h `DID_RESET`: reset by somebody.
    pub const RESET: HostStatus = HostStatus(0x08);
    /// 09h `DID_BAD_INTR`: unexpected interrupt.
    pub const BAD_INTR: HostStatus = HostStatus(0x09);
    /// 0Ah `DID_PASSTHROUGH`: forced past the mid-layer.
    pub const PASSTHROUGH: HostStatus = HostStatus(0x0a);
    /// 0Bh `DID_SOFT_ERROR`: the driver asks for a retry.
    pub const SOFT_ERROR: HostStatus = HostStatus(0x0b);
    /// 0Ch `DID_IMM_RETRY`: retry without decrementing the retry count.
    pub const IMM_RETRY: HostStatus = HostStatus(0x0c);
    /// 0Dh `DID_REQUEUE`: requeue.
    pub const REQUEUE: HostStatus = HostStatus(0x0d);
    /// 0Eh `DID_TRANSPORT_DISRUPTED`: the transport was disrupted and the port blocked.
    pub const TRANSPORT_DISRUPTED: HostStatus = HostStatus(0x0e);
    /// 0Fh `DID_TRANSPORT_FAILFAST`: the transport class failed the command fast.
    pub const TRANSPORT_FAILFAST: HostStatus = HostStatus(0x0f);
    /// 10h `DID_TARGET_FAILURE`: permanent target failure; other paths will not help.
    pub const TARGET_FAILURE: HostStatus = HostStatus(0x10);
    /// 11h `DID_NEXUS_FAILURE`: permanent nexus failure; set by Linux for RESERVATION
    /// CONFLICT.
    pub const NEXUS_FAILURE: HostStatus = HostStatus(0x11);
    /// 12h `DID_ALLOC_FAILURE`: space allocation on the device failed.
    pub const ALLOC_FAILURE: HostStatus = HostStatus(0x12);
    /// 13h `DID_MEDIUM_ERROR`: medium error.
    pub const MEDIUM_ERROR: HostStatus = HostStatus(0x13);
    /// 14h `DID_TRANSPORT_MARGINAL`: the transport is marginal.
    pub const TRANSPORT_MARGINAL: HostStatus = HostStatus(0x14);

    /// The `DID_*` name, `None` for codes Linux does not define.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "DID_OK",
            0x01 => "DID_NO_CONNECT",
            0x02 => "DID_BUS_BUSY",
            0x03 => "DID_TIME_OUT",
            0x04 => "DID_BAD_TARGET",
            0x05 => "DID_ABORT",
            0x06 => "DID_PARITY",
            0x07 => "DID_ERROR",
            0x08 => "DID_RESET",
            0x09 => "DID_BAD_INTR",
            0x0a => "DID_PASSTHROUGH",
            0x0b => "DID_SOFT_ERROR",
            0x0c => "DID_IMM_RETRY",
            0x0d => "DID_REQUEUE",
            0x0e => "DID_TRANSPORT_DISRUPTED",
            0x0f => "DID_TRANSPORT_FAILFAST",
            0x10 => "DID_TARGET_FAILURE",
            0x11 => "DID_NEXUS_FAILURE",
            0x12 => "DID_ALLOC_FAILURE",
            0x13 => "DID_MEDIUM_ERROR",
            0x14 => "DID_TRANSPORT_MARGINAL",
            _ => return None,
        })
    }

    /// `DID_OK`.
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// Whether this host byte means the path failed rather than the logical unit, so that
    /// another path may succeed. This is dm-multipath's rule: every non-zero host byte,
    /// except `DID_TARGET_FAILURE`, `DID_NEXUS_FAILURE` (a reservation conflict),
    /// `DID_ALLOC_FAILURE` and `DID_MEDIUM_ERROR`, which Linux reports as target, conflict,
    /// no-space and medium errors that no other path changes. Codes Linux does not define
    /// count as path failures, as Linux's generic I/O error does.
    pub const fn is_path_failure(self) -> bool {
        !matches!(self.0, 0x00 | 0x10 | 0x11 | 0x12 | 0x13)
    }
}

impl fmt::Display for HostStatus {
    /// `DID_TRANSPORT_DISRUPTED (0x0e)`, or `host status 0x0042` for unknown codes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({:#04x})", self.0),
            None => write!(f, "host status {:#06x}", self.0),
        }
    }
}

/// The Linux driver byte (`DRIVER_*` in the low four bits, an obsolete `SUGGEST_*` in the
/// high four). Kernels since 5.14 report only `DRIVER_SENSE` and `DRIVER_TIMEOUT` through
/// SG_IO; older ones report the others too.
///
/// With the `serde` feature: `{"code", "name", "suggestion"}`: the whole value, the
/// `DRIVER_*` name of its low four bits and the `SUGGEST_*` name of its high four (each
/// `null` when undefined).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct DriverStatus(pub u16);

impl DriverStatus {
    /// 0 `DRIVER_OK`.
    pub const OK: DriverStatus = DriverStatus(0x00);
    /// 1 `DRIVER_BUSY`.
    pub const BUSY: DriverStatus = DriverStatus(0x01);
    /// 2 `DRIVER_SOFT`.
    pub const SOFT: DriverStatus = DriverStatus(0x02);
    /// 3 `DRIVER_MEDIA`.
    pub const MEDIA: DriverStatus = DriverStatus(0x03);
    /// 4 `DRIVER_ERROR`.
    pub const ERROR: DriverStatus = DriverStatus(0x04);
    /// 5 `DRIVER_INVALID`.
    pub const INVALID: DriverStatus = DriverStatus(0x05);
    /// 6 `DRIVER_TIMEOUT`.
    pub const TIMEOUT: DriverStatus = DriverStatus(0x06);
    /// 7 `DRIVER_HARD`.
    pub const HARD: DriverStatus = DriverStatus(0x07);
    /// 8 `DRIVER_SENSE`: sense data was returned (not an error by itself).
    pub const SENSE: DriverStatus = DriverStatus(0x08);

    /// The `DRIVER_*` code (low four bits).
    pub fn code(self) -> u8 {
        u8::try_from(self.0 & 0x0f).unwrap_or(0)
    }

    /// The `SUGGEST_*` value (bits 4-7, unshifted: 10h, 20h, ...).
    pub fn suggestion(self) -> u8 {
        u8::try_from(self.0 & 0xf0).unwrap_or(0)
    }

    /// The `DRIVER_*` name of [`code`](Self::code), `None` for 9-15.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.code() {
            0 => "DRIVER_OK",
            1 => "DRIVER_BUSY",
            2 => "DRIVER_SOFT",
            3 => "DRIVER_MEDIA",
            4 => "DRIVER_ERROR",
            5 => "DRIVER_INVALID",
            6 => "DRIVER_TIMEOUT",
            7 => "DRIVER_HARD",
            8 => "DRIVER_SENSE",
            _ => return None,
        })
    }

    /// The `SUGGEST_*` name of [`suggestion`](Self::suggestion), `None` when there is none.
    pub fn suggestion_name(self) -> Option<&'static str> {
        match self.suggestion() {
            0x10 => Some("SUGGEST_RETRY"),
            0x20 => Some("SUGGEST_ABORT"),
            0x30 => Some("SUGGEST_REMAP"),
            0x40 => Some("SUGGEST_DIE"),
            0x80 => Some("SUGGEST_SENSE"),
            _ => None,
        }
    }

    /// Whether the code reports a failure: `DRIVER_BUSY` through `DRIVER_HARD` (1-7).
    /// `DRIVER_OK` and `DRIVER_SENSE` do not, nor do undefined codes.
    pub fn is_failure(self) -> bool {
        matches!(self.code(), 1..=7)
    }

    /// Whether the code reports a failure of the path: `DRIVER_BUSY`, `DRIVER_SOFT`,
    /// `DRIVER_ERROR`, `DRIVER_TIMEOUT`, `DRIVER_HARD` (not `DRIVER_MEDIA` or
    /// `DRIVER_INVALID`, which concern the medium and the request).
    pub fn is_path_failure(self) -> bool {
        matches!(self.code(), 1 | 2 | 4 | 6 | 7)
    }
}

impl fmt::Display for DriverStatus {
    /// `DRIVER_TIMEOUT (0x06)`, `DRIVER_ERROR|SUGGEST_RETRY (0x14)`, or
    /// `driver status 0x0009` for unknown codes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self.suggestion_name()) {
            (Some(name), Some(sugg)) => write!(f, "{name}|{sugg} ({:#04x})", self.0),
            (Some(name), None) if self.0 <= 0x0f => write!(f, "{name} ({:#04x})", self.0),
            _ => write!(f, "driver status {:#06x}", self.0),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CommandError
// ---------------------------------------------------------------------------------------------

/// A command that completed unsuccessfully, classified by [`Completion::check`].
///
/// Every variant built from sense data keeps the sense bytes ([`SenseBuf`]), so that callers
/// can re-parse them ([`sense`](Self::sense)) or log them ([`sense_bytes`](Self::sense_bytes)).
/// Where the sense data ended before the ASC/ASCQ, `asc` and `ascq` are 0 (NO ADDITIONAL
/// SENSE INFORMATION).
///
/// `Display` gives a message a user can act on, for example `reservation conflict`,
/// `unit attention: REGISTRATIONS PREEMPTED (asc 2Ah, ascq 05h)`, `illegal request: INVALID
/// FIELD IN CDB (asc 24h, ascq 00h), CDB byte 2 bit 7` or `transport error: host
/// DID_TRANSPORT_DISRUPTED (0x0e)`.
///
/// With the `serde` feature it serializes as a summary, the same members for every variant
/// (`null` where one does not apply): `{"kind", "message", "status", "sense_key", "asc",
/// "ascq", "additional_sense", "field", "host_status", "driver_status", "sense",
/// "retryable", "path_failure"}`, where `kind` is the variant's snake_case name
/// (`"reservation_conflict"`, `"illegal_request"`, `"transport"`, ...), `message` the
/// `Display` text, `additional_sense` the ASC/ASCQ name and `sense` the sense bytes as
/// lower-case hex (`null` when there are none).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// RESERVATION CONFLICT status (or, with GOOD status, the Linux host byte
    /// `DID_NEXUS_FAILURE`, which the mid-layer sets for it).
    ReservationConflict {
        /// The host byte reported with it (usually `DID_NEXUS_FAILURE` on Linux).
        host_status: HostStatus,
    },
    /// CHECK CONDITION, UNIT ATTENTION: the command was not executed because the logical
    /// unit has news (reservations or registrations preempted, a reset, changed
    /// parameters...). The condition is reported once per I_T nexus.
    UnitAttention {
        /// ADDITIONAL SENSE CODE.
        asc: u8,
        /// ADDITIONAL SENSE CODE QUALIFIER.
        ascq: u8,
        /// The sense bytes.
        sense: SenseBuf,
    },
    /// CHECK CONDITION, NOT READY.
    NotReady {
        /// ADDITIONAL SENSE CODE.
        asc: u8,
        /// ADDITIONAL SENSE CODE QUALIFIER.
        ascq: u8,
        /// The sense bytes.
        sense: SenseBuf,
    },
    /// CHECK CONDITION, ILLEGAL REQUEST: the device rejected the CDB or parameter list.
    IllegalRequest {
        /// ADDITIONAL SENSE CODE.
        asc: u8,
        /// ADDITIONAL SENSE CODE QUALIFIER.
        ascq: u8,
        /// The rejected field, when the device pointed at it (SKSV set).
        field: Option<FieldPointer>,
        /// The sense bytes.
        sense: SenseBuf,
    },
    /// CHECK CONDITION, MEDIUM ERROR.
    MediumError {
        /// ADDITIONAL SENSE CODE.
        asc: u8,
        /// ADDITIONAL SENSE CODE QUALIFIER.
        ascq: u8,
        /// The sense bytes.
        sense: SenseBuf,
    },
    /// CHECK CONDITION, HARDWARE ERROR.
    HardwareError {
        /// ADDITIONAL SENSE CODE.
        asc: u8,
        /// ADDITIONAL SENSE CODE QUALIFIER.
        ascq: u8,
        /// The sense bytes.
        sense: SenseBuf,
    },
    /// CHECK CONDITION, ABORTED COMMAND: the device server aborted the command.
    AbortedCommand {
        /// ADDITIONAL SENSE CODE.
        asc: u8,
        /// ADDITIONAL SENSE CODE QUALIFIER.
        ascq: u8,
        /// The sense bytes.
        sense: SenseBuf,
    },
    /// CHECK CONDITION, DATA PROTECT.
    DataProtect {
        /// ADDITIONAL SENSE CODE.
        asc: u8,
        /// ADDITIONAL SENSE CODE QUALIFIER.
        ascq: u8,
        /// The sense bytes.
        sense: SenseBuf,
    },
    /// CHECK CONDITION with any other sense key (NO SENSE, BLANK CHECK, COPY ABORTED,
    /// MISCOMPARE, VENDOR SPECIFIC, ...).
    OtherSenseKey {
        /// The sense key.
        key: SenseKey,
        /// ADDITIONAL SENSE CODE.
        asc: u8,
        /// ADDITIONAL SENSE CODE QUALIFIER.
        ascq: u8,
        /// The sense bytes.
        sense: SenseBuf,
    },
    /// CHECK CONDITION (or COMMAND TERMINATED) without any sense data.
    NoSenseData {
        /// The status.
        status: ScsiStatus,
    },
    /// CHECK CONDITION (or COMMAND TERMINATED) with sense data that does not parse.
    MalformedSense {
        /// The status.
        status: ScsiStatus,
        /// The sense bytes.
        sense: SenseBuf,
    },
    /// BUSY status.
    Busy,
    /// TASK SET FULL status.
    TaskSetFull,
    /// ACA ACTIVE status.
    AcaActive,
    /// TASK ABORTED status: another I_T nexus aborted the command (task management, or
    /// PREEMPT AND ABORT with TAS set).
    TaskAborted,
    /// The command did not complete at the device: a non-zero Linux host byte without a
    /// SCSI status that explains it, or a driver byte that reports an error.
    Transport {
        /// The host byte.
        host_status: HostStatus,
        /// The driver byte.
        driver_status: DriverStatus,
    },
    /// A status that is obsolete (INTERMEDIATE, INTERMEDIATE-CONDITION MET) or reserved.
    UnexpectedStatus {
        /// The status as reported.
        status: ScsiStatus,
        /// Any sense bytes reported with it.
        sense: SenseBuf,
    },
}

impl CommandError {
    /// The SCSI status the device returned; `None` for [`Transport`](Self::Transport), where
    /// the command did not complete at the device. Sense-key variants report CHECK
    /// CONDITION (also when the device returned the obsolete COMMAND TERMINATED).
    pub fn status(&self) -> Option<ScsiStatus> {
        Some(match self {
            CommandError::ReservationConflict { .. } => ScsiStatus::RESERVATION_CONFLICT,
            CommandError::UnitAttention { .. }
            | CommandError::NotReady { .. }
            | CommandError::IllegalRequest { .. }
            | CommandError::MediumError { .. }
            | CommandError::HardwareError { .. }
            | CommandError::AbortedCommand { .. }
            | CommandError::DataProtect { .. }
            | CommandError::OtherSenseKey { .. } => ScsiStatus::CHECK_CONDITION,
            CommandError::NoSenseData { status }
            | CommandError::MalformedSense { status, .. }
            | CommandError::UnexpectedStatus { status, .. } => *status,
            CommandError::Busy => ScsiStatus::BUSY,
            CommandError::TaskSetFull => ScsiStatus::TASK_SET_FULL,
            CommandError::AcaActive => ScsiStatus::ACA_ACTIVE,
            CommandError::TaskAborted => ScsiStatus::TASK_ABORTED,
            CommandError::Transport { .. } => return None,
        })
    }

    /// The kept sense bytes, if this variant keeps any.
    pub fn sense_buf(&self) -> Option<&SenseBuf> {
        match self {
            CommandError::UnitAttention { sense, .. }
            | CommandError::NotReady { sense, .. }
            | CommandError::IllegalRequest { sense, .. }
            | CommandError::MediumError { sense, .. }
            | CommandError::HardwareError { sense, .. }
            | CommandError::AbortedCommand { sense, .. }
            | CommandError::DataProtect { sense, .. }
            | CommandError::OtherSenseKey { sense, .. }
            | CommandError::MalformedSense { sense, .. }
            | CommandError::UnexpectedStatus { sense, .. } => Some(sense),
            _ => None,
        }
    }

    /// The sense bytes as the device returned them (empty when there were none).
    pub fn sense_bytes(&self) -> &[u8] {
        self.sense_buf().map_or(&[], SenseBuf::as_bytes)
    }

    /// The sense data, parsed again.
    pub fn sense(&self) -> Option<Sense<'_>> {
        Sense::parse(self.sense_bytes()).ok()
    }

    /// The sense key of a sense-key variant.
    pub fn sense_key(&self) -> Option<SenseKey> {
        Some(match self {
            CommandError::UnitAttention { .. } => SenseKey::UnitAttention,
            CommandError::NotReady { .. } => SenseKey::NotReady,
            CommandError::IllegalRequest { .. } => SenseKey::IllegalRequest,
            CommandError::MediumError { .. } => SenseKey::MediumError,
            CommandError::HardwareError { .. } => SenseKey::HardwareError,
            CommandError::AbortedCommand { .. } => SenseKey::AbortedCommand,
            CommandError::DataProtect { .. } => SenseKey::DataProtect,
            CommandError::OtherSenseKey { key, .. } => *key,
            _ => return None,
        })
    }

    /// ASC and ASCQ of a sense-key variant.
    pub fn asc_ascq(&self) -> Option<(u8, u8)> {
        match self {
            CommandError::UnitAttention { asc, ascq, .. }
            | CommandError::NotReady { asc, ascq, .. }
            | CommandError::IllegalRequest { asc, ascq, .. }
            | CommandError::MediumError { asc, ascq, .. }
            | CommandError::HardwareError { asc, ascq, .. }
            | CommandError::AbortedCommand { asc, ascq, .. }
            | CommandError::DataProtect { asc, ascq, .. }
            | CommandError::OtherSenseKey { asc, ascq, .. } => Some((*asc, *ascq)),
            _ => None,
        }
    }

    /// ASC and ASCQ of a sense-key variant, nameable.
    pub fn additional_sense(&self) -> Option<AscAscq> {
        self.asc_ascq().map(|(asc, ascq)| AscAscq::new(asc, ascq))
    }

    /// Whether this is a reservation conflict.
    pub fn is_reservation_conflict(&self) -> bool {
        matches!(self, CommandError::ReservationConflict { .. })
    }

    /// Whether this is a unit attention.
    pub fn is_unit_attention(&self) -> bool {
        matches!(self, CommandError::UnitAttention { .. })
    }

    /// Whether reissuing the same command (after a delay, or on another path when
    /// [`is_path_failure`](Self::is_path_failure)) may succeed. True for:
    ///
    /// - UNIT ATTENTION (reported once; after a PR-related one, such as REGISTRATIONS
    ///   PREEMPTED, the caller should also re-read the reservation state);
    /// - BUSY, TASK SET FULL, TASK ABORTED;
    /// - ABORTED COMMAND (SPC: the application client may recover by trying again);
    /// - NOT READY 04h/01h (becoming ready), 04h/07h (operation in progress) and 04h/0Ah
    ///   (asymmetric access state transition);
    /// - every [path failure](Self::is_path_failure).
    ///
    /// False for everything else: reservation conflicts, ILLEGAL REQUEST, DATA PROTECT,
    /// MEDIUM and HARDWARE ERROR, other NOT READY causes, ACA ACTIVE, missing or malformed
    /// sense, unexpected statuses and the non-path transport failures.
    ///
    /// Retryable does not mean the command had no effect: after a timeout or a path failure
    /// a PR OUT command may have executed.
    pub fn is_retryable(&self) -> bool {
        match self {
            CommandError::UnitAttention { .. }
            | CommandError::Busy
            | CommandError::TaskSetFull
            | CommandError::TaskAborted
            | CommandError::AbortedCommand { .. } => true,
            CommandError::NotReady {
                asc: 0x04,
                ascq: 0x01 | 0x07 | 0x0a,
                ..
            } => true,
            _ => self.is_path_failure(),
        }
    }

    /// Whether the path (I_T nexus, target port) failed rather than the logical unit, so
    /// that another path to the same logical unit may succeed. True for:
    ///
    /// - [`Transport`](Self::Transport) failures whose host byte is a path failure
    ///   ([`HostStatus::is_path_failure`]: everything but `DID_TARGET_FAILURE`,
    ///   `DID_ALLOC_FAILURE`, `DID_MEDIUM_ERROR`), or, with `DID_OK`, whose driver byte is
    ///   ([`DriverStatus::is_path_failure`]: busy, soft, error, timeout, hard);
    /// - NOT READY 04h/0Bh and 04h/0Ch: the target port is in the standby or unavailable
    ///   ALUA state;
    /// - ABORTED COMMAND with ASC 47h (parity / CRC errors) or 4Bh (data phase errors,
    ///   ACK/NAK timeout, connection lost): the interconnect failed.
    pub fn is_path_failure(&self) -> bool {
        match self {
            CommandError::Transport {
                host_status,
                driver_status,
            } => {
                host_status.is_path_failure()
                    || (host_status.is_ok() && driver_status.is_path_failure())
            }
            CommandError::NotReady {
                asc: 0x04,
                ascq: 0x0b | 0x0c,
                ..
            } => true,
            CommandError::AbortedCommand {
                asc: 0x47 | 0x4b, ..
            } => true,
            _ => false,
        }
    }
}

/// Writes `NAME (asc 2Ah, ascq 05h)`.
fn write_asc(f: &mut fmt::Formatter<'_>, asc: u8, ascq: u8) -> fmt::Result {
    write!(
        f,
        "{} (asc {asc:02X}h, ascq {ascq:02X}h)",
        AscAscq::new(asc, ascq)
    )
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::ReservationConflict { .. } => f.write_str("reservation conflict")?,
            CommandError::UnitAttention { asc, ascq, .. } => {
                f.write_str("unit attention: ")?;
                write_asc(f, *asc, *ascq)?;
            }
            CommandError::NotReady { asc, ascq, .. } => {
                f.write_str("not ready: ")?;
                write_asc(f, *asc, *ascq)?;
                if let Some(p) = self.sense().and_then(|s| s.progress()) {
                    write!(f, ", progress {p}")?;
                }
            }
            CommandError::IllegalRequest {
                asc, ascq, field, ..
            } => {
                f.write_str("illegal request: ")?;
                write_asc(f, *asc, *ascq)?;
                if let Some(fp) = field {
                    write!(f, ", {fp}")?;
                }
            }
            CommandError::MediumError { asc, ascq, .. } => {
                f.write_str("medium error: ")?;
                write_asc(f, *asc, *ascq)?;
            }
            CommandError::HardwareError { asc, ascq, .. } => {
                f.write_str("hardware error: ")?;
                write_asc(f, *asc, *ascq)?;
            }
            CommandError::AbortedCommand { asc, ascq, .. } => {
                f.write_str("aborted command: ")?;
                write_asc(f, *asc, *ascq)?;
            }
            CommandError::DataProtect { asc, ascq, .. } => {
                f.write_str("data protect: ")?;
                write_asc(f, *asc, *ascq)?;
            }
            CommandError::OtherSenseKey { key, asc, ascq, .. } => {
                write!(f, "check condition, sense key {key}: ")?;
                write_asc(f, *asc, *ascq)?;
            }
            CommandError::NoSenseData { status } => {
                write!(f, "{status} without sense data")?;
            }
            CommandError::MalformedSense { status, sense } => {
                write!(f, "{status} with undecodable sense data")?;
                if let Err(e) = Sense::parse(sense.as_bytes()) {
                    write!(f, " ({e})")?;
                }
            }
            CommandError::Busy => f.write_str("logical unit busy")?,
            CommandError::TaskSetFull => f.write_str("task set full")?,
            CommandError::AcaActive => f.write_str("ACA active")?,
            CommandError::TaskAborted => {
                f.write_str("task aborted by another initiator or task management")?;
            }
            CommandError::Transport {
                host_status,
                driver_status,
            } => {
                f.write_str("transport error: ")?;
                let show_driver =
                    driver_status.0 != 0 && driver_status.code() != DriverStatus::SENSE.code();
                if !host_status.is_ok() || !show_driver {
                    write!(f, "host {host_status}")?;
                    if show_driver {
                        f.write_str(", ")?;
                    }
                }
                if show_driver {
                    write!(f, "driver {driver_status}")?;
                }
            }
            CommandError::UnexpectedStatus { status, .. } => match status.name() {
                Some(name) => write!(f, "unexpected SCSI status {name} ({:02X}h)", status.0)?,
                None => write!(f, "unexpected SCSI status {:02X}h (reserved)", status.0)?,
            },
        }
        if self.asc_ascq().is_some() && self.sense().is_some_and(|s| s.is_deferred()) {
            f.write_str(" [deferred error]")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LIO_UA_PREEMPTED: [u8; 18] = [
        0x70, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x05, 0x00,
        0x00, 0x00, 0x00,
    ];

    fn fixed(key: u8, asc: u8, ascq: u8) -> [u8; 18] {
        let mut b = [0u8; 18];
        b[0] = 0x70;
        b[2] = key;
        b[7] = 10;
        b[12] = asc;
        b[13] = ascq;
        b
    }

    fn done(status: u8, sense: &[u8], host: u16, driver: u16) -> Completion {
        Completion {
            status: ScsiStatus(status),
            sense: SenseBuf::new(sense),
            host_status: host,
            driver_status: driver,
            residual: 0,
            duration: Duration::from_millis(1),
        }
    }

    #[test]
    fn good_and_condition_met() {
        assert_eq!(done(0x00, &[], 0, 0).check(), Ok(()));
        assert_eq!(done(0x04, &[], 0, 0).check(), Ok(()));
        assert!(done(0x01, &[], 0, 0).is_good()); // reserved bit 0 ignored
        assert!(done(0x00, &[], 0, 0).sense().is_none());
    }

    #[test]
    fn reservation_conflict_status_wins_over_host_byte() {
        for host in [0x00, 0x11, 0x07] {
            let e = done(0x18, &[], host, 0).check().unwrap_err();
            assert!(e.is_reservation_conflict());
            assert_eq!(e.status(), Some(ScsiStatus::RESERVATION_CONFLICT));
            assert!(!e.is_retryable() && !e.is_path_failure());
            assert_eq!(e.to_string(), "reservation conflict");
            assert!(e.sense_bytes().is_empty());
        }
        // GOOD status with only DID_NEXUS_FAILURE: the Linux mid-layer's conflict signal.
        assert!(
            done(0x00, &[], 0x11, 0)
                .check()
                .unwrap_err()
                .is_reservation_conflict()
        );
    }

    #[test]
    fn lio_unit_attention_after_preempt() {
        let c = done(0x02, &LIO_UA_PREEMPTED, 0, 0x08);
        let e = c.check().unwrap_err();
        assert_eq!(
            e,
            CommandError::UnitAttention {
                asc: 0x2a,
                ascq: 0x05,
                sense: SenseBuf::new(&LIO_UA_PREEMPTED)
            }
        );
        assert!(e.is_unit_attention() && e.is_retryable() && !e.is_path_failure());
        assert_eq!(e.sense_bytes(), &LIO_UA_PREEMPTED);
        assert_eq!(e.asc_ascq(), Some((0x2a, 0x05)));
        assert_eq!(e.sense_key(), Some(SenseKey::UnitAttention));
        assert_eq!(e.sense().unwrap().key(), SenseKey::UnitAttention);
        assert_eq!(
            e.to_string(),
            "unit attention: REGISTRATIONS PREEMPTED (asc 2Ah, ascq 05h)"
        );
        assert!(!c.is_good());
        assert_eq!(c.sense().unwrap().asc(), Some(0x2a));
        // Through the crate's error type.
        let top: crate::Error = e.into();
        assert_eq!(
            top.to_string(),
            "unit attention: REGISTRATIONS PREEMPTED (asc 2Ah, ascq 05h)"
        );
    }

    #[test]
    fn illegal_request_with_field_pointer() {
        let mut b = fixed(0x05, 0x24, 0x00);
        b[15] = 0xcf;
        b[17] = 0x02;
        let e = done(0x02, &b, 0, 0).check().unwrap_err();
        assert!(matches!(
            e,
            CommandError::IllegalRequest {
                asc: 0x24,
                ascq: 0,
                field: Some(FieldPointer {
                    field_pointer: 2,
                    bit_pointer: Some(7),
                    ..
                }),
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "illegal request: INVALID FIELD IN CDB (asc 24h, ascq 00h), CDB byte 2 bit 7"
        );
        assert!(!e.is_retryable());
        let e = done(0x02, &fixed(0x05, 0x26, 0x04), 0, 0)
            .check()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "illegal request: INVALID RELEASE OF PERSISTENT RESERVATION (asc 26h, ascq 04h)"
        );
    }

    #[test]
    fn descriptor_format_unit_attention() {
        let b = [0x72, 0x06, 0x29, 0x07, 0, 0, 0, 0];
        let e = done(0x02, &b, 0, 0).check().unwrap_err();
        assert_eq!(e.asc_ascq(), Some((0x29, 0x07)));
        assert_eq!(
            e.to_string(),
            "unit attention: I_T NEXUS LOSS OCCURRED (asc 29h, ascq 07h)"
        );
        // Deferred.
        let b = [0x73, 0x04, 0x44, 0x00, 0, 0, 0, 0];
        let e = done(0x02, &b, 0, 0).check().unwrap_err();
        assert_eq!(
            e.to_string(),
            "hardware error: INTERNAL TARGET FAILURE (asc 44h, ascq 00h) [deferred error]"
        );
    }

    #[test]
    fn recovered_error_and_completed_are_ok() {
        let c = done(0x02, &fixed(0x01, 0x17, 0x01), 0, 0x08);
        assert_eq!(c.check(), Ok(()));
        assert_eq!(c.sense().unwrap().key(), SenseKey::RecoveredError);
        assert_eq!(done(0x02, &fixed(0x0f, 0x00, 0x00), 0, 0).check(), Ok(()));
        // NO SENSE under CHECK CONDITION is not taken for success.
        let e = done(0x02, &fixed(0x00, 0x00, 0x00), 0, 0)
            .check()
            .unwrap_err();
        assert!(matches!(
            e,
            CommandError::OtherSenseKey {
                key: SenseKey::NoSense,
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "check condition, sense key NO SENSE: NO ADDITIONAL SENSE INFORMATION \
             (asc 00h, ascq 00h)"
        );
    }

    #[test]
    fn not_ready_causes() {
        let nr = |ascq| {
            done(0x02, &fixed(0x02, 0x04, ascq), 0, 0)
                .check()
                .unwrap_err()
        };
        for ascq in [0x01, 0x07, 0x0a] {
            assert!(nr(ascq).is_retryable(), "{ascq:#x}");
            assert!(!nr(ascq).is_path_failure(), "{ascq:#x}");
        }
        for ascq in [0x0b, 0x0c] {
            assert!(
                nr(ascq).is_retryable() && nr(ascq).is_path_failure(),
                "{ascq:#x}"
            );
        }
        for ascq in [0x00, 0x02, 0x03] {
            assert!(!nr(ascq).is_retryable(), "{ascq:#x}");
        }
        assert_eq!(
            nr(0x07).to_string(),
            "not ready: LOGICAL UNIT NOT READY, OPERATION IN PROGRESS (asc 04h, ascq 07h)"
        );
        // With a progress indication.
        let mut b = fixed(0x02, 0x04, 0x04);
        b[15] = 0x80;
        b[16] = 0x40;
        let e = done(0x02, &b, 0, 0).check().unwrap_err();
        assert!(e.to_string().ends_with(", progress 25.0%"));
    }

    #[test]
    fn other_sense_keys() {
        let e = |key, asc, ascq| {
            done(0x02, &fixed(key, asc, ascq), 0, 0)
                .check()
                .unwrap_err()
        };
        assert!(matches!(
            e(0x03, 0x11, 0x00),
            CommandError::MediumError { .. }
        ));
        assert!(matches!(
            e(0x04, 0x44, 0x00),
            CommandError::HardwareError { .. }
        ));
        assert!(matches!(
            e(0x07, 0x27, 0x00),
            CommandError::DataProtect { .. }
        ));
        let ab = e(0x0b, 0x4b, 0x07);
        assert!(ab.is_retryable() && ab.is_path_failure());
        assert_eq!(
            ab.to_string(),
            "aborted command: CONNECTION LOST (asc 4Bh, ascq 07h)"
        );
        let ab = e(0x0b, 0x00, 0x00);
        assert!(ab.is_retryable() && !ab.is_path_failure());
        assert!(!e(0x04, 0x44, 0x00).is_retryable());
        assert_eq!(e(0x0e, 0x1d, 0x00).sense_key(), Some(SenseKey::Miscompare));
        // COMMAND TERMINATED is classified like CHECK CONDITION.
        let t = done(0x22, &fixed(0x06, 0x2a, 0x03), 0, 0)
            .check()
            .unwrap_err();
        assert!(t.is_unit_attention());
    }

    #[test]
    fn missing_truncated_and_malformed_sense() {
        let e = done(0x02, &[], 0, 0).check().unwrap_err();
        assert_eq!(
            e,
            CommandError::NoSenseData {
                status: ScsiStatus::CHECK_CONDITION
            }
        );
        assert_eq!(e.to_string(), "CHECK CONDITION without sense data");
        let e = done(0x02, &[0x00, 0x01, 0x02], 0, 0).check().unwrap_err();
        assert!(matches!(e, CommandError::MalformedSense { .. }));
        assert_eq!(e.sense_bytes(), &[0, 1, 2]);
        assert_eq!(
            e.to_string(),
            "CHECK CONDITION with undecodable sense data \
             (sense data response code: invalid value 0x0)"
        );
        // Truncated to 8 bytes: the key is known, ASC/ASCQ are not (reported as 0/0).
        let e = done(0x02, &LIO_UA_PREEMPTED[..8], 0, 0)
            .check()
            .unwrap_err();
        assert!(e.is_unit_attention());
        assert_eq!(e.asc_ascq(), Some((0, 0)));
        assert_eq!(e.sense().unwrap().asc(), None);
    }

    #[test]
    fn status_only_errors() {
        let e = |s| done(s, &[], 0, 0).check().unwrap_err();
        assert_eq!(e(0x08), CommandError::Busy);
        assert_eq!(e(0x28), CommandError::TaskSetFull);
        assert_eq!(e(0x30), CommandError::AcaActive);
        assert_eq!(e(0x40), CommandError::TaskAborted);
        assert!(e(0x08).is_retryable() && e(0x28).is_retryable() && e(0x40).is_retryable());
        assert!(!e(0x30).is_retryable());
        assert_eq!(e(0x28).status(), Some(ScsiStatus::TASK_SET_FULL));
        let u = e(0x10);
        assert!(matches!(u, CommandError::UnexpectedStatus { .. }));
        assert_eq!(u.to_string(), "unexpected SCSI status INTERMEDIATE (10h)");
        assert_eq!(e(0x0c).to_string(), "unexpected SCSI status 0Ch (reserved)");
    }

    #[test]
    fn transport_failures() {
        let e = done(0x00, &[], 0x0e, 0).check().unwrap_err();
        assert_eq!(
            e,
            CommandError::Transport {
                host_status: HostStatus::TRANSPORT_DISRUPTED,
                driver_status: DriverStatus::OK
            }
        );
        assert_eq!(
            e.to_string(),
            "transport error: host DID_TRANSPORT_DISRUPTED (0x0e)"
        );
        assert!(e.is_path_failure() && e.is_retryable());
        assert_eq!(e.status(), None);
        for host in [0x10, 0x12, 0x13] {
            let e = done(0x00, &[], host, 0).check().unwrap_err();
            assert!(!e.is_path_failure() && !e.is_retryable(), "{host:#x}");
        }
        // Driver-only timeout.
        let e = done(0x00, &[], 0, 0x06).check().unwrap_err();
        assert_eq!(
            e.to_string(),
            "transport error: driver DRIVER_TIMEOUT (0x06)"
        );
        assert!(e.is_path_failure());
        // Both.
        let e = done(0x00, &[], 0x03, 0x06).check().unwrap_err();
        assert_eq!(
            e.to_string(),
            "transport error: host DID_TIME_OUT (0x03), driver DRIVER_TIMEOUT (0x06)"
        );
        // A device status explains a host byte set alongside it.
        let e = done(0x02, &fixed(0x04, 0x44, 0x00), 0x10, 0x08)
            .check()
            .unwrap_err();
        assert!(matches!(e, CommandError::HardwareError { asc: 0x44, .. }));
    }

    #[test]
    fn driver_sense_with_good_status() {
        let c = done(0x00, &LIO_UA_PREEMPTED, 0, 0x08);
        assert!(c.check().unwrap_err().is_unit_attention());
        assert_eq!(done(0x00, &fixed(0x00, 0, 0), 0, 0x08).check(), Ok(()));
        assert_eq!(done(0x00, &[1, 2, 3], 0, 0x08).check(), Ok(()));
        // Without DRIVER_SENSE, sense with GOOD status is ignored.
        assert_eq!(done(0x00, &LIO_UA_PREEMPTED, 0, 0).check(), Ok(()));
    }

    #[test]
    fn host_and_driver_names() {
        for code in 0..=0x14u16 {
            let name = HostStatus(code).name().unwrap();
            assert!(name.starts_with("DID_"));
        }
        assert_eq!(HostStatus(0x15).name(), None);
        assert_eq!(HostStatus(0x42).to_string(), "host status 0x0042");
        assert!(HostStatus(0x42).is_path_failure());
        assert_eq!(
            DriverStatus(0x14).to_string(),
            "DRIVER_ERROR|SUGGEST_RETRY (0x14)"
        );
        assert_eq!(DriverStatus(0x09).to_string(), "driver status 0x0009");
        assert!(DriverStatus::SENSE.name().is_some() && !DriverStatus::SENSE.is_failure());
        assert!(!DriverStatus::INVALID.is_path_failure() && DriverStatus::INVALID.is_failure());
    }

    proptest! {
        #[test]
        fn check_never_panics(
            status in any::<u8>(),
            host in prop_oneof![0u16..0x20, any::<u16>()],
            driver in prop_oneof![0u16..0x20, any::<u16>()],
            sense in proptest::collection::vec(any::<u8>(), 0..300),
            rc in prop_oneof![Just(None), (0x70u8..=0x73).prop_map(Some)],
        ) {
            let mut sense = sense;
            if let (Some(rc), Some(b0)) = (rc, sense.first_mut()) {
                *b0 = rc;
            }
            let c = done(status, &sense, host, driver);
            let _ = c.sense();
            match c.check() {
                Ok(()) => prop_assert!(c.is_good()),
                Err(e) => {
                    let _ = e.to_string();
                    let _ = (e.status(), e.sense(), e.asc_ascq(), e.sense_key());
                    prop_assert!(!e.is_path_failure() || e.is_retryable());
                    prop_assert!(e.sense_bytes().len() <= SENSE_MAX);
                    let _ = crate::Error::from(e).to_string();
                }
            }
        }
    }
}
