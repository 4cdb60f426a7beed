//! Shared helpers of the lab proof tests (`lab_pr.rs`, `lab_discovery.rs`): the lab
//! topology from the `LAB_*` variables, running guest commands, and `sg_persist` output
//! parsed into plain values to compare with pr-sgio's decoding.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use pr_core::transport::Transport;
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, ReservationKey, ReservationType};
use pr_lab_support::raw::{self, PrInData, PrInOptions};
use pr_sgio::Error;

#[allow(unused_imports)] // each lab test binary uses a different subset
pub use pr_lab_support::{LabLun as Lun, guest_tools, need, run, run_ok};

// ---------------------------------------------------------------------------------------
// PR IN through pr-sgio, with UNIT ATTENTION retries
// ---------------------------------------------------------------------------------------

/// Runs `f`, retrying while the device reports a UNIT ATTENTION (LIO reports the
/// consequences of earlier PR commands once per nexus).
pub async fn retry_ua<T, F, Fut>(mut f: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: core::future::Future<Output = Result<T, Error>>,
{
    for _ in 0..5 {
        match f().await {
            Err(e) if e.command_error().is_some_and(|c| c.is_unit_attention()) => continue,
            r => return r,
        }
    }
    f().await
}

pub async fn prin<T: Transport>(t: &T, action: PrInAction) -> PrInData {
    let opts = PrInOptions::default();
    retry_ua(|| raw::pr_in(t, action, &opts))
        .await
        .unwrap_or_else(|e| panic!("{} {action} failed: {e}", t.name()))
}

pub async fn prout<T: Transport>(t: &T, req: &pr_core::prout::PrOut<'_>) {
    retry_ua(|| raw::pr_out(t, req, None))
        .await
        .unwrap_or_else(|e| panic!("{} {} failed: {e}", t.name(), req.action));
}

pub async fn keys_of<T: Transport>(t: &T) -> Vec<ReservationKey> {
    prin(t, PrInAction::ReadKeys)
        .await
        .read_keys()
        .unwrap()
        .keys()
        .collect()
}

/// Removes every registration and the reservation of the LUN reached by `t`.
pub async fn clear_lun<T: Transport>(t: &T) {
    let k = ReservationKey(0x7072_636c_6561_7200);
    prout(t, &pr_core::prout::PrOut::register_ignore(k)).await;
    prout(t, &pr_core::prout::PrOut::clear(k)).await;
    assert!(keys_of(t).await.is_empty(), "{}: CLEAR left keys", t.name());
}

// ---------------------------------------------------------------------------------------
// sg_persist
// ---------------------------------------------------------------------------------------

/// `sg_persist -n -i <args> DEV`, retried while it reports a UNIT ATTENTION (exit 6).
pub fn sg_persist(dev: &Path, args: &[&str]) -> String {
    let d = dev.to_string_lossy();
    let mut all: Vec<&str> = vec!["-n", "-i"];
    all.extend_from_slice(args);
    all.push(&d);
    let mut last = (0, String::new(), String::new());
    for _ in 0..5 {
        last = run("sg_persist", &all);
        if last.0 == 0 {
            return last.1;
        }
        if last.0 != 6 {
            break;
        }
    }
    panic!(
        "sg_persist {all:?} failed ({}):\n{}\n{}",
        last.0, last.1, last.2
    );
}

/// The bytes of sg_persist's hex dump lines (` 00     00 01 02 ...`).
pub fn parse_hex(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut toks = line.split_whitespace();
        let Some(off) = toks.next() else { continue };
        if !line.starts_with(' ') || u32::from_str_radix(off, 16).is_err() {
            continue;
        }
        let bytes: Vec<&str> = toks.collect();
        if bytes.is_empty() || !bytes.iter().all(|t| t.len() == 2) {
            continue;
        }
        for b in bytes {
            match u8::from_str_radix(b, 16) {
                Ok(v) => out.push(v),
                Err(_) => break,
            }
        }
    }
    out
}

fn hex_after(text: &str, tag: &str) -> Option<u64> {
    let at = text.find(tag)? + tag.len();
    let rest = &text[at..];
    let end = rest
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(rest.len());
    u64::from_str_radix(&rest[..end], 16).ok()
}

