// SPDX-License-Identifier: MIT OR Apache-2.0
//! The exported `pr_*` functions, constants and C types, one file per concern. Every
//! function body runs inside the panic boundary of the private `ffi` module and reaches
//! its pointers only through its helpers; no file here has `unsafe`.
//!
//! - `library`: versions, result-code messages, `pr_library_exit`.
//! - `errors`: the `pr_error` getters.
//! - `prout`: the PR OUT constants, `pr_out_params`, and the one conversion of C arguments
//!   into pr-multipath's `OutRequest`.
//! - `call`: how a call on a `pr_device` or a `pr_lun` runs (PR OUT, PR IN, the result
//!   objects made from an `InResult`).
//! - `device`, `lun`: opening devices and LUNs, and their actions.
//! - `results`: the PR IN result objects and their getters.
//! - `fleet`: cancellation tokens, many-LUN fence and unfence.
//! - `lock`: VM disk locks and LUN locks (pr-lock).
//! - `sim`: the simulator, simulated clusters, fault injection.
//! - `log`: routing pr-multipath's `tracing` events to a C callback.

// In the order of the header (cbindgen follows it; separate groups keep rustfmt from
// sorting them).
mod library;

mod errors;

mod prout;

mod device;

mod lun;

mod results;

mod fleet;

mod lock;

mod sim;

mod log;

mod call;

pub use device::*;
pub use errors::*;
pub use fleet::*;
pub use library::*;
pub use lock::*;
pub use log::*;
pub use lun::*;
pub use prout::*;
pub use results::*;
pub use sim::*;
