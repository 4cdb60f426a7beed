//! What a user gave, classified: a dm-multipath map, a SCSI disk or an sg node, or an error
//! that names what was given and says why it is none of them. This is the project's one
//! answer to "is this a multipath map?": a device-mapper device whose sysfs `dm/uuid` starts
//! with `mpath-` ([`sysfs::is_multipath_uuid`]).
//!
//! Accepted: a map name (`mpatha`), `/dev/mapper/NAME`, `/dev/dm-N`, `/dev/sdX`, `/dev/sgN`,
//! any other path to such a node (`/dev/disk/by-id/...`), a bare kernel name (`dm-3`,
//! `sdb`, `sg2`), an open file descriptor ([`classify_fd`]) or a block device number
//! ([`classify_dev_t`]). Errors:
//! - [`Error::InvalidName`]: an empty name (or `.`, `..`, a NUL byte); nothing looked up;
//! - [`Error::NotFound`]: no such device or map (`no such device or map: mpathzz`);
//! - [`Error::NotScsi`]: a regular file, a directory, a character device that is not an sg
//!   node (`/dev/null`), a block device that is not a SCSI disk, a partition;
//! - [`Error::NotMultipath`]: a device-mapper device that is not a dm-multipath map;
//! - [`Error::Io`]: the node could not be examined (`stat` failed for another reason).
//!
//! A name without a `/` is looked up in sysfs: first as a device-mapper name
//! (`/sys/block/dm-*/dm/name`), then as a block device's or an sg node's kernel name; and
//! last as `/dev/mapper/NAME` (for a system without sysfs). It never opens
//! `/dev/mapper/control` and needs no privilege: classifying reads only sysfs and `stat`s.
//!
//! ```no_run
//! let c = pr_sgio::classify::classify("mpatha")?;
//! if let Some(wwid) = c.kind.wwid() {
//!     println!("{} is map {:?} ({wwid}), node {}", c.given, c.kind.map_name(), c.node.display());
//! }
//! # Ok::<(), pr_sgio::Error>(())
//! ```

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::sysfs::{self, DevT, DeviceKind, NodeType, Sysfs};

/// A device this crate can send SCSI commands to, and how it was named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    /// What was given (`mpatha`, `/dev/sdb`, `fd 5`, `block device 253:0`).
    pub given: String,
    /// The device node to open: the path given, or for a name `/dev/mapper/NAME` (or
    /// `/dev/dm-N` when that does not exist), `/dev/sdX`, `/dev/sgN`.
    pub node: PathBuf,
    /// Its device number.
    pub dev: DevT,
    /// What it is.
    pub kind: DeviceKind,
}

impl Classified {
    /// Whether it is a dm-multipath map.
    pub fn is_multipath(&self) -> bool {
        self.kind.is_multipath()
    }
}

/// Classifies `what` against `/sys` and `/dev` (see the [module documentation](self)).
pub fn classify(what: impl AsRef<Path>) -> Result<Classified> {
    Classifier::default().classify(what)
}

/// Classifies the node open on `fd` against `/sys` and `/dev`.
pub fn classify_fd(fd: BorrowedFd<'_>) -> Result<Classified> {
    Classifier::default().classify_fd(fd)
}

/// Classifies the block device `major:minor` against `/sys` and `/dev`.
pub fn classify_dev_t(major: u32, minor: u32) -> Result<Classified> {
    Classifier::default().classify_dev_t(major, minor)
}

/// [`Classifier::identify_dev_t`] of `/sys`.
pub fn identify_dev_t(major: u32, minor: u32) -> Result<DeviceKind> {
    Classifier::default().identify_dev_t(major, minor)
}

/// What [`Classifier::resolve`] made of what was given.
#[derive(Debug)]
pub(crate) enum Resolved {
    /// A path, not looked at yet.
    Path(PathBuf),
    /// A name, found and classified.
    Named(Classified),
}

