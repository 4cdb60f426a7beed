// SPDX-License-Identifier: MIT OR Apache-2.0
//! The safe Rust side of the handles: what a device, a LUN and a simulator are, the
//! validated operations the C calls turn into, and how each runs (a device: exactly one
//! command on its one I_T nexus, with unit-attention and BUSY retries; a LUN: pr-multipath's
//! semantics over all its paths). No `unsafe` and no C types here besides the result codes.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use pr_core::cdb::PrInCdb;
use pr_core::outcome::CommandError;
use pr_core::prin::{Capabilities, FullStatus, ReadKeys, ReadReservation};
use pr_core::prout::PrOut;
use pr_core::transport::{Cdb, Request, Response, Transport, TransportError};
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, ReservationKey, ReservationType};
use pr_multipath::{
    FullStatusInfo, KeysInfo, MultipathLun, Path, RegisterRequest, ReservationInfo,
};
use pr_sgio::Device;
use pr_sim::SimPath;

use crate::error::{ErrorInfo, pr_result};

/// One path of any kind: a pr-sgio device node or a simulated path.
#[derive(Debug)]
pub(crate) enum AnyPath {
    /// An SG_IO device node.
    Sg(Device),
    /// A pr-sim path.
    Sim(SimPath),
}

impl Transport for AnyPath {
    async fn execute(&self, request: Request) -> Result<Response, TransportError> {
        match self {
            AnyPath::Sg(d) => d.execute(request).await,
            AnyPath::Sim(s) => s.execute(request).await,
        }
    }

    fn name(&self) -> &str {
        match self {
            AnyPath::Sg(d) => d.name(),
            AnyPath::Sim(s) => s.name(),
        }
    }
}

/// A validated PR OUT operation.
#[derive(Clone, Debug)]
pub(crate) enum OutOp {
    /// REGISTER / REGISTER AND IGNORE EXISTING KEY, optionally with SPEC_I_PT.
    Register {
        old: ReservationKey,
        new: ReservationKey,
        ignore: bool,
        aptpl: bool,
        all_tg_pt: bool,
        spec_i_pt: Vec<TransportId<'static>>,
    },
    /// RESERVE.
    Reserve {
        key: ReservationKey,
        ty: ReservationType,
    },
    /// RELEASE.
    Release {
        key: ReservationKey,
        ty: ReservationType,
    },
    /// CLEAR.
    Clear { key: ReservationKey },
    /// PREEMPT / PREEMPT AND ABORT.
    Preempt {
        key: ReservationKey,
        victim: ReservationKey,
        ty: ReservationType,
        abort: bool,
    },
    /// REGISTER AND MOVE.
    Move {
        key: ReservationKey,
        dest: ReservationKey,
        ty: ReservationType,
        tid: TransportId<'static>,
        rtpi: u16,
        unreg: bool,
        aptpl: bool,
    },
    /// REPLACE LOST RESERVATION.
    ReplaceLost {
        new: ReservationKey,
        ty: ReservationType,
    },
}

impl OutOp {
    /// The pr-core request for one device.
    fn prout(&self) -> PrOut<'_> {
        match self {
            OutOp::Register {
                old,
                new,
                ignore,
                aptpl,
                all_tg_pt,
                spec_i_pt,
            } => {
                let mut p = if *ignore {
                    let mut p = PrOut::register_ignore(*new);
                    p.key = *old;
                    p
                } else {
                    PrOut::register(*old, *new)
                };
                if *aptpl {
                    p = p.with_aptpl();
                }
                if *all_tg_pt {
                    p = p.with_all_tg_pt();
                }
                if spec_i_pt.is_empty() {
                    p
                } else {
                    p.with_spec_i_pt(spec_i_pt)
                }
            }
            OutOp::Reserve { key, ty } => PrOut::reserve(*key, *ty),
            OutOp::Release { key, ty } => PrOut::release(*key, *ty),
            OutOp::Clear { key } => PrOut::clear(*key),
            OutOp::Preempt {
                key,
                victim,
                ty,
                abort,
            } => {
                if *abort {
                    PrOut::preempt_and_abort(*key, *victim, *ty)
                } else {
                    PrOut::preempt(*key, *victim, *ty)
                }
            }
            OutOp::Move {
                key,
                dest,
                ty,
                tid,
                rtpi,
                unreg,
                aptpl,
            } => {
                let mut p = PrOut::register_and_move(*key, *dest, *ty, tid, *rtpi);
                if *unreg {
                    p = p.with_unreg();
                }
                if *aptpl {
                    p = p.with_aptpl();
                }
                p
            }
            OutOp::ReplaceLost { new, ty } => PrOut::replace_lost_reservation(*new, *ty),
        }
    }
}

