//! How the mpathpersist personality reaches a multipath map: the device is opened
//! `O_RDONLY` as mpathpersist opens it, then, as libmpathpersist decides from that
//! descriptor, it must be a block device (else `MPATH_PR_FILE_ERROR`) that is a
//! dm-multipath map (else `MPATH_PR_DMMP_ERROR`), whose LUN the front door builds from
//! its paths ([`pr_multipath::blocking::Lun`], pr-multipath's semantics: REGISTER on
//! every path, RESERVE failing over, READ FULL STATUS without a descriptor cap, ...).
//! Or, for tests and `prsdk sim`, simulated maps.

use std::fs::File;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use pr_multipath::blocking::Lun;
use pr_multipath::{Error, FromMapOptions, OpenOptions};

use super::{DMMP_ERROR, FILE_ERROR, OTHER};

/// Where the maps come from.
pub trait Maps {
    /// Whether the personality refuses to run unless its real user is root, as
    /// mpathpersist does.
    fn needs_root(&self) -> bool;
    /// Whether device-mapper can be reached (libmpathpersist's `init_vecs` lists the
    /// maps; when device-mapper is missing, mpathpersist 0.9.4 exits 1): the messages to
    /// print otherwise.
    fn device_mapper(&self) -> Result<(), String>;
    /// Opens `name` read-only, as mpathpersist does before any command; `None` when it
    /// cannot be opened.
    fn open(&self, name: &str) -> Option<Box<dyn MapDevice>>;
}

/// An opened device.
pub trait MapDevice {
    /// The LUN of the map the device is, built for one call (as libmpathpersist builds
    /// its path vectors), or the `MPATH_PR_*` code and what to say on standard error.
    fn lun(&self) -> Result<Lun, (i32, String)>;
}

/// Real devices through the front door.
#[derive(Clone, Copy, Debug, Default)]
pub struct FrontDoor;

/// The C library's wording of an I/O error (without Rust's "(os error N)").
pub(crate) fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

impl Maps for FrontDoor {
    fn needs_root(&self) -> bool {
        true
    }

    fn device_mapper(&self) -> Result<(), String> {
        const CONTROL: &str = "/dev/mapper/control";
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(CONTROL)
        {
            Ok(_) => Ok(()),
            Err(e) => Err(format!(
                "{CONTROL}: open failed: {}\nFailure to communicate with kernel \
                 device-mapper driver.\n",
                strerror(&e)
            )),
        }
    }

    fn open(&self, name: &str) -> Option<Box<dyn MapDevice>> {
        File::open(name)
            .ok()
            .map(|f| Box::new(RealDevice(f)) as Box<dyn MapDevice>)
    }
}

struct RealDevice(File);

/// Linux's `major()` and `minor()` of a device number.
fn major_minor(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (
        u32::try_from(major).unwrap_or(u32::MAX),
        u32::try_from(minor).unwrap_or(u32::MAX),
    )
}

impl MapDevice for RealDevice {
    fn lun(&self) -> Result<Lun, (i32, String)> {
        let meta = self
            .0
            .metadata()
            .map_err(|e| (FILE_ERROR, format!("stat error: {}\n", strerror(&e))))?;
        if !meta.file_type().is_block_device() {
            return Err((FILE_ERROR, String::new()));
        }
        let (major, minor) = major_minor(meta.rdev());
        let name = match pr_multipath::Lun::map_name_of_dev_t(major, minor) {
            Ok(Some(name)) => name,
            _ => {
                return Err((
                    DMMP_ERROR,
                    format!("{major}:{minor} failed to get device alias.\n"),
                ));
            }
        };
        let options = OpenOptions {
            map: FromMapOptions {
                fd_read_only: true,
                ..FromMapOptions::default()
            },
            ..OpenOptions::default()
        };
        Lun::open_with(&name, &options).map_err(|e| {
            let code = match e {
                Error::Config { .. } => OTHER,
                _ => DMMP_ERROR,
            };
            (code, format!("{name}: {e}\n"))
        })
    }
}

/// Simulated multipath maps over one simulated LIO LUN (the project's tcm_loop lab
/// topology): `map1` is node 1's map of its paths, `map2` node 2's; `path1`, `path2`, ...
/// are the single path devices (block devices that are no map: `MPATH_PR_DMMP_ERROR`).
#[derive(Clone, Debug)]
pub struct SimMaps {
    maps: Vec<(String, Lun)>,
    paths: Vec<String>,
}

impl SimMaps {
    /// No maps and no paths: every device name fails to open.
    pub fn empty() -> Self {
        SimMaps {
            maps: Vec::new(),
            paths: Vec::new(),
        }
    }

    /// One LUN with LIO's personality, `paths` paths of node 1 (map `map1`) and
    /// `node2_paths` of node 2 (map `map2`, absent with 0 paths).
    pub fn lio_loop(paths: usize, node2_paths: usize) -> Self {
        let nexuses = pr_sim::lab_loop_topology(paths, node2_paths);
        let (_sim, sim_paths) = pr_sim::Sim::single_lun(pr_sim::LunConfig::lio(), &nexuses);
        Self::from_paths(sim_paths, paths)
    }

    /// Maps over `sim_paths` (the paths of one simulated LUN): the first `node1` make
    /// `map1`, the rest `map2`; the paths are also `path1`, `path2`, ... in that order.
    pub fn from_paths(mut sim_paths: Vec<pr_sim::SimPath>, node1: usize) -> Self {
        let total = sim_paths.len();
        let node2 = sim_paths.split_off(node1.min(total));
        let mut maps = vec![("map1".to_owned(), Lun::simulated("map1", sim_paths))];
        if !node2.is_empty() {
            maps.push(("map2".to_owned(), Lun::simulated("map2", node2)));
        }
        let paths = (1..=total).map(|k| format!("path{k}")).collect();
        SimMaps { maps, paths }
    }
}

struct SimDevice(Result<Lun, String>);

impl MapDevice for SimDevice {
    fn lun(&self) -> Result<Lun, (i32, String)> {
        self.0
            .clone()
            .map_err(|name| (DMMP_ERROR, format!("{name}: not a multipath device.\n")))
    }
}

impl Maps for SimMaps {
    fn needs_root(&self) -> bool {
        false
    }

    fn device_mapper(&self) -> Result<(), String> {
        Ok(())
    }

    fn open(&self, name: &str) -> Option<Box<dyn MapDevice>> {
        if let Some((_, lun)) = self.maps.iter().find(|(n, _)| n == name) {
            return Some(Box::new(SimDevice(Ok(lun.clone()))));
        }
        self.paths
            .iter()
            .any(|p| p == name)
            .then(|| Box::new(SimDevice(Err(name.to_owned()))) as Box<dyn MapDevice>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_split_as_linux_does() {
        assert_eq!(major_minor(0x0803), (8, 3));
        assert_eq!(major_minor((253 << 8) | 4), (253, 4));
    }

    #[test]
    fn simulated_maps_and_paths() {
        let m = SimMaps::lio_loop(2, 2);
        assert!(m.open("map1").unwrap().lun().is_ok());
        assert!(m.open("map2").unwrap().lun().is_ok());
        assert_eq!(m.open("path3").unwrap().lun().unwrap_err().0, DMMP_ERROR);
        assert!(m.open("nope").is_none());
    }
}
