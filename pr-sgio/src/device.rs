//! Opening a SCSI device node and executing commands on it over SG_IO.

use std::fs::OpenOptions as StdOpenOptions;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use pr_core::transport::{Request, Response, Transport, TransportError};

use crate::classify::{Classified, Classifier, Resolved};
use crate::engine::{self, Limiter, SgV3Engine};
use crate::error::{Error, Result};
use crate::nexus::{self, ItNexus, NexusError};
use crate::sysfs::{self, DevT, DeviceKind, NodeType, Sysfs};

/// How a [`Device`] turns its blocking kernel calls into futures (see [`crate::engine`]).
///
/// **The default is [`Engine::BlockingPool`].** Measured in the lab (`BENCHMARKS.md`, QEMU
/// under TCG, READ KEYS, raw SG_IO loop = 1.00): [`Engine::InPlace`] is by far the fastest
/// for one command at a time (median ≈ 1.4–1.5 × raw against ≈ 2.3–3 × for the pool and the
/// sg v3 engine; the aim of 1.1 × is not reached under TCG), but it is not the default because it gives up
/// three things the pool keeps: pr-sgio's own deadline (the request's timeout is then only
/// the kernel's, which an iSCSI path re-arms while its connection lives), concurrency
/// inside one task (pr-multipath fans a command out over a LUN's paths with
/// `buffer_unordered` in one task: in place, the paths are done one after the other), and
/// predictable throughput with many concurrent commands (each costs a core hand-off; on a
/// busy lab host 1,000 concurrent commands ran *slower* than one by one). Choose `InPlace` for a caller that
/// issues one command at a time on a multi-thread runtime and trusts the kernel's timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Engine {
    /// `SG_IO` on a thread of tokio's blocking pool, bounded by the device's [`Limiter`].
    /// Works on every kind of device, on every runtime; commands of one task run
    /// concurrently; the request's timeout is enforced by the kernel and by pr-sgio
    /// (timeout + [`engine::TIMEOUT_GRACE`]). Costs a thread hand-off per command.
    #[default]
    BlockingPool,
    /// `SG_IO` on the calling thread inside [`tokio::task::block_in_place`], after taking a
    /// permit of the device's [`Limiter`], on a multi-thread runtime; through the blocking
    /// pool (as [`Engine::BlockingPool`]) on a current-thread runtime, where
    /// `block_in_place` is not allowed. Works on every kind of device.
    ///
    /// The fastest for one command at a time (no thread hand-off when the caller is
    /// `block_on`; one core hand-off to another thread when it is a worker), but with two
    /// costs that the other engines do not have: the command blocks the whole *task* that
    /// awaits it, so futures joined or selected in the same task (a fan-out over paths with
    /// `join_all`/`buffer_unordered`) run one after the other; and the request's timeout is
    /// enforced only by the kernel (SG_IO's timeout), not also by pr-sgio's own deadline
    /// (timeout + [`engine::TIMEOUT_GRACE`]), which matters when the kernel keeps re-arming
    /// the command's timer (iSCSI while the connection lives). See `BENCHMARKS.md`.
    InPlace,
    /// The sg v3 `write()`/`read()` interface with `AsyncFd`: no thread per command. Works
    /// on sg nodes and on SCSI disks (through their sg node, found in sysfs); not on dm maps.
    SgV3Async,
}

/// Options for [`Device::open_with`].
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    read_only: bool,
    fd_read_only: bool,
    engine: Engine,
    limiter: Option<Limiter>,
    sysfs: Sysfs,
}

impl OpenOptions {
    /// Read-write, blocking-pool engine, global limiter, `/sys`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens the node `O_RDONLY`: PR IN and other reads only. PERSISTENT RESERVE OUT is then
    /// refused with [`TransportError::InvalidRequest`] before it reaches the kernel.
    pub fn read_only(mut self, yes: bool) -> Self {
        self.read_only = yes;
        self
    }

