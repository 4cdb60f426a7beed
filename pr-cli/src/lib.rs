//! `prsdk`, the PR SDK's command-line tool: one binary that speaks as Debian 12's
//! `sg_persist` (sg3_utils 1.46) and `mpathpersist` (multipath-tools 0.9.4, see
//! [`mpathpersist`]) when invoked under those names (links, or `prsdk sg_persist ...`,
//! `prsdk mpathpersist ...`), with the same options, standard output and exit statuses,
//! every command going through the SDK's front door (`pr_multipath`'s `Lun` and its
//! blocking API), and that runs the same commands on a simulated LUN with `prsdk sim`
//! (no root, no hardware). Its own subcommands ([`native`]: PR IN reads, `show`, PR OUT
//! actions, `fence`/`unfence` on many LUNs, tables or `--json`) run on maps and devices or
//! on a simulated cluster (`--sim`). Its help, shell completions
//! (`prsdk completions bash|zsh|fish`) and manual page (`prsdk man`) are generated from the
//! same definitions as its parsers ([`generate`]). The mpathpersist personality also
//! speaks as current upstream's mpathpersist (0.15.1) where that prints otherwise
//! ([`mpathpersist::Version`]: a link named `mpathpersist-0.15`, `prsdk mpathpersist
//! --compat 0.15`, or `PRSDK_MPATHPERSIST=0.15`). It never talks to
//! pr-sgio directly: like every face, it is a skin over pr-multipath and pr-core.
//!
//! # What differs from sg_persist 1.46
//!
//! - The usage text (`-h`, `-hh`, and after an option error) is our own wording of the
//!   same options; it goes to standard error, as sg_persist's does. Error messages on
//!   standard error that scripts may match (bad arguments, contradictions, missing
//!   device) are sg_persist's; messages about failed commands are close but not
//!   identical.
//! - Where a response is shorter than what its header announces, sg_persist prints
//!   what its buffer held before (stale memory); we print zeros there.
//! - `srp,` TransportIDs: 1.46 takes 16 hex digits and then reads 32 (past the text);
//!   we leave the last 8 bytes zero. `sop,` is refused, as 1.46 refuses it.
//! - `-v` prints the CDB and a success line on standard error, not sg3_utils' every
//!   trace.
//! - A directory as DEVICE with `-n`: sg_persist fails to open it read-write (`EISDIR`,
//!   exit 71); we report it as no SCSI device (75), as sg_persist does without `-n`.
//!
//! `pr-cli/README.md` lists the tests that compare it with the real sg_persist (on the
//! host, on LIO captures, and in the lab).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod device;
pub mod generate;
pub mod getopt;
mod libvirt_hook;
pub mod mpathpersist;
pub mod native;
pub mod sg_persist;

use std::io::{BufRead, Write};

use device::{FrontDoor, Opener, Simulated};
use mpathpersist::maps::{self, Maps, SimMaps};

/// What the program was invoked as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Personality {
    /// `sg_persist`.
    SgPersist,
    /// `mpathpersist`.
    MpathPersist,
    /// `prsdk` and any other name: native subcommands.
    Native,
}

/// The personality of `argv0` (its last path component): `sg_persist`, `mpathpersist`
/// or `mpathpersist-VERSION` (`mpathpersist-0.15`, see [`mpathpersist::Version`]), else
/// native.
pub fn personality(argv0: &str) -> Personality {
    match argv0.rsplit('/').next().unwrap_or(argv0) {
        "sg_persist" => Personality::SgPersist,
        "mpathpersist" => Personality::MpathPersist,
        name if mpathpersist::Version::of_program_name(name).is_some() => Personality::MpathPersist,
        _ => Personality::Native,
    }
}

/// The mpathpersist version to speak as: `explicit` (a link name's, `--compat`'s), else
/// the environment's ([`mpathpersist::ENV`]), else 0.9.4. An unknown value in the
/// environment is reported on `err` (`prog: ...`) and is [`EXIT_USAGE`].
fn mpathpersist_version(
    prog: &str,
    explicit: Option<mpathpersist::Version>,
    err: &mut dyn Write,
) -> Result<mpathpersist::Version, i32> {
    let env = std::env::var_os(mpathpersist::ENV).map(|v| v.to_string_lossy().into_owned());
    mpathpersist::Version::select(explicit, env.as_deref()).map_err(|msg| {
        let _ = writeln!(err, "{prog}: {msg}");
        EXIT_USAGE
    })
}

/// Exit status of a native usage error.
pub const EXIT_USAGE: i32 = 1;

