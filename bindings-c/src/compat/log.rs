//! Messages to stderr by verbosity, as libmpathpersist's `verbose` argument sets it, and
//! the text of `dumpHex`.
//!
//! Verbosity (from `mpath_persistent_reserve_init_vecs(verbose)` or the `verbose` argument
//! of `mpath_persistent_reserve_in`/`_out`): level 0 messages (why a call failed) always
//! print, 2 adds notices (a RELEASE type that does not match the reservation), 3 what each
//! call did, 4 the per-path report of every command. pr-multipath's own events join in at
//! the same levels (see `trace.rs`). Lines are written as libmpathpersist writes them,
//! naming the map (`mpathb: configured reservation key doesn't match: 0x123abc`), with no
//! prefix of ours.
//!
//! `noisy` (mpathpersist's `-H`, or its verbosity 3 and more) dumps the PR IN response
//! and the PR OUT parameter list in `dumpHex`'s layout at level 0, as libmpathpersist
//! does.

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

/// Prints `args` on stderr when `level` is within the verbosity.
pub(crate) fn msg(level: i32, args: Arguments<'_>) {
    if level <= verbosity() {
        line(&args.to_string());
    }
}

/// Writes one line on stderr, whatever the verbosity.
pub(crate) fn line(text: &str) {
    #[cfg(test)]
    if CAPTURE.with(|c| c.borrow_mut().as_mut().map(|v| v.push(text.to_owned()))) == Some(()) {
        return;
    }
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{text}");
}

#[cfg(test)]
thread_local! {
    static CAPTURE: std::cell::RefCell<Option<Vec<String>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` and returns the lines written on this thread meanwhile (instead of stderr).
#[cfg(test)]
pub(crate) fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    CAPTURE.with(|c| *c.borrow_mut() = Some(Vec::new()));
    let r = f();
    let lines = CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default();
    (r, lines)
}

/// The lines of `dumpHex` for `bytes`: 16 bytes a line, each as two lower-case hex digits
/// and a space, starting in column 8, with one more space after the eighth byte. A full
/// line is 76 characters; the last, partial line ends right after its last digit.
pub(crate) fn hex_lines(bytes: &[u8]) -> Vec<String> {
    const START: usize = 5;
    let mut out = Vec::new();
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
        if (k + 1) % 16 == 0 {
            out.push(String::from_utf8_lossy(line.get(..76).unwrap_or(&[])).into_owned());
            pos = START;
            line = [b' '; 80];
        }
    }
    if pos > START {
        out.push(String::from_utf8_lossy(line.get(..pos + 2).unwrap_or(&[])).into_owned());
    }
    out
}

/// What `dumpHex(str, len, 0)` prints on stdout: the [`hex_lines`], a full line NOT
/// followed by a newline, the last partial line followed by one (libmpathpersist's exact
/// output, which `mpathpersist` prints through it).
pub(crate) fn hex_dump(bytes: &[u8]) -> String {
    let lines = hex_lines(bytes);
    let mut out = lines.concat();
    if bytes.len() % 16 != 0 {
        out.push('\n');
    }
    out
}

/// `dumpHex(str, len, 1)`: the [`hex_lines`] of `bytes` as level-0 messages, one line
/// each. What `noisy` shows of a PR IN response or a PR OUT parameter list.
pub(crate) fn dump(bytes: &[u8]) {
    for l in hex_lines(bytes) {
        msg(0, format_args!("{l}"));
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

    #[test]
    fn logged_dumps_are_one_message_per_line() {
        // 20 bytes: one full line and a partial one of 4 bytes, each its own message (the
        // stdout form runs the full line into the next one).
        let lines = hex_lines(&(0u8..20).collect::<Vec<_>>());
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 76);
        assert!(lines[0].starts_with("        00 01 02"));
        assert_eq!(lines[1], "        10 11 12 13");
        assert_eq!(
            hex_dump(&(0u8..20).collect::<Vec<_>>()),
            lines.concat() + "\n"
        );
        assert_eq!(hex_lines(&[0; 32]).len(), 2);
        assert!(hex_lines(&[]).is_empty());
    }
}
