//! The outcome of a completed SCSI command: status, sense bytes, residual, host and driver
//! status and duration, and its classification into one typed error ([`CommandError`]) that
//! keeps the sense bytes, so no layer above ever has to throw them away.
//!
//! (Being completed: classification, names and Display.)

use core::time::Duration;

use crate::sense::ScsiStatus;

/// Most sense bytes a completion keeps (SPC's maximum for fixed sense is 252 bytes).
pub const SENSE_MAX: usize = 252;

/// Sense bytes kept inline, without heap allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SenseBuf {
    bytes: [u8; SENSE_MAX],
    len: u8,
}

impl SenseBuf {
    /// No sense data.
    pub const EMPTY: SenseBuf = SenseBuf { bytes: [0; SENSE_MAX], len: 0 };

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

/// A command that completed unsuccessfully (placeholder: being written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("placeholder")]
pub struct CommandError;
