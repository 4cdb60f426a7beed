//! What `mpathpersist` 0.9.4 prints for a PR IN response, computed from the response's
//! bytes as libmpathpersist 0.9.4 lays them out in its result structures (the buffer is
//! zeroed first, so bytes the device did not send read as zeros): the READ KEYS, READ
//! RESERVATION, REPORT CAPABILITIES and READ FULL STATUS texts, and `dumpHex`'s layout;
//! and where 0.15 prints otherwise ([`Version::V0_15`]), what 0.15 prints.
//!
//! Its quirks are kept, since scripts parse this text: REPORT CAPABILITIES prints
//! `PTPL_C` as "any bit of the first flags byte", `Allow Commands` as 0 or 1, and the type
//! mask entries as the masked value of the 16-bit mask read in big-endian order against
//! the byte-4 bit values (so LIO's mask, `ea 01`, prints 0 for every type); READ FULL
//! STATUS reuses one record for every descriptor, so a descriptor without a TransportID
//! shows the previous one's.
//!
//! 0.15 differs in two places (multipath-tools commit c8ed5e6, in 0.14.0, and 0.15's
//! library): REPORT CAPABILITIES shows `PTPL_C` from bit 0 and each type mask entry as 0
//! or 1 from its own bit (the mask read big-endian: bits `0x8000`, `0x4000`, `0x2000`,
//! `0x0800`, `0x0200`, `0x0001`); READ FULL STATUS stops after 30 descriptors (the
//! records that fit in the library's 8192-byte buffer), saying so at `-v 1` and above.
//! The reused record is still reused.

use super::Version;

use crate::sg_persist::print::TYPE_NAMES;

/// The size of libmpathpersist's private buffer (the READ KEYS key list, the READ FULL
/// STATUS descriptors): `MPATH_MAX_PARAM_LEN`.
pub const PARAM_LEN: usize = 8192;

fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([at(b, i), at(b, i + 1)])
}

fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([at(b, i), at(b, i + 1), at(b, i + 2), at(b, i + 3)])
}

fn be64(b: &[u8], i: usize) -> u64 {
    (u64::from(be32(b, i)) << 32) | u64::from(be32(b, i + 4))
}

/// `dumpHex`'s lines for `bytes`: 16 bytes a line, each byte two hex digits and a blank,
/// eight blanks before the first and one more after the eighth. A full line is 76
/// columns wide (trailing blanks included); the last, partial line ends at its last
/// digit. Returns the lines and whether the last one is partial.
pub fn hex_lines(bytes: &[u8]) -> Vec<String> {
    bytes
        .chunks(16)
        .map(|chunk| {
            let mut line = String::from("       ");
            for (k, b) in chunk.iter().enumerate() {
                line.push(' ');
                if k == 8 {
                    line.push(' ');
                }
                line.push_str(&format!("{b:02x}"));
            }
            if chunk.len() == 16 {
                format!("{line:<76}")
            } else {
                line
            }
        })
        .collect()
}

/// `dumpHex` to standard output: full lines without a newline (the next line runs on),
/// the last partial line with one.
pub fn hex_stdout(bytes: &[u8], out: &mut Vec<u8>) {
    for line in hex_lines(bytes) {
        out.extend_from_slice(line.as_bytes());
        if line.len() < 76 {
            out.push(b'\n');
        }
    }
}

/// READ KEYS (`-i -k`).
pub fn read_keys(b: &[u8], out: &mut Vec<u8>) {
    let generation = be32(b, 0);
    let num = be32(b, 4) / 8;
    out.extend_from_slice(format!("  PR generation=0x{generation:x}, ").as_bytes());
    match num {
        0 => {
            out.extend_from_slice(b"\t0 registered reservation key.\n");
            return;
        }
        1 => out.extend_from_slice(b"\t1 registered reservation key follows:\n"),
        n => {
            out.extend_from_slice(format!("\t{n} registered reservation keys follow:\n").as_bytes())
        }
    }
    for i in 0..num as usize {
        // Keys past the 8192-byte list (an ADDITIONAL LENGTH beyond it) read as zeros.
        let key = if 8 + 8 * i + 8 <= 8 + PARAM_LEN {
            be64(b, 8 + 8 * i)
        } else {
            0
        };
        out.extend_from_slice(format!("    0x{key:x}\n").as_bytes());
    }
}

