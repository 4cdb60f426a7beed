//! Lock files as virtlockd holds them (libvirt's `virlockspace.c`; facts only, see the
//! crate README), so that a lock held here blocks virtlockd and one held by virtlockd
//! blocks this crate:
//!
//! - the lockspace directory is created with mode 0700 (and its parents) when virtlockd
//!   is asked to create the lockspace ([`create_lockspace_dir`]);
//! - an indirect lease (AUTOCREATE) is opened `O_RDWR|O_CREAT`, mode 0600, close-on-exec;
//!   a direct lease (the disk itself) `O_RDWR` without `O_CREAT`;
//! - the lock is a POSIX record lock (`fcntl(F_SETLK)`) on byte 0, length 1: `F_RDLCK`
//!   for a shared lock, `F_WRLCK` for an exclusive one, never waiting: a conflict fails at
//!   once ([`Error::FileLockBusy`]);
//! - after locking an AUTOCREATE file, its inode is compared with what the path names now;
//!   if the file was unlinked or replaced meanwhile (a holder releasing), it starts again;
//! - on release of an AUTOCREATE file, an exclusive holder unlinks it; a shared holder
//!   first tries to upgrade to `F_WRLCK` and unlinks only if that succeeds (no other
//!   holder is left); then the descriptor is closed, which drops the lock. Sharers that
//!   release at the same moment may each fail to upgrade while the others still hold, and
//!   then the file stays; it is harmless (the next holder locks it again), and virtlockd
//!   behaves the same.
//!
//! POSIX record locks belong to the process, not to the descriptor: two locks that one
//! process takes on one file never conflict, and closing *any* descriptor of the file
//! drops them all. This module therefore keeps a table of the files this process holds
//! and refuses a second lock on one of them ([`Error::HeldByThisProcess`]) without
//! closing anything that would drop the first.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use nix::errno::Errno;

use crate::Mode;
use crate::error::{Error, Result};
use crate::names::Resource;
use crate::sys::{self, LockType};

/// Files this process holds a lock on, by (device, inode), with the descriptors that must
/// stay open until that lock is released (see the module doc), and the process they
/// belong to.
static HELD: Mutex<Option<(u32, Table)>> = Mutex::new(None);

/// (device, inode) of each file held, and the descriptors parked until its release.
type Table = HashMap<(u64, u64), Vec<File>>;

fn held() -> MutexGuard<'static, Option<(u32, Table)>> {
    HELD.lock().unwrap_or_else(PoisonError::into_inner)
}

/// This process's table. A child made by `fork()` inherits its parent's table but none of
/// its fcntl locks (they are not inherited): there the table is stale and starts empty
/// (closing the child's copies of the descriptors drops nothing of the parent's), so that
/// the child's acquire of a file its parent holds fails with [`Error::FileLockBusy`], as
/// for any other process, instead of [`Error::HeldByThisProcess`].
fn table(held: &mut Option<(u32, Table)>) -> &mut Table {
    let pid = std::process::id();
    if held.as_ref().is_some_and(|(owner, _)| *owner != pid) {
        *held = None;
    }
    &mut held.get_or_insert_with(|| (pid, HashMap::new())).1
}

/// Creates the lockspace directory `dir` as virtlockd does when asked to create a
/// lockspace: nothing if it is a directory already, an error if it exists and is not
/// one, otherwise created with its missing parents, mode 0700.
pub fn create_lockspace_dir(dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::NotADirectory {
            dir: dir.to_owned(),
        }),
        Err(_) => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| Error::Io {
                path: dir.to_owned(),
                what: "create lockspace directory",
                source,
            }),
    }
}

fn check_lockspace_dir(dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::NotADirectory {
            dir: dir.to_owned(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NoLockspace {
            dir: dir.to_owned(),
        }),
        Err(source) => Err(Error::Io {
            path: dir.to_owned(),
            what: "stat lockspace directory",
            source,
        }),
    }
}

/// A lock file held by this process, as virtlockd holds one. Dropping it releases it
/// like [`release`](Self::release) (errors then only logged). A child made by `fork()`
/// does not hold its parent's lock: releasing or dropping the inherited value there only
/// closes the child's descriptor (it never unlinks the parent's lock file).
#[derive(Debug)]
pub struct FileLock {
    path: PathBuf,
    name: String,
    mode: Mode,
    autocreate: bool,
    id: (u64, u64),
    file: Option<File>,
    /// The process that took the lock (fcntl locks are not inherited across `fork()`).
    pid: u32,
}

fn io<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        path: path.to_owned(),
        what,
        source,
    }
}

