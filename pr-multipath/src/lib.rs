//! The front door of the PR SDK: SCSI persistent reservations on one LUN of any kind (a
//! dm-multipath map reached through many paths, one SCSI device, simulated paths, any
//! transport) and across many LUNs, asynchronous or blocking, through one type,
//! [`Lun`]. Every face of the SDK (the C libraries, Python, and the command line and daemon
//! to come) is a thin skin over this crate. It does what libmpathpersist (multipath-tools
//! 0.13+) does — fan-out of REGISTER to every path, failover, the failed-path workarounds,
//! multipathd's prstatus/prkey/prhold bookkeeping — and what it cannot: READ FULL STATUS
//! without a 32-entry cap, REGISTER AND MOVE through a map, the sense data of every failure,
//! a per-path report of every operation, a rollback policy, and idempotent, bounded-concurrency
//! operations across many LUNs with progress and cancellation. It is **not** a multipath IO
//! stack (it never routes data IO; dm-multipath does) nor a replacement for multipathd (it
//! only talks to it), it does no SG_IO itself (pr-sgio does), and it is not a C ABI (that
//! is `pr-c` and `pr-mpathpersist`).
//! No `unsafe` code.
//!
//! # Semantics per action
//!
//! | action | paths | on failure |
//! | --- | --- | --- |
//! | PR IN (all four) | first usable path that answers, in path-group order | next path; ILLEGAL REQUEST stops |
//! | REGISTER, REGISTER AND IGNORE | every usable path concurrently; ALL_TG_PT: one per SCSI host | conflict after success elsewhere: [`ConflictPolicy`] |
//! | RESERVE | one path | next path on path failure or conflict; held already on an unusable path: success |
//! | RELEASE | every usable path | still held on an unusable path: release workaround |
//! | CLEAR, PREEMPT, PREEMPT AND ABORT, REGISTER AND MOVE | one path | next path on path failure |
//! | REGISTER with SPEC_I_PT ([`MultipathLun::register_spec_i_pt`]) | SPEC_I_PT and the TransportIDs once, through the first usable path; plain REGISTER on the others | next path on path failure; then as REGISTER |
//! | REPLACE LOST RESERVATION ([`MultipathLun::replace_lost_reservation`]) | one path, then REGISTER AND IGNORE on the others | next path on path failure |
//!
//! Each command is retried on its path: UNIT ATTENTION up to 5 times, NOT READY "becoming
//! ready"/"operation in progress" with backoff, BUSY/TASK SET FULL with backoff
//! ([`RetryPolicy`]).
//!
//! # Failed-path cases (multipath-tools 0.13 rework)
//!
//! - **Release with the holder path down**: RELEASE on the usable paths leaves the
//!   reservation held by our key; after the safety check: suspend the map (noflush),
//!   PREEMPT our own key on a usable path (this moves the reservation there and removes
//!   the registrations of our other paths), RELEASE there, REGISTER AND IGNORE on every
//!   usable path, resume.
//! - **Key change while holding on an unusable path**: after re-registering, READ
//!   RESERVATION still shows the old key; after the safety check, PREEMPT (new key, old key,
//!   same type) moves the reservation to the new key.
//! - **Unregister while holding**: release first (with the workaround if needed, which then
//!   also unregisters the last path), then unregister every path.
//! - **Preempting an all-registrants reservation** (SA key 0) and **self-preempt** (SA key
//!   = own key): run as suspend, PREEMPT, re-register our paths, resume, because the PREEMPT
//!   removes our other paths' registrations too.
//!
//! # The safety check, and what it cannot see
//!
//! Before preempting on the caller's behalf (release workaround, key change), pr-multipath
//! checks that this host really holds the reservation: READ RESERVATION must report our key
//! **and** either this [`MultipathLun`]'s own record (it made the RESERVE or PREEMPT, or the
//! caller seeded it with [`MultipathLun::record_hold`]) or multipathd's `prhold` must say we
//! took it. The check cannot see **another node that uses the same key**: SCSI reports
//! only the key, so a reservation taken by that node looks exactly like ours, and if our own
//! record or prhold is stale (we held it once, the other node took it since), we will preempt
//! the other node. Nodes must use distinct keys (multipath-tools says the same: it "has never
//! worked correctly if two nodes use the same reservation key"). It also cannot tell which
//! of our paths holds the reservation; it infers "an unusable one" from the key still
//! holding after RELEASE went to every usable path. With Debian 12's multipathd 0.9.4 there
//! is no prhold: only the own record counts (or [`LunOptions::trust_holder_key`]).
//!
//! # Many maps
//!
//! [`MultipathLun::from_maps`] and [`MultipathLun::from_all_maps`] build many LUNs with one
//! shared discovery, one reading of multipath.conf and the prkeys file, one multipathd
//! client (one capability probe, reused socket connections), discovering the maps and
//! opening their path devices on parallel threads. The path states read then count as
//! current for [`sgio::FromMapOptions::fresh_for`] (2 s by default): the first operations
//! do not re-read the map's status (see [`MultipathLun::with_states_fresh_for`]).
//!
//! # multipathd
//!
//! Optional ([`MultipathLun::with_multipathd`]): [`multipathd::Multipathd`] speaks the
//! socket protocol and detects whether prhold exists ([`multipathd::Capabilities`]). The
//! configured `reservation_key` ([`config`]) is enforced with multipathd's error text,
//! "configured reservation key doesn't match".
//!
//! # The front door
//!
//! [`Lun`] is the one LUN type users hold, whatever reaches the device
//! ([`AnyPath`]: SG_IO on a disk, an sg node or a map; the block layer's PR ioctls;
//! simulated paths with the `sim` feature; any other transport through
//! [`DynTransport`]). [`Lun::open`] takes what the user has (a map name,
//! `/dev/mapper/NAME`, `/dev/dm-N`, `/dev/sdX`, `/dev/sgN`; [`Lun::from_fd`] an open
//! descriptor): a map becomes the LUN of its paths, one device a LUN of one path, so
//! one engine serves both. Every PR OUT action is one [`OutRequest`]
//! ([`MultipathLun::execute`]), every PR IN answer one [`InResult`]
//! ([`MultipathLun::pr_in`]); [`fleet`] runs fence and unfence over many LUNs;
//! [`blocking`] offers all of it to callers that block, on the project's one runtime
//! thread; [`Error::kind`] sorts every error for faces that map errors to their own
//! vocabulary; [`passthrough`] runs a raw PR CDB and parameter list that another
//! initiator sent ([`MultipathLun::pass_through`], for the pr-helper daemon). Every command is logged with `tracing` (path, action, outcome, duration,
//! retries), and every LUN operation in a span.
//!
//! # Cargo features
//! - `sim`: simulated paths (pr-sim) behind [`Lun`] (`Lun::simulated`); the bindings
//!   turn it on.
//! - `serde`: `serde::Serialize` for every result (reports, PR IN answers, fleet results,
//!   errors) in a stable, JSON-ready form, described in [`report`]; enables pr-core's
//!   `serde`.
//!
//! # Example: two nodes, one fences the other (runs on the simulator)
//!
//! ```
//! use pr_core::types::{ReservationKey, ReservationType::WriteExclusiveRegistrantsOnly as WE_RO};
//! use pr_multipath::{FenceAction, FleetOptions, LunOutcome, Lun, RegisterRequest, fence};
//! use pr_sim::{ClusterSpec, Sim};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // Two hosts with two paths each to three shared LUNs.
//! let cluster = Sim::cluster(&ClusterSpec::default());
//! let luns_of = |node: usize| -> Vec<Lun> {
//!     cluster.nodes[node].paths.iter().enumerate()
//!         .map(|(i, paths)| Lun::simulated(format!("lun{i}"), paths.clone()))
//!         .collect()
//! };
//! let (node1, node2) = (luns_of(0), luns_of(1));
//! let (k1, k2) = (ReservationKey(0x1111), ReservationKey(0x2222));
//! for lun in &node1 {
//!     lun.register(RegisterRequest::register_ignore(k1)).await?; // every path
//!     lun.reserve(k1, WE_RO).await?;
//! }
//! for lun in &node2 {
//!     lun.register(RegisterRequest::register_ignore(k2)).await?;
//! }
//! // Node 2 fences node 1 from every LUN at once, then retries: a fence is idempotent.
//! let luns: Vec<&Lun> = node2.iter().collect();
//! let options = FleetOptions { fence_action: FenceAction::Preempt, ..FleetOptions::default() };
//! for r in fence(&luns, k2, k1, WE_RO, &options).await {
//!     assert_eq!(r.outcome(), LunOutcome::Ok, "{}", r.lun);
//! }
//! for r in fence(&luns, k2, k1, WE_RO, &options).await {
//!     assert_eq!(r.outcome(), LunOutcome::AlreadyFenced, "{}", r.lun);
//! }
//! for lun in &node2 {
//!     assert_eq!(lun.read_keys().await?.keys, vec![k2, k2]); // node 1's keys are gone
//!     let held = lun.read_reservation().await?.reservation.expect("held");
//!     assert_eq!(held.key, k2);
//! }
//! # Ok::<(), pr_multipath::Error>(())
//! # }).unwrap();
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod any_path;
pub mod blocking;
pub mod config;
pub mod error;
pub mod exec;
pub mod fleet;
pub mod kind;
pub mod lun;
pub mod map_control;
pub mod multipathd;
mod on_thread;
pub mod open;
pub mod passthrough;
pub mod path;
pub mod path_keys;
pub mod report;
pub mod request;
pub mod sgio;

pub use any_path::{AnyPath, DynTransport};
pub use error::{Error, Failure, Result};
pub use exec::RetryPolicy;
pub use fleet::{FenceAction, FleetOptions, LunOutcome, LunResult, Progress, fence, unfence};
pub use kind::ErrorKind;
pub use lun::{
    ConflictPolicy, FullStatusInfo, Hold, KeysInfo, LunOptions, MultipathLun, RegisterRequest,
    ReservationInfo, StatusEntry,
};
pub use map_control::{DmMapControl, MapControl};
pub use open::{Classified, DevT, DeviceKind, KeptClassifications, Lun, OpenOptions, classify_fd};
pub use passthrough::RawReply;
pub use path::{Path, PathRefresher, PathState};
pub use path_keys::{PathKey, nexus_names};
pub use report::{Command, MapEvent, OutCommand, PathRegistration, Phase, Report, Step};
pub use request::{BasicOut, BasicOutError, InResult, OutRequest};
pub use sgio::FromMapOptions;
pub use tokio_util::sync::CancellationToken;
