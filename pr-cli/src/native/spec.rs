//! The one definition of `prsdk`'s command line: native mode's commands and options (names,
//! value names, help lines, which options take values and which values they allow, which
//! options each command takes), the other tools of the binary (`sg_persist`,
//! `mpathpersist`, `sim`, `help`, `completions`, `man`) and the exit statuses. The native
//! parser ([`super::run`]) reads these tables; so do `prsdk --help`, `prsdk help COMMAND`,
//! the shell completions and the man page ([`crate::generate`]), so none of them can
//! drift from what the parser accepts.

use pr_core::types::ReservationType;

/// A native option, as the parser records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opt {
    /// `--json`.
    Json,
    /// `--all-maps`.
    AllMaps,
    /// `-v`, `--verbose`.
    Verbose,
    /// `--help`.
    Help,
    /// `--sim`.
    Sim,
    /// `--topology`.
    Topology,
    /// `--node`.
    Node,
    /// `--fresh`.
    Fresh,
    /// `--down`.
    Down,
    /// `--script`.
    Script,
    /// `--key`.
    Key,
    /// `--old-key`.
    OldKey,
    /// `--victim`.
    Victim,
    /// `--dest-key`.
    DestKey,
    /// `--type`.
    Type,
    /// `--transport-id`.
    TransportId,
    /// `--all-tg-pt`.
    AllTgPt,
    /// `--rtp`.
    Rtp,
    /// `--ignore`.
    Ignore,
    /// `--aptpl`.
    Aptpl,
    /// `--abort`.
    Abort,
    /// `--unreg`.
    Unreg,
    /// `--preempt`.
    Preempt,
    /// `--shared`.
    Shared,
    /// `--force`.
    Force,
    /// `--file-lockspace`.
    FileLockspace,
    /// `--scsi-lockspace`.
    ScsiLockspace,
    /// `--lvm-lockspace`.
    LvmLockspace,
}

/// Whether an option takes a value, and how its value is completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// No value; giving it twice is the same as once.
    Flag,
    /// No value; counted (`-v`, `-vv`, `--verbose --verbose`).
    Count,
    /// A value named `name` (`--key KEY` or `--key=KEY`).
    Value {
        /// The value's name in help texts.
        name: &'static str,
        /// What completes it.
        complete: Complete,
        /// Whether the option may be given more than once (each value kept).
        repeat: bool,
    },
}

/// What the shell completions offer for a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Complete {
    /// Nothing (a key, a number, free text).
    Nothing,
    /// The reservation types: [`type_values`].
    Types,
    /// A file name (or `-`).
    File,
}

/// Where an option applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every command.
    Global,
    /// The simulated cluster: only with `--sim`.
    Sim,
    /// Only the commands that list it ([`Command::options`]); elsewhere the parser accepts
    /// it and the command refuses it ("--type does not apply to clear").
    Command,
}

/// One native option.
#[derive(Clone, Copy, Debug)]
pub struct OptSpec {
    /// What the parser records.
    pub id: Opt,
    /// The long name, without `--`.
    pub long: &'static str,
    /// The short option character, if any.
    pub short: Option<char>,
    /// Whether it takes a value.
    pub arg: Arg,
    /// Where it applies.
    pub scope: Scope,
    /// One help line (the commands' own lines say more, [`CmdOpt::help`]).
    pub help: &'static str,
}

const fn flag(id: Opt, long: &'static str, scope: Scope, help: &'static str) -> OptSpec {
    OptSpec {
        id,
        long,
        short: None,
        arg: Arg::Flag,
        scope,
        help,
    }
}

const fn value(
    id: Opt,
    long: &'static str,
    name: &'static str,
    complete: Complete,
    scope: Scope,
    help: &'static str,
) -> OptSpec {
    OptSpec {
        id,
        long,
        short: None,
        arg: Arg::Value {
            name,
            complete,
            repeat: false,
        },
        scope,
        help,
    }
}

const fn repeated(mut o: OptSpec) -> OptSpec {
    if let Arg::Value { name, complete, .. } = o.arg {
        o.arg = Arg::Value {
            name,
            complete,
            repeat: true,
        };
    }
    o
}

