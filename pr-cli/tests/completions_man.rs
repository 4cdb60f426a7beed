//! `prsdk completions bash|zsh|fish` and `prsdk man` through the binary: each script is
//! valid for its shell (`bash -n`, `zsh -n`, `fish --no-execute`), and each completes real
//! command lines (bash's `_prsdk` called directly, fish's `complete -C`, zsh's typed into
//! an interactive zsh through `zsh/zpty`), and the man page renders without a warning
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

/// Drives an interactive `zsh -f` in a pseudo-terminal (`zsh/zpty`): loads compinit with
/// the script's directory in `$fpath`, wraps `compadd` to print each match it is given,
/// types `$2` and TAB, then a key bound to print an end marker. `$1`: the directory.
/// The markers are spelled so that the terminal's echo of these lines does not contain
/// them.
const ZSH_CAPTURE: &str = r#"
zmodload zsh/zpty || exit 2
zpty z zsh -f -i
zpty -w z "PROMPT=''; RPROMPT=''; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z 'zstyle ":completion:*" list-grouped false; zstyle ":completion:*" insert-tab false'
zpty -w z 'compadd () {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
  typeset -a __hits
  builtin compadd -A __hits "$@"
  (( $#__hits )) || return 1
  local h; for h in $__hits; do print -r -- "${:-H}IT:$h"; done
}'
zpty -w z 'bindkey "^I" complete-word'
zpty -w z 'finish() { print -r -- "${:-E}ND:"; }; zle -N finish; bindkey "^X" finish'
zpty -n -w z "$2"$'\t'
zpty -n -w z $'\C-X'
while zpty -r z line; do
  [[ $line == *END:* ]] && break
  [[ $line == *HIT:* ]] && print -r -- "${${line##*HIT:}%%$'\r'*}"
done
zpty -d z
"#;

#[test]
fn zsh_completion_is_valid_and_completes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (code, text, _) = prsdk(&["completions", "zsh"]);
    assert_eq!(code, 0);
    assert!(text.starts_with("#compdef prsdk\n"));
    let script = dir.path().join("_prsdk");
    std::fs::write(&script, &text).expect("write _prsdk");
    ok(&run("zsh", &["-n", script.to_str().expect("utf-8")], &[]));
    let dir_path = dir.path().to_str().expect("utf-8 path");
    let complete = |line: &str| -> Vec<String> {
        // `timeout`: a completion that never ends fails instead of hanging.
        let out = run(
            "timeout",
            &["60", "zsh", "-f", "-c", ZSH_CAPTURE, "zsh", dir_path, line],
            &[("TERM", "dumb")],
        );
        assert!(out.status.success(), "zsh for {line:?}: {:?}", out.status);
        let mut words: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        words.sort();
        words
    };
    assert_eq!(complete("prsdk reg"), ["register", "register-and-move"]);
    assert_eq!(complete("prsdk --sim reserve --ty"), ["--type"]);
    assert_eq!(
        complete("prsdk reserve --type wr"),
        ["wr_ex", "wr_ex_ar", "wr_ex_ro"]
    );
    assert_eq!(complete("prsdk --key 1 fence --p"), ["--preempt"]);
    assert_eq!(
        complete("prsdk --sim keys mpath"),
        ["mpatha", "mpathb", "mpathc"]
    );
    assert_eq!(complete("prsdk completions "), ["bash", "fish", "zsh"]);
    assert_eq!(complete("prsdk sg_persist --read-k"), ["--read-keys"]);
    assert_eq!(complete("prsdk mpathpersist --batch"), ["--batch-file"]);
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
