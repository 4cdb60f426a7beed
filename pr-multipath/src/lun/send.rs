//! Sending commands: one command on one path (marking the path failed on a path failure),
//! the bounded concurrent fan-out to many paths, and one path at a time with failover.

use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use pr_core::transport::{Request, Transport, TransportError};

use crate::error::{Error, Failure, Result};
use crate::exec;
use crate::path::{Path, PathState};
use crate::report::{Command, OutCommand, Phase, Report, Step};

use super::MultipathLun;

/// Why a command sent one path at a time succeeded nowhere.
pub(super) struct OnePathFailure {
    /// The failure to report (a conflict when failing over on conflicts, else the last
    /// path failure or the first other error).
    pub(super) decisive: Option<Failure>,
    /// Some paths were unusable or failed as paths.
    pub(super) failed_paths: bool,
    /// At least one path was tried (else: no usable path).
    pub(super) tried: bool,
}

impl<T: Transport> MultipathLun<T> {
    pub(super) async fn send(
        &self,
        idx: usize,
        phase: Phase,
        command: Command,
        request: &Request,
    ) -> Step {
        let Some(path) = self.paths.get(idx) else {
            return Step {
                path: String::new(),
                phase,
                command,
                attempts: 0,
                elapsed: Duration::ZERO,
                result: Err(Failure::Transport(TransportError::Closed)),
            };
        };
        let t0 = Instant::now();
        let (attempts, res) =
            exec::execute(path.transport(), || request.clone(), &self.options.retry).await;
        let elapsed = t0.elapsed();
        let result = res.map(drop);
        if let Err(f) = &result
            && f.is_path_failure()
            && !matches!(f, Failure::Transport(TransportError::Unsupported { .. }))
        {
            path.set_state(PathState::Failed);
        }
        Step {
            path: path.name().to_owned(),
            phase,
            command,
            attempts,
            elapsed,
            result,
        }
    }

    pub(super) async fn send_out(&self, idx: usize, phase: Phase, cmd: OutCommand) -> Step {
        match exec::encode_out(&exec::prout_of(&cmd)) {
            Ok(req) => self.send(idx, phase, Command::Out(cmd), &req).await,
            Err(e) => Step {
                path: self.path_name(idx),
                phase,
                command: Command::Out(cmd),
                attempts: 0,
                elapsed: Duration::ZERO,
                result: Err(Failure::Transport(TransportError::InvalidRequest(
                    e.to_string(),
                ))),
            },
        }
    }

    pub(super) async fn fan_out(
        &self,
        targets: &[usize],
        phase: Phase,
        cmd_of: impl Fn(usize) -> OutCommand,
    ) -> Vec<(usize, Step)> {
        let futs: Vec<_> = targets
            .iter()
            .map(|&i| {
                let cmd = cmd_of(i);
                async move { (i, self.send_out(i, phase, cmd).await) }
            })
            .collect();
        stream::iter(futs)
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await
    }

    /// One path at a time, in group order, failing over on path failures (and, with
    /// `conflict_next`, on RESERVATION CONFLICT).
    pub(super) async fn one_path(
        &self,
        phase: Phase,
        command: Command,
        request: &Request,
        conflict_next: bool,
        report: &mut Report,
    ) -> core::result::Result<usize, OnePathFailure> {
        let mut out = OnePathFailure {
            decisive: None,
            failed_paths: false,
            tried: false,
        };
        let mut conflict = None;
        for idx in 0..self.paths.len() {
            if !self.paths.get(idx).is_some_and(Path::is_usable) {
                out.failed_paths = true;
                continue;
            }
            out.tried = true;
            let step = self.send(idx, phase, command, request).await;
            let result = step.result.clone();
            report.steps.push(step);
            match result {
                Ok(()) => return Ok(idx),
                Err(f) if conflict_next && f.is_reservation_conflict() => conflict = Some(f),
                Err(f) if f.is_path_failure() => {
                    out.failed_paths = true;
                    out.decisive.get_or_insert(f);
                }
                Err(f) => {
                    out.decisive = Some(f);
                    return Err(out);
                }
            }
        }
        if conflict.is_some() {
            out.decisive = conflict;
        }
        Err(out)
    }

    /// [`Self::one_path`] for the first attempt of a PR OUT that fails over on path
    /// failures only; its failure becomes the caller's error for `what`.
    pub(super) async fn initial_one_path(
        &self,
        cmd: OutCommand,
        request: &Request,
        what: &str,
        report: &mut Report,
    ) -> Result<usize> {
        self.one_path(Phase::Initial, Command::Out(cmd), request, false, report)
            .await
            .map_err(|f| self.one_path_error(what, f, report))
    }

    pub(super) fn one_path_error(&self, what: &str, f: OnePathFailure, report: &Report) -> Error {
        if f.tried {
            self.failed(what, f.decisive, report)
        } else {
            Error::NoUsablePath {
                lun: self.name.clone(),
            }
        }
    }
}
