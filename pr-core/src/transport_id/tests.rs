//! Unit tests of TransportID decoding, encoding and the text forms.

use super::*;
use proptest::prelude::*;

const LIO_SAS: u64 = 0x5001_405a_0000_0001;
const LIO_IQN: &str = "iqn.2003-01.org.linux-iscsi.prlab:init.p1";

fn enc(t: &TransportId<'_>) -> Vec<u8> {
    let mut v = vec![0xAA; t.encoded_len() + 8];
    let n = t.encode(&mut v).unwrap();
    assert_eq!(n, t.encoded_len());
    assert!(v[n..].iter().all(|&b| b == 0xAA), "wrote past encoded_len");
    v.truncate(n);
    v
}

fn fixed(b0: u8, fields: &[(usize, &[u8])]) -> Vec<u8> {
    let mut v = vec![0u8; 24];
    v[0] = b0;
    for (at, f) in fields {
        v[*at..*at + f.len()].copy_from_slice(f);
    }
    v
}

fn iscsi<'a>(name: &'a str, isid: Option<&'a str>) -> TransportId<'a> {
    TransportId::Iscsi {
        name: Cow::Borrowed(name),
        isid: isid.map(Cow::Borrowed),
    }
}

// --- protocol identifiers -------------------------------------------------------------

#[test]
fn protocol_codes_round_trip() {
    for code in 0..=0xFFu8 {
        assert_eq!(ProtocolId::from_code(code).code(), code);
    }
    assert_eq!(ProtocolId::from_code(0x6), ProtocolId::Sas);
    assert_eq!(ProtocolId::from_code(0xA), ProtocolId::Sop);
    assert_eq!(ProtocolId::from_code(0xB), ProtocolId::Pcie);
    assert_eq!(ProtocolId::from_code(0xF), ProtocolId::None);
    assert_eq!(ProtocolId::from_code(0xC), ProtocolId::Other(0xC));
    assert_eq!(ProtocolId::Iscsi.name(), "Internet SCSI (iSCSI)");
    assert_eq!(
        ProtocolId::Other(0xD).to_string(),
        "reserved protocol identifier 0xd"
    );
}

// --- byte-exact encodings (SPC-5 layouts) ---------------------------------------------

#[test]
fn fibre_channel_layout() {
    let t = TransportId::FibreChannel {
        n_port_name: 0x1000_0000_C9F3_A571,
    };
    let want = fixed(0x00, &[(8, &[0x10, 0, 0, 0, 0xC9, 0xF3, 0xA5, 0x71])]);
    assert_eq!(enc(&t), want);
    assert_eq!(TransportId::decode(&want).unwrap(), (t.clone(), 24));
    assert_eq!(t.protocol(), ProtocolId::FibreChannel);
    assert_eq!(t.format_code(), 0);
}

#[test]
fn parallel_scsi_layout() {
    let t = TransportId::ParallelScsi {
        scsi_address: 7,
        relative_target_port: 0x0102,
    };
    let want = fixed(0x01, &[(2, &[0, 7]), (6, &[1, 2])]);
    assert_eq!(enc(&t), want);
    assert_eq!(TransportId::decode(&want).unwrap(), (t, 24));
    // The obsolete bytes 4-5 are ignored.
    let mut odd = want.clone();
    odd[4] = 0xFF;
    assert_eq!(
        TransportId::decode(&odd).unwrap().0,
        TransportId::ParallelScsi {
            scsi_address: 7,
            relative_target_port: 0x0102
        }
    );
}

#[test]
fn ssa_is_opaque() {
    let mut data = [0u8; 23];
    data[0] = 0x11;
    data[22] = 0x99;
    let t = TransportId::Ssa { format: 2, data };
    let mut want = vec![0x82, 0x11];
    want.extend_from_slice(&[0; 21]);
    want.push(0x99);
    assert_eq!(enc(&t), want);
    assert_eq!(TransportId::decode(&want).unwrap(), (t.clone(), 24));
    assert_eq!(t.protocol(), ProtocolId::Ssa);
    assert_eq!(t.format_code(), 2);
}

#[test]
fn ieee1394_layout() {
    let t = TransportId::Ieee1394 {
        eui64: 0x0011_2233_4455_6677,
    };
    let want = fixed(0x03, &[(8, &[0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77])]);
    assert_eq!(enc(&t), want);
    assert_eq!(TransportId::decode(&want).unwrap(), (t, 24));
}

#[test]
fn srp_layout() {
    let port_id: [u8; 16] = core::array::from_fn(|i| u8::try_from(i + 1).unwrap());
    let t = TransportId::Srp { port_id };
    let want = fixed(0x04, &[(8, &port_id)]);
    assert_eq!(enc(&t), want);
    assert_eq!(TransportId::decode(&want).unwrap(), (t, 24));
}