impl FileLock {
    /// Takes the lock of `resource` in `mode`, without waiting. The lockspace directory
    /// must exist ([`create_lockspace_dir`] makes it as virtlockd does). Errors:
    /// [`Error::FileLockBusy`] when another process holds a conflicting lock,
    /// [`Error::HeldByThisProcess`], [`Error::NoLockspace`], [`Error::NotADirectory`], or
    /// [`Error::Io`] naming the file (a directory that is not writable, a direct lease on
    /// a disk that does not exist, ...).
    pub fn acquire(resource: &Resource, mode: Mode) -> Result<FileLock> {
        if let Some(dir) = &resource.dir {
            check_lockspace_dir(dir)?;
        }
        let path = resource.path();
        let autocreate = resource.autocreate();
        let mut guard = held();
        let table = table(&mut guard);
        loop {
            let mut open = OpenOptions::new();
            open.read(true).write(true);
            if autocreate {
                open.create(true).mode(0o600);
            }
            // std opens with O_CLOEXEC, as virtlockd sets close-on-exec.
            let file = open.open(&path).map_err(io(
                &path,
                if autocreate {
                    "open/create lock file"
                } else {
                    "open lock file"
                },
            ))?;
            let before = file.metadata().map_err(io(&path, "fstat lock file"))?;
            let id = (before.dev(), before.ino());
            if let Some(parked) = table.get_mut(&id) {
                // Closing this descriptor would drop the lock this process holds.
                parked.push(file);
                return Err(Error::HeldByThisProcess { path });
            }
            let ty = match mode {
                Mode::Shared => LockType::Read,
                Mode::Exclusive => LockType::Write,
            };
            match sys::set_lock_byte0(file.as_fd(), ty) {
                Ok(()) => {}
                Err(Errno::EAGAIN | Errno::EACCES) => {
                    return Err(Error::FileLockBusy {
                        path,
                        name: resource.name.clone(),
                        mode,
                    });
                }
                Err(e) => return Err(io(&path, "fcntl(F_SETLK) lock file")(e.into())),
            }
            if autocreate {
                // Is the file we locked still the one the path names? A holder releasing
                // unlinks it; then lock the new one.
                match std::fs::metadata(&path) {
                    Ok(now) if now.ino() == before.ino() => {}
                    Ok(_) => {
                        tracing::debug!(path = %path.display(), "lock file was recreated; again");
                        continue;
                    }
                    Err(e) => {
                        tracing::debug!(path = %path.display(), error = %e, "lock file disappeared; again");
                        continue;
                    }
                }
            }
            table.insert(id, Vec::new());
            tracing::info!(path = %path.display(), %mode, "file lock acquired");
            return Ok(FileLock {
                path,
                name: resource.name.clone(),
                mode,
                autocreate,
                id,
                file: Some(file),
                pid: std::process::id(),
            });
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The resource name (SHA-256, SCSI ID, LVM UUID, or the disk path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The mode held.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Releases the lock as virtlockd does: an AUTOCREATE file is unlinked (by a shared
    /// holder only after upgrading to an exclusive lock succeeded, i.e. when no other
    /// holder is left), then the descriptor is closed. The lock is gone when this returns,
    /// whatever it returns; an error says that the file could not be unlinked.
    pub fn release(mut self) -> Result<()> {
        self.release_inner()
    }

    fn release_inner(&mut self) -> Result<()> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        if self.pid != std::process::id() {
            // A child made by fork() holds none of its parent's fcntl locks: unlinking the
            // file would take it from under the parent, which still holds the lock.
            tracing::warn!(path = %self.path.display(), owner = self.pid,
                "lock file held by another process (the parent of a fork): only this \
                 process's descriptor is closed");
            drop(file);
            return Ok(());
        }
        let mut result = Ok(());
        if self.autocreate {
            let unlink = match self.mode {
                Mode::Exclusive => true,
                Mode::Shared => match sys::set_lock_byte0(file.as_fd(), LockType::Write) {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::debug!(path = %self.path.display(), error = %e,
                            "other shared holders remain: lock file not unlinked");
                        false
                    }
                },
            };
            if unlink {
                match std::fs::remove_file(&self.path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => {
                        tracing::warn!(path = %self.path.display(), error = %source,
                            "could not unlink lock file");
                        result = Err(Error::Io {
                            path: self.path.clone(),
                            what: "unlink lock file",
                            source,
                        });
                    }
                }
            }
        }
        let parked = table(&mut held()).remove(&self.id);
        drop(file);
        drop(parked);
        tracing::info!(path = %self.path.display(), mode = %self.mode, "file lock released");
        result
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.release_inner();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a child made by `fork()` finds: its parent's table, under its parent's pid.
    #[test]
    fn a_table_inherited_from_another_process_starts_empty() {
        let pid = std::process::id();
        let mut inherited = Some((pid.wrapping_add(1), Table::from([((1, 2), Vec::new())])));
        assert!(table(&mut inherited).is_empty());
        assert_eq!(inherited.as_ref().map(|(p, _)| *p), Some(pid));
        // This process's own table is kept.
        table(&mut inherited).insert((3, 4), Vec::new());
        assert!(table(&mut inherited).contains_key(&(3, 4)));
    }
}
