//! Lab benchmark of pr-sgio (issue 3), run inside the QEMU lab by `lab/bench.sh`:
//!
//! 1. Latency of PERSISTENT RESERVE IN READ KEYS (allocation length 8192) on one path
//!    device: a minimal raw `SG_IO` loop written here with `libc::ioctl` (the baseline),
//!    against `pr_lab_support::raw::pr_in` on each engine (blocking pool, in place, sg v3
//!    `AsyncFd`), each on a multi-thread runtime (2 workers) driven by `block_on` from the
//!    main thread, the same in a task spawned on a worker, and on a current-thread runtime.
//!    The methods run interleaved in rounds so that drift of the (TCG) guest hits them
//!    alike. Median and p90, and their ratio to the baseline.
//! 2. Throughput of 1,000 READ KEYS issued concurrently (one task each) across every
//!    node-1 path of every LUN, against the same 1,000 issued one by one, for each engine;
//!    and the time per command of a fan-out (one READ KEYS per path, all awaited in one
//!    task, as pr-multipath does).
//!
//! ```text
//! lab/bench.sh                      # build on the host, run in the lab, print the tables
//! BENCH_ITERS=4000 lab/bench.sh -T iscsi
//! ```
//!
//! Environment: `LAB_PATHS_i` / `LAB_SG_i` / `LAB_LUNS` (set by the lab), `BENCH_ITERS`
//! (latency samples per method, default 3000), `BENCH_CMDS` (throughput batch, 1000),
//! `BENCH_REPEAT` (throughput repetitions, 5).

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pr_core::types::PrInAction;
use pr_lab_support::raw::{self, PrInOptions};
use pr_sgio::{Device, Engine, OpenOptions};

fn env_list(name: &str) -> Vec<PathBuf> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.split_whitespace().map(PathBuf::from).collect(),
        _ => {
            eprintln!(
                "lab_bench: {name} is not set: run this inside the lab (lab/bench.sh), which \
                 exports LAB_LUNS, LAB_PATHS_i and LAB_SG_i"
            );
            std::process::exit(2);
        }
    }
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `struct sg_io_hdr` from `<scsi/sg.h>` (x86-64 layout), written out for the baseline.
#[repr(C)]
struct SgIoHdr {
    interface_id: libc::c_int,
    dxfer_direction: libc::c_int,
    cmd_len: libc::c_uchar,
    mx_sb_len: libc::c_uchar,
    iovec_count: libc::c_ushort,
    dxfer_len: libc::c_uint,
    dxferp: *mut libc::c_void,
    cmdp: *mut libc::c_uchar,
    sbp: *mut libc::c_uchar,
    timeout: libc::c_uint,
    flags: libc::c_uint,
    pack_id: libc::c_int,
    usr_ptr: *mut libc::c_void,
    status: libc::c_uchar,
    masked_status: libc::c_uchar,
    msg_status: libc::c_uchar,
    sb_len_wr: libc::c_uchar,
    host_status: libc::c_ushort,
    driver_status: libc::c_ushort,
    resid: libc::c_int,
    duration: libc::c_uint,
    info: libc::c_uint,
}

const SG_IO: libc::c_ulong = 0x2285;
const SG_DXFER_FROM_DEV: libc::c_int = -3;
const ALLOC: usize = 8192;

/// The baseline: one READ KEYS with a bare SG_IO ioctl, buffers reused.
struct RawSgIo {
    file: std::fs::File,
    cdb: [u8; 10],
    buf: Vec<u8>,
    sense: [u8; 64],
}

impl RawSgIo {
    fn open(path: &std::path::Path) -> RawSgIo {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let a = (ALLOC as u16).to_be_bytes();
        RawSgIo {
            file,
            cdb: [0x5e, 0, 0, 0, 0, 0, 0, a[0], a[1], 0],
            buf: vec![0; ALLOC],
            sense: [0; 64],
        }
    }

    fn read_keys(&mut self) -> usize {
        let buf = std::mem::take(&mut self.buf);
        let (n, buf) = self.read_keys_into(buf);
        self.buf = buf;
        n
    }

