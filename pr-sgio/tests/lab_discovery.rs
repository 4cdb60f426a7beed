//! Proof on real dm-multipath maps (issue 3): pr-sgio's discovery finds every map and path
//! that `multipath -ll` (and `multipathd show paths`) shows, with the same states, in a
//! healthy lab, after a path is failed (`offline`), after it is reinstated, after a new
//! path is added and after a path is deleted. `#[ignore]`d: `lab/test.sh` runs it in the lab.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use pr_sgio::discover::{Discovery, PathState};

/// One path line of `multipath -ll`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct LlPath {
    hctl: String,
    dev: String,
    devt: String,
    /// dm state (active / failed)
    dm: String,
    /// online state (running / offline / ...)
    online: String,
}

/// Maps of `multipath -ll`: name -> (wwid, kernel name, paths).
fn multipath_ll() -> BTreeMap<String, (String, String, Vec<LlPath>)> {
    let text = run_ok("multipath", &["-ll"]);
    let mut maps = BTreeMap::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        let toks: Vec<&str> = line.split_whitespace().collect();
        if !line.starts_with(' ')
            && !line.starts_with('|')
            && !line.starts_with('`')
            && toks.len() >= 3
            && toks[1].starts_with('(')
        {
            // mpatha (36001405...) dm-0 LIO-ORG,FILEIO
            let wwid = toks[1].trim_matches(|c| c == '(' || c == ')').to_owned();
            maps.insert(toks[0].to_owned(), (wwid, toks[2].to_owned(), Vec::new()));
            cur = Some(toks[0].to_owned());
            continue;
        }
        // "  |- 1:0:0:0 sdc 8:32 active ready running" (path lines have an H:C:T:L)
        let Some(i) = toks.iter().position(|t| {
            t.matches(':').count() == 3 && t.split(':').all(|x| x.parse::<u32>().is_ok())
        }) else {
            continue;
        };
        if toks.len() < i + 6 {
            continue;
        }
        let m = cur.as_ref().expect("path line before a map line");
        maps.get_mut(m).unwrap().2.push(LlPath {
            hctl: toks[i].to_owned(),
            dev: toks[i + 1].to_owned(),
            devt: toks[i + 2].to_owned(),
            dm: toks[i + 3].to_owned(),
            online: toks[i + 5].to_owned(),
        });
    }
    for v in maps.values_mut() {
        v.2.sort();
    }
    maps
}

/// `multipathd show paths format "%d %t %m"`: dev -> (dm state, map).
fn multipathd_paths() -> BTreeMap<String, (String, String)> {
    run_ok("multipathd", &["show", "paths", "format", "%d %t %T %m"])
        .lines()
        .skip(1)
        .filter_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            (t.len() >= 4 && t[3] != "[orphan]")
                .then(|| (t[0].to_owned(), (t[1].to_owned(), t[3].to_owned())))
        })
        .collect()
}

/// The same view built from pr-sgio's discovery (dm ioctls + sysfs).
fn discovered() -> BTreeMap<String, (String, String, Vec<LlPath>)> {
    let disc = Discovery::new().unwrap_or_else(|e| panic!("{e}"));
    let mut maps = BTreeMap::new();
    for m in disc.maps().unwrap_or_else(|e| panic!("{e}")) {
        let mut paths: Vec<LlPath> = m
            .paths
            .iter()
            .map(|p| LlPath {
                hctl: p
                    .hctl
                    .map(|h| format!("{}:{}:{}:{}", h.host, h.channel, h.target, h.lun))
                    .unwrap_or_default(),
                dev: p.name.clone().unwrap_or_default(),
                devt: format!("{}:{}", p.dev.major, p.dev.minor),
                dm: match p.dm_state {
                    PathState::Active => "active".into(),
                    PathState::Failed => "failed".into(),
                },
                online: p.sysfs_state.clone().unwrap_or_default(),
            })
            .collect();
        paths.sort();
        // identity from VPD 83h agrees with the map's WWID
        for p in &m.paths {
            if let Some(id) = &p.lu_id {
                assert_eq!(id.wwid(), m.wwid, "VPD 83h of {:?} in {}", p.name, m.name);
            }
            assert!(p.sg.is_some(), "{:?} has no sg node", p.name);
            if let Some(name) = &p.name {
                let h = pr_sgio::discover::holder_map(disc.sysfs(), name)
                    .unwrap_or_else(|| panic!("{name}: no holder map found"));
                assert_eq!(h.name, m.name, "holder of {name}");
            }
        }
        maps.insert(
            m.name.clone(),
            (
                m.wwid.clone(),
                m.kernel_name.clone().unwrap_or_default(),
                paths,
            ),
        );
    }
    maps
}

