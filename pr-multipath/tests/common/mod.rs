//! Shared test helpers: LUNs over pr-sim paths, a recording MapControl, an in-memory
//! multipathd, and a wrapper transport that injects NOT READY.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use pr_core::outcome::{Completion, SenseBuf};
use pr_core::sense::ScsiStatus;
use pr_core::transport::{Request, Response, Transport, TransportError};
use pr_core::types::ReservationKey;
use pr_multipath::multipathd::{CommandChannel, MultipathdError};
use pr_multipath::{MapControl, MultipathLun, Path};
use pr_sim::sim::{Lun, SimPath};
use pr_sim::{ClusterSpec, LunConfig, Sim};

/// A cluster of `nodes` hosts with `paths` paths each to `luns` LUNs.
pub fn cluster(nodes: usize, paths: usize, luns: usize, config: LunConfig) -> pr_sim::sim::Cluster {
    Sim::cluster(&ClusterSpec {
        nodes,
        paths_per_node: paths,
        luns,
        lun_config: config,
    })
}

/// The LUN of node `node`, LUN index `l`: one path per initiator port, host = port index.
pub fn lun_of(c: &pr_sim::sim::Cluster, node: usize, l: usize) -> MultipathLun<SimPath> {
    let paths = c.nodes[node].paths[l]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Path::new(p.name().to_owned(), p.clone())
                .with_host(u32::try_from(i).unwrap())
                .with_dev_t(format!("8:{}", i * 16))
        })
        .collect();
    MultipathLun::new(format!("mpath{node}l{l}"), paths)
}

/// Registrations of the given paths' nexuses on the LU: path name -> key.
pub fn keys_of(sim: &Sim, lun: Lun, paths: &[SimPath]) -> HashMap<String, Option<ReservationKey>> {
    let nexuses: Vec<_> = paths.iter().map(|p| p.it_nexus().unwrap()).collect();
    sim.with_lun(lun, |lu| {
        let regs = lu.registrations();
        paths
            .iter()
            .zip(nexuses)
            .map(|(p, it)| {
                let k = regs.iter().find(|r| r.nexus == it).map(|r| r.key);
                (p.name().to_owned(), k)
            })
            .collect()
    })
    .unwrap()
}

/// The reservation's holder key (by looking up the holder nexus's registration) and type.
pub fn reservation_of(sim: &Sim, lun: Lun) -> Option<(Option<ReservationKey>, u8)> {
    sim.with_lun(lun, |lu| {
        lu.reservation().map(|r| {
            let key = r.holder.as_ref().and_then(|h| {
                lu.registrations()
                    .iter()
                    .find(|g| &g.nexus == h)
                    .map(|g| g.key)
            });
            (key, r.reservation_type.code())
        })
    })
    .unwrap()
}

/// A MapControl that records its calls (with, when `sim` is set, the simulator trace length
/// at the time of the call, so tests can place it among the commands).
#[derive(Default)]
pub struct FakeMap {
    pub calls: Mutex<Vec<String>>,
    pub at: Mutex<Vec<usize>>,
    pub fail_suspend: bool,
    pub sim: Option<Sim>,
}

impl FakeMap {
    pub fn with_sim(sim: &Sim) -> Arc<Self> {
        Arc::new(FakeMap {
            sim: Some(sim.clone()),
            ..FakeMap::default()
        })
    }
    fn mark(&self) {
        if let Some(s) = &self.sim {
            self.at.lock().unwrap().push(s.trace().len());
        }
    }
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl MapControl for FakeMap {
    fn suspend_noflush<'a>(&'a self, map: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.calls.lock().unwrap().push(format!("suspend {map}"));
            self.mark();
            if self.fail_suspend {
                Err("EBUSY".into())
            } else {
                Ok(())
            }
        })
    }
    fn resume<'a>(&'a self, map: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.calls.lock().unwrap().push(format!("resume {map}"));
            self.mark();
            Ok(())
        })
    }
}

/// An in-memory multipathd: `modern` has prhold (0.13+), otherwise it answers `fail` to the
/// prhold commands and to `pathlist` like 0.9.4.
pub struct FakeDaemon {
    pub modern: bool,
    pub log: Mutex<Vec<String>>,
    pub state: Mutex<HashMap<String, String>>,
}

impl FakeDaemon {
    pub fn new(modern: bool) -> Arc<Self> {
        Arc::new(FakeDaemon {
            modern,
            log: Mutex::new(Vec::new()),
            state: Mutex::new(HashMap::new()),
        })
    }
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
    pub fn get(&self, what: &str) -> Option<String> {
        self.state.lock().unwrap().get(what).cloned()
    }
    pub fn set(&self, what: &str, v: &str) {
        self.state.lock().unwrap().insert(what.into(), v.into());
    }
}

