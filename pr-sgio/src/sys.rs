//! Raw Linux interfaces: `struct sg_io_hdr` and the `SG_IO` ioctl, the sg v3 `write()`/`read()`
//! queue, the block-layer persistent reservation ioctls of `<linux/pr.h>`, and the
//! device-mapper ioctls of `<linux/dm-ioctl.h>`.
//!
//! This is the only module of the crate with `unsafe` code. Every item that crosses into the
//! kernel is wrapped here in a safe function whose arguments own or borrow all the memory the
//! kernel reads or writes, so that the rest of the crate never handles a raw pointer.
//!
//! The layouts were written from the kernel's UAPI headers (`include/scsi/sg.h`,
//! `include/uapi/linux/pr.h`, `include/uapi/linux/dm-ioctl.h`) and are checked by `const`
//! assertions on x86_64 and by unit tests on every target.

use core::ffi::{c_int, c_uchar, c_uint, c_ushort, c_void};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Mutex;

use nix::errno::Errno;

// ------------------------------------------------------------------------------------------
// SG_IO (sg v3 interface)
// ------------------------------------------------------------------------------------------

/// `interface_id` of a v3 header: the letter `'S'`.
pub const SG_INTERFACE_ID: c_int = b'S' as c_int;
/// `dxfer_direction`: no data phase.
pub const SG_DXFER_NONE: c_int = -1;
/// `dxfer_direction`: data goes to the device.
pub const SG_DXFER_TO_DEV: c_int = -2;
/// `dxfer_direction`: data comes from the device.
pub const SG_DXFER_FROM_DEV: c_int = -3;
/// The `SG_IO` ioctl request number (a legacy number without size or direction bits).
pub const SG_IO: u32 = 0x2285;

/// Host byte (`host_status`): no error.
pub const DID_OK: u16 = 0x00;
/// Host byte: could not connect before the timeout.
pub const DID_NO_CONNECT: u16 = 0x01;
/// Host byte: the command timed out.
pub const DID_TIME_OUT: u16 = 0x03;
/// Host byte: the transport was disrupted (retryable).
pub const DID_TRANSPORT_DISRUPTED: u16 = 0x0e;
/// Host byte: the transport failed fast (path down).
pub const DID_TRANSPORT_FAILFAST: u16 = 0x0f;
/// Driver byte (`driver_status`, low nibble): the command timed out.
pub const DRIVER_TIMEOUT: u16 = 0x06;
/// Driver byte flag: sense data is valid.
pub const DRIVER_SENSE: u16 = 0x08;

/// `struct sg_io_hdr` from `<scsi/sg.h>`: the request and reply of the v3 interface, used by
/// the `SG_IO` ioctl and by `write()`/`read()` on `/dev/sgN`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SgIoHdr {
    /// Always [`SG_INTERFACE_ID`].
    pub interface_id: c_int,
    /// One of the `SG_DXFER_*` values.
    pub dxfer_direction: c_int,
    /// Length of the CDB at `cmdp`.
    pub cmd_len: c_uchar,
    /// Size of the sense buffer at `sbp`.
    pub mx_sb_len: c_uchar,
    /// 0: `dxferp` points at one buffer, not an iovec array.
    pub iovec_count: c_ushort,
    /// Length of the data buffer.
    pub dxfer_len: c_uint,
    /// Data buffer.
    pub dxferp: *mut c_void,
    /// CDB.
    pub cmdp: *const c_uchar,
    /// Sense buffer.
    pub sbp: *mut c_uchar,
    /// Command timeout in milliseconds.
    pub timeout: c_uint,
    /// `SG_FLAG_*` bits (0: indirect IO).
    pub flags: c_uint,
    /// Caller's tag, echoed by `read()` on an sg node.
    pub pack_id: c_int,
    /// The padding the C compiler puts before `usr_ptr` on 64-bit targets, made a field so
    /// that it is always initialised (the kernel copies the whole header; memory checkers
    /// such as valgrind flag uninitialised padding passed to the ioctl).
    #[cfg(target_pointer_width = "64")]
    pub pad0: [u8; 4],
    /// Caller's pointer, echoed back, never dereferenced by the kernel.
    pub usr_ptr: *mut c_void,
    /// SAM status byte.
    pub status: c_uchar,
    /// Status shifted right by one (obsolete).
    pub masked_status: c_uchar,
    /// Messaging level data (obsolete).
    pub msg_status: c_uchar,
    /// Bytes of sense data written to `sbp`.
    pub sb_len_wr: c_uchar,
    /// Host byte (`DID_*`).
    pub host_status: c_ushort,
    /// Driver byte (`DRIVER_*`).
    pub driver_status: c_ushort,
    /// `dxfer_len` minus bytes actually transferred.
    pub resid: c_int,
    /// Milliseconds the command took.
    pub duration: c_uint,
    /// `SG_INFO_*` bits.
    pub info: c_uint,
    /// The tail padding on 64-bit targets (see `pad0`).
    #[cfg(target_pointer_width = "64")]
    pub pad1: [u8; 4],
}

