//! The mpathpersist personality end to end on simulated multipath maps over one LUN with
//! LIO's behaviour (pr-sim), in the lab's tcm_loop topology: `map1` is node 1's map of
//! `path1` (SAS 0x500140a100000000, relative target port 2) and `path2`
//! (0x500140a100000001, port 3), `map2` node 2's map of `path3` (0x500140a200000000,
//! port 1). Each step's standard output and exit status are written out by hand from
//! mpathpersist 0.9.4's formats and exit codes and pr-multipath's semantics (a REGISTER
//! goes down every path of the map, so one command makes two registrations on `map1`):
//! registrations, a reservation, conflicts (11), a RESERVE without a type (LIO: ILLEGAL
//! REQUEST, 5), the full status with its `dumpHex`ed SAS addresses, the capabilities with
//! 0.9.4's type-mask reading, a preempt, a short allocation length, a SAS TransportID
//! read 0.9.4's way (its first 8 characters as bytes: no such initiator, 5), not a map
//! (13), no such device (12), syntax errors (1), and a batch file. No root, no hardware.

use std::io::Write as _;

use pr_cli::mpathpersist::maps::SimMaps;
use pr_cli::mpathpersist::{Io, Version, run};

fn step(maps: &SimMaps, line: &str) -> (i32, String, String) {
    let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut io = Io {
        out: &mut out,
        err: &mut err,
    };
    let code = run(Version::V0_9_4, "mpathpersist", &args, maps, &mut io);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

const CONFLICT: &str =
    "persistent reserve out: scsi status: Reservation Conflict\nPR out: command failed\n";

const FULL_STATUS: &str = "  PR generation=0x3 
   Key = 0xabc
      All target ports bit clear
      Relative port address: 0x2
      << Reservation holder >>
      scope: LU_SCOPE,  type: Write Exclusive
   SAS         50 01 40 a1 00 00 00 00
   Key = 0xabc
      All target ports bit clear
      Relative port address: 0x3
      not reservation holder
   SAS         50 01 40 a1 00 00 00 01
   Key = 0x3c
      All target ports bit clear
      Relative port address: 0x1
      not reservation holder
   SAS         50 01 40 a2 00 00 00 00
";

const CAPABILITIES: &str = "Report capabilities response:
  Compatible Reservation Handling(CRH): 1
  Specify Initiator Ports Capable(SIP_C): 1
  All Target Ports Capable(ATP_C): 1
  Persist Through Power Loss Capable(PTPL_C): 1
  Type Mask Valid(TMV): 1
  Allow Commands: 1
  Persist Through Power Loss Active(PTPL_A): 0
    Support indicated in Type mask:
      Write Exclusive, all registrants: 0
      Exclusive Access, registrants only: 0
      Write Exclusive, registrants only: 0
      Exclusive Access: 0
      Write Exclusive: 0
      Exclusive Access, all registrants: 0
";

#[test]
fn a_session_on_simulated_maps() {
    let maps = SimMaps::lio_loop(2, 1);
    let steps: &[(&str, i32, &str)] = &[
        (
            "-i -k map1",
            0,
            "  PR generation=0x0, \t0 registered reservation key.\n",
        ),
        ("-o -G -S 0xabc map1", 0, ""),
        (
            "--in --read-keys map2",
            0,
            "  PR generation=0x2, \t2 registered reservation keys follow:\n    0xabc\n    0xabc\n",
        ),
        ("--out --register-ignore --param-sark=3c map2", 0, ""),
        ("-o -R -T 1 -K 0xabc map1", 0, ""),
        (
            "-i -r map2",
            0,
            "  PR generation=0x3, Reservation follows:\n   Key = 0xabc\n  scope = LU_SCOPE, type = Write Exclusive\n",
        ),
        ("-o -R -T 1 -K 0x3c map2", 11, CONFLICT),
        ("-i -s map1", 0, FULL_STATUS),
        ("-i -c map2", 0, CAPABILITIES),
        // A release of another type than the reservation's.
        ("-o -L -T 3 -K 0xabc map1", 11, CONFLICT),
        // No type: 0.9.4 warns and sends type 0, which LIO refuses.
        ("-o -R -K 0xabc map1", 5, "PR out: command failed\n"),
        // 8 bytes: the header says 3 keys, the zeroed buffer gives them as 0.
        (
            "-l 8 -i -k map2",
            0,
            "  PR generation=0x3, \t3 registered reservation keys follow:\n    0x0\n    0x0\n    0x0\n",
        ),
        // 0.9.4 sends the address's first 8 characters as its bytes: nobody has it.
        (
            "-o -G -K 0x3c -S 0x77 -X sas,500140a200000000 map2",
            5,
            "PR out: command failed\n",
        ),
        ("-o -P -T 1 -K 0x3c -S 0xabc map2", 0, ""),
        (
            "-i -k map1",
            0,
            "  PR generation=0x4, \t1 registered reservation key follows:\n    0x3c\n",
        ),
        (
            "-i -r map1",
            0,
            "  PR generation=0x4, Reservation follows:\n   Key = 0x3c\n  scope = LU_SCOPE, type = Write Exclusive\n",
        ),
        // Node 1's registrations are gone: REGISTER with the old key conflicts.
        ("-o -G -K 0xabc -S 0x1 map1", 11, CONFLICT),
        ("-o -C -K 0x3c map2", 0, ""),
        (
            "-i -r map1",
            0,
            "  PR generation=0x5, there is NO reservation held \n",
        ),
        ("-i -k path1", 13, ""),
        ("-i -k nosuch", 12, ""),
        ("-i map1", 1, ""),
        ("-o -G -R map1", 1, ""),
        ("-i -k map1 map2", 1, ""),
        ("-o -G -S zz map1", 1, ""),
    ];
    for (k, (line, code, out)) in steps.iter().enumerate() {
        let (c, o, e) = step(&maps, line);
        assert_eq!(
            (c, o.as_str()),
            (*code, *out),
            "step {} `mpathpersist {line}` (stderr {e:?})",
            k + 1
        );
    }
    let (_, _, e) = step(&maps, "-i -k path1");
    assert_eq!(
        e,
        "path1: not a multipath device.\nPersistent Reserve IN command failed\n"
    );
    let (_, _, e) = step(&maps, "-i -k nosuch");
    assert_eq!(e, "nosuch: error opening file (rw) fd=-1\n");
    let (_, _, e) = step(&maps, "-o -R -K 0xabc map1");
    assert!(e.starts_with("Warning: --prout-type probably needs to be given\n"));
}

/// `-f`: the command line's own command first, then each line of the file (comments,
/// blank lines and a leading `mpathpersist` skipped); a bad line is reported with its
/// number and the rest still run; the status is the last failing line's.
#[test]
fn batch_files() {
    let maps = SimMaps::lio_loop(2, 1);
    let mut f = tempfile::NamedTempFile::new().unwrap();
    write!(
        f,
        "# register both nodes\n\
         mpathpersist --out --register --param-sark=0x5 map1\n\
         \n\
         -o -I -S 0x6 map2   # node 2\n\
         -x\n\
         -i -k map2\n\
         -f other\n\
         -o -R -T 5 -K 0x6 map2\n\
         -i -r map1"
    )
    .unwrap();
    let path = f.path().to_str().unwrap().to_owned();
    let (code, out, err) = step(&maps, &format!("-i -k map1 -f {path}"));
    assert_eq!(
        out,
        "  PR generation=0x0, \t0 registered reservation key.\n\
         \x20 PR generation=0x3, \t3 registered reservation keys follow:\n    0x5\n    0x5\n    0x6\n\
         \x20 PR generation=0x3, Reservation follows:\n   Key = 0x6\n  scope = LU_SCOPE, type = Write Exclusive, registrants only\n"
    );
    assert_eq!(
        err,
        "mpathpersist: invalid option -- 'x'\nunrecognised switch code 0x3f ??\n\
         syntax error on line 5 in batch file\n\
         ERROR: -f option not allowed in batch file\nsyntax error on line 7 in batch file\n"
    );
    assert_eq!(code, 1);
    // Only a batch file; one that cannot be opened.
    let (code, out, _) = step(&maps, &format!("--batch-file={path}"));
    assert_eq!((code, out.is_empty()), (1, false));
    let (code, out, err) = step(&maps, "-f /nonexistent/batch");
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "unable to open /nonexistent/batch: No such file or directory\n"
    );
}

