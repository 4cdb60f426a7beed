//! Lab tests (`#[ignore]`, run by `lab/test.sh`, or `lab/run.sh -l 1 -p 2 -n 1 -- <binary>
//! --ignored`): QEMU as the real client of a pr-helper. The lab guest's
//! `qemu-system-x86_64` (TCG) boots the SCSI pump (`tests/qemu-guest/`), a freestanding
//! program that sends the commands this test gives it over the serial port through a
//! virtio-scsi controller to `scsi-block` on a LIO device, with
//! `-object pr-manager-helper` pointing at a helper: QEMU's own pr-manager-helper client
//! carries every PERSISTENT RESERVE IN/OUT of the guest.
//!
//! The replies the guest sees are compared with (a) the same sequence sent straight to our
//! daemon with `pr_helper::client`, and (b) on a path device, QEMU with Debian's
//! `qemu-pr-helper`. What QEMU itself changes (see the crate's README, "QEMU as the
//! client"): sense reaches the guest only with CHECK CONDITION (the helper sends 96 bytes
//! of sense with every reply), and data only with GOOD; the first command after QEMU
//! starts gets QEMU's own POWER ON/RESET unit attention (cleared with TEST UNIT READY);
//! QEMU 11's `migrate-pr` clears SIP_C and ATP_C in REPORT CAPABILITIES.
//!
//! The `sid_only_` tests (QEMU 11.1, the lab's sid stack; `lab/test.sh` skips them on
//! debian12) live-migrate the pump between two QEMUs with `migrate-pr=on`, each with its own
//! daemon on its own node's device of one LUN, and check from outside that the
//! registration and the reservation moved with the guest.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pr_helper::client::{basic_params, pr_in_cdb, pr_out_cdb};
use pr_helper::{BlockingClient, Reply};
use pr_lab_support::LabLun;

mod common;
use common::lab::{Daemon as Helper, OURS, QEMU_PR_HELPER, rw, start};
#[path = "common/qemu.rs"]
mod qemu;
use qemu::{PumpReply, Qemu, QemuConfig};

const BOOT: Duration = Duration::from_secs(180);

