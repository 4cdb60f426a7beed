//! Unit tests of status, sense data (both formats), descriptors and ASC/ASCQ names.

use super::*;
use proptest::prelude::*;

/// The Linux LIO target's UNIT ATTENTION after PREEMPT (fixed format).
const LIO_UA_PREEMPTED: [u8; 18] = [
    0x70, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x05, 0x00, 0x00,
    0x00, 0x00,
];

#[test]
fn status_names_and_mask() {
    assert_eq!(
        ScsiStatus::RESERVATION_CONFLICT.name(),
        Some("RESERVATION CONFLICT")
    );
    assert_eq!(ScsiStatus(0x19).masked(), ScsiStatus::RESERVATION_CONFLICT);
    assert_eq!(ScsiStatus(0x40).masked(), ScsiStatus::TASK_ABORTED);
    assert_eq!(ScsiStatus(0x81).masked(), ScsiStatus::GOOD);
    assert!(ScsiStatus(0x01).is_good());
    assert!(ScsiStatus::CONDITION_MET.is_good());
    assert!(!ScsiStatus::BUSY.is_good());
    assert_eq!(ScsiStatus::TASK_SET_FULL.to_string(), "TASK SET FULL");
    assert_eq!(
        ScsiStatus(0x19).to_string(),
        "RESERVATION CONFLICT (raw 19h)"
    );
    assert_eq!(ScsiStatus(0x0c).to_string(), "reserved status 0Ch");
    for code in [
        0x00, 0x02, 0x04, 0x08, 0x10, 0x14, 0x18, 0x22, 0x28, 0x30, 0x40,
    ] {
        assert!(ScsiStatus(code).name().is_some(), "{code:#x}");
    }
}

#[test]
fn sense_key_round_trip() {
    for code in 0..=0x0f {
        let key = SenseKey::from_code(code).unwrap();
        assert_eq!(key.code(), code);
    }
    assert_eq!(SenseKey::from_code(0x10), None);
    assert_eq!(SenseKey::from_code(0x05).unwrap().name(), "ILLEGAL REQUEST");
    assert_eq!(SenseKey::Completed.to_string(), "COMPLETED");
}

#[test]
fn lio_unit_attention_after_preempt() {
    let s = Sense::parse(&LIO_UA_PREEMPTED).unwrap();
    assert_eq!(s.format(), SenseFormat::Fixed);
    assert_eq!(s.response_code(), 0x70);
    assert!(s.is_current() && !s.is_deferred());
    assert_eq!(s.key(), SenseKey::UnitAttention);
    assert_eq!(s.asc_ascq(), Some((0x2a, 0x05)));
    assert_eq!(s.information(), None);
    assert_eq!(s.command_specific_information(), Some(0));
    assert_eq!(s.sense_key_specific(), None);
    assert!(!s.is_truncated());
    assert_eq!(s.descriptors().count(), 0);
    assert_eq!(
        s.to_string(),
        "UNIT ATTENTION: REGISTRATIONS PREEMPTED (asc 2Ah, ascq 05h)"
    );
}

#[test]
fn illegal_request_field_pointer() {
    // INVALID FIELD IN CDB, SKSV, C/D=1, BPV, bit 7, byte 2; VALID with INFORMATION.
    let b = [
        0xf0, 0x00, 0x05, 0x00, 0x00, 0x12, 0x34, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x24, 0x00, 0x00,
        0xcf, 0x00, 0x02,
    ];
    let s = Sense::parse(&b).unwrap();
    assert_eq!(s.key(), SenseKey::IllegalRequest);
    assert_eq!(s.information(), Some(0x1234));
    let fp = s.field_pointer().unwrap();
    assert_eq!(
        fp,
        FieldPointer {
            c_d: FieldLocation::Cdb,
            bit_pointer: Some(7),
            field_pointer: 2
        }
    );
    assert_eq!(fp.to_string(), "CDB byte 2 bit 7");
    assert_eq!(
        s.to_string(),
        "ILLEGAL REQUEST: INVALID FIELD IN CDB (asc 24h, ascq 00h), CDB byte 2 bit 7"
    );
    // Parameter list, no bit pointer.
    let mut p = b;
    p[12] = 0x26;
    p[15] = 0x80;
    p[16] = 0x00;
    p[17] = 0x18;
    let s = Sense::parse(&p).unwrap();
    assert_eq!(
        s.field_pointer().unwrap().to_string(),
        "parameter list byte 24"
    );
    // SKSV clear: no field pointer.
    p[15] = 0x40;
    assert_eq!(Sense::parse(&p).unwrap().field_pointer(), None);
    assert_eq!(
        Sense::parse(&p).unwrap().sense_key_specific_bytes(),
        Some([0x40, 0, 0x18])
    );
}

