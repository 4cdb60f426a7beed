//! The operating-system calls of pr-helper, and its only `unsafe` code: file descriptors
//! received by `SCM_RIGHTS` and from systemd become `OwnedFd`s, and capabilities are set
//! with `capset(2)`. Everything else goes through `nix`.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::cmsg_space;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, sendmsg,
};

/// Most file descriptors one read accepts; more in one message is refused all the same,
/// but they are received (and closed) rather than left to the kernel to discard.
const MAX_FDS_PER_READ: usize = 4;

/// What one `recvmsg` brought.
#[derive(Debug)]
pub(crate) struct Received {
    /// Bytes read into the buffer (0: the peer closed).
    pub(crate) len: usize,
    /// File descriptors that came with them (close-on-exec).
    pub(crate) fds: Vec<OwnedFd>,
    /// The kernel had to drop descriptors (more than [`MAX_FDS_PER_READ`]).
    pub(crate) truncated: bool,
}

fn errno(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// One `recvmsg` on a stream socket, taking any `SCM_RIGHTS` descriptors; `blocking`:
/// wait for data (else `MSG_DONTWAIT`).
pub(crate) fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    blocking: bool,
) -> io::Result<Received> {
    let mut cmsg = cmsg_space!([RawFd; MAX_FDS_PER_READ]);
    let mut iov = [IoSliceMut::new(buf)];
    let mut flags = MsgFlags::MSG_CMSG_CLOEXEC;
    if !blocking {
        flags |= MsgFlags::MSG_DONTWAIT;
    }
    let msg = recvmsg::<SockaddrStorage>(sock.as_raw_fd(), &mut iov, Some(&mut cmsg), flags)
        .map_err(errno)?;
    let mut fds = Vec::new();
    // Take ownership of every descriptor first, so that none leaks whatever follows.
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmRights(raw) = c {
                for fd in raw {
                    // SAFETY: the kernel has just installed `fd` in this process for this
                    // message; nothing else knows it, so this `OwnedFd` is its only owner.
                    fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
        }
    }
    Ok(Received {
        len: msg.bytes,
        fds,
        truncated: msg.flags.contains(MsgFlags::MSG_CTRUNC),
    })
}

/// One `sendmsg` of `bytes` with `fds` attached (none: a plain send). Returns the bytes
/// sent; the descriptors go with the first byte.
pub(crate) fn send_with_fds(
    sock: BorrowedFd<'_>,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
    nonblocking: bool,
) -> io::Result<usize> {
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let cmsgs = [ControlMessage::ScmRights(&raw)];
    let cmsgs: &[ControlMessage<'_>] = if raw.is_empty() { &[] } else { &cmsgs };
    let mut flags = MsgFlags::MSG_NOSIGNAL;
    if nonblocking {
        flags |= MsgFlags::MSG_DONTWAIT;
    }
    sendmsg::<()>(sock.as_raw_fd(), &[IoSlice::new(bytes)], cmsgs, flags, None).map_err(errno)
}

/// Whether `fd` was opened read-only (`O_RDONLY`).
pub(crate) fn is_read_only(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let flags = fcntl(fd, FcntlArg::F_GETFL).map_err(errno)?;
    Ok(OFlag::from_bits_truncate(flags) & OFlag::O_ACCMODE == OFlag::O_RDONLY)
}

/// The device number behind `fd` (`st_rdev`) and its file type bits, to recognise the
/// same device across descriptors.
pub(crate) fn device_of(fd: BorrowedFd<'_>) -> io::Result<(u64, u32)> {
    let st = nix::sys::stat::fstat(fd).map_err(errno)?;
    Ok((st.st_rdev, st.st_mode & libc::S_IFMT))
}

/// The listening socket systemd passed (`LISTEN_FDS`, `LISTEN_PID`), if it passed one to
/// this process. More than one is refused, as qemu-pr-helper does. The variables are
/// removed so that no child inherits them.
pub(crate) fn systemd_listener() -> io::Result<Option<OwnedFd>> {
    const FIRST: RawFd = 3;
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return Ok(None);
    };
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        return Ok(None);
    }
    // SAFETY: called once at start-up, before any thread exists (the runtime is built
    // later), so nothing reads the environment concurrently.
    unsafe {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    match fds.trim().parse::<u32>() {
        Ok(0) => Ok(None),
        Ok(1) => {
            // SAFETY: fd 3 is valid by the socket-activation protocol; `fstat` checks it is
            // open before ownership is taken.
            let borrowed = unsafe { BorrowedFd::borrow_raw(FIRST) };
            let (_, kind) = device_of(borrowed)?;
            if kind != libc::S_IFSOCK {
                return Err(io::Error::other("LISTEN_FDS: descriptor 3 is not a socket"));
            }
            // SAFETY: systemd handed fd 3 to this process and nothing else in it owns it;
            // this is the only place that takes it.
            Ok(Some(unsafe { OwnedFd::from_raw_fd(FIRST) }))
        }
        Ok(n) => Err(io::Error::other(format!(
            "socket activation with LISTEN_FDS={n} is not supported: give one socket"
        ))),
        Err(_) => Err(io::Error::other(format!(
            "LISTEN_FDS={fds:?} is not a number"
        ))),
    }
}

