//! Small sysfs helpers and the identification of a device node from its device number.
//!
//! Everything here takes a [`Sysfs`] root, so that tests can point it at a fake tree.

use core::fmt;
use core::str::FromStr;
use std::path::{Path, PathBuf};

/// A Linux device number, split into major and minor.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, Default)]
pub struct DevT {
    /// Major number.
    pub major: u32,
    /// Minor number.
    pub minor: u32,
}

impl DevT {
    /// A device number from its parts.
    pub const fn new(major: u32, minor: u32) -> Self {
        DevT { major, minor }
    }

    /// Splits a `dev_t` as glibc encodes it (`st_rdev`), which for 32-bit values is also
    /// the kernel's `huge_encode_dev` (device-mapper's `dev` fields).
    pub const fn from_raw(dev: u64) -> Self {
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
        let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
        DevT {
            major: major as u32,
            minor: minor as u32,
        }
    }

    /// The glibc / `huge_encode_dev` encoding.
    pub const fn to_raw(self) -> u64 {
        let (ma, mi) = (self.major as u64, self.minor as u64);
        ((ma & 0xfff) << 8) | ((ma & !0xfff) << 32) | (mi & 0xff) | ((mi & !0xff) << 12)
    }
}

impl fmt::Display for DevT {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

impl FromStr for DevT {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("{s:?} is not MAJ:MIN"))?;
        let major = a.parse().map_err(|_| format!("bad major in {s:?}"))?;
        let minor = b.parse().map_err(|_| format!("bad minor in {s:?}"))?;
        Ok(DevT { major, minor })
    }
}

/// A SCSI address: host, channel, target, LUN.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Hctl {
    /// SCSI host number (`hostN`).
    pub host: u32,
    /// Channel (bus).
    pub channel: u32,
    /// Target id.
    pub target: u32,
    /// Logical unit number.
    pub lun: u64,
}

impl fmt::Display for Hctl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.host, self.channel, self.target, self.lun
        )
    }
}

impl FromStr for Hctl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut it = s.trim().split(':');
        let mut next = || it.next().ok_or_else(|| format!("{s:?} is not H:C:T:L"));
        let host = next()?.parse().map_err(|_| format!("bad host in {s:?}"))?;
        let channel = next()?
            .parse()
            .map_err(|_| format!("bad channel in {s:?}"))?;
        let target = next()?
            .parse()
            .map_err(|_| format!("bad target in {s:?}"))?;
        let lun = next()?.parse().map_err(|_| format!("bad lun in {s:?}"))?;
        if it.next().is_some() {
            return Err(format!("{s:?} is not H:C:T:L"));
        }
        Ok(Hctl {
            host,
            channel,
            target,
            lun,
        })
    }
}

/// What a device node is, as far as this crate is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// A SCSI disk block device (`/dev/sdX`).
    ScsiDisk {
        /// Kernel name (`sda`).
        name: String,
        /// Its SCSI address, when sysfs shows it.
        hctl: Option<Hctl>,
    },
    /// A SCSI generic character device (`/dev/sgN`).
    ScsiGeneric {
        /// Kernel name (`sg0`).
        name: String,
        /// Its SCSI address, when sysfs shows it.
        hctl: Option<Hctl>,
    },
    /// A device-mapper multipath map (`/dev/mapper/NAME`, `/dev/dm-N`).
    Multipath {
        /// Kernel name (`dm-0`).
        name: String,
        /// Map name (`mpatha`).
        map: String,
        /// Device-mapper uuid (`mpath-<wwid>`).
        uuid: String,
    },
}

impl DeviceKind {
    /// The kernel name (`sda`, `sg0`, `dm-0`).
    pub fn kernel_name(&self) -> &str {
        match self {
            DeviceKind::ScsiDisk { name, .. }
            | DeviceKind::ScsiGeneric { name, .. }
            | DeviceKind::Multipath { name, .. } => name,
        }
    }

    /// Whether it is a dm-multipath map.
    pub fn is_multipath(&self) -> bool {
        matches!(self, DeviceKind::Multipath { .. })
    }

    /// The map name (`mpatha`), for a dm-multipath map.
    pub fn map_name(&self) -> Option<&str> {
        match self {
            DeviceKind::Multipath { map, .. } => Some(map),
            _ => None,
        }
    }

