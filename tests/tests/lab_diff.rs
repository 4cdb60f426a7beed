//! The differential test (issue 4, "Proof: the simulator agrees with LIO"): random PR command
//! sequences run on a real LIO LUN in the project's QEMU lab (through pr-sgio) and on a fresh
//! `pr-sim` LUN with the LIO personality of the guest's kernel, in lock step; after every
//! step the status, the sense key/ASC/ASCQ, the step's own PR IN data and the bytes of all
//! four PR IN responses (read by an observer nexus) must be identical.
//!
//! The personality comes from the running kernel's release
//! (`/proc/sys/kernel/osrelease`, through
//! [`Personality::lio_for_kernel`](pr_sim::Personality::lio_for_kernel)):
//! [`Personality::Lio`](pr_sim::Personality::Lio) on Debian 12's 6.1,
//! [`Personality::Lio7_1`](pr_sim::Personality::Lio7_1) on 7.1 and later (the sid stack's
//! 7.2). If the release cannot be read or parsed, `LAB_STACK` (which `lab/run.sh` exports)
//! decides: `debian12` gives `Lio`, `sid` gives `Lio7_1`; with neither the test fails. The
//! test prints which personality it uses and why.
//!
//! It lives in `pr-tests` (the top-level `tests/` crate) because it spans crates: `pr-sim`
//! does not depend on `pr-sgio`, not even for its tests.
//!
//! Both tests are `#[ignore]`d and run inside the lab (`lab/test.sh` runs them on each
//! topology):
//! - `diff_loop`: tcm_loop (a target port per nexus, SAS TransportIDs), without PREEMPT AND
//!   ABORT (it deadlocks LIO over tcm_loop); it does nothing on an iSCSI topology.
//! - `diff_iscsi_only`: iSCSI (one target port, iSCSI TransportIDs), PREEMPT AND ABORT
//!   included; it refuses to run on tcm_loop.
//!
//! One LUN of the lab is used (the first that passes `spec_i_pt_lands_here`; `PR_DIFF_LUN`
//! forces one), through the sg node of every node-1 path (`LAB_SG_i`) and every node-2 path
//! (`LAB_NODE2_SG_i`), read with `pr-lab-support`'s `LabLun`: at least three nexuses. The sg
//! nodes are used rather than the disks because closing a disk opened for writing makes udev
//! probe (read) it, and that read would take a pending UNIT ATTENTION. multipathd is shut
//! down for the test (its path checker takes UNIT ATTENTIONs too, and it may register keys
//! on map paths) and started again at the end.
//!
//! The simulator's nexuses are not assumed: each path registers once with its own key, READ
//! FULL STATUS gives its TransportID and relative target port, then CLEAR.
//!
//! Environment (all optional):
//! - `PR_DIFF_STEPS`: steps per transport (default 5000). Each step is one command plus
//!   four PR IN from the observer (more when they meet a UNIT ATTENTION).
//! - `PR_DIFF_SEQ_LEN`: steps per sequence (seed) (default 100). A sequence ends early at
//!   its first divergence (the two targets then no longer have the same state).
//! - `PR_DIFF_SEED`: the first seed (default 1); sequence k uses seed + k.
//! - `PR_DIFF_MAX_SECS`: stop starting new sequences after this many seconds (default 240).
//! - `PR_DIFF_VERBOSE`: how many divergences are printed with their whole sequence (5).
//! - `PR_DIFF_REPORT`: a file to append the summary and the divergence table to (Markdown).
//! - `PR_DIFF_LUN`: the LUN to use, without the SPEC_I_PT probe.
//! - `PR_DIFF_PERSONALITY`: `lio6.1` or `lio7.1`, to compare with that personality whatever
//!   the kernel (for example to see the 6.1 model diverge from LIO 7.x).
//!
//! The one allowance, PRgeneration (rule `G0`, see `DIFFERENTIAL.md`): LIO's PRgeneration is
//! per device, survives CLEAR and was advanced by earlier tests and by the reset before each
//! sequence, while the simulator's LUN is fresh (0). LIO's generation fields (READ KEYS,
//! READ RESERVATION, READ FULL STATUS, bytes 0-3) are compared after subtracting the value
//! LIO reported at the start of the sequence. Nothing else is adjusted. Divergences covered
//! by a named exception in [`EXCEPTIONS`] are reported and do not fail the test; any other
//! divergence fails it.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use pr_core::prin::FullStatus;
use pr_core::transport::{Cdb, Request, Transport};
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, PrOutAction, ReservationType};
use pr_lab_support::{LabLun, need};
use pr_sgio::Device;
use pr_sim::sequence::{self, GenConfig, Outcome, Step, StepRecord};
use pr_sim::{LunConfig, Personality, Sim, lab_iscsi_topology, lab_loop_topology};

