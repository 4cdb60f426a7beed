//! Bench of a qemu-pr-helper-protocol daemon (issue 13): commands per second and latency
//! through any helper, ours or QEMU's, on one device, with N concurrent clients. Run in the
//! lab by `pr-helper/bench.sh`, which alternates our daemon and Debian's
//! `/usr/bin/qemu-pr-helper` on the same LIO path device and prints ratios.
//!
//! ```text
//! helper_bench --socket /run/x/ours.sock --device /dev/sdb [--clients 4] [--seconds 3]
//!              [--label ours] [--key 0xbe9c]
//! ```
//!
//! Each client is a thread with its own connection and its own read-write descriptor of
//! the device. It sends, in turn, READ KEYS (allocation length 8192), READ RESERVATION
//! (8192) and REGISTER AND IGNORE EXISTING KEY of `--key` (the same key from every client:
//! after the first, the registration does not change), for `--seconds` after a warm-up
//! (one round of the mix per client, unit attentions drained). Every reply must be GOOD;
//! others are counted as errors. At the end the key is unregistered (REGISTER AND IGNORE
//! of 0).
//!
//! Output: one line of `key=value`s, e.g.
//! `helper_bench label=ours clients=4 commands=812 seconds=3.002 cps=270.5 p50_us=14210
//! p90_us=20117 p99_us=31021 max_us=40301 errors=0`.

use std::fs::File;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use pr_helper::BlockingClient;
use pr_helper::client::{basic_params, pr_in_cdb, pr_out_cdb};

struct Args {
    socket: PathBuf,
    device: PathBuf,
    clients: usize,
    seconds: f64,
    label: String,
    key: u64,
}

const USAGE: &str = "usage: helper_bench --socket PATH --device PATH [--clients N] \
                     [--seconds S] [--label NAME] [--key K]";

