//! NVMe reservations: the four reservation commands (Register 0Dh, Report 0Eh, Acquire 11h,
//! Release 15h), the Reservation Status data structure that Report returns (64-bit and
//! extended 128-bit host identifiers), the NVMe reservation types and their one-to-one mapping
//! onto SCSI's, and the completion status (with Reservation Conflict) as Linux's
//! `NVME_IOCTL_IO_CMD` returns it.
//!
//! Like the SCSI side, everything here is bytes in, bytes out: no IO, no allocation, no
//! `unsafe`. A caller puts [`ResvCommand::opcode`], [`ResvCommand::cdw10`] and
//! [`ResvCommand::cdw11`] into an NVMe command (for Linux, `struct nvme_passthru_cmd`, with
//! the namespace ID), the bytes of [`ResvCommand::encode_data`] into its data buffer, and
//! reads the answer with [`ReservationReport`] and [`NvmeStatus`].
//!
//! - [`command`]: the commands, validated at build time, encoded and decoded.
//! - [`report`]: zero-copy views of the Reservation Status data structure, truncation, sizing.
//! - [`status`]: the completion status field, its named codes, the ioctl return convention
//!   and a classifier (conflict, retry on another path, retry, fatal).
//!
//! Differences from SCSI worth knowing: registrations belong to a host (its Host Identifier),
//! not to an I_T nexus, so one command on one path of a multipath namespace covers every path;
//! all data is little-endian; reservation types are numbered 1-6 (SCSI uses 1, 3, 5, 6, 7, 8);
//! there is no REGISTER AND MOVE, no REPLACE LOST RESERVATION, no SPEC_I_PT or ALL_TG_PT, and no
//! scope. [`ResvCommand::from_prout`] maps a SCSI PR OUT request where NVMe has an equivalent
//! and names what has none.
//!
//! ```
//! use pr_core::nvme::{ReservationReport, ResvAcquire, ResvCommand, ResvRegister, NvmeReservationType};
//! use pr_core::nvme::status::{Disposition, NvmeIoctlResult};
//! use pr_core::types::ReservationKey;
//!
//! // Register key 0x1234 (persisting through power loss), then reserve Write Exclusive,
//! // Registrants Only.
//! let reg = ResvCommand::Register(ResvRegister::register(ReservationKey(0x1234)).persist());
//! let mut data = [0u8; 16];
//! assert_eq!(reg.encode_data(&mut data).unwrap(), 16);
//! assert_eq!((reg.opcode(), reg.cdw10().unwrap()), (0x0d, 0xc000_0000));
//! assert_eq!(&data[8..], &0x1234u64.to_le_bytes());
//!
//! let acq = ResvCommand::Acquire(ResvAcquire::acquire(
//!     ReservationKey(0x1234),
//!     NvmeReservationType::WriteExclusiveRegistrantsOnly,
//! ));
//! assert_eq!((acq.opcode(), acq.cdw10().unwrap()), (0x11, 0x0300));
//!
//! // Another host's acquire fails: NVME_IOCTL_IO_CMD returned 0x4083 (DNR, Reservation Conflict).
//! let r = NvmeIoctlResult::from_return(0x4083);
//! assert_eq!(r.disposition(), Disposition::ReservationConflict);
//!
//! // A Reservation Report (extended format) with one registrant that holds the reservation.
//! let mut report = [0u8; 128];
//! report[..4].copy_from_slice(&7u32.to_le_bytes()); // GEN
//! report[4] = 3; // RTYPE
//! report[5] = 1; // REGCTL
//! report[64..66].copy_from_slice(&0xffffu16.to_le_bytes()); // CNTLID (dynamic)
//! report[66] = 1; // RCSTS: holds the reservation
//! report[72..80].copy_from_slice(&0x1234u64.to_le_bytes()); // RKEY
//! let rep = ReservationReport::decode(&report, true).unwrap();
//! assert_eq!(rep.generation(), 7);
//! assert_eq!(rep.holder().unwrap().key, ReservationKey(0x1234));
//! assert!(!rep.is_truncated());
//! ```

