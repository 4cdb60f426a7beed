//! Real-device tests, run inside the project's QEMU lab (LIO LUNs reached through several
//! I_T nexuses, dm-multipath on top). Every test is `#[ignore]`d so that `cargo test` stays
//! hermetic; `lab/test.sh` runs them, or by hand:
//!
//! ```text
//! lab/test.sh                                        # all lab tests, every topology
//! cargo test -p pr-sgio --test lab --no-run          # or by hand: build on the host,
//! lab/run.sh -p 2 -- target/debug/deps/lab-<hash> --ignored --test-threads=1
//! ```
//!
//! They read the lab topology from `LAB_MPATH_0` (`/dev/mapper/...`), `LAB_PATHS_0`
//! (its `/dev/sdX` paths, space separated) and `LAB_SG_0` (the matching `/dev/sgN`), and
//! fail with a clear message when run without them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pr_core::prout::PrOut;
use pr_core::transport::{Cdb, Request, Transport, TransportError};
use pr_core::types::{PrInAction, ReservationKey, ReservationType};
use pr_lab_support::raw::{self, PrInData, PrInOptions};
use pr_sgio::discover::{self, Discovery, PathState};
use pr_sgio::{BlockPrDevice, Device, DeviceKind, Engine, Error, OpenOptions};

/// PR OUT tests change the LUN's state: run them one at a time even without
/// `--test-threads=1`.
static PR_STATE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The lab variable `name`; panics with how to run the lab when it is missing.
fn lab_var(name: &str) -> String {
    pr_lab_support::need(name)
}

fn lab_paths() -> Vec<PathBuf> {
    let v: Vec<PathBuf> = lab_var("LAB_PATHS_0")
        .split_whitespace()
        .map(PathBuf::from)
        .collect();
    assert!(!v.is_empty(), "LAB_PATHS_0 lists no path");
    v
}

fn lab_map() -> PathBuf {
    PathBuf::from(lab_var("LAB_MPATH_0"))
}

fn lab_sgs() -> Vec<PathBuf> {
    lab_var("LAB_SG_0")
        .split_whitespace()
        .map(PathBuf::from)
        .collect()
}

fn test_key(salt: u64) -> ReservationKey {
    ReservationKey(0x5157_0000_0000_0000 | (u64::from(std::process::id()) << 8) | salt)
}

/// Runs `f`, retrying while the device reports a UNIT ATTENTION (LIO reports the
/// consequences of earlier PR commands once per nexus).
async fn retry_ua<T, F, Fut>(mut f: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: core::future::Future<Output = Result<T, Error>>,
{
    for _ in 0..5 {
        match f().await {
            Err(e) if e.command_error().is_some_and(|c| c.is_unit_attention()) => continue,
            r => return r,
        }
    }
    f().await
}

async fn prin<T: Transport>(t: &T, action: PrInAction) -> PrInData {
    let opts = PrInOptions::default();
    retry_ua(|| raw::pr_in(t, action, &opts))
        .await
        .unwrap_or_else(|e| panic!("{} {action} failed: {e}", t.name()))
}

async fn prout<T: Transport>(t: &T, req: &PrOut<'_>) {
    retry_ua(|| raw::pr_out(t, req, None))
        .await
        .unwrap_or_else(|e| panic!("{} {} failed: {e}", t.name(), req.action));
}

async fn keys_of<T: Transport>(t: &T) -> Vec<ReservationKey> {
    prin(t, PrInAction::ReadKeys)
        .await
        .read_keys()
        .unwrap()
        .keys()
        .collect()
}

#[test]
#[ignore = "needs the QEMU lab (LAB_PATHS_0, LAB_MPATH_0)"]
fn open_paths_sg_nodes_and_map() {
    for p in lab_paths() {
        let d = Device::open(&p).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(d.kind(), DeviceKind::ScsiDisk { .. }),
            "{}: {:?}",
            p.display(),
            d.kind()
        );
        let ro = Device::open_with(&p, &OpenOptions::new().read_only(true)).unwrap();
        assert!(ro.is_read_only());
    }
    for p in lab_sgs() {
        let d = Device::open(&p).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(d.kind(), DeviceKind::ScsiGeneric { .. }),
            "{}: {:?}",
            p.display(),
            d.kind()
        );
    }
    let m = lab_map();
    let d = Device::open(&m).unwrap_or_else(|e| panic!("{e}"));
    match d.kind() {
        DeviceKind::Multipath { uuid, .. } => assert!(uuid.starts_with("mpath-")),
        k => panic!("{}: {k:?}", m.display()),
    }
    // A dm map has no sg node, so the sg v3 engine refuses it, saying why.
    let e = Device::open_with(&m, &OpenOptions::new().engine(Engine::SgV3Async)).unwrap_err();
    assert!(e.to_string().contains("sg v3 engine"), "{e}");
}

