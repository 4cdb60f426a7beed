//! Many-LUN benchmark on pr-sim: unfence then fence across 10,000 LUNs x 8 paths with 1 ms
//! of latency per command and 256 commands in flight, against the ideal
//! `commands x latency / concurrency` computed from the commands actually sent, in the same
//! run. One long run, printed as a table (not a criterion statistic):
//!
//! ```sh
//! cargo bench -p pr-multipath --bench fleet_sim
//! cargo bench -p pr-multipath --bench fleet_sim -- --luns 1000 --paths 4 --latency-us 500 --concurrency 64
//! ```
//!
//! `--threads N` sets the tokio worker threads (default: the CPUs; 1 = current-thread
//! runtime) and `--event-interval N` tokio's event interval (default 61).
//!
//! - The latency is pr-sim's `Latency::Fixed` on the real clock. `--timer precise` (the
//!   default) sleeps it with pr-sim's sub-millisecond timer thread (`pr_sim::timer`);
//!   `--timer tokio` with `tokio::time::sleep`, whose 1 ms resolution rounds deadlines up and
//!   whose parked workers wake on millisecond timeouts, so a "1 ms" sleep lasts 2 to 2.5 ms.
//!   The table also shows the mean latency each command really had with the ideal
//!   recomputed from it, and a *timer floor* measured in the same run: as many bare sleeps
//!   of the same timer as commands were sent, with the same concurrency and nothing else.
//!   Against the floor, what remains is pr-multipath's cost (and pr-sim's).
//! - "Concurrency 256" is commands in flight: unfence runs 256 / paths LUNs at once, each
//!   fanning out to all its paths (`LunOptions::concurrency` = paths); fence sends READ
//!   RESERVATION then PREEMPT AND ABORT per LUN, one at a time, so it runs 256 LUNs at once.
//!   A wrapper transport counts the commands and the peak in flight.
//! - Memory: a counting global allocator gives the peak heap each phase adds on top of what
//!   was live when it started; `VmHWM` (peak RSS) of the whole process is printed at the
//!   end. The simulator's command trace (a debugging aid holding up to 100,000 entries) is
//!   cleared every 10 ms so that neither its memory nor its eviction cost is measured.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pr_core::outcome::CommandError;
use pr_core::transport::{Request, Response, Transport, TransportError};
use pr_core::types::{ReservationKey, ReservationType};
use pr_multipath::{FleetOptions, LunOptions, LunResult, MultipathLun, Path, fence, unfence};
use pr_sim::sim::{Latency, SimPath};
use pr_sim::timer::{Timer, precise_sleep};
use pr_sim::{ClusterSpec, LunConfig, Sim};

// ---------------------------------------------------------------------------------------
// Counting allocator
// ---------------------------------------------------------------------------------------

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

impl Counting {
    fn added(size: usize) {
        let now = LIVE.fetch_add(size, Ordering::Relaxed).saturating_add(size);
        PEAK.fetch_max(now, Ordering::Relaxed);
    }

