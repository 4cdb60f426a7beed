//! Start-up and shut-down of the daemon, in qemu-pr-helper's order: logging, the socket
//! (bound at `-k`, or taken from systemd), `-d` (fork to the background), the pidfile
//! (with `-d` or `-f`), dropping privileges (after the socket is open: only CAP_SYS_RAWIO
//! is kept, plus CAP_SYS_ADMIN for device-mapper when multipath maps are served through
//! their paths; `-u`/`-g` change the user and group and drop supplementary groups), then
//! the server (and the control socket of `--control`, bound with the main socket) until
//! SIGTERM, SIGINT or SIGHUP. The socket file is removed on exit when
//! pr-helper created it; the pidfile stays, as qemu-pr-helper leaves it.

use std::io;
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::cli::{self, Options};
use crate::luns::{DeviceLuns, DeviceOptions};
use crate::server::Server;
use crate::sys;

/// A start-up failure, with the message to print.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

fn fail(what: impl std::fmt::Display) -> StartError {
    StartError(what.to_string())
}

fn init_logging(o: &Options) -> Result<(), StartError> {
    let level = if o.quiet {
        LevelFilter::OFF
    } else {
        match o.verbose {
            0 | 1 => LevelFilter::WARN,
            2 => LevelFilter::INFO,
            3 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        }
    };
    let mut targets = Targets::new().with_default(level);
    let mut file = None;
    for t in &o.trace {
        let (patterns, f) = cli::trace_spec(t);
        for p in patterns {
            targets = targets.with_target(p.trim_end_matches('*').to_owned(), LevelFilter::TRACE);
        }
        file = f.or(file);
    }
    let registry = tracing_subscriber::registry().with(targets);
    let result = match file {
        Some(path) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| fail(format!("{}: {e}", path.display())))?;
            registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .with_writer(Arc::new(f)),
                )
                .try_init()
        }
        None => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(io::stderr),
            )
            .try_init(),
    };
    result.map_err(fail)
}

fn lookup_user(name: &str) -> Result<u32, StartError> {
    if let Ok(Some(u)) = nix::unistd::User::from_name(name) {
        return Ok(u.uid.as_raw());
    }
    name.parse()
        .map_err(|_| fail(format!("invalid user '{name}'")))
}

fn lookup_group(name: &str) -> Result<u32, StartError> {
    if let Ok(Some(g)) = nix::unistd::Group::from_name(name) {
        return Ok(g.gid.as_raw());
    }
    name.parse()
        .map_err(|_| fail(format!("invalid group '{name}'")))
}

/// Binds the socket at `path`, replacing a stale socket file as qemu-pr-helper does.
fn bind(path: &Path) -> Result<StdUnixListener, StartError> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if meta.file_type().is_socket() {
            let _ = std::fs::remove_file(path);
        }
    }
    StdUnixListener::bind(path).map_err(|e| fail(format!("{}: {e}", path.display())))
}

/// Runs the daemon with `o` until a termination signal; returns once it has shut down.
pub fn run(o: Options) -> Result<(), StartError> {
    let activated = sys::systemd_listener().map_err(fail)?;
    init_logging(&o)?;
    let uid = o.user.as_deref().map(lookup_user).transpose()?;
    let gid = o.group.as_deref().map(lookup_group).transpose()?;
    let (listener, created) = match activated {
        Some(_) if o.socket_given => {
            return Err(fail(
                "Unix socket can't be set when using socket activation",
            ));
        }
        Some(fd) => (StdUnixListener::from(fd), false),
        None => (bind(&o.socket)?, true),
    };
    let control = match &o.control {
        Some(path) => {
            Some(crate::control::bind(path).map_err(|e| fail(format!("{}: {e}", path.display())))?)
        }
        None => None,
    };
    if o.daemon {
        sys::daemonize().map_err(|e| fail(format!("Failed to daemonize: {e}")))?;
    }
    if o.daemon || o.pidfile_given {
        std::fs::write(&o.pidfile, format!("{}\n", std::process::id()))
            .map_err(|e| fail(format!("{}: {e}", o.pidfile.display())))?;
    }
    let mut keep = vec![sys::CAP_SYS_RAWIO];
    if !o.map_as_device {
        keep.push(sys::CAP_SYS_ADMIN);
    }
    if nix::unistd::geteuid().is_root() || uid.is_some() || gid.is_some() {
        sys::drop_privileges(&keep, uid, gid)
            .map_err(|e| fail(format!("Failed to drop privileges: {e}")))?;
    }
    if let Ok(caps) = sys::effective_caps() {
        tracing::info!(target: "pr_helper::daemon", "effective capabilities {caps:#x}");
    }
    // One runtime thread: it accepts connections, serves the control socket and runs the
    // commands of maps; each connection has a thread of its own for its requests (see
    // `server`), so more runtime workers would only add hand-offs between them.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .thread_name("pr-helper")
        .enable_all()
        .build()
        .map_err(fail)?;
    let mut device = DeviceOptions {
        command_timeout: o.timeout,
        ..DeviceOptions::default()
    };
    device.open.map_as_device = o.map_as_device;
    let mut server = Server::new(Arc::new(DeviceLuns::new(device)));
    if o.track {
        server = server.with_tracking();
    }
    let result = runtime.block_on(async {
        listener.set_nonblocking(true).map_err(fail)?;
        let listener = tokio::net::UnixListener::from_std(listener).map_err(fail)?;
        let shutdown = CancellationToken::new();
        let signals = shutdown.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let kinds = [
                SignalKind::terminate(),
                SignalKind::interrupt(),
                SignalKind::hangup(),
            ];
            let mut streams = Vec::new();
            for k in kinds {
                match signal(k) {
                    Ok(s) => streams.push(s),
                    Err(e) => tracing::error!(target: "pr_helper::daemon", "signal: {e}"),
                }
            }
            let waits = streams.iter_mut().map(|s| Box::pin(s.recv()));
            futures_select_any(waits).await;
            signals.cancel();
        });
        if let Some(c) = control {
            c.set_nonblocking(true).map_err(fail)?;
            let c = tokio::net::UnixListener::from_std(c).map_err(fail)?;
            let s = server.clone();
            let token = shutdown.clone();
            tokio::spawn(async move { s.serve_control(c, token).await });
        }
        tracing::info!(target: "pr_helper::daemon", "serving {}", o.socket.display());
        server.serve(listener, shutdown).await;
        Ok::<(), StartError>(())
    });
    if created {
        let _ = std::fs::remove_file(&o.socket);
    }
    if let Some(path) = &o.control {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// Waits for the first of the futures to finish.
async fn futures_select_any<F: std::future::Future + Unpin>(futures: impl Iterator<Item = F>) {
    let mut all: Vec<F> = futures.collect();
    if all.is_empty() {
        return std::future::pending().await;
    }
    std::future::poll_fn(|cx| {
        for f in all.iter_mut() {
            if std::pin::Pin::new(f).poll(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
        }
        std::task::Poll::Pending
    })
    .await
}
