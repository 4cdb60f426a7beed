//! The `sg_persist` personality: the options, standard output and exit statuses of
//! Debian 12's `sg_persist` (sg3_utils 1.46, "version: 0.67 20190913"), with every
//! command sent through the front door. See the crate documentation for what differs.

pub mod num;
mod options;
pub mod print;
pub mod tid;

use std::io::{BufRead, Write};

use pr_core::cdb::{PrInCdb, PrOutCdb};
use pr_multipath::RawReply;

use crate::device::{Opener, OsError};
use crate::getopt::{self, Item, LongOpt, no, req};
pub use options::OPTIONS;

/// The version sg_persist 1.46 reports.
pub const VERSION: &str = "0.67 20190913";

/// `SG_LIB_SYNTAX_ERROR`: a command-line syntax problem.
pub const EXIT_SYNTAX: i32 = 1;
/// `SG_LIB_CONTRADICT`: options that contradict each other.
pub const EXIT_CONTRADICT: i32 = 31;
/// `SG_LIB_CAT_MALFORMED`: a malformed response.
pub const EXIT_MALFORMED: i32 = 97;
/// `SG_LIB_CAT_OTHER`.
pub const EXIT_OTHER: i32 = 99;
/// `SG_LIB_OS_BASE_ERR`: errno `e` exits `50 + e`.
pub const EXIT_OS_BASE: i32 = 50;

/// The short options, in getopt's syntax.
pub const SHORT: &str = "AcCd:GHhiIkK:l:Lm:MnoPQ:rRsS:T:UvVX:yYzZ";

/// The long options, each in its hyphen and underscore spellings, in sg_persist's order.
pub const LONG: &[LongOpt] = &[
    req("alloc-length", 'l'),
    req("alloc_length", 'l'),
    no("clear", 'C'),
    req("device", 'd'),
    no("help", 'h'),
    no("hex", 'H'),
    no("in", 'i'),
    req("maxlen", 'm'),
    no("no-inquiry", 'n'),
    no("no_inquiry", 'n'),
    no("out", 'o'),
    no("param-alltgpt", 'Y'),
    no("param_alltgpt", 'Y'),
    no("param-aptpl", 'Z'),
    no("param_aptpl", 'Z'),
    req("param-rk", 'K'),
    req("param_rk", 'K'),
    req("param-sark", 'S'),
    req("param_sark", 'S'),
    no("param-unreg", 'U'),
    no("param_unreg", 'U'),
    no("preempt", 'P'),
    no("preempt-abort", 'A'),
    no("preempt_abort", 'A'),
    req("prout-type", 'T'),
    req("prout_type", 'T'),
    no("read-full-status", 's'),
    no("read_full_status", 's'),
    no("read-keys", 'k'),
    no("read_keys", 'k'),
    no("readonly", 'y'),
    no("read-reservation", 'r'),
    no("read_reservation", 'r'),
    no("read-status", 's'),
    no("read_status", 's'),
    no("register", 'G'),
    no("register-ignore", 'I'),
    no("register_ignore", 'I'),
    no("register-move", 'M'),
    no("register_move", 'M'),
    no("release", 'L'),
    req("relative-target-port", 'Q'),
    req("relative_target_port", 'Q'),
    no("replace-lost", 'z'),
    no("replace_lost", 'z'),
    no("report-capabilities", 'c'),
    no("report_capabilities", 'c'),
    no("reserve", 'R'),
    req("transport-id", 'X'),
    req("transport_id", 'X'),
    no("unreg", 'U'),
    no("verbose", 'v'),
    no("version", 'V'),
];

const PRIN_NAMES: [&str; 8] = [
    "Read keys",
    "Read reservation",
    "Report capabilities",
    "Read full status",
    "[reserved 0x4]",
    "[reserved 0x5]",
    "[reserved 0x6]",
    "[reserved 0x7]",
];

const PROUT_NAMES: [&str; 10] = [
    "Register",
    "Reserve",
    "Release",
    "Clear",
    "Preempt",
    "Preempt and abort",
    "Register and ignore existing key",
    "Register and move",
    "Replace lost reservation",
    "[reserved 0x9]",
];

/// PR OUT service actions.
const REGISTER_AND_MOVE: u8 = 7;

