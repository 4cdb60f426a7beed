//! Proof on real LIO devices (issue 3): every PR IN and PR OUT action through pr-sgio on
//! path devices, checked against `sg_persist` after each step (decoded fields and raw
//! bytes); RESERVATION CONFLICT, UNIT ATTENTION and timeouts reaching the caller; the
//! block-layer PR ioctl transport; READ FULL STATUS growth past LIO's silent truncation.
//!
//! Every test is `#[ignore]`d: `lab/test.sh` runs them inside the QEMU lab, on tcm_loop
//! and on iSCSI. Tests using PREEMPT AND ABORT (or an iSCSI-only way to delay commands) have
//! `iscsi_only` in their name: PREEMPT AND ABORT deadlocks LIO over tcm_loop.
//!
//! All tests work on LUN 1 (LUN 0 is the selftest's and `lab.rs`'s), with two node-1 paths
//! (P0, P1, in the multipath map) and the first node-2 path (N, in no map, so multipathd's
//! path checker never consumes its UNIT ATTENTIONs). Each test starts and ends with CLEAR.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use pr_core::outcome::CommandError;
use pr_core::prout::PrOut;
use pr_core::transport::{Cdb, Request, Response, Transport, TransportError};
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, ReservationKey, ReservationType};
use pr_lab_support::raw::{self, PrInOptions};
use pr_sgio::{BlockPrDevice, Device, Engine, Error, OpenOptions};

const LUN: usize = 1;

fn key(test: u8, role: u8) -> ReservationKey {
    ReservationKey(0x7072_5f00_0000_0000 | (u64::from(test) << 8) | u64::from(role))
}

fn open(p: &Path) -> Device {
    Device::open(p).unwrap_or_else(|e| panic!("{e}"))
}

/// The initiator port name a TransportID stands for, in the lab's LAB_INITIATORS form.
fn initiator_of(t: &TransportId<'_>) -> String {
    match t {
        TransportId::Sas { address } => format!("naa.{address:016x}"),
        TransportId::Iscsi { name, .. } => name.to_string(),
        other => panic!("unexpected TransportID {other:?}"),
    }
}