    /// The WWID (the device-mapper uuid without `mpath-`), for a dm-multipath map.
    pub fn wwid(&self) -> Option<&str> {
        match self {
            DeviceKind::Multipath { uuid, .. } => uuid.strip_prefix(MULTIPATH_UUID_PREFIX),
            _ => None,
        }
    }
}

/// The type of a node, from `st_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeType {
    /// A block device.
    Block,
    /// A character device.
    Char,
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// Anything else (FIFO, socket).
    Other,
}

impl NodeType {
    /// The type from a `st_mode`.
    pub fn from_mode(mode: u32) -> Self {
        match mode & libc::S_IFMT {
            libc::S_IFBLK => NodeType::Block,
            libc::S_IFCHR => NodeType::Char,
            libc::S_IFREG => NodeType::Regular,
            libc::S_IFDIR => NodeType::Directory,
            _ => NodeType::Other,
        }
    }
}

/// A sysfs tree (normally `/sys`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sysfs {
    root: PathBuf,
}

impl Default for Sysfs {
    fn default() -> Self {
        Sysfs {
            root: PathBuf::from("/sys"),
        }
    }
}

impl Sysfs {
    /// A sysfs tree rooted at `root` (for tests).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Sysfs { root: root.into() }
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `/sys/dev/block/MAJ:MIN`.
    pub fn dev_block(&self, dev: DevT) -> PathBuf {
        self.root.join("dev/block").join(dev.to_string())
    }

    /// `/sys/dev/char/MAJ:MIN`.
    pub fn dev_char(&self, dev: DevT) -> PathBuf {
        self.root.join("dev/char").join(dev.to_string())
    }

    /// `/sys/block/NAME`.
    pub fn block(&self, name: &str) -> PathBuf {
        self.root.join("block").join(name)
    }

    /// `/sys/class/scsi_generic/NAME`.
    pub fn scsi_generic(&self, name: &str) -> PathBuf {
        self.root.join("class/scsi_generic").join(name)
    }
}