/// A validated PR IN operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InOp {
    /// READ KEYS.
    ReadKeys,
    /// READ RESERVATION.
    ReadReservation,
    /// REPORT CAPABILITIES.
    Capabilities,
    /// READ FULL STATUS.
    FullStatus,
}

/// The owned answer of a PR IN operation.
#[derive(Debug)]
pub(crate) enum InAnswer {
    /// READ KEYS.
    Keys(KeysInfo),
    /// READ RESERVATION.
    Reservation(ReservationInfo),
    /// REPORT CAPABILITIES, and the path that answered.
    Capabilities(Capabilities, String),
    /// READ FULL STATUS.
    Full(FullStatusInfo),
}

/// The open device behind a `pr_device`.
#[derive(Debug)]
pub(crate) struct DeviceCore {
    pub(crate) path: AnyPath,
}

const UA_RETRIES: u32 = 5;
const BUSY_RETRIES: u32 = 5;

fn command_failure(path: &str, what: &str, e: &CommandError) -> ErrorInfo {
    ErrorInfo::from_command(e, Some(path), format!("{path}: {what}: {e}"))
}

impl DeviceCore {
    /// Sends one request with unit-attention retries (5, as libmpathpersist) and BUSY /
    /// TASK SET FULL backoff (5 times, 10 ms doubling).
    async fn execute(&self, what: &str, request: Request) -> Result<Response, ErrorInfo> {
        let name = self.path.name().to_owned();
        let mut ua = UA_RETRIES;
        let mut busy = BUSY_RETRIES;
        let mut backoff = Duration::from_millis(10);
        loop {
            let r = self.path.execute(request.clone()).await.map_err(|e| {
                ErrorInfo::from_transport(&e, Some(&name), format!("{name}: {what}: {e}"))
            })?;
            match r.completion.check() {
                Ok(()) => return Ok(r),
                Err(e) if e.is_unit_attention() && ua > 0 => ua -= 1,
                Err(
                    e
                    @ (CommandError::Busy | CommandError::TaskSetFull | CommandError::TaskAborted),
                ) => {
                    if busy == 0 {
                        return Err(command_failure(&name, what, &e));
                    }
                    busy -= 1;
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                }
                Err(e) => return Err(command_failure(&name, what, &e)),
            }
        }
    }

    /// Runs a PR OUT operation: exactly one command (plus retries) on this nexus.
    pub(crate) async fn prout(&self, op: &OutOp) -> Result<(), ErrorInfo> {
        let p = op.prout();
        let what = format!("PERSISTENT RESERVE OUT {}", p.action.name());
        let build = |e: pr_core::BuildError| {
            ErrorInfo::new(
                pr_result::PR_ERR_INVALID_ARGUMENT,
                format!("cannot build {what}: {e}"),
            )
        };
        let mut cdb = [0u8; 10];
        p.encode_cdb(&mut cdb).map_err(build)?;
        let mut params = vec![0u8; p.param_len().map_err(build)?];
        let n = p.encode_params(&mut params).map_err(build)?;
        params.truncate(n);
        self.execute(&what, Request::data_out(Cdb::from(cdb), params))
            .await
            .map(drop)
    }

    async fn pr_in(&self, action: PrInAction, alloc: u16) -> Result<Vec<u8>, ErrorInfo> {
        let cdb = PrInCdb::new(action, alloc).to_bytes();
        let what = format!("PERSISTENT RESERVE IN {}", action.name());
        let r = self
            .execute(&what, Request::data_in(Cdb::from(cdb), usize::from(alloc)))
            .await?;
        Ok(r.buf)
    }

    fn decode_err(&self, what: &str, e: impl std::fmt::Display) -> ErrorInfo {
        let name = self.path.name();
        let mut i = ErrorInfo::new(
            pr_result::PR_ERR_DECODE,
            format!("{name}: cannot decode {what}: {e}"),
        );
        i.path = Some(crate::error::cstring(name));
        i
    }

