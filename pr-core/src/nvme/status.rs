//! The NVMe completion status and what Linux's passthrough ioctl returns.
//!
//! In a completion queue entry the status field is bits 31:17 of Dword 3, after the phase tag
//! (bit 16). Linux keeps it shifted down by one (`nvme_req(req)->status = le16_to_cpu(cqe->status)
//! >> 1`), and this module uses that 15-bit form throughout:
//!
//! ```text
//! bit  14    13    12:11  10:8  7:0
//!      DNR   More  CRD    SCT   SC
//! ```
//!
//! `NVME_IOCTL_IO_CMD` (`_IOWR('N', 0x43, struct nvme_passthru_cmd)`) returns 0 on success,
//! the 15-bit status (a positive number) when the controller completed the command with an
//! error, and a negative errno when the command did not complete at the controller (through
//! libc: -1 with `errno` set). [`NvmeIoctlResult`] reads either convention.
//!
//! ```
//! use pr_core::nvme::status::{Disposition, NvmeIoctlResult, NvmeStatus};
//!
//! let s = NvmeStatus::from_cqe_status(0x8107); // DNR, SCT 0, SC 83h, phase tag 1
//! assert_eq!(s, NvmeStatus(0x4083));
//! assert!(s.is_reservation_conflict() && s.dnr());
//! assert_eq!(s.to_string(), "Reservation Conflict (SCT 0h, SC 83h, DNR)");
//! assert_eq!(NvmeIoctlResult::from_return(-4).disposition(), Disposition::RetryOtherPath);
//! ```

use core::fmt;

/// The 15-bit NVMe status as Linux reports it: SC (7:0), SCT (10:8), CRD (12:11), More (13),
/// DNR (14). The named constants carry no DNR, More or CRD bits; compare with
/// [`NvmeStatus::code`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct NvmeStatus(pub u16);

impl NvmeStatus {
    /// Successful Completion.
    pub const SUCCESS: NvmeStatus = NvmeStatus(0x000);
    /// Invalid Command Opcode (the controller does not implement the command, e.g. no
    /// reservation support).
    pub const INVALID_OPCODE: NvmeStatus = NvmeStatus(0x001);
    /// Invalid Field in Command (e.g. a reserved action or type, IEKEY on Acquire).
    pub const INVALID_FIELD: NvmeStatus = NvmeStatus(0x002);
    /// Internal Error.
    pub const INTERNAL: NvmeStatus = NvmeStatus(0x006);
    /// Command Abort Requested.
    pub const ABORT_REQUESTED: NvmeStatus = NvmeStatus(0x007);
    /// Invalid Namespace or Format.
    pub const INVALID_NAMESPACE: NvmeStatus = NvmeStatus(0x00b);
    /// Host Identifier Inconsistent Format: a Reservation Report without EDS while a host
    /// registered with a 128-bit Host Identifier (retry with EDS, or without: Linux's host
    /// driver retries without).
    pub const HOST_ID_INCONSISTENT_FORMAT: NvmeStatus = NvmeStatus(0x018);
    /// Command Aborted due to Preempt and Abort.
    pub const ABORTED_PREEMPT_AND_ABORT: NvmeStatus = NvmeStatus(0x01b);
    /// Command Interrupted (retry).
    pub const COMMAND_INTERRUPTED: NvmeStatus = NvmeStatus(0x021);
    /// Transient Transport Error.
    pub const TRANSIENT_TRANSPORT_ERROR: NvmeStatus = NvmeStatus(0x022);
    /// Namespace Not Ready.
    pub const NAMESPACE_NOT_READY: NvmeStatus = NvmeStatus(0x082);
    /// Reservation Conflict (SCT 0, SC 83h).
    pub const RESERVATION_CONFLICT: NvmeStatus = NvmeStatus(0x083);
    /// Conflicting Attributes (command specific, SCT 1, SC 80h).
    pub const CONFLICTING_ATTRIBUTES: NvmeStatus = NvmeStatus(0x180);
    /// Internal Path Error (path related, SCT 3).
    pub const INTERNAL_PATH_ERROR: NvmeStatus = NvmeStatus(0x300);
    /// Asymmetric Access Persistent Loss.
    pub const ANA_PERSISTENT_LOSS: NvmeStatus = NvmeStatus(0x301);
    /// Asymmetric Access Inaccessible.
    pub const ANA_INACCESSIBLE: NvmeStatus = NvmeStatus(0x302);
    /// Asymmetric Access Transition.
    pub const ANA_TRANSITION: NvmeStatus = NvmeStatus(0x303);
    /// Controller Pathing Error.
    pub const CONTROLLER_PATH_ERROR: NvmeStatus = NvmeStatus(0x360);
    /// Host Pathing Error (Linux sets it when it fails a command for a lost path).
    pub const HOST_PATH_ERROR: NvmeStatus = NvmeStatus(0x370);
    /// Command Aborted By Host.
    pub const HOST_ABORTED: NvmeStatus = NvmeStatus(0x371);

