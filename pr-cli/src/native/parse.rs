//! The native command line: options, commands and their checks.

use pr_core::transport_id::TransportId;
use pr_core::types::{ReservationKey, ReservationType};
use pr_multipath::{OutRequest, RegisterRequest};

/// The native commands.
pub(super) const COMMANDS: &[&str] = &[
    "keys",
    "reservation",
    "capabilities",
    "status",
    "show",
    "register",
    "reserve",
    "release",
    "clear",
    "preempt",
    "register-and-move",
    "replace-lost-reservation",
    "fence",
    "unfence",
];

/// A command-line error: the message.
pub(super) struct Usage(pub(super) String);

/// The parsed command line.
#[derive(Default)]
pub(super) struct Opts {
    pub(super) command: String,
    pub(super) targets: Vec<String>,
    pub(super) json: bool,
    pub(super) all_maps: bool,
    pub(super) sim: bool,
    pub(super) topology: Option<String>,
    pub(super) node: Option<String>,
    pub(super) fresh: bool,
    pub(super) down: Vec<String>,
    pub(super) key: Option<String>,
    pub(super) old_key: Option<String>,
    pub(super) victim: Option<String>,
    pub(super) dest_key: Option<String>,
    pub(super) rtype: Option<String>,
    pub(super) transport_id: Vec<String>,
    pub(super) all_tg_pt: bool,
    pub(super) rtp: Option<String>,
    pub(super) ignore: bool,
    pub(super) aptpl: bool,
    pub(super) abort: bool,
    pub(super) unreg: bool,
    pub(super) preempt: bool,
    pub(super) script: Option<String>,
    pub(super) verbose: u8,
}

pub(super) fn parse(args: &[String]) -> Result<Opts, Usage> {
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(long) = a.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let flag = |b: &mut bool| -> Result<(), Usage> {
                if attached.is_some() {
                    return Err(Usage(format!("option '--{name}' takes no value")));
                }
                *b = true;
                Ok(())
            };
            let mut value = |slot: &mut Option<String>| -> Result<(), Usage> {
                let v = match attached.clone() {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| Usage(format!("option '--{name}' needs a value")))?,
                };
                if slot.is_some() {
                    return Err(Usage(format!("option '--{name}' given twice")));
                }
                *slot = Some(v);
                Ok(())
            };
            match name {
                "json" => flag(&mut o.json)?,
                "verbose" if attached.is_none() => o.verbose = o.verbose.saturating_add(1),
                "all-maps" => flag(&mut o.all_maps)?,
                "sim" => flag(&mut o.sim)?,
                "fresh" => flag(&mut o.fresh)?,
                "ignore" => flag(&mut o.ignore)?,
                "aptpl" => flag(&mut o.aptpl)?,
                "abort" => flag(&mut o.abort)?,
                "unreg" => flag(&mut o.unreg)?,
                "preempt" => flag(&mut o.preempt)?,
                "topology" => value(&mut o.topology)?,
                "node" => value(&mut o.node)?,
                "key" => value(&mut o.key)?,
                "old-key" => value(&mut o.old_key)?,
                "victim" => value(&mut o.victim)?,
                "dest-key" => value(&mut o.dest_key)?,
                "type" => value(&mut o.rtype)?,
                "transport-id" => {
                    let mut t = None;
                    value(&mut t)?;
                    o.transport_id.extend(t);
                }
                "all-tg-pt" => flag(&mut o.all_tg_pt)?,
                "rtp" => value(&mut o.rtp)?,
                "script" => value(&mut o.script)?,
                "down" => {
                    let mut d = None;
                    value(&mut d)?;
                    o.down.extend(d);
                }
                _ => return Err(Usage(format!("unknown option '{a}'"))),
            }
        } else if a.len() > 1 && a.starts_with('-') && a[1..].bytes().all(|b| b == b'v') {
            let n = u8::try_from(a.len() - 1).unwrap_or(u8::MAX);
            o.verbose = o.verbose.saturating_add(n);
        } else if a.starts_with('-') && a.len() > 1 {
            return Err(Usage(format!("unknown option '{a}'")));
        } else if o.command.is_empty() {
            if !COMMANDS.contains(&a.as_str()) {
                return Err(Usage(format!("unknown command '{a}'")));
            }
            o.command = a.clone();
        } else {
            o.targets.push(a.clone());
        }
    }
    if o.script.is_some() && !o.command.is_empty() {
        return Err(Usage(
            "--script takes no command: the commands are in the script".into(),
        ));
    }
    if o.command.is_empty() && o.script.is_none() {
        return Err(Usage("no command given".into()));
    }
    if o.command == "show" && !o.targets.is_empty() && o.all_maps {
        return Err(Usage("show takes maps or --all-maps, not both".into()));
    }
    if o.all_maps && !o.targets.is_empty() {
        return Err(Usage("give targets or --all-maps, not both".into()));
    }
    Ok(o)
}

