//! [`MultipathLun`]: one logical unit reached through several paths, and every persistent
//! reservation action on it with multipath semantics.
//!
//! This file holds the type, its constructors, accessors and options; each concern has a
//! file of its own:
//!
//! | file | concern |
//! | --- | --- |
//! | `send.rs` | one command on one path, the fan-out, one path at a time with failover |
//! | `fanout.rs` | decisions without IO: which paths a REGISTER goes to, what its outcomes call for |
//! | `prin.rs` | PR IN through the map and the READ FULL STATUS / READ KEYS / READ RESERVATION results |
//! | `register.rs` | REGISTER, conflict policies, rollback, key change, unregistering the holder |
//! | `reserve.rs` | RESERVE and CLEAR |
//! | `release.rs` | RELEASE, the type check and the release workaround |
//! | `preempt.rs` | PREEMPT (AND ABORT), self-preempt, preempting all registrants |
//! | `safety.rs` | the safety check, the hold record, the configured-key check |
//! | `special.rs` | REGISTER with SPEC_I_PT, REPLACE LOST RESERVATION, REGISTER AND MOVE |

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pr_core::transport::Transport;
use pr_core::types::{PrOutAction, PrOutFlags, ReservationKey, ReservationType};
use tracing::Instrument;

use crate::config::ConfiguredKey;
use crate::error::{Error, Failure, Result};
use crate::exec::RetryPolicy;
use crate::map_control::MapControl;
use crate::multipathd::Multipathd;
use crate::path::{Path, PathRefresher, PathState};
use crate::report::Report;

mod fanout;
mod preempt;
mod prin;
mod register;
mod release;
mod reserve;
mod safety;
mod send;
mod special;

pub use prin::{FullStatusInfo, KeysInfo, ReservationInfo, StatusEntry};

/// What REGISTER does when some paths answer RESERVATION CONFLICT after others succeeded.
///
/// With the `serde` feature: `"retry_with_ignore"` or `"rollback"` (serialized and
/// deserialized).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
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
///
/// With the `serde` feature: `{"old_key", "new_key", "ignore_existing", "aptpl",
/// "all_tg_pt", "policy"}` (`all_tg_pt` and `policy` `null` for the LUN's default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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
///
/// With the `serde` feature: `{"key": "0x1234", "reservation_type": "write_exclusive"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Hold {
    /// The key it was taken with.
    pub key: ReservationKey,
    /// Its type.
    pub reservation_type: ReservationType,
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

    /// Runs the operation `op` (`RESERVE`, `READ KEYS`, ...) on this LUN inside a
    /// `pr_lun_op` span (fields `lun`, `op`), so that each command's event carries them,
    /// and ends it with one info-level event: `lun`, `op`, `outcome` (`ok` or the error)
    /// and `duration`.
    async fn logged<R>(&self, op: &str, fut: impl Future<Output = Result<R>>) -> Result<R> {
        let span = tracing::info_span!("pr_lun_op", lun = %self.name, op);
        let started = Instant::now();
        let result = fut.instrument(span).await;
        let duration = started.elapsed();
        match &result {
            Ok(_) => {
                tracing::info!(lun = %self.name, op, outcome = "ok", ?duration, "LUN operation")
            }
            Err(e) => {
                tracing::info!(lun = %self.name, op, outcome = %e, ?duration, "LUN operation");
            }
        }
        result
    }

    fn path_views(&self) -> Vec<fanout::PathView<'_>> {
        self.paths
            .iter()
            .map(|p| fanout::PathView {
                name: p.name(),
                usable: p.is_usable(),
                host: p.host(),
            })
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

    /// Names of the usable paths, in order.
    pub fn usable_paths(&self) -> Vec<&str> {
        self.paths
            .iter()
            .filter(|p| p.is_usable())
            .map(Path::name)
            .collect()
    }
}
