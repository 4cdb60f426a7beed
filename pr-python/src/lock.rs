// SPDX-License-Identifier: MIT OR Apache-2.0
//! Disk locks (pr-lock) for Python: `DiskLock` (the virtlockd-compatible lock file and the
//! LUN's reservation) and `LunLock` (the reservation alone), each a context manager. Every
//! rule is pr-lock's; this module converts arguments, results and errors.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use pr_lock::{
    DiskLock as PrDiskLock, DiskLockRequest, Enforcement, Error, LockspaceConfig,
    LunLock as PrLunLock, LunLockOptions, Mode, Storage,
};
use pr_multipath::blocking::Lun;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

use crate::convert::key_arg;
use crate::core::detached;
use crate::errors::{internal_error_message, to_pyerr};
use crate::sync::Device;

fn mode(shared: bool) -> Mode {
    if shared {
        Mode::Shared
    } else {
        Mode::Exclusive
    }
}

/// An exception of `pr_sdk.errors.<class>` with the lock fields.
fn lock_error(
    py: Python<'_>,
    class: &str,
    e: &Error,
    lun: Option<&str>,
    holders: &[u64],
    lock_file: Option<String>,
) -> PyErr {
    let made = (|| -> PyResult<PyErr> {
        let cls = py.import("pr_sdk.errors")?.getattr(class)?;
        let kw = PyDict::new(py);
        kw.set_item("lun", lun)?;
        kw.set_item("holders", holders.to_vec())?;
        kw.set_item("lock_file", lock_file)?;
        Ok(PyErr::from_value(cls.call((e.to_string(),), Some(&kw))?))
    })();
    made.unwrap_or_else(|err| err)
}

/// A pr-lock error as a Python exception.
fn lock_pyerr(py: Python<'_>, e: &Error) -> PyErr {
    match e {
        Error::Held { lun, holders, .. } => {
            let keys: Vec<u64> = holders.iter().map(|k| k.0).collect();
            lock_error(py, "LockHeldError", e, Some(lun), &keys, None)
        }
        Error::FileLockBusy { path, .. } | Error::HeldByThisProcess { path } => lock_error(
            py,
            "LockHeldError",
            e,
            None,
            &[],
            Some(path.display().to_string()),
        ),
        Error::NotHeld { lun, .. } => lock_error(py, "LockNotHeldError", e, Some(lun), &[], None),
        Error::ZeroKey | Error::InvalidDisk { .. } => PyValueError::new_err(e.to_string()),
        Error::Pr(p) => to_pyerr(py, p),
        Error::FenceFailed { lun, victim, .. } => {
            lock_error(py, "LockError", e, Some(lun), &[victim.0], None)
        }
        _ => lock_error(py, "LockError", e, None, &[], None),
    }
}

/// Runs blocking pr-lock work with the GIL released; a panic becomes `InternalError`.
fn run<T: Send>(py: Python<'_>, f: impl FnOnce() -> pr_lock::Result<T> + Send) -> PyResult<T> {
    let out = detached(py, || std::panic::catch_unwind(AssertUnwindSafe(f)));
    crate::logging::deliver(py);
    match out {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(lock_pyerr(py, &e)),
        Err(p) => Err(internal_error_message(
            py,
            &pr_multipath::blocking::runtime::panic_message(p.as_ref()),
        )),
    }
}

/// Drops (and so releases) a lock with the GIL released, catching a panic. Plain
/// `detach`, not [`detached`]: a lock collected while the interpreter exits is still
/// released, and the thread comes back.
fn drop_detached<T: Send>(py: Python<'_>, lock: T) {
    py.detach(move || {
        let _ = std::panic::catch_unwind(AssertUnwindSafe(move || drop(lock)));
    });
}

/// A lock object's state. The mutex is only ever held for a moment, never while waiting
/// for the device (a thread waiting for it with the GIL, while the acquiring thread needs
/// the GIL back, would deadlock): acquiring marks the slot `Busy` and waits without it.
enum State<T> {
    Free,
    Busy,
    Held(T),
}

struct Slot<T>(Mutex<State<T>>);