pub mod command;
pub mod report;
pub mod status;

pub use command::{
    AcquireAction, Cptpl, NvmeBuildError, Opcode, RegisterAction, ReleaseAction, ResvAcquire,
    ResvCommand, ResvRegister, ResvRelease, ResvReport,
};
pub use report::{HostId, RegisteredController, RegisteredControllers, ReservationReport};
pub use status::{Disposition, NvmeIoctlResult, NvmeStatus};

use core::fmt;

use crate::types::ReservationType;

/// An NVMe reservation type (the RTYPE field of Reservation Acquire, Release and Report).
///
/// Each one has exactly one SCSI counterpart ([`NvmeReservationType::to_scsi`],
/// [`NvmeReservationType::from_scsi`]); the codes differ: NVMe numbers them 1-6, SCSI 1, 3, 5,
/// 6, 7, 8. This is the mapping Linux's `drivers/nvme/host/pr.c` applies between the block
/// layer's `enum pr_type` and `enum nvme_pr_type`.
///
/// With the `serde` feature: the snake_case name, the same as the SCSI type's (serialized
/// and deserialized).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[repr(u8)]
pub enum NvmeReservationType {
    /// 1: Write Exclusive (SCSI 1h).
    WriteExclusive = 1,
    /// 2: Exclusive Access (SCSI 3h).
    ExclusiveAccess = 2,
    /// 3: Write Exclusive, Registrants Only (SCSI 5h).
    WriteExclusiveRegistrantsOnly = 3,
    /// 4: Exclusive Access, Registrants Only (SCSI 6h).
    ExclusiveAccessRegistrantsOnly = 4,
    /// 5: Write Exclusive, All Registrants (SCSI 7h).
    WriteExclusiveAllRegistrants = 5,
    /// 6: Exclusive Access, All Registrants (SCSI 8h).
    ExclusiveAccessAllRegistrants = 6,
}

impl NvmeReservationType {
    /// All six types, in code order.
    pub const ALL: [NvmeReservationType; 6] = [
        NvmeReservationType::WriteExclusive,
        NvmeReservationType::ExclusiveAccess,
        NvmeReservationType::WriteExclusiveRegistrantsOnly,
        NvmeReservationType::ExclusiveAccessRegistrantsOnly,
        NvmeReservationType::WriteExclusiveAllRegistrants,
        NvmeReservationType::ExclusiveAccessAllRegistrants,
    ];

    /// The RTYPE code (1-6).
    pub const fn code(self) -> u8 {
        match self {
            NvmeReservationType::WriteExclusive => 1,
            NvmeReservationType::ExclusiveAccess => 2,
            NvmeReservationType::WriteExclusiveRegistrantsOnly => 3,
            NvmeReservationType::ExclusiveAccessRegistrantsOnly => 4,
            NvmeReservationType::WriteExclusiveAllRegistrants => 5,
            NvmeReservationType::ExclusiveAccessAllRegistrants => 6,
        }
    }