/// Our own usage text (to standard error), with sg_persist's options: `help` is the
/// number of `-h` given (two or more: the other options and the type codes).
fn usage(help: u32, err: &mut dyn Write) {
    let text = if help < 2 {
        "Usage: sg_persist [OPTIONS] [DEVICE]\n\
         Sends one SCSI PERSISTENT RESERVE IN (default: READ KEYS) or OUT command to DEVICE\n\
         (prsdk's sg_persist personality, on the PR SDK). Main options:\n\
         \x20 -i, --in                      PR IN (the default)\n\
         \x20 -o, --out                     PR OUT (needs one service action below)\n\
         \x20 -k, --read-keys               PR IN: READ KEYS (the default action)\n\
         \x20 -r, --read-reservation        PR IN: READ RESERVATION\n\
         \x20 -c, --report-capabilities     PR IN: REPORT CAPABILITIES\n\
         \x20 -s, --read-full-status, --read-status   PR IN: READ FULL STATUS\n\
         \x20 -G, --register                PR OUT: REGISTER\n\
         \x20 -I, --register-ignore         PR OUT: REGISTER AND IGNORE EXISTING KEY\n\
         \x20 -R, --reserve                 PR OUT: RESERVE\n\
         \x20 -L, --release                 PR OUT: RELEASE\n\
         \x20 -C, --clear                   PR OUT: CLEAR\n\
         \x20 -P, --preempt                 PR OUT: PREEMPT\n\
         \x20 -A, --preempt-abort           PR OUT: PREEMPT AND ABORT\n\
         \x20 -M, --register-move           PR OUT: REGISTER AND MOVE (with one -X)\n\
         \x20 -z, --replace-lost            PR OUT: REPLACE LOST RESERVATION\n\
         \x20 -K, --param-rk=RK             reservation key (hex)\n\
         \x20 -S, --param-sark=SARK         service action reservation key (hex)\n\
         \x20 -T, --prout-type=TYPE         reservation type (hex; '-hh' lists them)\n\
         \x20 -U, --unreg                   REGISTER AND MOVE: unregister the source\n\
         \x20 -h, --help                    this text; twice for the other options\n"
    } else {
        "Usage: sg_persist [OPTIONS] [DEVICE]\n\
         Other options:\n\
         \x20 -d, --device=DEVICE           DEVICE as an option\n\
         \x20 -l, --alloc-length=LEN        PR IN allocation length, hex (at most 2000)\n\
         \x20 -m, --maxlen=LEN              the same in decimal (8192, 8k, 2000h)\n\
         \x20 -H, --hex                     PR IN response in hex (-HH, -HHH: all of it)\n\
         \x20 -n, --no-inquiry              no INQUIRY header\n\
         \x20 -y, --readonly                open DEVICE read-only (-yy: read-write)\n\
         \x20 -Y, --param-alltgpt           ALL_TG_PT\n\
         \x20 -Z, --param-aptpl             APTPL\n\
         \x20 -Q, --relative-target-port=RTPI   REGISTER AND MOVE: target port (hex)\n\
         \x20 -X, --transport-id=TIDS       TransportIDs: sas,ADDR | fcp,WWN | iqn.NAME[,i,0xISID]\n\
         \x20                               | hex bytes | file=NAME | - (standard input)\n\
         \x20 -v, --verbose                 more on standard error\n\
         \x20 -V, --version                 the version\n\n\
         TYPE: 1 Write Exclusive, 3 Exclusive Access, 5 Write Exclusive registrants only,\n\
         6 Exclusive Access registrants only, 7 Write Exclusive all registrants,\n\
         8 Exclusive Access all registrants (0, 2 and 4 are obsolete).\n"
    };
    let _ = err.write_all(text.as_bytes());
}

/// What the command line asked for.
#[derive(Clone, Debug)]
struct Opts {
    inquiry: bool,
    alltgpt: bool,
    aptpl: bool,
    unreg: bool,
    pr_in: bool,
    readonly: bool,
    readwrite_force: bool,
    hex: u32,
    prin_sa: Option<u8>,
    prout_sa: Option<u8>,
    verbose: u32,
    alloc_len: u32,
    rtp: u32,
    prout_type: u32,
    rk: u64,
    sark: u64,
    tids: tid::Tids,
    tids_given: usize,
}

