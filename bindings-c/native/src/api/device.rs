// SPDX-License-Identifier: MIT OR Apache-2.0
//! `pr_device`: one device (a SCSI disk, an sg node, a multipath map's node, one simulated
//! path) as pr-multipath's LUN of one path, and its actions.
#![allow(non_camel_case_types)]

use std::ffi::{CString, c_char, c_int};
use std::os::fd::AsFd;

use pr_core::types::PrInAction;
use pr_multipath::blocking::{self, runtime::block_on_blocking};
use pr_multipath::{Lun, OpenOptions};

use crate::api::call::{Target, do_in, do_out, do_out_simple};
use crate::api::prout::{
    PR_OUT_CLEAR, PR_OUT_PREEMPT, PR_OUT_PREEMPT_AND_ABORT, PR_OUT_REGISTER,
    PR_OUT_REGISTER_AND_IGNORE, PR_OUT_REGISTER_AND_MOVE, PR_OUT_RELEASE,
    PR_OUT_REPLACE_LOST_RESERVATION, PR_OUT_RESERVE, check_flags, move_params, params,
    pr_out_params,
};
use crate::api::results::{
    caps_of, full_of, keys_of, pr_capabilities, pr_full_status, pr_keys, pr_reservation,
    reservation_of,
};
use crate::api::sim::pr_sim;
use crate::error::{ErrorInfo, cstring, pr_error, pr_result};
use crate::ffi::{
    Handle, Out, boundary, boundary_or, dup_fd, free_handle, handle_ref, into_handle, str_arg,
};

/// `pr_device_open*`: open read-only (PR IN only; PR OUT is refused).
pub const PR_OPEN_READ_ONLY: u32 = 0x01;

/// One device: a SCSI disk (`/dev/sdX`), an sg node (`/dev/sgN`), a multipath map's node
/// (the kernel then picks the path), or one simulated path. It is pr-multipath's LUN of
/// one path, so every action has the LUN's semantics on that path (UNIT ATTENTION and
/// BUSY retried per pr-multipath's retry policy; REGISTER to key 0 while holding the
/// reservation releases it first), except that a path failure never makes the device
/// refuse the next call. Thread-safe: one handle may be used from several threads at once.
pub struct pr_device {
    _private: [u8; 0],
}

pub(crate) struct DeviceHandle {
    lun: blocking::Lun,
    name: CString,
    read_only: bool,
}

impl Handle for pr_device {
    type Inner = DeviceHandle;
}

impl DeviceHandle {
    fn new(lun: blocking::Lun, read_only: bool) -> Self {
        DeviceHandle {
            name: cstring(lun.name()),
            lun,
            read_only,
        }
    }
}

fn target(d: *const pr_device) -> Result<Target, ErrorInfo> {
    let h = handle_ref(d, "device")?;
    Ok(Target {
        lun: h.lun.clone(),
        device: true,
        read_only: h.read_only,
    })
}

fn open_options(flags: u32, function: &str) -> Result<(OpenOptions, bool), ErrorInfo> {
    check_flags(flags, PR_OPEN_READ_ONLY, function)?;
    let read_only = flags & PR_OPEN_READ_ONLY != 0;
    let options = OpenOptions {
        map_as_device: true,
        fd_read_only: read_only,
        ..OpenOptions::default()
    };
    Ok((options, read_only))
}