/// The reply a multipathd would give (shared by the in-memory fake and the socket fake).
pub fn daemon_reply(modern: bool, state: &Mutex<HashMap<String, String>>, cmd: &str) -> String {
    let w: Vec<&str> = cmd.split_whitespace().collect();
    let mut st = state.lock().unwrap();
    let flag = |v: Option<&String>| match v.map(String::as_str) {
        Some("set") => "set\n".to_owned(),
        _ => "unset\n".to_owned(),
    };
    match w.as_slice() {
        ["getprstatus", "map", _] => flag(st.get("prstatus")),
        ["setprstatus", "map", _] => {
            st.insert("prstatus".into(), "set".into());
            "ok\n".into()
        }
        ["setprstatus", "map", _, "pathlist", ..] if modern => {
            st.insert("prstatus".into(), "set".into());
            st.insert("pathlist".into(), w[4..].join(" "));
            "ok\n".into()
        }
        ["unsetprstatus", "map", _] => {
            st.insert("prstatus".into(), "unset".into());
            st.insert("prhold".into(), "unset".into());
            "ok\n".into()
        }
        ["getprhold", "map", _] if modern => flag(st.get("prhold")),
        ["setprhold", "map", _] if modern => {
            st.insert("prhold".into(), "set".into());
            "ok\n".into()
        }
        ["unsetprhold", "map", _] if modern => {
            st.insert("prhold".into(), "unset".into());
            "ok\n".into()
        }
        ["setprkey", "map", _, "key", k] => {
            st.insert("prkey".into(), (*k).to_owned());
            "ok\n".into()
        }
        ["unsetprkey", "map", _] => {
            st.remove("prkey");
            "ok\n".into()
        }
        ["getprkey", "map", _] => match st.get("prkey") {
            Some(k) => format!("0x{k}\n"),
            None => "none\n".into(),
        },
        _ => "fail\n".into(),
    }
}

impl CommandChannel for FakeDaemon {
    fn send<'a>(&'a self, command: &'a str) -> BoxFuture<'a, Result<String, MultipathdError>> {
        Box::pin(async move {
            self.log.lock().unwrap().push(command.to_owned());
            Ok(daemon_reply(self.modern, &self.state, command))
        })
    }
}

/// Wraps a transport: the next `not_ready` commands answer NOT READY, LOGICAL UNIT IS IN
/// PROCESS OF BECOMING READY (04h/01h) without reaching the device.
pub struct NotReady<T> {
    pub inner: T,
    pub not_ready: AtomicU32,
    pub seen: AtomicU32,
}

impl<T> NotReady<T> {
    pub fn new(inner: T, n: u32) -> Self {
        NotReady {
            inner,
            not_ready: AtomicU32::new(n),
            seen: AtomicU32::new(0),
        }
    }
}

impl<T: Transport> Transport for NotReady<T> {
    async fn execute(&self, request: Request) -> Result<Response, TransportError> {
        self.seen.fetch_add(1, Ordering::SeqCst);
        if self
            .not_ready
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            let sense = [
                0x70, 0, 0x02, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x04, 0x01, 0, 0, 0, 0,
            ];
            return Ok(Response {
                completion: Completion {
                    status: ScsiStatus::CHECK_CONDITION,
                    sense: SenseBuf::new(&sense),
                    host_status: 0,
                    driver_status: 0,
                    residual: 0,
                    duration: std::time::Duration::ZERO,
                },
                buf: Vec::new(),
            });
        }
        self.inner.execute(request).await
    }
    fn name(&self) -> &str {
        self.inner.name()
    }
}

/// The simulator's trace as `path ACTION` lines (PR OUT by name, PR IN as `IN <sa>`), with
/// `suspend`/`resume` of `map` placed where they happened.
pub fn sequence(sim: &Sim, map: Option<&FakeMap>) -> Vec<String> {
    let trace = sim.trace();
    let marks: Vec<(usize, String)> = map
        .map(|m| {
            m.at.lock()
                .unwrap()
                .iter()
                .copied()
                .zip(
                    m.calls()
                        .into_iter()
                        .map(|c| c.split(' ').next().unwrap().to_owned()),
                )
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for (i, t) in trace.iter().enumerate() {
        for (at, c) in &marks {
            if *at == i {
                out.push(c.clone());
            }
        }
        if t.cdb.is_empty() {
            continue;
        }
        let what = match t.cdb[0] {
            0x5f => pr_core::types::PrOutAction::from_code(t.cdb[1] & 0x1f)
                .map_or("?".to_owned(), |a| a.name().to_owned()),
            0x5e => format!("IN {}", t.cdb[1] & 0x1f),
            op => format!("op {op:02x}"),
        };
        let down = matches!(t.outcome, pr_sim::sim::TraceOutcome::PathDown);
        out.push(format!(
            "{} {}{}",
            t.path,
            what,
            if down { " (down)" } else { "" }
        ));
    }
    for (at, c) in &marks {
        if *at >= trace.len() {
            out.push(c.clone());
        }
    }
    out
}