fn work_dir(name: &str) -> PathBuf {
    // sockets cannot live on the 9p share: /run is a tmpfs in the guest
    let d = PathBuf::from("/run").join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Who sends a step.
#[derive(Clone, Copy)]
enum Dev {
    /// The initiator under test: the guest through QEMU, or our client on the same device.
    Tested,
    /// A second initiator (another I_T nexus), always through the helper with our client.
    Other,
}

struct Step {
    label: &'static str,
    dev: Dev,
    cdb: [u8; 16],
    data: Vec<u8>,
}

fn step(label: &'static str, dev: Dev, cdb: [u8; 16], data: &[u8]) -> Step {
    Step {
        label,
        dev,
        cdb,
        data: data.to_vec(),
    }
}

/// Every PR IN service action; REGISTER, REGISTER AND IGNORE, RESERVE, RELEASE, CLEAR,
/// PREEMPT, REPLACE LOST RESERVATION; conflicts from the second initiator; unit
/// attentions; bad service actions and types; short allocation lengths. (PREEMPT AND ABORT
/// deadlocks LIO over tcm_loop, REFERENCE §8; REGISTER AND MOVE is not in it either.)
fn path_sequence() -> Vec<Step> {
    use Dev::*;
    let p = basic_params;
    vec![
        step("READ KEYS 8192", Tested, pr_in_cdb(0, 8192), &[]),
        step(
            "REGISTER AND IGNORE A",
            Tested,
            pr_out_cdb(6, 0, 24),
            &p(0, 0xa, 0),
        ),
        step("READ KEYS 8192", Tested, pr_in_cdb(0, 8192), &[]),
        step("READ KEYS 12", Tested, pr_in_cdb(0, 12), &[]),
        step("READ RESERVATION 24", Tested, pr_in_cdb(1, 24), &[]),
        step("REPORT CAPABILITIES 8", Tested, pr_in_cdb(2, 8), &[]),
        step("READ FULL STATUS 8192", Tested, pr_in_cdb(3, 8192), &[]),
        step("RESERVE 5", Tested, pr_out_cdb(1, 5, 24), &p(0xa, 0, 0)),
        step(
            "other: REGISTER AND IGNORE B",
            Other,
            pr_out_cdb(6, 0, 24),
            &p(0, 0xb, 0),
        ),
        step(
            "other: RESERVE 5 (conflict)",
            Other,
            pr_out_cdb(1, 5, 24),
            &p(0xb, 0, 0),
        ),
        step(
            "RESERVE 3 by the holder",
            Tested,
            pr_out_cdb(1, 3, 24),
            &p(0xa, 0, 0),
        ),
        step(
            "RELEASE 3 by the holder of 5",
            Tested,
            pr_out_cdb(2, 3, 24),
            &p(0xa, 0, 0),
        ),
        step("READ RESERVATION 24", Tested, pr_in_cdb(1, 24), &[]),
        step("RELEASE 5", Tested, pr_out_cdb(2, 5, 24), &p(0xa, 0, 0)),
        step("READ RESERVATION 24", Tested, pr_in_cdb(1, 24), &[]),
        step(
            "other: READ KEYS (unit attention)",
            Other,
            pr_in_cdb(0, 8192),
            &[],
        ),
        step("RESERVE 1", Tested, pr_out_cdb(1, 1, 24), &p(0xa, 0, 0)),
        step(
            "other: PREEMPT A type 6",
            Other,
            pr_out_cdb(4, 6, 24),
            &p(0xb, 0xa, 0),
        ),
        step(
            "READ KEYS (unit attention)",
            Tested,
            pr_in_cdb(0, 8192),
            &[],
        ),
        step("READ KEYS", Tested, pr_in_cdb(0, 8192), &[]),
        step(
            "REGISTER 0 -> C",
            Tested,
            pr_out_cdb(0, 0, 24),
            &p(0, 0xc, 0),
        ),
        step(
            "REGISTER wrong key (conflict)",
            Tested,
            pr_out_cdb(0, 0, 24),
            &p(0x99, 0xd, 0),
        ),
        step(
            "REGISTER C -> D",
            Tested,
            pr_out_cdb(0, 0, 24),
            &p(0xc, 0xd, 0),
        ),
        step(
            "PR OUT service action 1Fh",
            Tested,
            pr_out_cdb(0x1f, 0, 24),
            &p(0xd, 0, 0),
        ),
        step(
            "RESERVE type Fh",
            Tested,
            pr_out_cdb(1, 0x0f, 24),
            &p(0xd, 0, 0),
        ),
        step(
            "REGISTER AND IGNORE, 16 bytes",
            Tested,
            pr_out_cdb(6, 0, 16),
            &p(0, 0xd, 0)[..16],
        ),
        step(
            "PR IN service action 1Fh",
            Tested,
            pr_in_cdb(0x1f, 8192),
            &[],
        ),
        step(
            "REPLACE LOST RESERVATION",
            Tested,
            pr_out_cdb(8, 1, 24),
            &p(0, 0xd, 0),
        ),
        step(
            "RELEASE by a non-holder",
            Tested,
            pr_out_cdb(2, 6, 24),
            &p(0xd, 0, 0),
        ),
        step("READ FULL STATUS 8192", Tested, pr_in_cdb(3, 8192), &[]),
        step("READ FULL STATUS 30", Tested, pr_in_cdb(3, 30), &[]),
        step("READ KEYS 4", Tested, pr_in_cdb(0, 4), &[]),
        step("CLEAR", Tested, pr_out_cdb(3, 0, 24), &p(0xd, 0, 0)),
        step(
            "other: READ KEYS (unit attention)",
            Other,
            pr_in_cdb(0, 8192),
            &[],
        ),
        step("READ KEYS", Tested, pr_in_cdb(0, 8192), &[]),
        step("READ RESERVATION 24", Tested, pr_in_cdb(1, 24), &[]),
    ]
}

/// On a multipath map (the tested device) with a node-2 path as the second initiator.
fn map_sequence() -> Vec<Step> {
    use Dev::*;
    let p = basic_params;
    vec![
        step("READ KEYS 8192", Tested, pr_in_cdb(0, 8192), &[]),
        step(
            "REGISTER AND IGNORE A",
            Tested,
            pr_out_cdb(6, 0, 24),
            &p(0, 0x1a, 0),
        ),
        step("READ KEYS 8192", Tested, pr_in_cdb(0, 8192), &[]),
        step("READ RESERVATION 24", Tested, pr_in_cdb(1, 24), &[]),
        step("REPORT CAPABILITIES 8", Tested, pr_in_cdb(2, 8), &[]),
        step("READ FULL STATUS 8192", Tested, pr_in_cdb(3, 8192), &[]),
        step("RESERVE 5", Tested, pr_out_cdb(1, 5, 24), &p(0x1a, 0, 0)),
        step("READ RESERVATION 24", Tested, pr_in_cdb(1, 24), &[]),
        step(
            "other: REGISTER AND IGNORE B",
            Other,
            pr_out_cdb(6, 0, 24),
            &p(0, 0x2b, 0),
        ),
        step(
            "other: RESERVE 5 (conflict)",
            Other,
            pr_out_cdb(1, 5, 24),
            &p(0x2b, 0, 0),
        ),
        step("RELEASE 5", Tested, pr_out_cdb(2, 5, 24), &p(0x1a, 0, 0)),
        step(
            "other: READ KEYS (unit attention)",
            Other,
            pr_in_cdb(0, 8192),
            &[],
        ),
        step("RESERVE 1", Tested, pr_out_cdb(1, 1, 24), &p(0x1a, 0, 0)),
        step(
            "other: RESERVE 1 (conflict)",
            Other,
            pr_out_cdb(1, 1, 24),
            &p(0x2b, 0, 0),
        ),
        step(
            "other: PREEMPT A type 1",
            Other,
            pr_out_cdb(4, 1, 24),
            &p(0x2b, 0x1a, 0),
        ),
        step(
            "READ KEYS (after the preemption)",
            Tested,
            pr_in_cdb(0, 8192),
            &[],
        ),
        step(
            "RESERVE 1 (conflict)",
            Tested,
            pr_out_cdb(1, 1, 24),
            &p(0x1a, 0, 0),
        ),
        step(
            "REGISTER AND IGNORE C",
            Tested,
            pr_out_cdb(6, 0, 24),
            &p(0, 0x1c, 0),
        ),
        step("READ FULL STATUS 8192", Tested, pr_in_cdb(3, 8192), &[]),
        step(
            "REGISTER C -> D",
            Tested,
            pr_out_cdb(0, 0, 24),
            &p(0x1c, 0x1d, 0),
        ),
        step(
            "PREEMPT B type 3",
            Tested,
            pr_out_cdb(4, 3, 24),
            &p(0x1d, 0x2b, 0),
        ),
        step("READ RESERVATION 24", Tested, pr_in_cdb(1, 24), &[]),
        step(
            "other: READ KEYS (unit attention)",
            Other,
            pr_in_cdb(0, 8192),
            &[],
        ),
        step("CLEAR", Tested, pr_out_cdb(3, 0, 24), &p(0x1d, 0, 0)),
        step("READ KEYS", Tested, pr_in_cdb(0, 8192), &[]),
    ]
}

/// What a guest can see of a reply: the status, sense with CHECK CONDITION (96 bytes,
/// padded), data with GOOD.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    status: u8,
    sense: Vec<u8>,
    data: Vec<u8>,
}

