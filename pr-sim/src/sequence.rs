//! Random but reproducible PR command sequences for differential testing, and a runner that
//! executes them on any [`Transport`]s and records what came back.
//!
//! A sequence ([`generate`]) is a list of raw [`Step`]s: which nexus sends it, the CDB, the
//! data-out bytes and the data-in room. Keys come from a small pool so that collisions
//! happen; every PR IN and PR OUT service action, every type and the flags appear, with
//! occasional invalid service actions, types, scopes and parameter list lengths, and SPEC_I_PT
//! and REGISTER AND MOVE name the TransportIDs of the known nexuses.
//!
//! [`run`] executes a sequence on a set of paths (index = nexus) and, after each step, issues
//! the four PR IN service actions from an observer path, re-issuing each while it returns a
//! UNIT ATTENTION (the consumed conditions are recorded). Two runs compare with
//! [`first_divergence`]: sim against sim, or (in the lab) LIO against a simulator with the
//! LIO personality of its kernel ([`Personality::lio_for_kernel`](crate::Personality::lio_for_kernel)).
//!
//! ```
//! use pr_sim::sequence::{self as seq, GenConfig};
//! use pr_sim::{LunConfig, Sim, lab_loop_nexuses};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let nexuses = lab_loop_nexuses(3);
//! let steps = seq::generate(&GenConfig::new(7, 50, nexuses.clone()));
//! let (_, a) = Sim::single_lun(LunConfig::spc5(), &nexuses);
//! let (_, b) = Sim::single_lun(LunConfig::spc5(), &nexuses);
//! let ra = seq::run(&steps, &a, 0).await;
//! let rb = seq::run(&steps, &b, 0).await;
//! assert!(seq::first_divergence(&ra, &rb).is_none());
//! # });
//! ```

use std::fmt;

use pr_core::cdb::{PrInCdb, PrOutCdb};
use pr_core::transport::{Cdb, Request, Transport};
use pr_core::transport_id::TransportId;
use pr_core::types::PrInAction;

use crate::rng::SplitMix64;

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// The seed: the same configuration always gives the same sequence.
    pub seed: u64,
    /// Number of steps.
    pub steps: usize,
    /// The nexuses (initiator TransportID, relative target port), indexed as the paths
    /// the sequence will run on.
    pub nexuses: Vec<(TransportId<'static>, u16)>,
    /// The key pool (0 is added to it). Small pools make collisions.
    pub keys: Vec<u64>,
    /// Probability that a step carries an invalid field (service action, type, scope,
    /// parameter list length, allocation length).
    pub invalid_rate: f64,
    /// Probability that a step is a media-access command (TEST UNIT READY, READ, WRITE)
    /// rather than a PR command.
    pub media_rate: f64,
    /// Whether PREEMPT AND ABORT may be generated (it deadlocks LIO over tcm_loop).
    pub preempt_and_abort: bool,
    /// Whether APTPL may be set.
    pub aptpl: bool,
}

impl GenConfig {
    /// Defaults: keys 0x1111, 0x2222, 0x3333; 8% invalid steps; 10% media access; PREEMPT
    /// AND ABORT and APTPL included.
    pub fn new(seed: u64, steps: usize, nexuses: Vec<(TransportId<'static>, u16)>) -> Self {
        GenConfig {
            seed,
            steps,
            nexuses,
            keys: vec![0x1111, 0x2222, 0x3333],
            invalid_rate: 0.08,
            media_rate: 0.10,
            preempt_and_abort: true,
            aptpl: true,
        }
    }
}

/// One generated command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Index of the nexus (path) that sends it.
    pub nexus: usize,
    /// The CDB.
    pub cdb: Vec<u8>,
    /// Data-out bytes (empty for commands without a data-out phase).
    pub data_out: Vec<u8>,
    /// Room for data-in (0 for commands without a data-in phase).
    pub data_in_len: usize,
}

