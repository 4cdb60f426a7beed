//! The sg_persist personality end to end on a simulated LUN with LIO's behaviour (pr-sim,
//! which matches LIO byte for byte: `pr-sim/DIFFERENTIAL.md`), seen through the lab's
//! tcm_loop topology: node 1's paths `path1` (SAS 0x500140a100000000, relative target
//! port 2) and `path2` (0x500140a100000001, port 3), node 2's `path3`
//! (0x500140a200000000, port 1). Each step's standard output and exit status are written
//! out by hand from sg_persist's formats and SPC/LIO semantics: registrations, a
//! reservation, conflicts (24; LIO answers a release of the wrong type and a reserve from
//! an unregistered nexus under a reservation with RESERVATION CONFLICT, REFERENCE.md
//! §8), REPLACE LOST RESERVATION (which LIO does not implement: ILLEGAL REQUEST, 5), the
//! full status with TransportIDs, a preempt and the unit attention it leaves (6), hex
//! forms, the INQUIRY header, NOT READY for a reserve from an unregistered nexus with no
//! reservation (LIO's LOGICAL UNIT COMMUNICATION FAILURE, 2). No root, no hardware.

use pr_cli::device::Simulated;
use pr_cli::sg_persist::{Io, run};

fn step(lun: &Simulated, line: &str) -> (i32, String) {
    let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut stdin = std::io::empty();
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        stdin: &mut stdin,
        in_rdonly_env: false,
    };
    let code = run("sg_persist", &args, lun, &mut io);
    (code, String::from_utf8(out).unwrap())
}

const FULL_STATUS: &str = "  PR generation=0x3
    Key=0xabc
      All target ports bit clear
      Relative port address: 0x2
      << Reservation holder >>
      scope: LU_SCOPE,  type: Write Exclusive
      Transport Id of initiator:
        SAS address: 0x500140a100000000
    Key=0xabc
      All target ports bit clear
      Relative port address: 0x3
      not reservation holder
      Transport Id of initiator:
        SAS address: 0x500140a100000001
    Key=0x3c
      All target ports bit clear
      Relative port address: 0x1
      not reservation holder
      Transport Id of initiator:
        SAS address: 0x500140a200000000
";

