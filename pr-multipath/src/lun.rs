//! [`MultipathLun`]: one logical unit reached through several paths, and every persistent
//! reservation action on it with multipath semantics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use pr_core::outcome::CommandError;
use pr_core::prin::{Capabilities, FullStatus, ReadKeys, ReadReservation, Reservation, Truncation};
use pr_core::prout::PrOut;
use pr_core::transport::{Request, Transport, TransportError};
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, PrOutAction, PrOutFlags, ReservationKey, ReservationType};

use crate::config::{ConfiguredKey, KeySource};
use crate::error::{Error, Failure, Result};
use crate::exec::{self, RetryPolicy};
use crate::map_control::MapControl;
use crate::multipathd::{Multipathd, PrFlag};
use crate::path::{Path, PathRefresher, PathState};
use crate::report::{
    Command, MapEvent, OutCommand, PathRegistration, PathState as RegState, Phase, Report, Step,
};

/// What REGISTER does when some paths answer RESERVATION CONFLICT after others succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConflictPolicy {
    /// multipath-tools 0.13 and later: re-send REGISTER AND IGNORE EXISTING KEY with the new
    /// key to the paths that had a conflict (or no answer). The paths end with the new key.
    #[default]
    RetryWithIgnore,
    /// The original design (multipath-tools 0.9.4): undo the registration changes that were
    /// made (and try to undo those whose outcome is unknown), so the caller is left exactly
    /// as before, and return the conflict.
    Rollback,
}

/// Options of a [`MultipathLun`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LunOptions {
    /// How many paths receive a fanned-out command at once.
    pub concurrency: usize,
    /// Retries of each command on one path.
    pub retry: RetryPolicy,
    /// Default conflict policy of REGISTER.
    pub conflict_policy: ConflictPolicy,
    /// Register with ALL_TG_PT (one path per SCSI host) by default, as multipath.conf's
    /// `all_tg_pt yes`; also used for the re-registrations of the workarounds.
    pub all_tg_pt: bool,
    /// Let the safety check accept "the reservation is held by our key" as proof that this
    /// host holds it, without our own record or multipathd's prhold. This is what
    /// multipath-tools before 0.13 assumed; it is wrong when another node shares the key.
    pub trust_holder_key: bool,
}

impl Default for LunOptions {
    fn default() -> Self {
        LunOptions {
            concurrency: 16,
            retry: RetryPolicy::default(),
            conflict_policy: ConflictPolicy::default(),
            all_tg_pt: false,
            trust_holder_key: false,
        }
    }
}

/// A REGISTER or REGISTER AND IGNORE EXISTING KEY request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegisterRequest {
    /// RESERVATION KEY: the key the paths have now (0: unregistered). For REGISTER AND
    /// IGNORE EXISTING KEY it is not sent; it tells which key a rollback restores and which
    /// key may hold the reservation (key change).
    pub old_key: ReservationKey,
    /// SERVICE ACTION RESERVATION KEY: the new key (0: unregister).
    pub new_key: ReservationKey,
    /// Send REGISTER AND IGNORE EXISTING KEY instead of REGISTER.
    pub ignore_existing: bool,
    /// APTPL.
    pub aptpl: bool,
    /// ALL_TG_PT (one path per SCSI host); `None`: [`LunOptions::all_tg_pt`].
    pub all_tg_pt: Option<bool>,
    /// Conflict policy; `None`: [`LunOptions::conflict_policy`].
    pub policy: Option<ConflictPolicy>,
}

impl RegisterRequest {
    /// REGISTER from `old_key` (0: not registered) to `new_key` (0: unregister).
    pub fn register(old_key: ReservationKey, new_key: ReservationKey) -> Self {
        RegisterRequest {
            old_key,
            new_key,
            ignore_existing: false,
            aptpl: false,
            all_tg_pt: None,
            policy: None,
        }
    }

    /// REGISTER AND IGNORE EXISTING KEY to `new_key`.
    pub fn register_ignore(new_key: ReservationKey) -> Self {
        RegisterRequest {
            ignore_existing: true,
            ..Self::register(ReservationKey(0), new_key)
        }
    }

    /// The key the paths have now (see [`old_key`](Self::old_key)).
    pub fn current_key(mut self, key: ReservationKey) -> Self {
        self.old_key = key;
        self
    }

    /// Sets APTPL.
    pub fn aptpl(mut self) -> Self {
        self.aptpl = true;
        self
    }

    /// Sets or clears ALL_TG_PT.
    pub fn all_tg_pt(mut self, yes: bool) -> Self {
        self.all_tg_pt = Some(yes);
        self
    }

    /// Sets the conflict policy.
    pub fn policy(mut self, policy: ConflictPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    fn action(&self) -> PrOutAction {
        if self.ignore_existing {
            PrOutAction::RegisterAndIgnoreExistingKey
        } else {
            PrOutAction::Register
        }
    }
}

/// A reservation this LUN object made (RESERVE, or PREEMPT of the holder): the LUN's own
/// record for the safety check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hold {
    /// The key it was taken with.
    pub key: ReservationKey,
    /// Its type.
    pub reservation_type: ReservationType,
}

/// READ KEYS through the map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeysInfo {
    /// The path that answered.
    pub path: String,
    /// PRGENERATION.
    pub generation: u32,
    /// The keys (one per registered I_T nexus).
    pub keys: Vec<ReservationKey>,
}

/// READ RESERVATION through the map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservationInfo {
    /// The path that answered.
    pub path: String,
    /// PRGENERATION.
    pub generation: u32,
    /// The reservation, if any.
    pub reservation: Option<Reservation>,
}

/// One READ FULL STATUS descriptor, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusEntry {
    /// The key.
    pub key: ReservationKey,
    /// ALL_TG_PT.
    pub all_tg_pt: bool,
    /// R_HOLDER.
    pub holder: bool,
    /// TYPE code (meaningful when holder).
    pub type_code: u8,
    /// RELATIVE TARGET PORT IDENTIFIER.
    pub relative_target_port: u16,
    /// The TransportID bytes.
    pub transport_id_bytes: Vec<u8>,
    /// The decoded TransportID, when it decodes.
    pub transport_id: Option<TransportId<'static>>,
}

/// READ FULL STATUS through the map, with every descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullStatusInfo {
    /// The path that answered last.
    pub path: String,
    /// PRGENERATION.
    pub generation: u32,
    /// Every descriptor (no 32-entry cap).
    pub entries: Vec<StatusEntry>,
    /// The allocation length of the last attempt.
    pub alloc_len: u16,
    /// How many times the command was issued (re-issued when cut or possibly cut).
    pub issues: u32,
}

impl FullStatusInfo {
    /// The allocation length to re-issue READ FULL STATUS with after `fs` answered an
    /// allocation length of `alloc`: the length the device asks for when the list was cut,
    /// 65535 when it may have been cut silently (LIO), `None` when it is complete or a
    /// larger allocation cannot help.
    pub fn regrow(fs: &FullStatus<'_>, alloc: u16) -> Option<u16> {
        let next = match fs.truncation(u32::from(alloc)) {
            Truncation::Complete => None,
            Truncation::Cut { needed } => Some(u16::try_from(needed).unwrap_or(u16::MAX)),
            Truncation::Possible => Some(u16::MAX),
        };
        next.filter(|&n| n > alloc)
    }

