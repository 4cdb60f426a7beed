//! Texts generated from the command-line definitions: `prsdk --help` and `prsdk help
//! COMMAND` ([`help`]), the shell completions for bash, zsh and fish
//! ([`completions`]: `prsdk completions SHELL`) and the manual page prsdk(1)
//! ([`man::page`]: `prsdk man`). Native mode's commands and options come from
//! [`crate::native::spec`], the personalities' from their parsers' own tables
//! ([`crate::sg_persist::LONG`], [`crate::mpathpersist::LONG`], their `SHORT` strings) and
//! documentation ([`crate::sg_persist::OPTIONS`], [`crate::mpathpersist::OPTIONS`]); the
//! tests check that every option a parser accepts appears in each of them.

mod bash;
mod fish;
pub mod help;
pub mod man;
mod zsh;

use crate::getopt::OptDoc;
use crate::native::spec::{self, Arg, CmdOpt, Command, Kind, Need, OptSpec};

/// The completion script for `shell` (`bash`, `zsh` or `fish`), or `None` for another
/// shell.
pub fn completions(shell: &str) -> Option<String> {
    match shell {
        "bash" => Some(bash::script()),
        "zsh" => Some(zsh::script()),
        "fish" => Some(fish::script()),
        _ => None,
    }
}

/// The options `prsdk` itself takes as its first argument, beside the native ones
/// (`--help` is one of those).
pub(crate) const TOP_OPTIONS: &[(&str, &str)] = &[
    ("--version", "print the version and exit"),
    ("-V", "print the version and exit"),
    ("-h", "print the help and exit, as --help"),
];

/// A personality: its name, its parser's short option string and long options (every
/// spelling the parser accepts) and its documented options.
pub(crate) struct Personality {
    pub(crate) name: &'static str,
    pub(crate) short: &'static str,
    pub(crate) long: &'static [crate::getopt::LongOpt],
    pub(crate) docs: &'static [OptDoc],
}

/// The two personalities.
pub(crate) const PERSONALITIES: &[Personality] = &[
    Personality {
        name: "sg_persist",
        short: crate::sg_persist::SHORT,
        long: crate::sg_persist::LONG,
        docs: crate::sg_persist::OPTIONS,
    },
    Personality {
        name: "mpathpersist",
        short: crate::mpathpersist::SHORT,
        long: crate::mpathpersist::LONG,
        docs: crate::mpathpersist::OPTIONS,
    },
];

/// The value name of `o` in command `c` (its own, or the option's), if it takes one.
pub(crate) fn value_name(o: &OptSpec, c: Option<&CmdOpt>) -> Option<&'static str> {
    match o.arg {
        Arg::Value { name, .. } => {
            Some(c.map(|c| c.value).filter(|v| !v.is_empty()).unwrap_or(name))
        }
        Arg::Flag | Arg::Count => None,
    }
}

/// Whether `o` may be given more than once.
pub(crate) fn repeats(o: &OptSpec) -> bool {
    matches!(o.arg, Arg::Count | Arg::Value { repeat: true, .. })
}

/// A command's option as written in its synopsis: `--key NEW`, `[--ignore]`,
/// `[--transport-id TID]...`.
pub(crate) fn synopsis_word(c: &CmdOpt) -> String {
    let o = spec::spec_of(c.id);
    let mut w = format!("--{}", o.long);
    if let Some(v) = value_name(o, Some(c)) {
        w.push(' ');
        w.push_str(v);
    }
    if c.need == Need::Optional {
        w = format!("[{w}]");
    }
    // A required option given once per command line (register-and-move's one
    // --transport-id) shows no "...".
    if repeats(o) && c.need == Need::Optional {
        w.push_str("...");
    }
    w
}

/// What a command takes after its options.
pub(crate) fn targets_word(c: &Command) -> &'static str {
    match c.kind {
        Kind::Show => "[MAP...]",
        Kind::Read | Kind::Out | Kind::Fleet => "TARGET...",
        Kind::Lock => "DISK -- COMMAND [ARG...]",
    }
}

/// A command's synopsis (without `prsdk`): `reserve --key K --type TYPE TARGET...`.
pub(crate) fn synopsis(c: &Command) -> String {
    let mut words = vec![c.name.to_owned()];
    words.extend(c.options.iter().map(synopsis_word));
    words.push(targets_word(c).to_owned());
    words.join(" ")
}

/// `text` wrapped at `width` columns, every line indented by `indent` spaces, the first
/// line's indentation already written (`first` columns used).
pub(crate) fn wrap(text: &str, first: usize, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut col = first;
    let mut line_start = true;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if !line_start && col + 1 + len > width {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', indent));
            col = indent;
            line_start = true;
        }
        if !line_start {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += len;
        line_start = false;
    }
    out
}

