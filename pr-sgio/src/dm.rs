//! A client of the device-mapper control node (`/dev/mapper/control`, interface version 4):
//! list devices, read a device's info, status line and table line, suspend and resume.
//!
//! Buffers grow automatically: when the kernel sets `DM_BUFFER_FULL_FLAG` the call is
//! repeated with a larger buffer. The byte-level encoding and decoding are pure functions,
//! tested without a kernel. All calls need `CAP_SYS_ADMIN`.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::error::{Error, Result, errno_text};
use crate::sys::{self, DmCmd, DmIoctl};
use crate::sysfs::DevT;

/// The control node.
pub const CONTROL_PATH: &str = "/dev/mapper/control";

const HDR: usize = size_of::<DmIoctl>();
const OFF_VERSION: usize = core::mem::offset_of!(DmIoctl, version);
const OFF_DATA_SIZE: usize = core::mem::offset_of!(DmIoctl, data_size);
const OFF_DATA_START: usize = core::mem::offset_of!(DmIoctl, data_start);
const OFF_TARGET_COUNT: usize = core::mem::offset_of!(DmIoctl, target_count);
const OFF_OPEN_COUNT: usize = core::mem::offset_of!(DmIoctl, open_count);
const OFF_FLAGS: usize = core::mem::offset_of!(DmIoctl, flags);
const OFF_EVENT_NR: usize = core::mem::offset_of!(DmIoctl, event_nr);
const OFF_DEV: usize = core::mem::offset_of!(DmIoctl, dev);
const OFF_NAME: usize = core::mem::offset_of!(DmIoctl, name);
const OFF_UUID: usize = core::mem::offset_of!(DmIoctl, uuid);
const SPEC_LEN: usize = size_of::<sys::DmTargetSpec>();
const OFF_SPEC_NEXT: usize = core::mem::offset_of!(sys::DmTargetSpec, next);
const OFF_SPEC_TYPE: usize = core::mem::offset_of!(sys::DmTargetSpec, target_type);
const OFF_NL_NEXT: usize = core::mem::offset_of!(sys::DmNameList, next);
const OFF_NL_NAME: usize = core::mem::offset_of!(sys::DmNameList, name);

/// First buffer size tried.
const INITIAL_BUFFER: usize = 16 * 1024;
/// Largest buffer size tried.
const MAX_BUFFER: usize = 64 * 1024 * 1024;

/// How a device is named in a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmId<'a> {
    /// By name (`mpatha`).
    Name(&'a str),
    /// By uuid (`mpath-3600...`).
    Uuid(&'a str),
    /// By device number.
    Dev(DevT),
}

impl core::fmt::Display for DmId<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DmId::Name(n) => write!(f, "map {n}"),
            DmId::Uuid(u) => write!(f, "map with uuid {u}"),
            DmId::Dev(d) => write!(f, "dm device {d}"),
        }
    }
}

/// The header fields the kernel returns.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DmInfo {
    /// The kernel's interface version.
    pub version: [u32; 3],
    /// `data_size` as returned.
    pub data_size: u32,
    /// `data_start` as returned.
    pub data_start: u32,
    /// Number of targets in the table.
    pub target_count: u32,
    /// Open count.
    pub open_count: i32,
    /// `DM_*_FLAG` bits.
    pub flags: u32,
    /// Event number.
    pub event_nr: u32,
    /// Device number.
    pub dev: DevT,
    /// Name.
    pub name: String,
    /// Uuid (may be empty).
    pub uuid: String,
}

impl DmInfo {
    /// Whether the device is suspended.
    pub fn is_suspended(&self) -> bool {
        self.flags & sys::DM_SUSPEND_FLAG != 0
    }

    /// Whether the device has a live table.
    pub fn has_live_table(&self) -> bool {
        self.flags & sys::DM_ACTIVE_PRESENT_FLAG != 0
    }
}

