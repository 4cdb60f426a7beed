//! Lab tests of native mode on real dm-multipath maps and devices over LIO (run by
//! `lab/test.sh` inside the QEMU guest; `#[ignore]` everywhere else; `-- native_` selects
//! them).
//!
//! `native_show_names_each_real_paths_key`: a distinct key registered through every
//! nexus of every LUN (node-1 map paths and node-2 paths) with the stack's `sg_persist`,
//! a Write Exclusive reservation through one node-1 path; then `prsdk show --json` (every
//! map, and single devices) must name each path's key as registered through that very
//! path (so each path's I_T nexus was learned from sysfs: iSCSI session, tcm_loop's
//! configfs nexus, VPD page 83h's relative target port), the holder, and the other node's
//! keys; `prsdk keys/reservation/status --json` on maps and devices must agree with
//! `sg_persist` and the stack's `mpathpersist` reading the same LUN.
//!
//! `native_fence_and_unfence_real_maps`: node 1 unfences and reserves (WR_EX_RO) its maps,
//! node 2 unfences its devices, then node 2 fences node 1 across every LUN (PREEMPT AND
//! ABORT over iSCSI; PREEMPT over tcm_loop, where PREEMPT AND ABORT deadlocks LIO); a
//! second fence is "already fenced"; the end state is read with `sg_persist`; node 1's
//! unfence registers it again.

use std::collections::BTreeMap;
use std::process::Command;

use pr_lab_support::{LabLun, need, run};
use serde_json::Value;

const SG_PERSIST: &str = "/usr/bin/sg_persist";
const MPATHPERSIST: &str = "/sbin/mpathpersist";

fn luns() -> Vec<LabLun> {
    let n: usize = need("LAB_LUNS")
        .trim()
        .parse()
        .expect("LAB_LUNS is a number");
    (0..n).map(LabLun::get).collect()
}

fn base(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `sg_persist ARGS DEV`, again on a unit attention (status 6), at most 5 times.
fn sgp(args: &[&str], dev: &str) -> String {
    pr_lab_support::sg_persist_settled(SG_PERSIST, args, dev, 5)
}

/// `prsdk --json ARGS`: its status and document.
fn prsdk(args: &[&str]) -> (i32, Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_prsdk"))
        .arg("--json")
        .args(args)
        .output()
        .expect("run prsdk");
    let out = String::from_utf8_lossy(&o.stdout);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| {
        panic!(
            "prsdk {args:?}: not JSON ({e}):\n{out}\n{}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code().unwrap_or(-1), v)
}

/// `prsdk --json ARGS` that must succeed.
fn prsdk_ok(args: &[&str]) -> Value {
    let (rc, v) = prsdk(args);
    assert_eq!(rc, 0, "prsdk {args:?} failed ({rc}):\n{v:#}");
    v
}

/// Every registration and reservation of the LUN gone.
fn reset(lun: &LabLun) {
    let all = lun.devices();
    for p in &all {
        sgp(&["-n", "-o", "-I", "-S", "0xfeed"], p);
    }
    sgp(&["-n", "-o", "-C", "-K", "0xfeed"], &all[0]);
    for p in &all {
        sgp(&["-n", "-k"], p);
    }
    assert_eq!(keys_of(&sgp(&["-n", "-k"], &all[0])), Vec::<u64>::new());
}

/// The keys `sg_persist -i -k` (or `mpathpersist -i -k`) lists, sorted.
fn keys_of(text: &str) -> Vec<u64> {
    let mut k: Vec<u64> = text
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("0x"))
        .map(|h| u64::from_str_radix(h, 16).expect("hex key"))
        .collect();
    k.sort_unstable();
    k
}

/// `(key, relative target port, TransportID text)` of each `sg_persist -i -s` descriptor,
/// sorted; the TransportID as pr-core writes it (`sas,<16 hex>`, `NAME,i,0xISID`).
fn status_of(text: &str) -> Vec<(u64, u16, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(u64, u16)> = None;
    for l in text.lines().map(str::trim) {
        if let Some(k) = l.strip_prefix("Key=0x") {
            cur = Some((u64::from_str_radix(k, 16).expect("hex key"), 0));
        } else if let Some(r) = l.strip_prefix("Relative port address: 0x") {
            if let Some(c) = cur.as_mut() {
                c.1 = u16::from_str_radix(r, 16).expect("hex rtp");
            }
        } else if let Some(a) = l.strip_prefix("SAS address: 0x") {
            let (k, r) = cur.take().expect("TransportID after Key=");
            let a = u64::from_str_radix(a, 16).expect("hex SAS address");
            out.push((k, r, format!("sas,{a:016x}")));
        } else if let Some(n) = l.strip_prefix("iSCSI world wide unique port id: ") {
            let (k, r) = cur.take().expect("TransportID after Key=");
            out.push((k, r, n.to_owned()));
        }
    }
    out.sort();
    out
}

fn hex(k: u64) -> String {
    format!("{k:#x}")
}

fn key_of(v: &Value) -> Option<u64> {
    v.as_str()
        .map(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex key"))
}

/// The result of `lun` in a document.
fn result<'a>(doc: &'a Value, lun: &str) -> &'a Value {
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["lun"] == lun)
        .unwrap_or_else(|| panic!("no result for {lun} in {doc:#}"))
}

