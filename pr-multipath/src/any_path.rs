//! One path of any kind behind one concrete type: [`AnyPath`] is what the front door's
//! [`Lun`](crate::Lun) is made of, so that users (and every binding) hold one LUN type
//! whatever reaches the device: an SG_IO node (`/dev/sdX`, `/dev/sgN`, a dm map), the
//! block layer's PR ioctls, a simulated path (cargo feature `sim`), or any other
//! [`Transport`] through [`DynTransport`] (for example a qemu-pr-helper client).
//!
//! The engine ([`MultipathLun`](crate::MultipathLun)) stays generic over its transport;
//! `AnyPath` dispatches with a `match`, which costs nothing next to a SCSI command, and
//! a [`DynTransport`] pays one boxed future per command.

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use pr_core::transport::{Request, Response, Transport, TransportError};
use pr_core::transport_id::TransportId;

/// A [`Transport`] usable as a trait object: what [`AnyPath::Custom`] holds. Every
/// `Transport` that is also `Debug` implements it.
pub trait DynTransport: Send + Sync + fmt::Debug {
    /// As [`Transport::execute`], boxed.
    fn execute_dyn(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>>;

    /// As [`Transport::name`].
    fn dyn_name(&self) -> &str;
}

impl<T: Transport + fmt::Debug> DynTransport for T {
    fn execute_dyn(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        Box::pin(self.execute(request))
    }

    fn dyn_name(&self) -> &str {
        self.name()
    }
}

/// One path (one I_T nexus to one logical unit) of any kind.
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyPath {
    /// SG_IO on a SCSI disk, an sg node or a dm-multipath map.
    Sg(pr_sgio::Device),
    /// The block layer's persistent-reservation ioctls (`<linux/pr.h>`): no READ FULL
    /// STATUS, REGISTER AND MOVE, SPEC_I_PT or ALL_TG_PT, and PR IN only from Linux 6.19.
    Block(pr_sgio::BlockPrDevice),
    /// A path into pr-sim's simulated fabric.
    #[cfg(feature = "sim")]
    Sim(pr_sim::SimPath),
    /// Any other transport.
    Custom(Arc<dyn DynTransport>),
}

impl AnyPath {
    /// Executes `request` on the calling thread, blocking it, when this kind of path can
    /// (an SG_IO node: one `SG_IO` call; a simulated path: without its latency); `None`
    /// when it cannot (block ioctls, custom transports, the sg v3 engine), and the caller
    /// must go through the runtime. Needs no runtime.
    pub fn execute_on_this_thread(
        &self,
        request: &Request,
    ) -> Option<Result<Response, TransportError>> {
        match self {
            AnyPath::Sg(d) if d.engine() != pr_sgio::Engine::SgV3Async => {
                Some(d.execute_blocking(request.clone()))
            }
            #[cfg(feature = "sim")]
            AnyPath::Sim(s) => Some(s.execute_now(request)),
            _ => None,
        }
    }

    /// The I_T nexus this path is, as the device server names it in READ FULL STATUS
    /// (the initiator port's TransportID and the target port's RELATIVE TARGET PORT
    /// IDENTIFIER), when known: see [`it_nexus`](Self::it_nexus), which says why not.
    pub fn nexus(&self) -> Option<(TransportId<'static>, u16)> {
        self.it_nexus().ok()
    }

    /// The I_T nexus this path is, or why it is unknown. Simulated paths know it; an
    /// SG_IO path on a SCSI disk or sg node learns it from sysfs
    /// ([`pr_sgio::Device::it_nexus`]: iSCSI, Fibre Channel, SAS and LIO's tcm_loop; an
    /// iSCSI initiator whose ISID the kernel does not show comes with `isid: None`, which
    /// [`nexus_names`](crate::nexus_names) takes to match any ISID of that name). Unknown:
    /// a dm map (no single nexus), block-ioctl paths (no READ FULL STATUS to match against)
    /// and custom transports.
    pub fn it_nexus(&self) -> Result<(TransportId<'static>, u16), String> {
        match self {
            AnyPath::Sg(d) => d
                .it_nexus()
                .map(|n| (n.initiator, n.relative_target_port))
                .map_err(|e| e.reason),
            AnyPath::Block(_) => Err(
                "a block-layer PR ioctl path: its I_T nexus is not learned (no READ FULL STATUS \
                 to match it against)"
                    .to_owned(),
            ),
            #[cfg(feature = "sim")]
            AnyPath::Sim(s) => s
                .it_nexus()
                .map(|n| (n.initiator, n.relative_target_port))
                .ok_or_else(|| "the simulated path has no nexus".to_owned()),
            AnyPath::Custom(_) => Err("a custom transport does not tell its I_T nexus".to_owned()),
        }
    }

    /// Whether this path is simulated.
    pub fn is_simulated(&self) -> bool {
        #[cfg(feature = "sim")]
        if matches!(self, AnyPath::Sim(_)) {
            return true;
        }
        false
    }
}

impl Transport for AnyPath {
    async fn execute(&self, request: Request) -> Result<Response, TransportError> {
        match self {
            AnyPath::Sg(d) => d.execute(request).await,
            AnyPath::Block(d) => d.execute(request).await,
            #[cfg(feature = "sim")]
            AnyPath::Sim(s) => s.execute(request).await,
            AnyPath::Custom(t) => t.execute_dyn(request).await,
        }
    }

    fn name(&self) -> &str {
        match self {
            AnyPath::Sg(d) => d.name(),
            AnyPath::Block(d) => d.name(),
            #[cfg(feature = "sim")]
            AnyPath::Sim(s) => s.name(),
            AnyPath::Custom(t) => t.dyn_name(),
        }
    }
}

impl From<pr_sgio::Device> for AnyPath {
    fn from(d: pr_sgio::Device) -> Self {
        AnyPath::Sg(d)
    }
}

impl From<pr_sgio::BlockPrDevice> for AnyPath {
    fn from(d: pr_sgio::BlockPrDevice) -> Self {
        AnyPath::Block(d)
    }
}

#[cfg(feature = "sim")]
impl From<pr_sim::SimPath> for AnyPath {
    fn from(s: pr_sim::SimPath) -> Self {
        AnyPath::Sim(s)
    }
}

impl From<Arc<dyn DynTransport>> for AnyPath {
    fn from(t: Arc<dyn DynTransport>) -> Self {
        AnyPath::Custom(t)
    }
}
