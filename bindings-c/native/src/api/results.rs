// SPDX-License-Identifier: MIT OR Apache-2.0
//! The PR IN result objects (`pr_keys`, `pr_reservation`, `pr_capabilities`,
//! `pr_full_status`): owned, immutable copies of pr-multipath's answers, made from an
//! [`InResult`], with their getters.
#![allow(non_camel_case_types)]

use std::ffi::{CString, c_char};

use pr_multipath::InResult;

use crate::api::call::Target;
use crate::error::{ErrorInfo, cstring, pr_error, pr_result};
use crate::ffi::{Handle, Out, boundary, boundary_or, free_handle, handle_ref};

/// REPORT CAPABILITIES bit RLR_C (REPLACE LOST RESERVATION capable).
pub const PR_CAP_RLR_C: u16 = 0x8000;
/// REPORT CAPABILITIES bit CRH (compatible reservation handling).
pub const PR_CAP_CRH: u16 = 0x1000;
/// REPORT CAPABILITIES bit SIP_C (SPEC_I_PT capable).
pub const PR_CAP_SIP_C: u16 = 0x0800;
/// REPORT CAPABILITIES bit ATP_C (ALL_TG_PT capable).
pub const PR_CAP_ATP_C: u16 = 0x0400;
/// REPORT CAPABILITIES bit PTPL_C (persist through power loss capable).
pub const PR_CAP_PTPL_C: u16 = 0x0100;
/// REPORT CAPABILITIES bit TMV (type mask valid).
pub const PR_CAP_TMV: u16 = 0x0080;
/// REPORT CAPABILITIES bit PTPL_A (persist through power loss activated).
pub const PR_CAP_PTPL_A: u16 = 0x0001;

/// The answer of READ KEYS.
pub struct pr_keys {
    _private: [u8; 0],
}

/// The answer of READ RESERVATION.
pub struct pr_reservation {
    _private: [u8; 0],
}

/// The answer of REPORT CAPABILITIES.
pub struct pr_capabilities {
    _private: [u8; 0],
}

/// The answer of READ FULL STATUS, with every descriptor (no 32-entry cap).
pub struct pr_full_status {
    _private: [u8; 0],
}

/// One READ FULL STATUS descriptor (without its TransportID: see
/// `pr_full_status_transport_id`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct pr_full_status_entry {
    /// The reservation key.
    pub key: u64,
    /// RELATIVE TARGET PORT IDENTIFIER.
    pub relative_target_port: u16,
    /// TYPE code (meaningful when `holder`; the scope is always LU_SCOPE in SPC-5).
    pub type_: u8,
    /// ALL_TG_PT.
    pub all_tg_pt: bool,
    /// R_HOLDER: this registration holds the reservation.
    pub holder: bool,
}

pub(crate) struct KeysHandle {
    info: pr_multipath::KeysInfo,
    path: CString,
}

pub(crate) struct ReservationHandle {
    info: pr_multipath::ReservationInfo,
    path: CString,
}

pub(crate) struct CapabilitiesHandle {
    caps: pr_core::prin::Capabilities,
    path: CString,
}

pub(crate) struct FullStatusHandle {
    info: pr_multipath::FullStatusInfo,
    texts: Vec<Option<CString>>,
    path: CString,
}

impl Handle for pr_keys {
    type Inner = KeysHandle;
}
impl Handle for pr_reservation {
    type Inner = ReservationHandle;
}
impl Handle for pr_capabilities {
    type Inner = CapabilitiesHandle;
}
impl Handle for pr_full_status {
    type Inner = FullStatusHandle;
}

/// The READ KEYS result object of an answer.
pub(crate) fn keys_of(a: InResult, _: &Target) -> Option<KeysHandle> {
    match a {
        InResult::Keys(info) => Some(KeysHandle {
            path: cstring(info.path.clone()),
            info,
        }),
        _ => None,
    }
}

/// The READ RESERVATION result object of an answer.
pub(crate) fn reservation_of(a: InResult, _: &Target) -> Option<ReservationHandle> {
    match a {
        InResult::Reservation(info) => Some(ReservationHandle {
            path: cstring(info.path.clone()),
            info,
        }),
        _ => None,
    }
}

/// The REPORT CAPABILITIES result object of an answer. pr-multipath does not say which
/// path answered: the first usable one after the call is the one that did.
pub(crate) fn caps_of(a: InResult, t: &Target) -> Option<CapabilitiesHandle> {
    match a {
        InResult::Capabilities(caps) => Some(CapabilitiesHandle {
            caps,
            path: cstring(t.first_usable_path()),
        }),
        _ => None,
    }
}