/// `show`'s paths of one result: name -> (known, key, holder), failing on an unknown path.
fn shown(r: &Value) -> BTreeMap<String, (Option<u64>, bool)> {
    assert_eq!(r["ok"], true, "{r:#}");
    r["data"]["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .map(|p| {
            assert_eq!(
                p["known"], true,
                "the path's I_T nexus was not learned ({}): {p:#}",
                p["unknown_reason"]
            );
            (
                base(std::path::Path::new(p["path"].as_str().expect("path"))),
                (key_of(&p["key"]), p["holder"] == true),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs the lab: lab/test.sh -- native_"]
fn native_show_names_each_real_paths_key() {
    let luns = luns();
    // path name -> key registered through it, per LUN.
    let mut registered: Vec<BTreeMap<String, u64>> = Vec::new();
    let mut node2_keys: Vec<Vec<u64>> = Vec::new();
    for lun in &luns {
        reset(lun);
        let i = lun.index as u64;
        let mut m = BTreeMap::new();
        for (j, p) in lun.paths.iter().enumerate() {
            let k = 0xa000 + i * 0x100 + j as u64 + 1;
            sgp(&["-n", "-o", "-I", "-S", &hex(k)], &p.display().to_string());
            m.insert(base(p), k);
        }
        let mut n2 = Vec::new();
        for (j, p) in lun.node2.iter().enumerate() {
            let k = 0xb000 + i * 0x100 + j as u64 + 1;
            sgp(&["-n", "-o", "-I", "-S", &hex(k)], &p.display().to_string());
            m.insert(base(p), k);
            n2.push(k);
        }
        registered.push(m);
        node2_keys.push(n2);
    }
    // A Write Exclusive reservation through LUN 0's first node-1 path.
    let holder_path = base(&luns[0].paths[0]);
    let holder_key = registered[0][&holder_path];
    sgp(
        &["-n", "-o", "-R", "-T", "1", "-K", &hex(holder_key)],
        &luns[0].paths[0].display().to_string(),
    );

    // Every map at once.
    let all = prsdk_ok(&["show"]);
    for (lun, reg) in luns.iter().zip(&registered) {
        let r = result(&all, &lun.map_name);
        let paths = shown(r);
        let want: BTreeMap<String, (Option<u64>, bool)> = lun
            .paths
            .iter()
            .map(|p| {
                let n = base(p);
                let holder = lun.index == 0 && n == holder_path;
                (n.clone(), (Some(reg[&n]), holder))
            })
            .collect();
        assert_eq!(paths, want, "{}: show's paths\n{r:#}", lun.map_name);
        let mut others: Vec<u64> = r["data"]["other_keys"]
            .as_array()
            .expect("other_keys")
            .iter()
            .filter_map(key_of)
            .collect();
        others.sort_unstable();
        assert_eq!(
            others, node2_keys[lun.index],
            "{}: the other node's keys\n{r:#}",
            lun.map_name
        );

        // keys, reservation, status on the map agree with sg_persist and mpathpersist.
        let sg = lun.sgs[0].display().to_string();
        let mut want_keys: Vec<u64> = reg.values().copied().collect();
        want_keys.sort_unstable();
        assert_eq!(keys_of(&sgp(&["-n", "-i", "-k"], &sg)), want_keys);
        let (rc, mp, err) = run(MPATHPERSIST, &["-i", "-k", &lun.map.display().to_string()]);
        assert_eq!(rc, 0, "mpathpersist -i -k: {mp}{err}");
        let mut mp_keys = keys_of(&mp);
        mp_keys.dedup(); // Debian 12's 0.9.4 lists a key once per path
        assert_eq!(mp_keys, want_keys, "mpathpersist -i -k:\n{mp}");
        let k = prsdk_ok(&["keys", &lun.map_name]);
        let mut ours: Vec<u64> = result(&k, &lun.map_name)["data"]["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .filter_map(key_of)
            .collect();
        ours.sort_unstable();
        assert_eq!(ours, want_keys, "prsdk keys {}", lun.map_name);

        let s = prsdk_ok(&["status", &lun.map_name]);
        let mut ours: Vec<(u64, u16, String)> = result(&s, &lun.map_name)["data"]["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| {
                (
                    key_of(&e["key"]).expect("key"),
                    u16::try_from(e["relative_target_port"].as_u64().expect("rtp")).unwrap(),
                    e["transport_id"]["text"].as_str().expect("tid").to_owned(),
                )
            })
            .collect();
        ours.sort();
        let theirs = status_of(&sgp(&["-n", "-i", "-s"], &sg));
        assert_eq!(
            ours, theirs,
            "prsdk status vs sg_persist -i -s on {}",
            lun.map_name
        );
        assert_eq!(theirs.len(), reg.len(), "one descriptor per nexus");

        let rv = prsdk_ok(&["reservation", &lun.map_name]);
        let res = &result(&rv, &lun.map_name)["data"]["reservation"];
        let sg_res = sgp(&["-n", "-i", "-r"], &sg);
        if lun.index == 0 {
            assert_eq!(key_of(&res["key"]), Some(holder_key), "{rv:#}");
            assert_eq!(res["type_code"], 1, "{rv:#}");
            assert!(
                sg_res.contains(&format!("Key={}", hex(holder_key))),
                "{sg_res}"
            );
            assert!(
                sg_res
                    .lines()
                    .any(|l| l.trim().ends_with("type: Write Exclusive")),
                "{sg_res}"
            );
        } else {
            assert!(res.is_null(), "{rv:#}");
            assert!(sg_res.contains("there is NO reservation held"), "{sg_res}");
        }
    }

    // Single devices: a node-1 path and a node-2 path of each LUN, one result each.
    for (lun, reg) in luns.iter().zip(&registered) {
        for p in [&lun.paths[1], &lun.node2[0]] {
            let dev = p.display().to_string();
            let v = prsdk_ok(&["show", &dev]);
            let paths = shown(result(&v, &dev));
            assert_eq!(
                paths,
                BTreeMap::from([(base(p), (Some(reg[&base(p)]), false))]),
                "prsdk show {dev}\n{v:#}"
            );
            let k = prsdk_ok(&["keys", &dev]);
            let n = result(&k, &dev)["data"]["keys"]
                .as_array()
                .expect("keys")
                .len();
            assert_eq!(n, reg.len(), "prsdk keys {dev}: {k:#}");
        }
    }

    for lun in &luns {
        reset(lun);
    }
}

/// `fence`/`unfence` results: LUN name -> outcome.
fn outcomes(doc: &Value) -> BTreeMap<String, Value> {
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["lun"].as_str().expect("lun").to_owned(),
                r["outcome"].clone(),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs the lab: lab/test.sh -- native_"]
fn native_fence_and_unfence_real_maps() {
    const K1: &str = "0x1a1a";
    const K2: &str = "0x2b2b";
    let luns = luns();
    for lun in &luns {
        reset(lun);
    }
    let maps: Vec<&str> = luns.iter().map(|l| l.map_name.as_str()).collect();
    let node2: Vec<String> = luns
        .iter()
        .map(|l| l.node2[0].display().to_string())
        .collect();
    let node2: Vec<&str> = node2.iter().map(String::as_str).collect();

    // Node 1: registered on every path of its maps, holding WR_EX_RO.
    let v = prsdk_ok(&[&["unfence", "--key", K1][..], &maps].concat());
    assert!(outcomes(&v).values().all(|o| o == "ok"), "{v:#}");
    prsdk_ok(&[&["reserve", "--key", K1, "--type", "wr_ex_ro"][..], &maps].concat());
    // Node 2: registered through its path of each LUN.
    let v = prsdk_ok(&[&["unfence", "--key", K2][..], &node2].concat());
    assert!(outcomes(&v).values().all(|o| o == "ok"), "{v:#}");

    // Node 2 fences node 1 across every LUN.
    let abort = luns[0].is_iscsi();
    let mut fence = vec!["fence", "--key", K2, "--victim", K1];
    if !abort {
        fence.push("--preempt"); // PREEMPT AND ABORT deadlocks LIO over tcm_loop
    }
    let fence = [&fence[..], &node2].concat();
    let v = prsdk_ok(&fence);
    let o = outcomes(&v);
    assert_eq!(o.len(), luns.len(), "{v:#}");
    assert!(o.values().all(|o| o == "ok"), "first fence: {v:#}");
    // Again: every LUN already fenced, status 0.
    let v = prsdk_ok(&fence);
    let o = outcomes(&v);
    assert!(
        o.values().all(|o| o == "already_fenced"),
        "second fence: {v:#}"
    );

    // The end state, as sg_persist reads it through both nodes' paths.
    let k2 = u64::from_str_radix(&K2[2..], 16).unwrap();
    for lun in &luns {
        for sg in [&lun.node2_sgs[0], &lun.sgs[0]] {
            let sg = sg.display().to_string();
            assert_eq!(keys_of(&sgp(&["-n", "-i", "-k"], &sg)), vec![k2], "{sg}");
            let r = sgp(&["-n", "-i", "-r"], &sg);
            assert!(r.contains(&format!("Key={K2}")), "{sg}: {r}");
            assert!(r.contains("Write Exclusive, registrants only"), "{sg}: {r}");
        }
        // Node 1's view: its paths unregistered, node 2's key the other host's.
        let v = prsdk_ok(&["show", &lun.map_name]);
        let r = result(&v, &lun.map_name);
        let paths = shown(r);
        assert_eq!(paths.len(), lun.paths.len(), "{r:#}");
        assert!(paths.values().all(|p| *p == (None, false)), "{r:#}");
        assert_eq!(r["data"]["other_keys"], serde_json::json!([K2]), "{r:#}");
        assert_eq!(r["data"]["reservation"]["key"], K2, "{r:#}");
    }

    // Node 1 unfences again: registered on every path, node 2 still holding.
    let v = prsdk_ok(&[&["unfence", "--key", K1][..], &maps].concat());
    assert!(outcomes(&v).values().all(|o| o == "ok"), "{v:#}");
    let k1 = u64::from_str_radix(&K1[2..], 16).unwrap();
    for lun in &luns {
        let mut want = vec![k1; lun.paths.len()];
        want.push(k2);
        want.sort_unstable();
        let sg = lun.node2_sgs[0].display().to_string();
        assert_eq!(keys_of(&sgp(&["-n", "-i", "-k"], &sg)), want);
        let v = prsdk_ok(&["show", &lun.map_name]);
        let paths = shown(result(&v, &lun.map_name));
        assert!(paths.values().all(|p| *p == (Some(k1), false)), "{v:#}");
    }

    for lun in &luns {
        reset(lun);
    }
}
