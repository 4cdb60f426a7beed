//! The plain form (feature `serde`) of every pr-core result type, as JSON: exact text for
//! the small values, the members and their values for the larger ones, and round trips for
//! the values that deserialize.

use core::time::Duration;

use pr_core::outcome::{CommandError, Completion, DriverStatus, HostStatus, SenseBuf};
use pr_core::prin::{AllowCommands, Capabilities, CapabilityFlags, Reservation, TypeMask};
use pr_core::sense::{FieldLocation, FieldPointer, ScsiStatus, SenseKey, encode_fixed};
use pr_core::serde_support::{Hex, Micros};
use pr_core::transport::TransportError;
use pr_core::transport_id::{ProtocolId, TransportId};
use pr_core::types::{PrInAction, PrOutAction, PrOutFlags, ReservationKey, ReservationType, Scope};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn text<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}

fn value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

/// Serializes `v`, checks the text, and reads it back to `v`.
fn round_trip<T>(v: T, expected: &str)
where
    T: Serialize + DeserializeOwned + PartialEq + core::fmt::Debug,
{
    assert_eq!(text(&v), expected, "{v:?}");
    assert_eq!(
        serde_json::from_str::<T>(expected).unwrap(),
        v,
        "{expected}"
    );
}

#[test]
fn keys_are_hex_strings() {
    round_trip(ReservationKey(0x1234), r#""0x1234""#);
    round_trip(ReservationKey(0), r#""0x0""#);
    // The point of strings: this key is not a JSON number any double can carry.
    round_trip(
        ReservationKey(0x8000_0000_0000_0001),
        r#""0x8000000000000001""#,
    );
    let other_forms: [(&str, u64); 4] = [
        (r#""1234h""#, 0x1234),
        (r#""4660""#, 4660),
        ("4660", 4660),
        ("18446744073709551615", u64::MAX),
    ];
    for (json, key) in other_forms {
        let k: ReservationKey = serde_json::from_str(json).unwrap();
        assert_eq!(k, ReservationKey(key), "{json}");
    }
    for bad in [r#""0xg""#, "-1", r#""0x1ffffffffffffffff""#, "1.5", "null"] {
        assert!(
            serde_json::from_str::<ReservationKey>(bad).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn reservation_types_are_snake_case_names() {
    let names = [
        "write_exclusive",
        "exclusive_access",
        "write_exclusive_registrants_only",
        "exclusive_access_registrants_only",
        "write_exclusive_all_registrants",
        "exclusive_access_all_registrants",
    ];
    for (t, name) in ReservationType::ALL.into_iter().zip(names) {
        round_trip(t, &format!("\"{name}\""));
    }
    assert!(serde_json::from_str::<ReservationType>(r#""Write Exclusive""#).is_err());
    assert!(serde_json::from_str::<ReservationType>("5").is_err());
}

#[test]
fn scopes() {
    round_trip(Scope::LogicalUnit, r#""logical_unit""#);
    round_trip(Scope::Other(2), r#"{"other":2}"#);
}

#[test]
fn service_actions_are_snake_case_names() {
    let ins = [
        "read_keys",
        "read_reservation",
        "report_capabilities",
        "read_full_status",
    ];
    for (a, name) in PrInAction::ALL.into_iter().zip(ins) {
        round_trip(a, &format!("\"{name}\""));
    }
    let outs = [
        "register",
        "reserve",
        "release",
        "clear",
        "preempt",
        "preempt_and_abort",
        "register_and_ignore_existing_key",
        "register_and_move",
        "replace_lost_reservation",
    ];
    for (a, name) in PrOutAction::ALL.into_iter().zip(outs) {
        round_trip(a, &format!("\"{name}\""));
    }
}

#[test]
fn pr_out_flags_are_arrays_of_names() {
    round_trip(PrOutFlags::empty(), "[]");
    round_trip(PrOutFlags::APTPL, r#"["aptpl"]"#);
    round_trip(
        PrOutFlags::all(),
        r#"["aptpl","all_tg_pt","spec_i_pt","unreg"]"#,
    );
    round_trip(
        PrOutFlags::APTPL | PrOutFlags::from_bits_retain(0x40),
        r#"["aptpl","0x40"]"#,
    );
    let upper: PrOutFlags = serde_json::from_str(r#"["ALL_TG_PT"]"#).unwrap();
    assert_eq!(upper, PrOutFlags::ALL_TG_PT);
    // From a reader (owned strings) and with escapes, as well as from borrowed text.
    let read: PrOutFlags = serde_json::from_reader(&br#"["aptpl","\u0075nreg"]"#[..]).unwrap();
    assert_eq!(read, PrOutFlags::APTPL | PrOutFlags::UNREG);
    let key: ReservationKey = serde_json::from_reader(&br#""0x1234""#[..]).unwrap();
    assert_eq!(key, ReservationKey(0x1234));
    assert!(serde_json::from_str::<PrOutFlags>(r#"["aptpl","persist"]"#).is_err());
    assert!(serde_json::from_str::<PrOutFlags>(r#""aptpl""#).is_err());
}

#[test]
fn reservation() {
    let r = Reservation {
        key: ReservationKey(0xabc),
        scope: Scope::LogicalUnit,
        type_code: 5,
    };
    assert_eq!(
        text(&r),
        r#"{"key":"0xabc","scope":"logical_unit","type_code":5,"type":"write_exclusive_registrants_only"}"#
    );
    let obsolete = Reservation { type_code: 2, ..r };
    assert_eq!(value(&obsolete)["type"], Value::Null);
    assert_eq!(value(&obsolete)["type_code"], json!(2));
}

#[test]
fn capabilities() {
    // LIO's answer: SIP_C, ATP_C, PTPL_C, TMV, ALLOW COMMANDS 1, every type.
    let caps = Capabilities::decode(&[0x00, 0x08, 0x0d, 0x90, 0xea, 0x01, 0, 0]).unwrap();
    assert_eq!(
        value(&caps),
        json!({
            "length": 8,
            "flags": ["sip_c", "atp_c", "ptpl_c", "tmv"],
            "allow_commands": 1,
            "type_mask": [
                "write_exclusive",
                "exclusive_access",
                "write_exclusive_registrants_only",
                "exclusive_access_registrants_only",
                "write_exclusive_all_registrants",
                "exclusive_access_all_registrants"
            ],
            "reserved_flag_bits": 0,
            "reserved_type_bits": 0
        })
    );
    assert_eq!(text(&CapabilityFlags::RLR_C), r#"["rlr_c"]"#);
    assert_eq!(text(&CapabilityFlags::PTPL_A), r#"["ptpl_a"]"#);
    assert_eq!(text(&TypeMask::empty()), "[]");
    assert_eq!(
        text(&(TypeMask::WR_EX | TypeMask::from_bits_retain(0x0100))),
        r#"["write_exclusive","0x100"]"#
    );
    assert_eq!(text(&AllowCommands(5)), "5");
}

#[test]
fn protocol_ids() {
    let cases = [
        (ProtocolId::FibreChannel, r#""fibre_channel""#),
        (ProtocolId::ParallelScsi, r#""parallel_scsi""#),
        (ProtocolId::Ssa, r#""ssa""#),
        (ProtocolId::Ieee1394, r#""ieee1394""#),
        (ProtocolId::Srp, r#""srp""#),
        (ProtocolId::Iscsi, r#""iscsi""#),
        (ProtocolId::Sas, r#""sas""#),
        (ProtocolId::Adt, r#""adt""#),
        (ProtocolId::Ata, r#""ata""#),
        (ProtocolId::Uas, r#""uas""#),
        (ProtocolId::Sop, r#""sop""#),
        (ProtocolId::Pcie, r#""pcie""#),
        (ProtocolId::None, r#""none""#),
        (ProtocolId::Other(0xc), r#"{"other":12}"#),
    ];
    for (p, expected) in cases {
        assert_eq!(text(&p), expected);
    }
}

#[test]
fn transport_ids() {
    let sas = TransportId::parse("sas,5001405a00000001").unwrap();
    let iscsi = TransportId::parse("iqn.2003-01.org.linux-iscsi.h:init,i,0x00023d000001").unwrap();
    let v = value(&iscsi);
    assert_eq!(v["protocol"], json!("iscsi"));
    assert_eq!(
        v["text"],
        json!("iqn.2003-01.org.linux-iscsi.h:init,i,0x00023d000001")
    );
    // Format 01b, ADDITIONAL LENGTH 52 (51 characters and a NUL, padded to 4).
    let hex = v["hex"].as_str().unwrap();
    assert!(hex.starts_with("45000034"), "{hex}");
    assert_eq!(hex.len(), 2 * (4 + 52));
    // Decoded TransportIDs serialize the same as parsed ones.
    let mut buf = [0u8; 24];
    sas.encode(&mut buf).unwrap();
    let (decoded, _) = TransportId::decode(&buf).unwrap();
    assert_eq!(value(&decoded), value(&sas));
    // One that cannot be encoded (a NUL in the name) keeps its text and has no hex.
    let nul = TransportId::Iscsi {
        name: "iqn.x\0y".into(),
        isid: None,
    };
    assert_eq!(value(&nul)["hex"], Value::Null);
    assert_eq!(value(&nul)["protocol"], json!("iscsi"));
}

#[test]
fn transport_id_hex_is_exact() {
    let sas = TransportId::Sas {
        address: 0x5001_405a_0000_0001,
    };
    let mut expected = String::from("06000000");
    expected.push_str("5001405a00000001");
    expected.push_str(&"00".repeat(12));
    assert_eq!(
        value(&sas),
        json!({"protocol": "sas", "text": "sas,5001405a00000001", "hex": expected})
    );
}

#[test]
fn statuses() {
    assert_eq!(
        text(&ScsiStatus::RESERVATION_CONFLICT),
        r#"{"code":24,"name":"RESERVATION CONFLICT"}"#
    );
    assert_eq!(text(&ScsiStatus(0x0c)), r#"{"code":12,"name":null}"#);
    assert_eq!(
        text(&HostStatus::NEXUS_FAILURE),
        r#"{"code":17,"name":"DID_NEXUS_FAILURE"}"#
    );
    assert_eq!(text(&HostStatus(0x42)), r#"{"code":66,"name":null}"#);
    assert_eq!(
        text(&DriverStatus(0x14)),
        r#"{"code":20,"name":"DRIVER_ERROR","suggestion":"SUGGEST_RETRY"}"#
    );
    assert_eq!(
        text(&DriverStatus::TIMEOUT),
        r#"{"code":6,"name":"DRIVER_TIMEOUT","suggestion":null}"#
    );
}

#[test]
fn sense_keys_and_field_pointers() {
    assert_eq!(text(&SenseKey::IllegalRequest), r#""illegal_request""#);
    assert_eq!(text(&SenseKey::NoSense), r#""no_sense""#);
    assert_eq!(text(&SenseKey::AbortedCommand), r#""aborted_command""#);
    let fp = FieldPointer {
        c_d: FieldLocation::Cdb,
        bit_pointer: Some(7),
        field_pointer: 2,
    };
    assert_eq!(
        text(&fp),
        r#"{"c_d":"cdb","bit_pointer":7,"field_pointer":2}"#
    );
    let fp = FieldPointer {
        c_d: FieldLocation::ParameterList,
        bit_pointer: None,
        field_pointer: 12,
    };
    assert_eq!(
        text(&fp),
        r#"{"c_d":"parameter_list","bit_pointer":null,"field_pointer":12}"#
    );
    assert_eq!(text(&SenseBuf::new(&[0x70, 0x00, 0x0a])), r#""70000a""#);
    assert_eq!(text(&SenseBuf::EMPTY), r#""""#);
}

fn completion(status: ScsiStatus, sense: &[u8], host: u16, driver: u16) -> Completion {
    Completion {
        status,
        sense: SenseBuf::new(sense),
        host_status: host,
        driver_status: driver,
        residual: 0,
        duration: Duration::ZERO,
    }
}

#[test]
fn command_errors() {
    let conflict = completion(ScsiStatus::RESERVATION_CONFLICT, &[], 0x11, 0)
        .check()
        .unwrap_err();
    assert_eq!(
        value(&conflict),
        json!({
            "kind": "reservation_conflict",
            "message": "reservation conflict",
            "status": {"code": 24, "name": "RESERVATION CONFLICT"},
            "sense_key": null,
            "asc": null,
            "ascq": null,
            "additional_sense": null,
            "field": null,
            "host_status": {"code": 17, "name": "DID_NEXUS_FAILURE"},
            "driver_status": null,
            "sense": null,
            "retryable": false,
            "path_failure": false
        })
    );

    let fp = FieldPointer {
        c_d: FieldLocation::Cdb,
        bit_pointer: Some(7),
        field_pointer: 2,
    };
    let sense = encode_fixed(SenseKey::IllegalRequest, 0x24, 0x00, Some(fp));
    let illegal = completion(ScsiStatus::CHECK_CONDITION, &sense, 0, 0x08)
        .check()
        .unwrap_err();
    assert!(matches!(illegal, CommandError::IllegalRequest { .. }));
    let v = value(&illegal);
    assert_eq!(v["kind"], json!("illegal_request"));
    assert_eq!(v["message"], json!(illegal.to_string()));
    assert_eq!(v["sense_key"], json!("illegal_request"));
    assert_eq!(
        (v["asc"].clone(), v["ascq"].clone()),
        (json!(0x24), json!(0))
    );
    assert_eq!(v["additional_sense"], json!("INVALID FIELD IN CDB"));
    assert_eq!(
        v["field"],
        json!({"c_d": "cdb", "bit_pointer": 7, "field_pointer": 2})
    );
    assert_eq!(v["sense"], json!(Hex(&sense).to_string()));
    assert!(v["sense"].as_str().unwrap().starts_with("7000050000000"));
    assert_eq!(v["host_status"], Value::Null);

    let ua = encode_fixed(SenseKey::UnitAttention, 0x2a, 0x05, None);
    let ua = completion(ScsiStatus::CHECK_CONDITION, &ua, 0, 0)
        .check()
        .unwrap_err();
    let v = value(&ua);
    assert_eq!(v["kind"], json!("unit_attention"));
    assert_eq!(v["additional_sense"], json!("REGISTRATIONS PREEMPTED"));
    assert_eq!(v["retryable"], json!(true));

    let transport = completion(ScsiStatus::GOOD, &[], 0x0e, 0)
        .check()
        .unwrap_err();
    let v = value(&transport);
    assert_eq!(v["kind"], json!("transport"));
    assert_eq!(v["status"], Value::Null);
    assert_eq!(
        v["host_status"],
        json!({"code": 14, "name": "DID_TRANSPORT_DISRUPTED"})
    );
    assert_eq!(
        v["driver_status"],
        json!({"code": 0, "name": "DRIVER_OK", "suggestion": null})
    );
    assert_eq!(v["path_failure"], json!(true));

    let busy = completion(ScsiStatus::BUSY, &[], 0, 0).check().unwrap_err();
    assert_eq!(value(&busy)["kind"], json!("busy"));
    // Every variant has the same members.
    for e in [&conflict, &illegal, &ua, &transport, &busy] {
        assert_eq!(value(e).as_object().unwrap().len(), 13, "{e}");
    }
}

#[test]
fn transport_errors() {
    let os = TransportError::Os {
        op: "SG_IO",
        device: "/dev/sdb".into(),
        errno: 5,
        message: "Input/output error".into(),
    };
    assert_eq!(
        value(&os),
        json!({
            "kind": "os",
            "message": "SG_IO on /dev/sdb: Input/output error (errno 5)",
            "device": "/dev/sdb",
            "errno": 5
        })
    );
    assert_eq!(
        value(&TransportError::Timeout(Duration::from_secs(30))),
        json!({
            "kind": "timeout",
            "message": "command timed out after 30s",
            "device": null,
            "errno": null
        })
    );
    let down = TransportError::PathDown {
        device: "sdc".into(),
        reason: "failed".into(),
    };
    assert_eq!(value(&down)["kind"], json!("path_down"));
    assert_eq!(value(&down)["device"], json!("sdc"));
    assert_eq!(value(&TransportError::Closed)["kind"], json!("closed"));
}

#[test]
fn building_blocks() {
    assert_eq!(text(&Hex(&[0x0a, 0xff, 0x00])), r#""0aff00""#);
    assert_eq!(Hex(&[0xab]).to_string(), "ab");
    assert_eq!(text(&Micros(Duration::from_millis(1500))), "1500000");
    assert_eq!(text(&Micros(Duration::MAX)), u64::MAX.to_string());
}

#[test]
fn nvme_values() {
    use pr_core::nvme::{
        Disposition, HostId, NvmeIoctlResult, NvmeReservationType, NvmeStatus,
        RegisteredController, ReservationReport,
    };
    round_trip(
        NvmeReservationType::ExclusiveAccessRegistrantsOnly,
        r#""exclusive_access_registrants_only""#,
    );
    // NVMe and SCSI types with the same rules have the same name.
    for t in NvmeReservationType::ALL {
        assert_eq!(text(&t), text(&t.to_scsi()));
    }
    assert_eq!(
        value(&NvmeStatus(0x4083)),
        json!({"code": 0x4083, "sct": 0, "sc": 0x83, "crd": 0, "more": false, "dnr": true,
               "name": "Reservation Conflict"})
    );
    assert_eq!(value(&NvmeStatus(0x0281))["name"], Value::Null);
    assert_eq!(text(&NvmeIoctlResult::from_return(-4)), r#"{"errno":4}"#);
    assert_eq!(text(&NvmeIoctlResult::from_return(0)), r#""success""#);
    assert_eq!(
        value(&NvmeIoctlResult::from_return(0x83))["status"]["sc"],
        json!(0x83)
    );
    assert_eq!(text(&Disposition::RetryOtherPath), r#""retry_other_path""#);

    let es = [RegisteredController {
        cntlid: 0xffff,
        rcsts: 1,
        host_id: HostId::Bits128([0xab; 16]),
        key: ReservationKey(0x1234),
    }];
    let mut buf = [0u8; 128];
    let n = ReservationReport::encode(3, 4, false, es, true, &mut buf).unwrap();
    let r = ReservationReport::decode(&buf[..n], true).unwrap();
    assert_eq!(
        value(&r),
        json!({
            "generation": 3, "type_code": 4, "type": "exclusive_access_registrants_only",
            "registered_controllers": 1, "persist_through_power_loss": false,
            "extended": true, "truncated": false, "needed_len": null,
            "controllers": [{"cntlid": 65535, "rcsts": 1, "holds_reservation": true,
                             "host_id": "abababababababababababababababab", "key": "0x1234"}]
        })
    );
}
