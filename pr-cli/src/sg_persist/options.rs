//! The documentation of every option of the sg_persist 1.46 personality, for the man page and
//! the shell completions ([`crate::generate`]); the parser's own tables are `SHORT` and
//! `LONG` in the parent module, and a test checks that this list covers them exactly.

use crate::getopt::{OptDoc, doc};

/// Every option, documented (for the man page and the completions; a test checks that it
/// covers [`super::SHORT`] and [`super::LONG`] exactly).
pub const OPTIONS: &[OptDoc] = &[
    doc('i', &["in"], None, "PR IN (the default)"),
    doc('o', &["out"], None, "PR OUT (with one service action)"),
    doc(
        'k',
        &["read-keys", "read_keys"],
        None,
        "PR IN: READ KEYS (the default action)",
    ),
    doc(
        'r',
        &["read-reservation", "read_reservation"],
        None,
        "PR IN: READ RESERVATION",
    ),
    doc(
        'c',
        &["report-capabilities", "report_capabilities"],
        None,
        "PR IN: REPORT CAPABILITIES",
    ),
    doc(
        's',
        &[
            "read-full-status",
            "read_full_status",
            "read-status",
            "read_status",
        ],
        None,
        "PR IN: READ FULL STATUS",
    ),
    doc('G', &["register"], None, "PR OUT: REGISTER"),
    doc(
        'I',
        &["register-ignore", "register_ignore"],
        None,
        "PR OUT: REGISTER AND IGNORE EXISTING KEY",
    ),
    doc('R', &["reserve"], None, "PR OUT: RESERVE"),
    doc('L', &["release"], None, "PR OUT: RELEASE"),
    doc('C', &["clear"], None, "PR OUT: CLEAR"),
    doc('P', &["preempt"], None, "PR OUT: PREEMPT"),
    doc(
        'A',
        &["preempt-abort", "preempt_abort"],
        None,
        "PR OUT: PREEMPT AND ABORT",
    ),
    doc(
        'M',
        &["register-move", "register_move"],
        None,
        "PR OUT: REGISTER AND MOVE (with one -X)",
    ),
    doc(
        'z',
        &["replace-lost", "replace_lost"],
        None,
        "PR OUT: REPLACE LOST RESERVATION",
    ),
    doc(
        'K',
        &["param-rk", "param_rk"],
        Some("RK"),
        "the reservation key (hex)",
    ),
    doc(
        'S',
        &["param-sark", "param_sark"],
        Some("SARK"),
        "the service action reservation key (hex)",
    ),
    doc(
        'T',
        &["prout-type", "prout_type"],
        Some("TYPE"),
        "the reservation type (hex: 1, 3, 5, 6, 7, 8)",
    ),
    doc(
        'U',
        &["param-unreg", "param_unreg", "unreg"],
        None,
        "REGISTER AND MOVE: unregister the source",
    ),
    doc('Y', &["param-alltgpt", "param_alltgpt"], None, "ALL_TG_PT"),
    doc('Z', &["param-aptpl", "param_aptpl"], None, "APTPL"),
    doc(
        'Q',
        &["relative-target-port", "relative_target_port"],
        Some("RTPI"),
        "REGISTER AND MOVE: the relative target port (hex)",
    ),
    doc(
        'X',
        &["transport-id", "transport_id"],
        Some("TIDS"),
        "TransportIDs: sas,ADDR, fcp,WWN, iqn.NAME[,i,0xISID], hex bytes, file=NAME, or - (standard input)",
    ),
    doc('d', &["device"], Some("DEVICE"), "DEVICE as an option"),
    doc(
        'l',
        &["alloc-length", "alloc_length"],
        Some("LEN"),
        "PR IN allocation length (hex, at most 2000)",
    ),
    doc(
        'm',
        &["maxlen"],
        Some("LEN"),
        "the same in decimal (8192, 8k, 2000h)",
    ),
    doc(
        'H',
        &["hex"],
        None,
        "PR IN response in hex (-HH, -HHH: all of it)",
    ),
    doc(
        'n',
        &["no-inquiry", "no_inquiry"],
        None,
        "no INQUIRY header",
    ),
    doc(
        'y',
        &["readonly"],
        None,
        "open DEVICE read-only (-yy: read-write)",
    ),
    doc('v', &["verbose"], None, "more on standard error"),
    doc(
        'h',
        &["help"],
        None,
        "the usage text; twice for the other options",
    ),
    doc('V', &["version"], None, "the version"),
];
