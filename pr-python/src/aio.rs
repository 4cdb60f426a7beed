// SPDX-License-Identifier: MIT OR Apache-2.0
//! `AsyncDevice`: the asyncio front door. Every method converts its arguments and returns
//! a coroutine ([`Awaitable`]); when first awaited (in the running loop) it hands the
//! operation to pr-multipath's runtime thread and awaits an asyncio future that the
//! module's asyncio bridge (`crate::asyncio`) completes. Cancelling the asyncio task drops
//! the operation.

use std::sync::Arc;

use pr_core::types::{PrInAction, ReservationKey};
use pr_multipath::{OutRequest, RegisterRequest};
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::asyncio::awaitable;
use crate::awaitable::Awaitable;
use crate::convert::{key_arg, tid_arg, type_arg, u16_arg};
use crate::core::{Call, Handle, awaitable_blocking, run};
use crate::errors::to_pyerr;
use crate::ops::{device_methods, finish_register};
use crate::sync::{OpenKind, open_lun};

/// The asyncio view of a LUN: the same actions as ``Device``, each returning a coroutine.
/// They may run concurrently (``asyncio.gather``) and be cancelled: cancelling drops the
/// operation where it is. A PR OUT command already handed to the device may still take
/// effect (on a real device it has been sent; on a simulated path with latency, a command
/// still in its latency is never executed), so after cancelling a PR OUT, read the state
/// back. Nothing is sent before the coroutine is awaited. ``sync`` gives the blocking view
/// of the same LUN; ``async with`` closes it at the end of the block.
#[pyclass(frozen, module = "pr_sdk._native", name = "AsyncDevice")]
pub(crate) struct AsyncDevice {
    pub(crate) handle: Arc<Handle>,
}

impl AsyncDevice {
    fn call<'py>(&self, py: Python<'py>, call: Call) -> PyResult<Bound<'py, PyAny>> {
        let lun = self.handle.lun(py)?;
        let what = format!("{} on {}", call.name(), lun.name());
        Awaitable::named(py, what, move |py| {
            awaitable(py, run(lun, call), |py, r| match r {
                Ok(done) => crate::convert::done(py, done),
                Err(e) => Err(to_pyerr(py, &e)),
            })
        })
    }
}

fn open_async(
    py: Python<'_>,
    what: String,
    kind: OpenKind,
    multipathd: bool,
    check_configured_key: bool,
) -> PyResult<Bound<'_, PyAny>> {
    let name = format!("open {what}");
    Awaitable::named(py, name, move |py| {
        awaitable_blocking(
            py,
            move || open_lun(&what, kind, multipathd, check_configured_key),
            |py, r| match r {
                Ok(lun) => Ok(Py::new(
                    py,
                    AsyncDevice {
                        handle: Handle::new(lun),
                    },
                )?
                .into_any()),
                Err(e) => Err(e.into_pyerr(py)),
            },
        )
    })
}

device_methods!(AsyncDevice, {
    /// As ``Device.open``, a coroutine (discovery runs on a worker thread).
    #[staticmethod]
    #[pyo3(signature = (path, *, multipathd = true, check_configured_key = true))]
    fn open(
        py: Python<'_>,
        path: String,
        multipathd: bool,
        check_configured_key: bool,
    ) -> PyResult<Bound<'_, PyAny>> {
        open_async(py, path, OpenKind::Any, multipathd, check_configured_key)
    }

    /// As ``Device.open_map``, a coroutine.
    #[staticmethod]
    #[pyo3(signature = (name, *, multipathd = true, check_configured_key = true))]
    fn open_map(
        py: Python<'_>,
        name: String,
        multipathd: bool,
        check_configured_key: bool,
    ) -> PyResult<Bound<'_, PyAny>> {
        open_async(py, name, OpenKind::Map, multipathd, check_configured_key)
    }

    /// As ``Device.open_path``, a coroutine.
    #[staticmethod]
    fn open_path(py: Python<'_>, path: String) -> PyResult<Bound<'_, PyAny>> {
        open_async(py, path, OpenKind::Path, false, false)
    }

    /// The blocking view of the same LUN.
    #[getter]
    fn sync(&self) -> crate::sync::Device {
        crate::sync::Device {
            handle: Arc::clone(&self.handle),
        }
    }

    /// ``async with (await AsyncDevice.open(...)) as d:`` closes ``d`` at the end of the
    /// block.
    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        slf.get().handle.lun(py)?;
        Awaitable::ready(py, "__aenter__", slf.into_any().unbind())
    }

    #[pyo3(signature = (_exc_type = None, _exc = None, _tb = None))]
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _exc_type: Option<&Bound<'py, PyType>>,
        _exc: Option<&Bound<'py, PyAny>>,
        _tb: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.handle.close();
        Awaitable::ready(py, "__aexit__", py.None())
    }
});
