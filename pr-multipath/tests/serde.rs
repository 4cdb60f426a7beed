//! The plain form (feature `serde`) of every pr-multipath result, as JSON: exact text for
//! the small values, the members (and the values that matter) for reports, PR IN answers,
//! fleet results and errors taken from real operations on the simulator.

use std::time::Duration;

use pr_core::outcome::CommandError;
use pr_core::outcome::HostStatus;
use pr_core::prin::Reservation;
use pr_core::transport::TransportError;
use pr_core::transport_id::TransportId;
use pr_core::types::{
    PrInAction, PrOutAction, PrOutFlags, ReservationKey as K, ReservationType as Ty, Scope,
};
use pr_multipath::lun::Hold;
use pr_multipath::report::PathState;
use pr_multipath::{
    Command, ConflictPolicy, Error, ErrorKind, Failure, FenceAction, FleetOptions, InResult, Lun,
    LunOutcome, MapEvent, OutCommand, OutRequest, PathRegistration, Phase, Progress,
    RegisterRequest, Report, Step, fence,
};
use pr_sim::{ClusterSpec, Injection, LunConfig, Sim};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const K1: K = K(0x1111);
const K2: K = K(0x2222);

fn text<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}

fn value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

/// The object's member names, sorted.
fn members(v: &Value) -> Vec<&str> {
    let mut m: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    m.sort_unstable();
    m
}

fn sorted<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut v = names.to_vec();
    v.sort_unstable();
    v
}

fn round_trip<T>(v: T, expected: &str)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    assert_eq!(text(&v), expected, "{v:?}");
    assert_eq!(
        serde_json::from_str::<T>(expected).unwrap(),
        v,
        "{expected}"
    );
}

const REPORT: &[&str] = &["lun", "steps", "map_events", "registrations", "notes"];
const STEP: &[&str] = &[
    "path",
    "phase",
    "command",
    "attempts",
    "elapsed_us",
    "ok",
    "failure",
];
const ERROR: &[&str] = &["kind", "message", "lun", "sense", "failure", "report"];
const FAILURE: &[&str] = &[
    "kind",
    "message",
    "path_failure",
    "outcome_unknown",
    "command_error",
    "transport_error",
];

/// Two hosts with two paths each to one LUN: (simulator, node 0's LUN, node 1's LUN, their
/// simulated paths).
fn two_nodes() -> (Sim, Lun, Lun, Vec<pr_sim::SimPath>) {
    let c = Sim::cluster(&ClusterSpec {
        nodes: 2,
        paths_per_node: 2,
        luns: 1,
        lun_config: LunConfig::spc5(),
    });
    let a = Lun::simulated("mpatha", c.nodes[0].paths[0].clone());
    let b = Lun::simulated("mpatha", c.nodes[1].paths[0].clone());
    (c.sim, a, b, c.nodes[0].paths[0].clone())
}

