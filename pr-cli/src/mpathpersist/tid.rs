//! `--transport-id` as `mpathpersist` 0.9.4 reads it, quirks included (scripts that work
//! with it depend on them):
//!
//! - `fcp,HEX` / `FCP,HEX`: only hex digits may follow; the first 16 make the N_Port
//!   name (fewer: 0.9.4 reads past the text; we take the missing digits as zeros);
//! - `sas,HEX` / `SAS,HEX`: only hex digits may follow, but the SAS address is the first
//!   8 *characters* of the text, as ASCII bytes (0.9.4 copies them unparsed);
//! - `iqn.NAME[,i,0xISID]`: an iSCSI name (to the first blank), with `,i,0x` a port
//!   identifier (format 01b); a name whose padded length exceeds 241 bytes is reported
//!   ("iSCSI name too long") and yet accepted, as an empty iSCSI TransportID;
//! - anything else is accepted, silently, as an all-zero Fibre Channel TransportID.

use std::borrow::Cow;

use pr_core::transport_id::{ISID_SEPARATOR, TransportId};

/// One TransportID as the command line builds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliTid {
    /// Fibre Channel, with its N_Port name.
    Fc(u64),
    /// SAS, with its address.
    Sas(u64),
    /// iSCSI: the text (name, or name `,i,0x` ISID with `port`).
    Iscsi {
        /// The text as given.
        text: String,
        /// Format 01b (`,i,0x` present).
        port: bool,
    },
    /// An iSCSI TransportID with no name (0.9.4's "too long" case).
    IscsiEmpty,
}

fn hex_nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Parses one `-X` argument: the TransportID, or the message 0.9.4 prints before
/// "bad argument to '--transport-id'". `warn` receives a message printed on a success
/// (the "too long" iSCSI name).
pub fn parse(arg: &str, warn: &mut String) -> Result<CliTid, String> {
    let b = arg.as_bytes();
    let fcp = b.starts_with(b"fcp,") || b.starts_with(b"FCP,");
    let sas = b.starts_with(b"sas,") || b.starts_with(b"SAS,");
    if fcp || sas {
        let rest = &arg[4..];
        if !rest.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "badly formed symbolic {} TransportID: {rest}",
                if sas { "SAS" } else { "FCP" }
            ));
        }
        if rest.len() >= 8192 {
            return Err("build_transportid: array length exceeded".into());
        }
        let r = rest.as_bytes();
        if sas {
            let mut a = [0u8; 8];
            for (i, c) in r.iter().take(8).enumerate() {
                a[i] = *c;
            }
            return Ok(CliTid::Sas(u64::from_be_bytes(a)));
        }
        let mut v = 0u64;
        for i in 0..16 {
            v = (v << 4) | u64::from(hex_nibble(r.get(i).copied().unwrap_or(b'0')));
        }
        return Ok(CliTid::Fc(v));
    }
    if b.starts_with(b"iqn.") {
        let end = arg.find([' ', '\t']).unwrap_or(arg.len());
        let text = &arg[..end];
        let port = text.contains(ISID_SEPARATOR);
        let len = text.len();
        let mut alen = len + 1;
        if alen < 20 {
            alen = 20;
        } else if alen % 4 != 0 {
            alen = (alen / 4 + 1) * 4;
        }
        if alen > 241 {
            warn.push_str(&format!("iSCSI name too long, alen={alen}\n"));
            return Ok(CliTid::IscsiEmpty);
        }
        return Ok(CliTid::Iscsi {
            text: text.to_owned(),
            port,
        });
    }
    Ok(CliTid::Fc(0))
}

impl CliTid {
    /// The TransportID pr-core encodes for it, or why it cannot be sent (the device
    /// would reject what 0.9.4 sends).
    pub fn to_transport_id(&self) -> Result<TransportId<'static>, &'static str> {
        Ok(match self {
            CliTid::Fc(n) => TransportId::FibreChannel { n_port_name: *n },
            CliTid::Sas(a) => TransportId::Sas { address: *a },
            CliTid::Iscsi { text, port: false } => TransportId::Iscsi {
                name: Cow::Owned(text.clone()),
                isid: None,
            },
            CliTid::Iscsi { text, port: true } => {
                let (name, isid) = text
                    .split_once(ISID_SEPARATOR)
                    .ok_or("iSCSI port identifier without its ISID")?;
                TransportId::Iscsi {
                    name: Cow::Owned(name.to_owned()),
                    isid: Some(Cow::Owned(isid.to_owned())),
                }
            }
            CliTid::IscsiEmpty => return Err("an iSCSI TransportID without a name"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_as_0_9_4_reads_them() {
        let mut w = String::new();
        assert_eq!(
            parse("fcp,2100001b32a0b0c1", &mut w),
            Ok(CliTid::Fc(0x2100_001b_32a0_b0c1))
        );
        assert_eq!(
            parse("SAS,5001405a", &mut w),
            Ok(CliTid::Sas(u64::from_be_bytes(*b"5001405a")))
        );
        assert!(parse("Sas,1", &mut w) == Ok(CliTid::Fc(0)));
        assert!(parse("sas,12x", &mut w).is_err());
        assert_eq!(
            parse("iqn.2026-12.x:y,i,0x23d000001", &mut w),
            Ok(CliTid::Iscsi {
                text: "iqn.2026-12.x:y,i,0x23d000001".into(),
                port: true
            })
        );
        assert_eq!(parse("whatever", &mut w), Ok(CliTid::Fc(0)));
        assert!(w.is_empty());
        let long = format!("iqn.{}", "a".repeat(240));
        assert_eq!(parse(&long, &mut w), Ok(CliTid::IscsiEmpty));
        assert_eq!(w, "iSCSI name too long, alen=248\n");
    }
}
