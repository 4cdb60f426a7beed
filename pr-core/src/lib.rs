//! SCSI Persistent Reservation wire formats for Linux tooling: PERSISTENT RESERVE IN/OUT
//! CDBs, PR OUT parameter lists, every PR IN response, TransportIDs, SCSI status and sense
//! data, and one typed model of a completed command; and the NVMe reservation commands,
//! Reservation Report data and completion status ([`nvme`]).
//!
//! `pr-core` is **not** a transport: it performs no IO, reads no clock, allocates nothing on
//! its encode and decode paths, and contains no `unsafe` code. Bytes go in and come out; a
//! caller (`pr-sgio` over SG_IO, `pr-sim` in software, or anything else) moves them. Most
//! users want `pr-multipath`, which drives these formats over every path of a multipath LUN.
//!
//! # Layers
//! - [`types`]: reservation keys, types, scopes, service actions and PR OUT flags.
//! - [`cdb`]: the 10-byte PERSISTENT RESERVE IN (5Eh) and OUT (5Fh) CDBs.
//! - [`prout`]: validated PR OUT requests and their parameter lists (basic and REGISTER AND MOVE).
//! - [`prin`]: borrowed, zero-copy views of the four PR IN responses, and the allocation-length
//!   rule ([`prin::alloc`]).
//! - [`transport_id`]: every SPC-5 TransportID format, binary and the textual forms of `sg_persist`.
//! - [`sense`]: SCSI status codes, fixed and descriptor sense data, sense key and ASC/ASCQ names.
//! - [`outcome`]: the typed result of a completed command, which keeps its sense bytes.
//! - [`nvme`]: NVMe reservations under the same model: the Register, Acquire, Release and
//!   Report commands, the Reservation Status data (64- and 128-bit host identifiers), the
//!   NVMe reservation types mapped one-to-one onto SCSI's, and the completion status.
//! - [`transport`]: the async transport trait that every device, path or simulator implements.
//! - [`display`]: human-readable rendering of decoded responses (kept apart from decoding).
//! - `serde_support` (feature `serde`): the plain, JSON-ready form of every result type.
//!
//! # Cargo features
//! - `serde` (off by default): `serde::Serialize` for every value a caller gets back
//!   (keys, types, actions, PR IN results, TransportIDs, statuses, sense, command errors)
//!   and `serde::Deserialize` for the simple values (keys, reservation types, scopes,
//!   service actions, PR OUT flags). The representation, stable and JSON-ready (keys are
//!   hex strings, names snake_case), is documented in the `serde_support` module. The
//!   encoders and decoders do not use it and still allocate nothing.
//!
//! # Example
//! ```
//! use pr_core::prout::PrOut;
//! use pr_core::types::{ReservationKey, ReservationType};
//!
//! // REGISTER key 0x1234 from an unregistered nexus, then reserve Write Exclusive, Registrants Only.
//! let reg = PrOut::register(ReservationKey(0), ReservationKey(0x1234));
//! let mut cdb = [0u8; 10];
//! let mut params = [0u8; 24];
//! reg.encode_cdb(&mut cdb).unwrap();
//! let n = reg.encode_params(&mut params).unwrap();
//! assert_eq!((cdb[0], cdb[1], n), (0x5f, 0x00, 24));
//! assert_eq!(&params[8..16], &0x1234u64.to_be_bytes());
//!
//! let res = PrOut::reserve(ReservationKey(0x1234), ReservationType::WriteExclusiveRegistrantsOnly);
//! res.encode_cdb(&mut cdb).unwrap();
//! assert_eq!(cdb[2], 0x05);
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::as_conversions,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]
#![deny(missing_docs, unreachable_pub)]

pub mod cdb;
pub mod display;
pub mod error;
pub mod nvme;
pub mod outcome;
pub mod prin;
pub mod prout;
pub mod sense;
#[cfg(feature = "serde")]
pub mod serde_support;
pub mod transport;
pub mod transport_id;
pub mod types;

pub use error::{BuildError, DecodeError, Error};
pub use types::{PrInAction, PrOutAction, PrOutFlags, ReservationKey, ReservationType, Scope};
