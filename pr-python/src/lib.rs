// SPDX-License-Identifier: MIT OR Apache-2.0
//! `pr-python` is the native half of the `pr_sdk` Python package: the extension module
//! `pr_sdk._native`, built with pyo3 and maturin as one abi3 wheel (CPython 3.9 and later).
//! It is a thin skin over pr-multipath's front door: its one LUN type
//! ([`pr_multipath::Lun`]: a dm-multipath map, one SCSI device, or simulated paths) with
//! every PR IN and PR OUT action (each Python call becomes one `OutRequest` or
//! `PrInAction`), the many-LUN fence/unfence with progress and cancellation, pr-core's
//! TransportIDs, pr-lock's disk locks (`DiskLock`, `LunLock`: module `lock`) and the pr-sim
//! simulator with its fault injection, through two front
//! doors: a blocking `Device` that releases the GIL while it waits, and an asyncio
//! `AsyncDevice` whose coroutines can be cancelled and run concurrently. Both run their
//! operations on pr-multipath's one runtime thread ([`pr_multipath::blocking`]).
//!
//! It is **not** a Rust API (nothing here is meant to be linked from Rust; use
//! `pr-multipath` directly), it implements no SCSI logic of its own (every command, retry
//! and failover is pr-multipath's), and it is not usable without its Python package: result
//! objects (`pr_sdk._types`) and exceptions (`pr_sdk.errors`) are Python classes that this
//! module instantiates. See `pr-python/README.md`.
//!
//! # Threads, the GIL, fork
//! The blocking front door runs each operation through pr-multipath's runtime bridge
//! (`blocking::block_here`: polled on the caller's thread inside `Python::detach`, the
//! runtime thread driving its IO and timers), waking every 50 ms to let Python run signal
//! handlers (Ctrl-C drops the operation's future, which stops it). The asyncio front door
//! hands the operation to the runtime thread (`blocking::spawn`) when the coroutine is
//! first awaited; its result reaches an asyncio future of the running loop through the
//! thread `pr-sdk-asyncio` (module `asyncio`), the only thread of the module that takes
//! the GIL for an operation. Rust `tracing` events reach Python's `logging` (module
//! `logging`). The module does not declare `gil_used = false`: it is built for the abi3
//! stable ABI, which free-threaded CPython builds do not load. After `fork()`, the child
//! must not use objects made in the parent (pr-multipath's runtime starts anew in the
//! child, but the parent's LUNs and operations stay the parent's).
//!
//! # Errors and panics
//! Every pr-multipath error becomes an instance of a `pr_sdk.errors.PrError` subclass
//! chosen from its `ErrorKind`, with the status and sense bytes of the decisive command;
//! wrong argument types or values raise `TypeError`/`ValueError` naming the argument. A
//! panic (a bug) is caught at the boundary (the runtime task, or the call) and raised as
//! `pr_sdk.errors.InternalError`.

mod aio;
mod asyncio;
mod awaitable;
mod convert;
mod core;
mod errors;
mod fleet;
mod helper;
mod lock;
mod logging;
mod ops;
mod sim;
mod sync;
mod sys;
mod tid;

use pyo3::prelude::*;

/// The `pr_sdk._native` module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let exit_hook = wrap_pyfunction!(core::_at_exit, m)?;
    m.py()
        .import("atexit")?
        .call_method1("register", (exit_hook,))?;
    logging::install(m.py())?;
    m.add_class::<sync::Device>()?;
    m.add_class::<aio::AsyncDevice>()?;
    m.add_class::<tid::PyTransportId>()?;
    m.add_class::<sim::PySim>()?;
    m.add_class::<sim::PySimPath>()?;
    m.add_class::<sim::PyCluster>()?;
    m.add_class::<fleet::CancelToken>()?;
    m.add_class::<helper::HelperClient>()?;
    m.add_class::<helper::SimHelper>()?;
    m.add_class::<lock::DiskLock>()?;
    m.add_class::<lock::LunLock>()?;
    m.add_function(wrap_pyfunction!(fleet::fence, m)?)?;
    m.add_function(wrap_pyfunction!(fleet::unfence, m)?)?;
    m.add_function(wrap_pyfunction!(fleet::fence_async, m)?)?;
    m.add_function(wrap_pyfunction!(fleet::unfence_async, m)?)?;
    m.add_function(wrap_pyfunction!(core::_debug_panic, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
