//! What `sg_persist` 1.46 prints on standard output: the INQUIRY header, the four PR IN
//! decodings (READ KEYS, READ RESERVATION, REPORT CAPABILITIES, READ FULL STATUS with its
//! TransportIDs), and its three hex forms. Each printer takes the response as sg_persist
//! holds it: a buffer of the allocation length whose bytes past what the device sent
//! are zero here (sg_persist shows whatever its buffer held before; see the crate's
//! README).

use std::fmt::Write as _;

/// Byte `i` of `b`, zero past its end.
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

/// The reservation type names, by type code.
pub const TYPE_NAMES: [&str; 16] = [
    "obsolete [0]",
    "Write Exclusive",
    "obsolete [2]",
    "Exclusive Access",
    "obsolete [4]",
    "Write Exclusive, registrants only",
    "Exclusive Access, registrants only",
    "Write Exclusive, all registrants",
    "Exclusive Access, all registrants",
    "obsolete [9]",
    "obsolete [0xa]",
    "obsolete [0xb]",
    "obsolete [0xc]",
    "obsolete [0xd]",
    "obsolete [0xe]",
    "obsolete [0xf]",
];

/// Peripheral device type names, by type (sg3_utils' table).
const PDT_NAMES: [&str; 32] = [
    "disk",
    "tape",
    "printer",
    "processor",
    "write once optical disk",
    "cd/dvd",
    "scanner",
    "optical memory device",
    "medium changer",
    "communications",
    "graphics [0xa]",
    "graphics [0xb]",
    "storage array controller",
    "enclosure services device",
    "simplified direct access device",
    "optical card reader/writer device",
    "bridge controller commands",
    "object based storage",
    "automation/driver interface",
    "security manager device",
    "host managed zoned block",
    "0x15",
    "0x16",
    "0x17",
    "0x18",
    "0x19",
    "0x1a",
    "0x1b",
    "0x1c",
    "0x1d",
    "well known logical unit",
    "unknown or no device type",
];

/// `%.Ns` of a fixed field: stops at a NUL.
fn field(b: &[u8], from: usize, len: usize, out: &mut Vec<u8>) {
    for i in from..from + len {
        let c = at(b, i);
        if c == 0 {
            break;
        }
        out.push(c);
    }
}

/// The two header lines of a standard INQUIRY response (vendor, product, revision;
/// peripheral device type). Raw bytes: vendors' fields need not be UTF-8.
pub fn inquiry_header(inq: &[u8]) -> Vec<u8> {
    let mut out = b"  ".to_vec();
    field(inq, 8, 8, &mut out);
    out.extend_from_slice(b"  ");
    field(inq, 16, 16, &mut out);
    out.extend_from_slice(b"  ");
    field(inq, 32, 4, &mut out);
    out.push(b'\n');
    let pdt = usize::from(at(inq, 0) & 0x1f);
    out.extend_from_slice(format!("  Peripheral device type: {}\n", PDT_NAMES[pdt]).as_bytes());
    out
}

/// sg3_utils' hex dump to standard output: `no_ascii` 1 is an offset column and the
/// bytes, 16 a line with an extra blank after the 8th; -1 the bytes alone; 0 adds the
/// ASCII column.
pub fn hex_stdout(b: &[u8], no_ascii: i32, out: &mut String) {
    if b.is_empty() {
        return;
    }
    for (line_no, chunk) in b.chunks(16).enumerate() {
        let mut line = String::new();
        let start = if no_ascii < 0 {
            0
        } else {
            let _ = write!(line, " {:02x}", line_no * 16);
            while line.len() < 8 {
                line.push(' ');
            }
            line.len()
        };
        let _ = start;
        for (k, c) in chunk.iter().enumerate() {
            if k == 8 {
                line.push(' ');
            }
            let _ = write!(line, "{c:02x} ");
        }
        if no_ascii == 0 {
            while line.len() < 60 {
                line.push(' ');
            }
            for c in chunk {
                line.push(if (0x20..0x7f).contains(c) {
                    char::from(*c)
                } else {
                    '.'
                });
            }
        }
        out.push_str(line.trim_end_matches(' '));
        out.push('\n');
    }
}