/// Every spelling of every option a parser of the binary accepts, with the tool it
/// belongs to (`""`: native mode and `prsdk` itself): for the tests that keep the
/// completions and the man page complete.
pub fn accepted_options() -> Vec<(&'static str, String)> {
    let mut all: Vec<(&'static str, String)> = Vec::new();
    for o in spec::OPTIONS {
        all.push(("", format!("--{}", o.long)));
        if let Some(c) = o.short {
            all.push(("", format!("-{c}")));
        }
    }
    for (name, _) in TOP_OPTIONS {
        all.push(("", (*name).to_owned()));
    }
    for (name, _, _) in spec::SIM_TOOL_OPTIONS {
        all.push(("sim", format!("--{name}")));
    }
    for p in PERSONALITIES {
        for c in p.short.chars().filter(|c| *c != ':') {
            all.push((p.name, format!("-{c}")));
        }
        for l in p.long {
            all.push((p.name, format!("--{}", l.name)));
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::getopt::HasArg;

    #[test]
    fn personality_docs_cover_their_parsers_exactly() {
        for p in PERSONALITIES {
            let shorts: Vec<char> = p.short.chars().filter(|c| *c != ':').collect();
            for c in &shorts {
                let docs: Vec<&OptDoc> = p.docs.iter().filter(|d| d.short == *c).collect();
                assert_eq!(docs.len(), 1, "{}: -{c} documented once", p.name);
                let takes = p.short.contains(&format!("{c}:"));
                assert_eq!(docs[0].arg.is_some(), takes, "{}: -{c}'s argument", p.name);
            }
            for d in p.docs {
                assert!(
                    shorts.contains(&d.short),
                    "{}: -{} is no option",
                    p.name,
                    d.short
                );
                for l in d.long {
                    let lo = p.long.iter().find(|o| o.name == *l);
                    assert!(lo.is_some_and(|o| o.val == d.short), "{}: --{l}", p.name);
                    let takes = lo.is_some_and(|o| o.has_arg == HasArg::Required);
                    assert_eq!(d.arg.is_some(), takes, "{}: --{l}'s argument", p.name);
                }
            }
            for l in p.long {
                assert!(
                    p.docs.iter().any(|d| d.long.contains(&l.name)),
                    "{}: --{} undocumented",
                    p.name,
                    l.name
                );
            }
        }
    }

    /// Whether `text` has `word` with none of `[A-Za-z0-9_-]` on either side.
    fn has_word(text: &str, word: &str) -> bool {
        let part = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        text.match_indices(word).any(|(i, _)| {
            let before = text[..i].chars().next_back();
            let after = text[i + word.len()..].chars().next();
            !before.is_some_and(part) && !after.is_some_and(part)
        })
    }

    /// The man page as text: hyphens unescaped, font changes dropped.
    fn man_text() -> String {
        man::page()
            .replace("\\-", "-")
            .replace("\\fB", "")
            .replace("\\fI", "")
            .replace("\\fR", "")
    }

    /// Every option a parser accepts is offered by each completion script (for its tool)
    /// and documented in the man page, so that they cannot drift apart.
    #[test]
    fn completions_and_man_page_have_every_accepted_option() {
        let bash = completions("bash").unwrap();
        let zsh = completions("zsh").unwrap();
        let fish = completions("fish").unwrap();
        let man = man_text();
        let mut missing = Vec::new();
        for (tool, opt) in accepted_options() {
            let name = opt.trim_start_matches('-');
            if !has_word(&bash, &opt) {
                missing.push(format!("bash: {tool} {opt}"));
            }
            let zsh_forms = [
                format!("'{opt}["),
                format!("'*{opt}["),
                format!("'{opt}=["),
                format!("'*{opt}=["),
                format!("'*{opt}+["),
                format!("'(- *){opt}["),
            ];
            if !zsh_forms.iter().any(|f| zsh.contains(f.as_str())) {
                missing.push(format!("zsh: {tool} {opt}"));
            }
            let fish_form = if opt.starts_with("--") {
                format!(" -l {name}")
            } else {
                format!(" -s {name}")
            };
            let fish_ok = fish.lines().any(|l| {
                let other_tool = ["sg_persist", "mpathpersist", "sim"]
                    .iter()
                    .any(|t| l.contains(&format!("'__prsdk_using {t}'")));
                let for_tool = if tool.is_empty() {
                    !other_tool
                } else {
                    l.contains(&format!("'__prsdk_using {tool}'"))
                };
                for_tool && (l.contains(&format!("{fish_form} ")) || l.ends_with(&fish_form))
            });
            if !fish_ok {
                missing.push(format!("fish: {tool} {opt}"));
            }
            // A personality's options in its own section.
            let heading = format!(".SH \"THE {} PERSONALITY\"", tool.to_ascii_uppercase());
            let section = match man.split_once(heading.as_str()) {
                Some((_, rest)) if !tool.is_empty() => rest.split(".SH ").next().unwrap_or(""),
                _ => man.as_str(),
            };
            if !has_word(section, &opt) {
                missing.push(format!("man: {tool} {opt}"));
            }
        }
        assert!(missing.is_empty(), "{missing:#?}");
    }

    #[test]
    fn the_checks_see_a_missing_option() {
        assert!(has_word("a --key b", "--key"));
        assert!(!has_word("a --keys b", "--key"));
        assert!(!has_word("a --old-key b", "--key"));
        assert!(!man_text().contains("--frobnicate"));
    }

    #[test]
    fn synopses() {
        let c = |n| synopsis(spec::command(n).unwrap());
        assert_eq!(c("keys"), "keys TARGET...");
        assert_eq!(c("show"), "show [MAP...]");
        assert_eq!(
            c("register"),
            "register --key NEW [--old-key OLD] [--ignore] [--aptpl] [--all-tg-pt] [--transport-id TID]... TARGET..."
        );
        assert_eq!(
            c("fence"),
            "fence --key K --victim V [--type TYPE] [--preempt] TARGET..."
        );
    }

    #[test]
    fn wrapping() {
        assert_eq!(wrap("a bb ccc dddd", 0, 2, 6), "a bb\n  ccc\n  dddd");
    }
}