/// The sense category of a failed command (sg3_utils' `SG_LIB_CAT_*`), as sg_persist's
/// exit status: 0 for GOOD (and for sense that reports no error or a recovered one).
pub fn category(reply: &RawReply) -> i32 {
    match reply.status {
        0x00 => 0,
        0x02 => sense_category(&reply.sense),
        0x04 => 25,
        0x08 => 26,
        0x18 => 24,
        0x28 => 27,
        0x30 => 28,
        0x40 => 29,
        _ => EXIT_OTHER,
    }
}

fn sense_category(s: &[u8]) -> i32 {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    if s.len() < 3 {
        return 98;
    }
    let code = at(0) & 0x7f;
    let (key, asc, ascq) = match code {
        0x72 | 0x73 => (at(1) & 0xf, at(2), at(3)),
        0x70 | 0x71 => {
            let n = if s.len() > 7 {
                s.len().min(usize::from(at(7)) + 8)
            } else {
                s.len()
            };
            let g = |i: usize| if i < n { at(i) } else { 0 };
            (at(2) & 0xf, g(12), g(13))
        }
        _ => return 98,
    };
    match key {
        0 | 1 => 0,
        2 => 2,
        3 | 4 | 8 => 3,
        5 if asc == 0x20 && ascq == 0 => 9,
        5 if asc == 0x21 && ascq == 0 => 22,
        5 => 5,
        6 => 6,
        7 => 7,
        0xa => 10,
        0xb if asc == 0x10 => 40,
        0xb => 11,
        0xe => 14,
        _ => 98,
    }
}

/// sg3_utils' words for an exit status (its `sg_exit2str`, short form).
fn exit_str(code: i32) -> String {
    match code {
        1 => "syntax error".into(),
        2 => "Not ready".into(),
        3 => "Medium or hardware error".into(),
        5 => "Illegal request".into(),
        6 => "Unit attention".into(),
        7 => "Data protect".into(),
        9 => "Illegal request, Invalid opcode".into(),
        11 => "Aborted command".into(),
        15 => "File error".into(),
        24 => "Reservation conflict".into(),
        26 => "SCSI status: busy".into(),
        31 => "Contradict".into(),
        97 => "Malformed response to SCSI command".into(),
        98 => "Some other sense data problem".into(),
        99 => "Some other error/warning has occurred".into(),
        c if (EXIT_OS_BASE + 1..EXIT_MALFORMED).contains(&c) => {
            format!(
                "OS error: {}",
                OsError {
                    errno: c - EXIT_OS_BASE,
                    message: String::new()
                }
                .strerror()
            )
        }
        c => format!("Sense category: {c}"),
    }
}

/// sg3_utils' `sg_convert_errno`.
fn convert_errno(e: &OsError) -> i32 {
    if e.errno > 0 && e.errno < EXIT_MALFORMED - EXIT_OS_BASE {
        EXIT_OS_BASE + e.errno
    } else if e.errno == 0 {
        EXIT_OTHER
    } else {
        EXIT_OS_BASE
    }
}

/// Where the personality's input and output go.
pub struct Io<'a> {
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
    /// Standard input (`--transport-id=-`).
    pub stdin: &'a mut dyn BufRead,
    /// `SG_PERSIST_IN_RDONLY` is set in the environment.
    pub in_rdonly_env: bool,
}

