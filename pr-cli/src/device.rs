//! How a personality reaches a device: by name, through the front door
//! ([`pr_multipath::blocking::Lun`], a multipath map opened as one device as `sg_persist`
//! sees it, or a SCSI disk or sg node), or, for tests and `prsdk sim`, simulated LUNs.
//! Commands come back as a device answers them ([`pr_multipath::RawReply`]: status, sense,
//! data), or as the operating system's error.

use pr_core::transport::{Cdb, Request};
use pr_multipath::blocking::{self, Lun};
use pr_multipath::{ErrorKind, OpenOptions, RawReply};

/// An error that is no SCSI answer: an errno (for sg_persist's exit status, 50 + errno)
/// and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsError {
    /// The errno it stands for (`ENOENT`, `EACCES`, `ENOTTY`, ...), or 0 when none fits.
    pub errno: i32,
    /// What happened, for standard error.
    pub message: String,
}

impl OsError {
    /// The C library's text for the errno (`strerror`), or the message.
    pub fn strerror(&self) -> String {
        match self.errno {
            2 => "No such file or directory".into(),
            13 => "Permission denied".into(),
            25 => "Inappropriate ioctl for device".into(),
            _ => self.message.clone(),
        }
    }
}

/// One opened device.
pub trait Device {
    /// A standard INQUIRY of `len` bytes.
    fn inquiry(&self, len: u8) -> Result<RawReply, OsError>;
    /// One PERSISTENT RESERVE IN or OUT command, sent as it is.
    fn pass_through(&self, cdb: &[u8], params: &[u8]) -> Result<RawReply, OsError>;
}

/// Opens devices by the name the user gave.
pub trait Opener {
    /// Opens `name`, read-only (`O_RDONLY`) when `read_only`.
    fn open(&self, name: &str, read_only: bool) -> Result<Box<dyn Device>, OsError>;
}

/// The errno a front-door error stands for.
fn os_error(e: &pr_multipath::Error) -> OsError {
    let errno = match e.kind() {
        ErrorKind::NotFound => 2,
        ErrorKind::PermissionDenied => 13,
        ErrorKind::NotScsi => 25,
        _ => 0,
    };
    OsError {
        errno,
        message: e.to_string(),
    }
}

/// A device opened through the front door, or a name that is no SCSI device (a regular
/// file, `/dev/null`): sg_persist opens those and fails at the first command, with
/// `ENOTTY`.
enum Opened {
    Lun(Lun),
    NotScsi(OsError),
}

impl Device for Opened {
    fn inquiry(&self, len: u8) -> Result<RawReply, OsError> {
        let lun = match self {
            Opened::Lun(l) => l,
            Opened::NotScsi(e) => return Err(e.clone()),
        };
        let Some(path) = lun.as_async().paths().first() else {
            return Err(OsError {
                errno: 0,
                message: "no path".into(),
            });
        };
        let cdb = Cdb::new(&[0x12, 0, 0, 0, len, 0]).ok_or_else(|| OsError {
            errno: 0,
            message: "INQUIRY CDB".into(),
        })?;
        let request = Request::data_in(cdb, usize::from(len));
        let response = match path.transport().execute_on_this_thread(&request) {
            Some(r) => r,
            None => {
                let lun = lun.as_async().clone();
                blocking::block_on(async move {
                    use pr_core::transport::Transport;
                    match lun.paths().first() {
                        Some(p) => p.transport().execute(request).await,
                        None => Err(pr_core::transport::TransportError::Closed),
                    }
                })
                .map_err(|e| OsError {
                    errno: 0,
                    message: e.to_string(),
                })?
            }
        };
        let response = response.map_err(|e| OsError {
            errno: match &e {
                pr_core::transport::TransportError::Os { errno, .. } => *errno,
                _ => 0,
            },
            message: e.to_string(),
        })?;
        Ok(RawReply {
            status: response.completion.status.0,
            sense: response.completion.sense.as_bytes().to_vec(),
            data: response.buf,
        })
    }

    fn pass_through(&self, cdb: &[u8], params: &[u8]) -> Result<RawReply, OsError> {
        let lun = match self {
            Opened::Lun(l) => l,
            Opened::NotScsi(e) => return Err(e.clone()),
        };
        let lun = lun.as_async().clone();
        let (cdb, params) = (cdb.to_vec(), params.to_vec());
        blocking::block_on(async move { lun.pass_through(&cdb, &params).await })
            .map_err(|e| OsError {
                errno: 0,
                message: e.to_string(),
            })?
            .map_err(|e| os_error(&e))
    }
}

/// Opens real devices through the front door: a multipath map as one device (SG_IO to
/// the map node, as `sg_persist` does), a SCSI disk or sg node as itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct FrontDoor;

impl Opener for FrontDoor {
    fn open(&self, name: &str, read_only: bool) -> Result<Box<dyn Device>, OsError> {
        let options = OpenOptions {
            map_as_device: true,
            fd_read_only: read_only,
            ..OpenOptions::default()
        };
        match Lun::open_with(name, &options) {
            Ok(lun) => Ok(Box::new(Opened::Lun(lun))),
            Err(e) => {
                let e = os_error(&e);
                if e.errno == 25 {
                    Ok(Box::new(Opened::NotScsi(e)))
                } else {
                    Err(e)
                }
            }
        }
    }
}

/// Simulated LUNs by name: each name is one path (one I_T nexus) of a simulated LUN.
#[derive(Clone, Debug, Default)]
pub struct Simulated {
    paths: Vec<(String, Lun)>,
}

impl Simulated {
    /// One LUN with LIO's personality seen through the project's tcm_loop lab topology
    /// (`paths` paths of node 1, then `node2_paths` of node 2), its paths named
    /// `path1`, `path2`, ... in that order.
    pub fn lio_loop(paths: usize, node2_paths: usize) -> Self {
        let nexuses = pr_sim::lab_loop_topology(paths, node2_paths);
        let (_sim, sim_paths) = pr_sim::Sim::single_lun(pr_sim::LunConfig::lio(), &nexuses);
        Self::from_paths(sim_paths)
    }

    /// Each of `sim_paths` (paths of simulated LUNs) as a device, named `path1`,
    /// `path2`, ... in that order.
    pub fn from_paths(sim_paths: Vec<pr_sim::SimPath>) -> Self {
        let paths = sim_paths
            .into_iter()
            .enumerate()
            .map(|(k, p)| {
                let name = format!("path{}", k + 1);
                let lun = Lun::simulated(name.clone(), [p]);
                (name, lun)
            })
            .collect();
        Simulated { paths }
    }

    /// The names of the paths.
    pub fn names(&self) -> Vec<&str> {
        self.paths.iter().map(|(n, _)| n.as_str()).collect()
    }
}

impl Opener for Simulated {
    fn open(&self, name: &str, _read_only: bool) -> Result<Box<dyn Device>, OsError> {
        match self.paths.iter().find(|(n, _)| n == name) {
            Some((_, lun)) => Ok(Box::new(Opened::Lun(lun.clone()))),
            None => Err(OsError {
                errno: 2,
                message: format!("{name}: no such simulated path"),
            }),
        }
    }
}
