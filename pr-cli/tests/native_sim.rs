//! The native subcommands of `prsdk` on the simulated cluster (`--sim`), through the
//! binary: standard output (tables and JSON), standard error and exit statuses, written
//! by hand from the seeded state (node 1 holds WR_EX_RO with 0x1111 on every LUN, node 2
//! registered with 0x2222, two paths each).

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Runs `prsdk ARGS` with `stdin`; returns (exit status, stdout, stderr).
fn prsdk(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_prsdk"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn prsdk");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("prsdk runs");
    (
        out.status.code().expect("exit status, not a signal"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}

fn sim(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["--sim"];
    all.extend_from_slice(args);
    prsdk(&all, "")
}

fn json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (code, out, err) = sim(&all);
    assert_eq!(err, "", "{args:?}");
    (code, serde_json::from_str(&out).expect("one JSON document"))
}

#[test]
fn read_tables() {
    assert_eq!(
        sim(&["keys", "--all-maps"]),
        (
            0,
            "LUN     GENERATION  KEYS\n\
             mpatha  0x4         0x1111 (2), 0x2222 (2)\n\
             mpathb  0x4         0x1111 (2), 0x2222 (2)\n\
             mpathc  0x4         0x1111 (2), 0x2222 (2)\n"
                .into(),
            String::new()
        )
    );
    assert_eq!(
        sim(&["reservation", "/dev/mapper/mpatha", "mpathc"]).1,
        "LUN     GENERATION  HOLDER  TYPE\n\
         mpatha  0x4         0x1111  WR_EX_RO\n\
         mpathc  0x4         0x1111  WR_EX_RO\n"
    );
    assert_eq!(
        sim(&["capabilities", "mpatha"]).1,
        "LUN     TYPES                                            FLAGS\n\
         mpatha  WR_EX,EX_AC,WR_EX_RO,EX_AC_RO,WR_EX_AR,EX_AC_AR  crh,sip_c,atp_c,ptpl_c\n"
    );
    assert_eq!(
        sim(&["status", "mpatha"]).1,
        "LUN     GENERATION  KEY     HOLDS     ALL_TG_PT  RTP  TRANSPORT_ID\n\
         mpatha  0x4         0x1111  WR_EX_RO  no         1    sas,5001405000000000\n\
         mpatha  0x4         0x1111  -         no         2    sas,5001405000000001\n\
         mpatha  0x4         0x2222  -         no         1    sas,5001405000010000\n\
         mpatha  0x4         0x2222  -         no         2    sas,5001405000010001\n"
    );
    // A path device as a target: one path, one nexus.
    assert_eq!(
        sim(&["--node", "2", "keys", "n1p1l2"]).1,
        "LUN     GENERATION  KEYS\nn1p1l2  0x4         0x1111 (2), 0x2222 (2)\n"
    );
    // Nothing registered on a fresh cluster.
    assert_eq!(
        sim(&["--fresh", "reservation", "mpathb"]).1,
        "LUN     GENERATION  HOLDER  TYPE\nmpathb  0x0         -       none\n"
    );
}

#[test]
fn read_json() {
    let (code, v) = json(&["keys", "mpatha", "mpathb"]);
    assert_eq!(code, 0);
    assert_eq!(v["schema"], 1);
    assert_eq!(v["command"], "keys");
    let r = v["results"].as_array().expect("results");
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["lun"], "mpatha");
    assert_eq!(r[0]["ok"], true);
    assert_eq!(r[0]["error"], Value::Null);
    assert_eq!(r[0]["data"]["generation"], 4);
    assert_eq!(
        r[0]["data"]["keys"],
        serde_json::json!(["0x1111", "0x1111", "0x2222", "0x2222"])
    );
    let (_, v) = json(&["reservation", "mpatha"]);
    let res = &v["results"][0]["data"]["reservation"];
    assert_eq!(res["key"], "0x1111");
    assert_eq!(res["type"], "write_exclusive_registrants_only");
    let (_, v) = json(&["status", "mpatha"]);
    let entries = v["results"][0]["data"]["entries"]
        .as_array()
        .expect("entries");
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[0]["holder"], true);
    assert_eq!(entries[0]["transport_id"]["text"], "sas,5001405000000000");
    let (_, v) = json(&["capabilities", "mpatha"]);
    assert_eq!(
        v["results"][0]["data"]["type_mask"]
            .as_array()
            .map(Vec::len),
        Some(6)
    );
    // A target that does not exist: its own result, exit 2, the others still answered.
    let (code, v) = json(&["keys", "mpatha", "nosuch"]);
    assert_eq!(code, 2);
    assert_eq!(v["results"][0]["ok"], true);
    assert_eq!(v["results"][1]["ok"], false);
    assert_eq!(v["results"][1]["error"]["kind"], "not_found");
}

