//! The documentation of every option of the mpathpersist 0.9.4 personality, for the man page and
//! the shell completions ([`crate::generate`]); the parser's own tables are `SHORT` and
//! `LONG` in the parent module, and a test checks that this list covers them exactly.

use crate::getopt::{OptDoc, doc};

/// Every option, documented (for the man page and the completions; a test checks that it
/// covers [`super::SHORT`] and [`super::LONG`] exactly).
pub const OPTIONS: &[OptDoc] = &[
    doc('i', &["in"], None, "a PERSISTENT RESERVE IN command"),
    doc('o', &["out"], None, "a PERSISTENT RESERVE OUT command"),
    doc('k', &["read-keys"], None, "PR IN: the registered keys"),
    doc('r', &["read-reservation"], None, "PR IN: the reservation"),
    doc(
        'c',
        &["report-capabilities"],
        None,
        "PR IN: the device's PR capabilities",
    ),
    doc(
        's',
        &["read-full-status"],
        None,
        "PR IN: every registration, its port and TransportID",
    ),
    doc(
        'G',
        &["register"],
        None,
        "PR OUT: register (or unregister, with a SARK of 0)",
    ),
    doc(
        'I',
        &["register-ignore"],
        None,
        "PR OUT: register, whatever key is registered now",
    ),
    doc(
        'R',
        &["reserve"],
        None,
        "PR OUT: take the reservation (needs -T)",
    ),
    doc('L', &["release"], None, "PR OUT: release it (needs -T)"),
    doc(
        'C',
        &["clear"],
        None,
        "PR OUT: remove every registration and the reservation",
    ),
    doc(
        'P',
        &["preempt"],
        None,
        "PR OUT: remove SARK's registrations, take its reservation",
    ),
    doc(
        'A',
        &["preempt-abort"],
        None,
        "PR OUT: as --preempt, aborting SARK's commands too",
    ),
    doc(
        'K',
        &["param-rk"],
        Some("RK"),
        "this host's reservation key (hex)",
    ),
    doc(
        'S',
        &["param-sark"],
        Some("SARK"),
        "the service action reservation key (hex)",
    ),
    doc(
        'T',
        &["prout-type"],
        Some("TYPE"),
        "the reservation type (hex: 1, 3, 5, 6, 7, 8)",
    ),
    doc(
        'Y',
        &["param-alltgpt"],
        None,
        "register on all target ports (ALL_TG_PT)",
    ),
    doc(
        'Z',
        &["param-aptpl"],
        None,
        "persist through power loss (APTPL)",
    ),
    doc(
        'X',
        &["transport-id"],
        Some("TID"),
        "a TransportID to register (SPEC_I_PT; repeatable): fcp,HEX16, sas,HEX16, iqn.NAME[,i,0xISID]",
    ),
    doc(
        'l',
        &["alloc-length"],
        Some("LEN"),
        "PR IN allocation length (at most 8192)",
    ),
    doc(
        'd',
        &["device"],
        Some("DEVICE"),
        "the multipath map (or give it as the operand)",
    ),
    doc(
        'f',
        &["batch-file"],
        Some("FILE"),
        "then run the commands of FILE, one a line",
    ),
    doc(
        'H',
        &["hex"],
        None,
        "dump responses in hex (standard error)",
    ),
    doc(
        'v',
        &["verbose"],
        Some("LEVEL"),
        "verbosity, 0 (default) to 4",
    ),
    doc('h', &["help"], None, "the usage text"),
];
