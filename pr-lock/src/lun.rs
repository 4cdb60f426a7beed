//! Locks enforced by the LUN: SCSI persistent reservations through the front door
//! (pr-multipath's blocking [`Lun`]), so that a host that does not hold the lock cannot
//! write, whatever it believes.
//!
//! - **Exclusive**: this host's key is registered on every path (REGISTER AND IGNORE
//!   EXISTING KEY) and reserves **Write Exclusive, Registrants Only** (type 5). Only
//!   registered I_T nexuses may write: every path of this host (plain Write Exclusive
//!   would let only the one path that sent RESERVE write, breaking multipath IO), and no
//!   other host, because acquiring refuses (or, forced, fences) every other registered key.
//!   Other hosts can still read (a backup, a migration target probing the disk).
//! - **Shared**: the key is registered on every path and reserves **Write Exclusive, All
//!   Registrants** (type 7): every sharer is a holder, all of them may write, unregistered
//!   hosts may not, the reservation lapses with the last sharer's registration, and an
//!   exclusive RESERVE conflicts while any sharer holds it (and the other way round).
//!
//! The RESERVE itself decides a race: of two hosts acquiring at once, the second RESERVE
//! gets RESERVATION CONFLICT; the loser removes its registration and reports the winner
//! ([`Error::Held`]). Acquiring a LUN another host holds fails with its key, unless forced,
//! which fences it (PREEMPT AND ABORT by default, through [`pr_multipath::blocking::fence`])
//! and takes the reservation. Release removes what acquire added: the reservation (if this
//! host took it) and the registration.

use pr_core::prin::Reservation;
use pr_core::types::{ReservationKey, ReservationType};
use pr_multipath::blocking::{self, Lun};
use pr_multipath::{FenceAction, FleetOptions, LunOutcome, RegisterRequest};

use crate::Mode;
use crate::error::{Error, Result};

/// The reservation type of an exclusive lock.
pub const EXCLUSIVE_TYPE: ReservationType = ReservationType::WriteExclusiveRegistrantsOnly;
/// The reservation type of a shared lock.
pub const SHARED_TYPE: ReservationType = ReservationType::WriteExclusiveAllRegistrants;

/// The reservation type a lock of `mode` holds.
pub fn reservation_type(mode: Mode) -> ReservationType {
    match mode {
        Mode::Exclusive => EXCLUSIVE_TYPE,
        Mode::Shared => SHARED_TYPE,
    }
}

/// How a LUN lock is taken.
#[derive(Clone, Debug, Default)]
pub struct LunLockOptions {
    /// Fence other holders instead of failing. Only for a caller that knows they are dead
    /// or must lose the disk (a cluster manager, or a file lock on a shared filesystem
    /// that says so).
    pub force: bool,
    /// What forcing sends: PREEMPT AND ABORT (default) or PREEMPT (for targets where
    /// PREEMPT AND ABORT is a problem; see [`FenceAction`]).
    pub fence_action: FenceAction,
    /// This key is used by this lock alone: a LUN where the key is registered already is
    /// refused with [`Error::Held`] naming it. For a host that holds several locks under
    /// one key from separate processes (a libvirt hook's holder per domain): re-acquiring
    /// with a registered key would succeed, and releasing either lock would drop the
    /// other's reservation and registration. The refusal also covers a registration a
    /// killed holder left behind, which stays until [`release_key`] removes it. Callers
    /// serialise their acquires (the check and the REGISTER are two commands).
    pub refuse_own_registration: bool,
}

/// A LUN lock held by this host: its key registered, and the reservation. Dropping it
/// releases it like [`release`](Self::release) (errors then only logged), blocking on the
/// front door's runtime thread: do not drop one inside a task of that runtime, and use
/// [`keep`](Self::keep) for a lock that must outlive this value.
#[derive(Debug)]
pub struct LunLock {
    lun: Lun,
    key: ReservationKey,
    mode: Mode,
    released: bool,
}

/// What the LUN shows now: keys, and the reservation.
struct State {
    keys: Vec<ReservationKey>,
    reservation: Option<Reservation>,
}

fn read_state(lun: &Lun) -> Result<State> {
    let keys = lun.read_keys()?.keys;
    let reservation = lun.read_reservation()?.reservation;
    Ok(State { keys, reservation })
}