#[test]
fn sas_layout_lio_tcm_loop() {
    let t = TransportId::Sas { address: LIO_SAS };
    let want = [
        0x06, 0, 0, 0, 0x50, 0x01, 0x40, 0x5a, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(enc(&t), want);
    assert_eq!(TransportId::decode(&want).unwrap(), (t.clone(), 24));
    assert_eq!(t.protocol(), ProtocolId::Sas);
}

#[test]
fn sop_layout() {
    let t = TransportId::Sop { routing_id: 0x0310 };
    let want = fixed(0x0A, &[(2, &[0x03, 0x10])]);
    assert_eq!(enc(&t), want);
    assert_eq!(TransportId::decode(&want).unwrap(), (t, 24));
}

#[test]
fn iscsi_device_layout() {
    // 13 characters + NUL = 14, below the minimum ADDITIONAL LENGTH of 20.
    let t = iscsi("iqn.2001-04.x", None);
    let mut want = vec![0x05, 0, 0, 20];
    want.extend_from_slice(b"iqn.2001-04.x");
    want.resize(24, 0);
    assert_eq!(enc(&t), want);
    assert_eq!(TransportId::decode(&want).unwrap(), (t.clone(), 24));
    assert_eq!(t.format_code(), 0);
    assert_eq!(t.protocol(), ProtocolId::Iscsi);

    // 23 characters + NUL = 24: exactly a multiple of 4.
    let t = iscsi("iqn.2001-04.com.example", None);
    assert_eq!(t.encoded_len(), 28);
    let b = enc(&t);
    assert_eq!(&b[..4], &[0x05, 0, 0, 24]);
    assert_eq!(b[27], 0);
    // 24 characters + NUL = 25 -> 28.
    let t = iscsi("iqn.2001-04.com.example2", None);
    assert_eq!(enc(&t)[..4], [0x05, 0, 0, 28]);
    assert_eq!(t.encoded_len(), 32);
}

#[test]
fn iscsi_port_layout_lio() {
    // As LIO reports it in READ FULL STATUS over iSCSI.
    let t = iscsi(LIO_IQN, Some("00023d000001"));
    let text = format!("{LIO_IQN},i,0x00023d000001");
    assert_eq!(text.len(), 58);
    let mut want = vec![0x45, 0, 0, 60];
    want.extend_from_slice(text.as_bytes());
    want.resize(64, 0);
    assert_eq!(enc(&t), want);
    assert_eq!(TransportId::decode(&want).unwrap(), (t.clone(), 64));
    assert_eq!(t.format_code(), 1);
    assert_eq!(t.to_string(), text);
}

#[test]
fn other_layout() {
    let t = TransportId::Other {
        protocol: 0x9,
        format: 0,
        bytes: Cow::Owned(vec![0x42; 23]),
    };
    let mut want = vec![0x09];
    want.extend_from_slice(&[0x42; 23]);
    assert_eq!(enc(&t), want);
    assert_eq!(TransportId::decode(&want).unwrap(), (t.clone(), 24));
    assert_eq!(t.protocol(), ProtocolId::Uas);
    // A known protocol with a format code that has no layout.
    let mut b = fixed(0x46, &[(4, &LIO_SAS.to_be_bytes())]);
    b[23] = 1;
    let (t, n) = TransportId::decode(&b).unwrap();
    assert_eq!(n, 24);
    assert_eq!(
        t,
        TransportId::Other {
            protocol: 6,
            format: 1,
            bytes: Cow::Borrowed(&b[1..])
        }
    );
    assert_eq!(enc(&t), b);
}

#[test]
fn encode_zero_fills_reserved_bytes() {
    let t = TransportId::Sas { address: 1 };
    let mut buf = [0xFFu8; 30];
    assert_eq!(t.encode(&mut buf), Ok(24));
    assert_eq!(&buf[..24], &fixed(0x06, &[(11, &[1])])[..]);
    assert_eq!(&buf[24..], &[0xFF; 6]);
    let t = iscsi("iqn.a", Some("0123456789ab"));
    let mut buf = [0xFFu8; 64];
    let n = t.encode(&mut buf).unwrap();
    assert_eq!(n, 28);
    assert_eq!(&buf[4..26], b"iqn.a,i,0x0123456789ab");
    assert_eq!(&buf[26..28], &[0, 0]);
}

// --- decoding leniency and errors ---------------------------------------------------

#[test]
fn decode_walks_a_list() {
    let a = TransportId::Sas { address: LIO_SAS };
    let b = iscsi(LIO_IQN, Some("00023d000001"));
    let c = TransportId::FibreChannel { n_port_name: 5 };
    let mut list = enc(&a);
    list.extend(enc(&b));
    list.extend(enc(&c));
    let mut rest = &list[..];
    let mut got = Vec::new();
    while !rest.is_empty() {
        let (t, n) = TransportId::decode(rest).unwrap();
        got.push(t);
        rest = &rest[n..];
    }
    assert_eq!(got, vec![a, b, c]);
}

#[test]
fn decode_iscsi_name_without_nul() {
    // The name fills its ADDITIONAL LENGTH exactly (20 bytes, no NUL): take it all.
    let mut b = vec![0x05, 0, 0, 20];
    b.extend_from_slice(b"iqn.2000-01.com.abcd");
    b.extend_from_slice(&[0xEE; 8]); // the next TransportID
    let (t, n) = TransportId::decode(&b).unwrap();
    assert_eq!(n, 24);
    assert_eq!(t, iscsi("iqn.2000-01.com.abcd", None));
}

#[test]
fn decode_iscsi_short_additional_length() {
    // LIO pads to a multiple of 4 but not to 20: "iqn.a" + NUL -> 8.
    let b = [0x05, 0, 0, 8, b'i', b'q', b'n', b'.', b'a', 0, 0, 0];
    assert_eq!(TransportId::decode(&b).unwrap(), (iscsi("iqn.a", None), 12));
}

#[test]
fn decode_iscsi_old_lio_nul_before_separator() {
    let mut b = vec![0x45, 0, 0, 24];
    b.extend_from_slice(b"iqn.a\0,i,0x23d000\0");
    b.resize(28, 0);
    let (t, n) = TransportId::decode(&b).unwrap();
    assert_eq!(n, 28);
    assert_eq!(t, iscsi("iqn.a", Some("23d000")));
}

#[test]
fn decode_iscsi_port_upper_case_isid_and_trailing_garbage() {
    let mut b = vec![0x45, 0, 0, 24];
    b.extend_from_slice(b"iqn.a,i,0x00023D000001\0\xFF");
    let (t, _) = TransportId::decode(&b).unwrap();
    assert_eq!(t, iscsi("iqn.a", Some("00023D000001")));
    assert_eq!(t.to_string(), "iqn.a,i,0x00023D000001");
}

#[test]
fn decode_iscsi_reserved_format_is_other() {
    let mut b = vec![0x85, 0, 0, 20];
    b.extend_from_slice(&[7; 20]);
    let (t, n) = TransportId::decode(&b).unwrap();
    assert_eq!(n, 24);
    assert_eq!(
        t,
        TransportId::Other {
            protocol: 5,
            format: 2,
            bytes: Cow::Borrowed(&b[1..])
        }
    );
    assert_eq!(enc(&t), b);
}

#[test]
fn decode_ignores_reserved_bits() {
    let b = fixed(0x36, &[(1, &[0xFF]), (4, &[0x50]), (20, &[9])]);
    assert_eq!(
        TransportId::decode(&b).unwrap().0,
        TransportId::Sas {
            address: 0x5000_0000_0000_0000
        }
    );
}

#[test]
fn decode_errors() {
    assert_eq!(
        TransportId::decode(&[0x06; 10]).unwrap_err().to_string(),
        "TransportID buffer: 10 bytes, need 24"
    );
    assert_eq!(
        TransportId::decode(&[]).unwrap_err().to_string(),
        "TransportID buffer: 0 bytes, need 24"
    );
    assert_eq!(
        TransportId::decode(&[0x05, 0]).unwrap_err().to_string(),
        "iSCSI TransportID header: 2 bytes, need 4"
    );
    let mut b = vec![0x05, 0, 0, 32];
    b.extend_from_slice(b"iqn.2000-01.com.example\0");
    assert_eq!(
        TransportId::decode(&b).unwrap_err().to_string(),
        "iSCSI TransportID: 28 bytes, need 36"
    );
    let mut b = vec![0x05, 0, 0, 20];
    b.extend_from_slice(b"iqn.\xFF\0");
    b.resize(24, 0);
    assert_eq!(
        TransportId::decode(&b).unwrap_err().to_string(),
        "iSCSI name is not valid UTF-8"
    );
    let mut b = vec![0x45, 0, 0, 20];
    b.extend_from_slice(b"iqn.a,i,0x\xC3\0");
    b.resize(24, 0);
    assert_eq!(
        TransportId::decode(&b).unwrap_err(),
        TransportIdError::NotUtf8 { what: "iSCSI ISID" }
    );
    let mut b = vec![0x45, 0, 0, 20];
    b.extend_from_slice(b"iqn.a\0");
    b.resize(24, 0);
    assert_eq!(
        TransportId::decode(&b).unwrap_err().to_string(),
        "iSCSI initiator port TransportID (format 01b) has no ',i,0x' separator after its name"
    );
    let b = [0x05, 0, 0, 20]
        .into_iter()
        .chain([0; 20])
        .collect::<Vec<_>>();
    assert_eq!(
        TransportId::decode(&b).unwrap_err(),
        TransportIdError::IscsiNameEmpty
    );
}

// --- encoding errors -----------------------------------------------------------------

#[test]
fn encode_errors() {
    let mut buf = [0u8; 23];
    assert_eq!(
        TransportId::Sas { address: 1 }
            .encode(&mut buf)
            .unwrap_err()
            .to_string(),
        "TransportID output buffer: 23 bytes, need 24"
    );
    let mut buf = [0u8; 512];
    let long = format!("iqn.{}", "a".repeat(248));
    assert_eq!(long.len(), 252);
    assert_eq!(
        iscsi(&long, None).encode(&mut buf).unwrap_err().to_string(),
        "iSCSI name is 252 bytes (with ',i,0x' and the ISID, if any), longer than the 251 \
         that fit in a 256-byte TransportID"
    );
    let ok = &long[..251];
    assert_eq!(iscsi(ok, None).encode(&mut buf), Ok(256));
    assert_eq!(&buf[..4], &[0x05, 0, 0, 252]);
    assert_eq!(
        iscsi("", None).encode(&mut buf),
        Err(TransportIdError::IscsiNameEmpty)
    );
    assert_eq!(
        iscsi("iqn.a\0b", None).encode(&mut buf),
        Err(TransportIdError::IscsiNul)
    );
    assert_eq!(
        iscsi("iqn.a,i,0x1", Some("0123456789ab")).encode(&mut buf),
        Err(TransportIdError::IscsiNameHasSeparator)
    );
    assert_eq!(
        iscsi("iqn.a", Some("12345"))
            .encode(&mut buf)
            .unwrap_err()
            .to_string(),
        "iSCSI ISID: expected 12 hex digits after ',i,0x', got 5"
    );
    assert_eq!(
        iscsi("iqn.a", Some("0123456789ag"))
            .encode(&mut buf)
            .unwrap_err()
            .to_string(),
        "iSCSI ISID: unexpected character 'g' at offset 11"
    );
    let other = TransportId::Other {
        protocol: 0x1F,
        format: 0,
        bytes: Cow::Borrowed(&[0; 23]),
    };
    assert_eq!(
        other.encode(&mut buf).unwrap_err().to_string(),
        "TransportID protocol identifier 0x1f does not fit (at most 0xf)"
    );
    let ssa = TransportId::Ssa {
        format: 4,
        data: [0; 23],
    };
    assert_eq!(
        ssa.encode(&mut buf).unwrap_err().to_string(),
        "TransportID format code 0x4 does not fit (at most 0x3)"
    );
    // A name that is odd but encodable: no prefix, non-ASCII.
    let t = iscsi("stündlich", None);
    let n = t.encode(&mut buf).unwrap();
    assert_eq!(TransportId::decode(&buf[..n]).unwrap(), (t, n));
}

// --- text forms ------------------------------------------------------------------------

#[test]
fn parse_fixed_forms() {
    assert_eq!(
        TransportId::parse("fcp,10000000C9F3A571").unwrap(),
        TransportId::FibreChannel {
            n_port_name: 0x1000_0000_C9F3_A571
        }
    );
    assert_eq!(
        TransportId::parse("FCP,10000000c9f3a571").unwrap(),
        TransportId::FibreChannel {
            n_port_name: 0x1000_0000_C9F3_A571
        }
    );
    assert_eq!(
        TransportId::parse("spi,7,1").unwrap(),
        TransportId::ParallelScsi {
            scsi_address: 7,
            relative_target_port: 1
        }
    );
    assert_eq!(
        TransportId::parse("SPI,65535,0").unwrap(),
        TransportId::ParallelScsi {
            scsi_address: 65535,
            relative_target_port: 0
        }
    );
    assert_eq!(
        TransportId::parse("sbp,0011223344556677").unwrap(),
        TransportId::Ieee1394 {
            eui64: 0x0011_2233_4455_6677
        }
    );
    let srp = TransportId::parse("srp,000102030405060708090a0b0c0d0e0F").unwrap();
    assert_eq!(
        srp,
        TransportId::Srp {
            port_id: core::array::from_fn(|i| u8::try_from(i).unwrap())
        }
    );
    assert_eq!(
        TransportId::parse("sas,5000c50005b32001").unwrap(),
        TransportId::Sas {
            address: 0x5000_c500_05b3_2001
        }
    );
    assert_eq!(
        TransportId::parse("  SAS,5001405A00000001\n").unwrap(),
        TransportId::Sas { address: LIO_SAS }
    );
    assert_eq!(
        TransportId::parse("sop,310").unwrap(),
        TransportId::Sop { routing_id: 0x310 }
    );
    assert_eq!(
        TransportId::parse("sop,0xFFFF").unwrap(),
        TransportId::Sop { routing_id: 0xFFFF }
    );
}

#[test]
fn parse_iscsi_forms() {
    let t = TransportId::parse("iqn.5886.com.acme.diskarrays-sn-a8675309").unwrap();
    assert_eq!(t, iscsi("iqn.5886.com.acme.diskarrays-sn-a8675309", None));
    assert!(matches!(
        t,
        TransportId::Iscsi {
            name: Cow::Borrowed(_),
            ..
        }
    ));
    let t =
        TransportId::parse("iqn.5886.com.acme.diskarrays-sn-a8675309,i,0x1234567890ab").unwrap();
    assert_eq!(
        t,
        iscsi(
            "iqn.5886.com.acme.diskarrays-sn-a8675309",
            Some("1234567890ab")
        )
    );
    let lio = format!("{LIO_IQN},i,0x00023d000001");
    assert_eq!(
        TransportId::parse(&lio).unwrap(),
        iscsi(LIO_IQN, Some("00023d000001"))
    );
    assert_eq!(
        TransportId::parse("eui.02004567A425678D").unwrap(),
        iscsi("eui.02004567A425678D", None)
    );
    // naa. is the RFC 3980 iSCSI name type, not a SAS address.
    assert_eq!(
        TransportId::parse("naa.5001405a00000001").unwrap(),
        iscsi("naa.5001405a00000001", None)
    );
    assert_eq!(
        TransportId::parse("iqn.a,i,0xABCDEF012345").unwrap(),
        iscsi("iqn.a", Some("ABCDEF012345"))
    );
}

#[test]
fn parse_hex_byte_forms() {
    // The SPI example of sg3_utils' examples/transport_ids.txt.
    assert_eq!(
        TransportId::parse("1,0,0,7,0,0,0,1").unwrap(),
        TransportId::ParallelScsi {
            scsi_address: 7,
            relative_target_port: 1
        }
    );
    // The SAS example of the sg_persist manual page, comma and space separated.
    let sas = TransportId::Sas {
        address: 0x5000_c500_05b3_2001,
    };
    assert_eq!(
        TransportId::parse("6,0,0,0,5,0,c5,0,5,b3,20,1").unwrap(),
        TransportId::Sas {
            address: 0x0500_c500_05b3_2001
        }
    );
    assert_eq!(
        TransportId::parse("6 0 0 0 50 0 c5 0 5 b3 20 1").unwrap(),
        sas
    );
    assert_eq!(
        TransportId::parse("06, 00,00,00, 50,00,C5,00,05,B3,20,01").unwrap(),
        sas
    );
    assert_eq!(
        TransportId::parse("006,0,0,0,50,0,c5,0,5,b3,20,1").unwrap(),
        sas
    );
    // iSCSI in hex, shorter than its ADDITIONAL LENGTH: zero-padded.
    let t = TransportId::parse("5,0,0,14,69,71,6e,2e,61").unwrap();
    assert_eq!(t, iscsi("iqn.a", None));
    assert!(matches!(
        t,
        TransportId::Iscsi {
            name: Cow::Owned(_),
            ..
        }
    ));
    // All zero padding given explicitly.
    let full = enc(&sas)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(TransportId::parse(&full).unwrap(), sas);
    assert_eq!(TransportId::parse(&format!("{full} 0 0 0 0")).unwrap(), sas);
}

#[test]
fn parse_errors() {
    let e = |s: &str| TransportId::parse(s).unwrap_err().to_string();
    assert_eq!(
        e("sas,5001405a0000001"),
        "sas transport id: expected 16 hex digits after 'sas,', got 15"
    );
    assert_eq!(
        e("sas,5001405a000000011"),
        "sas transport id: expected 16 hex digits after 'sas,', got 17"
    );
    assert_eq!(
        e("sas,5001405a0000000g"),
        "sas transport id: unexpected character 'g' at offset 19"
    );
    assert_eq!(
        e("sas,0x5001405a00000001"),
        "sas transport id: unexpected character 'x' at offset 5"
    );
    assert_eq!(
        e("fcp,"),
        "fcp transport id: expected 16 hex digits after 'fcp,', got 0"
    );
    assert_eq!(
        e("sbp,00112233445566"),
        "sbp transport id: expected 16 hex digits after 'sbp,', got 14"
    );
    assert_eq!(
        e("srp,0011223344556677"),
        "srp transport id: expected 32 hex digits after 'srp,', got 16"
    );
    assert_eq!(
        e("spi,7"),
        "spi transport id: expected '<scsi address>,<relative target port>' (decimal) after 'spi,'"
    );
    assert_eq!(e("spi,,1"), e("spi,7"));
    assert_eq!(e("spi,7,"), e("spi,7"));
    assert_eq!(
        e("spi,7,1,2"),
        "spi transport id: relative target port: unexpected character ',' at offset 7"
    );
    assert_eq!(
        e("spi,-7,1"),
        "spi transport id: SCSI address: unexpected character '-' at offset 4"
    );
    assert_eq!(
        e("spi,65536,1"),
        "spi transport id: SCSI address: number larger than 65535"
    );
    assert_eq!(
        e("sop,12345"),
        "sop transport id: expected 1 to 4 hex digits after 'sop,', got 5"
    );
    assert_eq!(
        e("sop,0x"),
        "sop transport id: expected 1 to 4 hex digits after 'sop,', got 0"
    );
    assert_eq!(
        e("sop,1z"),
        "sop transport id: unexpected character 'z' at offset 5"
    );
    assert_eq!(
        e("iqn.a,i,0x0123456789a"),
        "iSCSI ISID: expected 12 hex digits after ',i,0x', got 11"
    );
    assert_eq!(
        e("iqn.a,i,0x0123456789abc"),
        "iSCSI ISID: expected 12 hex digits after ',i,0x', got 13"
    );
    assert_eq!(
        e("iqn.a,i,0x0123456789aX"),
        "iSCSI ISID: unexpected character 'X' at offset 21"
    );
    assert_eq!(
        e("iqn.a b"),
        "iSCSI name: unexpected character ' ' at offset 5"
    );
    assert_eq!(
        e("iqn."),
        "iSCSI name is empty (or only its iqn./eui./naa. prefix)"
    );
    let long = format!("iqn.{}", "x".repeat(300));
    assert_eq!(
        e(&long),
        "iSCSI name is 304 bytes (with ',i,0x' and the ISID, if any), longer than the 251 \
         that fit in a 256-byte TransportID"
    );
    assert_eq!(e("   "), "empty TransportID text");
    assert_eq!(e(""), "empty TransportID text");
    assert_eq!(
        e("IQN.2003-01.x"),
        TransportIdError::Unrecognized.to_string()
    );
    assert_eq!(e("sas:5001405a00000001"), e("IQN.2003-01.x"));
    assert_eq!(
        e("6,0,0,0,500"),
        "hex TransportID: byte 4 is larger than 0xff"
    );
    assert_eq!(
        e("6,,0"),
        "hex TransportID: empty field before byte 1 (doubled, leading or trailing comma)"
    );
    assert!(matches!(
        TransportId::parse("6,0,"),
        Err(TransportIdError::HexEmptyField { index: 2 })
    ));
    assert!(matches!(
        TransportId::parse(",6"),
        Err(TransportIdError::HexEmptyField { index: 0 })
    ));
    let mut long_sas = vec!["6"; 24];
    long_sas.push("1");
    assert_eq!(
        e(&long_sas.join(",")),
        "hex TransportID: 25 bytes given, but the TransportID ends after 24 and the rest are \
         not zero"
    );
    assert_eq!(
        e("5,0"),
        "iSCSI name is empty (or only its iqn./eui./naa. prefix)"
    );
}

#[test]
fn from_str_gives_owned() {
    let t: TransportId<'static> = format!("{LIO_IQN},i,0x00023d000001").parse().unwrap();
    assert_eq!(t, iscsi(LIO_IQN, Some("00023d000001")));
    let t: TransportId<'static> = "sas,5001405a00000001".parse().unwrap();
    assert_eq!(t, TransportId::Sas { address: LIO_SAS });
    assert!("bogus".parse::<TransportId<'static>>().is_err());
}

#[test]
fn display_forms() {
    let cases: Vec<(TransportId<'_>, &str)> = vec![
        (
            TransportId::FibreChannel {
                n_port_name: 0x1000_0000_C9F3_A571,
            },
            "fcp,10000000c9f3a571",
        ),
        (
            TransportId::ParallelScsi {
                scsi_address: 7,
                relative_target_port: 1,
            },
            "spi,7,1",
        ),
        (TransportId::Ieee1394 { eui64: 1 }, "sbp,0000000000000001"),
        (
            TransportId::Srp {
                port_id: [0xAB; 16],
            },
            "srp,abababababababababababababababab",
        ),
        (
            TransportId::Sas { address: LIO_SAS },
            "sas,5001405a00000001",
        ),
        (TransportId::Sop { routing_id: 0x310 }, "sop,0310"),
        (iscsi("iqn.a", None), "iqn.a"),
        (
            iscsi("eui.02004567A425678D", Some("00023d000001")),
            "eui.02004567A425678D,i,0x00023d000001",
        ),
        (
            TransportId::Ssa {
                format: 0,
                data: [0; 23],
            },
            "02,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00",
        ),
        (
            TransportId::Other {
                protocol: 0xF,
                format: 1,
                bytes: Cow::Owned(vec![1; 23]),
            },
            "4f,01,01,01,01,01,01,01,01,01,01,01,01,01,01,01,01,01,01,01,01,01,01,01",
        ),
        // Not a name the text form can carry: no iqn./eui./naa. prefix.
        (
            iscsi("foo", None),
            "05,00,00,14,66,6f,6f,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00",
        ),
    ];
    for (t, text) in cases {
        assert_eq!(t.to_string(), text);
        assert_eq!(TransportId::parse(text).unwrap(), t, "{text}");
    }
    // An ISID that is not 12 digits (old LIO) also falls back to the hex form.
    let t = iscsi("iqn.a", Some("23d000"));
    let text = t.to_string();
    assert!(text.starts_with("45,00,00,14,69,71,6e,2e,61,2c,69,2c,30,78"));
    assert_eq!(TransportId::parse(&text).unwrap(), t);
}

#[test]
fn describe_output() {
    let t = TransportId::Sas { address: LIO_SAS };
    assert_eq!(
        t.describe().to_string(),
        "TransportID, Serial Attached SCSI (SAS):\n  SAS address: 0x5001405a00000001"
    );
    let t = iscsi(LIO_IQN, Some("00023d000001"));
    assert_eq!(
        t.describe().indent("    ").to_string(),
        format!(
            "    TransportID, Internet SCSI (iSCSI):\n      \
             world wide unique port id: {LIO_IQN},i,0x00023d000001\n      \
             iSCSI name: {LIO_IQN}\n      \
             ISID: 0x00023d000001"
        )
    );
    let t = iscsi("iqn.a\u{7}", None);
    assert_eq!(
        t.describe().to_string(),
        "TransportID, Internet SCSI (iSCSI):\n  iSCSI name: iqn.a\\u{7}"
    );
    let t = TransportId::Sop { routing_id: 0x0311 };
    assert_eq!(
        t.describe().to_string(),
        "TransportID, SCSI over PCI Express (SOP):\n  routing ID: 0x0311 (bus 3, device 2, \
         function 1; with ARI: bus 3, function 17)"
    );
    let t = TransportId::ParallelScsi {
        scsi_address: 7,
        relative_target_port: 1,
    };
    assert_eq!(
        t.describe().indent("> ").to_string(),
        "> TransportID, parallel SCSI (SPI):\n>   SCSI address: 0x7\n>   relative target \
         port identifier: 1"
    );
    let t = TransportId::Other {
        protocol: 8,
        format: 0,
        bytes: Cow::Owned(vec![0; 23]),
    };
    let d = t.describe().to_string();
    assert_eq!(
        d.lines().collect::<Vec<_>>(),
        vec![
            "TransportID, AT Attachment Interface (ATA):",
            "  format code 0: no layout defined; bytes:",
            "    08 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
            "    00 00 00 00 00 00 00 00",
        ]
    );
    for t in [
        TransportId::FibreChannel { n_port_name: 1 },
        TransportId::Ieee1394 { eui64: 2 },
        TransportId::Srp { port_id: [3; 16] },
        iscsi("iqn.b", None),
        TransportId::Ssa {
            format: 1,
            data: [4; 23],
        },
    ] {
        assert!(t.describe().to_string().lines().count() >= 2);
    }
}

#[test]
fn into_owned_keeps_value() {
    let b = enc(&iscsi(LIO_IQN, Some("00023d000001")));
    let (t, _) = TransportId::decode(&b).unwrap();
    let owned: TransportId<'static> = t.clone().into_owned();
    drop(b);
    assert_eq!(owned, iscsi(LIO_IQN, Some("00023d000001")));
}

// --- properties ------------------------------------------------------------------------

fn arb_isid() -> impl Strategy<Value = String> {
    "[0-9a-fA-F]{12}"
}

/// Names the text form carries.
fn arb_text_name() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&ISCSI_PREFIXES[..]),
        "[a-z0-9.:-]{1,60}",
    )
        .prop_map(|(p, rest)| format!("{p}{rest}"))
        .prop_filter("no separator", |n| !n.contains(ISID_SEPARATOR))
}

