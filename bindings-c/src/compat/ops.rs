//! The operations behind the C entry points, in safe Rust: finding the multipath map
//! behind a file descriptor, building its [`MultipathLun`], running one PR IN or PR OUT
//! on it, and turning every outcome into a `MPATH_PR_*` code.
//!
//! Nothing here touches C memory: the entry points copy the caller's arguments into the
//! owned values below before, and write results back after (see `fill.rs`).

use core::ffi::c_int;
use std::collections::HashMap;
use std::path::Path as FsPath;
use std::sync::{Arc, Mutex};

use pr_core::outcome::CommandError;
use pr_core::sense::SenseKey;
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, ReservationKey, ReservationType};
use pr_multipath::config::{ConfiguredKey, MultipathConf, PrKeys};
use pr_multipath::multipathd::Multipathd;
use pr_multipath::sgio::{DmRefresher, FromMapOptions};
use pr_multipath::{
    DmMapControl, Error, Failure, MapControl, MultipathLun, Path, PathState, RegisterRequest,
};
use pr_sgio::discover::{Discovery, PathInfo, PathState as DmPathState};
use pr_sgio::dm::DmControl;
use pr_sgio::{Device, Engine, OpenOptions};

use super::abi::*;
use super::log;
use super::sys::{self, FdKind};

/// What a call acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A dm-multipath map: its dm name (`mpatha`) and device number.
    Map {
        /// The dm name.
        name: String,
        /// `(major, minor)`.
        devt: (u32, u32),
    },
    /// One SCSI path by kernel name (`sdc`), for `prin_do_scsi_ioctl`/`prout_do_scsi_ioctl`.
    Path(String),
}

/// The dm-multipath map behind `fd`: `MPATH_PR_FILE_ERROR` when `fd` is not an open block
/// device, `MPATH_PR_DMMP_ERROR` when it is one but not a multipath map.
pub(crate) fn map_of_fd(fd: c_int) -> Result<Target, c_int> {
    match sys::fd_kind(fd) {
        FdKind::Bad => {
            log::msg(0, format_args!("stat error fd={fd}"));
            Err(MPATH_PR_FILE_ERROR)
        }
        FdKind::NotBlock => {
            log::msg(3, format_args!("fd={fd} is not a block device"));
            Err(MPATH_PR_FILE_ERROR)
        }
        FdKind::Block { major, minor } => map_of_devt(FsPath::new("/sys"), major, minor),
    }
}

/// The multipath map with device number `major:minor`, from sysfs (`dm/name`, and a
/// `dm/uuid` that starts with `mpath-`, which is how multipath marks its maps).
pub(crate) fn map_of_devt(sysfs: &FsPath, major: u32, minor: u32) -> Result<Target, c_int> {
    let dm = sysfs.join(format!("dev/block/{major}:{minor}/dm"));
    let read = |f: &str| std::fs::read_to_string(dm.join(f)).map(|s| s.trim().to_owned());
    match (read("uuid"), read("name")) {
        (Ok(uuid), Ok(name)) if uuid.starts_with("mpath-") && !name.is_empty() => {
            log::msg(4, format_args!("{major}:{minor} is map {name}"));
            Ok(Target::Map {
                name,
                devt: (major, minor),
            })
        }
        (Ok(_), Ok(name)) => {
            log::msg(3, format_args!("{name}: not a multipath device."));
            Err(MPATH_PR_DMMP_ERROR)
        }
        _ => {
            log::msg(
                0,
                format_args!("{major}:{minor} failed to get device alias."),
            );
            Err(MPATH_PR_DMMP_ERROR)
        }
    }
}

/// The PR OUT arguments, copied out of `struct prout_param_descriptor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProutArgs {
    /// RESERVATION KEY.
    pub key: ReservationKey,
    /// SERVICE ACTION RESERVATION KEY.
    pub sa_key: ReservationKey,
    /// `sa_flags`.
    pub flags: u8,
    /// The TransportIDs in wire form (SPEC_I_PT), already checked to decode.
    pub tids: Vec<Vec<u8>>,
}