impl Seen {
    fn of_reply(r: &Reply) -> Seen {
        Seen {
            status: r.status(),
            sense: if r.status() == 2 {
                r.sense.to_vec()
            } else {
                Vec::new()
            },
            data: r.data.clone(),
        }
    }

    fn of_pump(label: &str, r: &PumpReply) -> Seen {
        assert_eq!(
            r.response, 0,
            "{label}: virtio-scsi response {}",
            r.response
        );
        let mut sense = r.sense.clone();
        if r.status == 2 {
            sense.resize(96, 0);
        }
        Seen {
            status: r.status,
            sense,
            data: r.data.clone(),
        }
    }

    fn show(&self) -> String {
        let s = if self.sense.len() >= 14 {
            format!(
                " {:x}/{:02x}/{:02x}",
                self.sense[2] & 0xf,
                self.sense[12],
                self.sense[13]
            )
        } else {
            String::new()
        };
        format!("{:02x}{s} sz {}", self.status, self.data.len())
    }
}

/// PRGENERATION taken relative to the first READ KEYS of the run.
fn relative_generations(steps: &[Step], seen: &mut [Seen]) {
    let base = u32::from_be_bytes(seen[0].data[..4].try_into().unwrap());
    for (s, r) in steps.iter().zip(seen.iter_mut()) {
        if s.cdb[0] == 0x5e && r.status == 0 && r.data.len() >= 4 && s.cdb[1] & 0x1f != 2 {
            let g = u32::from_be_bytes(r.data[..4].try_into().unwrap()).wrapping_sub(base);
            r.data[..4].copy_from_slice(&g.to_be_bytes());
        }
    }
}

/// READ FULL STATUS descriptors in byte order: LIO lists registrations in the order they
/// were made, and the daemon registers a map's paths in no fixed order. Only whole
/// descriptors are sorted; a truncated tail stays where it is.
fn sort_full_status(steps: &[Step], seen: &mut [Seen]) {
    for (s, r) in steps.iter().zip(seen.iter_mut()) {
        if s.cdb[0] != 0x5e || s.cdb[1] & 0x1f != 3 || r.status != 0 || r.data.len() < 8 {
            continue;
        }
        let mut descs: Vec<Vec<u8>> = Vec::new();
        let mut off = 8;
        while off + 24 <= r.data.len() {
            let add = u32::from_be_bytes(r.data[off + 20..off + 24].try_into().unwrap()) as usize;
            if off + 24 + add > r.data.len() {
                break;
            }
            descs.push(r.data[off..off + 24 + add].to_vec());
            off += 24 + add;
        }
        descs.sort();
        let tail = r.data[off..].to_vec();
        r.data.truncate(8);
        for d in descs {
            r.data.extend_from_slice(&d);
        }
        r.data.extend_from_slice(&tail);
    }
}

/// What QEMU itself changes in a GOOD reply on the way to the guest: with `migrate-pr`
/// (a `scsi-block` property of QEMU 11.0+, on by default for 11.0+ machine types) the
/// REPORT CAPABILITIES reply loses SIP_C and ATP_C (byte 2, bits 3 and 2), since QEMU
/// cannot migrate registrations made for other nexuses.
fn as_qemu_shows(steps: &[Step], direct: &[Seen], migrate_pr: bool) -> Vec<Seen> {
    let mut v = direct.to_vec();
    for (s, r) in steps.iter().zip(v.iter_mut()) {
        if migrate_pr
            && s.cdb[0] == 0x5e
            && s.cdb[1] & 0x1f == 2
            && r.status == 0
            && r.data.len() > 2
        {
            r.data[2] &= !0x0c;
        }
    }
    v
}

