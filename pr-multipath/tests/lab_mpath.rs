//! Lab proofs of pr-multipath on real dm-multipath (issue 5): two nodes on one LIO LUN,
//! node 1 = the LUN's multipath map (its paths driven by pr-multipath, or by Debian's
//! `/sbin/mpathpersist` 0.9.4 as the reference), node 2 = a nexus outside every map driven
//! directly through pr-sgio. Each scenario runs twice from a cleared LUN, once per node-1
//! driver, and the final LUN state (READ FULL STATUS through node 2: keys per nexus,
//! holder, type) is compared. Where 0.9.4 is known to be wrong, or cannot do the action, the
//! test asserts pr-multipath's result and prints 0.9.4's; `pr-multipath/LAB.md` lists each
//! case.
//!
//! Every test is `#[ignore]`d and needs the lab (`lab/test.sh`); tests with PREEMPT AND
//! ABORT have `iscsi_only` in the name (it deadlocks LIO over tcm_loop). All tests use
//! LUN 1 and leave it cleared.

mod lab_support;

use std::time::{Duration, Instant};

use lab_support::*;
use pr_core::prout::PrOut;
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, PrOutAction, PrOutFlags, ReservationKey, ReservationType};
use pr_lab_support::raw::{self, PrInOptions};
use pr_multipath::multipathd::{Multipathd, PrFlag};
use pr_multipath::{ConflictPolicy, MultipathLun, PathRegistration, Phase, RegisterRequest};
use pr_sgio::Device;

const LUN: usize = 1;
const K1: ReservationKey = ReservationKey(0x6e31_0000_0000_00a1);
const K1B: ReservationKey = ReservationKey(0x6e31_0000_0000_00a2);
const K2: ReservationKey = ReservationKey(0x6e32_0000_0000_00b2);
const WE_RO: ReservationType = ReservationType::WriteExclusiveRegistrantsOnly;
const WE_AR: ReservationType = ReservationType::WriteExclusiveAllRegistrants;
/// The key registered behind the map's back on one node-1 nexus to make it conflict.
const KX: ReservationKey = ReservationKey(0x6e31_0000_0000_00ee);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driver {
    Ours,
    Mpathpersist,
}

/// Node 1: the map, through pr-multipath or mpathpersist.
struct Node1 {
    lab: Lab,
    driver: Driver,
    lun: Option<pr_multipath::Lun>,
}

type Step = Result<(), String>;

impl Node1 {
    fn new(lab: &Lab, driver: Driver) -> Node1 {
        let lun = (driver == Driver::Ours).then(|| {
            MultipathLun::from_map(&lab.map.to_string_lossy())
                .unwrap_or_else(|e| panic!("MultipathLun::from_map({}): {e}", lab.map.display()))
        });
        Node1 {
            lab: lab.clone(),
            driver,
            lun,
        }
    }

    fn ours(&self) -> &pr_multipath::Lun {
        self.lun.as_ref().expect("pr-multipath driver")
    }

    fn mp(&self, args: &[&str]) -> Step {
        match mpathpersist(&self.lab, args) {
            (0, _) => Ok(()),
            (rc, out) => Err(format!("mpathpersist exit {rc}: {}", out.trim())),
        }
    }

    async fn ours_do(&self, what: &str, r: pr_multipath::Result<pr_multipath::Report>) -> Step {
        match r {
            Ok(rep) => {
                eprintln!("    pr-multipath {what}: ok{}", notes(&rep));
                Ok(())
            }
            Err(e) => {
                eprintln!("    pr-multipath {what}: {e}");
                Err(e.to_string())
            }
        }
    }

    async fn register(&self, old: ReservationKey, new: ReservationKey) -> Step {
        match self.driver {
            Driver::Ours => {
                self.ours_do(
                    &format!("REGISTER {old}->{new}"),
                    self.ours()
                        .register(RegisterRequest::register(old, new))
                        .await,
                )
                .await
            }
            Driver::Mpathpersist => self.mp(&[
                "--out",
                "--register",
                &format!("--param-rk={}", hex(old)),
                &format!("--param-sark={}", hex(new)),
            ]),
        }
    }

    async fn register_ignore(&self, new: ReservationKey) -> Step {
        match self.driver {
            Driver::Ours => {
                self.ours_do(
                    &format!("REGISTER AND IGNORE ->{new}"),
                    self.ours()
                        .register(RegisterRequest::register_ignore(new))
                        .await,
                )
                .await
            }
            Driver::Mpathpersist => self.mp(&[
                "--out",
                "--register-ignore",
                &format!("--param-sark={}", hex(new)),
            ]),
        }
    }

    async fn reserve(&self, k: ReservationKey, t: ReservationType) -> Step {
        match self.driver {
            Driver::Ours => {
                self.ours_do(&format!("RESERVE {k}"), self.ours().reserve(k, t).await)
                    .await
            }
            Driver::Mpathpersist => self.mp(&[
                "--out",
                "--reserve",
                &format!("--param-rk={}", hex(k)),
                &ty(t),
            ]),
        }
    }

    async fn release(&self, k: ReservationKey, t: ReservationType) -> Step {
        match self.driver {
            Driver::Ours => {
                self.ours_do(&format!("RELEASE {k}"), self.ours().release(k, t).await)
                    .await
            }
            Driver::Mpathpersist => self.mp(&[
                "--out",
                "--release",
                &format!("--param-rk={}", hex(k)),
                &ty(t),
            ]),
        }
    }

    async fn clear(&self, k: ReservationKey) -> Step {
        match self.driver {
            Driver::Ours => {
                self.ours_do(&format!("CLEAR {k}"), self.ours().clear(k).await)
                    .await
            }
            Driver::Mpathpersist => {
                self.mp(&["--out", "--clear", &format!("--param-rk={}", hex(k))])
            }
        }
    }

