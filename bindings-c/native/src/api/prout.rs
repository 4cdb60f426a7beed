// SPDX-License-Identifier: MIT OR Apache-2.0
//! PR OUT from C: the service-action, type and flag constants, the generic argument struct
//! [`pr_out_params`], and [`out_request`], the one conversion of C arguments into
//! pr-multipath's [`OutRequest`] (every `pr_device_*` and `pr_lun_*` PR OUT call goes
//! through it). The checks that C needs and Rust's types give for free live here too:
//! reservation types, flags, TransportID texts and counts.

use std::ffi::c_char;

use pr_core::transport_id::TransportId;
use pr_core::types::{ReservationKey, ReservationType};
use pr_multipath::{OutRequest, RegisterRequest};

use crate::error::{ErrorInfo, pr_result};
use crate::ffi::{slice_arg, str_arg};

/// Reservation type 1h: Write Exclusive.
pub const PR_TYPE_WRITE_EXCLUSIVE: u32 = 0x1;
/// Reservation type 3h: Exclusive Access.
pub const PR_TYPE_EXCLUSIVE_ACCESS: u32 = 0x3;
/// Reservation type 5h: Write Exclusive, Registrants Only.
pub const PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY: u32 = 0x5;
/// Reservation type 6h: Exclusive Access, Registrants Only.
pub const PR_TYPE_EXCLUSIVE_ACCESS_REG_ONLY: u32 = 0x6;
/// Reservation type 7h: Write Exclusive, All Registrants.
pub const PR_TYPE_WRITE_EXCLUSIVE_ALL_REGS: u32 = 0x7;
/// Reservation type 8h: Exclusive Access, All Registrants.
pub const PR_TYPE_EXCLUSIVE_ACCESS_ALL_REGS: u32 = 0x8;

/// PR OUT service action 00h REGISTER.
pub const PR_OUT_REGISTER: u32 = 0x0;
/// PR OUT service action 01h RESERVE.
pub const PR_OUT_RESERVE: u32 = 0x1;
/// PR OUT service action 02h RELEASE.
pub const PR_OUT_RELEASE: u32 = 0x2;
/// PR OUT service action 03h CLEAR.
pub const PR_OUT_CLEAR: u32 = 0x3;
/// PR OUT service action 04h PREEMPT.
pub const PR_OUT_PREEMPT: u32 = 0x4;
/// PR OUT service action 05h PREEMPT AND ABORT.
pub const PR_OUT_PREEMPT_AND_ABORT: u32 = 0x5;
/// PR OUT service action 06h REGISTER AND IGNORE EXISTING KEY.
pub const PR_OUT_REGISTER_AND_IGNORE: u32 = 0x6;
/// PR OUT service action 07h REGISTER AND MOVE.
pub const PR_OUT_REGISTER_AND_MOVE: u32 = 0x7;
/// PR OUT service action 08h REPLACE LOST RESERVATION.
pub const PR_OUT_REPLACE_LOST_RESERVATION: u32 = 0x8;

/// Flag APTPL (activate persist through power loss): REGISTER, REGISTER AND IGNORE,
/// REGISTER AND MOVE.
pub const PR_FLAG_APTPL: u32 = 0x01;
/// Flag UNREG: REGISTER AND MOVE unregisters the sender.
pub const PR_FLAG_UNREG: u32 = 0x02;
/// Flag ALL_TG_PT (register on all target ports): REGISTER, REGISTER AND IGNORE.
pub const PR_FLAG_ALL_TG_PT: u32 = 0x04;
/// Flag SPEC_I_PT: set implicitly when TransportIDs are given to REGISTER; accepted, and
/// then TransportIDs are required.
pub const PR_FLAG_SPEC_I_PT: u32 = 0x08;

/// The most TransportIDs one call accepts (SPEC_I_PT lists); a larger count is refused
/// before the array is read.
pub const PR_MAX_TRANSPORT_IDS: usize = 1024;

