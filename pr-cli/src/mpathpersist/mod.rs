//! The `mpathpersist` personality: the options, standard output and exit statuses of
//! Debian 12's `mpathpersist` (multipath-tools 0.9.4), batch files (`-f`) included, with
//! every command run on the multipath map through the front door
//! ([`pr_multipath::blocking::Lun`]: pr-multipath's semantics, not 0.9.4's). See
//! `pr-cli/README.md` for what differs.
//!
//! [`Version::V0_15`] is the same personality speaking as current upstream's
//! mpathpersist (0.15.1, Debian sid), which prints REPORT CAPABILITIES by the right bits
//! and at most 30 READ FULL STATUS descriptors ([`mod@print`]); everything else (options,
//! messages, exit statuses) is 0.9.4's. It is chosen by a link name, `prsdk mpathpersist
//! --compat`, or [`ENV`] ([`Version::select`]).
//!
//! Exit statuses are libmpathpersist's `MPATH_PR_*` codes: 0 success, 1 syntax error
//! (also a configured `reservation_key` that does not match), 2 NOT READY, 3 MEDIUM
//! ERROR, 4 HARDWARE ERROR, 5 ILLEGAL REQUEST, 6 UNIT ATTENTION, 8 ABORTED COMMAND,
//! 9 NO SENSE, 10 malformed sense, 11 RESERVATION CONFLICT, 12 the device cannot be
//! opened or is not a block device, 13 not a multipath map (or no usable path, or
//! device-mapper trouble), 14 thread error, 15 anything else. As 0.15, a NOT READY
//! answer ends as 15 (16 for a RELEASE) instead of 2.

pub mod maps;
mod options;
pub mod print;
pub mod tid;

use std::io::Write;

use pr_core::outcome::CommandError;
use pr_core::sense::SenseKey;
use pr_core::types::{PrInAction, PrOutAction, ReservationKey};
use pr_multipath::blocking::{self, BridgeError, Lun};
use pr_multipath::{BasicOut, BasicOutError, Error, ErrorKind, OutRequest};

use crate::getopt::{self, Item, LongOpt, no, req};
use maps::{MapDevice, Maps};
pub use options::OPTIONS;
use tid::CliTid;

/// `MPATH_PR_SUCCESS`.
pub const SUCCESS: i32 = 0;
/// `MPATH_PR_SYNTAX_ERROR`.
pub const SYNTAX_ERROR: i32 = 1;
/// `MPATH_PR_SENSE_NOT_READY`.
pub const SENSE_NOT_READY: i32 = 2;
/// `MPATH_PR_SENSE_MEDIUM_ERROR`.
pub const SENSE_MEDIUM_ERROR: i32 = 3;
/// `MPATH_PR_SENSE_HARDWARE_ERROR`.
pub const SENSE_HARDWARE_ERROR: i32 = 4;
/// `MPATH_PR_ILLEGAL_REQ`.
pub const ILLEGAL_REQ: i32 = 5;
/// `MPATH_PR_SENSE_UNIT_ATTENTION`.
pub const SENSE_UNIT_ATTENTION: i32 = 6;
/// `MPATH_PR_SENSE_ABORTED_COMMAND`.
pub const SENSE_ABORTED_COMMAND: i32 = 8;
/// `MPATH_PR_NO_SENSE`.
pub const NO_SENSE: i32 = 9;
/// `MPATH_PR_SENSE_MALFORMED`.
pub const SENSE_MALFORMED: i32 = 10;
/// `MPATH_PR_RESERV_CONFLICT`.
pub const RESERV_CONFLICT: i32 = 11;
/// `MPATH_PR_FILE_ERROR`.
pub const FILE_ERROR: i32 = 12;
/// `MPATH_PR_DMMP_ERROR`.
pub const DMMP_ERROR: i32 = 13;
/// `MPATH_PR_THREAD_ERROR`.
pub const THREAD_ERROR: i32 = 14;
/// `MPATH_PR_OTHER`.
pub const OTHER: i32 = 15;
/// `MPATH_PR_RETRYABLE_ERROR` (0.13 and later; meant to be internal, but a RELEASE that
/// failed so on every path returns it).
pub const RETRYABLE_ERROR: i32 = 16;

/// The environment variable that chooses the version the personality speaks as, when
/// the name it was invoked as does not: `0.9.4` (the default) or `0.15`.
pub const ENV: &str = "PRSDK_MPATHPERSIST";

/// The mpathpersist the personality speaks as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Version {
    /// multipath-tools 0.9.4, Debian 12's (the default).
    #[default]
    V0_9_4,
    /// multipath-tools 0.15 (0.15.1, Debian sid's): 0.9.4 with REPORT CAPABILITIES by the
    /// right bits and READ FULL STATUS cut at 30 descriptors.
    V0_15,
}