/// One entry of DM_LIST_DEVICES.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmDevice {
    /// Name.
    pub name: String,
    /// Device number.
    pub dev: DevT,
    /// Uuid, when the kernel reported it (Linux 5.13+ with `DM_UUID_FLAG`).
    pub uuid: Option<String>,
}

/// One target of a table, with its status or table string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmTarget {
    /// First sector.
    pub start: u64,
    /// Length in sectors.
    pub length: u64,
    /// Target type (`multipath`, `linear`, ...).
    pub target_type: String,
    /// The status line or the table line.
    pub params: String,
}

/// Result of DM_TABLE_STATUS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmTableStatus {
    /// The header.
    pub info: DmInfo,
    /// The targets.
    pub targets: Vec<DmTarget>,
}

fn rd_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_ne_bytes)
}

fn rd_u64(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at.checked_add(8)?)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_ne_bytes)
}

fn wr(b: &mut [u8], at: usize, v: &[u8]) {
    if let Some(d) = b.get_mut(at..at + v.len()) {
        d.copy_from_slice(v);
    }
}

/// A NUL-terminated string starting at `at`, bounded by `max` bytes.
fn rd_cstr(b: &[u8], at: usize, max: usize) -> Option<String> {
    let s = b.get(at..)?;
    let s = s.get(..max.min(s.len()))?;
    let end = s.iter().position(|&c| c == 0)?;
    Some(String::from_utf8_lossy(s.get(..end)?).into_owned())
}

fn align8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

fn bad(what: &'static str, reason: impl Into<String>) -> Error {
    Error::Parse {
        what,
        reason: reason.into(),
        text: String::new(),
    }
}

/// Writes a request header at the start of `buf` (whose length becomes `data_size`).
pub fn encode_request(buf: &mut [u8], id: Option<&DmId<'_>>, flags: u32) -> Result<()> {
    if buf.len() < HDR {
        return Err(bad(
            "dm ioctl buffer",
            format!("{} bytes, need {HDR}", buf.len()),
        ));
    }
    buf.fill(0);
    for (i, v) in [4u32, 0, 0].iter().enumerate() {
        wr(buf, OFF_VERSION + 4 * i, &v.to_ne_bytes());
    }
    let size = u32::try_from(buf.len()).map_err(|_| bad("dm ioctl buffer", "too large"))?;
    wr(buf, OFF_DATA_SIZE, &size.to_ne_bytes());
    wr(buf, OFF_DATA_START, &(HDR as u32).to_ne_bytes());
    wr(buf, OFF_FLAGS, &flags.to_ne_bytes());
    match id {
        Some(DmId::Name(n)) => {
            if n.len() >= sys::DM_NAME_LEN || n.contains('\0') || n.is_empty() {
                return Err(bad(
                    "device-mapper name",
                    format!("{n:?} is empty, too long or has a NUL"),
                ));
            }
            wr(buf, OFF_NAME, n.as_bytes());
        }
        Some(DmId::Uuid(u)) => {
            if u.len() >= sys::DM_UUID_LEN || u.contains('\0') || u.is_empty() {
                return Err(bad(
                    "device-mapper uuid",
                    format!("{u:?} is empty, too long or has a NUL"),
                ));
            }
            wr(buf, OFF_UUID, u.as_bytes());
        }
        Some(DmId::Dev(d)) => wr(buf, OFF_DEV, &d.to_raw().to_ne_bytes()),
        None => {}
    }
    Ok(())
}

