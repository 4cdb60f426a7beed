//! Operations across many LUNs: "unfence" (register a key on every path of every LUN, as
//! fence_scsi/fence_mpath "on") and "fence" (PREEMPT AND ABORT, or PREEMPT, of a victim
//! key), with bounded concurrency across LUNs, a result per LUN, cancellation and a
//! progress stream. Both are idempotent: a retried fence reports the LUNs where the
//! victim's key is already gone as [`LunOutcome::AlreadyFenced`], and a retried unfence
//! succeeds again.

use futures_util::future::{BoxFuture, FutureExt};
use futures_util::stream::{self, StreamExt};
use pr_core::transport::Transport;
use pr_core::types::{PrOutAction, ReservationKey, ReservationType};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::lun::{MultipathLun, RegisterRequest};
use crate::report::Report;

/// The PR OUT action [`fence`] sends.
///
/// With the `serde` feature: `"preempt_and_abort"` or `"preempt"` (serialized and
/// deserialized).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum FenceAction {
    /// PREEMPT AND ABORT (fence_scsi's and fence_mpath's choice): the device server also
    /// aborts the victim's commands in flight.
    #[default]
    PreemptAndAbort,
    /// PREEMPT: the victim's registrations are removed, its commands in flight are not
    /// aborted. For targets where PREEMPT AND ABORT is a problem (LIO over tcm_loop can
    /// deadlock on it).
    Preempt,
}

impl FenceAction {
    /// The service action.
    pub fn action(self) -> PrOutAction {
        match self {
            FenceAction::PreemptAndAbort => PrOutAction::PreemptAndAbort,
            FenceAction::Preempt => PrOutAction::Preempt,
        }
    }
}

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
    /// What [`fence`] sends (default PREEMPT AND ABORT).
    pub fence_action: FenceAction,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            concurrency: 32,
            cancel: CancellationToken::new(),
            progress: None,
            fence_action: FenceAction::default(),
        }
    }
}

/// How one LUN ended, for progress displays.
///
/// With the `serde` feature: `"ok"`, `"already_fenced"`, `"cancelled"`, or
/// `{"failed": "message"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum LunOutcome {
    /// The operation succeeded.
    Ok,
    /// [`fence`] only: the victim's key was already gone from the LUN (a fence that is
    /// retried), while this node's key is registered. Nothing was changed; this counts as
    /// success.
    AlreadyFenced,
    /// It failed (the message of the error).
    Failed(String),
    /// It was not started because of cancellation.
    Cancelled,
}

/// One finished LUN.
///
/// With the `serde` feature: `{"done": 1, "total": 3, "lun": "mpatha", "outcome": "ok"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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
///
/// With the `serde` feature: `{"lun", "outcome", "already_fenced", "report", "error"}`:
/// the [`LunOutcome`], and the [`Report`] when it succeeded or the [`Error`] (with its
/// report) when it failed, the other `null`.
#[derive(Debug)]
pub struct LunResult {
    /// The LUN.
    pub lun: String,
    /// Its report, or the error (with its report).
    pub result: Result<Report>,
    /// [`fence`] only: the LUN was already fenced (see [`LunOutcome::AlreadyFenced`]);
    /// `result` is `Ok` with the report of the PREEMPT that conflicted and the READ KEYS
    /// that showed the victim's key gone.
    pub already_fenced: bool,
}

impl LunResult {
    /// Whether it succeeded (already fenced included).
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// How it ended, as the progress stream reported it.
    pub fn outcome(&self) -> LunOutcome {
        outcome_of(&self.result, self.already_fenced)
    }
}

fn outcome_of(result: &Result<Report>, already_fenced: bool) -> LunOutcome {
    match result {
        Ok(_) if already_fenced => LunOutcome::AlreadyFenced,
        Ok(_) => LunOutcome::Ok,
        Err(Error::Cancelled { .. }) => LunOutcome::Cancelled,
        Err(e) => LunOutcome::Failed(e.to_string()),
    }
}

/// What the operation on one LUN returned: its result, and whether it found the LUN
/// already fenced.
type Done = (Result<Report>, bool);

