//! One raw PERSISTENT RESERVE IN or OUT command, its CDB and parameter list as another
//! initiator sent them, run on a LUN and answered as a device server answers: status,
//! sense and data ([`RawReply`]). For faces that relay the commands of other programs, such
//! as the pr-helper daemon that serves QEMU's `pr-manager-helper`.
//!
//! - **A LUN of one path** (a SCSI disk, an sg node, a map opened as one device): the CDB
//!   (its first 10 bytes) and the parameter list go to the device unchanged, **once**:
//!   no retries, since the initiator that sent them sees the unit attentions and decides.
//!   The device's status, sense and data come back unchanged (a RESERVATION CONFLICT that
//!   Linux reports through the host byte is status 18h). The command timeout is the LUN's
//!   [`RetryPolicy::command_timeout`](crate::RetryPolicy::command_timeout).
//! - **A LUN of several paths** (a multipath map): PR IN goes through the first path that
//!   answers ([`MultipathLun::pr_in_raw`], with its retries and failover), the data cut to
//!   the allocation length. PR OUT is decoded into an [`OutRequest`] and run with the
//!   engine's multipath semantics (REGISTER on every path, RESERVE on one, the failed-path
//!   workarounds, ...); the decisive failure's status and sense come back, the array's own.
//!   A CDB or parameter list the engine cannot take gets the sense a device server gives:
//!   ILLEGAL REQUEST with INVALID FIELD IN CDB (24h/00h: an unknown service action, a scope
//!   other than LU_SCOPE, an invalid type where the action takes one), PARAMETER LIST LENGTH
//!   ERROR (1Ah/00h) or INVALID FIELD IN PARAMETER LIST (26h/00h: a TransportID that does
//!   not decode).
//!
//! Errors that are no SCSI answer (no usable path, a timeout, an OS error, a transport
//! failure reported by the Linux host or driver byte) are returned as [`Error`]: the caller
//! chooses what its own initiator sees.

use pr_core::cdb::{PrInCdb, PrOutCdb};
use pr_core::outcome::CommandError;
use pr_core::prout::{BasicParams, MoveParams};
use pr_core::sense::{ScsiStatus, SenseKey, encode_fixed};
use pr_core::transport::{Cdb, Request, Response, Transport, TransportError};
use pr_core::types::{PrInAction, PrOutAction, PrOutFlags, ReservationType};

use crate::any_path::AnyPath;
use crate::error::{Error, Failure, Result};
use crate::lun::MultipathLun;
use crate::report::Report;
use crate::request::{BasicOut, BasicOutError, OutRequest};

/// The operation codes and CDB length of PERSISTENT RESERVE IN/OUT (pr-core's).
pub use pr_core::cdb::{CDB_LEN as PR_CDB_LEN, PERSISTENT_RESERVE_IN, PERSISTENT_RESERVE_OUT};

/// A device server's answer to one command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawReply {
    /// The SAM status byte (00h GOOD, 02h CHECK CONDITION, 18h RESERVATION CONFLICT, ...).
    pub status: u8,
    /// Sense data (empty when there is none).
    pub sense: Vec<u8>,
    /// Data in (PR IN with GOOD status), at most the allocation length; empty otherwise.
    pub data: Vec<u8>,
}

impl RawReply {
    /// GOOD with `data`.
    pub fn good(data: Vec<u8>) -> Self {
        RawReply {
            status: ScsiStatus::GOOD.0,
            sense: Vec::new(),
            data,
        }
    }

    /// CHECK CONDITION with fixed-format sense of `key`, `asc`, `ascq`.
    pub fn check_condition(key: SenseKey, asc: u8, ascq: u8) -> Self {
        RawReply {
            status: ScsiStatus::CHECK_CONDITION.0,
            sense: encode_fixed(key, asc, ascq, None).to_vec(),
            data: Vec::new(),
        }
    }

    fn invalid_field_in_cdb() -> Self {
        Self::check_condition(SenseKey::IllegalRequest, 0x24, 0x00)
    }

    fn invalid_field_in_parameter_list() -> Self {
        Self::check_condition(SenseKey::IllegalRequest, 0x26, 0x00)
    }