#[test]
fn descriptor_format_with_sense_key_specific() {
    // 72h, NOT READY, 04h/04h FORMAT IN PROGRESS, information + SKS descriptors.
    let b = [
        0x72, 0x02, 0x04, 0x04, 0x00, 0x00, 0x00, 0x14, // header, 20 bytes follow
        0x00, 0x0a, 0x80, 0x00, 0, 0, 0, 0, 0, 0, 0x10, 0x00, // information 0x1000
        0x02, 0x06, 0x80, 0x80, 0x00, 0x00, 0x00, 0x00, // SKS progress 0x8000
    ];
    let s = Sense::parse(&b).unwrap();
    assert_eq!(s.format(), SenseFormat::Descriptor);
    assert!(s.is_current());
    assert_eq!(s.key(), SenseKey::NotReady);
    assert_eq!(s.asc_ascq(), Some((0x04, 0x04)));
    assert_eq!(s.information(), Some(0x1000));
    assert_eq!(s.command_specific_information(), None);
    assert_eq!(s.progress(), Some(Progress(0x8000)));
    assert_eq!(s.progress().unwrap().to_string(), "50.0%");
    assert!(!s.is_truncated());
    let ds: Vec<_> = s.descriptors().collect();
    assert_eq!(ds.len(), 2);
    assert_eq!(ds[0].type_code(), 0x00);
    assert_eq!(ds[1].type_code(), 0x02);
    assert_eq!(
        ds[1].decode(),
        SenseDescriptor::SenseKeySpecific([0x80, 0x80, 0x00])
    );
    assert_eq!(
        s.to_string(),
        "NOT READY: LOGICAL UNIT NOT READY, FORMAT IN PROGRESS (asc 04h, ascq 04h), \
         progress 50.0%"
    );
}

#[test]
fn descriptor_illegal_request_and_other_descriptors() {
    let b = [
        0x73, 0x05, 0x26, 0x00, 0x00, 0x00, 0x00, 0x18, // deferred, 24 bytes follow
        0x02, 0x06, 0x80, 0x00, 0x0c, 0x00, 0x00, 0x00, // SKS: parameter list byte 12
        0x01, 0x0a, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0x07, // command-specific 7
        0x03, 0x02, 0x00, 0x42, // FRU 42h
    ];
    let s = Sense::parse(&b).unwrap();
    assert!(s.is_deferred());
    assert_eq!(s.key(), SenseKey::IllegalRequest);
    assert_eq!(s.command_specific_information(), Some(7));
    assert_eq!(s.field_replaceable_unit(), Some(0x42));
    assert_eq!(
        s.field_pointer(),
        Some(FieldPointer {
            c_d: FieldLocation::ParameterList,
            bit_pointer: None,
            field_pointer: 12
        })
    );
    assert!(
        s.to_string()
            .ends_with("parameter list byte 12 [deferred error]")
    );
}

#[test]
fn truncated_sense_decodes_what_is_there() {
    // Only 8 bytes: key, but no ASC/ASCQ.
    let s = Sense::parse(&LIO_UA_PREEMPTED[..8]).unwrap();
    assert_eq!(s.key(), SenseKey::UnitAttention);
    assert_eq!(s.asc(), None);
    assert_eq!(s.asc_ascq(), None);
    assert!(s.is_truncated());
    assert_eq!(
        s.to_string(),
        "UNIT ATTENTION (no additional sense code: sense data ends after 8 bytes)"
    );
    // 14 bytes: ASC/ASCQ, but no sense-key specific bytes.
    let s = Sense::parse(&LIO_UA_PREEMPTED[..14]).unwrap();
    assert_eq!(s.asc_ascq(), Some((0x2a, 0x05)));
    assert_eq!(s.sense_key_specific_bytes(), None);
    assert_eq!(s.field_replaceable_unit(), None);
    assert!(s.is_truncated());
    assert!(s.to_string().ends_with("[truncated]"));
    // 3 bytes: just the key.
    let s = Sense::parse(&LIO_UA_PREEMPTED[..3]).unwrap();
    assert_eq!(s.key(), SenseKey::UnitAttention);
    assert_eq!(s.additional_length(), None);
    // Too short or not sense at all.
    assert!(matches!(
        Sense::parse(&LIO_UA_PREEMPTED[..2]),
        Err(DecodeError::Short { needed: 3, .. })
    ));
    assert!(matches!(Sense::parse(&[]), Err(DecodeError::Short { .. })));
    assert!(matches!(
        Sense::parse(&[0x7f, 0, 0]),
        Err(DecodeError::BadField { value: 0x7f, .. })
    ));
    // Additional length caps the data: bytes past it are ignored.
    let mut long = [0u8; 30];
    long[..18].copy_from_slice(&LIO_UA_PREEMPTED);
    long[7] = 6; // claims 14 bytes
    let s = Sense::parse(&long).unwrap();
    assert_eq!(s.as_bytes().len(), 14);
    assert_eq!(s.sense_key_specific_bytes(), None);
}