#[test]
fn small_values() {
    assert_eq!(
        text(&[
            Phase::Initial,
            Phase::IgnoreRetry,
            Phase::Rollback,
            Phase::Check,
            Phase::KeyChangePreempt,
            Phase::ReleaseFirst,
            Phase::SelfPreempt,
            Phase::Reregister,
        ]),
        r#"["initial","ignore_retry","rollback","check","key_change_preempt","release_first","self_preempt","reregister"]"#
    );
    assert_eq!(
        text(&[
            MapEvent::Suspended,
            MapEvent::Resumed,
            MapEvent::NoMapControl,
            MapEvent::Failed {
                op: "suspend",
                message: "EBUSY".into(),
            },
        ]),
        r#"["suspended","resumed","no_map_control",{"failed":{"op":"suspend","message":"EBUSY"}}]"#
    );
    assert_eq!(
        text(&[
            PathRegistration::Changed,
            PathRegistration::Unchanged,
            PathRegistration::RolledBack,
            PathRegistration::Unknown,
            PathRegistration::SkippedUnusable,
            PathRegistration::CoveredBy("sdc".into()),
        ]),
        r#"["changed","unchanged","rolled_back","unknown","skipped_unusable",{"covered_by":"sdc"}]"#
    );
    assert_eq!(
        text(&PathState {
            path: "sdb".into(),
            registration: PathRegistration::Changed,
        }),
        r#"{"path":"sdb","registration":"changed"}"#
    );
    assert_eq!(
        text(&Hold {
            key: K1,
            reservation_type: Ty::WriteExclusive,
        }),
        r#"{"key":"0x1111","reservation_type":"write_exclusive"}"#
    );
    assert_eq!(
        text(&[
            LunOutcome::Ok,
            LunOutcome::AlreadyFenced,
            LunOutcome::Failed("mpatha: no usable path".into()),
            LunOutcome::Cancelled,
        ]),
        r#"["ok","already_fenced",{"failed":"mpatha: no usable path"},"cancelled"]"#
    );
    assert_eq!(
        text(&Progress {
            done: 1,
            total: 3,
            lun: "mpatha".into(),
            outcome: LunOutcome::AlreadyFenced,
        }),
        r#"{"done":1,"total":3,"lun":"mpatha","outcome":"already_fenced"}"#
    );
    round_trip(FenceAction::PreemptAndAbort, r#""preempt_and_abort""#);
    round_trip(FenceAction::Preempt, r#""preempt""#);
    round_trip(ConflictPolicy::RetryWithIgnore, r#""retry_with_ignore""#);
    round_trip(ConflictPolicy::Rollback, r#""rollback""#);
    assert!(serde_json::from_str::<FenceAction>(r#""abort""#).is_err());
}

#[test]
fn error_kinds() {
    assert_eq!(
        text(&[
            ErrorKind::InvalidArgument,
            ErrorKind::NotFound,
            ErrorKind::NotScsi,
            ErrorKind::PermissionDenied,
            ErrorKind::ReservationConflict,
            ErrorKind::IllegalRequest,
            ErrorKind::DeviceError,
            ErrorKind::PathFailure,
            ErrorKind::Unsupported,
            ErrorKind::KeyMismatch,
            ErrorKind::SafetyCheck,
            ErrorKind::System,
            ErrorKind::Cancelled,
            ErrorKind::Internal,
        ]),
        concat!(
            r#"["invalid_argument","not_found","not_scsi","permission_denied","#,
            r#""reservation_conflict","illegal_request","device_error","path_failure","#,
            r#""unsupported","key_mismatch","safety_check","system","cancelled","internal"]"#
        )
    );
}

#[test]
fn commands_and_requests() {
    let reg = RegisterRequest::register(K(0), K1);
    assert_eq!(
        text(&reg),
        r#"{"old_key":"0x0","new_key":"0x1111","ignore_existing":false,"aptpl":false,"all_tg_pt":null,"policy":null}"#
    );
    let out = OutCommand {
        action: PrOutAction::Preempt,
        key: K2,
        sa_key: K1,
        reservation_type: Some(Ty::WriteExclusiveRegistrantsOnly),
        flags: PrOutFlags::APTPL,
    };
    assert_eq!(
        text(&Command::Out(out)),
        r#"{"out":{"action":"preempt","key":"0x2222","sa_key":"0x1111","reservation_type":"write_exclusive_registrants_only","flags":["aptpl"]}}"#
    );
    assert_eq!(
        text(&Command::In(PrInAction::ReadKeys)),
        r#"{"in":"read_keys"}"#
    );
    assert_eq!(
        text(&OutRequest::Reserve {
            key: K1,
            reservation_type: Ty::ExclusiveAccess,
        }),
        r#"{"reserve":{"key":"0x1111","reservation_type":"exclusive_access"}}"#
    );
    assert_eq!(
        text(&OutRequest::Clear { key: K1 }),
        r#"{"clear":{"key":"0x1111"}}"#
    );
    assert_eq!(
        text(&OutRequest::PreemptAndAbort {
            key: K2,
            victim: K1,
            reservation_type: Ty::WriteExclusive,
        }),
        r#"{"preempt_and_abort":{"key":"0x2222","victim":"0x1111","reservation_type":"write_exclusive"}}"#
    );
    let sas = TransportId::Sas {
        address: 0x5001_4050_0000_0001,
    };
    let with_tids = OutRequest::Register {
        request: RegisterRequest::register(K(0), K1).policy(ConflictPolicy::Rollback),
        spec_i_pt: vec![sas.clone()],
    };
    let v = value(&with_tids);
    assert_eq!(v["register"]["request"]["policy"], json!("rollback"));
    assert_eq!(
        v["register"]["spec_i_pt"],
        json!([{
            "protocol": "sas",
            "text": "sas,5001405000000001",
            "hex": format!("060000005001405000000001{}", "00".repeat(12)),
        }])
    );
    let mv = OutRequest::RegisterAndMove {
        key: K1,
        destination_key: K2,
        reservation_type: Ty::WriteExclusive,
        destination: sas,
        relative_target_port: 2,
        unregister: true,
        aptpl: false,
    };
    assert_eq!(
        members(&value(&mv)["register_and_move"]),
        sorted(&[
            "key",
            "destination_key",
            "reservation_type",
            "destination",
            "relative_target_port",
            "unregister",
            "aptpl",
        ])
    );
    assert_eq!(
        text(&OutRequest::ReplaceLostReservation {
            new_key: K2,
            reservation_type: Ty::WriteExclusive,
        }),
        r#"{"replace_lost_reservation":{"new_key":"0x2222","reservation_type":"write_exclusive"}}"#
    );
}

#[test]
fn steps_and_failures() {
    let down = Step {
        path: "sdb".into(),
        phase: Phase::Initial,
        command: Command::In(PrInAction::ReadReservation),
        attempts: 1,
        elapsed: Duration::from_micros(1500),
        result: Err(Failure::Transport(TransportError::PathDown {
            device: "sdb".into(),
            reason: "offline".into(),
        })),
    };
    assert_eq!(
        value(&down),
        json!({
            "path": "sdb",
            "phase": "initial",
            "command": {"in": "read_reservation"},
            "attempts": 1,
            "elapsed_us": 1500,
            "ok": false,
            "failure": {
                "kind": "path_failure",
                "message": "path sdb is down: offline",
                "path_failure": true,
                "outcome_unknown": true,
                "command_error": null,
                "transport_error": {
                    "kind": "path_down",
                    "message": "path sdb is down: offline",
                    "device": "sdb",
                    "errno": null
                }
            }
        })
    );
    let ok = Step {
        result: Ok(()),
        ..down
    };
    assert_eq!(value(&ok)["ok"], json!(true));
    assert_eq!(value(&ok)["failure"], Value::Null);

    let conflict = Failure::Command(CommandError::ReservationConflict {
        host_status: HostStatus::NEXUS_FAILURE,
    });
    let v = value(&conflict);
    assert_eq!(members(&v), sorted(FAILURE));
    assert_eq!(v["kind"], json!("reservation_conflict"));
    assert_eq!(v["transport_error"], Value::Null);
    assert_eq!(v["command_error"]["kind"], json!("reservation_conflict"));
    assert_eq!(
        v["command_error"]["host_status"]["name"],
        json!("DID_NEXUS_FAILURE")
    );

    assert_eq!(
        value(&Report::default()),
        json!({"lun": "", "steps": [], "map_events": [], "registrations": [], "notes": []})
    );
}

#[tokio::test]
async fn reports_and_pr_in_answers() {
    let (_sim, a, _b, _paths) = two_nodes();
    let report = a
        .execute(&OutRequest::register(RegisterRequest::register_ignore(K1)))
        .await
        .unwrap();
    let v = value(&report);
    assert_eq!(members(&v), sorted(REPORT));
    assert_eq!(v["lun"], json!("mpatha"));
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    for s in steps {
        assert_eq!(members(s), sorted(STEP));
        assert_eq!(s["phase"], json!("initial"));
        assert_eq!(
            s["command"],
            json!({"out": {
                "action": "register_and_ignore_existing_key",
                "key": "0x0",
                "sa_key": "0x1111",
                "reservation_type": null,
                "flags": []
            }})
        );
        assert_eq!(
            (s["ok"].clone(), s["failure"].clone()),
            (json!(true), Value::Null)
        );
        assert!(s["elapsed_us"].is_u64());
    }
    assert_eq!(
        v["registrations"],
        json!([
            {"path": "n0p0l0", "registration": "changed"},
            {"path": "n0p1l0", "registration": "changed"}
        ])
    );
    a.execute(&OutRequest::Reserve {
        key: K1,
        reservation_type: Ty::WriteExclusiveRegistrantsOnly,
    })
    .await
    .unwrap();

    let keys = value(&a.pr_in(PrInAction::ReadKeys).await.unwrap());
    assert_eq!(members(&keys), ["keys"]);
    assert_eq!(keys["keys"]["path"], json!("n0p0l0"));
    assert_eq!(keys["keys"]["keys"], json!(["0x1111", "0x1111"]));
    assert!(keys["keys"]["generation"].is_u64());

    let res = a.pr_in(PrInAction::ReadReservation).await.unwrap();
    let InResult::Reservation(info) = &res else {
        panic!("{res:?}")
    };
    assert_eq!(
        info.reservation,
        Some(Reservation {
            key: K1,
            scope: Scope::LogicalUnit,
            type_code: 5
        })
    );
    let res = value(&res);
    assert_eq!(
        res["reservation"]["reservation"],
        json!({
            "key": "0x1111",
            "scope": "logical_unit",
            "type_code": 5,
            "type": "write_exclusive_registrants_only"
        })
    );
    assert_eq!(
        members(&res["reservation"]),
        ["generation", "path", "reservation"]
    );

    let caps = value(&a.pr_in(PrInAction::ReportCapabilities).await.unwrap());
    assert_eq!(
        members(&caps["capabilities"]),
        sorted(&[
            "length",
            "flags",
            "allow_commands",
            "type_mask",
            "reserved_flag_bits",
            "reserved_type_bits"
        ])
    );
    assert!(
        caps["capabilities"]["type_mask"]
            .as_array()
            .unwrap()
            .contains(&json!("write_exclusive_registrants_only"))
    );

    let full = value(&a.pr_in(PrInAction::ReadFullStatus).await.unwrap());
    let full = &full["full_status"];
    assert_eq!(
        members(full),
        sorted(&["path", "generation", "entries", "alloc_len", "issues"])
    );
    let entries = full["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let holder = entries
        .iter()
        .find(|e| e["holder"] == json!(true))
        .expect("a holder");
    assert_eq!(
        members(holder),
        sorted(&[
            "key",
            "all_tg_pt",
            "holder",
            "type_code",
            "type",
            "relative_target_port",
            "transport_id_bytes",
            "transport_id"
        ])
    );
    assert_eq!(holder["key"], json!("0x1111"));
    assert_eq!(holder["type"], json!("write_exclusive_registrants_only"));
    let tid = &holder["transport_id"];
    assert_eq!(tid["protocol"], json!("sas"));
    assert!(
        tid["text"]
            .as_str()
            .unwrap()
            .starts_with("sas,50014050000000"),
        "{tid}"
    );
    assert_eq!(holder["transport_id_bytes"], tid["hex"]);
    let other = entries
        .iter()
        .find(|e| e["holder"] == json!(false))
        .unwrap();
    assert_eq!(other["type"], Value::Null);
}

#[tokio::test]
async fn fleet_results_and_progress() {
    let (_sim, a, b, _paths) = two_nodes();
    a.register(RegisterRequest::register_ignore(K1))
        .await
        .unwrap();
    a.reserve(K1, Ty::WriteExclusiveRegistrantsOnly)
        .await
        .unwrap();
    b.register(RegisterRequest::register_ignore(K2))
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let options = FleetOptions {
        fence_action: FenceAction::Preempt,
        progress: Some(tx),
        ..FleetOptions::default()
    };
    let luns = [&b];
    let first = fence(&luns, K2, K1, Ty::WriteExclusiveRegistrantsOnly, &options).await;
    let v = value(&first[0]);
    assert_eq!(
        members(&v),
        sorted(&["lun", "outcome", "already_fenced", "report", "error"])
    );
    assert_eq!(v["outcome"], json!("ok"));
    assert_eq!(v["already_fenced"], json!(false));
    assert_eq!(v["error"], Value::Null);
    assert_eq!(members(&v["report"]), sorted(REPORT));
    assert!(
        v["report"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["command"]["out"]["action"] == json!("preempt"))
    );
    assert_eq!(
        value(&rx.try_recv().unwrap()),
        json!({"done": 1, "total": 1, "lun": "mpatha", "outcome": "ok"})
    );

    let again = fence(&luns, K2, K1, Ty::WriteExclusiveRegistrantsOnly, &options).await;
    let v = value(&again[0]);
    assert_eq!(v["outcome"], json!("already_fenced"));
    assert_eq!(v["already_fenced"], json!(true));
    assert_eq!(
        value(&rx.try_recv().unwrap())["outcome"],
        json!("already_fenced")
    );

    // Node 0's key is gone: its fence of node 1 fails, and the result carries the error.
    let failed = fence(
        &[&a],
        K1,
        K2,
        Ty::WriteExclusiveRegistrantsOnly,
        &FleetOptions::default(),
    )
    .await;
    let v = value(&failed[0]);
    assert_eq!(v["report"], Value::Null);
    let outcome = v["outcome"]["failed"].as_str().expect("failed: message");
    assert_eq!(v["error"]["message"], json!(outcome));
    let err = failed[0].result.as_ref().unwrap_err();
    assert!(matches!(err, Error::NotRegistered { .. }), "{err:?}");
    assert_eq!(v["error"]["kind"], json!("reservation_conflict"));
    assert_eq!(
        v["error"]["failure"]["command_error"]["kind"],
        json!("reservation_conflict")
    );
    assert_eq!(v["error"]["lun"], json!("mpatha"));
    assert_eq!(members(&v["error"]), sorted(ERROR));
    assert_eq!(members(&v["error"]["report"]), sorted(REPORT));
}

#[tokio::test]
async fn errors() {
    let (_sim, a, _b, paths) = two_nodes();

    // Not registered: RESERVE conflicts on the device.
    let e = a.reserve(K1, Ty::WriteExclusive).await.unwrap_err();
    let v = value(&e);
    assert_eq!(members(&v), sorted(ERROR));
    assert_eq!(v["kind"], json!("reservation_conflict"));
    assert_eq!(v["message"], json!(e.to_string()));
    assert_eq!(v["lun"], json!("mpatha"));
    assert_eq!(v["sense"], Value::Null);
    assert_eq!(members(&v["failure"]), sorted(FAILURE));
    assert_eq!(
        v["failure"]["command_error"]["kind"],
        json!("reservation_conflict")
    );
    assert_eq!(members(&v["report"]), sorted(REPORT));
    assert!(!v["report"]["steps"].as_array().unwrap().is_empty());

    // NOT READY, LOGICAL UNIT COMMUNICATION FAILURE on every path: the sense comes along.
    for p in &paths {
        p.inject(Injection::NotReady { asc: 0x08, ascq: 0 }, 8);
    }
    let e = a.read_keys().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeviceError);
    let v = value(&e);
    let sense = v["sense"].as_str().expect("sense bytes");
    assert!(sense.starts_with("70000200"), "{sense}");
    assert_eq!(v["failure"]["command_error"]["sense"], json!(sense));
    assert_eq!(
        v["failure"]["command_error"]["additional_sense"],
        json!("LOGICAL UNIT COMMUNICATION FAILURE")
    );
    assert_eq!(
        v["failure"]["command_error"]["sense_key"],
        json!("not_ready")
    );
    assert_eq!(v["kind"], json!("device_error"));

    // Errors of no LUN and no command.
    let e = Lun::open("").unwrap_err();
    let v = value(&e);
    assert_eq!(v["kind"], json!("invalid_argument"));
    assert_eq!(v["message"], json!(e.to_string()));
    for member in ["lun", "sense", "failure", "report"] {
        assert_eq!(v[member], Value::Null, "{member}");
    }
    let e = Error::Cancelled {
        lun: "mpathb".into(),
    };
    assert_eq!(
        value(&e),
        json!({
            "kind": "cancelled",
            "message": "mpathb: cancelled before it started",
            "lun": "mpathb",
            "sense": null,
            "failure": null,
            "report": null
        })
    );
}
