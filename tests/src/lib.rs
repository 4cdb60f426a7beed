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
//! - `lab_cross_face` (`tests/tests/lab_cross_face.rs`, with `pr-c/tests/c/lab_cross_face.c`):
//!   the same kind of scenario on a real dm-multipath map in the QEMU lab (node 1 registers
//!   on every path and reserves type 5, node 2 registers with `sg_persist`, a node-1 path
//!   fails, node 1 preempts node 2, then retries), run once through the drop-in
//!   `libmpathpersist.so.0` (Debian's `mpathpersist` with `LD_LIBRARY_PATH`) and once
//!   through the native C API (the C program, compiled by gcc at run time against the
//!   libpr_sdk.so that this crate's dev-dependency on pr-c builds). The LUN's READ FULL
//!   STATUS and READ RESERVATION (generation relative to the start, descriptors sorted)
//!   must be identical between the two and what the scenario implies; each face's answers
//!   are printed, not compared. `#[ignore]`d, runs on both lab topologies
//!   (`lab/test.sh -- lab_cross_face`); needs `target/lab-test/compat-lib`, which
//!   `lab/test.sh` builds.
#![forbid(unsafe_code)]

pub mod cross_face;
