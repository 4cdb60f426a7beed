//! A client for multipathd's command socket and its persistent-reservation commands.
//!
//! Socket: `AF_LOCAL` stream; the path name `/run/multipathd.socket` first (multipath-tools
//! 0.12.0 and later), then the abstract name `@/org/kernel/linux/storage/multipathd` (the
//! only one of Debian 12's 0.9.4). `MULTIPATH_SOCKET_NAME` overrides both (a leading `@`
//! names an abstract socket). Framing, both ways: a native-endian `size_t` holding the length
//! of the string *including* its trailing NUL, then the string and the NUL.
//!
//! Commands: `setprstatus`/`unsetprstatus`/`getprstatus`, `setprkey`/`unsetprkey`/`getprkey`
//! and, from multipath-tools 0.13.0, `setprhold`/`unsetprhold`/`getprhold`. A multipathd
//! without the prhold commands answers them `fail` (it does not know the keyword); the
//! client detects this ([`Multipathd::capabilities`]) and degrades: prhold updates are
//! skipped and the safety check falls back to the LUN's own record of what it reserved.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use pr_core::types::ReservationKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// The path-name socket (0.12.0+).
pub const PATHNAME_SOCKET: &str = "/run/multipathd.socket";
/// The abstract socket, with multipath-tools' `@` notation for the leading NUL.
pub const ABSTRACT_SOCKET: &str = "@/org/kernel/linux/storage/multipathd";
/// The environment variable that overrides the socket name.
pub const SOCKET_ENV: &str = "MULTIPATH_SOCKET_NAME";
/// The longest reply accepted (multipath-tools' `MAX_REPLY_LEN`).
pub const MAX_REPLY_LEN: usize = 32 * 1024 * 1024;
/// multipath-tools' default reply timeout (`uxsock_timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(4000);

/// Why a multipathd command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MultipathdError {
    /// No socket could be connected.
    #[error("cannot connect to multipathd (tried {tried}): {source}")]
    Connect {
        /// The names tried.
        tried: String,
        /// The last error.
        source: io::Error,
    },
    /// Sending or receiving failed.
    #[error("multipathd socket {op}: {source}")]
    Io {
        /// `send` or `receive`.
        op: &'static str,
        /// The error.
        source: io::Error,
    },
    /// No reply within the timeout.
    #[error("multipathd did not answer {command:?} within {timeout:?}")]
    Timeout {
        /// The command.
        command: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The reply's length field is impossible.
    #[error("multipathd reply length {0} is out of range")]
    BadLength(usize),
    /// multipathd answered something other than what the command expects.
    #[error("multipathd answered {reply:?} to {command:?}")]
    Refused {
        /// The command.
        command: String,
        /// The reply (trimmed).
        reply: String,
    },
}

/// Sends one command to multipathd and returns its reply (without the trailing NUL).
pub trait CommandChannel: Send + Sync {
    /// Sends `command`.
    fn send<'a>(&'a self, command: &'a str) -> BoxFuture<'a, Result<String, MultipathdError>>;
}

/// How many idle connections a [`SocketClient`] keeps for reuse.
pub const MAX_IDLE_CONNECTIONS: usize = 4;

/// The real socket client. Connections are kept and reused (up to
/// [`MAX_IDLE_CONNECTIONS`] idle ones, shared by every clone): multipathd serves any number
/// of commands on one connection, as `multipathd -k` relies on, so many LUNs sharing one
/// client do not connect once per command as libmpathcmd's one-shot callers do. A reused
/// connection that turns out closed (the send fails, or the reply ends before its first
/// byte) is replaced once by a fresh connection: the daemon never saw the command then.
#[derive(Clone, Debug)]
pub struct SocketClient {
    names: Vec<String>,
    timeout: Duration,
    idle: Arc<Mutex<Vec<UnixStream>>>,
}

/// How an exchange on one connection failed: `stale` when nothing of the reply arrived and
/// the send may not have reached a live daemon (a closed idle connection).
struct Failed {
    stale: bool,
    error: MultipathdError,
}

