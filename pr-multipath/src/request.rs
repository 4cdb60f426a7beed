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

    /// The SPEC_I_PT tail of a REGISTER's parameter list as pr-core encodes it (the
    /// TRANSPORTID PARAMETER DATA LENGTH, then the TransportIDs), for tools that show the
    /// parameter list; `None` without TransportIDs. A TransportID that cannot be encoded
    /// is left out (executing the request refuses it before anything is sent).
    pub fn spec_i_pt_bytes(&self) -> Option<Vec<u8>> {
        let OutRequest::Register { spec_i_pt, .. } = self else {
            return None;
        };
        if spec_i_pt.is_empty() {
            return None;
        }
        let mut list = Vec::new();
        for t in spec_i_pt {
            let mut b = vec![0u8; t.encoded_len()];
            if t.encode(&mut b).is_ok() {
                list.extend_from_slice(&b);
            }
        }
        let mut out = u32::try_from(list.len())
            .unwrap_or(0)
            .to_be_bytes()
            .to_vec();
        out.extend_from_slice(&list);
        Some(out)
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

/// The fields of a basic PERSISTENT RESERVE OUT (every service action but REGISTER AND
/// MOVE), as a command line, libmpathpersist's `mpath_persistent_reserve_out` or a raw
/// CDB and parameter list carry them: the one place they become an [`OutRequest`]
/// ([`OutRequest::from_basic`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BasicOut {
    /// The service action.
    pub action: PrOutAction,
    /// RESERVATION KEY: this nexus's key.
    pub key: ReservationKey,
    /// SERVICE ACTION RESERVATION KEY: the new key (REGISTER, REGISTER AND IGNORE,
    /// REPLACE LOST RESERVATION) or the victim's (PREEMPT, PREEMPT AND ABORT).
    pub sa_key: ReservationKey,
    /// The CDB's TYPE field (checked only for the actions that use it).
    pub type_code: u8,
    /// APTPL (the register actions).
    pub aptpl: bool,
    /// ALL_TG_PT (the register actions); `None`: pr-multipath chooses.
    pub all_tg_pt: Option<bool>,
    /// SPEC_I_PT TransportIDs: only REGISTER may carry them.
    pub spec_i_pt: Vec<TransportId<'static>>,
}

/// Why a [`BasicOut`] is not a valid request: each is ILLEGAL REQUEST at a device server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BasicOutError {
    /// The action takes a reservation type and this TYPE code names none (INVALID
    /// FIELD IN CDB).
    ReservationType(u8),
    /// TransportIDs with a service action other than REGISTER (SPC: INVALID FIELD IN
    /// PARAMETER LIST).
    SpecIPtWithoutRegister,
    /// REGISTER AND MOVE has a parameter list of its own: build
    /// [`OutRequest::RegisterAndMove`].
    RegisterAndMove,
}

impl core::fmt::Display for BasicOutError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BasicOutError::ReservationType(code) => {
                write!(f, "invalid reservation type {code:#x}")
            }
            BasicOutError::SpecIPtWithoutRegister => {
                f.write_str("TransportIDs (SPEC_I_PT) are only valid with REGISTER")
            }
            BasicOutError::RegisterAndMove => {
                f.write_str("REGISTER AND MOVE has its own parameter list")
            }
        }
    }
}

impl std::error::Error for BasicOutError {}

