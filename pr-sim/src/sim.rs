//! The simulated SCSI target: target ports, logical units, initiator ports, and [`SimPath`]
//! handles (one I_T nexus to one logical unit) that implement pr-core's
//! [`Transport`], with per-path faults and a trace.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use pr_core::outcome::{Completion, HostStatus};
use pr_core::sense::{ScsiStatus, SenseKey};
use pr_core::transport::{DataDirection, Request, Response, Transport, TransportError};
use pr_core::transport_id::TransportId;

use crate::config::LunConfig;
use crate::lun::{ItNexus, LogicalUnit, opcode};
use crate::reply::{Condition, FieldRef, Reply};
use crate::rng::SplitMix64;

/// An initiator port of the simulated fabric (an index into [`Sim`]'s initiator list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InitiatorId(pub usize);

/// A logical unit number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lun(pub u16);

/// An I_T nexus in simulator terms: an initiator port and a relative target port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Nexus {
    /// The initiator port.
    pub initiator: InitiatorId,
    /// The RELATIVE TARGET PORT IDENTIFIER of the target port.
    pub target_port: u16,
}

/// Why a simulator call was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimError {
    /// No such initiator port.
    NoInitiator(InitiatorId),
    /// No such target port.
    NoTargetPort(u16),
    /// No such logical unit.
    NoLun(Lun),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::NoInitiator(i) => write!(f, "no initiator port {}", i.0),
            SimError::NoTargetPort(p) => write!(f, "no target port {p}"),
            SimError::NoLun(l) => write!(f, "no logical unit {}", l.0),
        }
    }
}

impl std::error::Error for SimError {}

/// What happened to one command, as the trace records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceOutcome {
    /// The device server executed it.
    Completed {
        /// SAM status byte.
        status: u8,
        /// Sense key, ASC, ASCQ (CHECK CONDITION).
        sense: Option<(u8, u8, u8)>,
        /// Bytes of data-in.
        data_in: usize,
    },
    /// The device server executed it, but the reply was lost: the caller got a timeout.
    ReplyLost {
        /// SAM status byte the device server returned.
        status: u8,
        /// Sense key, ASC, ASCQ.
        sense: Option<(u8, u8, u8)>,
    },
    /// The path was down; the command never reached the device server.
    PathDown,
    /// A fault answered instead of the device server.
    Injected(Injection),
    /// A target power cycle.
    PowerCycle,
    /// The logical unit lost its reservation information.
    ReservationLost,
}

/// One entry of the trace: enough to replay a failing case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// Sequence number, from 0.
    pub seq: u64,
    /// The path's name (empty for target events).
    pub path: String,
    /// The nexus (for commands).
    pub nexus: Option<Nexus>,
    /// The logical unit (for commands).
    pub lun: Option<Lun>,
    /// The CDB.
    pub cdb: Vec<u8>,
    /// The data-out bytes.
    pub data_out: Vec<u8>,
    /// What happened.
    pub outcome: TraceOutcome,
}

impl fmt::Display for TraceEntry {
    /// `#3 n0p1 i0/t1 lun0 5f 00 ... -> 18 RESERVATION CONFLICT`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {}", self.seq, self.path)?;
        if let (Some(n), Some(l)) = (self.nexus, self.lun) {
            write!(f, " i{}/t{} lun{}", n.initiator.0, n.target_port, l.0)?;
        }
        if !self.cdb.is_empty() {
            f.write_str(" cdb")?;
            for b in &self.cdb {
                write!(f, " {b:02x}")?;
            }
        }
        if !self.data_out.is_empty() {
            f.write_str(" data")?;
            for b in &self.data_out {
                write!(f, "{b:02x}")?;
            }
        }
        match &self.outcome {
            TraceOutcome::Completed {
                status,
                sense,
                data_in,
            } => {
                write!(f, " -> {}", ScsiStatus(*status))?;
                if let Some((k, a, q)) = sense {
                    write!(f, " {k:x}/{a:02x}/{q:02x}")?;
                }
                write!(f, " ({data_in} bytes in)")
            }
            TraceOutcome::ReplyLost { status, sense } => {
                write!(f, " -> {} (reply lost)", ScsiStatus(*status))?;
                if let Some((k, a, q)) = sense {
                    write!(f, " {k:x}/{a:02x}/{q:02x}")?;
                }
                Ok(())
            }
            TraceOutcome::PathDown => f.write_str(" -> path down"),
            TraceOutcome::Injected(i) => write!(f, " -> injected {i:?}"),
            TraceOutcome::PowerCycle => f.write_str("power cycle"),
            TraceOutcome::ReservationLost => f.write_str("reservation lost"),
        }
    }
}