impl SocketClient {
    /// The default names (the environment override, else the path name then the abstract
    /// name) and timeout.
    pub fn new() -> Self {
        let names = match std::env::var(SOCKET_ENV) {
            Ok(n) if !n.is_empty() => vec![n],
            _ => vec![PATHNAME_SOCKET.to_owned(), ABSTRACT_SOCKET.to_owned()],
        };
        SocketClient {
            names,
            timeout: DEFAULT_TIMEOUT,
            idle: Arc::default(),
        }
    }

    /// Explicit socket names, tried in order (`@` prefix: abstract).
    pub fn with_names(names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        SocketClient {
            names: names.into_iter().map(Into::into).collect(),
            timeout: DEFAULT_TIMEOUT,
            idle: Arc::default(),
        }
    }

    /// Sets the timeout of connecting, sending and receiving each command.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The names that will be tried.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn connect_one(name: &str) -> io::Result<std::os::unix::net::UnixStream> {
        match name.strip_prefix('@') {
            Some(abs) => {
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(abs.as_bytes())?;
                std::os::unix::net::UnixStream::connect_addr(&addr)
            }
            None => std::os::unix::net::UnixStream::connect(name),
        }
    }

    async fn connect(&self) -> Result<UnixStream, MultipathdError> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no socket name");
        for name in &self.names {
            match Self::connect_one(name) {
                Ok(s) => {
                    s.set_nonblocking(true).map_err(|e| MultipathdError::Io {
                        op: "connect",
                        source: e,
                    })?;
                    return UnixStream::from_std(s).map_err(|e| MultipathdError::Io {
                        op: "connect",
                        source: e,
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(MultipathdError::Connect {
            tried: self.names.join(", "),
            source: last,
        })
    }

    fn take_idle(&self) -> Option<UnixStream> {
        self.idle.lock().ok().and_then(|mut v| v.pop())
    }

    fn put_idle(&self, s: UnixStream) {
        if let Ok(mut v) = self.idle.lock()
            && v.len() < MAX_IDLE_CONNECTIONS
        {
            v.push(s);
        }
    }

    /// How many idle connections are kept now.
    pub fn idle_connections(&self) -> usize {
        self.idle.lock().map_or(0, |v| v.len())
    }

    async fn exchange(&self, command: &str) -> Result<String, MultipathdError> {
        if let Some(s) = self.take_idle() {
            match Self::exchange_on(s, command).await {
                Ok((reply, s)) => {
                    self.put_idle(s);
                    return Ok(reply);
                }
                Err(f) if f.stale => {}
                Err(f) => return Err(f.error),
            }
        }
        let s = self.connect().await?;
        match Self::exchange_on(s, command).await {
            Ok((reply, s)) => {
                self.put_idle(s);
                Ok(reply)
            }
            Err(f) => Err(f.error),
        }
    }

    async fn exchange_on(mut s: UnixStream, command: &str) -> Result<(String, UnixStream), Failed> {
        let io = |op, stale, source| Failed {
            stale,
            error: MultipathdError::Io { op, source },
        };
        s.write_all(&encode_frame(command))
            .await
            .map_err(|e| io("send", true, e))?;
        let mut len = [0u8; size_of::<usize>()];
        let mut got = 0;
        while got < len.len() {
            let rest = len.get_mut(got..).unwrap_or_default();
            match s.read(rest).await {
                Ok(0) => {
                    return Err(io(
                        "receive",
                        got == 0,
                        io::Error::from(io::ErrorKind::UnexpectedEof),
                    ));
                }
                Ok(n) => got += n,
                Err(e) => return Err(io("receive", got == 0, e)),
            }
        }
        let len = usize::from_ne_bytes(len);
        if len == 0 || len >= MAX_REPLY_LEN {
            return Err(Failed {
                stale: false,
                error: MultipathdError::BadLength(len),
            });
        }
        let mut body = vec![0u8; len];
        s.read_exact(&mut body)
            .await
            .map_err(|e| io("receive", false, e))?;
        Ok((decode_body(&body), s))
    }
}

impl Default for SocketClient {
    fn default() -> Self {
        Self::new()
    }
}

/// A command framed for the socket: native-endian length (string + NUL), string, NUL.
pub fn encode_frame(command: &str) -> Vec<u8> {
    let len = command.len() + 1;
    let mut out = Vec::with_capacity(size_of::<usize>() + len);
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(command.as_bytes());
    out.push(0);
    out
}

/// A reply body (after the length) as text: up to the first NUL.
pub fn decode_body(body: &[u8]) -> String {
    let end = body.iter().position(|&b| b == 0).unwrap_or(body.len());
    String::from_utf8_lossy(body.get(..end).unwrap_or(&[])).into_owned()
}

impl CommandChannel for SocketClient {
    fn send<'a>(&'a self, command: &'a str) -> BoxFuture<'a, Result<String, MultipathdError>> {
        Box::pin(async move {
            tokio::time::timeout(self.timeout, self.exchange(command))
                .await
                .map_err(|_| MultipathdError::Timeout {
                    command: command.to_owned(),
                    timeout: self.timeout,
                })?
        })
    }
}

/// multipathd's answer to `getprstatus`/`getprhold`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrFlag {
    /// `set`.
    Set,
    /// `unset`.
    Unset,
    /// `unknown`, or an answer that is neither (map unknown, command unsupported).
    Unknown,
}

/// What the running multipathd supports, as detected from its replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// `getprstatus` answered `set`/`unset` (0.9.4: `1`/`0`) for the probed map.
    pub prstatus: bool,
    /// The prhold commands exist (0.13.0 and later; Debian 12's 0.9.4 has none).
    pub prhold: bool,
    /// `setprstatus ... pathlist` is understood (comes with prhold, 0.13.0).
    pub pathlist: bool,
}

/// A configured key as multipathd reports it (`getprkey`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DaemonKey {
    /// The key.
    pub key: ReservationKey,
    /// `:aptpl` was given.
    pub aptpl: bool,
}