/// A checked PR OUT request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ProutOp {
    /// REGISTER (`ignore` false) or REGISTER AND IGNORE EXISTING KEY.
    Register {
        /// REGISTER AND IGNORE EXISTING KEY.
        ignore: bool,
    },
    /// RESERVE.
    Reserve(ReservationType),
    /// RELEASE.
    Release(ReservationType),
    /// CLEAR.
    Clear,
    /// PREEMPT (`abort` false) or PREEMPT AND ABORT.
    Preempt {
        /// The type.
        ty: ReservationType,
        /// PREEMPT AND ABORT.
        abort: bool,
    },
    /// REGISTER AND MOVE: not supported through a map (libmpathpersist: `MPATH_PR_OTHER`).
    RegisterAndMove,
}

/// Checks the service action, scope and type of a PR OUT call.
pub(crate) fn prout_op(rq_servact: c_int, rq_scope: c_int, rq_type: u32) -> Result<ProutOp, c_int> {
    if rq_scope != MPATH_LU_SCOPE {
        log::msg(
            0,
            format_args!("invalid scope {rq_scope} (only LU_SCOPE, 0)"),
        );
        return Err(MPATH_PR_SYNTAX_ERROR);
    }
    let ty = || {
        u8::try_from(rq_type)
            .ok()
            .and_then(ReservationType::from_code)
            .ok_or_else(|| {
                log::msg(0, format_args!("invalid reservation type {rq_type}"));
                MPATH_PR_SYNTAX_ERROR
            })
    };
    Ok(match rq_servact {
        MPATH_PROUT_REG_SA => ProutOp::Register { ignore: false },
        MPATH_PROUT_REG_IGN_SA => ProutOp::Register { ignore: true },
        MPATH_PROUT_RES_SA => ProutOp::Reserve(ty()?),
        MPATH_PROUT_REL_SA => ProutOp::Release(ty()?),
        MPATH_PROUT_CLEAR_SA => ProutOp::Clear,
        MPATH_PROUT_PREE_SA => ProutOp::Preempt {
            ty: ty()?,
            abort: false,
        },
        MPATH_PROUT_PREE_AB_SA => ProutOp::Preempt {
            ty: ty()?,
            abort: true,
        },
        MPATH_PROUT_REG_MOV_SA => ProutOp::RegisterAndMove,
        other => {
            log::msg(0, format_args!("invalid PR OUT service action {other}"));
            return Err(MPATH_PR_SYNTAX_ERROR);
        }
    })
}

/// The PR IN service action, or `MPATH_PR_SYNTAX_ERROR`.
pub(crate) fn prin_action(rq_servact: c_int) -> Result<PrInAction, c_int> {
    match rq_servact {
        MPATH_PRIN_RKEY_SA => Ok(PrInAction::ReadKeys),
        MPATH_PRIN_RRES_SA => Ok(PrInAction::ReadReservation),
        MPATH_PRIN_RCAP_SA => Ok(PrInAction::ReportCapabilities),
        MPATH_PRIN_RFSTAT_SA => Ok(PrInAction::ReadFullStatus),
        other => {
            log::msg(0, format_args!("invalid service action, {other}"));
            Err(MPATH_PR_SYNTAX_ERROR)
        }
    }
}

/// The size of the result structure of a PR IN service action (what
/// `mpath_alloc_prin_response` allocates, without the descriptor pointers of RFSTAT).
pub(crate) fn prin_struct_size(action: PrInAction) -> usize {
    match action {
        PrInAction::ReadKeys => size_of::<PrinReaddescr>(),
        PrInAction::ReadReservation => size_of::<PrinResvdescr>(),
        PrInAction::ReportCapabilities => size_of::<PrinCapdescr>(),
        PrInAction::ReadFullStatus => size_of::<PrintFulldescrList>(),
    }
}

/// The ALLOCATION LENGTH of a PR IN: `mpath_mx_alloc_len` when it is set, else the size of
/// the service action's structure (READ FULL STATUS: plus the 32 descriptor pointers);
/// both capped at 8192 (`MPATH_MAX_PARAM_LEN`).
pub(crate) fn prin_alloc_len(action: PrInAction, mx_alloc_len: u32) -> u16 {
    let natural = match action {
        PrInAction::ReadFullStatus => {
            prin_struct_size(action) + MPATH_MX_TIDS * size_of::<*mut PrinFulldescr>()
        }
        a => prin_struct_size(a),
    };
    let len = if mx_alloc_len != 0 {
        usize::try_from(mx_alloc_len).unwrap_or(MPATH_MAX_PARAM_LEN)
    } else {
        natural
    };
    u16::try_from(len.min(MPATH_MAX_PARAM_LEN)).unwrap_or(8192)
}

