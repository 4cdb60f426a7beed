//! The NVMe lab's layout, proved with nvme-cli only (issue 16; no SDK code yet): every
//! namespace of `lab/run.sh --nvme N` (sid stack only: the kernel NVMe target's
//! reservations need Linux 6.13+) is reachable by node 1 through the namespace head and by
//! node 2 through its own controllers, each node through two live TCP paths, and a
//! reservation taken by node 1 stops node 2's writes.
//!
//! `#[ignore]`d: it runs in the lab (`lab/test.sh --stack sid`); run elsewhere (or on the
//! debian12 stack) it fails and says why.

use std::fs;
use std::path::Path;

use pr_lab_support::{NvmeNs, run, run_ok};

/// One sysfs attribute of controller `ctrl` (`/dev/nvmeX`), trimmed.
fn ctrl_attr(ctrl: &Path, attr: &str) -> String {
    let name = ctrl.file_name().expect("a controller device name");
    let p = Path::new("/sys/class/nvme").join(name).join(attr);
    fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
        .trim()
        .to_owned()
}

/// `nvme resv-report DEV -n 1 --eds -o json`: (rtype, [(hostid, holds)]), parsed from
/// nvme-cli's JSON by its key names (no JSON crate in this test crate).
fn report(dev: &Path) -> (u32, Vec<(String, bool)>) {
    let out = run_ok(
        "nvme",
        &[
            "resv-report",
            &dev.display().to_string(),
            "-n",
            "1",
            "--eds",
            "-o",
            "json",
        ],
    );
    let compact: String = out.split_whitespace().collect();
    let num = |s: &str, key: &str| -> Option<u32> {
        let at = s.find(key)? + key.len();
        let digits: String = s[at..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let rtype = num(&compact, "\"rtype\":").unwrap_or_else(|| panic!("no rtype in:\n{out}"));
    let regs = compact
        .split('{')
        .skip(2)
        .filter_map(|e| {
            let at = e.find("\"hostid\":\"")? + "\"hostid\":\"".len();
            let id: String = e[at..].chars().take_while(|c| *c != '"').collect();
            Some((id, num(e, "\"rcsts\":")? & 1 == 1))
        })
        .collect();
    (rtype, regs)
}

/// `nvme write DEV -n 1` of one 4 KiB block at LBA 0: (success, output).
fn nvme_write(dev: &Path) -> (bool, String) {
    let (rc, out, err) = run(
        "nvme",
        &[
            "write",
            &dev.display().to_string(),
            "-n",
            "1",
            "-s",
            "0",
            "-c",
            "0",
            "-z",
            "4096",
            "-d",
            "/dev/zero",
        ],
    );
    (rc == 0, format!("{out}{err}"))
}

#[test]
#[ignore = "needs the project's QEMU lab with --nvme (lab/test.sh --stack sid)"]
fn nvme_layout_sid_only() {
    let n: usize = std::env::var("LAB_NVME_NS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    // NvmeNs::get(0) fails with the reason when the lab has no NVMe
    let count = n.max(1);
    for i in 0..count {
        let ns = NvmeNs::get(i);
        println!(
            "namespace {i}: head {} (node 1), node 1 controllers {:?}, node 2 controllers {:?}",
            ns.dev.display(),
            ns.ctrls,
            ns.node2_ctrls
        );
        // every controller: live, the node's host NQN and Host ID, the node's own port
        let ports = [["4420", "4421"], ["4422", "4423"]];
        for (node, ctrls) in [&ns.ctrls, &ns.node2_ctrls].into_iter().enumerate() {
            for (c, port) in ctrls.iter().zip(ports[node]) {
                assert_eq!(ctrl_attr(c, "state"), "live", "{}", c.display());
                assert_eq!(ctrl_attr(c, "subsysnqn"), ns.subnqn, "{}", c.display());
                assert_eq!(ctrl_attr(c, "hostnqn"), ns.hostnqn[node], "{}", c.display());
                assert_eq!(ctrl_attr(c, "hostid"), ns.hostid[node], "{}", c.display());
                let addr = ctrl_attr(c, "address");
                assert!(
                    addr.contains(&format!("trsvcid={port},")),
                    "{}: {addr}",
                    c.display()
                );
            }
        }
        // the kernel's grouping: one head, the four paths of both nodes under it
        let head = ns
            .dev
            .file_name()
            .expect("head name")
            .to_string_lossy()
            .into_owned();
        for p in ns.paths.iter().chain(&ns.node2_paths) {
            let link = Path::new("/sys/block")
                .join(&head)
                .join("multipath")
                .join(p);
            assert!(link.exists(), "path {p} is not under the head {head}");
        }
        assert!(ns.ng.exists(), "{} is missing", ns.ng.display());
        // ANA: node 1's paths optimized, node 2's non-optimized (so the head's I/O stays on
        // node 1's controllers while one of them is live)
        for (paths, want) in [(&ns.paths, "optimized"), (&ns.node2_paths, "non-optimized")] {
            for p in paths {
                let f = Path::new("/sys/block").join(p).join("ana_state");
                let got = fs::read_to_string(&f)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", f.display()));
                assert_eq!(got.trim(), want, "ANA state of path {p}");
            }
        }

        // reservations: node 1 through the head, node 2 through its first controller
        let (hid1, hid2) = (ns.hostid[0].replace('-', ""), ns.hostid[1].replace('-', ""));
        let dev = ns.dev.display().to_string();
        let c2 = ns.node2_ctrls[0].display().to_string();
        assert_eq!(report(&ns.dev), (0, vec![]), "registrations at start");
        run_ok(
            "nvme",
            &[
                "resv-register",
                &dev,
                "-n",
                "1",
                "--nrkey=0x11",
                "--rrega=0",
            ],
        );
        run_ok(
            "nvme",
            &["resv-register", &c2, "-n", "1", "--nrkey=0x22", "--rrega=0"],
        );
        run_ok(
            "nvme",
            &[
                "resv-acquire",
                &dev,
                "-n",
                "1",
                "--crkey=0x11",
                "--rtype=1",
                "--racqa=0",
            ],
        );
        for seen_by in [&ns.dev, &ns.node2_ctrls[1]] {
            let (rtype, regs) = report(seen_by);
            assert_eq!(rtype, 1, "Write Exclusive, seen by {}", seen_by.display());
            let mut regs = regs;
            regs.sort();
            let mut want = vec![(hid1.clone(), true), (hid2.clone(), false)];
            want.sort();
            assert_eq!(
                regs,
                want,
                "registrants and holder, seen by {}",
                seen_by.display()
            );
        }
        let (ok, out) = nvme_write(&ns.dev);
        assert!(ok, "node 1 (holder) writes through the head: {out}");
        for c in &ns.node2_ctrls {
            let (ok, out) = nvme_write(c);
            assert!(
                !ok && out.to_ascii_lowercase().contains("reservation conflict"),
                "node 2's write through {} must get Reservation Conflict: {out}",
                c.display()
            );
        }
        run_ok(
            "nvme",
            &[
                "resv-release",
                &dev,
                "-n",
                "1",
                "--crkey=0x11",
                "--rtype=1",
                "--rrela=1",
            ],
        );
        assert_eq!(report(&ns.dev), (0, vec![]), "registrations after clear");
        let (ok, out) = nvme_write(&ns.node2_ctrls[0]);
        assert!(ok, "node 2 writes once the reservation is cleared: {out}");
    }
}
