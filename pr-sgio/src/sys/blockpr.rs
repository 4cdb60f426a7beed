//! The block layer's persistent reservation ioctls (`<linux/pr.h>`): the PR OUT ioctls of
//! every kernel since 4.4 and `IOC_PR_READ_KEYS` / `IOC_PR_READ_RESERVATION` (Linux 6.19+).

use core::ffi::c_int;
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

/// `PR_FL_IGNORE_KEY`: REGISTER AND IGNORE EXISTING KEY.
pub const PR_FL_IGNORE_KEY: u32 = 1 << 0;

/// `enum pr_status` `PR_STS_SUCCESS`.
pub const PR_STS_SUCCESS: i32 = 0;
/// `PR_STS_IOERR`.
pub const PR_STS_IOERR: i32 = 0x2;
/// `PR_STS_RESERVATION_CONFLICT`.
pub const PR_STS_RESERVATION_CONFLICT: i32 = 0x18;
/// `PR_STS_RETRY_PATH_FAILURE`.
pub const PR_STS_RETRY_PATH_FAILURE: i32 = 0xe0000;
/// `PR_STS_PATH_FAST_FAILED`.
pub const PR_STS_PATH_FAST_FAILED: i32 = 0xf0000;
/// `PR_STS_PATH_FAILED`.
pub const PR_STS_PATH_FAILED: i32 = 0x10000;

/// `struct pr_registration`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrRegistration {
    /// Current key (RESERVATION KEY).
    pub old_key: u64,
    /// New key (SERVICE ACTION RESERVATION KEY); 0 unregisters.
    pub new_key: u64,
    /// `PR_FL_*`.
    pub flags: u32,
    /// Padding.
    pub pad: u32,
}

/// `struct pr_reservation`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrReservation {
    /// Reservation key.
    pub key: u64,
    /// `enum pr_type` (1..6).
    pub r#type: u32,
    /// `PR_FL_*`.
    pub flags: u32,
}

/// `struct pr_preempt`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrPreempt {
    /// The issuer's key (RESERVATION KEY).
    pub old_key: u64,
    /// The key to preempt (SERVICE ACTION RESERVATION KEY).
    pub new_key: u64,
    /// `enum pr_type` (1..6).
    pub r#type: u32,
    /// `PR_FL_*`.
    pub flags: u32,
}

/// `struct pr_clear`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrClear {
    /// The issuer's key.
    pub key: u64,
    /// `PR_FL_*`.
    pub flags: u32,
    /// Padding.
    pub pad: u32,
}

/// `struct pr_read_keys` (Linux 6.19+).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrReadKeys {
    /// PRGENERATION.
    pub generation: u32,
    /// In: room at `keys_ptr` (keys); out: number of keys registered.
    pub num_keys: u32,
    /// Address of a `u64` array.
    pub keys_ptr: u64,
}

/// `struct pr_read_reservation` (Linux 6.19+).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrReadReservation {
    /// Reservation key (0 for none, and for all-registrants types).
    pub key: u64,
    /// PRGENERATION.
    pub generation: u32,
    /// `enum pr_type`, 0 when there is no reservation.
    pub r#type: u32,
}

const _: () = {
    assert!(size_of::<PrRegistration>() == 24);
    assert!(size_of::<PrReservation>() == 16);
    assert!(size_of::<PrPreempt>() == 24);
    assert!(size_of::<PrClear>() == 16);
    assert!(size_of::<PrReadKeys>() == 16);
    assert!(size_of::<PrReadReservation>() == 16);
};

/// `IOC_PR_REGISTER` request number.
pub const IOC_PR_REGISTER: u64 =
    nix::request_code_write!(b'p', 200, size_of::<PrRegistration>()) as u64;
/// `IOC_PR_RESERVE` request number.
pub const IOC_PR_RESERVE: u64 =
    nix::request_code_write!(b'p', 201, size_of::<PrReservation>()) as u64;
/// `IOC_PR_RELEASE` request number.
pub const IOC_PR_RELEASE: u64 =
    nix::request_code_write!(b'p', 202, size_of::<PrReservation>()) as u64;
/// `IOC_PR_PREEMPT` request number.
pub const IOC_PR_PREEMPT: u64 = nix::request_code_write!(b'p', 203, size_of::<PrPreempt>()) as u64;
/// `IOC_PR_PREEMPT_ABORT` request number.
pub const IOC_PR_PREEMPT_ABORT: u64 =
    nix::request_code_write!(b'p', 204, size_of::<PrPreempt>()) as u64;
/// `IOC_PR_CLEAR` request number.
pub const IOC_PR_CLEAR: u64 = nix::request_code_write!(b'p', 205, size_of::<PrClear>()) as u64;
/// `IOC_PR_READ_KEYS` request number (Linux 6.19+).
pub const IOC_PR_READ_KEYS: u64 =
    nix::request_code_readwrite!(b'p', 206, size_of::<PrReadKeys>()) as u64;
/// `IOC_PR_READ_RESERVATION` request number (Linux 6.19+).
pub const IOC_PR_READ_RESERVATION: u64 =
    nix::request_code_read!(b'p', 207, size_of::<PrReadReservation>()) as u64;

/// One block-layer PR OUT operation with its argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrIoctl {
    /// `IOC_PR_REGISTER`.
    Register(PrRegistration),
    /// `IOC_PR_RESERVE`.
    Reserve(PrReservation),
    /// `IOC_PR_RELEASE`.
    Release(PrReservation),
    /// `IOC_PR_PREEMPT`.
    Preempt(PrPreempt),
    /// `IOC_PR_PREEMPT_ABORT`.
    PreemptAbort(PrPreempt),
    /// `IOC_PR_CLEAR`.
    Clear(PrClear),
}