/// The arguments of the generic PR OUT calls (`pr_device_out`, `pr_lun_out`). Fields an
/// action does not use are ignored; zero-initialise the struct.
#[repr(C)]
pub struct pr_out_params {
    /// RESERVATION KEY (for REGISTER: the current key, 0 when unregistered).
    pub key: u64,
    /// SERVICE ACTION RESERVATION KEY (REGISTER: the new key; PREEMPT: the victim; REGISTER
    /// AND MOVE: the destination's key; REPLACE LOST RESERVATION: the new key).
    pub sa_key: u64,
    /// A `PR_TYPE_*` value (RESERVE, RELEASE, PREEMPT, REGISTER AND MOVE, REPLACE LOST).
    pub type_: u32,
    /// `PR_FLAG_*` bits valid for the action.
    pub flags: u32,
    /// TransportIDs in `sg_persist --transport-id` text form: the SPEC_I_PT list of
    /// REGISTER, or exactly one for REGISTER AND MOVE.
    pub transport_ids: *const *const c_char,
    /// Number of `transport_ids` (at most `PR_MAX_TRANSPORT_IDS`).
    pub transport_id_count: usize,
    /// RELATIVE TARGET PORT IDENTIFIER of REGISTER AND MOVE.
    pub relative_target_port: u16,
}

/// A reservation type from its C value, or an error naming the argument.
pub(crate) fn res_type(v: u32, name: &str) -> Result<ReservationType, ErrorInfo> {
    u8::try_from(v)
        .ok()
        .and_then(ReservationType::from_code)
        .ok_or_else(|| {
            ErrorInfo::invalid(
                name,
                format!("{v:#x} is not a reservation type (PR_TYPE_*: 1, 3, 5, 6, 7, 8)"),
            )
        })
}

/// Refuses flag bits outside `allowed`, naming `action`.
pub(crate) fn check_flags(flags: u32, allowed: u32, action: &str) -> Result<(), ErrorInfo> {
    let bad = flags & !allowed;
    if bad != 0 {
        return Err(ErrorInfo::invalid(
            "flags",
            format!("flag bits {bad:#x} are not valid for {action}"),
        ));
    }
    Ok(())
}

/// A TransportID from its `sg_persist` text form.
pub(crate) fn parse_tid(text: &str, name: &str) -> Result<TransportId<'static>, ErrorInfo> {
    TransportId::parse(text)
        .map(TransportId::into_owned)
        .map_err(|e| {
            ErrorInfo::new(
                pr_result::PR_ERR_INVALID_TRANSPORT_ID,
                format!("argument `{name}`: {text:?}: {e}"),
            )
        })
}

fn tid_list(
    ptr: *const *const c_char,
    count: usize,
) -> Result<Vec<TransportId<'static>>, ErrorInfo> {
    let ptrs = slice_arg(ptr, count, PR_MAX_TRANSPORT_IDS, "transport_ids")?;
    let mut out = Vec::with_capacity(ptrs.len());
    for (i, p) in ptrs.iter().enumerate() {
        let name = format!("transport_ids[{i}]");
        out.push(parse_tid(str_arg(*p, &name)?, &name)?);
    }
    Ok(out)
}

