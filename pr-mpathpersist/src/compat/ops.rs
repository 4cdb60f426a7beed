//! The operations behind the C entry points, in safe Rust, on pr-multipath's front door:
//! which multipath map a file descriptor is ([`pr_multipath::Lun::map_name_of_dev_t`]), its LUN
//! ([`pr_multipath::Lun::from_map_with`], cached within an `init_vecs` session), one PR IN
//! or PR OUT on it (on the caller's thread, or on pr-multipath's runtime thread through
//! [`pr_multipath::blocking`]), and every outcome as a `MPATH_PR_*` code.
//!
//! Nothing here touches C memory: the entry points copy the caller's arguments before,
//! and write results back after (see `fill.rs`).

use core::ffi::c_int;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use pr_core::outcome::CommandError;
use pr_core::sense::SenseKey;
use pr_core::types::PrInAction;
use pr_multipath::blocking::{self, BridgeError};
use pr_multipath::config::{ConfiguredKey, MultipathConf, PrKeys};
use pr_multipath::{Error, ErrorKind, FromMapOptions, Lun, OpenOptions, OutRequest};
use tracing::instrument::WithSubscriber;

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
/// device, `MPATH_PR_DMMP_ERROR` when it is one but not a multipath map (a SCSI disk, a
/// partition, another device-mapper target, ...), as libmpathpersist decides.
pub(crate) fn map_of_fd(fd: c_int) -> Result<Target, c_int> {
    let (major, minor) = match sys::fd_kind(fd) {
        FdKind::Bad => {
            log::msg(0, format_args!("stat error fd={fd}"));
            return Err(MPATH_PR_FILE_ERROR);
        }
        FdKind::NotBlock => {
            log::msg(3, format_args!("fd={fd} is not a block device"));
            return Err(MPATH_PR_FILE_ERROR);
        }
        FdKind::Block { major, minor } => (major, minor),
    };
    // The front door decides from the device number the descriptor is open on.
    match Lun::map_name_of_dev_t(major, minor) {
        Ok(Some(name)) => {
            log::msg(4, format_args!("{major}:{minor} is map {name}"));
            Ok(Target::Map {
                name,
                devt: (major, minor),
            })
        }
        Ok(None) => {
            log::msg(3, format_args!("{major}:{minor}: not a multipath device."));
            Err(MPATH_PR_DMMP_ERROR)
        }
        Err(e) => Err(target_error(&format!("{major}:{minor}"), &e)),
    }
}