/// The whole simulated target, behind one lock. Deterministic: [`SimCore::execute`] is a
/// plain function of its state and arguments.
#[derive(Debug)]
pub struct SimCore {
    target_ports: Vec<u16>,
    initiators: Vec<TransportId<'static>>,
    luns: Vec<LogicalUnit>,
    trace: VecDeque<TraceEntry>,
    trace_limit: usize,
    seq: u64,
}

impl SimCore {
    fn new(target_ports: u16) -> Self {
        SimCore {
            target_ports: (1..=target_ports.max(1)).collect(),
            initiators: Vec::new(),
            luns: Vec::new(),
            trace: VecDeque::new(),
            trace_limit: DEFAULT_TRACE_LIMIT,
            seq: 0,
        }
    }

    /// The device-server view of `nexus`.
    pub fn it_nexus(&self, nexus: Nexus) -> Result<ItNexus, SimError> {
        let tid = self
            .initiators
            .get(nexus.initiator.0)
            .ok_or(SimError::NoInitiator(nexus.initiator))?;
        if !self.target_ports.contains(&nexus.target_port) {
            return Err(SimError::NoTargetPort(nexus.target_port));
        }
        Ok(ItNexus::new(tid.clone(), nexus.target_port))
    }

    /// The logical unit `lun`.
    pub fn lun(&self, lun: Lun) -> Option<&LogicalUnit> {
        self.luns.get(usize::from(lun.0))
    }

    /// The logical unit `lun`, mutably.
    pub fn lun_mut(&mut self, lun: Lun) -> Option<&mut LogicalUnit> {
        self.luns.get_mut(usize::from(lun.0))
    }

    /// Executes one command from `nexus` on `lun` (REPORT LUNS is answered here, everything
    /// else by the logical unit), records it in the trace and returns the device server's
    /// reply.
    pub fn execute(
        &mut self,
        nexus: Nexus,
        lun: Lun,
        cdb: &[u8],
        data_out: &[u8],
        data_in_len: usize,
    ) -> Reply {
        let reply = self.execute_untraced(nexus, lun, cdb, data_out, data_in_len);
        self.record(
            "",
            Some((nexus, lun)),
            cdb,
            data_out,
            TraceOutcome::Completed {
                status: reply.status.0,
                sense: reply.sense_code(),
                data_in: reply.data.len(),
            },
        );
        reply
    }

    fn execute_untraced(
        &mut self,
        nexus: Nexus,
        lun: Lun,
        cdb: &[u8],
        data_out: &[u8],
        data_in_len: usize,
    ) -> Reply {
        let Ok(it) = self.it_nexus(nexus) else {
            // No such nexus: LOGICAL UNIT NOT SUPPORTED.
            return Reply::check(&Condition::illegal(0x25, 0, None));
        };
        if cdb.first() == Some(&opcode::REPORT_LUNS) {
            if cdb.len() < 12 {
                return Reply::check(&Condition::illegal(0x24, 0, Some(FieldRef::cdb(0, None))));
            }
            let alloc = cdb
                .get(6..10)
                .and_then(|s| <[u8; 4]>::try_from(s).ok())
                .map_or(0, u32::from_be_bytes);
            let n = u32::try_from(self.luns.len())
                .unwrap_or(0)
                .saturating_mul(8);
            let mut d = n.to_be_bytes().to_vec();
            d.extend_from_slice(&[0; 4]);
            for i in 0..self.luns.len() {
                let l = u16::try_from(i).unwrap_or(u16::MAX);
                let mut e = [0u8; 8];
                e[..2].copy_from_slice(&l.to_be_bytes());
                d.extend_from_slice(&e);
            }
            d.truncate(
                usize::try_from(alloc)
                    .unwrap_or(usize::MAX)
                    .min(data_in_len),
            );
            return Reply::good(d);
        }
        match self.luns.get_mut(usize::from(lun.0)) {
            Some(lu) => lu.execute(&it, cdb, data_out, data_in_len),
            None => Reply::check(&Condition::illegal(0x25, 0, None)),
        }
    }

    fn record(
        &mut self,
        path: &str,
        at: Option<(Nexus, Lun)>,
        cdb: &[u8],
        data_out: &[u8],
        outcome: TraceOutcome,
    ) {
        if self.trace_limit == 0 {
            self.seq = self.seq.wrapping_add(1);
            return;
        }
        while self.trace.len() >= self.trace_limit {
            self.trace.pop_front();
        }
        self.trace.push_back(TraceEntry {
            seq: self.seq,
            path: path.to_owned(),
            nexus: at.map(|a| a.0),
            lun: at.map(|a| a.1),
            cdb: cdb.to_vec(),
            data_out: data_out.to_vec(),
            outcome,
        });
        self.seq = self.seq.wrapping_add(1);
    }