/// The block length of the LUN (READ CAPACITY(10)).
async fn block_len(d: &Device) -> usize {
    let cdb = [0x25u8, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let r = retry_ua(|| async {
        let r = d.execute(Request::data_in(Cdb::from(cdb), 8)).await?;
        r.completion.check().map_err(|e| Error::Command {
            device: d.name().to_owned(),
            what: "READ CAPACITY(10)".into(),
            source: Box::new(e),
        })?;
        Ok(r)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    u32::from_be_bytes(r.buf[4..8].try_into().unwrap()) as usize
}

/// WRITE(10) of one block at `lba`; the raw response, whatever the status.
async fn write10(d: &Device, lba: u32, block: usize) -> Response {
    let l = lba.to_be_bytes();
    let cdb = [0x2a, 0, l[0], l[1], l[2], l[3], 0, 0, 1, 0];
    d.execute(Request::data_out(Cdb::from(cdb), vec![0x5a; block]))
        .await
        .unwrap_or_else(|e| panic!("{}: WRITE(10) did not complete: {e}", d.name()))
}

/// WRITE(10) that must be refused with RESERVATION CONFLICT (skipping a pending UA).
async fn assert_write_conflicts(d: &Device, block: usize) -> CommandError {
    for _ in 0..5 {
        let r = write10(d, 4096, block).await;
        match r.completion.check() {
            Err(e) if e.is_unit_attention() => continue,
            Err(e) => {
                assert!(
                    e.is_reservation_conflict(),
                    "{}: WRITE(10) failed but not with RESERVATION CONFLICT: {e} ({:?})",
                    d.name(),
                    r.completion
                );
                eprintln!(
                    "  {}: WRITE(10) -> {e} (status {:#04x}, host byte {:#06x}, driver byte {:#06x})",
                    d.name(),
                    r.completion.status.0,
                    r.completion.host_status,
                    r.completion.driver_status
                );
                return e;
            }
            Ok(()) => panic!(
                "{}: WRITE(10) succeeded; expected RESERVATION CONFLICT",
                d.name()
            ),
        }
    }
    panic!("{}: WRITE(10) kept getting UNIT ATTENTION", d.name());
}

async fn assert_write_ok(d: &Device, block: usize) {
    for _ in 0..5 {
        let r = write10(d, 4096, block).await;
        match r.completion.check() {
            Err(e) if e.is_unit_attention() => continue,
            Err(e) => panic!("{}: WRITE(10) failed: {e}", d.name()),
            Ok(()) => return,
        }
    }
    panic!("{}: WRITE(10) kept getting UNIT ATTENTION", d.name());
}

/// Waits for udev's queue (closing a /dev/sdX that was open for writing makes udev run
/// blkid on it, and those reads would take a pending UNIT ATTENTION of that nexus).
fn udev_settle() {
    let _ = run("udevadm", &["settle", "-t", "30"]);
}

/// Every PR OUT action except PREEMPT AND ABORT (see the `iscsi_only` test), each followed
/// by all four PR IN actions through pr-sgio compared with sg_persist on the same path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn prout_every_action_matches_sg_persist() {
    let lun = Lun::get(LUN);
    let (p0, p1, n) = (&lun.paths[0], &lun.paths[1], &lun.node2[0]);
    let (d0, d1, dn) = (open(p0), open(p1), open(n));
    let (a, b, c) = (key(1, 0xa), key(1, 0xb), key(1, 0xc));
    clear_lun(&d0).await;

    let s = compare_with_sg_persist(p0, "cleared").await;
    assert!(s.keys.is_empty() && s.reservation.is_none() && s.descs.is_empty());
    let g0 = s.generation;
    // LIO's constant capabilities (REFERENCE.md §8): RLR_C=0 CRH SIP_C ATP_C PTPL_C TMV.
    assert_eq!(s.raw["c"], [0x00, 0x08, 0x1d, 0x90, 0xea, 0x01, 0, 0]);
    assert!(!s.caps.rlr_c(), "LIO reports RLR_C=0");

    // REGISTER (P0), REGISTER AND IGNORE EXISTING KEY (P1), REGISTER (N).
    prout(&d0, &PrOut::register(ReservationKey(0), a)).await;
    let s = compare_with_sg_persist(p0, "REGISTER P0").await;
    assert_eq!((s.generation, s.keys.as_slice()), (g0 + 1, &[a][..]));
    let p0_desc = s.descs[0].clone();
    assert!(
        lun.initiators.contains(&initiator_of(&p0_desc.tid)),
        "P0's TransportID {} is not one of LAB_INITIATORS {:?}",
        p0_desc.tid,
        lun.initiators
    );
    prout(&d1, &PrOut::register_ignore(b)).await;
    prout(&dn, &PrOut::register(ReservationKey(0), c)).await;
    let s = compare_with_sg_persist(p0, "REGISTER AND IGNORE P1, REGISTER N").await;
    assert_eq!((s.generation, s.keys.as_slice()), (g0 + 3, &[a, b, c][..]));
    let n_desc = s.descs.iter().find(|x| x.key == c).unwrap();
    assert!(
        lun.node2_initiators.contains(&initiator_of(&n_desc.tid)),
        "N's TransportID {} is not one of LAB_NODE2_INITIATORS {:?}",
        n_desc.tid,
        lun.node2_initiators
    );
    // REGISTER that changes a key (N: C -> C') and back.
    let c2 = key(1, 0xcc);
    prout(&dn, &PrOut::register(c, c2)).await;
    let s = compare_with_sg_persist(n, "REGISTER N C->C' (read via N)").await;
    assert_eq!(s.keys, [a, b, c2]);
    prout(&dn, &PrOut::register(c2, c)).await;

    // RESERVE (Write Exclusive, Registrants Only), RELEASE.
    let we_ro = ReservationType::WriteExclusiveRegistrantsOnly;
    prout(&d0, &PrOut::reserve(a, we_ro)).await;
    let s = compare_with_sg_persist(p0, "RESERVE type 5 by P0").await;
    let r = s.reservation.expect("reservation");
    assert_eq!((r.key, r.type_code), (a, 5));
    assert!(s.descs.iter().all(|x| x.holder == (x.key == a)));
    prout(&d0, &PrOut::release(a, we_ro)).await;
    let s = compare_with_sg_persist(p0, "RELEASE").await;
    assert!(s.reservation.is_none());

    // RESERVE Write Exclusive by P0, then PREEMPT by P1: A is removed, B holds.
    let we = ReservationType::WriteExclusive;
    prout(&d0, &PrOut::reserve(a, we)).await;
    let g = compare_with_sg_persist(p1, "RESERVE type 1 by P0 (read via P1)")
        .await
        .generation;
    prout(&d1, &PrOut::preempt(b, a, we)).await;
    let s = compare_with_sg_persist(p1, "PREEMPT by P1").await;
    assert_eq!((s.generation, s.keys.as_slice()), (g + 1, &[b, c][..]));
    let r = s.reservation.expect("reservation");
    assert_eq!((r.key, r.type_code), (b, 1));

    // REGISTER AND MOVE: P1 moves its reservation to P0's nexus (unregistered since the
    // PREEMPT), named by the TransportID and relative target port READ FULL STATUS gave.
    let mv = PrOut::register_and_move(b, a, we, &p0_desc.tid, p0_desc.rtpi);
    prout(&d1, &mv).await;
    let s = compare_with_sg_persist(p0, "REGISTER AND MOVE P1 -> P0").await;
    assert_eq!((s.generation, s.keys.as_slice()), (g + 2, &[b, c, a][..]));
    let r = s.reservation.expect("reservation");
    assert_eq!((r.key, r.type_code), (a, 1));
    let holder = s.descs.iter().find(|x| x.holder).expect("a holder");
    assert_eq!(
        (&holder.tid, holder.rtpi),
        (&p0_desc.tid, p0_desc.rtpi),
        "the reservation moved to P0's nexus"
    );
    assert_eq!(holder.tid_bytes, p0_desc.tid_bytes);

    // REPLACE LOST RESERVATION: LIO does not implement it (RLR_C=0): ILLEGAL REQUEST,
    // INVALID FIELD IN CDB; nothing changes.
    let rlr = PrOut::replace_lost_reservation(a, we);
    let e = retry_ua(|| raw::pr_out(&d0, &rlr, None)).await.unwrap_err();
    let ce = e.command_error().unwrap_or_else(|| panic!("{e}"));
    assert!(
        matches!(ce, CommandError::IllegalRequest { .. }) && ce.asc_ascq() == Some((0x24, 0)),
        "REPLACE LOST RESERVATION: {e}"
    );
    eprintln!("  REPLACE LOST RESERVATION -> {e}");
    let s2 = compare_with_sg_persist(p0, "after REPLACE LOST RESERVATION").await;
    assert_eq!(s2.raw, s.raw);

    // APTPL: REGISTER AND IGNORE with APTPL=1 activates PTPL_A; LIO writes its APTPL file.
    prout(&d0, &PrOut::register_ignore(a).with_aptpl()).await;
    let s = compare_with_sg_persist(p0, "REGISTER AND IGNORE with APTPL").await;
    assert!(s.caps.ptpl_a(), "PTPL_A after APTPL");
    assert_eq!(s.raw["c"][3], 0x91);
    let files: Vec<String> = std::fs::read_dir("/etc/target/pr")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().to_string_lossy().into_owned())
                .filter(|p| p.contains("aptpl_"))
                .collect()
        })
        .unwrap_or_default();
    let want = format!("sa_res_key={}", a.0);
    assert!(
        files
            .iter()
            .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(&want))),
        "no APTPL file in /etc/target/pr holds {want}: {files:?}"
    );

    // CLEAR: everything goes, PTPL_A goes off.
    prout(&d0, &PrOut::clear(a)).await;
    let s = compare_with_sg_persist(p0, "CLEAR").await;
    assert!(s.keys.is_empty() && s.reservation.is_none() && !s.caps.ptpl_a());
    compare_with_sg_persist(n, "CLEAR (read via N)").await;
}