impl Version {
    /// Every version, with the names it is known by (the first is the canonical one).
    pub const ALL: &'static [(Version, &'static [&'static str])] = &[
        (Version::V0_9_4, &["0.9.4", "0.9"]),
        (Version::V0_15, &["0.15", "0.15.1", "0.15.0"]),
    ];

    /// The version named `s` (`0.9.4`, `0.9`, `0.15`, `0.15.0`, `0.15.1`).
    pub fn parse(s: &str) -> Option<Version> {
        Self::ALL
            .iter()
            .find(|(_, names)| names.contains(&s))
            .map(|(v, _)| *v)
    }

    /// Its canonical name: `0.9.4`, `0.15`.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(v, _)| *v == self)
            .map_or("0.9.4", |(_, names)| names[0])
    }

    /// The version an invocation name chooses: `mpathpersist-0.15` (any name of
    /// [`Version::parse`] after `mpathpersist-`); `None` for a name that chooses none
    /// (`mpathpersist`) or is no mpathpersist name.
    pub fn of_program_name(name: &str) -> Option<Version> {
        let base = name.rsplit('/').next().unwrap_or(name);
        base.strip_prefix("mpathpersist-").and_then(Version::parse)
    }

    /// The version to speak as: `explicit` (a link name's or `--compat`'s) when given,
    /// else `env` (the value of [`ENV`], if set), else 0.9.4. An unknown `env` value is
    /// an error (its message).
    pub fn select(explicit: Option<Version>, env: Option<&str>) -> Result<Version, String> {
        if let Some(v) = explicit {
            return Ok(v);
        }
        match env {
            None | Some("") => Ok(Version::default()),
            Some(s) => Version::parse(s).ok_or_else(|| {
                format!("{ENV}={s}: not a known mpathpersist version (0.9.4 or 0.15)")
            }),
        }
    }
}

/// `MPATH_MX_TIDS`: the most TransportIDs mpathpersist sends.
pub const MAX_TIDS: usize = 32;

/// The short options, in getopt's syntax.
pub const SHORT: &str = "v:Cd:hHioYZK:S:PAT:skrGILcRX:l:f:";

/// The long options of 0.9.4, in its order (prefixes resolve against this list).
pub const LONG: &[LongOpt] = &[
    req("verbose", 'v'),
    no("clear", 'C'),
    req("device", 'd'),
    req("batch-file", 'f'),
    no("help", 'h'),
    no("hex", 'H'),
    no("in", 'i'),
    no("out", 'o'),
    no("param-alltgpt", 'Y'),
    no("param-aptpl", 'Z'),
    req("param-rk", 'K'),
    req("param-sark", 'S'),
    no("preempt", 'P'),
    no("preempt-abort", 'A'),
    req("prout-type", 'T'),
    no("read-full-status", 's'),
    no("read-keys", 'k'),
    no("read-reservation", 'r'),
    no("register", 'G'),
    no("register-ignore", 'I'),
    no("release", 'L'),
    no("report-capabilities", 'c'),
    no("reserve", 'R'),
    req("transport-id", 'X'),
    req("alloc-length", 'l'),
];

const USAGE_HEAD: &str = "Usage: mpathpersist [OPTIONS] [DEVICE]\n";

/// The options part of the usage text (after the two header lines).
const USAGE: &str = "  -i, --in                      a PERSISTENT RESERVE IN command, with one of
      -k, --read-keys           the registered keys
      -r, --read-reservation    the reservation
      -c, --report-capabilities the device's PR capabilities
      -s, --read-full-status    every registration, its port and TransportID
  -o, --out                     a PERSISTENT RESERVE OUT command, with one of
      -G, --register            register (or unregister, with a SARK of 0)
      -I, --register-ignore     register, whatever key is registered now
      -R, --reserve             take the reservation (needs -T)
      -L, --release             release it (needs -T)
      -C, --clear               remove every registration and the reservation
      -P, --preempt             remove SARK's registrations, take its reservation
      -A, --preempt-abort       as --preempt, aborting SARK's commands too
  -K, --param-rk=RK             this host's reservation key (hex)
  -S, --param-sark=SARK         the service action reservation key (hex)
  -T, --prout-type=TYPE         the reservation type (hex: 1, 3, 5, 6, 7, 8)
  -Y, --param-alltgpt           register on all target ports (ALL_TG_PT)
  -Z, --param-aptpl             persist through power loss (APTPL)
  -X, --transport-id=TID        a TransportID to register (SPEC_I_PT; repeatable):
                                fcp,HEX16  sas,HEX16  iqn.NAME[,i,0xISID]
  -l, --alloc-length=LEN        PR IN allocation length (at most 8192)
  -d, --device=DEVICE           the multipath map (or give it as the operand)
  -f, --batch-file=FILE         then run the commands of FILE, one a line
  -H, --hex                     dump responses in hex (standard error)
  -v, --verbose=LEVEL           0 (default) to 4
  -h, --help                    this text
