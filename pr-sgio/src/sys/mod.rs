//! Raw Linux interfaces, one file per kernel interface:
//! - [`sg`]: `struct sg_io_hdr` and the `SG_IO` ioctl, and the sg v3 `write()`/`read()`
//!   queue (`<scsi/sg.h>`);
//! - [`blockpr`]: the block-layer persistent reservation ioctls (`<linux/pr.h>`);
//! - [`dm`]: the device-mapper ioctls (`<linux/dm-ioctl.h>`).
//!
//! Their items are re-exported here, so `pr_sgio::sys::sg_io` and `pr_sgio::sys::sg::sg_io`
//! name the same function.
//!
//! This is the only module of the crate with `unsafe` code. Every item that crosses into the
//! kernel is wrapped here in a safe function whose arguments own or borrow all the memory the
//! kernel reads or writes, so that the rest of the crate never handles a raw pointer. The raw
//! ioctl functions that nix generates stay private to the file of their interface.
//!
//! The layouts were written from the kernel's UAPI headers (`include/scsi/sg.h`,
//! `include/uapi/linux/pr.h`, `include/uapi/linux/dm-ioctl.h`) and are checked by `const`
//! assertions (on x86_64 for the pointer-carrying `sg_io_hdr`, on every target for the
//! others) and by unit tests.

pub mod blockpr;
pub mod dm;
pub mod sg;

pub use blockpr::*;
pub use dm::*;
pub use sg::*;
