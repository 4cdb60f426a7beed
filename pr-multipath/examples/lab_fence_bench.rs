//! Lab benchmark of pr-multipath (issue 5), run inside the QEMU lab by
//! `lab/bench-multipath.sh`: "unfence then fence" across every LUN of the lab (N LUNs x P
//! node-1 paths, one node-2 nexus per LUN), four ways (methods 2 and 3 in several rounds, interleaved with 1):
//!
//! 1. **mpathpersist loop**: Debian's `/sbin/mpathpersist` (multipath-tools 0.9.4), one
//!    invocation per map and step, one after the other, as a shell loop or a fence agent
//!    does: `--out --register-ignore --param-sark=K1` on each map (it fans out to the map's
//!    paths itself), then `--out --preempt[-abort] --param-rk=K1 --param-sark=K2
//!    --prout-type=5` on each map.
//! 2. **pr-multipath**: `MultipathLun::from_maps` for all maps at once (one shared
//!    discovery, multipathd client and configuration reading; maps discovered on parallel
//!    threads; timed: mpathpersist discovers the map on every invocation too), `fleet::unfence` (REGISTER AND IGNORE
//!    on every path of every LUN, all LUNs at once), then the fence (`fleet::fence`):
//!    PREEMPT AND ABORT on iSCSI, PREEMPT on tcm_loop (`FenceAction::Preempt`: PREEMPT
//!    AND ABORT deadlocks LIO over tcm_loop), all LUNs at once. pr-multipath does what libmpathpersist does on
//!    top of the bare commands: multipathd `setprkey`/`setprstatus` per map (the lab has
//!    `reservation_key file`) and a READ RESERVATION before each PREEMPT.
//!    Run a second time with `FromMapOptions { multipathd: false, multipath_conf: None }`
//!    (no multipathd commands, no key check) to show what that bookkeeping costs.
//! 3. **raw concurrent SG_IO** (the lower bound): the same PR OUT commands (one REGISTER
//!    AND IGNORE per path, one PREEMPT per LUN) issued all at once through pr-sgio
//!    devices opened beforehand, without any multipath logic, daemon or check.
//!
//! The fence is node 1 fencing node 2 through node 1's maps (as fence_mpath does): node 2's
//! nexuses are in no map, so mpathpersist cannot act from node 2's side. Before each method
//! (untimed) every LUN is cleared through node 2, node 2 registers K2, and the unit
//! attentions the CLEAR left on node 1's nexuses are consumed, so no method pays for
//! another's leftovers; after each method the result is checked on every LUN (every node-1
//! path has K1, node 2 is gone).
//!
//! Environment: `LAB_LUNS`, `LAB_MPATH_i`, `LAB_PATHS_i`, `LAB_NODE2_PATHS_i`,
//! `LAB_TRANSPORT` (set by the lab); `BENCH_SKIP_MPATHPERSIST=1` skips method 1;
//! `BENCH_ROUNDS=N` (default 3) runs methods 2 and 3 N times each, interleaved, and the
//! summary gives medians (under TCG one run of 16 LUNs varies by 2x from one to the next).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use pr_core::prout::PrOut;
use pr_core::types::{PrInAction, ReservationKey, ReservationType};
use pr_lab_support::raw::{self, PrInOptions};
use pr_multipath::sgio::FromMapOptions;
use pr_multipath::{FenceAction, FleetOptions, MultipathLun, fleet};
use pr_sgio::Device;

const K1: ReservationKey = ReservationKey(0x6e31_0000_0000_0b01);
const K2: ReservationKey = ReservationKey(0x6e32_0000_0000_0b02);
const KCLEAR: ReservationKey = ReservationKey(0x6e32_0000_0000_0bcc);
const WE_RO: ReservationType = ReservationType::WriteExclusiveRegistrantsOnly;

fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => {
            eprintln!(
                "lab_fence_bench: {name} is not set: run this inside the lab \
                 (lab/bench-multipath.sh), which exports LAB_LUNS, LAB_MPATH_i, LAB_PATHS_i, \
                 LAB_NODE2_PATHS_i and LAB_TRANSPORT (needs --node2-paths 1)"
            );
            std::process::exit(2);
        }
    }
}

struct LabLun {
    map: String,
    paths: Vec<PathBuf>,
    node2: PathBuf,
}

