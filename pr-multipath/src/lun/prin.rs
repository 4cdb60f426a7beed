//! PR IN through the map: the walk over the paths in group order, and the four reads
//! (READ KEYS, READ RESERVATION, REPORT CAPABILITIES, READ FULL STATUS) with their owned
//! result types.

use std::time::Instant;

use pr_core::outcome::CommandError;
use pr_core::prin::{Capabilities, FullStatus, ReadKeys, ReadReservation, Reservation, alloc};
use pr_core::transport::{Transport, TransportError};
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, ReservationKey};

use crate::error::{Error, Failure, Result};
use crate::exec;
use crate::path::PathState;
use crate::report::{Command, Phase, Report, Step};

use super::MultipathLun;

/// READ KEYS through the map.
///
/// With the `serde` feature: `{"path": "sdb", "generation": 4, "keys": ["0x1111", "0x2222"]}`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct KeysInfo {
    /// The path that answered.
    pub path: String,
    /// PRGENERATION.
    pub generation: u32,
    /// The keys (one per registered I_T nexus).
    pub keys: Vec<ReservationKey>,
}

/// READ RESERVATION through the map.
///
/// With the `serde` feature: `{"path", "generation", "reservation"}`, `reservation` a
/// [`Reservation`] (`{"key", "scope", "type_code", "type"}`) or `null`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReservationInfo {
    /// The path that answered.
    pub path: String,
    /// PRGENERATION.
    pub generation: u32,
    /// The reservation, if any.
    pub reservation: Option<Reservation>,
}

/// One READ FULL STATUS descriptor, owned.
///
/// With the `serde` feature: `{"key", "all_tg_pt", "holder", "type_code", "type",
/// "relative_target_port", "transport_id_bytes", "transport_id"}`: `type` is the name of
/// `type_code` (`null` for a non-holder's 0 or an obsolete code), `transport_id_bytes` a
/// lower-case hex string, `transport_id` pr-core's `{"protocol", "text", "hex"}` or `null`.
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
///
/// With the `serde` feature: `{"path", "generation", "entries", "alloc_len", "issues"}`,
/// `entries` an array of [`StatusEntry`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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

impl<T: Transport> MultipathLun<T> {
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
        self.logged(action.name(), async {
            let mut report = Report::new(&self.name);
            let (idx, buf) = self.walk_in(action, alloc_len.max(8), &mut report).await?;
            Ok((self.path_name(idx), buf))
        })
        .await
    }

    /// PR IN `action` through the first path that answers, re-issued with a larger
    /// allocation length while pr-core's rule ([`alloc::next_alloc_len`]) says the answer
    /// was (or may have been) cut, at most [`alloc::MAX_ATTEMPTS`] times: the answering
    /// path's index, the response, the last allocation length and how many were sent.
    async fn pr_in_grown(
        &self,
        action: PrInAction,
        report: &mut Report,
    ) -> Result<(usize, Vec<u8>, u16, u32)> {
        let mut alloc = alloc::initial_alloc_len(action);
        let mut issues = 0u32;
        loop {
            issues += 1;
            let (idx, buf) = self.walk_in(action, alloc, report).await?;
            match alloc::next_alloc_len(action, alloc, &buf) {
                Some(next) if issues < alloc::MAX_ATTEMPTS => alloc = next,
                _ => return Ok((idx, buf, alloc, issues)),
            }
        }
    }

    pub(crate) async fn read_keys_in(&self, report: &mut Report) -> Result<KeysInfo> {
        let (idx, buf, _, _) = self.pr_in_grown(PrInAction::ReadKeys, report).await?;
        let rk = ReadKeys::decode(&buf).map_err(|e| self.decode_err(idx, "READ KEYS", e))?;
        Ok(KeysInfo {
            path: self.path_name(idx),
            generation: rk.generation(),
            keys: rk.keys().collect(),
        })
    }

    /// READ KEYS through the first path that answers (grows the allocation length as
    /// needed).
    pub async fn read_keys(&self) -> Result<KeysInfo> {
        self.logged("READ KEYS", async {
            self.read_keys_in(&mut Report::new(&self.name)).await
        })
        .await
    }

    pub(super) async fn read_reservation_in(&self, report: &mut Report) -> Result<ReservationInfo> {
        let (idx, buf, _, _) = self
            .pr_in_grown(PrInAction::ReadReservation, report)
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
        self.logged("READ RESERVATION", async {
            self.read_reservation_in(&mut Report::new(&self.name)).await
        })
        .await
    }

    /// REPORT CAPABILITIES through the first path that answers.
    pub async fn report_capabilities(&self) -> Result<Capabilities> {
        self.logged("REPORT CAPABILITIES", async {
            let mut report = Report::new(&self.name);
            let (idx, buf, _, _) = self
                .pr_in_grown(PrInAction::ReportCapabilities, &mut report)
                .await?;
            Capabilities::decode(&buf).map_err(|e| self.decode_err(idx, "REPORT CAPABILITIES", e))
        })
        .await
    }

    /// READ FULL STATUS through the first path that answers, with every descriptor: the
    /// command is re-issued at 65535 when the response was cut or may have been cut
    /// silently (LIO returns whole descriptors only and reports the shortened list as
    /// complete), by pr-core's rule ([`alloc::next_alloc_len`]).
    pub async fn read_full_status(&self) -> Result<FullStatusInfo> {
        self.logged("READ FULL STATUS", async {
            let mut report = Report::new(&self.name);
            let (idx, buf, alloc, issues) = self
                .pr_in_grown(PrInAction::ReadFullStatus, &mut report)
                .await?;
            let fs = FullStatus::decode(&buf)
                .map_err(|e| self.decode_err(idx, "READ FULL STATUS", e))?;
            Ok(FullStatusInfo::from_response(
                self.path_name(idx),
                &fs,
                alloc,
                issues,
            ))
        })
        .await
    }
}

#[cfg(feature = "serde")]
mod serde_impl {
    use pr_core::serde_support::Hex;
    use pr_core::types::ReservationType;
    use serde::ser::{Serialize, SerializeStruct, Serializer};

    use super::StatusEntry;

    impl Serialize for StatusEntry {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut st = s.serialize_struct("StatusEntry", 8)?;
            st.serialize_field("key", &self.key)?;
            st.serialize_field("all_tg_pt", &self.all_tg_pt)?;
            st.serialize_field("holder", &self.holder)?;
            st.serialize_field("type_code", &self.type_code)?;
            st.serialize_field("type", &ReservationType::from_code(self.type_code))?;
            st.serialize_field("relative_target_port", &self.relative_target_port)?;
            st.serialize_field("transport_id_bytes", &Hex(&self.transport_id_bytes))?;
            st.serialize_field("transport_id", &self.transport_id)?;
            st.end()
        }
    }
}
