//! `prsdk completions bash|zsh|fish` and `prsdk man` through the binary: each script is
//! valid for its shell (`bash -n`, `zsh -n`, `fish --no-execute`), bash's and fish's
//! complete real command lines, and the man page renders without a warning
//! (`groff -man -ww -z`, `man --warnings -l`). Needs bash, zsh, fish, groff and man
//! (`lab/setup.sh` installs them); a missing one fails the test, naming it. That every
//! option the parsers accept is in the completions and the man page is checked by the
//! unit tests of `pr_cli::generate`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `prsdk ARGS`; returns (exit status, stdout, stderr).
fn prsdk(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_prsdk"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("prsdk runs");
    (
        out.status.code().expect("exit status"),
        String::from_utf8(out.stdout).expect("utf-8"),
        String::from_utf8(out.stderr).expect("utf-8"),
    )
}

/// Runs `program ARGS` with `env`, or fails the test saying the program is missing.
fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} cannot run ({e}): install it (lab/setup.sh installs it)")
        })
}

/// The output of `prsdk ARGS` in a temporary file.
fn saved(args: &[&str]) -> tempfile::NamedTempFile {
    let (code, text, err) = prsdk(args);
    assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
    let mut f = tempfile::NamedTempFile::new().expect("temporary file");
    f.write_all(text.as_bytes()).expect("write");
    f
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "status {:?}, stderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn bash_completion_is_valid_and_completes() {
    let script = saved(&["completions", "bash"]);
    let path = script.path().to_str().expect("utf-8 path");
    ok(&run("bash", &["-n", path], &[]));
    // COMPREPLY for a command line whose last word is being completed.
    let complete = |words: &[&str]| -> Vec<String> {
        let mut args = vec![
            "-c",
            "source \"$0\"; COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); _prsdk; printf '%s\\n' \"${COMPREPLY[@]}\"",
            path,
        ];
        args.extend_from_slice(words);
        ok(&run("bash", &args, &[]))
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        complete(&["prsdk", "reg"]),
        ["register", "register-and-move"]
    );
    assert_eq!(complete(&["prsdk", "--sim", "reserve", "--ty"]), ["--type"]);
    assert_eq!(
        complete(&["prsdk", "reserve", "--type", "wr"]),
        ["wr_ex", "wr_ex_ro", "wr_ex_ar"]
    );
    // --type=VALUE: bash splits the word at '='.
    assert_eq!(
        complete(&["prsdk", "fence", "--type", "=", "ex_ac_"]),
        ["ex_ac_ro", "ex_ac_ar"]
    );
    assert_eq!(
        complete(&["prsdk", "--key", "1", "reserve", "--key", ""]),
        Vec::<String>::new()
    );
    assert_eq!(
        complete(&["prsdk", "--sim", "keys", "mpath"]),
        ["mpatha", "mpathb", "mpathc"]
    );
    assert_eq!(complete(&["prsdk", "clear", "--k"]), ["--key"]);
    assert_eq!(
        complete(&["prsdk", "completions", ""]),
        ["bash", "zsh", "fish"]
    );
    assert_eq!(
        complete(&["prsdk", "sg_persist", "--read-k"]),
        ["--read-keys"]
    );
    assert_eq!(
        complete(&["prsdk", "mpathpersist", "--batch"]),
        ["--batch-file"]
    );
    assert_eq!(complete(&["prsdk", "sim", "--no"]), ["--node2-paths"]);
    assert_eq!(complete(&["prsdk", "--vers"]), ["--version"]);
}

#[test]
fn zsh_completion_is_valid() {
    let script = saved(&["completions", "zsh"]);
    let path = script.path().to_str().expect("utf-8 path");
    ok(&run("zsh", &["-n", path], &[]));
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.starts_with("#compdef prsdk\n"));
    // Loads as compinit would autoload it, defining the function without errors.
    let loaded = ok(&run(
        "zsh",
        &[
            "-f",
            "-c",
            "autoload -Uz compinit && compinit -u -D; source \"$1\" 2>/dev/null; whence -w _prsdk _prsdk_targets",
            "zsh",
            path,
        ],
        &[],
    ));
    assert_eq!(loaded, "_prsdk: function\n_prsdk_targets: function\n");
}