    /// Runs a PR IN operation, growing the allocation length until nothing is cut (READ
    /// FULL STATUS: also when the response may have been cut silently).
    pub(crate) async fn prin(&self, op: InOp) -> Result<InAnswer, ErrorInfo> {
        let path = self.path.name().to_owned();
        let mut alloc: u16 = 8192;
        let mut issues = 0u32;
        loop {
            issues += 1;
            match op {
                InOp::ReadKeys => {
                    let buf = self.pr_in(PrInAction::ReadKeys, alloc).await?;
                    let rk = ReadKeys::decode(&buf).map_err(|e| self.decode_err("READ KEYS", e))?;
                    if let Some(n) = rk.needed_alloc_len() {
                        let n = u16::try_from(n).unwrap_or(u16::MAX);
                        if n > alloc && issues < 4 {
                            alloc = n;
                            continue;
                        }
                    }
                    return Ok(InAnswer::Keys(KeysInfo {
                        path,
                        generation: rk.generation(),
                        keys: rk.keys().collect(),
                    }));
                }
                InOp::ReadReservation => {
                    let buf = self.pr_in(PrInAction::ReadReservation, alloc).await?;
                    let rr = ReadReservation::decode(&buf)
                        .map_err(|e| self.decode_err("READ RESERVATION", e))?;
                    return Ok(InAnswer::Reservation(ReservationInfo {
                        path,
                        generation: rr.generation(),
                        reservation: rr.reservation(),
                    }));
                }
                InOp::Capabilities => {
                    let buf = self.pr_in(PrInAction::ReportCapabilities, alloc).await?;
                    let c = Capabilities::decode(&buf)
                        .map_err(|e| self.decode_err("REPORT CAPABILITIES", e))?;
                    return Ok(InAnswer::Capabilities(c, path));
                }
                InOp::FullStatus => {
                    let buf = self.pr_in(PrInAction::ReadFullStatus, alloc).await?;
                    let fs = FullStatus::decode(&buf)
                        .map_err(|e| self.decode_err("READ FULL STATUS", e))?;
                    if let Some(n) = pr_core::prin::alloc::next_alloc_len(
                        PrInAction::ReadFullStatus,
                        alloc,
                        &buf,
                    ) && issues < 4
                    {
                        alloc = n;
                        continue;
                    }
                    return Ok(InAnswer::Full(FullStatusInfo::from_response(
                        path, &fs, alloc, issues,
                    )));
                }
            }
        }
    }
}

/// The LUN behind a `pr_lun`: a dm-multipath map opened through pr-sgio discovery, or a
/// LUN assembled from a list of paths (device nodes or simulated paths).
#[derive(Debug)]
pub(crate) enum LunCore {
    /// A dm-multipath map.
    Map(pr_multipath::Lun),
    /// A set of paths.
    Paths(MultipathLun<AnyPath>),
}

impl LunCore {
    /// The LUN's name.
    pub(crate) fn name(&self) -> &str {
        match self {
            LunCore::Map(l) => l.name(),
            LunCore::Paths(l) => l.name(),
        }
    }

    /// Runs a PR OUT operation with pr-multipath's semantics; returns the report as text.
    pub(crate) async fn prout(&self, op: &OutOp) -> Result<String, ErrorInfo> {
        let r = match self {
            LunCore::Map(l) => lun_out(l, op).await,
            LunCore::Paths(l) => lun_out(l, op).await,
        };
        r.map(|rep| rep.to_string())
            .map_err(|e| ErrorInfo::from_multipath(&e))
    }

    /// Runs a PR IN operation through the first path that answers.
    pub(crate) async fn prin(&self, op: InOp) -> Result<InAnswer, ErrorInfo> {
        match self {
            LunCore::Map(l) => lun_in(l, op).await,
            LunCore::Paths(l) => lun_in(l, op).await,
        }
        .map_err(|e| ErrorInfo::from_multipath(&e))
    }

    /// Marks a path usable or failed (for a path that came back, or to stop using one).
    pub(crate) fn set_path_usable(&self, path: &str, usable: bool) -> bool {
        let state = if usable {
            pr_multipath::PathState::Usable
        } else {
            pr_multipath::PathState::Failed
        };
        match self {
            LunCore::Map(l) => l.set_path_state(path, state),
            LunCore::Paths(l) => l.set_path_state(path, state),
        }
    }

