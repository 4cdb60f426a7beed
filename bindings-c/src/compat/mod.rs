//! The libmpathpersist-compatible layer.
//!
//! For now only the ABI definitions live here; the `extern "C"` entry points and
//! their symbol versions will be added in a later step.

pub mod abi;
