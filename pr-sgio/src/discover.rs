//! Discovery of dm-multipath maps and their paths.
//!
//! A map is found with DM_LIST_DEVICES and DM_TABLE_STATUS (target type `multipath`); its
//! paths come from the multipath target's status line (path groups, per-path `A`/`F` state
//! and fail count) and table line; each path is then described from sysfs (kernel name, sg
//! node, SCSI address, device state) and, when the kernel exposes it, VPD page 83h.
//!
//! This module reports what the kernel says; it does not decide anything (no path choice,
//! no failover). The parsers ([`parse_status`], [`parse_table`], [`parse_vpd83`]) are pure
//! functions.
//!
//! The status line of the multipath target (Linux `dm-mpath.c`, status type INFO) is
//! ```text
//! <#features> <features>... <#handler args> <handler args>... <#groups> <next group>
//!   { <A|D|E> <#selector status args> <args>... <#paths> <#per-path selector args>
//!     { <MAJ:MIN> <A|F> <fail count> <per-path selector args>... }... }...
//! ```
//! and the table line (status type TABLE)
//! ```text
//! <#features> <features>... <#handler args> [<handler> <args>...] <#groups> <first group>
//!   { <selector> <#selector args> <args>... <#paths> <#per-path args>
//!     { <MAJ:MIN> <per-path args>... }... }...
//! ```

use std::path::Path;

use crate::dm::{DmControl, DmId};
use crate::error::{Error, Result};
use crate::sysfs::{self, DevT, Hctl, Sysfs};

/// The state of a path group in the status line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupState {
    /// `A`: the group in use.
    Active,
    /// `E`: enabled, not in use.
    Enabled,
    /// `D`: disabled (bypassed).
    Disabled,
}

/// The state of a path in the status line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathState {
    /// `A`: active (usable).
    Active,
    /// `F`: failed.
    Failed,
}

/// One path in the status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusPath {
    /// The path device.
    pub dev: DevT,
    /// Active or failed.
    pub state: PathState,
    /// Failures counted by dm-multipath.
    pub fail_count: u32,
    /// Per-path selector status arguments.
    pub selector_args: Vec<String>,
}

/// One path group in the status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusGroup {
    /// The group's state.
    pub state: GroupState,
    /// The selector's group status arguments.
    pub selector_args: Vec<String>,
    /// Its paths.
    pub paths: Vec<StatusPath>,
}

/// A parsed multipath status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpathStatus {
    /// Feature status words (normally `queue_io` flag and `pg_init_count`).
    pub features: Vec<String>,
    /// Hardware handler status arguments.
    pub handler_args: Vec<String>,
    /// The group the next IO goes to (1-based; 0 when there is none).
    pub next_group: u32,
    /// The path groups.
    pub groups: Vec<StatusGroup>,
}

/// One path in the table line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TablePath {
    /// The path device.
    pub dev: DevT,
    /// Per-path selector arguments (e.g. the round-robin repeat count).
    pub selector_args: Vec<String>,
}

/// One path group in the table line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableGroup {
    /// Path selector (`round-robin`, `service-time`, `queue-length`, ...).
    pub selector: String,
    /// Selector arguments.
    pub selector_args: Vec<String>,
    /// Its paths.
    pub paths: Vec<TablePath>,
}

/// A parsed multipath table line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpathTable {
    /// Features (`queue_if_no_path`, `pg_init_retries 50`, ...).
    pub features: Vec<String>,
    /// Hardware handler name and arguments (empty when none).
    pub handler: Vec<String>,
    /// The first group to use (1-based).
    pub first_group: u32,
    /// The path groups.
    pub groups: Vec<TableGroup>,
}

impl MpathTable {
    /// Whether IO is queued when no path is left.
    pub fn queue_if_no_path(&self) -> bool {
        self.features.iter().any(|f| f == "queue_if_no_path")
    }
}

struct Tokens<'a> {
    what: &'static str,
    text: &'a str,
    it: std::str::SplitAsciiWhitespace<'a>,
}

impl<'a> Tokens<'a> {
    fn new(what: &'static str, text: &'a str) -> Self {
        Tokens {
            what,
            text,
            it: text.split_ascii_whitespace(),
        }
    }

