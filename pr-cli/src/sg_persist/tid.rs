//! `--transport-id` as `sg_persist` 1.46 reads it: one TransportID on the command line
//! (a symbolic form, `sas,<16 hex>`, `fcp,`/`sbp,<16 hex>`, `srp,`, `spi,<addr>,<rtpi>`,
//! `iqn.<name>[,i,0x<ISID>]`, or hex bytes separated by commas or blanks), or many from a
//! file (`file=NAME`) or standard input (`-`), one a line, `#` comments. The bytes are
//! built here as sg_persist builds them (its quirks included: `sop,` is never accepted,
//! an `srp,` name takes 16 hex digits, each `--transport-id` replaces the previous one),
//! because the parameter list must be the same bytes.

use std::io::{BufRead, Write};

use super::num::scan_hex;

/// Most TransportIDs sg_persist keeps, and the room for each.
pub const MX_TIDS: usize = 32;
/// Room for one TransportID.
pub const MX_TID_LEN: usize = 256;

const TPROTO_FCP: u8 = 0;
const TPROTO_SPI: u8 = 1;
const TPROTO_1394: u8 = 3;
const TPROTO_SRP: u8 = 4;
const TPROTO_ISCSI: u8 = 5;
const TPROTO_SAS: u8 = 6;

/// The TransportIDs given, each in its own 256-byte slot.
#[derive(Clone, Debug, Default)]
pub struct Tids {
    /// One slot per TransportID.
    pub slots: Vec<[u8; MX_TID_LEN]>,
}

impl Tids {
    /// The TransportIDs one after the other, as the parameter list carries them: 24 bytes
    /// each, an iSCSI one its ADDITIONAL LENGTH + 4 (at least 24).
    pub fn compact(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for slot in self.slots.iter().take(MX_TIDS) {
            let len = if slot[0] & 0xf == TPROTO_ISCSI {
                (usize::from(u16::from_be_bytes([slot[2], slot[3]])) + 4).clamp(24, MX_TID_LEN)
            } else {
                24
            };
            out.extend_from_slice(&slot[..len]);
        }
        out
    }
}

fn hex_digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_hexdigit).count()
}

fn put_hex(s: &str, n: usize, out: &mut [u8]) {
    let digits: Vec<u8> = s
        .bytes()
        .take(n)
        .map(|c| (c as char).to_digit(16).unwrap_or(0) as u8)
        .collect();
    for (k, pair) in digits.chunks(2).enumerate() {
        if let (Some(slot), [hi, lo]) = (out.get_mut(k), pair) {
            *slot = (hi << 4) | lo;
        }
    }
}

fn prefixed<'a>(s: &'a str, lower: &str) -> Option<&'a str> {
    s.strip_prefix(lower)
        .or_else(|| s.strip_prefix(&lower.to_ascii_uppercase()[..]))
}

/// One symbolic TransportID into `tid` (whose first 24 bytes are cleared): `true` when
/// one was found. Messages go to `err`, as sg_persist prints them.
fn decode_sym(s: &str, tid: &mut [u8; MX_TID_LEN], err: &mut dyn Write) -> bool {
    tid[..24].fill(0);
    let wwn = |rest: &str,
               proto: u8,
               at: usize,
               name: &str,
               tid: &mut [u8; MX_TID_LEN],
               err: &mut dyn Write| {
        if hex_digits(rest) != 16 {
            let _ = writeln!(err, "badly formed symbolic {name} TransportID: {rest}");
            return false;
        }
        tid[0] = proto;
        put_hex(rest, 16, &mut tid[at..at + 8]);
        true
    };
    if let Some(rest) = prefixed(s, "sas,") {
        return wwn(rest, TPROTO_SAS, 4, "SAS", tid, err);
    }
    if let Some(rest) = prefixed(s, "spi,") {
        let mut parts = rest.splitn(2, ',');
        let a = parts.next().and_then(scan_int);
        let b = parts.next().and_then(scan_int);
        let (Some(a), Some(b)) = (a, b) else {
            let _ = writeln!(err, "badly formed symbolic SPI TransportID: {rest}");
            return false;
        };
        tid[0] = TPROTO_SPI;
        tid[2..4].copy_from_slice(&(a as u16).to_be_bytes());
        tid[6..8].copy_from_slice(&(b as u16).to_be_bytes());
        return true;
    }
    if let Some(rest) = prefixed(s, "fcp,") {
        return wwn(rest, TPROTO_FCP, 8, "FCP", tid, err);
    }
    if let Some(rest) = prefixed(s, "sbp,") {
        return wwn(rest, TPROTO_1394, 8, "SBP", tid, err);
    }
    if let Some(rest) = prefixed(s, "srp,") {
        // 1.46 demands 16 hex digits and then reads 32 (past the text): the last 8
        // bytes are left zero here.
        return wwn(rest, TPROTO_SRP, 8, "SRP", tid, err);
    }
    if s.starts_with("iqn.") {
        let end = s.find([' ', '\t']);
        let isid = s.find(",i,0x").filter(|&i| end.is_none_or(|e| i < e));
        let name = &s.as_bytes()[..end.unwrap_or(s.len())];
        let mut alen = name.len() + 1;
        if alen < 20 {
            alen = 20;
        } else if alen % 4 != 0 {
            alen = (alen / 4 + 1) * 4;
        }
        if alen > 241 {
            let _ = writeln!(err, "iSCSI name too long, alen={alen}");
            return false;
        }
        tid[0] = TPROTO_ISCSI | if isid.is_some() { 0x40 } else { 0 };
        tid[3] = alen as u8;
        tid[4..4 + name.len()].copy_from_slice(name);
        tid[4 + name.len()..].fill(0);
        return true;
    }
    if let Some(rest) = prefixed(s, "sop,") {
        // 1.46 asks sscanf for two conversions from one "%x": never accepted.
        let _ = writeln!(err, "badly formed symbolic SOP TransportID: {rest}");
        return false;
    }
    let _ = writeln!(err, "unable to parse symbolic TransportID: {s}");
    false
}

