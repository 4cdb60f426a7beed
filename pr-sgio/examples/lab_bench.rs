//! Lab benchmark of pr-sgio (issue 3), run inside the QEMU lab by `lab/bench.sh`:
//!
//! 1. Latency of PERSISTENT RESERVE IN READ KEYS (allocation length 8192) on one path
//!    device: a minimal raw `SG_IO` loop written here with `libc::ioctl` (the baseline),
//!    against `pr_sgio::ops::read_keys` on the bounded blocking pool engine and on the sg v3
//!    `AsyncFd` engine, each on a multi-thread (2 workers, driven by `block_on` from the
//!    main thread) and on a current-thread tokio runtime. The methods run interleaved in rounds so that drift of the (TCG)
//!    guest hits them alike. Median and p90, and their ratio to the baseline.
//! 2. Throughput of 1,000 READ KEYS issued concurrently across every node-1 path of every
//!    LUN, against the same 1,000 issued one by one, for both engines.
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
use pr_sgio::ops::{self, PrInOptions};
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
        let mut h = SgIoHdr {
            interface_id: b'S' as libc::c_int,
            dxfer_direction: SG_DXFER_FROM_DEV,
            cmd_len: self.cdb.len() as u8,
            mx_sb_len: self.sense.len() as u8,
            iovec_count: 0,
            dxfer_len: self.buf.len() as u32,
            dxferp: self.buf.as_mut_ptr().cast(),
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
        // SAFETY: `h` points into `self.cdb`, `self.buf` and `self.sense`, which outlive the
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
        ALLOC - h.resid.max(0) as usize
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
        match ops::pr_in(d, PrInAction::ReadKeys, &opts).await {
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

    // ---- 1. latency ----------------------------------------------------------------------
    let path = paths0[0].clone();
    let mut raw = RawSgIo::open(&path);
    let (pool, v3) = rt.block_on(async {
        let pool = Device::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let v3 = Device::open_with(&path, &OpenOptions::new().engine(Engine::SgV3Async))
            .unwrap_or_else(|e| panic!("{e}"));
        // settle: consume any pending UNIT ATTENTION, warm caches
        for _ in 0..50 {
            read_keys_ok(&pool).await;
            read_keys_ok(&v3).await;
        }
        (pool, v3)
    });
    for _ in 0..50 {
        raw.read_keys();
    }
    // The same two engines on a current-thread runtime (the caller's thread drives I/O).
    let rt1 = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (pool1, v31) = rt1.block_on(async {
        let pool = Device::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let v3 = Device::open_with(&path, &OpenOptions::new().engine(Engine::SgV3Async))
            .unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..50 {
            read_keys_ok(&pool).await;
            read_keys_ok(&v3).await;
        }
        (pool, v3)
    });
    // Diagnostic: the same raw ioctl, but each call handed to tokio's blocking pool (the
    // thread hop that the blocking-pool engine pays).
    let raw_hop = Arc::new(std::sync::Mutex::new(RawSgIo::open(&path)));
    let mut s_hop = Samples::default();
    let mut s_raw = Samples::default();
    let mut s_pool = Samples::default();
    let mut s_v3 = Samples::default();
    let mut s_pool1 = Samples::default();
    let mut s_v31 = Samples::default();
    let rounds = 20;
    let per = iters.div_ceil(rounds);
    for _ in 0..rounds {
        for _ in 0..per {
            let t = Instant::now();
            raw.read_keys();
            s_raw.0.push(t.elapsed());
        }
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
                let t = Instant::now();
                read_keys_ok(&pool).await;
                s_pool.0.push(t.elapsed());
            }
            for _ in 0..per {
                let t = Instant::now();
                read_keys_ok(&v3).await;
                s_v3.0.push(t.elapsed());
            }
        });
        rt1.block_on(async {
            for _ in 0..per {
                let t = Instant::now();
                read_keys_ok(&pool1).await;
                s_pool1.0.push(t.elapsed());
            }
            for _ in 0..per {
                let t = Instant::now();
                read_keys_ok(&v31).await;
                s_v31.0.push(t.elapsed());
            }
        });
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
    for (name, s) in [
        ("raw SG_IO ioctl loop (baseline)", &s_raw),
        (
            "(diagnostic) raw ioctl via tokio spawn_blocking, multi-thread rt",
            &s_hop,
        ),
        (
            "pr-sgio ops::read_keys, blocking pool, multi-thread rt",
            &s_pool,
        ),
        (
            "pr-sgio ops::read_keys, sg v3 AsyncFd, multi-thread rt",
            &s_v3,
        ),
        (
            "pr-sgio ops::read_keys, blocking pool, current-thread rt",
            &s_pool1,
        ),
        (
            "pr-sgio ops::read_keys, sg v3 AsyncFd, current-thread rt",
            &s_v31,
        ),
    ] {
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
        "Throughput: {ncmds} READ KEYS over {} path(s), concurrent vs one by one (median of {repeat} runs)",
        all_paths.len()
    );
    println!("| engine | one by one, cmd/s | concurrent, cmd/s | speed-up |");
    println!("| --- | ---: | ---: | ---: |");
    for engine in [Engine::BlockingPool, Engine::SgV3Async] {
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
        }
        seq.sort();
        conc.sort();
        let (s, c) = (seq[seq.len() / 2], conc[conc.len() / 2]);
        let rate = |d: Duration| ncmds as f64 / d.as_secs_f64();
        println!(
            "| {engine:?} | {:.0} | {:.0} | {:.2}x |",
            rate(s),
            rate(c),
            s.as_secs_f64() / c.as_secs_f64()
        );
    }
}