    fn parameter_list_length_error() -> Self {
        Self::check_condition(SenseKey::IllegalRequest, 0x1a, 0x00)
    }

    /// The answer a device would have given for a failed command: its status and sense,
    /// or `None` when the command did not complete at a device.
    fn of_command_error(c: &CommandError) -> Option<Self> {
        c.status().map(|s| RawReply {
            status: s.0,
            sense: c.sense_bytes().to_vec(),
            data: Vec::new(),
        })
    }

    /// The answer of a failed engine operation, or the error itself when no device
    /// answered.
    fn of_error(e: Error) -> Result<Self> {
        if let Some(reply) = e.command_error().and_then(Self::of_command_error) {
            return Ok(reply);
        }
        if e.is_reservation_conflict() {
            return Ok(RawReply {
                status: ScsiStatus::RESERVATION_CONFLICT.0,
                sense: Vec::new(),
                data: Vec::new(),
            });
        }
        Err(e)
    }
}

/// What the engine makes of a PR OUT CDB and parameter list: a request, or the answer a
/// device server gives to one it rejects.
fn decode_out(cdb: &PrOutCdb, params: &[u8]) -> core::result::Result<OutRequest, RawReply> {
    let action =
        PrOutAction::from_code(cdb.service_action).ok_or_else(RawReply::invalid_field_in_cdb)?;
    let ty =
        || ReservationType::try_from(cdb.type_code).map_err(|_| RawReply::invalid_field_in_cdb());
    let needs_scope = !matches!(
        action,
        PrOutAction::Register | PrOutAction::RegisterAndIgnoreExistingKey | PrOutAction::Clear
    );
    if needs_scope && cdb.scope != 0 {
        return Err(RawReply::invalid_field_in_cdb());
    }
    if action == PrOutAction::RegisterAndMove {
        let p = MoveParams::decode(params).map_err(|_| RawReply::parameter_list_length_error())?;
        let destination = p
            .transport_id()
            .map_err(|_| RawReply::invalid_field_in_parameter_list())?
            .into_owned();
        return Ok(OutRequest::RegisterAndMove {
            key: p.key,
            destination_key: p.sa_key,
            reservation_type: ty()?,
            destination,
            relative_target_port: p.relative_target_port,
            unregister: p.flags.contains(PrOutFlags::UNREG),
            aptpl: p.flags.contains(PrOutFlags::APTPL),
        });
    }
    let p = BasicParams::decode(params).map_err(|_| RawReply::parameter_list_length_error())?;
    if !p.flags.contains(PrOutFlags::SPEC_I_PT) && params.len() != 24 {
        return Err(RawReply::parameter_list_length_error());
    }
    let mut spec_i_pt = Vec::new();
    if matches!(
        action,
        PrOutAction::Register | PrOutAction::RegisterAndIgnoreExistingKey
    ) {
        for t in p.transport_ids() {
            let t = t.map_err(|_| RawReply::invalid_field_in_parameter_list())?;
            spec_i_pt.push(t.into_owned());
        }
    }
    OutRequest::from_basic(BasicOut {
        action,
        key: p.key,
        sa_key: p.sa_key,
        type_code: cdb.type_code,
        aptpl: p.flags.contains(PrOutFlags::APTPL),
        all_tg_pt: Some(p.flags.contains(PrOutFlags::ALL_TG_PT)),
        spec_i_pt,
    })
    .map_err(|e| match e {
        BasicOutError::SpecIPtWithoutRegister => RawReply::invalid_field_in_parameter_list(),
        BasicOutError::ReservationType(_) | BasicOutError::RegisterAndMove => {
            RawReply::invalid_field_in_cdb()
        }
    })
}