fn assert_same(step: &str) {
    // multipathd may still be applying a kernel event: retry a little before failing.
    let mut last = None;
    for _ in 0..20 {
        let ll = multipath_ll();
        let ours = discovered();
        let mpd = multipathd_paths();
        let ours_mpd: BTreeMap<String, (String, String)> = ours
            .iter()
            .flat_map(|(m, (_, _, ps))| {
                ps.iter()
                    .map(move |p| (p.dev.clone(), (p.dm.clone(), m.clone())))
            })
            .collect();
        let mpd_dm: BTreeMap<String, (String, String)> = mpd
            .iter()
            .map(|(d, (dm, m))| (d.clone(), (dm.clone(), m.clone())))
            .collect();
        if ll == ours && mpd_dm == ours_mpd {
            let n: usize = ours.values().map(|v| v.2.len()).sum();
            eprintln!(
                "  [{step}] {} map(s), {n} path(s): discovery == multipath -ll == multipathd",
                ours.len()
            );
            for (m, (w, k, ps)) in &ours {
                eprintln!("    {m} ({w}) {k}: {ps:?}");
            }
            return;
        }
        last = Some((ll, ours, mpd, ours_mpd));
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let (ll, ours, mpd, ours_mpd) = last.unwrap();
    panic!(
        "[{step}] discovery differs from multipath:\n multipath -ll: {ll:#?}\n discovery: {ours:#?}\n \
         multipathd show paths: {mpd:?}\n discovery as dev->(dm,map): {ours_mpd:?}"
    );
}

fn dev_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
#[ignore = "needs the QEMU lab (lab/test.sh)"]
fn discovery_matches_multipath_ll_through_fail_restore_add_delete() {
    let lun = Lun::get(1);
    let luns: usize = need("LAB_LUNS").parse().unwrap();
    assert_same("healthy");
    let ours = discovered();
    assert_eq!(ours.len(), luns, "one map per LUN");
    let (wwid, _, paths) = ours
        .values()
        .find(|(w, _, _)| *w == lun.wwid)
        .unwrap_or_else(|| panic!("no map with WWID {}", lun.wwid));
    assert_eq!(wwid, &lun.wwid);
    let mut want: Vec<String> = lun.paths.iter().map(|p| dev_name(p)).collect();
    want.sort();
    let mut got: Vec<String> = paths.iter().map(|p| p.dev.clone()).collect();
    got.sort();
    assert_eq!(got, want, "LUN 1's map holds exactly LAB_PATHS_1");
    for n in &lun.node2 {
        assert!(
            ours.values()
                .all(|(_, _, ps)| ps.iter().all(|p| p.dev != dev_name(n))),
            "node-2 path {} is in a map",
            n.display()
        );
    }

    // Fail a path: offline, then I/O through the map so dm fails it at once (multipathd's
    // checker would also notice within its polling interval).
    let victim = lun.paths[0].display().to_string();
    let map = lun.map.display().to_string();
    guest_tools(&format!("lab_fail_path {victim}"));
    let _ = run(
        "dd",
        &[
            &format!("if={map}"),
            "of=/dev/null",
            "bs=4096",
            "count=256",
            "iflag=direct",
        ],
    );
    guest_tools(&format!("lab_wait_path_state {victim} failed 60"));
    assert_same("path failed");
    let d = discovered();
    let p = d
        .values()
        .flat_map(|v| v.2.iter())
        .find(|p| format!("/dev/{}", p.dev) == victim)
        .expect("failed path still listed");
    assert_eq!((p.dm.as_str(), p.online.as_str()), ("failed", "offline"));

    // Reinstate it.
    guest_tools(&format!(
        "lab_restore_path {victim} && lab_wait_path_state {victim} active 60"
    ));
    assert_same("path reinstated");

    // Add a path to LUN 1, then delete it.
    let new = guest_tools("new=$(lab_add_path 1) && lab_wait_in_map \"$new\" 60 && echo \"$new\"")
        .trim()
        .to_owned();
    guest_tools(&format!("lab_wait_path_state {new} active 60"));
    assert_same("path added");
    assert!(
        discovered()
            .values()
            .any(|(w, _, ps)| *w == lun.wwid && ps.iter().any(|p| format!("/dev/{}", p.dev) == new)),
        "the new path {new} is not in LUN 1's map"
    );
    guest_tools(&format!("lab_del_path {new}"));
    let gone = dev_name(Path::new(&new));
    wait_until(60, "multipathd to drop the deleted path", || {
        !multipathd_paths().contains_key(&gone)
    });
    assert_same("path deleted");
    assert!(
        discovered()
            .values()
            .all(|(_, _, ps)| ps.iter().all(|p| p.dev != gone)),
        "deleted path {gone} still discovered"
    );
}
