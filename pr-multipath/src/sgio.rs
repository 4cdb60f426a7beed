//! Building a [`MultipathLun`] from a real dm-multipath map with pr-sgio: discovery of the
//! map's paths (states, SCSI hosts, path groups), one [`Device`] per path, the map's
//! suspend/resume, a refresher that re-reads the map's status, the configured key from
//! multipath.conf and the prkeys file, and multipathd's socket.

use std::path::Path as FsPath;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use pr_sgio::Device;
use pr_sgio::discover::{Discovery, MultipathMap, PathInfo, PathState as DmPathState};
use pr_sgio::dm::DmControl;

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
}

impl Default for FromMapOptions {
    fn default() -> Self {
        FromMapOptions {
            lun: LunOptions::default(),
            multipathd: true,
            multipath_conf: Some(config::MULTIPATH_CONF.to_owned()),
            prkeys: config::PRKEYS_FILE.to_owned(),
        }
    }
}

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

impl MultipathLun<Device> {
    /// The LUN of a dm-multipath map (`mpatha`, `/dev/mapper/mpatha` or `/dev/dm-3`) with
    /// the default [`FromMapOptions`]. Needs root.
    pub fn from_map(name_or_path: &str) -> Result<Self> {
        Self::from_map_with(name_or_path, &FromMapOptions::default())
    }

    /// As [`from_map`](Self::from_map) with explicit options. Paths whose device cannot be
    /// opened (gone, offline) are left out, as a path multipathd would not use.
    pub fn from_map_with(name_or_path: &str, options: &FromMapOptions) -> Result<Self> {
        let discovery = Arc::new(Discovery::new()?);
        let map = find_map(&discovery, name_or_path)?;
        let mut paths = Vec::new();
        for p in &map.paths {
            let (Some(name), Some(node)) = (p.name.clone(), p.dev_path()) else {
                continue;
            };
            let Ok(dev) = Device::open(&node) else {
                continue;
            };
            let mut path = Path::new(name, dev)
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
        if let Some(conf_path) = &options.multipath_conf {
            let conf = MultipathConf::load(conf_path)?;
            if let Some(a) = conf.all_tg_pt {
                lun_opts.all_tg_pt = a;
            }
            let prkeys = PrKeys::load(&options.prkeys)?;
            configured = ConfiguredKey::resolve(&conf, &prkeys, &map.wwid);
        }
        let mut lun = MultipathLun::new(map.name.clone(), paths)
            .with_wwid(map.wwid.clone())
            .with_options(lun_opts)
            .with_configured_key(configured)
            .with_map_control(Arc::new(DmMapControl::new(Arc::new(DmControl::open()?))))
            .with_refresher(Arc::new(DmRefresher::new(discovery, map.name.clone())));
        if options.multipathd {
            lun = lun.with_multipathd(Multipathd::socket());
        }
        Ok(lun)
    }
}