    fn err(&self, reason: impl Into<String>) -> Error {
        Error::Parse {
            what: self.what,
            reason: reason.into(),
            text: self.text.to_owned(),
        }
    }

    fn word(&mut self, field: &str) -> Result<&'a str> {
        self.it
            .next()
            .ok_or_else(|| self.err(format!("ends before {field}")))
    }

    fn num(&mut self, field: &str) -> Result<u32> {
        let w = self.word(field)?;
        w.parse()
            .map_err(|_| self.err(format!("{field}: {w:?} is not a number")))
    }

    fn count(&mut self, field: &str) -> Result<usize> {
        let n = self.num(field)?;
        // Every counted item is at least one token; a count beyond the text is corrupt.
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n > self.text.len() {
            return Err(self.err(format!("{field}: {n} is more than the line holds")));
        }
        Ok(n)
    }

    fn words(&mut self, n: usize, field: &str) -> Result<Vec<String>> {
        (0..n)
            .map(|_| self.word(field).map(str::to_owned))
            .collect()
    }

    fn counted(&mut self, field: &str) -> Result<Vec<String>> {
        let n = self.count(field)?;
        self.words(n, field)
    }

    fn dev(&mut self) -> Result<DevT> {
        let w = self.word("path device")?;
        w.parse()
            .map_err(|e: String| self.err(format!("path device: {e}")))
    }

    fn end(mut self) -> Result<()> {
        match self.it.next() {
            None => Ok(()),
            Some(w) => Err(self.err(format!("unexpected {w:?} after the last group"))),
        }
    }
}

/// Parses the status line of a multipath target.
pub fn parse_status(text: &str) -> Result<MpathStatus> {
    let mut t = Tokens::new("multipath status line", text);
    let features = t.counted("feature count")?;
    let handler_args = t.counted("hardware handler count")?;
    let ngroups = t.count("group count")?;
    let next_group = t.num("next group")?;
    let mut groups = Vec::with_capacity(ngroups);
    for _ in 0..ngroups {
        let state = match t.word("group state")? {
            "A" => GroupState::Active,
            "E" => GroupState::Enabled,
            "D" => GroupState::Disabled,
            w => return Err(t.err(format!("group state {w:?} is not A, E or D"))),
        };
        let selector_args = t.counted("selector status count")?;
        let npaths = t.count("path count")?;
        let nargs = t.count("per-path selector status count")?;
        let mut paths = Vec::with_capacity(npaths);
        for _ in 0..npaths {
            let dev = t.dev()?;
            let state = match t.word("path state")? {
                "A" => PathState::Active,
                "F" => PathState::Failed,
                w => return Err(t.err(format!("path state {w:?} is not A or F"))),
            };
            let fail_count = t.num("fail count")?;
            let selector_args = t.words(nargs, "per-path selector status")?;
            paths.push(StatusPath {
                dev,
                state,
                fail_count,
                selector_args,
            });
        }
        groups.push(StatusGroup {
            state,
            selector_args,
            paths,
        });
    }
    t.end()?;
    Ok(MpathStatus {
        features,
        handler_args,
        next_group,
        groups,
    })
}

/// Parses the table line of a multipath target.
pub fn parse_table(text: &str) -> Result<MpathTable> {
    let mut t = Tokens::new("multipath table line", text);
    let features = t.counted("feature count")?;
    let handler = t.counted("hardware handler count")?;
    let ngroups = t.count("group count")?;
    let first_group = t.num("first group")?;
    let mut groups = Vec::with_capacity(ngroups);
    for _ in 0..ngroups {
        let selector = t.word("path selector")?.to_owned();
        let selector_args = t.counted("selector argument count")?;
        let npaths = t.count("path count")?;
        let nargs = t.count("per-path argument count")?;
        let mut paths = Vec::with_capacity(npaths);
        for _ in 0..npaths {
            let dev = t.dev()?;
            let selector_args = t.words(nargs, "per-path arguments")?;
            paths.push(TablePath { dev, selector_args });
        }
        groups.push(TableGroup {
            selector,
            selector_args,
            paths,
        });
    }
    t.end()?;
    Ok(MpathTable {
        features,
        handler,
        first_group,
        groups,
    })
}

// ------------------------------------------------------------------------------------------
// VPD page 83h
// ------------------------------------------------------------------------------------------

