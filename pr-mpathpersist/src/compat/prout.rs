//! The one conversion of a PR OUT call: `rq_servact`, `rq_scope`, `rq_type` and the
//! caller's `struct prout_param_descriptor` (with its `struct transportid`s) become a
//! [`pr_multipath::OutRequest`], which pr-multipath executes and pr-core encodes once per
//! command. The TransportIDs become owned [`pr_core::transport_id::TransportId`]s
//! directly from the C structures, never through wire bytes.

use core::ffi::{c_int, c_uint};
use std::borrow::Cow;

use pr_core::transport_id::{ISID_SEPARATOR, TransportId as Tid};
use pr_core::types::{PrOutAction, ReservationKey};
use pr_multipath::{BasicOut, BasicOutError, OutRequest};

use super::abi::*;
use super::log;

/// The PR OUT request of a call, checked: `Ok(None)` for REGISTER AND MOVE, which
/// libmpathpersist does not carry through a map (`MPATH_PR_OTHER` once the device is
/// known); `MPATH_PR_SYNTAX_ERROR` for an invalid service action, scope or type, a
/// TransportID that cannot be sent, or SPEC_I_PT with anything but REGISTER.
///
/// `tids` are the caller's `trnptid_list` entries, copied, when SPEC_I_PT is set (empty
/// otherwise).
pub(crate) fn out_request(
    rq_servact: c_int,
    rq_scope: c_int,
    rq_type: c_uint,
    param: &ProutParamDescriptor,
    tids: &[TransportId],
) -> Result<Option<OutRequest>, c_int> {
    if rq_scope != MPATH_LU_SCOPE {
        log::msg(
            0,
            format_args!("invalid scope {rq_scope} (only LU_SCOPE, 0)"),
        );
        return Err(MPATH_PR_SYNTAX_ERROR);
    }
    let spec_i_pt = tids
        .iter()
        .enumerate()
        .map(|(i, t)| {
            transport_id(t).map_err(|why| {
                log::msg(0, format_args!("trnptid_list[{i}]: {why}"));
                MPATH_PR_SYNTAX_ERROR
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let action = match rq_servact {
        MPATH_PROUT_REG_SA => PrOutAction::Register,
        MPATH_PROUT_REG_IGN_SA => PrOutAction::RegisterAndIgnoreExistingKey,
        MPATH_PROUT_RES_SA => PrOutAction::Reserve,
        MPATH_PROUT_REL_SA => PrOutAction::Release,
        MPATH_PROUT_CLEAR_SA => PrOutAction::Clear,
        MPATH_PROUT_PREE_SA => PrOutAction::Preempt,
        MPATH_PROUT_PREE_AB_SA => PrOutAction::PreemptAndAbort,
        // libmpathpersist refuses TransportIDs with it as with any action but REGISTER.
        MPATH_PROUT_REG_MOV_SA if !spec_i_pt.is_empty() => {
            log::msg(0, format_args!("SPEC_I_PT is only valid with REGISTER"));
            return Err(MPATH_PR_SYNTAX_ERROR);
        }
        MPATH_PROUT_REG_MOV_SA => return Ok(None),
        other => {
            log::msg(0, format_args!("invalid PR OUT service action {other}"));
            return Err(MPATH_PR_SYNTAX_ERROR);
        }
    };
    let flags = param.sa_flags;
    OutRequest::from_basic(BasicOut {
        action,
        key: ReservationKey::from_be_bytes(param.key),
        sa_key: ReservationKey::from_be_bytes(param.sa_key),
        // A type past 8 bits names no type either.
        type_code: u8::try_from(rq_type).unwrap_or(u8::MAX),
        aptpl: flags & MPATH_F_APTPL_MASK != 0,
        all_tg_pt: (flags & MPATH_F_ALL_TG_PT_MASK != 0).then_some(true),
        spec_i_pt,
    })
    .map(Some)
    .map_err(|e| {
        match e {
            BasicOutError::ReservationType(_) => {
                log::msg(0, format_args!("invalid reservation type {rq_type}"))
            }
            BasicOutError::SpecIPtWithoutRegister => {
                log::msg(0, format_args!("SPEC_I_PT is only valid with REGISTER"))
            }
            e => log::msg(0, format_args!("{e}")),
        }
        MPATH_PR_SYNTAX_ERROR
    })
}

/// A caller's `struct transportid` as a TransportID: Fibre Channel (`n_port_name`), SAS
/// (`sas_address`) or iSCSI (`iscsi_name` holding the big-endian length of the text in
/// its first two bytes, then the name, and with [`MPATH_WWUI_PORT_IDENTIFIER`] `,i,0x`
/// and the ISID), as libmpathpersist sends them. Why not, otherwise. The rest of what
/// SPC requires of an iSCSI TransportID (the ISID's 12 hex digits, the length) is
/// checked when pr-core encodes it, before anything is sent.
pub(crate) fn transport_id(t: &TransportId) -> Result<Tid<'static>, &'static str> {
    let name = t.name_bytes();
    let format = (t.format_code >> 6) & 0x03;
    let eight = || {
        let mut b = [0u8; 8];
        b.copy_from_slice(name.get(..8).unwrap_or(&[0; 8]));
        u64::from_be_bytes(b)
    };
    match (t.protocol_id, format) {
        (MPATH_PROTOCOL_ID_FC, 0) => Ok(Tid::FibreChannel {
            n_port_name: eight(),
        }),
        (MPATH_PROTOCOL_ID_SAS, 0) => Ok(Tid::Sas { address: eight() }),
        (MPATH_PROTOCOL_ID_ISCSI, 0 | 1) => {
            let n = usize::from(u16::from_be_bytes([name[0], name[1]]));
            if n == 0 || n + 2 > MPATH_MX_TID_LEN {
                return Err("iSCSI name length must be 1 to 254");
            }
            let text = name.get(2..2 + n).unwrap_or(&[]);
            let text = text.split(|&b| b == 0).next().unwrap_or(&[]);
            let text = std::str::from_utf8(text).map_err(|_| "iSCSI name is not UTF-8")?;
            let (node, isid) = if format == 1 {
                let (node, isid) = text
                    .split_once(ISID_SEPARATOR)
                    .ok_or("iSCSI port identifier without \",i,0x\" and ISID")?;
                (node, Some(Cow::Owned(isid.to_owned())))
            } else {
                (text, None)
            };
            if node.is_empty() {
                return Err("empty iSCSI name");
            }
            Ok(Tid::Iscsi {
                name: Cow::Owned(node.to_owned()),
                isid,
            })
        }
        (MPATH_PROTOCOL_ID_FC | MPATH_PROTOCOL_ID_SAS | MPATH_PROTOCOL_ID_ISCSI, _) => {
            Err("format code not defined for the protocol")
        }
        _ => Err("unsupported protocol (only FC, iSCSI and SAS)"),
    }
}

/// The PR OUT parameter list as `noisy` shows it (libmpathpersist dumps the first bytes
/// of the caller's structure, which it lays out as the parameter list): the 24 bytes of
/// keys, flags and the obsolete fields as the caller set them, then with SPEC_I_PT the
/// TransportID list as pr-core encodes it for the device.
pub(crate) fn parameter_dump(param: &ProutParamDescriptor, request: &OutRequest) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    out.extend_from_slice(&param.key);
    out.extend_from_slice(&param.sa_key);
    out.extend_from_slice(&param._obsolete.to_ne_bytes());
    out.extend_from_slice(&[param.sa_flags, param._reserved]);
    out.extend_from_slice(&param._obsolete1.to_ne_bytes());
    if let Some(tail) = request.spec_i_pt_bytes() {
        out.extend_from_slice(&tail);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pr_core::types::ReservationType;
    use pr_multipath::RegisterRequest;

    fn param(flags: u8) -> Box<ProutParamDescriptor> {
        // SAFETY: the structure is plain integers and bytes; all-zero is valid.
        let mut p: Box<ProutParamDescriptor> = Box::new(unsafe { core::mem::zeroed() });
        p.key = 0x11u64.to_be_bytes();
        p.sa_key = 0x22u64.to_be_bytes();
        p.sa_flags = flags;
        p
    }

    fn tid(format_code: u8, protocol_id: u8, name: &[u8]) -> TransportId {
        let mut n = [0u8; MPATH_MX_TID_LEN];
        n[..name.len()].copy_from_slice(name);
        TransportId {
            format_code,
            protocol_id,
            name: TransportIdName { iscsi_name: n },
        }
    }

    fn iscsi(format_code: u8, text: &[u8]) -> TransportId {
        let mut name = u16::try_from(text.len()).unwrap().to_be_bytes().to_vec();
        name.extend_from_slice(text);
        tid(format_code, MPATH_PROTOCOL_ID_ISCSI, &name)
    }

    #[test]
    fn service_actions_scopes_and_types_are_checked() {
        let p = param(0);
        let k = |v| ReservationKey(v);
        assert_eq!(
            out_request(0, 0, 0, &p, &[]),
            Ok(Some(OutRequest::register(RegisterRequest::register(
                k(0x11),
                k(0x22)
            ))))
        );
        assert_eq!(
            out_request(6, 0, 99, &p, &[]),
            Ok(Some(OutRequest::register(
                RegisterRequest::register_ignore(k(0x22)).current_key(k(0x11))
            )))
        );
        assert_eq!(out_request(1, 0, 2, &p, &[]), Err(MPATH_PR_SYNTAX_ERROR));
        assert_eq!(
            out_request(1, 0, 0x105, &p, &[]),
            Err(MPATH_PR_SYNTAX_ERROR)
        );
        assert_eq!(
            out_request(1, 0, 5, &p, &[]),
            Ok(Some(OutRequest::Reserve {
                key: k(0x11),
                reservation_type: ReservationType::WriteExclusiveRegistrantsOnly
            }))
        );
        assert_eq!(
            out_request(2, 0, 3, &p, &[]),
            Ok(Some(OutRequest::Release {
                key: k(0x11),
                reservation_type: ReservationType::ExclusiveAccess
            }))
        );
        assert_eq!(
            out_request(3, 0, 0, &p, &[]),
            Ok(Some(OutRequest::Clear { key: k(0x11) }))
        );
        assert_eq!(
            out_request(4, 0, 1, &p, &[]),
            Ok(Some(OutRequest::Preempt {
                key: k(0x11),
                victim: k(0x22),
                reservation_type: ReservationType::WriteExclusive
            }))
        );
        assert_eq!(
            out_request(5, 0, 8, &p, &[]),
            Ok(Some(OutRequest::PreemptAndAbort {
                key: k(0x11),
                victim: k(0x22),
                reservation_type: ReservationType::ExclusiveAccessAllRegistrants
            }))
        );
        assert_eq!(out_request(1, 1, 5, &p, &[]), Err(MPATH_PR_SYNTAX_ERROR));
        assert_eq!(out_request(8, 0, 5, &p, &[]), Err(MPATH_PR_SYNTAX_ERROR));
        assert_eq!(out_request(7, 0, 5, &p, &[]), Ok(None));
    }

    #[test]
    fn flags_and_spec_i_pt_make_one_register_request() {
        let p = param(MPATH_F_APTPL_MASK | MPATH_F_ALL_TG_PT_MASK | MPATH_F_SPEC_I_PT_MASK);
        let sas = tid(0, MPATH_PROTOCOL_ID_SAS, &[0x50, 1, 2, 3, 4, 5, 6, 7]);
        let port = iscsi(
            MPATH_WWUI_PORT_IDENTIFIER,
            b"iqn.2003-01.org.x:a,i,0x00023d000001\0",
        );
        let Ok(Some(OutRequest::Register { request, spec_i_pt })) =
            out_request(0, 0, 0, &p, &[sas, port])
        else {
            panic!("not a REGISTER");
        };
        assert!(request.aptpl);
        assert_eq!(request.all_tg_pt, Some(true));
        assert_eq!(
            spec_i_pt,
            vec![
                Tid::Sas {
                    address: 0x5001_0203_0405_0607
                },
                Tid::Iscsi {
                    name: "iqn.2003-01.org.x:a".into(),
                    isid: Some("00023d000001".into())
                }
            ]
        );
        // SPEC_I_PT only with REGISTER.
        assert_eq!(out_request(6, 0, 0, &p, &[sas]), Err(MPATH_PR_SYNTAX_ERROR));
        assert_eq!(out_request(1, 0, 1, &p, &[sas]), Err(MPATH_PR_SYNTAX_ERROR));
        // The dump: 24 bytes, then the list's length and the TransportIDs.
        let req = OutRequest::Register {
            request,
            spec_i_pt: vec![Tid::Sas { address: 1 }],
        };
        let d = parameter_dump(&p, &req);
        assert_eq!(d.len(), 24 + 4 + 24);
        assert_eq!(&d[..8], &0x11u64.to_be_bytes());
        assert_eq!(d[20], 0x0d);
        assert_eq!(&d[24..28], &[0, 0, 0, 24]);
        assert_eq!(d[28], 0x06);
    }

    #[test]
    fn caller_transport_ids_become_transport_ids() {
        assert_eq!(
            transport_id(&tid(
                0,
                MPATH_PROTOCOL_ID_FC,
                &[0x21, 0, 0, 0x24, 0xff, 0, 0, 1]
            )),
            Ok(Tid::FibreChannel {
                n_port_name: 0x2100_0024_ff00_0001
            })
        );
        assert_eq!(
            transport_id(&iscsi(0, b"iqn.2003-01.org.x:a\0")),
            Ok(Tid::Iscsi {
                name: "iqn.2003-01.org.x:a".into(),
                isid: None
            })
        );
        let mut name = 300u16.to_be_bytes().to_vec();
        name.extend_from_slice(b"iqn.x");
        let long = tid(0, MPATH_PROTOCOL_ID_ISCSI, &name);
        assert!(transport_id(&long).is_err(), "longer than iscsi_name");
        assert!(transport_id(&iscsi(0, b"")).is_err(), "empty");
        assert!(transport_id(&iscsi(0, b"\0\0\0\0")).is_err(), "empty name");
        assert!(transport_id(&iscsi(0x40, b"iqn.x")).is_err(), "no ISID");
        assert!(transport_id(&iscsi(0, &[0xff, 0xfe])).is_err(), "not UTF-8");
        assert!(transport_id(&iscsi(0x80, b"iqn.x")).is_err(), "format 2");
        assert!(transport_id(&tid(0x40, MPATH_PROTOCOL_ID_SAS, &[1])).is_err());
        assert!(transport_id(&tid(0, 9, &[1])).is_err(), "protocol 9");
    }
}
