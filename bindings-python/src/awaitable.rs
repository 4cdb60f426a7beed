// SPDX-License-Identifier: MIT OR Apache-2.0
//! What the asyncio front door returns: a coroutine object whose asyncio future is made
//! when it is first awaited, inside the running event loop. So `AsyncDevice.read_keys()`
//! may be called where no loop runs yet (`asyncio.run(dev.aio.read_keys())`), and nothing
//! is sent before the coroutine runs, as with an `async def` function. Its arguments are
//! checked when it is created.

use std::sync::{Mutex, PoisonError};

use pyo3::exceptions::{PyRuntimeError, PyStopIteration};
use pyo3::prelude::*;
use pyo3::types::PyType;

type Start = Box<dyn for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>> + Send>;

enum State {
    /// Not awaited yet: makes the asyncio future.
    Lazy(Start),
    /// A value to return at once (`__aenter__`, `__aexit__`).
    Ready(Py<PyAny>),
    /// Awaiting the asyncio future: its iterator.
    Running(Py<PyAny>),
    /// Finished, failed or closed.
    Done,
}

/// A pr-sdk operation to await (a coroutine: ``await`` it, or hand it to
/// ``asyncio.run``, ``asyncio.create_task``, ``asyncio.gather``, ``asyncio.wait_for``).
/// Nothing is sent to the device before it is first awaited; an operation never awaited
/// is never run.
#[pyclass(frozen, module = "pr_sdk._native", name = "Operation")]
pub(crate) struct Awaitable {
    what: String,
    state: Mutex<State>,
}

impl Awaitable {
    fn make<'py>(py: Python<'py>, what: String, state: State) -> PyResult<Bound<'py, PyAny>> {
        Ok(Bound::new(
            py,
            Awaitable {
                what,
                state: Mutex::new(state),
            },
        )?
        .into_any())
    }

    /// A coroutine that calls `start` (which returns an asyncio future) when first awaited.
    pub(crate) fn lazy<'py>(
        py: Python<'py>,
        start: impl for<'a> FnOnce(Python<'a>) -> PyResult<Bound<'a, PyAny>> + Send + 'static,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::named(py, "operation", start)
    }

    /// As [`lazy`](Self::lazy), with a name for `repr()`.
    pub(crate) fn named<'py>(
        py: Python<'py>,
        what: impl Into<String>,
        start: impl for<'a> FnOnce(Python<'a>) -> PyResult<Bound<'a, PyAny>> + Send + 'static,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::make(py, what.into(), State::Lazy(Box::new(start)))
    }

    /// A coroutine that returns `value` at once.
    pub(crate) fn ready<'py>(
        py: Python<'py>,
        what: &str,
        value: Py<PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::make(py, what.to_owned(), State::Ready(value))
    }

    fn take(&self) -> State {
        std::mem::replace(
            &mut *self.state.lock().unwrap_or_else(PoisonError::into_inner),
            State::Done,
        )
    }

    fn set(&self, state: State) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }

    /// The running iterator, starting it if needed; `Err(Some(v))`: finish with `v` now.
    fn iterator(&self, py: Python<'_>) -> PyResult<Result<Py<PyAny>, Py<PyAny>>> {
        match self.take() {
            State::Lazy(start) => {
                let it = start(py)?.call_method0("__await__")?.unbind();
                self.set(State::Running(it.clone_ref(py)));
                Ok(Ok(it))
            }
            State::Running(it) => {
                self.set(State::Running(it.clone_ref(py)));
                Ok(Ok(it))
            }
            State::Ready(v) => Ok(Err(v)),
            State::Done => Err(PyRuntimeError::new_err(format!(
                "cannot reuse an already awaited pr_sdk operation ({})",
                self.what
            ))),
        }
    }

    /// Passes `r` (from the iterator) on, noting the end of the iteration.
    fn step(&self, r: PyResult<Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        r.map(Bound::unbind).inspect_err(|_| self.set(State::Done))
    }
}

#[pymethods]
impl Awaitable {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.send(py, py.None().into_bound(py))
    }

    /// As a coroutine's ``send``.
    fn send(&self, py: Python<'_>, value: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match self.iterator(py)? {
            Ok(it) => {
                let r = it.bind(py).call_method1("send", (value,));
                self.step(r)
            }
            Err(v) => Err(PyStopIteration::new_err((v,))),
        }
    }

    /// As a coroutine's ``throw``: into the asyncio future's iterator once started, else
    /// the exception is raised here (and nothing is ever sent).
    #[pyo3(signature = (typ, val = None, tb = None))]
    fn throw(
        &self,
        py: Python<'_>,
        typ: Bound<'_, PyAny>,
        val: Option<Bound<'_, PyAny>>,
        tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let state = self.take();
        if let State::Running(it) = state {
            self.set(State::Running(it.clone_ref(py)));
            let r = match (val, tb) {
                (None, None) => it.bind(py).call_method1("throw", (typ,)),
                (v, t) => it.bind(py).call_method1("throw", (typ, v, t)),
            };
            return self.step(r);
        }
        // Not started (or finished): raise the exception here.
        let exc = if let Ok(cls) = typ.cast::<PyType>() {
            match val {
                Some(v) if v.is_instance(cls)? => v,
                Some(v) if !v.is_none() => cls.call1((v,))?,
                _ => cls.call0()?,
            }
        } else {
            typ
        };
        Err(PyErr::from_value(exc))
    }

    /// As a coroutine's ``close``: an operation not started yet is never run.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if let State::Running(it) = self.take() {
            let it = it.bind(py);
            if it.hasattr("close")? {
                it.call_method0("close")?;
            }
        }
        Ok(())
    }

    fn __repr__(&self) -> String {
        let state = match &*self.state.lock().unwrap_or_else(PoisonError::into_inner) {
            State::Lazy(_) => "not started",
            State::Ready(_) | State::Running(_) => "running",
            State::Done => "done",
        };
        format!("<pr_sdk operation {} ({state})>", self.what)
    }
}
