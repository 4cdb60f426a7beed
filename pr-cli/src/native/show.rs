//! `show`: every map's reservation state, path by path.

use std::io::Write;

use pr_core::types::ReservationKey;
use serde_json::json;

use super::parse::Opts;
use super::render::{Failed, about, document, fail, key_counts, print_json, table, type_name};
use super::sim::Target;
use super::{EXIT_OK, exit_code};

pub(super) fn show(o: &Opts, targets: &[Target], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut status = EXIT_OK;
    let mut results = Vec::new();
    let mut rows = Vec::new();
    for (name, lun) in targets {
        let state = lun.as_ref().map_err(Failed::from).and_then(|lun| {
            let (full, paths) = lun.path_keys()?;
            let res = lun.read_reservation()?;
            Ok((full, paths, res))
        });
        let (full, paths, res) = match state {
            Ok(s) => s,
            Err(e) => {
                fail(&mut status, exit_code(e.kind));
                if !o.json {
                    let _ = writeln!(err, "prsdk show: {}", about(name, &e.message));
                }
                results.push(json!({"lun": name, "ok": false, "data": null, "error": e.json}));
                continue;
            }
        };
        let (holder, t) = match &res.reservation {
            Some(h) => (h.key.to_string(), type_name(h.type_code)),
            None => ("-".into(), "none".into()),
        };
        // Whether this host holds it, when this host's key is known: its own record of a
        // hold, or multipath.conf's reservation_key.
        let held_here = res.reservation.as_ref().and_then(|h| {
            let l = lun.as_ref().ok()?.as_async();
            match (l.hold(), l.configured_key()) {
                (Some(m), _) => Some(m.key == h.key),
                (None, Some(c)) if c.key.0 != 0 => Some(c.key == h.key),
                _ => None,
            }
        });
        // Registrations that are none of this host's paths (every one when a path's
        // nexus is unknown).
        let all_known = paths.iter().all(|p| p.known);
        let lun_paths: Vec<(pr_core::transport_id::TransportId<'static>, u16)> = lun
            .as_ref()
            .map(|l| {
                l.as_async()
                    .paths()
                    .iter()
                    .filter_map(|p| p.transport().nexus())
                    .collect()
            })
            .unwrap_or_default();
        let others: Vec<ReservationKey> = full
            .entries
            .iter()
            .filter(|e| {
                !all_known
                    || !lun_paths
                        .iter()
                        .any(|(tid, rtp)| pr_multipath::nexus_names(tid, *rtp, e))
            })
            .map(|e| e.key)
            .collect();
        let down: Vec<&str> = paths
            .iter()
            .filter(|p| !p.usable)
            .map(|p| p.path.as_str())
            .collect();
        let mut first = vec![name.clone(), format!("{:#x}", full.generation), holder, t];
        let blank = || vec![String::new(); 4];
        for (i, p) in paths.iter().enumerate() {
            let key = match (p.known, p.key) {
                (false, _) => "unknown".to_owned(),
                (true, None) => "not registered".to_owned(),
                (true, Some(k)) if p.holder => format!("{k} holder"),
                (true, Some(k)) => k.to_string(),
            };
            let mut row = if i == 0 {
                std::mem::take(&mut first)
            } else {
                blank()
            };
            row.extend([
                p.path.clone(),
                if p.usable { "up" } else { "down" }.to_owned(),
                key,
            ]);
            rows.push(row);
        }
        let label = if all_known {
            "(other hosts)"
        } else {
            "(registered)"
        };
        let mut row = if paths.is_empty() { first } else { blank() };
        row.extend([label.to_owned(), String::new(), key_counts(&others)]);
        rows.push(row);
        results.push(json!({
            "lun": name, "ok": true, "error": null,
            "data": {
                "generation": full.generation,
                "reservation": res.reservation,
                "held_by_this_host": held_here,
                "paths": paths,
                "paths_down": down,
                "other_keys": others,
            }
        }));
    }
    if o.json {
        print_json(out, &document("show", results));
    } else if !rows.is_empty() {
        table(
            out,
            &[
                "MAP",
                "GENERATION",
                "HOLDER",
                "TYPE",
                "PATH",
                "STATE",
                "KEY",
            ],
            &rows,
        );
    } else if targets.is_empty() {
        let _ = writeln!(out, "no multipath maps");
    }
    status
}
