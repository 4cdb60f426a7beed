//! The PR OUT commands, and `fence`/`unfence` across many LUNs.

use std::io::{IsTerminal, Write};

use pr_core::types::{ReservationKey, ReservationType};
use pr_multipath::blocking;
use pr_multipath::{FenceAction, FleetOptions, LunOutcome, LunResult, OutRequest};
use serde_json::{Value, json};

use super::parse::{Opts, Usage, key_of, type_of};
use super::render::{Failed, about, document, fail, print_json};
use super::sim::Target;
use super::{EXIT_OK, EXIT_OTHER, exit_code};

pub(super) fn pr_out(
    o: &Opts,
    req: OutRequest,
    targets: &[Target],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut status = EXIT_OK;
    let mut results = Vec::new();
    for (name, lun) in targets {
        let r = lun
            .as_ref()
            .map_err(Failed::from)
            .and_then(|lun| Ok(lun.execute(req.clone())?));
        match r {
            Ok(report) => {
                if !o.json {
                    let _ = writeln!(out, "{name}: {}: ok", o.command);
                }
                results.push(json!({"lun": name, "ok": true, "report": report, "error": null}));
            }
            Err(e) => {
                fail(&mut status, exit_code(e.kind));
                if !o.json {
                    let _ = writeln!(out, "{name}: {}: FAILED", o.command);
                    let _ = writeln!(err, "prsdk {}: {}", o.command, about(name, &e.message));
                }
                results.push(json!({"lun": name, "ok": false, "report": null, "error": e.json}));
            }
        }
    }
    if o.json {
        print_json(out, &document(&o.command, results));
    }
    status
}

pub(super) fn fleet(
    o: &Opts,
    targets: &[Target],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, Usage> {
    let key = key_of("key", &o.key)?;
    let mut status = EXIT_OK;
    let mut results: Vec<Value> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    // Targets that did not open are failures of their own.
    let mut luns = Vec::new();
    for (name, lun) in targets {
        match lun {
            Ok(l) => luns.push(l.clone()),
            Err(e) => {
                fail(&mut status, exit_code(e.kind()));
                lines.push(format!("{}: FAILED: {}", name, about(name, &e.to_string())));
                results.push(json!({"lun": name, "outcome": {"failed": e.to_string()},
                    "already_fenced": false, "report": null, "error": Failed::from(e).json}));
            }
        }
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let progress_on_tty = !o.json && std::io::stderr().is_terminal();
    let options = FleetOptions {
        progress: progress_on_tty.then_some(tx),
        fence_action: if o.preempt {
            FenceAction::Preempt
        } else {
            FenceAction::PreemptAndAbort
        },
        ..FleetOptions::default()
    };
    let fence = o.command == "fence";
    let victim = if fence {
        key_of("victim", &o.victim)?
    } else {
        ReservationKey(0)
    };
    let t = type_of(
        &o.rtype,
        Some(ReservationType::WriteExclusiveRegistrantsOnly),
    )?;
    let luns = &luns;
    // The fleet operation runs on its own thread while this one draws the progress line
    // (standard error stays this thread's).
    let done = std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            if fence {
                blocking::fence(luns, key, victim, t, &options).map_err(|e| Failed::from(&e))
            } else {
                blocking::unfence(luns, key, &options).map_err(|e| Failed::from(&e))
            }
        });
        if progress_on_tty {
            while let Some(p) = rx.blocking_recv() {
                let _ = write!(err, "\r\x1b[K[{}/{}] {}", p.done, p.total, p.lun);
                let _ = err.flush();
            }
            let _ = writeln!(err);
        }
        worker.join()
    });
    let done = match done {
        Ok(d) => d,
        Err(_) => {
            let _ = writeln!(
                err,
                "prsdk {}: internal error: the fleet operation panicked",
                o.command
            );
            return Ok(EXIT_OTHER);
        }
    };
    let done: Vec<LunResult> = match done {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(err, "prsdk {}: {}", o.command, e.message);
            return Ok(exit_code(e.kind));
        }
    };
    for r in &done {
        let word = if o.command == "fence" {
            "fenced"
        } else {
            "unfenced"
        };
        match r.outcome() {
            LunOutcome::Ok => lines.push(format!("{}: {word}", r.lun)),
            LunOutcome::AlreadyFenced => lines.push(format!("{}: already fenced", r.lun)),
            LunOutcome::Cancelled => {
                fail(&mut status, EXIT_OTHER);
                lines.push(format!("{}: cancelled", r.lun));
            }
            LunOutcome::Failed(m) => {
                if let Err(e) = &r.result {
                    fail(&mut status, exit_code(e.kind()));
                }
                lines.push(format!("{}: FAILED: {m}", r.lun));
            }
        }
        results.push(serde_json::to_value(r).unwrap_or(Value::Null));
    }
    if o.json {
        print_json(out, &document(&o.command, results));
    } else {
        for l in &lines {
            let _ = writeln!(out, "{l}");
        }
        let failed = lines
            .iter()
            .filter(|l| l.contains(": FAILED") || l.ends_with(": cancelled"))
            .count();
        let already = lines
            .iter()
            .filter(|l| l.ends_with(": already fenced"))
            .count();
        let _ = writeln!(
            out,
            "{}: {} LUNs, {} done, {already} already fenced, {failed} failed",
            o.command,
            lines.len(),
            lines.len() - failed - already
        );
    }
    Ok(status)
}