impl Step {
    /// The request this step sends.
    pub fn request(&self) -> Option<Request> {
        let cdb = Cdb::new(&self.cdb)?;
        Some(if !self.data_out.is_empty() {
            Request::data_out(cdb, self.data_out.clone())
        } else if self.data_in_len > 0 {
            Request::data_in(cdb, self.data_in_len)
        } else {
            Request::no_data(cdb)
        })
    }
}

impl fmt::Display for Step {
    /// `n1 5f 00 00 00 00 00 00 00 18 00 | <data hex>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.nexus)?;
        for b in &self.cdb {
            write!(f, " {b:02x}")?;
        }
        if !self.data_out.is_empty() {
            f.write_str(" |")?;
            for b in &self.data_out {
                write!(f, "{b:02x}")?;
            }
        }
        Ok(())
    }
}

fn tid_bytes(t: &TransportId<'_>) -> Vec<u8> {
    let mut v = vec![0u8; t.encoded_len()];
    let n = t.encode(&mut v).unwrap_or(0);
    v.truncate(n);
    v
}

const VALID_TYPES: [u8; 6] = [1, 3, 5, 6, 7, 8];
const INVALID_TYPES: [u8; 5] = [0, 2, 4, 9, 0xf];

/// Generates a sequence.
pub fn generate(cfg: &GenConfig) -> Vec<Step> {
    let mut rng = SplitMix64::new(cfg.seed);
    let n = cfg.nexuses.len().max(1);
    let mut keys = vec![0u64];
    keys.extend(cfg.keys.iter().copied().filter(|k| *k != 0));
    (0..cfg.steps)
        .map(|_| {
            let nexus = rng.index(n);
            if rng.chance(cfg.media_rate) {
                media_step(&mut rng, nexus)
            } else if rng.chance(0.15) {
                prin_step(&mut rng, cfg, nexus)
            } else {
                prout_step(&mut rng, cfg, &keys, nexus)
            }
        })
        .collect()
}

fn media_step(rng: &mut SplitMix64, nexus: usize) -> Step {
    match rng.below(3) {
        0 => Step {
            nexus,
            cdb: vec![0; 6],
            data_out: Vec::new(),
            data_in_len: 0,
        },
        1 => Step {
            nexus,
            cdb: vec![0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0],
            data_out: Vec::new(),
            data_in_len: 512,
        },
        _ => Step {
            nexus,
            cdb: vec![0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0],
            data_out: vec![0xa5; 512],
            data_in_len: 0,
        },
    }
}

fn prin_step(rng: &mut SplitMix64, cfg: &GenConfig, nexus: usize) -> Step {
    let sa = if rng.chance(cfg.invalid_rate) {
        0x1f
    } else {
        u8::try_from(rng.below(4)).unwrap_or(0)
    };
    let allocs: [u16; 12] = [0, 4, 6, 7, 8, 16, 22, 24, 40, 64, 100, 8192];
    let alloc = if rng.chance(0.3) {
        allocs.get(rng.index(allocs.len())).copied().unwrap_or(8192)
    } else {
        8192
    };
    let c = PrInCdb {
        service_action: sa,
        allocation_length: alloc,
        control: 0,
    };
    Step {
        nexus,
        cdb: c.to_bytes().to_vec(),
        data_out: Vec::new(),
        data_in_len: usize::from(alloc).max(1),
    }
}