/// Whether this QEMU's `scsi-block` has `migrate-pr` on by default (11.0+).
fn qemu_migrate_pr_default() -> bool {
    qemu::qemu_version() >= (11, 0)
}

/// Waits until udev has handled the devices closed so far. Closing a descriptor opened for
/// writing (ours, or QEMU's when it exits) makes udev probe the device again (a "change"
/// event: blkid READs it), and a READ consumes a pending unit attention of that nexus:
/// seen once on sid, where the guest missed REGISTRATIONS PREEMPTED in the run after a
/// QEMU had exited.
fn settle_udev() {
    std::thread::sleep(Duration::from_millis(500));
    let st = Command::new("udevadm")
        .args(["settle", "--timeout=60"])
        .status()
        .unwrap_or_else(|e| panic!("cannot run udevadm settle: {e}"));
    assert!(st.success(), "udevadm settle: {st}");
}

/// No registration, no reservation, no pending unit attention on either nexus; then udev
/// settled (see [`settle_udev`]).
fn reset(c: &mut BlockingClient, tested: &Path, other: &Path) {
    reset_fds(c, &rw(tested), &rw(other));
    settle_udev();
}

fn reset_fds(c: &mut BlockingClient, tested: &File, other: &File) {
    for _ in 0..3 {
        c.call(other, &pr_out_cdb(6, 0, 24), &basic_params(0, 0xe, 0))
            .unwrap();
    }
    c.call(other, &pr_out_cdb(3, 0, 24), &basic_params(0xe, 0, 0))
        .unwrap();
    for dev in [tested, other] {
        for _ in 0..6 {
            let r = c.call(dev, &pr_in_cdb(0, 8192), &[]).unwrap();
            if r.status() == 0 {
                break;
            }
        }
    }
    let r = c.call(tested, &pr_in_cdb(0, 8192), &[]).unwrap();
    assert_eq!(
        (r.status(), &r.data[4..8]),
        (0, &[0u8; 4][..]),
        "reset left keys"
    );
}

fn alloc_len(cdb: &[u8; 16]) -> usize {
    if cdb[0] == 0x5e {
        usize::from(u16::from_be_bytes([cdb[7], cdb[8]]))
    } else {
        0
    }
}

/// Runs `steps` with the tested initiator's commands sent by our client (`qemu` None) or
/// by the guest through QEMU.
fn run(
    helper: &Helper,
    tested: &Path,
    other: &Path,
    steps: &[Step],
    mut qemu: Option<&mut Qemu>,
) -> (Vec<Seen>, Duration) {
    let tested_fd = rw(tested);
    let other_fd = rw(other);
    let mut c = BlockingClient::connect(&helper.socket).unwrap();
    let t = Instant::now();
    let mut seen: Vec<Seen> = steps
        .iter()
        .map(|s| match (s.dev, qemu.as_deref_mut()) {
            (Dev::Tested, Some(q)) => {
                let r = q.call(&s.cdb[..10], &s.data, alloc_len(&s.cdb));
                Seen::of_pump(s.label, &r)
            }
            (Dev::Tested, None) => Seen::of_reply(
                &c.call(&tested_fd, &s.cdb, &s.data)
                    .unwrap_or_else(|e| panic!("{}: {}: {e}", helper.name, s.label)),
            ),
            (Dev::Other, _) => Seen::of_reply(
                &c.call(&other_fd, &s.cdb, &s.data)
                    .unwrap_or_else(|e| panic!("{}: {}: {e}", helper.name, s.label)),
            ),
        })
        .collect();
    let took = t.elapsed();
    assert_eq!(
        seen[0].status, 0,
        "the first READ KEYS failed: {:?}",
        seen[0]
    );
    relative_generations(steps, &mut seen);
    sort_full_status(steps, &mut seen);
    (seen, took)
}

