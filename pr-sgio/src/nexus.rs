//! The I_T nexus of a SCSI device, learned from sysfs: the initiator port's TransportID
//! (as the device server names it in READ FULL STATUS) and the target port's RELATIVE
//! TARGET PORT IDENTIFIER, so that a caller can tell which registration of a READ FULL
//! STATUS reply belongs to which path.
//!
//! The relative target port comes from the device's VPD page 83h as the kernel cached it
//! (`device/vpd_pg83`, read at scan time): the designator of type 4h (relative target
//! port) with association 1 (target port).
//!
//! The initiator port, per transport (the SCSI device's position in the sysfs device tree
//! tells which):
//!
//! | transport | where | TransportID |
//! | --- | --- | --- |
//! | iSCSI (a `sessionN` ancestor) | `class/iscsi_session/sessionN/initiatorname` and `isid` | iSCSI format 01b, `NAME,i,0xISID` |
//! | Fibre Channel (the host has `class/fc_host/hostH`) | `class/fc_host/hostH/port_name` | FC, N_Port name |
//! | SAS (`class/sas_host/hostH`) | the host's `port-H:N` on the device's path: its first `phy-H:P`'s `class/sas_phy/phy-H:P/sas_address` | SAS address |
//! | LIO's tcm_loop (`class/scsi_host/hostH/proc_name` is `tcm_loopback`) | the configfs target group (`kernel/config/target/loopback/WWN/tpgt_T`) whose `address` is `H:0:T`: its `nexus` | SAS (target WWN `naa.`): the `naa.` name's 16 hex digits |
//!
//! tcm_loop's initiator port exists only in the target's configuration: the loopback
//! SCSI host the kernel makes for it shows no port name, so the name is read from the
//! target subsystem's configfs, mounted at `/sys/kernel/config` (the target runs in the
//! same kernel, so it is always there when tcm_loop is).
//!
//! What stays unknown ([`NexusError`] says why): dm maps (no single nexus), other hosts'
//! transports (USB, ATA, virtio-scsi, parallel SCSI, SRP, ...), a tcm_loop target whose
//! WWN is not `naa.` (LIO then names the initiator in an FC or iSCSI TransportID this
//! module does not build), an iSCSI session whose kernel does not show the ISID, and a
//! device whose VPD page 83h has no relative target port designator.

use std::path::{Path, PathBuf};

use pr_core::transport_id::TransportId;

use crate::discover::{Designator, designator_type, parse_vpd83};
use crate::sysfs::{self, Hctl, Sysfs};

/// One I_T nexus, as the device server names it in READ FULL STATUS.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ItNexus {
    /// The initiator port's TransportID.
    pub initiator: TransportId<'static>,
    /// The target port's RELATIVE TARGET PORT IDENTIFIER.
    pub relative_target_port: u16,
}

/// Why a device's I_T nexus could not be learned. `Display` says what was missing, where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{device}: I_T nexus unknown: {reason}")]
pub struct NexusError {
    /// The device's kernel name (`sdb`, `sg2`, `dm-0`).
    pub device: String,
    /// What was missing.
    pub reason: String,
}

/// The configfs directory of LIO's loopback (tcm_loop) targets, under the sysfs root.
const TCM_LOOP_CONFIGFS: &str = "kernel/config/target/loopback";

/// The `proc_name` of a tcm_loop SCSI host.
const TCM_LOOP_PROC_NAME: &str = "tcm_loopback";

/// The I_T nexus of the SCSI device whose sysfs directory `scsi_device` is (a disk's or
/// sg node's `device` link, e.g. `/sys/block/sdb/device`), named `name` in errors.
pub fn it_nexus_of(sys: &Sysfs, name: &str, scsi_device: &Path) -> Result<ItNexus, NexusError> {
    let err = |reason: String| NexusError {
        device: name.to_owned(),
        reason,
    };
    let hctl = sysfs::hctl_of(scsi_device)
        .ok_or_else(|| err(format!("{} shows no SCSI address", scsi_device.display())))?;
    let real = std::fs::canonicalize(scsi_device)
        .map_err(|e| err(format!("{}: {e}", scsi_device.display())))?;
    let initiator = initiator_port(sys, hctl, &real).map_err(err)?;
    let page = std::fs::read(scsi_device.join("vpd_pg83")).map_err(|e| {
        err(format!(
            "{}: {e} (the kernel did not keep VPD page 83h)",
            scsi_device.join("vpd_pg83").display()
        ))
    })?;
    let designators = parse_vpd83(&page).map_err(|e| err(e.to_string()))?;
    let relative_target_port = relative_target_port(&designators)
        .ok_or_else(|| err("VPD page 83h has no relative target port designator".to_owned()))?;
    Ok(ItNexus {
        initiator,
        relative_target_port,
    })
}

