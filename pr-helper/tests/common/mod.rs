//! Shared test set-up: a server on a real Unix socket in a thread of its own, with a
//! simulated LUN behind every descriptor (test-only [`LunSource`]s).

#![allow(dead_code, unreachable_pub)]

pub mod lab;

use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use pr_helper::{LunSource, Server};
use pr_multipath::{Error, Lun};
use pr_sim::{LunConfig, Sim, lab_loop_nexuses};
use tokio_util::sync::CancellationToken;

/// TEST ONLY: every descriptor reaches the same simulated LUN, whatever it is.
pub struct SimLuns(pub Arc<Lun>);

impl LunSource for SimLuns {
    fn lun_for(&self, _fd: BorrowedFd<'_>) -> Result<Arc<Lun>, Error> {
        Ok(Arc::clone(&self.0))
    }
}

/// One simulated LUN seen by two hosts: `paths` paths for host A (the daemon's), one for
/// host B (another initiator, to make conflicts).
pub fn two_hosts(paths: usize, config: LunConfig) -> (Sim, Lun, Lun) {
    let (sim, p) = Sim::single_lun(config, &lab_loop_nexuses(paths + 1));
    let a = Lun::simulated("lunA", p[..paths].to_vec());
    let b = Lun::simulated("lunB", p[paths..].to_vec());
    (sim, a, b)
}

/// A running server.
pub struct Running {
    pub socket: PathBuf,
    pub shutdown: CancellationToken,
    pub server: Server,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Running {
    /// Starts `server` on a fresh socket.
    pub fn start(server: Server) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("pr-helper.sock");
        let std_listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let s = server.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::UnixListener::from_std(std_listener).unwrap();
                s.serve(listener, token).await;
            });
        });
        Running {
            socket,
            shutdown,
            server,
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// Stops the server and waits for it.
    pub fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Open descriptors of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Waits (up to 5 s) until the process has at most `n` descriptors; returns the count.
pub fn settle_fds(n: usize) -> usize {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let c = fd_count();
        if c <= n || std::time::Instant::now() > until {
            return c;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The descriptors of this process and what they are.
pub fn fd_list() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| {
            let target = std::fs::read_link(e.path()).map(|p| p.display().to_string());
            format!(
                "{} -> {}",
                e.file_name().to_string_lossy(),
                target.unwrap_or_default()
            )
        })
        .collect();
    v.sort();
    v
}