    /// Power-cycles the target: every logical unit loses its non-APTPL state and every
    /// known nexus gets 29h/00h.
    pub fn power_cycle(&mut self) {
        for lu in &mut self.luns {
            lu.power_cycle();
        }
        self.record("", None, &[], &[], TraceOutcome::PowerCycle);
    }
}

/// How many trace entries a [`Sim`] keeps by default (the most recent ones).
pub const DEFAULT_TRACE_LIMIT: usize = 100_000;

thread_local! {
    /// How many [`Sim::with_lun`] / [`Sim::with_core`] closures run on this thread (they hold
    /// the simulator's lock).
    static INSIDE: Cell<u32> = const { Cell::new(0) };
}

/// Marks the current thread as running a closure under the simulator's lock.
struct Inside;

impl Inside {
    fn enter() -> Self {
        INSIDE.with(|c| c.set(c.get().saturating_add(1)));
        Inside
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        INSIDE.with(|c| c.set(c.get().saturating_sub(1)));
    }
}

fn lock(m: &Mutex<SimCore>) -> MutexGuard<'_, SimCore> {
    // A second lock on the same thread would deadlock: say so instead.
    assert!(
        INSIDE.with(Cell::get) == 0,
        "pr-sim: a Sim or SimPath method that locks the simulator was called inside \
         Sim::with_lun / Sim::with_core (which hold the lock); use the closure's argument, or \
         call it before or after"
    );
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A simulated SCSI target with its logical units and the initiator ports that see it.
/// Cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct Sim {
    core: Arc<Mutex<SimCore>>,
}

impl Sim {
    /// A target with `target_ports` target ports (relative target port identifiers
    /// `1..=target_ports`; at least one), no logical unit and no initiator.
    pub fn new(target_ports: u16) -> Self {
        Sim {
            core: Arc::new(Mutex::new(SimCore::new(target_ports))),
        }
    }

    /// Adds a logical unit; LUNs are numbered from 0 in the order they are added.
    ///
    /// # Panics
    /// When the target already has 65,536 logical units (a [`Lun`] is 16 bits); use more
    /// than one `Sim` for more.
    pub fn add_lun(&self, config: LunConfig) -> Lun {
        let mut c = lock(&self.core);
        assert!(
            c.luns.len() <= usize::from(u16::MAX),
            "pr-sim: a simulated target holds at most 65,536 logical units"
        );
        let lu = LogicalUnit::new(config, c.target_ports.clone());
        c.luns.push(lu);
        Lun(u16::try_from(c.luns.len().saturating_sub(1)).unwrap_or(u16::MAX))
    }

    /// Adds an initiator port with this TransportID.
    pub fn add_initiator(&self, transport_id: TransportId<'_>) -> InitiatorId {
        let mut c = lock(&self.core);
        c.initiators.push(transport_id.into_owned());
        InitiatorId(c.initiators.len().saturating_sub(1))
    }

    /// The relative target port identifiers.
    pub fn target_ports(&self) -> Vec<u16> {
        lock(&self.core).target_ports.clone()
    }