/// DESIGNATOR TYPE values of VPD page 83h (SPC-5 7.7.6).
pub mod designator_type {
    /// Vendor specific.
    pub const VENDOR: u8 = 0x0;
    /// T10 vendor ID based.
    pub const T10_VENDOR_ID: u8 = 0x1;
    /// EUI-64 based.
    pub const EUI64: u8 = 0x2;
    /// NAA.
    pub const NAA: u8 = 0x3;
    /// Relative target port identifier.
    pub const RELATIVE_TARGET_PORT: u8 = 0x4;
    /// Target port group.
    pub const TARGET_PORT_GROUP: u8 = 0x5;
    /// Logical unit group.
    pub const LU_GROUP: u8 = 0x6;
    /// MD5 logical unit identifier.
    pub const MD5: u8 = 0x7;
    /// SCSI name string.
    pub const SCSI_NAME: u8 = 0x8;
    /// Protocol specific port identifier.
    pub const PROTOCOL_PORT: u8 = 0x9;
    /// UUID.
    pub const UUID: u8 = 0xa;
}

/// One designation descriptor of VPD page 83h.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Designator {
    /// PROTOCOL IDENTIFIER (meaningful when `piv`).
    pub protocol_id: u8,
    /// CODE SET: 1 binary, 2 ASCII, 3 UTF-8.
    pub code_set: u8,
    /// PIV: the protocol identifier is valid.
    pub piv: bool,
    /// ASSOCIATION: 0 logical unit, 1 target port, 2 target device.
    pub association: u8,
    /// DESIGNATOR TYPE (see [`designator_type`]).
    pub designator_type: u8,
    /// The designator bytes.
    pub designator: Vec<u8>,
}

/// Parses VPD page 83h (Device Identification) into its designation descriptors. The page
/// header's PAGE LENGTH bounds the list; a descriptor running past the end is an error.
pub fn parse_vpd83(page: &[u8]) -> Result<Vec<Designator>> {
    let err = |reason: String| Error::Parse {
        what: "VPD page 83h",
        reason,
        text: page
            .iter()
            .take(64)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" "),
    };
    let [_, code, hi, lo, body @ ..] = page else {
        return Err(err(format!("{} bytes, need at least 4", page.len())));
    };
    if *code != 0x83 {
        return Err(err(format!("page code {code:#04x}, not 0x83")));
    }
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    let body = body
        .get(..len)
        .ok_or_else(|| err(format!("PAGE LENGTH {len} but {} bytes follow", body.len())))?;
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let [b0, b1, _, dlen, tail @ ..] = rest else {
            return Err(err("truncated designation descriptor header".to_owned()));
        };
        let n = usize::from(*dlen);
        let designator = tail
            .get(..n)
            .ok_or_else(|| err(format!("designator of {n} bytes runs past the page")))?;
        out.push(Designator {
            protocol_id: b0 >> 4,
            code_set: b0 & 0x0f,
            piv: b1 & 0x80 != 0,
            association: (b1 >> 4) & 0x03,
            designator_type: b1 & 0x0f,
            designator: designator.to_vec(),
        });
        rest = tail.get(n..).unwrap_or(&[]);
    }
    Ok(out)
}

/// The identity of a logical unit, chosen from its VPD page 83h designators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LuId {
    /// An NAA designator (its bytes).
    Naa(Vec<u8>),
    /// An EUI-64 based designator (8, 12 or 16 bytes).
    Eui64(Vec<u8>),
    /// A SCSI name string (e.g. `naa.6001405...` or an iSCSI name).
    ScsiName(String),
    /// A T10 vendor ID based designator (vendor id and vendor specific part, as text).
    T10VendorId(String),
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl LuId {
    /// The identifier as udev's `scsi_id` and dm-multipath's WWIDs write it: a type digit
    /// (3 NAA, 2 EUI-64, 8 SCSI name, 1 T10 vendor id) followed by lower-case hex or the text.
    pub fn wwid(&self) -> String {
        match self {
            LuId::Naa(b) => format!("3{}", hex(b)),
            LuId::Eui64(b) => format!("2{}", hex(b)),
            LuId::ScsiName(s) => format!("8{s}"),
            LuId::T10VendorId(s) => format!("1{s}"),
        }
    }
}