    /// Opens the node `O_RDONLY` but still allows every command, PERSISTENT RESERVE OUT
    /// included, as libmpathpersist does (its path devices are always opened read-only).
    ///
    /// Why: udev watches SCSI disks with inotify, and closing a disk that was opened for
    /// writing makes it synthesize a `change` uevent, which reruns the udev rules (blkid,
    /// multipath checks) and makes multipathd re-examine the path. A tool that opens every
    /// path of many maps read-write causes one such event per path at close: under load,
    /// or in an emulated guest, that storm slows the PR commands and multipathd's own
    /// replies. The cost: Linux lets SG_IO on a read-only descriptor carry any command only
    /// for a caller with `CAP_SYS_RAWIO` (root); without it the kernel refuses PR OUT
    /// (`EPERM`, reported as [`TransportError::Os`](pr_core::transport::TransportError)).
    /// Ignored when [`read_only`](Self::read_only) is set.
    pub fn fd_read_only(mut self, yes: bool) -> Self {
        self.fd_read_only = yes;
        self
    }

    /// The execution engine.
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }

    /// The limiter bounding the threads blocked in the kernel for the blocking-pool and
    /// in-place engines (default: [`Limiter::global`]).
    pub fn limiter(mut self, limiter: Limiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The sysfs root used to identify the device (default `/sys`; for tests).
    pub fn sysfs(mut self, sysfs: Sysfs) -> Self {
        self.sysfs = sysfs;
        self
    }

    pub(crate) fn parts(&self) -> (bool, Option<Limiter>, &Sysfs) {
        (self.read_only, self.limiter.clone(), &self.sysfs)
    }

    /// Whether the descriptor is opened `O_RDONLY` (read-only, or
    /// [`fd_read_only`](Self::fd_read_only)).
    pub(crate) fn open_read_only(&self) -> bool {
        self.read_only || self.fd_read_only
    }
}

/// An open node and its identity, before an engine is attached.
#[derive(Debug)]
pub(crate) struct OpenNode {
    pub(crate) fd: OwnedFd,
    pub(crate) kind: DeviceKind,
    pub(crate) dev: DevT,
}

/// Opens `path` with `O_NONBLOCK` and identifies it through fstat and sysfs; errors name
/// `path`.
pub(crate) fn open_node(path: &Path, read_only: bool, sys: &Sysfs) -> Result<OpenNode> {
    let fd = open_fd(path, read_only)?;
    let (node, dev) = stat_fd(&fd, path)?;
    let kind = sysfs::identify(sys, node, dev).map_err(|r| Error::rejected(path, r))?;
    Ok(OpenNode { fd, kind, dev })
}

/// Opens what a user gave (a path, a map name, a kernel name; see [`crate::classify()`]):
/// the node opened and the node's path. A path is opened and identified once, from the
/// opened descriptor; a name is looked up in sysfs first, and its node is identified again
/// only when the node opened is not the device the name led to.
pub(crate) fn open_given(
    given: &Path,
    read_only: bool,
    sys: &Sysfs,
) -> Result<(PathBuf, OpenNode)> {
    match Classifier::with(sys.clone(), "/dev").resolve(given)? {
        Resolved::Path(path) => {
            let node = open_node(&path, read_only, sys)?;
            Ok((path, node))
        }
        Resolved::Named(c) => {
            let fd = open_fd(&c.node, read_only)?;
            let (ty, dev) = stat_fd(&fd, &c.node)?;
            let expected = if matches!(c.kind, DeviceKind::ScsiGeneric { .. }) {
                NodeType::Char
            } else {
                NodeType::Block
            };
            let kind = if (ty, dev) == (expected, c.dev) {
                c.kind
            } else {
                sysfs::identify(sys, ty, dev).map_err(|r| Error::rejected(&c.node, r))?
            };
            Ok((c.node, OpenNode { fd, kind, dev }))
        }
    }
}

fn open_fd(path: &Path, read_only: bool) -> Result<OwnedFd> {
    let file = StdOpenOptions::new()
        .read(true)
        .write(!read_only)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::from_open(path, read_only, e))?;
    Ok(file.into())
}