async fn run_all<'a, T, F, Fut>(
    luns: &'a [&'a MultipathLun<T>],
    options: &FleetOptions,
    op: F,
) -> Vec<LunResult>
where
    T: Transport + 'a,
    F: Fn(&'a MultipathLun<T>) -> Fut,
    Fut: Future<Output = Done> + Send + 'a,
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
        .map(|i| -> BoxFuture<'a, (usize, Option<Done>)> {
            match luns.get(i) {
                // `map`, not an `async` block awaiting the future: that block's state would
                // hold the LUN's future twice (before and while awaiting it), and the whole
                // state is copied into the box.
                Some(lun) if !cancel.is_cancelled() => Box::pin(op(lun).map(move |d| (i, Some(d)))),
                _ => Box::pin(std::future::ready((i, None))),
            }
        })
        .buffer_unordered(options.concurrency.max(1));
    futures_util::pin_mut!(started);
    while let Some((i, result)) = started.next().await {
        let Some((result, already_fenced)) = result else {
            continue;
        };
        done += 1;
        let Some(lun) = luns.get(i) else { continue };
        if let Some(tx) = &options.progress {
            let _ = tx.send(Progress {
                done,
                total,
                lun: lun.name().to_owned(),
                outcome: outcome_of(&result, already_fenced),
            });
        }
        if let Some(slot) = out.get_mut(i) {
            *slot = Some(LunResult {
                lun: lun.name().to_owned(),
                result,
                already_fenced,
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
                already_fenced: false,
            });
        }
    }
    out.into_iter().flatten().collect()
}

/// Registers `key` on every usable path of every LUN with REGISTER AND IGNORE EXISTING KEY
/// (idempotent: a path that already has a key, `key` included, gets `key`). Results are in
/// the order of `luns`.
pub async fn unfence<T: Transport>(
    luns: &[&MultipathLun<T>],
    key: ReservationKey,
    options: &FleetOptions,
) -> Vec<LunResult> {
    run_all(luns, options, |lun| async move {
        (
            lun.register(RegisterRequest::register_ignore(key)).await,
            false,
        )
    })
    .await
}

/// Fences the node registered with `victim` off every LUN: PREEMPT AND ABORT (or PREEMPT,
/// [`FleetOptions::fence_action`]) of `victim` by `my_key` with type `ty` (see
/// [`MultipathLun::preempt`]). Results are in the order of `luns`.
///
/// Idempotent: when the PREEMPT gets RESERVATION CONFLICT, the LUN's keys are read. If
/// `victim` is no longer registered and `my_key` is, the LUN was already fenced (a retried
/// fence): [`LunOutcome::AlreadyFenced`], a success. If `my_key` is not registered, the
/// error is [`Error::NotRegistered`] (this node cannot fence before it is unfenced). A
/// `victim` of 0 (preempting an all-registrants reservation) is never "already fenced".
pub async fn fence<T: Transport>(
    luns: &[&MultipathLun<T>],
    my_key: ReservationKey,
    victim: ReservationKey,
    ty: ReservationType,
    options: &FleetOptions,
) -> Vec<LunResult> {
    let action = options.fence_action;
    run_all(luns, options, |lun| {
        fence_one(lun, action, my_key, victim, ty)
    })
    .await
}

async fn fence_one<T: Transport>(
    lun: &MultipathLun<T>,
    action: FenceAction,
    my_key: ReservationKey,
    victim: ReservationKey,
    ty: ReservationType,
) -> Done {
    let e = match lun.preempt_with(action.action(), my_key, victim, ty).await {
        Ok(r) => return (Ok(r), false),
        Err(e) if e.is_reservation_conflict() => e,
        Err(e) => return (Err(e), false),
    };
    let mut report = e
        .report()
        .cloned()
        .unwrap_or_else(|| Report::new(lun.name()));
    let keys = match lun.read_keys_in(&mut report).await {
        Ok(k) => k.keys,
        Err(re) => {
            report.notes.push(format!(
                "could not read the keys after the conflict to tell whether the LUN is \
                 already fenced: {re}"
            ));
            return (Err(e.with_report(&report)), false);
        }
    };
    if !keys.contains(&my_key) {
        return (
            Err(Error::NotRegistered {
                lun: lun.name().to_owned(),
                key: my_key,
                report: Box::new(report),
            }),
            false,
        );
    }
    if !victim.is_zero() && !keys.contains(&victim) {
        report.notes.push(format!(
            "the victim's key {victim} is not registered (and {my_key} is): already fenced"
        ));
        tracing::info!(lun = lun.name(), %victim, outcome = "already fenced", "fence");
        return (Ok(report), true);
    }
    (Err(e.with_report(&report)), false)
}

#[cfg(feature = "serde")]
mod serde_impl {
    use serde::ser::{Serialize, SerializeStruct, Serializer};

    use super::LunResult;

    impl Serialize for LunResult {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut st = s.serialize_struct("LunResult", 5)?;
            st.serialize_field("lun", &self.lun)?;
            st.serialize_field("outcome", &self.outcome())?;
            st.serialize_field("already_fenced", &self.already_fenced)?;
            st.serialize_field("report", &self.result.as_ref().ok())?;
            st.serialize_field("error", &self.result.as_ref().err())?;
            st.end()
        }
    }
}