/// The code of an error that came before any LUN was built: an unusable argument (a
/// descriptor or name) is `MPATH_PR_FILE_ERROR`; a device that is not a multipath map or
/// SCSI device, or any other trouble finding it, `MPATH_PR_DMMP_ERROR`.
fn target_error(what: &str, e: &Error) -> c_int {
    match (e.kind(), e) {
        (ErrorKind::InvalidArgument, _) => {
            log::msg(0, format_args!("{e}"));
            MPATH_PR_FILE_ERROR
        }
        (ErrorKind::NotScsi, Error::NotScsi { reason, .. }) => {
            log::msg(
                3,
                format_args!("{what}: not a multipath device ({reason})."),
            );
            MPATH_PR_DMMP_ERROR
        }
        _ => {
            log::msg(0, format_args!("{what} failed to get device alias: {e}"));
            MPATH_PR_DMMP_ERROR
        }
    }
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

/// How a map's LUN is built: pr-multipath's defaults (multipathd on, `/etc/multipath.conf`
/// and `/etc/multipath/prkeys`, states fresh for 2 s after the build, re-read before every
/// later PR OUT), with the path devices opened read-only as libmpathpersist opens them
/// (closing a descriptor opened for writing makes udev synthesize a `change` event).
fn map_options() -> FromMapOptions {
    FromMapOptions {
        fd_read_only: true,
        ..FromMapOptions::default()
    }
}

/// How one path (`prin_do_scsi_ioctl`) is opened: that device alone, read-only, even when
/// it is a map's node.
fn path_options() -> OpenOptions {
    OpenOptions {
        map_as_device: true,
        fd_read_only: true,
        ..OpenOptions::default()
    }
}

/// The LUNs of the maps used since `mpath_persistent_reserve_init_vecs`, by device
/// number, until `mpath_persistent_reserve_free_vecs` (or exit): the counterpart of
/// libmpathpersist's cached map and path vectors. `None` outside such a session.
type Session = HashMap<(u32, u32), Arc<Lun>>;
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

/// Serialises the tests that use pr-multipath's runtime thread (one of them shuts it
/// down to see which thread answered).
#[cfg(test)]
pub(crate) static RUNTIME_TESTS: Mutex<()> = Mutex::new(());

/// Puts `lun` in the session's cache as the LUN of device `devt` (tests).
#[cfg(test)]
pub(crate) fn session_insert(devt: (u32, u32), lun: Arc<Lun>) {
    if let Some(s) = session().as_mut() {
        s.insert(devt, lun);
    }
}

/// Drops the cached LUNs (`mpath_persistent_reserve_free_vecs`, exit).
pub(crate) fn session_end() {
    let old = session().take();
    drop(old);
}

/// Builds the LUN of `target` on the caller's thread (sysfs, device-mapper, opening the
/// path devices: blocking work, as in libmpathpersist).
fn build(target: &Target) -> Result<Lun, c_int> {
    let built = match target {
        Target::Map { name, .. } => Lun::from_map_with(name, &map_options()),
        Target::Path(dev) => Lun::open_with(&format!("/dev/{dev}"), &path_options()),
    };
    built.map_err(|e| {
        log::msg(0, format_args!("{e}"));
        match e {
            // multipath.conf or the prkeys file cannot be read.
            Error::Config { .. } => MPATH_PR_OTHER,
            // No such device, not SCSI, device-mapper or sysfs trouble.
            _ => MPATH_PR_DMMP_ERROR,
        }
    })
}

/// Whether the configured key that multipath.conf and the prkeys file give now for
/// `lun` is the one it holds (another process may have changed the prkeys file).
fn configured_key_current(lun: &Lun) -> bool {
    let o = map_options();
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

/// The session's LUN of `target`, if it has one under the map's current name.
fn cached_lun(target: &Target) -> Option<Arc<Lun>> {
    let Target::Map { name, devt } = target else {
        return None;
    };
    let lun = session().as_ref().and_then(|s| s.get(devt).cloned())?;
    (lun.name() == name).then_some(lun)
}

/// The LUN for `target`: from the session cache when `cached` and a session is open
/// (rebuilt when the map's name changed or, for a PR OUT, its configured key), else
/// built for this call.
fn lun_of(target: &Target, cached: bool, pr_out: bool) -> Result<Arc<Lun>, c_int> {
    if cached
        && let Some(lun) = cached_lun(target)
        && (!pr_out || configured_key_current(&lun))
    {
        return Ok(lun);
    }
    let lun = Arc::new(build(target)?);
    if let (true, Target::Map { devt, .. }) = (cached, target)
        && let Some(s) = session().as_mut()
    {
        s.insert(*devt, Arc::clone(&lun));
    }
    Ok(lun)
}

/// Runs `fut` through pr-multipath's runtime bridge and waits, carrying this thread's
/// `tracing` dispatcher (see `trace.rs`) into it.
fn run<F>(fut: F) -> Result<F::Output, BridgeError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
    blocking::block_on(fut.with_subscriber(dispatch))
}

/// The code of a runtime-thread failure.
fn bridge_code(e: &BridgeError) -> c_int {
    log::msg(0, format_args!("{e}"));
    match e {
        BridgeError::Start(_) => MPATH_PR_THREAD_ERROR,
        _ => MPATH_PR_OTHER,
    }
}

/// The answer of one PR IN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The LUN (map name, or the path's kernel name).
    pub lun: String,
    /// The path that answered.
    pub path: String,
    /// The response, at most the allocation length.
    pub bytes: Vec<u8>,
}

