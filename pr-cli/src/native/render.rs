//! Output: tables, JSON documents, error messages and exit statuses.

use std::io::Write;

use pr_core::types::{ReservationKey, ReservationType};
use pr_multipath::{Error, ErrorKind};
use serde_json::{Value, json};

use super::{EXIT_OK, SCHEMA};

/// Left-aligned columns, two spaces apart, the last column unpadded.
pub(super) fn table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: Vec<&str>| {
        let mut s = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, c) in cells.iter().enumerate() {
            s.push_str(c);
            if i < last {
                let pad = widths[i].saturating_sub(c.chars().count()) + 2;
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(out, header.to_vec());
    for r in rows {
        line(out, r.iter().map(String::as_str).collect());
    }
}

/// Keys in order of first appearance, each with its count: `0x1111 (2), 0x2222`.
pub(super) fn key_counts(keys: &[ReservationKey]) -> String {
    let mut seen: Vec<(ReservationKey, usize)> = Vec::new();
    for k in keys {
        match seen.iter_mut().find(|(s, _)| s == k) {
            Some((_, n)) => *n += 1,
            None => seen.push((*k, 1)),
        }
    }
    if seen.is_empty() {
        return "none".into();
    }
    seen.iter()
        .map(|(k, n)| {
            if *n == 1 {
                k.to_string()
            } else {
                format!("{k} ({n})")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn type_name(code: u8) -> String {
    ReservationType::from_code(code)
        .map(|t| t.short_name().to_owned())
        .unwrap_or_else(|| format!("type {code:#x}"))
}

/// A failure on one target, kept for the report: its kind, message and JSON form.
pub(super) struct Failed {
    pub(super) kind: ErrorKind,
    pub(super) message: String,
    pub(super) json: Value,
}

impl From<&Error> for Failed {
    fn from(e: &Error) -> Self {
        Failed {
            kind: e.kind(),
            message: e.to_string(),
            json: serde_json::to_value(e)
                .unwrap_or_else(|_| json!({"kind": "internal", "message": e.to_string()})),
        }
    }
}

impl From<Error> for Failed {
    fn from(e: Error) -> Self {
        Failed::from(&e)
    }
}

pub(super) fn document(command: &str, results: Vec<Value>) -> Value {
    json!({"schema": SCHEMA, "command": command, "results": results})
}

pub(super) fn print_json(out: &mut dyn Write, v: &Value) {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    let _ = writeln!(out, "{text}");
}

/// `message` about `name`, prefixed with it unless it names it already.
pub(super) fn about(name: &str, message: &str) -> String {
    if message.starts_with(name) {
        message.to_owned()
    } else {
        format!("{name}: {message}")
    }
}

/// Keeps the exit status of the first failure.
pub(super) fn fail(status: &mut i32, code: i32) {
    if *status == EXIT_OK {
        *status = code;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_counts_group_in_order() {
        let k = |v| ReservationKey(v);
        assert_eq!(key_counts(&[k(1), k(2), k(1)]), "0x1 (2), 0x2");
        assert_eq!(key_counts(&[]), "none");
    }
}
