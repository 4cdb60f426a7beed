//! Memory per simulated LUN (issue 4: "100,000 simulated LUNs fit in 1 GiB").
//!
//! `cargo bench -p pr-sim --bench lun_memory` (environment: `LUNS`, default 100,000).
//! A counting global allocator measures the bytes live on the heap. One `Sim` with two
//! target ports and two initiator ports (two nodes) gets `LUNS` logical units; each LU is
//! seen through two paths (node A through port 1, node B through port 2), both register
//! (REGISTER, SAS TransportIDs) and node A takes a Write Exclusive – Registrants Only
//! reservation: 2 registrations, 1 reservation, 2 known nexuses per LU. The program prints
//! the bytes per LU with the paths held (what a test holding its `SimPath`s costs) and after
//! dropping the paths (the simulator's own state), and the trace's share (the trace keeps
//! the last 100,000 commands of the whole target, whatever the number of LUNs).
#![allow(missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use pr_core::prout::PrOut;
use pr_core::transport::{Cdb, Request};
use pr_core::transport_id::TransportId;
use pr_core::types::{ReservationKey, ReservationType};
use pr_sim::{LogicalUnit, LunConfig, Sim, SimPath};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn add(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is `System`'s; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which is passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was returned by this allocator (hence by `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `realloc`'s contract, which is passed on unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            add(new_size);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn run(p: &SimPath, req: PrOut<'_>) {
    let mut cdb = [0u8; 10];
    req.encode_cdb(&mut cdb).unwrap();
    let mut data = vec![0u8; req.param_len().unwrap()];
    req.encode_params(&mut data).unwrap();
    let r = p
        .execute_now(&Request::data_out(Cdb::from(cdb), data))
        .unwrap();
    assert!(r.completion.is_good(), "{:?}", r.completion);
}

const PER_TARGET: usize = 50_000;

fn per_lun(bytes: usize, luns: usize) -> f64 {
    bytes as f64 / luns as f64
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let luns: usize = std::env::var("LUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let a = ReservationKey(0xaaaa_0001);
    let b = ReservationKey(0xbbbb_0002);

    for trace in [false, true] {
        let base = live();
        // A LUN number is 16 bits: one simulated target holds at most 65,536 LUNs, so the
        // LUNs are spread over targets of 50,000 (as over the arrays of a data centre).
        let mut sims = Vec::new();
        let mut paths = Vec::with_capacity(luns);
        for i in 0..luns {
            if i % PER_TARGET == 0 {
                let sim = Sim::new(2);
                if !trace {
                    sim.set_trace_limit(0);
                }
                let ia = sim.add_initiator(TransportId::Sas {
                    address: 0x5001_4050_0001_0000,
                });
                let ib = sim.add_initiator(TransportId::Sas {
                    address: 0x5001_4050_0002_0000,
                });
                sims.push((sim, ia, ib));
            }
            let (sim, ia, ib) = sims.last().expect("pushed").clone();
            let lun = sim.add_lun(LunConfig::spc5().with_serial(format!("lun{i}")));
            let pa = sim.path(ia, 1, lun).unwrap();
            let pb = sim.path(ib, 2, lun).unwrap();
            run(&pa, PrOut::register(ReservationKey(0), a));
            run(&pb, PrOut::register(ReservationKey(0), b));
            run(
                &pa,
                PrOut::reserve(a, ReservationType::WriteExclusiveRegistrantsOnly),
            );
            paths.push((pa, pb));
        }
        let with_paths = live() - base;
        drop(paths);
        let without_paths = live() - base;
        let trace_entries: usize = sims.iter().map(|s| s.0.trace().len()).sum();
        println!(
            "{luns} LUNs, trace {}: with paths {:.0} bytes/LUN ({:.1} MiB), simulator only \
             {:.0} bytes/LUN ({:.1} MiB); {} target(s), trace entries {trace_entries}; peak heap \
             {:.1} MiB",
            if trace { "on (default)" } else { "off" },
            per_lun(with_paths, luns),
            with_paths as f64 / 1048576.0,
            per_lun(without_paths, luns),
            without_paths as f64 / 1048576.0,
            sims.len(),
            PEAK.load(Ordering::Relaxed) as f64 / 1048576.0,
        );
        let fits = with_paths <= 1 << 30;
        println!(
            "  {luns} LUNs with their paths {} in 1 GiB",
            if fits { "fit" } else { "do NOT fit" }
        );
        drop(sims);
        PEAK.store(live(), Ordering::Relaxed);
    }
    println!(
        "size_of::<LogicalUnit>() = {} bytes, size_of::<SimPath>() = {} bytes",
        std::mem::size_of::<LogicalUnit>(),
        std::mem::size_of::<SimPath>()
    );
}
