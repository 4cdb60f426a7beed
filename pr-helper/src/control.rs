//! The control interface of the migration tracker (`--control PATH`): a Unix socket
//! (mode 0600) that a libvirt hook, KubeVirt or an operator uses to move a guest's
//! reservation between hosts when the VMM cannot (QEMU before 11, other VMMs). One JSON
//! request per line, one JSON answer per line:
//!
//! | request | answer |
//! | --- | --- |
//! | `{"op":"export"}` | `{"ok":true,"entries":[{"lun","client","state":{"key":"0x..","reservation_type":N}}]}` |
//! | `{"op":"import","entries":[...]}` | `{"ok":true}`: the entries replace those of the same LUN and client |
//! | `{"op":"forget","lun":"..","client":".."}` | `{"ok":true,"state":...}` (`null` when unknown) |
//! | `{"op":"handover","device":"/dev/..","state":{...}}` | `{"ok":bool,"steps":[{"status":N,"sense":"hex"}],"error":..}` |
//! | `{"op":"failback","device":"/dev/..","state":{...}}` | as `handover` |
//!
//! `handover` runs [`tracker::handover`] on the destination (REGISTER, self-PREEMPT,
//! REGISTER AND IGNORE) on the LUN behind `device` (opened read-write and resolved like a
//! client's descriptor); `failback` runs [`tracker::failback`] on the source when the
//! migration fails. Each command is sent again after a unit attention (at most 3 times);
//! the sequence stops at the first command that does not complete GOOD (`ok` false).
//! Anything else is answered `{"ok":false,"error":"..."}`.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use crate::server::Server;
use crate::tracker::{self, Entry, GuestState};

/// A control request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The tracker's state.
    Export,
    /// Sets entries.
    Import {
        /// The entries.
        entries: Vec<Entry>,
    },
    /// Forgets one LUN and client.
    Forget {
        /// The LUN.
        lun: String,
        /// The client.
        client: String,
    },
    /// The destination takes the guest's registration and reservation.
    Handover {
        /// The LUN's device on this host (a path device or a map).
        device: String,
        /// The guest's state, from the source's export.
        state: GuestState,
    },
    /// The source takes them back after a failed migration.
    Failback {
        /// The LUN's device on this host.
        device: String,
        /// The guest's state.
        state: GuestState,
    },
}

/// The answer of one command of a hand-over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    /// SCSI status.
    pub status: u8,
    /// Sense bytes as lower-case hex (empty: none).
    pub sense: String,
}

/// A control answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// Whether the request did what it asked.
    pub ok: bool,
    /// `export`: the entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<Entry>>,
    /// `forget`: what was known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<GuestState>,
    /// `handover`, `failback`: each command sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepResult>>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn failed(error: impl Into<String>) -> Response {
    Response {
        ok: false,
        error: Some(error.into()),
        ..Response::default()
    }
}

fn is_unit_attention(r: &pr_multipath::RawReply) -> bool {
    let key = match r.sense.first().map(|b| b & 0x7f) {
        Some(0x70 | 0x71) => r.sense.get(2),
        Some(0x72 | 0x73) => r.sense.get(1),
        _ => None,
    };
    r.status == 0x02 && key.map(|k| k & 0x0f) == Some(6)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Server {
    /// Answers one control request (see the module documentation).
    pub async fn control(&self, request: Request) -> Response {
        let Some(t) = self.tracker_handle() else {
            return failed("tracking is off (start pr-helper with --track)");
        };
        match request {
            Request::Export => Response {
                ok: true,
                entries: Some(t.lock().unwrap_or_else(|p| p.into_inner()).entries()),
                ..Response::default()
            },
            Request::Import { entries } => {
                let mut t = t.lock().unwrap_or_else(|p| p.into_inner());
                for e in entries {
                    t.set(&e.lun, &e.client, e.state);
                }
                Response {
                    ok: true,
                    ..Response::default()
                }
            }
            Request::Forget { lun, client } => Response {
                ok: true,
                state: t
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&lun, &client),
                ..Response::default()
            },
            Request::Handover { device, state } => {
                self.run_sequence(&device, tracker::handover(state)).await
            }
            Request::Failback { device, state } => {
                self.run_sequence(&device, tracker::failback(state)).await
            }
        }
    }

    async fn run_sequence(&self, device: &str, commands: Vec<tracker::OutCommand>) -> Response {
        let path = device.to_owned();
        let luns = self.lun_source();
        let found = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::options()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| format!("{path}: {e}"))?;
            luns.lun_for(std::os::fd::AsFd::as_fd(&file))
                .map_err(|e| format!("{path}: {e}"))
        })
        .await;
        let lun = match found {
            Ok(Ok(lun)) => lun,
            Ok(Err(e)) => return failed(e),
            Err(e) => return failed(e.to_string()),
        };
        let mut steps = Vec::new();
        for c in commands {
            let mut attempt = 0;
            let reply = loop {
                attempt += 1;
                match lun.pass_through(&c.cdb, &c.params).await {
                    Ok(r) if is_unit_attention(&r) && attempt < 4 => continue,
                    Ok(r) => break r,
                    Err(e) => {
                        return Response {
                            ok: false,
                            steps: Some(steps),
                            error: Some(e.to_string()),
                            ..Response::default()
                        };
                    }
                }
            };
            let good = reply.status == 0;
            steps.push(StepResult {
                status: reply.status,
                sense: hex(&reply.sense),
            });
            if !good {
                return Response {
                    ok: false,
                    steps: Some(steps),
                    error: Some("a command did not complete GOOD".into()),
                    ..Response::default()
                };
            }
        }
        Response {
            ok: true,
            steps: Some(steps),
            ..Response::default()
        }
    }

    /// Serves control connections on `listener` until `shutdown` is cancelled.
    pub async fn serve_control(&self, listener: UnixListener, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let server = self.clone();
                        let token = shutdown.clone();
                        tokio::spawn(async move { server.control_connection(stream, token).await });
                    }
                    Err(e) => {
                        tracing::warn!(target: "pr_helper::control", "accept: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                },
            }
        }
    }

    async fn control_connection(&self, stream: UnixStream, shutdown: CancellationToken) {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read.take(1 << 20)).lines();
        loop {
            let line = tokio::select! {
                _ = shutdown.cancelled() => return,
                l = lines.next_line() => match l {
                    Ok(Some(l)) => l,
                    _ => return,
                },
            };
            let response = match serde_json::from_str::<Request>(&line) {
                Ok(r) => self.control(r).await,
                Err(e) => failed(format!("bad request: {e}")),
            };
            let mut out = serde_json::to_string(&response)
                .unwrap_or_else(|_| r#"{"ok":false,"error":"unserialisable answer"}"#.into());
            out.push('\n');
            if write.write_all(out.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

/// A control socket's path made private (mode 0600), as the daemon binds it.
pub fn bind(path: &std::path::Path) -> std::io::Result<std::os::unix::net::UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
    let l = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Sends one request to the control socket at `path` and reads the answer (blocking).
pub fn request(path: &std::path::Path, request: &Request) -> std::io::Result<Response> {
    use std::io::{BufRead, Write};
    let mut s = std::os::unix::net::UnixStream::connect(path)?;
    let mut line = serde_json::to_string(request).map_err(std::io::Error::other)?;
    line.push('\n');
    s.write_all(line.as_bytes())?;
    let mut answer = String::new();
    std::io::BufReader::new(s).read_line(&mut answer)?;
    serde_json::from_str(&answer).map_err(std::io::Error::other)
}