/// A classifier over a sysfs tree and a `/dev` directory (both normally the system's; other
/// roots are for tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classifier {
    sys: Sysfs,
    dev: PathBuf,
}

impl Default for Classifier {
    fn default() -> Self {
        Classifier {
            sys: Sysfs::default(),
            dev: PathBuf::from("/dev"),
        }
    }
}

impl Classifier {
    /// The classifier of `/sys` and `/dev`.
    pub fn new() -> Self {
        Self::default()
    }

    /// A classifier over `sys` and the device directory `dev`.
    pub fn with(sys: Sysfs, dev: impl Into<PathBuf>) -> Self {
        Classifier {
            sys,
            dev: dev.into(),
        }
    }

    /// The sysfs tree in use.
    pub fn sysfs(&self) -> &Sysfs {
        &self.sys
    }

    /// Classifies `what`: a path (anything with a `/`) or a name.
    pub fn classify(&self, what: impl AsRef<Path>) -> Result<Classified> {
        match self.resolve(what.as_ref())? {
            Resolved::Path(p) => {
                let given = p.to_string_lossy().into_owned();
                self.classify_path(&p, given)
            }
            Resolved::Named(c) => Ok(c),
        }
    }

    /// Checks `what` and, when it is a name, looks it up; a path is returned as it is, to
    /// be opened (or `stat`ed) and identified by its device number.
    pub(crate) fn resolve(&self, what: &Path) -> Result<Resolved> {
        let given = what.to_string_lossy().into_owned();
        check_name(what.as_os_str(), &given)?;
        if what.as_os_str().as_bytes().contains(&b'/') {
            return Ok(Resolved::Path(what.to_path_buf()));
        }
        let name = what.as_os_str();
        if let Some((kernel, dev)) = self.dm_by_name(name) {
            let mapper = self.dev.join("mapper").join(name);
            let node = if mapper.exists() {
                mapper
            } else {
                self.dev.join(&kernel)
            };
            return self
                .finish(given, node, NodeType::Block, dev)
                .map(Resolved::Named);
        }
        if let Some(dev) = self.attr_dev(&self.sys.block(&given)) {
            let node = self.dev.join(name);
            return self
                .finish(given, node, NodeType::Block, dev)
                .map(Resolved::Named);
        }
        if let Some(dev) = self.attr_dev(&self.sys.scsi_generic(&given)) {
            let node = self.dev.join(name);
            return self
                .finish(given, node, NodeType::Char, dev)
                .map(Resolved::Named);
        }
        let mapper = self.dev.join("mapper").join(name);
        if mapper.exists() {
            return self.classify_path(&mapper, given).map(Resolved::Named);
        }
        Err(Error::NotFound {
            path: PathBuf::from(given),
        })
    }

    /// Classifies the node open on `fd` (`given` is `fd N`).
    pub fn classify_fd(&self, fd: BorrowedFd<'_>) -> Result<Classified> {
        let given = format!("fd {}", fd.as_raw_fd());
        let (node, dev) = stat_of_fd(fd, &given)?;
        self.classify_node(node, dev, given)
    }

    /// Whether the device numbered `c.dev` is still the device `c` describes (one sysfs
    /// read; see [`sysfs::still_identifies`]).
    pub fn recheck(&self, c: &Classified) -> bool {
        sysfs::still_identifies(&self.sys, c.dev, &c.kind)
    }

    /// Classifies a node of type `node` and number `dev` (from `fstat`), named `given`.
    fn classify_node(&self, node: NodeType, dev: DevT, given: String) -> Result<Classified> {
        let kind = sysfs::identify(&self.sys, node, dev)
            .map_err(|r| Error::rejected(Path::new(&given), r))?;
        let node = self.node_of(&kind);
        Ok(Classified {
            given,
            node,
            dev,
            kind,
        })
    }

