//! A SCSI Persistent Reservation device server in software: simulated logical units that
//! answer PERSISTENT RESERVE IN/OUT (and the TEST UNIT READY, READ, WRITE, INQUIRY, REQUEST
//! SENSE, READ CAPACITY and REPORT LUNS commands around them) as SPC-5 says, or as the Linux
//! LIO target does, seen by many initiator ports through many target ports. It is **not** a
//! SCSI target for the kernel: nothing here is visible to the operating system, no device
//! node appears, and the simulator performs no IO besides the optional APTPL state file. It
//! is a test bed for code written against pr-core's
//! [`Transport`](pr_core::transport::Transport) trait, which runs on it unchanged.
//!
//! # Layers
//! - [`LogicalUnit`]: the deterministic device server of one LU. Its
//!   [`execute`](LogicalUnit::execute) takes a nexus, a CDB and data-out bytes and returns
//!   status, sense and data-in ([`Reply`]); no async, no clock, unit-testable directly.
//! - [`Sim`]: a target with target ports (relative target port identifiers 1, 2, ...),
//!   logical units and initiator ports (each with a pr-core
//!   [`TransportId`](pr_core::transport_id::TransportId)), behind one mutex.
//! - [`SimPath`]: one I_T nexus to one LU, cloneable, `Send + Sync`, implementing
//!   `Transport`, with per-path faults (down, latency, injected UNIT ATTENTION / BUSY / TASK
//!   SET FULL, lost replies) drawn from a seeded generator, and a trace of every command.
//!   Latency is slept with tokio's timer (follows a paused clock) or, per path, with
//!   [`timer::precise_sleep`] (one background thread, sub-millisecond, real clock).
//! - [`sequence`]: reproducible random PR command sequences and a runner that records what any
//!   set of transports answered, for differential tests (sim against sim, LIO against the
//!   [`Personality::Lio`] or [`Personality::Lio7_1`] simulator).
//!
//! Every departure of the LIO personalities from SPC-5 is listed, with its source and its
//! tests, in the crate's `DEPARTURES.md` (Linux 6.1's LIO, and what 7.1 changed); `BENCHMARKS.md` gives commands per second and
//! memory per LUN (about 1 KiB: 100,000 LUNs in about 100-200 MiB).
//!
//! # Example
//! ```
//! use pr_core::prout::PrOut;
//! use pr_core::transport::{Cdb, Request, Transport};
//! use pr_core::types::{ReservationKey, ReservationType};
//! use pr_sim::{ClusterSpec, Sim};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let cluster = Sim::cluster(&ClusterSpec::default()); // 2 nodes x 2 paths, 3 LUNs
//! let path = &cluster.nodes[0].paths[0][0];
//! let reg = PrOut::register(ReservationKey(0), ReservationKey(0xaa));
//! let mut cdb = [0u8; 10];
//! let mut params = vec![0u8; 24];
//! reg.encode_cdb(&mut cdb).unwrap();
//! reg.encode_params(&mut params).unwrap();
//! let r = path.execute(Request::data_out(Cdb::from(cdb), params)).await.unwrap();
//! assert!(r.completion.is_good());
//! let generation = cluster.sim.with_lun(cluster.luns[0], |lu| lu.generation()).unwrap();
//! assert_eq!(generation, 1);
//! # let _ = ReservationType::WriteExclusive;
//! # });
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

pub mod config;
pub mod lun;
mod persist;
pub mod reply;
pub mod rng;
pub mod sequence;
pub mod sim;
pub mod timer;

pub use config::{BLOCK_LEN, LunConfig, Personality};
pub use lun::{ItNexus, LogicalUnit, RegistrationInfo, ReservationInfo};
pub use reply::{Condition, FieldRef, Reply};
pub use rng::SplitMix64;
pub use sim::{
    Cluster, ClusterSpec, DEFAULT_TRACE_LIMIT, InitiatorId, Injection, Latency, Lun, Nexus, Node,
    Sim, SimCore, SimError, SimPath, TraceEntry, TraceOutcome, lab_iscsi_nexuses,
    lab_iscsi_topology, lab_loop_nexuses, lab_loop_topology,
};