/// Typed multipathd PR commands over a [`CommandChannel`], with capability detection.
#[derive(Clone)]
pub struct Multipathd {
    chan: Arc<dyn CommandChannel>,
    caps: Arc<Mutex<Option<Capabilities>>>,
    probing: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Multipathd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Multipathd")
            .field("caps", &self.caps.lock().ok().and_then(|c| *c))
            .finish_non_exhaustive()
    }
}

fn trimmed(reply: &str) -> &str {
    reply.trim_end_matches(['\n', '\0', ' '])
}

impl Multipathd {
    /// Over any channel (a fake in tests).
    pub fn new(chan: Arc<dyn CommandChannel>) -> Self {
        Multipathd {
            chan,
            caps: Arc::new(Mutex::new(None)),
            probing: Arc::default(),
        }
    }

    /// Over the real socket with default names and timeout.
    pub fn socket() -> Self {
        Self::new(Arc::new(SocketClient::new()))
    }

    /// Sends a raw command.
    pub async fn raw(&self, command: &str) -> Result<String, MultipathdError> {
        self.chan.send(command).await
    }

    async fn expect_ok(&self, command: String) -> Result<(), MultipathdError> {
        let reply = self.raw(&command).await?;
        if trimmed(&reply) == "ok" {
            Ok(())
        } else {
            Err(MultipathdError::Refused {
                command,
                reply: trimmed(&reply).to_owned(),
            })
        }
    }

    async fn get_flag(&self, cmd: &str, map: &str) -> Result<PrFlag, MultipathdError> {
        let reply = self.raw(&format!("{cmd} map {map}")).await?;
        // 0.13+ answers `set`/`unset`/`unknown`; 0.9.4 (Debian 12) prints the map's prflag
        // as a number, `1` or `0` (seen in the lab).
        Ok(match trimmed(&reply) {
            "set" | "1" => PrFlag::Set,
            "unset" | "0" => PrFlag::Unset,
            _ => PrFlag::Unknown,
        })
    }

    /// Probes what multipathd supports, using `map` (a map it manages). `getprstatus`
    /// answering `set`/`unset` proves the map is known; `getprhold` then answering anything
    /// else (0.9.4 says `fail`: unknown keyword) means the prhold commands are missing.
    /// The result is cached and shared by every clone (one `Multipathd` shared by many LUNs
    /// probes once); concurrent probes wait for the one in progress;
    /// [`capabilities`](Self::capabilities) returns it.
    pub async fn probe(&self, map: &str) -> Result<Capabilities, MultipathdError> {
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        let _one_at_a_time = self.probing.lock().await;
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        let status = self.get_flag("getprstatus", map).await?;
        let prstatus = status != PrFlag::Unknown;
        let hold = self.get_flag("getprhold", map).await?;
        let prhold = hold != PrFlag::Unknown;
        let caps = Capabilities {
            prstatus,
            prhold,
            pathlist: prhold,
        };
        // Only a conclusive probe is cached: an unknown map proves nothing.
        if prstatus && let Ok(mut c) = self.caps.lock() {
            *c = Some(caps);
        }
        Ok(caps)
    }