use Complete::{File, Nothing, Types};
use Scope::{Command as Cmd, Global, Sim};

/// Every native option. The command-scoped ones are in the order a command checks them
/// ("--X does not apply to COMMAND" names the first one, in this order).
pub const OPTIONS: &[OptSpec] = &[
    flag(
        Opt::Json,
        "json",
        Global,
        "print one JSON document (schema 1) on standard output",
    ),
    flag(
        Opt::AllMaps,
        "all-maps",
        Global,
        "take every dm-multipath map (of this host, or of the simulated node) as the targets",
    ),
    OptSpec {
        id: Opt::Verbose,
        long: "verbose",
        short: Some('v'),
        arg: Arg::Count,
        scope: Global,
        help: "pr-multipath's tracing events on standard error: -v info, -vv debug, -vvv trace",
    },
    flag(
        Opt::Help,
        "help",
        Global,
        "print the command's help and exit",
    ),
    flag(
        Opt::Sim,
        "sim",
        Sim,
        "run on a simulated cluster (pr-sim with LIO's behaviour), not on this host's devices",
    ),
    value(
        Opt::Topology,
        "topology",
        "NODESxPATHSxLUNS",
        Nothing,
        Sim,
        "the simulated cluster's size (default 2x2x3; nodes 1-8, paths 1-8, LUNs 1-256)",
    ),
    value(
        Opt::Node,
        "node",
        "N",
        Nothing,
        Sim,
        "run as simulated node N (default 1)",
    ),
    flag(
        Opt::Fresh,
        "fresh",
        Sim,
        "start with no registrations (else node 1 holds WR_EX_RO with 0x1111 on every LUN and node n is registered with 0x1111 x n)",
    ),
    repeated(value(
        Opt::Down,
        "down",
        "PATH",
        Nothing,
        Sim,
        "mark the node's path PATH (nNpPlL) failed; repeatable",
    )),
    value(
        Opt::Script,
        "script",
        "FILE",
        File,
        Sim,
        "run FILE's command lines (- for standard input), one a line, on one simulated cluster",
    ),
    value(
        Opt::Key,
        "key",
        "KEY",
        Nothing,
        Cmd,
        "this host's reservation key",
    ),
    value(
        Opt::OldKey,
        "old-key",
        "KEY",
        Nothing,
        Cmd,
        "the key registered now",
    ),
    value(
        Opt::Victim,
        "victim",
        "KEY",
        Nothing,
        Cmd,
        "the key to remove",
    ),
    value(
        Opt::DestKey,
        "dest-key",
        "KEY",
        Nothing,
        Cmd,
        "the key of the destination of REGISTER AND MOVE",
    ),
    value(
        Opt::Type,
        "type",
        "TYPE",
        Types,
        Cmd,
        "the reservation type",
    ),
    repeated(value(
        Opt::TransportId,
        "transport-id",
        "TID",
        Nothing,
        Cmd,
        "a TransportID, as sg_persist's -X text (sas,ADDR, fcp,WWN, iqn.NAME[,i,0xISID], ...)",
    )),
    flag(
        Opt::AllTgPt,
        "all-tg-pt",
        Cmd,
        "ALL_TG_PT: register on every target port",
    ),
    value(
        Opt::Rtp,
        "rtp",
        "N",
        Nothing,
        Cmd,
        "the destination's relative target port (0-65535)",
    ),
    flag(
        Opt::Ignore,
        "ignore",
        Cmd,
        "REGISTER AND IGNORE EXISTING KEY",
    ),
    flag(
        Opt::Aptpl,
        "aptpl",
        Cmd,
        "APTPL: keep the registrations through a power loss",
    ),
    flag(Opt::Abort, "abort", Cmd, "PREEMPT AND ABORT"),
    flag(Opt::Unreg, "unreg", Cmd, "unregister the source I_T nexus"),
    flag(
        Opt::Preempt,
        "preempt",
        Cmd,
        "PREEMPT instead of PREEMPT AND ABORT",
    ),
    flag(
        Opt::Shared,
        "shared",
        Cmd,
        "a shared lock (libvirt's <shareable/>)",
    ),
    flag(
        Opt::Force,
        "force",
        Cmd,
        "fence the LUN's other holders instead of failing",
    ),
    value(
        Opt::FileLockspace,
        "file-lockspace",
        "DIR",
        File,
        Cmd,
        "lockd.conf's file_lockspace_dir: locks named by the SHA-256 of the disk path",
    ),
    value(
        Opt::ScsiLockspace,
        "scsi-lockspace",
        "DIR",
        File,
        Cmd,
        "lockd.conf's scsi_lockspace_dir: locks named by the disk's SCSI ID (scsi_id)",
    ),
    value(
        Opt::LvmLockspace,
        "lvm-lockspace",
        "DIR",
        File,
        Cmd,
        "lockd.conf's lvm_lockspace_dir: locks named by the volume's LVM UUID (lvs)",
    ),
];