#[cfg(target_arch = "x86_64")]
const _: () = {
    assert!(size_of::<SgIoHdr>() == 88);
    assert!(core::mem::offset_of!(SgIoHdr, dxfer_len) == 12);
    assert!(core::mem::offset_of!(SgIoHdr, dxferp) == 16);
    assert!(core::mem::offset_of!(SgIoHdr, cmdp) == 24);
    assert!(core::mem::offset_of!(SgIoHdr, sbp) == 32);
    assert!(core::mem::offset_of!(SgIoHdr, timeout) == 40);
    assert!(core::mem::offset_of!(SgIoHdr, pack_id) == 48);
    assert!(core::mem::offset_of!(SgIoHdr, usr_ptr) == 56);
    assert!(core::mem::offset_of!(SgIoHdr, status) == 64);
    assert!(core::mem::offset_of!(SgIoHdr, host_status) == 68);
    assert!(core::mem::offset_of!(SgIoHdr, driver_status) == 70);
    assert!(core::mem::offset_of!(SgIoHdr, resid) == 72);
    assert!(core::mem::offset_of!(SgIoHdr, duration) == 76);
    assert!(core::mem::offset_of!(SgIoHdr, info) == 80);
};

impl SgIoHdr {
    /// A zeroed header with `interface_id` set and no buffers.
    pub const fn empty() -> Self {
        SgIoHdr {
            interface_id: SG_INTERFACE_ID,
            dxfer_direction: SG_DXFER_NONE,
            cmd_len: 0,
            mx_sb_len: 0,
            iovec_count: 0,
            dxfer_len: 0,
            dxferp: core::ptr::null_mut(),
            cmdp: core::ptr::null(),
            sbp: core::ptr::null_mut(),
            timeout: 0,
            flags: 0,
            pack_id: 0,
            #[cfg(target_pointer_width = "64")]
            pad0: [0; 4],
            usr_ptr: core::ptr::null_mut(),
            status: 0,
            masked_status: 0,
            msg_status: 0,
            sb_len_wr: 0,
            host_status: 0,
            driver_status: 0,
            resid: 0,
            duration: 0,
            info: 0,
            #[cfg(target_pointer_width = "64")]
            pad1: [0; 4],
        }
    }
}

/// Direction of an SG_IO data phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SgDirection {
    /// No data.
    None,
    /// Data to the device.
    ToDevice,
    /// Data from the device.
    FromDevice,
}

impl SgDirection {
    const fn raw(self) -> c_int {
        match self {
            SgDirection::None => SG_DXFER_NONE,
            SgDirection::ToDevice => SG_DXFER_TO_DEV,
            SgDirection::FromDevice => SG_DXFER_FROM_DEV,
        }
    }
}

/// The reply fields of a completed `sg_io_hdr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SgReply {
    /// SAM status byte.
    pub status: u8,
    /// Host byte (`DID_*`).
    pub host_status: u16,
    /// Driver byte (`DRIVER_*`).
    pub driver_status: u16,
    /// Bytes not transferred (clamped at 0).
    pub resid: u32,
    /// Bytes of sense data written.
    pub sense_len: u8,
    /// Kernel-measured duration in milliseconds.
    pub duration_ms: u32,
    /// `SG_INFO_*` bits.
    pub info: u32,
    /// The `pack_id` echoed by the kernel.
    pub pack_id: i32,
}

impl SgReply {
    fn from_hdr(h: &SgIoHdr) -> Self {
        SgReply {
            status: h.status,
            host_status: h.host_status,
            driver_status: h.driver_status,
            resid: u32::try_from(h.resid).unwrap_or(0),
            sense_len: h.sb_len_wr,
            duration_ms: h.duration,
            info: h.info,
            pack_id: h.pack_id,
        }
    }
}

/// Builds a header that points into `cdb`, `data` and `sense`. The pointers stay valid only
/// as long as those borrows; the callers below make sure the kernel is done before then.
fn build_hdr(
    cdb: &[u8],
    dir: SgDirection,
    data: &mut [u8],
    sense: &mut [u8],
    timeout_ms: u32,
    pack_id: i32,
) -> Result<SgIoHdr, Errno> {
    let cmd_len = u8::try_from(cdb.len()).map_err(|_| Errno::EINVAL)?;
    let mx_sb_len = u8::try_from(sense.len()).map_err(|_| Errno::EINVAL)?;
    let dxfer_len = u32::try_from(data.len()).map_err(|_| Errno::EINVAL)?;
    if cmd_len == 0 || (dir == SgDirection::None && dxfer_len != 0) {
        return Err(Errno::EINVAL);
    }
    let mut h = SgIoHdr::empty();
    h.dxfer_direction = if dxfer_len == 0 {
        SG_DXFER_NONE
    } else {
        dir.raw()
    };
    h.cmd_len = cmd_len;
    h.mx_sb_len = mx_sb_len;
    h.dxfer_len = dxfer_len;
    h.dxferp = if dxfer_len == 0 {
        core::ptr::null_mut()
    } else {
        data.as_mut_ptr().cast()
    };
    h.cmdp = cdb.as_ptr();
    h.sbp = sense.as_mut_ptr();
    h.timeout = timeout_ms;
    h.pack_id = pack_id;
    Ok(h)
}