fn dec_after(text: &str, tag: &str) -> Option<u64> {
    let at = text.find(tag)? + tag.len();
    let rest = &text[at..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// sg_persist's name of a reservation type (its `pr_type_strs`).
pub fn sg_type_name(code: u8) -> &'static str {
    match code {
        1 => "Write Exclusive",
        3 => "Exclusive Access",
        5 => "Write Exclusive, registrants only",
        6 => "Exclusive Access, registrants only",
        7 => "Write Exclusive, all registrants",
        8 => "Exclusive Access, all registrants",
        _ => "obsolete or reserved",
    }
}

/// A TransportID as sg_persist prints it under "Transport Id of initiator:".
pub fn sg_tid(t: &TransportId<'_>) -> String {
    match t {
        TransportId::Sas { address } => format!("SAS address: 0x{address:016x}"),
        TransportId::Iscsi {
            name,
            isid: Some(isid),
        } => format!("iSCSI world wide unique port id: {name},i,0x{isid}"),
        TransportId::Iscsi { name, isid: None } => format!("iSCSI name: {name}"),
        other => panic!("no sg_persist rendering for {other:?} in this test"),
    }
}

/// A READ FULL STATUS descriptor as sg_persist prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SgDesc {
    pub key: u64,
    pub all_tg_pt: bool,
    /// "Relative port address" (absent with ALL_TG_PT).
    pub rtpi: Option<u16>,
    pub holder: bool,
    /// "scope: LU_SCOPE,  type: ..." of a holder.
    pub type_name: Option<String>,
    pub tid: String,
}

/// Everything sg_persist printed for one PR state, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SgState {
    pub generation: u32,
    pub keys: Vec<u64>,
    /// (key, type name)
    pub reservation: Option<(u64, String)>,
    pub caps: BTreeMap<String, u8>,
    pub descs: Vec<SgDesc>,
}

pub fn parse_keys(text: &str) -> (u32, Vec<u64>) {
    let generation = hex_after(text, "PR generation=0x").expect("PR generation") as u32;
    let mut keys = Vec::new();
    if !text.contains("NO registered reservation keys") {
        let n = dec_after(text, ", ").expect("key count");
        for l in text.lines().skip(1) {
            if let Some(h) = l.trim().strip_prefix("0x") {
                keys.push(u64::from_str_radix(h, 16).expect("key"));
            }
        }
        assert_eq!(keys.len() as u64, n, "sg_persist -k:\n{text}");
    }
    (generation, keys)
}

pub fn parse_reservation(text: &str) -> (u32, Option<(u64, String)>) {
    let generation = hex_after(text, "PR generation=0x").expect("PR generation") as u32;
    if text.contains("NO reservation held") {
        return (generation, None);
    }
    let key = hex_after(text, "Key=0x").expect("Key=");
    let ty = text
        .split("type: ")
        .nth(1)
        .expect("type:")
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_owned();
    (generation, Some((key, ty)))
}

pub fn parse_caps(text: &str) -> BTreeMap<String, u8> {
    let mut m = BTreeMap::new();
    for l in text.lines() {
        let Some((name, v)) = l.rsplit_once(':') else {
            continue;
        };
        let Ok(v) = v.trim().parse::<u8>() else {
            continue;
        };
        let name = name.trim();
        let key = match (name.rfind('('), name.ends_with(')')) {
            (Some(i), true) => &name[i + 1..name.len() - 1],
            _ => name,
        };
        m.insert(key.to_owned(), v);
    }
    m
}

pub fn parse_full_status(text: &str) -> (u32, Vec<SgDesc>) {
    let generation = hex_after(text, "PR generation=0x").expect("PR generation") as u32;
    let mut descs: Vec<SgDesc> = Vec::new();
    let mut in_tid = false;
    for l in text.lines() {
        let t = l.trim();
        if let Some(k) = t.strip_prefix("Key=0x") {
            descs.push(SgDesc {
                key: u64::from_str_radix(k, 16).expect("key"),
                all_tg_pt: false,
                rtpi: None,
                holder: false,
                type_name: None,
                tid: String::new(),
            });
            in_tid = false;
            continue;
        }
        let Some(d) = descs.last_mut() else { continue };
        if in_tid {
            if !t.is_empty() {
                if !d.tid.is_empty() {
                    d.tid.push('\n');
                }
                d.tid.push_str(t);
            }
        } else if t == "All target ports bit set" {
            d.all_tg_pt = true;
        } else if let Some(r) = t.strip_prefix("Relative port address: 0x") {
            d.rtpi = Some(u16::from_str_radix(r, 16).expect("rtpi"));
        } else if t == "<< Reservation holder >>" {
            d.holder = true;
        } else if let Some((_, ty)) = t.split_once("type: ") {
            d.type_name = Some(ty.trim().to_owned());
        } else if t == "Transport Id of initiator:" {
            in_tid = true;
        }
    }
    (generation, descs)
}