    const DNR: u16 = 0x4000;
    const MORE: u16 = 0x2000;
    const CODE_MASK: u16 = 0x07ff;

    /// The status from the 16-bit status half of a completion queue entry's Dword 3 (bit 0
    /// is the phase tag, dropped).
    pub const fn from_cqe_status(word: u16) -> Self {
        NvmeStatus(word >> 1)
    }

    /// SC: the status code.
    pub const fn sc(self) -> u8 {
        let [sc, _] = self.0.to_le_bytes();
        sc
    }

    /// SCT: the status code type (0 generic, 1 command specific, 2 media and data integrity,
    /// 3 path related, 7 vendor specific).
    pub const fn sct(self) -> u8 {
        let [_, hi] = self.0.to_le_bytes();
        hi & 0x07
    }

    /// CRD: command retry delay (0: none; 1-3 select the controller's CRDT1-3).
    pub const fn crd(self) -> u8 {
        let [_, hi] = self.0.to_le_bytes();
        (hi >> 3) & 0x03
    }

    /// More: the Error Information log page has more.
    pub const fn more(self) -> bool {
        self.0 & Self::MORE != 0
    }

    /// DNR: do not retry; the same command is expected to fail again.
    pub const fn dnr(self) -> bool {
        self.0 & Self::DNR != 0
    }

    /// SCT and SC together (Linux's `NVME_SCT_SC_MASK`), comparable with the constants.
    pub const fn code(self) -> NvmeStatus {
        NvmeStatus(self.0 & Self::CODE_MASK)
    }

    /// Whether the command succeeded.
    pub const fn is_success(self) -> bool {
        self.code().0 == Self::SUCCESS.0
    }

    /// Whether this is Reservation Conflict.
    pub const fn is_reservation_conflict(self) -> bool {
        self.code().0 == Self::RESERVATION_CONFLICT.0
    }

    /// Whether the status code type is path related (SCT 3): another path may succeed
    /// (Linux's `nvme_is_path_error`).
    pub const fn is_path_related(self) -> bool {
        self.sct() == 3
    }

    /// Whether the controller rejected the command itself (invalid opcode, field, namespace,
    /// host identifier format, conflicting attributes): resending it unchanged cannot help.
    pub const fn is_invalid_command(self) -> bool {
        matches!(self.code().0, 0x001 | 0x002 | 0x00b | 0x018 | 0x180)
    }