/// Reads a sysfs attribute, trimmed; `None` when it does not exist or cannot be read.
///
/// Cheaper than `std::fs::read_to_string`, which is measurable where a call identifies
/// its device every time (the drop-in libmpathpersist): no `statx` for a size hint, and
/// no second `read` to see the end, since sysfs gives an attribute whole (at most a
/// page) in one read, so a read that does not fill the buffer was the last.
pub fn read_attr(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut buf = Vec::with_capacity(ATTR_READ);
    loop {
        let start = buf.len();
        buf.resize(start + ATTR_READ, 0);
        let n = loop {
            match file.read(&mut buf[start..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other.ok()?,
            }
        };
        buf.truncate(start + n);
        if n < ATTR_READ {
            break;
        }
    }
    String::from_utf8(buf).ok().map(|s| s.trim().to_owned())
}

/// The size of one read of a sysfs attribute: a page, the most sysfs shows at once.
const ATTR_READ: usize = 4096;

/// The last component of a symlink's target (`.../devices/.../sda` -> `sda`).
pub fn link_basename(path: &Path) -> Option<String> {
    let t = std::fs::read_link(path).ok()?;
    t.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// The names in a directory, sorted; empty when it does not exist.
pub fn list_dir(path: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(path)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The SCSI address of a SCSI device directory (`.../device`, a link to `.../H:C:T:L`).
///
/// One `readlink`: sysfs makes the `device` link of a SCSI disk (`/sys/block/sdX/device`,
/// `/sys/dev/block/M:m/device`) and of an sg node (`/sys/class/scsi_generic/sgN/device`,
/// `/sys/dev/char/M:m/device`) a relative link whose last component is the SCSI device's
/// own directory, named `H:C:T:L` (`../../../0:0:1:0`). Only when that last component is
/// not an address (a link ending in `..`, as a hand-made tree may have, or `device` not a
/// link at all) is the whole path resolved (`canonicalize`, a `readlink` per component).
pub fn hctl_of(device_link: &Path) -> Option<Hctl> {
    let linked = std::fs::read_link(device_link).ok().and_then(|target| {
        target
            .file_name()
            .and_then(|n| n.to_str()?.parse::<Hctl>().ok())
    });
    if linked.is_some() {
        return linked;
    }
    let real = std::fs::canonicalize(device_link).ok()?;
    real.file_name()?.to_str()?.parse().ok()
}

/// Why a node cannot take SCSI persistent reservation commands, as [`identify`] found it.
/// The text says what the node is instead, for a message that names the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Not a SCSI disk, an sg node or a device-mapper device: a regular file, a directory,
    /// a character device such as `/dev/null`, a loop or NVMe block device, ...
    NotScsi(String),
    /// A partition of a disk: persistent reservations address the whole logical unit.
    Partition(String),
    /// A device-mapper device that is not a dm-multipath map (LVM, crypt, ...).
    NotMultipath(String),
}

impl Rejection {
    /// The text.
    pub fn reason(&self) -> &str {
        match self {
            Rejection::NotScsi(r) | Rejection::Partition(r) | Rejection::NotMultipath(r) => r,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// Identifies a node from its type and device number. A device-mapper device is a
/// multipath map when its sysfs `dm/uuid` starts with `mpath-` (multipath-tools names its
/// maps so; see [`is_multipath_uuid`]).
pub fn identify(sys: &Sysfs, node: NodeType, dev: DevT) -> Result<DeviceKind, Rejection> {
    match node {
        NodeType::Block => identify_block(sys, dev),
        NodeType::Char => {
            let base = sys.dev_char(dev);
            let name = link_basename(&base);
            let subsystem = link_basename(&base.join("subsystem"));
            match (name, subsystem.as_deref()) {
                (Some(name), Some("scsi_generic")) => Ok(DeviceKind::ScsiGeneric {
                    hctl: hctl_of(&base.join("device")),
                    name,
                }),
                (Some(name), _) => Err(Rejection::NotScsi(format!(
                    "character device {dev} ({name}) is not a SCSI generic (sg) node"
                ))),
                (None, _) => Err(Rejection::NotScsi(format!(
                    "character device {dev} is not a SCSI generic (sg) node (no sysfs entry)"
                ))),
            }
        }
        NodeType::Regular => Err(Rejection::NotScsi(
            "a regular file, not a device node".to_owned(),
        )),
        NodeType::Directory => Err(Rejection::NotScsi(
            "a directory, not a device node".to_owned(),
        )),
        NodeType::Other => Err(Rejection::NotScsi("not a device node".to_owned())),
    }
}

/// Whether the device numbered `dev` is still the one `kind` describes (as [`identify`]
/// found it earlier), by the one attribute that tells apart two devices that had the same
/// number one after the other: the kernel derives a SCSI disk's, an sg node's and a dm
/// device's kernel name from the number, so what changes when a number is reused is the
/// SCSI address (`device` link, one `readlink`) of a disk or sg node, and the
/// device-mapper uuid (`dm/uuid`, one read) of a map. `false` when sysfs does not show
/// that attribute (a disk whose address was never known is never taken as the same).
/// A map renamed in place keeps its uuid, and is taken as the same (`kind` keeps the old
/// map name).
pub fn still_identifies(sys: &Sysfs, dev: DevT, kind: &DeviceKind) -> bool {
    match kind {
        DeviceKind::ScsiDisk { hctl, .. } => {
            hctl.is_some() && hctl_of(&sys.dev_block(dev).join("device")) == *hctl
        }
        DeviceKind::ScsiGeneric { hctl, .. } => {
            hctl.is_some() && hctl_of(&sys.dev_char(dev).join("device")) == *hctl
        }
        DeviceKind::Multipath { uuid, .. } => {
            read_attr(&sys.dev_block(dev).join("dm/uuid")).as_deref() == Some(uuid.as_str())
        }
    }
}

/// Whether a device-mapper uuid marks a dm-multipath map (`mpath-<wwid>`).
pub fn is_multipath_uuid(uuid: &str) -> bool {
    uuid.starts_with(MULTIPATH_UUID_PREFIX)
}

/// The prefix multipath-tools gives the device-mapper uuid of its maps.
pub const MULTIPATH_UUID_PREFIX: &str = "mpath-";

fn identify_block(sys: &Sysfs, dev: DevT) -> Result<DeviceKind, Rejection> {
    let base = sys.dev_block(dev);
    // A device-mapper device first: it has no `partition` attribute, and this is the
    // common case of a call that identifies its device each time (a multipath map).
    if let Some(uuid) = read_attr(&base.join("dm/uuid")) {
        // device-mapper names its disks `dm-<minor>` (drivers/md/dm.c), so no readlink.
        let name = format!("dm-{}", dev.minor);
        let map = read_attr(&base.join("dm/name")).unwrap_or_default();
        if is_multipath_uuid(&uuid) {
            return Ok(DeviceKind::Multipath { name, map, uuid });
        }
        let shown = if uuid.is_empty() {
            "no uuid".to_owned()
        } else {
            format!("uuid {uuid}")
        };
        return Err(Rejection::NotMultipath(format!(
            "block device {dev} ({name}, map {map:?}, {shown}) is a device-mapper device but not a multipath map"
        )));
    }
    let Some(name) = link_basename(&base) else {
        return Err(Rejection::NotScsi(format!(
            "block device {dev} has no sysfs entry"
        )));
    };
    if base.join("partition").exists() {
        let whole = base
            .parent()
            .and_then(|_| std::fs::canonicalize(&base).ok())
            .and_then(|p| {
                p.parent()
                    .and_then(|q| q.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
            });
        return Err(Rejection::Partition(match whole {
            Some(w) => format!(
                "block device {dev} ({name}) is a partition; persistent reservations address the whole logical unit ({w})"
            ),
            None => format!(
                "block device {dev} ({name}) is a partition; persistent reservations address the whole logical unit"
            ),
        }));
    }
    let subsystem = link_basename(&base.join("device/subsystem"));
    if subsystem.as_deref() == Some("scsi") {
        return Ok(DeviceKind::ScsiDisk {
            hctl: hctl_of(&base.join("device")),
            name,
        });
    }
    Err(Rejection::NotScsi(match subsystem {
        Some(s) => format!(
            "block device {dev} ({name}) is on the {s} bus, not a SCSI disk or a dm-multipath map"
        ),
        None => format!("block device {dev} ({name}) is not a SCSI disk or a dm-multipath map"),
    }))
}

/// The sg node of a SCSI disk (`sda` -> `sg0`), from `/sys/block/sda/device/scsi_generic/`.
pub fn sg_of_disk(sys: &Sysfs, disk: &str) -> Option<String> {
    list_dir(&sys.block(disk).join("device/scsi_generic"))
        .into_iter()
        .next()
}

#[cfg(test)]
pub(crate) mod fake {
    //! A fake sysfs tree for tests.
    use std::os::unix::fs::symlink;
    use std::path::Path;

    /// Creates `rel` (and parents) under `root` with `content`.
    pub(crate) fn file(root: &Path, rel: &str, content: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    /// Creates a directory.
    pub(crate) fn dir(root: &Path, rel: &str) {
        std::fs::create_dir_all(root.join(rel)).unwrap();
    }

    /// Creates a symlink `rel` -> `target`.
    pub(crate) fn link(root: &Path, rel: &str, target: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        symlink(target, p).unwrap();
    }

    /// A SCSI disk `name` at `dev` with address `hctl` and sg node `sg` (char `sgdev`).
    pub(crate) fn scsi_disk(root: &Path, name: &str, dev: &str, hctl: &str, sg: &str, sgdev: &str) {
        let devdir = format!("devices/pci0/host0/target0/{hctl}");
        dir(root, &format!("{devdir}/block/{name}"));
        file(
            root,
            &format!("{devdir}/block/{name}/dev"),
            &format!("{dev}\n"),
        );
        link(root, &format!("{devdir}/subsystem"), "../../../../bus/scsi");
        dir(root, "bus/scsi");
        file(root, &format!("{devdir}/state"), "running\n");
        // As the kernel links them: relative, ending in the SCSI device's H:C:T:L.
        link(
            root,
            &format!("{devdir}/block/{name}/device"),
            &format!("../../../{hctl}"),
        );
        dir(root, &format!("{devdir}/scsi_generic/{sg}"));
        link(
            root,
            &format!("{devdir}/scsi_generic/{sg}/device"),
            &format!("../../../{hctl}"),
        );
        link(
            root,
            &format!("{devdir}/scsi_generic/{sg}/subsystem"),
            "../../../../../../class/scsi_generic",
        );
        link(
            root,
            &format!("block/{name}"),
            &format!("../{devdir}/block/{name}"),
        );
        link(
            root,
            &format!("dev/block/{dev}"),
            &format!("../../{devdir}/block/{name}"),
        );
        link(
            root,
            &format!("dev/char/{sgdev}"),
            &format!("../../{devdir}/scsi_generic/{sg}"),
        );
        file(
            root,
            &format!("{devdir}/scsi_generic/{sg}/dev"),
            &format!("{sgdev}\n"),
        );
        link(
            root,
            &format!("class/scsi_generic/{sg}"),
            &format!("../../{devdir}/scsi_generic/{sg}"),
        );
        dir(root, &format!("{devdir}/block/{name}/holders"));
    }

    /// A dm device `name` at `dev` with map name and uuid, holding `slaves`.
    pub(crate) fn dm(root: &Path, name: &str, dev: &str, map: &str, uuid: &str, slaves: &[&str]) {
        let d = format!("devices/virtual/block/{name}");
        file(root, &format!("{d}/dm/name"), &format!("{map}\n"));
        file(root, &format!("{d}/dm/uuid"), &format!("{uuid}\n"));
        file(root, &format!("{d}/dev"), &format!("{dev}\n"));
        link(root, &format!("block/{name}"), &format!("../{d}"));
        link(root, &format!("dev/block/{dev}"), &format!("../../{d}"));
        for s in slaves {
            link(
                root,
                &format!("{d}/slaves/{s}"),
                &format!("../../../../../block/{s}"),
            );
            link(
                root,
                &format!("block/{s}/holders/{name}"),
                &format!("../../../{d}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devt_encoding() {
        let d = DevT::new(8, 16);
        assert_eq!(d.to_raw(), 0x810);
        assert_eq!(DevT::from_raw(0x810), d);
        let big = DevT::new(259, 300);
        assert_eq!(DevT::from_raw(big.to_raw()), big);
        assert_eq!(DevT::new(253, 0).to_raw(), 0xfd00);
        assert_eq!("8:16".parse::<DevT>().unwrap(), d);
        assert_eq!(d.to_string(), "8:16");
        assert!("816".parse::<DevT>().is_err());
    }

    #[test]
    fn hctl_parse() {
        let h: Hctl = "2:0:1:3".parse().unwrap();
        assert_eq!((h.host, h.channel, h.target, h.lun), (2, 0, 1, 3));
        assert_eq!(h.to_string(), "2:0:1:3");
        assert!("2:0:1".parse::<Hctl>().is_err());
        assert!("2:0:1:3:4".parse::<Hctl>().is_err());
    }

    #[test]
    fn identify_in_fake_tree() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fake::scsi_disk(r, "sda", "8:0", "2:0:0:0", "sg0", "21:0");
        fake::scsi_disk(r, "sdb", "8:16", "3:0:0:0", "sg1", "21:1");
        fake::dm(
            r,
            "dm-0",
            "253:0",
            "mpatha",
            "mpath-36001405aaaa",
            &["sda", "sdb"],
        );
        fake::dm(r, "dm-1", "253:1", "vg-lv", "LVM-xyz", &[]);
        fake::file(r, "devices/virtual/block/loop0/dev", "7:0\n");
        fake::link(r, "dev/block/7:0", "../../devices/virtual/block/loop0");
        fake::file(r, "devices/virtual/mem/null/dev", "1:3\n");
        fake::link(
            r,
            "devices/virtual/mem/null/subsystem",
            "../../../../class/mem",
        );
        fake::link(r, "dev/char/1:3", "../../devices/virtual/mem/null");
        let s = Sysfs::at(r);

        assert_eq!(
            identify(&s, NodeType::Block, DevT::new(8, 0)).unwrap(),
            DeviceKind::ScsiDisk {
                name: "sda".into(),
                hctl: Some("2:0:0:0".parse().unwrap())
            }
        );
        assert_eq!(
            identify(&s, NodeType::Char, DevT::new(21, 1)).unwrap(),
            DeviceKind::ScsiGeneric {
                name: "sg1".into(),
                hctl: Some("3:0:0:0".parse().unwrap())
            }
        );
        assert_eq!(
            identify(&s, NodeType::Block, DevT::new(253, 0)).unwrap(),
            DeviceKind::Multipath {
                name: "dm-0".into(),
                map: "mpatha".into(),
                uuid: "mpath-36001405aaaa".into()
            }
        );
        assert!(matches!(
            identify(&s, NodeType::Block, DevT::new(253, 1)),
            Err(Rejection::NotMultipath(_))
        ));
        let e = identify(&s, NodeType::Block, DevT::new(253, 1))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not a multipath map") && e.contains("LVM-xyz"),
            "{e}"
        );
        let e = identify(&s, NodeType::Block, DevT::new(7, 0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("loop0") && e.contains("not a SCSI disk"), "{e}");
        let e = identify(&s, NodeType::Char, DevT::new(1, 3))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("null") && e.contains("not a SCSI generic"),
            "{e}"
        );
        let e = identify(&s, NodeType::Block, DevT::new(9, 9))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no sysfs entry"), "{e}");
        assert!(
            identify(&s, NodeType::Regular, DevT::new(0, 0))
                .unwrap_err()
                .to_string()
                .contains("regular file")
        );
        assert_eq!(sg_of_disk(&s, "sdb").as_deref(), Some("sg1"));
    }

    #[test]
    fn hctl_from_the_device_link() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fake::scsi_disk(r, "sda", "8:0", "2:0:0:7", "sg0", "21:0");
        let s = Sysfs::at(r);
        let want = Some("2:0:0:7".parse().unwrap());
        // The kernel's links: one readlink.
        assert_eq!(hctl_of(&s.dev_block(DevT::new(8, 0)).join("device")), want);
        assert_eq!(hctl_of(&s.dev_char(DevT::new(21, 0)).join("device")), want);
        // A link whose last component is no address is resolved in full.
        let devdir = r.join("devices/pci0/host0/target0/2:0:0:7");
        let link = devdir.join("block/sda/device");
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink("../..", &link).unwrap();
        assert_eq!(hctl_of(&s.dev_block(DevT::new(8, 0)).join("device")), want);
        // Not a link at all: its own directory's name.
        std::fs::remove_file(&link).unwrap();
        std::fs::create_dir(&link).unwrap();
        assert_eq!(hctl_of(&link), None);
        assert_eq!(hctl_of(&devdir), want);
        assert_eq!(hctl_of(&r.join("nothing/device")), None);
    }

    #[test]
    fn still_identifies_tells_a_reused_number() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fake::scsi_disk(r, "sda", "8:0", "2:0:0:0", "sg0", "21:0");
        fake::dm(r, "dm-0", "253:0", "mpatha", "mpath-36001405aaaa", &["sda"]);
        let s = Sysfs::at(r);
        let disk = identify(&s, NodeType::Block, DevT::new(8, 0)).unwrap();
        let sg = identify(&s, NodeType::Char, DevT::new(21, 0)).unwrap();
        let map = identify(&s, NodeType::Block, DevT::new(253, 0)).unwrap();
        assert!(still_identifies(&s, DevT::new(8, 0), &disk));
        assert!(still_identifies(&s, DevT::new(21, 0), &sg));
        assert!(still_identifies(&s, DevT::new(253, 0), &map));
        // Another number, or no such device: not the same.
        assert!(!still_identifies(&s, DevT::new(8, 16), &disk));
        assert!(!still_identifies(&s, DevT::new(21, 1), &sg));
        assert!(!still_identifies(&s, DevT::new(253, 1), &map));
        // The disk's number reused by a disk at another address.
        let devdir = "devices/pci0/host0/target0/2:0:0:0";
        for l in ["block/sda/device", "scsi_generic/sg0/device"] {
            let p = r.join(devdir).join(l);
            std::fs::remove_file(&p).unwrap();
            std::os::unix::fs::symlink("../../../4:0:1:2", &p).unwrap();
        }
        assert!(!still_identifies(&s, DevT::new(8, 0), &disk));
        assert!(!still_identifies(&s, DevT::new(21, 0), &sg));
        // The map's number reused by another map.
        fake::file(
            r,
            "devices/virtual/block/dm-0/dm/uuid",
            "mpath-36001405bbbb\n",
        );
        assert!(!still_identifies(&s, DevT::new(253, 0), &map));
        // A disk whose address sysfs never showed is never taken as the same.
        let blind = DeviceKind::ScsiDisk {
            name: "sda".into(),
            hctl: None,
        };
        assert!(!still_identifies(&s, DevT::new(8, 0), &blind));
    }

    #[test]
    fn identify_partition() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fake::scsi_disk(r, "sda", "8:0", "2:0:0:0", "sg0", "21:0");
        fake::file(
            r,
            "devices/pci0/host0/target0/2:0:0:0/block/sda/sda1/partition",
            "1\n",
        );
        fake::link(
            r,
            "dev/block/8:1",
            "../../devices/pci0/host0/target0/2:0:0:0/block/sda/sda1",
        );
        let e = identify(&Sysfs::at(r), NodeType::Block, DevT::new(8, 1)).unwrap_err();
        assert!(matches!(e, Rejection::Partition(_)), "{e:?}");
        let e = e.to_string();
        assert!(
            e.contains("sda1") && e.contains("partition") && e.contains("(sda)"),
            "{e}"
        );
    }
}