type Nexuses = Vec<(TransportId<'static>, u16)>;

// ---------------------------------------------------------------------------------------
// Exceptions: divergences that are explained and allowed
// ---------------------------------------------------------------------------------------

/// A named, documented divergence that does not fail the test (see `DIFFERENTIAL.md`).
struct Exception {
    name: &'static str,
    applies: fn(&Step, &StepRecord, &StepRecord) -> bool,
}

/// The allowed divergences. Every entry is described in `DIFFERENTIAL.md`.
const EXCEPTIONS: &[Exception] = &[];

// ---------------------------------------------------------------------------------------
// The lab
// ---------------------------------------------------------------------------------------

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        _ => default,
    }
}

/// The LIO personality to compare with, and why: `PR_DIFF_PERSONALITY`, else the running
/// kernel's release, else `LAB_STACK`. Panics (the test fails) when none of them decides.
fn lio_personality() -> (Personality, String) {
    let stack = std::env::var("LAB_STACK").unwrap_or_default();
    if let Ok(v) = std::env::var("PR_DIFF_PERSONALITY")
        && !v.trim().is_empty()
    {
        let p = match v.trim() {
            "lio6.1" => Personality::Lio,
            "lio7.1" => Personality::Lio7_1,
            other => panic!("PR_DIFF_PERSONALITY={other:?}: expected lio6.1 or lio7.1"),
        };
        return (p, format!("PR_DIFF_PERSONALITY={v} (LAB_STACK={stack:?})"));
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease");
    if let Ok(r) = &release
        && let Some(p) = Personality::lio_for_kernel(r)
    {
        return (
            p,
            format!("the running kernel {} (LAB_STACK={stack:?})", r.trim()),
        );
    }
    let p = match stack.as_str() {
        "debian12" => Personality::Lio,
        "sid" => Personality::Lio7_1,
        _ => panic!(
            "cannot tell which LIO personality to compare with: kernel release {release:?} \
             not understood and LAB_STACK={stack:?} is neither debian12 nor sid \
             (set PR_DIFF_PERSONALITY=lio6.1 or lio7.1)"
        ),
    };
    (
        p,
        format!("LAB_STACK={stack} (kernel release {release:?} not understood)"),
    )
}

/// LUN `lun` of the lab and the devices of its nexuses: the sg nodes of node 1's paths,
/// then node 2's. `LabLun::get` asserts at least two node-1 paths and one node-2 path, so
/// there are at least the three nexuses the test needs.
fn lab_devices(lun: usize) -> (LabLun, Vec<PathBuf>) {
    let l = LabLun::get(lun);
    let devices = l.sgs.iter().chain(&l.node2_sgs).cloned().collect();
    (l, devices)
}

fn open_all(paths: &[PathBuf]) -> Vec<Device> {
    paths
        .iter()
        .map(|p| Device::open(p).unwrap_or_else(|e| panic!("open {}: {e}", p.display())))
        .collect()
}

/// Whether LIO attaches a registration made for another nexus through SPEC_I_PT to this LUN:
/// path 0 registers itself and path 1's TransportID, CLEARs, and path 1 must then report
/// UNIT ATTENTION 2Ah/03h. LIO finds the nexus's LUN entry by relative target port only
/// (DEPARTURES.md #28), so on a port that exports several LUNs the registration (its unit
/// attentions, its "registered" state) can land on another LUN; the simulator models one LUN.
async fn spec_i_pt_lands_here(devs: &[Device], nexuses: &Nexuses) -> bool {
    reset_real(devs).await;
    let key = 0x6466_6600_0000_0200u64;
    let tid = &nexuses[1].0;
    let mut t = vec![0u8; tid.encoded_len()];
    let n = tid.encode(&mut t).expect("TransportID");
    t.truncate(n);
    let mut p = vec![0u8; 28];
    p[8..16].copy_from_slice(&key.to_be_bytes());
    p[20] = 0x08;
    p[24..28].copy_from_slice(&u32::try_from(t.len()).expect("len").to_be_bytes());
    p.extend_from_slice(&t);
    let pll = u8::try_from(p.len()).expect("pll");
    let (o, _) = exec(&devs[0], &[0x5f, 0, 0, 0, 0, 0, 0, 0, pll, 0], p, 0).await;
    assert!(is_good(&o), "probe: REGISTER with SPEC_I_PT failed: {o:?}");
    let o = prout(&devs[0], 3, 0, key, 0, 0).await;
    assert!(is_good(&o), "probe: CLEAR failed: {o:?}");
    let (o, _) = exec(&devs[1], &[0; 6], Vec::new(), 0).await;
    let here = o
        == Outcome::Status {
            status: 2,
            sense: Some((6, 0x2a, 0x03)),
        };
    reset_real(devs).await;
    here
}

/// Stops multipathd for the test and starts it again when dropped.
struct MultipathdPaused {
    was_running: bool,
}

impl MultipathdPaused {
    fn new() -> Self {
        let was_running = Command::new("multipathd")
            .args(["show", "daemon"])
            .output()
            .is_ok_and(|o| o.status.success());
        if was_running {
            let _ = Command::new("multipathd").arg("shutdown").status();
            for _ in 0..50 {
                let up = Command::new("multipathd")
                    .args(["show", "daemon"])
                    .output()
                    .is_ok_and(|o| o.status.success());
                if !up {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        eprintln!("multipathd: was running: {was_running}; stopped for the test");
        MultipathdPaused { was_running }
    }
}

impl Drop for MultipathdPaused {
    fn drop(&mut self) {
        if !self.was_running {
            return;
        }
        let _ = Command::new("multipathd").status();
        for _ in 0..100 {
            let ok = Command::new("multipathd")
                .args(["show", "maps"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                eprintln!("multipathd: started again");
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!("multipathd: did not answer within 20 s after restart");
    }
}

// ---------------------------------------------------------------------------------------
// Raw commands on the real devices
// ---------------------------------------------------------------------------------------

async fn exec<T: Transport>(t: &T, cdb: &[u8], out: Vec<u8>, in_len: usize) -> (Outcome, Vec<u8>) {
    let cdb = Cdb::new(cdb).expect("CDB");
    let req = if !out.is_empty() {
        Request::data_out(cdb, out)
    } else if in_len > 0 {
        Request::data_in(cdb, in_len)
    } else {
        Request::no_data(cdb)
    };
    match t.execute(req).await {
        Ok(r) => (
            Outcome::Status {
                status: r.completion.status.0,
                sense: r
                    .completion
                    .sense()
                    .map(|s| (s.key().code(), s.asc().unwrap_or(0), s.ascq().unwrap_or(0))),
            },
            r.buf,
        ),
        Err(e) => (Outcome::Transport(e.to_string()), Vec::new()),
    }
}

fn is_ua(o: &Outcome) -> bool {
    matches!(
        o,
        Outcome::Status {
            sense: Some((6, _, _)),
            ..
        }
    )
}

fn is_good(o: &Outcome) -> bool {
    matches!(o, Outcome::Status { status: 0, .. })
}

/// TEST UNIT READY until no UNIT ATTENTION is pending.
async fn drain_ua<T: Transport>(t: &T) {
    for _ in 0..16 {
        let (o, _) = exec(t, &[0; 6], Vec::new(), 0).await;
        if !is_ua(&o) {
            return;
        }
    }
}

async fn prout<T: Transport>(t: &T, sa: u8, ty: u8, key: u64, sa_key: u64, flags: u8) -> Outcome {
    let mut p = vec![0u8; 24];
    p[..8].copy_from_slice(&key.to_be_bytes());
    p[8..16].copy_from_slice(&sa_key.to_be_bytes());
    p[20] = flags;
    let cdb = [0x5f, sa, ty, 0, 0, 0, 0, 0, 24, 0];
    exec(t, &cdb, p, 0).await.0
}

async fn prin<T: Transport>(t: &T, action: PrInAction) -> Vec<u8> {
    for _ in 0..8 {
        let cdb = [0x5e, action.code(), 0, 0, 0, 0, 0, 0x20, 0, 0];
        let (o, d) = exec(t, &cdb, Vec::new(), 8192).await;
        if is_ua(&o) {
            continue;
        }
        assert!(is_good(&o), "{}: {action} failed: {o:?}", t.name());
        return d;
    }
    panic!(
        "{}: {action}: UNIT ATTENTION after UNIT ATTENTION",
        t.name()
    );
}

const CLEANUP_KEY: u64 = 0x6466_6600_0000_0001;

/// Brings the real LUN back to "nothing registered, no reservation, APTPL off, no unit
/// attention pending"; returns its PRgeneration then.
async fn reset_real(devs: &[Device]) -> u32 {
    for d in devs {
        drain_ua(d).await;
    }
    let d0 = &devs[0];
    let mut o = prout(d0, 6, 0, 0, CLEANUP_KEY, 0).await;
    if !is_good(&o) {
        // An ALL_TG_PT registration can only be changed with ALL_TG_PT (LIO).
        o = prout(d0, 6, 0, 0, CLEANUP_KEY, 0x04).await;
    }
    assert!(
        is_good(&o),
        "reset: REGISTER AND IGNORE EXISTING KEY failed: {o:?}"
    );
    let o = prout(d0, 3, 0, CLEANUP_KEY, 0, 0).await;
    assert!(is_good(&o), "reset: CLEAR failed: {o:?}");
    for d in devs {
        drain_ua(d).await;
    }
    let keys = prin(d0, PrInAction::ReadKeys).await;
    assert_eq!(
        keys.get(4..8),
        Some(&[0u8; 4][..]),
        "reset: keys left: {keys:02x?}"
    );
    let resv = prin(d0, PrInAction::ReadReservation).await;
    assert_eq!(
        resv.get(4..8),
        Some(&[0u8; 4][..]),
        "reset: reservation left: {resv:02x?}"
    );
    let caps = prin(d0, PrInAction::ReportCapabilities).await;
    assert_eq!(
        caps.get(3).map(|b| b & 1),
        Some(0),
        "reset: PTPL_A still set: {caps:02x?}"
    );
    u32::from_be_bytes(keys[..4].try_into().expect("generation"))
}

/// Each device's nexus as READ FULL STATUS reports it (TransportID, relative target port).
async fn discover(devs: &[Device]) -> Nexuses {
    reset_real(devs).await;
    let base = 0x6466_6600_0000_0100u64;
    for (i, d) in devs.iter().enumerate() {
        let o = prout(d, 6, 0, 0, base + i as u64, 0).await;
        assert!(
            is_good(&o),
            "discovery: REGISTER on {} failed: {o:?}",
            d.name()
        );
    }
    let data = prin(&devs[0], PrInAction::ReadFullStatus).await;
    let fs = FullStatus::decode(&data).expect("READ FULL STATUS");
    let mut found: Vec<Option<(TransportId<'static>, u16)>> = vec![None; devs.len()];
    for desc in fs.descriptors() {
        let k = desc.key().0.wrapping_sub(base);
        let Some(slot) = usize::try_from(k).ok().and_then(|k| found.get_mut(k)) else {
            panic!("discovery: unexpected key {:#x}", desc.key().0);
        };
        assert!(
            slot.is_none(),
            "discovery: key {k} listed twice: {data:02x?}"
        );
        let tid = desc.transport_id().expect("TransportID").into_owned();
        *slot = Some((tid, desc.relative_target_port()));
    }
    reset_real(devs).await;
    found
        .into_iter()
        .enumerate()
        .map(|(i, f)| f.unwrap_or_else(|| panic!("discovery: {} not listed", devs[i].name())))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------

fn has_generation(sa: u8) -> bool {
    matches!(sa & 0x1f, 0 | 1 | 3)
}

fn rebase(data: &mut [u8], base: u32) {
    if let Some(g) = data.get_mut(..4) {
        let v = u32::from_be_bytes([g[0], g[1], g[2], g[3]]).wrapping_sub(base);
        g.copy_from_slice(&v.to_be_bytes());
    }
}

/// Rule G0: LIO's PRgeneration relative to the start of the sequence.
fn normalize(rec: &mut StepRecord, step: &Step, base: u32) {
    if step.cdb.first() == Some(&0x5e) && has_generation(step.cdb.get(1).copied().unwrap_or(0)) {
        rebase(&mut rec.data, base);
    }
    for o in &mut rec.observations {
        if has_generation(o.action.code()) {
            rebase(&mut o.data, base);
        }
    }
}

fn key_name(k: u64) -> String {
    if k == 0 { "0".into() } else { format!("{k:x}") }
}

/// A step in words: `n1 REGISTER key=0 sa=2222 SPEC_I_PT[2 ids] (pll 92)`.
fn describe(s: &Step) -> String {
    let c = &s.cdb;
    let mut t = format!("n{} ", s.nexus);
    match c.first().copied() {
        Some(0x00) => t.push_str("TEST UNIT READY"),
        Some(0x28) => t.push_str("READ(10)"),
        Some(0x2a) => t.push_str("WRITE(10)"),
        Some(0x5e) => {
            let sa = c[1] & 0x1f;
            let alloc = u16::from_be_bytes([c[7], c[8]]);
            match PrInAction::from_code(sa) {
                Some(a) => {
                    let _ = write!(t, "PR IN {a} alloc={alloc}");
                }
                None => {
                    let _ = write!(t, "PR IN SA {sa:#x} alloc={alloc}");
                }
            }
        }
        Some(0x5f) => {
            let sa = c[1] & 0x1f;
            let scope = c[2] >> 4;
            let ty = c[2] & 0xf;
            let pll = u32::from_be_bytes([c[5], c[6], c[7], c[8]]);
            let p = &s.data_out;
            let u = |r: std::ops::Range<usize>| {
                p.get(r)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
            };
            match PrOutAction::from_code(sa) {
                Some(a) => {
                    let _ = write!(t, "{a}");
                }
                None => {
                    let _ = write!(t, "PR OUT SA {sa:#x}");
                }
            }
            if let Some(k) = u(0..8) {
                let _ = write!(t, " key={}", key_name(k));
            }
            if let Some(k) = u(8..16) {
                let _ = write!(t, " sa={}", key_name(k));
            }
            if ty != 0 || matches!(sa, 1 | 2 | 4 | 5 | 7 | 8) {
                let name = ReservationType::from_code(ty).map_or("reserved", |r| r.short_name());
                let _ = write!(t, " type={ty}({name})");
            }
            if scope != 0 {
                let _ = write!(t, " scope={scope}");
            }
            if sa == 7 {
                let f = p.get(17).copied().unwrap_or(0);
                if f & 2 != 0 {
                    t.push_str(" UNREG");
                }
                if f & 1 != 0 {
                    t.push_str(" APTPL");
                }
                if p.len() >= 20 {
                    let _ = write!(t, " rtpi={}", u16::from_be_bytes([p[18], p[19]]));
                }
                if let Some((tid, _)) = p.get(24..).and_then(|b| TransportId::decode(b).ok()) {
                    let _ = write!(t, " to={tid}");
                }
            } else {
                let f = p.get(20).copied().unwrap_or(0);
                if f & 8 != 0 {
                    t.push_str(" SPEC_I_PT");
                    let mut rest = p.get(28..).unwrap_or(&[]);
                    let mut ids = Vec::new();
                    while let Ok((tid, n)) = TransportId::decode(rest) {
                        ids.push(tid.to_string());
                        rest = rest.get(n..).unwrap_or(&[]);
                        if n == 0 {
                            break;
                        }
                    }
                    let _ = write!(t, "[{}]", ids.join(" "));
                }
                if f & 4 != 0 {
                    t.push_str(" ALL_TG_PT");
                }
                if f & 1 != 0 {
                    t.push_str(" APTPL");
                }
            }
            if usize::try_from(pll).ok() != Some(24) {
                let _ = write!(t, " (pll {pll})");
            }
        }
        Some(op) => {
            let _ = write!(t, "opcode {op:#x}");
        }
        None => t.push_str("(empty)"),
    }
    t
}

fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Status { status: 0, .. } => "GOOD".into(),
        Outcome::Status { status: 0x18, .. } => "RESERVATION CONFLICT".into(),
        Outcome::Status {
            status,
            sense: Some((k, a, q)),
        } => format!("{status:02x} {k:x}/{a:02x}/{q:02x}"),
        Outcome::Status {
            status,
            sense: None,
        } => format!("status {status:02x}"),
        Outcome::Transport(e) => format!("transport error: {e}"),
    }
}

/// What differs, in a table cell: the step's outcome, else the first PR IN that differs.
fn short_diff(real: &StepRecord, sim: &StepRecord) -> (String, String) {
    if real.outcome != sim.outcome {
        return (outcome_text(&real.outcome), outcome_text(&sim.outcome));
    }
    if real.data != sim.data {
        return (hex(&real.data), hex(&sim.data));
    }
    for (a, b) in real.observations.iter().zip(&sim.observations) {
        if a != b {
            let f = |o: &sequence::Observation| {
                let mut s = format!("{}: ", o.action);
                if o.outcome
                    != (Outcome::Status {
                        status: 0,
                        sense: None,
                    })
                {
                    let _ = write!(s, "{} ", outcome_text(&o.outcome));
                }
                if !o.unit_attentions.is_empty() {
                    let _ = write!(s, "UA {:02x?} ", o.unit_attentions);
                }
                s.push_str(&hex(&o.data));
                s
            };
            return (f(a), f(b));
        }
    }
    ("?".into(), "?".into())
}

fn hex(d: &[u8]) -> String {
    let mut s = String::new();
    for (i, b) in d.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            s.push(' ');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

struct Divergence {
    seed: u64,
    step: usize,
    command: String,
    lio: String,
    sim: String,
    exception: Option<&'static str>,
}

// ---------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------

fn run_diff(expect_iscsi: bool) {
    let transport = need("LAB_TRANSPORT");
    let iscsi = transport == "iscsi";
    if expect_iscsi && !iscsi {
        panic!(
            "diff_iscsi_only runs PREEMPT AND ABORT, which deadlocks LIO over tcm_loop: run it \
             on an iSCSI topology (lab/test.sh skips it on loop)"
        );
    }
    if !expect_iscsi && iscsi {
        eprintln!("diff_loop: LAB_TRANSPORT=iscsi; diff_iscsi_only covers this topology");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run_diff_async(&transport, iscsi));
}

async fn run_diff_async(transport: &str, iscsi: bool) {
    let total_steps: usize = env_num("PR_DIFF_STEPS", 5000);
    let seq_len: usize = env_num("PR_DIFF_SEQ_LEN", 100).max(1);
    let first_seed: u64 = env_num("PR_DIFF_SEED", 1);
    let max_secs: u64 = env_num("PR_DIFF_MAX_SECS", 240);
    let verbose: usize = env_num("PR_DIFF_VERBOSE", 5);

    let (personality, why) = lio_personality();
    eprintln!("pr-sim personality: {personality} ({personality:?}), chosen from {why}");
    let _mp = MultipathdPaused::new();
    let started = Instant::now();
    // The LUN: PR_DIFF_LUN, else the first one where SPEC_I_PT registrations land on the
    // LUN itself (see `spec_i_pt_lands_here`).
    let luns: usize = need("LAB_LUNS")
        .trim()
        .parse()
        .expect("LAB_LUNS is a number");
    let chosen: Option<usize> = std::env::var("PR_DIFF_LUN")
        .ok()
        .and_then(|v| v.trim().parse().ok());
    let mut picked = None;
    for lun in chosen.map_or(0..luns, |l| l..l + 1) {
        let (lab_lun, paths) = lab_devices(lun);
        let devs = open_all(&paths);
        let nexuses = discover(&devs).await;
        if chosen.is_some() || spec_i_pt_lands_here(&devs, &nexuses).await {
            picked = Some((lab_lun, paths, devs, nexuses));
            break;
        }
        eprintln!(
            "LUN {lun}: LIO attached a SPEC_I_PT registration of another nexus to another LUN \
             of the same port (DEPARTURES.md #28); trying the next LUN"
        );
    }
    let Some((lab_lun, paths, devs, nexuses)) = picked else {
        panic!(
            "on no LUN of this topology did LIO attach SPEC_I_PT registrations to the LUN \
             itself (DEPARTURES.md #28); run with one LUN (lab/run.sh -l 1) or set PR_DIFF_LUN"
        );
    };
    // What `lab_*_topology` predicts for this lab (only printed; the test uses the nexuses
    // discovered above).
    let lun = lab_lun.index;
    let (np, n2) = (lab_lun.paths.len(), lab_lun.node2.len());
    let canned = if iscsi {
        lab_iscsi_topology(np, n2)
    } else {
        lab_loop_topology(np, n2)
    };
    eprintln!("LUN {lun} nexuses on {transport} (from READ FULL STATUS):");
    for ((tid, port), p) in nexuses.iter().zip(&paths) {
        eprintln!("  {}: {tid} via relative target port {port}", p.display());
    }
    eprintln!(
        "  lab_{transport}_topology({np}, {n2}) {} them",
        if canned == nexuses {
            "matches"
        } else {
            "does not match"
        }
    );

    let mut divergences: Vec<Divergence> = Vec::new();
    let mut steps_run = 0usize;
    let mut lio_commands = 0usize;
    let mut sequences = 0usize;
    let mut printed = 0usize;
    let mut seed = first_seed;
    while steps_run < total_steps {
        if started.elapsed() > Duration::from_secs(max_secs) {
            eprintln!("PR_DIFF_MAX_SECS={max_secs} reached: stopping");
            break;
        }
        let len = seq_len.min(total_steps - steps_run);
        let mut cfg = GenConfig::new(seed, len, nexuses.clone());
        cfg.preempt_and_abort = iscsi;
        let steps = sequence::generate(&cfg);
        let observer = usize::try_from(seed).unwrap_or(0) % devs.len();

        let base = reset_real(&devs).await;
        lio_commands += 2 + devs.len() * 2 + 3;
        let (sim, spaths) =
            Sim::single_lun(LunConfig::lio().with_personality(personality), &nexuses);
        for p in &spaths {
            let n = p.it_nexus().expect("sim nexus");
            sim.with_lun(p.lun(), |lu| lu.add_nexus(n));
        }
        sequences += 1;
        let mut history: Vec<(StepRecord, StepRecord)> = Vec::new();
        for (i, s) in steps.iter().enumerate() {
            let mut real = sequence::run_step(s, &devs, observer).await;
            normalize(&mut real, s, base);
            let simr = sequence::run_step(s, &spaths, observer).await;
            steps_run += 1;
            lio_commands += 1 + real
                .observations
                .iter()
                .map(|o| 1 + o.unit_attentions.len())
                .sum::<usize>();
            let differs = sequence::compare(&real, &simr);
            history.push((real, simr));
            let Some(detail) = differs else { continue };
            let (real, simr) = history.last().expect("pushed");
            let exception = EXCEPTIONS
                .iter()
                .find(|e| (e.applies)(s, real, simr))
                .map(|e| e.name);
            let (lio, simt) = short_diff(real, simr);
            if printed < verbose {
                printed += 1;
                eprintln!(
                    "\n=== divergence: seed {seed} step {i} (observer n{observer}){}\n{detail}",
                    exception
                        .map(|e| format!(" [exception {e}]"))
                        .unwrap_or_default()
                );
                for (j, (st, (a, b))) in steps.iter().zip(&history).enumerate() {
                    let mark = if a == b { ' ' } else { '!' };
                    let mut line = format!(
                        "{mark}{j:3} {:<70} LIO {}",
                        describe(st),
                        outcome_text(&a.outcome)
                    );
                    if a.outcome != b.outcome {
                        let _ = write!(line, " | sim {}", outcome_text(&b.outcome));
                    }
                    let uas: Vec<_> = a
                        .observations
                        .iter()
                        .flat_map(|o| o.unit_attentions.iter())
                        .collect();
                    if !uas.is_empty() {
                        let _ = write!(line, " (observer UA {uas:02x?})");
                    }
                    eprintln!("{line}");
                }
                if let Some(fs) = real.observations.get(3) {
                    eprintln!("LIO READ FULL STATUS: {}", hex(&fs.data));
                }
                if let Some(fs) = simr.observations.get(3) {
                    eprintln!("sim READ FULL STATUS: {}", hex(&fs.data));
                }
            }
            divergences.push(Divergence {
                seed,
                step: i,
                command: describe(s),
                lio,
                sim: simt,
                exception,
            });
            break;
        }
        seed += 1;
    }
    reset_real(&devs).await;
    let elapsed = started.elapsed();

    let unexplained = divergences.iter().filter(|d| d.exception.is_none()).count();
    let mut report = String::new();
    let _ = writeln!(
        report,
        "\n## {transport}, LUN {lun} of {luns}, {} nexuses: {steps_run} steps in {sequences} sequences (seeds {first_seed}..{}), \
         {lio_commands} commands to LIO, {:.1} s ({:.0} steps/s); {} divergence(s), {unexplained} \
         unexplained; PREEMPT AND ABORT {}; pr-sim personality {personality:?} ({why})\n",
        devs.len(),
        seed.saturating_sub(1),
        elapsed.as_secs_f64(),
        steps_run as f64 / elapsed.as_secs_f64().max(0.001),
        divergences.len(),
        if iscsi { "included" } else { "left out" }
    );
    if !divergences.is_empty() {
        report.push_str(
            "| seed | step | command | LIO | sim | exception |\n|---|---|---|---|---|---|\n",
        );
        for d in &divergences {
            let _ = writeln!(
                report,
                "| {} | {} | `{}` | {} | {} | {} |",
                d.seed,
                d.step,
                d.command,
                d.lio,
                d.sim,
                d.exception.unwrap_or("**none**")
            );
        }
    }
    eprintln!("{report}");
    if let Ok(path) = std::env::var("PR_DIFF_REPORT")
        && !path.is_empty()
    {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("PR_DIFF_REPORT {path}: {e}"));
        let _ = f.write_all(report.as_bytes());
    }
    assert_eq!(
        unexplained, 0,
        "{unexplained} divergence(s) between LIO and pr-sim's {personality:?} personality not \
         covered by a documented exception (table above)"
    );
}

/// tcm_loop: SAS TransportIDs, a target port per nexus, no PREEMPT AND ABORT.
#[test]
#[ignore = "needs the QEMU lab: lab/test.sh"]
fn diff_loop() {
    run_diff(false);
}

/// iSCSI: one target port, iSCSI TransportIDs, PREEMPT AND ABORT included.
#[test]
#[ignore = "needs the QEMU lab: lab/test.sh"]
fn diff_iscsi_only() {
    run_diff(true);
}