impl State {
    /// Other hosts' keys, the reservation holder's first, each once.
    fn others(&self, key: ReservationKey) -> Vec<ReservationKey> {
        let mut out = Vec::new();
        let holder = self.reservation.as_ref().map(|r| r.key);
        for k in holder.into_iter().chain(self.keys.iter().copied()) {
            if !k.is_zero() && k != key && !out.contains(&k) {
                out.push(k);
            }
        }
        out
    }

    fn res_type(&self) -> Option<ReservationType> {
        self.reservation.as_ref().and_then(|r| r.reservation_type())
    }

    fn describe(&self) -> String {
        match &self.reservation {
            Some(r) => match r.reservation_type() {
                Some(t) => format!("{t} reservation"),
                None => format!("reservation of type code {:#x}", r.type_code),
            },
            None => "registrations, no reservation".to_owned(),
        }
    }

    /// The other hosts whose hold stops a lock of `mode` by `key`.
    fn blockers(&self, key: ReservationKey, mode: Mode) -> Vec<ReservationKey> {
        match mode {
            // Any other registrant could write under Write Exclusive, Registrants Only.
            Mode::Exclusive => self.others(key),
            // Sharing is refused only by another host's reservation of another type.
            Mode::Shared => match (&self.reservation, self.res_type()) {
                (Some(_), Some(SHARED_TYPE)) | (None, _) => Vec::new(),
                (Some(r), _) if r.key == key => Vec::new(),
                (Some(_), _) => self.others(key),
            },
        }
    }
}

fn held(lun: &Lun, state: &State, holders: Vec<ReservationKey>, forceable: bool) -> Error {
    Error::Held {
        lun: lun.name().to_owned(),
        holders,
        held: state.describe(),
        forceable,
    }
}

fn unregister(lun: &Lun, key: ReservationKey) -> Result<()> {
    lun.register(RegisterRequest::register_ignore(ReservationKey::ZERO).current_key(key))?;
    Ok(())
}

impl LunLock {
    /// Takes a lock of `mode` on `lun` with this host's `key` (distinct per host: SCSI
    /// tells hosts apart only by key). Fails with [`Error::Held`], naming the other
    /// hosts' keys, when another host holds the LUN (unless [`LunLockOptions::force`]),
    /// or with the front door's error; on failure nothing this call added is left.
    pub fn acquire(
        lun: &Lun,
        key: ReservationKey,
        mode: Mode,
        options: &LunLockOptions,
    ) -> Result<LunLock> {
        if key.is_zero() {
            return Err(Error::ZeroKey);
        }
        let ty = reservation_type(mode);
        let before = read_state(lun)?;
        let was_registered = before.keys.contains(&key);
        if was_registered && options.refuse_own_registration {
            return Err(Error::Held {
                lun: lun.name().to_owned(),
                holders: vec![key],
                held: "this host's own key, registered already: another lock of this host \
                       holds the disk, or a killed holder left its registration"
                    .into(),
                forceable: false,
            });
        }
        let blockers = before.blockers(key, mode);
        if !blockers.is_empty() && !options.force {
            return Err(held(lun, &before, blockers, true));
        }
        lun.register(RegisterRequest::register_ignore(key))?;
        let taken = (|| {
            if !blockers.is_empty() {
                fence_all(lun, key, &blockers, ty, options)?;
            }
            take_reservation(lun, key, mode)
        })();
        match taken {
            Ok(()) => {
                tracing::info!(lun = lun.name(), %key, %mode, "LUN lock acquired");
                Ok(LunLock {
                    lun: lun.clone(),
                    key,
                    mode,
                    released: false,
                })
            }
            Err(e) => {
                if !was_registered && let Err(u) = unregister(lun, key) {
                    tracing::warn!(lun = lun.name(), %key, error = %u,
                        "could not remove the registration after a failed acquire");
                }
                Err(e)
            }
        }
    }

    /// The LUN.
    pub fn lun(&self) -> &Lun {
        &self.lun
    }

    /// This host's key.
    pub fn key(&self) -> ReservationKey {
        self.key
    }

    /// The mode held.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Releases the lock: the reservation (exclusive) and this host's registration (with
    /// the last sharer's registration, the shared reservation lapses).
    pub fn release(mut self) -> Result<()> {
        self.released = true;
        release_key(&self.lun, self.key, self.mode)
    }

