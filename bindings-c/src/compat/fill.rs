//! Writing PR IN responses into the caller's result structures, in libmpathpersist's
//! layout: the response bytes land in the structure as the device sent them, then only
//! the counters are turned into CPU byte order (PRGENERATION and ADDITIONAL LENGTH for READ
//! KEYS and READ RESERVATION, LENGTH and the type mask for REPORT CAPABILITIES); keys and
//! flag bytes stay raw. READ FULL STATUS is unpacked into `struct prin_fulldescr` records
//! (see [`full_status_records`]).
//!
//! Each function takes only the structure of its service action (24 bytes for READ
//! RESERVATION, 8 for REPORT CAPABILITIES, as `mpath_alloc_prin_response` allocates) and
//! writes nothing outside it.

use super::abi::*;

fn be32(buf: &[u8], at: usize) -> u32 {
    buf.get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_be_bytes)
}

fn be16(buf: &[u8], at: usize) -> u16 {
    buf.get(at..at + 2)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map_or(0, u16::from_be_bytes)
}

fn raw<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = buf.get(at..) {
        let n = src.len().min(N);
        out[..n].copy_from_slice(&src[..n]);
    }
    out
}

/// READ KEYS: `buf` is the response as received (at most 8192 bytes).
pub(crate) fn read_keys(dst: &mut PrinReaddescr, buf: &[u8]) {
    dst.prgeneration = be32(buf, 0);
    dst.additional_length = be32(buf, 4);
    dst.key_list = raw(buf, 8);
}

/// READ RESERVATION.
pub(crate) fn read_reservation(dst: &mut PrinResvdescr, buf: &[u8]) {
    dst.prgeneration = be32(buf, 0);
    dst.additional_length = be32(buf, 4);
    dst.key = raw(buf, 8);
    dst._obsolete = u32::from_ne_bytes(raw(buf, 16));
    dst._reserved = buf.get(20).copied().unwrap_or(0);
    dst.scope_type = buf.get(21).copied().unwrap_or(0);
    dst._obsolete1 = u16::from_ne_bytes(raw(buf, 22));
}

/// REPORT CAPABILITIES.
pub(crate) fn report_capabilities(dst: &mut PrinCapdescr, buf: &[u8]) {
    dst.length = be16(buf, 0);
    dst.flags = raw(buf, 2);
    dst.pr_type_mask = be16(buf, 4);
    dst._reserved = u16::from_ne_bytes(raw(buf, 6));
}

/// How many `struct prin_fulldescr` records fit in `private_buffer` (8192 / 270 = 30).
/// libmpathpersist packs as many as the response has and overruns the buffer (and the
/// descriptor pointers after it) past 30; we return the first 30.
pub const MAX_FULL_STATUS_RECORDS: usize = {
    let fit = MPATH_MAX_PARAM_LEN / size_of::<PrinFulldescr>();
    if fit < MPATH_MX_TIDS {
        fit
    } else {
        MPATH_MX_TIDS
    }
};

fn transport_id(tid: &[u8]) -> TransportId {
    let mut t = TransportId {
        format_code: 0,
        protocol_id: 0,
        name: TransportIdName {
            iscsi_name: [0; MPATH_MX_TID_LEN],
        },
    };
    let Some(&b0) = tid.first() else {
        return t;
    };
    // In READ FULL STATUS results the format code is NOT pre-shifted (libmpathpersist
    // stores bits 7:6 of byte 0 as 0..3), unlike the PR OUT input.
    t.format_code = (b0 >> 6) & 0x3;
    t.protocol_id = b0 & 0x0f;
    let mut name = [0u8; MPATH_MX_TID_LEN];
    match t.protocol_id {
        MPATH_PROTOCOL_ID_FC => name[..8].copy_from_slice(&raw::<8>(tid, 8)),
        MPATH_PROTOCOL_ID_SAS => name[..8].copy_from_slice(&raw::<8>(tid, 4)),
        MPATH_PROTOCOL_ID_ISCSI => {
            let n = usize::from(be16(tid, 2)).min(MPATH_MX_TID_LEN);
            if let Some(src) = tid.get(4..) {
                let n = n.min(src.len());
                name[..n].copy_from_slice(&src[..n]);
            }
        }
        _ => {}
    }
    t.name = TransportIdName { iscsi_name: name };
    t
}

