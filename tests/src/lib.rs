//! `pr-tests`: the project's integration tests that span crates. Not published; the tests
//! are in `tests/tests/`, the library holds what they share with the other faces' sides
//! of the cross-face test.
//!
//! - `lab_diff` (`tests/tests/lab_diff.rs`): the differential test, random PR command
//!   sequences on a real LIO LUN in the project's QEMU lab (through pr-sgio) and on a
//!   `pr-sim` LUN with the LIO personality, in lock step (`pr-sim/DIFFERENTIAL.md`). Its
//!   tests are `#[ignore]`d and run in the lab through `lab/test.sh`; they read the lab
//!   topology through `pr-lab-support`.
//! - `cross_face` ([`cross_face`], `tests/tests/cross_face.rs`, `tests/cross-face.sh`):
//!   one scenario (register on two nodes, reserve, a path fails, fence, retry the fence)
//!   through every face of the SDK (Rust async, Rust blocking, the native C API, Python)
//!   on the simulator, ending in the same dump: the same per-LUN results and every field
//!   of every LUN's READ FULL STATUS.
#![forbid(unsafe_code)]

pub mod cross_face;