/// Runs the program with `args` (`args[0]` the name it was invoked as). Returns the exit
/// status.
pub fn main_with(
    args: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
    stdin: &mut dyn BufRead,
) -> i32 {
    let argv0 = args.first().map(String::as_str).unwrap_or("prsdk");
    let in_rdonly_env = std::env::var_os("SG_PERSIST_IN_RDONLY").is_some();
    match personality(argv0) {
        Personality::SgPersist => {
            let mut io = sg_persist::Io {
                out,
                err,
                stdin,
                in_rdonly_env,
            };
            sg_persist::run(argv0, &args[1..], &FrontDoor, &mut io)
        }
        Personality::MpathPersist => {
            let explicit = mpathpersist::Version::of_program_name(argv0);
            let version = match mpathpersist_version(argv0, explicit, err) {
                Ok(v) => v,
                Err(code) => return code,
            };
            let mut io = mpathpersist::Io { out, err };
            mpathpersist::run(version, argv0, &args[1..], &maps::FrontDoor, &mut io)
        }
        Personality::Native => native(args, out, err, stdin, in_rdonly_env),
    }
}

fn native(
    args: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
    stdin: &mut dyn BufRead,
    in_rdonly_env: bool,
) -> i32 {
    match args.get(1).map(String::as_str) {
        Some("sg_persist") => {
            let mut io = sg_persist::Io {
                out,
                err,
                stdin,
                in_rdonly_env,
            };
            sg_persist::run("sg_persist", &args[2..], &FrontDoor, &mut io)
        }
        Some("mpathpersist") => {
            // `--compat VERSION` or `--compat=VERSION`, first after `mpathpersist` only.
            let (compat, rest) = match args.get(2).map(String::as_str) {
                Some("--compat") => (Some(args.get(3).cloned().unwrap_or_default()), 4),
                Some(a) if a.starts_with("--compat=") => (Some(a[9..].to_owned()), 3),
                _ => (None, 2),
            };
            let explicit = match compat {
                None => None,
                Some(v) => match mpathpersist::Version::parse(&v) {
                    Some(v) => Some(v),
                    None => {
                        let _ = writeln!(
                            err,
                            "prsdk mpathpersist: --compat '{v}': not a known mpathpersist \
                             version (0.9.4 or 0.15)"
                        );
                        return EXIT_USAGE;
                    }
                },
            };
            let version = match mpathpersist_version("prsdk mpathpersist", explicit, err) {
                Ok(v) => v,
                Err(code) => return code,
            };
            let mut io = mpathpersist::Io { out, err };
            let rest = args.get(rest..).unwrap_or(&[]);
            mpathpersist::run(version, "mpathpersist", rest, &maps::FrontDoor, &mut io)
        }
        Some("sim") => sim(&args[2..], out, err, stdin),
        Some("libvirt-hook") => libvirt_hook::run(&args[2..], out, err, stdin),
        Some("--version" | "-V") => {
            let _ = writeln!(out, "prsdk {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Some("--help" | "-h") => {
            let _ = out.write_all(generate::help::all().as_bytes());
            0
        }
        Some("help") => match args.get(2) {
            None => {
                let _ = out.write_all(generate::help::all().as_bytes());
                0
            }
            Some(name) => match generate::help::command(name) {
                Some(text) if args.len() == 3 => {
                    let _ = out.write_all(text.as_bytes());
                    0
                }
                Some(_) => {
                    let _ = writeln!(err, "prsdk help: one command at a time");
                    EXIT_USAGE
                }
                None => {
                    let _ = writeln!(err, "prsdk help: unknown command '{name}'");
                    let _ = writeln!(err, "Try 'prsdk --help'.");
                    EXIT_USAGE
                }
            },
        },
        Some("completions") => match (args.get(2).map(String::as_str), args.len()) {
            (Some(shell), 3) if generate::completions(shell).is_some() => {
                let text = generate::completions(shell).unwrap_or_default();
                let _ = out.write_all(text.as_bytes());
                0
            }
            _ => {
                let _ = writeln!(
                    err,
                    "prsdk completions: give one shell: {}",
                    native::spec::SHELLS.join(", ")
                );
                EXIT_USAGE
            }
        },
        Some("man") if args.len() == 2 => {
            let _ = out.write_all(generate::man::page().as_bytes());
            0
        }
        Some("man") => {
            let _ = writeln!(err, "prsdk man: takes no arguments");
            EXIT_USAGE
        }
        // The native subcommands and their options (issue 14's native mode).
        Some(_) => native::run(&args[1..], out, err, stdin),
        None => {
            let _ = err.write_all(generate::help::all().as_bytes());
            EXIT_USAGE
        }
    }
}

fn sim(args: &[String], out: &mut dyn Write, err: &mut dyn Write, stdin: &mut dyn BufRead) -> i32 {
    let (mut paths, mut node2) = (2usize, 2usize);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (target, min) = match a.as_str() {
            "--paths" => (&mut paths, 1),
            "--node2-paths" => (&mut node2, 0),
            other => {
                let _ = writeln!(err, "prsdk sim: unknown option '{other}'");
                return EXIT_USAGE;
            }
        };
        match it
            .next()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| (min..=16).contains(n))
        {
            Some(n) => *target = n,
            None => {
                let _ = writeln!(err, "prsdk sim: {a} takes a number from {min} to 16");
                return EXIT_USAGE;
            }
        }
    }
    let nexuses = pr_sim::lab_loop_topology(paths, node2);
    let (_sim, sim_paths) = pr_sim::Sim::single_lun(pr_sim::LunConfig::lio(), &nexuses);
    let maps = SimMaps::from_paths(sim_paths.clone(), paths);
    let lun = Simulated::from_paths(sim_paths);
    run_script_with(&lun, &maps, stdin, out, err)
}

