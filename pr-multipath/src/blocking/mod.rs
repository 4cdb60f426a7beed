//! The blocking front door: the same operations as the async [`Lun`](crate::Lun), for
//! callers that want to block (a synchronous Rust program, the C libraries, Python's
//! `Device`), on the project's one runtime bridge ([`runtime`]: one named thread owning a
//! tokio runtime, in the manner of `reqwest::blocking`). Never call these from a task of
//! that runtime.
//!
//! ```
//! use pr_core::types::{ReservationKey, ReservationType};
//! use pr_multipath::RegisterRequest;
//! use pr_multipath::blocking::Lun;
//! use pr_sim::{ClusterSpec, Sim};
//!
//! let cluster = Sim::cluster(&ClusterSpec::default()); // 2 nodes x 2 paths, 3 LUNs
//! let lun = Lun::simulated("lun0", cluster.nodes[0].paths[0].clone());
//! let key = ReservationKey(0x1234);
//! lun.register(RegisterRequest::register_ignore(key))?; // on both paths
//! lun.reserve(key, ReservationType::WriteExclusive)?;
//! assert_eq!(lun.read_keys()?.keys, vec![key, key]);
//! # Ok::<(), pr_multipath::Error>(())
//! ```

pub mod runtime;

use std::sync::Arc;

use pr_core::prin::Capabilities;
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, ReservationKey, ReservationType};

pub use runtime::{BridgeError, Pending, block_here, block_on, shutdown, spawn};

use crate::error::Result;
use crate::fleet::{FleetOptions, LunResult};
use crate::lun::{FullStatusInfo, KeysInfo, RegisterRequest, ReservationInfo};
use crate::open::OpenOptions;
use crate::report::Report;
use crate::request::{InResult, OutRequest};

/// A LUN for blocking callers: a shared handle on an async [`crate::Lun`] (cloning it is
/// cheap and shares the LUN). Each method runs the async operation on the runtime thread
/// and waits.
#[derive(Clone, Debug)]
pub struct Lun {
    inner: Arc<crate::Lun>,
}

/// Runs `f(lun)` on the runtime thread and waits for it.
fn run<R, F>(lun: &Arc<crate::Lun>, f: F) -> Result<R>
where
    R: Send + 'static,
    F: for<'a> FnOnce(&'a crate::Lun) -> futures_util::future::BoxFuture<'a, Result<R>>
        + Send
        + 'static,
{
    let lun = Arc::clone(lun);
    block_on(async move { f(&lun).await })?
}

impl Lun {
    /// Opens what `what` names (see [`crate::Lun::open`]) on the runtime's blocking pool.
    pub fn open(what: &str) -> Result<Self> {
        Self::open_with(what, &OpenOptions::default())
    }

    /// As [`open`](Self::open), with options.
    pub fn open_with(what: &str, options: &OpenOptions) -> Result<Self> {
        let what = what.to_owned();
        let options = options.clone();
        let lun = runtime::block_on_blocking(move || crate::Lun::open_with(&what, &options))??;
        Ok(Self::from(lun))
    }

    /// A LUN over simulated paths (see [`crate::Lun::simulated`]).
    #[cfg(feature = "sim")]
    pub fn simulated(
        name: impl Into<String>,
        paths: impl IntoIterator<Item = pr_sim::SimPath>,
    ) -> Self {
        Self::from(crate::Lun::simulated(name, paths))
    }

    /// The async LUN underneath, shared.
    pub fn as_async(&self) -> &Arc<crate::Lun> {
        &self.inner
    }

    /// The LUN's name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// Runs one PR OUT action ([`crate::Lun::execute`]).
    pub fn execute(&self, request: OutRequest) -> Result<Report> {
        run(&self.inner, move |l| {
            Box::pin(async move { l.execute(&request).await })
        })
    }

    /// Runs one PR IN action ([`crate::Lun::pr_in`]).
    pub fn pr_in(&self, action: PrInAction) -> Result<InResult> {
        run(&self.inner, move |l| Box::pin(l.pr_in(action)))
    }

    /// READ KEYS ([`crate::Lun::read_keys`]).
    pub fn read_keys(&self) -> Result<KeysInfo> {
        run(&self.inner, |l| Box::pin(l.read_keys()))
    }

    /// READ RESERVATION ([`crate::Lun::read_reservation`]).
    pub fn read_reservation(&self) -> Result<ReservationInfo> {
        run(&self.inner, |l| Box::pin(l.read_reservation()))
    }

    /// REPORT CAPABILITIES ([`crate::Lun::report_capabilities`]).
    pub fn report_capabilities(&self) -> Result<Capabilities> {
        run(&self.inner, |l| Box::pin(l.report_capabilities()))
    }

    /// READ FULL STATUS ([`crate::Lun::read_full_status`]).
    pub fn read_full_status(&self) -> Result<FullStatusInfo> {
        run(&self.inner, |l| Box::pin(l.read_full_status()))
    }

