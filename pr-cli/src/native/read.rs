//! The PR IN reads: `keys`, `reservation`, `capabilities`, `status`.

use std::io::Write;

use pr_core::types::ReservationType;
use serde_json::{Value, json};

use super::parse::Opts;
use super::render::{Failed, about, document, fail, key_counts, print_json, table, type_name};
use super::sim::Target;
use super::{EXIT_OK, exit_code};

pub(super) fn read(o: &Opts, targets: &[Target], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut status = EXIT_OK;
    let mut results = Vec::new();
    let mut rows = Vec::new();
    for (name, lun) in targets {
        let answer: Result<(Value, Vec<Vec<String>>), Failed> =
            lun.as_ref().map_err(Failed::from).and_then(|lun| {
                let lun_name = lun.name().to_owned();
                Ok(match o.command.as_str() {
                    "keys" => {
                        let k = lun.read_keys()?;
                        let row = vec![
                            lun_name,
                            format!("{:#x}", k.generation),
                            key_counts(&k.keys),
                        ];
                        (serde_json::to_value(&k).unwrap_or(Value::Null), vec![row])
                    }
                    "reservation" => {
                        let r = lun.read_reservation()?;
                        let (holder, t) = match &r.reservation {
                            Some(h) => (h.key.to_string(), type_name(h.type_code)),
                            None => ("-".into(), "none".into()),
                        };
                        let row = vec![lun_name, format!("{:#x}", r.generation), holder, t];
                        (serde_json::to_value(&r).unwrap_or(Value::Null), vec![row])
                    }
                    "capabilities" => {
                        let c = lun.report_capabilities()?;
                        let types: Vec<&str> = ReservationType::ALL
                            .iter()
                            .filter(|t| c.supports(**t) == Some(true))
                            .map(|t| t.short_name())
                            .collect();
                        let flags: Vec<&str> = [
                            ("crh", c.crh()),
                            ("sip_c", c.sip_c()),
                            ("atp_c", c.atp_c()),
                            ("ptpl_c", c.ptpl_c()),
                            ("ptpl_a", c.ptpl_a()),
                            ("rlr_c", c.rlr_c()),
                        ]
                        .iter()
                        .filter(|(_, set)| *set)
                        .map(|(n, _)| *n)
                        .collect();
                        let types = if c.tmv() {
                            types.join(",")
                        } else {
                            "not reported".into()
                        };
                        let row = vec![lun_name, types, flags.join(",")];
                        (serde_json::to_value(c).unwrap_or(Value::Null), vec![row])
                    }
                    _ => {
                        let s = lun.read_full_status()?;
                        let gen_ = format!("{:#x}", s.generation);
                        let mut rows: Vec<Vec<String>> = s
                            .entries
                            .iter()
                            .map(|e| {
                                vec![
                                    lun_name.clone(),
                                    gen_.clone(),
                                    e.key.to_string(),
                                    if e.holder {
                                        type_name(e.type_code)
                                    } else {
                                        "-".into()
                                    },
                                    if e.all_tg_pt {
                                        "yes".into()
                                    } else {
                                        "no".into()
                                    },
                                    e.relative_target_port.to_string(),
                                    e.transport_id
                                        .as_ref()
                                        .map(ToString::to_string)
                                        .unwrap_or_else(|| "?".into()),
                                ]
                            })
                            .collect();
                        if rows.is_empty() {
                            rows.push(vec![lun_name, gen_, "none".into()]);
                        }
                        (serde_json::to_value(&s).unwrap_or(Value::Null), rows)
                    }
                })
            });
        match answer {
            Ok((data, r)) => {
                rows.extend(r);
                results.push(json!({"lun": name, "ok": true, "data": data, "error": null}));
            }
            Err(e) => {
                fail(&mut status, exit_code(e.kind));
                if !o.json {
                    let _ = writeln!(err, "prsdk {}: {}", o.command, about(name, &e.message));
                }
                results.push(json!({"lun": name, "ok": false, "data": null, "error": e.json}));
            }
        }
    }
    if o.json {
        print_json(out, &document(&o.command, results));
    } else if !rows.is_empty() {
        let header: &[&str] = match o.command.as_str() {
            "keys" => &["LUN", "GENERATION", "KEYS"],
            "reservation" => &["LUN", "GENERATION", "HOLDER", "TYPE"],
            "capabilities" => &["LUN", "TYPES", "FLAGS"],
            _ => &[
                "LUN",
                "GENERATION",
                "KEY",
                "HOLDS",
                "ALL_TG_PT",
                "RTP",
                "TRANSPORT_ID",
            ],
        };
        table(out, header, &rows);
    }
    status
}