";

/// The usage text of `version`.
fn usage(version: Version) -> String {
    format!(
        "{USAGE_HEAD}prsdk's mpathpersist personality (the options of multipath-tools {}):\n\
         {USAGE}",
        match version {
            Version::V0_9_4 => "0.9.4",
            Version::V0_15 => "0.15.1",
        }
    )
}

/// Where the personality's output goes.
pub struct Io<'a> {
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
}

/// What lasts from one command line to the next within a run (0.9.4's globals): the
/// verbosity and hex dumps set by the command line (a batch file's lines cannot change
/// them), and the allocation length, which any line changes for the lines after it.
#[derive(Clone, Copy, Debug, Default)]
struct State {
    version: Version,
    loglevel: i32,
    verbose: i32,
    noisy: bool,
    mx_alloc_len: u32,
}

/// Runs `mpathpersist` `version` with `args` (without the program name; `prog` is how
/// it was invoked, for getopt's messages) on the maps of `maps`. Returns the exit status.
pub fn run(version: Version, prog: &str, args: &[String], maps: &dyn Maps, io: &mut Io<'_>) -> i32 {
    if args.is_empty() {
        let _ = writeln!(io.err, "No parameter used");
        let _ = io.err.write_all(usage(version).as_bytes());
        return 1;
    }
    if maps.needs_root() && !real_user_is_root() {
        let _ = writeln!(io.err, "need to be root");
        return 1;
    }
    let mut state = State {
        version,
        ..State::default()
    };
    match handle_args(prog, args, 0, &mut state, maps, io) {
        Flow::Exit(code) => code,
        Flow::Done(code) if code >= 0 => code,
        Flow::Done(_) => OTHER,
    }
}

/// Whether the real user id is 0 (`/proc/self/status`).
fn real_user_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|r| r.split_whitespace().next().map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// How a command line ended: its status, or the whole program's end (device-mapper
/// cannot be reached).
enum Flow {
    Done(i32),
    Exit(i32),
}

/// `sscanf("%d")` (`strtol`, then the C `int`): `None` without digits.
fn scan_int(s: &str) -> Option<i64> {
    let (neg, v) = scan_unsigned(s)?;
    let v = i64::try_from(v).unwrap_or(i64::MAX);
    Some(if neg { v.saturating_neg() } else { v })
}

/// `strtoul`'s reading of a decimal: blanks, a sign, digits (saturating).
fn scan_unsigned(s: &str) -> Option<(bool, u64)> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let n = t.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return None;
    }
    Some((neg, t[..n].parse::<u64>().unwrap_or(u64::MAX)))
}

/// `sscanf("%u")`: as `strtoul` (a minus sign negates, modulo 2^64), cut to 32 bits.
fn scan_uint(s: &str) -> Option<u32> {
    let (neg, v) = scan_unsigned(s)?;
    let v = if neg { v.wrapping_neg() } else { v };
    Some(v as u32)
}

/// The PR OUT service action codes.
const PROUT_REG: u8 = 0;
const PROUT_RES: u8 = 1;
const PROUT_REL: u8 = 2;
const PROUT_CLEAR: u8 = 3;
const PROUT_PREE: u8 = 4;
const PROUT_PREE_AB: u8 = 5;
const PROUT_REG_IGN: u8 = 6;

