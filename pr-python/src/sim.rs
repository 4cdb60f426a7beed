// SPDX-License-Identifier: MIT OR Apache-2.0
//! The simulator (pr-sim) for Python: targets with logical units, initiator ports and
//! paths, fault injection on each path, a trace, and `Device`s over simulated paths.

use pr_core::transport::Transport;
use pr_multipath::Lun as PrLun;
use pr_sim::{Cluster, ClusterSpec, Injection, Latency, Lun, LunConfig, Sim, SimError, SimPath};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::convert::{count_arg, seconds_arg, tid_arg, u8_arg, u16_arg, uint_arg};
use crate::core::{Handle, no_panic};
use crate::sync::Device;
use crate::tid::PyTransportId;

fn config(personality: &str) -> PyResult<LunConfig> {
    match personality {
        "spc5" => Ok(LunConfig::spc5()),
        "lio" => Ok(LunConfig::lio()),
        other => Err(PyValueError::new_err(format!(
            "personality must be 'spc5' or 'lio', not {other:?}"
        ))),
    }
}

fn sim_err(e: SimError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A `Device` over simulated paths ([`PrLun::simulated`]: each path's SCSI host its
/// initiator port, for ALL_TG_PT).
fn device_of(name: &str, paths: Vec<SimPath>) -> Device {
    Device {
        handle: Handle::new(PrLun::simulated(name, paths)),
    }
}

/// A simulated SCSI target (pr-sim): target ports ``1..=target_ports``, logical units that
/// answer persistent reservations as SPC-5 says (``personality="spc5"``) or as Linux LIO
/// does (``"lio"``), and initiator ports. Nothing is visible to the operating system and no
/// root is needed: it is a test bed for cluster logic.
#[pyclass(frozen, module = "pr_sdk._native", name = "Sim")]
pub(crate) struct PySim {
    sim: Sim,
}

#[pymethods]
impl PySim {
    /// A target with ``target_ports`` target ports (1 to 65535).
    #[new]
    #[pyo3(signature = (target_ports = None))]
    fn new(target_ports: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let ports = match target_ports {
            Some(p) => u16_arg(p, "target_ports")?,
            None => 2,
        };
        if ports == 0 {
            return Err(PyValueError::new_err("target_ports must be at least 1"));
        }
        Ok(PySim {
            sim: Sim::new(ports),
        })
    }

    /// Adds a logical unit and returns its number (from 0).
    #[pyo3(signature = (personality = "spc5", *, serial = None))]
    fn add_lun(&self, py: Python<'_>, personality: &str, serial: Option<String>) -> PyResult<u16> {
        let mut c = config(personality)?;
        if let Some(s) = serial {
            c = c.with_serial(s);
        }
        no_panic(py, || Ok(self.sim.add_lun(c).0))
    }

    /// Adds an initiator port with this TransportID (``TransportId`` or text form) and
    /// returns its number (from 0).
    fn add_initiator(&self, transport_id: &Bound<'_, PyAny>) -> PyResult<usize> {
        let t = tid_arg(transport_id, "transport_id")?;
        Ok(self.sim.add_initiator(t).0)
    }

    /// The relative target port identifiers.
    #[getter]
    fn target_ports(&self) -> Vec<u16> {
        self.sim.target_ports()
    }

    /// The path (I_T nexus to a LUN) of initiator ``initiator`` through target port
    /// ``target_port`` to ``lun``; ``ValueError`` if one of them does not exist.
    #[pyo3(signature = (initiator, target_port, lun, *, name = None))]
    fn path(
        &self,
        initiator: &Bound<'_, PyAny>,
        target_port: &Bound<'_, PyAny>,
        lun: &Bound<'_, PyAny>,
        name: Option<String>,
    ) -> PyResult<PySimPath> {
        let i = pr_sim::InitiatorId(count_arg(initiator, "initiator")?);
        let t = u16_arg(target_port, "target_port")?;
        let l = Lun(u16_arg(lun, "lun")?);
        let mut p = self.sim.path(i, t, l).map_err(sim_err)?;
        if let Some(n) = name {
            p = p.named(n);
        }
        Ok(PySimPath { path: p })
    }

    /// A ``Device`` over ``paths`` (simulated paths to one LUN; path ``i`` counts as SCSI
    /// host ``i``), named ``name``.
    #[pyo3(signature = (paths, *, name = "mpatha"))]
    fn device(&self, paths: &Bound<'_, PyAny>, name: &str) -> PyResult<Device> {
        let mut v = Vec::new();
        let it = paths
            .try_iter()
            .map_err(|_| PyTypeError::new_err("paths must be a sequence of SimPath"))?;
        for (i, p) in it.enumerate() {
            let p = p?;
            let sp = p
                .extract::<PyRef<'_, PySimPath>>()
                .map_err(|_| PyTypeError::new_err(format!("paths[{i}] must be a SimPath")))?;
            v.push(sp.path.clone());
        }
        if v.is_empty() {
            return Err(PyValueError::new_err("paths must not be empty"));
        }
        if let Some(first) = v.first()
            && v.iter().any(|p| p.lun() != first.lun())
        {
            return Err(PyValueError::new_err("paths must all lead to the same LUN"));
        }
        Ok(device_of(name, v))
    }

    /// Power-cycles the target: non-APTPL reservation state is lost, every nexus gets a
    /// UNIT ATTENTION (29h/00h).
    fn power_cycle(&self, py: Python<'_>) {
        py.detach(|| self.sim.power_cycle());
    }

    /// Makes ``lun`` lose its reservation information (for REPLACE LOST RESERVATION).
    fn lose_reservation(&self, lun: &Bound<'_, PyAny>) -> PyResult<()> {
        let l = Lun(u16_arg(lun, "lun")?);
        self.sim.lose_reservation(l).map_err(sim_err)
    }

    /// Every command so far, one line each (most recent 100,000 by default).
    fn trace(&self, py: Python<'_>) -> Vec<String> {
        py.detach(|| self.sim.trace().iter().map(ToString::to_string).collect())
    }

    /// Empties the trace.
    fn clear_trace(&self) {
        self.sim.clear_trace();
    }

    /// The PR generation of ``lun``.
    fn generation(&self, lun: &Bound<'_, PyAny>) -> PyResult<u32> {
        let l = Lun(u16_arg(lun, "lun")?);
        self.sim
            .with_lun(l, |lu| lu.generation())
            .ok_or_else(|| sim_err(SimError::NoLun(l)))
    }

    /// The registrations of ``lun`` as the device server holds them: a list of
    /// ``(key, TransportId, relative_target_port)``.
    fn registrations(&self, lun: &Bound<'_, PyAny>) -> PyResult<Vec<(u64, PyTransportId, u16)>> {
        let l = Lun(u16_arg(lun, "lun")?);
        let regs = self
            .sim
            .with_lun(l, |lu| lu.registrations())
            .ok_or_else(|| sim_err(SimError::NoLun(l)))?;
        Ok(regs
            .into_iter()
            .map(|r| {
                (
                    r.key.0,
                    PyTransportId {
                        tid: r.nexus.initiator,
                    },
                    r.nexus.relative_target_port,
                )
            })
            .collect())
    }

    /// The reservation of ``lun`` as the device server holds it: ``None`` or
    /// ``(type code, holder key)`` (holder key ``None`` for the all-registrants types).
    fn reservation(&self, lun: &Bound<'_, PyAny>) -> PyResult<Option<(u8, Option<u64>)>> {
        let l = Lun(u16_arg(lun, "lun")?);
        self.sim
            .with_lun(l, |lu| {
                lu.reservation().map(|r| {
                    let key = r.holder.as_ref().and_then(|h| {
                        lu.registrations()
                            .into_iter()
                            .find(|g| &g.nexus == h)
                            .map(|g| g.key.0)
                    });
                    (r.reservation_type.code(), key)
                })
            })
            .ok_or_else(|| sim_err(SimError::NoLun(l)))
    }

    /// A human-readable dump of ``lun``'s state.
    fn state_text(&self, lun: &Bound<'_, PyAny>) -> PyResult<String> {
        let l = Lun(u16_arg(lun, "lun")?);
        self.sim
            .with_lun(l, |lu| lu.state_text())
            .ok_or_else(|| sim_err(SimError::NoLun(l)))
    }

    /// A cluster: ``nodes`` hosts with ``paths_per_node`` initiator ports each (and as many
    /// target ports), all seeing ``luns`` logical units.
    #[staticmethod]
    #[pyo3(signature = (nodes = None, paths_per_node = None, luns = None, *, personality = "spc5"))]
    fn cluster(
        nodes: Option<&Bound<'_, PyAny>>,
        paths_per_node: Option<&Bound<'_, PyAny>>,
        luns: Option<&Bound<'_, PyAny>>,
        personality: &str,
    ) -> PyResult<PyCluster> {
        let get = |o: Option<&Bound<'_, PyAny>>,
                   name: &str,
                   default: u64,
                   min: u64,
                   max: u64|
         -> PyResult<usize> {
            let v = match o {
                Some(o) => uint_arg(o, name, max)?,
                None => default,
            };
            if v < min {
                return Err(PyValueError::new_err(format!(
                    "{name} must be at least {min}"
                )));
            }
            Ok(usize::try_from(v).unwrap_or(usize::MAX))
        };
        let spec = ClusterSpec {
            nodes: get(nodes, "nodes", 2, 1, 255)?,
            paths_per_node: get(paths_per_node, "paths_per_node", 2, 1, 255)?,
            luns: get(luns, "luns", 3, 0, 65_536)?,
            lun_config: config(personality)?,
        };
        Ok(PyCluster {
            cluster: Sim::cluster(&spec),
        })
    }

    fn __repr__(&self) -> String {
        format!("<Sim target_ports={:?}>", self.sim.target_ports())
    }
}

/// A simulated cluster (``Sim.cluster``): ``nodes`` hosts, each with paths to every LUN.
#[pyclass(frozen, module = "pr_sdk._native", name = "SimCluster")]
pub(crate) struct PyCluster {
    cluster: Cluster,
}

impl PyCluster {
    fn node_lun(
        &self,
        node: &Bound<'_, PyAny>,
        lun: &Bound<'_, PyAny>,
    ) -> PyResult<(usize, usize)> {
        let n = count_arg(node, "node")?;
        let l = count_arg(lun, "lun")?;
        if n >= self.cluster.nodes.len() {
            return Err(PyValueError::new_err(format!(
                "node must be below {}, got {n}",
                self.cluster.nodes.len()
            )));
        }
        if l >= self.cluster.luns.len() {
            return Err(PyValueError::new_err(format!(
                "lun must be below {}, got {l}",
                self.cluster.luns.len()
            )));
        }
        Ok((n, l))
    }

    fn paths_of(&self, n: usize, l: usize) -> Vec<SimPath> {
        self.cluster
            .nodes
            .get(n)
            .and_then(|node| node.paths.get(l))
            .cloned()
            .unwrap_or_default()
    }
}

#[pymethods]
impl PyCluster {
    /// The simulated target.
    #[getter]
    fn sim(&self) -> PySim {
        PySim {
            sim: self.cluster.sim.clone(),
        }
    }

    /// The LUN numbers.
    #[getter]
    fn luns(&self) -> Vec<u16> {
        self.cluster.luns.iter().map(|l| l.0).collect()
    }

    /// The number of nodes.
    #[getter]
    fn nodes(&self) -> usize {
        self.cluster.nodes.len()
    }

    /// The paths of node ``node`` to LUN ``lun``.
    fn paths(&self, node: &Bound<'_, PyAny>, lun: &Bound<'_, PyAny>) -> PyResult<Vec<PySimPath>> {
        let (n, l) = self.node_lun(node, lun)?;
        Ok(self
            .paths_of(n, l)
            .into_iter()
            .map(|path| PySimPath { path })
            .collect())
    }

    /// Node ``node``'s ``Device`` for LUN ``lun`` (named ``lun<N>`` unless ``name`` says
    /// otherwise; each call builds a new view, with its own path states and hold record).
    #[pyo3(signature = (node, lun, *, name = None))]
    fn device(
        &self,
        node: &Bound<'_, PyAny>,
        lun: &Bound<'_, PyAny>,
        name: Option<String>,
    ) -> PyResult<Device> {
        let (n, l) = self.node_lun(node, lun)?;
        let name = name.unwrap_or_else(|| format!("lun{l}"));
        Ok(device_of(&name, self.paths_of(n, l)))
    }

    /// Node ``node``'s ``Device`` for every LUN, in LUN order.
    fn devices(&self, node: &Bound<'_, PyAny>) -> PyResult<Vec<Device>> {
        let n = count_arg(node, "node")?;
        if n >= self.cluster.nodes.len() {
            return Err(PyValueError::new_err(format!(
                "node must be below {}, got {n}",
                self.cluster.nodes.len()
            )));
        }
        Ok((0..self.cluster.luns.len())
            .map(|l| device_of(&format!("lun{l}"), self.paths_of(n, l)))
            .collect())
    }

    fn __repr__(&self) -> String {
        format!(
            "<SimCluster nodes={} luns={}>",
            self.cluster.nodes.len(),
            self.cluster.luns.len()
        )
    }
}

/// One simulated path (an I_T nexus to one LUN) and its faults. Faults apply to every
/// ``Device`` using the path.
#[pyclass(frozen, module = "pr_sdk._native", name = "SimPath")]
pub(crate) struct PySimPath {
    pub(crate) path: SimPath,
}

#[pymethods]
impl PySimPath {
    /// The path's name (in errors, reports and the trace).
    #[getter]
    fn name(&self) -> String {
        self.path.name().to_owned()
    }

    /// The LUN number.
    #[getter]
    fn lun(&self) -> u16 {
        self.path.lun().0
    }

    /// The initiator port number.
    #[getter]
    fn initiator(&self) -> usize {
        self.path.nexus().initiator.0
    }

    /// The relative target port identifier.
    #[getter]
    fn target_port(&self) -> u16 {
        self.path.nexus().target_port
    }

    /// The initiator port's TransportID.
    #[getter]
    fn transport_id(&self) -> Option<PyTransportId> {
        self.path
            .it_nexus()
            .map(|n| PyTransportId { tid: n.initiator })
    }

    /// Takes the path down (commands fail with ``PathDownError`` without reaching the
    /// LUN) or, with ``down=False``, brings it back.
    #[pyo3(signature = (down = true))]
    fn set_down(&self, down: bool) {
        self.path.set_down(down);
    }

    /// Whether the path is down.
    #[getter]
    fn is_down(&self) -> bool {
        self.path.is_down()
    }

    /// Adds latency to every command: ``seconds``, or uniform in ``seconds..=max_seconds``;
    /// ``None`` removes it. A command is executed when its latency has elapsed.
    #[pyo3(signature = (seconds, max_seconds = None))]
    fn set_latency(
        &self,
        seconds: Option<&Bound<'_, PyAny>>,
        max_seconds: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let latency = match (seconds, max_seconds) {
            (None, None) => Latency::None,
            (None, Some(_)) => {
                return Err(PyValueError::new_err("max_seconds needs seconds"));
            }
            (Some(s), None) => Latency::Fixed(seconds_arg(s, "seconds")?),
            (Some(s), Some(m)) => {
                let min = seconds_arg(s, "seconds")?;
                let max = seconds_arg(m, "max_seconds")?;
                if max < min {
                    return Err(PyValueError::new_err(
                        "max_seconds must not be below seconds",
                    ));
                }
                Latency::Uniform { min, max }
            }
        };
        self.path.set_latency(latency);
        Ok(())
    }

    /// Answers the next ``count`` commands with CHECK CONDITION, UNIT ATTENTION
    /// ``asc``/``ascq`` (they are not executed).
    #[pyo3(signature = (asc, ascq, count = None))]
    fn inject_unit_attention(
        &self,
        asc: &Bound<'_, PyAny>,
        ascq: &Bound<'_, PyAny>,
        count: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let i = Injection::UnitAttention(u8_arg(asc, "asc")?, u8_arg(ascq, "ascq")?);
        self.path.inject(i, count_or_one(count)?);
        Ok(())
    }

    /// Answers the next ``count`` commands with CHECK CONDITION, NOT READY ``asc``/``ascq``.
    #[pyo3(signature = (asc, ascq, count = None))]
    fn inject_not_ready(
        &self,
        asc: &Bound<'_, PyAny>,
        ascq: &Bound<'_, PyAny>,
        count: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let i = Injection::NotReady {
            asc: u8_arg(asc, "asc")?,
            ascq: u8_arg(ascq, "ascq")?,
        };
        self.path.inject(i, count_or_one(count)?);
        Ok(())
    }

    /// Answers the next ``count`` commands with BUSY.
    #[pyo3(signature = (count = None))]
    fn inject_busy(&self, count: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.path.inject(Injection::Busy, count_or_one(count)?);
        Ok(())
    }

    /// Answers the next ``count`` commands with TASK SET FULL.
    #[pyo3(signature = (count = None))]
    fn inject_task_set_full(&self, count: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.path
            .inject(Injection::TaskSetFull, count_or_one(count)?);
        Ok(())
    }

    /// The next ``count`` commands execute but their replies are lost: the caller sees a
    /// timeout (``CommandTimeoutError``) although the LUN's state changed.
    #[pyo3(signature = (count = None))]
    fn lose_replies(&self, count: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let n = count_or_one(count)?;
        self.path.lose_replies(u32::try_from(n).unwrap_or(u32::MAX));
        Ok(())
    }

    /// Clears every fault (up, no latency, no injections, no lost replies).
    fn clear_faults(&self) {
        self.path.clear_faults();
    }

    /// Reseeds the path's fault generator (uniform latency draws).
    fn seed_faults(&self, seed: &Bound<'_, PyAny>) -> PyResult<()> {
        self.path.seed_faults(uint_arg(seed, "seed", u64::MAX)?);
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!(
            "<SimPath {} lun={} initiator={} target_port={}>",
            self.path.name(),
            self.path.lun().0,
            self.path.nexus().initiator.0,
            self.path.nexus().target_port
        )
    }
}

fn count_or_one(count: Option<&Bound<'_, PyAny>>) -> PyResult<usize> {
    match count {
        Some(c) => count_arg(c, "count"),
        None => Ok(1),
    }
}