    /// The name of the status code, for the named ones.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.code().0 {
            0x000 => "Successful Completion",
            0x001 => "Invalid Command Opcode",
            0x002 => "Invalid Field in Command",
            0x006 => "Internal Error",
            0x007 => "Command Abort Requested",
            0x00b => "Invalid Namespace or Format",
            0x018 => "Host Identifier Inconsistent Format",
            0x01b => "Command Aborted due to Preempt and Abort",
            0x021 => "Command Interrupted",
            0x022 => "Transient Transport Error",
            0x082 => "Namespace Not Ready",
            0x083 => "Reservation Conflict",
            0x180 => "Conflicting Attributes",
            0x300 => "Internal Path Error",
            0x301 => "Asymmetric Access Persistent Loss",
            0x302 => "Asymmetric Access Inaccessible",
            0x303 => "Asymmetric Access Transition",
            0x360 => "Controller Pathing Error",
            0x370 => "Host Pathing Error",
            0x371 => "Command Aborted By Host",
            _ => return None,
        })
    }

    /// What Linux's block-layer PR ioctls (`IOC_PR_*` on an NVMe namespace) return for this
    /// status, per `nvme_status_to_pr_err` in `drivers/nvme/host/pr.c`: path related →
    /// `PR_STS_PATH_FAILED` (0x10000), success 0, Reservation Conflict →
    /// `PR_STS_RESERVATION_CONFLICT` (0x18), Conflicting Attributes, Invalid Opcode, Invalid
    /// Field, Invalid Namespace → `-EINVAL`, anything else `PR_STS_IOERR` (2).
    pub const fn linux_pr_status(self) -> i32 {
        if self.is_path_related() {
            return 0x10000;
        }
        match self.code().0 {
            0x000 => 0,
            0x083 => 0x18,
            0x180 | 0x001 | 0x002 | 0x00b => -EINVAL,
            _ => 2,
        }
    }

    /// The disposition of a completion with this status (see [`Disposition`]).
    pub const fn disposition(self) -> Disposition {
        if self.is_success() {
            Disposition::Success
        } else if self.is_reservation_conflict() {
            Disposition::ReservationConflict
        } else if self.is_path_related() {
            Disposition::RetryOtherPath
        } else if self.dnr() || self.is_invalid_command() {
            Disposition::Fatal
        } else {
            Disposition::Retry
        }
    }
}

impl fmt::Display for NvmeStatus {
    /// `Reservation Conflict (SCT 0h, SC 83h, DNR)`, or `status (SCT 2h, SC 81h)` for an
    /// unnamed code; ` More` and `CRD n` are appended when set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name().unwrap_or("status"))?;
        write!(f, " (SCT {:X}h, SC {:02X}h", self.sct(), self.sc())?;
        if self.dnr() {
            f.write_str(", DNR")?;
        }
        if self.more() {
            f.write_str(", More")?;
        }
        if self.crd() != 0 {
            write!(f, ", CRD {}", self.crd())?;
        }
        f.write_str(")")
    }
}

const EINTR: i32 = 4;
const EIO: i32 = 5;
const EAGAIN: i32 = 11;
const ENOMEM: i32 = 12;
const EBUSY: i32 = 16;
const EINVAL: i32 = 22;
const ENOLINK: i32 = 67;
const ETIMEDOUT: i32 = 110;

/// What to do after a command completed. With the `serde` feature: its snake_case name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum Disposition {
    /// The command succeeded.
    Success,
    /// Reservation Conflict: another host holds the reservation or this host's key does not
    /// match. Not retryable as is (as with SCSI).
    ReservationConflict,
    /// The path failed, not the namespace: another path (controller) may succeed. A
    /// reservation command may still have executed.
    RetryOtherPath,
    /// Transient: the same command may succeed later on the same path (DNR clear).
    Retry,
    /// Retrying the same command will not help.
    Fatal,
}

/// The result of `NVME_IOCTL_IO_CMD` (or `NVME_IOCTL_IO64_CMD`): success, an NVMe status, or
/// an errno.
///
/// With the `serde` feature: `"success"`, `{"status": <NvmeStatus>}` or `{"errno": n}`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum NvmeIoctlResult {
    /// 0: the command succeeded.
    Success,
    /// A positive return: the controller completed the command with this status.
    Status(NvmeStatus),
    /// A negative return (or -1 with `errno`): the command did not complete at the
    /// controller. The value is the positive errno (`EINTR` when Linux cancelled it, e.g. on
    /// a controller reset; `EAGAIN`/`EWOULDBLOCK` when a multipath head had no path...).
    Errno(i32),
}

