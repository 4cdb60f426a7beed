//! The block-layer persistent reservation ioctls (`<linux/pr.h>`) as a [`Transport`].
//!
//! [`BlockPrDevice`] accepts the PR CDBs that the ioctls can express and translates them:
//!
//! | CDB | ioctl |
//! | --- | --- |
//! | PR OUT REGISTER (APTPL=1) | `IOC_PR_REGISTER` |
//! | PR OUT REGISTER AND IGNORE EXISTING KEY (APTPL=1) | `IOC_PR_REGISTER` + `PR_FL_IGNORE_KEY` |
//! | PR OUT RESERVE / RELEASE | `IOC_PR_RESERVE` / `IOC_PR_RELEASE` |
//! | PR OUT PREEMPT / PREEMPT AND ABORT | `IOC_PR_PREEMPT` / `IOC_PR_PREEMPT_ABORT` |
//! | PR OUT CLEAR | `IOC_PR_CLEAR` |
//! | PR IN READ KEYS | `IOC_PR_READ_KEYS` (Linux 6.19+) |
//! | PR IN READ RESERVATION | `IOC_PR_READ_RESERVATION` (Linux 6.19+) |
//!
//! Everything else is refused with [`TransportError::Unsupported`] naming what: REPORT
//! CAPABILITIES, READ FULL STATUS, REGISTER AND MOVE, REPLACE LOST RESERVATION, SPEC_I_PT,
//! ALL_TG_PT, a scope other than LU_SCOPE, and REGISTER with APTPL=0 (the sd driver always
//! registers with APTPL=1, so a request without it cannot be honoured as asked).
//!
//! The ioctls return no sense data; a positive return value (`enum pr_status`, or the raw
//! SCSI result on older kernels) becomes the completion's status and host bytes, e.g.
//! `PR_STS_RESERVATION_CONFLICT` (18h) a RESERVATION CONFLICT status. READ KEYS and READ
//! RESERVATION results are re-encoded as SPC response bytes with pr-core's encoders, so the
//! usual decoders read them.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use nix::errno::Errno;
use pr_core::cdb::{PrInCdb, PrOutCdb};
use pr_core::outcome::{Completion, SenseBuf};
use pr_core::prin::{ReadKeys, ReadReservation, Reservation};
use pr_core::prout::BasicParams;
use pr_core::sense::ScsiStatus;
use pr_core::transport::{DataDirection, Request, Response, Transport, TransportError};
use pr_core::types::{PrInAction, PrOutAction, PrOutFlags, ReservationKey, ReservationType, Scope};

use crate::device::{OpenOptions, check_read_only, open_given};
use crate::engine::{Limiter, TIMEOUT_GRACE, run_blocking};
use crate::error::{Error, Result, os_error};
use crate::sys::{self, PrClear, PrIoctl, PrPreempt, PrRegistration, PrReservation};
use crate::sysfs::{DevT, DeviceKind};

const PERSISTENT_RESERVE_IN: u8 = 0x5e;
const PERSISTENT_RESERVE_OUT: u8 = 0x5f;
/// Most keys asked of `IOC_PR_READ_KEYS` (what a 65535-byte allocation length can hold).
const MAX_KEYS: u32 = (65535 - 8) / 8;

/// The block layer's `enum pr_type` for a SCSI reservation type.
pub const fn block_pr_type(t: ReservationType) -> u32 {
    match t {
        ReservationType::WriteExclusive => 1,
        ReservationType::ExclusiveAccess => 2,
        ReservationType::WriteExclusiveRegistrantsOnly => 3,
        ReservationType::ExclusiveAccessRegistrantsOnly => 4,
        ReservationType::WriteExclusiveAllRegistrants => 5,
        ReservationType::ExclusiveAccessAllRegistrants => 6,
    }
}

/// The SCSI reservation type for a block `enum pr_type`, `None` for 0 (no reservation) and
/// unknown values.
pub const fn scsi_type_of_block(t: u32) -> Option<ReservationType> {
    match t {
        1 => Some(ReservationType::WriteExclusive),
        2 => Some(ReservationType::ExclusiveAccess),
        3 => Some(ReservationType::WriteExclusiveRegistrantsOnly),
        4 => Some(ReservationType::ExclusiveAccessRegistrantsOnly),
        5 => Some(ReservationType::WriteExclusiveAllRegistrants),
        6 => Some(ReservationType::ExclusiveAccessAllRegistrants),
        _ => None,
    }
}