    /// The TransportID of an initiator port.
    pub fn transport_id(&self, initiator: InitiatorId) -> Option<TransportId<'static>> {
        lock(&self.core).initiators.get(initiator.0).cloned()
    }

    /// A path: `initiator` through target port `target_port` to `lun`. The nexus becomes
    /// known to the logical unit (it gets power-on unit attentions). Its name is
    /// `i<initiator>t<port>l<lun>`.
    pub fn path(
        &self,
        initiator: InitiatorId,
        target_port: u16,
        lun: Lun,
    ) -> Result<SimPath, SimError> {
        let nexus = Nexus {
            initiator,
            target_port,
        };
        let it = {
            let mut c = lock(&self.core);
            let it = c.it_nexus(nexus)?;
            c.lun_mut(lun)
                .ok_or(SimError::NoLun(lun))?
                .add_nexus(it.clone());
            it
        };
        let name = format!("i{}t{}l{}", initiator.0, target_port, lun.0);
        Ok(SimPath {
            core: Arc::clone(&self.core),
            nexus,
            it: Arc::new(it),
            lun,
            name: Arc::from(name),
            faults: Arc::new(Mutex::new(Faults::new(0))),
            linux_host_bytes: false,
        })
    }

    /// Runs `f` on the logical unit `lun` (to inspect or change it directly).
    ///
    /// `f` runs under the simulator's lock. Inside it, [`SimPath::it_nexus`],
    /// [`SimPath::nexus`], [`SimPath::lun`], [`SimPath::name`](Transport::name) and the
    /// path's fault controls are fine (they do not take the lock); methods that execute
    /// commands or read the simulator ([`SimPath::execute_now`], [`Sim::trace`],
    /// [`Sim::transport_id`], another `with_lun`, ...) would deadlock, and panic with a
    /// message saying so instead.
    pub fn with_lun<T>(&self, lun: Lun, f: impl FnOnce(&mut LogicalUnit) -> T) -> Option<T> {
        let mut c = lock(&self.core);
        let _inside = Inside::enter();
        c.lun_mut(lun).map(f)
    }

    /// Runs `f` on the whole core (for synchronous, deterministic use). The same rules as
    /// for [`Sim::with_lun`] apply inside `f`.
    pub fn with_core<T>(&self, f: impl FnOnce(&mut SimCore) -> T) -> T {
        let mut c = lock(&self.core);
        let _inside = Inside::enter();
        f(&mut c)
    }

    /// Keeps at most `limit` trace entries (the most recent; default
    /// [`DEFAULT_TRACE_LIMIT`]); 0 turns the trace off (benchmarks, many-LUN setups).
    pub fn set_trace_limit(&self, limit: usize) {
        let mut c = lock(&self.core);
        c.trace_limit = limit;
        while c.trace.len() > limit {
            c.trace.pop_front();
        }
    }

    /// Power-cycles the target (a target restart): non-APTPL state is lost, APTPL state is
    /// reloaded, PRgeneration restarts at 0, and every known nexus gets UNIT ATTENTION
    /// 29h/00h.
    pub fn power_cycle(&self) {
        lock(&self.core).power_cycle();
    }

    /// Makes logical unit `lun` lose its persistent reservation information (see
    /// [`LogicalUnit::lose_reservation`]).
    pub fn lose_reservation(&self, lun: Lun) -> Result<(), SimError> {
        let mut c = lock(&self.core);
        c.lun_mut(lun)
            .ok_or(SimError::NoLun(lun))?
            .lose_reservation();
        c.record("", None, &[], &[], TraceOutcome::ReservationLost);
        Ok(())
    }

    /// The trace so far (the most recent [`DEFAULT_TRACE_LIMIT`] entries unless
    /// [`Sim::set_trace_limit`] said otherwise).
    pub fn trace(&self) -> Vec<TraceEntry> {
        lock(&self.core).trace.iter().cloned().collect()
    }

    /// Empties the trace.
    pub fn clear_trace(&self) {
        lock(&self.core).trace.clear();
    }

    /// A cluster: `spec.nodes` hosts, each with `spec.paths_per_node` initiator ports
    /// (SAS addresses `0x5001_4050_00NN_00PP`, node NN, port PP) and as many target ports,
    /// path `p` of every node going through target port `p + 1`, to `spec.luns` logical
    /// units of configuration `spec.lun_config` (serials `pr-sim-lunN`).
    pub fn cluster(spec: &ClusterSpec) -> Cluster {
        let ports = u16::try_from(spec.paths_per_node.max(1)).unwrap_or(u16::MAX);
        let sim = Sim::new(ports);
        let luns: Vec<Lun> = (0..spec.luns)
            .map(|i| {
                sim.add_lun(
                    spec.lun_config
                        .clone()
                        .with_serial(format!("pr-sim-lun{i}")),
                )
            })
            .collect();
        let mut nodes = Vec::new();
        for n in 0..spec.nodes {
            let mut initiators = Vec::new();
            for p in 0..usize::from(ports) {
                let address = 0x5001_4050_0000_0000u64
                    | (u64::try_from(n & 0xff).unwrap_or(0) << 16)
                    | u64::try_from(p & 0xff).unwrap_or(0);
                initiators.push(sim.add_initiator(TransportId::Sas { address }));
            }
            let mut paths = Vec::new();
            for &l in &luns {
                let mut per_lun = Vec::new();
                for (p, &i) in initiators.iter().enumerate() {
                    let port = u16::try_from(p).unwrap_or(0).saturating_add(1);
                    if let Ok(path) = sim.path(i, port, l) {
                        per_lun.push(path.named(format!("n{n}p{p}l{}", l.0)));
                    }
                }
                paths.push(per_lun);
            }
            nodes.push(Node { initiators, paths });
        }
        Cluster { sim, luns, nodes }
    }

    /// One logical unit of `config` seen through exactly the given nexuses (initiator
    /// TransportID, relative target port), one path each, in order. Target ports are
    /// `1..=` the highest port named. This mirrors a lab setup for differential tests: see
    /// [`lab_loop_topology`] and [`lab_iscsi_topology`] (the project's lab) and
    /// [`lab_loop_nexuses`] and [`lab_iscsi_nexuses`] (the lab of the LIO captures).
    pub fn single_lun(
        config: LunConfig,
        nexuses: &[(TransportId<'static>, u16)],
    ) -> (Sim, Vec<SimPath>) {
        let ports = nexuses.iter().map(|n| n.1).max().unwrap_or(1).max(1);
        let sim = Sim::new(ports);
        let lun = sim.add_lun(config);
        let mut paths = Vec::new();
        for (k, (tid, port)) in nexuses.iter().enumerate() {
            let i = sim.add_initiator(tid.clone());
            if let Ok(p) = sim.path(i, *port, lun) {
                paths.push(p.named(format!("path{}", k.saturating_add(1))));
            }
        }
        (sim, paths)
    }
}

/// The tcm_loop nexuses of the **fixtures' lab** (the LIO captures in pr-core's
/// `tests/fixtures/lio`, an older lab layout), whose bytes `tests/lio.rs` compares with:
/// `n` paths, path `k` (from 0) is SAS initiator `0x5001405a0000000k` through relative
/// target port `k + 1`. The project's current lab (`lab/README.md`) names its ports
/// differently: see [`lab_loop_topology`].
pub fn lab_loop_nexuses(n: usize) -> Vec<(TransportId<'static>, u16)> {
    (0..n)
        .map(|k| {
            (
                TransportId::Sas {
                    address: 0x5001_405a_0000_0000 | u64::try_from(k).unwrap_or(0),
                },
                u16::try_from(k).unwrap_or(0).saturating_add(1),
            )
        })
        .collect()
}

/// The iSCSI nexuses of the **fixtures' lab** (pr-core's `tests/fixtures/lio`): `n` paths
/// through one target port (relative target port 1); path `k` (from 0) is initiator
/// `iqn.2003-01.org.linux-iscsi.prlab:init.p<n-1-k>` with ISID `00023d00000<k+1>` (the
/// sessions logged in in reverse order in the captures). The project's current lab
/// (`lab/README.md`) names its initiators differently: see [`lab_iscsi_topology`].
pub fn lab_iscsi_nexuses(n: usize) -> Vec<(TransportId<'static>, u16)> {
    (0..n)
        .map(|k| {
            (
                TransportId::Iscsi {
                    name: Cow::Owned(format!(
                        "iqn.2003-01.org.linux-iscsi.prlab:init.p{}",
                        n.saturating_sub(1).saturating_sub(k)
                    )),
                    isid: Some(Cow::Owned(format!("00023d{:06x}", k.saturating_add(1)))),
                },
                1,
            )
        })
        .collect()
}

/// The nexuses of one LUN of the project's lab (`lab/README.md`) over tcm_loop
/// (`lab/run.sh -T loop -p paths -n node2_paths`, Linux 6.1 guest), in the order the lab
/// lists them (`LAB_SG_i` then `LAB_NODE2_SG_i`, as the differential test
/// `tests/tests/lab_diff.rs` of the `pr-tests` crate uses them): node 1's
/// paths, then node 2's. Path `k` of node `d` is SAS initiator port `naa.500140a<d><k as 8
/// hex digits>`, each through its own tcm_loop target port. LIO 6.1 numbers a LUN's
/// target ports in the order they were linked to it, and the lab creates node 2's nexuses
/// first, so node 2's path `k` has relative target port `k + 1` and node 1's path `k` has
/// `node2_paths + k + 1`. (`lab_diff` prints, in every lab run, whether this matches what
/// READ FULL STATUS reports; kernel 6.12 reports relative target port 0 instead.)
pub fn lab_loop_topology(paths: usize, node2_paths: usize) -> Vec<(TransportId<'static>, u16)> {
    let nexus = |node: u64, k: usize, port: usize| {
        (
            TransportId::Sas {
                address: 0x5001_40a0_0000_0000
                    | (node << 32)
                    | u64::try_from(k).unwrap_or(0) & 0xffff_ffff,
            },
            u16::try_from(port).unwrap_or(u16::MAX),
        )
    };
    (0..paths)
        .map(|k| nexus(1, k, node2_paths.saturating_add(k).saturating_add(1)))
        .chain((0..node2_paths).map(|k| nexus(2, k, k.saturating_add(1))))
        .collect()
}

/// The nexuses of one LUN of the project's lab over iSCSI (`lab/run.sh -T iscsi -p paths
/// -n node2_paths`), in the lab's order (node 1's paths, then node 2's), all through the
/// one target port (relative target port 1). Path `k` of node `d` is initiator
/// `iqn.2003-01.org.linux-iscsi.labpr:node<d>.p<k>`; open-iscsi's ISID is `00023d` followed
/// by the session number in login order, and the lab logs node 2 in first, so node 2's
/// path `k` has ISID `00023d` + `k + 1` and node 1's path `k` has `node2_paths + k + 1`
/// (six hex digits).
pub fn lab_iscsi_topology(paths: usize, node2_paths: usize) -> Vec<(TransportId<'static>, u16)> {
    let nexus = |node: u32, k: usize, session: usize| {
        (
            TransportId::Iscsi {
                name: Cow::Owned(format!("iqn.2003-01.org.linux-iscsi.labpr:node{node}.p{k}")),
                isid: Some(Cow::Owned(format!("00023d{session:06x}"))),
            },
            1,
        )
    };
    (0..paths)
        .map(|k| nexus(1, k, node2_paths.saturating_add(k).saturating_add(1)))
        .chain((0..node2_paths).map(|k| nexus(2, k, k.saturating_add(1))))
        .collect()
}

/// The shape of a simulated cluster, for [`Sim::cluster`].
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    /// Number of hosts.
    pub nodes: usize,
    /// Initiator ports per host (and target ports of the target).
    pub paths_per_node: usize,
    /// Shared logical units.
    pub luns: usize,
    /// Configuration of every logical unit.
    pub lun_config: LunConfig,
}