impl PrIoctl {
    /// The ioctl's name, for error messages.
    pub const fn name(&self) -> &'static str {
        match self {
            PrIoctl::Register(_) => "IOC_PR_REGISTER",
            PrIoctl::Reserve(_) => "IOC_PR_RESERVE",
            PrIoctl::Release(_) => "IOC_PR_RELEASE",
            PrIoctl::Preempt(_) => "IOC_PR_PREEMPT",
            PrIoctl::PreemptAbort(_) => "IOC_PR_PREEMPT_ABORT",
            PrIoctl::Clear(_) => "IOC_PR_CLEAR",
        }
    }
}

/// Issues one block-layer PR OUT ioctl. Returns the ioctl's value: 0, or a positive
/// `enum pr_status` / SCSI result when the device did not complete it with GOOD.
pub fn pr_out(fd: BorrowedFd<'_>, op: &PrIoctl) -> Result<c_int, Errno> {
    let raw = fd.as_raw_fd();
    // SAFETY: each argument is a plain `#[repr(C)]` struct without pointers, borrowed for the
    // call, of the size encoded in the request number; the kernel only reads it.
    unsafe {
        match op {
            PrIoctl::Register(a) => raw_pr_register(raw, a),
            PrIoctl::Reserve(a) => raw_pr_reserve(raw, a),
            PrIoctl::Release(a) => raw_pr_release(raw, a),
            PrIoctl::Preempt(a) => raw_pr_preempt(raw, a),
            PrIoctl::PreemptAbort(a) => raw_pr_preempt_abort(raw, a),
            PrIoctl::Clear(a) => raw_pr_clear(raw, a),
        }
    }
}

/// `IOC_PR_READ_KEYS`: fills `keys` (CPU-order keys) and returns the ioctl's value, the
/// generation and the number of keys registered (which may exceed `keys.len()`).
pub fn pr_read_keys(fd: BorrowedFd<'_>, keys: &mut [u64]) -> Result<(c_int, u32, u32), Errno> {
    let mut a = PrReadKeys {
        generation: 0,
        num_keys: u32::try_from(keys.len()).map_err(|_| Errno::EINVAL)?,
        keys_ptr: keys.as_mut_ptr() as u64,
    };
    // SAFETY: `keys_ptr` points at `keys`, which is mutably borrowed for the call and holds
    // `num_keys` elements; the kernel writes at most that many. `a` is a valid struct of the
    // size in the request number.
    let r = unsafe { raw_pr_read_keys(fd.as_raw_fd(), &mut a) }?;
    Ok((r, a.generation, a.num_keys))
}

/// `IOC_PR_READ_RESERVATION`: the ioctl's value and the reservation.
pub fn pr_read_reservation(fd: BorrowedFd<'_>) -> Result<(c_int, PrReadReservation), Errno> {
    let mut a = PrReadReservation::default();
    // SAFETY: `a` is a writable struct of the size in the request number, without pointers.
    let r = unsafe { raw_pr_read_reservation(fd.as_raw_fd(), &mut a) }?;
    Ok((r, a))
}

/// The raw ioctl functions generated by nix; only the safe wrappers above call them.
mod raw {
    use super::{PrClear, PrPreempt, PrReadKeys, PrReadReservation, PrRegistration, PrReservation};
    nix::ioctl_write_ptr!(
        /// `raw_pr_register`.
        raw_pr_register, b'p', 200, PrRegistration);
    nix::ioctl_write_ptr!(
        /// `raw_pr_reserve`.
        raw_pr_reserve, b'p', 201, PrReservation);
    nix::ioctl_write_ptr!(
        /// `raw_pr_release`.
        raw_pr_release, b'p', 202, PrReservation);
    nix::ioctl_write_ptr!(
        /// `raw_pr_preempt`.
        raw_pr_preempt, b'p', 203, PrPreempt);
    nix::ioctl_write_ptr!(
        /// `raw_pr_preempt_abort`.
        raw_pr_preempt_abort, b'p', 204, PrPreempt);
    nix::ioctl_write_ptr!(
        /// `raw_pr_clear`.
        raw_pr_clear, b'p', 205, PrClear);
    nix::ioctl_readwrite!(
        /// `raw_pr_read_keys`.
        raw_pr_read_keys, b'p', 206, PrReadKeys);
    nix::ioctl_read!(
        /// `raw_pr_read_reservation`.
        raw_pr_read_reservation, b'p', 207, PrReadReservation);
}
use raw::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_numbers() {
        // _IOW('p', 200, 24 bytes) = dir 1 << 30 | size 24 << 16 | 'p' << 8 | 200
        assert_eq!(IOC_PR_REGISTER, 0x4018_70c8);
        assert_eq!(IOC_PR_RESERVE, 0x4010_70c9);
        assert_eq!(IOC_PR_RELEASE, 0x4010_70ca);
        assert_eq!(IOC_PR_PREEMPT, 0x4018_70cb);
        assert_eq!(IOC_PR_PREEMPT_ABORT, 0x4018_70cc);
        assert_eq!(IOC_PR_CLEAR, 0x4010_70cd);
        assert_eq!(IOC_PR_READ_KEYS, 0xc010_70ce);
        assert_eq!(IOC_PR_READ_RESERVATION, 0x8010_70cf);
    }
}