#[test]
fn show_table_and_json() {
    assert_eq!(
        sim(&["--down", "n0p1l1", "show"]),
        (
            0,
            "\
MAP     GENERATION  HOLDER  TYPE      PATH           STATE  KEY
mpatha  0x4         0x1111  WR_EX_RO  n0p0l0         up     0x1111 holder
                                      n0p1l0         up     0x1111
                                      (other hosts)         0x2222 (2)
mpathb  0x4         0x1111  WR_EX_RO  n0p0l1         up     0x1111 holder
                                      n0p1l1         down   0x1111
                                      (other hosts)         0x2222 (2)
mpathc  0x4         0x1111  WR_EX_RO  n0p0l2         up     0x1111 holder
                                      n0p1l2         up     0x1111
                                      (other hosts)         0x2222 (2)
"
            .into(),
            String::new()
        )
    );
    let (code, v) = json(&["--topology", "3x1x2", "--node", "3", "show"]);
    assert_eq!(code, 0);
    let r = v["results"].as_array().expect("results");
    assert_eq!(r.len(), 2);
    assert_eq!(r[1]["lun"], "mpathb");
    assert_eq!(
        r[1]["data"]["paths"],
        serde_json::json!([{"path": "n2p0l1", "usable": true, "known": true, "key": "0x3333",
            "holder": false}])
    );
    assert_eq!(r[1]["data"]["paths_down"], serde_json::json!([]));
    assert_eq!(r[1]["data"]["generation"], 3); // three REGISTERs; RESERVE does not count
    assert_eq!(r[1]["data"]["reservation"]["key"], "0x1111");
    // Node 3 has no record of its own hold and no multipath.conf key: unknown.
    assert_eq!(r[1]["data"]["held_by_this_host"], Value::Null);
    assert_eq!(
        r[1]["data"]["other_keys"],
        serde_json::json!(["0x1111", "0x2222"])
    );
}

