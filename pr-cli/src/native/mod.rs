//! The native subcommands of `prsdk` (issue 14): PR IN reads (`keys`, `reservation`,
//! `capabilities`, `status`), `show` (every map's reservation state), the PR OUT actions
//! (`register`, `reserve`, `release`, `clear`, `preempt`, `register-and-move`) and
//! `fence` / `unfence` across many LUNs, on maps and devices named on the command line or
//! every map (`--all-maps`), with human tables or JSON (`--json`, schema in
//! `pr-cli/README.md`), on real devices or on a simulated cluster (`--sim`). Everything
//! goes through pr-multipath's front door ([`pr_multipath::blocking::Lun`] and its fleet
//! operations).

mod lock;
pub(crate) use lock::lock_exit_code;
mod out;
mod parse;
mod read;
mod render;
mod show;
mod sim;
pub mod spec;

use std::io::{BufRead, Write};

use pr_multipath::ErrorKind;

use out::{fleet, pr_out};
use parse::{Opts, Usage, out_action, parse};
use read::read;
use render::fail;
use show::show;
use sim::{SimCluster, targets};

/// The version of the JSON documents `--json` prints (the `"schema"` member).
pub const SCHEMA: u32 = 1;

/// Exit status: every target succeeded.
pub const EXIT_OK: i32 = 0;
/// Exit status: bad command line (unknown command or option, bad key or type, missing or
/// conflicting options, no target).
pub const EXIT_USAGE: i32 = 1;
/// Exit status: a target could not be opened (no such map or device, not a SCSI device).
pub const EXIT_TARGET: i32 = 2;
/// Exit status: the operating system refused access (not root, no `CAP_SYS_RAWIO`).
pub const EXIT_PERMISSION: i32 = 3;
/// Exit status: RESERVATION CONFLICT.
pub const EXIT_CONFLICT: i32 = 4;
/// Exit status: the device refused the request (ILLEGAL REQUEST) or the transport cannot
/// carry it.
pub const EXIT_ILLEGAL: i32 = 5;
/// Exit status: no path could carry the command, or another device error.
pub const EXIT_DEVICE: i32 = 6;
/// Exit status: anything else (configured key mismatch, safety check, system trouble,
/// cancelled, internal error).
pub const EXIT_OTHER: i32 = 7;

/// The exit status for an error of `kind`.
pub fn exit_code(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::InvalidArgument | ErrorKind::NotFound | ErrorKind::NotScsi => EXIT_TARGET,
        ErrorKind::PermissionDenied => EXIT_PERMISSION,
        ErrorKind::ReservationConflict => EXIT_CONFLICT,
        ErrorKind::IllegalRequest | ErrorKind::Unsupported => EXIT_ILLEGAL,
        ErrorKind::PathFailure | ErrorKind::DeviceError => EXIT_DEVICE,
        _ => EXIT_OTHER,
    }
}

// ---------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------

/// Runs a native command line (`args`: what follows the program name). Returns the exit
/// status.
pub fn run(
    args: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
    stdin: &mut dyn BufRead,
) -> i32 {
    let o = match parse(args) {
        Ok(o) => o,
        Err(Usage(m)) => {
            let _ = writeln!(err, "prsdk: {m}");
            let _ = writeln!(err, "Try 'prsdk --help'.");
            return EXIT_USAGE;
        }
    };
    if o.help {
        let text =
            crate::generate::help::command(&o.command).unwrap_or_else(crate::generate::help::all);
        let _ = out.write_all(text.as_bytes());
        return EXIT_OK;
    }
    if !o.sim
        && (o.topology.is_some()
            || o.node.is_some()
            || o.fresh
            || !o.down.is_empty()
            || o.script.is_some())
    {
        let _ = writeln!(
            err,
            "prsdk: --topology, --node, --fresh, --down and --script need --sim"
        );
        return EXIT_USAGE;
    }
    if o.verbose > 0 {
        let level = match o.verbose {
            1 => tracing::Level::INFO,
            2 => tracing::Level::DEBUG,
            _ => tracing::Level::TRACE,
        };
        // Standard error, unlocked per event (the runtime thread logs too).
        let _ = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    }
    let sim = match o.sim.then(|| SimCluster::new(&o)).transpose() {
        Ok(s) => s,
        Err(Usage(m)) => {
            let _ = writeln!(err, "prsdk: {m}");
            return EXIT_USAGE;
        }
    };
    if let (Some(script), Some(sim)) = (o.script.as_deref(), sim.as_ref()) {
        return run_script(script, sim, out, err, stdin);
    }
    match run_parsed(&o, sim.as_ref(), out, err) {
        Ok(code) => code,
        Err(Usage(m)) => {
            let _ = writeln!(err, "prsdk {}: {m}", o.command);
            EXIT_USAGE
        }
    }
}