/// The option `long` (without `--`), if native mode has it.
pub fn option(long: &str) -> Option<&'static OptSpec> {
    OPTIONS.iter().find(|o| o.long == long)
}

/// The definition of `id`.
pub fn spec_of(id: Opt) -> &'static OptSpec {
    // Every `Opt` has its entry (a unit test checks it); `Json` as the impossible fallback.
    OPTIONS.iter().find(|o| o.id == id).unwrap_or(&OPTIONS[0])
}

/// Whether a command requires an option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// The command fails without it ("--key is required").
    Required,
    /// It may be left out.
    Optional,
}

/// One option of one command.
#[derive(Clone, Copy, Debug)]
pub struct CmdOpt {
    /// The option.
    pub id: Opt,
    /// Whether the command requires it.
    pub need: Need,
    /// Its value's name in this command (`NEW`, `K`), or `""` for the option's own.
    pub value: &'static str,
    /// What it means to this command.
    pub help: &'static str,
}

const fn req(id: Opt, value: &'static str, help: &'static str) -> CmdOpt {
    CmdOpt {
        id,
        need: Need::Required,
        value,
        help,
    }
}

const fn opt(id: Opt, value: &'static str, help: &'static str) -> CmdOpt {
    CmdOpt {
        id,
        need: Need::Optional,
        value,
        help,
    }
}

/// What a command does with its targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A PR IN read.
    Read,
    /// `show`.
    Show,
    /// A PR OUT action on each target.
    Out,
    /// `fence` / `unfence`: all targets at once.
    Fleet,
    /// `lock`: one disk, and a command to run while holding its lock.
    Lock,
}

/// One native command.
#[derive(Clone, Copy, Debug)]
pub struct Command {
    /// Its name.
    pub name: &'static str,
    /// What it does with its targets.
    pub kind: Kind,
    /// Its options (beyond the global ones), in help order.
    pub options: &'static [CmdOpt],
    /// One line.
    pub summary: &'static str,
    /// A paragraph for `prsdk help COMMAND` and the man page (`""`: none).
    pub details: &'static str,
}

const KEY_HERE: &str = "this host's reservation key";