/// Picks the logical unit's identity among `designators` (association 0 only): NAA first
/// (IEEE Registered Extended over Registered over the rest), then EUI-64, then SCSI name
/// string, then T10 vendor ID.
pub fn lu_identity(designators: &[Designator]) -> Option<LuId> {
    let lu = || designators.iter().filter(|d| d.association == 0);
    let naa = lu()
        .filter(|d| d.designator_type == designator_type::NAA && !d.designator.is_empty())
        .max_by_key(|d| match d.designator.first().map(|b| b >> 4) {
            Some(6) => 3,
            Some(5) => 2,
            _ => 1,
        });
    if let Some(d) = naa {
        return Some(LuId::Naa(d.designator.clone()));
    }
    if let Some(d) = lu().find(|d| d.designator_type == designator_type::EUI64) {
        return Some(LuId::Eui64(d.designator.clone()));
    }
    let text = |d: &Designator| {
        let s = String::from_utf8_lossy(&d.designator).into_owned();
        s.trim_end_matches(['\0', ' ']).to_owned()
    };
    if let Some(d) = lu().find(|d| d.designator_type == designator_type::SCSI_NAME) {
        return Some(LuId::ScsiName(text(d)));
    }
    lu().find(|d| d.designator_type == designator_type::T10_VENDOR_ID)
        .map(|d| LuId::T10VendorId(text(d)))
}

/// The INQUIRY CDB for a VPD page (EVPD=1) with `alloc_len` bytes of room.
pub fn vpd_inquiry_cdb(page: u8, alloc_len: u16) -> [u8; 6] {
    let a = alloc_len.to_be_bytes();
    [0x12, 0x01, page, a[0], a[1], 0]
}

// ------------------------------------------------------------------------------------------
// Maps and paths
// ------------------------------------------------------------------------------------------

/// A path of a multipath map, as the map's status line and sysfs describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathInfo {
    /// Device number.
    pub dev: DevT,
    /// Kernel name (`sdb`), when sysfs knows the device.
    pub name: Option<String>,
    /// Its sg node (`sg1`), when the sg driver is loaded.
    pub sg: Option<String>,
    /// SCSI address.
    pub hctl: Option<Hctl>,
    /// 1-based index of its path group.
    pub group: usize,
    /// State of its path group.
    pub group_state: GroupState,
    /// dm-multipath's state of the path.
    pub dm_state: PathState,
    /// dm-multipath's fail count.
    pub fail_count: u32,
    /// sysfs `device/state` (`running`, `offline`, `blocked`, ...).
    pub sysfs_state: Option<String>,
    /// Identity from `device/vpd_pg83`, when the kernel exposes it.
    pub lu_id: Option<LuId>,
}

impl PathInfo {
    /// The `/dev` node of the path (`/dev/sdb`).
    pub fn dev_path(&self) -> Option<std::path::PathBuf> {
        self.name.as_ref().map(|n| Path::new("/dev").join(n))
    }

    /// The SCSI host number.
    pub fn host(&self) -> Option<u32> {
        self.hctl.map(|h| h.host)
    }
}

/// A dm-multipath map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipathMap {
    /// Map name (`mpatha`).
    pub name: String,
    /// Device-mapper uuid (`mpath-<wwid>`).
    pub uuid: String,
    /// The WWID (the uuid without `mpath-`).
    pub wwid: String,
    /// Device number.
    pub dev: DevT,
    /// Kernel name (`dm-0`), when sysfs knows it.
    pub kernel_name: Option<String>,
    /// Whether the map is suspended.
    pub suspended: bool,
    /// The parsed status line.
    pub status: MpathStatus,
    /// The parsed table line.
    pub table: MpathTable,
    /// Every path, in status-line order.
    pub paths: Vec<PathInfo>,
}

impl MultipathMap {
    /// The `/dev/mapper` node.
    pub fn mapper_path(&self) -> std::path::PathBuf {
        Path::new("/dev/mapper").join(&self.name)
    }

    /// Paths dm-multipath considers active.
    pub fn active_paths(&self) -> impl Iterator<Item = &PathInfo> {
        self.paths
            .iter()
            .filter(|p| p.dm_state == PathState::Active)
    }
}

