//! The front door's LUN type, [`Lun`], and how one is opened from whatever the user has: a
//! multipath map's name, `/dev/mapper/NAME`, `/dev/dm-N`, a SCSI disk `/dev/sdX`, an sg
//! node `/dev/sgN`, an open file descriptor, or simulated paths. A map becomes a LUN of
//! all its paths (see [`crate::sgio`]); a single device is a LUN of one path, so one
//! engine serves both.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use pr_sgio::{BlockPrDevice, Device};

use crate::any_path::{AnyPath, DynTransport};
use crate::error::{Error, Result};
use crate::lun::MultipathLun;
use crate::path::Path;
use crate::sgio::FromMapOptions;

/// A LUN of any kind of path: the type users hold. Everything the engine
/// ([`MultipathLun`]) does, on real maps, single devices and simulated paths alike.
pub type Lun = MultipathLun<AnyPath>;

/// How [`Lun::open_with`] reaches the device.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// For a multipath map: how its LUN is built (multipathd, multipath.conf, path
    /// states, ...).
    pub map: FromMapOptions,
    /// For a single SCSI disk (or a map, treated as one device): the block layer's PR
    /// ioctls instead of SG_IO. READ FULL STATUS, REGISTER AND MOVE, SPEC_I_PT and
    /// ALL_TG_PT are then refused, and PR IN needs Linux 6.19.
    pub block_ioctls: bool,
    /// Open a map as one device (SG_IO to the map node, which the kernel sends down its
    /// current path) instead of as the LUN of its paths. What `sg_persist` does on a map.
    pub map_as_device: bool,
    /// Open single devices `O_RDONLY` (PR OUT then needs `CAP_SYS_RAWIO`), as
    /// libmpathpersist opens its paths; default `false`.
    pub fd_read_only: bool,
    /// Single devices refuse PR OUT (reads only; the descriptor is `O_RDONLY`).
    pub read_only: bool,
}

/// What a descriptor's device is (pr-sgio's classification: node, number, kind).
pub use pr_sgio::{Classified, DevT, DeviceKind};

/// Classifies the device open on `fd` (sysfs only): a multipath map, a SCSI disk or an sg
/// node; errors as [`Lun::open`].
pub fn classify_fd(fd: BorrowedFd<'_>) -> Result<Classified> {
    pr_sgio::classify_fd(fd).map_err(classify_error)
}

/// Classifications of the devices of descriptors received from clients, kept per device
/// (node type and number) and rechecked with one sysfs read each time, for a daemon handed
/// descriptors of the same devices with every request: pr-sgio's
/// [`ClassifiedDevices`](pr_sgio::ClassifiedDevices) (see there what is kept, for how long,
/// and how a device that took over another's number is told apart), with errors as
/// [`Lun::open`] gives them.
#[derive(Debug)]
pub struct KeptClassifications(pr_sgio::ClassifiedDevices);

impl KeptClassifications {
    /// Classifications of `/sys` and `/dev`, each kept for `keep_for`.
    pub fn new(keep_for: std::time::Duration) -> Self {
        KeptClassifications(pr_sgio::ClassifiedDevices::new(keep_for))
    }

    /// Classifies the device open on `fd`, from a kept classification when its recheck
    /// passes (see [`classify_fd`]).
    pub fn classify_fd(&self, fd: BorrowedFd<'_>) -> Result<Classified> {
        self.0.classify_fd(fd).map_err(classify_error)
    }

    /// How many classifications are kept.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Forgets them all.
    pub fn clear(&self) {
        self.0.clear();
    }
}

/// What a name or node turned out to be.
enum Target {
    Map(String),
    Device(PathBuf, DeviceKind),
}