#[test]
#[ignore = "needs the QEMU lab (LAB_PATHS_0, LAB_MPATH_0)"]
fn classify_names_nodes_and_fds() {
    use std::os::fd::AsFd;
    let m = lab_map();
    let name = m.file_name().unwrap().to_str().unwrap().to_owned();
    let by_name = pr_sgio::classify(&name).unwrap_or_else(|e| panic!("{e}"));
    assert!(by_name.is_multipath(), "{by_name:?}");
    assert_eq!(by_name.kind.map_name(), Some(name.as_str()));
    assert_eq!(by_name.node, m);
    assert!(by_name.kind.wwid().is_some_and(|w| !w.is_empty()));
    let by_path = pr_sgio::classify(&m).unwrap();
    assert_eq!((&by_path.kind, by_path.dev), (&by_name.kind, by_name.dev));
    let dm_n = format!("/dev/{}", by_name.kind.kernel_name());
    assert_eq!(pr_sgio::classify(&dm_n).unwrap().kind, by_name.kind);
    let dt = pr_sgio::classify_dev_t(by_name.dev.major, by_name.dev.minor).unwrap();
    assert_eq!((dt.kind, dt.node), (by_name.kind.clone(), m.clone()));
    let f = std::fs::File::open(&m).unwrap();
    assert_eq!(pr_sgio::classify_fd(f.as_fd()).unwrap().kind, by_name.kind);
    // A map opens by its name alone.
    let d = Device::open(&name).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((d.kind(), d.path()), (&by_name.kind, m.as_path()));
    for p in lab_paths() {
        let c = pr_sgio::classify(&p).unwrap();
        assert!(matches!(c.kind, DeviceKind::ScsiDisk { .. }), "{c:?}");
        assert!(!c.is_multipath());
    }
    for p in lab_sgs() {
        let c = pr_sgio::classify(&p).unwrap();
        assert!(matches!(c.kind, DeviceKind::ScsiGeneric { .. }), "{c:?}");
    }
    let e = pr_sgio::classify("mpath-pr-lab-absent").unwrap_err();
    assert_eq!(e.to_string(), "no such device or map: mpath-pr-lab-absent");
    assert!(matches!(e, Error::NotFound { .. }));
}