/// PR IN through the map (or path): the raw response, at most `alloc_len` bytes.
///
/// With `cached`, inside an `init_vecs` session whose cache has the map's LUN, the command
/// is first sent on the caller's thread ([`Lun::pr_in_on_this_thread`]: one SG_IO on the
/// path pr-multipath would try first, as libmpathpersist does it, instead of hand-offs to
/// the runtime thread); when that is not the whole story (no usable path, anything but
/// GOOD) the full path follows ([`Lun::pr_in_raw`]: unit attention retries, failover,
/// path state updates), which sends the command again (PR IN changes nothing on the
/// device). Either way the caller gets the same [`Answer`].
pub(crate) fn prin(
    target: &Target,
    action: PrInAction,
    alloc_len: u16,
    cached: bool,
) -> Result<Answer, c_int> {
    if cached
        && let Some(lun) = cached_lun(target)
        && let Some((path, bytes)) = lun.pr_in_on_this_thread(action, alloc_len)
    {
        return Ok(Answer {
            lun: lun.name().to_owned(),
            path,
            bytes,
        });
    }
    let lun = lun_of(target, cached, false)?;
    let on_runtime = Arc::clone(&lun);
    match run(async move { on_runtime.pr_in_raw(action, alloc_len).await }) {
        Ok(Ok((path, bytes))) => Ok(Answer {
            lun: lun.name().to_owned(),
            path,
            bytes,
        }),
        Ok(Err(e)) => Err(report_error(&lun, &e)),
        Err(e) => Err(bridge_code(&e)),
    }
}

/// PR OUT through the map (or path). `noisy_dump`: the parameter list to show (at level
/// 0, as libmpathpersist's `noisy` does) once the LUN is there, before anything is sent.
pub(crate) fn prout(
    target: &Target,
    request: OutRequest,
    noisy_dump: Option<&[u8]>,
    cached: bool,
) -> c_int {
    let lun = match lun_of(target, cached, true) {
        Ok(l) => l,
        Err(code) => return code,
    };
    if let Some(bytes) = noisy_dump {
        log::msg(4, format_args!("{}: PR OUT parameter list:", lun.name()));
        log::dump(bytes);
    }
    let on_runtime = Arc::clone(&lun);
    match run(async move { on_runtime.execute(&request).await }) {
        Ok(Ok(report)) => {
            log::msg(4, format_args!("{report}"));
            MPATH_PR_SUCCESS
        }
        Ok(Err(e)) => report_error(&lun, &e),
        Err(e) => bridge_code(&e),
    }
}

/// Says why an operation on `lun` failed (as libmpathpersist words it where it has a
/// message of its own) and returns its code.
fn report_error(lun: &Lun, e: &Error) -> c_int {
    let code = code_of(e);
    match e {
        Error::TypeMismatch {
            requested, held, ..
        } => log::msg(
            2,
            format_args!(
                "{}: --prout_type {} doesn't match reservation {held}",
                lun.wwid().unwrap_or(lun.name()),
                requested.code()
            ),
        ),
        _ if code == MPATH_PR_RESERV_CONFLICT => log::msg(3, format_args!("{e}")),
        _ => log::msg(0, format_args!("{e}")),
    }
    if let Some(r) = e.report() {
        log::msg(4, format_args!("{r}"));
    }
    code
}

