//! Helpers of pr-multipath's lab proofs (`lab_mpath.rs`): the lab topology from the
//! `LAB_*` variables, the LUN state read as READ FULL STATUS (keys per nexus, holder, type)
//! through a node-2 nexus, node-2 actions through pr-sgio, Debian's `mpathpersist` as the
//! reference for node 1, and the reset between runs.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pr_core::prout::PrOut;
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, ReservationKey, ReservationType};
use pr_lab_support::raw::{self, PrInOptions};
use pr_sgio::Device;

#[allow(unused_imports)] // each lab test binary uses a different subset
pub use pr_lab_support::{LabLun, need, run};

/// One LUN of the lab, with the extra checks of these tests.
#[derive(Clone, Debug)]
pub struct Lab(pub LabLun);

impl std::ops::Deref for Lab {
    type Target = LabLun;
    fn deref(&self) -> &LabLun {
        &self.0
    }
}

impl Lab {
    /// LUN `i`, checked: 2+ node-1 paths, 1+ node-2 path, `mpathpersist` and `multipathd`
    /// present.
    pub fn get(i: usize) -> Lab {
        let lab = Lab(LabLun::get(i));
        for tool in ["/sbin/mpathpersist", "/sbin/multipathd"] {
            assert!(
                std::path::Path::new(tool).exists(),
                "{tool} is missing: the lab guest needs Debian's multipath-tools (sudo lab/setup.sh)"
            );
        }
        lab
    }

    /// The node-2 device (pr-sgio, outside every map).
    pub fn node2_dev(&self) -> Device {
        Device::open(&self.node2[0]).unwrap_or_else(|e| panic!("{}: {e}", self.node2[0].display()))
    }

    /// The label of an initiator port name: `n1p<i>`, `n2p<i>`, `added` or the name.
    pub fn label(&self, initiator: &str) -> String {
        if let Some(i) = self.initiators.iter().position(|n| n == initiator) {
            return format!("n1p{i}");
        }
        if let Some(i) = self.node2_initiators.iter().position(|n| n == initiator) {
            return format!("n2p{i}");
        }
        if initiator.starts_with("naa.500140a3") || initiator.contains(":added.p") {
            return "added".into();
        }
        initiator.to_owned()
    }

    /// The node-1 path (`/dev/sdX`) of label `n1p<i>`.
    pub fn path_of(&self, label: &str) -> PathBuf {
        let i: usize = label
            .strip_prefix("n1p")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{label} is not a node-1 nexus"));
        self.paths[i].clone()
    }
}

pub fn initiator_of(t: &TransportId<'_>) -> String {
    match t {
        TransportId::Sas { address } => format!("naa.{address:016x}"),
        TransportId::Iscsi { name, .. } => name.to_string(),
        other => format!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// The LUN state
// ---------------------------------------------------------------------------------------

/// READ FULL STATUS, decoded and labelled: the keys of each nexus (a list, so that a
/// duplicate registration shows), the reservation and its holders.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LunState {
    pub keys: BTreeMap<String, Vec<u64>>,
    /// (key, type) of the reservation (key 0 for all-registrants types).
    pub reservation: Option<(u64, u8)>,
    pub holders: Vec<String>,
}

impl LunState {
    pub fn key_of(&self, label: &str) -> Option<u64> {
        self.keys.get(label).and_then(|k| k.first().copied())
    }
    pub fn registered(&self) -> Vec<&str> {
        self.keys.keys().map(String::as_str).collect()
    }
    /// The state without which node-1 nexus holds (for comparisons where the holder path
    /// is a path-order choice).
    pub fn holder_is_node1(&self) -> bool {
        self.holders.iter().all(|h| h.starts_with("n1p"))
    }
}

impl fmt::Display for LunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "keys {{")?;
        for (i, (l, k)) in self.keys.iter().enumerate() {
            let ks: Vec<String> = k.iter().map(|k| format!("{k:#x}")).collect();
            write!(f, "{}{l}: {}", if i > 0 { ", " } else { "" }, ks.join("+"))?;
        }
        write!(f, "}}; ")?;
        match self.reservation {
            None => write!(f, "no reservation"),
            Some((k, t)) => write!(
                f,
                "reservation key {k:#x} type {t} held by {}",
                self.holders.join(",")
            ),
        }
    }
}

/// Runs `f` again while the device reports a UNIT ATTENTION.
pub async fn retry_ua<T, F, Fut>(mut f: F) -> Result<T, pr_sgio::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, pr_sgio::Error>>,
{
    for _ in 0..6 {
        match f().await {
            Err(e) if e.command_error().is_some_and(|c| c.is_unit_attention()) => continue,
            r => return r,
        }
    }
    f().await
}