#[tokio::test]
#[ignore = "needs the QEMU lab (LAB_PATHS_0)"]
async fn all_four_prin_on_each_path_and_the_map() {
    let mut targets = lab_paths();
    targets.push(lab_map());
    for p in targets {
        let d = Device::open(&p).unwrap();
        let rk = prin(&d, PrInAction::ReadKeys).await;
        rk.read_keys().unwrap();
        let rr = prin(&d, PrInAction::ReadReservation).await;
        rr.read_reservation().unwrap();
        let rc = prin(&d, PrInAction::ReportCapabilities).await;
        let caps = rc.capabilities().unwrap();
        assert_eq!(caps.length, 8, "{}", p.display());
        let fs = prin(&d, PrInAction::ReadFullStatus).await;
        fs.full_status().unwrap();
        assert!(rk.completion.duration > Duration::ZERO);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (LAB_PATHS_0, LAB_SG_0)"]
async fn sg_v3_engine_matches_blocking_pool() {
    let path = &lab_paths()[0];
    let pool = Device::open(path).unwrap();
    let v3 = Device::open_with(path, &OpenOptions::new().engine(Engine::SgV3Async)).unwrap();
    assert_eq!(v3.engine(), Engine::SgV3Async);
    let a = prin(&pool, PrInAction::ReportCapabilities).await;
    let b = prin(&v3, PrInAction::ReportCapabilities).await;
    assert_eq!(a.bytes, b.bytes);
    // Many commands in flight at once, more than the queue depth.
    let futs: Vec<_> = (0..40).map(|_| raw::read_keys(&v3)).collect();
    let mut ok = 0;
    for f in futs {
        match f.await {
            Ok(_) => ok += 1,
            Err(e) if e.command_error().is_some_and(|c| c.is_unit_attention()) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(ok > 30, "only {ok} of 40 READ KEYS succeeded");
    if let Some(sg) = lab_sgs().first() {
        let d = Device::open_with(sg, &OpenOptions::new().engine(Engine::SgV3Async)).unwrap();
        prin(&d, PrInAction::ReadReservation).await;
    }
}

#[tokio::test]
#[ignore = "needs the QEMU lab (LAB_PATHS_0)"]
async fn register_reserve_release_clear_on_a_path() {
    let _g = PR_STATE.lock().await;
    let path = &lab_paths()[0];
    let d = Device::open(path).unwrap();
    let k = test_key(1);
    // Start from a clean LUN: register, then CLEAR removes every registration.
    prout(&d, &PrOut::register_ignore(k)).await;
    prout(&d, &PrOut::clear(k)).await;
    assert!(keys_of(&d).await.is_empty());

    prout(&d, &PrOut::register(ReservationKey(0), k)).await;
    assert_eq!(keys_of(&d).await, [k]);
    prout(&d, &PrOut::reserve(k, ReservationType::WriteExclusive)).await;
    let rr = prin(&d, PrInAction::ReadReservation).await;
    let r = rr
        .read_reservation()
        .unwrap()
        .reservation()
        .expect("a reservation");
    assert_eq!((r.key, r.type_code), (k, 1));
    // A second path (another I_T nexus) that is not registered gets a conflict.
    if let Some(other) = lab_paths().get(1) {
        let o = Device::open(other).unwrap();
        let req = PrOut::reserve(k, ReservationType::WriteExclusive);
        let e = retry_ua(|| raw::pr_out(&o, &req, None)).await.unwrap_err();
        assert!(e.is_reservation_conflict(), "{e}");
    }
    prout(&d, &PrOut::release(k, ReservationType::WriteExclusive)).await;
    let rr = prin(&d, PrInAction::ReadReservation).await;
    assert!(rr.read_reservation().unwrap().reservation().is_none());
    prout(&d, &PrOut::clear(k)).await;
    assert!(keys_of(&d).await.is_empty());
}

#[tokio::test]
#[ignore = "needs the QEMU lab (LAB_PATHS_0)"]
async fn block_pr_ioctls_on_a_path() {
    let _g = PR_STATE.lock().await;
    let path = &lab_paths()[0];
    let b = BlockPrDevice::open(path).unwrap();
    let sg = Device::open(path).unwrap();
    let k = test_key(2);
    // The sd driver registers with APTPL=1; without it the transport refuses.
    let e = raw::pr_out(&b, &PrOut::register_ignore(k), None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Transport(TransportError::Unsupported { .. })),
        "{e}"
    );
    prout(&b, &PrOut::register_ignore(k).with_aptpl()).await;
    assert!(keys_of(&sg).await.contains(&k));
    prout(
        &b,
        &PrOut::reserve(k, ReservationType::ExclusiveAccessRegistrantsOnly),
    )
    .await;
    let r = prin(&sg, PrInAction::ReadReservation).await;
    assert_eq!(
        r.read_reservation()
            .unwrap()
            .reservation()
            .unwrap()
            .type_code,
        6
    );
    // Reads need Linux 6.19: missing on debian12 (6.1, the transport says so), present on
    // sid (7.x).
    let stack = pr_lab_support::need("LAB_STACK");
    match (stack.as_str(), raw::read_keys(&b).await) {
        ("sid", Ok(d)) => assert!(d.read_keys().unwrap().keys().any(|x| x == k)),
        ("sid", Err(e)) => panic!("sid (Linux 7.x) has IOC_PR_READ_KEYS: {e}"),
        ("debian12", Err(Error::Transport(TransportError::Unsupported { reason, .. }))) => {
            assert!(reason.contains("6.19"), "{reason}")
        }
        ("debian12", r) => panic!("debian12 (Linux 6.1) has no IOC_PR_READ_KEYS: {r:?}"),
        (other, _) => panic!("LAB_STACK={other}: expectation unknown (debian12 or sid)"),
    }
    prout(
        &b,
        &PrOut::release(k, ReservationType::ExclusiveAccessRegistrantsOnly),
    )
    .await;
    prout(&b, &PrOut::clear(k)).await;
    // Clear by SG_IO too, in case APTPL state lingers.
    assert!(keys_of(&sg).await.is_empty());
    // READ FULL STATUS has no ioctl.
    let e = raw::read_full_status(&b).await.unwrap_err();
    assert!(e.to_string().contains("READ FULL STATUS"), "{e}");
}

#[test]
#[ignore = "needs the QEMU lab (LAB_PATHS_0, LAB_MPATH_0)"]
fn discovery_finds_the_map_and_all_paths_active() {
    let map_path = lab_map();
    let name = map_path.file_name().unwrap().to_string_lossy().into_owned();
    let disc = Discovery::new().unwrap_or_else(|e| panic!("{e}"));
    let maps = disc.maps().unwrap();
    let m = maps
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("map {name} not in {maps:?}"));
    assert!(m.uuid.starts_with("mpath-"));
    assert_eq!(
        m.table.groups.iter().map(|g| g.paths.len()).sum::<usize>(),
        m.paths.len()
    );
    let mut want: Vec<String> = lab_paths()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut got: Vec<String> = m.paths.iter().filter_map(|p| p.name.clone()).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "paths of {name}");
    for p in &m.paths {
        assert_eq!(p.dm_state, PathState::Active, "{p:?}");
        assert_eq!(p.sysfs_state.as_deref(), Some("running"), "{p:?}");
        assert!(p.sg.is_some() && p.hctl.is_some(), "{p:?}");
        if let Some(id) = &p.lu_id {
            assert_eq!(id.wwid(), m.wwid, "VPD 83h identity of {p:?}");
        }
        let disk = p.name.as_deref().unwrap();
        let h = discover::holder_map(disc.sysfs(), disk).expect("holder");
        assert_eq!(h.name, m.name);
    }
    assert_eq!(disc.map_by_name(&name).unwrap().dev, m.dev);
    let d = Device::open(&map_path).unwrap();
    assert_eq!(d.dev(), m.dev);
}

#[tokio::test]
#[ignore = "needs the QEMU lab (LAB_PATHS_0)"]
async fn vpd83_over_sg_io_matches_sysfs() {
    for p in lab_paths() {
        let d = Device::open(&p).unwrap();
        let cdb = discover::vpd_inquiry_cdb(0x83, 255);
        let r = d
            .execute(Request::data_in(Cdb::new(&cdb).unwrap(), 255))
            .await
            .unwrap();
        r.completion.check().unwrap();
        let ids = discover::parse_vpd83(&r.buf).unwrap();
        let id = discover::lu_identity(&ids).expect("an LU designator");
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let sysfs = Path::new("/sys/block").join(&name).join("device/vpd_pg83");
        if let Ok(page) = std::fs::read(&sysfs) {
            let from_sysfs = discover::lu_identity(&discover::parse_vpd83(&page).unwrap());
            assert_eq!(from_sysfs, Some(id.clone()));
        }
        let holder =
            discover::holder_map(&pr_sgio::sysfs::Sysfs::default(), &name).expect("held by a map");
        assert_eq!(format!("mpath-{}", id.wwid()), holder.uuid);
    }
}

/// The sysfs layout [`pr_sgio::sysfs::hctl_of`] relies on, on the lab's kernel: the
/// `device` link of every SCSI disk and sg node (under `/sys/class` and under
/// `/sys/dev/{block,char}`, as classification reads it) is one relative link whose last
/// component is the SCSI device's H:C:T:L, the same as the fully resolved path's; a dm
/// device has no `device` link. Then classifications kept per device
/// ([`pr_sgio::ClassifiedDevices`]) of real descriptors: the same as a full
/// classification, rechecked with success while the device is there.
#[test]
#[ignore = "needs the QEMU lab (LAB_PATHS_0, LAB_MPATH_0)"]
fn lab_sysfs_device_links_end_in_the_scsi_address() {
    use std::os::fd::AsFd;
    let mut seen = [0usize; 2];
    for (i, (class, dev_dir)) in [("block", "block"), ("scsi_generic", "char")]
        .into_iter()
        .enumerate()
    {
        let dir = Path::new("/sys/class").join(class);
        for name in discover_names(&dir) {
            let base = dir.join(&name);
            if name.starts_with("dm-") {
                assert!(!base.join("device").exists(), "{name} has a device link");
                continue;
            }
            if class == "block" && (!name.starts_with("sd") || base.join("partition").exists()) {
                continue;
            }
            let link = base.join("device");
            let target = std::fs::read_link(&link).unwrap_or_else(|e| panic!("{link:?}: {e}"));
            assert!(target.is_relative(), "{link:?} -> {target:?}");
            let last = target.file_name().unwrap().to_string_lossy().into_owned();
            let real = std::fs::canonicalize(&link).unwrap();
            assert_eq!(
                real.file_name().unwrap().to_string_lossy(),
                last,
                "{link:?} -> {target:?}"
            );
            let h = pr_sgio::sysfs::hctl_of(&link)
                .unwrap_or_else(|| panic!("{link:?} -> {target:?}: no H:C:T:L"));
            assert_eq!(h.to_string(), last, "{link:?}");
            let devt = std::fs::read_to_string(base.join("dev")).unwrap();
            let by_number = Path::new("/sys/dev")
                .join(dev_dir)
                .join(devt.trim())
                .join("device");
            assert_eq!(
                pr_sgio::sysfs::hctl_of(&by_number),
                Some(h),
                "{by_number:?}"
            );
            eprintln!("{name}: {link:?} -> {target:?}");
            seen[i] += 1;
        }
    }
    assert!(
        seen[0] > 0 && seen[1] > 0,
        "no SCSI disk or sg node seen: {seen:?}"
    );

    let kept = pr_sgio::ClassifiedDevices::new(Duration::from_secs(60));
    let nodes: Vec<PathBuf> = lab_paths()
        .into_iter()
        .chain(lab_sgs())
        .chain([lab_map()])
        .collect();
    for node in &nodes {
        let f = std::fs::File::open(node).unwrap_or_else(|e| panic!("{node:?}: {e}"));
        let full = pr_sgio::classify_fd(f.as_fd()).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            pr_sgio::classify::Classifier::new().recheck(&full),
            "{full:?}"
        );
        for _ in 0..2 {
            let c = kept
                .classify_fd(f.as_fd())
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                (&c.kind, c.dev, &c.node),
                (&full.kind, full.dev, &full.node)
            );
        }
    }
    assert_eq!(kept.len(), nodes.len());
}

