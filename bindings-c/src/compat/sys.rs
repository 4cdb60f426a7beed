//! The few libc calls of the compatibility layer: `fstat` of the caller's descriptor,
//! `calloc` for [`mpath_alloc_prin_response`](super::entry), writing to the C `stdout`
//! stream (so that `dumpHex` output interleaves with the caller's own `printf`).

use core::ffi::{c_int, c_void};

/// What `fstat` says about a file descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FdKind {
    /// `fstat` failed (closed or invalid descriptor).
    Bad,
    /// Not a block device (regular file, character device, pipe, ...).
    NotBlock,
    /// A block device with this device number.
    Block {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
}

/// `fstat(fd)` classified. Never touches memory the caller owns.
pub(crate) fn fd_kind(fd: c_int) -> FdKind {
    if fd < 0 {
        return FdKind::Bad;
    }
    let mut st = core::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `st` is a valid, writable `struct stat`; fstat only writes into it and
    // fails cleanly (EBADF) for a descriptor that is not open.
    let rc = unsafe { libc::fstat(fd, st.as_mut_ptr()) };
    if rc != 0 {
        return FdKind::Bad;
    }
    // SAFETY: fstat returned 0, so it filled the structure (and it was zeroed before).
    let st = unsafe { st.assume_init() };
    if st.st_mode & libc::S_IFMT != libc::S_IFBLK {
        return FdKind::NotBlock;
    }
    FdKind::Block {
        major: libc::major(st.st_rdev),
        minor: libc::minor(st.st_rdev),
    }
}

/// `calloc(size, 1)`: memory the C caller releases with `free()`.
pub(crate) fn calloc(size: usize) -> *mut c_void {
    // SAFETY: calloc has no preconditions; it returns NULL or zeroed memory of `size` bytes.
    unsafe { libc::calloc(size, 1) }
}

/// Writes `text` to the C library's `stdout` stream (buffered like the caller's `printf`).
pub(crate) fn c_stdout(text: &str) {
    let Ok(s) = std::ffi::CString::new(text) else {
        return;
    };
    // SAFETY: the format is a literal "%s" and `s` is a valid NUL-terminated string that
    // outlives the call.
    unsafe {
        libc::printf(c"%s".as_ptr(), s.as_ptr());
    }
}