impl<T> Slot<T> {
    fn new() -> Self {
        Slot(Mutex::new(State::Free))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Acquires with `acquire` (run without the mutex): the slot is `Busy` meanwhile, then
    /// held, or free again when `acquire` failed. `what` names the class in the errors.
    fn acquire(&self, what: &str, acquire: impl FnOnce() -> PyResult<T>) -> PyResult<()> {
        {
            let mut st = self.state();
            match *st {
                State::Free => *st = State::Busy,
                State::Busy => {
                    return Err(PyValueError::new_err(format!(
                        "this {what} is being acquired or released by another thread"
                    )));
                }
                State::Held(_) => {
                    return Err(PyValueError::new_err(format!(
                        "this {what} is already held"
                    )));
                }
            }
        }
        let out = acquire();
        let mut st = self.state();
        match out {
            Ok(l) => {
                *st = State::Held(l);
                Ok(())
            }
            Err(e) => {
                *st = State::Free;
                Err(e)
            }
        }
    }

    /// The held lock, taken out (the slot is free again).
    fn take(&self) -> Option<T> {
        let mut st = self.state();
        match std::mem::replace(&mut *st, State::Free) {
            State::Held(l) => Some(l),
            other => {
                *st = other;
                None
            }
        }
    }

    fn with<R>(&self, f: impl FnOnce(Option<&T>) -> R) -> R {
        match &*self.state() {
            State::Held(l) => f(Some(l)),
            _ => f(None),
        }
    }

    fn take_mut(&mut self) -> Option<T> {
        match std::mem::replace(
            self.0.get_mut().unwrap_or_else(PoisonError::into_inner),
            State::Free,
        ) {
            State::Held(l) => Some(l),
            _ => None,
        }
    }
}

fn device_lun(py: Python<'_>, device: &Device) -> PyResult<Lun> {
    Ok(Lun::from(device.handle.lun(py)?))
}

/// A VM disk lock as libvirt's virtlockd takes it (the same lock file, name and fcntl
/// lock), enforced by the LUN with a persistent reservation (exclusive: Write Exclusive,
/// Registrants Only; ``shared=True``: Write Exclusive, All Registrants). Use it as a
/// context manager: ``with DiskLock("/dev/mapper/mpatha", key=0x1234,
/// scsi_lockspace="/var/lib/libvirt/lockd/scsi") as lock: ...`` acquires on entry (raising
/// ``LockHeldError``, which names the holder's key, when another process or host holds
/// it) and releases on exit. The lock belongs to this process (fcntl locks do).
#[pyclass(frozen, module = "pr_sdk._native", name = "DiskLock")]
pub(crate) struct DiskLock {
    request: DiskLockRequest,
    held: Slot<PrDiskLock>,
}

#[pymethods]
impl DiskLock {
    /// A lock of ``disk`` (its path as the domain XML names it), not yet acquired.
    #[new]
    #[pyo3(signature = (disk, *, key = None, shared = false, force = false,
        file_lockspace = None, scsi_lockspace = None, lvm_lockspace = None,
        device = None, file_only = false, file_lock_decides_liveness = false))]
    #[allow(clippy::too_many_arguments, clippy::fn_params_excessive_bools)]
    fn new(
        py: Python<'_>,
        disk: String,
        key: Option<&Bound<'_, PyAny>>,
        shared: bool,
        force: bool,
        file_lockspace: Option<PathBuf>,
        scsi_lockspace: Option<PathBuf>,
        lvm_lockspace: Option<PathBuf>,
        device: Option<PyRef<'_, Device>>,
        file_only: bool,
        file_lock_decides_liveness: bool,
    ) -> PyResult<Self> {
        let lockspace = LockspaceConfig {
            file_dir: file_lockspace,
            scsi_dir: scsi_lockspace,
            lvm_dir: lvm_lockspace,
        };
        let mut request = DiskLockRequest::new(disk, mode(shared), lockspace).force(force);
        if let Some(k) = key {
            request = request.key(key_arg(k, "key")?);
        }
        request.storage = match (device, file_only) {
            (Some(_), true) => {
                return Err(PyValueError::new_err(
                    "device and file_only=True contradict each other",
                ));
            }
            (Some(d), false) => Storage::Lun(device_lun(py, &d)?),
            (None, true) => Storage::None,
            (None, false) => Storage::Open,
        };
        request.file_lock_decides_liveness = file_lock_decides_liveness;
        Ok(DiskLock {
            request,
            held: Slot::new(),
        })
    }

    /// Takes the lock: the lock file, then (with a key) the LUN's reservation. Raises
    /// ``LockHeldError`` when another holds it (nothing of this call is left then).
    fn acquire(&self, py: Python<'_>) -> PyResult<()> {
        let request = &self.request;
        self.held
            .acquire("DiskLock", || run(py, || PrDiskLock::acquire(request)))
    }

    /// Releases the reservation, then the lock file; a lock not held: nothing to do.
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        match self.held.take() {
            Some(l) => run(py, || l.release()),
            None => Ok(()),
        }
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().acquire(slf.py())?;
        Ok(slf)
    }

    #[pyo3(signature = (_exc_type = None, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyType>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.release(py)
    }

    /// The disk as given.
    #[getter]
    fn disk(&self) -> String {
        self.request.disk.clone()
    }

    /// This host's reservation key (``None``: the lock file only).
    #[getter]
    fn key(&self) -> Option<u64> {
        self.request.key.map(|k| k.0)
    }

    /// Whether the lock is shared.
    #[getter]
    fn shared(&self) -> bool {
        self.request.mode == Mode::Shared
    }

    /// Whether this object holds the lock now.
    #[getter]
    fn held(&self) -> bool {
        self.held.with(|l| l.is_some())
    }

    /// The lock file while held (the disk itself for a direct lease), else ``None``.
    #[getter]
    fn lock_file(&self) -> Option<String> {
        self.held
            .with(|l| l.map(|l| l.resource().path().display().to_string()))
    }

    /// The lockspace resource name while held (SHA-256, SCSI ID, LVM UUID, or the disk).
    #[getter]
    fn resource_name(&self) -> Option<String> {
        self.held.with(|l| l.map(|l| l.resource().name.clone()))
    }

    /// While held: ``None`` when the LUN's reservation enforces the lock too, else why the
    /// lock file alone does (no key, ``file_only``, not a SCSI device).
    #[getter]
    fn file_only_reason(&self) -> Option<String> {
        self.held.with(|l| match l.map(PrDiskLock::enforcement) {
            Some(Enforcement::FileOnly(why)) => Some(why.clone()),
            _ => None,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "DiskLock({:?}, key={}, shared={}, held={})",
            self.request.disk,
            self.request
                .key
                .map_or_else(|| "None".to_owned(), |k| format!("{k}")),
            if self.shared() { "True" } else { "False" },
            if self.held() { "True" } else { "False" },
        )
    }
}

