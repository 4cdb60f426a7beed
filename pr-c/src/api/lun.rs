// SPDX-License-Identifier: MIT OR Apache-2.0
//! `pr_lun`: pr-multipath's LUN over many paths (a dm-multipath map, a set of path devices,
//! simulated paths) and its actions, with pr-multipath's semantics (REGISTER fanned out to
//! every usable path, failover, the failed-path workarounds).
#![allow(non_camel_case_types)]

use std::ffi::{CString, c_char};
use std::sync::Arc;

use ::pr_sim::SimPath;
use pr_core::types::{PrInAction, ReservationKey};
use pr_multipath::blocking::{self, runtime::block_on_blocking};
use pr_multipath::{Lun, OpenOptions, PathState};

use crate::api::call::{Target, do_in, do_out, do_out_simple};
use crate::api::prout::{
    PR_FLAG_SPEC_I_PT, PR_OUT_CLEAR, PR_OUT_PREEMPT, PR_OUT_PREEMPT_AND_ABORT, PR_OUT_REGISTER,
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
    Handle, Out, boundary, boundary_or, free_handle, handle_ref, into_handle, slice_arg, str_arg,
};

/// `pr_lun_open`: do not talk to multipathd.
pub const PR_LUN_NO_MULTIPATHD: u32 = 0x01;
/// `pr_lun_open`: do not read multipath.conf and the prkeys file (no configured-key check).
pub const PR_LUN_NO_CONFIG: u32 = 0x02;
/// The most paths one `pr_lun_open_*` call accepts.
pub const PR_MAX_PATHS: usize = 1024;

/// One logical unit over many paths: a dm-multipath map, or a set of device or simulated
/// paths, with pr-multipath's semantics (REGISTER fanned out to every path, failover, the
/// failed-path workarounds). Thread-safe.
pub struct pr_lun {
    _private: [u8; 0],
}

pub(crate) struct LunHandle {
    lun: blocking::Lun,
    name: CString,
}

impl Handle for pr_lun {
    type Inner = LunHandle;
}

impl LunHandle {
    /// The handle of a LUN.
    pub(crate) fn new(lun: impl Into<blocking::Lun>) -> Self {
        let lun = lun.into();
        LunHandle {
            name: cstring(lun.name()),
            lun,
        }
    }

    /// The LUN, shared.
    pub(crate) fn lun(&self) -> &blocking::Lun {
        &self.lun
    }
}

fn target(l: *const pr_lun) -> Result<Target, ErrorInfo> {
    Ok(Target {
        lun: handle_ref(l, "lun")?.lun.clone(),
        device: false,
        read_only: false,
    })
}

/// A LUN named `name` over simulated paths ([`Lun::simulated`]: each path's SCSI host its
/// initiator port).
pub(crate) fn lun_of_sim_paths(name: &str, paths: impl IntoIterator<Item = SimPath>) -> Lun {
    Lun::simulated(name, paths)
}

/// Opens a LUN by map name (`mpatha`), `/dev/mapper/NAME` or `/dev/dm-N`: discovers the
/// map's paths, opens each path device, reads multipath.conf and the prkeys file (unless
/// `PR_LUN_NO_CONFIG`) and talks to multipathd (unless `PR_LUN_NO_MULTIPATHD`); needs
/// root. A single SCSI disk or sg node opens too, as a LUN of one path. Errors name what
/// was given: `PR_ERR_NOT_FOUND` (no such map or device), `PR_ERR_NOT_SCSI`,
/// `PR_ERR_PERMISSION_DENIED`, `PR_ERR_MAP`, `PR_ERR_OS`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_open(
    map: *const c_char,
    flags: u32,
    out: *mut *mut pr_lun,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let map = str_arg(map, "map")?;
        check_flags(
            flags,
            PR_LUN_NO_MULTIPATHD | PR_LUN_NO_CONFIG,
            "pr_lun_open",
        )?;
        let out = Out::new(out, "out")?;
        let mut options = OpenOptions::default();
        if flags & PR_LUN_NO_MULTIPATHD != 0 {
            options.map.multipathd = false;
        }
        if flags & PR_LUN_NO_CONFIG != 0 {
            options.map.multipath_conf = None;
        }
        let lun = blocking::Lun::open_with(map, &options)?;
        out.write(into_handle::<pr_lun>(LunHandle::new(lun)));
        Ok(())
    })
}