/// Turns the caller's `struct transportid` (copied) into its wire form, as the SPEC_I_PT
/// parameter list carries it; `None` for what cannot be sent (unknown protocol, bad
/// iSCSI length).
pub(crate) fn tid_wire(t: &TransportId_) -> Option<Vec<u8>> {
    let b0 = (t.format_code & 0xc0) | (t.protocol_id & 0x0f);
    let mut w = vec![0u8; 24];
    *w.first_mut()? = b0;
    match t.protocol_id {
        MPATH_PROTOCOL_ID_FC => w.get_mut(8..16)?.copy_from_slice(&t.name[..8]),
        MPATH_PROTOCOL_ID_SAS => w.get_mut(4..12)?.copy_from_slice(&t.name[..8]),
        MPATH_PROTOCOL_ID_ISCSI => {
            // The caller stores the big-endian ADDITIONAL LENGTH in iscsi_name[0..2] and
            // the name after it.
            let n = usize::from(u16::from_be_bytes([t.name[0], t.name[1]]));
            if n == 0 || n + 2 > MPATH_MX_TID_LEN {
                return None;
            }
            w = Vec::with_capacity(4 + n);
            w.extend_from_slice(&[b0, 0]);
            w.extend_from_slice(t.name.get(..2 + n)?);
        }
        _ => return None,
    }
    let ok = TransportId::decode(&w).is_ok();
    ok.then_some(w)
}

/// A `struct transportid` copied into Rust (the name union as its 256 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub(crate) struct TransportId_ {
    /// FORMAT CODE, pre-shifted to bits 7:6.
    pub format_code: u8,
    /// PROTOCOL IDENTIFIER.
    pub protocol_id: u8,
    /// The union's bytes.
    pub name: [u8; MPATH_MX_TID_LEN],
}

/// pr-multipath's defaults for a map: multipathd on, `/etc/multipath.conf` and
/// `/etc/multipath/prkeys`, states fresh for 2 s after the build, re-read before every
/// later PR OUT.
fn options() -> FromMapOptions {
    FromMapOptions::default()
}

/// The LUNs of the maps used since `mpath_persistent_reserve_init_vecs`, by device
/// number, until `mpath_persistent_reserve_free_vecs` (or exit): the counterpart of
/// libmpathpersist's cached map and path vectors. `None` outside such a session.
type Session = HashMap<(u32, u32), Arc<pr_multipath::Lun>>;
static SESSION: Mutex<Option<Session>> = Mutex::new(None);

fn session() -> std::sync::MutexGuard<'static, Option<Session>> {
    SESSION
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts caching LUNs (`mpath_persistent_reserve_init_vecs`); keeps an existing cache.
pub(crate) fn session_begin() {
    session().get_or_insert_with(HashMap::new);
}

/// Drops the cached LUNs (`mpath_persistent_reserve_free_vecs`, exit).
pub(crate) fn session_end() {
    let old = session().take();
    drop(old);
}

fn path_state(p: &PathInfo) -> PathState {
    let running = p.sysfs_state.as_deref().is_none_or(|s| s == "running");
    if p.dm_state == DmPathState::Active && running {
        PathState::Usable
    } else {
        PathState::Failed
    }
}

/// The options every path device is opened with: read-only descriptors (PR OUT still
/// allowed), as libmpathpersist opens them, so that closing them does not make udev
/// synthesize `change` events; SG_IO on tokio's blocking pool (the fastest measured here
/// for both the fan-out of PR OUT and single PR IN commands, see BENCHMARKS.md).
fn open_options() -> OpenOptions {
    OpenOptions::new()
        .fd_read_only(true)
        .engine(Engine::BlockingPool)
}