impl Default for ClusterSpec {
    /// Two nodes, two paths each, three SPC-5 logical units.
    fn default() -> Self {
        ClusterSpec {
            nodes: 2,
            paths_per_node: 2,
            luns: 3,
            lun_config: LunConfig::spc5(),
        }
    }
}

/// A simulated cluster built by [`Sim::cluster`].
#[derive(Clone, Debug)]
pub struct Cluster {
    /// The target.
    pub sim: Sim,
    /// Its logical units.
    pub luns: Vec<Lun>,
    /// The hosts.
    pub nodes: Vec<Node>,
}

/// One host of a [`Cluster`].
#[derive(Clone, Debug)]
pub struct Node {
    /// Its initiator ports.
    pub initiators: Vec<InitiatorId>,
    /// Its paths: `paths[lun][path]`.
    pub paths: Vec<Vec<SimPath>>,
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

/// Added latency of a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Latency {
    /// None.
    #[default]
    None,
    /// Always this long.
    Fixed(Duration),
    /// Uniformly distributed in `min..=max` (drawn from the path's seeded generator).
    Uniform {
        /// Shortest.
        min: Duration,
        /// Longest.
        max: Duration,
    },
}

/// A status a fault returns in place of the device server's answer (the command is not
/// executed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Injection {
    /// CHECK CONDITION, UNIT ATTENTION with this ASC/ASCQ.
    UnitAttention(u8, u8),
    /// BUSY.
    Busy,
    /// TASK SET FULL.
    TaskSetFull,
    /// CHECK CONDITION, NOT READY with this ASC/ASCQ (for example 04h/01h LOGICAL UNIT IS
    /// IN PROCESS OF BECOMING READY, 04h/0Ah ASYMMETRIC ACCESS STATE TRANSITION, or 08h/00h
    /// LOGICAL UNIT COMMUNICATION FAILURE as LIO reports a failed APTPL write). Queue it
    /// with [`SimPath::inject`] to answer the next N commands with it.
    NotReady {
        /// Additional sense code.
        asc: u8,
        /// Additional sense code qualifier.
        ascq: u8,
    },
}