pub(super) fn key_of(name: &str, v: &Option<String>) -> Result<ReservationKey, Usage> {
    let v = v
        .as_deref()
        .ok_or_else(|| Usage(format!("--{name} is required")))?;
    v.parse::<ReservationKey>().map_err(|_| {
        Usage(format!(
            "bad --{name} '{v}': a key is 0x-prefixed hex (up to 16 digits) or decimal"
        ))
    })
}

/// A TransportID in sg_persist's `-X` text form.
pub(super) fn transport_id(t: &str) -> Result<TransportId<'static>, Usage> {
    TransportId::parse(t)
        .map(TransportId::into_owned)
        .map_err(|e| Usage(format!("bad --transport-id '{t}': {e}")))
}

/// A reservation type from its short name (`wr_ex_ro`, `WR-EX-RO`) or code (`5`, `0x5`).
pub(super) fn type_of(
    v: &Option<String>,
    default: Option<ReservationType>,
) -> Result<ReservationType, Usage> {
    let Some(v) = v.as_deref() else {
        return default.ok_or_else(|| Usage("--type is required".into()));
    };
    let norm = v.to_ascii_uppercase().replace('-', "_");
    if let Some(t) = ReservationType::ALL.iter().find(|t| t.short_name() == norm) {
        return Ok(*t);
    }
    let code = match norm.strip_prefix("0X") {
        Some(h) => u8::from_str_radix(h, 16).ok(),
        None => norm.parse::<u8>().ok(),
    };
    code.and_then(ReservationType::from_code).ok_or_else(|| {
        Usage(format!(
            "bad --type '{v}': one of wr_ex ex_ac wr_ex_ro ex_ac_ro wr_ex_ar ex_ac_ar, or 1 3 5 6 7 8"
        ))
    })
}