/// A LUN named `name` over the given path devices (SCSI disks or sg nodes of one logical
/// unit, `count` at most `PR_MAX_PATHS`), all usable, one path group, without multipathd
/// or configuration. Each path is named by its device's kernel name (`sdb`).
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_open_paths(
    name: *const c_char,
    devices: *const *const c_char,
    count: usize,
    out: *mut *mut pr_lun,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let name = str_arg(name, "name")?.to_owned();
        let ptrs = slice_arg(devices, count, PR_MAX_PATHS, "devices")?;
        if ptrs.is_empty() {
            return Err(ErrorInfo::invalid("count", "a LUN needs at least one path"));
        }
        let mut nodes = Vec::with_capacity(ptrs.len());
        for (i, p) in ptrs.iter().enumerate() {
            nodes.push(str_arg(*p, &format!("devices[{i}]"))?.to_owned());
        }
        let out = Out::new(out, "out")?;
        let lun =
            block_on_blocking(move || Lun::open_paths(name, &nodes, &OpenOptions::default()))??;
        out.write(into_handle::<pr_lun>(LunHandle::new(lun)));
        Ok(())
    })
}

/// A LUN named `name` over simulated paths of `sim` (ids from `pr_sim_add_path`, all to
/// the same logical unit). Each path's SCSI host is its initiator port, so ALL_TG_PT
/// registers one path per initiator.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_open_sim(
    sim: *const pr_sim,
    name: *const c_char,
    paths: *const u32,
    count: usize,
    out: *mut *mut pr_lun,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let s = handle_ref(sim, "sim")?;
        let name = str_arg(name, "name")?;
        let ids = slice_arg(paths, count, PR_MAX_PATHS, "paths")?;
        if ids.is_empty() {
            return Err(ErrorInfo::invalid("count", "a LUN needs at least one path"));
        }
        let mut list = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            let p = s.path(*id, &format!("paths[{i}]"))?;
            if let Some(first) = list.first().map(SimPath::lun)
                && first != p.lun()
            {
                return Err(ErrorInfo::invalid(
                    &format!("paths[{i}]"),
                    format!(
                        "path {id} leads to logical unit {}, the others to {}",
                        p.lun().0,
                        first.0
                    ),
                ));
            }
            list.push(p);
        }
        let out = Out::new(out, "out")?;
        let lun = lun_of_sim_paths(name, list);
        out.write(into_handle::<pr_lun>(LunHandle::new(lun)));
        Ok(())
    })
}

/// Frees a LUN. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_free(lun: *mut pr_lun) {
    boundary_or((), || free_handle(lun));
}

/// The LUN's name (the map name); valid as long as the handle. NULL for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_name(lun: *const pr_lun) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        handle_ref(lun, "lun").map_or(std::ptr::null(), |l| l.name.as_ptr())
    })
}

/// The number of paths (usable or not); 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_path_count(lun: *const pr_lun) -> usize {
    boundary_or(0, || {
        handle_ref(lun, "lun").map_or(0, |l| l.lun.as_async().paths().len())
    })
}

/// The number of paths pr-multipath considers usable now; 0 for NULL. A path that failed a
/// command is marked failed until `pr_lun_reinstate_path` (or, on a real map, until the map
/// reports it active again).
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_usable_path_count(lun: *const pr_lun) -> usize {
    boundary_or(0, || {
        handle_ref(lun, "lun").map_or(0, |l| l.lun.as_async().usable_paths().len())
    })
}

/// Brings a path that came back into use: marks it usable and registers `key` on it with
/// REGISTER AND IGNORE EXISTING KEY (`key` 0: only marks it usable).
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_reinstate_path(
    lun: *const pr_lun,
    path: *const c_char,
    key: u64,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let lun = Arc::clone(handle_ref(lun, "lun")?.lun.as_async());
        let path = str_arg(path, "path")?.to_owned();
        if !lun.set_path_state(&path, PathState::Usable) {
            return Err(ErrorInfo::invalid(
                "path",
                format!("{path:?} is not a path of {}", lun.name()),
            ));
        }
        if key == 0 {
            return Ok(());
        }
        blocking::block_on(async move { lun.reinstate_path(&path, ReservationKey(key)).await })??;
        Ok(())
    })
}

/// Any PR OUT service action (`PR_OUT_*`) with pr-multipath semantics.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_out(
    lun: *const pr_lun,
    service_action: u32,
    params: *const pr_out_params,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out(|| target(lun), service_action, params, err)
}