/// The LUN's state through the node-2 nexus (never in a map, never failed).
pub async fn lun_state(lab: &Lab) -> LunState {
    let dev = lab.node2_dev();
    let opts = PrInOptions {
        alloc_len: Some(8192),
        ..PrInOptions::default()
    };
    let data = retry_ua(|| raw::pr_in(&dev, PrInAction::ReadFullStatus, &opts))
        .await
        .unwrap_or_else(|e| panic!("READ FULL STATUS via node 2: {e}"));
    let fs = data.full_status().expect("READ FULL STATUS decodes");
    let mut st = LunState::default();
    for d in fs.descriptors() {
        let tid = d
            .transport_id()
            .map(|t| initiator_of(&t))
            .unwrap_or_else(|e| format!("?{e}"));
        let label = lab.label(&tid);
        st.keys.entry(label.clone()).or_default().push(d.key().0);
        if d.is_holder() {
            st.holders.push(label);
            st.reservation = Some((
                if matches!(d.type_code(), 7 | 8) {
                    0
                } else {
                    d.key().0
                },
                d.type_code(),
            ));
        }
    }
    st.holders.sort();
    st.holders.dedup();
    st
}

// ---------------------------------------------------------------------------------------
// Node 2 through pr-sgio
// ---------------------------------------------------------------------------------------

pub async fn node2_out(lab: &Lab, req: &PrOut<'_>) {
    let dev = lab.node2_dev();
    retry_ua(|| raw::pr_out(&dev, req, Some(Duration::from_secs(30))))
        .await
        .unwrap_or_else(|e| panic!("node 2 {}: {e}", req.action));
}

pub async fn node2_register(lab: &Lab, key: ReservationKey) {
    node2_out(lab, &PrOut::register_ignore(key)).await;
}

// ---------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------

/// A snippet with the lab's guest tools sourced; must succeed.
pub fn guest_tools(snippet: &str) -> String {
    let tools = need("LAB_GUEST_TOOLS");
    let (rc, out, err) = run("bash", &["-c", &format!(". '{tools}' && {snippet}")]);
    assert_eq!(rc, 0, "guest tools `{snippet}` failed ({rc}): {out}{err}");
    out.trim().to_owned()
}

/// `multipathd <words>` through its CLI.
pub fn multipathd_cli(words: &str) -> String {
    let args: Vec<&str> = words.split_whitespace().collect();
    let (rc, out, err) = run("multipathd", &args);
    assert_eq!(rc, 0, "multipathd {words} failed ({rc}): {out}{err}");
    out.trim().to_owned()
}

/// `mpathpersist ARGS -d MAP` (retried on UNIT ATTENTION, exit 6); returns (rc, output).
pub fn mpathpersist(lab: &Lab, args: &[&str]) -> (i32, String) {
    let map = lab.map.to_string_lossy().into_owned();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-d", &map]);
    let mut last = (0, String::new());
    for _ in 0..4 {
        let (rc, out, err) = run(
            "timeout",
            &[&["60", "mpathpersist"], all.as_slice()].concat(),
        );
        last = (rc, format!("{out}{err}"));
        if rc != 6 {
            break;
        }
    }
    eprintln!(
        "    mpathpersist {} -> exit {}{}",
        all.join(" "),
        last.0,
        if last.1.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", last.1.trim().replace('\n', " | "))
        }
    );
    last
}

/// As [`mpathpersist`], must exit 0.
pub fn mpathpersist_ok(lab: &Lab, args: &[&str]) -> String {
    let (rc, out) = mpathpersist(lab, args);
    assert_eq!(rc, 0, "mpathpersist {args:?} failed ({rc}): {out}");
    out
}

pub fn hex(k: ReservationKey) -> String {
    format!("0x{:x}", k.0)
}

pub fn ty(t: ReservationType) -> String {
    format!("--prout-type={}", t.code())
}

// ---------------------------------------------------------------------------------------
// Reset
// ---------------------------------------------------------------------------------------

/// Restores every node-1 path of the LUN (waits for multipathd to show it active), removes
/// every registration and the reservation (through node 2), and clears multipathd's
/// prstatus and prkey of the map, so that each run starts from the same state.
pub async fn reset(lab: &Lab) {
    for p in &lab.paths {
        let d = p.file_name().unwrap().to_string_lossy().into_owned();
        let state =
            std::fs::read_to_string(format!("/sys/block/{d}/device/state")).unwrap_or_default();
        if state.trim() != "running" {
            guest_tools(&format!(
                "lab_restore_path {} && lab_wait_path_state {} active 60",
                p.display(),
                p.display()
            ));
        }
    }
    let k = ReservationKey(0x6c61_6263_6c65_6172);
    node2_register(lab, k).await;
    node2_out(lab, &PrOut::clear(k)).await;
    let _ = run("multipathd", &["unsetprstatus", "map", &lab.map_name]);
    let _ = run("multipathd", &["unsetprkey", "map", &lab.map_name]);
    let st = lun_state(lab).await;
    assert!(
        st.keys.is_empty() && st.reservation.is_none(),
        "reset left {st}"
    );
}