/// PREEMPT AND ABORT (iSCSI only): P0 fences node 2's nexus N that holds the reservation;
/// N gets UNIT ATTENTION 2Ah/05h, then RESERVATION CONFLICT on WRITE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh, iSCSI topology)"]
async fn preempt_and_abort_fences_node2_iscsi_only() {
    let lun = Lun::get(LUN);
    assert!(
        lun.is_iscsi(),
        "PREEMPT AND ABORT deadlocks LIO over tcm_loop: run this test on the iSCSI topology only"
    );
    let (p0, n) = (&lun.paths[0], &lun.node2[0]);
    let (d0, dn) = (open(p0), open(n));
    let (a, c) = (key(2, 0xa), key(2, 0xc));
    let block = block_len(&d0).await;
    clear_lun(&d0).await;
    let we_ro = ReservationType::WriteExclusiveRegistrantsOnly;
    prout(&dn, &PrOut::register(ReservationKey(0), c)).await;
    prout(&dn, &PrOut::reserve(c, we_ro)).await;
    prout(&d0, &PrOut::register(ReservationKey(0), a)).await;
    let g = compare_with_sg_persist(p0, "N holds type 5, P0 registered")
        .await
        .generation;
    assert_write_ok(&dn, block).await;

    // Closing a /dev/sdX opened for writing makes udev re-probe it (blkid reads through
    // that nexus and would take the UNIT ATTENTION): let udev finish first.
    udev_settle();
    let t0 = Instant::now();
    let pa = PrOut::preempt_and_abort(a, c, we_ro);
    retry_ua(|| raw::pr_out(&d0, &pa, Some(Duration::from_secs(30))))
        .await
        .unwrap_or_else(|e| panic!("PREEMPT AND ABORT: {e}"));
    eprintln!("  PREEMPT AND ABORT took {:?}", t0.elapsed());
    // The preempted nexus learns it first from a UNIT ATTENTION ...
    let e = raw::read_keys(&dn).await.unwrap_err();
    let ce = e.command_error().unwrap_or_else(|| panic!("{e}"));
    assert!(ce.is_unit_attention(), "{e}");
    assert_eq!(ce.asc_ascq(), Some((0x2a, 0x05)), "{e}");
    // ... then its writes conflict.
    assert_write_conflicts(&dn, block).await;
    let s = compare_with_sg_persist(p0, "PREEMPT AND ABORT by P0").await;
    assert_eq!((s.generation, s.keys.as_slice()), (g + 1, &[a][..]));
    let r = s.reservation.expect("reservation");
    assert_eq!((r.key, r.type_code), (a, 5));
    compare_with_sg_persist(n, "PREEMPT AND ABORT (read via N)").await;
    assert_write_ok(&d0, block).await;
    clear_lun(&d0).await;
}