/// READ RESERVATION (`-i -r`).
pub fn read_reservation(b: &[u8], out: &mut Vec<u8>) {
    let generation = be32(b, 0);
    if be32(b, 4) / 8 == 0 {
        out.extend_from_slice(
            format!("  PR generation=0x{generation:x}, there is NO reservation held \n").as_bytes(),
        );
        return;
    }
    out.extend_from_slice(
        format!("  PR generation=0x{generation:x}, Reservation follows:\n").as_bytes(),
    );
    out.extend_from_slice(format!("   Key = 0x{:x}\n", be64(b, 8)).as_bytes());
    let scope_type = at(b, 21);
    let (scope, ty) = (scope_type >> 4, TYPE_NAMES[usize::from(scope_type & 0xf)]);
    if scope == 0 {
        out.extend_from_slice(format!("  scope = LU_SCOPE, type = {ty}\n").as_bytes());
    } else {
        out.extend_from_slice(format!("  scope = {scope}, type = {ty}\n").as_bytes());
    }
}

/// The most READ FULL STATUS descriptors 0.15 decodes: as many of its 270-byte records
/// as fit in its 8192-byte buffer.
pub const MAX_DESCRIPTORS_0_15: u32 = 30;

/// REPORT CAPABILITIES (`-i -c`) as 0.9.4 prints it: standard output, and standard error
/// for a LENGTH of 2 or less (nothing is printed then, and the command still succeeds).
pub fn report_capabilities(b: &[u8], out: &mut Vec<u8>, err: &mut Vec<u8>) {
    report_capabilities_as(Version::V0_9_4, b, out, err);
}

/// REPORT CAPABILITIES (`-i -c`) as `version` prints it.
pub fn report_capabilities_as(version: Version, b: &[u8], out: &mut Vec<u8>, err: &mut Vec<u8>) {
    if be16(b, 0) <= 2 {
        err.extend_from_slice(b"Unexpected response for PRIN Report Capabilities\n");
        return;
    }
    let (f0, f1, mask) = (at(b, 2), at(b, 3), be16(b, 4));
    let bit = |v: bool| u8::from(v);
    let lines = [
        ("Compatible Reservation Handling(CRH)", bit(f0 & 0x10 != 0)),
        (
            "Specify Initiator Ports Capable(SIP_C)",
            bit(f0 & 0x08 != 0),
        ),
        ("All Target Ports Capable(ATP_C)", bit(f0 & 0x04 != 0)),
        // 0.9.4 tests the whole byte, not PTPL_C (bit 0); 0.15 tests bit 0.
        (
            "Persist Through Power Loss Capable(PTPL_C)",
            bit(match version {
                Version::V0_9_4 => f0 != 0,
                Version::V0_15 => f0 & 0x01 != 0,
            }),
        ),
        ("Type Mask Valid(TMV)", bit(f1 & 0x80 != 0)),
        ("Allow Commands", bit((f1 >> 4) & 0x7 != 0)),
        (
            "Persist Through Power Loss Active(PTPL_A)",
            bit(f1 & 0x01 != 0),
        ),
    ];
    out.extend_from_slice(b"Report capabilities response:\n");
    for (name, v) in lines {
        out.extend_from_slice(format!("  {name}: {v}\n").as_bytes());
    }
    if f1 & 0x80 != 0 {
        out.extend_from_slice(b"    Support indicated in Type mask:\n");
        // (type, 0.9.4's mask, 0.15's bit)
        for (ty, m094, m015) in [
            (7, 0x80, 0x8000),
            (6, 0x40, 0x4000),
            (5, 0x20, 0x2000),
            (3, 0x08, 0x0800),
            (1, 0x02, 0x0200),
            (8, 0x100, 0x0001),
        ] {
            let v = match version {
                Version::V0_9_4 => mask & m094,
                Version::V0_15 => u16::from(mask & m015 != 0),
            };
            out.extend_from_slice(format!("      {}: {v}\n", TYPE_NAMES[ty]).as_bytes());
        }
    }
}