/// The native commands, in help order.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "keys",
        kind: Kind::Read,
        options: &[],
        summary: "READ KEYS on each target: the PR generation and the registered keys",
        details: "",
    },
    Command {
        name: "reservation",
        kind: Kind::Read,
        options: &[],
        summary: "READ RESERVATION on each target: the holder's key and the type",
        details: "",
    },
    Command {
        name: "capabilities",
        kind: Kind::Read,
        options: &[],
        summary: "REPORT CAPABILITIES on each target: the types and flags it supports",
        details: "",
    },
    Command {
        name: "status",
        kind: Kind::Read,
        options: &[],
        summary: "READ FULL STATUS on each target: every registration with its port and TransportID",
        details: "",
    },
    Command {
        name: "show",
        kind: Kind::Show,
        options: &[],
        summary: "every map's reservation state (or the maps named): the multipath -ll of reservations",
        details: "For each map: the PR generation, the holder and the type, each path with its state (up or down) and its key (\"0x1111 holder\", \"not registered\", or \"unknown\" where the path's I_T nexus is not known), and the other hosts' keys. Without targets, every map of this host (or of the simulated node).",
    },
    Command {
        name: "register",
        kind: Kind::Out,
        options: &[
            req(Opt::Key, "NEW", "the key to register; 0 unregisters"),
            opt(
                Opt::OldKey,
                "OLD",
                "the key registered now (default 0: none)",
            ),
            opt(
                Opt::Ignore,
                "",
                "REGISTER AND IGNORE EXISTING KEY: whatever key is registered now",
            ),
            opt(
                Opt::Aptpl,
                "",
                "APTPL: keep the registrations through a power loss",
            ),
            opt(
                Opt::AllTgPt,
                "",
                "ALL_TG_PT: one registration per SCSI host, for every target port",
            ),
            opt(
                Opt::TransportId,
                "",
                "SPEC_I_PT: register these TransportIDs too (repeatable), through the first path",
            ),
        ],
        summary: "REGISTER on every path of each target (--key 0: unregister)",
        details: "REGISTER (REGISTER AND IGNORE EXISTING KEY with --ignore) on every path of each target; with ALL_TG_PT, one per SCSI host. With --transport-id, the first path sends SPEC_I_PT with those TransportIDs and the other paths a plain REGISTER.",
    },
    Command {
        name: "reserve",
        kind: Kind::Out,
        options: &[
            req(Opt::Key, "K", KEY_HERE),
            req(Opt::Type, "", "the reservation type"),
        ],
        summary: "RESERVE each target with type TYPE",
        details: "",
    },
    Command {
        name: "release",
        kind: Kind::Out,
        options: &[
            req(Opt::Key, "K", KEY_HERE),
            req(Opt::Type, "", "the type of the reservation held"),
        ],
        summary: "RELEASE each target's reservation (with pr-multipath's failed-path workaround)",
        details: "",
    },
    Command {
        name: "clear",
        kind: Kind::Out,
        options: &[req(Opt::Key, "K", KEY_HERE)],
        summary: "CLEAR: remove every registration and the reservation of each target",
        details: "",
    },
    Command {
        name: "preempt",
        kind: Kind::Out,
        options: &[
            req(Opt::Key, "K", KEY_HERE),
            req(Opt::Victim, "V", "the key whose registrations are removed"),
            req(Opt::Type, "", "the type of the reservation taken"),
            opt(Opt::Abort, "", "PREEMPT AND ABORT: abort V's commands too"),
        ],
        summary: "PREEMPT: remove V's registrations (and reservation) on each target",
        details: "",
    },
    Command {
        name: "register-and-move",
        kind: Kind::Out,
        options: &[
            req(Opt::Key, "K", "the key holding the reservation here"),
            req(Opt::DestKey, "D", "the key registered for the destination"),
            req(Opt::Type, "", "the type of the reservation moved"),
            req(
                Opt::TransportId,
                "",
                "the destination I_T nexus's TransportID (one), as sg_persist's -X text",
            ),
            req(
                Opt::Rtp,
                "",
                "the destination's relative target port (0-65535)",
            ),
            opt(Opt::Unreg, "", "unregister the source I_T nexus"),
            opt(Opt::Aptpl, "", "APTPL"),
        ],
        summary: "REGISTER AND MOVE the reservation to another I_T nexus",
        details: "TID is sg_persist's -X text: sas,5001405..., fcp,..., iqn.NAME,i,0xISID, ...",
    },
    Command {
        name: "replace-lost-reservation",
        kind: Kind::Out,
        options: &[
            req(Opt::Key, "NEW", "the new key"),
            req(Opt::Type, "", "the reservation type"),
        ],
        summary: "REPLACE LOST RESERVATION (LIO, and so the simulator, answers ILLEGAL REQUEST)",
        details: "",
    },
    Command {
        name: "fence",
        kind: Kind::Fleet,
        options: &[
            req(Opt::Key, "K", KEY_HERE),
            req(Opt::Victim, "V", "the key of the host to fence"),
            opt(
                Opt::Type,
                "",
                "the reservation type taken (default wr_ex_ro)",
            ),
            opt(Opt::Preempt, "", "PREEMPT instead of PREEMPT AND ABORT"),
        ],
        summary: "remove V from every target at once (PREEMPT AND ABORT of V's key)",
        details: "pr-multipath's fleet fence on every target at once. Idempotent: a LUN where V is already gone and K registered is reported \"already fenced\" and counts as success. On a terminal, standard error shows a progress line while it runs.",
    },
    Command {
        name: "unfence",
        kind: Kind::Fleet,
        options: &[req(Opt::Key, "K", KEY_HERE)],
        summary: "register K on every path of every target (REGISTER AND IGNORE EXISTING KEY)",
        details: "",
    },
    Command {
        name: "lock",
        kind: Kind::Lock,
        options: &[
            opt(
                Opt::Key,
                "K",
                "this host's reservation key (distinct per host); without it, the lock file only",
            ),
            opt(Opt::Shared, "", "a shared lock (libvirt's <shareable/>)"),
            opt(
                Opt::Force,
                "",
                "fence the LUN's other holders (PREEMPT AND ABORT) instead of failing",
            ),
            opt(
                Opt::FileLockspace,
                "",
                "lockd.conf's file_lockspace_dir (lock named by the SHA-256 of DISK as given)",
            ),
            opt(
                Opt::ScsiLockspace,
                "",
                "lockd.conf's scsi_lockspace_dir (lock named by DISK's SCSI ID)",
            ),
            opt(
                Opt::LvmLockspace,
                "",
                "lockd.conf's lvm_lockspace_dir (lock named by DISK's LVM UUID)",
            ),
        ],
        summary: "lock DISK as virtlockd does and with a reservation, run COMMAND, release, exit with COMMAND's status",
        details: "pr-lock's DiskLock, like flock(1): takes the lock file virtlockd would take (same directory, name and fcntl lock; named as libvirt's lockd.conf settings given as --file-lockspace, --scsi-lockspace, --lvm-lockspace say, or a lease on DISK itself when none is given; the directory must exist), then with --key the LUN's reservation (exclusive: Write Exclusive Registrants Only, --shared: Write Exclusive All Registrants; a disk that is not a SCSI device gets the lock file only), runs COMMAND (not a shell; it does not inherit the lock file's descriptor), and releases both when COMMAND ends. Exits with COMMAND's status (128+N when a signal N ended it), 4 when the disk is held by another process or host (the message names the holder's key), 126 or 127 when COMMAND cannot be run, 7 when releasing failed after COMMAND succeeded. While COMMAND runs, prsdk ignores SIGINT and SIGQUIT (as system(3) does: Ctrl-C reaches COMMAND, and prsdk lives to release). The lock lives with this process: if prsdk is killed, the lock file is released by the kernel but a reservation stays on the LUN. With --sim, DISK is a simulated map (/dev/mapper/mpatha) and the lock file is still a real file.",
    },
];