    /// REGISTER / REGISTER AND IGNORE on every usable path ([`crate::Lun::register`]).
    pub fn register(&self, request: RegisterRequest) -> Result<Report> {
        self.execute(OutRequest::register(request))
    }

    /// REGISTER with SPEC_I_PT ([`crate::Lun::register_spec_i_pt`]).
    pub fn register_spec_i_pt(
        &self,
        request: RegisterRequest,
        transport_ids: Vec<TransportId<'static>>,
    ) -> Result<Report> {
        self.execute(OutRequest::Register {
            request,
            spec_i_pt: transport_ids,
        })
    }

    /// RESERVE ([`crate::Lun::reserve`]).
    pub fn reserve(
        &self,
        key: ReservationKey,
        reservation_type: ReservationType,
    ) -> Result<Report> {
        self.execute(OutRequest::Reserve {
            key,
            reservation_type,
        })
    }

    /// RELEASE ([`crate::Lun::release`]).
    pub fn release(
        &self,
        key: ReservationKey,
        reservation_type: ReservationType,
    ) -> Result<Report> {
        self.execute(OutRequest::Release {
            key,
            reservation_type,
        })
    }

    /// CLEAR ([`crate::Lun::clear`]).
    pub fn clear(&self, key: ReservationKey) -> Result<Report> {
        self.execute(OutRequest::Clear { key })
    }

    /// PREEMPT ([`crate::Lun::preempt`]).
    pub fn preempt(
        &self,
        key: ReservationKey,
        victim: ReservationKey,
        reservation_type: ReservationType,
    ) -> Result<Report> {
        self.execute(OutRequest::Preempt {
            key,
            victim,
            reservation_type,
        })
    }

    /// PREEMPT AND ABORT ([`crate::Lun::preempt_and_abort`]).
    pub fn preempt_and_abort(
        &self,
        key: ReservationKey,
        victim: ReservationKey,
        reservation_type: ReservationType,
    ) -> Result<Report> {
        self.execute(OutRequest::PreemptAndAbort {
            key,
            victim,
            reservation_type,
        })
    }

    /// READ FULL STATUS and each path's registration ([`crate::Lun::path_keys`]).
    pub fn path_keys(&self) -> Result<(FullStatusInfo, Vec<crate::PathKey>)> {
        run(&self.inner, |l| Box::pin(l.path_keys()))
    }

    /// REPLACE LOST RESERVATION ([`crate::Lun::replace_lost_reservation`]).
    pub fn replace_lost_reservation(
        &self,
        new_key: ReservationKey,
        reservation_type: ReservationType,
    ) -> Result<Report> {
        self.execute(OutRequest::ReplaceLostReservation {
            new_key,
            reservation_type,
        })
    }

    /// Re-reads the path states ([`crate::Lun::refresh`]).
    pub fn refresh(&self) -> Result<()> {
        run(&self.inner, |l| Box::pin(l.refresh()))
    }

    /// PR IN on the calling thread, without the runtime (see
    /// [`crate::Lun::pr_in_on_this_thread`]).
    pub fn pr_in_on_this_thread(
        &self,
        action: PrInAction,
        alloc_len: u16,
    ) -> Option<(String, Vec<u8>)> {
        self.inner.pr_in_on_this_thread(action, alloc_len)
    }
}

impl From<crate::Lun> for Lun {
    fn from(lun: crate::Lun) -> Self {
        Lun {
            inner: Arc::new(lun),
        }
    }
}

impl From<Arc<crate::Lun>> for Lun {
    fn from(inner: Arc<crate::Lun>) -> Self {
        Lun { inner }
    }
}

fn arcs(luns: &[Lun]) -> Vec<Arc<crate::Lun>> {
    luns.iter().map(|l| Arc::clone(&l.inner)).collect()
}

/// [`crate::fleet::unfence`] for blocking callers.
pub fn unfence(
    luns: &[Lun],
    key: ReservationKey,
    options: &FleetOptions,
) -> Result<Vec<LunResult>> {
    let luns = arcs(luns);
    let options = options.clone();
    Ok(block_on(async move {
        let refs: Vec<&crate::Lun> = luns.iter().map(|l| &**l).collect();
        crate::fleet::unfence(&refs, key, &options).await
    })?)
}

/// [`crate::fleet::fence`] for blocking callers.
pub fn fence(
    luns: &[Lun],
    my_key: ReservationKey,
    victim: ReservationKey,
    reservation_type: ReservationType,
    options: &FleetOptions,
) -> Result<Vec<LunResult>> {
    let luns = arcs(luns);
    let options = options.clone();
    Ok(block_on(async move {
        let refs: Vec<&crate::Lun> = luns.iter().map(|l| &**l).collect();
        crate::fleet::fence(&refs, my_key, victim, reservation_type, &options).await
    })?)
}