/// Starts QEMU on `device` with `helper`, waits for the pump and clears the unit
/// attentions (QEMU's own power-on one first).
fn start_qemu(name: &str, helper: &Helper, device: &Path, dir: &Path) -> Qemu {
    let cfg = QemuConfig {
        name: name.to_string(),
        helper_socket: helper.socket.clone(),
        device: device.to_path_buf(),
        log: dir.join(format!("{name}.log")),
        ..Default::default()
    };
    let mut q = Qemu::spawn(&cfg, true, BOOT);
    let before = q.settle(8);
    eprintln!(
        "{name}: pump ready after {:?}; TEST UNIT READY before GOOD: {}",
        q.boot,
        before
            .iter()
            .map(|r| format!("{:02x} {:?}", r.status, r.sense_key_asc_ascq()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    q
}

/// Prints the table and returns the mismatches.
fn compare(
    steps: &[Step],
    (a_name, a): (&str, &[Seen]),
    (b_name, b): (&str, &[Seen]),
) -> Vec<String> {
    eprintln!("{:<36} {:<22} {:<22}", "step", a_name, b_name);
    let mut bad = Vec::new();
    for ((s, x), y) in steps.iter().zip(a).zip(b) {
        let same = x == y;
        eprintln!(
            "{:<36} {:<22} {:<22} {}",
            s.label,
            x.show(),
            y.show(),
            if same { "same" } else { "DIFFERENT" }
        );
        if !same {
            bad.push(format!(
                "{} ({a_name} / {b_name}): {x:?}\n vs {y:?}",
                s.label
            ));
        }
    }
    bad
}

#[test]
#[ignore = "needs qemu-system-x86_64 (runs anywhere; lab/test.sh runs it in the lab)"]
fn qemu_client_pump_drives_an_emulated_disk() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    File::create(&img).unwrap().set_len(8 << 20).unwrap();
    let cfg = QemuConfig {
        name: "emulated".into(),
        log: dir.path().join("qemu.log"),
        emulated_disk: Some(img),
        ..Default::default()
    };
    let mut q = Qemu::spawn(&cfg, true, BOOT);
    eprintln!("pump ready after {:?}", q.boot);
    // INQUIRY is answered even with QEMU's unit attention pending
    let r = q.call(&[0x12, 0, 0, 0, 0x60, 0], &[], 0x60);
    assert_eq!((r.response, r.status), (0, 0), "{r:?}");
    assert_eq!(&r.data[8..12], b"QEMU");
    // then QEMU's own POWER ON, RESET unit attention
    let before = q.settle(4);
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0].sense_key_asc_ascq(), Some((6, 0x29, 0)));
    // WRITE(10) one block, READ(10) it back
    let block: Vec<u8> = (0..512u32).map(|i| (i * 7 + 3) as u8).collect();
    let r = q.call(&[0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0], &block, 0);
    assert_eq!((r.response, r.status), (0, 0), "{r:?}");
    let r = q.call(&[0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0], &[], 512);
    assert_eq!(r.data, block);
    // scsi-hd has no persistent reservations: INVALID COMMAND OPERATION CODE
    let r = q.call(&pr_in_cdb(0, 8192)[..10], &[], 8192);
    assert_eq!(r.status, 2);
    assert_eq!(r.sense_key_asc_ascq(), Some((5, 0x20, 0)), "{r:?}");
    // a line it cannot read
    assert!(qemu::parse_reply("R 0 0 - 0 zz").is_err());
}

#[test]
#[ignore = "needs the lab: lab/test.sh, or lab/run.sh -l 1 -p 2 -n 1 -- <binary> --ignored"]
fn qemu_client_relays_our_daemon_as_debian_helper_on_a_path_device() {
    let lun = LabLun::get(0);
    assert!(
        Path::new(QEMU_PR_HELPER).exists(),
        "{QEMU_PR_HELPER} is missing (Debian package qemu-system-common): cannot compare"
    );
    eprintln!("QEMU {:?}", qemu::qemu_version());
    let dir = work_dir("pr-helper-lab-qemu");
    let theirs = start("qemu-pr-helper", QEMU_PR_HELPER, &dir.join("qemu.sock"));
    let ours = start("pr-helper", OURS, &dir.join("ours.sock"));
    // the tested device: LUN 0's node-2 path (in no map: multipathd consumes no unit
    // attention there); the second initiator: node-1 path 0
    let (tested, other) = (&lun.node2[0], &lun.paths[0]);
    let steps = path_sequence();

    let mut c = BlockingClient::connect(&ours.socket).unwrap();
    reset(&mut c, tested, other);
    let (direct, t_direct) = run(&ours, tested, other, &steps, None);

    let mut results = Vec::new();
    for h in [&ours, &theirs] {
        let mut c = BlockingClient::connect(&h.socket).unwrap();
        reset(&mut c, tested, other);
        let t0 = Instant::now();
        let mut q = start_qemu(&format!("qemu-{}", h.name), h, tested, &dir);
        let (seen, took) = run(h, tested, other, &steps, Some(&mut q));
        eprintln!(
            "QEMU with {}: boot + settle {:?}, sequence {took:?}",
            h.name,
            t0.elapsed() - took
        );
        results.push(seen);
    }
    eprintln!("sequence straight to pr-helper: {t_direct:?}");
    let direct = as_qemu_shows(&steps, &direct, qemu_migrate_pr_default());
    let mut bad = compare(
        &steps,
        ("pr-helper direct", &direct),
        ("QEMU + pr-helper", &results[0]),
    );
    bad.extend(compare(
        &steps,
        ("QEMU + qemu-pr-helper", &results[1]),
        ("QEMU + pr-helper", &results[0]),
    ));
    reset(&mut c, tested, other);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // the sequence did what it is meant to, as the guest saw it through QEMU
    let at = |label: &str| {
        let i = steps.iter().position(|s| s.label == label).unwrap();
        &results[0][i]
    };
    assert_eq!(at("other: RESERVE 5 (conflict)").status, 0x18);
    assert_eq!(at("other: PREEMPT A type 6").status, 0);
    let ua = at("READ KEYS (unit attention)");
    assert_eq!(
        (ua.status, ua.sense[2] & 0xf, ua.sense[12], ua.sense[13]),
        (2, 6, 0x2a, 0x05),
        "the guest sees REGISTRATIONS PREEMPTED"
    );
    assert_eq!(at("REGISTER wrong key (conflict)").status, 0x18);
    assert_eq!(at("CLEAR").status, 0);
}

