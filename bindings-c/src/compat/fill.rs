//! Writing decoded PR IN responses into the caller's result structures, in
//! libmpathpersist's layout. The responses are decoded by pr-core's views
//! ([`pr_core::prin`], [`pr_core::transport_id`]); this module only lays their values out
//! as the C ABI wants them: PRGENERATION, ADDITIONAL LENGTH, LENGTH and the type mask in
//! CPU byte order, keys as raw big-endian bytes, READ FULL STATUS unpacked into
//! `struct prin_fulldescr` records (see [`full_status_records`]).
//!
//! Each function takes only the structure of its service action (24 bytes for READ
//! RESERVATION, 8 for REPORT CAPABILITIES, as `mpath_alloc_prin_response` allocates) and
//! writes nothing outside it.

use pr_core::prin::{Capabilities, FullStatus, FullStatusDescriptor, ReadKeys, ReadReservation};
use pr_core::transport_id::TransportId as Tid;

use super::abi::*;

/// READ KEYS: PRGENERATION, ADDITIONAL LENGTH as the device reported it (even when the
/// list was cut by the allocation length), and the keys received, packed from the start of
/// `key_list` (the rest zeroed).
pub(crate) fn read_keys(dst: &mut PrinReaddescr, rk: &ReadKeys<'_>) {
    dst.prgeneration = rk.generation();
    dst.additional_length = rk.additional_length();
    dst.key_list = [0; MPATH_MAX_PARAM_LEN];
    for (slot, key) in dst.key_list.chunks_exact_mut(8).zip(rk.keys()) {
        slot.copy_from_slice(&key.to_be_bytes());
    }
}

/// READ RESERVATION: the reservation's key, scope and type when there is one (and its
/// descriptor was received); the obsolete fields zero.
pub(crate) fn read_reservation(dst: &mut PrinResvdescr, rr: &ReadReservation<'_>) {
    let r = rr.reservation();
    dst.prgeneration = rr.generation();
    dst.additional_length = rr.additional_length();
    dst.key = r.map_or([0; 8], |r| r.key.to_be_bytes());
    dst._obsolete = 0;
    dst._reserved = 0;
    dst.scope_type = r.map_or(0, |r| (r.scope.code() << 4) | (r.type_code & 0x0f));
    dst._obsolete1 = 0;
}

