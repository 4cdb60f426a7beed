//! The mpathpersist printers fed with every PR IN response captured from real LIO
//! (pr-core's `tests/fixtures/lio`, tcm_loop and iSCSI). No mpathpersist ran on these
//! bytes, but `sg_persist` 0.67 did and its decoded text is in each capture: the test
//! reads the facts from that text (generation, keys, the reservation, every full-status
//! descriptor with its TransportID, the capability bits) and writes them the way
//! mpathpersist 0.9.4 prints them (its format strings, its tab before the key count,
//! its blank before the full-status newline, its TransportID lines and `dumpHex`, its
//! REPORT CAPABILITIES quirks), then compares with what our printers make of the raw
//! bytes. Captures whose response is shorter than its header announces (the `-allocN`
//! ones) are left out: sg_persist printed stale memory there.

use std::path::PathBuf;

use pr_cli::mpathpersist::print;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../pr-core/tests/fixtures/lio")
}

/// The first section of a capture's text: sg_persist's decoded output.
fn decoded(text: &str) -> Vec<&str> {
    text.lines()
        .skip(1)
        .take_while(|l| !l.is_empty() && !l.starts_with("# "))
        .collect()
}

fn after<'a>(line: &'a str, prefix: &str) -> &'a str {
    line.trim_start()
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{line:?} does not start with {prefix:?}"))
}