    fn read_keys_into(&mut self, mut buf: Vec<u8>) -> (usize, Vec<u8>) {
        let mut h = SgIoHdr {
            interface_id: b'S' as libc::c_int,
            dxfer_direction: SG_DXFER_FROM_DEV,
            cmd_len: self.cdb.len() as u8,
            mx_sb_len: self.sense.len() as u8,
            iovec_count: 0,
            dxfer_len: buf.len() as u32,
            dxferp: buf.as_mut_ptr().cast(),
            cmdp: self.cdb.as_mut_ptr(),
            sbp: self.sense.as_mut_ptr(),
            timeout: 30_000,
            flags: 0,
            pack_id: 0,
            usr_ptr: std::ptr::null_mut(),
            status: 0,
            masked_status: 0,
            msg_status: 0,
            sb_len_wr: 0,
            host_status: 0,
            driver_status: 0,
            resid: 0,
            duration: 0,
            info: 0,
        };
        // SAFETY: `h` points into `self.cdb`, `buf` and `self.sense`, which outlive the
        // call, with their true lengths; SG_IO is synchronous.
        let r = unsafe { libc::ioctl(self.file.as_raw_fd(), SG_IO, &mut h as *mut SgIoHdr) };
        assert!(r == 0, "SG_IO: {}", std::io::Error::last_os_error());
        assert!(
            h.status == 0 && h.host_status == 0 && h.driver_status & 0x0f == 0,
            "raw READ KEYS: status {:#x} host {:#x} driver {:#x}",
            h.status,
            h.host_status,
            h.driver_status
        );
        (ALLOC - h.resid.max(0) as usize, buf)
    }
}

#[derive(Default)]
struct Samples(Vec<Duration>);

