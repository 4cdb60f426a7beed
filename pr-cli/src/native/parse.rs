//! The native command line: options, commands and their checks.

use pr_core::transport_id::TransportId;
use pr_core::types::{ReservationKey, ReservationType};
use pr_multipath::{OutRequest, RegisterRequest};

use super::spec::{self, Arg, Opt, Scope};

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
    pub(super) shared: bool,
    pub(super) force: bool,
    pub(super) file_lockspace: Option<String>,
    pub(super) scsi_lockspace: Option<String>,
    pub(super) lvm_lockspace: Option<String>,
    /// What follows `--` (`lock`'s command and its arguments).
    pub(super) exec: Vec<String>,
    /// Whether `--` was given.
    pub(super) dashdash: bool,
    pub(super) script: Option<String>,
    pub(super) verbose: u8,
    pub(super) help: bool,
    /// The options given, in command-line order.
    pub(super) given: Vec<Opt>,
}

impl Opts {
    /// Records option `id` (with its value, for the options that take one).
    fn set(&mut self, id: Opt, v: Option<String>) {
        self.given.push(id);
        let v = v.unwrap_or_default();
        match id {
            Opt::Json => self.json = true,
            Opt::AllMaps => self.all_maps = true,
            Opt::Verbose => self.verbose = self.verbose.saturating_add(1),
            Opt::Help => self.help = true,
            Opt::Sim => self.sim = true,
            Opt::Topology => self.topology = Some(v),
            Opt::Node => self.node = Some(v),
            Opt::Fresh => self.fresh = true,
            Opt::Down => self.down.push(v),
            Opt::Script => self.script = Some(v),
            Opt::Key => self.key = Some(v),
            Opt::OldKey => self.old_key = Some(v),
            Opt::Victim => self.victim = Some(v),
            Opt::DestKey => self.dest_key = Some(v),
            Opt::Type => self.rtype = Some(v),
            Opt::TransportId => self.transport_id.push(v),
            Opt::AllTgPt => self.all_tg_pt = true,
            Opt::Rtp => self.rtp = Some(v),
            Opt::Ignore => self.ignore = true,
            Opt::Aptpl => self.aptpl = true,
            Opt::Abort => self.abort = true,
            Opt::Unreg => self.unreg = true,
            Opt::Preempt => self.preempt = true,
            Opt::Shared => self.shared = true,
            Opt::Force => self.force = true,
            Opt::FileLockspace => self.file_lockspace = Some(v),
            Opt::ScsiLockspace => self.scsi_lockspace = Some(v),
            Opt::LvmLockspace => self.lvm_lockspace = Some(v),
        }
    }
}

/// The counted option whose short character is `c`.
fn counted_short(c: char) -> Option<Opt> {
    spec::OPTIONS
        .iter()
        .find(|o| o.short == Some(c) && o.arg == Arg::Count)
        .map(|o| o.id)
}

/// Parses a native command line (without the program name), as [`spec::OPTIONS`] and
/// [`spec::COMMANDS`] define it.
pub(super) fn parse(args: &[String]) -> Result<Opts, Usage> {
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            // The end of the options: the rest is `lock`'s command, never parsed.
            o.dashdash = true;
            o.exec = it.by_ref().cloned().collect();
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let unknown = || Usage(format!("unknown option '{a}'"));
            let spec = spec::option(name).ok_or_else(unknown)?;
            match spec.arg {
                // `--verbose=X` has always been an unknown option.
                Arg::Count if attached.is_some() => return Err(unknown()),
                Arg::Flag if attached.is_some() => {
                    return Err(Usage(format!("option '--{name}' takes no value")));
                }
                Arg::Flag | Arg::Count => o.set(spec.id, None),
                Arg::Value { repeat, .. } => {
                    let v = match attached {
                        Some(v) => v,
                        None => it
                            .next()
                            .cloned()
                            .ok_or_else(|| Usage(format!("option '--{name}' needs a value")))?,
                    };
                    if !repeat && o.given.contains(&spec.id) {
                        return Err(Usage(format!("option '--{name}' given twice")));
                    }
                    o.set(spec.id, Some(v));
                }
            }
        } else if let Some(counted) = a
            .strip_prefix('-')
            .filter(|c| !c.is_empty())
            .and_then(|c| c.chars().map(counted_short).collect::<Option<Vec<Opt>>>())
        {
            // Clusters of counted short options: -v, -vv, -vvv.
            for id in counted {
                o.set(id, None);
            }
        } else if a.starts_with('-') && a.len() > 1 {
            return Err(Usage(format!("unknown option '{a}'")));
        } else if o.command.is_empty() {
            if spec::command(a).is_none() {
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
    if o.command.is_empty() && o.script.is_none() && !o.help {
        return Err(Usage("no command given".into()));
    }
    if o.command == "show" && !o.targets.is_empty() && o.all_maps {
        return Err(Usage("show takes maps or --all-maps, not both".into()));
    }
    if o.all_maps && !o.targets.is_empty() {
        return Err(Usage("give targets or --all-maps, not both".into()));
    }
    if o.dashdash && o.command != "lock" && !o.command.is_empty() {
        return Err(Usage(format!(
            "'--' (a command to run) applies to lock only, not to {}",
            o.command
        )));
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
        let values = spec::type_values();
        let (names, codes) = values.split_at(ReservationType::ALL.len());
        Usage(format!(
            "bad --type '{v}': one of {}, or {}",
            names.join(" "),
            codes.join(" ")
        ))
    })
}