/// Runs one command with the `SG_IO` ioctl and blocks until it completes. `data` is sent
/// ([`SgDirection::ToDevice`]) or filled ([`SgDirection::FromDevice`]); `sense` receives up to
/// its length of sense bytes.
pub fn sg_io(
    fd: BorrowedFd<'_>,
    cdb: &[u8],
    dir: SgDirection,
    data: &mut [u8],
    sense: &mut [u8],
    timeout_ms: u32,
) -> Result<SgReply, Errno> {
    let mut h = build_hdr(cdb, dir, data, sense, timeout_ms, 0)?;
    // SAFETY: `h` points only into `cdb`, `data` and `sense`, which are borrowed for the whole
    // call; SG_IO is synchronous, so the kernel is done with them when it returns. The lengths
    // in `h` are the lengths of those slices.
    unsafe { raw_sg_io(fd.as_raw_fd(), &mut h) }?;
    Ok(SgReply::from_hdr(&h))
}

/// Buffers of one command on the sg v3 asynchronous interface.
#[derive(Debug, Default)]
pub struct SgBuffers {
    /// Data out, or room for data in.
    pub data: Vec<u8>,
    /// Room for sense data (at most 255 bytes are used).
    pub sense: Vec<u8>,
}

/// A queue of commands on one `/dev/sgN` file descriptor, driven with `write()` to submit and
/// non-blocking `read()` to reap (the sg v3 asynchronous interface).
///
/// The queue owns the buffers of every command it has submitted until the kernel hands the
/// command back through [`SgV3Queue::reap`]. It never uses direct IO, so the kernel touches
/// user memory only inside those two calls; and the file descriptor is declared first, so
/// that when the queue is dropped it is closed before any buffer is freed.
#[derive(Debug)]
pub struct SgV3Queue {
    fd: OwnedFd,
    inflight: Mutex<HashMap<i32, SgBuffers>>,
}

impl SgV3Queue {
    /// A queue on `fd`, which must be an sg node opened read-write and `O_NONBLOCK`.
    pub fn new(fd: OwnedFd) -> Self {
        SgV3Queue {
            fd,
            inflight: Mutex::new(HashMap::new()),
        }
    }

    /// Number of commands submitted and not yet reaped.
    pub fn in_flight(&self) -> usize {
        self.inflight.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Submits one command tagged `pack_id`. On failure the buffers come back with the error.
    pub fn submit(
        &self,
        pack_id: i32,
        cdb: &[u8],
        dir: SgDirection,
        bufs: SgBuffers,
        timeout_ms: u32,
    ) -> Result<(), (Errno, SgBuffers)> {
        let Ok(mut map) = self.inflight.lock() else {
            return Err((Errno::EIO, bufs));
        };
        if map.contains_key(&pack_id) {
            return Err((Errno::EEXIST, bufs));
        }
        let entry = map.entry(pack_id).or_insert(bufs);
        let h = match build_hdr(
            cdb,
            dir,
            &mut entry.data,
            &mut entry.sense,
            timeout_ms,
            pack_id,
        ) {
            Ok(h) => h,
            Err(e) => return Err((e, map.remove(&pack_id).unwrap_or_default())),
        };
        // SAFETY: `h` is a valid, initialised header of exactly `size_of::<SgIoHdr>()` bytes.
        // Its data and sense pointers point into the heap buffers of the map entry for
        // `pack_id`, which stays in the map (whose moves do not move the heap buffers) until
        // `reap` returns this command or the queue is dropped after closing the fd. The CDB is
        // copied by the kernel during this call.
        let n = unsafe {
            libc::write(
                self.fd.as_raw_fd(),
                (&raw const h).cast(),
                size_of::<SgIoHdr>(),
            )
        };
        if n < 0 {
            let e = Errno::last();
            return Err((e, map.remove(&pack_id).unwrap_or_default()));
        }
        Ok(())
    }

    /// Reaps one completed command, if any is ready: its `pack_id`, reply and buffers (data
    /// truncated to what was transferred for data-in). `Ok(None)` when none is ready.
    pub fn reap(&self) -> Result<Option<(SgReply, SgBuffers)>, Errno> {
        loop {
            let mut h = SgIoHdr::empty();
            // SAFETY: `h` is a writable header of exactly the size passed; the kernel copies
            // the completed header into it and the data and sense into the buffers recorded at
            // submission, which the map keeps alive (see `submit`).
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    (&raw mut h).cast(),
                    size_of::<SgIoHdr>(),
                )
            };
            if n < 0 {
                let e = Errno::last();
                return if e == Errno::EAGAIN { Ok(None) } else { Err(e) };
            }
            let reply = SgReply::from_hdr(&h);
            let Ok(mut map) = self.inflight.lock() else {
                return Err(Errno::EIO);
            };
            if let Some(bufs) = map.remove(&reply.pack_id) {
                return Ok(Some((reply, bufs)));
            }
            // A completion we did not submit (another user of a shared fd): ignore it.
        }
    }
}