/// Any name that encodes.
fn arb_any_name() -> impl Strategy<Value = String> {
    prop_oneof![arb_text_name(), "[^\u{0}]{1,80}", "iqn\\.[a-z ,i0x]{1,40}",]
        .prop_filter("encodable", |n| {
            !n.contains(ISID_SEPARATOR) && n.len() <= ISCSI_MAX_TEXT - 20
        })
}

fn arb_other() -> impl Strategy<Value = TransportId<'static>> {
    let no_layout = (
        prop::sample::select(vec![7u8, 8, 9, 0xB, 0xC, 0xD, 0xE, 0xF]),
        0u8..4,
    );
    let odd_format = (prop::sample::select(vec![0u8, 1, 3, 4, 6, 0xA]), 1u8..4);
    let fixed = prop_oneof![no_layout, odd_format].prop_flat_map(|(protocol, format)| {
        prop::collection::vec(any::<u8>(), 23).prop_map(move |bytes| TransportId::Other {
            protocol,
            format,
            bytes: Cow::Owned(bytes),
        })
    });
    let iscsi_reserved = (
        2u8..4,
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(format, r, data)| {
            let n = u16::try_from(data.len()).unwrap().to_be_bytes();
            let mut bytes = vec![r, n[0], n[1]];
            bytes.extend(data);
            TransportId::Other {
                protocol: 5,
                format,
                bytes: Cow::Owned(bytes),
            }
        });
    prop_oneof![fixed, iscsi_reserved]
}