#[test]
fn pr_out_actions_and_their_errors() {
    let script = "\
reserve --key 0x1111 --type wr_ex_ro mpatha
reserve --key 0x1111 --type wr_ex mpatha
release --key 0x1111 --type wr_ex_ro mpatha mpathb
register --key 0x9 --old-key 0x1111 mpatha
register --key 0x9 mpatha
reserve --key 0x9 --type wr_ex mpatha
--node 2 preempt --key 0x2222 --victim 0x9 --type ex_ac --abort mpatha
reservation mpatha
--node 2 register-and-move --key 0x2222 --dest-key 0x7 --type ex_ac --transport-id sas,5001405000000000 --rtp 1 mpatha
status mpatha
clear --key 0x7 mpatha mpathc
keys mpatha mpathc
register --key 0x5 --ignore mpatha
register --key 0 --old-key 0x5 mpatha
keys mpatha
";
    let (code, out, err) = prsdk(&["--sim", "--script", "-"], script);
    assert_eq!(err, "");
    assert_eq!(code, 4, "the first failure: a reservation conflict");
    assert_eq!(
        out,
        "\
$ reserve --key 0x1111 --type wr_ex_ro mpatha
mpatha: reserve: ok
[exit 0]
$ reserve --key 0x1111 --type wr_ex mpatha
mpatha: reserve: FAILED
prsdk reserve: mpatha: RESERVE failed: reservation conflict
[exit 4]
$ release --key 0x1111 --type wr_ex_ro mpatha mpathb
mpatha: release: ok
mpathb: release: ok
[exit 0]
$ register --key 0x9 --old-key 0x1111 mpatha
mpatha: register: ok
[exit 0]
$ register --key 0x9 mpatha
mpatha: register: FAILED
prsdk register: mpatha: REGISTER failed: reservation conflict
[exit 4]
$ reserve --key 0x9 --type wr_ex mpatha
mpatha: reserve: ok
[exit 0]
$ --node 2 preempt --key 0x2222 --victim 0x9 --type ex_ac --abort mpatha
mpatha: preempt: ok
[exit 0]
$ reservation mpatha
LUN     GENERATION  HOLDER  TYPE
mpatha  0x7         0x2222  EX_AC
[exit 0]
$ --node 2 register-and-move --key 0x2222 --dest-key 0x7 --type ex_ac --transport-id sas,5001405000000000 --rtp 1 mpatha
mpatha: register-and-move: ok
[exit 0]
$ status mpatha
LUN     GENERATION  KEY     HOLDS  ALL_TG_PT  RTP  TRANSPORT_ID
mpatha  0x8         0x2222  -      no         1    sas,5001405000010000
mpatha  0x8         0x2222  -      no         2    sas,5001405000010001
mpatha  0x8         0x7     EX_AC  no         1    sas,5001405000000000
[exit 0]
$ clear --key 0x7 mpatha mpathc
mpatha: clear: ok
mpathc: clear: FAILED
prsdk clear: mpathc: CLEAR failed: reservation conflict
[exit 4]
$ keys mpatha mpathc
LUN     GENERATION  KEYS
mpatha  0x9         none
mpathc  0x4         0x1111 (2), 0x2222 (2)
[exit 0]
$ register --key 0x5 --ignore mpatha
mpatha: register: ok
[exit 0]
$ register --key 0 --old-key 0x5 mpatha
mpatha: register: ok
[exit 0]
$ keys mpatha
LUN     GENERATION  KEYS
mpatha  0xb         none
[exit 0]
"
    );
    // JSON: the report of each LUN.
    let (code, v) = json(&["release", "--key", "0x1111", "--type", "wr_ex_ro", "mpatha"]);
    assert_eq!(code, 0);
    assert_eq!(v["command"], "release");
    assert_eq!(v["results"][0]["ok"], true);
    assert_eq!(v["results"][0]["report"]["lun"], "mpatha");
    assert!(
        v["results"][0]["report"]["steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
    let (code, v) = json(&["reserve", "--key", "0x2", "--type", "wr_ex", "mpatha"]);
    assert_eq!(code, 4);
    assert_eq!(v["results"][0]["error"]["kind"], "reservation_conflict");
}

#[test]
fn bad_command_lines_name_what_is_wrong() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["frob"],
            "prsdk: unknown command 'frob'\nTry 'prsdk --help'.\n",
        ),
        (
            &["keys", "--bogus"],
            "prsdk: unknown option '--bogus'\nTry 'prsdk --help'.\n",
        ),
        (
            &["keys", "-x"],
            "prsdk: unknown option '-x'\nTry 'prsdk --help'.\n",
        ),
        (
            &["keys"],
            "prsdk keys: no target: name maps or devices, or give --all-maps\n",
        ),
        (
            &["keys", "--all-maps", "mpatha"],
            "prsdk: give targets or --all-maps, not both\nTry 'prsdk --help'.\n",
        ),
        (
            &["reserve", "--key", "zz", "--type", "wr_ex", "mpatha"],
            "prsdk reserve: bad --key 'zz': a key is 0x-prefixed hex (up to 16 digits) or decimal\n",
        ),
        (
            &[
                "reserve",
                "--key",
                "0x11111111111111111",
                "--type",
                "1",
                "mpatha",
            ],
            "prsdk reserve: bad --key '0x11111111111111111': a key is 0x-prefixed hex (up to 16 digits) or decimal\n",
        ),
        (
            &["reserve", "--key", "1", "--type", "2", "mpatha"],
            "prsdk reserve: bad --type '2': one of wr_ex ex_ac wr_ex_ro ex_ac_ro wr_ex_ar ex_ac_ar, or 1 3 5 6 7 8\n",
        ),
        (
            &["reserve", "--key", "1", "mpatha"],
            "prsdk reserve: --type is required\n",
        ),
        (
            &["clear", "--key", "1", "--type", "1", "mpatha"],
            "prsdk clear: --type does not apply to clear\n",
        ),
        (
            &[
                "register",
                "--key",
                "1",
                "--ignore",
                "--old-key",
                "2",
                "mpatha",
            ],
            "prsdk register: --ignore and --old-key contradict each other\n",
        ),
        (
            &["keys", "--key"],
            "prsdk: option '--key' needs a value\nTry 'prsdk --help'.\n",
        ),
        (
            &["keys", "--json=1", "mpatha"],
            "prsdk: option '--json' takes no value\nTry 'prsdk --help'.\n",
        ),
        (
            &[
                "register-and-move",
                "--key",
                "1",
                "--dest-key",
                "2",
                "--type",
                "1",
                "--transport-id",
                "bogus",
                "--rtp",
                "1",
                "mpatha",
            ],
            "",
        ),
        (
            &["--node", "3", "keys", "mpatha"],
            "prsdk keys: bad --node '3': a node from 1 to 2\n",
        ),
        (
            &["--topology", "2x2", "keys", "mpatha"],
            "prsdk: bad --topology '2x2': NODESxPATHSxLUNS, e.g. 2x2x3 (nodes 1-8, paths 1-8, LUNs 1-256)\n",
        ),
    ];
    for (args, expected) in cases {
        let (code, out, err) = sim(args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        if expected.is_empty() {
            assert!(
                err.starts_with("prsdk register-and-move: bad --transport-id 'bogus': "),
                "{err}"
            );
        } else {
            assert_eq!(&err, expected, "{args:?}");
        }
    }
    // --sim options without --sim.
    let (code, _, err) = prsdk(&["--node", "2", "keys", "mpatha"], "");
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "prsdk: --topology, --node, --fresh, --down and --script need --sim\n"
        )
    );
    // A device that does not exist, not simulated.
    let (code, out, err) = prsdk(&["keys", "/dev/prsdk-no-such-device"], "");
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.starts_with("prsdk keys: /dev/prsdk-no-such-device"),
        "{err}"
    );
    // A regular file is no SCSI device.
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let (code, _, err) = prsdk(&["keys", manifest], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a SCSI device"), "{err}");
}

