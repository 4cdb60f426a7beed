//! Lab benchmark of pr-multipath (issue 5), run inside the QEMU lab by
//! `lab/bench-multipath.sh`: "unfence then fence" across every LUN of the lab (N LUNs x P
//! node-1 paths, one node-2 nexus per LUN), three ways, one run each:
//!
//! 1. **mpathpersist loop**: Debian's `/sbin/mpathpersist` (multipath-tools 0.9.4), one
//!    invocation per map and step, one after the other, as a shell loop or a fence agent
//!    does: `--out --register-ignore --param-sark=K1` on each map (it fans out to the map's
//!    paths itself), then `--out --preempt[-abort] --param-rk=K1 --param-sark=K2
//!    --prout-type=5` on each map.
//! 2. **pr-multipath**: `MultipathLun::from_maps` for all maps at once (one shared
//!    discovery, multipathd client and configuration reading; maps discovered on parallel
//!    threads; timed: mpathpersist discovers the map on every invocation too), `fleet::unfence` (REGISTER AND IGNORE
//!    on every path of every LUN, all LUNs at once), then the fence: PREEMPT AND ABORT
//!    (`fleet::fence`) on iSCSI, PREEMPT on tcm_loop (PREEMPT AND ABORT deadlocks LIO
//!    over tcm_loop), all LUNs at once. pr-multipath does what libmpathpersist does on
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
//! `LAB_TRANSPORT` (set by the lab); `BENCH_SKIP_MPATHPERSIST=1` skips method 1.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use pr_core::prout::PrOut;
use pr_core::types::{PrInAction, ReservationKey, ReservationType};
use pr_multipath::sgio::FromMapOptions;
use pr_multipath::{FleetOptions, MultipathLun, fleet};
use pr_sgio::Device;
use pr_sgio::ops::{self, PrInOptions};

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

fn open(p: &std::path::Path) -> Device {
    Device::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
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
    retry_ua(|| ops::pr_out(d, req, Some(Duration::from_secs(30))))
        .await
        .unwrap_or_else(|e| panic!("{} {}: {e}", d.path().display(), req.action));
}

async fn keys(d: &Device) -> Vec<u64> {
    let o = PrInOptions::default();
    let data = retry_ua(|| ops::pr_in(d, PrInAction::ReadKeys, &o))
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
    let maps: Vec<MultipathLun<Device>> = MultipathLun::from_maps(&names, &options)
        .unwrap_or_else(|e| panic!("from_maps: {e}"))
        .into_iter()
        .zip(&names)
        .map(|(r, n)| r.unwrap_or_else(|e| panic!("from_maps {n}: {e}")))
        .collect();
    let setup = t.elapsed().as_secs_f64();
    let refs: Vec<&MultipathLun<Device>> = maps.iter().collect();
    let opts = FleetOptions {
        concurrency: luns.len().max(1),
        ..FleetOptions::default()
    };
    let t = Instant::now();
    let un = fleet::unfence(&refs, K1, &opts).await;
    let unfence = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let fe: Vec<pr_multipath::Result<pr_multipath::Report>> = if abort {
        fleet::fence(&refs, K1, K2, WE_RO, &opts)
            .await
            .into_iter()
            .map(|r| r.result)
            .collect()
    } else {
        stream::iter(refs.iter())
            .map(|l| l.preempt(K1, K2, WE_RO, false))
            .buffered(luns.len().max(1))
            .collect()
            .await
    };
    let fence = t.elapsed().as_secs_f64();
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
    }
}

async fn bench_raw(luns: &[LabLun], abort: bool) -> Timing {
    prepare(luns).await;
    let devs: Vec<Vec<Device>> = luns
        .iter()
        .map(|l| l.paths.iter().map(|p| open(p)).collect())
        .collect();
    let reg = PrOut::register_ignore(K1);
    let t = Instant::now();
    let n: Vec<_> = devs.iter().flatten().collect();
    let r1: Vec<_> = stream::iter(n.iter())
        .map(|d| ops::pr_out(*d, &reg, None))
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
        .map(|d| ops::pr_out(&d[0], &pre, None))
        .buffer_unordered(devs.len().max(1))
        .collect()
        .await;
    let fence = t.elapsed().as_secs_f64();
    let mut ok = Ok(());
    for r in r1.iter().chain(r2.iter()) {
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
    let mut rows = Vec::new();
    rows.push(bench_raw(&luns, abort).await);
    rows.push(bench_ours(&luns, abort, true).await);
    rows.push(bench_ours(&luns, abort, false).await);
    if std::env::var("BENCH_SKIP_MPATHPERSIST").is_err() {
        rows.push(bench_mpathpersist(&luns, abort).await);
    }
    let ours = rows[1].total();
    let raw = rows[0].total();
    println!();
    println!(
        "| method | map setup s | unfence s | fence s | total s | vs pr-multipath | work | result |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |");
    for r in &rows {
        println!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2}x | {} | {} |",
            r.method,
            r.setup,
            r.unfence,
            r.fence,
            r.total(),
            r.total() / ours,
            r.commands,
            match &r.ok {
                Ok(()) => "ok".to_owned(),
                Err(e) => format!("FAILED: {e}"),
            }
        );
    }
    println!();
    println!(
        "pr-multipath / raw lower bound: {:.2}x (aim <= 1.5x)",
        ours / raw
    );
    println!(
        "pr-multipath without map setup / raw: {:.2}x",
        (rows[1].unfence + rows[1].fence) / raw
    );
    println!(
        "pr-multipath without multipathd bookkeeping / raw: {:.2}x",
        rows[2].total() / raw
    );
    if let Some(mp) = rows.get(3) {
        println!(
            "mpathpersist loop / pr-multipath: {:.1}x (aim >= 20x)",
            mp.total() / ours
        );
    }
    // leave the LUNs clean
    prepare(&luns).await;
    if rows.iter().any(|r| r.ok.is_err()) {
        std::process::exit(1);
    }
}