/// Linux capability numbers pr-helper keeps.
pub(crate) const CAP_SYS_ADMIN: u32 = 21;
/// `CAP_SYS_RAWIO`.
pub(crate) const CAP_SYS_RAWIO: u32 = 17;

const CAP_LAST_CAP_GUESS: u32 = 63;
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The process's permitted capability set, as a bit mask.
fn permitted() -> io::Result<u64> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: `header` and `data` are valid, properly laid out (`repr(C)`) buffers of the
    // sizes capget(2) writes for version 3 (two data structs).
    let r = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::from(data[0].permitted) | (u64::from(data[1].permitted) << 32))
}

/// Sets the effective and permitted sets to `mask` (inheritable empty).
fn capset(mask: u64) -> io::Result<()> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let lo = u32::try_from(mask & 0xffff_ffff).unwrap_or(0);
    let hi = u32::try_from(mask >> 32).unwrap_or(0);
    let data = [
        CapData {
            effective: lo,
            permitted: lo,
            inheritable: 0,
        },
        CapData {
            effective: hi,
            permitted: hi,
            inheritable: 0,
        },
    ];
    // SAFETY: `header` and `data` are valid `repr(C)` buffers of the layout capset(2)
    // reads for version 3; the kernel only reads `data`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Drops every capability but `keep` (capability numbers) from the bounding set, changes
/// to `uid`/`gid` without supplementary groups when given, and leaves exactly `keep` (those
/// of them the process has) effective and permitted: what qemu-pr-helper's
/// `drop_privileges` does with libcap-ng.
pub(crate) fn drop_privileges(keep: &[u32], uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    let keep_mask = keep.iter().fold(0u64, |m, c| m | (1u64 << c));
    let mask = keep_mask & permitted()?;
    nix::sys::prctl::set_keepcaps(true).map_err(errno)?;
    for cap in 0..=CAP_LAST_CAP_GUESS {
        if keep_mask & (1u64 << cap) != 0 {
            continue;
        }
        // SAFETY: PR_CAPBSET_DROP takes a capability number and no pointer. EINVAL past
        // the kernel's last capability ends the loop.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
        if r != 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINVAL) => break,
                // Without CAP_SETPCAP (an unprivileged run) the bounding set stays.
                Some(libc::EPERM) => break,
                _ => return Err(e),
            }
        }
    }
    if uid.is_some() || gid.is_some() {
        nix::unistd::setgroups(&[]).map_err(errno)?;
    }
    if let Some(g) = gid {
        nix::unistd::setgid(nix::unistd::Gid::from_raw(g)).map_err(errno)?;
    }
    if let Some(u) = uid {
        nix::unistd::setuid(nix::unistd::Uid::from_raw(u)).map_err(errno)?;
    }
    capset(mask)?;
    nix::sys::prctl::set_keepcaps(false).map_err(errno)?;
    Ok(())
}

/// The effective capability set's mask of the calling thread (for tests and logs).
pub(crate) fn effective_caps() -> io::Result<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status")?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .ok_or_else(|| io::Error::other("no CapEff in /proc/thread-self/status"))?;
    u64::from_str_radix(line.trim(), 16).map_err(io::Error::other)
}

/// Runs in the background: forks, the parent exits, the child starts a new session and
/// its standard streams go to /dev/null (`daemon(0, 0)`, as qemu-pr-helper). Call before
/// any thread is started.
pub(crate) fn daemonize() -> io::Result<()> {
    nix::unistd::daemon(false, false).map_err(errno)
}