/// Fails the path `p` and waits until multipathd has it failed.
pub fn fail_path(p: &std::path::Path) {
    let t = Instant::now();
    guest_tools(&format!(
        "lab_fail_path {0} && lab_wait_path_state {0} failed 60",
        p.display()
    ));
    eprintln!(
        "    {} failed (multipathd saw it after {:.1}s)",
        p.display(),
        t.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------
// The stack (Debian 12 or Debian sid) and multipathd's bookkeeping
// ---------------------------------------------------------------------------------------

/// The lab's software stack (`LAB_STACK`, exported by `lab/run.sh`): what the test expects
/// of multipathd and mpathpersist depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    /// Debian 12: Linux 6.1, multipath-tools 0.9.4 (no prhold, REGISTER rollback).
    Debian12,
    /// Debian sid: Linux 7.x, multipath-tools 0.15.1 (the 0.13 rework: prhold, REGISTER
    /// AND IGNORE retry, the failed-path workarounds).
    Sid,
}

impl Stack {
    /// From `LAB_STACK`; an unknown value fails the test (its expectations would be a guess).
    pub fn get() -> Stack {
        match need("LAB_STACK").as_str() {
            "debian12" => Stack::Debian12,
            "sid" => Stack::Sid,
            other => panic!(
                "LAB_STACK={other}: these tests know the expectations of debian12 \
                 (multipath-tools 0.9.4) and sid (0.15.1) only"
            ),
        }
    }

    /// The multipath-tools version of the stack, for messages.
    pub fn mpath_version(self) -> &'static str {
        match self {
            Stack::Debian12 => "0.9.4",
            Stack::Sid => "0.15.1",
        }
    }
}

/// multipathd's PR bookkeeping of a map, as its CLI prints it: `getprkey`, `getprstatus`
/// (0.9.4 prints `1`/`0`, 0.13+ `set`/`unset`: normalized to `set`/`unset`), `getprhold`
/// (`None` on 0.9.4, which has no prhold) and the map's line in `/etc/multipath/prkeys`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bookkeeping {
    pub prkey: String,
    pub prstatus: String,
    pub prhold: Option<String>,
    pub prkeys_line: Option<String>,
}

impl fmt::Display for Bookkeeping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "multipathd prkey {}, prstatus {}, prhold {}, prkeys file {}",
            self.prkey,
            self.prstatus,
            self.prhold.as_deref().unwrap_or("(none: 0.9.4)"),
            self.prkeys_line.as_deref().unwrap_or("(no line)")
        )
    }
}

/// Reads multipathd's bookkeeping of the lab map.
pub fn bookkeeping(lab: &Lab, stack: Stack) -> Bookkeeping {
    let m = &lab.map_name;
    let prstatus = match multipathd_cli(&format!("getprstatus map {m}")).as_str() {
        "1" | "set" => "set".to_owned(),
        "0" | "unset" => "unset".to_owned(),
        other => other.to_owned(),
    };
    let prhold = match stack {
        Stack::Debian12 => None,
        Stack::Sid => Some(multipathd_cli(&format!("getprhold map {m}"))),
    };
    let prkeys = std::fs::read_to_string("/etc/multipath/prkeys").unwrap_or_default();
    let prkeys_line = prkeys
        .lines()
        .find(|l| !l.starts_with('#') && l.ends_with(&format!(" {}", lab.wwid)))
        .map(str::to_owned);
    Bookkeeping {
        prkey: multipathd_cli(&format!("getprkey map {m}")),
        prstatus,
        prhold,
        prkeys_line,
    }
}

/// The path list libmpathpersist 0.13+ sends with `setprstatus` (the first path by name,
/// the others by `maj:min`).
pub fn pathlist(lab: &Lab) -> Vec<String> {
    lab.paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if i == 0 {
                name
            } else {
                std::fs::read_to_string(format!("/sys/block/{name}/dev"))
                    .unwrap_or_else(|e| panic!("/sys/block/{name}/dev: {e}"))
                    .trim()
                    .to_owned()
            }
        })
        .collect()
}
