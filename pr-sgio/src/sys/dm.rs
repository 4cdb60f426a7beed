//! The device-mapper ioctls of `<linux/dm-ioctl.h>` (interface version 4) on the control
//! node `/dev/mapper/control`: the structures and one safe entry point, [`dm_ioctl`].
//! Encoding and decoding the buffers is `crate::dm`'s.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

/// Length of `dm_ioctl.name`.
pub const DM_NAME_LEN: usize = 128;
/// Length of `dm_ioctl.uuid`.
pub const DM_UUID_LEN: usize = 129;
/// Length of `dm_target_spec.target_type`.
pub const DM_MAX_TYPE_NAME: usize = 16;

/// In/out: the device is read-only.
pub const DM_READONLY_FLAG: u32 = 1 << 0;
/// In/out: suspend (DM_DEV_SUSPEND) / the device is suspended.
pub const DM_SUSPEND_FLAG: u32 = 1 << 1;
/// In: DM_TABLE_STATUS returns the table line instead of the status line.
pub const DM_STATUS_TABLE_FLAG: u32 = 1 << 4;
/// Out: the device has a live table.
pub const DM_ACTIVE_PRESENT_FLAG: u32 = 1 << 5;
/// Out: the device has an inactive table loaded.
pub const DM_INACTIVE_PRESENT_FLAG: u32 = 1 << 6;
/// Out: the data buffer was too small; retry with a bigger one.
pub const DM_BUFFER_FULL_FLAG: u32 = 1 << 8;
/// In: suspend without flushing queued IO (multipath: keep queued IO queued).
pub const DM_NOFLUSH_FLAG: u32 = 1 << 11;
/// In: DM_LIST_DEVICES also returns each device's uuid.
pub const DM_UUID_FLAG: u32 = 1 << 14;
/// `dm_name_list` trailer flag: a uuid follows.
pub const DM_NAME_LIST_FLAG_HAS_UUID: u32 = 1;

/// `struct dm_ioctl`: the header of every device-mapper ioctl buffer.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DmIoctl {
    /// Interface version (in: what we speak, out: what the kernel speaks).
    pub version: [u32; 3],
    /// Size of the whole buffer, this header included.
    pub data_size: u32,
    /// Offset of the payload from the start of this header.
    pub data_start: u32,
    /// Number of targets.
    pub target_count: u32,
    /// Open count of the device.
    pub open_count: i32,
    /// `DM_*_FLAG` bits.
    pub flags: u32,
    /// Event number.
    pub event_nr: u32,
    /// Padding.
    pub padding: u32,
    /// Device number (`huge_encode_dev`).
    pub dev: u64,
    /// Device name, NUL-terminated.
    pub name: [u8; DM_NAME_LEN],
    /// Device uuid, NUL-terminated.
    pub uuid: [u8; DM_UUID_LEN],
    /// Padding.
    pub data: [u8; 7],
}

/// `struct dm_target_spec`, one per target in DM_TABLE_STATUS output, each followed by its
/// NUL-terminated status or table string.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DmTargetSpec {
    /// First sector.
    pub sector_start: u64,
    /// Length in sectors.
    pub length: u64,
    /// Status (unused on output).
    pub status: i32,
    /// Offset of the next spec from the start of the payload.
    pub next: u32,
    /// Target type name, NUL-terminated.
    pub target_type: [u8; DM_MAX_TYPE_NAME],
}

/// `struct dm_name_list`, one per device in DM_LIST_DEVICES output.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DmNameList {
    /// Device number (`huge_encode_dev`).
    pub dev: u64,
    /// Offset of the next record from the start of this one (0: last).
    pub next: u32,
    /// Start of the NUL-terminated name.
    pub name: [u8; 0],
}

const _: () = {
    assert!(size_of::<DmIoctl>() == 312);
    assert!(core::mem::offset_of!(DmIoctl, data_size) == 12);
    assert!(core::mem::offset_of!(DmIoctl, flags) == 28);
    assert!(core::mem::offset_of!(DmIoctl, dev) == 40);
    assert!(core::mem::offset_of!(DmIoctl, name) == 48);
    assert!(core::mem::offset_of!(DmIoctl, uuid) == 176);
    assert!(size_of::<DmTargetSpec>() == 40);
    assert!(core::mem::offset_of!(DmTargetSpec, next) == 20);
    assert!(core::mem::offset_of!(DmTargetSpec, target_type) == 24);
    assert!(core::mem::offset_of!(DmNameList, name) == 12);
};

/// The device-mapper commands this crate issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmCmd {
    /// `DM_VERSION`.
    Version,
    /// `DM_LIST_DEVICES`.
    ListDevices,
    /// `DM_DEV_SUSPEND` (suspend with `DM_SUSPEND_FLAG`, else resume).
    DevSuspend,
    /// `DM_DEV_STATUS`.
    DevStatus,
    /// `DM_TABLE_STATUS` (table line with `DM_STATUS_TABLE_FLAG`, else status line).
    TableStatus,
}

