// SPDX-License-Identifier: MIT OR Apache-2.0
//! `pr_sim`: pr-sim's software target for C programs: logical units, initiator ports and
//! paths one by one, or a whole simulated cluster at once (`pr_sim_cluster`, as Python's
//! `Sim.cluster`), and fault injection on paths. Paths are named to C by `uint32_t` ids,
//! indexes into the handle's table of paths.
#![allow(non_camel_case_types)]

use std::ffi::c_char;
use std::sync::{Mutex, PoisonError};

use ::pr_sim::{ClusterSpec, LunConfig, Sim, SimPath};

use crate::api::lun::{LunHandle, lun_of_sim_paths, pr_lun};
use crate::api::prout::parse_tid;
use crate::error::{ErrorInfo, pr_error, pr_result};
use crate::ffi::{
    Handle, Out, boundary, boundary_or, free_handle, handle_ref, into_handle, opt_str_arg, str_arg,
};

/// Simulator logical unit personality: SPC-5.
pub const PR_SIM_SPC5: u32 = 0;
/// Simulator logical unit personality: the Linux LIO target.
pub const PR_SIM_LIO: u32 = 1;

/// Simulator fault: answer with CHECK CONDITION, UNIT ATTENTION (asc, ascq).
pub const PR_SIM_FAULT_UNIT_ATTENTION: u32 = 1;
/// Simulator fault: answer BUSY.
pub const PR_SIM_FAULT_BUSY: u32 = 2;
/// Simulator fault: answer TASK SET FULL.
pub const PR_SIM_FAULT_TASK_SET_FULL: u32 = 3;
/// Simulator fault: answer CHECK CONDITION, NOT READY (asc, ascq).
pub const PR_SIM_FAULT_NOT_READY: u32 = 4;

/// The most paths (nodes x paths per node x LUNs) one `pr_sim_cluster` builds.
pub const PR_MAX_SIM_CLUSTER_PATHS: usize = 1 << 20;

/// A software SCSI target with persistent reservations (pr-sim): logical units, initiator
/// ports and paths, with fault injection. Nothing is visible to the operating system.
pub struct pr_sim {
    _private: [u8; 0],
}

/// The simulator behind a `pr_sim`: the pr-sim target, the table of paths created through
/// the C API (indexed by the `uint32_t` path ids handed to C), and for a cluster which ids
/// are whose.
#[derive(Debug)]
pub(crate) struct SimCore {
    sim: Sim,
    paths: Mutex<Vec<SimPath>>,
    /// How many logical units were added (pr-sim holds at most 65,536 and panics past it).
    lun_count: Mutex<u32>,
    cluster: Option<ClusterIds>,
}

/// The path ids of a cluster: `ids[node * luns + lun]` are that node's paths to that LUN.
#[derive(Debug)]
struct ClusterIds {
    nodes: usize,
    luns: usize,
    ids: Vec<Vec<u32>>,
}

impl Handle for pr_sim {
    type Inner = SimCore;
}

impl SimCore {
    fn new(sim: Sim) -> Self {
        SimCore {
            sim,
            paths: Mutex::new(Vec::new()),
            lun_count: Mutex::new(0),
            cluster: None,
        }
    }

    /// A path by id, or an error naming the argument.
    pub(crate) fn path(&self, id: u32, arg: &str) -> Result<SimPath, ErrorInfo> {
        let paths = self.paths.lock().unwrap_or_else(PoisonError::into_inner);
        usize::try_from(id)
            .ok()
            .and_then(|i| paths.get(i))
            .cloned()
            .ok_or_else(|| {
                ErrorInfo::invalid(
                    arg,
                    format!(
                        "no simulator path {id} (this simulator has {})",
                        paths.len()
                    ),
                )
            })
    }