fn stat_fd(fd: &OwnedFd, path: &Path) -> Result<(NodeType, DevT)> {
    let st = nix::sys::stat::fstat(fd.as_fd()).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        op: "fstat",
        source: std::io::Error::from(e),
    })?;
    Ok((NodeType::from_mode(st.st_mode), DevT::from_raw(st.st_rdev)))
}

#[derive(Debug)]
enum Exec {
    Pool {
        fd: Arc<OwnedFd>,
        limiter: Limiter,
    },
    InPlace {
        fd: Arc<OwnedFd>,
        limiter: Limiter,
    },
    SgV3 {
        engine: Arc<SgV3Engine>,
        _block: Option<OwnedFd>,
    },
}

/// A SCSI device reached with SG_IO: a SCSI disk (`/dev/sdX`), an sg node (`/dev/sgN`), or a
/// dm-multipath map (`/dev/mapper/NAME`, `/dev/dm-N`; the kernel sends SG_IO to the map's
/// current path).
///
/// `Device` implements [`Transport`]. Commands on a dropped future keep running to completion
/// at the device (see [`crate::engine`] for why that is memory-safe).
#[derive(Debug)]
pub struct Device {
    path: PathBuf,
    name: Arc<str>,
    kind: DeviceKind,
    dev: DevT,
    read_only: bool,
    exec: Exec,
    sysfs: Sysfs,
    nexus: OnceLock<Result<ItNexus, NexusError>>,
}

impl Device {
    /// Opens `path` read-write with the default engine. `path` is a device node's path
    /// (`/dev/sdX`, `/dev/sgN`, `/dev/mapper/NAME`, `/dev/dm-N`, `/dev/disk/by-id/...`) or a
    /// name: a dm-multipath map's (`mpatha`) or a kernel name (`sdb`, `dm-3`), as
    /// [`crate::classify()`] resolves them; [`Device::path`] is then the node's path.
    ///
    /// Errors name what was given and say why: [`Error::InvalidName`] (an empty name),
    /// [`Error::NotFound`] (no such device or map), [`Error::PermissionDenied`],
    /// [`Error::NotScsi`] (a regular file, a directory, `/dev/null`, a loop device, a
    /// partition, ...), [`Error::NotMultipath`] (a device-mapper device that is not a
    /// multipath map), or [`Error::Io`].
    pub fn open(path: impl AsRef<Path>) -> Result<Device> {
        Self::open_with(path, &OpenOptions::default())
    }

