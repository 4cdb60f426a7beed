//! `pr-sgio` is the asynchronous Linux transport of the SDK: it sends SCSI commands to
//! SCSI disks (`/dev/sdX`), SCSI generic nodes (`/dev/sgN`) and dm-multipath maps with the
//! `SG_IO` ioctl (or the sg v3 `write()`/`read()` interface), offers the block layer's
//! persistent reservation ioctls as a second transport, and discovers dm-multipath maps and
//! their paths through device-mapper ioctls and sysfs. Both transports implement
//! [`pr_core::transport::Transport`].
//!
//! It is **not** a multipath implementation: it never picks, fails over or fans out across
//! paths (that is `pr-multipath`'s job; here a map is just one more device node, and
//! discovery only reports what the kernel says). It defines **no wire formats** either: CDBs,
//! parameter lists, PR IN responses and the PR IN allocation-length rule are `pr-core`'s,
//! and it sends no PR command of its own: a [`Device`] executes whatever
//! [`Request`](pr_core::transport::Request) its caller built.
//!
//! # Modules
//! - [`device`]: [`Device`], an SG_IO transport on an opened node, and its [`OpenOptions`].
//! - [`engine`]: the bounded blocking pool and the sg v3 asynchronous engine.
//! - [`blockpr`]: [`BlockPrDevice`], the block-layer PR ioctl transport.
//! - [`dm`]: a device-mapper control-node client (list, status, table, suspend, resume).
//! - [`mod@classify`]: what a user gave (a map name, a node, an fd) classified: a multipath map,
//!   a SCSI disk, an sg node, or an error saying why not.
//! - [`discover`]: multipath maps, their paths and path states; VPD page 83h identities.
//! - [`nexus`]: the I_T nexus of a SCSI device (initiator port TransportID, relative
//!   target port) from sysfs, per transport.
//! - [`sysfs`]: device numbers, SCSI addresses and node identification.
//! - [`sys`]: the raw kernel structures and ioctls (the only `unsafe` code).
//!
//! # Runtime
//! Futures must be polled inside a tokio runtime with the time driver enabled.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

pub mod blockpr;
pub mod classify;
pub mod device;
pub mod discover;
pub mod dm;
pub mod engine;
pub mod error;
pub mod nexus;
pub mod sys;
pub mod sysfs;

pub use blockpr::BlockPrDevice;
pub use classify::{
    Classified, ClassifiedDevices, classify, classify_dev_t, classify_fd, identify_dev_t,
};
pub use device::{Device, Engine, OpenOptions};
pub use engine::Limiter;
pub use error::{Error, Result};
pub use nexus::{ItNexus, NexusError};
pub use sysfs::{DevT, DeviceKind, Hctl};