/// `--script`: native command lines (without `prsdk`; `#` starts a comment), one a line,
/// on one simulated cluster, each printed (`$ ...`) with its standard output and error and
/// `[exit N]`. Returns 0 when every command succeeded, else the first failing status.
fn run_script(
    script: &str,
    sim: &SimCluster,
    out: &mut dyn Write,
    err: &mut dyn Write,
    stdin: &mut dyn BufRead,
) -> i32 {
    let text = if script == "-" {
        let mut t = String::new();
        if let Err(e) = stdin.read_to_string(&mut t) {
            let _ = writeln!(err, "prsdk: --script -: {e}");
            return EXIT_USAGE;
        }
        t
    } else {
        match std::fs::read_to_string(script) {
            Ok(t) => t,
            Err(e) => {
                let _ = writeln!(err, "prsdk: --script {script}: {e}");
                return EXIT_USAGE;
            }
        }
    };
    let mut status = EXIT_OK;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        let (mut o1, mut e1) = (Vec::new(), Vec::new());
        let code = match parse(&words) {
            Ok(o) if o.sim || o.script.is_some() || o.topology.is_some() || o.fresh => {
                let _ = writeln!(
                    e1,
                    "prsdk: --sim, --script, --topology and --fresh apply to the whole script"
                );
                EXIT_USAGE
            }
            Ok(o) if o.help => {
                let text = crate::generate::help::command(&o.command)
                    .unwrap_or_else(crate::generate::help::all);
                o1.extend_from_slice(text.as_bytes());
                EXIT_OK
            }
            Ok(o) => match run_parsed(&o, Some(sim), &mut o1, &mut e1) {
                Ok(c) => c,
                Err(Usage(m)) => {
                    let _ = writeln!(e1, "prsdk {}: {m}", o.command);
                    EXIT_USAGE
                }
            },
            Err(Usage(m)) => {
                let _ = writeln!(e1, "prsdk: {m}");
                EXIT_USAGE
            }
        };
        fail(&mut status, code);
        let _ = writeln!(out, "$ {line}");
        let _ = out.write_all(&o1);
        let _ = out.write_all(&e1);
        let _ = writeln!(out, "[exit {code}]");
    }
    status
}

fn run_parsed(
    o: &Opts,
    sim: Option<&SimCluster>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, Usage> {
    // Check the command's own arguments before opening anything.
    let action = out_action(o)?;
    let sim = match sim {
        Some(s) => Some((s, s.node_of(o)?)),
        None => None,
    };
    if o.command == "lock" {
        return lock::lock(o, sim, err);
    }
    if o.targets.is_empty() && !o.all_maps && o.command != "show" {
        return Err(Usage(
            "no target: name maps or devices, or give --all-maps".into(),
        ));
    }
    let targets = targets(o, sim);
    Ok(match o.command.as_str() {
        "keys" | "reservation" | "capabilities" | "status" => read(o, &targets, out, err),
        "show" => show(o, &targets, out, err),
        "fence" | "unfence" => fleet(o, &targets, out, err)?,
        _ => match action {
            Some(req) => pr_out(o, req, &targets, out, err),
            None => EXIT_USAGE,
        },
    })
}