    /// Classifies the block device `major:minor` (`given` is `block device MAJ:MIN`).
    pub fn classify_dev_t(&self, major: u32, minor: u32) -> Result<Classified> {
        let dev = DevT::new(major, minor);
        let kind = self.identify_dev_t(major, minor)?;
        let node = self.node_of(&kind);
        Ok(Classified {
            given: format!("block device {dev}"),
            node,
            dev,
            kind,
        })
    }

    /// What the block device `major:minor` is, as [`classify_dev_t`](Self::classify_dev_t)
    /// decides, without looking for its node in `/dev`: sysfs only (three reads for a
    /// multipath map), for callers that identify a descriptor's device on every call.
    pub fn identify_dev_t(&self, major: u32, minor: u32) -> Result<DeviceKind> {
        let dev = DevT::new(major, minor);
        // Identified first, the existence checked only on failure.
        sysfs::identify(&self.sys, NodeType::Block, dev).map_err(|r| {
            let given = format!("block device {dev}");
            if self.sys.dev_block(dev).exists() {
                Error::rejected(Path::new(&given), r)
            } else {
                Error::NotFound {
                    path: PathBuf::from(given),
                }
            }
        })
    }

    fn classify_path(&self, path: &Path, given: String) -> Result<Classified> {
        let md = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => Error::NotFound {
                path: PathBuf::from(&given),
            },
            _ => Error::Io {
                path: PathBuf::from(&given),
                op: "stat",
                source: e,
            },
        })?;
        let ft = md.file_type();
        let node = if ft.is_block_device() {
            NodeType::Block
        } else if ft.is_char_device() {
            NodeType::Char
        } else if ft.is_file() {
            NodeType::Regular
        } else if ft.is_dir() {
            NodeType::Directory
        } else {
            NodeType::Other
        };
        let node_path = if given.contains('/') {
            PathBuf::from(&given)
        } else {
            path.to_path_buf()
        };
        self.finish(given, node_path, node, DevT::from_raw(md.rdev()))
    }

    fn finish(&self, given: String, node: PathBuf, ty: NodeType, dev: DevT) -> Result<Classified> {
        let kind = sysfs::identify(&self.sys, ty, dev)
            .map_err(|r| Error::rejected(Path::new(&given), r))?;
        Ok(Classified {
            given,
            node,
            dev,
            kind,
        })
    }

    /// The device-mapper device named `name`: its kernel name and number.
    fn dm_by_name(&self, name: &OsStr) -> Option<(String, DevT)> {
        sysfs::list_dir(&self.sys.root().join("block"))
            .into_iter()
            .filter(|k| k.starts_with("dm-"))
            .find_map(|k| {
                let base = self.sys.block(&k);
                let n = std::fs::read(base.join("dm/name")).ok()?;
                (n.trim_ascii_end() == name.as_bytes())
                    .then(|| self.attr_dev(&base).map(|d| (k, d)))
                    .flatten()
            })
    }

    /// The `dev` attribute (`MAJ:MIN`) of a sysfs device directory.
    fn attr_dev(&self, dir: &Path) -> Option<DevT> {
        sysfs::read_attr(&dir.join("dev"))?.parse().ok()
    }

    /// The node to open for `kind`: `/dev/mapper/NAME` for a map when it exists, else
    /// `/dev/<kernel name>`.
    fn node_of(&self, kind: &DeviceKind) -> PathBuf {
        if let Some(map) = kind.map_name().filter(|m| !m.is_empty()) {
            let mapper = self.dev.join("mapper").join(map);
            if mapper.exists() {
                return mapper;
            }
        }
        self.dev.join(kind.kernel_name())
    }
}

/// The type and device number of the node open on `fd`; errors name `given`.
fn stat_of_fd(fd: BorrowedFd<'_>, given: &str) -> Result<(NodeType, DevT)> {
    let st = nix::sys::stat::fstat(fd).map_err(|e| Error::Io {
        path: PathBuf::from(given),
        op: "fstat",
        source: std::io::Error::from(e),
    })?;
    Ok((NodeType::from_mode(st.st_mode), DevT::from_raw(st.st_rdev)))
}

