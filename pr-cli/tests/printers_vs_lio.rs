//! The sg_persist printers fed with every PR IN response captured from real LIO (pr-core's
//! `tests/fixtures/lio`, tcm_loop and iSCSI), against what the real `sg_persist` 0.67
//! printed for the same bytes in the same capture: the decoded text (`-n -i -k|-r|-c|-s`),
//! `-H` and `-HH`. Where LIO sent fewer bytes than the header announces (the `-allocN`
//! captures), sg_persist printed stale memory past them; there only what comes from the
//! received bytes is compared, and the test says how many captures it compared in full.
//! One capture has no sg_persist output to compare with: on
//! `loop-3reg-alloc120.read_full_status` sg_persist 0.67 aborted ("malloc(): corrupted
//! top size", it walks READ FULL STATUS past its buffer); ours prints the descriptors,
//! zeros past the received bytes, and exits 0.

use std::path::PathBuf;

use pr_cli::sg_persist::print;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../pr-core/tests/fixtures/lio")
}

/// The sections of a capture's text: (heading, body), in order.
fn sections(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(h) = line.strip_prefix("# ") {
            out.push((h.trim_end().to_owned(), String::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push_str(line);
        }
    }
    for s in &mut out {
        // A blank line separates the sections.
        if s.1.ends_with("\n\n") {
            s.1.pop();
        }
    }
    out
}

#[test]
fn printers_match_sg_persist_on_lio_captures() {
    let dir = fixtures();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("pr-core's LIO fixtures")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".bin") && !n.ends_with(".sense.bin"))
        .collect();
    names.sort();
    assert!(
        names.len() > 100,
        "only {} captures found in {}",
        names.len(),
        dir.display()
    );
    let (mut full, mut partial) = (0, 0);
    let mut crashed = Vec::new();
    let mut failures = Vec::new();
    for name in &names {
        let stem = name.trim_end_matches(".bin");
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let text = std::fs::read_to_string(dir.join(format!("{stem}.txt"))).unwrap();
        let sa = [
            ("read_keys", 0u8),
            ("read_reservation", 1),
            ("report_capabilities", 2),
            ("read_full_status", 3),
        ]
        .iter()
        .find(|(s, _)| stem.ends_with(s))
        .map(|(_, sa)| *sa)
        .unwrap_or_else(|| panic!("{stem}: which action?"));
        let alloc: usize = stem
            .split('-')
            .find_map(|p| p.strip_prefix("alloc"))
            .and_then(|p| p.split('.').next())
            .map_or(8192, |n| n.parse().unwrap());
        if text.contains("malloc(): corrupted") {
            crashed.push(stem.to_owned());
            continue;
        }
        let secs = sections(&text);
        let body = |mark: &str| -> &str {
            secs.iter()
                .find(|(h, _)| h.contains(mark))
                .map(|(_, b)| b.as_str())
                .unwrap_or_else(|| panic!("{stem}: no section {mark:?}"))
        };
        let decoded = secs.first().map(|(_, b)| b.as_str()).unwrap();
        let hex1 = body("... -H (");
        let hex2 = body("... -HH (");
        let mut buf = bytes.clone();
        buf.resize(alloc, 0);
        let needed = if sa == 2 {
            8
        } else {
            8 + u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize
        };
        let (d, code, _) = print::prin(sa, &buf, alloc, 0, 0);
        let (h1, _, _) = print::prin(sa, &buf, alloc, 1, 0);
        let (h2, _, _) = print::prin(sa, &buf, alloc, 2, 0);
        let mut bad = Vec::new();
        if code != 0 {
            bad.push(format!("exit {code}"));
        }
        if needed <= bytes.len() {
            full += 1;
            for (what, ours, theirs) in [
                ("decoded", &d, decoded),
                ("-H", &h1, hex1),
                ("-HH", &h2, hex2),
            ] {
                if ours != theirs {
                    bad.push(format!("{what}:\n{theirs}\n!= ours\n{ours}"));
                }
            }
        } else {
            partial += 1;
            // -H shows at most alloc - 8 bytes: all received.
            if h1 != hex1 {
                bad.push(format!("-H:\n{hex1}\n!= ours\n{h1}"));
            }
            // The first line and the -HH lines made of received bytes only.
            if d.lines().next() != decoded.lines().next() {
                bad.push(format!("decoded first line:\n{decoded}\n!= ours\n{d}"));
            }
            let whole_lines = bytes.len() / 16;
            let ours: Vec<&str> = h2.lines().take(whole_lines).collect();
            let theirs: Vec<&str> = hex2.lines().take(whole_lines).collect();
            if ours != theirs {
                bad.push(format!(
                    "-HH received lines:\n{theirs:?}\n!= ours\n{ours:?}"
                ));
            }
        }
        if !bad.is_empty() {
            failures.push(format!("{stem}:\n{}", bad.join("\n")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n\n")
    );
    eprintln!(
        "{full} captures compared in full, {partial} truncated ones in part, \
         {crashed:?} where sg_persist aborted"
    );
    assert_eq!(crashed, ["loop-3reg-alloc120.read_full_status"]);
    assert!(full >= 98, "only {full} captures compared in full");
}

/// The exit status of every failed command captured from LIO (the sense bytes, CHECK
/// CONDITION) is the one sg3_utils gave for it (`[exit N]` in the capture: 5 for ILLEGAL
/// REQUEST, 6 for UNIT ATTENTION); and the statuses that carry no sense.
#[test]
fn exit_statuses_of_lio_sense_as_sg3_utils() {
    use pr_cli::sg_persist::category;
    use pr_multipath::RawReply;
    let dir = fixtures();
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        let Some(stem) = name.strip_suffix(".sense.bin") else {
            continue;
        };
        let sense = std::fs::read(dir.join(&name)).unwrap();
        let text = std::fs::read_to_string(dir.join(format!("{stem}.txt"))).unwrap();
        let want: i32 = text
            .lines()
            .find_map(|l| l.strip_prefix("[exit ")?.strip_suffix(']')?.parse().ok())
            .unwrap_or_else(|| panic!("{stem}: no [exit N]"));
        let reply = RawReply {
            status: 2,
            sense,
            data: Vec::new(),
        };
        assert_eq!(category(&reply), want, "{stem}");
        n += 1;
    }
    assert_eq!(n, 21, "sense captures");
    let status = |s: u8| {
        category(&RawReply {
            status: s,
            sense: Vec::new(),
            data: Vec::new(),
        })
    };
    assert_eq!(status(0x00), 0);
    assert_eq!(status(0x18), 24);
    assert_eq!(status(0x08), 26);
    assert_eq!(status(0x28), 27);
    assert_eq!(status(0x02), 98, "CHECK CONDITION without sense");
}