/// Opens a device by path or name (`/dev/sdb`, `sdb`, `/dev/sg3`, a map's
/// `/dev/mapper/NAME` or `/dev/dm-N`: SG_IO to the map node, as `sg_persist` does; for the
/// LUN of a map's paths use `pr_lun_open`). `PR_OPEN_READ_ONLY`: opened `O_RDONLY`, PR OUT
/// refused with `PR_ERR_INVALID_REQUEST`. Errors name what was given: `PR_ERR_NOT_FOUND`,
/// `PR_ERR_NOT_SCSI` (a regular file, a directory, `/dev/null`, a partition, ...),
/// `PR_ERR_PERMISSION_DENIED`, `PR_ERR_OS`. The device's name is its kernel name (`sdb`).
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_open(
    path: *const c_char,
    flags: u32,
    out: *mut *mut pr_device,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let path = str_arg(path, "path")?;
        let (options, read_only) = open_options(flags, "pr_device_open")?;
        let out = Out::new(out, "out")?;
        let lun = blocking::Lun::open_with(path, &options)?;
        out.write(into_handle::<pr_device>(DeviceHandle::new(lun, read_only)));
        Ok(())
    })
}

/// Opens the device a file descriptor of the caller refers to, anew (with the access
/// `flags` ask for). The caller keeps its descriptor. A negative descriptor gives
/// `PR_ERR_INVALID_ARGUMENT`, one that is not open `PR_ERR_NOT_FOUND`; a regular file,
/// a directory or `/dev/null` gives `PR_ERR_NOT_SCSI`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_open_fd(
    fd: c_int,
    flags: u32,
    out: *mut *mut pr_device,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        if fd < 0 {
            return Err(ErrorInfo::invalid(
                "fd",
                format!("{fd} is not a file descriptor"),
            ));
        }
        let (options, read_only) = open_options(flags, "pr_device_open_fd")?;
        let out = Out::new(out, "out")?;
        let owned = dup_fd(fd, "fd")?;
        let lun = block_on_blocking(move || Lun::from_fd(owned.as_fd(), &options))??;
        out.write(into_handle::<pr_device>(DeviceHandle::new(
            blocking::Lun::from(lun),
            read_only,
        )));
        Ok(())
    })
}

/// Opens one simulated path of `sim` (an id from `pr_sim_add_path` or
/// `pr_sim_cluster_path`) as a device named after the path.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_open_sim(
    sim: *const pr_sim,
    path: u32,
    out: *mut *mut pr_device,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let p = handle_ref(sim, "sim")?.path(path, "path")?;
        let out = Out::new(out, "out")?;
        let name = pr_core::transport::Transport::name(&p).to_owned();
        let lun = blocking::Lun::from(Lun::of_one_path(name, p));
        out.write(into_handle::<pr_device>(DeviceHandle::new(lun, false)));
        Ok(())
    })
}

/// Frees a device (closes it). NULL is a no-op. Commands in flight on other threads keep
/// the device open until they finish.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_free(device: *mut pr_device) {
    boundary_or((), || free_handle(device));
}

/// The device's name (its kernel name, e.g. `sdb`, or the simulated path's name); valid as
/// long as the handle. NULL for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_name(device: *const pr_device) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        handle_ref(device, "device").map_or(std::ptr::null(), |d| d.name.as_ptr())
    })
}

/// Any PR OUT service action (`PR_OUT_*`) with its arguments in `params`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_out(
    device: *const pr_device,
    service_action: u32,
    params: *const pr_out_params,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out(|| target(device), service_action, params, err)
}

/// REGISTER: from `key` (0 when not registered) to `new_key` (0: unregister). Flags:
/// `PR_FLAG_APTPL`, `PR_FLAG_ALL_TG_PT`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_register(
    device: *const pr_device,
    key: u64,
    new_key: u64,
    flags: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    let p = params(key, new_key, 0, flags);
    do_out_simple(|| target(device), PR_OUT_REGISTER, p, err)
}

/// REGISTER AND IGNORE EXISTING KEY to `new_key`. Flags: `PR_FLAG_APTPL`,
/// `PR_FLAG_ALL_TG_PT`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_register_ignore(
    device: *const pr_device,
    new_key: u64,
    flags: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    let p = params(0, new_key, 0, flags);
    do_out_simple(|| target(device), PR_OUT_REGISTER_AND_IGNORE, p, err)
}

