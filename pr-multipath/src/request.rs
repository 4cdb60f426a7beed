//! The one request type of every PR OUT action, and the one answer type of every PR IN
//! action, from a face (Rust, C, Python, a command line, a daemon) down to the engine: a
//! face turns its language's arguments into an [`OutRequest`] once and calls
//! [`MultipathLun::execute`]; pr-multipath decides the paths and pr-core encodes the
//! parameter list once per command. TransportIDs are held decoded (owned) and encoded
//! only by pr-core, on the way to the wire.

use pr_core::prin::Capabilities;
use pr_core::transport::Transport;
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, PrOutAction, ReservationKey, ReservationType};

use crate::error::Result;
use crate::lun::{FullStatusInfo, KeysInfo, MultipathLun, RegisterRequest, ReservationInfo};
use crate::report::Report;

/// One PERSISTENT RESERVE OUT action on a LUN, with everything it needs.
///
/// With the `serde` feature: one member named for the action, holding its fields, e.g.
/// `{"reserve": {"key": "0x1234", "reservation_type": "write_exclusive"}}` or
/// `{"register": {"request": {...}, "spec_i_pt": [...]}}` (a [`RegisterRequest`] and
/// TransportIDs as `{"protocol", "text", "hex"}`). It is not deserialized.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum OutRequest {
    /// REGISTER or REGISTER AND IGNORE EXISTING KEY on every usable path
    /// ([`MultipathLun::register`]); with TransportIDs, REGISTER with SPEC_I_PT
    /// ([`MultipathLun::register_spec_i_pt`]).
    Register {
        /// Keys, flags and the conflict policy.
        request: RegisterRequest,
        /// SPEC_I_PT TransportIDs (empty: none).
        spec_i_pt: Vec<TransportId<'static>>,
    },
    /// RESERVE.
    Reserve {
        /// This host's key.
        key: ReservationKey,
        /// The type.
        reservation_type: ReservationType,
    },
    /// RELEASE.
    Release {
        /// This host's key.
        key: ReservationKey,
        /// The type of the reservation being released.
        reservation_type: ReservationType,
    },
    /// CLEAR: every registration and the reservation go.
    Clear {
        /// This host's key.
        key: ReservationKey,
    },
    /// PREEMPT: remove `victim`'s registrations (and take its reservation).
    Preempt {
        /// This host's key.
        key: ReservationKey,
        /// The key to remove (0 with an all-registrants reservation: every other key).
        victim: ReservationKey,
        /// The type of the reservation taken.
        reservation_type: ReservationType,
    },
    /// PREEMPT AND ABORT: as PREEMPT, also aborting the victim's outstanding commands.
    PreemptAndAbort {
        /// This host's key.
        key: ReservationKey,
        /// The key to remove.
        victim: ReservationKey,
        /// The type of the reservation taken.
        reservation_type: ReservationType,
    },
    /// REGISTER AND MOVE: register `destination` with `destination_key` and move the
    /// reservation to it.
    RegisterAndMove {
        /// This host's key (the holder's).
        key: ReservationKey,
        /// The key registered for the destination.
        destination_key: ReservationKey,
        /// The reservation's type.
        reservation_type: ReservationType,
        /// The destination I_T nexus's initiator.
        destination: TransportId<'static>,
        /// The destination's relative target port identifier.
        relative_target_port: u16,
        /// UNREG: unregister this nexus afterwards.
        unregister: bool,
        /// APTPL.
        aptpl: bool,
    },
    /// REPLACE LOST RESERVATION.
    ReplaceLostReservation {
        /// The new key.
        new_key: ReservationKey,
        /// The type.
        reservation_type: ReservationType,
    },
}

impl OutRequest {
    /// A REGISTER (or REGISTER AND IGNORE, per `request`) without TransportIDs.
    pub fn register(request: RegisterRequest) -> Self {
        OutRequest::Register {
            request,
            spec_i_pt: Vec::new(),
        }
    }