/// The LUN of the map `name`, as `MultipathLun::from_map_with` builds it (paths in group
/// order with their states and SCSI hosts, suspend/resume, a refresher, the configured key
/// from multipath.conf and the prkeys file, multipathd), with path devices opened by
/// [`open_options`].
fn build_map(name: &str) -> Result<pr_multipath::Lun, Error> {
    let o = options();
    let discovery = Arc::new(Discovery::new()?);
    let map = discovery.map_by_name(name)?;
    let opts = open_options();
    let mut paths = Vec::new();
    for p in &map.paths {
        let (Some(pname), Some(node)) = (p.name.clone(), p.dev_path()) else {
            continue;
        };
        // A path whose device cannot be opened is left out, as multipathd would not use it.
        let Ok(dev) = Device::open_with(&node, &opts) else {
            continue;
        };
        let mut path = Path::new(pname, pr_multipath::AnyPath::Sg(dev))
            .with_group(p.group)
            .with_dev_t(p.dev.to_string())
            .with_state(path_state(p));
        if let Some(h) = p.host() {
            path = path.with_host(h);
        }
        paths.push(path);
    }
    let mut lun_opts = o.lun;
    let mut configured = None;
    if let Some(conf_path) = &o.multipath_conf {
        let conf = MultipathConf::load(conf_path)?;
        let prkeys = PrKeys::load(&o.prkeys)?;
        if let Some(a) = conf.all_tg_pt {
            lun_opts.all_tg_pt = a;
        }
        configured = ConfiguredKey::resolve(&conf, &prkeys, &map.wwid);
    }
    let control: Arc<dyn MapControl> = Arc::new(DmMapControl::new(Arc::new(DmControl::open()?)));
    let mut lun = MultipathLun::new(map.name.clone(), paths)
        .with_wwid(map.wwid.clone())
        .with_options(lun_opts)
        .with_configured_key(configured)
        .with_map_control(control)
        .with_refresher(Arc::new(DmRefresher::new(discovery, map.name.clone())))
        .with_refresh_interval(o.refresh_interval)
        .with_states_fresh_for(o.fresh_for);
    if o.multipathd {
        lun = lun.with_multipathd(Multipathd::socket());
    }
    Ok(lun)
}

async fn build(target: Target) -> Result<pr_multipath::Lun, c_int> {
    let built = tokio::task::spawn_blocking(move || match &target {
        Target::Map { name, .. } => build_map(name),
        Target::Path(dev) => Device::open_with(format!("/dev/{dev}"), &open_options())
            .map(|d| pr_multipath::Lun::of_one_path(dev.clone(), d))
            .map_err(Error::from),
    })
    .await;
    match built {
        Ok(Ok(lun)) => Ok(lun),
        Ok(Err(e)) => {
            log::msg(0, format_args!("{e}"));
            Err(match e {
                Error::Config { .. } => MPATH_PR_OTHER,
                _ => MPATH_PR_DMMP_ERROR,
            })
        }
        Err(_) => Err(MPATH_PR_THREAD_ERROR),
    }
}

/// Whether the configured key that multipath.conf and the prkeys file give now for
/// `lun` is the one it holds (another process may have changed the prkeys file).
fn configured_key_current(lun: &pr_multipath::Lun) -> bool {
    let o = options();
    let Some(conf_path) = &o.multipath_conf else {
        return true;
    };
    let (Ok(conf), Ok(prkeys)) = (MultipathConf::load(conf_path), PrKeys::load(&o.prkeys)) else {
        return false;
    };
    let now = lun
        .wwid()
        .and_then(|w| ConfiguredKey::resolve(&conf, &prkeys, w));
    now == lun.configured_key()
}

/// The LUN for `target`: from the session cache when `cached` and a session is open
/// (rebuilt when the map's name changed or, for a PR OUT, its configured key), else
/// built for this call.
async fn lun_of(
    target: Target,
    cached: bool,
    pr_out: bool,
) -> Result<Arc<pr_multipath::Lun>, c_int> {
    let devt = match (&target, cached) {
        (Target::Map { devt, .. }, true) => Some(*devt),
        _ => None,
    };
    if let (Some(devt), Target::Map { name, .. }) = (devt, &target) {
        let hit = session().as_ref().and_then(|s| s.get(&devt).cloned());
        if let Some(lun) = hit
            && lun.name() == name
            && (!pr_out || configured_key_current(&lun))
        {
            return Ok(lun);
        }
    }
    let lun = Arc::new(build(target).await?);
    if let Some(devt) = devt
        && let Some(s) = session().as_mut()
    {
        s.insert(devt, Arc::clone(&lun));
    }
    Ok(lun)
}