    /// The names of the usable paths.
    pub(crate) fn usable_paths(&self) -> Vec<String> {
        match self {
            LunCore::Map(l) => l.usable_paths().into_iter().map(str::to_owned).collect(),
            LunCore::Paths(l) => l.usable_paths().into_iter().map(str::to_owned).collect(),
        }
    }

    /// The number of paths.
    pub(crate) fn path_count(&self) -> usize {
        match self {
            LunCore::Map(l) => l.paths().len(),
            LunCore::Paths(l) => l.paths().len(),
        }
    }
}

async fn lun_out<T: Transport>(
    l: &MultipathLun<T>,
    op: &OutOp,
) -> pr_multipath::Result<pr_multipath::Report> {
    match op {
        OutOp::Register {
            old,
            new,
            ignore,
            aptpl,
            all_tg_pt,
            spec_i_pt,
        } => {
            let mut req = if *ignore {
                RegisterRequest::register_ignore(*new).current_key(*old)
            } else {
                RegisterRequest::register(*old, *new)
            };
            if *aptpl {
                req = req.aptpl();
            }
            if *all_tg_pt {
                req = req.all_tg_pt(true);
            }
            if spec_i_pt.is_empty() {
                l.register(req).await
            } else {
                l.register_spec_i_pt(req, spec_i_pt).await
            }
        }
        OutOp::Reserve { key, ty } => l.reserve(*key, *ty).await,
        OutOp::Release { key, ty } => l.release(*key, *ty).await,
        OutOp::Clear { key } => l.clear(*key).await,
        OutOp::Preempt {
            key,
            victim,
            ty,
            abort: false,
        } => l.preempt(*key, *victim, *ty).await,
        OutOp::Preempt {
            key,
            victim,
            ty,
            abort: true,
        } => l.preempt_and_abort(*key, *victim, *ty).await,
        OutOp::Move {
            key,
            dest,
            ty,
            tid,
            rtpi,
            unreg,
            aptpl,
        } => {
            l.register_and_move(*key, *dest, *ty, tid, *rtpi, *unreg, *aptpl)
                .await
        }
        OutOp::ReplaceLost { new, ty } => l.replace_lost_reservation(*new, *ty).await,
    }
}

async fn lun_in<T: Transport>(l: &MultipathLun<T>, op: InOp) -> pr_multipath::Result<InAnswer> {
    Ok(match op {
        InOp::ReadKeys => InAnswer::Keys(l.read_keys().await?),
        InOp::ReadReservation => InAnswer::Reservation(l.read_reservation().await?),
        InOp::Capabilities => {
            let c = l.report_capabilities().await?;
            // pr-multipath does not say which path answered REPORT CAPABILITIES: the first
            // usable one in group order is the one it asks first.
            let path = l
                .usable_paths()
                .first()
                .map_or_else(String::new, |p| (*p).to_owned());
            InAnswer::Capabilities(c, path)
        }
        InOp::FullStatus => InAnswer::Full(l.read_full_status().await?),
    })
}

/// Builds a LUN from simulated or device paths.
pub(crate) fn lun_from_paths(name: &str, paths: Vec<(String, AnyPath, Option<u32>)>) -> LunCore {
    let paths = paths
        .into_iter()
        .map(|(n, t, host)| {
            let p = Path::new(n, t);
            match host {
                Some(h) => p.with_host(h),
                None => p,
            }
        })
        .collect();
    LunCore::Paths(MultipathLun::new(name, paths))
}

/// The simulator behind a `pr_sim`: the pr-sim target and the table of paths created through
/// the C API (indexed by the `uint32_t` path ids handed to C).
#[derive(Debug)]
pub(crate) struct SimCore {
    pub(crate) sim: pr_sim::Sim,
    pub(crate) paths: Mutex<Vec<SimPath>>,
    /// How many logical units were added (pr-sim holds at most 65,536 and panics past it).
    pub(crate) lun_count: Mutex<u32>,
}

impl SimCore {
    /// A path by id, or an error naming the argument.
    pub(crate) fn path(&self, id: u32, arg: &str) -> Result<SimPath, ErrorInfo> {
        let paths = self.paths.lock().unwrap_or_else(PoisonError::into_inner);
        usize::try_from(id)
            .ok()
            .and_then(|i| paths.get(i))
            .cloned()
            .ok_or_else(|| {
                ErrorInfo::invalid(
                    arg,
                    format!(
                        "no simulator path {id} (this simulator has {})",
                        paths.len()
                    ),
                )
            })
    }
}
