// SPDX-License-Identifier: MIT OR Apache-2.0
//! `pr-python` is the native half of the `pr_sdk` Python package: the extension module
//! `pr_sdk._native`, built with pyo3 and maturin as one abi3 wheel (CPython 3.9 and later).
//! It exposes pr-multipath's LUNs (a dm-multipath map or a single path device through
//! pr-sgio, or simulated paths through pr-sim) with every PR IN and PR OUT action, the
//! many-LUN fence/unfence with progress and cancellation, pr-core's TransportIDs and the
//! pr-sim simulator with its fault injection, through two front doors on one core: a
//! blocking `Device` that releases the GIL while it waits, and an asyncio `AsyncDevice`
//! whose awaitables can be cancelled and run concurrently. Both run their futures on one
//! shared tokio runtime (pyo3-async-runtimes'), never one per call.
//!
//! It is **not** a Rust API (nothing here is meant to be linked from Rust; use
//! `pr-multipath` directly), it implements no SCSI logic of its own (every command, retry
//! and failover is pr-multipath's), and it is not usable without its Python package: result
//! objects (`pr_sdk._types`) and exceptions (`pr_sdk.errors`) are Python classes that this
//! module instantiates. See `bindings-python/README.md`.
//!
//! # Threads, the GIL, fork
//! The blocking front door sends each operation to the shared runtime and waits on a
//! channel inside `Python::detach` (waking every 50 ms to let Python run signal handlers, so
//! Ctrl-C drops the operation); it never calls `block_on` on the caller's thread. The module
//! does not declare `gil_used = false`: it is built for the abi3 stable ABI, which
//! free-threaded CPython builds do not load. After `fork()`, the child must not use objects
//! made in the parent (the runtime's threads do not survive it).
//!
//! # Errors and panics
//! Every pr-multipath error becomes an instance of a `pr_sdk.errors.PrError` subclass with
//! the status and sense bytes of the decisive command; wrong argument types or values raise
//! `TypeError`/`ValueError` naming the argument. A panic (a bug) is caught at the boundary
//! (the runtime task, or the call) and raised as `pr_sdk.errors.InternalError`.

mod aio;
mod convert;
mod core;
mod errors;
mod fleet;
mod ops;
mod sim;
mod sync;
mod tid;

use pyo3::prelude::*;

/// The `pr_sdk._native` module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<sync::Device>()?;
    m.add_class::<aio::AsyncDevice>()?;
    m.add_class::<tid::PyTransportId>()?;
    m.add_class::<sim::PySim>()?;
    m.add_class::<sim::PySimPath>()?;
    m.add_class::<sim::PyCluster>()?;
    m.add_class::<fleet::CancelToken>()?;
    m.add_function(wrap_pyfunction!(fleet::fence, m)?)?;
    m.add_function(wrap_pyfunction!(fleet::unfence, m)?)?;
    m.add_function(wrap_pyfunction!(fleet::fence_async, m)?)?;
    m.add_function(wrap_pyfunction!(fleet::unfence_async, m)?)?;
    m.add_function(wrap_pyfunction!(core::_debug_panic, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
