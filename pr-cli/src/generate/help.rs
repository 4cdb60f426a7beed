//! `prsdk --help` and `prsdk help COMMAND`, from [`crate::native::spec`].

use std::fmt::Write as _;

use super::{PERSONALITIES, synopsis, value_name, wrap};
use crate::native::spec::{self, Need, OptSpec, Scope};

const WIDTH: usize = 80;
/// Where help lines start after their option or command.
const COLUMN: usize = 30;

/// `left` then `help` from [`COLUMN`] (or on the next line if `left` is too long), wrapped.
fn item(out: &mut String, left: &str, help: &str) {
    item_at(out, left, help, COLUMN);
}

/// As [`item`], with the help from `column`.
fn item_at(out: &mut String, left: &str, help: &str, column: usize) {
    let _ = write!(out, "  {left}");
    let used = left.chars().count() + 2;
    if used + 2 > column {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', column));
    } else {
        out.extend(std::iter::repeat_n(' ', column - used));
    }
    out.push_str(&wrap(help, column, column, WIDTH));
    out.push('\n');
}

/// A paragraph, wrapped.
fn para(out: &mut String, text: &str) {
    out.push_str(&wrap(text, 0, 2, WIDTH));
    out.push('\n');
}

/// `--long VALUE` or `-s, --long`.
fn option_left(o: &OptSpec, value: Option<&str>) -> String {
    let mut s = match o.short {
        Some(c) => format!("-{c}, --{}", o.long),
        None => format!("--{}", o.long),
    };
    if let Some(v) = value {
        s.push(' ');
        s.push_str(v);
    }
    s
}

fn scoped_options(out: &mut String, scope: Scope) {
    for o in spec::OPTIONS.iter().filter(|o| o.scope == scope) {
        item(out, &option_left(o, value_name(o, None)), o.help);
    }
}

fn types_line() -> String {
    let values = spec::type_values();
    let (names, codes) = values.split_at(values.len() / 2);
    format!(
        "TYPE: {} (any case, - or _), or the code {}.",
        names.join(" "),
        codes.join(" ")
    )
}

/// The whole help: `prsdk --help`, `prsdk help`.
pub fn all() -> String {
    let mut out = String::from("Usage: prsdk [OPTIONS] COMMAND [OPTIONS] [TARGET...]\n");
    for t in spec::TOOLS {
        let line = format!("       prsdk {} {}", t.name, t.synopsis);
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out.push_str("       prsdk --version | --help\n\n");
    out.push_str("Native commands (options anywhere on the line; 'prsdk help COMMAND' for one):\n");
    for c in spec::COMMANDS {
        let _ = writeln!(out, "  {}", wrap(&synopsis(c), 2, 6, WIDTH));
        let _ = writeln!(out, "      {}", wrap(c.summary, 6, 6, WIDTH));
    }
    out.push_str("\nOptions of every command:\n");
    scoped_options(&mut out, Scope::Global);
    out.push_str("\nA simulated cluster instead of this host's devices:\n");
    scoped_options(&mut out, Scope::Sim);
    out.push('\n');
    para(&mut out, &format!("TARGET: {}", spec::TARGETS));
    para(&mut out, &format!("KEY: {}", spec::KEYS));
    para(&mut out, &types_line());
    out.push_str("\nExit status (with several targets, the first failing one's):\n");
    for (code, what) in spec::EXIT_STATUSES {
        item_at(&mut out, &code.to_string(), what, 5);
    }
    out.push('\n');
    para(
        &mut out,
        &format!("--json documents: {}.", spec::JSON_SCHEMA_POINTER),
    );
    out.push_str("\nOther tools:\n");
    for t in spec::TOOLS {
        item(
            &mut out,
            format!("{} {}", t.name, t.synopsis).trim_end(),
            t.summary,
        );
    }
    out.push_str("\nThe manual page (prsdk man) has every option of every tool.\n");
    out
}

/// The help of one command or tool (`prsdk help NAME`, `prsdk NAME --help`), or `None`
/// if there is no such command.
pub fn command(name: &str) -> Option<String> {
    let mut out = String::new();
    if let Some(c) = spec::command(name) {
        let _ = writeln!(
            out,
            "Usage: prsdk [OPTIONS] {}",
            wrap(&synopsis(c), 23, 8, WIDTH)
        );
        para(&mut out, c.summary);
        if !c.details.is_empty() {
            out.push('\n');
            para(&mut out, c.details);
        }
        if !c.options.is_empty() {
            out.push_str("\nOptions:\n");
            for co in c.options {
                let o = spec::spec_of(co.id);
                let help = match co.need {
                    Need::Required => format!("{} (required)", co.help),
                    Need::Optional => co.help.to_owned(),
                };
                item(&mut out, &option_left(o, value_name(o, Some(co))), &help);
            }
        }
        if c.options.iter().any(|o| o.id == spec::Opt::Type) {
            out.push('\n');
            para(&mut out, &types_line());
        }
        if !c.options.iter().any(|o| o.id == spec::Opt::Type) && !c.options.is_empty() {
            out.push('\n');
        }
        if c.options
            .iter()
            .any(|o| o.value.contains('K') || o.value == "NEW")
        {
            para(&mut out, &format!("KEY: {}", spec::KEYS));
        }
        out.push('\n');
        para(&mut out, &format!("TARGET: {}", spec::TARGETS));
        out.push_str("\nOptions of every command:\n");
        scoped_options(&mut out, Scope::Global);
        out.push_str("With --sim: ");
        let sim: Vec<String> = spec::OPTIONS
            .iter()
            .filter(|o| o.scope == Scope::Sim)
            .map(|o| format!("--{}", o.long))
            .collect();
        out.push_str(&wrap(
            &format!("{} (prsdk --help).", sim.join(" ")),
            12,
            2,
            WIDTH,
        ));
        out.push('\n');
        return Some(out);
    }
    let t = spec::TOOLS.iter().find(|t| t.name == name)?;
    let _ = writeln!(out, "Usage: prsdk {} {}", t.name, t.synopsis);
    para(&mut out, t.summary);
    let options = spec::tool_options(name);
    if !options.is_empty() {
        out.push_str("\nOptions:\n");
        for (long, value, help) in options {
            item(&mut out, &format!("--{long} {value}"), help);
        }
    }
    if let Some(p) = PERSONALITIES.iter().find(|p| p.name == name) {
        out.push_str("\nOptions:\n");
        for d in p.docs {
            let mut left = format!("-{}", d.short);
            for l in d.long {
                let _ = write!(left, ", --{l}");
            }
            if let Some(a) = d.arg {
                let _ = write!(left, " {a}");
            }
            item(&mut out, &left, d.help);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lines_fit_80_columns() {
        let mut texts = vec![all()];
        texts.extend(spec::COMMANDS.iter().filter_map(|c| command(c.name)));
        texts.extend(spec::TOOLS.iter().filter_map(|t| command(t.name)));
        for t in &texts {
            for l in t.lines() {
                assert!(l.chars().count() <= WIDTH, "{l:?}");
            }
        }
    }

    #[test]
    fn command_help_has_its_options_and_requirements() {
        let h = command("register-and-move").unwrap();
        assert!(h.contains("--dest-key D"), "{h}");
        assert!(h.contains("(required)"), "{h}");
        assert!(command("frob").is_none());
    }
}
