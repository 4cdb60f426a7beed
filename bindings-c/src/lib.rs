//! ABI mirrors and C header of the libmpathpersist compatibility layer.
//!
//! This crate currently provides only the groundwork of the C bindings: byte-exact
//! `#[repr(C)]` Rust mirrors of every structure and constant of the libmpathpersist
//! ABI ([`compat::abi`]), with compile-time size, alignment and offset assertions for
//! x86_64, and our own re-declaration of that ABI as a C header
//! (`include/mpath_persist.h`), checked by `_Static_assert`s in `tests/c/`.
//! It is **not** yet a drop-in `libmpathpersist.so.0`: it builds as an rlib only,
//! exports no C symbols, carries no symbol versions and performs no I/O. The
//! exported compatible library and the native C API come later.
//!
//! The header and the mirrors are written from documented facts (names, values,
//! types and layouts); no code or text of multipath-tools (GPL-2.0-or-later) is
//! copied. This crate is licensed MIT OR Apache-2.0.

pub mod compat;