/// RESERVE with `type_` (`PR_TYPE_*`).
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_reserve(
    device: *const pr_device,
    key: u64,
    type_: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    let p = params(key, 0, type_, 0);
    do_out_simple(|| target(device), PR_OUT_RESERVE, p, err)
}

/// RELEASE of a reservation of `type_`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_release(
    device: *const pr_device,
    key: u64,
    type_: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    let p = params(key, 0, type_, 0);
    do_out_simple(|| target(device), PR_OUT_RELEASE, p, err)
}

/// CLEAR: removes every registration and the reservation.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_clear(
    device: *const pr_device,
    key: u64,
    err: *mut *mut pr_error,
) -> pr_result {
    let p = params(key, 0, 0, 0);
    do_out_simple(|| target(device), PR_OUT_CLEAR, p, err)
}

/// PREEMPT (`abort` false) or PREEMPT AND ABORT (`abort` true) of `victim` by `key`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_preempt(
    device: *const pr_device,
    key: u64,
    victim: u64,
    type_: u32,
    abort: bool,
    err: *mut *mut pr_error,
) -> pr_result {
    let sa = if abort {
        PR_OUT_PREEMPT_AND_ABORT
    } else {
        PR_OUT_PREEMPT
    };
    let p = params(key, victim, type_, 0);
    do_out_simple(|| target(device), sa, p, err)
}

/// REGISTER AND MOVE: moves the reservation held by `key` to the nexus of `transport_id`
/// (`sg_persist` text form, e.g. "sas,5001405000010000" or
/// "iqn.2003-01.org.linux-iscsi.x:y,i,0x23d000000001") through target port
/// `relative_target_port`, registering it with `dest_key`. Flags: `PR_FLAG_UNREG`,
/// `PR_FLAG_APTPL`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_register_and_move(
    device: *const pr_device,
    key: u64,
    dest_key: u64,
    type_: u32,
    transport_id: *const c_char,
    relative_target_port: u16,
    flags: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    let tids = [transport_id];
    let p = move_params(key, dest_key, type_, flags, &tids, relative_target_port);
    do_out_simple(|| target(device), PR_OUT_REGISTER_AND_MOVE, p, err)
}

/// REPLACE LOST RESERVATION: registers `new_key` and reserves with `type_` after the
/// device lost its reservation information.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_replace_lost_reservation(
    device: *const pr_device,
    new_key: u64,
    type_: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    let p = params(0, new_key, type_, 0);
    do_out_simple(|| target(device), PR_OUT_REPLACE_LOST_RESERVATION, p, err)
}

/// READ KEYS; `*out` receives a result to free with `pr_keys_free`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_read_keys(
    device: *const pr_device,
    out: *mut *mut pr_keys,
    err: *mut *mut pr_error,
) -> pr_result {
    do_in(|| target(device), PrInAction::ReadKeys, out, err, keys_of)
}

/// READ RESERVATION; free with `pr_reservation_free`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_read_reservation(
    device: *const pr_device,
    out: *mut *mut pr_reservation,
    err: *mut *mut pr_error,
) -> pr_result {
    let action = PrInAction::ReadReservation;
    do_in(|| target(device), action, out, err, reservation_of)
}

/// REPORT CAPABILITIES; free with `pr_capabilities_free`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_report_capabilities(
    device: *const pr_device,
    out: *mut *mut pr_capabilities,
    err: *mut *mut pr_error,
) -> pr_result {
    let action = PrInAction::ReportCapabilities;
    do_in(|| target(device), action, out, err, caps_of)
}

/// READ FULL STATUS with every descriptor (the allocation length grows as needed; no
/// 32-entry cap); free with `pr_full_status_free`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_device_read_full_status(
    device: *const pr_device,
    out: *mut *mut pr_full_status,
    err: *mut *mut pr_error,
) -> pr_result {
    let action = PrInAction::ReadFullStatus;
    do_in(|| target(device), action, out, err, full_of)
}
