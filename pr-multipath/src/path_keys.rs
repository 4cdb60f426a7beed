//! Which key each path of a LUN has registered: READ FULL STATUS (one command, through the
//! first path that answers) matched against each path's I_T nexus
//! ([`AnyPath::nexus`]). This is what `prsdk show` prints per path: a key, "not
//! registered", or unknown when the path's nexus is not known (for now every path that is
//! not simulated; see [`AnyPath::nexus`]).

use pr_core::types::ReservationKey;

use crate::any_path::AnyPath;
use crate::error::Result;
use crate::lun::{FullStatusInfo, MultipathLun};

/// The registration of one path.
///
/// With the `serde` feature: `{"path": "sdb", "usable": true, "known": true, "key":
/// "0x1111", "holder": false}` (`key` `null` when the path is not registered or `known` is
/// false).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PathKey {
    /// The path's name.
    pub path: String,
    /// Whether the path is usable (not failed).
    pub usable: bool,
    /// Whether the path's I_T nexus is known, so that `key` means something.
    pub known: bool,
    /// The key registered for the path's I_T nexus; `None`: not registered (or unknown).
    pub key: Option<ReservationKey>,
    /// Whether the path's I_T nexus holds the reservation (an all-registrants reservation:
    /// every registered nexus).
    pub holder: bool,
}

impl MultipathLun<AnyPath> {
    /// READ FULL STATUS, and the registration of each path in it, in path order.
    pub async fn path_keys(&self) -> Result<(FullStatusInfo, Vec<PathKey>)> {
        let status = self.read_full_status().await?;
        let keys = self
            .paths()
            .iter()
            .map(|p| {
                let nexus = p.transport().nexus();
                let entry = nexus.as_ref().and_then(|(tid, rtp)| {
                    status.entries.iter().find(|e| {
                        e.transport_id.as_ref() == Some(tid)
                            && (e.all_tg_pt || e.relative_target_port == *rtp)
                    })
                });
                PathKey {
                    path: p.name().to_owned(),
                    usable: p.is_usable(),
                    known: nexus.is_some(),
                    key: entry.map(|e| e.key),
                    holder: entry.is_some_and(|e| e.holder),
                }
            })
            .collect();
        Ok((status, keys))
    }
}

#[cfg(all(test, feature = "sim"))]
mod tests {
    use pr_core::types::{ReservationKey, ReservationType};
    use pr_sim::{ClusterSpec, Sim};

    use crate::RegisterRequest;
    use crate::blocking::Lun;
    use crate::path::PathState;

    #[test]
    fn each_path_its_key_the_holder_and_the_unregistered() {
        let cluster = Sim::cluster(&ClusterSpec::default());
        let node1 = Lun::simulated("lun0", cluster.nodes[0].paths[0].clone());
        let node2 = Lun::simulated("lun0", cluster.nodes[1].paths[0].clone());
        let key = ReservationKey(0x1111);
        node1
            .register(RegisterRequest::register_ignore(key))
            .expect("register");
        node1
            .reserve(key, ReservationType::WriteExclusive)
            .expect("reserve");
        node1.as_async().set_path_state("n0p1l0", PathState::Failed);
        let (status, keys) = node1.path_keys().expect("path keys");
        assert_eq!(status.entries.len(), 2);
        let view: Vec<_> = keys
            .iter()
            .map(|k| (k.path.as_str(), k.usable, k.known, k.key, k.holder))
            .collect();
        assert_eq!(
            view,
            [
                ("n0p0l0", true, true, Some(key), true),
                ("n0p1l0", false, true, Some(key), false),
            ]
        );
        let (_, keys) = node2.path_keys().expect("path keys");
        assert!(keys.iter().all(|k| k.known && k.key.is_none() && !k.holder));
    }
}