/// The native command `name`, if there is one.
pub fn command(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// What the native commands take as TARGET.
pub const TARGETS: &str = "a map name, /dev/mapper/NAME, /dev/dm-N (the map's paths, with pr-multipath's fan-out and failed-path handling), /dev/sdX or /dev/sgN (that device alone); several targets run in order, each with its own result; or --all-maps. With --sim: the maps mpatha, mpathb, ... and the paths nNpPlL (node N-1, path P, LUN L, from 0).";

/// What keys look like.
pub const KEYS: &str = "0x-prefixed hex (up to 16 digits) or decimal, up to 64 bits; 0 is no key.";

/// The values `--type` accepts, for completions and help: each type's short name in
/// lower case, then the codes.
pub fn type_values() -> Vec<String> {
    let names = ReservationType::ALL
        .iter()
        .map(|t| t.short_name().to_ascii_lowercase());
    let codes = ReservationType::ALL.iter().map(|t| t.code().to_string());
    names.chain(codes).collect()
}

/// One tool of the binary beside native mode.
#[derive(Clone, Copy, Debug)]
pub struct Tool {
    /// The first argument that selects it.
    pub name: &'static str,
    /// What follows the name.
    pub synopsis: &'static str,
    /// What it does, in a few words (the completions' descriptions).
    pub brief: &'static str,
    /// What it does.
    pub summary: &'static str,
}

/// The tools selected by the first argument (`prsdk NAME ...`).
pub const TOOLS: &[Tool] = &[
    Tool {
        name: "sg_persist",
        brief: "Debian 12's sg_persist (sg3_utils 1.46)",
        synopsis: "[sg_persist options] DEVICE",
        summary: "Debian 12's sg_persist (sg3_utils 1.46): same options, output and exit statuses (also when prsdk is invoked through a link named sg_persist)",
    },
    Tool {
        name: "mpathpersist",
        brief: "Debian 12's mpathpersist (multipath-tools 0.9.4), or 0.15",
        synopsis: "[--compat VERSION] [mpathpersist options] DEVICE",
        summary: "Debian 12's mpathpersist (multipath-tools 0.9.4): same options, output and exit statuses (also through a link named mpathpersist); with --compat 0.15 (first), a link named mpathpersist-0.15 or PRSDK_MPATHPERSIST=0.15, current upstream's mpathpersist (0.15.1) where it prints otherwise (REPORT CAPABILITIES, READ FULL STATUS past 30 descriptors)",
    },
    Tool {
        name: "sim",
        brief: "sg_persist and mpathpersist command lines on a simulated LUN",
        synopsis: "[--paths N] [--node2-paths M]",
        summary: "reads sg_persist and mpathpersist command lines from standard input, one a line (sg_persist -n -o -I -S 0x1111 path1, mpathpersist -i -k map1), and runs them on one simulated LIO LUN seen through N paths of node 1 (default 2) and M of node 2 (default 2), named path1, path2, ...; map1 is node 1's multipath map, map2 node 2's; prints each command, its output and its exit status",
    },
    Tool {
        name: "libvirt-hook",
        brief: "libvirt's qemu hook: hold a domain's disk locks while it runs",
        synopsis: "[--config FILE] qemu DOMAIN OP SUB-OP EXTRA",
        summary: "libvirt's qemu hook (install /etc/libvirt/hooks/qemu as a script that runs exec prsdk libvirt-hook qemu \"$@\"), reading the domain XML on standard input and printing nothing on standard output. On prepare begin it starts a detached holder (prsdk libvirt-hook holder DOMAIN, its pid file STATE/DOMAIN.pid) that takes the lock of every disk libvirt's lockd would lock (file, block and dir disks; <shareable/> shared; read-only disks, CD-ROMs, empty drives and network disks are not locked; a volume disk is refused), all or nothing, and exits 0 once they are held, else 4 when a disk is held by another process or host (standard error names the disk and the holder; libvirt then refuses to start the domain with that message), 2 for a missing lockspace directory or a volume disk, 1 for a bad configuration or domain XML, 7 otherwise. On release end it signals the holder (SIGTERM), waits for it to release and exit (release_timeout) and reports failures. Every other operation does nothing. The configuration (FILE, else $PRSDK_LIBVIRT_HOOK_CONF, else /etc/pr-sdk/libvirt-hook.conf) says hold = \"reservation\" (reservations only, beside libvirt's lock_manager = \"lockd\"; needs key) or \"both\" (lock files and reservations: libvirt without a lock manager), key = \"0x...\" (this host's reservation key, distinct per host), the lockspace directories (file_lockspace_dir, scsi_lockspace_dir, lvm_lockspace_dir; by default those of lockd_conf, /etc/libvirt/qemu-lockd.conf), file_lock_decides_liveness, state_dir (/run/pr-sdk/libvirt-hook) and release_timeout (60 s); see pr-lock/README.md",
    },
    Tool {
        name: "help",
        brief: "this help, or one command's",
        synopsis: "[COMMAND]",
        summary: "this help, or one command's",
    },
    Tool {
        name: "completions",
        brief: "the shell completion script",
        synopsis: "bash|zsh|fish",
        summary: "print the shell completion script for bash, zsh or fish",
    },
    Tool {
        name: "man",
        brief: "the manual page prsdk(1)",
        synopsis: "",
        summary: "print the manual page prsdk(1) (roff)",
    },
];

/// The options of `prsdk sim`: name, value name, help.
pub const SIM_TOOL_OPTIONS: &[(&str, &str, &str)] = &[
    (
        "paths",
        "N",
        "node 1's paths to the simulated LUN (1-16, default 2)",
    ),
    (
        "node2-paths",
        "M",
        "node 2's paths to the simulated LUN (0-16, default 2)",
    ),
];

/// The options of `prsdk libvirt-hook`: name, value name, help.
pub const LIBVIRT_HOOK_OPTIONS: &[(&str, &str, &str)] = &[(
    "config",
    "FILE",
    "the hook's configuration (default $PRSDK_LIBVIRT_HOOK_CONF, else /etc/pr-sdk/libvirt-hook.conf)",
)];

/// The options of the tool `name` (`sim`, `libvirt-hook`): name, value name, help.
pub fn tool_options(name: &str) -> &'static [(&'static str, &'static str, &'static str)] {
    match name {
        "sim" => SIM_TOOL_OPTIONS,
        "libvirt-hook" => LIBVIRT_HOOK_OPTIONS,
        _ => &[],
    }
}

