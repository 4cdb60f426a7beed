//! The safety check (does this host hold the reservation it is about to preempt on the
//! caller's behalf?), the hold record and multipathd's prhold, and the configured-key check.

use pr_core::transport::Transport;
use pr_core::types::ReservationKey;

use crate::config::{ConfiguredKey, KeySource};
use crate::error::{Error, Result};
use crate::multipathd::PrFlag;
use crate::report::Report;

use super::{Hold, MultipathLun, RegisterRequest, lock};

/// The safety check's answer (the TYPE code held, when our key holds the reservation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HoldCheck {
    /// Our key does not hold the reservation.
    NotHeld,
    /// Our key holds it, and our own record or multipathd's prhold says this host took it.
    Confirmed(u8),
    /// Our key holds it, but nothing says this host took it (another node with the same
    /// key may have).
    Unconfirmed(u8),
}

impl<T: Transport> MultipathLun<T> {
    pub(super) async fn we_took_it(&self, key: ReservationKey, report: &mut Report) -> bool {
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
    pub(super) async fn hold_check(
        &self,
        key: ReservationKey,
        report: &mut Report,
    ) -> Result<HoldCheck> {
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

    pub(super) fn safety_refusal(&self, key: ReservationKey, report: &Report) -> Error {
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

    pub(super) async fn set_hold(&self, hold: Option<Hold>, report: &mut Report) {
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
    pub(super) async fn check_key(
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

    pub(super) async fn revert_key(&self, revert: Option<Option<ConfiguredKey>>) {
        let Some(prev) = revert else { return };
        *lock(&self.configured) = prev;
        if let Some(d) = &self.daemon {
            let _ = match prev {
                Some(c) if !c.key.is_zero() => d.set_prkey(&self.name, c.key, c.aptpl).await,
                _ => d.unset_prkey(&self.name).await,
            };
        }
    }
}