impl Injection {
    fn reply(self) -> Reply {
        match self {
            Injection::UnitAttention(a, q) => Reply::check(&Condition::unit_attention(a, q)),
            Injection::Busy => Reply::status(ScsiStatus::BUSY),
            Injection::TaskSetFull => Reply::status(ScsiStatus::TASK_SET_FULL),
            Injection::NotReady { asc, ascq } => {
                Reply::check(&Condition::new(SenseKey::NotReady, asc, ascq))
            }
        }
    }
}

#[derive(Debug)]
struct Faults {
    rng: SplitMix64,
    down: bool,
    latency: Latency,
    timer: crate::timer::Timer,
    queued: std::collections::VecDeque<Injection>,
    random: Option<(Injection, f64)>,
    lose_replies: u32,
    lose_probability: f64,
}

impl Faults {
    fn new(seed: u64) -> Self {
        Faults {
            rng: SplitMix64::new(seed),
            down: false,
            latency: Latency::None,
            timer: crate::timer::Timer::Tokio,
            queued: std::collections::VecDeque::new(),
            random: None,
            lose_replies: 0,
            lose_probability: 0.0,
        }
    }
}

/// The plan for one command, decided under the fault lock.
struct Plan {
    down: bool,
    delay: Duration,
    timer: crate::timer::Timer,
    inject: Option<Injection>,
    lose: bool,
}