/// The I_T nexus of a SCSI disk (`sdb`) or sg node (`sg2`) by kernel name.
pub fn it_nexus(sys: &Sysfs, name: &str) -> Result<ItNexus, NexusError> {
    let dir = if name.starts_with("sg") {
        sys.scsi_generic(name)
    } else {
        sys.block(name)
    };
    it_nexus_of(sys, name, &dir.join("device"))
}

/// The RELATIVE TARGET PORT IDENTIFIER among VPD page 83h's designators: type 4h,
/// association 1 (target port), 4 bytes of which the last two are the identifier.
pub fn relative_target_port(designators: &[Designator]) -> Option<u16> {
    designators
        .iter()
        .find(|d| d.association == 1 && d.designator_type == designator_type::RELATIVE_TARGET_PORT)
        .and_then(|d| match d.designator.as_slice() {
            [_, _, hi, lo] => Some(u16::from_be_bytes([*hi, *lo])),
            _ => None,
        })
}

/// The initiator port of the SCSI device at (canonical) `real`, on SCSI host `hctl.host`.
fn initiator_port(sys: &Sysfs, hctl: Hctl, real: &Path) -> Result<TransportId<'static>, String> {
    let host = hctl.host;
    let components: Vec<String> = real
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(session) = components.iter().find(|c| is_numbered(c, "session")) {
        return iscsi_initiator(sys, session);
    }
    let fc_host = sys.root().join("class/fc_host").join(format!("host{host}"));
    if fc_host.exists() {
        return fc_initiator(&fc_host);
    }
    let sas_host = sys
        .root()
        .join("class/sas_host")
        .join(format!("host{host}"));
    if sas_host.exists() {
        return sas_initiator(sys, host, real);
    }
    let proc_name = sysfs::read_attr(
        &sys.root()
            .join("class/scsi_host")
            .join(format!("host{host}"))
            .join("proc_name"),
    );
    match proc_name.as_deref() {
        Some(TCM_LOOP_PROC_NAME) => tcm_loop_initiator(sys, host, hctl.target),
        Some(p) => Err(format!(
            "SCSI host {host} ({p}) is neither iSCSI, Fibre Channel, SAS nor tcm_loop"
        )),
        None => Err(format!(
            "SCSI host {host} is neither iSCSI, Fibre Channel, SAS nor tcm_loop"
        )),
    }
}

/// Whether `c` is `prefix` followed by a decimal number (`session3`).
fn is_numbered(c: &str, prefix: &str) -> bool {
    c.strip_prefix(prefix)
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn read_in(dir: &Path, attr: &str) -> Result<String, String> {
    let p = dir.join(attr);
    match sysfs::read_attr(&p) {
        Some(v) if !v.is_empty() && v != "(null)" => Ok(v),
        Some(_) => Err(format!("{} is empty", p.display())),
        None => Err(format!("{} cannot be read", p.display())),
    }
}

/// iSCSI: the session's initiator name and, when the kernel shows it, its ISID (format
/// 01b, as LIO reports a session's initiator port); without the ISID (`isid: None`) the
/// initiator is named by its name only, and [`ItNexus::matches`] takes any ISID.
fn iscsi_initiator(sys: &Sysfs, session: &str) -> Result<TransportId<'static>, String> {
    let dir = sys.root().join("class/iscsi_session").join(session);
    let name = read_in(&dir, "initiatorname")?;
    let isid = match sysfs::read_attr(&dir.join("isid")) {
        None => None,
        Some(v) => Some(parse_isid(&v).ok_or_else(|| {
            format!(
                "{}: {v:?} is not an ISID (12 hex digits)",
                dir.join("isid").display()
            )
        })?),
    };
    Ok(TransportId::Iscsi {
        name: name.into(),
        isid: isid.map(Into::into),
    })
}

