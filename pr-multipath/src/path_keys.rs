//! Which key each path of a LUN has registered: READ FULL STATUS (one command, through the
//! first path that answers) matched against each path's I_T nexus
//! ([`AnyPath::it_nexus`]). This is what `prsdk show` prints per path: a key, "not
//! registered", or unknown when the path's nexus is not known (a transport whose initiator
//! port sysfs does not show, a custom transport; see [`AnyPath::it_nexus`]) or when the
//! READ FULL STATUS entries it matches disagree (see [`nexus_names`]).

use pr_core::transport_id::TransportId;
use pr_core::types::ReservationKey;

use crate::any_path::AnyPath;
use crate::error::Result;
use crate::lun::{FullStatusInfo, MultipathLun, StatusEntry};

/// The registration of one path.
///
/// With the `serde` feature: `{"path": "sdb", "usable": true, "known": true, "key":
/// "0x1111", "holder": false}` (`key` `null` when the path is not registered or `known` is
/// false), and `"unknown_reason": "..."` when `known` is false.
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
    /// Why `known` is false: the nexus could not be learned, or the entries it matches
    /// disagree.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub unknown_reason: Option<String>,
}

/// Whether the READ FULL STATUS `entry` is the registration of the I_T nexus
/// (`initiator`, `relative_target_port`): the same TransportID and the same relative
/// target port (or an ALL_TG_PT registration, which covers every target port).
///
/// An iSCSI `initiator` without an ISID (`isid: None`: the kernel did not show the
/// session's ISID, as Linux's iscsi_tcp does not) names every initiator port of that
/// iSCSI name: it matches an entry with any ISID (names compared without regard to ASCII
/// case, as iSCSI names are). Sessions of one initiator name through one target port are
/// then told apart only when they hold the same key: [`MultipathLun::path_keys`] reports
/// a path unknown when its matches disagree (in key, or in holding the reservation).
pub fn nexus_names(
    initiator: &TransportId<'_>,
    relative_target_port: u16,
    entry: &StatusEntry,
) -> bool {
    if !entry.all_tg_pt && entry.relative_target_port != relative_target_port {
        return false;
    }
    let Some(tid) = &entry.transport_id else {
        return false;
    };
    match (initiator, tid) {
        (TransportId::Iscsi { name, isid: None }, TransportId::Iscsi { name: other, .. }) => {
            name.eq_ignore_ascii_case(other)
        }
        _ => tid == initiator,
    }
}

impl MultipathLun<AnyPath> {
    /// READ FULL STATUS, and the registration of each path in it, in path order.
    pub async fn path_keys(&self) -> Result<(FullStatusInfo, Vec<PathKey>)> {
        let status = self.read_full_status().await?;
        let keys = self
            .paths()
            .iter()
            .map(|p| {
                let (known, key, holder, unknown_reason) = match p.transport().it_nexus() {
                    Err(why) => (false, None, false, Some(why)),
                    Ok((tid, rtp)) => {
                        let matches: Vec<&StatusEntry> = status
                            .entries
                            .iter()
                            .filter(|e| nexus_names(&tid, rtp, e))
                            .collect();
                        match matches.split_first() {
                            None => (true, None, false, None),
                            Some((first, rest))
                                if rest
                                    .iter()
                                    .all(|e| e.key == first.key && e.holder == first.holder) =>
                            {
                                (true, Some(first.key), first.holder, None)
                            }
                            Some(_) => (
                                false,
                                None,
                                false,
                                Some(format!(
                                    "{} registrations name {tid} at relative target port \
                                     {rtp}, with different keys or not all holders, and the \
                                     path's ISID is not known",
                                    matches.len()
                                )),
                            ),
                        }
                    }
                };
                PathKey {
                    path: p.name().to_owned(),
                    usable: p.is_usable(),
                    known,
                    key,
                    holder,
                    unknown_reason,
                }
            })
            .collect();
        Ok((status, keys))
    }
}

#[cfg(test)]
mod matching {
    use pr_core::transport_id::TransportId;
    use pr_core::types::ReservationKey;

    use super::nexus_names;
    use crate::lun::StatusEntry;

    fn entry(tid: &str, rtp: u16, all_tg_pt: bool) -> StatusEntry {
        StatusEntry {
            key: ReservationKey(1),
            all_tg_pt,
            holder: false,
            type_code: 0,
            relative_target_port: rtp,
            transport_id_bytes: Vec::new(),
            transport_id: Some(TransportId::parse(tid).unwrap().into_owned()),
        }
    }

    #[test]
    fn an_entry_names_a_nexus_by_transport_id_and_target_port() {
        let sas = TransportId::parse("sas,500140a100000000").unwrap();
        assert!(nexus_names(
            &sas,
            2,
            &entry("sas,500140a100000000", 2, false)
        ));
        assert!(!nexus_names(
            &sas,
            3,
            &entry("sas,500140a100000000", 2, false)
        ));
        assert!(nexus_names(
            &sas,
            3,
            &entry("sas,500140a100000000", 2, true)
        ));
        assert!(!nexus_names(
            &sas,
            2,
            &entry("sas,500140a100000001", 2, false)
        ));
        let mut no_tid = entry("sas,500140a100000000", 2, false);
        no_tid.transport_id = None;
        assert!(!nexus_names(&sas, 2, &no_tid));
    }

    #[test]
    fn an_iscsi_name_without_isid_matches_every_isid_of_that_name() {
        let any = TransportId::Iscsi {
            name: "iqn.2003-01.org.example:node1".into(),
            isid: None,
        };
        let e = entry("iqn.2003-01.org.example:node1,i,0x00023d000002", 1, false);
        assert!(nexus_names(&any, 1, &e));
        assert!(!nexus_names(&any, 2, &e));
        let mut upper = entry("iqn.2003-01.org.example:node9,i,0x00023d000003", 1, false);
        upper.transport_id = Some(TransportId::Iscsi {
            name: "IQN.2003-01.ORG.EXAMPLE:NODE1".into(),
            isid: Some("00023d000003".into()),
        });
        assert!(nexus_names(&any, 1, &upper));
        let other = entry("iqn.2003-01.org.example:node2,i,0x00023d000002", 1, false);
        assert!(!nexus_names(&any, 1, &other));
        // With the ISID, only that one.
        let one = TransportId::parse("iqn.2003-01.org.example:node1,i,0x00023d000002").unwrap();
        assert!(nexus_names(&one, 1, &e));
        assert!(!nexus_names(&one, 1, &upper));
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