/// sg3_utils' `hex2str` with a lead-in and no ASCII column (format 1).
fn hex_leadin(b: &[u8], lip: &str, out: &mut String) {
    for chunk in b.chunks(16) {
        let mut line = String::from(lip);
        for (k, c) in chunk.iter().enumerate() {
            if k == 8 {
                line.push(' ');
            }
            let _ = write!(line, "{c:02x} ");
        }
        out.push_str(line.trim_end_matches(' '));
        out.push('\n');
    }
}

/// One TransportID as READ FULL STATUS shows it (sg3_utils'
/// `sg_decode_transportid_str` with one TransportID): `lip` leads every line.
pub fn transport_id(lip: &str, tid: &[u8], out: &mut String) {
    let bplen = tid.len();
    if bplen < 24 || bplen % 4 != 0 {
        // sg3_utils prints the size of its text buffer here, not the TransportID's.
        let _ = writeln!(
            out,
            "{lip}Transport Id short or not multiple of 4 [length=1024]:"
        );
    } else {
        let _ = writeln!(out, "{lip}Transport Id of initiator:");
    }
    let format = (at(tid, 0) >> 6) & 3;
    let proto = at(tid, 0) & 0xf;
    let normal = &tid[..bplen.min(24)];
    let unexpected = |out: &mut String| {
        if format != 0 {
            let _ = writeln!(out, "{lip}  [Unexpected TPID format: {format}]");
        }
    };
    let undefined = |out: &mut String, name: &str| {
        let _ = writeln!(out, "{lip}  {name}:");
        let _ = writeln!(out, "{lip}  TPID format: {format}");
        hex_leadin(normal, lip, out);
    };
    let slice =
        |from: usize, len: usize| -> Vec<u8> { (from..from + len).map(|i| at(tid, i)).collect() };
    match proto {
        0 => {
            let _ = writeln!(out, "{lip}  FCP-2 World Wide Name:");
            unexpected(out);
            hex_leadin(&slice(8, 8), lip, out);
        }
        1 => {
            let _ = writeln!(
                out,
                "{lip}  Parallel SCSI initiator SCSI address: 0x{:x}",
                be16(tid, 2)
            );
            unexpected(out);
            let _ = writeln!(
                out,
                "{lip}  relative port number (of corresponding target): 0x{:x}",
                be16(tid, 6)
            );
        }
        2 => undefined(out, "SSA (transport id not defined)"),
        3 => {
            let _ = writeln!(out, "{lip}  IEEE 1394 EUI-64 name:");
            unexpected(out);
            hex_leadin(&slice(8, 8), lip, out);
        }
        4 => {
            let _ = writeln!(out, "{lip}  RDMA initiator port identifier:");
            unexpected(out);
            hex_leadin(&slice(8, 16), lip, out);
        }
        5 => {
            let _ = write!(out, "{lip}  iSCSI ");
            let num = usize::from(be16(tid, 2));
            let name: Vec<u8> = slice(4, num).into_iter().take_while(|c| *c != 0).collect();
            let name = String::from_utf8_lossy(&name);
            match format {
                0 => {
                    let _ = writeln!(out, "name: {name}");
                }
                1 => {
                    let _ = writeln!(out, "world wide unique port id: {name}");
                }
                _ => {
                    let _ = writeln!(out, "  [Unexpected TPID format: {format}]");
                    hex_with_ascii(&slice(0, num + 4), lip, out);
                }
            }
        }
        6 => {
            let _ = writeln!(out, "{lip}  SAS address: 0x{:x}", be64(tid, 4));
            unexpected(out);
        }
        7 => undefined(out, "ADT"),
        8 => undefined(out, "ATAPI"),
        9 => undefined(out, "UAS"),
        0xa => {
            let _ = write!(out, "{lip}  SOP ");
            if format == 0 {
                let _ = writeln!(out, "Routing ID: 0x{:x}", be16(tid, 2));
            } else {
                let _ = writeln!(out, "  [Unexpected TPID format: {format}]");
                hex_leadin(normal, lip, out);
            }
        }
        0xb => undefined(out, "PCIE"),
        0xf => {
            let _ = writeln!(out, "{lip}  No specified protocol");
        }
        _ => {
            let _ = writeln!(
                out,
                "{lip}  unknown protocol id=0x{proto:x}  TPID format={format}"
            );
            hex_leadin(normal, lip, out);
        }
    }
}