    /// The type for an RTYPE code; `None` for 0 (no reservation, in a report) and 7-255
    /// (reserved).
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(NvmeReservationType::WriteExclusive),
            2 => Some(NvmeReservationType::ExclusiveAccess),
            3 => Some(NvmeReservationType::WriteExclusiveRegistrantsOnly),
            4 => Some(NvmeReservationType::ExclusiveAccessRegistrantsOnly),
            5 => Some(NvmeReservationType::WriteExclusiveAllRegistrants),
            6 => Some(NvmeReservationType::ExclusiveAccessAllRegistrants),
            _ => None,
        }
    }

    /// The SCSI type with the same access rules.
    pub const fn to_scsi(self) -> ReservationType {
        match self {
            NvmeReservationType::WriteExclusive => ReservationType::WriteExclusive,
            NvmeReservationType::ExclusiveAccess => ReservationType::ExclusiveAccess,
            NvmeReservationType::WriteExclusiveRegistrantsOnly => {
                ReservationType::WriteExclusiveRegistrantsOnly
            }
            NvmeReservationType::ExclusiveAccessRegistrantsOnly => {
                ReservationType::ExclusiveAccessRegistrantsOnly
            }
            NvmeReservationType::WriteExclusiveAllRegistrants => {
                ReservationType::WriteExclusiveAllRegistrants
            }
            NvmeReservationType::ExclusiveAccessAllRegistrants => {
                ReservationType::ExclusiveAccessAllRegistrants
            }
        }
    }

    /// The NVMe type with the same access rules as a SCSI type (total: SCSI defines the same
    /// six; its obsolete codes are not representable as a [`ReservationType`]).
    pub const fn from_scsi(t: ReservationType) -> Self {
        match t {
            ReservationType::WriteExclusive => NvmeReservationType::WriteExclusive,
            ReservationType::ExclusiveAccess => NvmeReservationType::ExclusiveAccess,
            ReservationType::WriteExclusiveRegistrantsOnly => {
                NvmeReservationType::WriteExclusiveRegistrantsOnly
            }
            ReservationType::ExclusiveAccessRegistrantsOnly => {
                NvmeReservationType::ExclusiveAccessRegistrantsOnly
            }
            ReservationType::WriteExclusiveAllRegistrants => {
                NvmeReservationType::WriteExclusiveAllRegistrants
            }
            ReservationType::ExclusiveAccessAllRegistrants => {
                NvmeReservationType::ExclusiveAccessAllRegistrants
            }
        }
    }

    /// Whether every registrant is a holder (5, 6).
    pub const fn is_all_registrants(self) -> bool {
        self.to_scsi().is_all_registrants()
    }

    /// The name, as the SCSI type's ([`ReservationType::name`]).
    pub const fn name(self) -> &'static str {
        self.to_scsi().name()
    }
}

impl From<NvmeReservationType> for ReservationType {
    fn from(t: NvmeReservationType) -> Self {
        t.to_scsi()
    }
}

impl From<ReservationType> for NvmeReservationType {
    fn from(t: ReservationType) -> Self {
        NvmeReservationType::from_scsi(t)
    }
}

impl TryFrom<u8> for NvmeReservationType {
    type Error = NvmeBuildError;

    /// Reads an RTYPE code; 0 and 7-255 are [`NvmeBuildError::InvalidType`].
    fn try_from(code: u8) -> Result<Self, NvmeBuildError> {
        NvmeReservationType::from_code(code).ok_or(NvmeBuildError::InvalidType { code })
    }
}

impl fmt::Display for NvmeReservationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_codes_and_scsi_mapping() {
        // NVMe 1 WE, 2 EA, 3 WE-RO, 4 EA-RO, 5 WE-AR, 6 EA-AR; SCSI 1, 3, 5, 6, 7, 8.
        let want = [(1, 1), (2, 3), (3, 5), (4, 6), (5, 7), (6, 8)];
        for (t, (n, s)) in NvmeReservationType::ALL.iter().zip(want) {
            assert_eq!(t.code(), n);
            assert_eq!(t.to_scsi().code(), s);
            assert_eq!(NvmeReservationType::from_scsi(t.to_scsi()), *t);
            assert_eq!(NvmeReservationType::from_code(n), Some(*t));
            assert_eq!(NvmeReservationType::try_from(n), Ok(*t));
        }
        for bad in [0u8, 7, 8, 0xff] {
            assert_eq!(NvmeReservationType::from_code(bad), None);
            assert_eq!(
                NvmeReservationType::try_from(bad),
                Err(NvmeBuildError::InvalidType { code: bad })
            );
        }
        assert!(NvmeReservationType::ExclusiveAccessAllRegistrants.is_all_registrants());
        assert!(!NvmeReservationType::ExclusiveAccessRegistrantsOnly.is_all_registrants());
        assert_eq!(
            NvmeReservationType::WriteExclusiveRegistrantsOnly.to_string(),
            "Write Exclusive, registrants only"
        );
    }
}