    /// The path ids of `node`'s paths to `lun` in a cluster, or an error naming the
    /// argument that is out of range.
    fn cluster_ids(&self, node: usize, lun: usize) -> Result<&[u32], ErrorInfo> {
        let c = self.cluster.as_ref().ok_or_else(|| {
            ErrorInfo::invalid(
                "sim",
                "not a cluster (made by pr_sim_new, not pr_sim_cluster)",
            )
        })?;
        if node >= c.nodes {
            return Err(ErrorInfo::invalid(
                "node",
                format!("{node} is out of range (the cluster has {} nodes)", c.nodes),
            ));
        }
        if lun >= c.luns {
            return Err(ErrorInfo::invalid(
                "lun",
                format!("{lun} is out of range (the cluster has {} LUNs)", c.luns),
            ));
        }
        node.checked_mul(c.luns)
            .and_then(|i| i.checked_add(lun))
            .and_then(|i| c.ids.get(i))
            .map(Vec::as_slice)
            .ok_or_else(|| ErrorInfo::new(pr_result::PR_ERR_PANIC, "internal error: cluster ids"))
    }
}

fn lun_config(personality: u32) -> Result<LunConfig, ErrorInfo> {
    match personality {
        PR_SIM_SPC5 => Ok(LunConfig::spc5()),
        PR_SIM_LIO => Ok(LunConfig::lio()),
        other => Err(ErrorInfo::invalid(
            "personality",
            format!("{other} is not PR_SIM_SPC5 (0) or PR_SIM_LIO (1)"),
        )),
    }
}

/// A simulated target with `target_ports` target ports (relative target port identifiers
/// 1..=target_ports; 1 to 255), no logical unit and no initiator.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_new(
    target_ports: u16,
    out: *mut *mut pr_sim,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        if !(1..=255).contains(&target_ports) {
            return Err(ErrorInfo::invalid(
                "target_ports",
                format!("{target_ports} is not in 1..=255"),
            ));
        }
        let out = Out::new(out, "out")?;
        out.write(into_handle::<pr_sim>(SimCore::new(Sim::new(target_ports))));
        Ok(())
    })
}

/// A simulated cluster, as Python's `Sim.cluster`: `nodes` hosts (1 to 255), each with
/// `paths_per_node` initiator ports (1 to 255; the target has as many target ports), and
/// `luns` logical units (0 to 65,535) of `personality` (`PR_SIM_SPC5`, `PR_SIM_LIO`) that
/// every node reaches through each of its ports: node `n`'s port `p` reaches LUN `l`
/// through target port `p + 1`, a path named `n<n>p<p>l<l>` whose initiator's TransportID
/// is `sas,5001405000NN00PP` (node and port in hex). At most `PR_MAX_SIM_CLUSTER_PATHS`
/// paths in all. `pr_sim_cluster_lun` gives a node's LUN, `pr_sim_cluster_path` a path's id
/// for fault injection; the simulator takes `pr_sim_add_*` calls as well.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_cluster(
    nodes: usize,
    paths_per_node: usize,
    luns: usize,
    personality: u32,
    out: *mut *mut pr_sim,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        if !(1..=255).contains(&nodes) {
            return Err(ErrorInfo::invalid(
                "nodes",
                format!("{nodes} is not in 1..=255"),
            ));
        }
        if !(1..=255).contains(&paths_per_node) {
            return Err(ErrorInfo::invalid(
                "paths_per_node",
                format!("{paths_per_node} is not in 1..=255"),
            ));
        }
        if luns > usize::from(u16::MAX) {
            return Err(ErrorInfo::invalid(
                "luns",
                format!("{luns} is above 65,535"),
            ));
        }
        let total = nodes * paths_per_node * luns;
        if total > PR_MAX_SIM_CLUSTER_PATHS {
            return Err(ErrorInfo::invalid(
                "luns",
                format!(
                    "{nodes} nodes x {paths_per_node} paths x {luns} LUNs = {total} paths, \
                     above PR_MAX_SIM_CLUSTER_PATHS ({PR_MAX_SIM_CLUSTER_PATHS})"
                ),
            ));
        }
        let lun_config = lun_config(personality)?;
        let out = Out::new(out, "out")?;
        let cluster = Sim::cluster(&ClusterSpec {
            nodes,
            paths_per_node,
            luns,
            lun_config,
        });
        let mut table = Vec::with_capacity(total);
        let mut ids = Vec::with_capacity(nodes * luns);
        for node in cluster.nodes {
            for per_lun in node.paths {
                let mut these = Vec::with_capacity(per_lun.len());
                for p in per_lun {
                    these.push(
                        u32::try_from(table.len())
                            .map_err(|_| ErrorInfo::invalid("luns", "too many paths"))?,
                    );
                    table.push(p);
                }
                ids.push(these);
            }
        }
        let mut core = SimCore::new(cluster.sim);
        core.paths = Mutex::new(table);
        core.lun_count = Mutex::new(u32::try_from(luns).unwrap_or(u32::MAX));
        core.cluster = Some(ClusterIds { nodes, luns, ids });
        out.write(into_handle::<pr_sim>(core));
        Ok(())
    })
}