/// The `MPATH_PR_*` code of a pr-multipath error (see the README's table): the device's
/// answer when a command failed at the device, else by the error's kind.
pub(crate) fn code_of(e: &Error) -> c_int {
    if let Some(c) = e.command_error() {
        return code_of_command(c);
    }
    if e.failure().is_some() {
        // The command did not complete at the device (path down, timeout, OS error):
        // libmpathpersist's "ioctl failed" or host status.
        return MPATH_PR_OTHER;
    }
    match e.kind() {
        // A RESERVATION CONFLICT, or a RELEASE of another type than the reservation's.
        ErrorKind::ReservationConflict => MPATH_PR_RESERV_CONFLICT,
        ErrorKind::KeyMismatch | ErrorKind::InvalidArgument => MPATH_PR_SYNTAX_ERROR,
        // No usable path (an operation with a report had commands fail: handled above).
        ErrorKind::PathFailure if e.report().is_none() => MPATH_PR_DMMP_ERROR,
        ErrorKind::NotFound | ErrorKind::NotScsi | ErrorKind::PermissionDenied => {
            MPATH_PR_DMMP_ERROR
        }
        // Device-mapper or multipathd trouble; not a configuration file that cannot be read.
        ErrorKind::System if !matches!(e, Error::Config { .. }) => MPATH_PR_DMMP_ERROR,
        ErrorKind::Internal if matches!(e, Error::Runtime(BridgeError::Start(_))) => {
            MPATH_PR_THREAD_ERROR
        }
        _ => MPATH_PR_OTHER,
    }
}

/// The `MPATH_PR_*` code of a command that completed at the device unsuccessfully, as
/// libmpathpersist translates SCSI status and sense keys.
pub(crate) fn code_of_command(c: &CommandError) -> c_int {
    match c {
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
    }
}