/// Classifications of descriptors' devices, kept per device (node type and number), for
/// a daemon that is handed a descriptor of the same few devices with every request
/// (pr-helper): the first descriptor of a device is classified in full
/// ([`Classifier::classify_fd`]: `fstat` and some ten sysfs reads), the next ones of the
/// same type and number cost an `fstat` and one sysfs read ([`Classifier::recheck`]:
/// the SCSI address of a disk or sg node, the dm uuid of a map), which a device that took
/// over the number of another fails: it is then classified in full again. Kept
/// classifications expire after [`keep_for`](Self::new) (the cache holds at most the
/// devices seen in that time); a failed classification is not kept.
///
/// What a kept classification can get wrong: nothing that tells a device apart, since the
/// recheck reads it each time; only a dm map renamed in place keeps its old map name (its
/// uuid is unchanged) until the entry expires.
#[derive(Debug)]
pub struct ClassifiedDevices {
    classifier: Classifier,
    keep_for: Duration,
    kept: Mutex<HashMap<(NodeType, DevT), (Duration, Classified)>>,
}

impl ClassifiedDevices {
    /// Classifications of `/sys` and `/dev`, each kept for `keep_for`.
    pub fn new(keep_for: Duration) -> Self {
        Self::with(Classifier::default(), keep_for)
    }

    /// Classifications by `classifier`, each kept for `keep_for`.
    pub fn with(classifier: Classifier, keep_for: Duration) -> Self {
        ClassifiedDevices {
            classifier,
            keep_for,
            kept: Mutex::new(HashMap::new()),
        }
    }

    /// Classifies the node open on `fd` (`given` is `fd N`), as
    /// [`Classifier::classify_fd`] does, from a kept classification of its device when
    /// there is one and it passes the recheck.
    pub fn classify_fd(&self, fd: BorrowedFd<'_>) -> Result<Classified> {
        let given = format!("fd {}", fd.as_raw_fd());
        let (node, dev) = stat_of_fd(fd, &given)?;
        self.classify_node(node, dev, given)
    }

    /// How many classifications are kept (expired ones included until the next miss).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every kept classification.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(NodeType, DevT), (Duration, Classified)>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn classify_node(&self, node: NodeType, dev: DevT, given: String) -> Result<Classified> {
        if !matches!(node, NodeType::Block | NodeType::Char) {
            return self.classifier.classify_node(node, dev, given);
        }
        let Some(now) = coarse_now() else {
            return self.classifier.classify_node(node, dev, given);
        };
        let kept = self
            .lock()
            .get(&(node, dev))
            .filter(|(at, _)| now.saturating_sub(*at) < self.keep_for)
            .map(|(_, c)| c.clone());
        if let Some(mut c) = kept {
            // The recheck reads sysfs: outside the lock.
            if self.classifier.recheck(&c) {
                c.given = given;
                return Ok(c);
            }
        }
        let result = self.classifier.classify_node(node, dev, given);
        let mut kept = self.lock();
        kept.retain(|_, (at, _)| now.saturating_sub(*at) < self.keep_for);
        match &result {
            Ok(c) => {
                kept.insert((node, dev), (now, c.clone()));
            }
            Err(_) => {
                kept.remove(&(node, dev));
            }
        }
        result
    }
}

/// The monotonic clock, coarse (to a scheduler tick): read from the vDSO's data page
/// without a system call whatever the clocksource (`CLOCK_MONOTONIC` is a system call
/// where the vDSO cannot read the clocksource, such as an HPET), precise enough for
/// expiry times in seconds. `None` if it cannot be read.
fn coarse_now() -> Option<Duration> {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC_COARSE).ok()?;
    Some(Duration::new(
        u64::try_from(t.tv_sec()).ok()?,
        u32::try_from(t.tv_nsec()).ok()?,
    ))
}