/// RESERVATION CONFLICT through pr-sgio: a WRITE(10) from nexuses that are not registered
/// under a Write Exclusive, Registrants Only reservation (node 2's path and the other
/// node-1 path; both engines), while the holder's write succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn write_from_unregistered_nexus_gets_reservation_conflict() {
    let lun = Lun::get(LUN);
    let (p0, p1, n) = (&lun.paths[0], &lun.paths[1], &lun.node2[0]);
    let (d0, d1, dn) = (open(p0), open(p1), open(n));
    let a = key(3, 0xa);
    let block = block_len(&d0).await;
    clear_lun(&d0).await;
    prout(&d0, &PrOut::register(ReservationKey(0), a)).await;
    prout(
        &d0,
        &PrOut::reserve(a, ReservationType::WriteExclusiveRegistrantsOnly),
    )
    .await;
    assert_write_ok(&d0, block).await;
    let e = assert_write_conflicts(&dn, block).await;
    assert!(
        e.to_string()
            .to_lowercase()
            .contains("reservation conflict"),
        "{e}"
    );
    assert_write_conflicts(&d1, block).await;
    let nv3 = Device::open_with(
        &lun.node2_sgs[0],
        &OpenOptions::new().engine(Engine::SgV3Async),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_write_conflicts(&nv3, block).await;
    // Reads are allowed to everyone under type 5 (READ(10) of the same block).
    let cdb = [0x28, 0, 0, 0, 0x10, 0, 0, 0, 1, 0];
    let r = dn
        .execute(Request::data_in(Cdb::from(cdb), block))
        .await
        .unwrap();
    r.completion
        .check()
        .unwrap_or_else(|e| panic!("READ(10) from N: {e}"));
    assert_eq!(r.buf, vec![0x5a; block], "N reads what P0 wrote");
    // PR OUT RESERVE from the unregistered nexus conflicts too, and the error says so.
    let rsv = PrOut::reserve(a, ReservationType::WriteExclusiveRegistrantsOnly);
    let e = retry_ua(|| raw::pr_out(&dn, &rsv, None)).await.unwrap_err();
    assert!(e.is_reservation_conflict(), "{e}");
    clear_lun(&d0).await;
}

/// The UNIT ATTENTION that a PREEMPT queues for the preempted nexus reaches the caller of
/// pr-sgio with ASC/ASCQ 2Ah/05h (REGISTRATIONS PREEMPTED), once; both engines. The victim
/// is node 2's nexus, which multipathd's TEST UNIT READY checker never touches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn unit_attention_after_preempt_reaches_caller() {
    let lun = Lun::get(LUN);
    let (p0, n) = (&lun.paths[0], &lun.node2[0]);
    let (d0, dn) = (open(p0), open(n));
    let nv3 = Device::open_with(
        &lun.node2_sgs[0],
        &OpenOptions::new().engine(Engine::SgV3Async),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (a, c) = (key(4, 0xa), key(4, 0xc));
    let we = ReservationType::WriteExclusive;
    clear_lun(&d0).await;
    // Drain anything pending on N first (CLEAR queues 2Ah/03h for other registrants).
    let _ = retry_ua(|| raw::read_keys(&dn)).await.unwrap();
    for (round, victim) in [(0, &dn), (1, &nv3)] {
        prout(&dn, &PrOut::register_ignore(c)).await;
        prout(&dn, &PrOut::reserve(c, we)).await;
        prout(&d0, &PrOut::register_ignore(a)).await;
        udev_settle();
        prout(&d0, &PrOut::preempt(a, c, we)).await;
        let e = raw::read_keys(victim).await.unwrap_err();
        let ce = e.command_error().unwrap_or_else(|| panic!("{e}"));
        assert!(ce.is_unit_attention(), "round {round}: {e}");
        assert_eq!(ce.asc_ascq(), Some((0x2a, 0x05)), "round {round}: {e}");
        assert_eq!(ce.sense_bytes()[2] & 0x0f, 6, "sense key UNIT ATTENTION");
        eprintln!(
            "  round {round} ({:?} engine): {e}",
            if round == 0 {
                Engine::BlockingPool
            } else {
                Engine::SgV3Async
            }
        );
        // Reported once: the next command succeeds and shows the preemption.
        let keys = keys_of(victim).await;
        assert_eq!(keys, [a]);
        prout(&d0, &PrOut::release(a, we)).await;
        prout(&d0, &PrOut::clear(a)).await;
        let _ = retry_ua(|| raw::read_keys(&dn)).await;
    }
    clear_lun(&d0).await;
}