/// `prsdk sim` runs mpathpersist lines on the maps and sg_persist lines on the paths of
/// the same LUN.
#[test]
fn prsdk_sim_mixes_both_tools() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_prsdk"))
        .args(["sim", "--paths", "2", "--node2-paths", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"mpathpersist -o -G -S 0x9 map1\nsg_persist -n -k path3\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        "$ mpathpersist -o -G -S 0x9 map1\n[exit 0]\n$ sg_persist -n -k path3\n  PR \
         generation=0x2, 2 registered reservation keys follow:\n    0x9\n    0x9\n[exit 0]\n"
    );
}

/// `prsdk sim` on a script, with `PRSDK_MPATHPERSIST` set to `env` (removed if `None`):
/// exit status and standard output.
fn sim_script(env: Option<&str>, script: &str) -> (Option<i32>, String) {
    use std::process::{Command, Stdio};
    let mut c = Command::new(env!("CARGO_BIN_EXE_prsdk"));
    c.args(["sim", "--paths", "2", "--node2-paths", "1"])
        .env_remove("PRSDK_MPATHPERSIST")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(v) = env {
        c.env("PRSDK_MPATHPERSIST", v);
    }
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    (o.status.code(), String::from_utf8(o.stdout).unwrap())
}

/// LIO's capabilities as mpathpersist 0.15 prints them: every type 1.
const CAPABILITIES_0_15: &str = "Report capabilities response:
  Compatible Reservation Handling(CRH): 1
  Specify Initiator Ports Capable(SIP_C): 1
  All Target Ports Capable(ATP_C): 1
  Persist Through Power Loss Capable(PTPL_C): 1
  Type Mask Valid(TMV): 1
  Allow Commands: 1
  Persist Through Power Loss Active(PTPL_A): 0
    Support indicated in Type mask:
      Write Exclusive, all registrants: 1
      Exclusive Access, registrants only: 1
      Write Exclusive, registrants only: 1
      Exclusive Access: 1
      Write Exclusive: 1
      Exclusive Access, all registrants: 1
