//! pr-helper is a daemon that carries out SCSI PERSISTENT RESERVE IN/OUT commands for
//! QEMU (and any other program) over qemu-pr-helper's Unix-socket protocol, so that
//! libvirt, KubeVirt or a plain `-object pr-manager-helper,path=...` can use it in place of
//! `qemu-pr-helper`: the same wire protocol, command line, default socket path, systemd
//! socket activation and privilege drop. Built on pr-multipath's front door
//! ([`pr_multipath::Lun`]), it serves multipath maps through their paths with the sense the
//! array really sent, READ FULL STATUS and REGISTER AND MOVE included, and plain devices
//! through SG_IO with their own sense and a configurable timeout. The library also holds a
//! client of the protocol ([`client`]), usable against any helper, and a sans-IO tracker of
//! guests' reservations for live migration ([`tracker`]). It is **not** a SCSI target, a
//! multipath IO stack or a general SG_IO proxy: only PR IN and PR OUT pass, each on the
//! descriptor the client sends; it never opens devices by name.
//!
//! | module | concern |
//! | --- | --- |
//! | [`wire`] | the protocol's frames, sans IO |
//! | [`server`] | connections, one command at a time on each, replies |
//! | [`luns`] | which LUN a client's descriptor reaches |
//! | [`client`] | the protocol's client, async and blocking |
//! | [`tracker`] | guests' keys and reservation types for migration, sans IO |
//! | [`control`] | the tracker's control socket: export, import, hand-over, failback |
//! | [`cli`] | qemu-pr-helper's command line |
//! | [`daemon`] | start-up: socket or systemd activation, pidfile, privileges, signals |
//!
//! `sys` holds the system calls and the only `unsafe` code (descriptors received by
//! `SCM_RIGHTS`, `capset`).

pub mod cli;
pub mod client;
pub mod control;
pub mod daemon;
pub mod luns;
pub mod server;
mod sys;
pub mod tracker;
pub mod wire;

pub use client::{BlockingClient, Client, ClientError};
pub use luns::{DeviceLuns, DeviceOptions, LunSource};
pub use server::Server;
pub use wire::Reply;