/// The one conversion of a C PR OUT call (service action and arguments) into the request
/// pr-multipath runs, checking every argument the action uses and refusing the ones it
/// does not take.
pub(crate) fn out_request(sa: u32, p: &pr_out_params) -> Result<OutRequest, ErrorInfo> {
    let key = ReservationKey(p.key);
    let sa_key = ReservationKey(p.sa_key);
    let simple = |what: &str| {
        check_flags(p.flags, 0, what)?;
        if p.transport_id_count != 0 {
            return Err(ErrorInfo::invalid(
                "transport_id_count",
                format!("{what} takes no TransportIDs"),
            ));
        }
        Ok(())
    };
    Ok(match sa {
        PR_OUT_REGISTER | PR_OUT_REGISTER_AND_IGNORE => {
            let ignore = sa == PR_OUT_REGISTER_AND_IGNORE;
            let what = if ignore {
                "REGISTER AND IGNORE EXISTING KEY"
            } else {
                "REGISTER"
            };
            check_flags(
                p.flags,
                PR_FLAG_APTPL | PR_FLAG_ALL_TG_PT | PR_FLAG_SPEC_I_PT,
                what,
            )?;
            let spec_i_pt = tid_list(p.transport_ids, p.transport_id_count)?;
            if p.flags & PR_FLAG_SPEC_I_PT != 0 && spec_i_pt.is_empty() {
                return Err(ErrorInfo::invalid(
                    "transport_ids",
                    "PR_FLAG_SPEC_I_PT needs at least one TransportID",
                ));
            }
            let mut request = if ignore {
                RegisterRequest::register_ignore(sa_key).current_key(key)
            } else {
                RegisterRequest::register(key, sa_key)
            };
            if p.flags & PR_FLAG_APTPL != 0 {
                request = request.aptpl();
            }
            if p.flags & PR_FLAG_ALL_TG_PT != 0 {
                request = request.all_tg_pt(true);
            }
            OutRequest::Register { request, spec_i_pt }
        }
        PR_OUT_RESERVE => {
            simple("RESERVE")?;
            OutRequest::Reserve {
                key,
                reservation_type: res_type(p.type_, "type")?,
            }
        }
        PR_OUT_RELEASE => {
            simple("RELEASE")?;
            OutRequest::Release {
                key,
                reservation_type: res_type(p.type_, "type")?,
            }
        }
        PR_OUT_CLEAR => {
            simple("CLEAR")?;
            OutRequest::Clear { key }
        }
        PR_OUT_PREEMPT => {
            simple("PREEMPT")?;
            OutRequest::Preempt {
                key,
                victim: sa_key,
                reservation_type: res_type(p.type_, "type")?,
            }
        }
        PR_OUT_PREEMPT_AND_ABORT => {
            simple("PREEMPT AND ABORT")?;
            OutRequest::PreemptAndAbort {
                key,
                victim: sa_key,
                reservation_type: res_type(p.type_, "type")?,
            }
        }
        PR_OUT_REGISTER_AND_MOVE => {
            check_flags(p.flags, PR_FLAG_APTPL | PR_FLAG_UNREG, "REGISTER AND MOVE")?;
            if p.transport_id_count != 1 {
                return Err(ErrorInfo::invalid(
                    "transport_id_count",
                    format!(
                        "REGISTER AND MOVE takes exactly one TransportID, not {}",
                        p.transport_id_count
                    ),
                ));
            }
            let destination = tid_list(p.transport_ids, 1)?
                .pop()
                .ok_or_else(|| ErrorInfo::null("transport_ids"))?;
            OutRequest::RegisterAndMove {
                key,
                destination_key: sa_key,
                reservation_type: res_type(p.type_, "type")?,
                destination,
                relative_target_port: p.relative_target_port,
                unregister: p.flags & PR_FLAG_UNREG != 0,
                aptpl: p.flags & PR_FLAG_APTPL != 0,
            }
        }
        PR_OUT_REPLACE_LOST_RESERVATION => {
            simple("REPLACE LOST RESERVATION")?;
            OutRequest::ReplaceLostReservation {
                new_key: sa_key,
                reservation_type: res_type(p.type_, "type")?,
            }
        }
        other => {
            return Err(ErrorInfo::invalid(
                "service_action",
                format!("{other:#x} is not a PR OUT service action (PR_OUT_*: 0-8)"),
            ));
        }
    })
}

/// The arguments of the convenience calls (`pr_lun_reserve`, ...) as a `pr_out_params`.
pub(crate) fn params(key: u64, sa_key: u64, type_: u32, flags: u32) -> pr_out_params {
    pr_out_params {
        key,
        sa_key,
        type_,
        flags,
        transport_ids: std::ptr::null(),
        transport_id_count: 0,
        relative_target_port: 0,
    }
}

/// `params` with the one TransportID of REGISTER AND MOVE; `tids` must outlive its use.
pub(crate) fn move_params(
    key: u64,
    dest_key: u64,
    type_: u32,
    flags: u32,
    tids: &[*const c_char; 1],
    relative_target_port: u16,
) -> pr_out_params {
    pr_out_params {
        transport_ids: tids.as_ptr(),
        transport_id_count: 1,
        relative_target_port,
        ..params(key, dest_key, type_, flags)
    }
}
