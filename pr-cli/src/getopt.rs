//! Command-line parsing as glibc's `getopt_long` does it, for the compatible
//! personalities, whose scripts depend on its details: options and operands in any order
//! (operands are gathered, options keep their order), clustered short options (`-nik`),
//! attached or separate arguments (`-T5`, `-T 5`, `--prout-type=5`, `--prout-type 5`),
//! unambiguous prefixes of long options (`--read-k`), `--` ending the options, and
//! glibc's own error messages. An error does not stop the scan: it yields
//! [`Item::Error`] in its place, and the caller decides (`sg_persist` prints its usage
//! and stops at the first one).

/// Whether an option takes an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HasArg {
    /// No argument.
    No,
    /// A required argument.
    Required,
}

/// One long option: its name, whether it takes an argument, and the short option
/// character it stands for.
#[derive(Clone, Copy, Debug)]
pub struct LongOpt {
    /// The name, without the leading `--`.
    pub name: &'static str,
    /// Whether it takes an argument.
    pub has_arg: HasArg,
    /// The option character it is reported as.
    pub val: char,
}

/// A long option without an argument, reported as `val`.
pub const fn no(name: &'static str, val: char) -> LongOpt {
    LongOpt {
        name,
        has_arg: HasArg::No,
        val,
    }
}

/// A long option with a required argument, reported as `val`.
pub const fn req(name: &'static str, val: char) -> LongOpt {
    LongOpt {
        name,
        has_arg: HasArg::Required,
        val,
    }
}

/// The documentation of one option of a personality, for the man page and the shell
/// completions: its short character, its long spellings (as in the parser's table), its
/// argument's name (`None`: no argument) and one help line.
#[derive(Clone, Copy, Debug)]
pub struct OptDoc {
    /// The short option character.
    pub short: char,
    /// Every long spelling, without `--`.
    pub long: &'static [&'static str],
    /// The argument's name, for the options that take one.
    pub arg: Option<&'static str>,
    /// What it does.
    pub help: &'static str,
}

/// An [`OptDoc`], as the personalities' tables spell it.
pub const fn doc(
    short: char,
    long: &'static [&'static str],
    arg: Option<&'static str>,
    help: &'static str,
) -> OptDoc {
    OptDoc {
        short,
        long,
        arg,
        help,
    }
}

/// One parsed item, in command-line order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// An option and its argument.
    Opt(char, Option<String>),
    /// A command-line error, with glibc's message (without the program name).
    Error(String),
}

/// The result of a scan: options (and errors) in order, then the operands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Options and errors in order.
    pub items: Vec<Item>,
    /// Operands (non-option arguments), in order.
    pub operands: Vec<String>,
}

/// Parses `args` (without the program name) with the short option string `short`
/// (getopt's syntax: a character followed by `:` takes an argument) and `long`.
pub fn parse(args: &[String], short: &str, long: &[LongOpt]) -> Parsed {
    let mut out = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            out.operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(body) = arg.strip_prefix("--") {
            let (name, attached) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (body, None),
            };
            let opt = match find_long(name, long) {
                Ok(o) => o,
                Err(msg) => {
                    out.items.push(Item::Error(msg));
                    continue;
                }
            };
            match (opt.has_arg, attached) {
                (HasArg::No, Some(_)) => out.items.push(Item::Error(format!(
                    "option '--{}' doesn't allow an argument",
                    opt.name
                ))),
                (HasArg::No, None) => out.items.push(Item::Opt(opt.val, None)),
                (HasArg::Required, Some(v)) => out.items.push(Item::Opt(opt.val, Some(v))),
                (HasArg::Required, None) => match args.get(i) {
                    Some(v) => {
                        i += 1;
                        out.items.push(Item::Opt(opt.val, Some(v.clone())));
                    }
                    None => out.items.push(Item::Error(format!(
                        "option '--{}' requires an argument",
                        opt.name
                    ))),
                },
            }
            continue;
        }
        let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) else {
            out.operands.push(arg.clone());
            continue;
        };
        for (pos, c) in cluster.char_indices() {
            match short_has_arg(short, c) {
                None => out
                    .items
                    .push(Item::Error(format!("invalid option -- '{c}'"))),
                Some(HasArg::No) => out.items.push(Item::Opt(c, None)),
                Some(HasArg::Required) => {
                    let rest = &cluster[pos + c.len_utf8()..];
                    if !rest.is_empty() {
                        out.items.push(Item::Opt(c, Some(rest.to_owned())));
                    } else if let Some(v) = args.get(i) {
                        i += 1;
                        out.items.push(Item::Opt(c, Some(v.clone())));
                    } else {
                        out.items
                            .push(Item::Error(format!("option requires an argument -- '{c}'")));
                    }
                    break;
                }
            }
        }
    }
    out
}