/// Node `node`'s view of LUN `lun` of a cluster made by `pr_sim_cluster`: a new LUN handle
/// (free it with `pr_lun_free`) named `lun<lun>` over that node's paths to it, each path's
/// SCSI host its initiator port. Each call builds a new LUN, with its own path states.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_cluster_lun(
    sim: *const pr_sim,
    node: usize,
    lun: usize,
    out: *mut *mut pr_lun,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let s = handle_ref(sim, "sim")?;
        let ids = s.cluster_ids(node, lun)?;
        let out = Out::new(out, "out")?;
        let paths = ids
            .iter()
            .map(|&id| s.path(id, "sim"))
            .collect::<Result<Vec<_>, _>>()?;
        let l = lun_of_sim_paths(&format!("lun{lun}"), paths);
        out.write(into_handle::<pr_lun>(LunHandle::new(l)));
        Ok(())
    })
}

/// The id of path `index` (its port, 0-based) of node `node` to LUN `lun` in a cluster,
/// for `pr_sim_path_*` and `pr_device_open_sim`, into `*path`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_cluster_path(
    sim: *const pr_sim,
    node: usize,
    lun: usize,
    index: usize,
    path: *mut u32,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let ids = handle_ref(sim, "sim")?.cluster_ids(node, lun)?;
        let out = Out::new(path, "path")?;
        let id = ids.get(index).ok_or_else(|| {
            ErrorInfo::invalid(
                "index",
                format!(
                    "{index} is out of range (each node has {} paths)",
                    ids.len()
                ),
            )
        })?;
        out.write(*id);
        Ok(())
    })
}

/// Frees a simulator handle. NULL is a no-op. Devices and LUNs opened over its paths stay
/// usable (they share the simulated target).
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_free(sim: *mut pr_sim) {
    boundary_or((), || free_handle(sim));
}

/// Adds a logical unit (`PR_SIM_SPC5` or `PR_SIM_LIO` personality); its number (0, 1, ...)
/// goes to `*lun`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_add_lun(
    sim: *const pr_sim,
    personality: u32,
    lun: *mut u16,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let s = handle_ref(sim, "sim")?;
        let config = lun_config(personality)?;
        let out = Out::new(lun, "lun")?;
        let mut count = s.lun_count.lock().unwrap_or_else(PoisonError::into_inner);
        if *count >= u32::from(u16::MAX) {
            return Err(ErrorInfo::invalid(
                "sim",
                "the simulator is full (65,535 logical units)",
            ));
        }
        let l = s.sim.add_lun(config);
        *count += 1;
        out.write(l.0);
        Ok(())
    })
}

/// Adds an initiator port with a TransportID (`sg_persist` text form, e.g.
/// "sas,5001405000010000" or "iqn.1994-05.com.example:node1,i,0x23d000000001"); its id goes
/// to `*initiator`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_add_initiator(
    sim: *const pr_sim,
    transport_id: *const c_char,
    initiator: *mut u32,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let s = handle_ref(sim, "sim")?;
        let tid = parse_tid(str_arg(transport_id, "transport_id")?, "transport_id")?;
        let out = Out::new(initiator, "initiator")?;
        let id = s.sim.add_initiator(tid);
        let id = u32::try_from(id.0)
            .map_err(|_| ErrorInfo::invalid("sim", "too many initiator ports"))?;
        out.write(id);
        Ok(())
    })
}