/// pr-sgio's classification errors as the front door's, naming what the caller gave.
fn classify_error(e: pr_sgio::Error) -> Error {
    match e {
        pr_sgio::Error::InvalidName { given, reason } => Error::InvalidArgument {
            what: given,
            reason: format!("not a device or map name: {reason}"),
        },
        pr_sgio::Error::NotFound { path } => Error::NotFound {
            what: path.display().to_string(),
            reason: "no such multipath map or device".into(),
        },
        pr_sgio::Error::NotScsi { path, reason } => Error::NotScsi {
            what: path.display().to_string(),
            reason,
        },
        pr_sgio::Error::NotMultipath { path, reason } => Error::NotScsi {
            what: path.display().to_string(),
            reason: format!("a device-mapper device that is not a multipath map ({reason})"),
        },
        other => Error::from(other),
    }
}

fn target_of(c: Classified) -> Target {
    match c.kind {
        DeviceKind::Multipath { map, .. } => Target::Map(map),
        other => Target::Device(c.node, other),
    }
}

/// Decides what `what` names (sysfs only; nothing is opened).
fn classify(what: &str) -> Result<Target> {
    if what.trim().is_empty() {
        return Err(Error::InvalidArgument {
            what: format!("{what:?}"),
            reason: "an empty device name: give a map name (mpatha), /dev/mapper/NAME, \
                     /dev/dm-N, /dev/sdX or /dev/sgN"
                .into(),
        });
    }
    pr_sgio::classify(what)
        .map(target_of)
        .map_err(classify_error)
}

impl MultipathLun<AnyPath> {
    /// Opens what `what` names with the default [`OpenOptions`]: a multipath map (by name,
    /// `/dev/mapper/NAME` or `/dev/dm-N`) as the LUN of all its paths, a SCSI disk or sg
    /// node as a LUN of one path. Errors name what was given: [`Error::InvalidArgument`]
    /// (empty), [`Error::NotFound`], [`Error::NotScsi`] (a regular file, a directory,
    /// `/dev/null`, a partition, a dm device that is not a multipath map), or the
    /// device's own error (permission, ...). Blocks on sysfs and device-mapper: call it
    /// from a blocking context.
    pub fn open(what: &str) -> Result<Self> {
        Self::open_with(what, &OpenOptions::default())
    }

    /// As [`open`](Self::open), with options.
    pub fn open_with(what: &str, options: &OpenOptions) -> Result<Self> {
        Self::open_target(classify(what)?, options)
    }

    fn open_target(target: Target, options: &OpenOptions) -> Result<Self> {
        match target {
            Target::Map(name) if !options.map_as_device => Self::from_map_with(&name, &options.map),
            Target::Map(name) => {
                let node = FsPath::new("/dev/mapper").join(&name);
                Self::single_device(&name, &node, options)
            }
            Target::Device(node, kind) => {
                let name = kind.kernel_name().to_owned();
                let lun = Self::single_device(&name, &node, options)?;
                Ok(lun)
            }
        }
    }

    /// The LUN behind an open file descriptor (a map, a SCSI disk or an sg node), as
    /// [`open_with`](Self::open_with) opens it; the descriptor itself is not used for
    /// commands.
    pub fn from_fd(fd: BorrowedFd<'_>, options: &OpenOptions) -> Result<Self> {
        let target = pr_sgio::classify_fd(fd)
            .map(target_of)
            .map_err(classify_error)?;
        Self::open_target(target, options)
    }

    /// The LUN behind a descriptor received from someone else (a map, a SCSI disk or an sg
    /// node), for daemons that serve other processes' descriptors (pr-helper): a single
    /// device becomes a LUN of one path whose commands go through **this descriptor**
    /// (with its access mode; no node is opened, so no permission to open one is needed),
    /// as qemu-pr-helper uses the descriptor it receives. A multipath map (unless
    /// [`OpenOptions::map_as_device`]) becomes the LUN of its paths as
    /// [`from_fd`](Self::from_fd) builds it, the descriptor unused; so does a single
    /// device with [`OpenOptions::block_ioctls`].
    pub fn from_owned_fd(fd: OwnedFd, options: &OpenOptions) -> Result<Self> {
        let c = pr_sgio::classify_fd(fd.as_fd()).map_err(classify_error)?;
        Self::from_owned_fd_classified(fd, c, options)
    }