    /// The owned form of the response `fs`, answered by `path` to the `issues`-th command,
    /// sent with an allocation length of `alloc_len`.
    pub fn from_response(path: String, fs: &FullStatus<'_>, alloc_len: u16, issues: u32) -> Self {
        let entries = fs
            .descriptors()
            .map(|d| StatusEntry {
                key: d.key(),
                all_tg_pt: d.all_tg_pt(),
                holder: d.is_holder(),
                type_code: d.type_code(),
                relative_target_port: d.relative_target_port(),
                transport_id_bytes: d.transport_id_bytes().to_vec(),
                transport_id: d.transport_id().ok().map(TransportId::into_owned),
            })
            .collect();
        FullStatusInfo {
            path,
            generation: fs.generation(),
            entries,
            alloc_len,
            issues,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HoldCheck {
    NotHeld,
    Confirmed(u8),
    Unconfirmed(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PreemptWork {
    None,
    Release,
    ReleaseUnregister,
}

struct OnePathFailure {
    decisive: Option<Failure>,
    failed_paths: bool,
    tried: bool,
}

/// One logical unit reached through several [`Path`]s, generic over the transport, so the
/// same code drives pr-sgio devices and simulated paths.
///
/// Actions follow multipath-tools 0.13+ (`libmpathpersist`), see the crate documentation
/// for the semantics of each. Every action returns a [`Report`] of every command sent on
/// every path; failures return [`Error::Failed`] with the same report.
pub struct MultipathLun<T> {
    name: String,
    wwid: Option<String>,
    paths: Vec<Path<T>>,
    options: LunOptions,
    map_control: Option<Arc<dyn MapControl>>,
    daemon: Option<Multipathd>,
    refresher: Option<Arc<dyn PathRefresher>>,
    refresh_interval: Duration,
    fresh_until: Mutex<Option<Instant>>,
    configured: Mutex<Option<ConfiguredKey>>,
    hold: Mutex<Option<Hold>>,
    aptpl: AtomicBool,
}

impl<T> std::fmt::Debug for MultipathLun<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultipathLun")
            .field("name", &self.name)
            .field("wwid", &self.wwid)
            .field("paths", &self.paths.len())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn lock<V>(m: &Mutex<V>) -> std::sync::MutexGuard<'_, V> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn replace_report(e: Error, report: &Report) -> Error {
    let r = Box::new(report.clone());
    match e {
        Error::Failed {
            lun, what, failure, ..
        } => Error::Failed {
            lun,
            what,
            failure,
            report: r,
        },
        Error::SafetyCheck { lun, reason, .. } => Error::SafetyCheck {
            lun,
            reason,
            report: r,
        },
        Error::TypeMismatch {
            lun,
            requested,
            held,
            ..
        } => Error::TypeMismatch {
            lun,
            requested,
            held,
            report: r,
        },
        Error::MapControl {
            lun, op, message, ..
        } => Error::MapControl {
            lun,
            op,
            message,
            report: r,
        },
        other => other,
    }
}

fn decisive(failures: &[&Failure]) -> Option<Failure> {
    failures
        .iter()
        .find(|f| f.is_reservation_conflict())
        .or_else(|| failures.first())
        .map(|f| (*f).clone())
}

impl<T: Transport> MultipathLun<T> {
    /// A LUN named `name` (the map alias) over `paths`, tried in path-group order.
    pub fn new(name: impl Into<String>, mut paths: Vec<Path<T>>) -> Self {
        paths.sort_by_key(Path::group);
        MultipathLun {
            name: name.into(),
            wwid: None,
            paths,
            options: LunOptions::default(),
            map_control: None,
            daemon: None,
            refresher: None,
            refresh_interval: Duration::ZERO,
            fresh_until: Mutex::new(None),
            configured: Mutex::new(None),
            hold: Mutex::new(None),
            aptpl: AtomicBool::new(false),
        }
    }

    /// Sets the options.
    pub fn with_options(mut self, options: LunOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets the WWID (for the prkeys file and multipath.conf lookups).
    pub fn with_wwid(mut self, wwid: impl Into<String>) -> Self {
        self.wwid = Some(wwid.into());
        self
    }

    /// Suspend/resume of the map for the self-preemption workarounds. Without one they run
    /// without suspending (noted in the report).
    pub fn with_map_control(mut self, mc: Arc<dyn MapControl>) -> Self {
        self.map_control = Some(mc);
        self
    }

    /// multipathd integration (prstatus, prkey, prhold).
    pub fn with_multipathd(mut self, daemon: Multipathd) -> Self {
        self.daemon = Some(daemon);
        self
    }

    /// A path-state source consulted before each PR OUT action.
    pub fn with_refresher(mut self, r: Arc<dyn PathRefresher>) -> Self {
        self.refresher = Some(r);
        self
    }

    /// The path states are known to be current for `d` from now (they were just read, as
    /// [`from_map`](Self::from_map) does): PR OUT actions started within `d` do not consult
    /// the refresher first. Failures seen on a path still mark it failed at once, and the
    /// refresh that settles an unknown registration after a lost reply always runs.
    pub fn with_states_fresh_for(self, d: Duration) -> Self {
        *lock(&self.fresh_until) = Instant::now().checked_add(d);
        self
    }

    /// After each refresh the states count as current for `d` (default zero: every PR OUT
    /// action re-reads them first, as multipath-tools does). With many operations in a
    /// burst on one LUN this saves a status read per operation, at the price of acting on
    /// states up to `d` old (a path that failed meanwhile is still found failed by the
    /// command sent to it, and failed over from).
    pub fn with_refresh_interval(mut self, d: Duration) -> Self {
        self.refresh_interval = d;
        self
    }

    /// The configured `reservation_key`: actions with another key are refused.
    pub fn with_configured_key(self, key: Option<ConfiguredKey>) -> Self {
        *lock(&self.configured) = key;
        self
    }

    /// The map name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The WWID, when known.
    pub fn wwid(&self) -> Option<&str> {
        self.wwid.as_deref()
    }

    /// The paths, in path-group order.
    pub fn paths(&self) -> &[Path<T>] {
        &self.paths
    }

    /// The path named `name`.
    pub fn path(&self, name: &str) -> Option<&Path<T>> {
        self.paths.iter().find(|p| p.name() == name)
    }

    /// The options.
    pub fn options(&self) -> &LunOptions {
        &self.options
    }

    /// The configured key in force.
    pub fn configured_key(&self) -> Option<ConfiguredKey> {
        *lock(&self.configured)
    }

    /// The LUN's own record of a reservation it took.
    pub fn hold(&self) -> Option<Hold> {
        *lock(&self.hold)
    }

    /// Seeds or clears the own record of a held reservation (for example from a state file
    /// of a previous run), for the safety check.
    pub fn record_hold(&self, hold: Option<Hold>) {
        *lock(&self.hold) = hold;
    }

    /// Sets the state of the path `name`; `false` if there is none.
    pub fn set_path_state(&self, name: &str, state: PathState) -> bool {
        self.path(name).map(|p| p.set_state(state)).is_some()
    }

    /// Applies the refresher's view of the path states (nothing without a refresher).
    pub async fn refresh(&self) -> Result<()> {
        if let Some(r) = &self.refresher {
            for (name, st) in r.refresh().await? {
                self.set_path_state(&name, st);
            }
            *lock(&self.fresh_until) = Instant::now().checked_add(self.refresh_interval);
        }
        Ok(())
    }

    /// Whether the path states are within their freshness window (no refresh needed).
    pub fn states_fresh(&self) -> bool {
        lock(&self.fresh_until).is_some_and(|t| Instant::now() < t)
    }

    async fn refresh_if_stale(&self, report: &mut Report) {
        if !self.states_fresh() {
            self.refresh_noted(report).await;
        }
    }

    async fn refresh_noted(&self, report: &mut Report) {
        if let Err(e) = self.refresh().await {
            report
                .notes
                .push(format!("path refresh failed, using known states: {e}"));
        }
    }

    fn usable(&self) -> Vec<usize> {
        (0..self.paths.len())
            .filter(|&i| self.paths.get(i).is_some_and(Path::is_usable))
            .collect()
    }

    fn path_name(&self, idx: usize) -> String {
        self.paths
            .get(idx)
            .map_or_else(String::new, |p| p.name().to_owned())
    }

    fn failed(&self, what: impl Into<String>, failure: Option<Failure>, report: &Report) -> Error {
        Error::Failed {
            lun: self.name.clone(),
            what: what.into(),
            failure: failure.map(Box::new),
            report: Box::new(report.clone()),
        }
    }

    fn default_flags(&self) -> PrOutFlags {
        let mut f = PrOutFlags::empty();
        if self.options.all_tg_pt {
            f |= PrOutFlags::ALL_TG_PT;
        }
        if self.aptpl.load(Ordering::Relaxed) {
            f |= PrOutFlags::APTPL;
        }
        f
    }

    // ---------------------------------------------------------------------------------
    // Sending
    // ---------------------------------------------------------------------------------

    async fn send(&self, idx: usize, phase: Phase, command: Command, request: &Request) -> Step {
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

    async fn send_out(&self, idx: usize, phase: Phase, cmd: OutCommand) -> Step {
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

    async fn fan_out(
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
    async fn one_path(
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
    async fn initial_one_path(
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

    fn one_path_error(&self, what: &str, f: OnePathFailure, report: &Report) -> Error {
        if f.tried {
            self.failed(what, f.decisive, report)
        } else {
            Error::NoUsablePath {
                lun: self.name.clone(),
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // PR IN
    // ---------------------------------------------------------------------------------

    async fn walk_in(
        &self,
        action: PrInAction,
        alloc_len: u16,
        report: &mut Report,
    ) -> Result<(usize, Vec<u8>)> {
        let request = exec::encode_in(action, alloc_len);
        let mut last = None;
        let mut tried = false;
        for idx in 0..self.paths.len() {
            let Some(path) = self.paths.get(idx) else {
                continue;
            };
            if !path.is_usable() {
                continue;
            }
            tried = true;
            let t0 = Instant::now();
            let (attempts, res) =
                exec::execute(path.transport(), || request.clone(), &self.options.retry).await;
            let elapsed = t0.elapsed();
            let result = res.as_ref().map(drop).map_err(Clone::clone);
            if let Err(f) = &result
                && f.is_path_failure()
                && !matches!(f, Failure::Transport(TransportError::Unsupported { .. }))
            {
                path.set_state(PathState::Failed);
            }
            report.steps.push(Step {
                path: path.name().to_owned(),
                phase: Phase::Check,
                command: Command::In(action),
                attempts,
                elapsed,
                result: result.clone(),
            });
            match res {
                Ok(r) => return Ok((idx, r.buf)),
                Err(f @ Failure::Command(CommandError::IllegalRequest { .. })) => {
                    return Err(self.failed(format!("PR IN {}", action.name()), Some(f), report));
                }
                Err(f) => last = Some(f),
            }
        }
        if !tried {
            return Err(Error::NoUsablePath {
                lun: self.name.clone(),
            });
        }
        Err(self.failed(format!("PR IN {}", action.name()), last, report))
    }

    fn decode_err(&self, idx: usize, what: &'static str, e: pr_core::DecodeError) -> Error {
        Error::Decode {
            lun: self.name.clone(),
            path: self.path_name(idx),
            what,
            source: e,
        }
    }

    /// Sends PERSISTENT RESERVE IN `action` through the first path that answers (paths in
    /// group order; ILLEGAL REQUEST stops the walk) and returns that path's name and the
    /// raw response.
    pub async fn pr_in_raw(&self, action: PrInAction, alloc_len: u16) -> Result<(String, Vec<u8>)> {
        let mut report = Report::new(&self.name);
        let (idx, buf) = self.walk_in(action, alloc_len.max(8), &mut report).await?;
        Ok((self.path_name(idx), buf))
    }

    async fn read_keys_in(&self, report: &mut Report) -> Result<KeysInfo> {
        let mut alloc: u16 = 8192;
        loop {
            let (idx, buf) = self.walk_in(PrInAction::ReadKeys, alloc, report).await?;
            let rk = ReadKeys::decode(&buf).map_err(|e| self.decode_err(idx, "READ KEYS", e))?;
            if let Some(n) = rk.needed_alloc_len() {
                let n = u16::try_from(n).unwrap_or(u16::MAX);
                if n > alloc {
                    alloc = n;
                    continue;
                }
            }
            return Ok(KeysInfo {
                path: self.path_name(idx),
                generation: rk.generation(),
                keys: rk.keys().collect(),
            });
        }
    }

    /// READ KEYS through the first path that answers (grows the allocation length as
    /// needed).
    pub async fn read_keys(&self) -> Result<KeysInfo> {
        self.read_keys_in(&mut Report::new(&self.name)).await
    }

    async fn read_reservation_in(&self, report: &mut Report) -> Result<ReservationInfo> {
        let (idx, buf) = self
            .walk_in(PrInAction::ReadReservation, 8192, report)
            .await?;
        let rr = ReadReservation::decode(&buf)
            .map_err(|e| self.decode_err(idx, "READ RESERVATION", e))?;
        Ok(ReservationInfo {
            path: self.path_name(idx),
            generation: rr.generation(),
            reservation: rr.reservation(),
        })
    }

    /// READ RESERVATION through the first path that answers.
    pub async fn read_reservation(&self) -> Result<ReservationInfo> {
        self.read_reservation_in(&mut Report::new(&self.name)).await
    }

    /// REPORT CAPABILITIES through the first path that answers.
    pub async fn report_capabilities(&self) -> Result<Capabilities> {
        let mut report = Report::new(&self.name);
        let (idx, buf) = self
            .walk_in(PrInAction::ReportCapabilities, 8192, &mut report)
            .await?;
        Capabilities::decode(&buf).map_err(|e| self.decode_err(idx, "REPORT CAPABILITIES", e))
    }

    /// READ FULL STATUS through the first path that answers, with every descriptor: the
    /// command is re-issued with the length the device asks for, and once more with 65535
    /// when the response may have been cut silently (LIO returns whole descriptors only and
    /// reports the shortened list as complete).
    pub async fn read_full_status(&self) -> Result<FullStatusInfo> {
        let mut report = Report::new(&self.name);
        let mut alloc: u16 = 8192;
        let mut issues = 0u32;
        loop {
            issues += 1;
            let (idx, buf) = self
                .walk_in(PrInAction::ReadFullStatus, alloc, &mut report)
                .await?;
            let fs = FullStatus::decode(&buf)
                .map_err(|e| self.decode_err(idx, "READ FULL STATUS", e))?;
            if let Some(n) = FullStatusInfo::regrow(&fs, alloc)
                && issues < 4
            {
                alloc = n;
                continue;
            }
            return Ok(FullStatusInfo::from_response(
                self.path_name(idx),
                &fs,
                alloc,
                issues,
            ));
        }
    }

    // ---------------------------------------------------------------------------------
    // Safety check and bookkeeping
    // ---------------------------------------------------------------------------------

    async fn we_took_it(&self, key: ReservationKey, report: &mut Report) -> bool {
        if lock(&self.hold).is_some_and(|h| h.key == key) {
            return true;
        }
        if let Some(d) = &self.daemon {
            match d.get_prhold(&self.name).await {
                Ok(Some(PrFlag::Set)) => return true,
                Ok(Some(_)) => {}
                Ok(None) => report.notes.push(
                    "multipathd has no prhold (0.9.4): safety check uses the own record only"
                        .into(),
                ),
                Err(e) => report
                    .notes
                    .push(format!("multipathd getprhold failed: {e}")),
            }
        }
        self.options.trust_holder_key
    }

    /// The safety check: is the reservation held by `key`, and did this host take it?
    async fn hold_check(&self, key: ReservationKey, report: &mut Report) -> Result<HoldCheck> {
        if key.is_zero() {
            return Ok(HoldCheck::NotHeld);
        }
        let info = self.read_reservation_in(report).await?;
        match info.reservation {
            Some(r) if r.key == key => {
                if self.we_took_it(key, report).await {
                    Ok(HoldCheck::Confirmed(r.type_code))
                } else {
                    Ok(HoldCheck::Unconfirmed(r.type_code))
                }
            }
            _ => Ok(HoldCheck::NotHeld),
        }
    }

    fn safety_refusal(&self, key: ReservationKey, report: &Report) -> Error {
        Error::SafetyCheck {
            lun: self.name.clone(),
            reason: format!(
                "the reservation is held by key {key} through a path this host cannot reach, \
                 or by another node using the same key; neither this LUN's own record nor \
                 multipathd's prhold says this host took it"
            ),
            report: Box::new(report.clone()),
        }
    }

    async fn set_hold(&self, hold: Option<Hold>, report: &mut Report) {
        *lock(&self.hold) = hold;
        if let Some(d) = &self.daemon {
            let r = if hold.is_some() {
                d.set_prhold(&self.name).await
            } else {
                d.unset_prhold(&self.name).await
            };
            match r {
                Ok(true) => report.notes.push(format!(
                    "multipathd: {}prhold",
                    if hold.is_some() { "set" } else { "unset" }
                )),
                Ok(false) => {}
                Err(e) => report
                    .notes
                    .push(format!("multipathd prhold update failed: {e}")),
            }
        }
    }

    /// Checks the key against the configured one; in `file` mode a registration sets it
    /// first. Returns the previous configuration to restore if the action fails.
    async fn check_key(
        &self,
        register: Option<&RegisterRequest>,
        key: ReservationKey,
        report: &mut Report,
    ) -> Result<Option<Option<ConfiguredKey>>> {
        let Some(conf) = self.configured_key() else {
            return Ok(None);
        };
        let mut revert = None;
        let mut conf = conf;
        if let Some(req) = register {
            if conf.source == KeySource::File
                && (req.ignore_existing
                    || conf.key.is_zero()
                    || req.old_key.is_zero()
                    || req.old_key == conf.key)
            {
                revert = Some(Some(conf));
                conf.key = req.new_key;
                conf.aptpl = req.aptpl;
                *lock(&self.configured) = Some(conf);
                if let Some(d) = &self.daemon {
                    let r = if req.new_key.is_zero() {
                        d.unset_prkey(&self.name).await
                    } else {
                        d.set_prkey(&self.name, req.new_key, req.aptpl).await
                    };
                    if let Err(e) = r {
                        *lock(&self.configured) = revert.flatten();
                        return Err(e.into());
                    }
                    report
                        .notes
                        .push(format!("multipathd: setprkey {}", req.new_key));
                }
            }
            if !req.new_key.is_zero() {
                if conf.key.is_zero() {
                    return Err(Error::NoConfiguredKey {
                        lun: self.name.clone(),
                    });
                }
                if conf.key != req.new_key {
                    return Err(Error::KeyMismatch {
                        lun: self.name.clone(),
                        configured: conf.key,
                        given: req.new_key,
                    });
                }
            }
            return Ok(revert);
        }
        if conf.key.is_zero() {
            return Err(Error::NoConfiguredKey {
                lun: self.name.clone(),
            });
        }
        if conf.key != key {
            return Err(Error::KeyMismatch {
                lun: self.name.clone(),
                configured: conf.key,
                given: key,
            });
        }
        Ok(None)
    }

    async fn revert_key(&self, revert: Option<Option<ConfiguredKey>>) {
        let Some(prev) = revert else { return };
        *lock(&self.configured) = prev;
        if let Some(d) = &self.daemon {
            let _ = match prev {
                Some(c) if !c.key.is_zero() => d.set_prkey(&self.name, c.key, c.aptpl).await,
                _ => d.unset_prkey(&self.name).await,
            };
        }
    }

    // ---------------------------------------------------------------------------------
    // Self-preemption (release workaround, preempt all registrants, self preempt)
    // ---------------------------------------------------------------------------------

    async fn map_op(&self, suspend: bool, report: &mut Report) -> Result<()> {
        let Some(mc) = &self.map_control else {
            if suspend {
                report.map_events.push(MapEvent::NoMapControl);
            }
            return Ok(());
        };
        let (op, r) = if suspend {
            ("suspend", mc.suspend_noflush(&self.name).await)
        } else {
            ("resume", mc.resume(&self.name).await)
        };
        match r {
            Ok(()) => {
                report.map_events.push(if suspend {
                    MapEvent::Suspended
                } else {
                    MapEvent::Resumed
                });
                Ok(())
            }
            Err(message) => {
                report.map_events.push(MapEvent::Failed {
                    op,
                    message: message.clone(),
                });
                Err(Error::MapControl {
                    lun: self.name.clone(),
                    op,
                    message,
                    report: Box::new(report.clone()),
                })
            }
        }
    }

    /// Suspend the map (noflush), PREEMPT `sa_key` with `key` on one path, optionally
    /// RELEASE there (and unregister it), re-register every usable path, resume.
    async fn self_preempt(
        &self,
        key: ReservationKey,
        sa_key: ReservationKey,
        action: PrOutAction,
        ty: ReservationType,
        work: PreemptWork,
        report: &mut Report,
    ) -> Result<()> {
        self.map_op(true, report).await?;
        let inner = self
            .self_preempt_suspended(key, sa_key, action, ty, work, report)
            .await;
        let resumed = self.map_op(false, report).await;
        match (inner, resumed) {
            (Err(e), _) => Err(replace_report(e, report)),
            (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        }
    }

    async fn self_preempt_suspended(
        &self,
        key: ReservationKey,
        sa_key: ReservationKey,
        action: PrOutAction,
        ty: ReservationType,
        work: PreemptWork,
        report: &mut Report,
    ) -> Result<()> {
        let cmd = OutCommand::new(action, key, sa_key).typed(ty);
        let req = exec::encode_out(&exec::prout_of(&cmd))?;
        let p = match self
            .one_path(Phase::SelfPreempt, Command::Out(cmd), &req, false, report)
            .await
        {
            Ok(p) => p,
            Err(f) => return Err(self.one_path_error(action.name(), f, report)),
        };
        let mut first_err = None;
        if work != PreemptWork::None {
            let rel = OutCommand::new(PrOutAction::Release, key, ReservationKey(0)).typed(ty);
            let step = self.send_out(p, Phase::SelfPreempt, rel).await;
            let failed = step.result.clone().err();
            report.steps.push(step);
            if let Some(f) = failed {
                first_err = Some(self.failed("RELEASE after self-preempt", Some(f), report));
            } else if work == PreemptWork::ReleaseUnregister {
                let unreg = OutCommand::new(
                    PrOutAction::RegisterAndIgnoreExistingKey,
                    ReservationKey(0),
                    ReservationKey(0),
                )
                .flags(self.default_flags() & PrOutFlags::ALL_TG_PT);
                let step = self.send_out(p, Phase::SelfPreempt, unreg).await;
                if let Err(f) = step.result.clone() {
                    first_err = Some(self.failed("final unregister", Some(f), report));
                }
                report.steps.push(step);
            }
        }
        if work != PreemptWork::ReleaseUnregister {
            let targets = self.usable();
            let flags = self.default_flags();
            let steps = self
                .fan_out(&targets, Phase::Reregister, |_| {
                    OutCommand::new(
                        PrOutAction::RegisterAndIgnoreExistingKey,
                        ReservationKey(0),
                        key,
                    )
                    .flags(flags)
                })
                .await;
            let mut fails = Vec::new();
            for (_, s) in steps {
                if let Err(f) = &s.result
                    && !f.is_path_failure()
                {
                    fails.push(f.clone());
                }
                report.steps.push(s);
            }
            if first_err.is_none() && !fails.is_empty() {
                first_err = Some(self.failed(
                    "re-registration after self-preempt",
                    decisive(&fails.iter().collect::<Vec<_>>()),
                    report,
                ));
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    // ---------------------------------------------------------------------------------
    // REGISTER / REGISTER AND IGNORE EXISTING KEY
    // ---------------------------------------------------------------------------------

    /// REGISTER or REGISTER AND IGNORE EXISTING KEY on every usable path, concurrently
    /// (bounded by [`LunOptions::concurrency`]); with ALL_TG_PT on one path per SCSI host.
    ///
    /// - Conflicts on some paths after success on others: [`ConflictPolicy`].
    /// - Paths that fail with a path failure are marked failed and skipped (multipathd
    ///   registers paths that come back); a path whose reply was lost but that the refresher
    ///   still reports usable is re-sent REGISTER AND IGNORE EXISTING KEY (RetryWithIgnore)
    ///   or rolled back (Rollback).
    /// - Unregistering (new key 0) a key that holds the reservation releases it first (with
    ///   the release workaround when the holder path is unusable).
    /// - Changing the key while the reservation is held by the old key on an unusable path
    ///   moves the reservation to the new key with PREEMPT (after the safety check).
    pub async fn register(&self, req: RegisterRequest) -> Result<Report> {
        let mut report = Report::new(&self.name);
        let main = OutCommand::new(req.action(), req.old_key, req.new_key);
        exec::encode_out(&exec::prout_of(&main))?;
        let revert = self.check_key(Some(&req), req.new_key, &mut report).await?;
        let r = self.register_in(req, &mut report).await;
        match r {
            Ok(()) => Ok(report),
            Err(e) => {
                self.revert_key(revert).await;
                Err(e)
            }
        }
    }

    async fn register_in(&self, req: RegisterRequest, report: &mut Report) -> Result<()> {
        self.refresh_if_stale(report).await;
        let unregistering = req.new_key.is_zero();
        if unregistering && !req.old_key.is_zero() {
            match self.hold_check(req.old_key, report).await {
                Ok(HoldCheck::Confirmed(tc)) => {
                    if let Some(ty) = ReservationType::from_code(tc)
                        && !ty.is_all_registrants()
                    {
                        report.notes.push(
                            "unregistering the holder: releasing the reservation first".into(),
                        );
                        let done = self.release_in(req.old_key, ty, true, report).await?;
                        self.set_hold(None, report).await;
                        if done {
                            // The workaround already unregistered the last path.
                            self.after_register(&req, report).await;
                            self.mark_after_self_unregister(report);
                            return Ok(());
                        }
                    }
                }
                Ok(HoldCheck::Unconfirmed(_)) => report.notes.push(
                    "the reservation is held by the key being unregistered, but this host's \
                     hold is not confirmed: unregistering without releasing first"
                        .into(),
                ),
                Ok(HoldCheck::NotHeld) => {}
                Err(e) => report.notes.push(format!(
                    "could not read the reservation before unregistering: {e}"
                )),
            }
        }
        self.register_fanout(&req, report).await?;
        if req.aptpl {
            self.aptpl.store(true, Ordering::Relaxed);
        } else if !unregistering {
            self.aptpl.store(false, Ordering::Relaxed);
        }
        self.key_change(&req, report).await?;
        self.after_register(&req, report).await;
        Ok(())
    }

    /// After the release workaround unregistered: the path that preempted and unregistered
    /// is Changed; the PREEMPT removed every registration with the old key, but a usable
    /// path registered with another key keeps it, so the others are Unknown.
    fn mark_after_self_unregister(&self, report: &mut Report) {
        let preempter = report
            .steps
            .iter()
            .find(|s| {
                s.phase == Phase::SelfPreempt
                    && s.is_ok()
                    && s.command.out().is_some_and(|o| {
                        matches!(
                            o.action,
                            PrOutAction::Preempt | PrOutAction::PreemptAndAbort
                        )
                    })
            })
            .map(|s| s.path.clone());
        report.registrations = self
            .paths
            .iter()
            .map(|p| RegState {
                path: p.name().to_owned(),
                registration: if !p.is_usable() {
                    PathRegistration::SkippedUnusable
                } else if preempter.as_deref() == Some(p.name()) {
                    PathRegistration::Changed
                } else {
                    PathRegistration::Unknown
                },
            })
            .collect();
        report.notes.push(
            "the self-preempt removed every registration with the old key; paths registered \
             with another key keep it"
                .into(),
        );
    }

    async fn after_register(&self, req: &RegisterRequest, report: &mut Report) {
        let Some(d) = &self.daemon else { return };
        let r = if req.new_key.is_zero() {
            d.unset_prstatus(&self.name).await
        } else {
            let mut list = Vec::new();
            for p in self.paths.iter().filter(|p| p.is_usable()) {
                if list.is_empty() {
                    list.push(p.name().to_owned());
                } else {
                    list.push(p.dev_t().unwrap_or(p.name()).to_owned());
                }
            }
            d.set_prstatus(&self.name, &list).await
        };
        match r {
            Ok(()) => report.notes.push(format!(
                "multipathd: {}prstatus",
                if req.new_key.is_zero() {
                    "unset"
                } else {
                    "set"
                }
            )),
            Err(e) => report
                .notes
                .push(format!("multipathd prstatus update failed: {e}")),
        }
    }

    /// multipath-tools' `preempt_missing_path`.
    async fn key_change(&self, req: &RegisterRequest, report: &mut Report) -> Result<()> {
        let (old, new) = (req.old_key, req.new_key);
        if old.is_zero() || new.is_zero() {
            if lock(&self.hold).is_some() || self.daemon.is_some() {
                self.set_hold(None, report).await;
            }
            return Ok(());
        }
        if old == new {
            return Ok(());
        }
        let info = match self.read_reservation_in(report).await {
            Ok(i) => i,
            Err(e) => {
                report
                    .notes
                    .push(format!("key change: could not read the reservation: {e}"));
                return Ok(());
            }
        };
        let Some(res) = info.reservation else {
            self.set_hold(None, report).await;
            return Ok(());
        };
        if res.key != old {
            if res.key != new {
                self.set_hold(None, report).await;
            } else if let Some(h) = self.hold()
                && h.key == old
            {
                *lock(&self.hold) = Some(Hold { key: new, ..h });
            }
            return Ok(());
        }
        let Some(ty) = res.reservation_type() else {
            return Ok(());
        };
        if !self.we_took_it(old, report).await {
            report.notes.push(format!(
                "key change: the reservation is still held by the old key {old}, but this \
                 host's hold is not confirmed: not preempting it"
            ));
            return Ok(());
        }
        report.notes.push(format!(
            "key change: the reservation is held by the old key {old} on an unusable path: \
             moving it to {new} with PREEMPT"
        ));
        let cmd = OutCommand::new(PrOutAction::Preempt, new, old).typed(ty);
        let request = exec::encode_out(&exec::prout_of(&cmd))?;
        match self
            .one_path(
                Phase::KeyChangePreempt,
                Command::Out(cmd),
                &request,
                false,
                report,
            )
            .await
        {
            Ok(_) => {
                self.set_hold(
                    Some(Hold {
                        key: new,
                        reservation_type: ty,
                    }),
                    report,
                )
                .await;
                Ok(())
            }
            Err(f) => Err(self.one_path_error("PREEMPT of the old key", f, report)),
        }
    }

    fn register_targets(&self, all_tg_pt: bool, report: &mut Report) -> Vec<usize> {
        let mut hosts: Vec<(u32, String)> = Vec::new();
        let mut targets = Vec::new();
        report.registrations.clear();
        for (i, p) in self.paths.iter().enumerate() {
            if !p.is_usable() {
                report.registrations.push(RegState {
                    path: p.name().to_owned(),
                    registration: PathRegistration::SkippedUnusable,
                });
                continue;
            }
            if all_tg_pt && let Some(h) = p.host() {
                if let Some((_, first)) = hosts.iter().find(|(hh, _)| *hh == h) {
                    report.registrations.push(RegState {
                        path: p.name().to_owned(),
                        registration: PathRegistration::CoveredBy(first.clone()),
                    });
                    continue;
                }
                hosts.push((h, p.name().to_owned()));
            }
            targets.push(i);
        }
        targets
    }

    fn set_reg(&self, report: &mut Report, idx: usize, state: PathRegistration) {
        let name = self.path_name(idx);
        if let Some(r) = report.registrations.iter_mut().find(|r| r.path == name) {
            r.registration = state;
        } else {
            report.registrations.push(RegState {
                path: name,
                registration: state,
            });
        }
    }

    async fn register_fanout(&self, req: &RegisterRequest, report: &mut Report) -> Result<()> {
        self.register_fanout_except(req, None, report).await
    }

    /// The fan-out of REGISTER to every usable path but `done` (a path the caller already
    /// registered, with ALL_TG_PT: its SCSI host), which is reported Changed.
    async fn register_fanout_except(
        &self,
        req: &RegisterRequest,
        done: Option<usize>,
        report: &mut Report,
    ) -> Result<()> {
        let all_tg_pt = req.all_tg_pt.unwrap_or(self.options.all_tg_pt);
        let policy = req.policy.unwrap_or(self.options.conflict_policy);
        let mut flags = PrOutFlags::empty();
        if req.aptpl {
            flags |= PrOutFlags::APTPL;
        }
        if all_tg_pt {
            flags |= PrOutFlags::ALL_TG_PT;
        }
        let what = req.action().name();
        let mut targets = self.register_targets(all_tg_pt, report);
        if let Some(d) = done {
            let host = self.paths.get(d).and_then(Path::host);
            targets.retain(|&i| {
                i != d
                    && !(all_tg_pt
                        && host.is_some()
                        && self.paths.get(i).and_then(Path::host) == host)
            });
            self.set_reg(report, d, PathRegistration::Changed);
            if targets.is_empty() {
                return Ok(());
            }
        }
        if targets.is_empty() {
            return Err(Error::NoUsablePath {
                lun: self.name.clone(),
            });
        }
        let key_field = if req.ignore_existing {
            ReservationKey(0)
        } else {
            req.old_key
        };
        let main = OutCommand::new(req.action(), key_field, req.new_key).flags(flags);
        // A rollback may only touch a path whose outcome is unknown if that path cannot have
        // had the new key before (else undoing "our" change would change someone else's
        // registration): the rollback policy reads the keys first.
        let unknown_rollback_safe =
            if policy == ConflictPolicy::Rollback && !req.ignore_existing && !req.new_key.is_zero()
            {
                match self.read_keys_in(report).await {
                    Ok(k) => !k.keys.contains(&req.new_key),
                    Err(_) => false,
                }
            } else {
                req.ignore_existing
            };
        let results = self.fan_out(&targets, Phase::Initial, |_| main).await;

        let mut ok = Vec::new();
        let mut conflict = Vec::new();
        let mut unknown = Vec::new();
        let mut other = Vec::new();
        let mut failures: Vec<Failure> = Vec::new();
        for (i, step) in results {
            match &step.result {
                Ok(()) => ok.push(i),
                Err(f) => {
                    failures.push(f.clone());
                    if f.is_reservation_conflict() {
                        conflict.push(i);
                    } else if f.is_path_failure() || f.outcome_unknown() {
                        unknown.push(i);
                    } else {
                        other.push(i);
                    }
                }
            }
            report.steps.push(step);
        }
        for &i in &ok {
            self.set_reg(report, i, PathRegistration::Changed);
        }
        for &i in conflict.iter().chain(&other) {
            self.set_reg(report, i, PathRegistration::Unchanged);
        }
        for &i in &unknown {
            self.set_reg(report, i, PathRegistration::Unknown);
        }
        let fail_refs: Vec<&Failure> = failures.iter().collect();
        let decisive_failure = decisive(&fail_refs);

        // Paths that failed without an answer but are still usable per the refresher have
        // an unknown registration on a live path: that must be resolved.
        let mut live_unknown = Vec::new();
        if !unknown.is_empty() && self.refresher.is_some() {
            self.refresh_noted(report).await;
            live_unknown = unknown
                .iter()
                .copied()
                .filter(|&i| self.paths.get(i).is_some_and(Path::is_usable))
                .collect();
        }

        let clean = conflict.is_empty() && other.is_empty();
        if clean && !ok.is_empty() && live_unknown.is_empty() {
            if !unknown.is_empty() {
                report.notes.push(format!(
                    "{} path(s) failed during {what} and are now marked failed; their \
                     registration is unknown until they return",
                    unknown.len()
                ));
            }
            return Ok(());
        }
        if ok.is_empty() && unknown.is_empty() {
            // Nothing changed anywhere.
            return Err(self.failed(what, decisive_failure, report));
        }

        match policy {
            ConflictPolicy::RetryWithIgnore => {
                let can_retry = other.is_empty()
                    && !ok.is_empty()
                    && (!req.ignore_existing || conflict.is_empty());
                if !can_retry {
                    return Err(self.failed(what, decisive_failure, report));
                }
                let mut retry: Vec<usize> = conflict.clone();
                retry.extend(&live_unknown);
                if retry.is_empty() {
                    return Ok(());
                }
                let cmd = OutCommand::new(
                    PrOutAction::RegisterAndIgnoreExistingKey,
                    ReservationKey(0),
                    req.new_key,
                )
                .flags(flags);
                let results = self.fan_out(&retry, Phase::IgnoreRetry, |_| cmd).await;
                let mut fails = Vec::new();
                for (i, step) in results {
                    match &step.result {
                        Ok(()) => self.set_reg(report, i, PathRegistration::Changed),
                        Err(f) if f.is_path_failure() => {
                            self.set_reg(report, i, PathRegistration::Unknown)
                        }
                        Err(f) => fails.push(f.clone()),
                    }
                    report.steps.push(step);
                }
                if fails.is_empty() {
                    report.notes.push(format!(
                        "{} path(s) had a conflict or no answer: registered with REGISTER AND \
                         IGNORE EXISTING KEY",
                        retry.len()
                    ));
                    Ok(())
                } else {
                    Err(self.failed(what, decisive(&fails.iter().collect::<Vec<_>>()), report))
                }
            }
            ConflictPolicy::Rollback => {
                let mut undo: Vec<usize> = ok.clone();
                if unknown_rollback_safe {
                    undo.extend(&unknown);
                } else if !unknown.is_empty() {
                    report.notes.push(
                        "rollback: paths without an answer are left as they are (their earlier \
                         key cannot be told apart from the new one)"
                            .into(),
                    );
                }
                self.rollback(req, flags, &ok, &undo, report).await;
                Err(self.failed(what, decisive_failure, report))
            }
        }
    }

    async fn rollback(
        &self,
        req: &RegisterRequest,
        flags: PrOutFlags,
        ok: &[usize],
        undo: &[usize],
        report: &mut Report,
    ) {
        if req.old_key == req.new_key && !req.ignore_existing {
            for &i in ok {
                self.set_reg(report, i, PathRegistration::Unchanged);
            }
            return;
        }
        let cmd = if req.ignore_existing {
            OutCommand::new(
                PrOutAction::RegisterAndIgnoreExistingKey,
                ReservationKey(0),
                req.old_key,
            )
        } else {
            OutCommand::new(PrOutAction::Register, req.new_key, req.old_key)
        }
        .flags(flags & PrOutFlags::ALL_TG_PT);
        let results = self.fan_out(undo, Phase::Rollback, |_| cmd).await;
        for (i, step) in results {
            let was_ok = ok.contains(&i);
            let state = match &step.result {
                Ok(()) => PathRegistration::RolledBack,
                // A REGISTER with the new key as the current key conflicts on a path that
                // never took the change: it is unchanged.
                Err(f) if f.is_reservation_conflict() && !was_ok && !req.ignore_existing => {
                    PathRegistration::Unchanged
                }
                Err(_) => PathRegistration::Unknown,
            };
            self.set_reg(report, i, state);
            report.steps.push(step);
        }
        report
            .notes
            .push("rollback: registration changes undone (see registrations)".into());
    }

    // ---------------------------------------------------------------------------------
    // RESERVE / RELEASE / CLEAR / PREEMPT / REGISTER AND MOVE
    // ---------------------------------------------------------------------------------

    /// RESERVE through one path, failing over to the next usable path on path failures
    /// and on RESERVATION CONFLICT (a path that just came back may not be registered yet).
    /// If every path conflicts while some are unusable, and the reservation is already held
    /// by this host with the same type (on an unusable path), it succeeds.
    pub async fn reserve(&self, key: ReservationKey, ty: ReservationType) -> Result<Report> {
        let mut report = Report::new(&self.name);
        let cmd = OutCommand::new(PrOutAction::Reserve, key, ReservationKey(0)).typed(ty);
        let request = exec::encode_out(&exec::prout_of(&cmd))?;
        self.check_key(None, key, &mut report).await?;
        self.refresh_if_stale(&mut report).await;
        match self
            .one_path(
                Phase::Initial,
                Command::Out(cmd),
                &request,
                true,
                &mut report,
            )
            .await
        {
            Ok(_) => {}
            Err(f) => {
                let conflict = f
                    .decisive
                    .as_ref()
                    .is_some_and(Failure::is_reservation_conflict);
                if !(f.failed_paths && conflict) {
                    return Err(self.one_path_error("RESERVE", f, &report));
                }
                match self.hold_check(key, &mut report).await {
                    Ok(HoldCheck::Confirmed(tc)) if tc == ty.code() => report.notes.push(
                        "RESERVE conflicted, but this host already holds the reservation \
                         through an unusable path"
                            .into(),
                    ),
                    _ => return Err(self.one_path_error("RESERVE", f, &report)),
                }
            }
        }
        self.set_hold(
            Some(Hold {
                key,
                reservation_type: ty,
            }),
            &mut report,
        )
        .await;
        Ok(report)
    }

    /// RELEASE on every usable path. If the reservation is still held by `key` afterwards
    /// (the holder path is unusable) and the safety check confirms this host took it, the
    /// release workaround runs: suspend the map without flushing, PREEMPT our own key on a
    /// usable path, RELEASE there, re-register every usable path, resume. A type other than
    /// the held one is refused ([`Error::TypeMismatch`], a reservation conflict).
    pub async fn release(&self, key: ReservationKey, ty: ReservationType) -> Result<Report> {
        let mut report = Report::new(&self.name);
        exec::encode_out(&exec::prout_of(
            &OutCommand::new(PrOutAction::Release, key, ReservationKey(0)).typed(ty),
        ))?;
        self.check_key(None, key, &mut report).await?;
        self.refresh_if_stale(&mut report).await;
        self.release_in(key, ty, false, &mut report).await?;
        self.set_hold(None, &mut report).await;
        Ok(report)
    }

    /// Returns whether the workaround also unregistered (when `unregister`).
    async fn release_in(
        &self,
        key: ReservationKey,
        ty: ReservationType,
        unregister: bool,
        report: &mut Report,
    ) -> Result<bool> {
        let targets = self.usable();
        if targets.is_empty() {
            return Err(Error::NoUsablePath {
                lun: self.name.clone(),
            });
        }
        let phase = if unregister {
            Phase::ReleaseFirst
        } else {
            Phase::Initial
        };
        let cmd = OutCommand::new(PrOutAction::Release, key, ReservationKey(0)).typed(ty);
        let results = self.fan_out(&targets, phase, |_| cmd).await;
        let mut any_ok = false;
        let mut fails = Vec::new();
        for (_, s) in results {
            match &s.result {
                Ok(()) => any_ok = true,
                Err(f) => fails.push(f.clone()),
            }
            report.steps.push(s);
        }
        if !any_ok {
            return Err(self.failed(
                "RELEASE",
                decisive(&fails.iter().collect::<Vec<_>>()),
                report,
            ));
        }
        match self.hold_check(key, report).await? {
            HoldCheck::NotHeld => Ok(false),
            HoldCheck::Unconfirmed(_) => Err(self.safety_refusal(key, report)),
            HoldCheck::Confirmed(tc) if tc != ty.code() => Err(Error::TypeMismatch {
                lun: self.name.clone(),
                requested: ty,
                held: tc,
                report: Box::new(report.clone()),
            }),
            HoldCheck::Confirmed(_) => {
                report.notes.push(
                    "the path holding the reservation is not usable: release workaround \
                     (suspend, PREEMPT own key, RELEASE, re-register, resume)"
                        .into(),
                );
                let work = if unregister {
                    PreemptWork::ReleaseUnregister
                } else {
                    PreemptWork::Release
                };
                self.self_preempt(key, key, PrOutAction::Preempt, ty, work, report)
                    .await?;
                Ok(unregister)
            }
        }
    }

    /// CLEAR through one path with failover on path failures; then multipathd's prstatus
    /// (and, with `reservation_key file`, the stored key) is unset.
    pub async fn clear(&self, key: ReservationKey) -> Result<Report> {
        let mut report = Report::new(&self.name);
        let cmd = OutCommand::new(PrOutAction::Clear, key, ReservationKey(0));
        let request = exec::encode_out(&exec::prout_of(&cmd))?;
        self.check_key(None, key, &mut report).await?;
        self.refresh_if_stale(&mut report).await;
        self.initial_one_path(cmd, &request, "CLEAR", &mut report)
            .await?;
        *lock(&self.hold) = None;
        if let Some(d) = &self.daemon {
            match d.unset_prstatus(&self.name).await {
                Ok(()) => report.notes.push("multipathd: unsetprstatus".into()),
                Err(e) => report
                    .notes
                    .push(format!("multipathd unsetprstatus failed: {e}")),
            }
        }
        if let Some(mut c) = self.configured_key()
            && c.source == KeySource::File
        {
            c.key = ReservationKey(0);
            *lock(&self.configured) = Some(c);
            if let Some(d) = &self.daemon
                && let Err(e) = d.unset_prkey(&self.name).await
            {
                report
                    .notes
                    .push(format!("multipathd unsetprkey failed: {e}"));
            }
        }
        Ok(report)
    }

    /// PREEMPT (or PREEMPT AND ABORT with `abort`) of `victim` by `key`.
    ///
    /// - `victim` holds an all-registrants reservation (READ RESERVATION key 0) and is 0:
    ///   SA key 0 removes every other registration, our other paths' included, so it runs
    ///   as a self-preemption: suspend, PREEMPT, re-register our paths, resume.
    /// - `victim == key` (self-preempt): the same sequence.
    /// - otherwise one path with failover on path failures.
    ///
    /// When the victim held the reservation, this host records that it holds it now.
    pub async fn preempt(
        &self,
        key: ReservationKey,
        victim: ReservationKey,
        ty: ReservationType,
        abort: bool,
    ) -> Result<Report> {
        let mut report = Report::new(&self.name);
        let action = if abort {
            PrOutAction::PreemptAndAbort
        } else {
            PrOutAction::Preempt
        };
        let cmd = OutCommand::new(action, key, victim).typed(ty);
        let request = exec::encode_out(&exec::prout_of(&cmd))?;
        self.check_key(None, key, &mut report).await?;
        self.refresh_if_stale(&mut report).await;
        let holder = match self.read_reservation_in(&mut report).await {
            Ok(i) => i.reservation.map(|r| r.key),
            Err(e) => {
                report.notes.push(format!(
                    "could not read the reservation before preempting: {e}"
                ));
                None
            }
        };
        let preempting_reservation = holder == Some(victim);
        if preempting_reservation && victim.is_zero() {
            report
                .notes
                .push("preempting an all-registrants reservation: self-preempt sequence".into());
            self.self_preempt(key, victim, action, ty, PreemptWork::None, &mut report)
                .await?;
        } else if victim == key {
            report
                .notes
                .push("preempting our own key: self-preempt sequence".into());
            self.self_preempt(key, victim, action, ty, PreemptWork::None, &mut report)
                .await?;
        } else {
            self.initial_one_path(cmd, &request, action.name(), &mut report)
                .await?;
        }
        if preempting_reservation {
            self.set_hold(
                Some(Hold {
                    key,
                    reservation_type: ty,
                }),
                &mut report,
            )
            .await;
        }
        Ok(report)
    }

    /// REGISTER with SPEC_I_PT: registers `new_key` for this host's paths **and** for the
    /// I_T nexuses the TransportIDs `ids` name. As libmpathpersist does, the command with
    /// SPEC_I_PT and the TransportIDs is sent once, through the first usable path (failing
    /// over to the next on a path failure: the TransportIDs must be registered once only,
    /// a second SPEC_I_PT registration of the same nexuses is a RESERVATION CONFLICT); the
    /// other usable paths then get the plain REGISTER (SPEC_I_PT cleared) as in
    /// [`register`](Self::register), with its conflict policy. `req` must be a REGISTER
    /// (not REGISTER AND IGNORE EXISTING KEY, which cannot carry SPEC_I_PT) to a non-zero
    /// key.
    ///
    /// What a rollback cannot undo: the registrations of the nexuses named by `ids`
    /// (only those initiators can unregister them). Under [`ConflictPolicy::Rollback`] a
    /// failure of the fan-out unregisters this host's first path again and says so in the
    /// report; the named nexuses stay registered.
    pub async fn register_spec_i_pt(
        &self,
        req: RegisterRequest,
        ids: &[TransportId<'_>],
    ) -> Result<Report> {
        let mut report = Report::new(&self.name);
        let mut flags = PrOutFlags::empty();
        if req.aptpl {
            flags |= PrOutFlags::APTPL;
        }
        let all_tg_pt = req.all_tg_pt.unwrap_or(self.options.all_tg_pt);
        let mut p = PrOut::register(req.old_key, req.new_key).with_spec_i_pt(ids);
        if req.ignore_existing {
            p.action = PrOutAction::RegisterAndIgnoreExistingKey;
        }
        if req.aptpl {
            p = p.with_aptpl();
        }
        if all_tg_pt {
            p = p.with_all_tg_pt();
            flags |= PrOutFlags::ALL_TG_PT;
        }
        if req.new_key.is_zero() {
            return Err(Error::Config {
                path: self.name.clone(),
                reason: "REGISTER with SPEC_I_PT needs a non-zero new key".into(),
            });
        }
        let request = exec::encode_out(&p)?;
        let cmd = OutCommand::new(req.action(), req.old_key, req.new_key).flags(p.flags);
        let revert = self.check_key(Some(&req), req.new_key, &mut report).await?;
        let r = self
            .register_spec_i_pt_in(&req, cmd, &request, flags, &mut report)
            .await;
        match r {
            Ok(()) => Ok(report),
            Err(e) => {
                self.revert_key(revert).await;
                Err(e)
            }
        }
    }

    async fn register_spec_i_pt_in(
        &self,
        req: &RegisterRequest,
        cmd: OutCommand,
        request: &Request,
        flags: PrOutFlags,
        report: &mut Report,
    ) -> Result<()> {
        self.refresh_if_stale(report).await;
        let first = match self
            .one_path(Phase::Initial, Command::Out(cmd), request, false, report)
            .await
        {
            Ok(i) => i,
            Err(f) => return Err(self.one_path_error("REGISTER (SPEC_I_PT)", f, report)),
        };
        report.notes.push(format!(
            "SPEC_I_PT: the TransportIDs were registered through {}; SPEC_I_PT cleared for \
             the other paths",
            self.path_name(first)
        ));
        let policy = req.policy.unwrap_or(self.options.conflict_policy);
        if let Err(e) = self.register_fanout_except(req, Some(first), report).await {
            if policy == ConflictPolicy::Rollback {
                let undo = OutCommand::new(PrOutAction::Register, req.new_key, req.old_key)
                    .flags(flags & !PrOutFlags::APTPL);
                let step = self.send_out(first, Phase::Rollback, undo).await;
                let undone = step.is_ok();
                report.steps.push(step);
                if undone {
                    self.set_reg(report, first, PathRegistration::RolledBack);
                }
                report.notes.push(
                    "rollback: the nexuses named by the TransportIDs stay registered (only \
                     their initiators can unregister them)"
                        .into(),
                );
            }
            return Err(replace_report(e, report));
        }
        if req.aptpl {
            self.aptpl.store(true, Ordering::Relaxed);
        } else {
            self.aptpl.store(false, Ordering::Relaxed);
        }
        self.key_change(req, report).await?;
        self.after_register(req, report).await;
        Ok(())
    }

    /// REPLACE LOST RESERVATION (SPC-5): after the device server lost a reservation (it
    /// reports the "previous reservation lost" sense), `new_key` (this host's registered
    /// key) takes a new reservation of type `ty`. Sent through one path with failover on
    /// path failures, like RESERVE; recorded as this host's hold for the safety check. The
    /// device then holds the registration of that one I_T nexus only, so `new_key` is
    /// registered on every other usable path afterwards (REGISTER AND IGNORE EXISTING KEY,
    /// as [`register`](Self::register) fans out).
    pub async fn replace_lost_reservation(
        &self,
        new_key: ReservationKey,
        ty: ReservationType,
    ) -> Result<Report> {
        let mut report = Report::new(&self.name);
        let cmd = OutCommand::new(
            PrOutAction::ReplaceLostReservation,
            ReservationKey(0),
            new_key,
        )
        .typed(ty);
        let request = exec::encode_out(&exec::prout_of(&cmd))?;
        self.check_key(None, new_key, &mut report).await?;
        self.refresh_if_stale(&mut report).await;
        self.initial_one_path(cmd, &request, "REPLACE LOST RESERVATION", &mut report)
            .await?;
        let Some(first) = report
            .steps
            .iter()
            .rev()
            .find(|s| s.is_ok())
            .and_then(|s| self.paths.iter().position(|p| p.name() == s.path))
        else {
            return Err(self.failed("REPLACE LOST RESERVATION", None, &report));
        };
        self.set_hold(
            Some(Hold {
                key: new_key,
                reservation_type: ty,
            }),
            &mut report,
        )
        .await;
        // The device kept only the issuing nexus's registration: register the key on the
        // other usable paths again, as multipathd would when they come back.
        let req = RegisterRequest::register_ignore(new_key);
        if let Err(e) = self
            .register_fanout_except(&req, Some(first), &mut report)
            .await
        {
            return Err(replace_report(e, &report));
        }
        self.after_register(&req, &mut report).await;
        Ok(report)
    }

    /// REGISTER AND MOVE through one path with failover on path failures: moves the
    /// reservation held with `key` to the I_T nexus `destination` (through
    /// `relative_target_port`), registered with `dest_key`. `unreg` unregisters the
    /// issuing nexus afterwards. libmpathpersist refuses this action on multipath maps.
    #[allow(clippy::too_many_arguments)]
    pub async fn register_and_move(
        &self,
        key: ReservationKey,
        dest_key: ReservationKey,
        ty: ReservationType,
        destination: &TransportId<'_>,
        relative_target_port: u16,
        unreg: bool,
        aptpl: bool,
    ) -> Result<Report> {
        let mut report = Report::new(&self.name);
        let mut p = PrOut::register_and_move(key, dest_key, ty, destination, relative_target_port);
        if unreg {
            p = p.with_unreg();
        }
        if aptpl {
            p = p.with_aptpl();
        }
        let request = exec::encode_out(&p)?;
        let cmd = OutCommand::new(PrOutAction::RegisterAndMove, key, dest_key)
            .typed(ty)
            .flags(p.flags);
        self.check_key(None, key, &mut report).await?;
        self.refresh_if_stale(&mut report).await;
        self.initial_one_path(cmd, &request, "REGISTER AND MOVE", &mut report)
            .await?;
        self.set_hold(None, &mut report).await;
        Ok(report)
    }

    /// Re-registers `key` on the path `name` and marks it usable: what multipathd does when a
    /// path comes back (REGISTER AND IGNORE EXISTING KEY with the map's key). For LUNs
    /// without multipathd.
    pub async fn reinstate_path(&self, name: &str, key: ReservationKey) -> Result<Report> {
        let mut report = Report::new(&self.name);
        let Some(idx) = self.paths.iter().position(|p| p.name() == name) else {
            return Err(Error::Config {
                path: self.name.clone(),
                reason: format!("no path named {name}"),
            });
        };
        if let Some(p) = self.paths.get(idx) {
            p.set_state(PathState::Usable);
        }
        if key.is_zero() {
            return Ok(report);
        }
        let cmd = OutCommand::new(
            PrOutAction::RegisterAndIgnoreExistingKey,
            ReservationKey(0),
            key,
        )
        .flags(self.default_flags());
        let step = self.send_out(idx, Phase::Reregister, cmd).await;
        let failed = step.result.clone().err();
        report.steps.push(step);
        match failed {
            None => Ok(report),
            Some(f) => Err(self.failed("re-registering a returning path", Some(f), &report)),
        }
    }

    /// Names of the usable paths, in order.
    pub fn usable_paths(&self) -> Vec<&str> {
        self.paths
            .iter()
            .filter(|p| p.is_usable())
            .map(Path::name)
            .collect()
    }
}