";

/// The 0.15 personality, chosen by the name a line is run as (`mpathpersist-0.15`, as a
/// link would be) or by `PRSDK_MPATHPERSIST`; the name wins over the environment.
#[test]
fn version_0_15_by_name_and_by_environment() {
    let both = "mpathpersist -i -c map1\nmpathpersist-0.15 -i -c map1\n";
    let expect = |first: &str, second: &str| {
        format!(
            "$ mpathpersist -i -c map1\n{first}[exit 0]\n$ mpathpersist-0.15 -i -c map1\n\
             {second}[exit 0]\n"
        )
    };
    assert_eq!(
        sim_script(None, both),
        (Some(0), expect(CAPABILITIES, CAPABILITIES_0_15))
    );
    assert_eq!(
        sim_script(Some("0.15"), both),
        (Some(0), expect(CAPABILITIES_0_15, CAPABILITIES_0_15))
    );
    assert_eq!(
        sim_script(Some("0.15.1"), "mpathpersist-0.9.4 -i -c map1\n"),
        (
            Some(0),
            format!("$ mpathpersist-0.9.4 -i -c map1\n{CAPABILITIES}[exit 0]\n")
        )
    );
    // Nobody registered: LIO answers RESERVE with NOT READY (LOGICAL UNIT COMMUNICATION
    // FAILURE) on every path; 0.9.4 exits 2, 0.15 counts it retryable and ends with 15.
    let reserve = "mpathpersist -o -R -T 5 -K 0x1 map1\nmpathpersist-0.15 -o -R -T 5 -K 0x1 map1\n";
    assert_eq!(
        sim_script(None, reserve),
        (
            Some(0),
            "$ mpathpersist -o -R -T 5 -K 0x1 map1\nPR out: command failed\n[exit 2]\n$ \
             mpathpersist-0.15 -o -R -T 5 -K 0x1 map1\nPR out: command failed\n[exit 15]\n"
                .to_owned()
        )
    );
    // An unknown version in the environment: said, and the line fails (1).
    let (code, out) = sim_script(Some("0.16"), "mpathpersist -i -c map1\n");
    assert_eq!(code, Some(0));
    assert_eq!(
        out,
        "$ mpathpersist -i -c map1\nprsdk sim: PRSDK_MPATHPERSIST=0.16: not a known \
         mpathpersist version (0.9.4 or 0.15)\n[exit 1]\n"
    );
}