    /// As [`from_owned_fd`](Self::from_owned_fd), with the descriptor's device already
    /// classified by the caller (`c`: from [`classify_fd`] or [`KeptClassifications`] on
    /// this descriptor), so that a single device costs no sysfs read here. A map (unless
    /// [`OpenOptions::map_as_device`]) is still built from device-mapper and multipathd.
    pub fn from_owned_fd_classified(
        fd: OwnedFd,
        c: Classified,
        options: &OpenOptions,
    ) -> Result<Self> {
        let single = !c.kind.is_multipath() || options.map_as_device;
        if !single || options.block_ioctls {
            // The descriptor is not used for the commands of a map's or a block-ioctl LUN.
            let target = match c.kind {
                DeviceKind::Multipath { map, .. } => Target::Map(map),
                other => Target::Device(c.node, other),
            };
            return Self::open_target(target, options);
        }
        let name = match &c.kind {
            DeviceKind::Multipath { map, .. } => map.clone(),
            other => other.kernel_name().to_owned(),
        };
        let open = pr_sgio::OpenOptions::new().read_only(options.read_only);
        Ok(Self::of_one_path(
            name,
            Device::from_owned_fd_classified(fd, c, &open),
        ))
    }

    /// The multipath map whose dm name or node `what` gives, or `None` when `what` is a
    /// single device; errors as [`open`](Self::open).
    pub fn map_name_of(what: &str) -> Result<Option<String>> {
        Ok(match classify(what)? {
            Target::Map(name) => Some(name),
            Target::Device(..) => None,
        })
    }

    /// As [`map_name_of`](Self::map_name_of), for the block device numbered `major:minor`
    /// (from `fstat` of a descriptor the caller holds): `Ok(None)` for a SCSI disk,
    /// [`Error::NotFound`] when no block device has that number, [`Error::NotScsi`] for
    /// anything that is neither a map nor a SCSI disk. Reads three sysfs attributes of a
    /// map and nothing else, for callers that identify their device on every call.
    pub fn map_name_of_dev_t(major: u32, minor: u32) -> Result<Option<String>> {
        Ok(
            match pr_sgio::identify_dev_t(major, minor).map_err(classify_error)? {
                DeviceKind::Multipath { map, .. } => Some(map),
                _ => None,
            },
        )
    }

    /// A LUN named `name` over the given path devices (SCSI disks or sg nodes of one
    /// logical unit, each a path; a map is opened as one device), in one path group,
    /// all usable, without multipathd or multipath.conf: for paths that no dm map
    /// groups. Each path is named by its device's kernel name (`sdb`).
    pub fn open_paths<S: AsRef<str>>(
        name: impl Into<String>,
        devices: &[S],
        options: &OpenOptions,
    ) -> Result<Self> {
        let mut paths = Vec::with_capacity(devices.len());
        for d in devices {
            let what = d.as_ref();
            let (path_name, node) = match classify(what)? {
                Target::Map(map) => (map.clone(), FsPath::new("/dev/mapper").join(map)),
                Target::Device(node, kind) => (kind.kernel_name().to_owned(), node),
            };
            paths.push(Path::new(path_name, Self::open_path(&node, options)?));
        }
        if paths.is_empty() {
            return Err(Error::InvalidArgument {
                what: "devices".into(),
                reason: "a LUN needs at least one path".into(),
            });
        }
        Ok(MultipathLun::new(name, paths))
    }

    fn open_path(node: &FsPath, options: &OpenOptions) -> Result<AnyPath> {
        let open = pr_sgio::OpenOptions::new()
            .fd_read_only(options.fd_read_only)
            .read_only(options.read_only);
        Ok(if options.block_ioctls {
            BlockPrDevice::open_with(node, &open)?.into()
        } else {
            Device::open_with(node, &open)?.into()
        })
    }