#[test]
fn truncated_descriptor() {
    let b = [
        0x72, 0x06, 0x29, 0x07, 0, 0, 0, 0x0c, 0x00, 0x0a, 0x80, 0x00, 0x00,
    ];
    let s = Sense::parse(&b).unwrap();
    assert!(s.is_truncated());
    assert_eq!(s.asc_ascq(), Some((0x29, 0x07)));
    let ds: Vec<_> = s.descriptors().collect();
    assert_eq!(ds.len(), 1);
    assert!(ds[0].is_truncated());
    assert_eq!(ds[0].data(), &[0x80, 0x00, 0x00]);
    assert!(matches!(
        ds[0].decode(),
        SenseDescriptor::Other { type_code: 0, .. }
    ));
    assert_eq!(s.information(), None);
    // Header cut after the type byte.
    let b = [0x72, 0x06, 0x29, 0x07, 0, 0, 0, 0x02, 0x05];
    let ds: Vec<_> = Sense::parse(&b).unwrap().descriptors().collect();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].additional_length(), None);
    assert!(ds[0].is_truncated());
}

#[test]
fn retry_count_and_ua_overflow() {
    let mut b = [0u8; 18];
    b[0] = 0x70;
    b[2] = 0x03;
    b[7] = 10;
    b[15] = 0x80;
    b[17] = 5;
    let s = Sense::parse(&b).unwrap();
    assert_eq!(
        s.sense_key_specific(),
        Some(SenseKeySpecific::ActualRetryCount(5))
    );
    b[2] = 0x06;
    b[15] = 0x81;
    let s = Sense::parse(&b).unwrap();
    assert_eq!(
        s.sense_key_specific(),
        Some(SenseKeySpecific::UnitAttention { overflow: true })
    );
}