impl<T: Transport> MultipathLun<T> {
    /// Runs one raw PERSISTENT RESERVE IN or OUT command (`cdb`: at least its 10 bytes;
    /// `params`: the PR OUT parameter list, ignored for PR IN) as the module documentation
    /// describes, and returns the device server's answer. A CDB of another operation code
    /// or shorter than 10 bytes is answered ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE
    /// (20h/00h) without reaching the device.
    pub async fn pass_through(&self, cdb: &[u8], params: &[u8]) -> Result<RawReply> {
        let cdb = match pr_cdb(cdb) {
            Ok(c) => c,
            Err(reply) => return Ok(reply),
        };
        if let [path] = self.paths() {
            return self
                .pass_through_one(path.name(), path.transport(), cdb, params)
                .await;
        }
        if let Ok(c) = PrInCdb::decode(cdb) {
            let Some(action) = PrInAction::from_code(c.service_action) else {
                return Ok(RawReply::invalid_field_in_cdb());
            };
            let alloc = usize::from(c.allocation_length);
            return match self.pr_in_raw(action, c.allocation_length).await {
                Ok((_, mut data)) => {
                    data.truncate(alloc);
                    Ok(RawReply::good(data))
                }
                Err(e) => RawReply::of_error(e),
            };
        }
        let c = PrOutCdb::decode(cdb).map_err(|e| Error::InvalidArgument {
            what: "PR OUT CDB".into(),
            reason: e.to_string(),
        })?;
        let request = match decode_out(&c, params) {
            Ok(r) => r,
            Err(reply) => return Ok(reply),
        };
        match self.execute(&request).await {
            Ok(_) => Ok(RawReply::good(Vec::new())),
            Err(e) => RawReply::of_error(e),
        }
    }

    async fn pass_through_one(
        &self,
        name: &str,
        transport: &T,
        cdb: &[u8],
        params: &[u8],
    ) -> Result<RawReply> {
        let request = match self.one_path_request(cdb, params) {
            Ok(r) => r,
            Err(reply) => return Ok(reply),
        };
        let response = transport.execute(request).await;
        self.one_path_reply(name, response)
    }

    /// The request of a raw command on a LUN of one path: the CDB as it is, the LUN's
    /// command timeout; or the answer when the CDB is not a command at all.
    fn one_path_request(
        &self,
        cdb: &[u8],
        params: &[u8],
    ) -> core::result::Result<Request, RawReply> {
        let Some(c) = Cdb::new(cdb) else {
            return Err(RawReply::check_condition(SenseKey::IllegalRequest, 0x20, 0));
        };
        Ok(if cdb.first() == Some(&PERSISTENT_RESERVE_IN) {
            let alloc = PrInCdb::decode(cdb).map_or(0, |c| c.allocation_length);
            Request::data_in(c, usize::from(alloc))
        } else {
            Request::data_out(c, params.to_vec())
        }
        .with_timeout(self.options().retry.command_timeout))
    }

    /// The answer to a raw command on path `name` of a LUN of one path, from what the
    /// path's transport returned.
    fn one_path_reply(
        &self,
        name: &str,
        response: core::result::Result<Response, TransportError>,
    ) -> Result<RawReply> {
        let failed = |failure: Failure| Error::Failed {
            lun: self.name().to_owned(),
            what: format!("pass-through on {name}"),
            failure: Some(Box::new(failure)),
            report: Box::new(Report::new(self.name())),
        };
        let response = response.map_err(|e| failed(Failure::Transport(e)))?;
        let completion = &response.completion;
        match completion.check() {
            Ok(()) => Ok(RawReply {
                status: completion.status.0,
                sense: completion.sense.as_bytes().to_vec(),
                data: if completion.status == ScsiStatus::GOOD {
                    response.buf
                } else {
                    Vec::new()
                },
            }),
            Err(e) => match RawReply::of_command_error(&e) {
                Some(mut reply) => {
                    if reply.sense.is_empty() {
                        reply.sense = completion.sense.as_bytes().to_vec();
                    }
                    Ok(reply)
                }
                None => Err(failed(Failure::Command(e))),
            },
        }
    }
}

/// The CDB of a raw command, when it is a PERSISTENT RESERVE IN or OUT CDB; otherwise the
/// answer (ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE).
fn pr_cdb(cdb: &[u8]) -> core::result::Result<&[u8], RawReply> {
    match cdb.get(..PR_CDB_LEN) {
        Some(c) if matches!(c[0], PERSISTENT_RESERVE_IN | PERSISTENT_RESERVE_OUT) => Ok(c),
        _ => Err(RawReply::check_condition(SenseKey::IllegalRequest, 0x20, 0)),
    }
}