#[test]
fn fish_completion_is_valid_and_completes() {
    let script = saved(&["completions", "fish"]);
    let path = script.path().to_str().expect("utf-8 path");
    ok(&run("fish", &["--no-execute", path], &[]));
    let complete = |line: &str| -> Vec<String> {
        let out = ok(&run(
            "fish",
            &[
                "--no-config",
                "-c",
                "source $argv[1]; complete -C $argv[2]",
                path,
                line,
            ],
            &[],
        ));
        out.lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(complete("prsdk reg"), ["register", "register-and-move"]);
    assert_eq!(complete("prsdk --sim reserve --ty"), ["--type"]);
    assert_eq!(
        complete("prsdk reserve --type wr"),
        ["wr_ex", "wr_ex_ar", "wr_ex_ro"]
    );
    assert_eq!(complete("prsdk --key 1 fence --pre"), ["--preempt"]);
    assert_eq!(complete("prsdk completions "), ["bash", "fish", "zsh"]);
    assert_eq!(complete("prsdk sg_persist --read-k"), ["--read-keys"]);
    assert!(complete("prsdk --sim keys mpath").contains(&"mpathb".to_owned()));
}

#[test]
fn man_page_renders_without_warnings() {
    let page = saved(&["man"]);
    let path = page.path().to_str().expect("utf-8 path");
    let groff = run("groff", &["-man", "-ww", "-z", path], &[]);
    ok(&groff);
    let text = ok(&run(
        "man",
        &["--warnings", "-l", path],
        &[
            ("MANWIDTH", "80"),
            ("MAN_KEEP_FORMATTING", ""),
            ("LC_ALL", "C.UTF-8"),
        ],
    ));
    for heading in [
        "NAME",
        "SYNOPSIS",
        "COMMANDS",
        "OPTIONS",
        "THE SG_PERSIST PERSONALITY",
        "THE MPATHPERSIST PERSONALITY",
        "EXIT STATUS",
        "JSON OUTPUT",
    ] {
        assert!(text.contains(&format!("\n{heading}\n")), "{heading}");
    }
    assert!(text.contains("schema 1"), "JSON schema pointer");
}

#[test]
fn help_completions_and_man_on_the_command_line() {
    let (code, help, _) = prsdk(&["help", "reserve"]);
    assert_eq!(code, 0);
    assert!(help.starts_with("Usage: prsdk [OPTIONS] reserve --key K --type TYPE TARGET...\n"));
    assert_eq!(
        prsdk(&["reserve", "--help"]),
        (0, help.clone(), String::new())
    );
    assert_eq!(
        prsdk(&["--sim", "reserve", "--help"]),
        (0, help, String::new())
    );
    let (code, all, _) = prsdk(&["help"]);
    assert_eq!((code, prsdk(&["--help"]).1), (0, all.clone()));
    assert_eq!(prsdk(&["--json", "--help"]).1, all);
    assert_eq!(
        prsdk(&["help", "frob"]),
        (
            1,
            String::new(),
            "prsdk help: unknown command 'frob'\nTry 'prsdk --help'.\n".into()
        )
    );
    let (code, sg, _) = prsdk(&["help", "sg_persist"]);
    assert_eq!(code, 0);
    assert!(
        sg.contains("-X, --transport-id, --transport_id TIDS"),
        "{sg}"
    );
    assert_eq!(
        prsdk(&["completions", "tcsh"]),
        (
            1,
            String::new(),
            "prsdk completions: give one shell: bash, zsh, fish\n".into()
        )
    );
    assert_eq!(prsdk(&["completions"]).0, 1);
    assert_eq!(prsdk(&["man", "x"]).0, 1);
}