#[test]
#[ignore = "needs the lab: lab/test.sh, or lab/run.sh -l 1 -p 2 -n 1 -- <binary> --ignored"]
fn qemu_client_on_a_multipath_map_through_our_daemon() {
    let lun = LabLun::get(0);
    let dir = work_dir("pr-helper-lab-qemu-map");
    let ours = start("pr-helper", OURS, &dir.join("ours.sock"));
    let (tested, other) = (&lun.map, &lun.node2[0]);
    let steps = map_sequence();
    let mut c = BlockingClient::connect(&ours.socket).unwrap();
    reset(&mut c, tested, other);
    let (direct, t_direct) = run(&ours, tested, other, &steps, None);
    reset(&mut c, tested, other);
    let t0 = Instant::now();
    let mut q = start_qemu("qemu-map", &ours, tested, &dir);
    let (via, took) = run(&ours, tested, other, &steps, Some(&mut q));
    eprintln!(
        "map {}: straight {t_direct:?}; QEMU boot + settle {:?}, sequence {took:?}",
        lun.map.display(),
        t0.elapsed() - took
    );
    drop(q);
    // one key per path of the map, through QEMU too
    let n = lun.paths.len();
    let keys = u32::from_be_bytes(via[2].data[4..8].try_into().unwrap()) as usize / 8;
    assert_eq!(
        keys, n,
        "REGISTER AND IGNORE through the map: one key per path"
    );
    let direct = as_qemu_shows(&steps, &direct, qemu_migrate_pr_default());
    let bad = compare(
        &steps,
        ("pr-helper direct", &direct),
        ("QEMU + pr-helper", &via),
    );
    reset(&mut c, tested, other);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// WRITE(10) of one block at LBA 2048 (the lab LUNs are scratch), from the pump.
fn pump_write(q: &mut Qemu) -> PumpReply {
    q.call(&pump_write_cdb(), &[0x5a; 512], 0)
}

/// A pump command that must end GOOD; one retry after a unit attention.
fn pump_good(q: &mut Qemu, what: &str, cdb: &[u8], data: &[u8], data_in: usize) -> PumpReply {
    let mut r = q.call(cdb, data, data_in);
    if r.status == 2 && r.sense_key_asc_ascq().map(|s| s.0) == Some(6) {
        r = q.call(cdb, data, data_in);
    }
    assert_eq!(
        (r.response, r.status),
        (0, 0),
        "{}: {what}: {:?}",
        q.name,
        r.sense_key_asc_ascq()
    );
    r
}

/// Live migration with QEMU's own `migrate-pr` (QEMU 11.0+, `scsi-block` property
/// `migrate-pr`, on by default for 11.0+ machine types and set explicitly here): the
/// source QEMU runs on `src_dev` with one of our daemons, the destination QEMU (`-incoming
/// unix:`) on `dst_dev` with another. The guest (the pump) registers and reserves `ty`
/// through the source; QMP `migrate` moves it; the destination QEMU, loading the
/// `scsi-disk/pr` subsection, sends REGISTER and a self-PREEMPT through its daemon before
/// the guest runs again. Then, read from outside (READ FULL STATUS on node 2's path through
/// pr-multipath): the key is registered on the destination's nexuses only and they hold the
/// reservation; the resumed pump writes and sends PR OUT on the destination; the source's
/// nexus gets RESERVATION CONFLICT for WRITE(10) and for PR OUT through its daemon.
fn migrate_case(lun: &LabLun, case: &str, src_dev: &Path, dst_dev: &Path, ty: u8) {
    use common::lab::{Direct, full_status, summary};
    eprintln!("--- {case}");
    let t0 = Instant::now();
    common::lab::reset(lun);
    let dir = work_dir("pr-helper-lab-qemu-migrate");
    let src_helper = start("source pr-helper", OURS, &dir.join("src.sock"));
    let dst_helper = start("destination pr-helper", OURS, &dir.join("dst.sock"));
    let mig = dir.join("migration.sock");
    let _ = std::fs::remove_file(&mig);
    let cfg = |name: &str, helper: &Helper, dev: &Path, incoming: Option<String>| QemuConfig {
        name: format!("{case}: {name}"),
        helper_socket: helper.socket.clone(),
        device: dev.to_path_buf(),
        scsi_block_props: "migrate-pr=on".into(),
        qmp: Some(dir.join(format!("{name}.qmp"))),
        incoming,
        log: dir.join(format!("{name}.log")),
        emulated_disk: None,
        // QEMU's reservation-migration trace points, into the log
        extra_args: vec![
            "-trace".into(),
            "enable=scsi_generic_p*".into(),
            "-trace".into(),
            "enable=pr_manager*".into(),
            "-trace".into(),
            "enable=scsi_generic_ioctl*".into(),
        ],
    };
    let src_cfg = cfg("source", &src_helper, src_dev, None);
    let dst_cfg = cfg(
        "destination",
        &dst_helper,
        dst_dev,
        Some(format!("unix:{}", mig.display())),
    );
    for c in [&src_cfg, &dst_cfg] {
        let _ = std::fs::remove_file(c.qmp.as_ref().unwrap());
    }
    let mut src = Qemu::spawn(&src_cfg, true, BOOT);
    src.settle(8);
    let mut dst = Qemu::spawn(&dst_cfg, false, BOOT);
    let booted = t0.elapsed();

    // the guest on the source registers, reserves, writes
    let key = 0x6d69_6700_u64 + u64::from(ty);
    pump_good(
        &mut src,
        "REGISTER",
        &pr_out_cdb(0, 0, 24)[..10],
        &basic_params(0, key, 0),
        0,
    );
    pump_good(
        &mut src,
        "RESERVE",
        &pr_out_cdb(1, ty, 24)[..10],
        &basic_params(key, 0, 0),
        0,
    );
    pump_good(&mut src, "WRITE(10)", &pump_write_cdb(), &[0x5a; 512], 0);
    let node2 = Direct::open(&lun.node2[0]);
    let before = summary(&full_status(lun, &node2));
    eprintln!("{case}: before the migration: {before:?}");
    assert!(
        before.values().all(|(k, _, _)| *k == key) && before.values().any(|(_, h, _)| *h),
        "{case}: before: {before:?}"
    );

    // the migration
    let mut qmp_dst = qemu::Qmp::connect(dst_cfg.qmp.as_ref().unwrap(), Duration::from_secs(60));
    let mut qmp_src = qemu::Qmp::connect(src_cfg.qmp.as_ref().unwrap(), Duration::from_secs(60));
    let t_mig = Instant::now();
    let r = qmp_src.execute(&format!(
        r#"{{"execute":"migrate","arguments":{{"uri":"unix:{}"}}}}"#,
        mig.display()
    ));
    assert!(r.contains("\"return\""), "{case}: migrate: {r}");
    let r = qmp_src.wait_migration(
        &["completed", "failed", "cancelled"],
        Duration::from_secs(300),
    );
    let migrated = t_mig.elapsed();
    let dst_log = || std::fs::read_to_string(&dst_cfg.log).unwrap_or_default();
    assert!(
        r.contains("\"completed\""),
        "{case}: migration: {r}\ndestination QEMU log:\n{}",
        dst_log()
    );
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let s = qmp_dst.execute(r#"{"execute":"query-status"}"#);
        if s.contains("\"running\"") {
            break;
        }
        assert!(
            Instant::now() < until,
            "{case}: the destination does not run: {s}\nlog:\n{}",
            dst_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("{case}: migration completed in {migrated:?}");

    // from outside: the destination's nexuses hold registration and reservation. QEMU
    // reports "running" before its REGISTER and PREEMPT have reached the device (they run
    // after the guest is resumed), so READ FULL STATUS is polled until they have.
    let dst_nexuses: Vec<String> = if dst_dev == lun.map.as_path() {
        (0..lun.paths.len()).map(|i| format!("n1p{i}")).collect()
    } else if lun.node2.iter().any(|p| p == dst_dev) {
        vec!["n2p0".to_string()]
    } else {
        vec!["n1p0".to_string()]
    };
    let logs = || {
        // what the destination's daemon answers to READ RESERVATION now
        let rr = BlockingClient::connect(&dst_helper.socket)
            .and_then(|mut c| c.call(&rw(dst_dev), &pr_in_cdb(1, 24), &[]))
            .map(|r| {
                format!(
                    "status {:02x} sense {:02x?} data {:02x?}",
                    r.status(),
                    r.sense_key_asc_ascq(),
                    r.data
                )
            })
            .unwrap_or_else(|e| e.to_string());
        format!(
            "READ RESERVATION through the destination's daemon: {rr}\nsource QEMU log:\n{}\ndestination QEMU log:\n{}",
            std::fs::read_to_string(&src_cfg.log).unwrap_or_default(),
            dst_log()
        )
    };
    let running = Instant::now();
    let mut first = None;
    let regs = loop {
        let regs = full_status(lun, &node2);
        let after = summary(&regs);
        first.get_or_insert_with(|| after.clone());
        let registered: Vec<&String> = after.keys().collect();
        if registered == dst_nexuses.iter().collect::<Vec<_>>() {
            break regs;
        }
        assert!(
            running.elapsed() < Duration::from_secs(30),
            "{case}: registered nexuses 30 s after the migration: {after:?}, expected {dst_nexuses:?}\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let moved = running.elapsed();
    let after = summary(&regs);
    eprintln!(
        "{case}: READ FULL STATUS when QEMU reported running: {:?}; {after:?} after {moved:?}",
        first.unwrap()
    );
    assert!(
        regs.iter().all(|r| r.key == key),
        "{case}: keys after the migration: {after:?}"
    );
    let holders: Vec<_> = regs.iter().filter(|r| r.holder).collect();
    assert!(
        holders.len() == 1 && holders[0].type_code == ty,
        "{case}: one holder of type {ty} after the migration: {after:?}"
    );

    // the guest, resumed on the destination, writes and sends PR OUT
    let r = pump_write(&mut dst);
    let r = if r.status == 2 {
        pump_write(&mut dst)
    } else {
        r
    };
    assert_eq!(
        (r.response, r.status),
        (0, 0),
        "{case}: WRITE(10) from the resumed guest: {:?}",
        r.sense_key_asc_ascq()
    );
    pump_good(
        &mut dst,
        "RELEASE on the destination",
        &pr_out_cdb(2, ty, 24)[..10],
        &basic_params(key, 0, 0),
        0,
    );
    pump_good(
        &mut dst,
        "RESERVE on the destination",
        &pr_out_cdb(1, ty, 24)[..10],
        &basic_params(key, 0, 0),
        0,
    );
    let r = pump_good(
        &mut dst,
        "READ RESERVATION",
        &pr_in_cdb(1, 24)[..10],
        &[],
        24,
    );
    assert_eq!(
        (
            u64::from_be_bytes(r.data[8..16].try_into().unwrap()),
            r.data[21] & 0xf
        ),
        (key, ty),
        "{case}: READ RESERVATION from the resumed guest"
    );

    // the source's nexus is fenced: WRITE(10) and PR OUT get RESERVATION CONFLICT
    let src_nexus = if src_dev == lun.map.as_path() {
        &lun.paths[0]
    } else {
        src_dev
    };
    assert_eq!(
        Direct::open(src_nexus).write_status(),
        0x18,
        "{case}: WRITE(10) through the source's nexus {}",
        src_nexus.display()
    );
    let mut c = BlockingClient::connect(&src_helper.socket).unwrap();
    let src_fd = rw(src_dev);
    let mut st = 0;
    for _ in 0..5 {
        let r = c
            .call(&src_fd, &pr_out_cdb(1, ty, 24), &basic_params(key, 0, 0))
            .unwrap();
        st = r.status();
        if !(st == 2 && r.sense_key_asc_ascq().map(|s| s.0) == Some(6)) {
            break;
        }
    }
    assert_eq!(st, 0x18, "{case}: RESERVE through the source's daemon");
    eprintln!("{}", logs());
    drop((src, dst, qmp_src, qmp_dst));
    drop((src_helper, dst_helper));
    common::lab::reset(lun);
    eprintln!(
        "--- {case}: passed in {:?} (QEMUs started in {booted:?}, migration {migrated:?})",
        t0.elapsed()
    );
}

fn pump_write_cdb() -> [u8; 10] {
    [0x2a, 0, 0, 0, 0x08, 0, 0, 0, 1, 0]
}

/// Fails with the reason when the QEMU here has no `migrate-pr` (before 11.0).
fn need_migrate_pr() {
    let v = qemu::qemu_version();
    assert!(
        v >= (11, 0),
        "QEMU {}.{} has no scsi-block migrate-pr (11.0+): this test needs the sid stack \
         (lab/test.sh --stack sid; lab/test.sh skips sid_only tests on debian12); LAB_STACK={:?}",
        v.0,
        v.1,
        std::env::var("LAB_STACK").unwrap_or_default()
    );
    eprintln!("QEMU {}.{}", v.0, v.1);
}

#[test]
#[ignore = "needs the lab's sid stack (QEMU 11): lab/test.sh --stack sid"]
fn sid_only_qemu_client_live_migration_moves_the_reservation_between_path_devices() {
    need_migrate_pr();
    let lun = LabLun::get(0);
    for ty in [1, 5] {
        migrate_case(
            &lun,
            &format!("node 1's path -> node 2's path, type {ty}"),
            &lun.paths[0],
            &lun.node2[0],
            ty,
        );
    }
}

#[test]
#[ignore = "needs the lab's sid stack (QEMU 11): lab/test.sh --stack sid"]
fn sid_only_qemu_client_live_migration_onto_a_multipath_map() {
    need_migrate_pr();
    let lun = LabLun::get(0);
    // Write Exclusive - Registrants Only: under Write Exclusive (type 1) only the holder's
    // path may write, and dm-multipath sends the guest's writes down any path (seen: the
    // resumed guest's WRITE(10) got RESERVATION CONFLICT through the map)
    migrate_case(
        &lun,
        "node 2's path -> node 1's map, type 5",
        &lun.node2[0],
        &lun.map,
        5,
    );
}
