//! Test-only helpers shared by the lab tests of every crate: the lab topology read from the
//! `LAB_*` variables that `lab/run.sh` exports inside the guest, running guest commands, and
//! [`raw`], one PR command on one transport for looking at a device directly.
//!
//! It is not a lab driver (that is `lab/run.sh` and `lab/test.sh`) and holds no PR rules of
//! its own: wire formats and the allocation-length rule are pr-core's. It depends on
//! pr-core and pr-sgio only, never on pr-multipath (pr-sgio's lab tests use it).
//! Every accessor panics with a message that says how to run the test when the variable it
//! needs is missing, so a lab test run outside the lab fails loudly instead of passing.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::Command;

pub mod raw;

/// The value of `name`, or a panic explaining that the test needs the lab.
pub fn need(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => panic!(
            "{name} is not set: this test needs the project's QEMU lab (LIO LUNs behind \
             dm-multipath, a second node's nexuses outside every map). Run it with \
             `lab/test.sh`, or by hand: `lab/run.sh -T loop -l 2 -p 3 -n 1 -- <test binary> \
             --ignored --test-threads=1 --skip iscsi_only` (and `-T iscsi -l 2 -p 2 -n 1` \
             for the iscsi_only tests); it exports LAB_MPATH_i, LAB_PATHS_i, \
             LAB_NODE2_PATHS_i, LAB_TRANSPORT, ..."
        ),
    }
}

/// The whitespace-separated words of `name`.
pub fn words(name: &str) -> Vec<String> {
    need(name).split_whitespace().map(str::to_owned).collect()
}

/// The whitespace-separated paths of `name`.
pub fn paths(name: &str) -> Vec<PathBuf> {
    need(name).split_whitespace().map(PathBuf::from).collect()
}

/// One LUN of the lab topology.
#[derive(Clone, Debug)]
pub struct LabLun {
    /// The LUN number (the `i` of `LAB_*_i`).
    pub index: usize,
    /// `/dev/mapper/mpathX`.
    pub map: PathBuf,
    /// `mpathX`.
    pub map_name: String,
    /// The LUN's WWID as multipath shows it.
    pub wwid: String,
    /// Node-1 paths (in the map), in nexus order.
    pub paths: Vec<PathBuf>,
    /// Their sg nodes, in the same order.
    pub sgs: Vec<PathBuf>,
    /// Node-2 paths (in no map).
    pub node2: Vec<PathBuf>,
    /// Their sg nodes.
    pub node2_sgs: Vec<PathBuf>,
    /// Initiator port names of the node-1 nexuses, in nexus order.
    pub initiators: Vec<String>,
    /// Initiator port names of the node-2 nexuses.
    pub node2_initiators: Vec<String>,
    /// `loop` or `iscsi`.
    pub transport: String,
}

impl LabLun {
    /// LUN `i` of the lab, with at least two node-1 paths and one node-2 path; panics with
    /// the reason when the topology lacks something.
    pub fn get(i: usize) -> LabLun {
        let luns: usize = need("LAB_LUNS")
            .trim()
            .parse()
            .expect("LAB_LUNS is a number");
        assert!(
            i < luns,
            "the lab has {luns} LUN(s); this test needs LUN {i} (lab/run.sh -l {})",
            i + 1
        );
        let map = PathBuf::from(need(&format!("LAB_MPATH_{i}")));
        let lun = LabLun {
            index: i,
            map_name: map
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            map,
            wwid: need(&format!("LAB_WWID_{i}")),
            paths: paths(&format!("LAB_PATHS_{i}")),
            sgs: paths(&format!("LAB_SG_{i}")),
            node2: paths(&format!("LAB_NODE2_PATHS_{i}")),
            node2_sgs: paths(&format!("LAB_NODE2_SG_{i}")),
            initiators: words("LAB_INITIATORS"),
            node2_initiators: words("LAB_NODE2_INITIATORS"),
            transport: need("LAB_TRANSPORT"),
        };
        assert!(
            lun.paths.len() >= 2,
            "LUN {i} has {} node-1 path(s); these tests need 2 (lab/run.sh -p 2)",
            lun.paths.len()
        );
        assert!(
            !lun.node2.is_empty(),
            "LUN {i} has no node-2 path; these tests need one (lab/run.sh --node2-paths 1)"
        );
        assert_eq!(
            lun.paths.len(),
            lun.sgs.len(),
            "LAB_PATHS_{i} vs LAB_SG_{i}"
        );
        lun
    }

    /// Whether the lab runs over iSCSI (else tcm_loop).
    pub fn is_iscsi(&self) -> bool {
        self.transport == "iscsi"
    }

    /// Every path device of the LUN, node 1's then node 2's, as strings.
    pub fn devices(&self) -> Vec<String> {
        self.paths
            .iter()
            .chain(&self.node2)
            .map(|p| p.display().to_string())
            .collect()
    }
}