#[allow(clippy::too_many_lines)]
fn handle_args(
    prog: &str,
    args: &[String],
    nline: usize,
    state: &mut State,
    maps: &dyn Maps,
    io: &mut Io<'_>,
) -> Flow {
    let parsed = getopt::parse(args, SHORT, LONG);
    let mut device: Option<String> = None;
    let (mut n_prin, mut n_prout) = (0u32, 0u32);
    let (mut want_in, mut want_out, mut hex) = (false, false, false);
    let (mut rk, mut sark, mut prout_type) = (0u64, 0u64, 0u32);
    let (mut alltgpt, mut aptpl) = (false, false);
    let mut tids: Vec<CliTid> = Vec::new();
    let (mut prin_sa, mut prout_sa) = (None::<u8>, None::<u8>);
    let mut batch: Option<String> = None;
    let mut ret = 'parse: {
        for item in parsed.items {
            let (c, arg) = match item {
                Item::Opt(c, arg) => (c, arg.unwrap_or_default()),
                Item::Error(msg) => {
                    let _ = writeln!(io.err, "{prog}: {msg}");
                    let _ = writeln!(io.err, "unrecognised switch code 0x3f ??");
                    break 'parse SYNTAX_ERROR;
                }
            };
            let bad = |io: &mut Io<'_>, what: &str| {
                let _ = writeln!(io.err, "bad argument to '--{what}'");
                SYNTAX_ERROR
            };
            match c {
                'f' => {
                    if nline != 0 {
                        let _ = writeln!(io.err, "ERROR: -f option not allowed in batch file");
                        break 'parse SYNTAX_ERROR;
                    }
                    if batch.is_some() {
                        let _ = writeln!(io.err, "ERROR: -f option can be used at most once");
                        break 'parse SYNTAX_ERROR;
                    }
                    batch = Some(arg);
                }
                'v' => {
                    if nline == 0 {
                        match scan_int(&arg) {
                            Some(v) => state.loglevel = v as i32,
                            None => break 'parse bad(io, "verbose"),
                        }
                    }
                }
                'C' | 'P' | 'A' | 'G' | 'I' | 'L' | 'R' => {
                    prout_sa = Some(match c {
                        'C' => PROUT_CLEAR,
                        'P' => PROUT_PREE,
                        'A' => PROUT_PREE_AB,
                        'G' => PROUT_REG,
                        'I' => PROUT_REG_IGN,
                        'L' => PROUT_REL,
                        _ => PROUT_RES,
                    });
                    n_prout += 1;
                }
                's' | 'k' | 'r' | 'c' => {
                    prin_sa = Some(match c {
                        'k' => 0,
                        'r' => 1,
                        'c' => 2,
                        _ => 3,
                    });
                    n_prin += 1;
                }
                'd' => device = Some(arg),
                'h' => {
                    let _ = io.err.write_all(usage(state.version).as_bytes());
                    return Flow::Done(0);
                }
                'H' => hex = true,
                'i' => want_in = true,
                'o' => want_out = true,
                'Y' => alltgpt = true,
                'Z' => aptpl = true,
                'K' | 'S' => match crate::sg_persist::num::scan_hex(&arg, 64) {
                    Some(v) if c == 'K' => rk = v,
                    Some(v) => sark = v,
                    None => break 'parse bad(io, if c == 'K' { "param-rk" } else { "param-sark" }),
                },
                'T' => match crate::sg_persist::num::scan_hex(&arg, 32) {
                    Some(v) => prout_type = v as u32,
                    None => break 'parse bad(io, "prout-type"),
                },
                'X' => {
                    let mut warn = String::new();
                    let t = tid::parse(&arg, &mut warn);
                    let _ = io.err.write_all(warn.as_bytes());
                    match t {
                        Ok(t) => tids.push(t),
                        Err(why) => {
                            let _ = writeln!(io.err, "{why}");
                            break 'parse bad(io, "transport-id");
                        }
                    }
                }
                'l' => match scan_uint(&arg) {
                    None => break 'parse bad(io, "alloc-length"),
                    Some(v) => {
                        // Kept even when too large, as 0.9.4 keeps it for the next lines.
                        state.mx_alloc_len = v;
                        if v > 8192 {
                            let _ = writeln!(
                                io.err,
                                "'--alloc-length' argument exceeds maximum limit(8192)"
                            );
                            break 'parse SYNTAX_ERROR;
                        }
                    }
                },
                _ => {
                    let _ = writeln!(io.err, "unrecognised switch code 0x{:x} ??", c as u32);
                    break 'parse SYNTAX_ERROR;
                }
            }
        }
        let mut operands = parsed.operands.into_iter();
        if device.is_none() {
            device = operands.next();
        }
        let extra: Vec<String> = operands.collect();
        if !extra.is_empty() {
            for e in extra {
                let _ = writeln!(io.err, "Unexpected extra argument: {e}");
            }
            break 'parse SYNTAX_ERROR;
        }
        if nline == 0 {
            state.noisy = state.loglevel >= 3 || hex;
            state.verbose = state.loglevel.min(3);
            if let Err(msg) = maps.device_mapper() {
                let _ = io.err.write_all(msg.as_bytes());
                return Flow::Exit(1);
            }
        }
        command(
            &Command {
                want_in,
                want_out,
                n_prin,
                n_prout,
                prin_sa,
                prout_sa,
                batch: batch.is_some(),
                device: device.as_deref(),
                rk,
                sark,
                prout_type,
                alltgpt,
                aptpl,
                tids: &tids,
            },
            state,
            maps,
            io,
        )
    };
    if ret == SYNTAX_ERROR {
        if nline == 0 {
            let _ = io.err.write_all(usage(state.version).as_bytes());
        } else {
            let _ = writeln!(io.err, "syntax error on line {nline} in batch file");
        }
    } else if let Some(file) = batch {
        match batch_file(&file, state, maps, io) {
            Flow::Exit(code) => return Flow::Exit(code),
            Flow::Done(rv) => {
                if ret == 0 {
                    ret = rv;
                }
            }
        }
    }
    Flow::Done(if ret >= 0 { ret } else { OTHER })
}

