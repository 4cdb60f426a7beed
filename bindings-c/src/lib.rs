//! A drop-in `libmpathpersist.so.0` written in Rust: the libmpathpersist C ABI of
//! multipath-tools (the functions, the `mpath_mx_alloc_len` data object and the internal
//! symbols that `mpathpersist` imports, under their GNU symbol versions from 0.9.4 to
//! 0.14) implemented as a thin skin over [`pr_multipath`]'s front door (`Lun`,
//! `OutRequest`, the `blocking` runtime bridge) and pr-core's decoders, with
//! byte-identical structure layouts, the same return codes and the same in-place result
//! formats, so that programs built against Debian's library (Debian 12's own
//! `/sbin/mpathpersist` included) run on it unchanged through `LD_LIBRARY_PATH`.
//!
//! It is **not** a replacement for the library that `multipathd` links (multipathd calls
//! `update_map_pr` with libmultipath's private `struct multipath`, which this library does
//! not provide), not a native C API (that is the separate `libprsdk`), and not a SCSI
//! stack: every PR command goes through pr-multipath (and, below it, pr-sgio). The
//! versioned shared library is built by `build-compat.sh` (see the README); the plain
//! `cargo build` output is unversioned and only good for tests.
//!
//! Layout: [`compat::abi`] holds the `#[repr(C)]` mirrors (checked against our
//! `include/mpath_persist.h` and Debian's by `tests/c_layout.rs`), [`compat::entry`] the
//! exported functions. Every entry point catches panics, checks its pointers and
//! arguments (`MPATH_PR_SYNTAX_ERROR`), writes only into the caller's structure of the
//! service action, and runs its PR commands on pr-multipath's one runtime thread (or, for
//! a PR IN within an `init_vecs` session, first on the caller's thread).
//!
//! The header and the mirrors are written from documented facts (names, values, types
//! and layouts); no code or text of multipath-tools (GPL-2.0-or-later) is copied. This
//! crate is licensed MIT OR Apache-2.0.

pub mod compat;