/// What one request becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockPrOp {
    /// A PR OUT ioctl.
    Out(PrIoctl),
    /// `IOC_PR_READ_KEYS`, answering with at most `alloc_len` bytes.
    ReadKeys {
        /// Allocation length.
        alloc_len: usize,
    },
    /// `IOC_PR_READ_RESERVATION`, answering with at most `alloc_len` bytes.
    ReadReservation {
        /// Allocation length.
        alloc_len: usize,
    },
}

fn unsupported(device: &str, what: impl Into<String>, reason: impl Into<String>) -> TransportError {
    TransportError::Unsupported {
        device: device.to_owned(),
        what: what.into(),
        reason: reason.into(),
    }
}

/// Translates a request into a block PR ioctl, or says why it cannot be.
pub fn map_request(device: &str, request: &Request) -> Result<BlockPrOp, TransportError> {
    let cdb = request.cdb.as_bytes();
    match request.cdb.opcode() {
        PERSISTENT_RESERVE_OUT => map_prout(device, cdb, request),
        PERSISTENT_RESERVE_IN => map_prin(device, cdb, request),
        op => Err(unsupported(
            device,
            format!("operation code {op:#04x}"),
            "the block PR ioctls carry only PERSISTENT RESERVE IN and OUT",
        )),
    }
}

fn map_prin(device: &str, cdb: &[u8], request: &Request) -> Result<BlockPrOp, TransportError> {
    let c = PrInCdb::decode(cdb).map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
    if request.direction != DataDirection::FromDevice {
        return Err(TransportError::InvalidRequest(
            "PERSISTENT RESERVE IN needs a data-in buffer".to_owned(),
        ));
    }
    let alloc_len = usize::from(c.allocation_length).min(request.buf.len());
    match c.action() {
        Some(PrInAction::ReadKeys) => Ok(BlockPrOp::ReadKeys { alloc_len }),
        Some(PrInAction::ReadReservation) => Ok(BlockPrOp::ReadReservation { alloc_len }),
        Some(a) => Err(unsupported(
            device,
            format!("PERSISTENT RESERVE IN {}", a.name()),
            "the block PR ioctls have no such operation",
        )),
        None => Err(unsupported(
            device,
            format!(
                "PERSISTENT RESERVE IN service action {:#04x}",
                c.service_action
            ),
            "reserved service action",
        )),
    }
}

fn need_type(device: &str, action: PrOutAction, code: u8) -> Result<u32, TransportError> {
    ReservationType::from_code(code)
        .map(block_pr_type)
        .ok_or_else(|| {
            unsupported(
                device,
                format!("{} with reservation type code {code:#x}", action.name()),
                "the block PR ioctls have only the six SPC-5 types (1h, 3h, 5h, 6h, 7h, 8h)",
            )
        })
}

