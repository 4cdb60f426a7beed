//! The APTPL state file: a small line-oriented text format, written atomically (a temporary
//! file in the same directory, flushed, then renamed over the old one).
//!
//! ```text
//! pr-sim aptpl 1
//! reg <key, 16 hex digits> <relative target port> <all_tg_pt 0|1> <TransportID, hex>
//! resv <type code> all
//! resv <type code> <holder's relative target port> <holder's TransportID, hex>
//! ```

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use pr_core::transport_id::TransportId;
use pr_core::types::{ReservationKey, ReservationType};

use crate::lun::ItNexus;

const MAGIC: &str = "pr-sim aptpl 1";

/// A registration as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredReg {
    pub(crate) nexus: ItNexus,
    pub(crate) key: ReservationKey,
    pub(crate) all_tg_pt: bool,
}

/// Everything that persists through power loss.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct Stored {
    pub(crate) regs: Vec<StoredReg>,
    /// The reservation: its type and its holder (`None` for the all-registrants types).
    pub(crate) resv: Option<(ReservationType, Option<ItNexus>)>,
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i.saturating_add(2))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

fn tid_hex(t: &TransportId<'_>) -> String {
    let mut buf = vec![0u8; t.encoded_len()];
    match t.encode(&mut buf) {
        Ok(n) => hex(buf.get(..n).unwrap_or(&[])),
        Err(_) => String::new(),
    }
}

fn parse_tid(s: &str) -> Result<TransportId<'static>, String> {
    let b = unhex(s).ok_or_else(|| format!("bad hex {s:?}"))?;
    TransportId::decode(&b)
        .map(|(t, _)| t.into_owned())
        .map_err(|e| e.to_string())
}

/// The file's text for `state`.
pub(crate) fn encode(state: &Stored) -> String {
    let mut s = String::from(MAGIC);
    s.push('\n');
    for r in &state.regs {
        let _ = writeln!(
            s,
            "reg {:016x} {} {} {}",
            r.key.0,
            r.nexus.relative_target_port,
            u8::from(r.all_tg_pt),
            tid_hex(&r.nexus.initiator)
        );
    }
    match &state.resv {
        Some((ty, None)) => {
            let _ = writeln!(s, "resv {} all", ty.code());
        }
        Some((ty, Some(h))) => {
            let _ = writeln!(
                s,
                "resv {} {} {}",
                ty.code(),
                h.relative_target_port,
                tid_hex(&h.initiator)
            );
        }
        None => {}
    }
    s
}

/// Parses the file's text.
pub(crate) fn decode(text: &str) -> Result<Stored, String> {
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Err("not a pr-sim APTPL state file".into());
    }
    let mut st = Stored::default();
    for line in lines {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [] => {}
            ["reg", key, port, all, tid] => {
                st.regs.push(StoredReg {
                    key: ReservationKey(
                        u64::from_str_radix(key, 16).map_err(|e| format!("key: {e}"))?,
                    ),
                    nexus: ItNexus {
                        initiator: parse_tid(tid)?,
                        relative_target_port: port.parse().map_err(|e| format!("port: {e}"))?,
                    },
                    all_tg_pt: *all == "1",
                });
            }
            ["resv", ty, "all"] => {
                let t = ty
                    .parse::<u8>()
                    .ok()
                    .and_then(ReservationType::from_code)
                    .ok_or_else(|| format!("bad type {ty:?}"))?;
                st.resv = Some((t, None));
            }
            ["resv", ty, port, tid] => {
                let t = ty
                    .parse::<u8>()
                    .ok()
                    .and_then(ReservationType::from_code)
                    .ok_or_else(|| format!("bad type {ty:?}"))?;
                st.resv = Some((
                    t,
                    Some(ItNexus {
                        initiator: parse_tid(tid)?,
                        relative_target_port: port.parse().map_err(|e| format!("port: {e}"))?,
                    }),
                ));
            }
            _ => return Err(format!("unreadable line {line:?}")),
        }
    }
    Ok(st)
}

/// Writes `text` to `path` atomically: a sibling temporary file, synced, renamed.
pub(crate) fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Removes the state file; a missing file is not an error.
pub(crate) fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn roundtrip() {
        let sas = ItNexus {
            initiator: TransportId::Sas { address: 0x5001 },
            relative_target_port: 2,
        };
        let iscsi = ItNexus {
            initiator: TransportId::Iscsi {
                name: Cow::Owned("iqn.2003-01.org.example:a".into()),
                isid: Some(Cow::Owned("00023d000001".into())),
            },
            relative_target_port: 1,
        };
        let st = Stored {
            regs: vec![
                StoredReg {
                    nexus: sas.clone(),
                    key: ReservationKey(0x1111),
                    all_tg_pt: false,
                },
                StoredReg {
                    nexus: iscsi,
                    key: ReservationKey(u64::MAX),
                    all_tg_pt: true,
                },
            ],
            resv: Some((ReservationType::WriteExclusiveRegistrantsOnly, Some(sas))),
        };
        assert_eq!(decode(&encode(&st)).unwrap(), st);
        let all = Stored {
            regs: vec![],
            resv: Some((ReservationType::ExclusiveAccessAllRegistrants, None)),
        };
        assert_eq!(decode(&encode(&all)).unwrap(), all);
        assert!(decode("garbage").is_err());
        assert!(decode("pr-sim aptpl 1\nreg zz 1 0 06").is_err());
    }
}