/// Reads the header the kernel returned.
pub fn decode_info(buf: &[u8]) -> Result<DmInfo> {
    if buf.len() < HDR {
        return Err(bad("dm ioctl header", format!("{} bytes", buf.len())));
    }
    let g = |at| rd_u32(buf, at).unwrap_or(0);
    Ok(DmInfo {
        version: [g(OFF_VERSION), g(OFF_VERSION + 4), g(OFF_VERSION + 8)],
        data_size: g(OFF_DATA_SIZE),
        data_start: g(OFF_DATA_START),
        target_count: g(OFF_TARGET_COUNT),
        open_count: g(OFF_OPEN_COUNT) as i32,
        flags: g(OFF_FLAGS),
        event_nr: g(OFF_EVENT_NR),
        dev: DevT::from_raw(rd_u64(buf, OFF_DEV).unwrap_or(0)),
        name: rd_cstr(buf, OFF_NAME, sys::DM_NAME_LEN).unwrap_or_default(),
        uuid: rd_cstr(buf, OFF_UUID, sys::DM_UUID_LEN).unwrap_or_default(),
    })
}

/// The payload (`data_start..data_size`) of a returned buffer.
pub fn payload<'a>(buf: &'a [u8], info: &DmInfo) -> &'a [u8] {
    let start = usize::try_from(info.data_start).unwrap_or(usize::MAX);
    let end = usize::try_from(info.data_size).unwrap_or(0).min(buf.len());
    buf.get(start..end).unwrap_or(&[])
}

/// Parses the `struct dm_name_list` records of DM_LIST_DEVICES.
pub fn parse_name_list(p: &[u8]) -> Result<Vec<DmDevice>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(dev) = rd_u64(p, at) {
        if dev == 0 && at == 0 {
            break; // no devices
        }
        let next =
            rd_u32(p, at + OFF_NL_NEXT).ok_or_else(|| bad("dm name list", "truncated record"))?;
        let name_at = at + OFF_NL_NAME;
        let limit = if next == 0 {
            p.len() - name_at.min(p.len())
        } else {
            usize::try_from(next).unwrap_or(0)
        };
        let name =
            rd_cstr(p, name_at, limit).ok_or_else(|| bad("dm name list", "unterminated name"))?;
        // After the name (8-aligned): u32 event_nr, u32 flags, then (8-aligned) the uuid.
        let ev_at = align8(name_at + name.len() + 1);
        let uuid = match rd_u32(p, ev_at + 4) {
            Some(f) if f == sys::DM_NAME_LIST_FLAG_HAS_UUID => {
                let u_at = align8(ev_at + 8);
                let end = if next == 0 {
                    p.len()
                } else {
                    at + usize::try_from(next).unwrap_or(0)
                };
                rd_cstr(p, u_at, end.saturating_sub(u_at))
            }
            _ => None,
        };
        out.push(DmDevice {
            name,
            dev: DevT::from_raw(dev),
            uuid,
        });
        if next == 0 {
            break;
        }
        at = at
            .checked_add(usize::try_from(next).unwrap_or(usize::MAX))
            .filter(|&n| n < p.len())
            .ok_or_else(|| bad("dm name list", format!("next offset {next} out of range")))?;
    }
    Ok(out)
}

/// Parses the `struct dm_target_spec` records (each followed by its string) of
/// DM_TABLE_STATUS.
pub fn parse_targets(p: &[u8], count: u32) -> Result<Vec<DmTarget>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    for i in 0..count {
        let start = rd_u64(p, at).ok_or_else(|| bad("dm target list", "truncated spec"))?;
        let length = rd_u64(p, at + 8).ok_or_else(|| bad("dm target list", "truncated spec"))?;
        let next =
            rd_u32(p, at + OFF_SPEC_NEXT).ok_or_else(|| bad("dm target list", "truncated spec"))?;
        let target_type = rd_cstr(p, at + OFF_SPEC_TYPE, sys::DM_MAX_TYPE_NAME)
            .ok_or_else(|| bad("dm target list", "unterminated target type"))?;
        let params = rd_cstr(p, at + SPEC_LEN, p.len())
            .ok_or_else(|| bad("dm target list", "unterminated parameter string"))?;
        out.push(DmTarget {
            start,
            length,
            target_type,
            params,
        });
        if i + 1 < count {
            let n = usize::try_from(next).unwrap_or(0);
            if n <= at || n >= p.len() {
                return Err(bad(
                    "dm target list",
                    format!("next offset {next} out of range"),
                ));
            }
            at = n;
        }
    }
    Ok(out)
}