/// A netem delay on `lo` for one TCP port only (both directions), removed on drop (also
/// when the test panics).
struct Netem;

impl Netem {
    fn delay_port(port: u16, delay: &str) -> Netem {
        let _ = run("modprobe", &["sch_netem"]);
        let _ = run("tc", &["qdisc", "del", "dev", "lo", "root"]);
        let p = port.to_string();
        // A 4-band prio qdisc whose priomap never uses band 4; band 4 delays; two filters
        // send the connection's packets (source or destination port) to band 4.
        let mut cmds: Vec<Vec<&str>> = vec![
            "qdisc add dev lo root handle 1: prio bands 4 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1"
                .split(' ')
                .collect(),
            vec![
                "qdisc", "add", "dev", "lo", "parent", "1:4", "handle", "40:", "netem", "delay",
                delay,
            ],
        ];
        for dir in ["sport", "dport"] {
            cmds.push(vec![
                "filter", "add", "dev", "lo", "parent", "1:0", "protocol", "ip", "prio", "1",
                "u32", "match", "ip", dir, &p, "0xffff", "flowid", "1:4",
            ]);
        }
        let guard = Netem;
        for c in cmds {
            run_ok("tc", &c);
        }
        guard
    }
}

impl Drop for Netem {
    fn drop(&mut self) {
        let (rc, _, err) = run("tc", &["qdisc", "del", "dev", "lo", "root"]);
        if rc != 0 {
            eprintln!("warning: tc qdisc del dev lo root: {err}");
        }
    }
}

/// The local TCP port of the iSCSI connection that carries SCSI disk `dev`.
fn iscsi_local_port(dev: &Path) -> u16 {
    let name = dev.file_name().unwrap().to_string_lossy().into_owned();
    let real = std::fs::canonicalize(format!("/sys/block/{name}/device"))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let real = real.to_string_lossy().into_owned();
    let sid = real
        .split('/')
        .find_map(|c| c.strip_prefix("session"))
        .unwrap_or_else(|| panic!("{name} ({real}) is not on an iSCSI session"));
    let f = format!("/sys/class/iscsi_connection/connection{sid}:0/local_port");
    std::fs::read_to_string(&f)
        .unwrap_or_else(|e| panic!("{f}: {e}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{f}: {e}"))
}

