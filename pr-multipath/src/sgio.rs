//! Building a [`MultipathLun`] from a real dm-multipath map with pr-sgio: discovery of the
//! map's paths (states, SCSI hosts, path groups), one [`Device`] per path, the map's
//! suspend/resume, a refresher that re-reads the map's status, the configured key from
//! multipath.conf and the prkeys file, and multipathd's socket.

use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use pr_sgio::Device;
use pr_sgio::discover::{Discovery, MultipathMap, PathInfo, PathState as DmPathState};
use pr_sgio::dm::DmControl;

use crate::any_path::AnyPath;
use crate::config::{self, ConfiguredKey, MultipathConf, PrKeys};
use crate::error::{Error, Result};
use crate::lun::{LunOptions, MultipathLun};
use crate::map_control::DmMapControl;
use crate::multipathd::Multipathd;
use crate::path::{Path, PathRefresher, PathState};

/// What [`MultipathLun::from_map_with`] sets up.
#[derive(Clone, Debug)]
pub struct FromMapOptions {
    /// Options of the LUN (`all_tg_pt` is taken from multipath.conf when it says so).
    pub lun: LunOptions,
    /// Talk to multipathd (prstatus, prkey, prhold).
    pub multipathd: bool,
    /// multipath.conf to read `reservation_key` from (`None`: no key check).
    pub multipath_conf: Option<String>,
    /// The prkeys file.
    pub prkeys: String,
    /// The path states read while building the LUN count as current for this long: a PR
    /// OUT action started within it does not re-read the map's status first
    /// ([`MultipathLun::with_states_fresh_for`]). Zero: always re-read, as multipath-tools
    /// does before every PR OUT.
    pub fresh_for: Duration,
    /// After each later re-read, the states count as current for this long
    /// ([`MultipathLun::with_refresh_interval`]; default zero).
    pub refresh_interval: Duration,
    /// How many maps [`MultipathLun::from_maps`] discovers (and whose path devices it
    /// opens) at once, on as many threads.
    pub discovery_threads: usize,
    /// Open the path devices `O_RDONLY`, as libmpathpersist does (default `true`; see
    /// [`OpenOptions::fd_read_only`](pr_sgio::OpenOptions::fd_read_only)): closing a disk
    /// opened for writing makes udev synthesize a `change` uevent for it, which multipathd
    /// and the udev rules then process, once per path of every map. PR OUT through a
    /// read-only descriptor needs `CAP_SYS_RAWIO` (root).
    pub fd_read_only: bool,
}

impl Default for FromMapOptions {
    fn default() -> Self {
        FromMapOptions {
            lun: LunOptions::default(),
            multipathd: true,
            multipath_conf: Some(config::MULTIPATH_CONF.to_owned()),
            prkeys: config::PRKEYS_FILE.to_owned(),
            fresh_for: DEFAULT_FRESH_FOR,
            refresh_interval: Duration::ZERO,
            discovery_threads: 16,
            fd_read_only: true,
        }
    }
}

/// The default [`FromMapOptions::fresh_for`]: 2 s.
pub const DEFAULT_FRESH_FOR: Duration = Duration::from_secs(2);

fn state_of(p: &PathInfo) -> PathState {
    let sysfs_ok = p.sysfs_state.as_deref().is_none_or(|s| s == "running");
    if p.dm_state == DmPathState::Active && sysfs_ok {
        PathState::Usable
    } else {
        PathState::Failed
    }
}

fn find_map(d: &Discovery, name_or_path: &str) -> Result<MultipathMap> {
    let base = FsPath::new(name_or_path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(name_or_path);
    if base.starts_with("dm-") {
        if let Some(m) = d
            .maps()?
            .into_iter()
            .find(|m| m.kernel_name.as_deref() == Some(base))
        {
            return Ok(m);
        }
    }
    Ok(d.map_by_name(base)?)
}

/// A [`PathRefresher`] that re-reads a map's status line and sysfs path states.
#[derive(Debug)]
pub struct DmRefresher {
    discovery: Arc<Discovery>,
    map: String,
}

impl DmRefresher {
    /// Refreshes `map` through `discovery`.
    pub fn new(discovery: Arc<Discovery>, map: impl Into<String>) -> Self {
        DmRefresher {
            discovery,
            map: map.into(),
        }
    }
}

impl PathRefresher for DmRefresher {
    fn refresh(&self) -> BoxFuture<'_, Result<Vec<(String, PathState)>, Error>> {
        Box::pin(async move {
            let d = Arc::clone(&self.discovery);
            let map = self.map.clone();
            let m = tokio::task::spawn_blocking(move || d.map_by_name(&map))
                .await
                .map_err(|e| Error::Config {
                    path: self.map.clone(),
                    reason: format!("refresh task failed: {e}"),
                })??;
            Ok(m.paths
                .iter()
                .filter_map(|p| p.name.clone().map(|n| (n, state_of(p))))
                .collect())
        })
    }
}

/// What every LUN built in one call shares: one discovery (one device-mapper control node
/// and sysfs view), one control node for suspend/resume, multipath.conf and the prkeys file
/// read once, and one multipathd client (one capability probe, reused connections).
struct Shared {
    discovery: Arc<Discovery>,
    map_control: Arc<DmMapControl>,
    conf: Option<(MultipathConf, PrKeys)>,
    daemon: Option<Multipathd>,
}