fn map_prout(device: &str, cdb: &[u8], request: &Request) -> Result<BlockPrOp, TransportError> {
    let c = PrOutCdb::decode(cdb).map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
    let Some(action) = PrOutAction::from_code(c.service_action) else {
        return Err(unsupported(
            device,
            format!(
                "PERSISTENT RESERVE OUT service action {:#04x}",
                c.service_action
            ),
            "reserved service action",
        ));
    };
    if matches!(
        action,
        PrOutAction::RegisterAndMove | PrOutAction::ReplaceLostReservation
    ) {
        return Err(unsupported(
            device,
            action.name(),
            "the block PR ioctls have no such operation",
        ));
    }
    if Scope::from_code(c.scope) != Scope::LogicalUnit {
        return Err(unsupported(
            device,
            format!("{} with scope {:#x}", action.name(), c.scope),
            "the block PR ioctls use LU_SCOPE only",
        ));
    }
    let plen = usize::try_from(c.parameter_list_length).unwrap_or(usize::MAX);
    let params = request
        .buf
        .get(..plen)
        .filter(|_| request.direction == DataDirection::ToDevice || plen == 0)
        .ok_or_else(|| {
            TransportError::InvalidRequest(format!(
                "PARAMETER LIST LENGTH {plen} but {} data-out bytes",
                if request.direction == DataDirection::ToDevice {
                    request.buf.len()
                } else {
                    0
                }
            ))
        })?;
    let p =
        BasicParams::decode(params).map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
    if p.flags.contains(PrOutFlags::SPEC_I_PT) {
        return Err(unsupported(
            device,
            format!("{} with SPEC_I_PT", action.name()),
            "the block PR ioctls cannot carry TransportIDs",
        ));
    }
    if p.flags.contains(PrOutFlags::ALL_TG_PT) {
        return Err(unsupported(
            device,
            format!("{} with ALL_TG_PT", action.name()),
            "the block PR ioctls have no ALL_TG_PT flag",
        ));
    }
    let (key, sa_key) = (p.key.0, p.sa_key.0);
    let op = match action {
        PrOutAction::Register | PrOutAction::RegisterAndIgnoreExistingKey => {
            if !p.flags.contains(PrOutFlags::APTPL) {
                return Err(unsupported(
                    device,
                    format!("{} with APTPL=0", action.name()),
                    "the sd driver always registers with APTPL=1; set APTPL to use this transport",
                ));
            }
            let flags = if action == PrOutAction::Register {
                0
            } else {
                sys::PR_FL_IGNORE_KEY
            };
            PrIoctl::Register(PrRegistration {
                old_key: key,
                new_key: sa_key,
                flags,
                pad: 0,
            })
        }
        PrOutAction::Reserve => PrIoctl::Reserve(PrReservation {
            key,
            r#type: need_type(device, action, c.type_code)?,
            flags: 0,
        }),
        PrOutAction::Release => PrIoctl::Release(PrReservation {
            key,
            r#type: need_type(device, action, c.type_code)?,
            flags: 0,
        }),
        PrOutAction::Preempt => PrIoctl::Preempt(PrPreempt {
            old_key: key,
            new_key: sa_key,
            r#type: need_type(device, action, c.type_code)?,
            flags: 0,
        }),
        PrOutAction::PreemptAndAbort => PrIoctl::PreemptAbort(PrPreempt {
            old_key: key,
            new_key: sa_key,
            r#type: need_type(device, action, c.type_code)?,
            flags: 0,
        }),
        PrOutAction::Clear => PrIoctl::Clear(PrClear {
            key,
            flags: 0,
            pad: 0,
        }),
        PrOutAction::RegisterAndMove | PrOutAction::ReplaceLostReservation => {
            return Err(unsupported(
                device,
                action.name(),
                "the block PR ioctls have no such operation",
            ));
        }
    };
    Ok(BlockPrOp::Out(op))
}

/// A completion for a PR ioctl's non-negative return value: 0 is GOOD; a positive value is an
/// `enum pr_status` (18h RESERVATION CONFLICT, 2h I/O error, 10000h/E0000h/F0000h path
/// failures, which are host bytes 1h/Eh/Fh), or on older kernels the raw SCSI result
/// (status in bits 7:0, host byte in 23:16, driver byte in 31:24).
pub fn completion_from_pr_status(
    ret: i32,
    duration: std::time::Duration,
    residual: u32,
) -> Completion {
    let r = ret.max(0).unsigned_abs();
    Completion {
        status: ScsiStatus((r & 0xff) as u8),
        sense: SenseBuf::EMPTY,
        host_status: ((r >> 16) & 0xff) as u16,
        driver_status: ((r >> 24) & 0xff) as u16,
        residual,
        duration,
    }
}

fn ioctl_error(device: &str, name: &'static str, read: bool, e: Errno) -> TransportError {
    match e {
        Errno::ENOTTY | Errno::EINVAL if read => unsupported(
            device,
            name,
            "not supported by this kernel (needs Linux 6.19+)",
        ),
        Errno::ENOTTY => unsupported(device, name, "this kernel or device has no block PR ioctls"),
        Errno::EOPNOTSUPP => unsupported(
            device,
            name,
            "the device's driver has no such persistent reservation operation",
        ),
        _ => os_error(name, device, e),
    }
}