/// Describes one path of a status line from sysfs.
pub fn path_info(
    sys: &Sysfs,
    group: usize,
    group_state: GroupState,
    path: &StatusPath,
) -> PathInfo {
    let base = sys.dev_block(path.dev);
    let name = sysfs::link_basename(&base);
    let device = base.join("device");
    PathInfo {
        dev: path.dev,
        sg: name.as_deref().and_then(|n| sysfs::sg_of_disk(sys, n)),
        name,
        hctl: sysfs::hctl_of(&device),
        group,
        group_state,
        dm_state: path.state,
        fail_count: path.fail_count,
        sysfs_state: sysfs::read_attr(&device.join("state")),
        lu_id: std::fs::read(device.join("vpd_pg83"))
            .ok()
            .and_then(|p| parse_vpd83(&p).ok())
            .and_then(|d| lu_identity(&d)),
    }
}

/// Joins a map's status with sysfs into [`PathInfo`]s, in status-line order.
pub fn paths_of(sys: &Sysfs, status: &MpathStatus) -> Vec<PathInfo> {
    status
        .groups
        .iter()
        .enumerate()
        .flat_map(|(gi, g)| {
            g.paths
                .iter()
                .map(move |p| path_info(sys, gi + 1, g.state, p))
        })
        .collect()
}

/// Discovery over a device-mapper control node and a sysfs tree.
#[derive(Debug)]
pub struct Discovery {
    ctl: DmControl,
    sys: Sysfs,
}

impl Discovery {
    /// Opens `/dev/mapper/control` (needs root) and uses `/sys`.
    pub fn new() -> Result<Self> {
        Ok(Discovery {
            ctl: DmControl::open()?,
            sys: Sysfs::default(),
        })
    }

    /// Discovery with an explicit control node and sysfs root.
    pub fn with(ctl: DmControl, sys: Sysfs) -> Self {
        Discovery { ctl, sys }
    }

