//! The libmpathpersist-compatible layer.
//!
//! - [`abi`]: `#[repr(C)]` mirrors of the ABI's structures and constants, with layout
//!   assertions, and the two unsafe accessors of its flexible arrays.
//! - [`entry`]: the exported `extern "C"` functions (the only `#[no_mangle]` items).
//! - `symver`: their GNU symbol versions (cdylib build only).
//! - `ops`, `fill`, `runtime`, `log`, `sys`: the safe implementation on pr-multipath, the
//!   writing of PR IN results, the runtime thread, messages, and the libc calls.

pub mod abi;
pub mod entry;
mod fill;
mod log;
mod ops;
mod runtime;
mod symver;
mod sys;

pub use fill::MAX_FULL_STATUS_RECORDS;
