//! The command line, compatible with qemu-pr-helper's (getopt_long rules: `-kPATH`,
//! `-k PATH`, `--socket=PATH`, `--socket PATH`, bundled flags `-dv`, `--` ends the options),
//! so that libvirt's `pr_helper` setting in `qemu.conf` can point at pr-helper. Options of
//! its own are long only.

use std::path::PathBuf;
use std::time::Duration;

/// The default socket path, qemu-pr-helper's on Debian (`/var/run/qemu-pr-helper.sock`).
pub const DEFAULT_SOCKET: &str = "/var/run/qemu-pr-helper.sock";
/// The default pidfile path, qemu-pr-helper's on Debian.
pub const DEFAULT_PIDFILE: &str = "/var/run/qemu-pr-helper.pid";

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `-k/--socket`: the Unix socket (absolute).
    pub socket: PathBuf,
    /// Whether `-k` was given (refused with socket activation, as qemu-pr-helper does).
    pub socket_given: bool,
    /// `-f/--pidfile`.
    pub pidfile: PathBuf,
    /// Whether `-f` was given (the pidfile is written with `-d` or `-f`).
    pub pidfile_given: bool,
    /// `-d/--daemon`.
    pub daemon: bool,
    /// `-u/--user`: a name or a number.
    pub user: Option<String>,
    /// `-g/--group`: a name or a number.
    pub group: Option<String>,
    /// `-T/--trace` patterns (`[enable=]PATTERN[,events=FILE][,file=FILE]`; the patterns
    /// select `tracing` targets, `file=` sends the log there).
    pub trace: Vec<String>,
    /// `-v` count (qemu-pr-helper starts at 1).
    pub verbose: u32,
    /// `-q`.
    pub quiet: bool,
    /// `--timeout=SECONDS`: each SCSI command's timeout (default 30; qemu-pr-helper asks
    /// for 1 ms).
    pub timeout: Duration,
    /// `--track`: track guests' reservations for migration ([`crate::tracker`]).
    pub track: bool,
    /// `--map-as-device`: send commands on a multipath map's node (down its current
    /// path) instead of through its paths, as qemu-pr-helper without multipath does.
    pub map_as_device: bool,
    /// `--control=PATH`: the tracker's control socket ([`crate::control`]); implies
    /// `--track`.
    pub control: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            socket: PathBuf::from(DEFAULT_SOCKET),
            socket_given: false,
            pidfile: PathBuf::from(DEFAULT_PIDFILE),
            pidfile_given: false,
            daemon: false,
            user: None,
            group: None,
            trace: Vec::new(),
            verbose: 1,
            quiet: false,
            timeout: Duration::from_secs(30),
            track: false,
            map_as_device: false,
            control: None,
        }
    }
}

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Serve.
    Run(Options),
    /// `-h/--help`.
    Help,
    /// `-V/--version`.
    Version,
}

/// A command-line error (printed with "Try `pr-helper --help'").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The help text.
pub fn usage(program: &str) -> String {
    format!(
        "Usage: {program} [OPTIONS]\n\
         Persistent Reservation helper for QEMU (pr-helper, compatible with qemu-pr-helper)\n\
         \n\
         \x20 -h, --help                display this help and exit\n\
         \x20 -V, --version             output version information and exit\n\
         \n\
         \x20 -d, --daemon              run in the background\n\
         \x20 -f, --pidfile=PATH        PID file when running as a daemon\n\
         \x20                           (default '{DEFAULT_PIDFILE}')\n\
         \x20 -k, --socket=PATH         path to the unix socket\n\
         \x20                           (default '{DEFAULT_SOCKET}')\n\
         \x20 -T, --trace [[enable=]<pattern>][,events=<file>][,file=<file>]\n\
         \x20                           log the tracing targets matching <pattern> at trace level\n\
         \x20 -u, --user=USER           user to drop privileges to\n\
         \x20 -g, --group=GROUP         group to drop privileges to\n\
         \x20 -v, --verbose             log more (repeat for more)\n\
         \x20 -q, --quiet               log nothing\n\
         \n\
         \x20     --timeout=SECONDS     timeout of each SCSI command (default 30)\n\
         \x20     --track               track guests' reservations for live migration\n\
         \x20     --map-as-device       send a multipath map's commands down its current path\n\
         \x20     --control=PATH        the tracker's control socket (implies --track)\n"
    )
}