/// Adds a path: `initiator` through target port `target_port` to logical unit `lun`, named
/// `name` (NULL: the simulator's default, e.g. `i0t1l0` for initiator 0, target port 1,
/// LUN 0); its id goes to `*path`.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_add_path(
    sim: *const pr_sim,
    initiator: u32,
    target_port: u16,
    lun: u16,
    name: *const c_char,
    path: *mut u32,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let s = handle_ref(sim, "sim")?;
        let name = opt_str_arg(name, "name")?.map(str::to_owned);
        let out = Out::new(path, "path")?;
        let init = usize::try_from(initiator)
            .map_err(|_| ErrorInfo::invalid("initiator", "out of range"))?;
        let p = s
            .sim
            .path(::pr_sim::InitiatorId(init), target_port, ::pr_sim::Lun(lun))
            .map_err(|e| {
                let arg = match e {
                    ::pr_sim::SimError::NoInitiator(_) => "initiator",
                    ::pr_sim::SimError::NoTargetPort(_) => "target_port",
                    ::pr_sim::SimError::NoLun(_) => "lun",
                };
                ErrorInfo::invalid(arg, e)
            })?;
        let p = match name {
            Some(n) => p.named(n),
            None => p,
        };
        let mut paths = s.paths.lock().unwrap_or_else(PoisonError::into_inner);
        let id =
            u32::try_from(paths.len()).map_err(|_| ErrorInfo::invalid("sim", "too many paths"))?;
        paths.push(p);
        out.write(id);
        Ok(())
    })
}

/// Takes a path down (`down` true: its commands fail with `PR_ERR_PATH_DOWN` and never reach
/// the logical unit) or brings it back.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_path_set_down(
    sim: *const pr_sim,
    path: u32,
    down: bool,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        handle_ref(sim, "sim")?.path(path, "path")?.set_down(down);
        Ok(())
    })
}

/// Answers the next `count` commands on a path with a fault (`PR_SIM_FAULT_*`; `asc` and
/// `ascq` for the CHECK CONDITION faults) instead of executing them.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_path_inject(
    sim: *const pr_sim,
    path: u32,
    fault: u32,
    asc: u8,
    ascq: u8,
    count: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        let p = handle_ref(sim, "sim")?.path(path, "path")?;
        let inj = match fault {
            PR_SIM_FAULT_UNIT_ATTENTION => ::pr_sim::Injection::UnitAttention(asc, ascq),
            PR_SIM_FAULT_BUSY => ::pr_sim::Injection::Busy,
            PR_SIM_FAULT_TASK_SET_FULL => ::pr_sim::Injection::TaskSetFull,
            PR_SIM_FAULT_NOT_READY => ::pr_sim::Injection::NotReady { asc, ascq },
            other => {
                return Err(ErrorInfo::invalid(
                    "fault",
                    format!("{other} is not a PR_SIM_FAULT_* value"),
                ));
            }
        };
        if count > 1_000_000 {
            return Err(ErrorInfo::invalid("count", "at most 1,000,000"));
        }
        p.inject(inj, usize::try_from(count).unwrap_or(0));
        Ok(())
    })
}

/// The next `count` commands on a path execute but their replies are lost: the caller gets
/// `PR_ERR_TIMEOUT` after the logical unit's state changed.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_path_lose_replies(
    sim: *const pr_sim,
    path: u32,
    count: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        handle_ref(sim, "sim")?
            .path(path, "path")?
            .lose_replies(count);
        Ok(())
    })
}

/// Clears every fault of a path (up, no injections).
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_path_clear_faults(
    sim: *const pr_sim,
    path: u32,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        handle_ref(sim, "sim")?.path(path, "path")?.clear_faults();
        Ok(())
    })
}

/// Makes logical unit `lun` lose its persistent reservation information (then REPLACE
/// LOST RESERVATION applies).
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_lose_reservation(
    sim: *const pr_sim,
    lun: u16,
    err: *mut *mut pr_error,
) -> pr_result {
    boundary(err, || {
        handle_ref(sim, "sim")?
            .sim
            .lose_reservation(::pr_sim::Lun(lun))
            .map_err(|e| ErrorInfo::invalid("lun", e))
    })
}

/// Power-cycles the simulated target: non-APTPL state is lost; every nexus gets UNIT
/// ATTENTION.
#[unsafe(no_mangle)]
pub extern "C" fn pr_sim_power_cycle(sim: *const pr_sim, err: *mut *mut pr_error) -> pr_result {
    boundary(err, || {
        handle_ref(sim, "sim")?.sim.power_cycle();
        Ok(())
    })
}