    /// The service action sent for it.
    pub fn action(&self) -> PrOutAction {
        match self {
            OutRequest::Register { request, .. } if request.ignore_existing => {
                PrOutAction::RegisterAndIgnoreExistingKey
            }
            OutRequest::Register { .. } => PrOutAction::Register,
            OutRequest::Reserve { .. } => PrOutAction::Reserve,
            OutRequest::Release { .. } => PrOutAction::Release,
            OutRequest::Clear { .. } => PrOutAction::Clear,
            OutRequest::Preempt { .. } => PrOutAction::Preempt,
            OutRequest::PreemptAndAbort { .. } => PrOutAction::PreemptAndAbort,
            OutRequest::RegisterAndMove { .. } => PrOutAction::RegisterAndMove,
            OutRequest::ReplaceLostReservation { .. } => PrOutAction::ReplaceLostReservation,
        }
    }
}

/// The answer of one PERSISTENT RESERVE IN action.
///
/// With the `serde` feature: one member named for the action, `{"keys": {...}}`,
/// `{"reservation": {...}}`, `{"capabilities": {...}}` or `{"full_status": {...}}`, holding
/// a [`KeysInfo`], [`ReservationInfo`], [`Capabilities`] or [`FullStatusInfo`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum InResult {
    /// READ KEYS.
    Keys(KeysInfo),
    /// READ RESERVATION.
    Reservation(ReservationInfo),
    /// REPORT CAPABILITIES.
    Capabilities(Capabilities),
    /// READ FULL STATUS (every descriptor).
    FullStatus(FullStatusInfo),
}

impl<T: Transport> MultipathLun<T> {
    /// Runs one PR OUT action with its multipath semantics (see the crate's table).
    pub async fn execute(&self, request: &OutRequest) -> Result<Report> {
        match request {
            OutRequest::Register { request, spec_i_pt } if spec_i_pt.is_empty() => {
                self.register(*request).await
            }
            OutRequest::Register { request, spec_i_pt } => {
                self.register_spec_i_pt(*request, spec_i_pt).await
            }
            OutRequest::Reserve {
                key,
                reservation_type,
            } => self.reserve(*key, *reservation_type).await,
            OutRequest::Release {
                key,
                reservation_type,
            } => self.release(*key, *reservation_type).await,
            OutRequest::Clear { key } => self.clear(*key).await,
            OutRequest::Preempt {
                key,
                victim,
                reservation_type,
            } => self.preempt(*key, *victim, *reservation_type).await,
            OutRequest::PreemptAndAbort {
                key,
                victim,
                reservation_type,
            } => {
                self.preempt_and_abort(*key, *victim, *reservation_type)
                    .await
            }
            OutRequest::RegisterAndMove {
                key,
                destination_key,
                reservation_type,
                destination,
                relative_target_port,
                unregister,
                aptpl,
            } => {
                self.register_and_move(
                    *key,
                    *destination_key,
                    *reservation_type,
                    destination,
                    *relative_target_port,
                    *unregister,
                    *aptpl,
                )
                .await
            }
            OutRequest::ReplaceLostReservation {
                new_key,
                reservation_type,
            } => {
                self.replace_lost_reservation(*new_key, *reservation_type)
                    .await
            }
        }
    }

    /// Runs one PR IN action through the first path that answers, growing the
    /// allocation length as the response needs.
    pub async fn pr_in(&self, action: PrInAction) -> Result<InResult> {
        Ok(match action {
            PrInAction::ReadKeys => InResult::Keys(self.read_keys().await?),
            PrInAction::ReadReservation => InResult::Reservation(self.read_reservation().await?),
            PrInAction::ReportCapabilities => {
                InResult::Capabilities(self.report_capabilities().await?)
            }
            PrInAction::ReadFullStatus => InResult::FullStatus(self.read_full_status().await?),
        })
    }
}