/// The record libmpathpersist fills for each READ FULL STATUS descriptor (one record,
/// reused).
#[derive(Clone)]
struct Record {
    key: u64,
    flag: u8,
    scope_type: u8,
    rtpi: u16,
    format_code: u8,
    protocol_id: u8,
    name: [u8; 256],
}

/// libmpathpersist 0.9.4's TransportID decoding into the record (the last TransportID
/// of the descriptor's area wins).
fn decode_tid(r: &mut Record, b: &[u8], start: usize, length: i64) {
    let mut k: i64 = 0;
    let mut p = start;
    while k < length {
        let b0 = at(b, p);
        r.format_code = (b0 >> 6) & 0x3;
        r.protocol_id = b0 & 0xf;
        let jump = match r.protocol_id {
            0 => {
                for i in 0..8 {
                    r.name[i] = at(b, p + 8 + i);
                }
                24
            }
            5 => {
                let num = usize::from(be16(b, p + 2)).min(256);
                for i in 0..num {
                    r.name[i] = at(b, p + 4 + i);
                }
                (num + 4).max(24)
            }
            6 => {
                for i in 0..8 {
                    r.name[i] = at(b, p + 4 + i);
                }
                24
            }
            _ => 24,
        };
        k += jump as i64;
        p += jump;
    }
}

/// READ FULL STATUS (`-i -s`) as 0.9.4 prints it: standard output, and libmpathpersist's
/// complaint about a descriptor that runs past the response on standard error. There is
/// no limit on the number of descriptors (0.9.4 writes past its buffer and its 32
/// pointers).
pub fn read_full_status(b: &[u8], out: &mut Vec<u8>, err: &mut Vec<u8>) {
    read_full_status_as(Version::V0_9_4, 0, b, out, err);
}

/// READ FULL STATUS (`-i -s`) as `version` prints it at verbosity `verbose` (0.15 stops
/// after [`MAX_DESCRIPTORS_0_15`] descriptors and, at `verbose` 1 and above, says so on
/// standard error).
pub fn read_full_status_as(
    version: Version,
    verbose: i32,
    b: &[u8],
    out: &mut Vec<u8>,
    err: &mut Vec<u8>,
) {
    let generation = be32(b, 0);
    let additional = be32(b, 4);
    out.extend_from_slice(format!("  PR generation=0x{generation:x} \n").as_bytes());
    if additional == 0 || additional as usize > PARAM_LEN {
        // Over 8192 bytes, 0.9.4 leaves the descriptors undecoded and its printer walks
        // pointers that were never set (a crash); we print the header only.
        return;
    }
    // The descriptors as the library reads them: its copy of the 8192-byte buffer.
    let area: Vec<u8> = (0..PARAM_LEN).map(|i| at(b, 8 + i)).collect();
    let mut r = Record {
        key: 0,
        flag: 0,
        scope_type: 0,
        rtpi: 0,
        format_code: 0,
        protocol_id: 0,
        name: [0; 256],
    };
    let mut k: u32 = 0;
    let mut p: usize = 0;
    let mut guard = 0;
    let mut count = 0u32;
    while k < additional && guard < PARAM_LEN {
        guard += 1;
        if version == Version::V0_15 && count == MAX_DESCRIPTORS_0_15 {
            if verbose >= 1 {
                err.extend_from_slice(
                    format!(
                        "mpath_format_readfullstatus: READ FULL STATUS result truncated, \
                         count={count}\n"
                    )
                    .as_bytes(),
                );
            }
            break;
        }
        count += 1;
        r.key = be64(&area, p);
        r.flag = at(&area, p + 12);
        r.scope_type = at(&area, p + 13);
        r.rtpi = be16(&area, p + 18);
        let mut tid_len = be32(&area, p + 20);
        if tid_len.wrapping_add(24).wrapping_add(k) > additional {
            err.extend_from_slice(
                format!(
                    "mpath_format_readfullstatus: corrupt PRIN response: status descriptor \
                     end {} exceeds length {additional}\n",
                    tid_len.wrapping_add(k).wrapping_add(24) as i32
                )
                .as_bytes(),
            );
            tid_len = additional.wrapping_sub(k).wrapping_sub(24);
        }
        if (tid_len as i32) > 0 {
            decode_tid(&mut r, &area, p + 24, i64::from(tid_len as i32));
        }
        let num = 24u32.wrapping_add(tid_len);
        print_descriptor(&r, out);
        k = k.wrapping_add(num);
        p = p.wrapping_add(num as i32 as isize as usize);
    }
}