impl OutRequest {
    /// The request `b` describes; the reservation type is checked only for the actions
    /// that take one (RESERVE, RELEASE, the PREEMPTs, REPLACE LOST RESERVATION).
    pub fn from_basic(b: BasicOut) -> core::result::Result<Self, BasicOutError> {
        let ty = || {
            ReservationType::from_code(b.type_code)
                .ok_or(BasicOutError::ReservationType(b.type_code))
        };
        if !b.spec_i_pt.is_empty() && b.action != PrOutAction::Register {
            return Err(BasicOutError::SpecIPtWithoutRegister);
        }
        Ok(match b.action {
            PrOutAction::Register | PrOutAction::RegisterAndIgnoreExistingKey => {
                OutRequest::Register {
                    request: RegisterRequest {
                        old_key: b.key,
                        new_key: b.sa_key,
                        ignore_existing: b.action == PrOutAction::RegisterAndIgnoreExistingKey,
                        aptpl: b.aptpl,
                        all_tg_pt: b.all_tg_pt,
                        policy: None,
                    },
                    spec_i_pt: b.spec_i_pt,
                }
            }
            PrOutAction::Reserve => OutRequest::Reserve {
                key: b.key,
                reservation_type: ty()?,
            },
            PrOutAction::Release => OutRequest::Release {
                key: b.key,
                reservation_type: ty()?,
            },
            PrOutAction::Clear => OutRequest::Clear { key: b.key },
            PrOutAction::Preempt => OutRequest::Preempt {
                key: b.key,
                victim: b.sa_key,
                reservation_type: ty()?,
            },
            PrOutAction::PreemptAndAbort => OutRequest::PreemptAndAbort {
                key: b.key,
                victim: b.sa_key,
                reservation_type: ty()?,
            },
            PrOutAction::ReplaceLostReservation => OutRequest::ReplaceLostReservation {
                new_key: b.sa_key,
                reservation_type: ty()?,
            },
            PrOutAction::RegisterAndMove => return Err(BasicOutError::RegisterAndMove),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(action: PrOutAction, type_code: u8) -> BasicOut {
        BasicOut {
            action,
            key: ReservationKey(0x11),
            sa_key: ReservationKey(0x22),
            type_code,
            aptpl: false,
            all_tg_pt: None,
            spec_i_pt: Vec::new(),
        }
    }

    #[test]
    fn each_basic_action_becomes_its_request() {
        use PrOutAction::*;
        let (k, v) = (ReservationKey(0x11), ReservationKey(0x22));
        let we = ReservationType::WriteExclusive;
        let cases = [
            (
                Register,
                OutRequest::register(RegisterRequest::register(k, v)),
            ),
            (
                RegisterAndIgnoreExistingKey,
                OutRequest::register(RegisterRequest::register_ignore(v).current_key(k)),
            ),
            (
                Reserve,
                OutRequest::Reserve {
                    key: k,
                    reservation_type: we,
                },
            ),
            (
                Release,
                OutRequest::Release {
                    key: k,
                    reservation_type: we,
                },
            ),
            (Clear, OutRequest::Clear { key: k }),
            (
                Preempt,
                OutRequest::Preempt {
                    key: k,
                    victim: v,
                    reservation_type: we,
                },
            ),
            (
                PreemptAndAbort,
                OutRequest::PreemptAndAbort {
                    key: k,
                    victim: v,
                    reservation_type: we,
                },
            ),
            (
                ReplaceLostReservation,
                OutRequest::ReplaceLostReservation {
                    new_key: v,
                    reservation_type: we,
                },
            ),
        ];
        for (action, want) in cases {
            let got = OutRequest::from_basic(basic(action, 1)).unwrap();
            assert_eq!(got, want, "{action:?}");
            assert_eq!(got.action(), action);
        }
    }

    #[test]
    fn flags_reach_the_register_request() {
        let mut b = basic(PrOutAction::Register, 0);
        b.aptpl = true;
        b.all_tg_pt = Some(false);
        let OutRequest::Register { request, .. } = OutRequest::from_basic(b).unwrap() else {
            panic!("not a REGISTER")
        };
        assert!(request.aptpl);
        assert_eq!(request.all_tg_pt, Some(false));
    }

    #[test]
    fn the_type_is_checked_only_where_it_is_used() {
        // CLEAR and the register actions ignore TYPE; the others need a valid one.
        for a in [
            PrOutAction::Clear,
            PrOutAction::Register,
            PrOutAction::RegisterAndIgnoreExistingKey,
        ] {
            assert!(OutRequest::from_basic(basic(a, 0xf)).is_ok(), "{a:?}");
        }
        for a in [
            PrOutAction::Reserve,
            PrOutAction::Release,
            PrOutAction::Preempt,
            PrOutAction::PreemptAndAbort,
            PrOutAction::ReplaceLostReservation,
        ] {
            assert_eq!(
                OutRequest::from_basic(basic(a, 0xf)),
                Err(BasicOutError::ReservationType(0xf)),
                "{a:?}"
            );
        }
    }

    #[test]
    fn transport_ids_only_with_register_and_move_is_not_basic() {
        let tid = TransportId::Sas {
            address: 0x5001_4050_0000_0001,
        };
        let mut b = basic(PrOutAction::Register, 0);
        b.spec_i_pt = vec![tid.clone()];
        assert!(matches!(
            OutRequest::from_basic(b),
            Ok(OutRequest::Register { spec_i_pt, .. }) if spec_i_pt.len() == 1
        ));
        for a in [
            PrOutAction::RegisterAndIgnoreExistingKey,
            PrOutAction::Reserve,
        ] {
            let mut b = basic(a, 1);
            b.spec_i_pt = vec![tid.clone()];
            assert_eq!(
                OutRequest::from_basic(b),
                Err(BasicOutError::SpecIPtWithoutRegister),
                "{a:?}"
            );
        }
        assert_eq!(
            OutRequest::from_basic(basic(PrOutAction::RegisterAndMove, 1)),
            Err(BasicOutError::RegisterAndMove)
        );
    }
}