impl Samples {
    fn pct(&self, p: f64) -> Duration {
        let mut v = self.0.clone();
        v.sort();
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[i]
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn read_keys_ok(d: &Device) {
    let opts = PrInOptions::default();
    for _ in 0..3 {
        match raw::pr_in(d, PrInAction::ReadKeys, &opts).await {
            Ok(_) => return,
            Err(e) if e.command_error().is_some_and(|c| c.is_unit_attention()) => continue,
            Err(e) => panic!("{e}"),
        }
    }
    panic!(
        "{}: READ KEYS kept failing with UNIT ATTENTION",
        d.path().display()
    );
}

fn main() {
    let luns = env_num("LAB_LUNS", 0);
    if luns == 0 {
        eprintln!("lab_bench: LAB_LUNS is not set: run this inside the lab (lab/bench.sh)");
        std::process::exit(2);
    }
    let paths0 = env_list("LAB_PATHS_0");
    let sgs0 = env_list("LAB_SG_0");
    let mut all_paths = Vec::new();
    let mut all_sgs = Vec::new();
    for i in 0..luns {
        all_paths.extend(env_list(&format!("LAB_PATHS_{i}")));
        all_sgs.extend(env_list(&format!("LAB_SG_{i}")));
    }
    let iters = env_num("BENCH_ITERS", 3000);
    let ncmds = env_num("BENCH_CMDS", 1000);
    let repeat = env_num("BENCH_REPEAT", 5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let transport = std::env::var("LAB_TRANSPORT").unwrap_or_default();
    println!(
        "lab_bench: transport {transport}, {luns} LUN(s), {} node-1 path(s); latency device {} ({}); {iters} samples per method; kernel {}",
        all_paths.len(),
        paths0[0].display(),
        sgs0[0].display(),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    );

    // The guest's clock: under TCG there is no kvm-clock and the TSC is usually marked
    // unstable, so every `Instant::now()` may be a system call reading an emulated HPET.
    let clocksource =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .unwrap_or_default();
    let mut s_clock = Samples::default();
    for _ in 0..2000 {
        let t = Instant::now();
        let u = Instant::now();
        s_clock.0.push(u - t);
    }
    println!(
        "clocksource {}; one Instant::now(): median {:.2} µs, p90 {:.2} µs",
        clocksource.trim(),
        us(s_clock.pct(0.5)),
        us(s_clock.pct(0.9))
    );

    // ---- 1. latency ----------------------------------------------------------------------
    let path = paths0[0].clone();
    let mut raw = RawSgIo::open(&path);
    for _ in 0..50 {
        raw.read_keys();
    }
    let engines = [Engine::BlockingPool, Engine::InPlace, Engine::SgV3Async];
    let open_all = || async {
        let mut v = Vec::new();
        for e in engines {
            let d = Device::open_with(&path, &OpenOptions::new().engine(e))
                .unwrap_or_else(|e| panic!("{e}"));
            // settle: consume any pending UNIT ATTENTION, warm caches
            for _ in 0..50 {
                read_keys_ok(&d).await;
            }
            v.push(Arc::new(d));
        }
        v
    };
    let devs_mt = rt.block_on(open_all());
    // The same engines on a current-thread runtime (the caller's thread drives I/O).
    let rt1 = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let devs_ct = rt1.block_on(open_all());
    // Diagnostic: the same raw ioctl, but each call handed to tokio's blocking pool (the
    // thread hop that the blocking-pool engine pays), without and with the timer that the
    // engines race against the call.
    let raw_hop = Arc::new(std::sync::Mutex::new(RawSgIo::open(&path)));
    let mut s_raw = Samples::default();
    let mut s_hop = Samples::default();
    let mut s_hop_t = Samples::default();
    let mut s_fresh = Samples::default();
    let mut s_sys = Samples::default();
    let mut s_exec = Samples::default();
    let sys_file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .expect("open");
    // [engine][context]: 0 = multi-thread rt, block_on from main; 1 = multi-thread rt, in a
    // task spawned on a worker; 2 = current-thread rt.
    let mut s_eng: Vec<[Samples; 3]> = engines.iter().map(|_| Default::default()).collect();
    let rounds = 20;
    let per = iters.div_ceil(rounds);
    for _ in 0..rounds {
        for _ in 0..per {
            let t = Instant::now();
            raw.read_keys();
            s_raw.0.push(t.elapsed());
        }
        for _ in 0..per {
            let t = Instant::now();
            let _ = raw.read_keys_into(vec![0; ALLOC]);
            s_fresh.0.push(t.elapsed());
        }
        for _ in 0..per {
            use std::os::fd::AsFd;
            let t = Instant::now();
            let mut buf = vec![0u8; ALLOC];
            let mut sense = [0u8; pr_sgio::engine::SENSE_LEN];
            let r = pr_sgio::sys::sg_io(
                sys_file.as_fd(),
                &raw.cdb,
                pr_sgio::sys::SgDirection::FromDevice,
                &mut buf,
                &mut sense,
                30_000,
            )
            .expect("sg_io");
            assert_eq!(r.status, 0);
            s_sys.0.push(t.elapsed());
        }
        rt.block_on(async {
            use pr_core::transport::{Cdb, Request, Transport};
            for _ in 0..per {
                let t = Instant::now();
                let r = devs_mt[1]
                    .execute(Request::data_in(Cdb::from(raw.cdb), ALLOC))
                    .await
                    .expect("execute");
                assert_eq!(r.completion.status.0, 0);
                s_exec.0.push(t.elapsed());
            }
        });
        rt.block_on(async {
            for _ in 0..per {
                let r = raw_hop.clone();
                let t = Instant::now();
                tokio::task::spawn_blocking(move || r.lock().expect("lock").read_keys())
                    .await
                    .expect("join");
                s_hop.0.push(t.elapsed());
            }
            for _ in 0..per {
                let r = raw_hop.clone();
                let t = Instant::now();
                tokio::time::timeout(
                    Duration::from_secs(35),
                    tokio::task::spawn_blocking(move || r.lock().expect("lock").read_keys()),
                )
                .await
                .expect("timeout")
                .expect("join");
                s_hop_t.0.push(t.elapsed());
            }
        });
        for (i, d) in devs_mt.iter().enumerate() {
            rt.block_on(async {
                for _ in 0..per {
                    let t = Instant::now();
                    read_keys_ok(d).await;
                    s_eng[i][0].0.push(t.elapsed());
                }
            });
            let d2 = d.clone();
            let v = rt
                .block_on(rt.spawn(async move {
                    let mut v = Vec::with_capacity(per);
                    for _ in 0..per {
                        let t = Instant::now();
                        read_keys_ok(&d2).await;
                        v.push(t.elapsed());
                    }
                    v
                }))
                .expect("task");
            s_eng[i][1].0.extend(v);
        }
        for (i, d) in devs_ct.iter().enumerate() {
            rt1.block_on(async {
                for _ in 0..per {
                    let t = Instant::now();
                    read_keys_ok(d).await;
                    s_eng[i][2].0.push(t.elapsed());
                }
            });
        }
    }
    let base_med = s_raw.pct(0.5);
    let base_p90 = s_raw.pct(0.9);
    println!();
    println!(
        "READ KEYS latency on {} ({} samples each, interleaved in {rounds} rounds)",
        path.display(),
        s_raw.0.len()
    );
    println!("| method | median µs | p90 µs | median / raw | p90 / raw |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let mut rows: Vec<(String, &Samples)> = vec![
        ("raw SG_IO ioctl loop (baseline)".into(), &s_raw),
        (
            "(diagnostic) raw ioctl, fresh 8 KiB buffer per call".into(),
            &s_fresh,
        ),
        (
            "(diagnostic) pr_sgio::sys::sg_io, fresh buffer per call".into(),
            &s_sys,
        ),
        (
            "(diagnostic) Device::execute (no decoding), InPlace, multi-thread rt, block_on".into(),
            &s_exec,
        ),
        (
            "(diagnostic) raw ioctl via tokio spawn_blocking, multi-thread rt".into(),
            &s_hop,
        ),
        (
            "(diagnostic) raw ioctl via spawn_blocking + tokio::time::timeout, multi-thread rt"
                .into(),
            &s_hop_t,
        ),
    ];
    let ctx = [
        "multi-thread rt, block_on",
        "multi-thread rt, spawned task",
        "current-thread rt",
    ];
    for (i, e) in engines.iter().enumerate() {
        for (j, c) in ctx.iter().enumerate() {
            rows.push((format!("pr-sgio read_keys, {e:?}, {c}"), &s_eng[i][j]));
        }
    }
    for (name, s) in rows {
        let (m, p) = (s.pct(0.5), s.pct(0.9));
        println!(
            "| {name} | {:.1} | {:.1} | {:.3} | {:.3} |",
            us(m),
            us(p),
            m.as_secs_f64() / base_med.as_secs_f64(),
            p.as_secs_f64() / base_p90.as_secs_f64()
        );
    }

    // ---- 2. throughput ---------------------------------------------------------------------
    println!();
    println!(
        "Throughput: {ncmds} READ KEYS over {} path(s), concurrent (one task each) vs one by one (median of {repeat} runs); fan-out: one READ KEYS per path joined in ONE task",
        all_paths.len()
    );
    println!(
        "| engine | one by one, cmd/s | concurrent, cmd/s | speed-up | fan-out in one task, µs per command |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    for engine in engines {
        let devs: Vec<Arc<Device>> = rt.block_on(async {
            let nodes = if engine == Engine::SgV3Async {
                &all_sgs
            } else {
                &all_paths
            };
            let mut v = Vec::new();
            for p in nodes {
                let d = Device::open_with(p, &OpenOptions::new().engine(engine))
                    .unwrap_or_else(|e| panic!("{e}"));
                read_keys_ok(&d).await;
                v.push(Arc::new(d));
            }
            v
        });
        let mut seq = Vec::new();
        let mut conc = Vec::new();
        let mut fan = Vec::new();
        for _ in 0..repeat {
            let t = Instant::now();
            rt.block_on(async {
                for i in 0..ncmds {
                    read_keys_ok(&devs[i % devs.len()]).await;
                }
            });
            seq.push(t.elapsed());
            let t = Instant::now();
            rt.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for i in 0..ncmds {
                    let d = devs[i % devs.len()].clone();
                    set.spawn(async move { read_keys_ok(&d).await });
                }
                while let Some(r) = set.join_next().await {
                    r.expect("task");
                }
            });
            conc.push(t.elapsed());
            // The pr-multipath pattern: one command per path, all awaited in one task.
            let devs2 = devs.clone();
            let rounds = ncmds.div_ceil(devs.len());
            let d = rt
                .block_on(rt.spawn(async move {
                    let t = Instant::now();
                    for _ in 0..rounds {
                        join_all(devs2.iter().map(|d| read_keys_ok(d))).await;
                    }
                    t.elapsed() / u32::try_from(rounds * devs2.len()).unwrap_or(u32::MAX)
                }))
                .expect("task");
            fan.push(d);
        }
        seq.sort();
        conc.sort();
        fan.sort();
        let (s, c) = (seq[seq.len() / 2], conc[conc.len() / 2]);
        let rate = |d: Duration| ncmds as f64 / d.as_secs_f64();
        println!(
            "| {engine:?} | {:.0} | {:.0} | {:.2}x | {:.1} |",
            rate(s),
            rate(c),
            s.as_secs_f64() / c.as_secs_f64(),
            us(fan[fan.len() / 2])
        );
    }
}

/// Awaits all `futs` concurrently in the calling task (a minimal `join_all`).
async fn join_all<F: std::future::Future<Output = ()>>(futs: impl Iterator<Item = F>) {
    let mut futs: Vec<Option<std::pin::Pin<Box<F>>>> = futs.map(|f| Some(Box::pin(f))).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in futs.iter_mut() {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await
}