impl NvmeIoctlResult {
    /// Reads the raw syscall return (`ret > 0`: status, `ret < 0`: `-errno`).
    pub const fn from_return(ret: i32) -> Self {
        if ret == 0 {
            NvmeIoctlResult::Success
        } else if ret > 0 {
            let [lo, hi, _, _] = ret.to_le_bytes();
            NvmeIoctlResult::Status(NvmeStatus(u16::from_le_bytes([lo, hi & 0x7f])))
        } else {
            NvmeIoctlResult::Errno(match ret.checked_neg() {
                Some(e) => e,
                None => i32::MAX,
            })
        }
    }

    /// Reads libc's `ioctl()` convention: -1 means failure with `errno`, any other value is
    /// the syscall's return.
    pub const fn from_libc(ret: i32, errno: i32) -> Self {
        if ret == -1 {
            NvmeIoctlResult::Errno(errno)
        } else {
            Self::from_return(ret)
        }
    }

    /// The NVMe status, when the controller returned one (success gives
    /// [`NvmeStatus::SUCCESS`]).
    pub const fn status(self) -> Option<NvmeStatus> {
        match self {
            NvmeIoctlResult::Success => Some(NvmeStatus::SUCCESS),
            NvmeIoctlResult::Status(s) => Some(s),
            NvmeIoctlResult::Errno(_) => None,
        }
    }

    /// Whether this is Reservation Conflict.
    pub const fn is_reservation_conflict(self) -> bool {
        matches!(self, NvmeIoctlResult::Status(s) if s.is_reservation_conflict())
    }

    /// The disposition. For statuses see [`NvmeStatus::disposition`]. Errnos: `EINTR`,
    /// `EAGAIN`, `ENOLINK` (Linux's `BLK_STS_TRANSPORT`) and `ETIMEDOUT` → retry on another
    /// path; `ENOMEM`, `EBUSY` → retry; anything else (`EINVAL`, `EIO`, `EPERM`, `ENOTTY`...)
    /// → fatal.
    pub const fn disposition(self) -> Disposition {
        match self {
            NvmeIoctlResult::Success => Disposition::Success,
            NvmeIoctlResult::Status(s) => s.disposition(),
            NvmeIoctlResult::Errno(EINTR | EAGAIN | ENOLINK | ETIMEDOUT) => {
                Disposition::RetryOtherPath
            }
            NvmeIoctlResult::Errno(ENOMEM | EBUSY) => Disposition::Retry,
            NvmeIoctlResult::Errno(_) => Disposition::Fatal,
        }
    }

    /// Whether another path may succeed.
    pub const fn is_path_failure(self) -> bool {
        matches!(self.disposition(), Disposition::RetryOtherPath)
    }

    /// Whether reissuing (on this path or another) may succeed.
    pub const fn is_retryable(self) -> bool {
        matches!(
            self.disposition(),
            Disposition::RetryOtherPath | Disposition::Retry
        )
    }
}