/// One command line, parsed.
struct Command<'a> {
    want_in: bool,
    want_out: bool,
    n_prin: u32,
    n_prout: u32,
    prin_sa: Option<u8>,
    prout_sa: Option<u8>,
    batch: bool,
    device: Option<&'a str>,
    rk: u64,
    sark: u64,
    prout_type: u32,
    alltgpt: bool,
    aptpl: bool,
    tids: &'a [CliTid],
}

/// The checks after parsing and the command itself: its status.
fn command(c: &Command<'_>, state: &State, maps: &dyn Maps, io: &mut Io<'_>) -> i32 {
    let say = |io: &mut Io<'_>, s: &str| {
        let _ = io.err.write_all(s.as_bytes());
    };
    match (c.want_in, c.want_out) {
        (false, false) if !c.batch => {
            say(io, "choose either '--in' or '--out' \n");
            return SYNTAX_ERROR;
        }
        (true, true) => {
            say(io, "choose either '--in' or '--out' \n");
            return SYNTAX_ERROR;
        }
        (false, true) => {
            if c.n_prout != 1 || c.n_prin != 0 {
                say(
                    io,
                    " For Persistent Reserve Out only one appropriate\n service action must \
                     be chosen \n",
                );
                return SYNTAX_ERROR;
            }
        }
        (true, false) => {
            if c.n_prout > 0 {
                say(
                    io,
                    " When a service action for Persistent Reserve Out is chosen the\n \
                     '--out' option must be given \n",
                );
                return SYNTAX_ERROR;
            }
            if c.n_prin == 0 {
                say(io, " No service action given for Persistent Reserve IN\n");
                return SYNTAX_ERROR;
            }
            if c.n_prin > 1 {
                say(io, " Too many service actions given; choose one only\n");
                return SYNTAX_ERROR;
            }
        }
        // Only a batch file to run.
        (false, false) => return SUCCESS,
    }
    if matches!(
        c.prout_sa,
        Some(PROUT_RES | PROUT_REL | PROUT_PREE | PROUT_PREE_AB)
    ) && c.want_out
        && c.prout_type == 0
    {
        say(io, "Warning: --prout-type probably needs to be given\n");
    }
    if state.verbose > 2 && !c.tids.is_empty() {
        let _ = writeln!(
            io.err,
            "number of transport-ids decoded from command line : {}",
            c.tids.len()
        );
    }
    let Some(device) = c.device else {
        say(io, "No device name given \n");
        return SYNTAX_ERROR;
    };
    let Some(dev) = maps.open(device) else {
        let _ = writeln!(io.err, "{device}: error opening file (rw) fd=-1");
        return FILE_ERROR;
    };
    if c.want_in {
        let sa = c.prin_sa.unwrap_or(0);
        return match prin(dev.as_ref(), sa, state, io) {
            Ok(bytes) => {
                let (o, e) = print::prin_as(state.version, state.verbose, sa, &bytes);
                let _ = io.out.write_all(&o);
                let _ = io.err.write_all(&e);
                SUCCESS
            }
            Err(code) => {
                say(io, "Persistent Reserve IN command failed\n");
                code
            }
        };
    }
    if c.tids.len() > MAX_TIDS {
        say(io, "malloc paramp failed\n");
        return OTHER;
    }
    let ret = prout(dev.as_ref(), c, state, io);
    if ret != SUCCESS {
        match ret {
            SENSE_UNIT_ATTENTION => {
                let _ = writeln!(
                    io.out,
                    "persistent reserve out: scsi status: Unit Attention"
                );
            }
            RESERV_CONFLICT => {
                let _ = writeln!(
                    io.out,
                    "persistent reserve out: scsi status: Reservation Conflict"
                );
            }
            _ => {}
        }
        let _ = writeln!(io.out, "PR out: command failed");
    }
    ret
}

/// `dumpHex` to standard error, one message a line (libmpathpersist's `noisy`).
fn dump_stderr(bytes: &[u8], io: &mut Io<'_>) {
    for line in print::hex_lines(bytes) {
        let _ = writeln!(io.err, "{line}");
    }
}

/// The LUN behind an opened device, or its code (what went wrong on standard error).
fn lun_of(dev: &dyn MapDevice, io: &mut Io<'_>) -> Result<Lun, i32> {
    dev.lun().map_err(|(code, msg)| {
        let _ = io.err.write_all(msg.as_bytes());
        code
    })
}

