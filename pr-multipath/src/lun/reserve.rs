//! RESERVE (with failover, and success when this host already holds it through an
//! unusable path) and CLEAR.

use pr_core::transport::Transport;
use pr_core::types::{PrOutAction, ReservationKey, ReservationType};

use crate::config::KeySource;
use crate::error::{Failure, Result};
use crate::exec;
use crate::report::{Command, OutCommand, Phase, Report};

use super::safety::HoldCheck;
use super::{Hold, MultipathLun, lock};

impl<T: Transport> MultipathLun<T> {
    /// RESERVE through one path, failing over to the next usable path on path failures
    /// and on RESERVATION CONFLICT (a path that just came back may not be registered yet).
    /// If every path conflicts while some are unusable, and the reservation is already held
    /// by this host with the same type (on an unusable path), it succeeds.
    pub async fn reserve(&self, key: ReservationKey, ty: ReservationType) -> Result<Report> {
        self.logged("RESERVE", async {
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
        })
        .await
    }

    /// CLEAR through one path with failover on path failures; then multipathd's prstatus
    /// (and, with `reservation_key file`, the stored key) is unset.
    pub async fn clear(&self, key: ReservationKey) -> Result<Report> {
        self.logged("CLEAR", async {
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
        })
        .await
    }
}
