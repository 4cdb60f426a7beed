// SPDX-License-Identifier: MIT OR Apache-2.0
//! `Device`: the blocking front door. Every call converts its arguments, then waits for the
//! operation on pr-multipath's runtime thread with the GIL released, then converts the
//! result. Opening goes through pr-multipath's `Lun::open_with` on the runtime's blocking
//! pool.

use std::sync::Arc;

use pr_core::types::{PrInAction, ReservationKey};
use pr_multipath::{FromMapOptions, Lun, OpenOptions, OutRequest, RegisterRequest};
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::convert::{key_arg, tid_arg, type_arg, u16_arg};
use crate::core::{Call, Handle, run, wait, wait_blocking};
use crate::errors::{raise, to_pyerr};
use crate::ops::{device_methods, finish_register};

/// How to open a device: what `Device.open`, `open_map` and `open_path` ask for.
#[derive(Clone, Copy)]
pub(crate) enum OpenKind {
    /// A map or a path device, whichever the name is.
    Any,
    /// A dm-multipath map only.
    Map,
    /// One device (a map's node counts as one device).
    Path,
}

/// Why a device could not be opened.
pub(crate) enum OpenError {
    /// pr-multipath's error (it names what the caller gave).
    Lun(pr_multipath::Error),
    /// `open_map` of something that is no map.
    NotAMap(String),
}

impl OpenError {
    pub(crate) fn into_pyerr(self, py: Python<'_>) -> PyErr {
        match self {
            OpenError::Lun(e) => to_pyerr(py, &e),
            OpenError::NotAMap(what) => raise(
                py,
                "NotAMultipathMapError",
                &format!("{what}: not a dm-multipath map"),
            ),
        }
    }
}

/// The map options of `open`/`open_map`.
fn map_options(multipathd: bool, check_configured_key: bool) -> FromMapOptions {
    let defaults = FromMapOptions::default();
    FromMapOptions {
        multipathd,
        multipath_conf: if check_configured_key {
            defaults.multipath_conf.clone()
        } else {
            None
        },
        ..defaults
    }
}

/// Opens `what` through pr-multipath's front door (blocking: sysfs, device-mapper, opening
/// the path devices). Run it on the runtime's blocking pool.
pub(crate) fn open_lun(
    what: &str,
    kind: OpenKind,
    multipathd: bool,
    check_configured_key: bool,
) -> Result<Lun, OpenError> {
    let map = map_options(multipathd, check_configured_key);
    match kind {
        OpenKind::Any => Lun::open_with(
            what,
            &OpenOptions {
                map,
                ..OpenOptions::default()
            },
        )
        .map_err(OpenError::Lun),
        OpenKind::Map => match Lun::map_name_of(what).map_err(OpenError::Lun)? {
            Some(name) => Lun::from_map_with(&name, &map).map_err(OpenError::Lun),
            None => Err(OpenError::NotAMap(what.to_owned())),
        },
        OpenKind::Path => Lun::open_with(
            what,
            &OpenOptions {
                map_as_device: true,
                ..OpenOptions::default()
            },
        )
        .map_err(OpenError::Lun),
    }
}

fn open_blocking(
    py: Python<'_>,
    what: String,
    kind: OpenKind,
    multipathd: bool,
    check_configured_key: bool,
) -> PyResult<Device> {
    match wait_blocking(py, move || {
        open_lun(&what, kind, multipathd, check_configured_key)
    })? {
        Ok(lun) => Ok(Device {
            handle: Handle::new(lun),
        }),
        Err(e) => Err(e.into_pyerr(py)),
    }
}

/// A LUN (a dm-multipath map, one path device, or simulated paths) with every persistent
/// reservation action, blocking: each method waits for the device with the GIL released
/// (other Python threads run meanwhile) and returns a plain result object or raises a
/// ``PrError`` subclass. Ctrl-C interrupts a wait (the operation is dropped where it is: a
/// PR OUT command already sent may still take effect at the device). Share one ``Device``
/// between threads freely; ``aio`` gives the asyncio view of the same LUN. ``close()`` (or
/// ``with Device.open(...) as d:``) closes it.
#[pyclass(frozen, module = "pr_sdk._native", name = "Device")]
pub(crate) struct Device {
    pub(crate) handle: Arc<Handle>,
}

impl Device {
    fn call<'py>(&self, py: Python<'py>, call: Call) -> PyResult<Bound<'py, PyAny>> {
        let lun = self.handle.lun(py)?;
        match wait(py, run(lun, call))? {
            Ok(done) => Ok(crate::convert::done(py, done)?.into_bound(py)),
            Err(e) => Err(to_pyerr(py, &e)),
        }
    }
}

device_methods!(Device, {
    /// Opens a device: a dm-multipath map if ``path`` names one (a map name such as
    /// ``mpatha``, ``/dev/mapper/NAME`` or ``/dev/dm-N``) as the LUN of all its paths, else a
    /// SCSI device (``/dev/sdX``, ``sdX``, ``/dev/sgN``) as a LUN of one path.
    /// ``multipathd``: keep multipathd's prkey/prstatus bookkeeping (maps).
    /// ``check_configured_key``: refuse keys other than multipath.conf's
    /// ``reservation_key`` (maps). Errors name what was given: ``InvalidArgumentError``
    /// (empty), ``DeviceNotFoundError``, ``NotScsiDeviceError`` (a regular file, a
    /// directory, ``/dev/null``, a partition, ...), ``PermissionDeniedError`` (needs root).
    #[staticmethod]
    #[pyo3(signature = (path, *, multipathd = true, check_configured_key = true))]
    fn open(
        py: Python<'_>,
        path: String,
        multipathd: bool,
        check_configured_key: bool,
    ) -> PyResult<Self> {
        open_blocking(py, path, OpenKind::Any, multipathd, check_configured_key)
    }

    /// Opens a dm-multipath map by name or path (``mpatha``, ``/dev/mapper/mpatha``,
    /// ``/dev/dm-3``): ``NotAMultipathMapError`` for a device that is no map.
    #[staticmethod]
    #[pyo3(signature = (name, *, multipathd = true, check_configured_key = true))]
    fn open_map(
        py: Python<'_>,
        name: String,
        multipathd: bool,
        check_configured_key: bool,
    ) -> PyResult<Self> {
        open_blocking(py, name, OpenKind::Map, multipathd, check_configured_key)
    }

    /// Opens one SCSI device (``/dev/sdX``, ``/dev/sgN``; a map's node is opened as one
    /// device, as ``sg_persist`` does) as a LUN with one path, named by its kernel name.
    #[staticmethod]
    fn open_path(py: Python<'_>, path: String) -> PyResult<Self> {
        open_blocking(py, path, OpenKind::Path, false, false)
    }

    /// The asyncio view of the same LUN (same paths, same state; closing one closes both).
    #[getter]
    fn aio(&self) -> crate::aio::AsyncDevice {
        crate::aio::AsyncDevice {
            handle: Arc::clone(&self.handle),
        }
    }

    /// ``with Device.open(...) as d:`` closes ``d`` at the end of the block.
    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().handle.lun(slf.py())?;
        Ok(slf)
    }

    #[pyo3(signature = (_exc_type = None, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        _exc_type: Option<&Bound<'_, PyType>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) {
        self.handle.close();
    }
});
