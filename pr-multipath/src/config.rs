//! The `reservation_key` setting: `/etc/multipath.conf` (`defaults` and `multipaths`
//! sections) and the prkeys file (`/etc/multipath/prkeys`), resolved per map the way
//! multipath-tools does (a `multipaths` entry for the WWID first, then `defaults`).
//!
//! The multipath.conf parser is deliberately small: it understands sections (`name {` ...
//! `}`), `keyword value` lines, `#`/`!` comments and double quotes, which is all
//! `reservation_key` and `wwid` need. Other keywords are kept but not interpreted.

use std::path::Path;

use pr_core::types::ReservationKey;

use crate::error::Error;

/// Default location of multipath.conf.
pub const MULTIPATH_CONF: &str = "/etc/multipath.conf";
/// Default location of the prkeys file.
pub const PRKEYS_FILE: &str = "/etc/multipath/prkeys";

/// Parses a key as multipath-tools does: an optional leading `0`, an optional `x`/`X`,
/// then 1 to 16 hex digits.
pub fn parse_key(text: &str) -> Option<ReservationKey> {
    let s = text.strip_prefix('0').unwrap_or(text);
    let s = s
        .strip_prefix('x')
        .or_else(|| s.strip_prefix('X'))
        .unwrap_or(s);
    if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok().map(ReservationKey)
}

/// A `reservation_key` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySetting {
    /// `reservation_key <hex>[:aptpl]`.
    Key {
        /// The key.
        key: ReservationKey,
        /// `:aptpl` was given.
        aptpl: bool,
    },
    /// `reservation_key file`: the key is in the prkeys file, set by REGISTER.
    File,
}

impl KeySetting {
    /// Parses `file` or `<hex>[:aptpl]`.
    pub fn parse(value: &str) -> Option<Self> {
        if value == "file" {
            return Some(KeySetting::File);
        }
        let (hex, flag) = match value.split_once(':') {
            Some((h, f)) => (h, Some(f)),
            None => (value, None),
        };
        Some(KeySetting::Key {
            key: parse_key(hex)?,
            aptpl: flag == Some("aptpl"),
        })
    }
}

/// One `multipath { ... }` entry of the `multipaths` section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MultipathEntry {
    /// `wwid`.
    pub wwid: Option<String>,
    /// `alias`.
    pub alias: Option<String>,
    /// `reservation_key`.
    pub reservation_key: Option<KeySetting>,
}

/// What pr-multipath reads from multipath.conf.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MultipathConf {
    /// `defaults { reservation_key ... }`.
    pub defaults_key: Option<KeySetting>,
    /// `defaults { all_tg_pt yes|no }`.
    pub all_tg_pt: Option<bool>,
    /// The `multipaths` entries.
    pub multipaths: Vec<MultipathEntry>,
}

fn strip_comment(line: &str) -> &str {
    let mut in_quote = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            '#' | '!' if !in_quote => return line.get(..i).unwrap_or(""),
            _ => {}
        }
    }
    line
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    v.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(v)
}