    /// Keeps the lock on the LUN when this value goes (for a lock that must outlive the
    /// process, released later with [`release_key`]); returns the key.
    pub fn keep(mut self) -> ReservationKey {
        self.released = true;
        self.key
    }
}

impl Drop for LunLock {
    fn drop(&mut self) {
        if !self.released
            && let Err(e) = release_key(&self.lun, self.key, self.mode)
        {
            tracing::warn!(lun = self.lun.name(), key = %self.key, error = %e,
                "could not release the LUN lock on drop");
        }
    }
}

/// Releases the lock of `mode` that `key` holds on `lun` (taken by this or an earlier
/// process of this host): RELEASE if `key` holds an exclusive reservation, then
/// unregister every path. [`Error::NotHeld`] when `key` is not registered.
pub fn release_key(lun: &Lun, key: ReservationKey, mode: Mode) -> Result<()> {
    if key.is_zero() {
        return Err(Error::ZeroKey);
    }
    let state = read_state(lun)?;
    if !state.keys.contains(&key) {
        return Err(Error::NotHeld {
            lun: lun.name().to_owned(),
            key,
        });
    }
    if let Some(r) = &state.reservation
        && r.key == key
        && let Some(t) = r.reservation_type()
    {
        lun.release(key, t)?;
    }
    unregister(lun, key)?;
    tracing::info!(lun = lun.name(), %key, %mode, "LUN lock released");
    Ok(())
}

/// Fences each of `victims` with this host's `key` (registered), the reservation going
/// to `key` with type `ty` where a victim held it.
fn fence_all(
    lun: &Lun,
    key: ReservationKey,
    victims: &[ReservationKey],
    ty: ReservationType,
    options: &LunLockOptions,
) -> Result<()> {
    let fleet = FleetOptions {
        fence_action: options.fence_action,
        concurrency: 1,
        ..FleetOptions::default()
    };
    for &victim in victims {
        let results = blocking::fence(std::slice::from_ref(lun), key, victim, ty, &fleet)?;
        for r in results {
            match r.outcome() {
                LunOutcome::Ok | LunOutcome::AlreadyFenced => {
                    tracing::warn!(lun = lun.name(), %key, %victim, "fenced the holder (forced)");
                }
                LunOutcome::Failed(reason) => {
                    return Err(Error::FenceFailed {
                        lun: lun.name().to_owned(),
                        victim,
                        reason,
                    });
                }
                LunOutcome::Cancelled => {
                    return Err(Error::FenceFailed {
                        lun: lun.name().to_owned(),
                        victim,
                        reason: "cancelled".into(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Makes the reservation `key`'s, of the type of `mode` (`key` registered, no other host
/// in the way unless racing): nothing if it is already; a shared reservation this host is
/// the last registrant of is released first when going exclusive. A RESERVATION CONFLICT
/// means another host won: [`Error::Held`] naming it.
fn take_reservation(lun: &Lun, key: ReservationKey, mode: Mode) -> Result<()> {
    let ty = reservation_type(mode);
    let state = read_state(lun)?;
    match (&state.reservation, state.res_type()) {
        (Some(r), Some(t)) if t == ty && (r.key == key || t.is_all_registrants()) => {
            return Ok(());
        }
        // Left from a forced takeover of a shared LUN (every sharer fenced, this host the
        // last registrant and so a holder), or from this host itself: release it to
        // reserve with the exclusive type.
        (Some(_), Some(t)) if t.is_all_registrants() && state.others(key).is_empty() => {
            lun.release(key, t)?;
        }
        (Some(r), Some(t)) if r.key == key => {
            lun.release(key, t)?;
        }
        _ => {}
    }
    match lun.reserve(key, ty) {
        Ok(_) => {
            if mode == Mode::Exclusive {
                // Another host registered between our check and our RESERVE: it is losing a
                // race (its RESERVE will conflict and it will unregister). While it stays
                // registered it could write; say so.
                let others = read_state(lun)?.others(key);
                if !others.is_empty() {
                    tracing::warn!(lun = lun.name(), %key, ?others,
                        "exclusive reservation taken while other keys are registered \
                         (racing acquirers, expected to unregister)");
                }
            }
            Ok(())
        }
        Err(e) if e.is_reservation_conflict() => {
            let now = read_state(lun)?;
            let holders = now.others(key);
            Err(held(lun, &now, holders, true))
        }
        Err(e) => Err(e.into()),
    }
}
