//! What libvirt gives a hook, read as libvirt's lockd driver reads it: the disks of a
//! domain XML that lockd would lock ([`Domain::parse`]), and the lockspace directories of
//! a `qemu-lockd.conf` ([`lockd_conf`]). For `prsdk libvirt-hook` (pr-cli), which holds
//! these disks' locks from the qemu hook's `prepare begin` to its `release end`.
//!
//! Which disks, as libvirt's `domain_lock.c` and `lock_driver_lockd.c` choose them (facts
//! from libvirt's source; see the crate README):
//!
//! - `<disk type='file'>` (`<source file=…>`), `<disk type='block'>` (`<source dev=…>`)
//!   and `<disk type='dir'>` (`<source dir=…>`) are locked, under the path **exactly as
//!   written** (it names the lock file: no canonicalisation);
//! - `<shareable/>` makes the lock shared;
//! - `<readonly/>` disks are not locked (lockd skips read-only resources), and neither
//!   are CD-ROMs, which libvirt always treats as read-only;
//! - a disk without a source (an empty CD-ROM or floppy drive) is not locked;
//! - `type='network'` (RBD, iSCSI by libiscsi, NBD, ...), `nvme`, `vhostuser` and
//!   `vhostvdpa` disks are not locked: lockd locks only local files and block devices,
//!   and none of these is a path on this host;
//! - `type='volume'` disks are locked by lockd under the path the storage pool resolves,
//!   which the XML does not carry and a hook cannot ask libvirt for (a hook must not call
//!   back into libvirt): they are listed as [`Skipped`] with
//!   [`Skipped::lockd_would_lock`] set, so that the caller can refuse rather than leave
//!   the disk unprotected;
//! - only the top image is locked, not its `<backingStore>` chain (read-only to QEMU).

use std::path::PathBuf;

use crate::Mode;
use crate::error::{Error, Result};
use crate::names::LockspaceConfig;

/// A disk of a domain that lockd would lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    /// The guest's name for it (`<target dev=…>`, e.g. `vda`), or `disk N` (from 1) when
    /// the XML has no target.
    pub target: String,
    /// The source path, exactly as the XML writes it.
    pub path: String,
    /// `file`, `block` or `dir`.
    pub kind: &'static str,
    /// Shared for `<shareable/>`, else exclusive.
    pub mode: Mode,
}

/// A disk of a domain that is not locked, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The guest's name for it, as [`Disk::target`].
    pub target: String,
    /// Why it is not locked.
    pub reason: String,
    /// Whether libvirt's lockd would lock it (a `type='volume'` disk, whose path only
    /// libvirt can resolve): a hook that takes lockd's place should refuse the domain
    /// rather than leave the disk unprotected.
    pub lockd_would_lock: bool,
}

/// A domain XML, read for its disks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domain {
    /// `<name>`.
    pub name: String,
    /// The disks to lock, in the XML's order.
    pub disks: Vec<Disk>,
    /// The disks that are not locked, in the XML's order.
    pub skipped: Vec<Skipped>,
}

fn bad(reason: impl Into<String>) -> Error {
    Error::DomainXml {
        reason: reason.into(),
    }
}