    /// Opens `path` (as [`Device::open`]) with `options`. The sg v3 engine must be created
    /// inside a tokio runtime.
    pub fn open_with(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Device> {
        let (path, node) = open_given(path.as_ref(), options.open_read_only(), &options.sysfs)?;
        let path = path.as_path();
        let exec = match options.engine {
            Engine::BlockingPool => Exec::Pool {
                fd: Arc::new(node.fd),
                limiter: options.limiter.clone().unwrap_or_else(Limiter::global),
            },
            Engine::InPlace => Exec::InPlace {
                fd: Arc::new(node.fd),
                limiter: options.limiter.clone().unwrap_or_else(Limiter::global),
            },
            Engine::SgV3Async => {
                let (sg_fd, block) = match &node.kind {
                    DeviceKind::ScsiGeneric { .. } => {
                        if options.open_read_only() {
                            return Err(Error::NotScsi {
                                path: path.to_path_buf(),
                                reason: "the sg v3 engine needs the sg node opened read-write"
                                    .into(),
                            });
                        }
                        (node.fd, None)
                    }
                    DeviceKind::ScsiDisk { name, .. } => {
                        let sg = sysfs::sg_of_disk(&options.sysfs, name).ok_or_else(|| {
                            Error::NotScsi {
                                path: path.to_path_buf(),
                                reason: format!("{name} has no sg node (is the sg module loaded?)"),
                            }
                        })?;
                        let sg_path = PathBuf::from("/dev").join(&sg);
                        let sg_node = open_node(&sg_path, false, &options.sysfs)?;
                        (sg_node.fd, Some(node.fd))
                    }
                    DeviceKind::Multipath { .. } => {
                        return Err(Error::NotScsi {
                            path: path.to_path_buf(),
                            reason: "a dm-multipath map has no sg node; the sg v3 engine needs one (use the blocking-pool engine)".into(),
                        });
                    }
                };
                let engine = SgV3Engine::new(sg_fd).map_err(|e| Error::Io {
                    path: path.to_path_buf(),
                    op: "register with the tokio reactor",
                    source: e,
                })?;
                Exec::SgV3 {
                    engine: Arc::new(engine),
                    _block: block,
                }
            }
        };
        Ok(Device {
            path: path.to_path_buf(),
            name: Arc::from(path.to_string_lossy().as_ref()),
            kind: node.kind,
            dev: node.dev,
            read_only: options.read_only,
            exec,
            sysfs: options.sysfs.clone(),
            nexus: OnceLock::new(),
        })
    }

    /// A device over a descriptor the caller already holds (a SCSI disk, an sg node or a
    /// dm-multipath map, opened by someone else, for example received from another process
    /// by `SCM_RIGHTS`), which the device then owns: commands go through this descriptor,
    /// with its access mode, and no node is opened. [`Device::path`] is the node the
    /// descriptor's device has under `/dev`. The sg v3 engine is not available (it needs an
    /// sg node of its own): the blocking-pool engine is used instead. Errors as
    /// [`crate::classify_fd`].
    pub fn from_owned_fd(fd: OwnedFd, options: &OpenOptions) -> Result<Device> {
        let c = Classifier::with(options.sysfs.clone(), "/dev").classify_fd(fd.as_fd())?;
        Ok(Self::from_owned_fd_classified(fd, c, options))
    }

    /// As [`from_owned_fd`](Self::from_owned_fd), with the descriptor's device already
    /// classified by the caller (`c`, from [`crate::classify_fd`] or
    /// [`ClassifiedDevices`](crate::ClassifiedDevices) on this descriptor): nothing is read
    /// from sysfs. `c` is taken as it is; the commands go through `fd` whatever it says.
    pub fn from_owned_fd_classified(fd: OwnedFd, c: Classified, options: &OpenOptions) -> Device {
        let fd = Arc::new(fd);
        let limiter = options.limiter.clone().unwrap_or_else(Limiter::global);
        let exec = match options.engine {
            Engine::InPlace => Exec::InPlace { fd, limiter },
            Engine::BlockingPool | Engine::SgV3Async => Exec::Pool { fd, limiter },
        };
        Device {
            name: Arc::from(c.node.to_string_lossy().as_ref()),
            path: c.node,
            kind: c.kind,
            dev: c.dev,
            read_only: options.read_only,
            exec,
            sysfs: options.sysfs.clone(),
            nexus: OnceLock::new(),
        }
    }

    /// The path it was opened with (for a name, the node it resolved to).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the node is.
    pub fn kind(&self) -> &DeviceKind {
        &self.kind
    }

    /// Its device number.
    pub fn dev(&self) -> DevT {
        self.dev
    }

    /// Whether it was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        match self.exec {
            Exec::Pool { .. } => Engine::BlockingPool,
            Exec::InPlace { .. } => Engine::InPlace,
            Exec::SgV3 { .. } => Engine::SgV3Async,
        }
    }

    /// The I_T nexus this device is (initiator port TransportID and relative target
    /// port), learned from sysfs once and then remembered (see [`crate::nexus`]); an error
    /// says why it is unknown (a dm map is no single nexus, a transport whose initiator
    /// port sysfs does not show, ...).
    pub fn it_nexus(&self) -> std::result::Result<ItNexus, NexusError> {
        self.nexus
            .get_or_init(|| match &self.kind {
                DeviceKind::Multipath { name, .. } => Err(NexusError {
                    device: name.clone(),
                    reason: "a dm-multipath map is one I_T nexus per path, not one".to_owned(),
                }),
                DeviceKind::ScsiDisk { name, .. } | DeviceKind::ScsiGeneric { name, .. } => {
                    nexus::it_nexus(&self.sysfs, name)
                }
            })
            .clone()
    }
}