impl MultipathLun<AnyPath> {
    /// As [`pass_through`](MultipathLun::pass_through), on the calling thread, for a LUN
    /// of one path that can execute there: an SG_IO device (a SCSI disk, an sg node, a map
    /// opened as one device, a descriptor received from a client), one `SG_IO` call and no
    /// runtime. For a daemon that already runs the request on a thread of its own
    /// (pr-helper serves each connection on one), where handing the command to the
    /// runtime's blocking pool and back would cost two thread hand-offs more than the
    /// command.
    ///
    /// On a LUN of several paths (a multipath map) a PR IN is tried once on the calling
    /// thread through the path `pass_through` would try first
    /// ([`pr_in_on_this_thread`](MultipathLun::pr_in_on_this_thread)); when that path
    /// answers GOOD its data is the answer, cut to the allocation length, as
    /// `pass_through` gives it.
    ///
    /// The answer is the one `pass_through` gives, except that a command the kernel does
    /// not return is waited for (SG_IO's own timeout is the LUN's command timeout; pr-sgio's
    /// extra deadline of the runtime engines does not apply), as a synchronous SG_IO caller
    /// waits. `None` for a PR OUT on several paths, for a PR IN on several paths that did
    /// not complete GOOD on the first try (a unit attention, a path error: the engine's
    /// retries and failover decide, and PR IN changes nothing at the device, so it may be
    /// sent again), when the path cannot execute on the caller's thread (block ioctls, the
    /// sg v3 engine, custom transports), and for simulated paths (whose latency only the
    /// runtime applies): call `pass_through`.
    pub fn pass_through_on_this_thread(
        &self,
        cdb: &[u8],
        params: &[u8],
    ) -> Option<Result<RawReply>> {
        let cdb = match pr_cdb(cdb) {
            Ok(c) => c,
            Err(reply) => return Some(Ok(reply)),
        };
        let [path] = self.paths() else {
            if self.paths().iter().any(|p| p.transport().is_simulated()) {
                return None;
            }
            let c = PrInCdb::decode(cdb).ok()?;
            let Some(action) = PrInAction::from_code(c.service_action) else {
                return Some(Ok(RawReply::invalid_field_in_cdb()));
            };
            let (_, mut data) = self.pr_in_on_this_thread(action, c.allocation_length)?;
            data.truncate(usize::from(c.allocation_length));
            return Some(Ok(RawReply::good(data)));
        };
        if path.transport().is_simulated() {
            return None;
        }
        let request = match self.one_path_request(cdb, params) {
            Ok(r) => r,
            Err(reply) => return Some(Ok(reply)),
        };
        let response = path.transport().execute_on_this_thread(&request)?;
        Some(self.one_path_reply(path.name(), response))
    }
}

#[cfg(all(test, feature = "sim"))]
mod tests {
    use super::*;
    use crate::Lun;
    use pr_core::types::ReservationKey;
    use pr_sim::{LunConfig, Sim, lab_loop_nexuses};

    fn out_cdb(sa: u8, ty: u8, len: u8) -> [u8; 16] {
        let mut c = [0u8; 16];
        c[0] = PERSISTENT_RESERVE_OUT;
        c[1] = sa;
        c[2] = ty;
        c[8] = len;
        c
    }

    fn in_cdb(sa: u8, alloc: u16) -> [u8; 16] {
        let mut c = [0u8; 16];
        c[0] = PERSISTENT_RESERVE_IN;
        c[1] = sa;
        c[7..9].copy_from_slice(&alloc.to_be_bytes());
        c
    }

    fn params(key: u64, sa_key: u64) -> Vec<u8> {
        let mut p = vec![0u8; 24];
        p[..8].copy_from_slice(&key.to_be_bytes());
        p[8..16].copy_from_slice(&sa_key.to_be_bytes());
        p
    }

