//! The libmpathpersist-compatible layer: a thin skin over pr-multipath's front door.
//!
//! - [`abi`]: `#[repr(C)]` mirrors of the ABI's structures and constants, with layout
//!   assertions, and the unsafe accessors of its flexible arrays and unions.
//! - [`entry`]: the exported `extern "C"` functions (the only `#[no_mangle]` items).
//! - `symver`: their GNU symbol versions (cdylib build only).
//! - `prout`: the one conversion of a PR OUT call into a `pr_multipath::OutRequest`.
//! - `ops`: which map a descriptor is, its LUN (and the `init_vecs` session's cache), one
//!   PR IN or PR OUT on `pr_multipath::blocking`'s runtime thread, `MPATH_PR_*` codes.
//! - `fill`: pr-core's decoded PR IN responses laid out as the C result structures.
//! - `log`, `trace`, `sys`: messages and `dumpHex`, pr-multipath's `tracing` events at the
//!   library's verbosity, and the libc calls.

pub mod abi;
pub mod entry;
mod fill;
mod log;
mod ops;
mod prout;
mod symver;
mod sys;
mod trace;

pub use fill::MAX_FULL_STATUS_RECORDS;