impl Shared {
    fn new(options: &FromMapOptions) -> Result<Self> {
        let conf = match &options.multipath_conf {
            Some(conf_path) => Some((
                MultipathConf::load(conf_path)?,
                PrKeys::load(&options.prkeys)?,
            )),
            None => None,
        };
        Ok(Shared {
            discovery: Arc::new(Discovery::new()?),
            map_control: Arc::new(DmMapControl::new(Arc::new(DmControl::open()?))),
            conf,
            daemon: options.multipathd.then(Multipathd::socket),
        })
    }

    fn build(&self, map: &MultipathMap, options: &FromMapOptions) -> MultipathLun<AnyPath> {
        let mut paths = Vec::new();
        for p in &map.paths {
            let (Some(name), Some(node)) = (p.name.clone(), p.dev_path()) else {
                continue;
            };
            let open = pr_sgio::OpenOptions::new().fd_read_only(options.fd_read_only);
            let Ok(dev) = Device::open_with(&node, &open) else {
                continue;
            };
            let mut path = Path::new(name, AnyPath::Sg(dev))
                .with_group(p.group)
                .with_dev_t(p.dev.to_string())
                .with_state(state_of(p));
            if let Some(h) = p.host() {
                path = path.with_host(h);
            }
            paths.push(path);
        }
        let mut lun_opts = options.lun;
        let mut configured = None;
        if let Some((conf, prkeys)) = &self.conf {
            if let Some(a) = conf.all_tg_pt {
                lun_opts.all_tg_pt = a;
            }
            configured = ConfiguredKey::resolve(conf, prkeys, &map.wwid);
        }
        let map_control: Arc<dyn crate::map_control::MapControl> = self.map_control.clone();
        let mut lun = MultipathLun::new(map.name.clone(), paths)
            .with_wwid(map.wwid.clone())
            .with_options(lun_opts)
            .with_configured_key(configured)
            .with_map_control(map_control)
            .with_refresher(Arc::new(DmRefresher::new(
                Arc::clone(&self.discovery),
                map.name.clone(),
            )))
            .with_refresh_interval(options.refresh_interval)
            .with_states_fresh_for(options.fresh_for);
        if let Some(d) = &self.daemon {
            lun = lun.with_multipathd(d.clone());
        }
        lun
    }

    /// Runs `f` on every item on up to `threads` threads, results in input order.
    fn parallel<I: Sync, R: Send>(
        items: &[I],
        threads: usize,
        f: impl Fn(&I) -> R + Sync,
    ) -> Vec<R> {
        let threads = threads.clamp(1, items.len().max(1));
        if threads == 1 {
            return items.iter().map(f).collect();
        }
        let chunk = items.len().div_ceil(threads);
        let f = &f;
        std::thread::scope(|sc| {
            let handles: Vec<_> = items
                .chunks(chunk.max(1))
                .map(|c| sc.spawn(move || c.iter().map(f).collect::<Vec<R>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    }
}

impl MultipathLun<AnyPath> {
    /// The LUN of a dm-multipath map (`mpatha`, `/dev/mapper/mpatha` or `/dev/dm-3`) with
    /// the default [`FromMapOptions`]. Needs root.
    pub fn from_map(name_or_path: &str) -> Result<Self> {
        Self::from_map_with(name_or_path, &FromMapOptions::default())
    }

    /// As [`from_map`](Self::from_map) with explicit options. Paths whose device cannot be
    /// opened (gone, offline) are left out, as a path multipathd would not use.
    pub fn from_map_with(name_or_path: &str, options: &FromMapOptions) -> Result<Self> {
        let shared = Shared::new(options)?;
        let map = find_map(&shared.discovery, name_or_path)?;
        Ok(shared.build(&map, options))
    }

    /// The LUNs of many maps at once, sharing one discovery, one device-mapper control
    /// node, one reading of multipath.conf and the prkeys file, and one multipathd client
    /// (see [`from_map_with`](Self::from_map_with) for one map). The maps are discovered and
    /// their path devices opened on up to [`FromMapOptions::discovery_threads`] threads.
    /// The outer error is a failure of the shared setup; each map has its own result, in
    /// the order of `names`.
    pub fn from_maps(names: &[&str], options: &FromMapOptions) -> Result<Vec<Result<Self>>> {
        let shared = Shared::new(options)?;
        Ok(Shared::parallel(names, options.discovery_threads, |n| {
            find_map(&shared.discovery, n).map(|m| shared.build(&m, options))
        }))
    }

    /// The LUNs of every dm-multipath map on the host, listed once (one device-mapper
    /// listing) and built as [`from_maps`](Self::from_maps) does.
    pub fn from_all_maps(options: &FromMapOptions) -> Result<Vec<Self>> {
        let shared = Shared::new(options)?;
        let maps = shared.discovery.maps()?;
        Ok(Shared::parallel(&maps, options.discovery_threads, |m| {
            shared.build(m, options)
        }))
    }
}