/// An open `/dev/mapper/control`.
#[derive(Debug)]
pub struct DmControl {
    fd: OwnedFd,
    path: PathBuf,
}

impl DmControl {
    /// Opens [`CONTROL_PATH`].
    pub fn open() -> Result<Self> {
        Self::open_at(CONTROL_PATH)
    }

    /// Opens a control node at `path`.
    pub fn open_at(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| match e.kind() {
                // Not the user's device: device-mapper itself is missing (dm_mod not loaded,
                // or a container without the node).
                std::io::ErrorKind::NotFound => Error::Missing {
                    what: "device-mapper control node",
                    name: path.display().to_string(),
                },
                std::io::ErrorKind::PermissionDenied => Error::PermissionDenied {
                    path: path.to_path_buf(),
                    mode: "read-write",
                    needs: "root (CAP_SYS_ADMIN)",
                },
                _ => Error::Io {
                    path: path.to_path_buf(),
                    op: "open",
                    source: e,
                },
            })?;
        Ok(DmControl {
            fd: f.into(),
            path: path.to_path_buf(),
        })
    }

    fn call(&self, cmd: DmCmd, id: Option<&DmId<'_>>, flags: u32) -> Result<(DmInfo, Vec<u8>)> {
        let mut size = INITIAL_BUFFER;
        loop {
            let mut buf = vec![0u8; size];
            encode_request(&mut buf, id, flags)?;
            sys::dm_ioctl(self.fd.as_fd(), cmd, &mut buf).map_err(|e| self.err(cmd, id, e))?;
            let info = decode_info(&buf)?;
            if info.flags & sys::DM_BUFFER_FULL_FLAG != 0 {
                if size >= MAX_BUFFER {
                    return Err(self.err(cmd, id, Errno::ENOBUFS));
                }
                size *= 4;
                continue;
            }
            return Ok((info, buf));
        }
    }

    fn err(&self, cmd: DmCmd, id: Option<&DmId<'_>>, e: Errno) -> Error {
        let target = match id {
            Some(i) => i.to_string(),
            None => self.path.display().to_string(),
        };
        let message = match e {
            Errno::ENXIO => "no such device-mapper device".to_owned(),
            Errno::EACCES | Errno::EPERM => format!("{} (needs CAP_SYS_ADMIN)", errno_text(e)),
            _ => errno_text(e),
        };
        Error::Dm {
            op: cmd.name(),
            target,
            errno: e as i32,
            message,
        }
    }

    /// The kernel's device-mapper interface version.
    pub fn version(&self) -> Result<[u32; 3]> {
        Ok(self.call(DmCmd::Version, None, 0)?.0.version)
    }

    /// Every device-mapper device.
    pub fn list_devices(&self) -> Result<Vec<DmDevice>> {
        let (info, buf) = self.call(DmCmd::ListDevices, None, sys::DM_UUID_FLAG)?;
        parse_name_list(payload(&buf, &info))
    }

    /// A device's header: name, uuid, device number, open count, suspended or not.
    pub fn dev_status(&self, id: &DmId<'_>) -> Result<DmInfo> {
        Ok(self.call(DmCmd::DevStatus, Some(id), 0)?.0)
    }

    /// A device's targets with their status lines (`table == false`) or table lines.
    pub fn table_status(&self, id: &DmId<'_>, table: bool) -> Result<DmTableStatus> {
        let flags = if table { sys::DM_STATUS_TABLE_FLAG } else { 0 };
        let (info, buf) = self.call(DmCmd::TableStatus, Some(id), flags)?;
        let targets = parse_targets(payload(&buf, &info), info.target_count)?;
        Ok(DmTableStatus { info, targets })
    }

    /// Suspends a device; with `noflush`, IO queued in the target stays queued instead of
    /// being flushed (what multipath needs to keep `queue_if_no_path` IO).
    pub fn suspend(&self, id: &DmId<'_>, noflush: bool) -> Result<DmInfo> {
        let flags = sys::DM_SUSPEND_FLAG | if noflush { sys::DM_NOFLUSH_FLAG } else { 0 };
        Ok(self.call(DmCmd::DevSuspend, Some(id), flags)?.0)
    }

    /// Resumes a suspended device. Note: if an inactive table has been loaded, resuming
    /// makes it live (that is how device-mapper swaps tables).
    pub fn resume(&self, id: &DmId<'_>) -> Result<DmInfo> {
        Ok(self.call(DmCmd::DevSuspend, Some(id), 0)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_header() {
        let mut b = vec![0xaau8; 400];
        encode_request(
            &mut b,
            Some(&DmId::Name("mpatha")),
            sys::DM_STATUS_TABLE_FLAG,
        )
        .unwrap();
        assert_eq!(rd_u32(&b, 0), Some(4));
        assert_eq!(rd_u32(&b, 4), Some(0));
        assert_eq!(rd_u32(&b, 12), Some(400));
        assert_eq!(rd_u32(&b, 16), Some(312));
        assert_eq!(rd_u32(&b, 28), Some(1 << 4));
        assert_eq!(&b[48..55], b"mpatha\0");
        assert!(b[312..].iter().all(|&x| x == 0));
        encode_request(&mut b, Some(&DmId::Dev(DevT::new(253, 2))), 0).unwrap();
        assert_eq!(rd_u64(&b, 40), Some(0xfd02));
        assert_eq!(b[48], 0);
        assert!(encode_request(&mut b, Some(&DmId::Name(&"x".repeat(128))), 0).is_err());
        assert!(encode_request(&mut [0; 100], None, 0).is_err());
    }

    #[test]
    fn info_roundtrip() {
        let mut b = vec![0u8; 400];
        encode_request(&mut b, Some(&DmId::Uuid("mpath-3600140512345")), 0).unwrap();
        wr(&mut b, OFF_VERSION + 4, &48u32.to_ne_bytes());
        wr(&mut b, OFF_TARGET_COUNT, &1u32.to_ne_bytes());
        wr(&mut b, OFF_OPEN_COUNT, &3i32.to_ne_bytes());
        wr(
            &mut b,
            OFF_FLAGS,
            &(sys::DM_ACTIVE_PRESENT_FLAG | sys::DM_SUSPEND_FLAG).to_ne_bytes(),
        );
        wr(&mut b, OFF_DEV, &DevT::new(253, 0).to_raw().to_ne_bytes());
        wr(&mut b, OFF_NAME, b"mpatha\0");
        let i = decode_info(&b).unwrap();
        assert_eq!(i.version, [4, 48, 0]);
        assert_eq!(i.name, "mpatha");
        assert_eq!(i.uuid, "mpath-3600140512345");
        assert_eq!(i.dev, DevT::new(253, 0));
        assert_eq!((i.target_count, i.open_count), (1, 3));
        assert!(i.is_suspended() && i.has_live_table());
        assert_eq!(payload(&b, &i).len(), 400 - 312);
    }

    /// Lays out a name list the way the kernel does.
    fn name_list(entries: &[(&str, DevT, Option<&str>)], with_flags: bool) -> Vec<u8> {
        let mut p = Vec::new();
        let mut starts = Vec::new();
        for (name, dev, uuid) in entries {
            let at = p.len();
            starts.push(at);
            p.extend_from_slice(&dev.to_raw().to_ne_bytes());
            p.extend_from_slice(&0u32.to_ne_bytes());
            p.extend_from_slice(name.as_bytes());
            p.push(0);
            p.resize(align8(p.len()), 0);
            p.extend_from_slice(&7u32.to_ne_bytes()); // event_nr
            if with_flags {
                let f = if uuid.is_some() { 1u32 } else { 2 };
                p.extend_from_slice(&f.to_ne_bytes());
                if let Some(u) = uuid {
                    p.extend_from_slice(u.as_bytes());
                    p.push(0);
                }
            }
            p.resize(align8(p.len()), 0);
        }
        for w in 0..starts.len().saturating_sub(1) {
            let next = (starts[w + 1] - starts[w]) as u32;
            p[starts[w] + 8..starts[w] + 12].copy_from_slice(&next.to_ne_bytes());
        }
        p
    }

    #[test]
    fn name_list_parse() {
        let p = name_list(
            &[
                ("mpatha", DevT::new(253, 0), Some("mpath-36001405aaaa")),
                ("vg-root", DevT::new(253, 1), None),
                ("mpathb", DevT::new(253, 2), Some("mpath-36001405bbbb")),
            ],
            true,
        );
        let v = parse_name_list(&p).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(
            v[0],
            DmDevice {
                name: "mpatha".into(),
                dev: DevT::new(253, 0),
                uuid: Some("mpath-36001405aaaa".into())
            }
        );
        assert_eq!(v[1].uuid, None);
        assert_eq!(v[2].name, "mpathb");
        assert_eq!(v[2].uuid.as_deref(), Some("mpath-36001405bbbb"));
        // Old kernels: no flags, no uuid.
        let p = name_list(
            &[
                ("a", DevT::new(253, 0), None),
                ("bb", DevT::new(253, 5), None),
            ],
            false,
        );
        let v = parse_name_list(&p).unwrap();
        assert_eq!(
            v.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            ["a", "bb"]
        );
        // No devices.
        assert!(parse_name_list(&[0u8; 16]).unwrap().is_empty());
        assert!(parse_name_list(&[]).unwrap().is_empty());
        // A bad next offset is an error, not a loop.
        let mut p = name_list(
            &[
                ("a", DevT::new(253, 0), None),
                ("b", DevT::new(253, 1), None),
            ],
            true,
        );
        p[8..12].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(parse_name_list(&p).is_err());
    }

    fn targets(entries: &[(u64, u64, &str, &str)]) -> Vec<u8> {
        let mut p = Vec::new();
        let mut fixups = Vec::new();
        for (start, len, ty, params) in entries {
            let at = p.len();
            p.extend_from_slice(&start.to_ne_bytes());
            p.extend_from_slice(&len.to_ne_bytes());
            p.extend_from_slice(&0i32.to_ne_bytes());
            p.extend_from_slice(&0u32.to_ne_bytes());
            let mut t = [0u8; 16];
            t[..ty.len()].copy_from_slice(ty.as_bytes());
            p.extend_from_slice(&t);
            p.extend_from_slice(params.as_bytes());
            p.push(0);
            p.resize(align8(p.len()), 0);
            fixups.push((at, p.len()));
        }
        for (at, next) in fixups {
            p[at + 20..at + 24].copy_from_slice(&(next as u32).to_ne_bytes());
        }
        p
    }

    #[test]
    fn targets_parse() {
        let p = targets(&[
            (
                0,
                2097152,
                "multipath",
                "2 0 0 0 1 1 A 0 2 0 8:0 A 0 8:16 A 0 ",
            ),
            (2097152, 8, "linear", "8:32 0"),
        ]);
        let t = parse_targets(&p, 2).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].target_type, "multipath");
        assert_eq!(t[0].length, 2097152);
        assert!(t[0].params.starts_with("2 0 0 0 1 1 A"));
        assert_eq!(
            t[1],
            DmTarget {
                start: 2097152,
                length: 8,
                target_type: "linear".into(),
                params: "8:32 0".into()
            }
        );
        assert!(parse_targets(&p[..30], 1).is_err());
        assert!(parse_targets(&[], 0).unwrap().is_empty());
    }
}