#[test]
fn table_is_sorted_and_unique() {
    assert!(ASC_TABLE.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(ASC_TABLE.len() > 500);
    for &(_, name) in ASC_TABLE {
        assert!(!name.is_empty());
        assert_eq!(name, name.trim());
    }
}

#[test]
fn pr_relevant_names() {
    let want = [
        (0x2a, 0x03, "RESERVATIONS PREEMPTED"),
        (0x2a, 0x04, "RESERVATIONS RELEASED"),
        (0x2a, 0x05, "REGISTRATIONS PREEMPTED"),
        (0x29, 0x00, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED"),
        (0x29, 0x07, "I_T NEXUS LOSS OCCURRED"),
        (0x04, 0x07, "LOGICAL UNIT NOT READY, OPERATION IN PROGRESS"),
        (
            0x04,
            0x0a,
            "LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION",
        ),
        (
            0x04,
            0x0b,
            "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE",
        ),
        (
            0x04,
            0x0c,
            "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN UNAVAILABLE STATE",
        ),
        (0x20, 0x00, "INVALID COMMAND OPERATION CODE"),
        (0x24, 0x00, "INVALID FIELD IN CDB"),
        (0x25, 0x00, "LOGICAL UNIT NOT SUPPORTED"),
        (0x26, 0x00, "INVALID FIELD IN PARAMETER LIST"),
        (0x26, 0x04, "INVALID RELEASE OF PERSISTENT RESERVATION"),
        (0x1a, 0x00, "PARAMETER LIST LENGTH ERROR"),
        (0x2c, 0x00, "COMMAND SEQUENCE ERROR"),
        (0x2c, 0x09, "PREVIOUS RESERVATION CONFLICT STATUS"),
        (0x3f, 0x01, "MICROCODE HAS BEEN CHANGED"),
        (0x3f, 0x03, "INQUIRY DATA HAS CHANGED"),
        (0x3f, 0x0e, "REPORTED LUNS DATA HAS CHANGED"),
        (0x2f, 0x00, "COMMANDS CLEARED BY ANOTHER INITIATOR"),
        (0x2f, 0x02, "COMMANDS CLEARED BY DEVICE SERVER"),
        (0x55, 0x02, "INSUFFICIENT RESERVATION RESOURCES"),
        (0x55, 0x04, "INSUFFICIENT REGISTRATION RESOURCES"),
        (0x08, 0x00, "LOGICAL UNIT COMMUNICATION FAILURE"),
        (0x3a, 0x00, "MEDIUM NOT PRESENT"),
        (0x44, 0x00, "INTERNAL TARGET FAILURE"),
        (0x47, 0x00, "SCSI PARITY ERROR"),
        (0x4b, 0x07, "CONNECTION LOST"),
        (0x5d, 0x00, "FAILURE PREDICTION THRESHOLD EXCEEDED"),
        (
            0x5d,
            0x12,
            "HARDWARE IMPENDING FAILURE DATA ERROR RATE TOO HIGH",
        ),
        (
            0x5d,
            0x6c,
            "FIRMWARE IMPENDING FAILURE DRIVE CALIBRATION RETRY COUNT",
        ),
        (0x0e, 0x03, "INVALID FIELD IN COMMAND INFORMATION UNIT"),
    ];
    for (asc, ascq, name) in want {
        assert_eq!(asc_ascq_name(asc, ascq), Some(name), "{asc:02x}/{ascq:02x}");
    }
    for ascq in 0x00..=0x14 {
        if ascq != 0x0e && ascq != 0x0f {
            assert!(asc_ascq_name(0x2a, ascq).is_some(), "2A/{ascq:02x}");
        }
    }
    for ascq in 0x00..=0x07 {
        assert!(asc_ascq_name(0x29, ascq).is_some(), "29/{ascq:02x}");
    }
    assert_eq!(asc_ascq_name(0x2a, 0x0e), None);
}

#[test]
fn asc_display_ranges() {
    let s = |asc, ascq| AscAscq::new(asc, ascq).to_string();
    assert_eq!(s(0x2a, 0x05), "REGISTRATIONS PREEMPTED");
    assert_eq!(s(0x40, 0x00), "RAM FAILURE (SHOULD USE 40 NN)");
    assert_eq!(s(0x40, 0x85), "DIAGNOSTIC FAILURE ON COMPONENT 85h");
    assert_eq!(s(0x4d, 0x2a), "TAGGED OVERLAPPED COMMANDS (TASK TAG 2Ah)");
    assert_eq!(
        s(0x70, 0x03),
        "DECOMPRESSION EXCEPTION SHORT ALGORITHM ID OF 03h"
    );
    assert_eq!(s(0x80, 0x01), "VENDOR SPECIFIC");
    assert_eq!(s(0x04, 0x85), "VENDOR SPECIFIC QUALIFIER 85h OF ASC 04h");
    assert_eq!(
        s(0x5d, 0xff),
        "FAILURE PREDICTION THRESHOLD EXCEEDED (FALSE)"
    );
    assert_eq!(s(0x5d, 0x85), "VENDOR SPECIFIC QUALIFIER 85h OF ASC 5Dh");
    assert_eq!(s(0x2a, 0x7e), "UNKNOWN ASC/ASCQ");
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(s) = Sense::parse(&bytes) {
            let _ = (s.key(), s.asc(), s.ascq(), s.information(), s.progress());
            let _ = (s.command_specific_information(), s.field_replaceable_unit());
            let _ = (s.sense_key_specific(), s.is_truncated(), s.is_deferred());
            prop_assert!(s.as_bytes().len() <= bytes.len());
            for d in s.descriptors() {
                let _ = (d.decode(), d.is_truncated());
            }
            let _ = s.to_string();
        }
    }

    #[test]
    fn structured_sense_never_panics(
        rc in 0x70u8..=0x73,
        len in 0usize..64,
        fill in proptest::collection::vec(any::<u8>(), 64),
    ) {
        let mut b = fill;
        b[0] = rc;
        b.truncate(len);
        if let Ok(s) = Sense::parse(&b) {
            let _ = s.to_string();
            prop_assert!(s.descriptors().count() <= 32);
        }
    }

    #[test]
    fn asc_display_never_panics(asc in any::<u8>(), ascq in any::<u8>()) {
        prop_assert!(!AscAscq::new(asc, ascq).to_string().is_empty());
    }
}