    fn cached(&self) -> Option<Capabilities> {
        self.caps.lock().ok().and_then(|c| *c)
    }

    /// The capabilities found by the last conclusive [`probe`](Self::probe).
    pub fn capabilities(&self) -> Option<Capabilities> {
        self.cached()
    }

    /// `setprstatus map <map>` with, where supported, `pathlist "<first> <maj:min> ..."`
    /// (the first path by name, the others by device number, as libmpathpersist sends it).
    /// Falls back to the form without a path list when multipathd refuses it.
    pub async fn set_prstatus(
        &self,
        map: &str,
        pathlist: &[String],
    ) -> Result<(), MultipathdError> {
        let caps = self.probe(map).await.unwrap_or_default();
        if caps.pathlist && !pathlist.is_empty() {
            let cmd = format!("setprstatus map {map} pathlist \"{}\"", pathlist.join(" "));
            if self.expect_ok(cmd).await.is_ok() {
                return Ok(());
            }
        }
        self.expect_ok(format!("setprstatus map {map}")).await
    }

    /// `unsetprstatus map <map>` (also clears prhold).
    pub async fn unset_prstatus(&self, map: &str) -> Result<(), MultipathdError> {
        self.expect_ok(format!("unsetprstatus map {map}")).await
    }

    /// `getprstatus map <map>`.
    pub async fn get_prstatus(&self, map: &str) -> Result<PrFlag, MultipathdError> {
        self.get_flag("getprstatus", map).await
    }

    /// `setprkey map <map> key <hex>[:aptpl]` (for `reservation_key file`).
    pub async fn set_prkey(
        &self,
        map: &str,
        key: ReservationKey,
        aptpl: bool,
    ) -> Result<(), MultipathdError> {
        let flag = if aptpl { ":aptpl" } else { "" };
        self.expect_ok(format!("setprkey map {map} key {:x}{flag}", key.0))
            .await
    }

    /// `unsetprkey map <map>`.
    pub async fn unset_prkey(&self, map: &str) -> Result<(), MultipathdError> {
        self.expect_ok(format!("unsetprkey map {map}")).await
    }

    /// `getprkey map <map>`: `None` for `none`.
    pub async fn get_prkey(&self, map: &str) -> Result<Option<DaemonKey>, MultipathdError> {
        let command = format!("getprkey map {map}");
        let reply = self.raw(&command).await?;
        let t = trimmed(&reply);
        if t == "none" {
            return Ok(None);
        }
        let (hex, aptpl) = match t.strip_suffix(":aptpl") {
            Some(h) => (h, true),
            None => (t, false),
        };
        crate::config::parse_key(hex)
            .map(|key| Some(DaemonKey { key, aptpl }))
            .ok_or(MultipathdError::Refused {
                command,
                reply: t.to_owned(),
            })
    }

    /// `setprhold map <map>`; `Ok(false)` (nothing sent) when multipathd has no prhold.
    pub async fn set_prhold(&self, map: &str) -> Result<bool, MultipathdError> {
        self.hold_cmd("setprhold", map).await
    }

    /// `unsetprhold map <map>`; `Ok(false)` when multipathd has no prhold.
    pub async fn unset_prhold(&self, map: &str) -> Result<bool, MultipathdError> {
        self.hold_cmd("unsetprhold", map).await
    }

    async fn hold_cmd(&self, cmd: &str, map: &str) -> Result<bool, MultipathdError> {
        if !self.probe(map).await?.prhold {
            return Ok(false);
        }
        self.expect_ok(format!("{cmd} map {map}"))
            .await
            .map(|()| true)
    }

    /// `getprhold map <map>`; `None` when multipathd has no prhold.
    pub async fn get_prhold(&self, map: &str) -> Result<Option<PrFlag>, MultipathdError> {
        if !self.probe(map).await?.prhold {
            return Ok(None);
        }
        self.get_flag("getprhold", map).await.map(Some)
    }
}