#[test]
fn a_session_on_a_simulated_lio_lun() {
    let lun = Simulated::lio_loop(2, 1);
    assert_eq!(lun.names(), ["path1", "path2", "path3"]);
    let steps: &[(&str, i32, &str)] = &[
        (
            "-n -k path1",
            0,
            "  PR generation=0x0, there are NO registered reservation keys\n",
        ),
        ("-n -o -I -S 0xabc path1", 0, ""),
        ("-n --out --register --param-sark=abc path2", 0, ""),
        ("-n -o -I -S 3c path3", 0, ""),
        (
            "-n -k path2",
            0,
            "  PR generation=0x3, 3 registered reservation keys follow:\n    0xabc\n    0xabc\n    0x3c\n",
        ),
        ("-n -o -R -T 1 -K 0xabc path1", 0, ""),
        (
            "-n -r path3",
            0,
            "  PR generation=0x3, Reservation follows:\n    Key=0xabc\n    scope: LU_SCOPE,  type: Write Exclusive\n",
        ),
        ("-n -o -R -T 1 -K 0x3c path3", 24, ""),
        ("-n -o -L -T 3 -K 0xabc path1", 24, ""),
        ("-n -s path1", 0, FULL_STATUS),
        ("-n -o -P -T 1 -K 0x3c -S 0xabc path3", 0, ""),
        ("-n -k path1", 6, ""),
        (
            "-n -k path1",
            0,
            "  PR generation=0x4, 1 registered reservation key follows:\n    0x3c\n",
        ),
        (
            "-n -r -H path1",
            0,
            "  PR generation=0x4, Additional length=16\n 00     00 00 00 00 00 00 00 3c  00 00 00 00 00 01 00 00\n",
        ),
        (
            "-n -k -HH path1",
            0,
            " 00     00 00 00 04 00 00 00 08  00 00 00 00 00 00 00 3c\n",
        ),
        (
            "-n -k -HHH path1",
            0,
            "00 00 00 04 00 00 00 08  00 00 00 00 00 00 00 3c\n",
        ),
        ("-n -o -R -T 1 -K 0xabc path2", 6, ""),
        ("-n -o -R -T 1 -K 0xabc path2", 24, ""),
        ("-n -o -z -T 1 -K 0x3c path3", 5, ""),
        ("-n -o -C -K 0x3c path3", 0, ""),
        ("-n -o -R -T 1 -K 0xabc path2", 2, ""),
        (
            "-n -k path3",
            0,
            "  PR generation=0x5, there are NO registered reservation keys\n",
        ),
        (
            "-n -r path3",
            0,
            "  PR generation=0x5, there is NO reservation held\n",
        ),
        (
            "-n -s path3",
            0,
            "  PR generation=0x5\n  No full status descriptors\n",
        ),
        (
            "-n -s -v path3",
            0,
            "  PR generation=0x5\n  No full status descriptors\n  So there are no registered IT nexuses\n",
        ),
        ("-n -c -HHH path3", 0, " 00     00 08 1d 90 ea 01 00 00\n"),
        ("-o -K 1 path1", 31, ""),
        ("-n -o -G -R path1", 31, ""),
        ("-n -K zz path1", 1, ""),
        ("-n -k nosuchpath", 52, ""),
        ("nosuchpath", 52, ""),
    ];
    let mut failures = Vec::new();
    for (line, code, out) in steps {
        let (c, o) = step(&lun, line);
        if (c, o.as_str()) != (*code, *out) {
            failures.push(format!(
                "sg_persist {line}:\n  want exit {code}:\n{out}  got exit {c}:\n{o}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn inquiry_header_and_report_capabilities_text() {
    let lun = Simulated::lio_loop(1, 0);
    let (code, out) = step(&lun, "-c path1");
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "  PR-SIM    SIMULATED LIO     0001\n  Peripheral device type: disk\n\
         Report capabilities response:\n\
         \x20 Replace Lost Reservation Capable(RLR_C): 0\n\
         \x20 Compatible Reservation Handling(CRH): 1\n\
         \x20 Specify Initiator Ports Capable(SIP_C): 1\n\
         \x20 All Target Ports Capable(ATP_C): 1\n\
         \x20 Persist Through Power Loss Capable(PTPL_C): 1\n\
         \x20 Type Mask Valid(TMV): 1\n\
         \x20 Allow Commands: 1\n\
         \x20 Persist Through Power Loss Active(PTPL_A): 0\n\
         \x20   Support indicated in Type mask:\n\
         \x20     Write Exclusive, all registrants: 1\n\
         \x20     Exclusive Access, registrants only: 1\n\
         \x20     Write Exclusive, registrants only: 1\n\
         \x20     Exclusive Access: 1\n\
         \x20     Write Exclusive: 1\n\
         \x20     Exclusive Access, all registrants: 1\n"
    );
}

/// `prsdk sim` through the binary: command lines on standard input, each echoed with its
/// output and exit status; a line that is not an sg_persist command fails the run.
#[test]
fn prsdk_sim_runs_a_script() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let script = "sg_persist -n -o -I -S 0x1 path1   # register\n\
                  \n\
                  sg_persist -n -o -R -T 5 -K 0x1 path1\n\
                  sg_persist -n -r path2\n";
    let mut child = Command::new(env!("CARGO_BIN_EXE_prsdk"))
        .args(["sim", "--paths", "2", "--node2-paths", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        "$ sg_persist -n -o -I -S 0x1 path1\n[exit 0]\n\
         $ sg_persist -n -o -R -T 5 -K 0x1 path1\n[exit 0]\n\
         $ sg_persist -n -r path2\n  PR generation=0x1, Reservation follows:\n    Key=0x1\n    \
         scope: LU_SCOPE,  type: Write Exclusive, registrants only\n[exit 0]\n"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_prsdk"))
        .arg("sim")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"sg_turs path1\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not an sg_persist or mpathpersist command")
    );
    let o = Command::new(env!("CARGO_BIN_EXE_prsdk"))
        .args(["sim", "--paths", "0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

/// How the device is opened: read-only for the INQUIRY, then read-write unless `-y`
/// (or `SG_PERSIST_IN_RDONLY` for PR IN), `-yy` read-write whatever the environment.
#[test]
fn open_modes_as_sg_persist() {
    use pr_cli::device::{Device, Opener, OsError};
    use std::cell::RefCell;
    struct Spy {
        inner: Simulated,
        opens: RefCell<Vec<bool>>,
    }
    impl Opener for Spy {
        fn open(&self, name: &str, read_only: bool) -> Result<Box<dyn Device>, OsError> {
            self.opens.borrow_mut().push(read_only);
            self.inner.open(name, read_only)
        }
    }
    let spy = Spy {
        inner: Simulated::lio_loop(1, 0),
        opens: RefCell::new(Vec::new()),
    };
    let opens = |line: &str, env: bool| -> Vec<bool> {
        spy.opens.borrow_mut().clear();
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut stdin = std::io::empty();
        let mut io = Io {
            out: &mut out,
            err: &mut err,
            stdin: &mut stdin,
            in_rdonly_env: env,
        };
        assert_eq!(run("sg_persist", &args, &spy, &mut io), 0, "{line}");
        spy.opens.borrow().clone()
    };
    assert_eq!(opens("-k path1", false), [true, false]);
    assert_eq!(opens("-n -k path1", false), [false]);
    assert_eq!(opens("-n -y -k path1", false), [true]);
    assert_eq!(opens("-n -yy -k path1", false), [false]);
    assert_eq!(opens("-n -yyy -k path1", false), [false]);
    assert_eq!(opens("-n -k path1", true), [true]);
    assert_eq!(opens("-n -yy -k path1", true), [false]);
    assert_eq!(opens("-n -o -I -S 1 path1", true), [false]);
}