impl Domain {
    /// Reads a domain XML (what libvirt writes on a hook's standard input). Errors
    /// ([`Error::DomainXml`]): not well-formed XML, a root element other than `<domain>`,
    /// no `<name>` or an empty one, a name with `/` (libvirt refuses those too), a disk
    /// to lock whose source path is not absolute or holds a newline or NUL.
    pub fn parse(xml: &str) -> Result<Domain> {
        let doc = roxmltree::Document::parse(xml).map_err(|e| bad(format!("not XML: {e}")))?;
        let root = doc.root_element();
        if root.tag_name().name() != "domain" {
            return Err(bad(format!(
                "the root element is <{}>, not <domain>",
                root.tag_name().name()
            )));
        }
        let name = root
            .children()
            .find(|n| n.has_tag_name("name"))
            .and_then(|n| n.text())
            .map(str::trim)
            .unwrap_or("");
        if name.is_empty() {
            return Err(bad("the domain has no <name>"));
        }
        if name.contains('/') || name.contains('\0') {
            return Err(bad(format!("domain name {name:?} contains '/' or NUL")));
        }
        let mut domain = Domain {
            name: name.to_owned(),
            disks: Vec::new(),
            skipped: Vec::new(),
        };
        let disks = root
            .children()
            .filter(|n| n.has_tag_name("devices"))
            .flat_map(|d| d.children())
            .filter(|n| n.has_tag_name("disk"));
        for (i, disk) in disks.enumerate() {
            let child = |tag: &str| disk.children().find(|n| n.has_tag_name(tag));
            let target = child("target")
                .and_then(|t| t.attribute("dev"))
                .map_or_else(|| format!("disk {}", i + 1), str::to_owned);
            // libvirt's default disk type is 'file', its default device 'disk'.
            let ty = disk.attribute("type").unwrap_or("file");
            let device = disk.attribute("device").unwrap_or("disk");
            let skip = |reason: String, lockd_would_lock: bool| Skipped {
                target: target.clone(),
                reason,
                lockd_would_lock,
            };
            let (kind, attr) = match ty {
                "file" => ("file", "file"),
                "block" => ("block", "dev"),
                "dir" => ("dir", "dir"),
                "volume" => {
                    let source = child("source");
                    let pool = source.and_then(|s| s.attribute("pool")).unwrap_or("?");
                    let volume = source.and_then(|s| s.attribute("volume")).unwrap_or("?");
                    domain.skipped.push(skip(
                        format!(
                            "type='volume' (pool {pool:?}, volume {volume:?}): its path is \
                             resolved by libvirt's storage pool, which a hook cannot ask; \
                             name the file or device (type='file' or 'block') instead"
                        ),
                        true,
                    ));
                    continue;
                }
                other => {
                    domain.skipped.push(skip(
                        format!(
                            "type='{other}': not a local file or block device (libvirt's \
                             lockd does not lock it either)"
                        ),
                        false,
                    ));
                    continue;
                }
            };
            if device == "cdrom" {
                domain.skipped.push(skip(
                    "a CD-ROM: read-only (libvirt's lockd does not lock read-only disks)".into(),
                    false,
                ));
                continue;
            }
            if child("readonly").is_some() {
                domain.skipped.push(skip(
                    "<readonly/>: libvirt's lockd does not lock read-only disks".into(),
                    false,
                ));
                continue;
            }
            let path = child("source")
                .and_then(|s| s.attribute(attr))
                .unwrap_or("");
            if path.is_empty() {
                domain.skipped.push(skip(
                    format!("no <source {attr}=…> (an empty drive): nothing to lock"),
                    false,
                ));
                continue;
            }
            if !path.starts_with('/') || path.contains('\n') || path.contains('\0') {
                return Err(bad(format!(
                    "disk {target}: source {path:?} is not an absolute path on one line"
                )));
            }
            let mode = if child("shareable").is_some() {
                Mode::Shared
            } else {
                Mode::Exclusive
            };
            domain.disks.push(Disk {
                target,
                path: path.to_owned(),
                kind,
                mode,
            });
        }
        Ok(domain)
    }
}

/// The settings of a libvirt-style configuration file (`qemu-lockd.conf`,
/// `libvirt-hook.conf`): `name = "string"` or `name = integer`, one a line, `#` comments,
/// blank lines. Lists (`[…]`) are not supported. Errors name the line.
pub fn conf_settings(text: &str) -> std::result::Result<Vec<(String, ConfValue)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let n = n + 1;
        let Some((name, value)) = line.split_once('=') else {
            return Err(format!("line {n}: not 'name = value'"));
        };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("line {n}: bad setting name {name:?}"));
        }
        let value = value.trim();
        let value = if let Some(rest) = value.strip_prefix('"') {
            let Some(end) = rest.find('"') else {
                return Err(format!("line {n}: {name}: unterminated string"));
            };
            let after = rest[end + 1..].trim();
            if !(after.is_empty() || after.starts_with('#')) {
                return Err(format!("line {n}: {name}: text after the string"));
            }
            ConfValue::Str(rest[..end].to_owned())
        } else {
            let number = value.split('#').next().unwrap_or("").trim();
            match number.parse::<i64>() {
                Ok(v) => ConfValue::Int(v),
                Err(_) => {
                    return Err(format!(
                        "line {n}: {name}: value {number:?} is neither a \"string\" nor an integer"
                    ));
                }
            }
        };
        out.push((name.to_owned(), value));
    }
    Ok(out)
}

