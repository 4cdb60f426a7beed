//! Sending one command on one path: request building from pr-core, bounded retries of
//! unit attentions, waiting for a logical unit that is becoming ready, and backoff on BUSY.
//!
//! Every command is logged through [`tracing`] (target `pr_multipath::exec`): one event
//! when it ends, at debug level when it succeeded and at warn level when it failed for
//! good, with the fields `path` (the transport's name), `action` (from the CDB, e.g.
//! `PR OUT REGISTER`), `outcome` (`ok` or the error), `duration` (retries and their waits
//! included) and `retries`; one trace-level event per retry with its reason. The library
//! installs no subscriber.

use std::fmt;
use std::time::{Duration, Instant};

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

/// The command a CDB carries, for logs: `PR IN READ KEYS`, `PR OUT REGISTER`, or the
/// operation code of anything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CdbAction {
    opcode: u8,
    service_action: u8,
}

impl CdbAction {
    /// The command of `cdb`.
    pub(crate) fn of(cdb: &[u8]) -> Self {
        CdbAction {
            opcode: cdb.first().copied().unwrap_or(0),
            service_action: cdb.get(1).map_or(0, |b| b & 0x1f),
        }
    }
}

impl fmt::Display for CdbAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sa = self.service_action;
        match self.opcode {
            0x5e => match PrInAction::from_code(sa) {
                Some(a) => write!(f, "PR IN {}", a.name()),
                None => write!(f, "PR IN service action {sa:#04x}"),
            },
            0x5f => match PrOutAction::from_code(sa) {
                Some(a) => write!(f, "PR OUT {}", a.name()),
                None => write!(f, "PR OUT service action {sa:#04x}"),
            },
            op => write!(f, "opcode {op:#04x}"),
        }
    }
}

/// Sends the request built by `build` until it succeeds, fails for good, or the retries of
/// `policy` run out. Returns the number of attempts and the outcome. Logs the command (see
/// the module documentation).
pub(crate) async fn execute<T: Transport + ?Sized>(
    t: &T,
    build: impl Fn() -> Request,
    policy: &RetryPolicy,
) -> (u32, Result<Response, Failure>) {
    let started = Instant::now();
    let path = t.name();
    let mut attempts = 0u32;
    let mut ua_left = policy.unit_attention_retries;
    let mut busy_left = policy.busy_retries;
    let mut waited = Duration::ZERO;
    let mut backoff = policy.backoff_start;
    let result = loop {
        attempts = attempts.saturating_add(1);
        let request = build().with_timeout(policy.command_timeout);
        let action = CdbAction::of(request.cdb.as_bytes());
        let response = match t.execute(request).await {
            Ok(r) => r,
            Err(e) => break (action, Err(Failure::Transport(e))),
        };
        let err = match response.completion.check() {
            Ok(()) => break (action, Ok(response)),
            Err(e) => e,
        };
        if err.is_unit_attention() && ua_left > 0 {
            ua_left -= 1;
            tracing::trace!(path, %action, attempt = attempts, reason = %err, "retrying command at once");
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
            break (action, Err(Failure::Command(err)));
        }
        tracing::trace!(path, %action, attempt = attempts, reason = %err, ?backoff, "retrying command after a backoff");
        tokio::time::sleep(backoff).await;
        waited = waited.saturating_add(backoff);
        backoff = (backoff * 2).min(policy.backoff_max);
    };
    let (action, result) = result;
    let duration = started.elapsed();
    let retries = attempts.saturating_sub(1);
    match &result {
        Ok(_) => tracing::debug!(path, %action, outcome = "ok", ?duration, retries, "command"),
        // A failed command is often expected (a conflict that decides "already fenced", a
        // failed path that the LUN fails over from): the LUN operation's own event says
        // how the operation ended, and the caller gets the error. Debug, like success.
        Err(failure) => {
            tracing::debug!(path, %action, outcome = %failure, ?duration, retries, "command failed");
        }
    }
    (attempts, result)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_named_from_the_cdb() {
        let name = |cdb: &[u8]| CdbAction::of(cdb).to_string();
        assert_eq!(
            name(&[0x5e, 0x00, 0, 0, 0, 0, 0, 0x20, 0, 0]),
            "PR IN READ KEYS"
        );
        assert_eq!(name(&[0x5e, 0x03]), "PR IN READ FULL STATUS");
        assert_eq!(name(&[0x5f, 0x00]), "PR OUT REGISTER");
        assert_eq!(name(&[0x5f, 0xe5]), "PR OUT PREEMPT AND ABORT");
        assert_eq!(
            name(&[0x5f, 0x06]),
            "PR OUT REGISTER AND IGNORE EXISTING KEY"
        );
        assert_eq!(name(&[0x5f, 0x1f]), "PR OUT service action 0x1f");
        assert_eq!(name(&[0x5e, 0x09]), "PR IN service action 0x09");
        assert_eq!(name(&[0x12, 0x00]), "opcode 0x12");
        assert_eq!(name(&[]), "opcode 0x00");
    }

    #[test]
    fn encoded_requests_name_themselves() {
        let req = encode_in(PrInAction::ReadReservation, 8192);
        assert_eq!(
            CdbAction::of(req.cdb.as_bytes()).to_string(),
            "PR IN READ RESERVATION"
        );
        let cmd = OutCommand::new(
            PrOutAction::Release,
            pr_core::types::ReservationKey(1),
            pr_core::types::ReservationKey(0),
        )
        .typed(ReservationType::WriteExclusive);
        let req = encode_out(&prout_of(&cmd)).unwrap();
        assert_eq!(
            CdbAction::of(req.cdb.as_bytes()).to_string(),
            "PR OUT RELEASE"
        );
    }
}
