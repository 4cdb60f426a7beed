//! Sending one command on one path: request building from pr-core, bounded retries of
//! unit attentions, waiting for a logical unit that is becoming ready, and backoff on BUSY.

use std::time::Duration;

use pr_core::cdb::PrInCdb;
use pr_core::outcome::CommandError;
use pr_core::prout::PrOut;
use pr_core::transport::{Cdb, Request, Response, Transport};
use pr_core::types::{PrInAction, PrOutAction, PrOutFlags, ReservationType};

use crate::error::Failure;
use crate::report::OutCommand;

/// How one command is retried on one path before its failure is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// UNIT ATTENTION: re-sent at once, at most this many times (libmpathpersist: 5).
    pub unit_attention_retries: u32,
    /// NOT READY, "becoming ready" (04h/01h), "operation in progress" (04h/07h) or
    /// "asymmetric access state transition" (04h/0Ah): re-sent with backoff while the total
    /// wait stays below this.
    pub not_ready_wait: Duration,
    /// BUSY, TASK SET FULL, TASK ABORTED and ABORTED COMMAND (other than path failures):
    /// re-sent with backoff at most this many times.
    pub busy_retries: u32,
    /// First backoff delay; doubles up to [`backoff_max`](Self::backoff_max).
    pub backoff_start: Duration,
    /// Longest backoff delay.
    pub backoff_max: Duration,
    /// Timeout of each command.
    pub command_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            unit_attention_retries: 5,
            not_ready_wait: Duration::from_secs(10),
            busy_retries: 5,
            backoff_start: Duration::from_millis(10),
            backoff_max: Duration::from_secs(1),
            command_timeout: Duration::from_secs(30),
        }
    }
}

fn becoming_ready(e: &CommandError) -> bool {
    matches!(
        e,
        CommandError::NotReady {
            asc: 0x04,
            ascq: 0x01 | 0x07 | 0x0a,
            ..
        }
    )
}

fn busy_like(e: &CommandError) -> bool {
    match e {
        CommandError::Busy | CommandError::TaskSetFull | CommandError::TaskAborted => true,
        CommandError::AbortedCommand { .. } => !e.is_path_failure(),
        _ => false,
    }
}

/// Sends the request built by `build` until it succeeds, fails for good, or the retries of
/// `policy` run out. Returns the number of attempts and the outcome.
pub(crate) async fn execute<T: Transport + ?Sized>(
    t: &T,
    build: impl Fn() -> Request,
    policy: &RetryPolicy,
) -> (u32, Result<Response, Failure>) {
    let mut attempts = 0u32;
    let mut ua_left = policy.unit_attention_retries;
    let mut busy_left = policy.busy_retries;
    let mut waited = Duration::ZERO;
    let mut backoff = policy.backoff_start;
    loop {
        attempts = attempts.saturating_add(1);
        let response = match t
            .execute(build().with_timeout(policy.command_timeout))
            .await
        {
            Ok(r) => r,
            Err(e) => return (attempts, Err(Failure::Transport(e))),
        };
        let err = match response.completion.check() {
            Ok(()) => return (attempts, Ok(response)),
            Err(e) => e,
        };
        if err.is_unit_attention() && ua_left > 0 {
            ua_left -= 1;
            continue;
        }
        let wait = if becoming_ready(&err) && waited < policy.not_ready_wait {
            true
        } else if busy_like(&err) && busy_left > 0 {
            busy_left -= 1;
            true
        } else {
            false
        };
        if !wait {
            return (attempts, Err(Failure::Command(err)));
        }
        tokio::time::sleep(backoff).await;
        waited = waited.saturating_add(backoff);
        backoff = (backoff * 2).min(policy.backoff_max);
    }
}

/// The pr-core request for a PR OUT command (REGISTER AND MOVE is built elsewhere: it
/// carries a TransportID).
pub(crate) fn prout_of(cmd: &OutCommand) -> PrOut<'static> {
    let ty = cmd
        .reservation_type
        .unwrap_or(ReservationType::WriteExclusive);
    let mut p = match cmd.action {
        PrOutAction::Register => PrOut::register(cmd.key, cmd.sa_key),
        PrOutAction::RegisterAndIgnoreExistingKey => {
            let mut p = PrOut::register_ignore(cmd.sa_key);
            p.key = cmd.key;
            p
        }
        PrOutAction::Reserve => PrOut::reserve(cmd.key, ty),
        PrOutAction::Release => PrOut::release(cmd.key, ty),
        PrOutAction::Clear => PrOut::clear(cmd.key),
        PrOutAction::Preempt => PrOut::preempt(cmd.key, cmd.sa_key, ty),
        PrOutAction::PreemptAndAbort => PrOut::preempt_and_abort(cmd.key, cmd.sa_key, ty),
        PrOutAction::ReplaceLostReservation => PrOut::replace_lost_reservation(cmd.sa_key, ty),
        // Not reachable through the public API; encoding fails cleanly (no TransportID).
        PrOutAction::RegisterAndMove => {
            let mut p = PrOut::reserve(cmd.key, ty);
            p.action = PrOutAction::RegisterAndMove;
            p
        }
    };
    if cmd.flags.contains(PrOutFlags::APTPL) {
        p = p.with_aptpl();
    }
    if cmd.flags.contains(PrOutFlags::ALL_TG_PT) {
        p = p.with_all_tg_pt();
    }
    p
}

/// Encodes a PR OUT request into a transport request.
pub(crate) fn encode_out(p: &PrOut<'_>) -> Result<Request, pr_core::BuildError> {
    let mut cdb = [0u8; 10];
    p.encode_cdb(&mut cdb)?;
    let mut params = vec![0u8; p.param_len()?];
    let n = p.encode_params(&mut params)?;
    params.truncate(n);
    Ok(Request::data_out(Cdb::from(cdb), params))
}

/// A PR IN request.
pub(crate) fn encode_in(action: PrInAction, alloc_len: u16) -> Request {
    let cdb = PrInCdb::new(action, alloc_len).to_bytes();
    Request::data_in(Cdb::from(cdb), usize::from(alloc_len))
}