    /// Every dm-multipath map.
    pub fn maps(&self) -> Result<Vec<MultipathMap>> {
        let mut out = Vec::new();
        for d in self.ctl.list_devices()? {
            if let Some(u) = &d.uuid
                && !sysfs::is_multipath_uuid(u)
            {
                continue;
            }
            match self.map(&DmId::Name(&d.name)) {
                Ok(Some(m)) => out.push(m),
                Ok(None) => {}
                // Removed between the list and the status: skip it.
                Err(Error::Dm { errno, .. }) if errno == libc::ENXIO => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// One map by name, uuid or device number; `Ok(None)` when the device exists but is not a
    /// multipath map.
    pub fn map(&self, id: &DmId<'_>) -> Result<Option<MultipathMap>> {
        let st = self.ctl.table_status(id, false)?;
        let [target] = st.targets.as_slice() else {
            return Ok(None);
        };
        if target.target_type != "multipath" {
            return Ok(None);
        }
        let status = parse_status(&target.params)?;
        let tb = self.ctl.table_status(&DmId::Name(&st.info.name), true)?;
        let table_line = tb
            .targets
            .first()
            .map(|t| t.params.as_str())
            .ok_or_else(|| Error::Missing {
                what: "table of multipath map",
                name: st.info.name.clone(),
            })?;
        let table = parse_table(table_line)?;
        let paths = paths_of(&self.sys, &status);
        let info = st.info;
        Ok(Some(MultipathMap {
            wwid: info
                .uuid
                .strip_prefix(sysfs::MULTIPATH_UUID_PREFIX)
                .unwrap_or(&info.uuid)
                .to_owned(),
            kernel_name: sysfs::link_basename(&self.sys.dev_block(info.dev)),
            suspended: info.is_suspended(),
            name: info.name,
            uuid: info.uuid,
            dev: info.dev,
            status,
            table,
            paths,
        }))
    }

    /// The map named `name` (error when there is none or it is not multipath).
    pub fn map_by_name(&self, name: &str) -> Result<MultipathMap> {
        self.map(&DmId::Name(name))?.ok_or_else(|| Error::Missing {
            what: "multipath map",
            name: name.to_owned(),
        })
    }

    /// The sysfs tree in use.
    pub fn sysfs(&self) -> &Sysfs {
        &self.sys
    }
}

/// The multipath map holding a path device, from `/sys/block/<disk>/holders/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// Kernel name (`dm-0`).
    pub kernel_name: String,
    /// Map name.
    pub name: String,
    /// Device-mapper uuid.
    pub uuid: String,
}

/// The dm-multipath map that holds the disk `disk` (`sdb`), if any. Holders that are not
/// multipath maps (LVM, ...) are skipped.
pub fn holder_map(sys: &Sysfs, disk: &str) -> Option<Holder> {
    sysfs::list_dir(&sys.block(disk).join("holders"))
        .into_iter()
        .find_map(|h| {
            let dm = sys.block(&h).join("dm");
            let uuid = sysfs::read_attr(&dm.join("uuid"))?;
            sysfs::is_multipath_uuid(&uuid).then(|| Holder {
                name: sysfs::read_attr(&dm.join("name")).unwrap_or_default(),
                kernel_name: h,
                uuid,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysfs::fake;

    #[test]
    fn status_round_robin_two_paths() {
        // round-robin: no group status args, no per-path status args.
        let s = parse_status("2 0 0 0 1 1 A 0 2 0 8:0 A 0 8:16 F 1 ").unwrap();
        assert_eq!(s.features, ["0", "0"]);
        assert!(s.handler_args.is_empty());
        assert_eq!(s.next_group, 1);
        assert_eq!(s.groups.len(), 1);
        let g = &s.groups[0];
        assert_eq!(g.state, GroupState::Active);
        assert_eq!(
            g.paths[0],
            StatusPath {
                dev: DevT::new(8, 0),
                state: PathState::Active,
                fail_count: 0,
                selector_args: vec![]
            }
        );
        assert_eq!(g.paths[1].dev, DevT::new(8, 16));
        assert_eq!(g.paths[1].state, PathState::Failed);
        assert_eq!(g.paths[1].fail_count, 1);
    }

    #[test]
    fn status_service_time() {
        // service-time reports two per-path values (in-flight size, relative throughput).
        let s = parse_status("2 0 0 0 1 1 A 0 2 2 8:0 A 0 0 1 8:16 F 1 0 1").unwrap();
        let p = &s.groups[0].paths;
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].selector_args, ["0", "1"]);
        assert_eq!(
            (p[1].dev, p[1].state, p[1].fail_count),
            (DevT::new(8, 16), PathState::Failed, 1)
        );
    }

    #[test]
    fn status_two_groups_and_handler() {
        let line = "2 1 4 0 2 2 E 0 1 1 8:32 A 0 1 D 0 2 1 8:48 A 3 0 65:0 F 7 2";
        let s = parse_status(line).unwrap();
        assert_eq!(s.features, ["1", "4"]);
        assert!(s.handler_args.is_empty());
        assert_eq!(s.next_group, 2);
        assert_eq!(s.groups[0].state, GroupState::Enabled);
        assert_eq!(s.groups[1].state, GroupState::Disabled);
        assert_eq!(s.groups[1].paths[1].dev, DevT::new(65, 0));
        assert_eq!(s.groups[1].paths[1].selector_args, ["2"]);
        // historical-service-time style: a counted group status (2 args).
        let s = parse_status("2 0 0 0 1 1 A 2 10 5 1 3 8:0 A 0 1 2 3").unwrap();
        assert_eq!(s.groups[0].selector_args, ["10", "5"]);
        assert_eq!(s.groups[0].paths[0].selector_args, ["1", "2", "3"]);
        // No groups at all (a map whose paths are all gone).
        let s = parse_status("2 0 0 0 0 0").unwrap();
        assert!(s.groups.is_empty());
    }

    #[test]
    fn status_errors() {
        for bad in [
            "",
            "2 0 0 0 1 1 A 0 2 0 8:0 A 0",       // a path missing
            "2 0 0 0 1 1 X 0 1 0 8:0 A 0",       // bad group state
            "2 0 0 0 1 1 A 0 1 0 8:0 Q 0",       // bad path state
            "2 0 0 0 1 1 A 0 1 0 sda A 0",       // not MAJ:MIN
            "2 0 0 0 1 1 A 0 1 0 8:0 A 0 extra", // trailing junk
            "4000000000 0",                      // absurd count
        ] {
            let e = parse_status(bad).unwrap_err();
            assert!(e.to_string().contains("multipath status line"), "{e}");
        }
    }

    #[test]
    fn table_lines() {
        let t = parse_table("1 queue_if_no_path 0 1 1 round-robin 0 2 1 8:0 1 8:16 1 ").unwrap();
        assert!(t.queue_if_no_path());
        assert!(t.handler.is_empty());
        assert_eq!(t.first_group, 1);
        assert_eq!(t.groups[0].selector, "round-robin");
        assert_eq!(
            t.groups[0].paths[1],
            TablePath {
                dev: DevT::new(8, 16),
                selector_args: vec!["1".into()]
            }
        );
        let t = parse_table(
            "3 queue_if_no_path pg_init_retries 50 1 alua 2 1 service-time 0 1 2 8:32 1 1 service-time 0 1 2 8:48 1 1",
        )
        .unwrap();
        assert_eq!(t.features, ["queue_if_no_path", "pg_init_retries", "50"]);
        assert_eq!(t.handler, ["alua"]);
        assert_eq!(t.groups.len(), 2);
        assert_eq!(t.groups[1].paths[0].dev, DevT::new(8, 48));
        assert!(parse_table("0 0 1 1 round-robin 0 2 1 8:0 1").is_err());
    }

    fn lio_vpd83() -> Vec<u8> {
        // What a LIO fileio LUN returns: NAA IEEE Registered Extended, T10 vendor id,
        // relative target port, target port group, LU group.
        let mut d = Vec::new();
        d.extend_from_slice(&[0x01, 0x03, 0x00, 0x10]);
        d.extend_from_slice(&[
            0x60, 0x01, 0x40, 0x5a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde,
            0xf0, 0x12,
        ]);
        d.extend_from_slice(&[0x02, 0x01, 0x00, 0x18]);
        d.extend_from_slice(b"LIO-ORG abcdef01-2345-67");
        d.extend_from_slice(&[0x61, 0x94, 0x00, 0x04, 0, 0, 0, 1]);
        d.extend_from_slice(&[0x61, 0x95, 0x00, 0x04, 0, 0, 0, 0]);
        d.extend_from_slice(&[0x01, 0x06, 0x00, 0x04, 0, 0, 0, 0]);
        let mut page = vec![0x00, 0x83];
        page.extend_from_slice(&u16::try_from(d.len()).unwrap().to_be_bytes());
        page.extend_from_slice(&d);
        page
    }

    #[test]
    fn vpd83_decode() {
        let v = parse_vpd83(&lio_vpd83()).unwrap();
        assert_eq!(v.len(), 5);
        assert_eq!(v[0].designator_type, designator_type::NAA);
        assert_eq!(v[0].code_set, 1);
        assert_eq!(v[1].designator_type, designator_type::T10_VENDOR_ID);
        assert_eq!(v[2].designator_type, designator_type::RELATIVE_TARGET_PORT);
        assert_eq!(v[2].association, 1);
        assert!(v[2].piv);
        assert_eq!(v[2].protocol_id, 6);
        let id = lu_identity(&v).unwrap();
        assert_eq!(id.wwid(), "36001405abcdef0123456789abcdef012");
    }

    #[test]
    fn vpd83_identity_preference() {
        let d = |t: u8, assoc: u8, bytes: &[u8]| Designator {
            protocol_id: 0,
            code_set: 1,
            piv: false,
            association: assoc,
            designator_type: t,
            designator: bytes.to_vec(),
        };
        let eui = d(designator_type::EUI64, 0, &[1, 2, 3, 4, 5, 6, 7, 8]);
        let t10 = d(designator_type::T10_VENDOR_ID, 0, b"ATA     disk 1  ");
        let naa_port = d(designator_type::NAA, 1, &[0x50, 1, 2, 3, 4, 5, 6, 7]);
        let naa5 = d(designator_type::NAA, 0, &[0x50, 0, 0, 0, 0, 0, 0, 9]);
        let naa6 = d(designator_type::NAA, 0, &[0x60; 16]);
        assert_eq!(
            lu_identity(std::slice::from_ref(&t10)).unwrap().wwid(),
            "1ATA     disk 1"
        );
        assert_eq!(
            lu_identity(&[t10.clone(), eui.clone()]).unwrap().wwid(),
            "20102030405060708"
        );
        // A target-port NAA is not the LU's identity.
        assert_eq!(
            lu_identity(&[naa_port.clone(), eui.clone()]),
            Some(LuId::Eui64(eui.designator.clone()))
        );
        assert_eq!(
            lu_identity(&[naa5.clone(), naa6.clone()]),
            Some(LuId::Naa(naa6.designator.clone()))
        );
        assert_eq!(
            lu_identity(&[naa5.clone(), eui]).unwrap().wwid(),
            "35000000000000009"
        );
        assert_eq!(lu_identity(&[]), None);
        let name = d(designator_type::SCSI_NAME, 0, b"iqn.2003-01.org.x:lun0\0\0");
        assert_eq!(
            lu_identity(&[name]).unwrap().wwid(),
            "8iqn.2003-01.org.x:lun0"
        );
    }

    #[test]
    fn vpd83_errors() {
        assert!(parse_vpd83(&[0, 0x80, 0, 0]).is_err());
        assert!(parse_vpd83(&[0, 0x83, 0, 10, 1, 2]).is_err());
        assert!(parse_vpd83(&[0, 0x83, 0, 6, 1, 3, 0, 8, 0, 0]).is_err());
        assert!(parse_vpd83(&[0, 0x83]).is_err());
        assert!(parse_vpd83(&[0, 0x83, 0, 0]).unwrap().is_empty());
        assert_eq!(vpd_inquiry_cdb(0x83, 0x200), [0x12, 1, 0x83, 2, 0, 0]);
    }

    #[test]
    fn paths_from_fake_sysfs() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fake::scsi_disk(r, "sda", "8:0", "2:0:0:0", "sg0", "21:0");
        fake::scsi_disk(r, "sdb", "8:16", "3:0:0:0", "sg1", "21:1");
        fake::file(r, "devices/pci0/host0/target0/3:0:0:0/state", "offline\n");
        std::fs::write(
            r.join("devices/pci0/host0/target0/2:0:0:0/vpd_pg83"),
            lio_vpd83(),
        )
        .unwrap();
        fake::dm(
            r,
            "dm-0",
            "253:0",
            "mpatha",
            "mpath-36001405abcdef0123456789abcdef012",
            &["sda", "sdb"],
        );
        fake::dm(r, "dm-1", "253:1", "vg-lv", "LVM-xyz", &[]);
        let sys = Sysfs::at(r);
        let st = parse_status("2 0 0 0 1 1 A 0 3 0 8:0 A 0 8:16 F 2 8:99 F 1").unwrap();
        let paths = paths_of(&sys, &st);
        assert_eq!(paths.len(), 3);
        assert_eq!(paths[0].name.as_deref(), Some("sda"));
        assert_eq!(paths[0].sg.as_deref(), Some("sg0"));
        assert_eq!(paths[0].host(), Some(2));
        assert_eq!(paths[0].sysfs_state.as_deref(), Some("running"));
        assert_eq!(paths[0].dm_state, PathState::Active);
        assert_eq!(
            paths[0].lu_id.as_ref().map(LuId::wwid).as_deref(),
            Some("36001405abcdef0123456789abcdef012")
        );
        assert_eq!(paths[0].dev_path().unwrap(), Path::new("/dev/sda"));
        assert_eq!(paths[1].sysfs_state.as_deref(), Some("offline"));
        assert_eq!(
            (paths[1].dm_state, paths[1].fail_count, paths[1].group),
            (PathState::Failed, 2, 1)
        );
        assert_eq!(paths[1].hctl, Some("3:0:0:0".parse().unwrap()));
        // A path that vanished from sysfs is still listed, with what dm knows.
        assert_eq!(paths[2].name, None);
        assert_eq!(paths[2].dev, DevT::new(8, 99));

        let h = holder_map(&sys, "sdb").unwrap();
        assert_eq!(
            h,
            Holder {
                kernel_name: "dm-0".into(),
                name: "mpatha".into(),
                uuid: "mpath-36001405abcdef0123456789abcdef012".into()
            }
        );
        assert_eq!(holder_map(&sys, "sdz"), None);
    }
}