    fn single_device(name: &str, node: &FsPath, options: &OpenOptions) -> Result<Self> {
        Ok(Self::of_one_path(name, Self::open_path(node, options)?))
    }

    /// A LUN of one path.
    pub fn of_one_path(name: impl Into<String>, path: impl Into<AnyPath>) -> Self {
        let name = name.into();
        MultipathLun::new(name.clone(), vec![Path::new(name, path.into())])
    }

    /// A LUN over paths of any transport (a custom one through [`DynTransport`]).
    pub fn from_transports(
        name: impl Into<String>,
        paths: impl IntoIterator<Item = (String, Arc<dyn DynTransport>)>,
    ) -> Self {
        MultipathLun::new(
            name,
            paths
                .into_iter()
                .map(|(n, t)| Path::new(n, AnyPath::Custom(t)))
                .collect(),
        )
    }

    /// A LUN over simulated paths, each path's name taken from the path and its SCSI host
    /// its initiator port (paths through one initiator port share a host, so ALL_TG_PT
    /// registers one path per initiator, as on real hardware).
    #[cfg(feature = "sim")]
    pub fn simulated(
        name: impl Into<String>,
        paths: impl IntoIterator<Item = pr_sim::SimPath>,
    ) -> Self {
        use pr_core::transport::Transport;
        MultipathLun::new(
            name,
            paths
                .into_iter()
                .map(|p| {
                    let host = u32::try_from(p.nexus().initiator.0).ok();
                    let path = Path::new(p.name().to_owned(), AnyPath::Sim(p));
                    match host {
                        Some(h) => path.with_host(h),
                        None => path,
                    }
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_say_what_was_given() {
        let e = Lun::open("").unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
        assert!(e.to_string().contains("empty device name"), "{e}");

        let e = Lun::open("mpathzz").unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        assert!(e.to_string().starts_with("mpathzz: no such"), "{e}");

        let e = Lun::open("/dev/null").unwrap_err();
        assert!(matches!(e, Error::NotScsi { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with("/dev/null: not a SCSI device"),
            "{e}"
        );

        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_string_lossy().into_owned();
        let e = Lun::open(&d).unwrap_err();
        assert!(matches!(e, Error::NotScsi { .. }), "{e:?}");
        assert!(e.to_string().contains("directory"), "{e}");

        let f = dir.path().join("file");
        std::fs::write(&f, b"x").unwrap();
        let e = Lun::open(&f.to_string_lossy()).unwrap_err();
        assert!(e.to_string().contains("regular file"), "{e}");

        let e = Lun::open("/nonexistent/sdz").unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with("/nonexistent/sdz: no such"),
            "{e}"
        );
    }

    #[test]
    fn a_device_number_no_block_device_has_is_not_found() {
        let e = Lun::map_name_of_dev_t(4095, 1_048_575).unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        assert!(e.to_string().contains("4095:1048575"), "{e}");
    }

    #[test]
    fn a_file_descriptor_of_a_regular_file_is_not_scsi() {
        let f = tempfile::tempfile().unwrap();
        use std::os::fd::AsFd;
        let e = Lun::from_fd(f.as_fd(), &OpenOptions::default()).unwrap_err();
        assert!(matches!(e, Error::NotScsi { .. }), "{e:?}");
        let e = Lun::from_owned_fd(f.into(), &OpenOptions::default()).unwrap_err();
        assert!(matches!(e, Error::NotScsi { .. }), "{e:?}");
        let null = std::fs::File::open("/dev/null").unwrap();
        let e = Lun::from_owned_fd(null.into(), &OpenOptions::default()).unwrap_err();
        assert!(matches!(e, Error::NotScsi { .. }), "{e:?}");
    }
}
