//! Targets: this host's maps and devices, or a simulated cluster (`--sim`).

use pr_core::types::{ReservationKey, ReservationType};
use pr_multipath::blocking::Lun;
use pr_multipath::{Error, FromMapOptions, PathState, RegisterRequest};

use super::parse::{Opts, Usage};

/// One target: its name and the opened LUN, or why it could not be opened.
pub(super) type Target = (String, Result<Lun, Error>);

/// The simulated cluster of `--sim`.
pub(super) struct SimCluster {
    /// `nodes[n][l]`: node n+1's LUN l (map `mpath` + letter).
    pub(super) nodes: Vec<Vec<Lun>>,
    _cluster: pr_sim::Cluster,
}

/// The map name of LUN `l` (`mpatha`, ..., `mpathz`, `mpathaa`, ...), as multipath names them.
pub(super) fn map_name(l: usize) -> String {
    let mut s = String::new();
    let mut n = l + 1;
    while n > 0 {
        let d = (n - 1) % 26;
        s.insert(0, char::from(b'a' + u8::try_from(d).unwrap_or(0)));
        n = (n - 1) / 26;
    }
    format!("mpath{s}")
}

/// The seeded keys of the simulated nodes: node n (from 1) has 0x1111 * n.
pub(super) fn sim_key(node: usize) -> ReservationKey {
    ReservationKey(0x1111 * u64::try_from(node).unwrap_or(0))
}

pub(super) fn parse_topology(t: &str) -> Result<(usize, usize, usize), Usage> {
    let bad = || {
        Usage(format!(
            "bad --topology '{t}': NODESxPATHSxLUNS, e.g. 2x2x3 (nodes 1-8, paths 1-8, LUNs 1-256)"
        ))
    };
    let parts: Vec<usize> = t
        .split('x')
        .map(|p| p.parse::<usize>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    match parts[..] {
        [n, p, l] if (1..=8).contains(&n) && (1..=8).contains(&p) && (1..=256).contains(&l) => {
            Ok((n, p, l))
        }
        _ => Err(bad()),
    }
}

impl SimCluster {
    pub(super) fn new(o: &Opts) -> Result<Self, Usage> {
        let (nodes, paths, luns) = parse_topology(o.topology.as_deref().unwrap_or("2x2x3"))?;
        let cluster = pr_sim::Sim::cluster(&pr_sim::ClusterSpec {
            nodes,
            paths_per_node: paths,
            luns,
            lun_config: pr_sim::LunConfig::lio(),
        });
        let by_node: Vec<Vec<Lun>> = cluster
            .nodes
            .iter()
            .map(|n| {
                n.paths
                    .iter()
                    .enumerate()
                    .map(|(l, p)| Lun::simulated(map_name(l), p.clone()))
                    .collect()
            })
            .collect();
        let sim = SimCluster {
            nodes: by_node,
            _cluster: cluster,
        };
        if !o.fresh {
            sim.seed();
        }
        Ok(sim)
    }

    /// The node a command runs as (`--node`, default 1), after marking its `--down` paths
    /// failed.
    pub(super) fn node_of(&self, o: &Opts) -> Result<usize, Usage> {
        let nodes = self.nodes.len();
        let node = match o.node.as_deref() {
            None => 1,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=nodes).contains(n))
                .ok_or_else(|| Usage(format!("bad --node '{v}': a node from 1 to {nodes}")))?,
        };
        for d in &o.down {
            let found = self.nodes[node - 1]
                .iter()
                .any(|l| l.as_async().set_path_state(d, PathState::Failed));
            if !found {
                return Err(Usage(format!(
                    "bad --down '{d}': no path of that name on node {node}"
                )));
            }
        }
        Ok(node)
    }

    /// Node 1 registers 0x1111 and reserves WR_EX_RO on every LUN, the other nodes register
    /// 0x1111 * n.
    fn seed(&self) {
        for (n, luns) in self.nodes.iter().enumerate() {
            let key = sim_key(n + 1);
            for lun in luns {
                let r = lun.register(RegisterRequest::register_ignore(key));
                if n == 0 && r.is_ok() {
                    let _ = lun.reserve(key, ReservationType::WriteExclusiveRegistrantsOnly);
                }
                tracing::debug!(lun = lun.name(), node = n + 1, "seeded");
            }
        }
    }

    fn luns(&self, node: usize) -> &[Lun] {
        &self.nodes[node - 1]
    }

    fn open(&self, node: usize, name: &str) -> Result<Lun, Error> {
        let map = name.strip_prefix("/dev/mapper/").unwrap_or(name);
        if let Some(l) = self.luns(node).iter().find(|l| l.name() == map) {
            return Ok(l.clone());
        }
        let short = name.strip_prefix("/dev/").unwrap_or(name);
        for lun in self.luns(node) {
            if let Some(p) = lun.as_async().path(short) {
                if let pr_multipath::AnyPath::Sim(s) = p.transport() {
                    return Ok(Lun::simulated(short, [s.clone()]));
                }
            }
        }
        Err(Error::NotFound {
            what: name.to_owned(),
            reason: format!(
                "no such simulated map or path (maps {}..{}, paths like n0p0l0)",
                map_name(0),
                map_name(self.luns(node).len().saturating_sub(1))
            ),
        })
    }
}

/// Opens the targets the command line names.
pub(super) fn targets(o: &Opts, sim: Option<(&SimCluster, usize)>) -> Vec<Target> {
    match sim {
        Some((s, n)) if o.all_maps || (o.command == "show" && o.targets.is_empty()) => s
            .luns(n)
            .iter()
            .map(|l| (l.name().to_owned(), Ok(l.clone())))
            .collect(),
        Some((s, n)) => o
            .targets
            .iter()
            .map(|t| (t.clone(), s.open(n, t)))
            .collect(),
        None if o.all_maps || (o.command == "show" && o.targets.is_empty()) => {
            match pr_multipath::Lun::from_all_maps(&FromMapOptions::default()) {
                Ok(luns) => luns
                    .into_iter()
                    .map(|l| (l.name().to_owned(), Ok(Lun::from(l))))
                    .collect(),
                Err(e) => vec![("--all-maps".to_owned(), Err(e))],
            }
        }
        None => o
            .targets
            .iter()
            .map(|t| (t.clone(), Lun::open(t)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_names_as_multipath_names_them() {
        assert_eq!(map_name(0), "mpatha");
        assert_eq!(map_name(25), "mpathz");
        assert_eq!(map_name(26), "mpathaa");
    }
}