fn prout_step(rng: &mut SplitMix64, cfg: &GenConfig, keys: &[u64], nexus: usize) -> Step {
    let invalid = rng.chance(cfg.invalid_rate);
    let mut sa = u8::try_from(rng.below(9)).unwrap_or(0);
    if sa == 5 && !cfg.preempt_and_abort {
        sa = 4;
    }
    // REGISTER-family actions are the most useful: weigh them up.
    if rng.chance(0.25) {
        sa = if rng.chance(0.5) { 0 } else { 6 };
    }
    let mut ty = *rng.pick(&VALID_TYPES).unwrap_or(&1);
    let mut scope = 0u8;
    let key = *rng.pick(keys).unwrap_or(&0);
    let sa_key = *rng.pick(keys).unwrap_or(&0);
    let mut data;
    if sa == 7 {
        // REGISTER AND MOVE to a known nexus.
        let dest = rng.index(cfg.nexuses.len().max(1));
        let (tid, port) = cfg
            .nexuses
            .get(dest)
            .cloned()
            .unwrap_or((TransportId::Sas { address: 1 }, 1));
        let port = if rng.chance(0.05) {
            port.wrapping_add(7)
        } else {
            port
        };
        let t = tid_bytes(&tid);
        data = vec![0u8; 24];
        data[..8].copy_from_slice(&key.to_be_bytes());
        data[8..16].copy_from_slice(&sa_key.to_be_bytes());
        let mut f = 0u8;
        if rng.chance(0.3) {
            f |= 0x02;
        }
        if cfg.aptpl && rng.chance(0.05) {
            f |= 0x01;
        }
        data[17] = f;
        data[18..20].copy_from_slice(&port.to_be_bytes());
        data[20..24].copy_from_slice(&u32::try_from(t.len()).unwrap_or(0).to_be_bytes());
        data.extend_from_slice(&t);
        if ty == 7 || ty == 8 {
            ty = 1;
        }
    } else {
        data = vec![0u8; 24];
        data[..8].copy_from_slice(&key.to_be_bytes());
        data[8..16].copy_from_slice(&sa_key.to_be_bytes());
        let mut f = 0u8;
        let register = sa == 0 || sa == 6;
        if register && rng.chance(0.1) {
            f |= 0x04;
        }
        if cfg.aptpl && register && rng.chance(0.05) {
            f |= 0x01;
        }
        let spec = (sa == 0 && rng.chance(0.12)) || rng.chance(0.01);
        if spec {
            f |= 0x08;
            let count = 1 + rng.index(2);
            let mut list = Vec::new();
            for _ in 0..count {
                if let Some((tid, _)) = cfg.nexuses.get(rng.index(cfg.nexuses.len().max(1))) {
                    list.extend_from_slice(&tid_bytes(tid));
                }
            }
            data.extend_from_slice(&u32::try_from(list.len()).unwrap_or(0).to_be_bytes());
            data.extend_from_slice(&list);
        }
        data[20] = f;
    }
    if invalid {
        match rng.below(4) {
            0 => sa = 0x1f,
            1 => ty = *rng.pick(&INVALID_TYPES).unwrap_or(&0),
            2 => scope = 1,
            _ => {
                let lens = [0usize, 16, 23, 25, 32];
                let l = lens.get(rng.index(lens.len())).copied().unwrap_or(16);
                data.resize(l, 0);
            }
        }
    }
    let c = PrOutCdb {
        service_action: sa,
        scope,
        type_code: if matches!(sa, 0 | 3 | 6) { 0 } else { ty },
        parameter_list_length: u32::try_from(data.len()).unwrap_or(0),
        control: 0,
    };
    Step {
        nexus,
        cdb: c.to_bytes().to_vec(),
        data_out: data,
        data_in_len: 0,
    }
}

/// How a command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It completed with this status (and sense key, ASC, ASCQ).
    Status {
        /// SAM status byte.
        status: u8,
        /// Sense key, ASC, ASCQ.
        sense: Option<(u8, u8, u8)>,
    },
    /// The transport failed it (the error's text).
    Transport(String),
}

/// One PR IN issued by the observer after a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The service action.
    pub action: PrInAction,
    /// How it ended (after unit attentions were consumed).
    pub outcome: Outcome,
    /// The response bytes.
    pub data: Vec<u8>,
    /// Unit attentions it consumed before it completed (ASC, ASCQ).
    pub unit_attentions: Vec<(u8, u8)>,
}

/// What one step did and what the observer saw after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepRecord {
    /// The step's own outcome.
    pub outcome: Outcome,
    /// The step's own data-in when it is a PERSISTENT RESERVE IN (its allocation length
    /// varies, so this is where truncation shows); empty for every other command (READ data
    /// is not compared: it depends on what the medium held before the sequence).
    pub data: Vec<u8>,
    /// READ KEYS, READ RESERVATION, REPORT CAPABILITIES, READ FULL STATUS from the observer.
    pub observations: Vec<Observation>,
}