/// The PR OUT request of a PR OUT command, checked; `None` for the other commands.
pub(super) fn out_action(o: &Opts) -> Result<Option<OutRequest>, Usage> {
    let only = |allowed: &[&str]| -> Result<(), Usage> {
        let given = [
            ("key", o.key.is_some()),
            ("old-key", o.old_key.is_some()),
            ("victim", o.victim.is_some()),
            ("dest-key", o.dest_key.is_some()),
            ("type", o.rtype.is_some()),
            ("transport-id", !o.transport_id.is_empty()),
            ("all-tg-pt", o.all_tg_pt),
            ("rtp", o.rtp.is_some()),
            ("ignore", o.ignore),
            ("aptpl", o.aptpl),
            ("abort", o.abort),
            ("unreg", o.unreg),
            ("preempt", o.preempt),
        ];
        match given.iter().find(|(n, g)| *g && !allowed.contains(n)) {
            Some((n, _)) => Err(Usage(format!("--{n} does not apply to {}", o.command))),
            None => Ok(()),
        }
    };
    let req = match o.command.as_str() {
        "register" => {
            only(&[
                "key",
                "old-key",
                "ignore",
                "aptpl",
                "all-tg-pt",
                "transport-id",
            ])?;
            let new_key = key_of("key", &o.key)?;
            if o.ignore && o.old_key.is_some() {
                return Err(Usage("--ignore and --old-key contradict each other".into()));
            }
            let mut r = if o.ignore {
                RegisterRequest::register_ignore(new_key)
            } else {
                let old = match o.old_key {
                    Some(_) => key_of("old-key", &o.old_key)?,
                    None => ReservationKey(0),
                };
                RegisterRequest::register(old, new_key)
            };
            if o.aptpl {
                r = r.aptpl();
            }
            if o.all_tg_pt {
                r = r.all_tg_pt(true);
            }
            let spec_i_pt = o
                .transport_id
                .iter()
                .map(|t| transport_id(t))
                .collect::<Result<Vec<_>, _>>()?;
            if !spec_i_pt.is_empty() && o.ignore {
                return Err(Usage(
                    "--transport-id (SPEC_I_PT) and --ignore contradict each other".into(),
                ));
            }
            OutRequest::Register {
                request: r,
                spec_i_pt,
            }
        }
        "reserve" | "release" => {
            only(&["key", "type"])?;
            let (key, reservation_type) = (key_of("key", &o.key)?, type_of(&o.rtype, None)?);
            if o.command == "reserve" {
                OutRequest::Reserve {
                    key,
                    reservation_type,
                }
            } else {
                OutRequest::Release {
                    key,
                    reservation_type,
                }
            }
        }
        "replace-lost-reservation" => {
            only(&["key", "type"])?;
            OutRequest::ReplaceLostReservation {
                new_key: key_of("key", &o.key)?,
                reservation_type: type_of(&o.rtype, None)?,
            }
        }
        "clear" => {
            only(&["key"])?;
            OutRequest::Clear {
                key: key_of("key", &o.key)?,
            }
        }
        "preempt" => {
            only(&["key", "victim", "type", "abort"])?;
            let (key, victim) = (key_of("key", &o.key)?, key_of("victim", &o.victim)?);
            let reservation_type = type_of(&o.rtype, None)?;
            if o.abort {
                OutRequest::PreemptAndAbort {
                    key,
                    victim,
                    reservation_type,
                }
            } else {
                OutRequest::Preempt {
                    key,
                    victim,
                    reservation_type,
                }
            }
        }
        "register-and-move" => {
            only(&[
                "key",
                "dest-key",
                "type",
                "transport-id",
                "rtp",
                "unreg",
                "aptpl",
            ])?;
            let destination = match &o.transport_id[..] {
                [] => return Err(Usage("--transport-id is required".into())),
                [t] => transport_id(t)?,
                _ => {
                    return Err(Usage("register-and-move takes one --transport-id".into()));
                }
            };
            let rtp = o
                .rtp
                .as_deref()
                .ok_or_else(|| Usage("--rtp is required".into()))?;
            let relative_target_port = match rtp.strip_prefix("0x") {
                Some(h) => u16::from_str_radix(h, 16).ok(),
                None => rtp.parse::<u16>().ok(),
            }
            .ok_or_else(|| Usage(format!("bad --rtp '{rtp}': a number from 0 to 65535")))?;
            OutRequest::RegisterAndMove {
                key: key_of("key", &o.key)?,
                destination_key: key_of("dest-key", &o.dest_key)?,
                reservation_type: type_of(&o.rtype, None)?,
                destination,
                relative_target_port,
                unregister: o.unreg,
                aptpl: o.aptpl,
            }
        }
        "fence" => {
            only(&["key", "victim", "type", "preempt"])?;
            key_of("key", &o.key)?;
            key_of("victim", &o.victim)?;
            type_of(
                &o.rtype,
                Some(ReservationType::WriteExclusiveRegistrantsOnly),
            )?;
            return Ok(None);
        }
        "unfence" => {
            only(&["key"])?;
            key_of("key", &o.key)?;
            return Ok(None);
        }
        _ => {
            only(&[])?;
            return Ok(None);
        }
    };
    Ok(Some(req))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_by_name_and_code() {
        let t = |s: &str| type_of(&Some(s.into()), None).ok();
        assert_eq!(
            t("wr-ex-ro"),
            Some(ReservationType::WriteExclusiveRegistrantsOnly)
        );
        assert_eq!(t("EX_AC"), Some(ReservationType::ExclusiveAccess));
        assert_eq!(
            t("0x8"),
            Some(ReservationType::ExclusiveAccessAllRegistrants)
        );
        assert_eq!(t("2"), None);
        assert_eq!(t("bogus"), None);
    }
}