/// One NVMe namespace of the lab (`lab/run.sh --nvme N`, sid stack only): nsid 1 of its
/// own kernel-target subsystem over NVMe/TCP, reservations enabled, connected as two hosts.
///
/// Linux merges the controllers of one subsystem NQN into one namespace head whatever the
/// host NQN, so node 1 and node 2 share [`NvmeNs::dev`] (four paths). Node 1's handle is
/// that head: its I/O goes through node 1's ports (node 2's are ANA non-optimized). Node 2's
/// handles are its controllers' character devices ([`NvmeNs::node2_ctrls`]): an I/O command
/// there (`nvme ... /dev/nvmeX -n 1`) goes through that controller, so with node 2's Host ID.
#[derive(Clone, Debug)]
pub struct NvmeNs {
    /// The namespace number (the `i` of `LAB_NVME_*_i`).
    pub index: usize,
    /// The subsystem NQN.
    pub subnqn: String,
    /// The namespace ID (always 1: one namespace per subsystem).
    pub nsid: u32,
    /// The namespace head's block device, `/dev/nvmeSn1` (node 1's device).
    pub dev: PathBuf,
    /// The head's generic character device, `/dev/ngSn1`.
    pub ng: PathBuf,
    /// Node 1's controllers (`/dev/nvmeX`), in port order (4420, 4421).
    pub ctrls: Vec<PathBuf>,
    /// Node 1's paths (`nvmeScXn1`, sysfs names: no device node), in port order.
    pub paths: Vec<String>,
    /// Node 2's controllers (`/dev/nvmeX`), in port order (4422, 4423).
    pub node2_ctrls: Vec<PathBuf>,
    /// Node 2's paths, in port order.
    pub node2_paths: Vec<String>,
    /// Host NQNs of node 1 and node 2.
    pub hostnqn: [String; 2],
    /// Host IDs (UUIDs) of node 1 and node 2.
    pub hostid: [String; 2],
}

impl NvmeNs {
    /// NVMe namespace `i` of the lab; panics with the reason when the lab has no NVMe
    /// (`lab/run.sh --stack sid --nvme N`) or too few namespaces.
    pub fn get(i: usize) -> NvmeNs {
        let n: usize = std::env::var("LAB_NVME_NS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        assert!(
            n > i,
            "this test needs NVMe namespace {i} of the lab, which has {n} (LAB_NVME_NS): \
             run it with `lab/test.sh --stack sid` or `lab/run.sh --stack sid --nvme {} ...` \
             (the kernel NVMe target's reservations need Linux 6.13+: the debian12 stack's \
             6.1 has none)",
            i + 1
        );
        let ns = NvmeNs {
            index: i,
            subnqn: need(&format!("LAB_NVME_SUBNQN_{i}")),
            nsid: 1,
            dev: PathBuf::from(need(&format!("LAB_NVME_DEV_{i}"))),
            ng: PathBuf::from(need(&format!("LAB_NVME_NG_{i}"))),
            ctrls: paths(&format!("LAB_NVME_CTRLS_{i}")),
            paths: words(&format!("LAB_NVME_PATHS_{i}")),
            node2_ctrls: paths(&format!("LAB_NVME_NODE2_CTRLS_{i}")),
            node2_paths: words(&format!("LAB_NVME_NODE2_PATHS_{i}")),
            hostnqn: [need("LAB_NVME_HOSTNQN_1"), need("LAB_NVME_HOSTNQN_2")],
            hostid: [need("LAB_NVME_HOSTID_1"), need("LAB_NVME_HOSTID_2")],
        };
        assert!(
            ns.ctrls.len() == 2 && ns.node2_ctrls.len() == 2,
            "NVMe namespace {i}: node 1 has {} and node 2 {} controller(s); the lab makes 2 each",
            ns.ctrls.len(),
            ns.node2_ctrls.len()
        );
        ns
    }
}

/// `sg_persist ARGS DEV` (the program at `sg_persist`), re-sent while it ends in UNIT
/// ATTENTION (exit 6), at most `tries` times; it must then succeed. Its stdout.
pub fn sg_persist_settled(sg_persist: &str, args: &[&str], dev: &str, tries: usize) -> String {
    for _ in 0..tries {
        let (rc, out, err) = run(sg_persist, &[args, &[dev]].concat());
        match rc {
            0 => return out,
            6 => continue,
            _ => panic!("sg_persist {args:?} {dev} failed ({rc}):\n{out}\n{err}"),
        }
    }
    panic!("sg_persist {args:?} {dev}: unit attention {tries} times");
}

/// Runs a command; returns (exit code, stdout, stderr).
pub fn run(cmd: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e} (is it installed in the guest?)"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command that must succeed; returns its stdout.
pub fn run_ok(cmd: &str, args: &[&str]) -> String {
    let (rc, out, err) = run(cmd, args);
    assert_eq!(rc, 0, "{cmd} {args:?} failed ({rc}):\n{out}\n{err}");
    out
}

/// Runs a bash snippet with the lab's guest tools (`lab/guest-tools.sh`) sourced.
pub fn guest_tools(snippet: &str) -> String {
    let tools = need("LAB_GUEST_TOOLS");
    run_ok("bash", &["-c", &format!(". '{tools}' && {snippet}")])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "needs the project's QEMU lab")]
    fn missing_variable_fails_loudly() {
        need("LAB_SURELY_NOT_SET_ANYWHERE");
    }

    #[test]
    #[should_panic(expected = "--nvme")]
    fn missing_nvme_fails_loudly() {
        if std::env::var_os("LAB_NVME_NS").is_some() {
            panic!("LAB_NVME_NS is set here: not testing the message (--nvme)");
        }
        NvmeNs::get(0);
    }

    #[test]
    fn run_reports_exit_code_and_output() {
        let (rc, out, _) = run("sh", &["-c", "echo hi; exit 3"]);
        assert_eq!((rc, out.as_str()), (3, "hi\n"));
    }
}