/// Runs `sg_persist` with `args` (without the program name; `prog` is how it was invoked,
/// for getopt's messages), opening devices with `opener`. Returns the exit status.
pub fn run(prog: &str, args: &[String], opener: &dyn Opener, io: &mut Io<'_>) -> i32 {
    let parsed = getopt::parse(args, SHORT, LONG);
    let mut o = Opts {
        inquiry: true,
        alltgpt: false,
        aptpl: false,
        unreg: false,
        pr_in: true,
        readonly: false,
        readwrite_force: false,
        hex: 0,
        prin_sa: None,
        prout_sa: None,
        verbose: 0,
        alloc_len: 8192,
        rtp: 0,
        prout_type: 0,
        rk: 0,
        sark: 0,
        tids: tid::Tids::default(),
        tids_given: 0,
    };
    let mut device: Option<String> = None;
    let (mut help, mut want_in, mut want_out) = (0u32, false, false);
    let (mut n_prin, mut n_prout) = (0u32, 0u32);
    let (mut verbose_given, mut version_given) = (false, false);
    for item in parsed.items {
        let (c, arg) = match item {
            Item::Opt(c, arg) => (c, arg.unwrap_or_default()),
            Item::Error(msg) => {
                // getopt's '?': sg_persist prints its usage and exits 0.
                let _ = writeln!(io.err, "{prog}: {msg}");
                usage(1, io.err);
                return 0;
            }
        };
        let bad = |io: &mut Io<'_>, what: &str| {
            let _ = writeln!(io.err, "bad argument to '--{what}'");
            EXIT_SYNTAX
        };
        match c {
            'A' | 'C' | 'G' | 'I' | 'L' | 'M' | 'P' | 'R' | 'z' => {
                o.prout_sa = Some(match c {
                    'G' => 0,
                    'R' => 1,
                    'L' => 2,
                    'C' => 3,
                    'P' => 4,
                    'A' => 5,
                    'I' => 6,
                    'M' => 7,
                    _ => 8,
                });
                n_prout += 1;
            }
            'k' | 'r' | 'c' | 's' => {
                o.prin_sa = Some(match c {
                    'k' => 0,
                    'r' => 1,
                    'c' => 2,
                    _ => 3,
                });
                n_prin += 1;
            }
            'd' => device = Some(arg),
            'h' => help += 1,
            'H' => o.hex += 1,
            'i' => want_in = true,
            'o' => want_out = true,
            'n' => o.inquiry = false,
            'K' | 'S' => match num::scan_hex(&arg, 64) {
                Some(v) if c == 'K' => o.rk = v,
                Some(v) => o.sark = v,
                None => return bad(io, if c == 'K' { "param-rk" } else { "param-sark" }),
            },
            'l' | 'm' => {
                let what = if c == 'm' { "maxlen" } else { "alloc-length" };
                let v = if c == 'm' {
                    num::get_num(&arg).map(|v| v as i32 as u32 as u64)
                } else {
                    num::scan_hex(&arg, 32)
                };
                let Some(v) = v else {
                    return bad(io, what);
                };
                if v > 8192 {
                    let _ = writeln!(io.err, "'--{what}' argument exceeds maximum value (8192)");
                    return EXIT_SYNTAX;
                }
                o.alloc_len = v as u32;
            }
            'Q' => {
                let Some(v) = num::scan_hex(&arg, 32) else {
                    return bad(io, "relative-target-port");
                };
                if v > 0xffff {
                    let _ = writeln!(
                        io.err,
                        "argument to '--relative-target-port' 0 to ffff inclusive"
                    );
                    return EXIT_SYNTAX;
                }
                o.rtp = v as u32;
            }
            'T' => match num::scan_hex(&arg, 32) {
                Some(v) => o.prout_type = v as u32,
                None => return bad(io, "prout-type"),
            },
            'U' => o.unreg = true,
            'v' => {
                verbose_given = true;
                o.verbose += 1;
            }
            'V' => version_given = true,
            'X' => {
                if tid::build(&arg, &mut o.tids, io.stdin, io.err).is_err() {
                    return bad(io, "transport-id");
                }
                o.tids_given = o.tids.slots.len();
            }
            // -y read-only, -yy read-write whatever the environment says.
            'y' if !o.readwrite_force => {
                o.readwrite_force = o.readonly;
                o.readonly = !o.readonly;
            }
            'Y' => o.alltgpt = true,
            'Z' => o.aptpl = true,
            _ => {}
        }
    }
    let mut operands = parsed.operands.into_iter();
    if device.is_none() {
        device = operands.next();
    }
    let extra: Vec<String> = operands.collect();
    if !extra.is_empty() {
        for e in &extra {
            let _ = writeln!(io.err, "Unexpected extra argument: {e}");
        }
        usage(1, io.err);
        return EXIT_SYNTAX;
    }
    if help > 0 {
        usage(help, io.err);
        return 0;
    }
    if verbose_given && version_given {
        let _ = writeln!(io.err, "Not in DEBUG mode, so '-vV' has no special action");
    }
    if version_given {
        let _ = writeln!(io.err, "version: {VERSION}");
        return 0;
    }
    let Some(device) = device else {
        let _ = writeln!(io.err, "No device name given");
        usage(1, io.err);
        return EXIT_SYNTAX;
    };
    if want_out && want_in {
        let _ = writeln!(io.err, "choose '--in' _or_ '--out' (not both)");
        usage(1, io.err);
        return EXIT_CONTRADICT;
    } else if want_out {
        o.pr_in = false;
        if n_prout != 1 || n_prin != 0 {
            let _ = io.err.write_all(
                b">> For Persistent Reserve Out one and only one appropriate\n\
                  >> service action must be chosen (e.g. '--register')\n",
            );
            return EXIT_CONTRADICT;
        }
    } else {
        if n_prout > 0 {
            let _ = io.err.write_all(
                b">> When a service action for Persistent Reserve Out is chosen the\n\
                  >> '--out' option must be given (as a safeguard)\n",
            );
            return EXIT_CONTRADICT;
        }
        if n_prin == 0 {
            let _ = io.err.write_all(
                b">> No service action given; assume Persistent Reserve In command\n\
                  >> with Read Keys service action\n",
            );
            o.prin_sa = Some(0);
        } else if n_prin > 1 {
            let _ = writeln!(io.err, "Too many service actions given; choose one only");
            usage(1, io.err);
            return EXIT_CONTRADICT;
        }
    }
    if (o.unreg || o.rtp != 0) && o.prout_sa != Some(REGISTER_AND_MOVE) {
        let _ = writeln!(
            io.err,
            "--unreg or --relative-target-port only useful with --register-move"
        );
        usage(1, io.err);
        return EXIT_CONTRADICT;
    }
    if o.prout_sa == Some(REGISTER_AND_MOVE) && o.tids_given != 1 {
        let _ = writeln!(
            io.err,
            "with --register-move one (and only one) --transport-id should be given"
        );
        usage(1, io.err);
        return EXIT_CONTRADICT;
    }
    if matches!(o.prout_sa, Some(1 | 2 | 4 | 5)) && o.prout_type == 0 {
        let _ = writeln!(io.err, "warning>>> --prout-type probably needs to be given");
    }
    if o.verbose > 2 && o.tids_given > 0 {
        let _ = writeln!(
            io.err,
            "number of tranport-ids decoded from command line (or stdin): {}",
            o.tids_given
        );
        let _ = writeln!(io.err, "  Decode given transport-ids:");
        let mut text = String::new();
        for slot in &o.tids.slots {
            print::transport_id("      ", slot, &mut text);
        }
        let _ = io.out.write_all(text.as_bytes());
    }
    let ret = execute(prog, &device, &o, opener, io);
    let (ret, flagged) = ret;
    if ret != 0 && o.verbose == 0 && !flagged {
        let _ = writeln!(io.err, "sg_persist failed: {}", exit_str(ret));
    }
    ret
}