/// A command that does not complete within its timeout becomes `TransportError::Timeout`
/// (iSCSI only: the delay is put on the TCP connection of node 2's iSCSI session with
/// netem, 4 s each way, so a command needs 8 s or more).
///
/// A READ KEYS with a 500 ms timeout is sent through both engines at once. The iSCSI
/// initiator keeps re-arming the SCSI timer of a command while its connection is alive, so
/// the kernel does not fail it: pr-sgio's own deadline (timeout + `TIMEOUT_GRACE`) must fire.
/// Proof that it was ours: the error is `Timeout(500 ms + grace)`, it came after that long
/// and well before the 8 s the command needs, and at that moment the blocking-pool permit
/// was still held by the SG_IO call in the kernel (it is given back only after the delay
/// is lifted and the command completes). The path works again afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh, iSCSI topology)"]
async fn command_timeout_is_transport_timeout_iscsi_only() {
    use pr_sgio::engine::TIMEOUT_GRACE;
    let lun = Lun::get(LUN);
    assert!(
        lun.is_iscsi(),
        "the delay is made on an iSCSI TCP connection: run this test on the iSCSI topology"
    );
    let n = &lun.node2[0];
    let limiter = pr_sgio::Limiter::new(4);
    let dn = Device::open_with(n, &OpenOptions::new().limiter(limiter.clone()))
        .unwrap_or_else(|e| panic!("{e}"));
    let nv3 = Device::open_with(
        &lun.node2_sgs[0],
        &OpenOptions::new().engine(Engine::SgV3Async),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let port = iscsi_local_port(n);
    let short = Duration::from_millis(500);
    let opts = PrInOptions {
        timeout: short,
        ..Default::default()
    };
    // A fresh exchange right before the delay: the session's NOP-Out ping (sent after
    // 5 s without receiving) then cannot time out while the delay is on.
    retry_ua(|| raw::read_keys(&dn)).await.unwrap();
    retry_ua(|| raw::read_keys(&nv3)).await.unwrap();
    {
        let _netem = Netem::delay_port(port, "4000ms");
        let t0 = Instant::now();
        let (a, b) = tokio::join!(
            raw::pr_in(&dn, PrInAction::ReadKeys, &opts),
            raw::pr_in(&nv3, PrInAction::ReadKeys, &opts)
        );
        let took = t0.elapsed();
        let held = limiter.permits() - limiter.available();
        eprintln!(
            "  iSCSI connection port {port} delayed 4 s each way; READ KEYS with a 500 ms timeout              after {took:?}: blocking pool -> {a:?}; sg v3 -> {b:?}; pool permits still held: {held}"
        );
        for (name, r) in [("blocking pool", a), ("sg v3", b)] {
            match r {
                Err(Error::Transport(TransportError::Timeout(d))) => {
                    assert_eq!(d, short + TIMEOUT_GRACE, "{name}: which timeout fired");
                }
                other => panic!("{name}: expected TransportError::Timeout, got {other:?}"),
            }
        }
        assert!(took >= short + TIMEOUT_GRACE, "timed out early: {took:?}");
        assert!(
            took < Duration::from_secs(8),
            "took {took:?}: the delay is not in effect?"
        );
        assert_eq!(
            held, 1,
            "the SG_IO call must still be in the kernel when our timeout fires"
        );
    }
    // Delay lifted: the abandoned SG_IO call completes and gives its permit back, and the
    // path works again.
    wait_until(60, "the abandoned SG_IO to return", || {
        limiter.available() == limiter.permits()
    });
    let mut ok = false;
    for _ in 0..60 {
        if retry_ua(|| raw::read_keys(&dn)).await.is_ok()
            && retry_ua(|| raw::read_keys(&nv3)).await.is_ok()
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        ok,
        "{} did not recover after the delay was removed",
        n.display()
    );
}

/// The block-layer PR ioctl transport on path devices: register (APTPL, as sd always
/// does), reserve, preempt (by node 2) and clear; the state is checked with SG_IO reads
/// (per stack: Linux 6.1 has no READ KEYS / READ RESERVATION ioctls and the transport says
/// so; on Linux 7.x they answer as SG_IO does, on the path and on the dm map).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn block_pr_ioctls_register_reserve_preempt_clear() {
    block_pr_sequence(false).await;
}

/// As `block_pr_ioctls_register_reserve_preempt_clear`, with IOC_PR_PREEMPT_ABORT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh, iSCSI topology)"]
async fn block_pr_ioctls_preempt_abort_iscsi_only() {
    assert!(
        Lun::get(LUN).is_iscsi(),
        "PREEMPT AND ABORT deadlocks LIO over tcm_loop: run this test on the iSCSI topology only"
    );
    block_pr_sequence(true).await;
}

/// `IOC_PR_READ_KEYS` and `IOC_PR_READ_RESERVATION` through `b` (a path device or the
/// map) against SG_IO READ KEYS and READ RESERVATION through `sg` (a path of the same
/// LUN), per stack: debian12 (Linux 6.1) has neither ioctl and the transport must say so;
/// sid (Linux 7.x) must answer both, with the same generation, keys and reservation.
async fn block_reads_match_sg_io(b: &BlockPrDevice, sg: &Device, on: &str) {
    let has = stack_has_block_pr_reads();
    let kernel = kernel_release();
    for (what, res) in [
        ("READ KEYS", retry_ua(|| raw::read_keys(b)).await),
        (
            "READ RESERVATION",
            retry_ua(|| raw::read_reservation(b)).await,
        ),
    ] {
        match (has, res) {
            (true, Ok(d)) => {
                let via_sg = prin(sg, d.action).await;
                let (x, y) = (d.decode().unwrap(), via_sg.decode().unwrap());
                assert_eq!(
                    format!("{x:?}"),
                    format!("{y:?}"),
                    "{what}: the block ioctl on {on} vs SG_IO (Linux {kernel})"
                );
                eprintln!("  {what} via the block ioctl on {on} (Linux {kernel}) = SG_IO: {x:?}");
            }
            (true, Err(e)) => panic!(
                "sid (Linux {kernel}): {what} via the block ioctl on {on} must answer like SG_IO: {e}"
            ),
            (false, Err(Error::Transport(TransportError::Unsupported { reason, .. }))) => {
                assert!(
                    reason.contains("not supported by this kernel"),
                    "{what} on {on}: {reason}"
                );
                eprintln!("  {what} via the block ioctl on {on} (Linux {kernel}): {reason}");
            }
            (false, Ok(d)) => panic!(
                "debian12 (Linux {kernel}) has no {what} ioctl, yet {on} answered: {:?}",
                d.decode()
            ),
            (false, Err(e)) => panic!("{what} via the block ioctl on {on} (Linux {kernel}): {e}"),
        }
    }
}