/// REGISTER on every usable path (ALL_TG_PT: one per SCSI host), from `key` (0 when not
/// registered) to `new_key` (0: unregister, releasing first if this key holds the
/// reservation). Flags: `PR_FLAG_APTPL`, `PR_FLAG_ALL_TG_PT`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_register(
    lun: *const pr_lun,
    key: u64,
    new_key: u64,
    flags: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out_simple(
        || target(lun),
        PR_OUT_REGISTER,
        params(key, new_key, 0, flags),
        err,
    )
}

/// REGISTER with SPEC_I_PT: registers `new_key` for this host's paths and for the
/// initiator ports of `transport_ids` (`count` at most `PR_MAX_TRANSPORT_IDS`, text forms
/// of `sg_persist`). Flags: `PR_FLAG_APTPL`, `PR_FLAG_ALL_TG_PT`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_register_spec_i_pt(
    lun: *const pr_lun,
    key: u64,
    new_key: u64,
    flags: u32,
    transport_ids: *const *const c_char,
    count: usize,
    err: *mut *mut pr_error,
) -> pr_result {
    let p = pr_out_params {
        transport_ids,
        transport_id_count: count,
        ..params(key, new_key, 0, flags | PR_FLAG_SPEC_I_PT)
    };
    do_out_simple(|| target(lun), PR_OUT_REGISTER, p, err)
}

/// REGISTER AND IGNORE EXISTING KEY to `new_key` on every usable path.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_register_ignore(
    lun: *const pr_lun,
    new_key: u64,
    flags: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out_simple(
        || target(lun),
        PR_OUT_REGISTER_AND_IGNORE,
        params(0, new_key, 0, flags),
        err,
    )
}

/// RESERVE through one path (the next on path failure).
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_reserve(
    lun: *const pr_lun,
    key: u64,
    type_: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out_simple(
        || target(lun),
        PR_OUT_RESERVE,
        params(key, 0, type_, 0),
        err,
    )
}

/// RELEASE on every usable path (with the release workaround when the holder path is
/// down).
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_release(
    lun: *const pr_lun,
    key: u64,
    type_: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out_simple(
        || target(lun),
        PR_OUT_RELEASE,
        params(key, 0, type_, 0),
        err,
    )
}

/// CLEAR through one path.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_clear(lun: *const pr_lun, key: u64, err: *mut *mut pr_error) -> pr_result {
    do_out_simple(|| target(lun), PR_OUT_CLEAR, params(key, 0, 0, 0), err)
}

/// PREEMPT or PREEMPT AND ABORT (`abort`) of `victim` by `key`, through one path.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_preempt(
    lun: *const pr_lun,
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
    do_out_simple(|| target(lun), sa, params(key, victim, type_, 0), err)
}

/// REGISTER AND MOVE through one path (see `pr_device_register_and_move`).
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_register_and_move(
    lun: *const pr_lun,
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
    do_out_simple(|| target(lun), PR_OUT_REGISTER_AND_MOVE, p, err)
}

/// REPLACE LOST RESERVATION through one path, then REGISTER AND IGNORE on the others.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_replace_lost_reservation(
    lun: *const pr_lun,
    new_key: u64,
    type_: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    do_out_simple(
        || target(lun),
        PR_OUT_REPLACE_LOST_RESERVATION,
        params(0, new_key, type_, 0),
        err,
    )
}

/// READ KEYS through the first path that answers.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_read_keys(
    lun: *const pr_lun,
    out: *mut *mut pr_keys,
    err: *mut *mut pr_error,
) -> pr_result {
    do_in(|| target(lun), PrInAction::ReadKeys, out, err, keys_of)
}

/// READ RESERVATION through the first path that answers.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_read_reservation(
    lun: *const pr_lun,
    out: *mut *mut pr_reservation,
    err: *mut *mut pr_error,
) -> pr_result {
    do_in(
        || target(lun),
        PrInAction::ReadReservation,
        out,
        err,
        reservation_of,
    )
}

/// REPORT CAPABILITIES through the first path that answers.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_report_capabilities(
    lun: *const pr_lun,
    out: *mut *mut pr_capabilities,
    err: *mut *mut pr_error,
) -> pr_result {
    do_in(
        || target(lun),
        PrInAction::ReportCapabilities,
        out,
        err,
        caps_of,
    )
}

/// READ FULL STATUS through the first path that answers, every descriptor.
#[unsafe(no_mangle)]
pub extern "C" fn pr_lun_read_full_status(
    lun: *const pr_lun,
    out: *mut *mut pr_full_status,
    err: *mut *mut pr_error,
) -> pr_result {
    do_in(
        || target(lun),
        PrInAction::ReadFullStatus,
        out,
        err,
        full_of,
    )
}
