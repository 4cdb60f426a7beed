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

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

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
        let st = nix::sys::stat::fstat(fd).map_err(|e| Error::Io {
            path: PathBuf::from(&given),
            op: "fstat",
            source: std::io::Error::from(e),
        })?;
        let node = NodeType::from_mode(st.st_mode);
        let dev = DevT::from_raw(st.st_rdev);
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
