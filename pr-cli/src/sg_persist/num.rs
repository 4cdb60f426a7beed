//! Numbers as `sg_persist` 1.46 reads them: hex the way C's `sscanf("%x")` reads it
//! (leading blanks, a sign, an optional `0x`, then hex digits; trailing text ignored;
//! out of range saturates, a minus sign wraps), and `--maxlen` the way sg3_utils'
//! `sg_get_num` reads it (decimal with multiplier suffixes, `0x` or a trailing `h` for
//! hex).

/// `sscanf(s, "%x")` into an unsigned integer of `bits` bits (32 or 64): `None` when no
/// hex digit starts the text (after blanks, a sign and `0x`).
pub fn scan_hex(s: &str, bits: u32) -> Option<u64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let after_prefix = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .filter(|r| r.starts_with(|c: char| c.is_ascii_hexdigit()));
    let digits_of = |x: &str| -> usize { x.bytes().take_while(u8::is_ascii_hexdigit).count() };
    let t = after_prefix.unwrap_or(t);
    let n = digits_of(t);
    if n == 0 {
        return None;
    }
    // strtoul/strtoull: saturate at the type's maximum (unsigned long is 64 bits).
    let mut v: u64 = 0;
    let mut overflow = false;
    for c in t[..n].chars() {
        let d = u64::from(c.to_digit(16).unwrap_or(0));
        match v.checked_mul(16).and_then(|x| x.checked_add(d)) {
            Some(x) => v = x,
            None => overflow = true,
        }
    }
    if overflow {
        v = u64::MAX;
    } else if neg {
        v = v.wrapping_neg();
    }
    Some(if bits >= 64 {
        v
    } else {
        v & ((1u64 << bits) - 1)
    })
}

/// `sscanf(s, "%d")`-like prefix: sign and decimal digits; the value and the rest.
fn scan_dec(s: &str) -> Option<(i64, &str)> {
    let t = s.trim_start_matches([' ', '\t']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let n = t.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return None;
    }
    let v: i64 = t[..n].parse().unwrap_or(i64::MAX);
    Some((if neg { -v } else { v }, &t[n..]))
}

/// sg3_utils' `sg_get_num`: a count in decimal (with suffixes `c` x1, `w` x2, `b` x512,
/// `k`/`kib` x1024, `kb`/`kd` x1000, `m`/`mib`, `mb`/`md`, `g`/`gib`, `gb`/`gd`),
/// `0x`-prefixed or `h`-suffixed hex. `None` where it returns -1. Values beyond `i32`
/// come back as they are (the caller compares them with its maximum).
pub fn get_num(s: &str) -> Option<i64> {
    let s = s.trim_start_matches([' ', '\t']);
    if s.is_empty() {
        return None;
    }
    // The number ends at a blank, comma, '#' or '-' (at most 15 characters).
    let end = s.find([' ', '\t', ',', '#', '-']).unwrap_or(s.len());
    let b: String = if end < s.len() {
        s[..end].chars().take(15).collect()
    } else {
        s.to_owned()
    };
    if let Some(h) = b.strip_prefix("0x").or_else(|| b.strip_prefix("0X")) {
        let n = h.bytes().take_while(u8::is_ascii_hexdigit).count();
        if n == 0 {
            return None;
        }
        let v = scan_hex(h, 32)?;
        return match h[n..].chars().next() {
            None => Some(i64::from(v as u32 as i32)),
            Some(_) => None,
        };
    }
    if b.ends_with(['h', 'H']) {
        let v = scan_hex(&b, 32)?;
        return Some(i64::from(v as u32 as i32));
    }
    let (num, rest) = scan_dec(&b)?;
    let suffix = rest.to_ascii_uppercase();
    let mult: i64 = match suffix.as_str() {
        "" | "C" => 1,
        "W" => 2,
        "B" => 512,
        "K" | "KIB" => 1 << 10,
        "KB" | "KD" => 1000,
        "M" | "MIB" => 1 << 20,
        "MB" | "MD" => 1_000_000,
        "G" | "GIB" => 1 << 30,
        "GB" | "GD" => 1_000_000_000,
        _ => return None,
    };
    Some(num.saturating_mul(mult))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_as_sscanf() {
        assert_eq!(scan_hex("0x123", 64), Some(0x123));
        assert_eq!(scan_hex(" 123zz", 64), Some(0x123));
        assert_eq!(
            scan_hex("ABCDEF0123456789", 64),
            Some(0xabcd_ef01_2345_6789)
        );
        assert_eq!(scan_hex("-1", 32), Some(0xffff_ffff));
        assert_eq!(scan_hex("-1", 64), Some(u64::MAX));
        assert_eq!(scan_hex("1ffffffffffffffff", 64), Some(u64::MAX));
        assert_eq!(scan_hex("100000000", 32), Some(0));
        assert_eq!(scan_hex("zz", 64), None);
        assert_eq!(scan_hex("", 64), None);
        assert_eq!(scan_hex("0x", 64), Some(0));
    }

    #[test]
    fn get_num_forms() {
        assert_eq!(get_num("8192"), Some(8192));
        assert_eq!(get_num("8k"), Some(8192));
        assert_eq!(get_num("2000h"), Some(8192));
        assert_eq!(get_num("0x2000"), Some(8192));
        assert_eq!(get_num("8kb"), Some(8000));
        assert_eq!(get_num("9k"), Some(9216));
        assert_eq!(get_num("-5"), None);
        assert_eq!(get_num("zz"), None);
        assert_eq!(get_num("12q"), None);
        assert_eq!(get_num("16,3"), Some(16));
    }
}