/// PR IN on the caller's thread, for a map whose LUN the session has cached: one SG_IO
/// on the LUN's first usable path with [`Device::execute_blocking`], as libmpathpersist
/// does it (its vectors cached, everything on the caller's thread), instead of four
/// thread hand-offs through the runtime thread and the blocking pool. `None` whenever
/// that is not the whole story (no session or not cached, the map renamed, no usable
/// path, any error or non-GOOD status): the caller then takes the full path
/// ([`prin`]: unit attention retries, failover, path state updates), which sends the
/// command again (PR IN changes nothing on the device). Needs no runtime.
pub(crate) fn prin_fast(target: &Target, action: PrInAction, alloc_len: u16) -> Option<Vec<u8>> {
    let Target::Map { name, devt } = target else {
        return None;
    };
    let lun = session().as_ref().and_then(|s| s.get(devt).cloned())?;
    if lun.name() != name {
        return None;
    }
    let (path, buf) = lun.pr_in_on_this_thread(action, alloc_len)?;
    log::msg(
        3,
        format_args!("{}: PR IN {} answered by {path}", lun.name(), action.name()),
    );
    Some(buf)
}

/// PR IN through the map (or path): the raw response, at most `alloc_len` bytes.
pub(crate) async fn prin(
    target: Target,
    action: PrInAction,
    alloc_len: u16,
    cached: bool,
) -> Result<Vec<u8>, c_int> {
    let lun = lun_of(target, cached, false).await?;
    match lun.pr_in_raw(action, alloc_len).await {
        Ok((path, buf)) => {
            log::msg(
                3,
                format_args!("{}: PR IN {} answered by {path}", lun.name(), action.name()),
            );
            Ok(buf)
        }
        Err(e) => Err(report_error(&e)),
    }
}

/// PR OUT through the map (or path).
pub(crate) async fn prout(target: Target, op: ProutOp, args: ProutArgs, cached: bool) -> c_int {
    let lun = match lun_of(target, cached, true).await {
        Ok(l) => l,
        Err(code) => return code,
    };
    let spec = args.flags & MPATH_F_SPEC_I_PT_MASK != 0 && !args.tids.is_empty();
    let r = match op {
        ProutOp::Register { ignore } => {
            let mut req = if ignore {
                RegisterRequest::register_ignore(args.sa_key).current_key(args.key)
            } else {
                RegisterRequest::register(args.key, args.sa_key)
            };
            if args.flags & MPATH_F_APTPL_MASK != 0 {
                req = req.aptpl();
            }
            if args.flags & MPATH_F_ALL_TG_PT_MASK != 0 {
                req = req.all_tg_pt(true);
            }
            if spec {
                let ids: Vec<TransportId<'_>> = args
                    .tids
                    .iter()
                    .filter_map(|w| TransportId::decode(w).ok().map(|(t, _)| t))
                    .collect();
                lun.register_spec_i_pt(req, &ids).await
            } else {
                lun.register(req).await
            }
        }
        ProutOp::Reserve(ty) => lun.reserve(args.key, ty).await,
        ProutOp::Release(ty) => lun.release(args.key, ty).await,
        ProutOp::Clear => lun.clear(args.key).await,
        ProutOp::Preempt { ty, abort: false } => lun.preempt(args.key, args.sa_key, ty).await,
        ProutOp::Preempt { ty, abort: true } => {
            lun.preempt_and_abort(args.key, args.sa_key, ty).await
        }
        ProutOp::RegisterAndMove => {
            log::msg(
                0,
                format_args!("REGISTER AND MOVE is not supported through a multipath map"),
            );
            return MPATH_PR_OTHER;
        }
    };
    match r {
        Ok(report) => {
            log::msg(4, format_args!("{report}"));
            MPATH_PR_SUCCESS
        }
        Err(e) => report_error(&e),
    }
}