/// The allocation length of a PR IN: `-l` when it was given (a later batch line keeps
/// it), else the size of libmpathpersist's structure for the service action; at most
/// 8192.
fn alloc_len(sa: u8, mx_alloc_len: u32) -> u16 {
    let natural: u32 = match sa {
        1 => 24,
        2 => 8,
        _ => 8192,
    };
    let len = if mx_alloc_len != 0 {
        mx_alloc_len
    } else {
        natural
    };
    u16::try_from(len.min(8192)).unwrap_or(8192)
}

/// One PR IN through the map: the response (at most the allocation length).
fn prin(dev: &dyn MapDevice, sa: u8, state: &State, io: &mut Io<'_>) -> Result<Vec<u8>, i32> {
    let lun = lun_of(dev, io)?;
    let action = match sa {
        0 => PrInAction::ReadKeys,
        1 => PrInAction::ReadReservation,
        2 => PrInAction::ReportCapabilities,
        _ => PrInAction::ReadFullStatus,
    };
    let len = alloc_len(sa, state.mx_alloc_len);
    let inner = lun.as_async().clone();
    match blocking::block_on(async move { inner.pr_in_raw(action, len).await }) {
        Ok(Ok((path, mut bytes))) => {
            bytes.truncate(usize::from(len));
            if state.verbose >= 3 {
                let _ = writeln!(io.err, "{}: PR IN answered through {path}", lun.name());
            }
            if state.noisy {
                dump_stderr(&bytes, io);
            }
            Ok(bytes)
        }
        Ok(Err(e)) => Err(version_code(state.version, report(&lun, &e, io), false)),
        Err(e) => Err(bridge_code(&e, io)),
    }
}

/// The PR OUT request of a command line, or the code of what the device would refuse
/// (an invalid type, TransportIDs with anything but REGISTER, a TransportID that cannot
/// be encoded): ILLEGAL REQUEST, without sending anything.
fn out_request(c: &Command<'_>) -> Result<OutRequest, (i32, String)> {
    let key = ReservationKey(c.rk);
    let sa_key = ReservationKey(c.sark);
    let sa = c.prout_sa.unwrap_or(PROUT_REG);
    let illegal = |why: String| (ILLEGAL_REQ, why);
    let mut spec_i_pt = Vec::with_capacity(c.tids.len());
    for (i, t) in c.tids.iter().enumerate() {
        spec_i_pt.push(
            t.to_transport_id()
                .map_err(|why| illegal(format!("transport-id {}: {why}", i + 1)))?,
        );
    }
    OutRequest::from_basic(BasicOut {
        action: PrOutAction::from_code(sa).unwrap_or(PrOutAction::PreemptAndAbort),
        key,
        sa_key,
        // The CDB carries the low 4 bits.
        type_code: (c.prout_type & 0xf) as u8,
        aptpl: c.aptpl,
        all_tg_pt: c.alltgpt.then_some(true),
        spec_i_pt,
    })
    .map_err(|e| match e {
        BasicOutError::SpecIPtWithoutRegister => {
            illegal("TransportIDs (SPEC_I_PT) are only valid with --register".into())
        }
        e => illegal(e.to_string()),
    })
}