#[test]
fn fence_is_idempotent_and_fails_per_lun() {
    let script = "\
--node 2 fence --key 0x2222 --victim 0x1111 --all-maps --preempt
--node 2 fence --key 0x2222 --victim 0x1111 mpatha mpathb --preempt
show mpatha
--node 2 show mpathb
unfence --key 0x1111 mpatha
--node 2 fence --key 0x2222 --victim 0x1111 mpatha nosuch mpathc
";
    let (code, out, err) = prsdk(&["--sim", "--script", "-"], script);
    assert_eq!(err, "");
    assert_eq!(code, 2);
    assert_eq!(
        out,
        "\
$ --node 2 fence --key 0x2222 --victim 0x1111 --all-maps --preempt
mpatha: fenced
mpathb: fenced
mpathc: fenced
fence: 3 LUNs, 3 done, 0 already fenced, 0 failed
[exit 0]
$ --node 2 fence --key 0x2222 --victim 0x1111 mpatha mpathb --preempt
mpatha: already fenced
mpathb: already fenced
fence: 2 LUNs, 0 done, 2 already fenced, 0 failed
[exit 0]
$ show mpatha
MAP     GENERATION  HOLDER  TYPE      PATH           STATE  KEY
mpatha  0x5         0x2222  WR_EX_RO  n0p0l0         up     not registered
                                      n0p1l0         up     not registered
                                      (other hosts)         0x2222 (2)
[exit 0]
$ --node 2 show mpathb
MAP     GENERATION  HOLDER  TYPE      PATH           STATE  KEY
mpathb  0x5         0x2222  WR_EX_RO  n1p0l1         up     0x2222 holder
                                      n1p1l1         up     0x2222
                                      (other hosts)         none
[exit 0]
$ unfence --key 0x1111 mpatha
mpatha: unfenced
unfence: 1 LUNs, 1 done, 0 already fenced, 0 failed
[exit 0]
$ --node 2 fence --key 0x2222 --victim 0x1111 mpatha nosuch mpathc
nosuch: FAILED: nosuch: no such simulated map or path (maps mpatha..mpathc, paths like n0p0l0)
mpatha: fenced
mpathc: already fenced
fence: 3 LUNs, 1 done, 1 already fenced, 1 failed
[exit 2]
"
    );
    // JSON: one result per LUN with its outcome; a fence of an unregistered node fails.
    let (code, v) = json(&[
        "--fresh",
        "fence",
        "--key",
        "0x1111",
        "--victim",
        "0x2222",
        "--preempt",
        "mpatha",
    ]);
    assert_eq!(code, 4, "{v}");
    assert_eq!(v["command"], "fence");
    assert!(v["results"][0]["outcome"]["failed"].is_string(), "{v}");
    let (code, v) = json(&[
        "--node",
        "2",
        "fence",
        "--key",
        "0x2222",
        "--victim",
        "0x1111",
        "--preempt",
        "--all-maps",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["results"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["results"][2]["outcome"], "ok");
    assert_eq!(v["results"][2]["lun"], "mpathc");
}

#[test]
fn help_lists_the_native_commands() {
    let (code, out, _) = prsdk(&["--help"], "");
    assert_eq!(code, 0);
    for c in [
        "keys",
        "reservation",
        "capabilities",
        "status",
        "show",
        "register-and-move",
        "fence",
        "unfence",
        "--sim",
        "--json",
    ] {
        assert!(out.contains(c), "{c}");
    }
}

#[test]
fn verbose_levels_log_through_tracing_on_standard_error() {
    let (code, out, err) = sim(&["keys", "mpatha"]);
    assert_eq!((code, err.as_str()), (0, ""));
    let (code, out_v, err_v) = sim(&["-v", "keys", "mpatha"]);
    assert_eq!((code, out_v), (0, out));
    assert!(
        err_v.contains("LUN operation") && err_v.contains("READ KEYS"),
        "{err_v}"
    );
    assert!(!err_v.contains("DEBUG"), "{err_v}");
    let (_, _, err_vv) = sim(&["-vv", "keys", "mpatha"]);
    assert!(err_vv.lines().count() > err_v.lines().count(), "{err_vv}");
}

#[test]
fn spec_i_pt_all_tg_pt_and_replace_lost_reservation() {
    let script = "\
register --key 0x7 --transport-id sas,5001405000010000 mpathb
status mpathb
register --key 0x8 --all-tg-pt --ignore mpathc
status mpathc
replace-lost-reservation --key 0x5 --type wr_ex mpatha
register --key 0x7 --transport-id sas,5001405000010000 --ignore mpathb
register-and-move --key 1 --dest-key 2 --type 1 --transport-id sas,5001405000010000 --transport-id sas,5001405000010001 --rtp 1 mpatha
";
    let (code, out, err) = prsdk(&["--sim", "--fresh", "--script", "-"], script);
    assert_eq!((code, err.as_str()), (5, ""));
    assert_eq!(
        out,
        "\
$ register --key 0x7 --transport-id sas,5001405000010000 mpathb
mpathb: register: ok
[exit 0]
$ status mpathb
LUN     GENERATION  KEY  HOLDS  ALL_TG_PT  RTP  TRANSPORT_ID
mpathb  0x3         0x7  -      no         1    sas,5001405000000000
mpathb  0x3         0x7  -      no         1    sas,5001405000010000
mpathb  0x3         0x7  -      no         2    sas,5001405000000001
[exit 0]
$ register --key 0x8 --all-tg-pt --ignore mpathc
mpathc: register: ok
[exit 0]
$ status mpathc
LUN     GENERATION  KEY  HOLDS  ALL_TG_PT  RTP  TRANSPORT_ID
mpathc  0x2         0x8  -      yes        0    sas,5001405000000000
mpathc  0x2         0x8  -      yes        0    sas,5001405000000001
[exit 0]
$ replace-lost-reservation --key 0x5 --type wr_ex mpatha
mpatha: replace-lost-reservation: FAILED
prsdk replace-lost-reservation: mpatha: REPLACE LOST RESERVATION failed: illegal request: INVALID FIELD IN CDB (asc 24h, ascq 00h)
[exit 5]
$ register --key 0x7 --transport-id sas,5001405000010000 --ignore mpathb
prsdk register: --transport-id (SPEC_I_PT) and --ignore contradict each other
[exit 1]
$ register-and-move --key 1 --dest-key 2 --type 1 --transport-id sas,5001405000010000 --transport-id sas,5001405000010001 --rtp 1 mpatha
prsdk register-and-move: register-and-move takes one --transport-id
[exit 1]
"
    );
}