async fn exec<T: Transport>(t: &T, req: Request) -> (Outcome, Vec<u8>) {
    match t.execute(req).await {
        Ok(r) => {
            let sense = r
                .completion
                .sense()
                .map(|s| (s.key().code(), s.asc().unwrap_or(0), s.ascq().unwrap_or(0)));
            (
                Outcome::Status {
                    status: r.completion.status.0,
                    sense,
                },
                r.buf,
            )
        }
        Err(e) => (Outcome::Transport(e.to_string()), Vec::new()),
    }
}

/// Executes `steps` on `paths` (step `nexus` index = path index; a step naming a missing
/// path is recorded as a transport error) and observes through `paths[observer]`.
pub async fn run<T: Transport>(steps: &[Step], paths: &[T], observer: usize) -> Vec<StepRecord> {
    let mut out = Vec::with_capacity(steps.len());
    for s in steps {
        out.push(run_step(s, paths, observer).await);
    }
    out
}

/// Executes one step on `paths` and observes through `paths[observer]` (what [`run`] does
/// for each step; for running two targets in lock step and stopping at the first
/// difference).
pub async fn run_step<T: Transport>(s: &Step, paths: &[T], observer: usize) -> StepRecord {
    let (outcome, data) = match (paths.get(s.nexus), s.request()) {
        (Some(p), Some(req)) => exec(p, req).await,
        _ => (
            Outcome::Transport("no such path or empty CDB".into()),
            Vec::new(),
        ),
    };
    let good = matches!(outcome, Outcome::Status { status: 0, .. });
    let data = if good && s.cdb.first() == Some(&0x5e) {
        data
    } else {
        Vec::new()
    };
    let mut observations = Vec::new();
    if let Some(obs) = paths.get(observer) {
        for action in PrInAction::ALL {
            observations.push(observe(obs, action).await);
        }
    }
    StepRecord {
        outcome,
        data,
        observations,
    }
}

/// Issues one PR IN (allocation length 8192) from `path`, re-issuing it while it returns a
/// UNIT ATTENTION (at most 8 times).
pub async fn observe<T: Transport>(path: &T, action: PrInAction) -> Observation {
    let cdb = Cdb::from(PrInCdb::new(action, 8192).to_bytes());
    let mut uas = Vec::new();
    loop {
        let (outcome, data) = exec(path, Request::data_in(cdb, 8192)).await;
        if let Outcome::Status {
            sense: Some((6, asc, ascq)),
            ..
        } = outcome
            && uas.len() < 8
        {
            uas.push((asc, ascq));
            continue;
        }
        return Observation {
            action,
            outcome,
            data,
            unit_attentions: uas,
        };
    }
}

/// Where two runs first differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The step index.
    pub step: usize,
    /// What differs, in words.
    pub detail: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {}: {}", self.step, self.detail)
    }
}

/// Compares two step records; `None` when identical.
pub fn compare(a: &StepRecord, b: &StepRecord) -> Option<String> {
    if a.outcome != b.outcome {
        return Some(format!("outcome {:?} vs {:?}", a.outcome, b.outcome));
    }
    if a.data != b.data {
        return Some(format!("data-in {:02x?} vs {:02x?}", a.data, b.data));
    }
    for (x, y) in a.observations.iter().zip(&b.observations) {
        if x != y {
            return Some(format!(
                "{}: {:?} {:02x?} UAs {:02x?} vs {:?} {:02x?} UAs {:02x?}",
                x.action,
                x.outcome,
                x.data,
                x.unit_attentions,
                y.outcome,
                y.data,
                y.unit_attentions
            ));
        }
    }
    if a.observations.len() != b.observations.len() {
        return Some("different number of observations".into());
    }
    None
}

/// The first step where two runs differ.
pub fn first_divergence(a: &[StepRecord], b: &[StepRecord]) -> Option<Divergence> {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if let Some(detail) = compare(x, y) {
            return Some(Divergence { step: i, detail });
        }
    }
    (a.len() != b.len()).then(|| Divergence {
        step: a.len().min(b.len()),
        detail: format!("{} steps vs {}", a.len(), b.len()),
    })
}