/// REPORT CAPABILITIES: LENGTH and the type mask in CPU order, the two flag bytes as sent
/// (ALLOW COMMANDS and reserved bits included).
pub(crate) fn report_capabilities(dst: &mut PrinCapdescr, c: &Capabilities) {
    let flags = c.flags.bits() | (u16::from(c.allow_commands.0 & 0x07) << 4) | c.reserved_flag_bits;
    dst.length = c.length;
    dst.flags = flags.to_be_bytes();
    dst.pr_type_mask = c.type_mask.bits() | c.reserved_type_bits;
    dst._reserved = 0;
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

/// The `struct transportid` of a READ FULL STATUS descriptor. The FORMAT CODE is NOT
/// pre-shifted here (libmpathpersist stores bits 7:6 of byte 0 as 0..3), unlike the PR
/// OUT input. Names: the N_PORT_NAME (Fibre Channel) or SAS address as 8 big-endian
/// bytes; for iSCSI the bytes after the TransportID's 4-byte header as the device sent
/// them (name, `,i,0x` and ISID, NUL padding), at most 256; nothing for other protocols.
fn transport_id(d: &FullStatusDescriptor<'_>) -> TransportId {
    let raw = d.transport_id_bytes();
    let mut name = [0u8; MPATH_MX_TID_LEN];
    let (format_code, protocol_id) = match d.transport_id() {
        Ok(t) => {
            let eight = match &t {
                Tid::FibreChannel { n_port_name } => Some(n_port_name.to_be_bytes()),
                Tid::Sas { address } => Some(address.to_be_bytes()),
                _ => None,
            };
            if let (Some(src), Some(dst)) = (eight, name.get_mut(..8)) {
                dst.copy_from_slice(&src);
            }
            (t.format_code(), t.protocol().code())
        }
        // A TransportID that does not decode (too short, an unreadable iSCSI name): its
        // byte 0 still names the protocol and format, as libmpathpersist reads them.
        Err(_) => {
            let b0 = raw.first().copied().unwrap_or(0);
            ((b0 >> 6) & 0x03, b0 & 0x0f)
        }
    };
    if protocol_id == MPATH_PROTOCOL_ID_ISCSI {
        let text = raw.get(4..).unwrap_or(&[]);
        let n = text.len().min(MPATH_MX_TID_LEN);
        if let (Some(dst), Some(src)) = (name.get_mut(..n), text.get(..n)) {
            dst.copy_from_slice(src);
        }
    }
    TransportId {
        format_code,
        protocol_id,
        name: TransportIdName { iscsi_name: name },
    }
}

/// READ FULL STATUS: PRGENERATION and the descriptors of the response as records (at
/// most [`MAX_FULL_STATUS_RECORDS`]; only descriptors entirely within the bytes received
/// and the ADDITIONAL LENGTH, as the view yields them).
pub(crate) fn full_status_records(fs: &FullStatus<'_>) -> (u32, Vec<PrinFulldescr>) {
    let records = fs
        .descriptors()
        .take(MAX_FULL_STATUS_RECORDS)
        .map(|d| {
            let mut flag = 0;
            if d.is_holder() {
                flag |= MPATH_PR_FULLDESCR_R_HOLDER;
            }
            if d.all_tg_pt() {
                flag |= MPATH_PR_FULLDESCR_ALL_TG_PT;
            }
            PrinFulldescr {
                key: d.key().to_be_bytes(),
                flag,
                scope_type: (d.scope().code() << 4) | d.type_code(),
                rtpi: d.relative_target_port(),
                trnptid: transport_id(&d),
            }
        })
        .collect();
    (fs.generation(), records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pr_core::prin::FullStatusEntry;
    use pr_core::types::{ReservationKey, Scope};

    fn zeroed<T: Copy>() -> T {
        // SAFETY: only used with the plain-integer ABI structs, for which all-zero is valid.
        unsafe { core::mem::zeroed() }
    }

    #[test]
    fn read_keys_swaps_only_the_counters() {
        let mut d: PrinReaddescr = zeroed();
        d.key_list = [0xee; MPATH_MAX_PARAM_LEN];
        let buf = [
            0, 0, 0, 7, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 1, 2, 3, 4, 5, 6, 7, 8,
        ];
        read_keys(&mut d, &ReadKeys::decode(&buf).unwrap());
        assert_eq!(d.prgeneration, 7);
        assert_eq!(d.additional_length, 16);
        assert_eq!(&d.key_list[..16], &buf[8..24]);
        assert!(d.key_list[16..].iter().all(|&b| b == 0));
        // Cut by the allocation length: ADDITIONAL LENGTH as reported, the whole keys
        // received.
        let cut = [0, 0, 0, 7, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0];
        read_keys(&mut d, &ReadKeys::decode(&cut).unwrap());
        assert_eq!(d.additional_length, 24);
        assert_eq!(u64::from_be_bytes(d.key_list[..8].try_into().unwrap()), 9);
        assert!(d.key_list[8..].iter().all(|&b| b == 0));
    }

    #[test]
    fn read_reservation_and_capabilities() {
        let mut r: PrinResvdescr = zeroed();
        let mut buf = [0u8; 24];
        buf[3] = 9;
        buf[7] = 16;
        buf[8..16].copy_from_slice(&0x1234u64.to_be_bytes());
        buf[21] = 0x05;
        read_reservation(&mut r, &ReadReservation::decode(&buf).unwrap());
        assert_eq!(
            (r.prgeneration, r.additional_length, r.scope_type),
            (9, 16, 5)
        );
        assert_eq!(u64::from_be_bytes(r.key), 0x1234);
        read_reservation(
            &mut r,
            &ReadReservation::decode(&[0, 0, 0, 10, 0, 0, 0, 0]).unwrap(),
        );
        assert_eq!(
            (r.prgeneration, r.additional_length, r.key),
            (10, 0, [0; 8])
        );

        let mut c: PrinCapdescr = zeroed();
        let caps = [0, 8, 0x1d, 0x81, 0xea, 0x01, 0, 0];
        report_capabilities(&mut c, &Capabilities::decode(&caps).unwrap());
        assert_eq!(c.length, 8);
        assert_eq!(c.flags, [0x1d, 0x81]);
        assert_eq!(c.pr_type_mask, 0xea01);
        // Reserved bits and ALLOW COMMANDS come through as sent.
        let odd = [0, 8, 0x62, 0x70, 0x14, 0x02, 0, 0];
        report_capabilities(&mut c, &Capabilities::decode(&odd).unwrap());
        assert_eq!((c.flags, c.pr_type_mask), ([0x62, 0x70], 0x1402));
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

    fn response(body: &[u8]) -> Vec<u8> {
        let mut buf = 0x10u32.to_be_bytes().to_vec();
        buf.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
        buf.extend(body);
        buf
    }

    #[test]
    fn full_status_records_of_sas_iscsi_and_fc() {
        let mut sas = vec![0x06, 0, 0, 0, 0x50, 1, 2, 3, 4, 5, 6, 7];
        sas.resize(24, 0);
        // The old LIO layout (a NUL before ",i,0x"): copied as sent.
        let mut iscsi = vec![0x45, 0, 0, 24];
        iscsi.extend_from_slice(b"iqn.x\0,i,0x000000000001\0\0");
        iscsi.truncate(28);
        let mut fc = vec![0x00; 24];
        fc[8..16].copy_from_slice(&0x2100_0024_ff00_0001u64.to_be_bytes());
        let mut body = descriptor(0xaa, 0x01, 0x05, 2, &sas);
        body.extend(descriptor(0xbb, 0x02, 0, 1, &iscsi));
        body.extend(descriptor(0xcc, 0, 0, 3, &fc));
        let buf = response(&body);
        let (generation, recs) = full_status_records(&FullStatus::decode(&buf).unwrap());
        assert_eq!(generation, 0x10);
        assert_eq!(recs.len(), 3);
        assert_eq!(u64::from_be_bytes(recs[0].key), 0xaa);
        assert_eq!((recs[0].flag, recs[0].scope_type, recs[0].rtpi), (1, 5, 2));
        assert_eq!(recs[0].trnptid.protocol_id, MPATH_PROTOCOL_ID_SAS);
        assert_eq!(
            recs[0].trnptid.name_bytes()[..8],
            [0x50, 1, 2, 3, 4, 5, 6, 7]
        );
        assert_eq!(recs[1].flag, MPATH_PR_FULLDESCR_ALL_TG_PT);
        assert_eq!(
            (recs[1].trnptid.protocol_id, recs[1].trnptid.format_code),
            (5, 1)
        );
        assert_eq!(&recs[1].trnptid.name_bytes()[..24], &iscsi[4..]);
        assert!(recs[1].trnptid.name_bytes()[24..].iter().all(|&b| b == 0));
        assert_eq!(recs[2].trnptid.protocol_id, MPATH_PROTOCOL_ID_FC);
        assert_eq!(
            recs[2].trnptid.name_bytes()[..8],
            0x2100_0024_ff00_0001u64.to_be_bytes()
        );
        // Cut in the middle of the last descriptor: only the whole ones.
        let (_, cut) = full_status_records(&FullStatus::decode(&buf[..buf.len() - 3]).unwrap());
        assert_eq!(cut.len(), 2);
        // An absurd TransportID length is not followed.
        let mut bad = buf.clone();
        bad[8 + 20..8 + 24].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            full_status_records(&FullStatus::decode(&bad).unwrap())
                .1
                .len(),
            0
        );
        // A TransportID too short to decode keeps its protocol and format.
        let short = response(&descriptor(0xdd, 0, 0, 1, &[0x46, 0, 0]));
        let (_, recs) = full_status_records(&FullStatus::decode(&short).unwrap());
        assert_eq!(
            (recs[0].trnptid.protocol_id, recs[0].trnptid.format_code),
            (6, 1)
        );
    }

    #[test]
    fn at_most_thirty_records_fit() {
        assert_eq!(MAX_FULL_STATUS_RECORDS, 30);
        let entries = (0..40u64).map(|k| FullStatusEntry {
            key: ReservationKey(k + 1),
            all_tg_pt: false,
            r_holder: false,
            scope: Scope::LogicalUnit,
            type_code: 0,
            relative_target_port: 1,
            transport_id: Tid::Sas { address: k },
        });
        let mut buf = vec![0u8; 8192];
        let n = FullStatus::encode(1, entries, &mut buf, true).unwrap();
        let (_, recs) = full_status_records(&FullStatus::decode(&buf[..n]).unwrap());
        assert_eq!(recs.len(), 30);
        assert_eq!(u64::from_be_bytes(recs[29].key), 30);
    }
}