/// A simulated map `name` for the unit tests: one node's two paths (`sd1`, `sd2`, on SCSI
/// hosts 1 and 2) to one LUN, and the cluster behind it (for fault injection).
#[cfg(test)]
pub(crate) fn sim_lun(name: &str) -> (pr_sim::Cluster, Lun) {
    use pr_multipath::Path;
    let c = pr_sim::Sim::cluster(&pr_sim::ClusterSpec {
        nodes: 1,
        luns: 1,
        ..pr_sim::ClusterSpec::default()
    });
    let paths = c.nodes[0].paths[0]
        .iter()
        .zip(1u32..)
        .map(|(p, h)| Path::new(format!("sd{h}"), p.clone().into()).with_host(h))
        .collect();
    (c, Lun::new(name, paths))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pr_core::types::{ReservationKey, ReservationType};
    use pr_multipath::config::KeySource;
    use pr_multipath::{PathState, RegisterRequest};

    #[test]
    fn service_actions_are_checked() {
        assert_eq!(prin_action(3), Ok(PrInAction::ReadFullStatus));
        assert_eq!(prin_action(4), Err(MPATH_PR_SYNTAX_ERROR));
        assert_eq!(prin_action(-1), Err(MPATH_PR_SYNTAX_ERROR));
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
    fn file_descriptors_that_are_not_block_devices_are_file_errors() {
        use std::os::fd::AsRawFd;
        assert_eq!(map_of_fd(-1), Err(MPATH_PR_FILE_ERROR));
        let f = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(map_of_fd(f.as_raw_fd()), Err(MPATH_PR_FILE_ERROR));
        let d = std::fs::File::open("/").unwrap();
        assert_eq!(map_of_fd(d.as_raw_fd()), Err(MPATH_PR_FILE_ERROR));
    }

    #[test]
    fn block_devices_that_are_not_multipath_maps_are_dmmp_errors() {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::FileTypeExt;
        let Some(f) = std::fs::read_dir("/dev")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_block_device()))
            .find_map(|e| std::fs::File::open(e.path()).ok())
        else {
            eprintln!("no block device can be opened here: the DMMP_ERROR case is not checked");
            return;
        };
        // Unless it is a map (not on a test host), it is a DMMP_ERROR.
        match map_of_fd(f.as_raw_fd()) {
            Ok(Target::Map { name, .. }) => eprintln!("{name} is a multipath map"),
            other => assert_eq!(other, Err(MPATH_PR_DMMP_ERROR)),
        }
    }

    #[test]
    fn missing_and_non_scsi_paths_are_dmmp_errors() {
        assert_eq!(
            build(&Target::Path("no-such-dev".into())).err(),
            Some(MPATH_PR_DMMP_ERROR)
        );
        assert_eq!(
            build(&Target::Path("null".into())).err(),
            Some(MPATH_PR_DMMP_ERROR)
        );
    }

    /// A simulated LUN of two paths, on two hosts.
    fn two_paths() -> Lun {
        super::sim_lun("mpathb").1
    }

    #[test]
    fn a_release_of_another_type_is_a_reservation_conflict() {
        let _serial = RUNTIME_TESTS.lock();
        let key = ReservationKey(0x123abc);
        let lun = Arc::new(two_paths());
        let l = Arc::clone(&lun);
        let released = run(async move {
            l.execute(&OutRequest::register(RegisterRequest::register_ignore(key)))
                .await?;
            let reserved = l
                .execute(&OutRequest::Reserve {
                    key,
                    reservation_type: ReservationType::WriteExclusive,
                })
                .await?;
            // The path holding the reservation is down.
            let holder = reserved
                .steps
                .iter()
                .find(|s| s.is_ok())
                .map(|s| s.path.clone());
            l.set_path_state(&holder.unwrap_or_default(), PathState::Failed);
            l.execute(&OutRequest::Release {
                key,
                reservation_type: ReservationType::ExclusiveAccess,
            })
            .await
        })
        .unwrap();
        let e = released.unwrap_err();
        assert!(matches!(e, Error::TypeMismatch { held: 1, .. }), "{e:?}");
        assert_eq!(e.kind(), ErrorKind::ReservationConflict, "{e}");
        assert_eq!(report_error(&lun, &e), MPATH_PR_RESERV_CONFLICT);
    }

    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

    #[test]
    fn the_calls_dispatcher_goes_along_with_the_operation() {
        let _serial = RUNTIME_TESTS.lock();
        let d = tracing::Dispatch::new(super::super::trace::Verbose::new(
            || 4,
            |l| SEEN.lock().unwrap().push(l.to_owned()),
        ));
        let thread = tracing::dispatcher::with_default(&d, || {
            run(async {
                tracing::debug!(target: "pr_multipath", "on the runtime thread");
                std::thread::current().name().map(str::to_owned)
            })
        });
        // polled on the caller's thread (pr_multipath::blocking::block_on)
        assert_eq!(
            thread.unwrap(),
            std::thread::current().name().map(str::to_owned)
        );
        assert_eq!(*SEEN.lock().unwrap(), ["on the runtime thread"]);
        // Without it, nothing reaches that subscriber.
        run(async { tracing::debug!(target: "pr_multipath", "not seen") }).unwrap();
        assert_eq!(SEEN.lock().unwrap().len(), 1);
    }

    #[test]
    fn errors_map_to_codes_by_kind() {
        let _serial = RUNTIME_TESTS.lock();
        let lun = two_paths().with_configured_key(Some(ConfiguredKey {
            key: ReservationKey(7),
            aptpl: false,
            source: KeySource::Config,
        }));
        let e = blocking::block_on(async move {
            lun.execute(&OutRequest::Clear {
                key: ReservationKey(8),
            })
            .await
        })
        .unwrap()
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::KeyMismatch);
        assert_eq!(
            e.to_string(),
            "mpathb: configured reservation key doesn't match: 0x7"
        );
        assert_eq!(code_of(&e), MPATH_PR_SYNTAX_ERROR);

        let lun = two_paths();
        for p in ["sd1", "sd2"] {
            lun.set_path_state(p, PathState::Failed);
        }
        let e = blocking::block_on(async move { lun.pr_in_raw(PrInAction::ReadKeys, 8192).await })
            .unwrap()
            .unwrap_err();
        assert_eq!(code_of(&e), MPATH_PR_DMMP_ERROR, "{e}");
        assert_eq!(
            code_of(&Error::Runtime(BridgeError::Start("x".into()))),
            MPATH_PR_THREAD_ERROR
        );
        assert_eq!(
            code_of(&Error::Config {
                path: "/etc/multipath.conf".into(),
                reason: "bad".into()
            }),
            MPATH_PR_OTHER
        );
    }
}
