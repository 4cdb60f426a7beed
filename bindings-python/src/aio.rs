// SPDX-License-Identifier: MIT OR Apache-2.0
//! `AsyncDevice`: the asyncio front door. Every method converts its arguments and returns an
//! awaitable (pyo3-async-runtimes) whose Rust future runs on the shared runtime; cancelling
//! the asyncio task drops the future.

use std::sync::Arc;

use pr_core::types::ReservationKey;
use pr_multipath::RegisterRequest;
use pyo3::prelude::*;

use crate::convert::{key_arg, tid_arg, type_arg, u16_arg};
use crate::core::{AnyLun, Op, catch};
use crate::errors::{internal_error, to_pyerr};
use crate::ops::{device_methods, finish_register};
use crate::sync::{OpenError, open_any, open_map, open_path};

/// The asyncio view of a LUN: the same actions as ``Device``, each returning an awaitable.
/// Awaitables may run concurrently (``asyncio.gather``) and be cancelled: cancelling drops
/// the operation where it is. A PR OUT command already handed to the device may still take
/// effect (on a real device it has been sent; on a simulated path with latency, a command
/// still in its latency is never executed), so after cancelling a PR OUT, read the state
/// back. ``sync`` gives the blocking view of the same LUN.
#[pyclass(frozen, module = "pr_sdk._native", name = "AsyncDevice")]
pub(crate) struct AsyncDevice {
    pub(crate) lun: Arc<AnyLun>,
}

impl AsyncDevice {
    fn call<'py>(&self, py: Python<'py>, op: Op) -> PyResult<Bound<'py, PyAny>> {
        let lun = Arc::clone(&self.lun);
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let r = catch(crate::core::run(lun, op)).await;
            Python::attach(|py| match r {
                Ok(Ok(out)) => crate::convert::out(py, out),
                Ok(Err(e)) => Err(to_pyerr(py, &e)),
                Err(p) => Err(internal_error(py, &p)),
            })
        })
    }
}

fn open_async<'py>(
    py: Python<'py>,
    f: impl FnOnce() -> Result<AnyLun, OpenError> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>> {
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        let r = tokio::task::spawn_blocking(f).await;
        Python::attach(|py| match r {
            Ok(Ok(lun)) => Ok(AsyncDevice { lun: Arc::new(lun) }),
            Ok(Err(e)) => Err(e.into_pyerr(py)),
            Err(e) => Err(match e.try_into_panic() {
                Ok(p) => internal_error(py, &p),
                Err(e) => internal_error(
                    py,
                    &(Box::new(e.to_string()) as Box<dyn std::any::Any + Send>),
                ),
            }),
        })
    })
}

device_methods!(AsyncDevice, {
    /// As ``Device.open``, awaitable (discovery runs on a worker thread).
    #[staticmethod]
    #[pyo3(signature = (path, *, multipathd = true, check_configured_key = true))]
    fn open(
        py: Python<'_>,
        path: String,
        multipathd: bool,
        check_configured_key: bool,
    ) -> PyResult<Bound<'_, PyAny>> {
        open_async(py, move || {
            open_any(&path, multipathd, check_configured_key)
        })
    }

    /// As ``Device.open_map``, awaitable.
    #[staticmethod]
    #[pyo3(signature = (name, *, multipathd = true, check_configured_key = true))]
    fn open_map(
        py: Python<'_>,
        name: String,
        multipathd: bool,
        check_configured_key: bool,
    ) -> PyResult<Bound<'_, PyAny>> {
        open_async(py, move || {
            open_map(&name, multipathd, check_configured_key)
        })
    }

    /// As ``Device.open_path``, awaitable.
    #[staticmethod]
    fn open_path(py: Python<'_>, path: String) -> PyResult<Bound<'_, PyAny>> {
        open_async(py, move || open_path(&path))
    }

    /// The blocking view of the same LUN.
    #[getter]
    fn sync(&self) -> crate::sync::Device {
        crate::sync::Device {
            lun: Arc::clone(&self.lun),
        }
    }
});
