//! Runnable examples of pr-sdk that need no hardware and no root.
//!
//! - [`cluster_demo`]: two cluster nodes on [pr-sim](pr_sim), each with its own two paths
//!   to three shared LUNs, driven through [pr-multipath](pr_multipath): both register,
//!   one reserves (Write Exclusive, Registrants Only), one of its paths fails and comes
//!   back, the other node fences it, and the state of every LUN is printed after each
//!   step. Run it with `cargo run -p pr-examples --bin cluster-demo`.
//!
//! The logic lives in this library so that the integration tests run exactly what the
//! binaries run.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cluster_demo;