fn short_has_arg(short: &str, c: char) -> Option<HasArg> {
    if c == ':' {
        return None;
    }
    let mut chars = short.chars().peekable();
    while let Some(s) = chars.next() {
        let takes = chars.peek() == Some(&':');
        if takes {
            chars.next();
        }
        if s == c {
            return Some(if takes { HasArg::Required } else { HasArg::No });
        }
    }
    None
}

/// An exact name, or a prefix whose matches all stand for the first match's option
/// character and argument rule (glibc's rule). When ambiguous, glibc lists the first match
/// and every later one that differs from it, in table order.
fn find_long<'a>(name: &str, long: &'a [LongOpt]) -> Result<&'a LongOpt, String> {
    if let Some(o) = long.iter().find(|o| o.name == name) {
        return Ok(o);
    }
    let mut matches = long.iter().filter(|o| o.name.starts_with(name));
    let Some(first) = matches.next() else {
        return Err(format!("unrecognized option '--{name}'"));
    };
    let differing: Vec<&LongOpt> = matches
        .filter(|o| o.val != first.val || o.has_arg != first.has_arg)
        .collect();
    if differing.is_empty() {
        return Ok(first);
    }
    let list: Vec<String> = std::iter::once(first)
        .chain(differing)
        .map(|o| format!("'--{}'", o.name))
        .collect();
    Err(format!(
        "option '--{name}' is ambiguous; possibilities: {}",
        list.join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &[LongOpt] = &[
        LongOpt {
            name: "in",
            has_arg: HasArg::No,
            val: 'i',
        },
        LongOpt {
            name: "preempt",
            has_arg: HasArg::No,
            val: 'P',
        },
        LongOpt {
            name: "preempt-abort",
            has_arg: HasArg::No,
            val: 'A',
        },
        LongOpt {
            name: "prout-type",
            has_arg: HasArg::Required,
            val: 'T',
        },
        LongOpt {
            name: "prout_type",
            has_arg: HasArg::Required,
            val: 'T',
        },
    ];

    fn p(args: &[&str]) -> Parsed {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(&args, "iPAT:n", LONG)
    }

    #[test]
    fn clusters_attached_and_permuted() {
        let r = p(&[
            "dev",
            "-niT5",
            "--prout-t",
            "6",
            "--prout_type=7",
            "-T",
            "8",
            "--",
            "-x",
        ]);
        assert_eq!(
            r.items,
            vec![
                Item::Opt('n', None),
                Item::Opt('i', None),
                Item::Opt('T', Some("5".into())),
                Item::Opt('T', Some("6".into())),
                Item::Opt('T', Some("7".into())),
                Item::Opt('T', Some("8".into())),
            ]
        );
        assert_eq!(r.operands, vec!["dev".to_string(), "-x".to_string()]);
    }

    #[test]
    fn errors_as_glibc_words_them() {
        let r = p(&["-q", "--pre", "--in=1", "--bogus", "-T"]);
        assert_eq!(
            r.items,
            vec![
                Item::Error("invalid option -- 'q'".into()),
                Item::Error(
                    "option '--pre' is ambiguous; possibilities: '--preempt' '--preempt-abort'"
                        .into()
                ),
                Item::Error("option '--in' doesn't allow an argument".into()),
                Item::Error("unrecognized option '--bogus'".into()),
                Item::Error("option requires an argument -- 'T'".into()),
            ]
        );
        assert_eq!(
            p(&["--prout"]).items,
            vec![Item::Error(
                "option '--prout-type' requires an argument".into()
            )]
        );
        assert_eq!(p(&["-"]).operands, vec!["-".to_string()]);
    }
}
