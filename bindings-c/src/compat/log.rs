//! Messages to stderr by verbosity, as libmpathpersist's `verbose` argument sets it, and
//! the text of `dumpHex`.
//!
//! Verbosity (from `mpath_persistent_reserve_init_vecs(verbose)` or the `verbose` argument
//! of `mpath_persistent_reserve_in`/`_out`): level 0 messages (why a call failed) always
//! print, 3 adds what each call did, 4 the per-path report of every command. `noisy` adds
//! hex dumps of the PR OUT parameter list and the PR IN response at level 4.

use std::fmt::Arguments;
use std::io::Write;
use std::sync::atomic::{AtomicI32, Ordering};

static VERBOSITY: AtomicI32 = AtomicI32::new(0);

/// Sets the verbosity (negative values count as 0).
pub(crate) fn set_verbosity(v: i32) {
    VERBOSITY.store(v.max(0), Ordering::Relaxed);
}

/// The verbosity.
pub(crate) fn verbosity() -> i32 {
    VERBOSITY.load(Ordering::Relaxed)
}

/// Prints `args` on stderr when `level` is within the verbosity, without a prefix as
/// libmpathpersist prints its messages (pr-multipath's errors start with the map name:
/// `mpathb: configured reservation key doesn't match: 0x123abc`).
pub(crate) fn msg(level: i32, args: Arguments<'_>) {
    if level <= verbosity() {
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "{args}");
    }
}

/// The lines `dumpHex` prints for `bytes`: 16 bytes a line, each as two lower-case hex
/// digits and a space, starting in column 8, with one more space after the eighth byte.
/// A full line is 76 characters and is NOT followed by a newline; the last, partial
/// line ends right after its last digit and is followed by one (libmpathpersist's exact
/// output, which `mpathpersist` prints through it).
pub(crate) fn hex_dump(bytes: &[u8]) -> String {
    const START: usize = 5;
    let mut out = String::new();
    let mut line = [b' '; 80];
    let mut pos = START;
    for (k, b) in bytes.iter().enumerate() {
        pos += 3;
        if pos == START + 27 {
            pos += 1;
        }
        let hex = format!("{b:02x}");
        if let Some(slot) = line.get_mut(pos..pos + 2) {
            slot.copy_from_slice(hex.as_bytes());
        }
        if let Some(s) = line.get_mut(pos + 2) {
            *s = b' ';
        }
        if (k + 1) % 16 == 0 {
            out.push_str(&String::from_utf8_lossy(line.get(..76).unwrap_or(&[])));
            pos = START;
            line = [b' '; 80];
        }
    }
    if pos > START {
        out.push_str(&String::from_utf8_lossy(line.get(..pos + 2).unwrap_or(&[])));
        out.push('\n');
    }
    out
}

/// `noisy` hex dump of `bytes` at verbosity 4, on stderr.
pub(crate) fn noisy_dump(noisy: bool, what: &str, bytes: &[u8]) {
    if noisy && verbosity() >= 4 {
        msg(4, format_args!("{what}:"));
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(hex_dump(bytes).as_bytes());
        let _ = e.write_all(b"\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_dump_matches_the_libmpathpersist_layout() {
        // An 8-byte SAS address, as mpathpersist prints READ FULL STATUS TransportIDs.
        assert_eq!(
            hex_dump(&[0x50, 0x01, 0x40, 0x5a, 0x10, 0x00, 0x00, 0x01]),
            "        50 01 40 5a 10 00 00 01\n"
        );
        // Nine bytes: the extra space after the eighth.
        assert_eq!(hex_dump(&[0; 9]), "        00 00 00 00 00 00 00 00  00\n");
        // Sixteen bytes: one full 76-column line, no newline.
        let full = hex_dump(&[0xab; 16]);
        assert_eq!(full.len(), 76);
        assert!(!full.ends_with('\n'));
        let expected = format!("{:8}{}  {}", "", ["ab"; 8].join(" "), ["ab"; 8].join(" "));
        assert_eq!(full, format!("{expected:<76}"));
        assert_eq!(hex_dump(&[]), "");
    }
}