async fn block_pr_sequence(abort: bool) {
    let lun = Lun::get(LUN);
    let (p0, n) = (&lun.paths[0], &lun.node2[0]);
    let sg0 = open(p0);
    let b0 = BlockPrDevice::open(p0).unwrap_or_else(|e| panic!("{e}"));
    let bn = BlockPrDevice::open(n).unwrap_or_else(|e| panic!("{e}"));
    let t = if abort { 6 } else { 5 };
    let (a, c) = (key(t, 0xa), key(t, 0xc));
    let ty = ReservationType::WriteExclusiveRegistrantsOnly;
    clear_lun(&sg0).await;
    let g0 = prin(&sg0, PrInAction::ReadKeys)
        .await
        .read_keys()
        .unwrap()
        .generation();

    // register
    prout(&b0, &PrOut::register_ignore(a).with_aptpl()).await;
    assert_eq!(keys_of(&sg0).await, [a]);
    let caps = prin(&sg0, PrInAction::ReportCapabilities).await;
    assert!(
        caps.capabilities().unwrap().ptpl_a(),
        "sd registers with APTPL=1"
    );
    // reserve
    prout(&b0, &PrOut::reserve(a, ty)).await;
    let r = prin(&sg0, PrInAction::ReadReservation).await;
    let r = r
        .read_reservation()
        .unwrap()
        .reservation()
        .expect("reserved");
    assert_eq!((r.key, r.type_code), (a, 5));
    // the block read ioctls: missing on 6.1 (a clear error, not a wrong answer), on 7.x
    // the same answer as SG_IO, through the path device and through the dm map
    block_reads_match_sg_io(&b0, &sg0, "the path device").await;
    let bm = BlockPrDevice::open(&lun.map).unwrap_or_else(|e| panic!("{e}"));
    block_reads_match_sg_io(&bm, &sg0, "the dm-multipath map").await;
    // preempt from node 2's nexus
    prout(&bn, &PrOut::register_ignore(c).with_aptpl()).await;
    // two keys now (two nexuses), the reservation still with `a`
    block_reads_match_sg_io(&b0, &sg0, "the path device").await;
    block_reads_match_sg_io(&bm, &sg0, "the dm-multipath map").await;
    let req = if abort {
        PrOut::preempt_and_abort(c, a, ty)
    } else {
        PrOut::preempt(c, a, ty)
    };
    retry_ua(|| raw::pr_out(&bn, &req, Some(Duration::from_secs(30))))
        .await
        .unwrap_or_else(|e| panic!("{} via block ioctl: {e}", req.action));
    let rk = prin(&sg0, PrInAction::ReadKeys).await;
    let rk = rk.read_keys().unwrap();
    assert_eq!(rk.keys().collect::<Vec<_>>(), [c]);
    assert_eq!(rk.generation(), g0 + 3, "REGISTER, REGISTER, PREEMPT");
    let r = prin(&sg0, PrInAction::ReadReservation).await;
    let r = r
        .read_reservation()
        .unwrap()
        .reservation()
        .expect("reserved");
    assert_eq!((r.key, r.type_code), (c, 5));
    compare_with_sg_persist(p0, "after block-ioctl preempt").await;
    // the preempted block device now conflicts
    let rsv = PrOut::reserve(a, ty);
    let e = retry_ua(|| raw::pr_out(&b0, &rsv, None)).await.unwrap_err();
    assert!(e.is_reservation_conflict(), "{e}");
    // clear
    prout(&bn, &PrOut::clear(c)).await;
    let s = compare_with_sg_persist(p0, "after block-ioctl clear").await;
    assert!(s.keys.is_empty() && s.reservation.is_none());
}