/// Runs sg_persist command lines (words separated by blanks; `#` starts a comment) from
/// `script` on `opener`'s devices, printing each command (`$ ...`), its standard output
/// and standard error, and `[exit N]`. Returns 0, or [`EXIT_USAGE`] for a line that is
/// neither an sg_persist nor an mpathpersist command. `mpathpersist` lines find no
/// map here (exit 12): [`run_script_with`] gives them maps.
pub fn run_script(
    opener: &dyn Opener,
    script: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    run_script_with(opener, &SimMaps::empty(), script, out, err)
}

/// As [`run_script`], with `mpathpersist` command lines too, run on `maps` (their
/// standard output, standard error and exit status shown the same way).
pub fn run_script_with(
    opener: &dyn Opener,
    maps: &dyn Maps,
    script: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut status = 0;
    let mut line = String::new();
    loop {
        line.clear();
        match script.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                let _ = writeln!(err, "prsdk sim: {e}");
                return EXIT_USAGE;
            }
        }
        let text = line.split('#').next().unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        let words: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
        let (mut o, mut e) = (Vec::new(), Vec::new());
        let first = words.first().map(String::as_str).unwrap_or("");
        let code =
            if first == "mpathpersist" || mpathpersist::Version::of_program_name(first).is_some() {
                let explicit = mpathpersist::Version::of_program_name(first);
                match mpathpersist_version("prsdk sim", explicit, &mut e) {
                    Ok(version) => {
                        let mut io = mpathpersist::Io {
                            out: &mut o,
                            err: &mut e,
                        };
                        mpathpersist::run(version, first, &words[1..], maps, &mut io)
                    }
                    Err(code) => code,
                }
            } else if words.first().map(String::as_str) != Some("sg_persist") {
                let _ = writeln!(
                    err,
                    "prsdk sim: not an sg_persist or mpathpersist command: {text}"
                );
                status = EXIT_USAGE;
                continue;
            } else {
                let mut empty = std::io::empty();
                let mut io = sg_persist::Io {
                    out: &mut o,
                    err: &mut e,
                    stdin: &mut empty,
                    in_rdonly_env: false,
                };
                sg_persist::run("sg_persist", &words[1..], opener, &mut io)
            };
        let _ = writeln!(out, "$ {text}");
        let _ = out.write_all(&o);
        let _ = out.write_all(&e);
        let _ = writeln!(out, "[exit {code}]");
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> (i32, String, String) {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = main_with(&args, &mut out, &mut err, &mut std::io::empty());
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
        (code, text(out), text(err))
    }

    /// The options `prsdk` takes first, and `prsdk sim`'s, are the ones the generated
    /// help, completions and man page list (`generate::TOP_OPTIONS`,
    /// `native::spec::SIM_TOOL_OPTIONS`).
    #[test]
    fn top_and_sim_options_are_the_documented_ones() {
        for (name, _) in generate::TOP_OPTIONS {
            let (code, out, err) = run(&["prsdk", name]);
            assert_eq!((code, err.as_str()), (0, ""), "{name}");
            assert!(
                out.starts_with("prsdk ") || out.starts_with("Usage: prsdk"),
                "{name}"
            );
        }
        for (name, _, _) in native::spec::SIM_TOOL_OPTIONS {
            let opt = format!("--{name}");
            assert_eq!(
                run(&["prsdk", "sim", &opt, "1"]),
                (0, String::new(), String::new())
            );
        }
        assert_eq!(run(&["prsdk", "sim", "--bogus", "1"]).0, EXIT_USAGE);
        for t in native::spec::TOOLS {
            assert!(generate::help::command(t.name).is_some(), "{}", t.name);
        }
    }
}
