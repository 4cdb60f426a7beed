//! Operations across many LUNs: "unfence" (register a key on every path of every LUN, as
//! fence_scsi/fence_mpath "on") and "fence" (PREEMPT AND ABORT a victim key), with bounded
//! concurrency across LUNs, a result per LUN, cancellation and a progress stream.

use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};
use pr_core::transport::Transport;
use pr_core::types::{ReservationKey, ReservationType};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::lun::{MultipathLun, RegisterRequest};
use crate::report::Report;

/// How a many-LUN operation runs.
#[derive(Clone, Debug)]
pub struct FleetOptions {
    /// How many LUNs are worked on at once (each LUN fans out to its paths with its own
    /// [`LunOptions::concurrency`](crate::LunOptions::concurrency)).
    pub concurrency: usize,
    /// Cancelling it stops scheduling new LUNs; LUNs already started finish their
    /// operation (a PR operation is not abandoned half-way). Dropping the future instead
    /// stops everything at once, including commands in flight.
    pub cancel: CancellationToken,
    /// Receives one [`Progress`] per finished LUN.
    pub progress: Option<UnboundedSender<Progress>>,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            concurrency: 32,
            cancel: CancellationToken::new(),
            progress: None,
        }
    }
}

/// How one LUN ended, for progress displays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LunOutcome {
    /// The operation succeeded.
    Ok,
    /// It failed (the message of the error).
    Failed(String),
    /// It was not started because of cancellation.
    Cancelled,
}

/// One finished LUN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// LUNs finished so far, this one included.
    pub done: usize,
    /// LUNs in the operation.
    pub total: usize,
    /// The LUN.
    pub lun: String,
    /// How it ended.
    pub outcome: LunOutcome,
}

/// The result for one LUN.
#[derive(Debug)]
pub struct LunResult {
    /// The LUN.
    pub lun: String,
    /// Its report, or the error (with its report).
    pub result: Result<Report>,
}

impl LunResult {
    /// Whether it succeeded.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }
}

async fn run_all<'a, T, F, Fut>(
    luns: &'a [&'a MultipathLun<T>],
    options: &FleetOptions,
    op: F,
) -> Vec<LunResult>
where
    T: Transport + 'a,
    F: Fn(&'a MultipathLun<T>) -> Fut,
    Fut: Future<Output = Result<Report>> + Send + 'a,
{
    let total = luns.len();
    let cancel = options.cancel.clone();
    let mut done = 0usize;
    let mut out: Vec<Option<LunResult>> = (0..total).map(|_| None).collect();
    // Indices, not references, flow through the stream: its closures then take no
    // borrowed arguments, so the whole future is provably `Send` (the blocking front door
    // and the bindings spawn it).
    let op = &op;
    // A LUN not started when the token fires is left out (reported as cancelled below).
    let started = stream::iter(0..total)
        .map(|i| -> BoxFuture<'a, (usize, Option<Result<Report>>)> {
            let fut = if cancel.is_cancelled() {
                None
            } else {
                luns.get(i).map(|lun| op(lun))
            };
            Box::pin(async move {
                match fut {
                    Some(f) => (i, Some(f.await)),
                    None => (i, None),
                }
            })
        })
        .buffer_unordered(options.concurrency.max(1));
    futures_util::pin_mut!(started);
    while let Some((i, result)) = started.next().await {
        let Some(result) = result else { continue };
        done += 1;
        let Some(lun) = luns.get(i) else { continue };
        if let Some(tx) = &options.progress {
            let _ = tx.send(Progress {
                done,
                total,
                lun: lun.name().to_owned(),
                outcome: match &result {
                    Ok(_) => LunOutcome::Ok,
                    Err(e) => LunOutcome::Failed(e.to_string()),
                },
            });
        }
        if let Some(slot) = out.get_mut(i) {
            *slot = Some(LunResult {
                lun: lun.name().to_owned(),
                result,
            });
        }
    }
    for (i, slot) in out.iter_mut().enumerate() {
        if slot.is_none() {
            let name = luns
                .get(i)
                .map_or_else(String::new, |l| l.name().to_owned());
            done += 1;
            if let Some(tx) = &options.progress {
                let _ = tx.send(Progress {
                    done,
                    total,
                    lun: name.clone(),
                    outcome: LunOutcome::Cancelled,
                });
            }
            *slot = Some(LunResult {
                lun: name.clone(),
                result: Err(Error::Cancelled { lun: name }),
            });
        }
    }
    out.into_iter().flatten().collect()
}

/// Registers `key` on every usable path of every LUN with REGISTER AND IGNORE EXISTING KEY
/// (idempotent: a path that already has a key gets `key`). Results are in the order of
/// `luns`.
pub async fn unfence<T: Transport>(
    luns: &[&MultipathLun<T>],
    key: ReservationKey,
    options: &FleetOptions,
) -> Vec<LunResult> {
    run_all(luns, options, |lun| {
        lun.register(RegisterRequest::register_ignore(key))
    })
    .await
}

/// PREEMPT AND ABORT of `victim` by `my_key` with type `ty` on every LUN (see
/// [`MultipathLun::preempt`]). Results are in the order of `luns`.
pub async fn fence<T: Transport>(
    luns: &[&MultipathLun<T>],
    my_key: ReservationKey,
    victim: ReservationKey,
    ty: ReservationType,
    options: &FleetOptions,
) -> Vec<LunResult> {
    run_all(luns, options, |lun| lun.preempt(my_key, victim, ty, true)).await
}