impl Drop for DiskLock {
    fn drop(&mut self) {
        if let Some(l) = self.held.take_mut() {
            Python::attach(|py| drop_detached(py, l));
        }
    }
}

/// A LUN's reservation alone as a lock (no lock file): ``with LunLock(device, 0x1234) as
/// lock: ...`` registers ``key`` on every path and reserves (exclusive: Write Exclusive,
/// Registrants Only; ``shared=True``: Write Exclusive, All Registrants), raising
/// ``LockHeldError`` naming the other hosts' keys when they hold the LUN (``force=True``
/// fences them instead); on exit, releases and unregisters.
#[pyclass(frozen, module = "pr_sdk._native", name = "LunLock")]
pub(crate) struct LunLock {
    lun: Lun,
    key: pr_core::types::ReservationKey,
    mode: Mode,
    options: LunLockOptions,
    held: Slot<PrLunLock>,
}

#[pymethods]
impl LunLock {
    /// A lock of ``device``'s LUN with this host's ``key``, not yet acquired.
    #[new]
    #[pyo3(signature = (device, key, *, shared = false, force = false, preempt = false))]
    fn new(
        py: Python<'_>,
        device: PyRef<'_, Device>,
        key: &Bound<'_, PyAny>,
        shared: bool,
        force: bool,
        preempt: bool,
    ) -> PyResult<Self> {
        let key = key_arg(key, "key")?;
        if key.is_zero() {
            return Err(PyValueError::new_err("key must not be 0"));
        }
        let mut options = LunLockOptions {
            force,
            ..LunLockOptions::default()
        };
        if preempt {
            options.fence_action = pr_multipath::FenceAction::Preempt;
        }
        Ok(LunLock {
            lun: device_lun(py, &device)?,
            key,
            mode: mode(shared),
            options,
            held: Slot::new(),
        })
    }

    /// Takes the lock; ``LockHeldError`` (naming the holders' keys) when another host
    /// holds the LUN.
    fn acquire(&self, py: Python<'_>) -> PyResult<()> {
        let (lun, key, mode, options) = (&self.lun, self.key, self.mode, &self.options);
        self.held.acquire("LunLock", || {
            run(py, || PrLunLock::acquire(lun, key, mode, options))
        })
    }

    /// Releases the reservation and this host's registration; ``LockNotHeldError`` when
    /// it was fenced meanwhile. A lock not held: nothing to do.
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        match self.held.take() {
            Some(l) => run(py, || l.release()),
            None => Ok(()),
        }
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().acquire(slf.py())?;
        Ok(slf)
    }

    #[pyo3(signature = (_exc_type = None, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyType>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.release(py)
    }

    /// This host's key.
    #[getter]
    fn key(&self) -> u64 {
        self.key.0
    }

    /// Whether the lock is shared.
    #[getter]
    fn shared(&self) -> bool {
        self.mode == Mode::Shared
    }

    /// Whether this object holds the lock now.
    #[getter]
    fn held(&self) -> bool {
        self.held.with(|l| l.is_some())
    }

    fn __repr__(&self) -> String {
        format!(
            "LunLock({:?}, key={}, shared={}, held={})",
            self.lun.name(),
            self.key,
            if self.shared() { "True" } else { "False" },
            if self.held() { "True" } else { "False" },
        )
    }
}

impl Drop for LunLock {
    fn drop(&mut self) {
        if let Some(l) = self.held.take_mut() {
            Python::attach(|py| drop_detached(py, l));
        }
    }
}