/// Runs one translated operation on `fd`, blocking; `buf` is the request's buffer.
fn run_op(
    fd: &OwnedFd,
    device: &str,
    op: BlockPrOp,
    mut buf: Vec<u8>,
) -> Result<Response, TransportError> {
    let started = Instant::now();
    match op {
        BlockPrOp::Out(o) => {
            let ret =
                sys::pr_out(fd.as_fd(), &o).map_err(|e| ioctl_error(device, o.name(), false, e))?;
            Ok(Response {
                completion: completion_from_pr_status(ret, started.elapsed(), 0),
                buf,
            })
        }
        BlockPrOp::ReadKeys { alloc_len } => {
            let room = u32::try_from(alloc_len.saturating_sub(8) / 8)
                .unwrap_or(MAX_KEYS)
                .clamp(1, MAX_KEYS);
            let mut keys = vec![0u64; usize::try_from(room).unwrap_or(1)];
            let (mut ret, mut generation, mut total) = sys::pr_read_keys(fd.as_fd(), &mut keys)
                .map_err(|e| ioctl_error(device, "IOC_PR_READ_KEYS", true, e))?;
            if ret == 0 && total > room {
                // Fetch them all so that ADDITIONAL LENGTH is right even if the answer is cut.
                keys = vec![0u64; usize::try_from(total.min(MAX_KEYS)).unwrap_or(1)];
                (ret, generation, total) = sys::pr_read_keys(fd.as_fd(), &mut keys)
                    .map_err(|e| ioctl_error(device, "IOC_PR_READ_KEYS", true, e))?;
            }
            finish_read(ret, alloc_len, &mut buf, |out| {
                let n = usize::try_from(total).unwrap_or(0).min(keys.len());
                ReadKeys::encode(
                    generation,
                    keys.iter().take(n).map(|k| ReservationKey(*k)),
                    out,
                )
            });
            let residual = u32::try_from(alloc_len - buf.len()).unwrap_or(u32::MAX);
            Ok(Response {
                completion: completion_from_pr_status(ret, started.elapsed(), residual),
                buf,
            })
        }
        BlockPrOp::ReadReservation { alloc_len } => {
            let (ret, rsv) = sys::pr_read_reservation(fd.as_fd())
                .map_err(|e| ioctl_error(device, "IOC_PR_READ_RESERVATION", true, e))?;
            finish_read(ret, alloc_len, &mut buf, |out| {
                let r = encode_reservation(&rsv);
                ReadReservation::encode(rsv.generation, r, out)
            });
            let residual = u32::try_from(alloc_len - buf.len()).unwrap_or(u32::MAX);
            Ok(Response {
                completion: completion_from_pr_status(ret, started.elapsed(), residual),
                buf,
            })
        }
    }
}

/// The reservation a `pr_read_reservation` reports, `None` when there is none.
pub fn encode_reservation(r: &sys::PrReadReservation) -> Option<Reservation> {
    if r.r#type == 0 && r.key == 0 {
        return None;
    }
    Some(Reservation {
        key: ReservationKey(r.key),
        scope: Scope::LogicalUnit,
        type_code: scsi_type_of_block(r.r#type).map_or(0, ReservationType::code),
    })
}

fn finish_read(
    ret: i32,
    alloc_len: usize,
    buf: &mut Vec<u8>,
    encode: impl FnOnce(&mut [u8]) -> usize,
) {
    if ret != 0 {
        buf.clear();
        return;
    }
    buf.truncate(alloc_len);
    buf.fill(0);
    let n = encode(buf.as_mut_slice());
    buf.truncate(n);
}

/// A SCSI disk or dm-multipath map reached through the block layer's PR ioctls.
///
/// The ioctls block in the kernel; they run on the bounded blocking pool (see
/// [`crate::engine`]), with the same cancellation guarantees as [`crate::Device`].
#[derive(Debug)]
pub struct BlockPrDevice {
    path: PathBuf,
    name: Arc<str>,
    kind: DeviceKind,
    dev: DevT,
    read_only: bool,
    fd: Arc<OwnedFd>,
    limiter: Limiter,
}