impl MultipathConf {
    /// Parses the text of a multipath.conf. `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, Error> {
        let mut conf = MultipathConf::default();
        let mut stack: Vec<String> = Vec::new();
        let mut entry: Option<MultipathEntry> = None;
        for (n, raw) in text.lines().enumerate() {
            let line = strip_comment(raw).trim();
            if line.is_empty() {
                continue;
            }
            let err = |reason: String| Error::Config {
                path: origin.to_owned(),
                reason: format!("line {}: {reason}", n + 1),
            };
            if let Some(name) = line.strip_suffix('{') {
                let name = name.trim().to_owned();
                if name.is_empty() {
                    return Err(err("section without a name".into()));
                }
                if name == "multipath" && stack.last().map(String::as_str) == Some("multipaths") {
                    entry = Some(MultipathEntry::default());
                }
                stack.push(name);
                continue;
            }
            if line == "}" {
                let Some(closed) = stack.pop() else {
                    return Err(err("unbalanced '}'".into()));
                };
                if closed == "multipath"
                    && let Some(e) = entry.take()
                {
                    conf.multipaths.push(e);
                }
                continue;
            }
            let (kw, value) = match line.split_once(char::is_whitespace) {
                Some((k, v)) => (k, unquote(v)),
                None => (line, ""),
            };
            let section = stack.last().map(String::as_str);
            match (section, kw) {
                (Some("defaults"), "reservation_key") => {
                    conf.defaults_key = Some(
                        KeySetting::parse(value)
                            .ok_or_else(|| err(format!("invalid reservation_key {value:?}")))?,
                    );
                }
                (Some("defaults"), "all_tg_pt") => {
                    conf.all_tg_pt = Some(matches!(value, "yes" | "on" | "1"));
                }
                (Some("multipath"), "reservation_key") => {
                    if let Some(e) = entry.as_mut() {
                        e.reservation_key =
                            Some(KeySetting::parse(value).ok_or_else(|| {
                                err(format!("invalid reservation_key {value:?}"))
                            })?);
                    }
                }
                (Some("multipath"), "wwid") => {
                    if let Some(e) = entry.as_mut() {
                        e.wwid = Some(value.to_owned());
                    }
                }
                (Some("multipath"), "alias") => {
                    if let Some(e) = entry.as_mut() {
                        e.alias = Some(value.to_owned());
                    }
                }
                _ => {}
            }
        }
        if let Some(open) = stack.last() {
            return Err(Error::Config {
                path: origin.to_owned(),
                reason: format!("section {open:?} is not closed"),
            });
        }
        Ok(conf)
    }

    /// Reads and parses a file; a missing file is an empty configuration.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(t) => Self::parse(&t, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(MultipathConf::default()),
            Err(e) => Err(Error::Config {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// The `reservation_key` that applies to the map with this WWID: its `multipaths`
    /// entry's, else the `defaults` one.
    pub fn reservation_key_for(&self, wwid: &str) -> Option<KeySetting> {
        self.multipaths
            .iter()
            .find(|e| e.wwid.as_deref() == Some(wwid))
            .and_then(|e| e.reservation_key)
            .or(self.defaults_key)
    }
}

/// One line of the prkeys file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrKeyEntry {
    /// The map's WWID.
    pub wwid: String,
    /// The key.
    pub key: ReservationKey,
    /// Written with `0X` (APTPL).
    pub aptpl: bool,
}

/// The prkeys file: `0x%016x <wwid>` lines, `0X` marking APTPL, `#` comments (removed
/// entries are overwritten with `#`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrKeys {
    /// The entries, in file order.
    pub entries: Vec<PrKeyEntry>,
}

impl PrKeys {
    /// Parses the file's text; malformed lines are skipped, as multipath-tools skips them.
    pub fn parse(text: &str) -> Self {
        let entries = text
            .lines()
            .filter_map(|line| {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    return None;
                }
                let (k, w) = line.split_once(char::is_whitespace)?;
                let aptpl = k.starts_with("0X");
                let key = parse_key(k)?;
                let wwid = w.trim();
                (!wwid.is_empty()).then(|| PrKeyEntry {
                    wwid: wwid.to_owned(),
                    key,
                    aptpl,
                })
            })
            .collect();
        PrKeys { entries }
    }

    /// Reads a file; a missing file has no entries.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(t) => Ok(Self::parse(&t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PrKeys::default()),
            Err(e) => Err(Error::Config {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// The entry of a WWID (the last one wins, as new lines are appended).
    pub fn get(&self, wwid: &str) -> Option<&PrKeyEntry> {
        self.entries.iter().rev().find(|e| e.wwid == wwid)
    }
}

/// Where a configured key comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// A key in multipath.conf.
    Config,
    /// `reservation_key file`: the prkeys file (or multipathd's `getprkey`).
    File,
}

/// The key configured for one map; [`MultipathLun`](crate::MultipathLun) refuses
/// operations whose key does not match it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfiguredKey {
    /// The key; 0 when `file` is configured and the file has none yet.
    pub key: ReservationKey,
    /// APTPL requested with the key.
    pub aptpl: bool,
    /// Where it comes from.
    pub source: KeySource,
}

impl ConfiguredKey {
    /// Resolves the key of the map `wwid` from multipath.conf and the prkeys file. `None`
    /// when no `reservation_key` applies (no check is made then).
    pub fn resolve(conf: &MultipathConf, prkeys: &PrKeys, wwid: &str) -> Option<Self> {
        match conf.reservation_key_for(wwid)? {
            KeySetting::Key { key, aptpl } => Some(ConfiguredKey {
                key,
                aptpl,
                source: KeySource::Config,
            }),
            KeySetting::File => {
                let e = prkeys.get(wwid);
                Some(ConfiguredKey {
                    key: e.map_or(ReservationKey(0), |e| e.key),
                    aptpl: e.is_some_and(|e| e.aptpl),
                    source: KeySource::File,
                })
            }
        }
    }
}
