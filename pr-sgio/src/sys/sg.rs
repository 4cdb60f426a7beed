//! `struct sg_io_hdr` and the `SG_IO` ioctl (`<scsi/sg.h>`, the sg v3 interface), and the
//! sg v3 asynchronous queue: `write()` to submit and `read()` to reap on `/dev/sgN`.

use core::ffi::{c_int, c_uchar, c_uint, c_ushort, c_void};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Mutex;

use nix::errno::Errno;

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

/// The raw ioctl function generated by nix; only [`sg_io`] calls it.
mod raw {
    use super::{SG_IO, SgIoHdr};
    nix::ioctl_readwrite_bad!(
        /// `raw_sg_io`.
        raw_sg_io, SG_IO, SgIoHdr);
}
use raw::raw_sg_io;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_number() {
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