fn report_error(e: &Error) -> c_int {
    let code = code_of(e);
    let level = if matches!(code, MPATH_PR_RESERV_CONFLICT) {
        3
    } else {
        0
    };
    log::msg(level, format_args!("{e}"));
    if let Some(r) = e.report() {
        log::msg(4, format_args!("{r}"));
    }
    code
}

/// The `MPATH_PR_*` code of a pr-multipath error (see the README's table).
pub(crate) fn code_of(e: &Error) -> c_int {
    match e {
        Error::NoUsablePath { .. } => MPATH_PR_DMMP_ERROR,
        Error::Failed { failure, .. } => failure.as_deref().map_or(MPATH_PR_OTHER, code_of_failure),
        Error::KeyMismatch { .. } | Error::NoConfiguredKey { .. } | Error::Build(_) => {
            MPATH_PR_SYNTAX_ERROR
        }
        Error::TypeMismatch { .. } | Error::NotRegistered { .. } => MPATH_PR_RESERV_CONFLICT,
        Error::Multipathd(_) | Error::Sgio(_) => MPATH_PR_DMMP_ERROR,
        _ => MPATH_PR_OTHER,
    }
}

/// The `MPATH_PR_*` code of one command's failure, as libmpathpersist translates SCSI
/// status and sense keys.
pub(crate) fn code_of_failure(f: &Failure) -> c_int {
    match f {
        Failure::Transport(_) => MPATH_PR_OTHER,
        Failure::Command(c) => match c {
            CommandError::ReservationConflict { .. } => MPATH_PR_RESERV_CONFLICT,
            CommandError::UnitAttention { .. } => MPATH_PR_SENSE_UNIT_ATTENTION,
            CommandError::NotReady { .. } => MPATH_PR_SENSE_NOT_READY,
            CommandError::IllegalRequest { .. } => MPATH_PR_ILLEGAL_REQ,
            CommandError::MediumError { .. } => MPATH_PR_SENSE_MEDIUM_ERROR,
            CommandError::HardwareError { .. } => MPATH_PR_SENSE_HARDWARE_ERROR,
            CommandError::AbortedCommand { .. } => MPATH_PR_SENSE_ABORTED_COMMAND,
            CommandError::OtherSenseKey {
                key: SenseKey::NoSense,
                ..
            } => MPATH_PR_NO_SENSE,
            CommandError::MalformedSense { .. } => MPATH_PR_SENSE_MALFORMED,
            _ => MPATH_PR_OTHER,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_actions_scopes_and_types_are_checked() {
        assert_eq!(prin_action(3), Ok(PrInAction::ReadFullStatus));
        assert_eq!(prin_action(4), Err(MPATH_PR_SYNTAX_ERROR));
        assert_eq!(prin_action(-1), Err(MPATH_PR_SYNTAX_ERROR));
        assert_eq!(prout_op(0, 0, 0), Ok(ProutOp::Register { ignore: false }));
        assert_eq!(prout_op(6, 0, 99), Ok(ProutOp::Register { ignore: true }));
        assert_eq!(prout_op(1, 0, 2), Err(MPATH_PR_SYNTAX_ERROR));
        assert_eq!(prout_op(1, 0, 0x105), Err(MPATH_PR_SYNTAX_ERROR));
        assert_eq!(
            prout_op(1, 0, 5),
            Ok(ProutOp::Reserve(
                ReservationType::WriteExclusiveRegistrantsOnly
            ))
        );
        assert_eq!(prout_op(1, 1, 5), Err(MPATH_PR_SYNTAX_ERROR));
        assert_eq!(prout_op(8, 0, 5), Err(MPATH_PR_SYNTAX_ERROR));
        assert_eq!(prout_op(7, 0, 5), Ok(ProutOp::RegisterAndMove));
    }

    #[test]
    fn errors_name_the_map_and_map_to_upstream_codes() {
        let e = Error::TypeMismatch {
            lun: "mpathb".into(),
            requested: ReservationType::ExclusiveAccess,
            held: 1,
            report: Box::default(),
        };
        assert_eq!(code_of(&e), MPATH_PR_RESERV_CONFLICT);
        assert_eq!(
            e.to_string(),
            "mpathb: release type 3 (Exclusive Access) doesn't match the reservation's type 1 \
             (Write Exclusive)"
        );
        let e = Error::KeyMismatch {
            lun: "mpathb".into(),
            configured: pr_core::types::ReservationKey(0x123abc),
            given: pr_core::types::ReservationKey(0x1),
        };
        assert_eq!(code_of(&e), MPATH_PR_SYNTAX_ERROR);
        assert_eq!(
            e.to_string(),
            "mpathb: configured reservation key doesn't match: 0x123abc"
        );
    }

    #[test]
    fn allocation_lengths_follow_the_structures_and_the_8192_cap() {
        assert_eq!(prin_alloc_len(PrInAction::ReadKeys, 0), 8192);
        assert_eq!(prin_alloc_len(PrInAction::ReadReservation, 0), 24);
        assert_eq!(prin_alloc_len(PrInAction::ReportCapabilities, 0), 8);
        assert_eq!(prin_alloc_len(PrInAction::ReadFullStatus, 0), 8192);
        assert_eq!(prin_alloc_len(PrInAction::ReadReservation, 100), 100);
        assert_eq!(prin_alloc_len(PrInAction::ReadKeys, 70000), 8192);
    }

    #[test]
    fn transport_ids_become_wire_bytes() {
        let mut t = TransportId_ {
            format_code: 0,
            protocol_id: MPATH_PROTOCOL_ID_SAS,
            name: [0; 256],
        };
        t.name[..8].copy_from_slice(&[0x50, 1, 2, 3, 4, 5, 6, 7]);
        let w = tid_wire(&t).unwrap();
        assert_eq!(w.len(), 24);
        assert_eq!(w[0], 6);
        assert_eq!(&w[4..12], &[0x50, 1, 2, 3, 4, 5, 6, 7]);

        let name = b"iqn.2003-01.org.x:a\0";
        let mut i = TransportId_ {
            format_code: 0,
            protocol_id: MPATH_PROTOCOL_ID_ISCSI,
            name: [0; 256],
        };
        i.name[..2].copy_from_slice(&20u16.to_be_bytes());
        i.name[2..22].copy_from_slice(name);
        let w = tid_wire(&i).unwrap();
        assert_eq!(w.len(), 24);
        assert_eq!(&w[..4], &[5, 0, 0, 20]);
        i.name[..2].copy_from_slice(&300u16.to_be_bytes());
        assert_eq!(tid_wire(&i), None, "too long for iscsi_name");
        let bad = TransportId_ {
            protocol_id: 9,
            ..t
        };
        assert_eq!(tid_wire(&bad), None);
    }

    #[test]
    fn devices_that_are_not_multipath_maps_are_dmmp_errors() {
        let dir = std::env::temp_dir().join(format!("mpp-sysfs-{}", std::process::id()));
        let dm = dir.join("dev/block/254:3/dm");
        std::fs::create_dir_all(&dm).unwrap();
        std::fs::write(dm.join("name"), "mpatha\n").unwrap();
        std::fs::write(dm.join("uuid"), "mpath-3600140512345\n").unwrap();
        assert_eq!(
            map_of_devt(&dir, 254, 3),
            Ok(Target::Map {
                name: "mpatha".into(),
                devt: (254, 3)
            })
        );
        std::fs::write(dm.join("uuid"), "LVM-abc\n").unwrap();
        assert_eq!(map_of_devt(&dir, 254, 3), Err(MPATH_PR_DMMP_ERROR));
        assert_eq!(
            map_of_devt(&dir, 8, 0),
            Err(MPATH_PR_DMMP_ERROR),
            "an sd disk"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn file_descriptors_that_are_not_block_devices_are_file_errors() {
        assert_eq!(map_of_fd(-1), Err(MPATH_PR_FILE_ERROR));
        let f = std::fs::File::open("/dev/null").unwrap();
        use std::os::fd::AsRawFd;
        assert_eq!(map_of_fd(f.as_raw_fd()), Err(MPATH_PR_FILE_ERROR));
    }
}
