//! `pr-tests`: the project's integration tests that span crates. Not published; the library
//! is empty, the tests are in `tests/tests/`.
//!
//! - `lab_diff` (`tests/tests/lab_diff.rs`): the differential test, random PR command
//!   sequences on a real LIO LUN in the project's QEMU lab (through pr-sgio) and on a
//!   `pr-sim` LUN with the LIO personality, in lock step (`pr-sim/DIFFERENTIAL.md`). Its
//!   tests are `#[ignore]`d and run in the lab through `lab/test.sh`; they read the lab
//!   topology through `pr-lab-support`.
//! - To come: the cross-face test, one scenario run through every face of the SDK (Rust
//!   async, Rust blocking, the native C API and Python) with the same results.
#![forbid(unsafe_code)]