/// The READ FULL STATUS result object of an answer, with each TransportID as text.
pub(crate) fn full_of(a: InResult, _: &Target) -> Option<FullStatusHandle> {
    match a {
        InResult::FullStatus(info) => Some(FullStatusHandle {
            texts: info
                .entries
                .iter()
                .map(|e| e.transport_id.as_ref().map(|t| cstring(t.to_string())))
                .collect(),
            path: cstring(info.path.clone()),
            info,
        }),
        _ => None,
    }
}

fn index_arg(i: usize, len: usize) -> Result<usize, ErrorInfo> {
    if i < len {
        Ok(i)
    } else {
        Err(ErrorInfo::invalid(
            "index",
            format!("{i} is out of range (count {len})"),
        ))
    }
}

/// Frees a READ KEYS result. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn pr_keys_free(keys: *mut pr_keys) {
    boundary_or((), || free_handle(keys));
}

/// PRGENERATION; 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_keys_generation(keys: *const pr_keys) -> u32 {
    boundary_or(0, || {
        handle_ref(keys, "keys").map_or(0, |k| k.info.generation)
    })
}

/// The number of keys (one per registered I_T nexus); 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_keys_count(keys: *const pr_keys) -> usize {
    boundary_or(0, || {
        handle_ref(keys, "keys").map_or(0, |k| k.info.keys.len())
    })
}

/// The key at `index` into `*out`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_keys_get(
    keys: *const pr_keys,
    index: usize,
    out: *mut u64,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let k = handle_ref(keys, "keys")?;
        let out = Out::new(out, "out")?;
        let i = index_arg(index, k.info.keys.len())?;
        out.write(k.info.keys.get(i).map_or(0, |k| k.0));
        Ok(())
    })
}

/// The path that answered; valid as long as the result.
#[unsafe(no_mangle)]
pub extern "C" fn pr_keys_path(keys: *const pr_keys) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        handle_ref(keys, "keys").map_or(std::ptr::null(), |k| k.path.as_ptr())
    })
}

/// Frees a READ RESERVATION result. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn pr_reservation_free(reservation: *mut pr_reservation) {
    boundary_or((), || free_handle(reservation));
}

/// PRGENERATION; 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_reservation_generation(reservation: *const pr_reservation) -> u32 {
    boundary_or(0, || {
        handle_ref(reservation, "reservation").map_or(0, |r| r.info.generation)
    })
}

/// Whether a reservation is held; false for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_reservation_is_held(reservation: *const pr_reservation) -> bool {
    boundary_or(false, || {
        handle_ref(reservation, "reservation").is_ok_and(|r| r.info.reservation.is_some())
    })
}

/// The holder's key (0 for the all-registrants types, when none is held, and for NULL).
#[unsafe(no_mangle)]
pub extern "C" fn pr_reservation_key(reservation: *const pr_reservation) -> u64 {
    boundary_or(0, || {
        handle_ref(reservation, "reservation")
            .ok()
            .and_then(|r| r.info.reservation)
            .map_or(0, |r| r.key.0)
    })
}

/// The TYPE code (`PR_TYPE_*`, or an obsolete code as sent); 0 when none is held.
#[unsafe(no_mangle)]
pub extern "C" fn pr_reservation_type(reservation: *const pr_reservation) -> u32 {
    boundary_or(0, || {
        handle_ref(reservation, "reservation")
            .ok()
            .and_then(|r| r.info.reservation)
            .map_or(0, |r| u32::from(r.type_code))
    })
}

/// The SCOPE code (0: LU_SCOPE); 0 when none is held.
#[unsafe(no_mangle)]
pub extern "C" fn pr_reservation_scope(reservation: *const pr_reservation) -> u32 {
    boundary_or(0, || {
        handle_ref(reservation, "reservation")
            .ok()
            .and_then(|r| r.info.reservation)
            .map_or(0, |r| u32::from(r.scope.code()))
    })
}

/// The path that answered; valid as long as the result.
#[unsafe(no_mangle)]
pub extern "C" fn pr_reservation_path(reservation: *const pr_reservation) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        handle_ref(reservation, "reservation").map_or(std::ptr::null(), |r| r.path.as_ptr())
    })
}

/// Frees a REPORT CAPABILITIES result. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn pr_capabilities_free(caps: *mut pr_capabilities) {
    boundary_or((), || free_handle(caps));
}