/// `hex2str` format 0: lead-in, bytes, and an ASCII column.
fn hex_with_ascii(b: &[u8], lip: &str, out: &mut String) {
    let width = lip.len() + 16 * 3 + 1;
    for chunk in b.chunks(16) {
        let mut line = String::from(lip);
        for (k, c) in chunk.iter().enumerate() {
            if k == 8 {
                line.push(' ');
            }
            let _ = write!(line, "{c:02x} ");
        }
        let line = line.trim_end_matches(' ');
        let ascii: String = (0..16)
            .map(|k| match chunk.get(k) {
                Some(c) if (0x20..0x7f).contains(c) => char::from(*c),
                Some(_) => '.',
                None => ' ',
            })
            .collect();
        let _ = writeln!(out, "{line:<width$}   {ascii}");
    }
}

/// What sg_persist prints for a PR IN response in `buf` (`alloc_len` bytes, zero past
/// what was received) of service action `sa`, with `hex` `-H` count and `verbose`. The
/// second value is the exit status (97, malformed, for a REPORT CAPABILITIES whose
/// LENGTH is not 8), and the third what goes to standard error.
pub fn prin(sa: u8, buf: &[u8], alloc_len: usize, hex: u32, verbose: u32) -> (String, i32, String) {
    let mut out = String::new();
    let mut err = String::new();
    if sa == 2 {
        if at(buf, 1) != 8 {
            err.push_str("Unexpected response for PRIN Report Capabilities\n");
            if hex > 0 {
                hex_stdout(&pad(buf, usize::from(at(buf, 1))), 1, &mut out);
            }
            return (out, 97, err);
        }
        if hex > 0 {
            hex_stdout(&pad(buf, 8), 1, &mut out);
            return (out, 0, err);
        }
        let b2 = at(buf, 2);
        let b3 = at(buf, 3);
        let bit = |b: u8, m: u8| u8::from(b & m != 0);
        out.push_str("Report capabilities response:\n");
        let _ = writeln!(
            out,
            "  Replace Lost Reservation Capable(RLR_C): {}",
            bit(b2, 0x80)
        );
        let _ = writeln!(
            out,
            "  Compatible Reservation Handling(CRH): {}",
            bit(b2, 0x10)
        );
        let _ = writeln!(
            out,
            "  Specify Initiator Ports Capable(SIP_C): {}",
            bit(b2, 0x8)
        );
        let _ = writeln!(out, "  All Target Ports Capable(ATP_C): {}", bit(b2, 0x4));
        let _ = writeln!(
            out,
            "  Persist Through Power Loss Capable(PTPL_C): {}",
            bit(b2, 0x1)
        );
        let _ = writeln!(out, "  Type Mask Valid(TMV): {}", bit(b3, 0x80));
        let _ = writeln!(out, "  Allow Commands: {}", (b3 >> 4) & 7);
        let _ = writeln!(
            out,
            "  Persist Through Power Loss Active(PTPL_A): {}",
            bit(b3, 0x1)
        );
        if b3 & 0x80 != 0 {
            let (b4, b5) = (at(buf, 4), at(buf, 5));
            out.push_str("    Support indicated in Type mask:\n");
            for (ty, b, m) in [
                (7, b4, 0x80),
                (6, b4, 0x40),
                (5, b4, 0x20),
                (3, b4, 0x8),
                (1, b4, 0x2),
                (8, b5, 0x1),
            ] {
                let _ = writeln!(out, "      {}: {}", TYPE_NAMES[ty], bit(b, m));
            }
        }
        return (out, 0, err);
    }
    let generation = be32(buf, 0);
    // sg_persist holds ADDITIONAL LENGTH in an int.
    let add_len = be32(buf, 4) as i32;
    if hex > 0 {
        if hex > 1 {
            let n = (i64::from(add_len) + 8).max(0) as usize;
            hex_stdout(&pad(buf, n), if hex == 2 { 1 } else { -1 }, &mut out);
        } else {
            let _ = write!(out, "  PR generation=0x{generation:x}, ");
            if add_len <= 0 {
                let _ = writeln!(out, "Additional length={add_len}");
            }
            // Unsigned, as sg_persist compares them.
            let room = (alloc_len as u32).wrapping_sub(8);
            if add_len as u32 > room {
                let _ = writeln!(out, "Additional length too large={add_len}, truncate");
                hex_stdout(&pad(&buf[8.min(buf.len())..], room as usize), 1, &mut out);
            } else {
                let _ = writeln!(out, "Additional length={add_len}");
                if add_len > 0 {
                    hex_stdout(
                        &pad(&buf[8.min(buf.len())..], add_len as usize),
                        1,
                        &mut out,
                    );
                }
            }
        }
        return (out, 0, err);
    }
    match sa {
        0 => {
            let _ = write!(out, "  PR generation=0x{generation:x}, ");
            let num = add_len / 8;
            if num > 0 {
                if num == 1 {
                    out.push_str("1 registered reservation key follows:\n");
                } else {
                    let _ = writeln!(out, "{num} registered reservation keys follow:");
                }
                for k in 0..num as usize {
                    let _ = writeln!(out, "    0x{:x}", be64(buf, 8 + 8 * k));
                }
            } else {
                out.push_str("there are NO registered reservation keys\n");
            }
        }
        1 => {
            let _ = write!(out, "  PR generation=0x{generation:x}, ");
            if add_len / 16 > 0 {
                out.push_str("Reservation follows:\n");
                let _ = writeln!(out, "    Key=0x{:x}", be64(buf, 8));
                scope_type(at(buf, 8 + 13), "    ", &mut out);
            } else {
                out.push_str("there is NO reservation held\n");
            }
        }
        3 => {
            let _ = writeln!(out, "  PR generation=0x{generation:x}");
            if add_len == 0 {
                out.push_str("  No full status descriptors\n");
                if verbose > 0 {
                    out.push_str("  So there are no registered IT nexuses\n");
                }
            }
            let mut k: i64 = 0;
            let mut bp: usize = 8;
            while k < i64::from(add_len) {
                let add_desc_len = be32(buf, bp + 20) as i32;
                let num = 24 + i64::from(add_desc_len);
                let _ = writeln!(out, "    Key=0x{:x}", be64(buf, bp));
                let flags = at(buf, bp + 12);
                if flags & 2 != 0 {
                    out.push_str("      All target ports bit set\n");
                } else {
                    out.push_str("      All target ports bit clear\n");
                    let _ = writeln!(
                        out,
                        "      Relative port address: 0x{:x}",
                        be16(buf, bp + 18)
                    );
                }
                if flags & 1 != 0 {
                    out.push_str("      << Reservation holder >>\n");
                    scope_type(at(buf, bp + 13), "      ", &mut out);
                } else {
                    out.push_str("      not reservation holder\n");
                }
                if add_desc_len > 0 {
                    let tid: Vec<u8> = (0..add_desc_len as usize)
                        .map(|i| at(buf, bp + 24 + i))
                        .collect();
                    transport_id("      ", &tid, &mut out);
                }
                if num <= 0 || num > 1 << 20 {
                    // sg_persist would loop on or read far past its buffer: stop.
                    break;
                }
                k += num;
                bp += num as usize;
            }
        }
        _ => {}
    }
    (out, 0, err)
}