fn print_descriptor(r: &Record, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("   Key = 0x{:x}\n", r.key).as_bytes());
    if r.flag & 0x02 != 0 {
        out.extend_from_slice(b"      All target ports bit set\n");
    } else {
        out.extend_from_slice(b"      All target ports bit clear\n");
        out.extend_from_slice(format!("      Relative port address: 0x{:x}\n", r.rtpi).as_bytes());
    }
    if r.flag & 0x01 != 0 {
        out.extend_from_slice(b"      << Reservation holder >>\n");
        let scope = r.scope_type >> 4;
        if scope == 0 {
            out.extend_from_slice(b"      scope: LU_SCOPE, ");
        } else {
            out.extend_from_slice(format!("      scope: {scope} ").as_bytes());
        }
        out.extend_from_slice(
            format!(" type: {}\n", TYPE_NAMES[usize::from(r.scope_type & 0xf)]).as_bytes(),
        );
    } else {
        out.extend_from_slice(b"      not reservation holder\n");
    }
    let unexpected = |out: &mut Vec<u8>| {
        if r.format_code != 0 {
            out.extend_from_slice(
                format!(" [Unexpected format code: {}]\n", r.format_code).as_bytes(),
            );
        }
    };
    match r.protocol_id {
        0 => {
            out.extend_from_slice(b"   FCP-2 ");
            unexpected(out);
            hex_stdout(&r.name[..8], out);
        }
        5 => {
            out.extend_from_slice(b"   iSCSI ");
            let text = r.name.split(|&c| c == 0).next().unwrap_or(&[]);
            match r.format_code {
                0 => {
                    out.extend_from_slice(b"name: ");
                    out.extend_from_slice(text);
                    out.push(b'\n');
                }
                1 => {
                    out.extend_from_slice(b"world wide unique port id: ");
                    out.extend_from_slice(text);
                    out.push(b'\n');
                }
                f => {
                    out.extend_from_slice(format!("  [Unexpected format code: {f}]\n").as_bytes());
                    hex_stdout(&r.name, out);
                }
            }
        }
        6 => {
            out.extend_from_slice(b"   SAS ");
            unexpected(out);
            hex_stdout(&r.name[..8], out);
        }
        _ => {}
    }
}

/// The text 0.9.4 prints for a PR IN response of service action `sa` (0-3): standard
/// output and standard error.
pub fn prin(sa: u8, b: &[u8]) -> (Vec<u8>, Vec<u8>) {
    prin_as(Version::V0_9_4, 0, sa, b)
}