/// The PR OUT request of a PR OUT command, checked; `None` for the other commands.
pub(super) fn out_action(o: &Opts) -> Result<Option<OutRequest>, Usage> {
    // The options this command does not take, first in the table's order.
    let takes = spec::command(&o.command).map_or(&[][..], |c| c.options);
    let refused = spec::OPTIONS.iter().find(|s| {
        s.scope == Scope::Command && o.given.contains(&s.id) && !takes.iter().any(|t| t.id == s.id)
    });
    if let Some(s) = refused {
        return Err(Usage(format!(
            "--{} does not apply to {}",
            s.long, o.command
        )));
    }
    let req = match o.command.as_str() {
        "register" => {
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
        "replace-lost-reservation" => OutRequest::ReplaceLostReservation {
            new_key: key_of("key", &o.key)?,
            reservation_type: type_of(&o.rtype, None)?,
        },
        "clear" => OutRequest::Clear {
            key: key_of("key", &o.key)?,
        },
        "preempt" => {
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
            key_of("key", &o.key)?;
            key_of("victim", &o.victim)?;
            type_of(
                &o.rtype,
                Some(ReservationType::WriteExclusiveRegistrantsOnly),
            )?;
            return Ok(None);
        }
        "unfence" => {
            key_of("key", &o.key)?;
            return Ok(None);
        }
        _ => {
            return Ok(None);
        }
    };
    Ok(Some(req))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    /// A value the option accepts.
    fn sample(id: Opt) -> &'static str {
        match id {
            Opt::Type => "wr_ex",
            Opt::TransportId => "sas,5001405000000001",
            Opt::Topology => "2x2x3",
            Opt::Down => "n0p0l0",
            Opt::Script => "-",
            _ => "1",
        }
    }

    #[test]
    fn the_parser_takes_every_option_of_the_table_and_no_other() {
        for o in spec::OPTIONS {
            let mut forms = vec![format!("--{}", o.long)];
            forms.extend(o.short.map(|c| format!("-{c}")));
            for form in forms {
                // --script takes no command.
                let command = if o.id == Opt::Script {
                    "--json"
                } else {
                    "keys"
                };
                let mut line = vec![command.to_owned(), form.clone()];
                if matches!(o.arg, Arg::Value { .. }) {
                    line.push(sample(o.id).to_owned());
                }
                let parsed = parse(&line);
                let o2 = parsed.as_ref().map_err(|u| u.0.clone());
                assert!(o2.is_ok(), "{form}: {:?}", o2.err());
                let json = (o.id == Opt::Script).then_some(Opt::Json);
                assert!(
                    o2.is_ok_and(|p| p.given.iter().copied().eq(json.into_iter().chain([o.id]))),
                    "{form}"
                );
            }
        }
        for bad in ["--bogus", "--keys", "--Key", "-x", "-vx", "--json=1"] {
            assert!(parse(&args(&["keys", bad])).is_err(), "{bad}");
        }
        for c in spec::COMMANDS {
            assert!(parse(&args(&[c.name, "mpatha"])).is_ok(), "{}", c.name);
        }
        assert!(parse(&args(&["frob"])).is_err());
    }

    /// Every command requires exactly the options the table says it requires, and refuses
    /// the command options it does not list.
    #[test]
    fn commands_check_their_options_as_the_table_says() {
        for c in spec::COMMANDS.iter().filter(|c| c.kind != spec::Kind::Read) {
            let line = |skip: Option<Opt>, extra: Option<Opt>| {
                let mut l = vec![c.name.to_owned(), "mpatha".to_owned()];
                let ids = c.options.iter().filter(|o| o.need == spec::Need::Required);
                for id in ids
                    .map(|o| o.id)
                    .filter(|id| Some(*id) != skip)
                    .chain(extra)
                {
                    let o = spec::spec_of(id);
                    l.push(format!("--{}", o.long));
                    if matches!(o.arg, Arg::Value { .. }) {
                        l.push(sample(id).to_owned());
                    }
                }
                parse(&l).and_then(|o| out_action(&o)).err().map(|u| u.0)
            };
            assert_eq!(line(None, None), None, "{}", c.name);
            for o in c.options.iter().filter(|o| o.need == spec::Need::Required) {
                let long = spec::spec_of(o.id).long;
                assert_eq!(
                    line(Some(o.id), None),
                    Some(format!("--{long} is required")),
                    "{}",
                    c.name
                );
            }
            for o in spec::OPTIONS.iter().filter(|o| o.scope == Scope::Command) {
                if !c.options.iter().any(|co| co.id == o.id) {
                    assert_eq!(
                        line(None, Some(o.id)),
                        Some(format!("--{} does not apply to {}", o.long, c.name)),
                    );
                }
            }
        }
    }

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