/// `dumpHex` of 8 bytes, as mpathpersist prints a SAS address.
fn dump8(v: u64) -> String {
    let b = v.to_be_bytes();
    format!(
        "        {}\n",
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

fn keys(lines: &[&str]) -> String {
    let (head, count) = lines[0].split_once(", ").unwrap();
    let count = match count {
        "there are NO registered reservation keys" => "\t0 registered reservation key.".into(),
        c => format!("\t{c}"),
    };
    let mut s = format!("{head}, {count}\n");
    for k in &lines[1..] {
        s.push_str(&format!("{k}\n"));
    }
    s
}

fn reservation(lines: &[&str]) -> String {
    let (head, rest) = lines[0].split_once(", ").unwrap();
    if rest == "there is NO reservation held" {
        return format!("{head}, there is NO reservation held \n");
    }
    assert_eq!(rest, "Reservation follows:");
    let key = after(lines[1], "Key=");
    let ty = after(lines[2], "scope: LU_SCOPE,  type: ");
    format!("{head}, Reservation follows:\n   Key = {key}\n  scope = LU_SCOPE, type = {ty}\n")
}

fn full_status(lines: &[&str]) -> String {
    let mut s = format!("{} \n", lines[0]);
    let mut it = lines[1..].iter();
    while let Some(l) = it.next() {
        if l.trim_start() == "No full status descriptors" {
            continue;
        }
        if let Some(k) = l.trim_start().strip_prefix("Key=") {
            s.push_str(&format!("   Key = {k}\n"));
        } else if l.trim_start() == "Transport Id of initiator:" {
            let t = it.next().unwrap().trim_start();
            if let Some(a) = t.strip_prefix("SAS address: 0x") {
                s.push_str(&format!(
                    "   SAS {}",
                    dump8(u64::from_str_radix(a, 16).unwrap())
                ));
            } else if let Some(n) = t.strip_prefix("iSCSI world wide unique port id: ") {
                s.push_str(&format!("   iSCSI world wide unique port id: {n}\n"));
            } else if let Some(n) = t.strip_prefix("iSCSI name: ") {
                s.push_str(&format!("   iSCSI name: {n}\n"));
            } else {
                panic!("TransportID line {t:?}");
            }
        } else {
            // The flag, port and holder lines are the same text in both tools.
            s.push_str(&format!("{l}\n"));
        }
    }
    s
}

fn capabilities(lines: &[&str]) -> String {
    let bit = |name: &str| -> u8 {
        let l = lines
            .iter()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name}"));
        l.rsplit(": ").next().unwrap().parse().unwrap()
    };
    let (rlr, crh, sip, atp, ptpl) = (
        bit("Replace Lost"),
        bit("Compatible"),
        bit("Specify"),
        bit("All Target"),
        bit("Persist Through Power Loss Capable"),
    );
    let byte2 = rlr << 7 | crh << 4 | sip << 3 | atp << 2 | ptpl;
    let (tmv, allow, ptpl_a) = (
        bit("Type Mask Valid"),
        bit("Allow Commands"),
        bit("Persist Through Power Loss Active"),
    );
    let mut s = String::from("Report capabilities response:\n");
    for (name, v) in [
        ("Compatible Reservation Handling(CRH)", crh),
        ("Specify Initiator Ports Capable(SIP_C)", sip),
        ("All Target Ports Capable(ATP_C)", atp),
        (
            "Persist Through Power Loss Capable(PTPL_C)",
            u8::from(byte2 != 0),
        ),
        ("Type Mask Valid(TMV)", tmv),
        ("Allow Commands", u8::from(allow != 0)),
        ("Persist Through Power Loss Active(PTPL_A)", ptpl_a),
    ] {
        s.push_str(&format!("  {name}: {v}\n"));
    }
    if tmv == 1 {
        // The mask's bytes 4 and 5 from sg_persist's decoding; mpathpersist reads them
        // as one big-endian number and masks it with byte 4's bit values.
        let t = |n: &str| u16::from(bit(&format!("{n}:")));
        let byte4 = t("Write Exclusive, all registrants") << 7
            | t("Exclusive Access, registrants only") << 6
            | t("Write Exclusive, registrants only") << 5
            | t("Exclusive Access") << 3
            | t("Write Exclusive") << 1;
        let mask = byte4 << 8 | t("Exclusive Access, all registrants");
        s.push_str("    Support indicated in Type mask:\n");
        for (name, m) in [
            ("Write Exclusive, all registrants", 0x80),
            ("Exclusive Access, registrants only", 0x40),
            ("Write Exclusive, registrants only", 0x20),
            ("Exclusive Access", 0x08),
            ("Write Exclusive", 0x02),
            ("Exclusive Access, all registrants", 0x100),
        ] {
            s.push_str(&format!("      {name}: {}\n", mask & m));
        }
    }
    s
}

#[test]
fn printers_match_mpathpersist_formats_on_lio_captures() {
    let dir = fixtures();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("pr-core's LIO fixtures")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".bin") && !n.ends_with(".sense.bin"))
        .collect();
    names.sort();
    let (mut compared, mut skipped) = (0, 0);
    let mut failures = Vec::new();
    for name in &names {
        let stem = name.trim_end_matches(".bin");
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let text = std::fs::read_to_string(dir.join(format!("{stem}.txt"))).unwrap();
        let sa = match stem.rsplit('.').next().unwrap() {
            "read_keys" => 0,
            "read_reservation" => 1,
            "report_capabilities" => 2,
            "read_full_status" => 3,
            other => panic!("{name}: service action {other}"),
        };
        let announced = if sa == 2 {
            8
        } else {
            8 + u32::from_be_bytes(bytes[4..8].try_into().unwrap()) as usize
        };
        if bytes.len() < announced {
            skipped += 1;
            continue;
        }
        let lines = decoded(&text);
        let expected = match sa {
            0 => keys(&lines),
            1 => reservation(&lines),
            2 => capabilities(&lines),
            _ => full_status(&lines),
        };
        let (out, err) = print::prin(sa, &bytes);
        let out = String::from_utf8(out).unwrap();
        if out != expected || !err.is_empty() {
            failures.push(format!(
                "{name}:\n--- expected\n{expected}--- ours\n{out}--- stderr {:?}",
                String::from_utf8_lossy(&err)
            ));
        }
        compared += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared >= 95, "only {compared} captures compared");
    eprintln!("{compared} captures compared, {skipped} truncated ones left out");
}

/// The allocation lengths mpathpersist uses cut LIO's answers; the printers take what
/// the cut response holds (the keys past it as zeros, as 0.9.4's zeroed buffer gives).
#[test]
fn short_responses_read_as_zeros() {
    let mut b = vec![0, 0, 0, 3, 0, 0, 0, 16];
    b.extend_from_slice(&0x1111u64.to_be_bytes());
    let (out, _) = print::prin(0, &b);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "  PR generation=0x3, \t2 registered reservation keys follow:\n    0x1111\n    0x0\n"
    );
}