/// The header line of `-H` output: (generation, additional length).
pub fn parse_h_header(text: &str) -> (u32, u32) {
    (
        hex_after(text, "PR generation=0x").expect("generation") as u32,
        dec_after(text, "Additional length=").expect("Additional length") as u32,
    )
}

/// What pr-sgio read for one PR state (all four PR IN actions), decoded.
#[derive(Clone, Debug)]
pub struct PrState {
    pub generation: u32,
    pub keys: Vec<ReservationKey>,
    pub reservation: Option<pr_core::prin::Reservation>,
    pub caps: pr_core::prin::Capabilities,
    /// (key, all_tg_pt, rtpi, holder, type code, TransportID owned)
    pub descs: Vec<FsDesc>,
    pub raw: BTreeMap<&'static str, Vec<u8>>,
}

#[derive(Clone, Debug)]
pub struct FsDesc {
    pub key: ReservationKey,
    pub all_tg_pt: bool,
    pub rtpi: u16,
    pub holder: bool,
    pub type_code: u8,
    pub tid: TransportId<'static>,
    pub tid_bytes: Vec<u8>,
}

/// Reads the four PR IN actions through pr-sgio on `dev` (both engines; their bytes must be
/// equal), runs `sg_persist -k|-r|-c|-s` (decoded, `-H`, `-HH`) on the same device and
/// asserts that everything agrees: decoded fields and raw bytes. Returns pr-sgio's view.
pub async fn compare_with_sg_persist(dev: &Path, what: &str) -> PrState {
    use pr_sgio::{Device, Engine, OpenOptions};
    let d = Device::open(dev).unwrap_or_else(|e| panic!("{e}"));
    let v3 = Device::open_with(dev, &OpenOptions::new().engine(Engine::SgV3Async))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut raw = BTreeMap::new();
    for (name, action) in [
        ("k", PrInAction::ReadKeys),
        ("r", PrInAction::ReadReservation),
        ("c", PrInAction::ReportCapabilities),
        ("s", PrInAction::ReadFullStatus),
    ] {
        let a = prin(&d, action).await;
        let b = prin(&v3, action).await;
        assert_eq!(a.bytes, b.bytes, "{what}: {action}: pool vs sg v3 engine");
        assert!(!a.is_truncated(), "{what}: {action} truncated");
        raw.insert(name, a.bytes);
    }
    let rk = pr_core::prin::ReadKeys::decode(&raw["k"]).unwrap();
    let rr = pr_core::prin::ReadReservation::decode(&raw["r"]).unwrap();
    let caps = pr_core::prin::Capabilities::decode(&raw["c"]).unwrap();
    let fs = pr_core::prin::FullStatus::decode(&raw["s"]).unwrap();
    let descs: Vec<FsDesc> = fs
        .descriptors()
        .map(|x| FsDesc {
            key: x.key(),
            all_tg_pt: x.all_tg_pt(),
            rtpi: x.relative_target_port(),
            holder: x.is_holder(),
            type_code: x.type_code(),
            tid: x.transport_id().expect("TransportID").into_owned(),
            tid_bytes: x.transport_id_bytes().to_vec(),
        })
        .collect();
    let st = PrState {
        generation: rk.generation(),
        keys: rk.keys().collect(),
        reservation: rr.reservation(),
        caps,
        descs,
        raw: raw.clone(),
    };

    // --- decoded output
    let (g, keys) = parse_keys(&sg_persist(dev, &["-k"]));
    assert_eq!(g, st.generation, "{what}: generation (-k)");
    assert_eq!(
        keys,
        st.keys.iter().map(|k| k.0).collect::<Vec<_>>(),
        "{what}: keys"
    );
    let (g, res) = parse_reservation(&sg_persist(dev, &["-r"]));
    assert_eq!(g, rr.generation(), "{what}: generation (-r)");
    assert_eq!(
        res,
        st.reservation
            .map(|r| (r.key.0, sg_type_name(r.type_code).to_owned())),
        "{what}: reservation"
    );
    let c = parse_caps(&sg_persist(dev, &["-c"]));
    let bit = |b: bool| u8::from(b);
    let mut want = BTreeMap::new();
    for (k, v) in [
        ("RLR_C", bit(caps.rlr_c())),
        ("CRH", bit(caps.crh())),
        ("SIP_C", bit(caps.sip_c())),
        ("ATP_C", bit(caps.atp_c())),
        ("PTPL_C", bit(caps.ptpl_c())),
        ("TMV", bit(caps.tmv())),
        ("Allow Commands", caps.allow_commands.0),
        ("PTPL_A", bit(caps.ptpl_a())),
    ] {
        want.insert(k.to_owned(), v);
    }
    for t in ReservationType::ALL {
        want.insert(
            sg_type_name(t.code()).to_owned(),
            bit(caps.supports(t).unwrap_or(false)),
        );
    }
    assert_eq!(
        c, want,
        "{what}: REPORT CAPABILITIES (sg_persist -c vs pr-sgio)"
    );
    let (g, sdescs) = parse_full_status(&sg_persist(dev, &["-s"]));
    assert_eq!(g, fs.generation(), "{what}: generation (-s)");
    let mine: Vec<SgDesc> = st
        .descs
        .iter()
        .map(|x| SgDesc {
            key: x.key.0,
            all_tg_pt: x.all_tg_pt,
            rtpi: (!x.all_tg_pt).then_some(x.rtpi),
            holder: x.holder,
            type_name: x.holder.then(|| sg_type_name(x.type_code).to_owned()),
            tid: sg_tid(&x.tid),
        })
        .collect();
    assert_eq!(sdescs, mine, "{what}: READ FULL STATUS descriptors");

    // --- raw bytes: -HH prints the whole response (ADDITIONAL LENGTH + 8 bytes), -H the
    // header decoded and the rest in hex.
    for (name, flag) in [("k", "-k"), ("r", "-r"), ("c", "-c"), ("s", "-s")] {
        let hh = parse_hex(&sg_persist(dev, &[flag, "-HH"]));
        assert_eq!(
            hh, st.raw[name],
            "{what}: sg_persist {flag} -HH vs pr-sgio bytes"
        );
        let h = sg_persist(dev, &[flag, "-H"]);
        if name == "c" {
            assert_eq!(parse_hex(&h), st.raw[name], "{what}: -c -H");
        } else {
            let (g, al) = parse_h_header(&h);
            assert_eq!(
                g.to_be_bytes(),
                st.raw[name][0..4],
                "{what}: {flag} -H generation"
            );
            assert_eq!(
                al.to_be_bytes(),
                st.raw[name][4..8],
                "{what}: {flag} -H length"
            );
            assert_eq!(parse_hex(&h), st.raw[name][8..], "{what}: {flag} -H bytes");
        }
    }
    eprintln!(
        "  [{what}] {}: generation {:#x}, keys {:x?}, reservation {:?}, {} descriptor(s), caps {:02x?}: pr-sgio == sg_persist",
        dev.display(),
        st.generation,
        st.keys.iter().map(|k| k.0).collect::<Vec<_>>(),
        st.reservation.map(|r| (r.key.0, r.type_code)),
        st.descs.len(),
        st.raw["c"]
    );
    st
}

/// Polls `f` until it returns true or `secs` pass.
pub fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(f(), "timed out after {secs}s waiting for {what}");
}

/// Whether the lab stack's guest kernel has the block-layer PR read ioctls
/// (`IOC_PR_READ_KEYS`, `IOC_PR_READ_RESERVATION`, Linux 6.19+): debian12 boots Linux 6.1
/// (no), sid boots Linux 7.x (yes). From `LAB_STACK` (exported by `lab/run.sh`); another
/// value fails the test, whose expectation would otherwise be a guess.
pub fn stack_has_block_pr_reads() -> bool {
    match need("LAB_STACK").as_str() {
        "debian12" => false,
        "sid" => true,
        other => panic!(
            "LAB_STACK={other}: the block PR read ioctls are expected missing on debian12 \
             (Linux 6.1) and present on sid (Linux 7.x); nothing is known of this stack"
        ),
    }
}

/// The guest kernel's release (`uname -r`), for messages.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|e| format!("(osrelease: {e})"))
}