    fn removed(size: usize) {
        LIVE.fetch_sub(size, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to the system allocator with the caller's arguments
// unchanged and only updates counters; the allocator contract is System's.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract (non-zero size), which is System's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            Self::added(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            Self::added(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, i.e. by System, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        Self::removed(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by System with `layout`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            Self::removed(layout.size());
            Self::added(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn mib(bytes: usize) -> f64 {
    // Display only.
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    b / (1024.0 * 1024.0)
}

/// `VmHWM` (peak resident set size) of this process, in KiB.
fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

// ---------------------------------------------------------------------------------------
// Metering transport
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Meter {
    commands: AtomicU64,
    unit_attentions: AtomicU64,
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
    latency_ns: AtomicU64,
}

#[derive(Clone, Copy, Debug, Default)]
struct MeterReading {
    commands: u64,
    unit_attentions: u64,
    latency_ns: u64,
}

impl Meter {
    fn read(&self) -> MeterReading {
        MeterReading {
            commands: self.commands.load(Ordering::Relaxed),
            unit_attentions: self.unit_attentions.load(Ordering::Relaxed),
            latency_ns: self.latency_ns.load(Ordering::Relaxed),
        }
    }
}

/// A pr-sim path that counts its commands, their latency and how many are in flight.
struct Metered {
    inner: SimPath,
    meter: Arc<Meter>,
}

impl Transport for Metered {
    async fn execute(&self, request: Request) -> Result<Response, TransportError> {
        let m = &self.meter;
        let now = m
            .in_flight
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        m.peak_in_flight.fetch_max(now, Ordering::Relaxed);
        let t0 = Instant::now();
        let r = self.inner.execute(request).await;
        let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        m.latency_ns.fetch_add(ns, Ordering::Relaxed);
        m.in_flight.fetch_sub(1, Ordering::Relaxed);
        m.commands.fetch_add(1, Ordering::Relaxed);
        if let Ok(resp) = &r
            && matches!(
                resp.completion.check(),
                Err(CommandError::UnitAttention { .. })
            )
        {
            m.unit_attentions.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    fn name(&self) -> &str {
        self.inner.name()
    }
}

// ---------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------

struct Args {
    luns: usize,
    paths: usize,
    latency: Duration,
    concurrency: usize,
    threads: usize,
    event_interval: u32,
    timer: Timer,
}

fn parse_args() -> Args {
    let mut a = Args {
        luns: 10_000,
        paths: 8,
        latency: Duration::from_millis(1),
        concurrency: 256,
        threads: 0,
        event_interval: 61,
        timer: Timer::Precise,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut num = || it.next().and_then(|v| v.parse::<u64>().ok());
        match flag.as_str() {
            "--luns" => {
                a.luns = num()
                    .and_then(|v| usize::try_from(v).ok())
                    .unwrap_or(a.luns)
            }
            "--paths" => {
                a.paths = num()
                    .and_then(|v| usize::try_from(v).ok())
                    .unwrap_or(a.paths)
            }
            "--latency-us" => a.latency = num().map_or(a.latency, Duration::from_micros),
            "--concurrency" => {
                a.concurrency = num()
                    .and_then(|v| usize::try_from(v).ok())
                    .unwrap_or(a.concurrency);
            }
            "--timer" => {
                a.timer = match it.next().map(String::as_str) {
                    Some("tokio") => Timer::Tokio,
                    Some("precise") => Timer::Precise,
                    other => {
                        eprintln!("--timer wants tokio or precise (got {other:?})");
                        std::process::exit(2);
                    }
                }
            }
            "--threads" => a.threads = num().and_then(|v| usize::try_from(v).ok()).unwrap_or(0),
            "--event-interval" => {
                a.event_interval = num()
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(a.event_interval);
            }
            _ => {} // `--bench` and other harness flags
        }
    }
    a.luns = a.luns.clamp(1, usize::from(u16::MAX));
    a.paths = a.paths.max(1);
    a.concurrency = a.concurrency.max(a.paths);
    a
}

struct Phase {
    name: &'static str,
    luns: usize,
    ok: usize,
    commands: u64,
    unit_attentions: u64,
    peak_in_flight: u64,
    wall: Duration,
    latency_sum: Duration,
    extra_heap: usize,
}

impl Phase {
    fn ideal(&self, latency: Duration, concurrency: usize) -> Duration {
        let c = u32::try_from(concurrency).unwrap_or(u32::MAX);
        let n = u32::try_from(self.commands).unwrap_or(u32::MAX);
        latency.saturating_mul(n) / c
    }

    fn mean_latency(&self) -> Duration {
        let n = u32::try_from(self.commands.max(1)).unwrap_or(u32::MAX);
        self.latency_sum / n
    }
}

async fn phase<F>(name: &'static str, meter: &Meter, luns: usize, run: F) -> Phase
where
    F: Future<Output = Vec<LunResult>>,
{
    let before = meter.read();
    meter.peak_in_flight.store(0, Ordering::Relaxed);
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    let t0 = Instant::now();
    let results = run.await;
    let wall = t0.elapsed();
    let extra_heap = PEAK.load(Ordering::Relaxed).saturating_sub(live);
    let after = meter.read();
    let failed: Vec<_> = results.iter().filter(|r| !r.is_ok()).take(3).collect();
    if !failed.is_empty() {
        eprintln!("{name}: failures, e.g. {failed:?}");
    }
    Phase {
        name,
        luns,
        ok: results.iter().filter(|r| r.is_ok()).count(),
        commands: after.commands.saturating_sub(before.commands),
        unit_attentions: after.unit_attentions.saturating_sub(before.unit_attentions),
        peak_in_flight: meter.peak_in_flight.load(Ordering::Relaxed),
        wall,
        latency_sum: Duration::from_nanos(after.latency_ns.saturating_sub(before.latency_ns)),
        extra_heap,
    }
}

/// The timer floor: `n` bare `tokio::time::sleep(latency)`, `concurrency` at a time, on the
/// same runtime. Returns the wall time and the sum of the sleeps' real durations.
async fn timer_floor(
    n: u64,
    latency: Duration,
    concurrency: usize,
    timer: Timer,
) -> (Duration, Duration) {
    let t0 = Instant::now();
    let slept = futures_util::stream::iter(0..n)
        .map(|_| async move {
            let t = Instant::now();
            match timer {
                Timer::Tokio => tokio::time::sleep(latency).await,
                Timer::Precise => precise_sleep(latency).await,
            }
            t.elapsed()
        })
        .buffer_unordered(concurrency)
        .fold(Duration::ZERO, |acc, d| async move { acc + d })
        .await;
    (t0.elapsed(), slept)
}

/// `a / b` with two decimals, or `n/a` when `b` is zero (`--latency-us 0`: no ideal).
fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() {
        "n/a".to_owned()
    } else {
        format!("{:.2}", a.as_secs_f64() / b.as_secs_f64())
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let args = parse_args();
    let workers = if args.threads == 0 {
        std::thread::available_parallelism().map_or(2, usize::from)
    } else {
        args.threads
    };
    let rt = if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
            .event_interval(args.event_interval)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .event_interval(args.event_interval)
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    rt.block_on(run(&args, workers));
}

async fn run(args: &Args, workers: usize) {
    let t_setup = Instant::now();
    let cluster = Sim::cluster(&ClusterSpec {
        nodes: 2,
        paths_per_node: args.paths,
        luns: args.luns,
        lun_config: LunConfig::spc5(),
    });
    let meter = Arc::new(Meter::default());
    let node_luns = |n: usize| -> Vec<MultipathLun<Metered>> {
        cluster.nodes[n]
            .paths
            .iter()
            .enumerate()
            .map(|(l, per_lun)| {
                let paths = per_lun
                    .iter()
                    .enumerate()
                    .map(|(p, sp)| {
                        sp.set_latency(Latency::Fixed(args.latency));
                        sp.set_timer(args.timer);
                        Path::new(
                            sp.name().to_owned(),
                            Metered {
                                inner: sp.clone(),
                                meter: Arc::clone(&meter),
                            },
                        )
                        .with_host(u32::try_from(p).unwrap_or(0))
                    })
                    .collect();
                MultipathLun::new(format!("mpath{n}-{l}"), paths).with_options(LunOptions {
                    concurrency: args.paths,
                    ..LunOptions::default()
                })
            })
            .collect()
    };
    let victim = node_luns(0);
    let fencer = node_luns(1);
    let victim_refs: Vec<&MultipathLun<Metered>> = victim.iter().collect();
    let fencer_refs: Vec<&MultipathLun<Metered>> = fencer.iter().collect();
    let setup = t_setup.elapsed();
    let baseline_heap = LIVE.load(Ordering::Relaxed);

    // Keep the simulator's trace from growing (see the module documentation).
    let stop = Arc::new(AtomicBool::new(false));
    let trimmer = {
        let sim = cluster.sim.clone();
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                sim.clear_trace();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    let key_victim = ReservationKey(0xa196_0001);
    let key_fencer = ReservationKey(0xa196_0002);
    let unfence_luns_at_once = (args.concurrency / args.paths).max(1);
    // Every phase reports progress to a consumer, as a CLI drawing a bar would.
    let options = |at_once: usize| {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let counter = tokio::spawn(async move {
            let mut n = 0usize;
            while rx.recv().await.is_some() {
                n += 1;
            }
            n
        });
        (
            FleetOptions {
                concurrency: at_once,
                progress: Some(tx),
                ..FleetOptions::default()
            },
            counter,
        )
    };

    let mut phases = Vec::new();
    let mut progress_events = 0usize;
    for (name, refs, key) in [
        ("unfence node 2 (fencer)", &fencer_refs, key_fencer),
        ("unfence node 1 (victim)", &victim_refs, key_victim),
    ] {
        let (opts, counter) = options(unfence_luns_at_once);
        phases.push(phase(name, &meter, args.luns, unfence(refs, key, &opts)).await);
        drop(opts);
        progress_events += counter.await.unwrap_or(0);
    }
    let (opts, counter) = options(args.concurrency);
    phases.push(
        phase(
            "fence node 1 (PREEMPT AND ABORT)",
            &meter,
            args.luns,
            fence(
                &fencer_refs,
                key_fencer,
                key_victim,
                ReservationType::WriteExclusiveRegistrantsOnly,
                &opts,
            ),
        )
        .await,
    );
    drop(opts);
    progress_events += counter.await.unwrap_or(0);
    stop.store(true, Ordering::Relaxed);
    let _ = trimmer.await;
    let all_commands: u64 = phases.iter().map(|p| p.commands).sum();
    let (floor_wall, floor_slept) =
        timer_floor(all_commands, args.latency, args.concurrency, args.timer).await;

    // Check the end state on every LUN: node 1 gone, node 2 on every path.
    let mut wrong = 0usize;
    for &l in &cluster.luns {
        let ok = cluster
            .sim
            .with_lun(l, |lu| {
                let regs = lu.registrations();
                regs.len() == args.paths && regs.iter().all(|r| r.key == key_fencer)
            })
            .unwrap_or(false);
        if !ok {
            wrong += 1;
        }
    }

    let total = Phase {
        name: "total",
        luns: args.luns,
        ok: phases.iter().map(|p| p.ok).min().unwrap_or(0),
        commands: phases.iter().map(|p| p.commands).sum(),
        unit_attentions: phases.iter().map(|p| p.unit_attentions).sum(),
        peak_in_flight: phases.iter().map(|p| p.peak_in_flight).max().unwrap_or(0),
        wall: phases.iter().map(|p| p.wall).sum(),
        latency_sum: phases.iter().map(|p| p.latency_sum).sum(),
        extra_heap: phases.iter().map(|p| p.extra_heap).max().unwrap_or(0),
    };

    println!(
        "pr-multipath fleet benchmark on pr-sim: {} LUNs x {} paths per node, 2 nodes, {} us per \
         command ({} sleep, real clock), {} commands in flight, {workers} worker threads",
        args.luns,
        args.paths,
        args.latency.as_micros(),
        match args.timer {
            Timer::Tokio => "tokio",
            Timer::Precise => "pr-sim precise",
        },
        args.concurrency
    );
    println!(
        "setup {:.0} ms; heap live after setup {:.1} MiB; unfence runs {unfence_luns_at_once} LUNs \
         at once x {} paths, fence {} LUNs at once",
        ms(setup),
        mib(baseline_heap),
        args.paths,
        args.concurrency
    );
    println!();
    println!(
        "| phase | LUNs ok | commands | UA | peak in flight | wall ms | ideal ms | ratio | mean cmd latency ms | ideal at that latency ms | ratio | peak extra heap MiB |"
    );
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for p in phases.iter().chain(std::iter::once(&total)) {
        let ideal = p.ideal(args.latency, args.concurrency);
        let ideal_obs = p.ideal(p.mean_latency(), args.concurrency);
        println!(
            "| {} | {}/{} | {} | {} | {} | {:.0} | {:.0} | {} | {:.3} | {:.0} | {} | {:.1} |",
            p.name,
            p.ok,
            p.luns,
            p.commands,
            p.unit_attentions,
            p.peak_in_flight,
            ms(p.wall),
            ms(ideal),
            ratio(p.wall, ideal),
            ms(p.mean_latency()),
            ms(ideal_obs),
            ratio(p.wall, ideal_obs),
            mib(p.extra_heap)
        );
    }
    let floor = Phase {
        name: "timer floor: as many bare sleeps (same timer), same concurrency",
        luns: 0,
        ok: 0,
        commands: all_commands,
        unit_attentions: 0,
        peak_in_flight: u64::try_from(args.concurrency).unwrap_or(0),
        wall: floor_wall,
        latency_sum: floor_slept,
        extra_heap: 0,
    };
    let ideal = floor.ideal(args.latency, args.concurrency);
    println!(
        "| {} | - | {} | - | {} | {:.0} | {:.0} | {} | {:.3} | {:.0} | {} | - |",
        floor.name,
        floor.commands,
        floor.peak_in_flight,
        ms(floor.wall),
        ms(ideal),
        ratio(floor.wall, ideal),
        ms(floor.mean_latency()),
        ms(floor.ideal(floor.mean_latency(), args.concurrency)),
        ratio(
            floor.wall,
            floor.ideal(floor.mean_latency(), args.concurrency)
        ),
    );
    println!();
    println!(
        "total wall / nominal ideal = {}; total wall / timer floor = {}",
        ratio(total.wall, total.ideal(args.latency, args.concurrency)),
        ratio(total.wall, floor.wall)
    );
    println!(
        "each Step of a Report is {} bytes (its Result<(), Failure> keeps sense inline); the \
         per-LUN reports returned are most of the extra heap",
        std::mem::size_of::<pr_multipath::Step>()
    );
    println!(
        "ideal = commands x {} us / {}; progress events {}; end state {} (LUNs where node 1 is \
         gone and node 2 is on every path: {}/{})",
        args.latency.as_micros(),
        args.concurrency,
        progress_events,
        if wrong == 0 { "ok" } else { "WRONG" },
        args.luns - wrong,
        args.luns
    );
    match vm_hwm_kib() {
        Some(k) => println!(
            "peak RSS (VmHWM) of the whole process: {:.1} MiB",
            k as f64 / 1024.0
        ),
        None => println!("peak RSS: /proc/self/status not readable"),
    }
    if wrong != 0 || total.ok != args.luns {
        std::process::exit(1);
    }
}
