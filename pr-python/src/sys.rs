// SPDX-License-Identifier: MIT OR Apache-2.0
//! The module's only `unsafe` code: a duplicate of a descriptor number given from Python
//! (`HelperClient` sends the duplicate, so a descriptor the caller closes meanwhile cannot
//! be sent in its place).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// A new descriptor (close-on-exec, numbered 3 or above) for the open file `fd` refers
/// to; `EBADF` when `fd` is not an open descriptor.
pub(crate) fn dup_fd(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) takes two integers and touches no memory of ours;
    // a number that is no open descriptor gives -1 with EBADF.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` was just created by fcntl for us alone: nothing else owns or closes it.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}