    async fn preempt(
        &self,
        k: ReservationKey,
        victim: ReservationKey,
        t: ReservationType,
        abort: bool,
    ) -> Step {
        match self.driver {
            Driver::Ours => {
                self.ours_do(
                    &format!(
                        "PREEMPT{} {victim} by {k}",
                        if abort { " AND ABORT" } else { "" }
                    ),
                    if abort {
                        self.ours().preempt_and_abort(k, victim, t).await
                    } else {
                        self.ours().preempt(k, victim, t).await
                    },
                )
                .await
            }
            Driver::Mpathpersist => self.mp(&[
                "--out",
                if abort {
                    "--preempt-abort"
                } else {
                    "--preempt"
                },
                &format!("--param-rk={}", hex(k)),
                &format!("--param-sark={}", hex(victim)),
                &ty(t),
            ]),
        }
    }
}

fn notes(r: &pr_multipath::Report) -> String {
    if r.notes.is_empty() && r.map_events.is_empty() {
        String::new()
    } else {
        format!(" (notes: {:?}; map: {:?})", r.notes, r.map_events)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    Register,
    RegisterIgnore,
    Reserve,
    Release,
    Clear,
    PreemptNode2,
    Node2PreemptsNode1,
    PreemptAbortNode2,
    FailedHolderRelease,
    FailedHolderKeyChange,
    UnregisterHolding,
    SelfPreempt,
    PreemptAllRegistrantsSaKey0,
    PreemptAllRegistrantsNode2Key,
    PreemptAllRegistrantsFailedPath,
}

/// What a run of a scenario produced.
struct Run {
    steps: Vec<Step>,
    state: LunState,
    /// The node-1 path failed during the run (label), if any.
    failed: Option<String>,
    secs: f64,
    /// multipathd's bookkeeping of the map after the run.
    bk: Bookkeeping,
}

async fn holder_label(lab: &Lab) -> String {
    let st = lun_state(lab).await;
    assert_eq!(st.holders.len(), 1, "one holder expected: {st}");
    st.holders[0].clone()
}

async fn run_scenario(s: Scenario, n: &Node1) -> (Vec<Step>, Option<String>) {
    let lab = &n.lab;
    let mut steps = Vec::new();
    let mut failed = None;
    match s {
        Scenario::Register => steps.push(n.register(ReservationKey(0), K1).await),
        Scenario::RegisterIgnore => {
            steps.push(n.register(ReservationKey(0), K1).await);
            steps.push(n.register_ignore(K1B).await);
        }
        Scenario::Reserve | Scenario::Release | Scenario::Clear | Scenario::UnregisterHolding => {
            steps.push(n.register(ReservationKey(0), K1).await);
            node2_register(lab, K2).await;
            steps.push(n.reserve(K1, WE_RO).await);
            match s {
                Scenario::Release => steps.push(n.release(K1, WE_RO).await),
                Scenario::Clear => steps.push(n.clear(K1).await),
                Scenario::UnregisterHolding => steps.push(n.register(K1, ReservationKey(0)).await),
                _ => {}
            }
        }
        Scenario::PreemptNode2 | Scenario::PreemptAbortNode2 => {
            node2_register(lab, K2).await;
            node2_out(lab, &PrOut::reserve(K2, WE_RO)).await;
            steps.push(n.register(ReservationKey(0), K1).await);
            steps.push(
                n.preempt(K1, K2, WE_RO, s == Scenario::PreemptAbortNode2)
                    .await,
            );
        }
        Scenario::Node2PreemptsNode1 => {
            steps.push(n.register(ReservationKey(0), K1).await);
            steps.push(n.reserve(K1, WE_RO).await);
            node2_register(lab, K2).await;
            node2_out(lab, &PrOut::preempt(K2, K1, WE_RO)).await;
        }
        Scenario::FailedHolderRelease | Scenario::FailedHolderKeyChange => {
            steps.push(n.register(ReservationKey(0), K1).await);
            node2_register(lab, K2).await;
            steps.push(n.reserve(K1, WE_RO).await);
            let h = holder_label(lab).await;
            fail_path(&lab.path_of(&h));
            failed = Some(h);
            if s == Scenario::FailedHolderRelease {
                steps.push(n.release(K1, WE_RO).await);
            } else {
                steps.push(n.register(K1, K1B).await);
            }
        }
        Scenario::SelfPreempt => {
            steps.push(n.register(ReservationKey(0), K1).await);
            node2_register(lab, K2).await;
            steps.push(n.reserve(K1, WE_RO).await);
            steps.push(n.preempt(K1, K1, WE_RO, false).await);
        }
        Scenario::PreemptAllRegistrantsSaKey0 | Scenario::PreemptAllRegistrantsNode2Key => {
            node2_register(lab, K2).await;
            node2_out(lab, &PrOut::reserve(K2, WE_AR)).await;
            steps.push(n.register(ReservationKey(0), K1).await);
            if s == Scenario::PreemptAllRegistrantsSaKey0 {
                steps.push(n.preempt(K1, ReservationKey(0), WE_RO, false).await);
            } else {
                steps.push(n.preempt(K1, K2, WE_AR, false).await);
            }
        }
        Scenario::PreemptAllRegistrantsFailedPath => {
            node2_register(lab, K2).await;
            node2_out(lab, &PrOut::reserve(K2, WE_AR)).await;
            steps.push(n.register(ReservationKey(0), K1).await);
            // the first node-1 path (the one a single-path command would use) goes down
            // while it holds the all-registrants reservation with every other registrant
            fail_path(&lab.path_of("n1p0"));
            failed = Some("n1p0".to_owned());
            steps.push(n.preempt(K1, ReservationKey(0), WE_RO, false).await);
        }
    }
    (steps, failed)
}

async fn run_with(lab: &Lab, s: Scenario, d: Driver) -> Run {
    reset(lab).await;
    eprintln!("  {s:?} with {d:?}:");
    let n = Node1::new(lab, d);
    let t = Instant::now();
    let (steps, failed) = run_scenario(s, &n).await;
    let secs = t.elapsed().as_secs_f64();
    let state = lun_state(lab).await;
    let stack = Stack::get();
    let bk = bookkeeping(lab, stack);
    let hold = n.lun.as_ref().and_then(|l| l.hold()).map(|h| h.key);
    eprintln!("  {s:?} with {d:?}: {state}; {bk} ({secs:.2}s)");
    if stack == Stack::Sid && d == Driver::Ours {
        // multipathd 0.15's prhold must agree with pr-multipath's own record of the hold
        assert_eq!(
            bk.prhold.as_deref() == Some("set"),
            hold.is_some(),
            "{s:?}: multipathd prhold vs pr-multipath's hold record {hold:?}: {bk}"
        );
    }
    Run {
        steps,
        state,
        failed,
        secs,
        bk,
    }
}

/// Runs `s` with both drivers, returns (pr-multipath's run, mpathpersist's run); the LUN is
/// cleared afterwards.
async fn both(lab: &Lab, s: Scenario) -> (Run, Run) {
    let ours = run_with(lab, s, Driver::Ours).await;
    let mp = run_with(lab, s, Driver::Mpathpersist).await;
    reset(lab).await;
    (ours, mp)
}

fn all_ok(r: &Run, who: &str) {
    for (i, s) in r.steps.iter().enumerate() {
        assert!(s.is_ok(), "{who}: step {i} failed: {:?}", s);
    }
}

fn n1_labels(lab: &Lab) -> Vec<String> {
    (0..lab.paths.len()).map(|i| format!("n1p{i}")).collect()
}

/// Asserts that every node-1 nexus has exactly `k` (one registration each).
fn assert_n1_keys(lab: &Lab, st: &LunState, k: ReservationKey, except: Option<&str>) {
    for l in n1_labels(lab) {
        if Some(l.as_str()) == except {
            continue;
        }
        assert_eq!(
            st.keys.get(&l),
            Some(&vec![k.0]),
            "{l} should have {k}: {st}"
        );
    }
}

/// Same final state with both drivers; returns pr-multipath's.
async fn same(s: Scenario) -> (Lab, LunState) {
    let lab = Lab::get(LUN);
    let (ours, mp) = both(&lab, s).await;
    all_ok(&ours, "pr-multipath");
    all_ok(&mp, "mpathpersist");
    let v = Stack::get().mpath_version();
    assert_eq!(
        ours.state, mp.state,
        "{s:?}: pr-multipath and mpathpersist {v} end in different states"
    );
    assert_eq!(
        ours.bk, mp.bk,
        "{s:?}: multipathd's bookkeeping after pr-multipath and after mpathpersist {v} differ"
    );
    eprintln!(
        "RESULT {s:?}: same state ({}) and multipathd bookkeeping ({}) as mpathpersist {v}; pr-multipath {:.2}s, mpathpersist {:.2}s",
        ours.state, ours.bk, ours.secs, mp.secs
    );
    (lab, ours.state)
}

// ---------------------------------------------------------------------------------------
// Scenarios where both must agree
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn register_fans_out_to_every_path_like_mpathpersist() {
    let (lab, st) = same(Scenario::Register).await;
    assert_n1_keys(&lab, &st, K1, None);
    assert_eq!(st.keys.len(), lab.paths.len(), "only node-1 nexuses: {st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn register_and_ignore_like_mpathpersist() {
    let (lab, st) = same(Scenario::RegisterIgnore).await;
    assert_n1_keys(&lab, &st, K1B, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn reserve_we_ro_like_mpathpersist() {
    let (lab, st) = same(Scenario::Reserve).await;
    assert_n1_keys(&lab, &st, K1, None);
    assert_eq!(st.key_of("n2p0"), Some(K2.0));
    assert_eq!(st.reservation, Some((K1.0, WE_RO.code())), "{st}");
    assert!(st.holder_is_node1(), "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn release_like_mpathpersist() {
    let (lab, st) = same(Scenario::Release).await;
    assert_n1_keys(&lab, &st, K1, None);
    assert_eq!(st.reservation, None, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn clear_like_mpathpersist() {
    let (_, st) = same(Scenario::Clear).await;
    assert!(st.keys.is_empty() && st.reservation.is_none(), "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn node1_preempts_node2_like_mpathpersist() {
    let (lab, st) = same(Scenario::PreemptNode2).await;
    assert_n1_keys(&lab, &st, K1, None);
    assert_eq!(st.key_of("n2p0"), None, "node 2 preempted: {st}");
    assert_eq!(st.reservation, Some((K1.0, WE_RO.code())), "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn node2_preempts_node1_like_mpathpersist() {
    let (_, st) = same(Scenario::Node2PreemptsNode1).await;
    assert_eq!(st.registered(), vec!["n2p0"], "only node 2 left: {st}");
    assert_eq!(st.reservation, Some((K2.0, WE_RO.code())), "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh, iSCSI topology)"]
async fn node1_preempt_and_abort_node2_like_mpathpersist_iscsi_only() {
    let lab = Lab::get(LUN);
    assert!(
        lab.is_iscsi(),
        "PREEMPT AND ABORT deadlocks LIO over tcm_loop: run this on -T iscsi"
    );
    let (lab, st) = same(Scenario::PreemptAbortNode2).await;
    assert_n1_keys(&lab, &st, K1, None);
    assert_eq!(st.key_of("n2p0"), None, "node 2 fenced: {st}");
    assert_eq!(st.reservation, Some((K1.0, WE_RO.code())), "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn unregister_while_holding_like_mpathpersist() {
    let lab = Lab::get(LUN);
    let (ours, mp) = both(&lab, Scenario::UnregisterHolding).await;
    all_ok(&ours, "pr-multipath");
    // pr-multipath releases first, then unregisters; the end state is what SPC gives when
    // the holder of a registrants-only reservation unregisters: no reservation.
    assert_eq!(ours.state.registered(), vec!["n2p0"], "{}", ours.state);
    assert_eq!(ours.state.reservation, None, "{}", ours.state);
    vs_upstream(Scenario::UnregisterHolding, &ours, &mp);
}

/// Prints both end states (and multipathd's bookkeeping after each); returns whether the
/// LUN states are the same.
fn report_difference(s: Scenario, ours: &Run, mp: &Run) -> bool {
    let v = Stack::get().mpath_version();
    let verdict = if ours.state == mp.state {
        format!("same state as mpathpersist {v} ({})", mp.bk)
    } else {
        format!(
            "DIFFERENT: mpathpersist {v} ends in {}; {} (steps {:?})",
            mp.state, mp.bk, mp.steps
        )
    };
    eprintln!(
        "RESULT {s:?}: pr-multipath {}; {} ({:.2}s, failed path {:?}); {verdict}",
        ours.state, ours.bk, ours.secs, ours.failed
    );
    ours.state == mp.state
}

/// The scenarios where 0.9.4 is wrong or cannot (LAB.md cases 1, 2, 6, 7, unregister while
/// holding, the all-registrants preempts): per stack.
/// - debian12: pr-multipath's state is asserted by the caller; 0.9.4's is printed;
/// - sid: multipath-tools 0.15.1 has the same workarounds (the 0.13 rework): both its end
///   state and multipathd's bookkeeping after it must equal pr-multipath's.
fn vs_upstream(s: Scenario, ours: &Run, mp: &Run) {
    let same = report_difference(s, ours, mp);
    if Stack::get() == Stack::Sid {
        all_ok(mp, "mpathpersist 0.15.1");
        assert!(
            same,
            "{s:?}: sid: mpathpersist 0.15.1 ends in {}, pr-multipath in {}",
            mp.state, ours.state
        );
        assert_eq!(
            ours.bk, mp.bk,
            "{s:?}: multipathd's bookkeeping after pr-multipath and after mpathpersist 0.15.1"
        );
    }
}

// ---------------------------------------------------------------------------------------
// A reservation held through a failed path
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn release_with_holder_path_failed_leaves_no_reservation() {
    let lab = Lab::get(LUN);
    let (ours, mp) = both(&lab, Scenario::FailedHolderRelease).await;
    all_ok(&ours, "pr-multipath");
    let st = &ours.state;
    let failed = ours.failed.clone().unwrap();
    assert_eq!(
        st.reservation, None,
        "the workaround must leave no reservation: {st}"
    );
    // Node 2 keeps its own key; the usable node-1 paths are registered again with K1; the
    // failed path lost its registration to the PREEMPT (multipathd re-registers it when it
    // returns).
    assert_eq!(
        st.keys.get("n2p0"),
        Some(&vec![K2.0]),
        "node 2 untouched: {st}"
    );
    assert_n1_keys(&lab, st, K1, Some(&failed));
    assert_eq!(st.key_of(&failed), None, "{st}");
    vs_upstream(Scenario::FailedHolderRelease, &ours, &mp);
    assert_eq!(
        mp.state.reservation, None,
        "mpathpersist's RELEASE fallback also ends unreserved: {}",
        mp.state
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn key_change_with_holder_path_failed_moves_reservation() {
    let lab = Lab::get(LUN);
    let (ours, mp) = both(&lab, Scenario::FailedHolderKeyChange).await;
    all_ok(&ours, "pr-multipath");
    let st = &ours.state;
    let failed = ours.failed.clone().unwrap();
    assert_eq!(
        st.reservation,
        Some((K1B.0, WE_RO.code())),
        "the reservation follows the new key: {st}"
    );
    assert!(
        st.holder_is_node1() && !st.holders.contains(&failed),
        "{st}"
    );
    assert_n1_keys(&lab, st, K1B, Some(&failed));
    assert!(
        !st.keys.values().flatten().any(|&k| k == K1.0),
        "no registration with the old key survives: {st}"
    );
    assert_eq!(st.keys.get("n2p0"), Some(&vec![K2.0]), "{st}");
    vs_upstream(Scenario::FailedHolderKeyChange, &ours, &mp);
}

// ---------------------------------------------------------------------------------------
// READ FULL STATUS and REGISTER AND MOVE through the map
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn read_full_status_through_the_map() {
    let lab = Lab::get(LUN);
    reset(&lab).await;
    let n = Node1::new(&lab, Driver::Ours);
    n.register(ReservationKey(0), K1).await.unwrap();
    node2_register(&lab, K2).await;
    n.reserve(K1, WE_RO).await.unwrap();
    let truth = lun_state(&lab).await;
    let fs = n
        .ours()
        .read_full_status()
        .await
        .expect("READ FULL STATUS through the map");
    let mut ours = LunState::default();
    for e in &fs.entries {
        let label = lab.label(
            &e.transport_id
                .as_ref()
                .map(initiator_of)
                .unwrap_or_default(),
        );
        ours.keys.entry(label.clone()).or_default().push(e.key.0);
        if e.holder {
            ours.holders.push(label);
            ours.reservation = Some((e.key.0, e.type_code));
        }
    }
    assert_eq!(
        ours, truth,
        "READ FULL STATUS through the map (path {}) vs node 2",
        fs.path
    );
    // mpathpersist 0.9.4 on the map, for the record.
    let (rc, out) = mpathpersist(&lab, &["--in", "--read-full-status"]);
    let listed = out.matches("Key = 0x").count();
    eprintln!(
        "RESULT ReadFullStatus: pr-multipath {} descriptors = node 2's; mpathpersist -i -s exit {rc}, {listed} descriptor(s) listed:\n{out}",
        fs.entries.len()
    );
    reset(&lab).await;
}

/// The relative target port and TransportID of node 2's nexus, as the LUN reports them.
async fn node2_identity(lab: &Lab) -> (u16, TransportId<'static>) {
    node2_register(lab, K2).await;
    let dev = lab.node2_dev();
    let opts = PrInOptions::default();
    let data = retry_ua(|| raw::pr_in(&dev, PrInAction::ReadFullStatus, &opts))
        .await
        .unwrap();
    let fs = data.full_status().unwrap();
    let mut found = None;
    for d in fs.descriptors() {
        let tid = d.transport_id().unwrap().into_owned();
        if lab.label(&initiator_of(&tid)) == "n2p0" {
            found = Some((d.relative_target_port(), tid));
        }
    }
    node2_out(lab, &PrOut::register(K2, ReservationKey(0))).await;
    found.expect("node 2's descriptor")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn register_and_move_through_the_map_to_node2() {
    let lab = Lab::get(LUN);
    reset(&lab).await;
    let (rtpi, tid) = node2_identity(&lab).await;
    let n = Node1::new(&lab, Driver::Ours);
    n.register(ReservationKey(0), K1).await.unwrap();
    n.reserve(K1, WE_RO).await.unwrap();
    let rep = n
        .ours()
        .register_and_move(K1, K2, WE_RO, &tid, rtpi, false, false)
        .await
        .unwrap_or_else(|e| panic!("REGISTER AND MOVE to {tid:?} rtpi {rtpi}: {e}"));
    eprintln!(
        "    REGISTER AND MOVE ok via {:?}",
        rep.steps.last().map(|s| &s.path)
    );
    let st = lun_state(&lab).await;
    assert_eq!(
        st.reservation,
        Some((K2.0, WE_RO.code())),
        "moved to node 2: {st}"
    );
    assert_eq!(st.holders, vec!["n2p0".to_owned()], "{st}");
    assert_eq!(st.keys.get("n2p0"), Some(&vec![K2.0]), "{st}");
    assert_n1_keys(&lab, &st, K1, None);
    // mpathpersist 0.9.4 has no REGISTER AND MOVE option (libmpathpersist refuses the
    // service action on maps): for the record.
    let (rc, out) = mpathpersist(
        &lab,
        &[
            "--out",
            "--register-move",
            &format!("--param-rk={}", hex(K1)),
        ],
    );
    assert_ne!(rc, 0, "mpathpersist cannot REGISTER AND MOVE: {out}");
    eprintln!("RESULT RegisterAndMove: pr-multipath {st}; mpathpersist exit {rc}");
    reset(&lab).await;
}

// ---------------------------------------------------------------------------------------
// multipathd
// ---------------------------------------------------------------------------------------

/// pr-multipath's socket client against the lab's real multipathd. Per stack:
/// - debian12 (0.9.4): no prhold (the client degrades: `get_prhold` = None, `set_prhold`
///   sends nothing), `setprstatus` without a path list, and it only stores the flag;
/// - sid (0.15.1): prhold set/get/unset (and `unsetprstatus` clears it), `setprstatus ...
///   pathlist`, and `setprstatus` makes multipathd check the registrations against its own
///   key at once: with its key registered on every path it keeps them, without a key it
///   unsets prstatus again and unregisters the first usable path (why pr-multipath sets
///   prstatus only when multipathd's key is the registered one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn multipathd_client_against_real_multipathd() {
    let lab = Lab::get(LUN);
    let stack = Stack::get();
    let m = &lab.map_name;
    // for the record: the map's flags before any test unset them (a map multipathd never
    // checked says `unknown` on 0.13+)
    eprintln!(
        "RESULT multipathd ({stack:?}) before reset: getprstatus {:?}, getprhold {:?}",
        run("multipathd", &["getprstatus", "map", m]).1.trim(),
        run("multipathd", &["getprhold", "map", m]).1.trim()
    );
    reset(&lab).await;
    let d = Multipathd::socket();
    let caps = d.probe(m).await.expect("multipathd answers on its socket");
    assert!(caps.prstatus, "getprstatus known: {caps:?}");
    let set_word = match stack {
        Stack::Debian12 => {
            assert!(
                !caps.prhold && !caps.pathlist,
                "debian12: multipathd 0.9.4 has no prhold and no setprstatus pathlist: {caps:?}"
            );
            assert_eq!(
                d.get_prhold(m).await.unwrap(),
                None,
                "prhold degrades to None"
            );
            assert!(!d.set_prhold(m).await.unwrap(), "setprhold is not sent");
            assert!(!d.unset_prhold(m).await.unwrap(), "unsetprhold is not sent");
            // 0.9.4 prints the flag as a number
            "1"
        }
        Stack::Sid => {
            assert!(
                caps.prhold && caps.pathlist,
                "sid: multipathd 0.15.1 has prhold and setprstatus pathlist: {caps:?}"
            );
            // reset's unsetprstatus cleared prhold
            assert_eq!(d.get_prhold(m).await.unwrap(), Some(PrFlag::Unset));
            assert!(d.set_prhold(m).await.unwrap(), "setprhold sent");
            assert_eq!(d.get_prhold(m).await.unwrap(), Some(PrFlag::Set));
            assert_eq!(multipathd_cli(&format!("getprhold map {m}")), "set");
            assert!(d.unset_prhold(m).await.unwrap(), "unsetprhold sent");
            assert_eq!(d.get_prhold(m).await.unwrap(), Some(PrFlag::Unset));
            assert_eq!(multipathd_cli(&format!("getprhold map {m}")), "unset");
            // unsetprstatus clears prhold only when prstatus is set (multipathd's
            // cli_unsetprstatus resets both only then): here it is not
            assert!(d.set_prhold(m).await.unwrap());
            d.unset_prstatus(m).await.unwrap();
            assert_eq!(
                d.get_prhold(m).await.unwrap(),
                Some(PrFlag::Set),
                "unsetprstatus with prstatus unset leaves prhold"
            );
            assert!(d.unset_prhold(m).await.unwrap());
            "set"
        }
    };
    assert_eq!(d.get_prstatus(m).await.unwrap(), PrFlag::Unset);
    assert_eq!(d.get_prkey(m).await.unwrap(), None);
    d.set_prkey(m, K1, false).await.unwrap();
    assert_eq!(d.get_prkey(m).await.unwrap().map(|k| k.key), Some(K1));
    assert_eq!(multipathd_cli(&format!("getprkey map {m}")), hex(K1));
    let prkeys = std::fs::read_to_string("/etc/multipath/prkeys").unwrap_or_default();
    assert!(
        prkeys.contains(&format!("0x{:016x} {}", K1.0, lab.wwid)),
        "prkeys file has the key: {prkeys}"
    );
    // prstatus with multipathd's key registered on every node-1 path (as after a REGISTER
    // through the map): both versions keep every registration.
    let req = PrOut::register_ignore(K1);
    for p in &lab.paths {
        let dev = Device::open(p).expect("path device");
        retry_ua(|| raw::pr_out(&dev, &req, Some(Duration::from_secs(30))))
            .await
            .unwrap_or_else(|e| panic!("REGISTER AND IGNORE K1 on {}: {e}", p.display()));
    }
    let list = pathlist(&lab);
    d.set_prstatus(m, &list).await.unwrap();
    assert_eq!(d.get_prstatus(m).await.unwrap(), PrFlag::Set);
    assert_eq!(multipathd_cli(&format!("getprstatus map {m}")), set_word);
    let st = lun_state(&lab).await;
    assert_n1_keys(&lab, &st, K1, None);
    eprintln!(
        "RESULT multipathd setprstatus (key {K1} registered): {st}; {}",
        bookkeeping(&lab, stack)
    );
    if stack == Stack::Sid {
        // with prstatus set, unsetprstatus clears prhold too
        assert!(d.set_prhold(m).await.unwrap());
        assert_eq!(d.get_prhold(m).await.unwrap(), Some(PrFlag::Set));
    }
    d.unset_prstatus(m).await.unwrap();
    assert_eq!(d.get_prstatus(m).await.unwrap(), PrFlag::Unset);
    if stack == Stack::Sid {
        assert_eq!(
            d.get_prhold(m).await.unwrap(),
            Some(PrFlag::Unset),
            "unsetprstatus (prstatus set) clears prhold"
        );
    }
    d.unset_prkey(m).await.unwrap();
    assert_eq!(d.get_prkey(m).await.unwrap(), None);
    // prstatus while multipathd has no key for the map (K1 still registered everywhere).
    d.set_prstatus(m, &list).await.unwrap();
    let flag = d.get_prstatus(m).await.unwrap();
    let st = lun_state(&lab).await;
    eprintln!(
        "RESULT multipathd setprstatus (no key in multipathd, {K1} registered): prstatus {flag:?}; {st}"
    );
    match stack {
        Stack::Debian12 => {
            assert_eq!(flag, PrFlag::Set, "0.9.4 only stores the flag");
            assert_n1_keys(&lab, &st, K1, None);
        }
        Stack::Sid => {
            assert_eq!(
                flag,
                PrFlag::Unset,
                "0.15.1 finds none of its (missing) key and unsets prstatus"
            );
            let gone: Vec<String> = n1_labels(&lab)
                .into_iter()
                .filter(|l| st.key_of(l).is_none())
                .collect();
            assert_eq!(
                gone.len(),
                1,
                "0.15.1 unregisters exactly one path (REGISTER AND IGNORE 0 on the first \
                 usable one): {st}"
            );
        }
    }
    d.unset_prstatus(m).await.unwrap();
    // An unknown map is not conclusive.
    let other = Multipathd::socket();
    let c = other.probe("no-such-map").await.unwrap();
    assert!(!c.prstatus && other.capabilities().is_none(), "{c:?}");
    reset(&lab).await;
    eprintln!("RESULT multipathd ({stack:?}): {caps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn added_path_is_registered_by_multipathd_after_register() {
    let lab = Lab::get(LUN);
    let m = lab.map_name.clone();
    for d in [Driver::Ours, Driver::Mpathpersist] {
        reset(&lab).await;
        let n = Node1::new(&lab, d);
        n.register(ReservationKey(0), K1).await.unwrap();
        assert_eq!(
            multipathd_cli(&format!("getprkey map {m}")),
            hex(K1),
            "{d:?}: multipathd knows the key"
        );
        let status = multipathd_cli(&format!("getprstatus map {m}"));
        assert!(
            status == "1" || status == "set",
            "{d:?}: getprstatus {status}"
        );
        let before = lun_state(&lab).await.keys.get("added").map_or(0, Vec::len);
        let t = Instant::now();
        let new = guest_tools(&format!("lab_add_path {LUN}"));
        guest_tools(&format!("lab_wait_in_map {new} 60"));
        let mut st = lun_state(&lab).await;
        while st.keys.get("added").map_or(0, Vec::len) <= before
            && t.elapsed() < Duration::from_secs(60)
        {
            tokio::time::sleep(Duration::from_millis(500)).await;
            st = lun_state(&lab).await;
        }
        let added = st.keys.get("added").cloned().unwrap_or_default();
        eprintln!(
            "RESULT AddedPath {d:?}: {new} after {:.1}s: {st}",
            t.elapsed().as_secs_f64()
        );
        guest_tools(&format!("lab_del_path {new}"));
        assert_eq!(
            added.len(),
            before + 1,
            "{d:?}: the new nexus {new} was registered by multipathd: {st}"
        );
        assert!(
            added.iter().all(|&k| k == K1.0),
            "{d:?}: with the map's key: {st}"
        );
    }
    reset(&lab).await;
}

// ---------------------------------------------------------------------------------------
// Self-preempt and all-registrants reservations
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn self_preempt_keeps_reservation_and_every_path_registered() {
    let lab = Lab::get(LUN);
    let (ours, mp) = both(&lab, Scenario::SelfPreempt).await;
    all_ok(&ours, "pr-multipath");
    let st = &ours.state;
    // SPC: PREEMPT with our own key as SA key removes every other registration with K1
    // and leaves the reservation with K1; pr-multipath re-registers every path.
    assert_eq!(st.reservation, Some((K1.0, WE_RO.code())), "{st}");
    assert!(st.holder_is_node1(), "{st}");
    assert_n1_keys(&lab, st, K1, None);
    assert_eq!(
        st.keys.get("n2p0"),
        Some(&vec![K2.0]),
        "node 2 untouched: {st}"
    );
    vs_upstream(Scenario::SelfPreempt, &ours, &mp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn preempt_all_registrants_with_sa_key_0() {
    let lab = Lab::get(LUN);
    let (ours, mp) = both(&lab, Scenario::PreemptAllRegistrantsSaKey0).await;
    all_ok(&ours, "pr-multipath");
    let st = &ours.state;
    // SPC: SA key 0 on an all-registrants reservation removes every other registration
    // (node 2's and our other paths') and reserves with the PREEMPT's type; pr-multipath
    // re-registers our paths (self-preempt sequence).
    assert_eq!(st.reservation, Some((K1.0, WE_RO.code())), "{st}");
    assert!(st.holder_is_node1() && st.holders.len() == 1, "{st}");
    assert_n1_keys(&lab, st, K1, None);
    assert_eq!(st.key_of("n2p0"), None, "node 2 preempted: {st}");
    vs_upstream(Scenario::PreemptAllRegistrantsSaKey0, &ours, &mp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn preempt_all_registrants_with_node2_key() {
    let lab = Lab::get(LUN);
    let (ours, mp) = both(&lab, Scenario::PreemptAllRegistrantsNode2Key).await;
    all_ok(&ours, "pr-multipath");
    let st = &ours.state;
    // SPC: a non-zero SA key on an all-registrants reservation only removes the
    // registrations with that key; the reservation stays (type 7, every registrant holds).
    assert_eq!(st.reservation, Some((0, WE_AR.code())), "{st}");
    assert_n1_keys(&lab, st, K1, None);
    assert_eq!(st.key_of("n2p0"), None, "node 2 unregistered: {st}");
    assert_eq!(st.holders, n1_labels(&lab), "every registrant holds: {st}");
    vs_upstream(Scenario::PreemptAllRegistrantsNode2Key, &ours, &mp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn preempt_all_registrants_with_a_failed_path() {
    let lab = Lab::get(LUN);
    let (ours, mp) = both(&lab, Scenario::PreemptAllRegistrantsFailedPath).await;
    all_ok(&ours, "pr-multipath");
    let st = &ours.state;
    // The PREEMPT (SA key 0) fails over from the failed n1p0 to a usable path, removes
    // every other registration (node 2's and our other paths', the failed one's too) and
    // reserves type 5; pr-multipath re-registers every usable path. The failed path stays
    // unregistered until it returns (multipathd registers it then: prstatus is set).
    assert_eq!(st.reservation, Some((K1.0, WE_RO.code())), "{st}");
    assert!(
        st.holder_is_node1() && st.holders.len() == 1 && !st.holders.contains(&"n1p0".to_owned()),
        "one usable node-1 path holds: {st}"
    );
    assert_n1_keys(&lab, st, K1, Some("n1p0"));
    assert_eq!(
        st.key_of("n1p0"),
        None,
        "the failed path was preempted: {st}"
    );
    assert_eq!(st.key_of("n2p0"), None, "node 2 preempted: {st}");
    vs_upstream(Scenario::PreemptAllRegistrantsFailedPath, &ours, &mp);
}

// ---------------------------------------------------------------------------------------
// REGISTER conflict policies on a real conflict
// ---------------------------------------------------------------------------------------

/// Clears the LUN, then registers KX on node-1 nexus n1p1 directly on its path device,
/// behind the map's back, so that a REGISTER 0 -> K1 through the map conflicts there.
async fn conflict_setup(lab: &Lab) -> LunState {
    reset(lab).await;
    let dev = Device::open(&lab.paths[1]).expect("path device");
    let req = PrOut::register_ignore(KX);
    retry_ua(|| raw::pr_out(&dev, &req, Some(Duration::from_secs(30))))
        .await
        .expect("REGISTER AND IGNORE KX on n1p1");
    let st = lun_state(lab).await;
    let mut want = LunState::default();
    want.keys.insert("n1p1".into(), vec![KX.0]);
    assert_eq!(st, want, "setup");
    st
}

fn path_name(lab: &Lab, i: usize) -> String {
    lab.paths[i]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn reg_of(rep: &pr_multipath::Report, name: &str) -> PathRegistration {
    rep.registration_of(name)
        .cloned()
        .unwrap_or_else(|| panic!("no registration for {name}: {:?}", rep.registrations))
}

/// REGISTER 0 -> K1 through the map with a real conflict on n1p1, compared with the stack's
/// mpathpersist:
/// - debian12: 0.9.4 rolls back (REGISTER K1 -> 0 on the paths that succeeded) and exits
///   with RESERVATION CONFLICT; pr-multipath's `ConflictPolicy::Rollback` must end in the
///   same state (the caller exactly as before);
/// - sid: 0.15.1 (upstream 0.13+, `3bd41572`) retries the conflicting path with REGISTER
///   AND IGNORE and exits 0 with K1 on every path; pr-multipath's default policy
///   (`RetryWithIgnore`) must end in the same state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn register_conflict_on_one_path_like_mpathpersist() {
    let lab = Lab::get(LUN);
    let stack = Stack::get();
    let before = conflict_setup(&lab).await;
    let lun = MultipathLun::from_map(&lab.map.to_string_lossy()).unwrap();
    let t = Instant::now();
    let (policy, r) = match stack {
        Stack::Debian12 => (
            "Rollback",
            lun.register(
                RegisterRequest::register(ReservationKey(0), K1).policy(ConflictPolicy::Rollback),
            )
            .await,
        ),
        Stack::Sid => (
            "default (RetryWithIgnore)",
            lun.register(RegisterRequest::register(ReservationKey(0), K1))
                .await,
        ),
    };
    let secs = t.elapsed().as_secs_f64();
    match stack {
        Stack::Debian12 => {
            let e = match r {
                Ok(rep) => panic!("REGISTER must fail on the conflicting path: {rep:?}"),
                Err(e) => e,
            };
            assert!(e.is_reservation_conflict(), "{e}");
            let rep = e.report().expect("per-path report");
            eprintln!(
                "    pr-multipath REGISTER ({policy}): {e}; {:?}",
                rep.registrations
            );
            for i in 0..lab.paths.len() {
                let name = path_name(&lab, i);
                let want = if i == 1 {
                    PathRegistration::Unchanged
                } else {
                    PathRegistration::RolledBack
                };
                assert_eq!(
                    reg_of(rep, &name),
                    want,
                    "n1p{i} ({name}): {:?}",
                    rep.registrations
                );
                if i != 1 {
                    assert!(
                        rep.steps_of(&name)
                            .any(|s| s.phase == Phase::Rollback && s.is_ok()),
                        "n1p{i} rolled back: {:?}",
                        rep.steps
                    );
                }
            }
        }
        Stack::Sid => {
            let rep = r.unwrap_or_else(|e| panic!("REGISTER ({policy}): {e} {:?}", e.report()));
            eprintln!("    pr-multipath REGISTER ({policy}): ok{}", notes(&rep));
            for i in 0..lab.paths.len() {
                let name = path_name(&lab, i);
                assert_eq!(
                    reg_of(&rep, &name),
                    PathRegistration::Changed,
                    "n1p{i}: {:?}",
                    rep.registrations
                );
                assert_eq!(
                    rep.steps_of(&name)
                        .any(|s| s.phase == Phase::IgnoreRetry && s.is_ok()),
                    i == 1,
                    "only n1p1 retried with REGISTER AND IGNORE: {:?}",
                    rep.steps
                );
            }
        }
    }
    let ours = lun_state(&lab).await;
    let ours_bk = bookkeeping(&lab, stack);
    match stack {
        Stack::Debian12 => assert_eq!(ours, before, "the caller is left exactly as before"),
        Stack::Sid => {
            assert_n1_keys(&lab, &ours, K1, None);
            assert_eq!(ours.keys.len(), lab.paths.len(), "{ours}");
        }
    }
    conflict_setup(&lab).await;
    let n = Node1::new(&lab, Driver::Mpathpersist);
    let t = Instant::now();
    let step = n.register(ReservationKey(0), K1).await;
    let mp_secs = t.elapsed().as_secs_f64();
    let mp = lun_state(&lab).await;
    let mp_bk = bookkeeping(&lab, stack);
    reset(&lab).await;
    eprintln!(
        "RESULT RegisterConflict ({stack:?}): pr-multipath {policy}: {ours}, {ours_bk} ({secs:.2}s); \
         mpathpersist {}: {step:?}, {mp}, {mp_bk} ({mp_secs:.2}s)",
        stack.mpath_version()
    );
    match stack {
        Stack::Debian12 => assert!(step.is_err(), "mpathpersist 0.9.4 reports the conflict"),
        Stack::Sid => assert!(
            step.is_ok(),
            "mpathpersist 0.15.1 retries with REGISTER AND IGNORE and succeeds: {step:?}"
        ),
    }
    assert_eq!(
        ours,
        mp,
        "same end state as mpathpersist {}",
        stack.mpath_version()
    );
    match stack {
        Stack::Sid => assert_eq!(
            ours_bk, mp_bk,
            "same multipathd bookkeeping as after mpathpersist 0.15.1"
        ),
        Stack::Debian12 => {
            // 0.9.4 sets multipathd's key before the REGISTER and keeps it after rolling the
            // registration back (a key registered nowhere); pr-multipath restores the key it
            // replaced, as 0.13+ does (LAB.md case 8)
            assert_eq!(mp_bk.prkey, hex(K1), "0.9.4 keeps the key: {mp_bk}");
            assert_eq!(ours_bk.prkey, "none", "pr-multipath restores it: {ours_bk}");
            assert_eq!(ours_bk.prstatus, mp_bk.prstatus, "{ours_bk} vs {mp_bk}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn register_conflict_retry_with_ignore_registers_every_path() {
    let lab = Lab::get(LUN);
    conflict_setup(&lab).await;
    let lun = MultipathLun::from_map(&lab.map.to_string_lossy()).unwrap();
    let t = Instant::now();
    let rep = lun
        .register(
            RegisterRequest::register(ReservationKey(0), K1)
                .policy(ConflictPolicy::RetryWithIgnore),
        )
        .await
        .unwrap_or_else(|e| panic!("REGISTER (RetryWithIgnore): {e} {:?}", e.report()));
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "    pr-multipath REGISTER (RetryWithIgnore): ok{}",
        notes(&rep)
    );
    let conflicted = path_name(&lab, 1);
    for i in 0..lab.paths.len() {
        let name = path_name(&lab, i);
        assert_eq!(
            reg_of(&rep, &name),
            PathRegistration::Changed,
            "n1p{i}: {:?}",
            rep.registrations
        );
        let retried = rep
            .steps_of(&name)
            .any(|s| s.phase == Phase::IgnoreRetry && s.is_ok());
        assert_eq!(
            retried,
            name == conflicted,
            "only n1p1 retried: {:?}",
            rep.steps
        );
    }
    let st = lun_state(&lab).await;
    reset(&lab).await;
    eprintln!("RESULT RegisterConflictRetryWithIgnore: pr-multipath {st} ({secs:.2}s)");
    assert_n1_keys(&lab, &st, K1, None);
    assert_eq!(st.keys.len(), lab.paths.len(), "{st}");
    assert_eq!(st.reservation, None, "{st}");
}

// ---------------------------------------------------------------------------------------
// REGISTER with SPEC_I_PT through the map
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
async fn register_spec_i_pt_through_the_map_registers_node2() {
    let lab = Lab::get(LUN);
    reset(&lab).await;
    let (_, tid) = node2_identity(&lab).await;
    assert!(
        lun_state(&lab).await.keys.is_empty(),
        "node 2 unregistered again"
    );
    let lun = MultipathLun::from_map(&lab.map.to_string_lossy()).unwrap();
    let t = Instant::now();
    let rep = lun
        .register_spec_i_pt(
            RegisterRequest::register(ReservationKey(0), K1),
            std::slice::from_ref(&tid),
        )
        .await
        .unwrap_or_else(|e| panic!("REGISTER SPEC_I_PT {tid:?}: {e} {:?}", e.report()));
    let secs = t.elapsed().as_secs_f64();
    eprintln!("    pr-multipath REGISTER SPEC_I_PT: ok{}", notes(&rep));
    let spec: Vec<_> = rep
        .steps
        .iter()
        .filter(|s| {
            s.command.out().is_some_and(|o| {
                o.action == PrOutAction::Register && o.flags.contains(PrOutFlags::SPEC_I_PT)
            })
        })
        .collect();
    assert_eq!(spec.len(), 1, "SPEC_I_PT sent once: {:?}", rep.steps);
    assert!(spec[0].is_ok(), "{:?}", spec[0]);
    let st = lun_state(&lab).await;
    eprintln!(
        "RESULT RegisterSpecIPt: pr-multipath {st} ({secs:.2}s, SPEC_I_PT via {})",
        spec[0].path
    );
    assert_n1_keys(&lab, &st, K1, None);
    assert_eq!(
        st.keys.get("n2p0"),
        Some(&vec![K1.0]),
        "node 2 registered: {st}"
    );
    // mpathpersist 0.9.4 for the record (-X: it has no option for SPEC_I_PT itself and
    // sets it when TransportIDs are given).
    reset(&lab).await;
    let tid_arg = match &tid {
        TransportId::Sas { address } => format!("sas,{address:016x}"),
        other => initiator_of(other),
    };
    let (rc, out) = mpathpersist(
        &lab,
        &[
            "--out",
            "--register",
            &format!("--param-sark={}", hex(K1)),
            &format!("--transport-id={tid_arg}"),
        ],
    );
    let mp = lun_state(&lab).await;
    reset(&lab).await;
    eprintln!(
        "RESULT RegisterSpecIPt: mpathpersist exit {rc}: {mp} ({})",
        out.trim()
    );
}