/// LIO's READ FULL STATUS returns whole descriptors only and counts only those in
/// ADDITIONAL LENGTH, so a short allocation length gives a response that looks complete
/// but lacks registrants. pr-sgio re-issues such a response with 65535 bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn read_full_status_grows_past_lio_silent_truncation() {
    let lun = Lun::get(LUN);
    let d0 = open(&lun.paths[0]);
    clear_lun(&d0).await;
    // Register every nexus of the LUN: all node-1 paths and all node-2 paths.
    let mut all: Vec<&Path> = lun.paths.iter().map(|p| p.as_path()).collect();
    all.extend(lun.node2.iter().map(|p| p.as_path()));
    for (i, p) in all.iter().enumerate() {
        prout(&open(p), &PrOut::register_ignore(key(7, i as u8 + 1))).await;
    }
    let full = raw::pr_in(
        &d0,
        PrInAction::ReadFullStatus,
        &PrInOptions {
            alloc_len: Some(65535),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let fs = full.full_status().unwrap();
    let lens: Vec<usize> = fs
        .descriptors()
        .map(|x| 24 + x.transport_id_bytes().len())
        .collect();
    assert_eq!(lens.len(), all.len(), "one descriptor per registered nexus");
    // Find allocation lengths for which LIO's answer looks complete yet lacks descriptors.
    let mut silent = Vec::new();
    for alloc in 16..(8 + lens[0] + lens[1]) as u16 {
        let opts = PrInOptions {
            alloc_len: Some(alloc),
            grow: false,
            ..Default::default()
        };
        let r = retry_ua(|| raw::pr_in(&d0, PrInAction::ReadFullStatus, &opts))
            .await
            .unwrap();
        let fs = r.full_status().unwrap();
        if !fs.is_truncated() && fs.descriptors().count() < lens.len() {
            silent.push((alloc, fs.descriptors().count()));
        }
    }
    eprintln!(
        "  {} descriptors of {:?} bytes; allocation lengths where LIO silently dropped descriptors: {} (e.g. {:?})",
        lens.len(),
        lens,
        silent.len(),
        silent.first()
    );
    assert!(
        !silent.is_empty(),
        "LIO never returned a complete-looking but short READ FULL STATUS"
    );
    for &(alloc, _) in silent.iter().step_by(silent.len().div_ceil(8)) {
        let opts = PrInOptions {
            alloc_len: Some(alloc),
            ..Default::default()
        };
        let r = retry_ua(|| raw::pr_in(&d0, PrInAction::ReadFullStatus, &opts))
            .await
            .unwrap();
        assert_eq!((r.attempts, r.alloc_len), (2, 65535), "alloc {alloc}");
        assert_eq!(
            r.bytes, full.bytes,
            "alloc {alloc}: grown response is the full one"
        );
    }
    clear_lun(&d0).await;
}

/// `Device::execute_blocking` (one SG_IO on the calling thread, no runtime) answers READ
/// KEYS exactly as the async path does, on a descriptor opened `O_RDONLY`
/// (`fd_read_only`), where PR OUT through the async path also works (as root).
#[test]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
fn execute_blocking_reads_keys_like_the_async_path() {
    use pr_core::cdb::PrInCdb;
    use pr_core::prin::ReadKeys;
    let lun = Lun::get(LUN);
    let d = Device::open_with(&lun.paths[0], &OpenOptions::new().fd_read_only(true))
        .unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let a = key(9, 0xa);
    rt.block_on(async {
        clear_lun(&d).await;
        prout(&d, &PrOut::register(ReservationKey(0), a)).await;
    });
    let request = || {
        Request::data_in(
            Cdb::from(PrInCdb::new(PrInAction::ReadKeys, 8192).to_bytes()),
            8192,
        )
    };
    // (a unit attention left by another test on this nexus is answered first: retry)
    let mut blocking = None;
    for _ in 0..4 {
        let r = d
            .execute_blocking(request())
            .unwrap_or_else(|e| panic!("{e}"));
        match r.completion.check() {
            Ok(()) => {
                blocking = Some(r.buf);
                break;
            }
            Err(e) if e.is_unit_attention() => continue,
            Err(e) => panic!("READ KEYS (blocking): {e}"),
        }
    }
    let blocking = blocking.expect("READ KEYS (blocking) kept answering UNIT ATTENTION");
    let keys: Vec<u64> = ReadKeys::decode(&blocking)
        .unwrap()
        .keys()
        .map(|k| k.0)
        .collect();
    assert_eq!(keys, vec![a.0], "blocking READ KEYS");
    let opts = PrInOptions::default();
    let async_buf = rt.block_on(async {
        retry_ua(|| raw::pr_in(&d, PrInAction::ReadKeys, &opts))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    });
    let async_keys: Vec<u64> = async_buf.read_keys().unwrap().keys().map(|k| k.0).collect();
    assert_eq!(keys, async_keys, "blocking and async READ KEYS agree");
    rt.block_on(clear_lun(&d));
}