/// The PR OUT parameter list as `-H` shows it: the 24 basic bytes, then with
/// TransportIDs their length and the TransportIDs as pr-core encodes them.
fn parameter_list(c: &Command<'_>, request: &OutRequest) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    out.extend_from_slice(&c.rk.to_be_bytes());
    out.extend_from_slice(&c.sark.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    let mut flags = 0u8;
    if c.aptpl {
        flags |= 0x01;
    }
    if c.alltgpt {
        flags |= 0x04;
    }
    if let OutRequest::Register { spec_i_pt, .. } = request
        && !spec_i_pt.is_empty()
    {
        flags |= 0x08;
    }
    out.extend_from_slice(&[flags, 0, 0, 0]);
    if let Some(tail) = request.spec_i_pt_bytes() {
        out.extend_from_slice(&tail);
    }
    out
}

/// One PR OUT through the map: its code.
fn prout(dev: &dyn MapDevice, c: &Command<'_>, state: &State, io: &mut Io<'_>) -> i32 {
    let lun = match lun_of(dev, io) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let request = match out_request(c) {
        Ok(r) => r,
        Err((code, why)) => {
            let _ = writeln!(io.err, "{}: {why}", lun.name());
            return code;
        }
    };
    if state.noisy {
        let list = parameter_list(c, &request);
        dump_stderr(&list, io);
    }
    match lun.execute(request) {
        Ok(r) => {
            if state.verbose >= 3 {
                let _ = writeln!(io.err, "{r}");
            }
            SUCCESS
        }
        Err(e) => version_code(
            state.version,
            report(&lun, &e, io),
            c.prout_sa == Some(PROUT_REL),
        ),
    }
}

/// Says why an operation on `lun` failed and returns its code.
fn report(lun: &Lun, e: &Error, io: &mut Io<'_>) -> i32 {
    let code = code_of(e);
    match e {
        Error::KeyMismatch { .. } => {
            let _ = writeln!(io.err, "{}: {e}", lun.name());
        }
        // A conflict or a device's refusal is the exit status; a message is for -v.
        _ if code_is_answer(code) => {}
        _ => {
            let _ = writeln!(io.err, "{}: {e}", lun.name());
        }
    }
    code
}

/// The status `version` ends with where 0.9.4's would be `code`: 0.13 and later take
/// NOT READY (but 04h/07h while retries remain) as an error another path may not have,
/// try the next path, and when every path failed so end with `MPATH_PR_OTHER` (15), or,
/// for a RELEASE (sent down every path at once), with `MPATH_PR_RETRYABLE_ERROR` (16)
/// (`libmpathpersist/mpath_pr_ioctl.c` and `mpath_persist_int.c`, 0.14.3). pr-multipath
/// has tried the other paths already.
fn version_code(version: Version, code: i32, release: bool) -> i32 {
    match (version, code) {
        (Version::V0_15, SENSE_NOT_READY) if release => RETRYABLE_ERROR,
        (Version::V0_15, SENSE_NOT_READY) => OTHER,
        _ => code,
    }
}

fn code_is_answer(code: i32) -> bool {
    (SENSE_NOT_READY..=RESERV_CONFLICT).contains(&code)
}

fn bridge_code(e: &BridgeError, io: &mut Io<'_>) -> i32 {
    let _ = writeln!(io.err, "{e}");
    match e {
        BridgeError::Start(_) => THREAD_ERROR,
        _ => OTHER,
    }
}

/// The `MPATH_PR_*` code of a front-door error: the device's answer when a command
/// failed at the device, else by the error's kind (as the drop-in libmpathpersist of
/// pr-mpathpersist maps them).
pub fn code_of(e: &Error) -> i32 {
    if let Some(c) = e.command_error() {
        return code_of_command(c);
    }
    if e.failure().is_some() {
        return OTHER;
    }
    match e.kind() {
        ErrorKind::ReservationConflict => RESERV_CONFLICT,
        ErrorKind::KeyMismatch | ErrorKind::InvalidArgument => SYNTAX_ERROR,
        ErrorKind::PathFailure if e.report().is_none() => DMMP_ERROR,
        ErrorKind::NotFound | ErrorKind::NotScsi | ErrorKind::PermissionDenied => DMMP_ERROR,
        ErrorKind::System if !matches!(e, Error::Config { .. }) => DMMP_ERROR,
        ErrorKind::Internal if matches!(e, Error::Runtime(BridgeError::Start(_))) => THREAD_ERROR,
        _ => OTHER,
    }
}

/// The `MPATH_PR_*` code of a command that completed at the device unsuccessfully, as
/// libmpathpersist translates SCSI status and sense keys.
pub fn code_of_command(c: &CommandError) -> i32 {
    match c {
        CommandError::ReservationConflict { .. } => RESERV_CONFLICT,
        CommandError::UnitAttention { .. } => SENSE_UNIT_ATTENTION,
        CommandError::NotReady { .. } => SENSE_NOT_READY,
        CommandError::IllegalRequest { .. } => ILLEGAL_REQ,
        CommandError::MediumError { .. } => SENSE_MEDIUM_ERROR,
        CommandError::HardwareError { .. } => SENSE_HARDWARE_ERROR,
        CommandError::AbortedCommand { .. } => SENSE_ABORTED_COMMAND,
        CommandError::OtherSenseKey {
            key: SenseKey::NoSense,
            ..
        } => NO_SENSE,
        CommandError::MalformedSense { .. } => SENSE_MALFORMED,
        _ => OTHER,
    }
}

/// `-f FILE`: each line is a command line (words separated by blanks and tabs, a word
/// starting with `#` ends it, a leading `mpathpersist` is skipped, empty lines are
/// skipped), run after the command line's own command. The status is the last failing
/// line's, or 0.
fn batch_file(file: &str, state: &mut State, maps: &dyn Maps, io: &mut Io<'_>) -> Flow {
    let text = match std::fs::read(file) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(io.err, "unable to open {file}: {}", maps::strerror(&e));
            return Flow::Done(SYNTAX_ERROR);
        }
    };
    if state.verbose >= 2 {
        let _ = writeln!(io.err, "running batch file {file}");
    }
    let mut ret = SUCCESS;
    let text = String::from_utf8_lossy(&text);
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let nline = i + 1;
        let line = line.strip_suffix('\n').unwrap_or(line);
        if state.verbose >= 3 {
            let _ = writeln!(io.err, "processing line {nline}: {line}");
        }
        let mut words: Vec<String> = line
            .split([' ', '\t'])
            .filter(|w| !w.is_empty())
            .take_while(|w| !w.starts_with('#'))
            .map(str::to_owned)
            .collect();
        if words.first().map(String::as_str) == Some("mpathpersist") {
            words.remove(0);
        }
        if words.is_empty() {
            continue;
        }
        if state.verbose >= 2 {
            let _ = writeln!(
                io.err,
                "## file {file} line {nline}: mpathpersist {}",
                words.join(" ")
            );
        }
        match handle_args("mpathpersist", &words, nline, state, maps, io) {
            Flow::Exit(code) => return Flow::Exit(code),
            Flow::Done(rv) if rv != SUCCESS => ret = rv,
            Flow::Done(_) => {}
        }
    }
    Flow::Done(ret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_by_name_link_and_environment() {
        assert_eq!(Version::parse("0.9.4"), Some(Version::V0_9_4));
        assert_eq!(Version::parse("0.9"), Some(Version::V0_9_4));
        assert_eq!(Version::parse("0.15"), Some(Version::V0_15));
        assert_eq!(Version::parse("0.15.1"), Some(Version::V0_15));
        for bad in ["", "0.14", "0.15.2", "15", "0.9.5", " 0.15"] {
            assert_eq!(Version::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Version::V0_15.name(), "0.15");
        assert_eq!(Version::V0_9_4.name(), "0.9.4");
        assert_eq!(
            Version::of_program_name("/usr/local/sbin/mpathpersist-0.15"),
            Some(Version::V0_15)
        );
        assert_eq!(
            Version::of_program_name("mpathpersist-0.9.4"),
            Some(Version::V0_9_4)
        );
        assert_eq!(Version::of_program_name("mpathpersist"), None);
        assert_eq!(Version::of_program_name("mpathpersist-0.14"), None);
        assert_eq!(Version::of_program_name("prsdk"), None);
        // A link's (or --compat's) version wins over the environment's.
        assert_eq!(
            Version::select(Some(Version::V0_9_4), Some("0.15")),
            Ok(Version::V0_9_4)
        );
        assert_eq!(
            Version::select(Some(Version::V0_15), Some("bogus")),
            Ok(Version::V0_15)
        );
        assert_eq!(Version::select(None, Some("0.15")), Ok(Version::V0_15));
        assert_eq!(Version::select(None, None), Ok(Version::V0_9_4));
        assert_eq!(Version::select(None, Some("")), Ok(Version::V0_9_4));
        assert_eq!(
            Version::select(None, Some("0.16")),
            Err(
                "PRSDK_MPATHPERSIST=0.16: not a known mpathpersist version (0.9.4 or 0.15)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn not_ready_ends_as_0_15_ends_it() {
        assert_eq!(version_code(Version::V0_9_4, SENSE_NOT_READY, false), 2);
        assert_eq!(version_code(Version::V0_9_4, SENSE_NOT_READY, true), 2);
        assert_eq!(version_code(Version::V0_15, SENSE_NOT_READY, false), OTHER);
        assert_eq!(
            version_code(Version::V0_15, SENSE_NOT_READY, true),
            RETRYABLE_ERROR
        );
        for code in [
            SUCCESS,
            SYNTAX_ERROR,
            ILLEGAL_REQ,
            SENSE_UNIT_ATTENTION,
            11,
            12,
            13,
        ] {
            assert_eq!(version_code(Version::V0_15, code, false), code);
            assert_eq!(version_code(Version::V0_15, code, true), code);
        }
    }

    #[test]
    fn the_usage_names_the_version() {
        assert!(usage(Version::V0_9_4).starts_with(
            "Usage: mpathpersist [OPTIONS] [DEVICE]\nprsdk's mpathpersist personality (the \
             options of multipath-tools 0.9.4):\n  -i, --in"
        ));
        assert!(usage(Version::V0_15).contains("(the options of multipath-tools 0.15.1):\n"));
    }

    #[test]
    fn numbers_as_sscanf_reads_them() {
        assert_eq!(scan_uint("-1"), Some(u32::MAX));
        assert_eq!(scan_uint(" 12abc"), Some(12));
        assert_eq!(scan_uint("x"), None);
        assert_eq!(scan_int("-3"), Some(-3));
        assert_eq!(alloc_len(1, 0), 24);
        assert_eq!(alloc_len(3, 0), 8192);
        assert_eq!(alloc_len(0, 9000), 8192);
        assert_eq!(alloc_len(2, 100), 100);
    }
}
