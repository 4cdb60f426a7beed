// SPDX-License-Identifier: MIT OR Apache-2.0
//! `Device`: the blocking front door. Every call converts its arguments, then waits for the
//! operation on the shared runtime with the GIL released, then converts the result.

use std::path::Path as FsPath;
use std::sync::Arc;

use pr_core::types::ReservationKey;
use pr_multipath::sgio::FromMapOptions;
use pr_multipath::{MultipathLun, Path, RegisterRequest};
use pyo3::prelude::*;

use crate::convert::{key_arg, tid_arg, type_arg, u16_arg};
use crate::core::{AnyLun, Op, block_on, block_on_blocking};
use crate::errors::{raise, sgio_to_pyerr, to_pyerr};
use crate::ops::{device_methods, finish_register};

/// Why a device could not be opened.
pub(crate) enum OpenError {
    Sgio(pr_sgio::Error),
    Multipath(pr_multipath::Error),
    /// (class, message)
    Classed(&'static str, String),
}

impl OpenError {
    pub(crate) fn into_pyerr(self, py: Python<'_>) -> PyErr {
        match self {
            OpenError::Sgio(e) => sgio_to_pyerr(py, &e),
            OpenError::Multipath(e) => to_pyerr(py, &e),
            OpenError::Classed(class, msg) => raise(py, class, &msg),
        }
    }
}

/// Whether `s` names a map rather than a path device: a bare name (`mpatha`), a
/// `/dev/mapper/` path, or a `dm-N` node.
fn names_a_map(s: &str) -> bool {
    let base = FsPath::new(s)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(s);
    !s.contains('/') || s.starts_with("/dev/mapper/") || base.starts_with("dm-")
}

/// Opens a dm-multipath map (blocking: discovery, opening every path device).
pub(crate) fn open_map(
    name: &str,
    multipathd: bool,
    check_configured_key: bool,
) -> Result<AnyLun, OpenError> {
    if name.contains('/') {
        let path = FsPath::new(name);
        if !path.exists() {
            return Err(OpenError::Classed(
                "DeviceNotFoundError",
                format!("{name}: no such device node"),
            ));
        }
        // A node that is not a device-mapper device (`/dev/sdX`, ...) is no map.
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let is_dm = real
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("dm-"));
        if !is_dm {
            return Err(OpenError::Classed(
                "NotAMultipathMapError",
                format!("{name}: not a dm-multipath map (not a device-mapper device)"),
            ));
        }
    }
    let options = FromMapOptions {
        multipathd,
        multipath_conf: if check_configured_key {
            FromMapOptions::default().multipath_conf
        } else {
            None
        },
        ..FromMapOptions::default()
    };
    match MultipathLun::from_map_with(name, &options) {
        Ok(l) => Ok(AnyLun::Sg(l)),
        Err(pr_multipath::Error::Sgio(e)) if matches!(&*e, pr_sgio::Error::Missing { what, .. } if *what == "multipath map") =>
        {
            let exists = name.contains('/') || FsPath::new("/dev/mapper").join(name).exists();
            if exists {
                Err(OpenError::Classed(
                    "NotAMultipathMapError",
                    format!("{name}: not a dm-multipath map"),
                ))
            } else {
                Err(OpenError::Classed(
                    "DeviceNotFoundError",
                    format!("{name}: no such dm-multipath map"),
                ))
            }
        }
        Err(e) => Err(OpenError::Multipath(e)),
    }
}

/// Opens one path device (`/dev/sdX`, `/dev/sgN`) as a one-path LUN.
pub(crate) fn open_path(path: &str) -> Result<AnyLun, OpenError> {
    let dev = pr_sgio::Device::open(path).map_err(OpenError::Sgio)?;
    Ok(AnyLun::Sg(MultipathLun::new(
        path,
        vec![Path::new(path, pr_multipath::AnyPath::Sg(dev))],
    )))
}