/// The entries of a sysfs directory.
fn discover_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir:?}: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every node-1 and node-2 nexus of LUN 0 registers its own key through its disk;
/// `Device::it_nexus` of each disk and of its sg node must name the READ FULL STATUS
/// descriptor of that key (TransportID and relative target port as LIO reports them; over
/// iSCSI the sysfs name without the ISID, which Linux does not show), and the map has no
/// single nexus.
#[tokio::test]
#[ignore = "needs the lab: lab/test.sh -- native_"]
async fn native_it_nexus_of_each_path_names_its_own_registration() {
    let _g = PR_STATE.lock().await;
    let disks: Vec<PathBuf> = lab_paths()
        .into_iter()
        .chain(pr_lab_support::paths("LAB_NODE2_PATHS_0"))
        .collect();
    let sgs: Vec<PathBuf> = lab_sgs()
        .into_iter()
        .chain(pr_lab_support::paths("LAB_NODE2_SG_0"))
        .collect();
    assert_eq!(disks.len(), sgs.len(), "paths vs sg nodes");
    let devs: Vec<Device> = disks
        .iter()
        .map(|p| Device::open(p).expect("open path"))
        .collect();
    for (i, d) in devs.iter().enumerate() {
        prout(d, &PrOut::register_ignore(test_key(0x40 + i as u64))).await;
    }
    let fs = prin(&devs[0], PrInAction::ReadFullStatus).await;
    let fs = fs.full_status().expect("READ FULL STATUS");
    let entries: Vec<(
        ReservationKey,
        u16,
        pr_core::transport_id::TransportId<'static>,
    )> = fs
        .descriptors()
        .map(|d| {
            (
                d.key(),
                d.relative_target_port(),
                d.transport_id().expect("TransportID").into_owned(),
            )
        })
        .collect();
    for (i, (disk, sg)) in disks.iter().zip(&sgs).enumerate() {
        let n = devs[i]
            .it_nexus()
            .unwrap_or_else(|e| panic!("{}: {e}", disk.display()));
        let sg_n = Device::open(sg)
            .expect("open sg")
            .it_nexus()
            .unwrap_or_else(|e| panic!("{}: {e}", sg.display()));
        assert_eq!(sg_n, n, "{} vs {}", disk.display(), sg.display());
        let named: Vec<ReservationKey> = entries
            .iter()
            .filter(|(_, rtp, tid)| {
                *rtp == n.relative_target_port
                    && match (&n.initiator, tid) {
                        (
                            pr_core::transport_id::TransportId::Iscsi { name, isid: None },
                            pr_core::transport_id::TransportId::Iscsi { name: theirs, .. },
                        ) => name == theirs,
                        (ours, theirs) => ours == theirs,
                    }
            })
            .map(|(k, _, _)| *k)
            .collect();
        assert_eq!(
            named,
            [test_key(0x40 + i as u64)],
            "{}: nexus {} rtp {} in {entries:?}",
            disk.display(),
            n.initiator,
            n.relative_target_port
        );
    }
    let map = Device::open(lab_map()).expect("open map");
    let e = map.it_nexus().expect_err("a map has no single nexus");
    assert!(e.reason.contains("dm-multipath map"), "{e}");
    for (i, d) in devs.iter().enumerate() {
        prout(
            d,
            &PrOut::register(test_key(0x40 + i as u64), ReservationKey(0)),
        )
        .await;
    }
}