impl AsRawFd for SgV3Queue {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Registers a queue with the current tokio reactor for readability. Must be called inside a
/// tokio runtime with IO enabled.
pub fn register_sg_queue(queue: SgV3Queue) -> std::io::Result<tokio::io::unix::AsyncFd<SgV3Queue>> {
    // SAFETY: the queue owns its `OwnedFd`, which stays open until the queue is dropped (and
    // the `AsyncFd` drops the queue only after deregistering); the field is private and never
    // replaced, so `as_raw_fd` always returns the same open descriptor.
    let r = unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(queue, tokio::io::Interest::READABLE)
    };
    r.map_err(std::io::Error::from)
}

/// The raw ioctl functions generated by nix; only the safe wrappers below call them.
mod raw {
    use super::{
        DmIoctl, PrClear, PrPreempt, PrReadKeys, PrReadReservation, PrRegistration, PrReservation,
        SG_IO, SgIoHdr,
    };
    nix::ioctl_readwrite_bad!(
        /// `raw_sg_io`.
        raw_sg_io, SG_IO, SgIoHdr);
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

// ------------------------------------------------------------------------------------------
// Block-layer persistent reservation ioctls (<linux/pr.h>)
// ------------------------------------------------------------------------------------------

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

// ------------------------------------------------------------------------------------------
// Device-mapper (<linux/dm-ioctl.h>, interface version 4)
// ------------------------------------------------------------------------------------------

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
        // _IOWR(0xfd, n, 312 bytes)
        assert_eq!(DmCmd::Version.request(), 0xc138_fd00);
        assert_eq!(DmCmd::ListDevices.request(), 0xc138_fd02);
        assert_eq!(DmCmd::DevSuspend.request(), 0xc138_fd06);
        assert_eq!(DmCmd::DevStatus.request(), 0xc138_fd07);
        assert_eq!(DmCmd::TableStatus.request(), 0xc138_fd0c);
        assert_eq!(SG_IO, 0x2285);
    }

    #[test]
    fn header_build_checks_lengths() {
        let cdb = [0x5eu8, 0, 0, 0, 0, 0, 0, 0x20, 0, 0];
        let mut data = vec![0u8; 0x2000];
        let mut sense = [0u8; 64];
        let h = build_hdr(
            &cdb,
            SgDirection::FromDevice,
            &mut data,
            &mut sense,
            5000,
            7,
        )
        .unwrap();
        assert_eq!(h.interface_id, b'S' as c_int);
        assert_eq!(h.dxfer_direction, -3);
        assert_eq!(h.cmd_len, 10);
        assert_eq!(h.mx_sb_len, 64);
        assert_eq!(h.dxfer_len, 0x2000);
        assert_eq!(h.timeout, 5000);
        assert_eq!(h.pack_id, 7);
        // An empty buffer means no data phase, whatever the direction.
        let h = build_hdr(&cdb, SgDirection::ToDevice, &mut [], &mut sense, 1, 0).unwrap();
        assert_eq!(h.dxfer_direction, -1);
        assert!(h.dxferp.is_null());
        assert_eq!(
            build_hdr(&[], SgDirection::None, &mut [], &mut sense, 1, 0).unwrap_err(),
            Errno::EINVAL
        );
        let mut big_sense = [0u8; 256];
        assert!(build_hdr(&cdb, SgDirection::None, &mut [], &mut big_sense, 1, 0).is_err());
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

    #[test]
    fn sg_io_on_dev_null_fails_cleanly() {
        use std::os::fd::AsFd;
        let f = std::fs::File::open("/dev/null").unwrap();
        let mut data = [0u8; 36];
        let mut sense = [0u8; 32];
        let e = sg_io(
            f.as_fd(),
            &[0x12, 0, 0, 0, 36, 0],
            SgDirection::FromDevice,
            &mut data,
            &mut sense,
            1000,
        )
        .unwrap_err();
        assert!(e == Errno::ENOTTY || e == Errno::EINVAL, "{e}");
    }
}