/// Refuses what cannot name anything.
fn check_name(what: &OsStr, given: &str) -> Result<()> {
    let bytes = what.as_bytes();
    let reason = if bytes.trim_ascii().is_empty() {
        "it is empty"
    } else if bytes.contains(&0) {
        "it contains a NUL byte"
    } else if bytes == b"." || bytes == b".." {
        "it names a directory, not a device or a map"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName {
        given: given.to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysfs::fake;

    /// A fake tree: disks sda, sdb (sg0, sg1) in map mpatha (dm-0), an LVM volume dm-1,
    /// a partition sda1, a loop device; and an empty /dev.
    fn tree() -> (tempfile::TempDir, Classifier) {
        let t = tempfile::tempdir().unwrap();
        let r = t.path().join("sys");
        fake::scsi_disk(&r, "sda", "8:0", "2:0:0:0", "sg0", "21:0");
        fake::scsi_disk(&r, "sdb", "8:16", "3:0:0:0", "sg1", "21:1");
        fake::dm(
            &r,
            "dm-0",
            "253:0",
            "mpatha",
            "mpath-36001405aaaa",
            &["sda", "sdb"],
        );
        fake::dm(&r, "dm-1", "253:1", "vg-lv", "LVM-xyz", &[]);
        fake::file(
            &r,
            "devices/pci0/host0/target0/2:0:0:0/block/sda/sda1/partition",
            "1\n",
        );
        fake::link(
            &r,
            "dev/block/8:1",
            "../../devices/pci0/host0/target0/2:0:0:0/block/sda/sda1",
        );
        fake::file(&r, "devices/virtual/block/loop0/dev", "7:0\n");
        fake::link(&r, "block/loop0", "../devices/virtual/block/loop0");
        fake::link(&r, "dev/block/7:0", "../../devices/virtual/block/loop0");
        fake::dir(t.path(), "dev");
        let c = Classifier::with(Sysfs::at(&r), t.path().join("dev"));
        (t, c)
    }

    #[test]
    fn map_names_resolve_through_sysfs() {
        let (t, c) = tree();
        let m = c.classify("mpatha").unwrap();
        assert!(m.is_multipath());
        assert_eq!(m.given, "mpatha");
        assert_eq!(m.dev, DevT::new(253, 0));
        assert_eq!(m.kind.map_name(), Some("mpatha"));
        assert_eq!(m.kind.wwid(), Some("36001405aaaa"));
        assert_eq!(m.kind.kernel_name(), "dm-0");
        // No /dev/mapper/mpatha in the fake /dev: the dm-N node.
        assert_eq!(m.node, t.path().join("dev/dm-0"));
        // With it: that.
        fake::file(t.path(), "dev/mapper/mpatha", "");
        assert_eq!(
            c.classify("mpatha").unwrap().node,
            t.path().join("dev/mapper/mpatha")
        );
        // Kernel names work too.
        assert_eq!(c.classify("dm-0").unwrap().kind, m.kind);
        let sd = c.classify("sdb").unwrap();
        assert!(matches!(&sd.kind, DeviceKind::ScsiDisk { name, .. } if name == "sdb"));
        assert_eq!(
            (sd.node, sd.dev),
            (t.path().join("dev/sdb"), DevT::new(8, 16))
        );
        let sg = c.classify("sg1").unwrap();
        assert!(matches!(&sg.kind, DeviceKind::ScsiGeneric { name, .. } if name == "sg1"));
        assert_eq!(sg.dev, DevT::new(21, 1));
    }

    #[test]
    fn errors_name_what_was_given() {
        let (_t, c) = tree();
        let e = c.classify("mpathzz").unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        assert_eq!(e.to_string(), "no such device or map: mpathzz");

        let e = c.classify("vg-lv").unwrap_err();
        assert!(matches!(e, Error::NotMultipath { .. }), "{e:?}");
        let s = e.to_string();
        assert!(
            s.starts_with("vg-lv: not a dm-multipath map: ") && s.contains("LVM-xyz"),
            "{s}"
        );

        let e = c.classify("loop0").unwrap_err();
        assert!(matches!(e, Error::NotScsi { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with("loop0: not a SCSI device: "),
            "{e}"
        );

        let e = c.classify_dev_t(8, 1).unwrap_err();
        assert!(matches!(e, Error::NotScsi { .. }), "{e:?}");
        let s = e.to_string();
        assert!(
            s.starts_with("block device 8:1: not a SCSI device: ") && s.contains("partition"),
            "{s}"
        );
        let e = c.classify_dev_t(9, 9).unwrap_err();
        assert_eq!(e.to_string(), "no such device or map: block device 9:9");
        assert!(c.classify_dev_t(253, 0).unwrap().is_multipath());
        assert!(matches!(
            c.classify_dev_t(253, 1),
            Err(Error::NotMultipath { .. })
        ));
    }

    #[test]
    fn kept_classifications_are_rechecked_and_expire() {
        let (t, c) = tree();
        let r = t.path().join("sys");
        let devdir = r.join("devices/pci0/host0/target0/2:0:0:0");
        let kept = ClassifiedDevices::with(c.clone(), Duration::from_secs(3600));
        let sda = (NodeType::Block, DevT::new(8, 0));
        let first = kept.classify_node(sda.0, sda.1, "fd 5".into()).unwrap();
        assert!(
            matches!(&first.kind, DeviceKind::ScsiDisk { name, hctl: Some(h) }
            if name == "sda" && h.to_string() == "2:0:0:0")
        );
        assert_eq!(kept.len(), 1);

        // Without the subsystem link a full classification fails; a kept one that passes
        // the recheck (the address) is used as it is, under the new descriptor's name.
        std::fs::remove_file(devdir.join("subsystem")).unwrap();
        assert!(c.classify_dev_t(8, 0).is_err());
        let again = kept.classify_node(sda.0, sda.1, "fd 9".into()).unwrap();
        assert_eq!(again.given, "fd 9");
        assert_eq!((again.kind, again.dev), (first.kind.clone(), first.dev));

        // Another disk at another address took the number: classified in full again (and
        // here refused, since the subsystem link is gone), nothing kept.
        let link = devdir.join("block/sda/device");
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink("../../../5:0:0:1", &link).unwrap();
        fake::dir(&r, "devices/pci0/host0/target0/5:0:0:1");
        fake::link(
            &r,
            "devices/pci0/host0/target0/5:0:0:1/subsystem",
            "../../../../bus/scsi",
        );
        let new = kept.classify_node(sda.0, sda.1, "fd 9".into()).unwrap();
        assert!(
            matches!(&new.kind, DeviceKind::ScsiDisk { hctl: Some(h), .. }
            if h.to_string() == "5:0:0:1")
        );
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink("../../../2:0:0:0", &link).unwrap();
        assert!(kept.classify_node(sda.0, sda.1, "fd 9".into()).is_err());
        assert!(kept.is_empty());

        // A map whose number another map took (another uuid), then a non-multipath dm
        // device.
        let dm0 = (NodeType::Block, DevT::new(253, 0));
        let m = kept.classify_node(dm0.0, dm0.1, "fd 3".into()).unwrap();
        assert_eq!(m.kind.wwid(), Some("36001405aaaa"));
        fake::file(&r, "devices/virtual/block/dm-0/dm/name", "mpathb\n");
        fake::file(
            &r,
            "devices/virtual/block/dm-0/dm/uuid",
            "mpath-36001405bbbb\n",
        );
        let m = kept.classify_node(dm0.0, dm0.1, "fd 3".into()).unwrap();
        assert_eq!(
            (m.kind.wwid(), m.kind.map_name()),
            (Some("36001405bbbb"), Some("mpathb"))
        );
        fake::file(&r, "devices/virtual/block/dm-0/dm/uuid", "LVM-xyz\n");
        assert!(matches!(
            kept.classify_node(dm0.0, dm0.1, "fd 3".into()),
            Err(Error::NotMultipath { .. })
        ));
        // The sg node's number: its own key (a character device).
        let sg0 = kept
            .classify_node(NodeType::Char, DevT::new(21, 1), "fd 4".into())
            .unwrap();
        assert!(matches!(&sg0.kind, DeviceKind::ScsiGeneric { name, .. } if name == "sg1"));
        assert!(matches!(
            kept.classify_node(NodeType::Block, DevT::new(21, 1), "fd 4".into()),
            Err(Error::NotFound { .. } | Error::NotScsi { .. })
        ));
        // Not devices: never kept.
        assert!(
            kept.classify_node(NodeType::Regular, DevT::new(8, 16), "fd 4".into())
                .is_err()
        );
        assert_eq!(kept.len(), 1);
        kept.clear();
        assert!(kept.is_empty());

        // Kept for no time: every descriptor is classified in full.
        let brief = ClassifiedDevices::with(c.clone(), Duration::ZERO);
        let sdb = (NodeType::Block, DevT::new(8, 16));
        assert!(brief.classify_node(sdb.0, sdb.1, "fd 5".into()).is_ok());
        std::fs::remove_file(r.join("devices/pci0/host0/target0/3:0:0:0/subsystem")).unwrap();
        assert!(brief.classify_node(sdb.0, sdb.1, "fd 5".into()).is_err());

        // The real classifier on a real descriptor (not a device: not kept).
        let null = std::fs::File::open("/dev/null").unwrap();
        use std::os::fd::AsFd;
        let real = ClassifiedDevices::new(Duration::from_secs(1));
        assert!(matches!(
            real.classify_fd(null.as_fd()),
            Err(Error::NotScsi { .. })
        ));
        assert!(real.is_empty());
    }

    #[test]
    fn empty_and_silly_names() {
        let (_t, c) = tree();
        for bad in ["", "   ", ".", ".."] {
            let e = c.classify(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidName { .. }), "{bad:?}: {e:?}");
        }
        assert_eq!(
            c.classify("").unwrap_err().to_string(),
            "invalid device or map name \"\": it is empty"
        );
        let e = c.classify("a\0b").unwrap_err();
        assert!(e.to_string().contains("NUL"), "{e}");
        // The real classifier too: nothing is looked up.
        assert!(matches!(classify(""), Err(Error::InvalidName { .. })));
    }

    #[test]
    fn files_directories_and_dev_null() {
        let (t, c) = tree();
        let f = t.path().join("file");
        std::fs::write(&f, "x").unwrap();
        let e = c.classify(&f).unwrap_err();
        assert!(matches!(e, Error::NotScsi { .. }), "{e:?}");
        let s = e.to_string();
        assert!(
            s.starts_with(&format!("{}: not a SCSI device: ", f.display()))
                && s.contains("regular file"),
            "{s}"
        );
        let e = c.classify(t.path()).unwrap_err();
        assert!(matches!(e, Error::NotScsi { .. }), "{e:?}");
        assert!(e.to_string().contains("a directory"), "{e}");
        let e = c.classify(t.path().join("nope/sdz")).unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "no such device or map: {}",
                t.path().join("nope/sdz").display()
            )
        );
        // A path through a regular file.
        assert!(matches!(
            c.classify(f.join("x")),
            Err(Error::NotFound { .. })
        ));

        // The real /dev/null against the real /sys.
        let e = classify("/dev/null").unwrap_err();
        assert!(matches!(e, Error::NotScsi { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("/dev/null: not a SCSI device: character device 1:3"),
            "{e}"
        );
        let null = std::fs::File::open("/dev/null").unwrap();
        use std::os::fd::AsFd;
        let e = classify_fd(null.as_fd()).unwrap_err();
        assert!(matches!(e, Error::NotScsi { .. }), "{e:?}");
        assert!(e.to_string().starts_with("fd "), "{e}");
        let file = std::fs::File::open(&f).unwrap();
        let e = classify_fd(file.as_fd()).unwrap_err();
        assert!(e.to_string().contains("regular file"), "{e}");
    }
}