impl DmCmd {
    /// The command's name.
    pub const fn name(self) -> &'static str {
        match self {
            DmCmd::Version => "DM_VERSION",
            DmCmd::ListDevices => "DM_LIST_DEVICES",
            DmCmd::DevSuspend => "DM_DEV_SUSPEND",
            DmCmd::DevStatus => "DM_DEV_STATUS",
            DmCmd::TableStatus => "DM_TABLE_STATUS",
        }
    }

    /// The command number (`DM_*_CMD`).
    pub const fn nr(self) -> u8 {
        match self {
            DmCmd::Version => 0,
            DmCmd::ListDevices => 2,
            DmCmd::DevSuspend => 6,
            DmCmd::DevStatus => 7,
            DmCmd::TableStatus => 12,
        }
    }

    /// The ioctl request number: `_IOWR(0xfd, nr, struct dm_ioctl)`.
    pub const fn request(self) -> u64 {
        nix::request_code_readwrite!(0xfd, self.nr(), size_of::<DmIoctl>()) as u64
    }
}

/// Issues one device-mapper ioctl on the control node. `buf` starts with an encoded
/// `struct dm_ioctl` whose `data_size` must not exceed `buf.len()`; the kernel reads and
/// writes at most `data_size` bytes of it.
pub fn dm_ioctl(fd: BorrowedFd<'_>, cmd: DmCmd, buf: &mut [u8]) -> Result<(), Errno> {
    let data_size = buf
        .get(12..16)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_ne_bytes)
        .ok_or(Errno::EINVAL)?;
    let size = usize::try_from(data_size).map_err(|_| Errno::EINVAL)?;
    if size < size_of::<DmIoctl>() || size > buf.len() {
        return Err(Errno::EINVAL);
    }
    let raw = fd.as_raw_fd();
    let p = buf.as_mut_ptr().cast::<DmIoctl>();
    // SAFETY: `p` points at `buf`, mutably borrowed for the call, which holds at least
    // `data_size` bytes (checked above) and at least a whole `struct dm_ioctl`; the kernel
    // copies the header and payload in and out with copy_from_user/copy_to_user, within
    // `data_size`, so the pointer's alignment does not matter and no Rust reference to a
    // `DmIoctl` is formed.
    unsafe {
        match cmd {
            DmCmd::Version => raw_dm_version(raw, p),
            DmCmd::ListDevices => raw_dm_list_devices(raw, p),
            DmCmd::DevSuspend => raw_dm_dev_suspend(raw, p),
            DmCmd::DevStatus => raw_dm_dev_status(raw, p),
            DmCmd::TableStatus => raw_dm_table_status(raw, p),
        }
    }?;
    Ok(())
}

/// The raw ioctl functions generated by nix; only [`dm_ioctl`] calls them.
mod raw {
    use super::DmIoctl;
    nix::ioctl_readwrite!(
        /// `raw_dm_version`.
        raw_dm_version, 0xfd, 0, DmIoctl);
    nix::ioctl_readwrite!(
        /// `raw_dm_list_devices`.
        raw_dm_list_devices, 0xfd, 2, DmIoctl);
    nix::ioctl_readwrite!(
        /// `raw_dm_dev_suspend`.
        raw_dm_dev_suspend, 0xfd, 6, DmIoctl);
    nix::ioctl_readwrite!(
        /// `raw_dm_dev_status`.
        raw_dm_dev_status, 0xfd, 7, DmIoctl);
    nix::ioctl_readwrite!(
        /// `raw_dm_table_status`.
        raw_dm_table_status, 0xfd, 12, DmIoctl);
}
use raw::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_numbers() {
        // _IOWR(0xfd, n, 312 bytes)
        assert_eq!(DmCmd::Version.request(), 0xc138_fd00);
        assert_eq!(DmCmd::ListDevices.request(), 0xc138_fd02);
        assert_eq!(DmCmd::DevSuspend.request(), 0xc138_fd06);
        assert_eq!(DmCmd::DevStatus.request(), 0xc138_fd07);
        assert_eq!(DmCmd::TableStatus.request(), 0xc138_fd0c);
    }

    #[test]
    fn dm_ioctl_rejects_bad_data_size() {
        let devnull = std::fs::File::open("/dev/null").unwrap();
        use std::os::fd::AsFd;
        let mut buf = vec![0u8; 100];
        assert_eq!(
            dm_ioctl(devnull.as_fd(), DmCmd::Version, &mut buf),
            Err(Errno::EINVAL)
        );
        let mut buf = vec![0u8; 400];
        buf[12..16].copy_from_slice(&500u32.to_ne_bytes());
        assert_eq!(
            dm_ioctl(devnull.as_fd(), DmCmd::Version, &mut buf),
            Err(Errno::EINVAL)
        );
    }
}