/// Bytes 2-3 of the response: the `PR_CAP_*` bits (ALLOW COMMANDS in bits 6:4, see
/// `pr_capabilities_allow_commands`); 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_capabilities_flags(caps: *const pr_capabilities) -> u16 {
    boundary_or(0, || {
        handle_ref(caps, "caps").map_or(0, |c| {
            c.caps.flags.bits()
                | (u16::from(c.caps.allow_commands.0 & 0x7) << 4)
                | c.caps.reserved_flag_bits
        })
    })
}

/// The PERSISTENT RESERVATION TYPE MASK (meaningful when `PR_CAP_TMV` is set): bit
/// 0x8000 WR_EX_AR, 0x4000 EX_AC_RO, 0x2000 WR_EX_RO, 0x0800 EX_AC, 0x0200 WR_EX, 0x0001
/// EX_AC_AR; 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_capabilities_type_mask(caps: *const pr_capabilities) -> u16 {
    boundary_or(0, || {
        handle_ref(caps, "caps").map_or(0, |c| c.caps.type_mask.bits() | c.caps.reserved_type_bits)
    })
}

/// The ALLOW COMMANDS field (0-7); 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_capabilities_allow_commands(caps: *const pr_capabilities) -> u8 {
    boundary_or(0, || {
        handle_ref(caps, "caps").map_or(0, |c| c.caps.allow_commands.0 & 0x7)
    })
}

/// The path that answered; valid as long as the result.
#[unsafe(no_mangle)]
pub extern "C" fn pr_capabilities_path(caps: *const pr_capabilities) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        handle_ref(caps, "caps").map_or(std::ptr::null(), |c| c.path.as_ptr())
    })
}

/// Frees a READ FULL STATUS result. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn pr_full_status_free(status: *mut pr_full_status) {
    boundary_or((), || free_handle(status));
}

/// PRGENERATION; 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_full_status_generation(status: *const pr_full_status) -> u32 {
    boundary_or(0, || {
        handle_ref(status, "status").map_or(0, |s| s.info.generation)
    })
}

/// The number of descriptors (all of them: no cap); 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pr_full_status_count(status: *const pr_full_status) -> usize {
    boundary_or(0, || {
        handle_ref(status, "status").map_or(0, |s| s.info.entries.len())
    })
}

/// The descriptor at `index` into `*out`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_full_status_get(
    status: *const pr_full_status,
    index: usize,
    out: *mut pr_full_status_entry,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let s = handle_ref(status, "status")?;
        let out = Out::new(out, "out")?;
        let i = index_arg(index, s.info.entries.len())?;
        let e = s
            .info
            .entries
            .get(i)
            .ok_or_else(|| ErrorInfo::invalid("index", "out of range"))?;
        out.write(pr_full_status_entry {
            key: e.key.0,
            relative_target_port: e.relative_target_port,
            type_: e.type_code & 0x0f,
            all_tg_pt: e.all_tg_pt,
            holder: e.holder,
        });
        Ok(())
    })
}

/// The TransportID of descriptor `index` in `sg_persist` text form (e.g.
/// "sas,5001405000010000"), valid as long as the result; NULL when `index` is out of range
/// or the TransportID does not decode (its bytes are still there:
/// `pr_full_status_transport_id_bytes`).
#[unsafe(no_mangle)]
pub extern "C" fn pr_full_status_transport_id(
    status: *const pr_full_status,
    index: usize,
) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        handle_ref(status, "status")
            .ok()
            .and_then(|s| s.texts.get(index))
            .and_then(Option::as_ref)
            .map_or(std::ptr::null(), |t| t.as_ptr())
    })
}

/// The raw TransportID bytes of descriptor `index` and their count in `*len` (`len` may be
/// NULL); NULL and 0 when out of range.
#[unsafe(no_mangle)]
pub extern "C" fn pr_full_status_transport_id_bytes(
    status: *const pr_full_status,
    index: usize,
    len: *mut usize,
) -> *const u8 {
    boundary_or(std::ptr::null(), || {
        let bytes = handle_ref(status, "status")
            .ok()
            .and_then(|s| s.info.entries.get(index))
            .map_or(&[][..], |e| e.transport_id_bytes.as_slice());
        if let Ok(out) = Out::new(len, "len") {
            out.write(bytes.len());
        }
        if bytes.is_empty() {
            std::ptr::null()
        } else {
            bytes.as_ptr()
        }
    })
}

/// The path that answered; valid as long as the result.
#[unsafe(no_mangle)]
pub extern "C" fn pr_full_status_path(status: *const pr_full_status) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        handle_ref(status, "status").map_or(std::ptr::null(), |s| s.path.as_ptr())
    })
}