impl BlockPrDevice {
    /// Opens a SCSI disk (`/dev/sdX`) or a dm-multipath map read-write; `path` may also be
    /// a name, as for [`crate::Device::open`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, &OpenOptions::default())
    }

    /// Opens with `options` (the engine option is ignored: the ioctls always use the pool).
    /// A read-only open allows only READ KEYS and READ RESERVATION (Linux 6.19 needs only
    /// read access for them).
    pub fn open_with(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Self> {
        let (read_only, limiter, sys) = options.parts();
        let (path, node) = open_given(path.as_ref(), options.open_read_only(), sys)?;
        let path = path.as_path();
        if let DeviceKind::ScsiGeneric { name, .. } = &node.kind {
            return Err(Error::NotScsi {
                path: path.to_path_buf(),
                reason: format!(
                    "{name} is an sg character node; the block PR ioctls need the block device (/dev/sdX or a dm map)"
                ),
            });
        }
        Ok(BlockPrDevice {
            path: path.to_path_buf(),
            name: Arc::from(path.to_string_lossy().as_ref()),
            kind: node.kind,
            dev: node.dev,
            read_only,
            fd: Arc::new(node.fd),
            limiter: limiter.unwrap_or_else(Limiter::global),
        })
    }

    /// The path it was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the node is.
    pub fn kind(&self) -> &DeviceKind {
        &self.kind
    }

    /// Its device number.
    pub fn dev(&self) -> DevT {
        self.dev
    }
}

impl Transport for BlockPrDevice {
    async fn execute(&self, request: Request) -> Result<Response, TransportError> {
        check_read_only(self.read_only, &self.name, &request)?;
        let op = map_request(&self.name, &request)?;
        let fd = self.fd.clone();
        let name = self.name.clone();
        let deadline = request.timeout.saturating_add(TIMEOUT_GRACE);
        let buf = request.buf;
        run_blocking(&self.limiter, deadline, move || run_op(&fd, &name, op, buf)).await?
    }

    fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pr_core::transport::Cdb;
    use std::time::Duration;

    fn prout(sa: u8, ty: u8, key: u64, sa_key: u64, flags: u8) -> Request {
        let cdb = [0x5f, sa, ty, 0, 0, 0, 0, 0, 24, 0];
        let mut p = vec![0u8; 24];
        p[0..8].copy_from_slice(&key.to_be_bytes());
        p[8..16].copy_from_slice(&sa_key.to_be_bytes());
        p[20] = flags;
        Request::data_out(Cdb::from(cdb), p)
    }

    fn prin(sa: u8, alloc: u16) -> Request {
        let a = alloc.to_be_bytes();
        Request::data_in(
            Cdb::from([0x5e, sa, 0, 0, 0, 0, 0, a[0], a[1], 0]),
            usize::from(alloc),
        )
    }