impl fmt::Display for NvmeIoctlResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NvmeIoctlResult::Success => f.write_str("success"),
            NvmeIoctlResult::Status(s) => s.fmt(f),
            NvmeIoctlResult::Errno(e) => {
                let name = match *e {
                    EINTR => "EINTR",
                    EIO => "EIO",
                    EAGAIN => "EAGAIN",
                    ENOMEM => "ENOMEM",
                    EBUSY => "EBUSY",
                    EINVAL => "EINVAL",
                    ENOLINK => "ENOLINK",
                    ETIMEDOUT => "ETIMEDOUT",
                    _ => "errno",
                };
                write!(f, "command did not complete: {name} ({e})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fields() {
        // CQE status half: bit 15 DNR, 14 More, 13:12 CRD, 11:9 SCT, 8:1 SC, 0 phase tag.
        let s = NvmeStatus::from_cqe_status(0xe603); // 1 1 10 011 00000001 1
        assert_eq!(
            (s.dnr(), s.more(), s.crd(), s.sct(), s.sc()),
            (true, true, 2, 3, 0x01)
        );
        assert_eq!(s.code(), NvmeStatus::ANA_PERSISTENT_LOSS);
        assert!(s.is_path_related());
        assert_eq!(
            s.to_string(),
            "Asymmetric Access Persistent Loss (SCT 3h, SC 01h, DNR, More, CRD 2)"
        );
        assert_eq!(NvmeStatus(0x281).to_string(), "status (SCT 2h, SC 81h)");
        // nvmet: NVME_SC_RESERVATION_CONFLICT | NVME_STATUS_DNR = 0x4083.
        assert!(NvmeStatus(0x4083).is_reservation_conflict());
        assert_eq!(NvmeStatus::HOST_ID_INCONSISTENT_FORMAT.sc(), 0x18);
        assert_eq!(NvmeStatus::INVALID_NAMESPACE.sc(), 0x0b);
        assert_eq!(
            NvmeStatus::INVALID_FIELD.name(),
            Some("Invalid Field in Command")
        );
    }

    #[test]
    fn dispositions() {
        use Disposition as D;
        let cases = [
            (0, D::Success),
            (0x4083, D::ReservationConflict),
            (0x0083, D::ReservationConflict),
            (0x4002, D::Fatal),
            (0x0002, D::Fatal),
            (0x0018, D::Fatal),
            (0x0082, D::Retry),
            (0x4082, D::Fatal),
            (0x0021, D::Retry),
            (0x0370, D::RetryOtherPath),
            (0x4303, D::RetryOtherPath),
            (-4, D::RetryOtherPath),
            (-11, D::RetryOtherPath),
            (-67, D::RetryOtherPath),
            (-110, D::RetryOtherPath),
            (-12, D::Retry),
            (-22, D::Fatal),
            (-5, D::Fatal),
            (i32::MIN, D::Fatal),
        ];
        for (ret, want) in cases {
            let r = NvmeIoctlResult::from_return(ret);
            assert_eq!(r.disposition(), want, "{ret:#x}");
            assert!(!r.to_string().is_empty());
        }
        assert!(NvmeIoctlResult::from_return(0x4083).is_reservation_conflict());
        assert_eq!(NvmeIoctlResult::from_libc(-1, 4), NvmeIoctlResult::Errno(4));
        assert_eq!(
            NvmeIoctlResult::from_libc(0x83, 0),
            NvmeIoctlResult::Status(NvmeStatus::RESERVATION_CONFLICT)
        );
        assert_eq!(
            NvmeIoctlResult::from_return(-4).to_string(),
            "command did not complete: EINTR (4)"
        );
    }

    #[test]
    fn linux_pr_status_mapping() {
        assert_eq!(NvmeStatus(0).linux_pr_status(), 0);
        assert_eq!(NvmeStatus(0x4083).linux_pr_status(), 0x18);
        assert_eq!(NvmeStatus(0x370).linux_pr_status(), 0x10000);
        assert_eq!(NvmeStatus(0x4002).linux_pr_status(), -22);
        assert_eq!(NvmeStatus(0x018).linux_pr_status(), 2);
    }

    proptest! {
        #[test]
        fn cqe_fields_roundtrip(dnr: bool, more: bool, crd in 0u16..4, sct in 0u16..8, sc: u8, phase: bool) {
            let word = (u16::from(dnr) << 15) | (u16::from(more) << 14) | (crd << 12)
                | (sct << 9) | (u16::from(sc) << 1) | u16::from(phase);
            let s = NvmeStatus::from_cqe_status(word);
            prop_assert_eq!((s.dnr(), s.more(), u16::from(s.crd()), u16::from(s.sct()), s.sc()),
                            (dnr, more, crd, sct, sc));
            let r = NvmeIoctlResult::from_return(i32::from(s.0));
            if s.0 != 0 {
                prop_assert_eq!(r, NvmeIoctlResult::Status(s));
            }
            let _ = (r.disposition(), r.to_string(), s.linux_pr_status());
        }
    }
}