/// A value of [`conf_settings`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfValue {
    /// `"text"`.
    Str(String),
    /// `123`.
    Int(i64),
}

/// The lockspace directories of a `qemu-lockd.conf` (`file_lockspace_dir`,
/// `lvm_lockspace_dir`, `scsi_lockspace_dir`; the other settings are ignored). An absent
/// or empty setting is `None`, as for libvirt (then lockd takes a direct lease on the
/// disk itself).
pub fn lockd_conf(text: &str) -> std::result::Result<LockspaceConfig, String> {
    let mut config = LockspaceConfig::default();
    for (name, value) in conf_settings(text)? {
        let slot = match name.as_str() {
            "file_lockspace_dir" => &mut config.file_dir,
            "lvm_lockspace_dir" => &mut config.lvm_dir,
            "scsi_lockspace_dir" => &mut config.scsi_dir,
            _ => continue,
        };
        match value {
            ConfValue::Str(s) if s.is_empty() => *slot = None,
            ConfValue::Str(s) => *slot = Some(PathBuf::from(s)),
            ConfValue::Int(_) => return Err(format!("{name}: a directory must be a \"string\"")),
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A domain as `virsh dumpxml` writes one (trimmed), with one disk of each kind.
    const XML: &str = r#"<domain type='kvm' id='3'>
  <name>web1</name>
  <uuid>6f2c1d0e-5b1a-4c1e-9d52-0a6f3f3b2a11</uuid>
  <memory unit='KiB'>1048576</memory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/web1.qcow2'/>
      <backingStore type='file'>
        <format type='qcow2'/>
        <source file='/var/lib/libvirt/images/base.qcow2'/>
      </backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='block' device='lun' sgio='unfiltered'>
      <driver name='qemu' type='raw' cache='none'/>
      <source dev='/dev/mapper/mpatha'>
        <reservations managed='yes'/>
      </source>
      <target dev='sda' bus='scsi'/>
    </disk>
    <disk type='block' device='disk'>
      <driver name='qemu' type='raw'/>
      <source dev='/dev/mapper/mpathb'/>
      <target dev='vdb' bus='virtio'/>
      <shareable/>
    </disk>
    <disk type='file' device='disk'>
      <source file='/srv/iso/seed.img'/>
      <target dev='vdc' bus='virtio'/>
      <readonly/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file='/srv/iso/debian-12.iso'/>
      <target dev='sdb' bus='sata'/>
    </disk>
    <disk type='file' device='floppy'>
      <target dev='fda' bus='fdc'/>
    </disk>
    <disk type='network' device='disk'>
      <source protocol='rbd' name='pool/img'><host name='mon1' port='6789'/></source>
      <target dev='vdd' bus='virtio'/>
    </disk>
    <disk type='volume' device='disk'>
      <source pool='default' volume='data.qcow2'/>
      <target dev='vde' bus='virtio'/>
    </disk>
    <interface type='network'><source network='default'/></interface>
  </devices>
</domain>
"#;

    #[test]
    fn disks_as_lockd_chooses_them() {
        let d = Domain::parse(XML).unwrap();
        assert_eq!(d.name, "web1");
        let got: Vec<(&str, &str, &str, Mode)> = d
            .disks
            .iter()
            .map(|x| (x.target.as_str(), x.path.as_str(), x.kind, x.mode))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "vda",
                    "/var/lib/libvirt/images/web1.qcow2",
                    "file",
                    Mode::Exclusive
                ),
                ("sda", "/dev/mapper/mpatha", "block", Mode::Exclusive),
                ("vdb", "/dev/mapper/mpathb", "block", Mode::Shared),
            ]
        );
        let skipped: Vec<(&str, bool)> = d
            .skipped
            .iter()
            .map(|s| (s.target.as_str(), s.lockd_would_lock))
            .collect();
        assert_eq!(
            skipped,
            [
                ("vdc", false),
                ("sdb", false),
                ("fda", false),
                ("vdd", false),
                ("vde", true)
            ]
        );
        assert!(d.skipped[0].reason.contains("read-only"));
        assert!(d.skipped[1].reason.contains("CD-ROM"));
        assert!(d.skipped[2].reason.contains("empty drive"));
        assert!(d.skipped[3].reason.contains("type='network'"));
        assert!(d.skipped[4].reason.contains("pool \"default\""));
    }

    #[test]
    fn paths_exactly_as_written_defaults_and_no_target() {
        let xml = "<domain><name> vm2 </name><devices>\
            <disk><source file='/a//b/../c.img'/></disk>\
            <disk type='dir'><source dir='/srv/fat'/><target dev='hdb'/></disk>\
            </devices></domain>";
        let d = Domain::parse(xml).unwrap();
        assert_eq!(d.name, "vm2");
        assert_eq!(d.disks[0].path, "/a//b/../c.img");
        assert_eq!(d.disks[0].target, "disk 1");
        assert_eq!(d.disks[0].kind, "file");
        assert_eq!(
            (d.disks[1].kind, d.disks[1].path.as_str()),
            ("dir", "/srv/fat")
        );
        let none = Domain::parse("<domain><name>x</name></domain>").unwrap();
        assert!(none.disks.is_empty() && none.skipped.is_empty());
    }

    #[test]
    fn malformed_domains_are_clear_errors() {
        let cases = [
            ("", "not XML"),
            ("<domain><name>x</name>", "not XML"),
            ("<network><name>x</name></network>", "not <domain>"),
            ("<domain><uuid>1</uuid></domain>", "no <name>"),
            ("<domain><name>  </name></domain>", "no <name>"),
            ("<domain><name>a/b</name></domain>", "contains '/'"),
            (
                "<domain><name>x</name><devices><disk type='file'><source file='rel.img'/>\
                 <target dev='vda'/></disk></devices></domain>",
                "disk vda: source \"rel.img\" is not an absolute path",
            ),
        ];
        for (xml, want) in cases {
            let e = Domain::parse(xml).unwrap_err().to_string();
            assert!(e.contains(want), "{xml:?}: {e}");
            assert!(e.starts_with("domain XML: "), "{e}");
        }
    }

    #[test]
    fn lockd_conf_dirs() {
        let text = "# qemu-lockd.conf\nauto_disk_leases = 1\n\
            file_lockspace_dir = \"/var/lib/libvirt/lockd/files\"  # images\n\
            scsi_lockspace_dir = \"/var/lib/libvirt/lockd/scsi\"\n\
            lvm_lockspace_dir = \"\"\n";
        let c = lockd_conf(text).unwrap();
        assert_eq!(c.file_dir, Some("/var/lib/libvirt/lockd/files".into()));
        assert_eq!(c.scsi_dir, Some("/var/lib/libvirt/lockd/scsi".into()));
        assert_eq!(c.lvm_dir, None);
        assert_eq!(lockd_conf("").unwrap(), LockspaceConfig::default());
        for (bad, want) in [
            (
                "file_lockspace_dir = /x",
                "line 1: file_lockspace_dir: value",
            ),
            ("file_lockspace_dir = \"/x", "unterminated"),
            ("file_lockspace_dir = 3", "must be a \"string\""),
            ("just words", "line 1: not 'name = value'"),
            ("\n\nbad name = 1", "line 3: bad setting name"),
        ] {
            let e = lockd_conf(bad).unwrap_err();
            assert!(e.contains(want), "{bad:?}: {e}");
        }
    }
}