/// Opens `path`: a map if it names one (see [`names_a_map`]), else a path device.
pub(crate) fn open_any(
    path: &str,
    multipathd: bool,
    check_configured_key: bool,
) -> Result<AnyLun, OpenError> {
    if names_a_map(path) {
        open_map(path, multipathd, check_configured_key)
    } else {
        open_path(path)
    }
}

/// Runs an open on the runtime's blocking pool, GIL released.
pub(crate) fn open_blocking(
    py: Python<'_>,
    f: impl FnOnce() -> Result<AnyLun, OpenError> + Send + 'static,
) -> PyResult<Arc<AnyLun>> {
    match block_on_blocking(py, f)? {
        Ok(l) => Ok(Arc::new(l)),
        Err(e) => Err(e.into_pyerr(py)),
    }
}

/// A LUN (a dm-multipath map, one path device, or simulated paths) with every persistent
/// reservation action, blocking: each method waits for the device with the GIL released
/// (other Python threads run meanwhile) and returns a plain result object or raises a
/// ``PrError`` subclass. Ctrl-C interrupts a wait (the operation is dropped where it is: a
/// PR OUT command already sent may still take effect at the device). Share one ``Device``
/// between threads freely; ``aio`` gives the asyncio view of the same LUN.
#[pyclass(frozen, module = "pr_sdk._native", name = "Device")]
pub(crate) struct Device {
    pub(crate) lun: Arc<AnyLun>,
}

impl Device {
    fn call<'py>(&self, py: Python<'py>, op: Op) -> PyResult<Bound<'py, PyAny>> {
        let lun = Arc::clone(&self.lun);
        match block_on(py, crate::core::run(lun, op))? {
            Ok(out) => Ok(crate::convert::out(py, out)?.into_bound(py)),
            Err(e) => Err(to_pyerr(py, &e)),
        }
    }
}

device_methods!(Device, {
    /// Opens a device: a dm-multipath map if ``path`` names one (a bare map name such as
    /// ``mpatha``, ``/dev/mapper/NAME`` or ``/dev/dm-N``), else a path device (``/dev/sdX``,
    /// ``/dev/sgN``). ``multipathd``: keep multipathd's prkey/prstatus bookkeeping (maps).
    /// ``check_configured_key``: refuse keys other than multipath.conf's
    /// ``reservation_key`` (maps). Needs root.
    #[staticmethod]
    #[pyo3(signature = (path, *, multipathd = true, check_configured_key = true))]
    fn open(
        py: Python<'_>,
        path: String,
        multipathd: bool,
        check_configured_key: bool,
    ) -> PyResult<Self> {
        let lun = open_blocking(py, move || {
            open_any(&path, multipathd, check_configured_key)
        })?;
        Ok(Device { lun })
    }

    /// Opens a dm-multipath map by name or path (``mpatha``, ``/dev/mapper/mpatha``,
    /// ``/dev/dm-3``): ``NotAMultipathMapError`` for anything else.
    #[staticmethod]
    #[pyo3(signature = (name, *, multipathd = true, check_configured_key = true))]
    fn open_map(
        py: Python<'_>,
        name: String,
        multipathd: bool,
        check_configured_key: bool,
    ) -> PyResult<Self> {
        let lun = open_blocking(py, move || {
            open_map(&name, multipathd, check_configured_key)
        })?;
        Ok(Device { lun })
    }

    /// Opens one path device (``/dev/sdX``, ``/dev/sgN``) as a LUN with one path.
    #[staticmethod]
    fn open_path(py: Python<'_>, path: String) -> PyResult<Self> {
        let lun = open_blocking(py, move || open_path(&path))?;
        Ok(Device { lun })
    }

    /// The asyncio view of the same LUN (same paths, same state).
    #[getter]
    fn aio(&self) -> crate::aio::AsyncDevice {
        crate::aio::AsyncDevice {
            lun: Arc::clone(&self.lun),
        }
    }
});