fn scope_type(b: u8, lead: &str, out: &mut String) {
    let scope = b >> 4;
    if scope == 0 {
        let _ = write!(out, "{lead}scope: LU_SCOPE, ");
    } else {
        let _ = write!(out, "{lead}scope: {scope} ");
    }
    let _ = writeln!(out, " type: {}", TYPE_NAMES[usize::from(b & 0xf)]);
}

/// The first `n` bytes of `b`, zero past its end.
fn pad(b: &[u8], n: usize) -> Vec<u8> {
    (0..n).map(|i| at(b, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_forms() {
        let b: Vec<u8> = (0..20).collect();
        let mut s = String::new();
        hex_stdout(&b, 1, &mut s);
        assert_eq!(
            s,
            " 00     00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f\n 10     10 11 12 13\n"
        );
        let mut s = String::new();
        hex_stdout(&b, -1, &mut s);
        assert_eq!(
            s,
            "00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f\n10 11 12 13\n"
        );
        let big = vec![0u8; 0x110];
        let mut s = String::new();
        hex_stdout(&big, 1, &mut s);
        assert!(
            s.lines().last().unwrap().starts_with(" 100    00 00"),
            "{s}"
        );
    }

    #[test]
    fn inquiry_header_fields() {
        let mut inq = vec![0u8; 36];
        inq[8..16].copy_from_slice(b"LIO-ORG ");
        inq[16..32].copy_from_slice(b"FILEIO          ");
        inq[32..36].copy_from_slice(b"4.0\0");
        assert_eq!(
            String::from_utf8(inquiry_header(&inq)).unwrap(),
            "  LIO-ORG   FILEIO            4.0\n  Peripheral device type: disk\n"
        );
    }
}