fn arb_tid(names: BoxedStrategy<String>) -> impl Strategy<Value = TransportId<'static>> {
    prop_oneof![
        any::<u64>().prop_map(|n_port_name| TransportId::FibreChannel { n_port_name }),
        (any::<u16>(), any::<u16>()).prop_map(|(scsi_address, relative_target_port)| {
            TransportId::ParallelScsi {
                scsi_address,
                relative_target_port,
            }
        }),
        (0u8..4, any::<[u8; 23]>()).prop_map(|(format, data)| TransportId::Ssa { format, data }),
        any::<u64>().prop_map(|eui64| TransportId::Ieee1394 { eui64 }),
        any::<[u8; 16]>().prop_map(|port_id| TransportId::Srp { port_id }),
        (names, prop::option::of(arb_isid())).prop_map(|(name, isid)| TransportId::Iscsi {
            name: Cow::Owned(name),
            isid: isid.map(Cow::Owned),
        }),
        any::<u64>().prop_map(|address| TransportId::Sas { address }),
        any::<u16>().prop_map(|routing_id| TransportId::Sop { routing_id }),
        arb_other(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_decode(t in arb_tid(arb_any_name().boxed()), extra in prop::collection::vec(any::<u8>(), 0..8)) {
        let mut buf = vec![0x5Au8; t.encoded_len() + extra.len()];
        let n = t.encode(&mut buf).unwrap();
        prop_assert_eq!(n, t.encoded_len());
        if !matches!(t, TransportId::Other { .. }) {
            prop_assert!(n >= FIXED_LEN);
            prop_assert_eq!(n % 4, 0);
        }
        buf[n..].copy_from_slice(&extra);
        let (back, used) = TransportId::decode(&buf).unwrap();
        prop_assert_eq!(used, n);
        prop_assert_eq!(&back, &t);
        prop_assert_eq!(back.protocol(), t.protocol());
        prop_assert_eq!(back.format_code(), t.format_code());
        prop_assert_eq!(back.into_owned(), t);
    }

    #[test]
    fn display_then_parse(t in arb_tid(arb_any_name().boxed())) {
        let text = t.to_string();
        prop_assert_eq!(TransportId::parse(&text).unwrap(), t.clone());
        prop_assert_eq!(text.parse::<TransportId<'static>>().unwrap(), t);
    }

    #[test]
    fn text_names_use_the_name_form(t in arb_tid(arb_text_name().boxed())) {
        if let TransportId::Iscsi { name, .. } = &t {
            prop_assert!(t.to_string().starts_with(name.as_ref()));
        }
    }

    #[test]
    fn decode_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok((t, used)) = TransportId::decode(&bytes) {
            prop_assert!(used <= bytes.len());
            // What decodes has a text form that gives it back, and describes itself.
            let text = t.to_string();
            prop_assert_eq!(TransportId::parse(&text).unwrap(), t.clone());
            let _ = t.describe().indent("  ").to_string();
        }
    }

    #[test]
    fn decode_arbitrary_iscsi(
        format in 0u8..4,
        alen in 0u16..64,
        body in prop::collection::vec(prop_oneof![Just(0u8), Just(b','), Just(b'i'), Just(b'0'), Just(b'x'), any::<u8>()], 0..80),
    ) {
        let mut bytes = vec![byte0(format, PROTO_ISCSI), 0];
        bytes.extend_from_slice(&alen.to_be_bytes());
        bytes.extend(body);
        if let Ok((t, used)) = TransportId::decode(&bytes) {
            prop_assert_eq!(used, 4 + usize::from(alen));
            let text = t.to_string();
            prop_assert_eq!(TransportId::parse(&text).unwrap(), t.clone());
        }
    }

    #[test]
    fn parse_arbitrary_text(s in "\\PC{0,80}") {
        let _ = TransportId::parse(&s);
    }

    #[test]
    fn parse_near_miss_text(
        lead in prop::sample::select(vec!["fcp,", "SPI,", "sbp,", "srp,", "sas,", "sop,", "iqn.", "eui.", "naa.", "", "5,0,0,", "6 "]),
        rest in "[0-9a-fA-FxX, .,i\t-]{0,70}",
    ) {
        let s = format!("{lead}{rest}");
        if let Ok(t) = TransportId::parse(&s) {
            let mut buf = vec![0u8; t.encoded_len()];
            // Whatever parses encodes, except decoded hex forms that carry odd values.
            let _ = t.encode(&mut buf);
            let _ = t.to_string();
        }
    }

    #[test]
    fn encode_never_overruns(t in arb_tid(arb_any_name().boxed()), len in 0usize..300) {
        let mut buf = vec![0u8; len];
        match t.encode(&mut buf) {
            Ok(n) => prop_assert!(n <= len),
            Err(e) => prop_assert!(matches!(e, TransportIdError::OutputTooSmall { .. }), "{}", e),
        }
    }
}