fn parse_timeout(v: &str) -> Result<Duration, UsageError> {
    let secs: f64 = v
        .parse()
        .map_err(|_| UsageError(format!("invalid timeout '{v}'")))?;
    if !(0.001..=3600.0).contains(&secs) {
        return Err(UsageError(format!(
            "timeout '{v}' out of range (0.001 to 3600 seconds)"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses the arguments (without the program name).
pub fn parse<I, S>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut o = Options::default();
    let mut args = args.into_iter().map(Into::into);
    let mut help = false;
    let mut version = false;
    while let Some(arg) = args.next() {
        if arg == "--" {
            if let Some(extra) = args.next() {
                return Err(UsageError(format!("unexpected argument '{extra}'")));
            }
            break;
        }
        // (name, inline value) of one option; short options may bundle.
        let mut opts: Vec<(String, Option<String>)> = Vec::new();
        if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (long.to_owned(), None),
            };
            let short = match name.as_str() {
                "help" => "h",
                "version" => "V",
                "socket" => "k",
                "pidfile" => "f",
                "daemon" => "d",
                "trace" => "T",
                "user" => "u",
                "group" => "g",
                "verbose" => "v",
                "quiet" => "q",
                "timeout" | "track" | "map-as-device" | "control" => name.as_str(),
                _ => return Err(UsageError(format!("unrecognized option '--{name}'"))),
            };
            opts.push((short.to_owned(), value));
        } else if let Some(shorts) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (i, c) in shorts.char_indices() {
                if "kfTug".contains(c) {
                    let rest = &shorts[i + c.len_utf8()..];
                    let value = (!rest.is_empty()).then(|| rest.to_owned());
                    opts.push((c.to_string(), value));
                    break;
                }
                if !"hVdvq".contains(c) {
                    return Err(UsageError(format!("invalid option -- '{c}'")));
                }
                opts.push((c.to_string(), None));
            }
        } else {
            return Err(UsageError(format!("unexpected argument '{arg}'")));
        }
        for (name, inline) in opts {
            let takes_value = matches!(
                name.as_str(),
                "k" | "f" | "T" | "u" | "g" | "timeout" | "control"
            );
            let value = if takes_value {
                match inline {
                    Some(v) => Some(v),
                    None => Some(args.next().ok_or_else(|| {
                        UsageError(format!("option '{name}' requires an argument"))
                    })?),
                }
            } else if inline.is_some() {
                return Err(UsageError(format!(
                    "option '{name}' doesn't allow an argument"
                )));
            } else {
                None
            };
            let value = value.unwrap_or_default();
            match name.as_str() {
                "h" => help = true,
                "V" => version = true,
                "d" => o.daemon = true,
                "v" => o.verbose = o.verbose.saturating_add(1),
                "q" => o.quiet = true,
                "k" => {
                    if !value.starts_with('/') {
                        return Err(UsageError("socket path must be absolute".into()));
                    }
                    o.socket = PathBuf::from(value);
                    o.socket_given = true;
                }
                "f" => {
                    o.pidfile = PathBuf::from(value);
                    o.pidfile_given = true;
                }
                "T" => o.trace.push(value),
                "u" => o.user = Some(value),
                "g" => o.group = Some(value),
                "timeout" => o.timeout = parse_timeout(&value)?,
                "track" => o.track = true,
                "map-as-device" => o.map_as_device = true,
                "control" => {
                    if !value.starts_with('/') {
                        return Err(UsageError("control socket path must be absolute".into()));
                    }
                    o.control = Some(PathBuf::from(value));
                    o.track = true;
                }
                _ => return Err(UsageError(format!("invalid option '{name}'"))),
            }
        }
    }
    Ok(if help {
        Command::Help
    } else if version {
        Command::Version
    } else {
        Command::Run(o)
    })
}

/// The targets a `-T` argument enables, and the log file it names, if any.
pub fn trace_spec(arg: &str) -> (Vec<String>, Option<PathBuf>) {
    let mut patterns = Vec::new();
    let mut file = None;
    for part in arg.split(',') {
        if let Some(f) = part.strip_prefix("file=") {
            file = Some(PathBuf::from(f));
        } else if part.starts_with("events=") || part.is_empty() {
            // An events file of QEMU trace-event names: nothing maps to it here.
        } else {
            patterns.push(part.strip_prefix("enable=").unwrap_or(part).to_owned());
        }
    }
    (patterns, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        match parse(args.iter().copied()) {
            Ok(Command::Run(o)) => o,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn defaults_are_qemu_pr_helpers() {
        let o = run(&[]);
        assert_eq!(o.socket, PathBuf::from("/var/run/qemu-pr-helper.sock"));
        assert_eq!(o.pidfile, PathBuf::from("/var/run/qemu-pr-helper.pid"));
        assert_eq!((o.verbose, o.quiet, o.daemon), (1, false, false));
    }

    #[test]
    fn getopt_forms_are_accepted() {
        let o = run(&[
            "-k/run/a.sock",
            "-f",
            "/run/p",
            "-dvv",
            "-u",
            "nobody",
            "--group=disk",
        ]);
        assert_eq!(o.socket, PathBuf::from("/run/a.sock"));
        assert!(o.socket_given && o.pidfile_given && o.daemon);
        assert_eq!(o.verbose, 3);
        assert_eq!(
            (o.user.as_deref(), o.group.as_deref()),
            (Some("nobody"), Some("disk"))
        );
        let o = run(&[
            "--socket",
            "/x",
            "--quiet",
            "-T",
            "enable=pr_*,file=/tmp/t",
            "--timeout=2.5",
        ]);
        assert_eq!(o.socket, PathBuf::from("/x"));
        assert!(o.quiet);
        assert_eq!(o.timeout, Duration::from_millis(2500));
        assert_eq!(
            trace_spec(&o.trace[0]),
            (vec!["pr_*".to_owned()], Some(PathBuf::from("/tmp/t")))
        );
        assert_eq!(parse(["-h"]), Ok(Command::Help));
        assert_eq!(parse(["--version"]), Ok(Command::Version));
        assert!(run(&["--track", "--map-as-device"]).track);
        let o = run(&["--control=/run/c.sock"]);
        assert!(o.track);
        assert_eq!(o.control, Some(PathBuf::from("/run/c.sock")));
    }

    #[test]
    fn bad_command_lines_are_refused() {
        for bad in [
            &["-k", "relative.sock"][..],
            &["-x"],
            &["--nope"],
            &["-k"],
            &["--daemon=yes"],
            &["extra"],
            &["--timeout=0"],
            &["--timeout=abc"],
            &["--control=rel.sock"],
        ] {
            assert!(parse(bad.iter().copied()).is_err(), "{bad:?}");
        }
    }
}