/// `sscanf("%d")`: a decimal integer prefix.
fn scan_int(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let n = t.bytes().take_while(u8::is_ascii_digit).count();
    let v: i64 = t.get(..n)?.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// A `--transport-id` that sg_persist refuses; why was printed already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadTid;

/// `-X ARG`: replaces what earlier `-X` gave. [`BadTid`] after printing why (the caller
/// prints "bad argument to '--transport-id'"). `stdin` is read for `-`.
pub fn build(
    arg: &str,
    tids: &mut Tids,
    stdin: &mut dyn BufRead,
    err: &mut dyn Write,
) -> Result<(), BadTid> {
    if arg.starts_with('-') || arg.starts_with("file=") || arg.starts_with("FILE=") {
        if arg.starts_with('-') {
            return from_lines(stdin, tids, err);
        }
        let name = &arg[5..];
        let Ok(f) = std::fs::File::open(name) else {
            let _ = writeln!(err, "decode_file_tids: unable to open {name}");
            return Err(BadTid);
        };
        return from_lines(&mut std::io::BufReader::new(f), tids, err);
    }
    let mut slot = [0u8; MX_TID_LEN];
    if !decode_sym(arg, &mut slot, err) {
        let k = arg
            .bytes()
            .take_while(|c| c.is_ascii_hexdigit() || *c == b',' || *c == b' ')
            .count();
        if k != arg.len() {
            let _ = writeln!(err, "build_transportid: error at pos {}", k + 1);
            return Err(BadTid);
        }
        let mut pos = 0;
        for byte in slot.iter_mut() {
            let rest = &arg[pos..];
            let Some(h) = scan_hex(rest, 32) else {
                let _ = writeln!(err, "build_transportid: error at pos {}", pos + 1);
                return Err(BadTid);
            };
            if h > 0xff {
                let _ = writeln!(
                    err,
                    "build_transportid: hex number larger than 0xff at pos {}",
                    pos + 1
                );
                return Err(BadTid);
            }
            *byte = h as u8;
            match rest.find([',', ' ']) {
                Some(sep) => pos += sep + 1,
                None => break,
            }
        }
    }
    tids.slots = vec![slot];
    Ok(())
}

/// One TransportID a line (symbolic or hex bytes), as `decode_file_tids` reads them.
fn from_lines(input: &mut dyn BufRead, tids: &mut Tids, err: &mut dyn Write) -> Result<(), BadTid> {
    let mut slots = Vec::new();
    let mut line = String::new();
    for j in 0..512 {
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = line.strip_suffix('\n').unwrap_or(&line);
        let m = text
            .bytes()
            .take_while(|c| *c == b' ' || *c == b'\t')
            .count();
        let body = &text[m..];
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let mut slot = [0u8; MX_TID_LEN];
        if !decode_sym(body, &mut slot, err) {
            let k = body
                .bytes()
                .take_while(|c| c.is_ascii_hexdigit() || b" ,\t".contains(c))
                .count();
            if k < body.len() && body.as_bytes()[k] != b'#' {
                let _ = writeln!(
                    err,
                    "decode_file_tids: syntax error at line {}, pos {}",
                    j + 1,
                    m + k + 1
                );
                return Err(BadTid);
            }
            let mut pos = 0;
            for byte in slot.iter_mut() {
                let rest = &body[pos..];
                if rest.starts_with('#') {
                    break;
                }
                let Some(h) = scan_hex(rest, 32) else {
                    let _ = writeln!(
                        err,
                        "decode_file_tids: error in line {}, at pos {}",
                        j + 1,
                        m + pos + 1
                    );
                    return Err(BadTid);
                };
                if h > 0xff {
                    let _ = writeln!(
                        err,
                        "decode_file_tids: hex number larger than 0xff in line {}, pos {}",
                        j + 1,
                        m + pos + 1
                    );
                    return Err(BadTid);
                }
                *byte = h as u8;
                let Some(sep) = rest.find([' ', ',', '\t']) else {
                    break;
                };
                let after = &rest[sep..];
                let skip = after.bytes().take_while(|c| b" ,\t".contains(c)).count();
                pos += sep + skip;
                if pos >= body.len() {
                    break;
                }
            }
        }
        slots.push(slot);
        if slots.len() >= MX_TIDS {
            let _ = writeln!(err, "decode_file_tids: array length exceeded");
            return Err(BadTid);
        }
    }
    tids.slots = slots;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(arg: &str) -> Option<Vec<u8>> {
        let mut t = Tids::default();
        build(arg, &mut t, &mut std::io::empty(), &mut std::io::sink()).ok()?;
        Some(t.compact())
    }

    #[test]
    fn symbolic_and_hex_forms() {
        let sas = one("sas,5001405a00000001").unwrap();
        assert_eq!(sas.len(), 24);
        assert_eq!(&sas[..12], &[6, 0, 0, 0, 0x50, 1, 0x40, 0x5a, 0, 0, 0, 1]);
        assert_eq!(one("SAS,5001405A00000001"), Some(sas.clone()));
        let mut hex = vec![6, 0, 0, 0, 0x50, 1, 0x40, 0x5a, 0, 0, 0, 1];
        hex.resize(24, 0);
        assert_eq!(one("6,0,0,0,50,1,40,5a,0,0,0,1"), Some(hex.clone()));
        assert_eq!(one("6 0 0 0 50 1 40 5a 0 0 0 1"), Some(hex));
        let fcp = one("fcp,21000024ff301f5e").unwrap();
        assert_eq!(&fcp[8..16], &[0x21, 0, 0, 0x24, 0xff, 0x30, 0x1f, 0x5e]);
        let iqn = one("iqn.2003-01.org.linux-iscsi.lab:x,i,0x00023d000001").unwrap();
        assert_eq!(iqn[0], 0x45);
        assert_eq!(usize::from(iqn[3]) + 4, iqn.len());
        assert_eq!(iqn.len() % 4, 0);
        let spi = one("spi,7,2").unwrap();
        assert_eq!(&spi[..8], &[1, 0, 0, 7, 0, 0, 0, 2]);
    }

    #[test]
    fn rejected_as_1_46_rejects() {
        for bad in ["sas,123", "sop,1", "", "zz", "1,2,100", "fcp,1"] {
            assert_eq!(one(bad), None, "{bad}");
        }
    }

    #[test]
    fn file_of_many() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tids");
        std::fs::write(
            &f,
            "# two\nsas,5001405a00000001\n  6,0,0,0,50,1,40,5a,0,0,0,2 # c\n\n",
        )
        .unwrap();
        let t = one(&format!("file={}", f.display())).unwrap();
        assert_eq!(t.len(), 48);
        assert_eq!(t[35], 2);
        assert_eq!(one("file=/nonexistent/x"), None);
    }

    #[test]
    fn standard_input_and_errors_in_lines() {
        let mut t = Tids::default();
        let mut input: &[u8] = b"fcp,21000024ff301f5e\n6 0 0 0 50 1 40 5a 0 0 0 3\n";
        build("-", &mut t, &mut input, &mut std::io::sink()).unwrap();
        assert_eq!(t.slots.len(), 2);
        assert_eq!(t.compact().len(), 48);
        let mut err = Vec::new();
        let mut input: &[u8] = b"sas,5001405a00000001\n1,2,zz\n";
        assert_eq!(build("-", &mut t, &mut input, &mut err), Err(BadTid));
        let err = String::from_utf8(err).unwrap();
        assert!(
            err.contains("decode_file_tids: syntax error at line 2, pos 5"),
            "{err}"
        );
    }
}