/// One I_T nexus to one logical unit: a [`Transport`] into the simulator. Cloning shares the
/// path (and its faults); `Send + Sync`.
#[derive(Clone, Debug)]
pub struct SimPath {
    core: Arc<Mutex<SimCore>>,
    nexus: Nexus,
    /// The device-server view of `nexus` (an initiator's TransportID and the target ports
    /// never change once added, so this is kept outside the simulator's lock).
    it: Arc<ItNexus>,
    lun: Lun,
    name: Arc<str>,
    faults: Arc<Mutex<Faults>>,
    linux_host_bytes: bool,
}

impl SimPath {
    /// The same path under another name (the name shows in errors and the trace).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Arc::from(name.into());
        self
    }

    /// The same path, reporting RESERVATION CONFLICT with host byte `DID_NEXUS_FAILURE`
    /// (11h) as the Linux SCSI mid-layer does (the SCSI status stays 18h).
    pub fn with_linux_host_bytes(mut self) -> Self {
        self.linux_host_bytes = true;
        self
    }

    /// The nexus.
    pub fn nexus(&self) -> Nexus {
        self.nexus
    }

    /// The logical unit.
    pub fn lun(&self) -> Lun {
        self.lun
    }

    /// The device-server view of the nexus (TransportID, relative target port). Always
    /// `Some`; it does not take the simulator's lock, so it may be called inside
    /// [`Sim::with_lun`] (for example to look the path's registration up).
    pub fn it_nexus(&self) -> Option<ItNexus> {
        Some(ItNexus::clone(&self.it))
    }

    /// The simulator this path belongs to.
    pub fn sim(&self) -> Sim {
        Sim {
            core: Arc::clone(&self.core),
        }
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reseeds the path's fault generator (latency draws, probabilistic faults).
    pub fn seed_faults(&self, seed: u64) {
        self.faults().rng = SplitMix64::new(seed);
    }

    /// Takes the path down (`true`: commands fail with [`TransportError::PathDown`] and
    /// never reach the device server) or brings it back up.
    pub fn set_down(&self, down: bool) {
        self.faults().down = down;
    }

    /// Whether the path is down.
    pub fn is_down(&self) -> bool {
        self.faults().down
    }

    /// Sets the added latency (slept with `tokio::time::sleep`, so a paused tokio clock
    /// makes it instantaneous and deterministic).
    pub fn set_latency(&self, latency: Latency) {
        self.faults().latency = latency;
    }

    /// Sets how the added latency is slept: [`Timer::Tokio`](crate::timer::Timer::Tokio)
    /// (the default; millisecond resolution, follows a paused clock) or
    /// [`Timer::Precise`](crate::timer::Timer::Precise) (the real clock, to within tens of
    /// microseconds; for benchmarks that inject sub-millisecond or exact latencies).
    pub fn set_timer(&self, timer: crate::timer::Timer) {
        self.faults().timer = timer;
    }

    /// Answers the next `count` commands with `injection` instead of executing them.
    pub fn inject(&self, injection: Injection, count: usize) {
        let mut f = self.faults();
        for _ in 0..count {
            f.queued.push_back(injection);
        }
    }

    /// Answers each command with `injection` with probability `p` (after any queued
    /// injections); `p = 0` turns it off.
    pub fn inject_with_probability(&self, injection: Injection, p: f64) {
        self.faults().random = (p > 0.0).then_some((injection, p));
    }

    /// The next `count` commands execute, but their replies are lost: the caller gets
    /// [`TransportError::Timeout`] after the device server's state changed.
    pub fn lose_replies(&self, count: u32) {
        self.faults().lose_replies = count;
    }

    /// Loses each reply with probability `p`.
    pub fn lose_replies_with_probability(&self, p: f64) {
        self.faults().lose_probability = p;
    }

    /// Clears every fault of this path (it comes up, with no latency and no injections).
    pub fn clear_faults(&self) {
        let mut f = self.faults();
        f.down = false;
        f.latency = Latency::None;
        f.queued.clear();
        f.random = None;
        f.lose_replies = 0;
        f.lose_probability = 0.0;
    }

    fn plan(&self) -> Plan {
        let mut f = self.faults();
        if f.down {
            return Plan {
                down: true,
                delay: Duration::ZERO,
                timer: f.timer,
                inject: None,
                lose: false,
            };
        }
        let delay = match f.latency {
            Latency::None => Duration::ZERO,
            Latency::Fixed(d) => d,
            Latency::Uniform { min, max } => {
                let span = u64::try_from(max.saturating_sub(min).as_nanos()).unwrap_or(u64::MAX);
                min.saturating_add(Duration::from_nanos(f.rng.below(span.saturating_add(1))))
            }
        };
        let mut inject = f.queued.pop_front();
        if inject.is_none()
            && let Some((i, p)) = f.random
            && f.rng.chance(p)
        {
            inject = Some(i);
        }
        let mut lose = false;
        if inject.is_none() {
            if f.lose_replies > 0 {
                f.lose_replies = f.lose_replies.saturating_sub(1);
                lose = true;
            } else {
                let p = f.lose_probability;
                lose = f.rng.chance(p);
            }
        }
        Plan {
            down: false,
            delay,
            timer: f.timer,
            inject,
            lose,
        }
    }

    /// Executes `request` without latency (faults other than latency still apply). For
    /// synchronous callers and tests.
    pub fn execute_now(&self, request: &Request) -> Result<Response, TransportError> {
        let plan = self.plan();
        self.finish(request, plan, Duration::ZERO)
    }

    fn finish(
        &self,
        request: &Request,
        plan: Plan,
        duration: Duration,
    ) -> Result<Response, TransportError> {
        let cdb = request.cdb.as_bytes();
        let (data_out, data_in_len): (&[u8], usize) = match request.direction {
            DataDirection::ToDevice => (&request.buf, 0),
            DataDirection::FromDevice => (&[], request.buf.len()),
            DataDirection::None => (&[], 0),
        };
        let mut core = lock(&self.core);
        let at = Some((self.nexus, self.lun));
        if plan.down {
            core.record(&self.name, at, cdb, data_out, TraceOutcome::PathDown);
            return Err(TransportError::PathDown {
                device: self.name.to_string(),
                reason: "taken down by the simulator".into(),
            });
        }
        let reply = match plan.inject {
            Some(i) => {
                core.record(&self.name, at, cdb, data_out, TraceOutcome::Injected(i));
                i.reply()
            }
            None => {
                let reply = core.execute_untraced(self.nexus, self.lun, cdb, data_out, data_in_len);
                let outcome = if plan.lose {
                    TraceOutcome::ReplyLost {
                        status: reply.status.0,
                        sense: reply.sense_code(),
                    }
                } else {
                    TraceOutcome::Completed {
                        status: reply.status.0,
                        sense: reply.sense_code(),
                        data_in: reply.data.len(),
                    }
                };
                core.record(&self.name, at, cdb, data_out, outcome);
                if plan.lose {
                    return Err(TransportError::Timeout(request.timeout));
                }
                reply
            }
        };
        drop(core);
        let host_status =
            if self.linux_host_bytes && reply.status.masked() == ScsiStatus::RESERVATION_CONFLICT {
                HostStatus::NEXUS_FAILURE.0
            } else {
                0
            };
        let (buf, residual) = match request.direction {
            DataDirection::FromDevice => {
                let n = reply.data.len().min(request.buf.len());
                let residual = u32::try_from(request.buf.len().saturating_sub(n)).unwrap_or(0);
                let mut d = reply.data;
                d.truncate(n);
                (d, residual)
            }
            DataDirection::ToDevice => (request.buf.clone(), 0),
            DataDirection::None => (Vec::new(), 0),
        };
        Ok(Response {
            completion: Completion {
                status: reply.status,
                sense: reply.sense,
                host_status,
                driver_status: 0,
                residual,
                duration,
            },
            buf,
        })
    }

    async fn run(&self, request: Request) -> Result<Response, TransportError> {
        let plan = self.plan();
        let delay = plan.delay;
        if !plan.down && !delay.is_zero() {
            match plan.timer {
                crate::timer::Timer::Tokio => tokio::time::sleep(delay).await,
                crate::timer::Timer::Precise => crate::timer::precise_sleep(delay).await,
            }
        }
        self.finish(&request, plan, delay)
    }

    /// Restarts the whole target (see [`Sim::power_cycle`]).
    pub fn restart_target(&self) {
        lock(&self.core).power_cycle();
    }
}

impl Transport for SimPath {
    /// Executes the command on the simulated logical unit after the path's faults: a down
    /// path fails at once; latency is slept; an injected status answers without executing;
    /// a lost reply executes and then fails with a timeout. Dropping the future before the
    /// latency has elapsed means the command never executes.
    fn execute(
        &self,
        request: Request,
    ) -> impl std::future::Future<Output = Result<Response, TransportError>> + Send {
        let this = self.clone();
        async move { this.run(request).await }
    }

    fn name(&self) -> &str {
        &self.name
    }
}