/// The shells `prsdk completions` writes for.
pub const SHELLS: &[&str] = &["bash", "zsh", "fish"];

/// Native mode's exit statuses and what they mean.
pub const EXIT_STATUSES: &[(i32, &str)] = &[
    (
        super::EXIT_OK,
        "every target succeeded (an already fenced LUN counts as success)",
    ),
    (
        super::EXIT_USAGE,
        "bad command line: unknown command or option, bad key, type, TransportID or number, a missing or contradicting option, no target",
    ),
    (
        super::EXIT_TARGET,
        "a target could not be opened: no such map or device, not a SCSI device",
    ),
    (
        super::EXIT_PERMISSION,
        "the operating system refused access (not root, no CAP_SYS_RAWIO)",
    ),
    (
        super::EXIT_CONFLICT,
        "RESERVATION CONFLICT; for lock: the disk is held by another process or host",
    ),
    (
        super::EXIT_ILLEGAL,
        "ILLEGAL REQUEST, or the transport cannot carry the request",
    ),
    (
        super::EXIT_DEVICE,
        "no path could carry the command, or another device error",
    ),
    (
        super::EXIT_OTHER,
        "anything else (configured key mismatch, safety check, system trouble, cancelled, internal error)",
    ),
];

/// Where the JSON documents of `--json` are described.
pub const JSON_SCHEMA_POINTER: &str = "pr-cli/README.md, section \"JSON (--json, schema 1)\", in the PR SDK's sources; the \"schema\" member changes only when a member is removed or changes meaning";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_once_and_every_command_option_defined() {
        for (i, o) in OPTIONS.iter().enumerate() {
            assert!(
                OPTIONS[..i]
                    .iter()
                    .all(|p| p.long != o.long && p.id != o.id),
                "{} twice",
                o.long
            );
            assert_eq!(spec_of(o.id).long, o.long);
        }
        for c in COMMANDS {
            for co in c.options {
                assert_eq!(spec_of(co.id).scope, Scope::Command, "{}", c.name);
                assert!(
                    co.value.is_empty() || matches!(spec_of(co.id).arg, Arg::Value { .. }),
                    "{}: a value name for a flag",
                    c.name
                );
            }
        }
    }

    #[test]
    fn exit_statuses_are_0_to_7_in_order() {
        let codes: Vec<i32> = EXIT_STATUSES.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, (0..=7).collect::<Vec<_>>());
    }

    #[test]
    fn type_values_are_names_and_codes() {
        assert_eq!(
            type_values(),
            [
                "wr_ex", "ex_ac", "wr_ex_ro", "ex_ac_ro", "wr_ex_ar", "ex_ac_ar", "1", "3", "5",
                "6", "7", "8"
            ]
        );
    }
}