fn parse_args() -> Result<Args, String> {
    let mut socket = None;
    let mut device = None;
    let mut a = Args {
        socket: PathBuf::new(),
        device: PathBuf::new(),
        clients: 1,
        seconds: 3.0,
        label: "helper".into(),
        key: 0xbe9c,
    };
    let mut it = std::env::args().skip(1);
    while let Some(opt) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{opt} needs a value"));
        match opt.as_str() {
            "--socket" => socket = Some(PathBuf::from(value()?)),
            "--device" => device = Some(PathBuf::from(value()?)),
            "--clients" => {
                a.clients = value()?
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("--clients takes a number above 0")?;
            }
            "--seconds" => {
                a.seconds = value()?
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s > 0.0 && s.is_finite())
                    .ok_or("--seconds takes a positive number")?;
            }
            "--label" => a.label = value()?,
            "--key" => {
                let v = value()?;
                let digits = v.trim_start_matches("0x");
                a.key = u64::from_str_radix(digits, 16)
                    .ok()
                    .filter(|k| *k != 0)
                    .ok_or("--key takes a non-zero hexadecimal key")?;
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    a.socket = socket.ok_or_else(|| format!("--socket is missing\n{USAGE}"))?;
    a.device = device.ok_or_else(|| format!("--device is missing\n{USAGE}"))?;
    Ok(a)
}

/// The mix: (name, CDB, parameter list).
fn mix(key: u64) -> Vec<(&'static str, [u8; 16], Vec<u8>)> {
    vec![
        ("READ KEYS", pr_in_cdb(0x00, 8192), Vec::new()),
        ("READ RESERVATION", pr_in_cdb(0x01, 8192), Vec::new()),
        (
            "REGISTER AND IGNORE",
            pr_out_cdb(0x06, 0, 24),
            basic_params(0, key, 0).to_vec(),
        ),
    ]
}

/// What one client measured.
#[derive(Default)]
struct Measured {
    latencies_ns: Vec<u64>,
    errors: usize,
    first_error: Option<String>,
}

fn open_rw(a: &Args) -> Result<File, String> {
    File::options()
        .read(true)
        .write(true)
        .open(&a.device)
        .map_err(|e| format!("{}: {e}", a.device.display()))
}

/// One client: connect, warm up, wait for the others, send the mix until `until`.
fn client(a: &Args, start: &Barrier, stop_after: Duration) -> Result<Measured, String> {
    let device = open_rw(a)?;
    let mut c =
        BlockingClient::connect(&a.socket).map_err(|e| format!("{}: {e}", a.socket.display()))?;
    let mix = mix(a.key);
    // Warm-up: one round of the mix; unit attentions (from earlier tests) drained.
    for (name, cdb, data) in &mix {
        for attempt in 0.. {
            let r = c
                .call(&device, cdb, data)
                .map_err(|e| format!("warm-up {name}: {e}"))?;
            if r.status() == 0 {
                break;
            }
            if attempt >= 4 {
                return Err(format!(
                    "warm-up {name}: status {:#04x} sense {:?}",
                    r.status(),
                    r.sense_key_asc_ascq()
                ));
            }
        }
    }
    start.wait();
    let t0 = Instant::now();
    let mut m = Measured::default();
    let mut i = 0usize;
    while t0.elapsed() < stop_after {
        let (name, cdb, data) = &mix[i % mix.len()];
        i += 1;
        let t = Instant::now();
        let r = c
            .call(&device, cdb, data)
            .map_err(|e| format!("{name}: {e}"))?;
        m.latencies_ns
            .push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
        if r.status() != 0 {
            m.errors += 1;
            m.first_error.get_or_insert_with(|| {
                format!(
                    "{name}: status {:#04x} sense {:?}",
                    r.status(),
                    r.sense_key_asc_ascq()
                )
            });
        }
    }
    Ok(m)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn run(a: Args) -> Result<(), String> {
    let a = Arc::new(a);
    let start = Arc::new(Barrier::new(a.clients + 1));
    let stop_after = Duration::from_secs_f64(a.seconds);
    let threads: Vec<_> = (0..a.clients)
        .map(|_| {
            let (a, start) = (Arc::clone(&a), Arc::clone(&start));
            std::thread::spawn(move || {
                let r = client(&a, &start, stop_after);
                if r.is_err() {
                    // Let the others go on (and fail the run below).
                    start.wait();
                }
                r
            })
        })
        .collect();
    start.wait();
    let t0 = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    let mut failed = Vec::new();
    for t in threads {
        match t.join() {
            Ok(Ok(m)) => {
                all.extend(m.latencies_ns);
                errors += m.errors;
                if first_error.is_none() {
                    first_error = m.first_error;
                }
            }
            Ok(Err(e)) => failed.push(e),
            Err(_) => failed.push("a client thread panicked".into()),
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    // Leave the LUN without the bench's registration.
    if let Ok(device) = open_rw(&a) {
        if let Ok(mut c) = BlockingClient::connect(&a.socket) {
            let _ = c.call(&device, &pr_out_cdb(0x06, 0, 24), &basic_params(0, 0, 0));
        }
    }
    if !failed.is_empty() {
        return Err(format!(
            "{} of {} clients failed: {}",
            failed.len(),
            a.clients,
            failed.join("; ")
        ));
    }
    all.sort_unstable();
    let us = |ns: u64| ns / 1000;
    println!(
        "helper_bench label={} clients={} commands={} seconds={:.3} cps={:.1} p50_us={} \
         p90_us={} p99_us={} max_us={} errors={}",
        a.label,
        a.clients,
        all.len(),
        elapsed,
        all.len() as f64 / elapsed,
        us(percentile(&all, 50.0)),
        us(percentile(&all, 90.0)),
        us(percentile(&all, 99.0)),
        us(all.last().copied().unwrap_or(0)),
        errors
    );
    if let Some(e) = first_error {
        eprintln!("helper_bench {}: first error: {e}", a.label);
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("helper_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