    fn luns(paths: usize) -> (Lun, Lun) {
        let (_sim, p) = Sim::single_lun(LunConfig::spc5(), &lab_loop_nexuses(paths + 1));
        let map = Lun::simulated("map", p[..paths].to_vec());
        let other = Lun::simulated("other", p[paths..].to_vec());
        (map, other)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_map_registers_every_path_and_reads_keys_raw() {
        rt().block_on(async {
            let (map, _) = luns(2);
            let r = map
                .pass_through(&out_cdb(0x06, 0, 24), &params(0, 0xabc))
                .await
                .unwrap();
            assert_eq!(r, RawReply::good(vec![]));
            let r = map.pass_through(&in_cdb(0x00, 8192), &[]).await.unwrap();
            assert_eq!(r.status, 0);
            assert_eq!(r.data.len(), 24, "{:?}", r.data);
            assert_eq!(&r.data[4..8], &16u32.to_be_bytes());
            // Cut to the allocation length, ADDITIONAL LENGTH kept.
            let r = map.pass_through(&in_cdb(0x00, 12), &[]).await.unwrap();
            assert_eq!(r.data.len(), 12);
            assert_eq!(&r.data[4..8], &16u32.to_be_bytes());
            let keys = map.read_keys().await.unwrap().keys;
            assert_eq!(keys, vec![ReservationKey(0xabc); 2]);
        });
    }

    #[test]
    fn conflicts_and_rejections_are_answered_with_status_and_sense() {
        rt().block_on(async {
            for paths in [1, 2] {
                let (map, other) = luns(paths);
                other
                    .pass_through(&out_cdb(0x06, 0, 24), &params(0, 0x2))
                    .await
                    .unwrap();
                other
                    .pass_through(&out_cdb(0x01, 0x03, 24), &params(0x2, 0))
                    .await
                    .unwrap();
                map.pass_through(&out_cdb(0x06, 0, 24), &params(0, 0x1))
                    .await
                    .unwrap();
                // RESERVE while another nexus holds: RESERVATION CONFLICT, no sense.
                let r = map
                    .pass_through(&out_cdb(0x01, 0x03, 24), &params(0x1, 0))
                    .await
                    .unwrap();
                assert_eq!((r.status, r.sense.len()), (0x18, 0), "{paths} paths");
                // Unknown service action.
                let r = map
                    .pass_through(&out_cdb(0x1f, 0, 24), &params(0x1, 0))
                    .await
                    .unwrap();
                assert_eq!(r.status, 0x02, "{paths} paths");
                assert_eq!((r.sense[2] & 0xf, r.sense[12]), (5, 0x24), "{paths} paths");
                // A parameter list that is not 24 bytes long.
                let r = map
                    .pass_through(&out_cdb(0x06, 0, 16), &params(0, 1)[..16])
                    .await
                    .unwrap();
                assert_eq!((r.sense[2] & 0xf, r.sense[12]), (5, 0x1a), "{paths} paths");
                // Not a PR CDB, or too short: INVALID COMMAND OPERATION CODE, nothing sent.
                let r = map
                    .pass_through(&[0x12, 0, 0, 0, 36, 0], &[])
                    .await
                    .unwrap();
                assert_eq!((r.sense[2] & 0xf, r.sense[12]), (5, 0x20), "{paths} paths");
                let r = map.pass_through(&[0x5e, 0], &[]).await.unwrap();
                assert_eq!((r.sense[2] & 0xf, r.sense[12]), (5, 0x20), "{paths} paths");
                // The reservation: held by 0x2, type 3.
                let r = map.pass_through(&in_cdb(0x01, 24), &[]).await.unwrap();
                assert_eq!(&r.data[8..16], &2u64.to_be_bytes(), "{paths} paths");
                assert_eq!(r.data[21], 0x03, "{paths} paths");
            }
        });
    }

    #[test]
    fn on_this_thread_answers_bad_cdbs_and_leaves_the_rest_to_the_runtime() {
        let (map, one) = luns(2);
        for lun in [&map, &one] {
            // Not a PR CDB: answered here, as pass_through answers it.
            for cdb in [&[0x12, 0, 0, 0, 36, 0][..], &[0x5e, 0][..]] {
                let r = lun.pass_through_on_this_thread(cdb, &[]).unwrap().unwrap();
                assert_eq!((r.status, r.sense[2] & 0xf, r.sense[12]), (2, 5, 0x20));
            }
            // Simulated paths (one or several): the runtime's pass_through.
            assert!(
                lun.pass_through_on_this_thread(&in_cdb(0x00, 8192), &[])
                    .is_none()
            );
        }
        assert_eq!(one.paths().len(), 1);
    }
}