impl Device {
    /// Executes `request` with one SG_IO call on the calling thread, blocking it until the
    /// kernel answers (or SG_IO's own timeout, the request's, expires): for synchronous
    /// callers that already own a thread, such as a C library entry point, where handing
    /// the command to a runtime and back would cost more than the command. It takes no
    /// permit of the device's [`Limiter`] and has no deadline of pr-sgio's own (see
    /// [`Engine::InPlace`]); it needs no tokio runtime. Devices opened with the sg v3
    /// engine cannot do it ([`TransportError::InvalidRequest`]).
    pub fn execute_blocking(&self, request: Request) -> Result<Response, TransportError> {
        check_read_only(self.read_only, &self.name, &request)?;
        match &self.exec {
            Exec::Pool { fd, .. } | Exec::InPlace { fd, .. } => {
                engine::sg_io_call(fd.as_fd(), &self.name, request)
            }
            Exec::SgV3 { .. } => Err(TransportError::InvalidRequest(format!(
                "{}: the sg v3 engine has no blocking execution",
                self.name
            ))),
        }
    }
}

/// Refuses PR OUT on a read-only device.
pub(crate) fn check_read_only(
    read_only: bool,
    device: &str,
    request: &Request,
) -> Result<(), TransportError> {
    if read_only && request.cdb.opcode() == 0x5f {
        return Err(TransportError::InvalidRequest(format!(
            "{device}: opened read-only, PERSISTENT RESERVE OUT refused"
        )));
    }
    Ok(())
}

impl Transport for Device {
    async fn execute(&self, request: Request) -> Result<Response, TransportError> {
        check_read_only(self.read_only, &self.name, &request)?;
        match &self.exec {
            Exec::Pool { fd, limiter } => {
                engine::sg_io_pooled(fd.clone(), limiter, self.name.clone(), request).await
            }
            Exec::InPlace { fd, limiter } => {
                engine::sg_io_in_place(fd, limiter, &self.name, request).await
            }
            Exec::SgV3 { engine, .. } => engine.execute(&self.name, request).await,
        }
    }

    fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pr_core::transport::Cdb;

    #[test]
    fn open_errors_name_the_path() {
        let e = Device::open("/nonexistent/sdz").unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }));
        assert_eq!(e.to_string(), "no such device or map: /nonexistent/sdz");

        let e = Device::open("").unwrap_err();
        assert!(matches!(e, Error::InvalidName { .. }), "{e:?}");

        // A name that no map, disk or sg node has.
        let e = Device::open("mpath-surely-not-here").unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "no such device or map: mpath-surely-not-here"
        );

        let d = tempfile::tempdir().unwrap();
        for ro in [false, true] {
            let e = Device::open_with(d.path(), &OpenOptions::new().read_only(ro)).unwrap_err();
            assert!(matches!(e, Error::NotScsi { .. }), "{e:?}");
            assert!(e.to_string().contains("a directory"), "{e}");
        }

        let e = Device::open("/dev/null").unwrap_err();
        let s = e.to_string();
        assert!(matches!(e, Error::NotScsi { .. }), "{e:?}");
        assert!(
            s.starts_with("/dev/null: not a SCSI device: character device 1:3"),
            "{s}"
        );

        let t = tempfile::NamedTempFile::new().unwrap();
        let e = Device::open(t.path()).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains(&*t.path().to_string_lossy()) && s.contains("regular file"),
            "{s}"
        );
    }

    #[test]
    fn read_only_refuses_prout() {
        let r = Request::data_out(Cdb::from([0x5f, 0, 0, 0, 0, 0, 0, 0, 24, 0]), vec![0; 24]);
        let e = check_read_only(true, "/dev/sda", &r).unwrap_err();
        assert!(e.to_string().contains("/dev/sda: opened read-only"));
        assert!(check_read_only(false, "/dev/sda", &r).is_ok());
        let r = Request::data_in(Cdb::from([0x5e, 0, 0, 0, 0, 0, 0, 0x20, 0, 0]), 8192);
        assert!(check_read_only(true, "/dev/sda", &r).is_ok());
    }
}