/// The binary run as `argv0` (through a link of that name in a temporary directory)
/// with `args` and `PRSDK_MPATHPERSIST` = `env`: exit status, standard output, standard
/// error.
fn prsdk_as(argv0: &str, args: &[&str], env: Option<&str>) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join(argv0);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_prsdk"), &link).unwrap();
    let mut c = std::process::Command::new(&link);
    c.args(args).env_remove("PRSDK_MPATHPERSIST");
    if let Some(v) = env {
        c.env("PRSDK_MPATHPERSIST", v);
    }
    let o = c.output().unwrap();
    (
        o.status.code(),
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

/// Every way of choosing the version reaches the personality (its usage text names the
/// version), and a bad choice is a clear error with exit 1.
#[test]
fn choosing_the_version() {
    let says = |r: &(Option<i32>, String, String), v: &str| {
        assert_eq!(r.0, Some(0), "{r:?}");
        assert!(r.1.is_empty(), "{r:?}");
        assert!(
            r.2.contains(&format!("(the options of multipath-tools {v}):\n")),
            "{r:?}"
        );
    };
    says(&prsdk_as("mpathpersist", &["-h"], None), "0.9.4");
    says(&prsdk_as("mpathpersist", &["-h"], Some("0.15")), "0.15.1");
    says(&prsdk_as("mpathpersist-0.15", &["-h"], None), "0.15.1");
    says(
        &prsdk_as("mpathpersist-0.15", &["-h"], Some("0.9.4")),
        "0.15.1",
    );
    says(
        &prsdk_as("mpathpersist-0.9.4", &["-h"], Some("0.15")),
        "0.9.4",
    );
    says(&prsdk_as("prsdk", &["mpathpersist", "-h"], None), "0.9.4");
    says(
        &prsdk_as("prsdk", &["mpathpersist", "-h"], Some("0.15")),
        "0.15.1",
    );
    says(
        &prsdk_as("prsdk", &["mpathpersist", "--compat", "0.15", "-h"], None),
        "0.15.1",
    );
    says(
        &prsdk_as(
            "prsdk",
            &["mpathpersist", "--compat=0.15.1", "-h"],
            Some("0.9.4"),
        ),
        "0.15.1",
    );
    says(
        &prsdk_as(
            "prsdk",
            &["mpathpersist", "--compat=0.9.4", "-h"],
            Some("0.15"),
        ),
        "0.9.4",
    );
    // `--compat` only first: later, it is an mpathpersist option (which it is not).
    let r = prsdk_as("prsdk", &["mpathpersist", "-h", "--compat=0.15"], None);
    says(&r, "0.9.4");
    let r = prsdk_as("prsdk", &["mpathpersist", "--compat", "0.14", "-h"], None);
    assert_eq!(
        r,
        (
            Some(1),
            String::new(),
            "prsdk mpathpersist: --compat '0.14': not a known mpathpersist version (0.9.4 \
             or 0.15)\n"
                .to_owned()
        )
    );
    let r = prsdk_as("prsdk", &["mpathpersist", "--compat"], None);
    assert_eq!(r.0, Some(1), "{r:?}");
    // The program's name as invoked (here the link's path) starts the message.
    let r = prsdk_as("mpathpersist", &["-h"], Some("bogus"));
    assert_eq!((r.0, r.1.as_str()), (Some(1), ""), "{r:?}");
    assert!(
        r.2.ends_with(
            "/mpathpersist: PRSDK_MPATHPERSIST=bogus: not a known mpathpersist version \
             (0.9.4 or 0.15)\n"
        ),
        "{r:?}"
    );
}