/// The text `version` prints, at verbosity `verbose`, for a PR IN response of service
/// action `sa` (0-3): standard output and standard error.
pub fn prin_as(version: Version, verbose: i32, sa: u8, b: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    match sa {
        0 => read_keys(b, &mut out),
        1 => read_reservation(b, &mut out),
        2 => report_capabilities_as(version, b, &mut out, &mut err),
        _ => read_full_status_as(version, verbose, b, &mut out, &mut err),
    }
    (out, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_lines_follow_dumphex() {
        let mut out = Vec::new();
        hex_stdout(&[0x50, 0x01, 0x40, 0x5a, 0x10, 0, 0, 1], &mut out);
        assert_eq!(out, b"        50 01 40 5a 10 00 00 01\n");
        let lines = hex_lines(&[0xab; 17]);
        assert_eq!(lines[0].len(), 76);
        assert!(lines[0].starts_with("        ab ab ab ab ab ab ab ab  ab"));
        assert_eq!(lines[1], "        ab");
    }

    #[test]
    fn lio_capabilities_show_the_type_mask_as_0_9_4_does() {
        let (out, err) = prin(2, &[0, 8, 0x0d, 0x81, 0xea, 0x01, 0, 0]);
        let text = String::from_utf8(out).unwrap();
        assert!(err.is_empty());
        assert!(text.contains("  Persist Through Power Loss Capable(PTPL_C): 1\n"));
        assert!(text.contains("      Write Exclusive: 0\n"));
        assert!(text.ends_with("      Exclusive Access, all registrants: 0\n"));
        let (out, _) = prin(2, &[0, 8, 0, 0x80, 0x01, 0xff, 0, 0]);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("      Write Exclusive, all registrants: 128\n"));
        assert!(text.ends_with("      Exclusive Access, all registrants: 256\n"));
        let (out, err) = prin(2, &[0, 2, 0, 0, 0, 0, 0, 0]);
        assert!(out.is_empty());
        assert!(!err.is_empty());
    }

    #[test]
    fn capabilities_as_0_15_read_the_right_bits() {
        // LIO: flags 0d 81, mask ea 01: every type 1 (0.9.4: every type 0).
        let lio = [0, 8, 0x0d, 0x81, 0xea, 0x01, 0, 0];
        let (out, err) = prin_as(Version::V0_15, 0, 2, &lio);
        assert!(err.is_empty());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Report capabilities response:\n  Compatible Reservation Handling(CRH): 0\n  \
             Specify Initiator Ports Capable(SIP_C): 1\n  All Target Ports Capable(ATP_C): \
             1\n  Persist Through Power Loss Capable(PTPL_C): 1\n  Type Mask Valid(TMV): \
             1\n  Allow Commands: 0\n  Persist Through Power Loss Active(PTPL_A): 1\n    \
             Support indicated in Type mask:\n      Write Exclusive, all registrants: 1\n      \
             Exclusive Access, registrants only: 1\n      Write Exclusive, registrants only: \
             1\n      Exclusive Access: 1\n      Write Exclusive: 1\n      Exclusive Access, \
             all registrants: 1\n"
        );
        // PTPL_C is bit 0 only: 0.9.4 says 1 for any bit of the byte, 0.15 says 0 here.
        let no_ptpl = [0, 8, 0x0c, 0x80, 0, 0, 0, 0];
        let ptpl = |v| {
            let (out, _) = prin_as(v, 0, 2, &no_ptpl);
            String::from_utf8(out)
                .unwrap()
                .lines()
                .find(|l| l.contains("PTPL_C"))
                .map(str::to_owned)
        };
        assert_eq!(
            ptpl(Version::V0_9_4).as_deref(),
            Some("  Persist Through Power Loss Capable(PTPL_C): 1")
        );
        assert_eq!(
            ptpl(Version::V0_15).as_deref(),
            Some("  Persist Through Power Loss Capable(PTPL_C): 0")
        );
        // Each type from its own bit, 0 or 1: only WR_EX (0x0200) and EX_AC_AR (0x0001).
        let (out, _) = prin_as(Version::V0_15, 0, 2, &[0, 8, 0, 0x80, 0x02, 0x01, 0, 0]);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("      Write Exclusive, all registrants: 0\n"));
        assert!(text.contains("      Exclusive Access: 0\n"));
        assert!(text.contains("      Write Exclusive: 1\n"));
        assert!(text.ends_with("      Exclusive Access, all registrants: 1\n"));
        // The same mask through 0.9.4's masks (0x0201 & 0x02, & 0x100): 0 for both.
        let (out, _) = prin(2, &[0, 8, 0, 0x80, 0x02, 0x01, 0, 0]);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("      Write Exclusive: 0\n"));
        assert!(text.ends_with("      Exclusive Access, all registrants: 0\n"));
        // A LENGTH of 2: nothing on standard output, the complaint on standard error.
        let (out, err) = prin_as(Version::V0_15, 0, 2, &[0, 2, 0, 0, 0, 0, 0, 0]);
        assert!(out.is_empty());
        assert_eq!(err, b"Unexpected response for PRIN Report Capabilities\n");
    }

    /// A READ FULL STATUS response of `n` descriptors without TransportIDs, keys 1..=n.
    fn full_status(n: u32) -> Vec<u8> {
        let mut b = vec![0, 0, 0, 9];
        b.extend_from_slice(&(24 * n).to_be_bytes());
        for i in 1..=u64::from(n) {
            let mut d = vec![0u8; 24];
            d[..8].copy_from_slice(&i.to_be_bytes());
            d[12] = 2;
            b.extend_from_slice(&d);
        }
        b
    }

    #[test]
    fn full_status_as_0_15_stops_after_30_descriptors() {
        let keys = |out: &[u8]| {
            String::from_utf8(out.to_vec())
                .unwrap()
                .lines()
                .filter(|l| l.starts_with("   Key = "))
                .count()
        };
        let b = full_status(31);
        let (out094, err094) = prin(3, &b);
        assert_eq!(keys(&out094), 31);
        assert!(err094.is_empty());
        let (out, err) = prin_as(Version::V0_15, 0, 3, &b);
        assert_eq!(keys(&out), 30);
        assert!(
            !String::from_utf8(out.clone())
                .unwrap()
                .contains("Key = 0x1f\n")
        );
        assert!(
            String::from_utf8(out.clone())
                .unwrap()
                .contains("   Key = 0x1e\n")
        );
        assert!(err.is_empty(), "said at -v 1 and above only");
        // The same text as 0.9.4's for the first 30.
        assert!(out094.starts_with(&out));
        let (_, err) = prin_as(Version::V0_15, 1, 3, &b);
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "mpath_format_readfullstatus: READ FULL STATUS result truncated, count=30\n"
        );
        // Exactly 30: all of them, nothing said.
        let b = full_status(30);
        let (out, err) = prin_as(Version::V0_15, 3, 3, &b);
        assert_eq!(keys(&out), 30);
        assert!(err.is_empty());
        assert_eq!(out, prin(3, &b).0);
    }

    #[test]
    fn full_status_descriptors_reuse_one_record() {
        // Two descriptors; the second has no TransportID and shows the first's.
        let mut b = vec![0, 0, 0, 7, 0, 0, 0, 72];
        let mut d1 = vec![0u8; 24];
        d1[7] = 0x11;
        d1[12] = 1;
        d1[13] = 5;
        d1[19] = 1;
        d1[23] = 24;
        b.extend_from_slice(&d1);
        let mut tid = vec![0u8; 24];
        tid[0] = 6;
        tid[4..12].copy_from_slice(&0x5001_4050_0000_0001u64.to_be_bytes());
        b.extend_from_slice(&tid);
        let mut d2 = vec![0u8; 24];
        d2[7] = 0x22;
        d2[12] = 2;
        b.extend_from_slice(&d2);
        let (out, err) = prin(3, &b);
        assert!(err.is_empty());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  PR generation=0x7 \n   Key = 0x11\n      All target ports bit clear\n      \
             Relative port address: 0x1\n      << Reservation holder >>\n      scope: \
             LU_SCOPE,  type: Write Exclusive, registrants only\n   SAS         50 01 40 50 \
             00 00 00 01\n   Key = 0x22\n      All target ports bit set\n      not \
             reservation holder\n   SAS         50 01 40 50 00 00 00 01\n"
        );
    }
}
