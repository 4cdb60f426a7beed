//! The one place with `unsafe`: POSIX record locks (`fcntl(F_SETLK)`) on byte 0, length 1,
//! of a lock file, as virtlockd takes them. Non-blocking: a lock another process holds is
//! `EAGAIN` or `EACCES` at once, never a wait.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::errno::Errno;

/// The kind of record lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LockType {
    /// `F_RDLCK`: shared with other readers.
    Read,
    /// `F_WRLCK`: exclusive.
    Write,
}

/// `fcntl(fd, F_SETLK, {type, SEEK_SET, start 0, len 1})`.
pub(crate) fn set_lock_byte0(fd: BorrowedFd<'_>, lock: LockType) -> Result<(), Errno> {
    // SAFETY: `flock` is a plain C struct of integers (plus padding on some targets); all
    // zeroes is a valid value of it.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    let l_type = match lock {
        LockType::Read => libc::F_RDLCK,
        LockType::Write => libc::F_WRLCK,
    };
    // The constants are small (0, 1): they fit the field's type.
    fl.l_type = l_type as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = 0;
    fl.l_len = 1;
    // SAFETY: the descriptor is open for as long as `fd` borrows it, `F_SETLK` reads one
    // `struct flock` through the pointer, which points to a live, initialised value.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETLK, &fl as *const libc::flock) };
    Errno::result(rc).map(drop)
}

/// The terminal's signals that `system(3)` ignores while its child runs.
const TERMINAL_SIGNALS: [libc::c_int; 2] = [libc::SIGINT, libc::SIGQUIT];

/// Sets SIGINT and SIGQUIT to be ignored; returns their previous dispositions.
pub(crate) fn ignore_terminal_signals() -> [libc::sighandler_t; 2] {
    // SAFETY: `signal` with `SIG_IGN` installs no handler code; it only changes this
    // process's disposition of a valid signal number.
    TERMINAL_SIGNALS.map(|s| unsafe { libc::signal(s, libc::SIG_IGN) })
}

/// Restores the dispositions [`ignore_terminal_signals`] returned.
pub(crate) fn restore_terminal_signals(previous: [libc::sighandler_t; 2]) {
    for (s, h) in TERMINAL_SIGNALS.into_iter().zip(previous) {
        if h != libc::SIG_ERR {
            // SAFETY: `h` is a disposition `signal` returned for this same signal (the
            // default, ignore, or a handler the program had installed), so restoring it
            // installs nothing new.
            unsafe { libc::signal(s, h) };
        }
    }
}

/// Makes `cmd`'s child put the terminal signals back as they were before this process
/// ignored them (`previous`, from [`ignore_terminal_signals`]) right before it executes, as
/// `system(3)` does: the default where this process had the default or a handler (handlers
/// do not survive `exec` anyway), ignored where this process had inherited an ignore.
pub(crate) fn child_restores_terminal_signals(
    cmd: &mut Command,
    previous: [libc::sighandler_t; 2],
) {
    let to_default = previous.map(|h| h != libc::SIG_IGN);
    let restore = move || {
        for (s, d) in TERMINAL_SIGNALS.into_iter().zip(to_default) {
            if d {
                // SAFETY: `signal` with `SIG_DFL` installs no handler code and is
                // async-signal-safe, so it may run between fork and exec.
                unsafe { libc::signal(s, libc::SIG_DFL) };
            }
        }
        Ok(())
    };
    // SAFETY: the closure runs in the child between fork and exec; it only calls `signal`
    // (async-signal-safe), allocates nothing, takes no lock and touches no shared state.
    unsafe { cmd.pre_exec(restore) };
}