    fn unsupported_what(r: Result<BlockPrOp, TransportError>) -> (String, String) {
        match r {
            Err(TransportError::Unsupported {
                what,
                reason,
                device,
            }) => {
                assert_eq!(device, "/dev/sdx");
                (what, reason)
            }
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    #[test]
    fn type_mapping_roundtrip() {
        let scsi = [1u8, 3, 5, 6, 7, 8];
        for (i, t) in ReservationType::ALL.iter().enumerate() {
            assert_eq!(t.code(), scsi[i]);
            assert_eq!(block_pr_type(*t), u32::try_from(i + 1).unwrap());
            assert_eq!(scsi_type_of_block(block_pr_type(*t)), Some(*t));
        }
        assert_eq!(scsi_type_of_block(0), None);
        assert_eq!(scsi_type_of_block(7), None);
    }

    #[test]
    fn prout_mapping() {
        let d = "/dev/sdx";
        assert_eq!(
            map_request(d, &prout(0, 0, 0, 0x1234, 1)).unwrap(),
            BlockPrOp::Out(PrIoctl::Register(PrRegistration {
                old_key: 0,
                new_key: 0x1234,
                flags: 0,
                pad: 0
            }))
        );
        assert_eq!(
            map_request(d, &prout(6, 0, 0, 0x99, 1)).unwrap(),
            BlockPrOp::Out(PrIoctl::Register(PrRegistration {
                old_key: 0,
                new_key: 0x99,
                flags: 1,
                pad: 0
            }))
        );
        assert_eq!(
            map_request(d, &prout(1, 0x05, 0x1234, 0, 0)).unwrap(),
            BlockPrOp::Out(PrIoctl::Reserve(PrReservation {
                key: 0x1234,
                r#type: 3,
                flags: 0
            }))
        );
        assert_eq!(
            map_request(d, &prout(2, 0x08, 0x1234, 0, 0)).unwrap(),
            BlockPrOp::Out(PrIoctl::Release(PrReservation {
                key: 0x1234,
                r#type: 6,
                flags: 0
            }))
        );
        assert_eq!(
            map_request(d, &prout(4, 0x01, 0xa, 0xb, 0)).unwrap(),
            BlockPrOp::Out(PrIoctl::Preempt(PrPreempt {
                old_key: 0xa,
                new_key: 0xb,
                r#type: 1,
                flags: 0
            }))
        );
        assert_eq!(
            map_request(d, &prout(5, 0x03, 0xa, 0xb, 0)).unwrap(),
            BlockPrOp::Out(PrIoctl::PreemptAbort(PrPreempt {
                old_key: 0xa,
                new_key: 0xb,
                r#type: 2,
                flags: 0
            }))
        );
        assert_eq!(
            map_request(d, &prout(3, 0, 0xa, 0, 0)).unwrap(),
            BlockPrOp::Out(PrIoctl::Clear(PrClear {
                key: 0xa,
                flags: 0,
                pad: 0
            }))
        );
    }

    #[test]
    fn prout_refusals_name_what() {
        let d = "/dev/sdx";
        let (w, r) = unsupported_what(map_request(d, &prout(0, 0, 0, 1, 0)));
        assert_eq!(w, "REGISTER with APTPL=0");
        assert!(r.contains("APTPL=1"));
        let (w, _) = unsupported_what(map_request(d, &prout(0, 0, 0, 1, 0x04 | 1)));
        assert_eq!(w, "REGISTER with ALL_TG_PT");
        let mut spec = prout(0, 0, 0, 1, 0x08 | 1);
        spec.buf.extend_from_slice(&[0, 0, 0, 0]);
        spec.cdb = Cdb::from([0x5f, 0, 0, 0, 0, 0, 0, 0, 28, 0]);
        let (w, _) = unsupported_what(map_request(d, &spec));
        assert_eq!(w, "REGISTER with SPEC_I_PT");
        let (w, _) = unsupported_what(map_request(d, &prout(7, 1, 0, 1, 0)));
        assert_eq!(w, "REGISTER AND MOVE");
        let (w, _) = unsupported_what(map_request(d, &prout(8, 1, 0, 1, 0)));
        assert_eq!(w, "REPLACE LOST RESERVATION");
        let (w, _) = unsupported_what(map_request(d, &prout(1, 0x02, 1, 0, 0)));
        assert_eq!(w, "RESERVE with reservation type code 0x2");
        let (w, _) = unsupported_what(map_request(d, &prout(1, 0x21, 1, 0, 0)));
        assert_eq!(w, "RESERVE with scope 0x2");
        let (w, _) = unsupported_what(map_request(d, &prin(2, 8)));
        assert_eq!(w, "PERSISTENT RESERVE IN REPORT CAPABILITIES");
        let (w, _) = unsupported_what(map_request(d, &prin(3, 8192)));
        assert_eq!(w, "PERSISTENT RESERVE IN READ FULL STATUS");
        let inq = Request::data_in(Cdb::new(&[0x12, 0, 0, 0, 36, 0]).unwrap(), 36);
        let (w, _) = unsupported_what(map_request(d, &inq));
        assert_eq!(w, "operation code 0x12");
        // A parameter list shorter than its stated length is a malformed request.
        let mut short = prout(0, 0, 0, 1, 1);
        short.buf.truncate(10);
        assert!(matches!(
            map_request(d, &short),
            Err(TransportError::InvalidRequest(_))
        ));
    }

    #[test]
    fn prin_mapping() {
        assert_eq!(
            map_request("x", &prin(0, 8192)).unwrap(),
            BlockPrOp::ReadKeys { alloc_len: 8192 }
        );
        assert_eq!(
            map_request("x", &prin(1, 24)).unwrap(),
            BlockPrOp::ReadReservation { alloc_len: 24 }
        );
        // The allocation length is clamped to the buffer.
        let mut r = prin(0, 8192);
        r.buf.truncate(100);
        assert_eq!(
            map_request("x", &r).unwrap(),
            BlockPrOp::ReadKeys { alloc_len: 100 }
        );
    }

    #[test]
    fn pr_status_mapping() {
        let c = completion_from_pr_status(0, Duration::ZERO, 0);
        assert_eq!(
            (c.status, c.host_status, c.driver_status),
            (ScsiStatus::GOOD, 0, 0)
        );
        let c = completion_from_pr_status(sys::PR_STS_RESERVATION_CONFLICT, Duration::ZERO, 0);
        assert_eq!(c.status, ScsiStatus::RESERVATION_CONFLICT);
        let c = completion_from_pr_status(sys::PR_STS_PATH_FAST_FAILED, Duration::ZERO, 0);
        assert_eq!((c.status, c.host_status), (ScsiStatus::GOOD, 0x0f));
        let c = completion_from_pr_status(sys::PR_STS_PATH_FAILED, Duration::ZERO, 0);
        assert_eq!(c.host_status, 0x01);
        let c = completion_from_pr_status(sys::PR_STS_RETRY_PATH_FAILURE, Duration::ZERO, 0);
        assert_eq!(c.host_status, 0x0e);
        // A 6.1-style raw result: driver byte SENSE, status CHECK CONDITION.
        let c = completion_from_pr_status(0x0800_0002, Duration::ZERO, 0);
        assert_eq!(
            (c.status, c.driver_status),
            (ScsiStatus::CHECK_CONDITION, 8)
        );
    }

    #[test]
    fn ioctl_errors() {
        let e = ioctl_error("/dev/sdx", "IOC_PR_READ_KEYS", true, Errno::ENOTTY);
        assert_eq!(
            e.to_string(),
            "/dev/sdx: IOC_PR_READ_KEYS is not supported by this transport: not supported by this kernel (needs Linux 6.19+)"
        );
        assert!(matches!(
            ioctl_error("/dev/sdx", "IOC_PR_READ_RESERVATION", true, Errno::EINVAL),
            TransportError::Unsupported { .. }
        ));
        assert!(matches!(
            ioctl_error("/dev/sdx", "IOC_PR_REGISTER", false, Errno::EINVAL),
            TransportError::Os { errno, .. } if errno == libc::EINVAL
        ));
        assert!(matches!(
            ioctl_error("/dev/sdx", "IOC_PR_REGISTER", false, Errno::ENODEV),
            TransportError::PathDown { .. }
        ));
    }

    #[test]
    fn synthesized_reads_decode() {
        let mut buf = vec![0xffu8; 24];
        finish_read(0, 24, &mut buf, |out| {
            ReadKeys::encode(
                7,
                [
                    ReservationKey(0x11),
                    ReservationKey(0x22),
                    ReservationKey(0x33),
                ],
                out,
            )
        });
        let rk = ReadKeys::decode(&buf).unwrap();
        assert_eq!(rk.generation(), 7);
        assert_eq!(
            rk.keys().collect::<Vec<_>>(),
            [ReservationKey(0x11), ReservationKey(0x22)]
        );
        assert_eq!(rk.needed_alloc_len(), Some(32));

        let rsv = sys::PrReadReservation {
            key: 0xabc,
            generation: 3,
            r#type: 3,
        };
        let mut buf = vec![0u8; 8192];
        finish_read(0, 8192, &mut buf, |out| {
            ReadReservation::encode(rsv.generation, encode_reservation(&rsv), out)
        });
        assert_eq!(buf.len(), 24);
        let rr = ReadReservation::decode(&buf).unwrap();
        let r = rr.reservation().unwrap();
        assert_eq!((r.key, r.type_code), (ReservationKey(0xabc), 5));

        let none = sys::PrReadReservation {
            key: 0,
            generation: 3,
            r#type: 0,
        };
        assert_eq!(encode_reservation(&none), None);
        let all_regs = sys::PrReadReservation {
            key: 0,
            generation: 3,
            r#type: 6,
        };
        assert_eq!(encode_reservation(&all_regs).unwrap().type_code, 8);

        let mut buf = vec![1u8; 100];
        finish_read(0x18, 100, &mut buf, |_| unreachable!());
        assert!(buf.is_empty());
    }

    #[test]
    fn open_refuses_non_scsi() {
        let e = BlockPrDevice::open("/dev/null").unwrap_err();
        assert!(
            e.to_string().starts_with("/dev/null: not a SCSI device"),
            "{e}"
        );
    }
}