/// READ FULL STATUS: PRGENERATION and the descriptors of `buf`, as records (at most
/// [`MAX_FULL_STATUS_RECORDS`]; only descriptors that are entirely within the bytes
/// received and the ADDITIONAL LENGTH).
pub(crate) fn full_status_records(buf: &[u8]) -> (u32, Vec<PrinFulldescr>) {
    let generation = be32(buf, 0);
    let additional = usize::try_from(be32(buf, 4)).unwrap_or(usize::MAX);
    let end = buf.len().min(additional.saturating_add(8));
    let body = buf.get(8..end).unwrap_or(&[]);
    let mut out = Vec::new();
    let mut at = 0usize;
    while out.len() < MAX_FULL_STATUS_RECORDS {
        let Some(d) = body.get(at..at + 24) else {
            break;
        };
        let tid_len = usize::try_from(be32(d, 20)).unwrap_or(usize::MAX);
        let Some(tid) = body.get(at + 24..(at + 24).saturating_add(tid_len)) else {
            break;
        };
        out.push(PrinFulldescr {
            key: raw(d, 0),
            flag: d.get(12).copied().unwrap_or(0),
            scope_type: d.get(13).copied().unwrap_or(0),
            rtpi: be16(d, 18),
            trnptid: transport_id(tid),
        });
        at = at + 24 + tid_len;
    }
    (generation, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zeroed<T: Copy>() -> T {
        // SAFETY: only used with the plain-integer ABI structs, for which all-zero is valid.
        unsafe { core::mem::zeroed() }
    }

    #[test]
    fn read_keys_swaps_only_the_counters() {
        let mut d: PrinReaddescr = zeroed();
        let buf = [
            0, 0, 0, 7, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 1, 2, 3, 4, 5, 6, 7, 8,
        ];
        read_keys(&mut d, &buf);
        assert_eq!(d.prgeneration, 7);
        assert_eq!(d.additional_length, 16);
        assert_eq!(&d.key_list[..16], &buf[8..24]);
        assert!(d.key_list[16..].iter().all(|&b| b == 0));
    }

    #[test]
    fn read_reservation_and_capabilities() {
        let mut r: PrinResvdescr = zeroed();
        let mut buf = [0u8; 24];
        buf[3] = 9;
        buf[7] = 16;
        buf[8..16].copy_from_slice(&0x1234u64.to_be_bytes());
        buf[21] = 0x05;
        read_reservation(&mut r, &buf);
        assert_eq!(
            (r.prgeneration, r.additional_length, r.scope_type),
            (9, 16, 5)
        );
        assert_eq!(u64::from_be_bytes(r.key), 0x1234);

        let mut c: PrinCapdescr = zeroed();
        report_capabilities(&mut c, &[0, 8, 0x1d, 0x81, 0xea, 0x01, 0, 0]);
        assert_eq!(c.length, 8);
        assert_eq!(c.flags, [0x1d, 0x81]);
        assert_eq!(c.pr_type_mask, 0xea01);
    }

    fn descriptor(key: u64, flag: u8, scope_type: u8, rtpi: u16, tid: &[u8]) -> Vec<u8> {
        let mut d = key.to_be_bytes().to_vec();
        d.extend_from_slice(&[0; 4]);
        d.extend_from_slice(&[flag, scope_type, 0, 0, 0, 0]);
        d.extend_from_slice(&rtpi.to_be_bytes());
        d.extend_from_slice(&u32::try_from(tid.len()).unwrap().to_be_bytes());
        d.extend_from_slice(tid);
        d
    }

    #[test]
    fn full_status_records_decode_sas_and_iscsi() {
        let mut sas = vec![0x06, 0, 0, 0, 0x50, 1, 2, 3, 4, 5, 6, 7];
        sas.resize(24, 0);
        let mut iscsi = vec![0x45, 0, 0, 12];
        iscsi.extend_from_slice(b"iqn.x,i,0x1\0");
        let mut body = descriptor(0xaa, 0x01, 0x05, 2, &sas);
        body.extend(descriptor(0xbb, 0x02, 0, 1, &iscsi));
        let mut buf = 0x10u32.to_be_bytes().to_vec();
        buf.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
        buf.extend(&body);
        let (generation, recs) = full_status_records(&buf);
        assert_eq!(generation, 0x10);
        assert_eq!(recs.len(), 2);
        assert_eq!(u64::from_be_bytes(recs[0].key), 0xaa);
        assert_eq!((recs[0].flag, recs[0].scope_type, recs[0].rtpi), (1, 5, 2));
        assert_eq!(recs[0].trnptid.protocol_id, MPATH_PROTOCOL_ID_SAS);
        // SAFETY: the union is plain bytes.
        let sas = unsafe { recs[0].trnptid.name.sas_address };
        assert_eq!(sas, [0x50, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(
            (recs[1].trnptid.protocol_id, recs[1].trnptid.format_code),
            (5, 1)
        );
        // SAFETY: the union is plain bytes.
        let name = unsafe { recs[1].trnptid.name.iscsi_name };
        assert_eq!(&name[..12], b"iqn.x,i,0x1\0");
        // Cut in the middle of the second descriptor: only the first is whole.
        let (_, cut) = full_status_records(&buf[..buf.len() - 3]);
        assert_eq!(cut.len(), 1);
        // An absurd TransportID length is not followed.
        let mut bad = buf.clone();
        bad[8 + 20..8 + 24].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(full_status_records(&bad).1.len(), 0);
    }

    #[test]
    fn at_most_thirty_records_fit() {
        assert_eq!(MAX_FULL_STATUS_RECORDS, 30);
        let mut body = Vec::new();
        for k in 0..40u64 {
            body.extend(descriptor(k + 1, 0, 0, 1, &[0x06; 24]));
        }
        let mut buf = 1u32.to_be_bytes().to_vec();
        buf.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
        buf.extend(&body);
        assert_eq!(full_status_records(&buf).1.len(), 30);
    }
}