/// An ISID as sysfs shows it (12 hex digits, perhaps with `0x`), as 12 lower-case digits.
pub fn parse_isid(text: &str) -> Option<String> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    (t.len() == 12 && t.bytes().all(|b| b.is_ascii_hexdigit())).then(|| t.to_ascii_lowercase())
}

/// A 64-bit name as sysfs shows it (`0x5001405a1000001`), or `naa.` and 16 hex digits.
pub fn parse_wwn(text: &str) -> Option<u64> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("naa."))
        .unwrap_or(t);
    if t.is_empty() || t.len() > 16 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(t, 16).ok()
}

/// Fibre Channel: the host's N_Port name.
fn fc_initiator(fc_host: &Path) -> Result<TransportId<'static>, String> {
    let v = read_in(fc_host, "port_name")?;
    let n_port_name = parse_wwn(&v).ok_or_else(|| {
        format!(
            "{}: {v:?} is not a port name",
            fc_host.join("port_name").display()
        )
    })?;
    Ok(TransportId::FibreChannel { n_port_name })
}

/// SAS: the host's `port-H:N` the device is reached through (the one right under
/// `hostH` on its sysfs path, not an expander's), and the SAS address of that port's first phy (every phy of the host's wide port
/// has the initiator port's address).
fn sas_initiator(sys: &Sysfs, host: u32, real: &Path) -> Result<TransportId<'static>, String> {
    let prefix = format!("port-{host}:");
    let port_dir = real
        .ancestors()
        .find(|a| {
            let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
            name(a).is_some_and(|n| n.starts_with(&prefix))
                && a.parent().and_then(name) == Some(format!("host{host}"))
        })
        .ok_or_else(|| format!("SAS host {host}: the device is under no port-{host}:N"))?;
    let phy = sysfs::list_dir(port_dir)
        .into_iter()
        .find(|n| n.starts_with("phy-"))
        .ok_or_else(|| format!("{}: no phy-* (the port has no phy)", port_dir.display()))?;
    let phy_dir = sys.root().join("class/sas_phy").join(&phy);
    let v = read_in(&phy_dir, "sas_address")?;
    let address = parse_wwn(&v).ok_or_else(|| {
        format!(
            "{}: {v:?} is not a SAS address",
            phy_dir.join("sas_address").display()
        )
    })?;
    Ok(TransportId::Sas { address })
}

