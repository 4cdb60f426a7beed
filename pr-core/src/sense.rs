//! Sense data (placeholder: being written).

/// A SAM status byte.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct ScsiStatus(pub u8);

impl ScsiStatus {
    /// 00h GOOD.
    pub const GOOD: ScsiStatus = ScsiStatus(0x00);
    /// 02h CHECK CONDITION.
    pub const CHECK_CONDITION: ScsiStatus = ScsiStatus(0x02);
    /// 18h RESERVATION CONFLICT.
    pub const RESERVATION_CONFLICT: ScsiStatus = ScsiStatus(0x18);
}