/// Opens the device (first read-only for the INQUIRY header unless `-n`) and runs the
/// command. Returns the exit status and whether the failure was already reported.
fn execute(
    _prog: &str,
    device: &str,
    o: &Opts,
    opener: &dyn Opener,
    io: &mut Io<'_>,
) -> (i32, bool) {
    if o.inquiry {
        let dev = match opener.open(device, true) {
            Ok(d) => d,
            Err(e) => {
                let _ = writeln!(
                    io.err,
                    "sg_persist: error opening file (ro): {device}: {}",
                    e.strerror()
                );
                return (convert_errno(&e), true);
            }
        };
        let failed = |io: &mut Io<'_>, code: i32| {
            let _ = writeln!(io.out, "sg_persist: SCSI INQUIRY failed on {device}");
            (code, true)
        };
        match dev.inquiry(36) {
            Ok(reply) if reply.status == 0 => {
                let _ = io.out.write_all(&print::inquiry_header(&reply.data));
            }
            Ok(reply) => {
                let code = category(&reply);
                if code != 0 {
                    return failed(io, code);
                }
                let _ = io.out.write_all(&print::inquiry_header(&reply.data));
            }
            Err(e) => {
                let _ = writeln!(io.err, "inquiry: {}", e.message);
                return failed(io, convert_errno(&e));
            }
        }
    }
    let readonly = if o.readwrite_force {
        false
    } else {
        o.readonly || (io.in_rdonly_env && o.pr_in)
    };
    let dev = match opener.open(device, readonly) {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(
                io.err,
                "sg_persist: error opening file {device} (r{}): {}",
                if readonly { "o" } else { "w" },
                e.strerror()
            );
            return (convert_errno(&e), true);
        }
    };
    if o.pr_in {
        let sa = o.prin_sa.unwrap_or(0);
        let cdb = PrInCdb {
            service_action: sa,
            allocation_length: o.alloc_len as u16,
            control: 0,
        }
        .to_bytes();
        if o.verbose > 0 {
            let _ = writeln!(
                io.err,
                "    Persistent reservation in cdb: {}",
                hex_line(&cdb)
            );
        }
        let name = PRIN_NAMES[usize::from(sa & 7)];
        let reply = match dev.pass_through(&cdb, &[]) {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(io.err, "PR in ({name}): {}", e.strerror());
                return (convert_errno(&e), false);
            }
        };
        let code = category(&reply);
        if code != 0 {
            report_failure(io, "in", name, code);
            return (code, false);
        }
        let mut buf = reply.data;
        buf.resize(o.alloc_len as usize, 0);
        let (text, code, err) = print::prin(sa, &buf, o.alloc_len as usize, o.hex, o.verbose);
        let _ = io.out.write_all(text.as_bytes());
        let _ = io.err.write_all(err.as_bytes());
        return (code, false);
    }
    let sa = o.prout_sa.unwrap_or(0);
    let tids = o.tids.compact();
    let mut params = vec![0u8; 24];
    params[0..8].copy_from_slice(&o.rk.to_be_bytes());
    params[8..16].copy_from_slice(&o.sark.to_be_bytes());
    if sa == REGISTER_AND_MOVE {
        params[17] = u8::from(o.unreg) << 1 | u8::from(o.aptpl);
        params[18..20].copy_from_slice(&(o.rtp as u16).to_be_bytes());
        if !tids.is_empty() {
            params[20..24].copy_from_slice(&(tids.len() as u32).to_be_bytes());
            params.extend_from_slice(&tids);
        }
    } else {
        params[20] = (u8::from(o.alltgpt) << 2) | u8::from(o.aptpl);
        if !tids.is_empty() {
            params[20] |= 0x8;
            params.extend_from_slice(&(tids.len() as u32).to_be_bytes());
            params.extend_from_slice(&tids);
        }
    }
    let cdb = PrOutCdb {
        service_action: sa,
        scope: 0,
        type_code: (o.prout_type & 0xf) as u8,
        parameter_list_length: params.len() as u32,
        control: 0,
    }
    .to_bytes();
    if o.verbose > 0 {
        let _ = writeln!(
            io.err,
            "    Persistent reservation out cdb: {}",
            hex_line(&cdb)
        );
    }
    let name = if sa == REGISTER_AND_MOVE {
        "register and move"
    } else {
        PROUT_NAMES[usize::from(sa).min(9)]
    };
    let reply = match dev.pass_through(&cdb, &params) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(io.err, "PR out ({name}): {}", e.strerror());
            return (convert_errno(&e), false);
        }
    };
    let code = category(&reply);
    if code != 0 {
        report_failure(io, "out", name, code);
        return (code, false);
    }
    if o.verbose > 0 {
        if sa == REGISTER_AND_MOVE {
            let _ = writeln!(io.err, "PR out: 'register and move' command successful");
        } else {
            let _ = writeln!(io.err, "PR out: command ({name}) successful");
        }
    }
    (0, false)
}

fn report_failure(io: &mut Io<'_>, dir: &str, name: &str, code: i32) {
    match code {
        9 => {
            let _ = writeln!(io.err, "PR {dir} ({name}): command not supported");
        }
        5 => {
            let _ = writeln!(
                io.err,
                "PR {dir} ({name}): bad field in cdb or parameter list (perhaps unsupported service action)"
            );
        }
        c => {
            let _ = writeln!(io.err, "PR {dir} ({name}): {}", exit_str(c));
        }
    }
}

fn hex_line(b: &[u8]) -> String {
    b.iter()
        .map(|c| format!("{c:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