/// Opens a path device `O_RDONLY` (PR OUT still allowed, as root), as libmpathpersist and
/// `MultipathLun::from_maps` do: closing a disk opened for writing makes udev synthesize a
/// `change` uevent that udev rules and multipathd then process during the next timed run.
fn open(p: &std::path::Path) -> Device {
    Device::open_with(p, &pr_sgio::OpenOptions::new().fd_read_only(true))
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

async fn retry_ua<T, F, Fut>(mut f: F) -> Result<T, pr_sgio::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, pr_sgio::Error>>,
{
    for _ in 0..6 {
        match f().await {
            Err(e) if e.command_error().is_some_and(|c| c.is_unit_attention()) => continue,
            r => return r,
        }
    }
    f().await
}

async fn out_ua(d: &Device, req: &PrOut<'_>) {
    retry_ua(|| raw::pr_out(d, req, Some(Duration::from_secs(30))))
        .await
        .unwrap_or_else(|e| panic!("{} {}: {e}", d.path().display(), req.action));
}

async fn keys(d: &Device) -> Vec<u64> {
    let o = PrInOptions::default();
    let data = retry_ua(|| raw::pr_in(d, PrInAction::ReadKeys, &o))
        .await
        .unwrap_or_else(|e| panic!("{} READ KEYS: {e}", d.path().display()));
    data.read_keys().unwrap().keys().map(|k| k.0).collect()
}

/// Untimed: clear every LUN through node 2, register node 2 with K2, drain unit attentions
/// on every node-1 path, and clear multipathd's key and status of every map.
async fn prepare(luns: &[LabLun]) {
    stream::iter(luns)
        .for_each_concurrent(None, |l| async move {
            let n2 = open(&l.node2);
            out_ua(&n2, &PrOut::register_ignore(KCLEAR)).await;
            out_ua(&n2, &PrOut::clear(KCLEAR)).await;
            out_ua(&n2, &PrOut::register_ignore(K2)).await;
            for p in &l.paths {
                keys(&open(p)).await;
            }
        })
        .await;
    for l in luns {
        let name = l.map.rsplit('/').next().unwrap_or(&l.map);
        let _ = Command::new("multipathd")
            .args(["unsetprstatus", "map", name])
            .output();
        let _ = Command::new("multipathd")
            .args(["unsetprkey", "map", name])
            .output();
    }
}

/// Untimed: every LUN must show K1 once per node-1 path and no K2.
async fn verify(method: &str, luns: &[LabLun]) -> Result<(), String> {
    for l in luns {
        let k = keys(&open(&l.node2)).await;
        let k1 = k.iter().filter(|&&k| k == K1.0).count();
        if k1 != l.paths.len() || k.contains(&K2.0) {
            return Err(format!(
                "{method}: {} ends with keys {k:x?} (want {} x {K1}, no {K2})",
                l.map,
                l.paths.len()
            ));
        }
    }
    Ok(())
}

struct Timing {
    method: &'static str,
    setup: f64,
    unfence: f64,
    fence: f64,
    commands: String,
    ok: Result<(), String>,
    /// Per-command latency: what one command took from send to reply (retries included).
    detail: String,
}

/// "n commands, latency mean/median/max" of a set of command durations.
fn latencies(what: &str, mut d: Vec<Duration>) -> String {
    if d.is_empty() {
        return format!("{what}: no commands");
    }
    d.sort();
    let n = u32::try_from(d.len()).unwrap_or(u32::MAX);
    let mean = d.iter().sum::<Duration>() / n;
    let ms = |x: Duration| x.as_secs_f64() * 1000.0;
    format!(
        "{what}: {} commands, latency mean {:.1} ms, median {:.1} ms, max {:.1} ms",
        d.len(),
        ms(mean),
        ms(d[d.len() / 2]),
        ms(d[d.len() - 1])
    )
}

impl Timing {
    fn total(&self) -> f64 {
        self.setup + self.unfence + self.fence
    }
}

fn mpathpersist(args: &[&str]) -> Result<(), String> {
    let out = Command::new("mpathpersist")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run mpathpersist: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "mpathpersist {args:?}: exit {:?}: {}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

async fn bench_mpathpersist(luns: &[LabLun], abort: bool) -> Timing {
    prepare(luns).await;
    let sark = format!("--param-sark=0x{:x}", K1.0);
    let t = Instant::now();
    let mut ok = Ok(());
    for l in luns {
        if let Err(e) = mpathpersist(&["--out", "--register-ignore", &sark, "-d", &l.map]) {
            ok = Err(e);
        }
    }
    let unfence = t.elapsed().as_secs_f64();
    let rk = format!("--param-rk=0x{:x}", K1.0);
    let victim = format!("--param-sark=0x{:x}", K2.0);
    let t = Instant::now();
    for l in luns {
        let action = if abort {
            "--preempt-abort"
        } else {
            "--preempt"
        };
        if let Err(e) = mpathpersist(&[
            "--out",
            action,
            &rk,
            &victim,
            "--prout-type=5",
            "-d",
            &l.map,
        ]) {
            ok = Err(e);
        }
    }
    let fence = t.elapsed().as_secs_f64();
    if ok.is_ok() {
        ok = verify("mpathpersist", luns).await;
    }
    Timing {
        method: "mpathpersist loop (0.9.4)",
        setup: 0.0,
        unfence,
        fence,
        commands: format!("{} invocations", 2 * luns.len()),
        ok,
        detail: String::new(),
    }
}

async fn bench_ours(luns: &[LabLun], abort: bool, daemon: bool) -> Timing {
    prepare(luns).await;
    let options = if daemon {
        FromMapOptions::default()
    } else {
        FromMapOptions {
            multipathd: false,
            multipath_conf: None,
            ..FromMapOptions::default()
        }
    };
    let t = Instant::now();
    let names: Vec<&str> = luns.iter().map(|l| l.map.as_str()).collect();
    let maps: Vec<pr_multipath::Lun> = MultipathLun::from_maps(&names, &options)
        .unwrap_or_else(|e| panic!("from_maps: {e}"))
        .into_iter()
        .zip(&names)
        .map(|(r, n)| r.unwrap_or_else(|e| panic!("from_maps {n}: {e}")))
        .collect();
    let setup = t.elapsed().as_secs_f64();
    let refs: Vec<&pr_multipath::Lun> = maps.iter().collect();
    let opts = FleetOptions {
        concurrency: luns.len().max(1),
        ..FleetOptions::default()
    };
    let t = Instant::now();
    let un = fleet::unfence(&refs, K1, &opts).await;
    let unfence = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let fence_opts = FleetOptions {
        fence_action: if abort {
            FenceAction::PreemptAndAbort
        } else {
            FenceAction::Preempt
        },
        ..opts.clone()
    };
    let fe: Vec<pr_multipath::Result<pr_multipath::Report>> =
        fleet::fence(&refs, K1, K2, WE_RO, &fence_opts)
            .await
            .into_iter()
            .map(|r| r.result)
            .collect();
    let fence = t.elapsed().as_secs_f64();
    let steps = |rs: &mut dyn Iterator<Item = &pr_multipath::Result<pr_multipath::Report>>| {
        rs.filter_map(|r| r.as_ref().ok())
            .flat_map(|rep| rep.steps.iter().map(|s| s.elapsed))
            .collect::<Vec<_>>()
    };
    let detail = format!(
        "{}; {}",
        latencies("unfence", steps(&mut un.iter().map(|r| &r.result))),
        latencies("fence", steps(&mut fe.iter()))
    );
    let mut cmds = 0usize;
    let mut ok = Ok(());
    for r in un.iter().map(|r| &r.result).chain(fe.iter()) {
        match r {
            Ok(rep) => cmds += rep.steps.len(),
            Err(e) => ok = Err(e.to_string()),
        }
    }
    if ok.is_ok() {
        ok = verify("pr-multipath", luns).await;
    }
    Timing {
        method: if daemon {
            "pr-multipath"
        } else {
            "pr-multipath, no multipathd/key bookkeeping"
        },
        setup,
        unfence,
        fence,
        commands: format!("{cmds} SCSI commands"),
        ok,
        detail,
    }
}

async fn timed<F: Future>(f: F) -> (Duration, F::Output) {
    let t = Instant::now();
    let r = f.await;
    (t.elapsed(), r)
}

/// The lower bound: the same PR OUT commands on path devices opened beforehand (once for
/// every round, as a long-lived process keeps them), all at once, no multipath logic.
async fn bench_raw(luns: &[LabLun], abort: bool, devs: &[Vec<Device>]) -> Timing {
    prepare(luns).await;
    let reg = PrOut::register_ignore(K1);
    let t = Instant::now();
    let n: Vec<_> = devs.iter().flatten().collect();
    let r1: Vec<_> = stream::iter(n.iter())
        .map(|d| timed(raw::pr_out(*d, &reg, None)))
        .buffer_unordered(n.len().max(1))
        .collect()
        .await;
    let unfence = t.elapsed().as_secs_f64();
    let pre = if abort {
        PrOut::preempt_and_abort(K1, K2, WE_RO)
    } else {
        PrOut::preempt(K1, K2, WE_RO)
    };
    let t = Instant::now();
    let r2: Vec<_> = stream::iter(devs.iter())
        .map(|d| timed(raw::pr_out(&d[0], &pre, None)))
        .buffer_unordered(devs.len().max(1))
        .collect()
        .await;
    let fence = t.elapsed().as_secs_f64();
    let detail = format!(
        "{}; {}",
        latencies("unfence", r1.iter().map(|r| r.0).collect()),
        latencies("fence", r2.iter().map(|r| r.0).collect())
    );
    let mut ok = Ok(());
    for r in r1.iter().chain(r2.iter()).map(|r| &r.1) {
        if let Err(e) = r {
            ok = Err(e.to_string());
        }
    }
    if ok.is_ok() {
        ok = verify("raw", luns).await;
    }
    Timing {
        method: "raw concurrent SG_IO",
        setup: 0.0,
        unfence,
        fence,
        commands: format!("{} SCSI commands", r1.len() + r2.len()),
        ok,
        detail,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = env("LAB_LUNS").parse().expect("LAB_LUNS");
    let transport = env("LAB_TRANSPORT");
    let abort = transport == "iscsi";
    let luns: Vec<LabLun> = (0..n)
        .map(|i| LabLun {
            map: env(&format!("LAB_MPATH_{i}")),
            paths: env(&format!("LAB_PATHS_{i}"))
                .split_whitespace()
                .map(PathBuf::from)
                .collect(),
            node2: PathBuf::from(
                env(&format!("LAB_NODE2_PATHS_{i}"))
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .to_owned(),
            ),
        })
        .collect();
    let paths: usize = luns.iter().map(|l| l.paths.len()).sum();
    let fence_name = if abort {
        "PREEMPT AND ABORT"
    } else {
        "PREEMPT"
    };
    println!(
        "lab_fence_bench: {n} LUNs, {paths} node-1 paths, transport {transport}; unfence = \
         REGISTER AND IGNORE K1 on every path, fence = {fence_name} of node 2's K2 per LUN"
    );
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    // raw: devices opened once, as pr-multipath's LUNs keep theirs
    let raw_devs: Vec<Vec<Device>> = luns
        .iter()
        .map(|l| l.paths.iter().map(|p| open(p)).collect())
        .collect();
    let mut rows: Vec<(usize, Timing)> = Vec::new();
    for round in 1..=rounds {
        rows.push((round, bench_raw(&luns, abort, &raw_devs).await));
        rows.push((round, bench_ours(&luns, abort, true).await));
        rows.push((round, bench_ours(&luns, abort, false).await));
    }
    if std::env::var("BENCH_SKIP_MPATHPERSIST").is_err() {
        rows.push((1, bench_mpathpersist(&luns, abort).await));
    }
    println!();
    println!("Every run ({rounds} rounds; each method starts from the same prepared state):");
    println!();
    println!("| round | method | map setup s | unfence s | fence s | total s | work | result |");
    println!("| ---: | --- | ---: | ---: | ---: | ---: | --- | --- |");
    for (round, r) in &rows {
        println!(
            "| {round} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} |",
            r.method,
            r.setup,
            r.unfence,
            r.fence,
            r.total(),
            r.commands,
            match &r.ok {
                Ok(()) => "ok".to_owned(),
                Err(e) => format!("FAILED: {e}"),
            }
        );
    }
    println!();
    for (round, r) in rows.iter().filter(|(_, r)| !r.detail.is_empty()) {
        println!("round {round}, {}: {}", r.method, r.detail);
    }
    // medians per method
    let methods: Vec<&'static str> = {
        let mut m: Vec<&'static str> = Vec::new();
        for (_, r) in &rows {
            if !m.contains(&r.method) {
                m.push(r.method);
            }
        }
        m
    };
    let median = |method: &str, f: &dyn Fn(&Timing) -> f64| -> f64 {
        let mut v: Vec<f64> = rows
            .iter()
            .filter(|(_, r)| r.method == method)
            .map(|(_, r)| f(r))
            .collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let ops = |r: &Timing| r.unfence + r.fence;
    let raw_ops = median("raw concurrent SG_IO", &ops);
    println!();
    println!("Medians over the rounds (ops = unfence + fence, without the map setup):");
    println!();
    println!(
        "| method | map setup s | unfence s | fence s | ops s | total s | ops vs raw | total vs raw |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for m in &methods {
        println!(
            "| {m} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2}x | {:.2}x |",
            median(m, &|r| r.setup),
            median(m, &|r| r.unfence),
            median(m, &|r| r.fence),
            median(m, &ops),
            median(m, &Timing::total),
            median(m, &ops) / raw_ops,
            median(m, &Timing::total) / raw_ops,
        );
    }
    let ours_total = median("pr-multipath", &Timing::total);
    println!();
    println!(
        "pr-multipath ops / raw lower bound: {:.2}x (aim <= 1.5x); with the map setup: {:.2}x",
        median("pr-multipath", &ops) / raw_ops,
        ours_total / raw_ops
    );
    println!(
        "pr-multipath without multipathd bookkeeping, ops / raw: {:.2}x",
        median("pr-multipath, no multipathd/key bookkeeping", &ops) / raw_ops
    );
    if rows
        .iter()
        .any(|(_, r)| r.method.starts_with("mpathpersist"))
    {
        println!(
            "mpathpersist loop / pr-multipath (both with map discovery): {:.1}x (aim >= 20x)",
            median("mpathpersist loop (0.9.4)", &Timing::total) / ours_total
        );
    }
    // leave the LUNs clean
    prepare(&luns).await;
    if rows.iter().any(|(_, r)| r.ok.is_err()) {
        std::process::exit(1);
    }
}