/// tcm_loop: the configfs target group whose `address` is `H:0:T` (host, target group tag
/// = SCSI target) for this device, and the
/// initiator port name in its `nexus`.
fn tcm_loop_initiator(sys: &Sysfs, host: u32, target: u32) -> Result<TransportId<'static>, String> {
    let base = sys.root().join(TCM_LOOP_CONFIGFS);
    let wwns = sysfs::list_dir(&base);
    if wwns.is_empty() {
        return Err(format!(
            "SCSI host {host} is tcm_loop's, but {} lists no target (configfs not mounted?)",
            base.display()
        ));
    }
    for wwn in &wwns {
        let wwn_dir = base.join(wwn);
        for tpg in sysfs::list_dir(&wwn_dir)
            .into_iter()
            .filter(|t| t.starts_with("tpgt_"))
        {
            let tpg_dir: PathBuf = wwn_dir.join(&tpg);
            let Some(address) = sysfs::read_attr(&tpg_dir.join("address")) else {
                continue;
            };
            let parts: Vec<Option<u32>> = address.split(':').map(|x| x.parse().ok()).collect();
            if parts.first() != Some(&Some(host)) || parts.get(2) != Some(&Some(target)) {
                continue;
            }
            let nexus = read_in(&tpg_dir, "nexus")?;
            if !wwn.starts_with("naa.") {
                return Err(format!(
                    "tcm_loop target {wwn} is not naa.: LIO names its initiator {nexus} in a \
                     TransportID of another protocol, which is not built here"
                ));
            }
            let address = parse_wwn(&nexus)
                .filter(|_| nexus.starts_with("naa."))
                .ok_or_else(|| {
                    format!(
                        "{}: {nexus:?} is not a naa. name",
                        tpg_dir.join("nexus").display()
                    )
                })?;
            return Ok(TransportId::Sas { address });
        }
    }
    Err(format!(
        "SCSI host {host} is tcm_loop's, but no target group under {} has address \
         {host}:0:{target}",
        base.display()
    ))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    /// VPD page 83h of LIO over iSCSI (6.1 lab, `sdb`): relative target port 1.
    const VPD83_ISCSI: &str = "00 83 00 ac 01 03 00 10 60 01 40 5a b0 00 00 00 00 00 00 00 00 \
        00 00 00 02 01 00 1c 4c 49 4f 2d 4f 52 47 20 46 49 4c 45 49 4f 3a 6c 61 62 70 72 2d 6c \
        75 6e 30 30 30 00 51 94 00 04 00 00 00 01 51 95 00 04 00 00 00 00 01 06 00 04 00 00 00 \
        00 53 98 00 30 69 71 6e 2e 32 30 30 33 2d 30 31 2e 6f 72 67 2e 6c 69 6e 75 78 2d 69 73 \
        63 73 69 2e 6c 61 62 70 72 3a 74 67 74 2c 74 2c 30 78 30 30 30 31 00 00 53 a8 00 28 69 \
        71 6e 2e 32 30 30 33 2d 30 31 2e 6f 72 67 2e 6c 69 6e 75 78 2d 69 73 63 73 69 2e 6c 61 \
        62 70 72 3a 74 67 74 00 00 00";

    /// VPD page 83h of LIO over tcm_loop (6.1 lab, `sdb`): relative target port 2.
    const VPD83_LOOP: &str = "00 83 00 8c 01 03 00 10 60 01 40 5a b0 00 00 00 00 00 00 00 00 \
        00 00 00 02 01 00 1c 4c 49 4f 2d 4f 52 47 20 46 49 4c 45 49 4f 3a 6c 61 62 70 72 2d 6c \
        75 6e 30 30 30 00 61 94 00 04 00 00 00 02 61 95 00 04 00 00 00 00 01 06 00 04 00 00 00 \
        00 63 98 00 20 6e 61 61 2e 35 30 30 31 34 30 35 31 30 30 30 30 30 30 30 30 2c 74 2c 30 \
        78 30 30 30 31 00 00 00 63 a8 00 18 6e 61 61 2e 35 30 30 31 34 30 35 31 30 30 30 30 30 \
        30 30 30 00 00 00 00";

    fn bytes(hex: &str) -> Vec<u8> {
        hex.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    /// A recorded sysfs tree: `files` (path, content) and `links` (path, target).
    fn tree(files: &[(&str, &[u8])], links: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (p, content) in files {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        for (p, target) in links {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            symlink(target, p).unwrap();
        }
        dir
    }

    const ISCSI_DEV: &str = "devices/platform/host1/session2/target1:0:0/1:0:0:0";

    fn iscsi_tree(isid: Option<&str>) -> tempfile::TempDir {
        let vpd = bytes(VPD83_ISCSI);
        let vpd_path = format!("{ISCSI_DEV}/vpd_pg83");
        let mut files: Vec<(&str, &[u8])> = vec![
            (&vpd_path, &vpd),
            (
                "class/iscsi_session/session2/initiatorname",
                b"iqn.2003-01.org.linux-iscsi.labpr:node1.p0\n",
            ),
            ("class/scsi_host/host1/proc_name", b"iscsi_tcp\n"),
        ];
        if let Some(i) = isid {
            files.push(("class/iscsi_session/session2/isid", i.as_bytes()));
        }
        tree(
            &files,
            &[
                ("block/sdb/device", &format!("../../{ISCSI_DEV}")),
                (
                    "class/scsi_generic/sg1/device",
                    &format!("../../../{ISCSI_DEV}"),
                ),
            ],
        )
    }

    #[test]
    fn iscsi_without_the_isid_in_sysfs_is_named_by_its_initiator_name() {
        // Linux 6.1's iscsi_tcp sessions show no `isid` attribute.
        let t = iscsi_tree(None);
        let sys = Sysfs::at(t.path());
        let n = it_nexus(&sys, "sdb").unwrap();
        assert_eq!(
            n,
            ItNexus {
                initiator: TransportId::Iscsi {
                    name: "iqn.2003-01.org.linux-iscsi.labpr:node1.p0".into(),
                    isid: None,
                },
                relative_target_port: 1,
            }
        );
        assert_eq!(it_nexus(&sys, "sg1").unwrap(), n);
    }

    #[test]
    fn iscsi_with_the_isid_gives_the_port_transport_id() {
        let t = iscsi_tree(Some("0x00023D000002\n"));
        let n = it_nexus(&Sysfs::at(t.path()), "sdb").unwrap();
        assert_eq!(
            n.initiator.to_string(),
            "iqn.2003-01.org.linux-iscsi.labpr:node1.p0,i,0x00023d000002"
        );
        let t = iscsi_tree(Some("23d000002"));
        let e = it_nexus(&Sysfs::at(t.path()), "sdb").unwrap_err();
        assert!(e.to_string().contains("is not an ISID"), "{e}");
        assert!(e.to_string().starts_with("sdb: I_T nexus unknown: "), "{e}");
    }

    const LOOP_DEV: &str = "devices/tcm_loop_0/tcm_loop_adapter_1/host1/target1:0:1/1:0:1:0";
    const LOOP_CFG: &str = "kernel/config/target/loopback";

    fn loop_tree(wwn: &str, nexus: &str) -> tempfile::TempDir {
        let vpd = bytes(VPD83_LOOP);
        let vpd_path = format!("{LOOP_DEV}/vpd_pg83");
        let a0 = format!("{LOOP_CFG}/naa.5001405200000000/tpgt_1/address");
        let n0 = format!("{LOOP_CFG}/naa.5001405200000000/tpgt_1/nexus");
        let a1 = format!("{LOOP_CFG}/{wwn}/tpgt_1/address");
        let n1 = format!("{LOOP_CFG}/{wwn}/tpgt_1/nexus");
        let nexus = format!("{nexus}\n");
        tree(
            &[
                (&vpd_path, &vpd),
                ("class/scsi_host/host1/proc_name", b"tcm_loopback\n"),
                (&a0, b"0:0:1\n"),
                (&n0, b"naa.500140a200000000\n"),
                (&a1, b"1:0:1\n"),
                (&n1, nexus.as_bytes()),
            ],
            &[("block/sdb/device", &format!("../../{LOOP_DEV}"))],
        )
    }

    #[test]
    fn tcm_loop_gives_the_sas_address_of_its_nexus() {
        let t = loop_tree("naa.5001405100000000", "naa.500140a100000000");
        let n = it_nexus(&Sysfs::at(t.path()), "sdb").unwrap();
        assert_eq!(
            n,
            ItNexus {
                initiator: TransportId::Sas {
                    address: 0x5001_40a1_0000_0000
                },
                relative_target_port: 2,
            }
        );
    }

    #[test]
    fn tcm_loop_other_than_naa_and_a_missing_group_say_why() {
        let t = loop_tree("iqn.2003-01.org.example:tgt", "iqn.2003-01.org.example:ini");
        let e = it_nexus(&Sysfs::at(t.path()), "sdb").unwrap_err();
        assert!(e.reason.contains("is not naa."), "{e}");
        let t = loop_tree("naa.5001405100000000", "naa.500140a100000000");
        std::fs::write(
            t.path()
                .join(LOOP_CFG)
                .join("naa.5001405100000000/tpgt_1/address"),
            "1:0:2\n",
        )
        .unwrap();
        let e = it_nexus(&Sysfs::at(t.path()), "sdb").unwrap_err();
        assert!(e.reason.contains("has address 1:0:1"), "{e}");
        std::fs::remove_dir_all(t.path().join(LOOP_CFG)).unwrap();
        let e = it_nexus(&Sysfs::at(t.path()), "sdb").unwrap_err();
        assert!(e.reason.contains("configfs not mounted"), "{e}");
    }

    /// A VPD page 83h with an NAA designator and, when `rtp` is given, a relative target
    /// port designator.
    fn vpd83(rtp: Option<u16>) -> Vec<u8> {
        let mut body = vec![0x01, 0x03, 0x00, 0x08, 0x50, 1, 2, 3, 4, 5, 6, 7];
        if let Some(r) = rtp {
            let [hi, lo] = r.to_be_bytes();
            body.extend([0x61, 0x94, 0x00, 0x04, 0, 0, hi, lo]);
        }
        let len = u8::try_from(body.len()).unwrap();
        let mut page = vec![0x00, 0x83, 0x00, len];
        page.extend(body);
        page
    }

    #[test]
    fn fibre_channel_gives_the_hosts_port_name() {
        let dev = "devices/pci0000:00/0000:00:03.0/host5/rport-5:0-0/target5:0:0/5:0:0:3";
        let vpd = vpd83(Some(0x0102));
        let vpd_path = format!("{dev}/vpd_pg83");
        let t = tree(
            &[
                (&vpd_path, &vpd),
                ("class/fc_host/host5/port_name", b"0x21000024ff3d1a2b\n"),
                ("class/scsi_host/host5/proc_name", b"qla2xxx\n"),
            ],
            &[("block/sdq/device", &format!("../../{dev}"))],
        );
        let n = it_nexus(&Sysfs::at(t.path()), "sdq").unwrap();
        assert_eq!(
            n,
            ItNexus {
                initiator: TransportId::FibreChannel {
                    n_port_name: 0x2100_0024_ff3d_1a2b
                },
                relative_target_port: 0x0102,
            }
        );
    }

    #[test]
    fn sas_gives_the_address_of_the_hosts_port_phy() {
        let port = "devices/pci0000:00/0000:00:04.0/host0/port-0:0";
        let dev = format!("{port}/expander-0:0/port-0:0:3/end_device-0:0:3/target0:0:3/0:0:3:0");
        let vpd = vpd83(Some(1));
        let vpd_path = format!("{dev}/vpd_pg83");
        let t = tree(
            &[
                (&vpd_path, &vpd),
                ("class/sas_host/host0/uevent", b""),
                ("class/sas_phy/phy-0:4/sas_address", b"0x500605b0000272b0\n"),
                ("class/sas_phy/phy-0:5/sas_address", b"0x500605b0000272b0\n"),
            ],
            &[
                ("block/sdd/device", &format!("../../{dev}")),
                (&format!("{port}/phy-0:4"), "../phy-0:4"),
                (&format!("{port}/phy-0:5"), "../phy-0:5"),
            ],
        );
        let n = it_nexus(&Sysfs::at(t.path()), "sdd").unwrap();
        assert_eq!(
            n.initiator,
            TransportId::Sas {
                address: 0x5006_05b0_0002_72b0
            }
        );
        assert_eq!(n.relative_target_port, 1);
    }

    #[test]
    fn what_stays_unknown_says_why() {
        // virtio-scsi: no transport class with an initiator port.
        let dev = "devices/pci0000:00/0000:00:05.0/virtio2/host0/target0:0:0/0:0:0:0";
        let vpd = vpd83(Some(1));
        let vpd_path = format!("{dev}/vpd_pg83");
        let t = tree(
            &[
                (&vpd_path, &vpd),
                ("class/scsi_host/host0/proc_name", b"virtio_scsi\n"),
            ],
            &[("block/sda/device", &format!("../../{dev}"))],
        );
        let e = it_nexus(&Sysfs::at(t.path()), "sda").unwrap_err();
        assert_eq!(e.device, "sda");
        assert!(e.reason.contains("(virtio_scsi) is neither"), "{e}");

        // No relative target port designator.
        let t = iscsi_tree(None);
        let p = t.path().join(ISCSI_DEV).join("vpd_pg83");
        std::fs::write(&p, vpd83(None)).unwrap();
        let e = it_nexus(&Sysfs::at(t.path()), "sdb").unwrap_err();
        assert!(e.reason.contains("no relative target port"), "{e}");
        // No VPD page kept at all.
        std::fs::remove_file(&p).unwrap();
        let e = it_nexus(&Sysfs::at(t.path()), "sdb").unwrap_err();
        assert!(e.reason.contains("did not keep VPD page 83h"), "{e}");
        // A device sysfs does not know.
        let e = it_nexus(&Sysfs::at(t.path()), "sdz").unwrap_err();
        assert!(e.reason.contains("no SCSI address"), "{e}");
    }

    #[test]
    fn names_parse_strictly() {
        assert_eq!(parse_wwn("0x21000024ff3d1a2b"), Some(0x2100_0024_ff3d_1a2b));
        assert_eq!(
            parse_wwn("naa.500140a100000000"),
            Some(0x5001_40a1_0000_0000)
        );
        assert_eq!(parse_wwn("0x"), None);
        assert_eq!(parse_wwn("0x121000024ff3d1a2b"), None);
        assert_eq!(parse_wwn("unknown"), None);
        assert_eq!(parse_isid("0x00023d000001"), Some("00023d000001".into()));
        assert_eq!(parse_isid("00023D000001"), Some("00023d000001".into()));
        assert_eq!(parse_isid("0x23d000001"), None);
        assert_eq!(parse_isid("0x00023d00000g"), None);
    }
}
