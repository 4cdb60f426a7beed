//! Which lock file libvirt's lockd driver uses for a disk, computed as it computes it.
//!
//! libvirt's `lock_driver_lockd.c` names a read-write disk's lock in this order (facts
//! from libvirt's source; see the crate README):
//!
//! 1. the disk path starts with `/dev` (a plain string prefix) and `lvm_lockspace_dir` is
//!    set: the LVM UUID, from `lvs --noheadings --unbuffered --nosuffix --options uuid
//!    PATH` (leading white space removed, cut at the first newline), in that directory;
//! 2. the path starts with `/dev` and `scsi_lockspace_dir` is set: the SCSI ID, from
//!    `/lib/udev/scsi_id --replace-whitespace --whitelisted --device PATH` (cut at the
//!    first newline), in that directory;
//! 3. `file_lockspace_dir` is set: the lowercase hex SHA-256 of the path string as the
//!    domain XML gives it (no canonicalisation), in that directory;
//! 4. otherwise a direct lease on the disk path itself.
//!
//! An empty key (the program printed nothing) falls through to the next rule. Cases 1-3
//! are "indirect" leases, created on demand and unlinked on release (AUTOCREATE); case 4
//! opens the disk itself without `O_CREAT` and never unlinks it.
//!
//! The SCSI ID is taken from the same program with the same arguments rather than
//! recomputed from INQUIRY VPD page 0x83: what libvirt locks is whatever that program
//! prints (its designator choice, its `/etc/scsi_id.config` blacklist and per-vendor
//! options, its whitespace and character rules), so running it is the only way to be
//! byte-identical on every system.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The program libvirt runs for the SCSI ID (it hard-codes this path).
pub const SCSI_ID: &str = "/lib/udev/scsi_id";

/// The program libvirt runs for the LVM UUID. libvirt's build records where `lvs` was
/// found; Debian's lvm2 installs it in `/usr/sbin` (`/sbin` is the same directory on a
/// merged-/usr system).
pub const LVS: &str = "/usr/sbin/lvs";

/// The directories of libvirt's `lockd.conf` (`file_lockspace_dir`, `lvm_lockspace_dir`,
/// `scsi_lockspace_dir`); `None` where the setting is absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockspaceConfig {
    /// `file_lockspace_dir`: locks named by the SHA-256 of the disk path.
    pub file_dir: Option<PathBuf>,
    /// `lvm_lockspace_dir`: locks named by LVM UUID.
    pub lvm_dir: Option<PathBuf>,
    /// `scsi_lockspace_dir`: locks named by SCSI ID.
    pub scsi_dir: Option<PathBuf>,
}

/// How a lock file was named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// The LVM UUID, in `lvm_lockspace_dir`.
    Lvm,
    /// The SCSI ID, in `scsi_lockspace_dir`.
    Scsi,
    /// The SHA-256 of the disk path, in `file_lockspace_dir`.
    Sha256,
    /// The disk itself (a direct lease).
    Direct,
}

/// The lock file of a disk: where it is and what it is called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// The lockspace directory; `None` for a direct lease.
    pub dir: Option<PathBuf>,
    /// The resource name: the key, or the disk path for a direct lease.
    pub name: String,
    /// How it was named.
    pub kind: NameKind,
}

impl Resource {
    /// The lock file: `dir/name`, or the disk itself.
    pub fn path(&self) -> PathBuf {
        match &self.dir {
            Some(d) => d.join(&self.name),
            None => PathBuf::from(&self.name),
        }
    }

    /// Whether the file is created on acquire and unlinked on release (virtlockd's
    /// AUTOCREATE): every indirect lease.
    pub fn autocreate(&self) -> bool {
        self.kind != NameKind::Direct
    }
}

/// Where the keys of block devices come from: the real programs ([`Programs`]), or
/// anything else in tests.
pub trait KeySource {
    /// The LVM UUID of `disk`, `None` when there is none.
    fn lvm_key(&self, disk: &str) -> Result<Option<String>>;
    /// The SCSI ID of `disk`, `None` when there is none.
    fn scsi_key(&self, disk: &str) -> Result<Option<String>>;
}

/// The keys as libvirt gets them: by running [`LVS`] and [`SCSI_ID`].
#[derive(Clone, Debug)]
pub struct Programs {
    /// The `lvs` program.
    pub lvs: PathBuf,
    /// The `scsi_id` program.
    pub scsi_id: PathBuf,
}

impl Default for Programs {
    fn default() -> Self {
        Programs {
            lvs: PathBuf::from(LVS),
            scsi_id: PathBuf::from(SCSI_ID),
        }
    }
}

/// Runs `program args`, standard input empty, standard error discarded; its exit success
/// and standard output.
fn run(program: &Path, args: &[&str], disk: &str) -> Result<(bool, Vec<u8>)> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|source| Error::KeyProgram {
            program: program.to_owned(),
            disk: disk.to_owned(),
            source,
        })?;
    tracing::debug!(program = %program.display(), disk, status = %out.status, "lock key program");
    Ok((out.status.success(), out.stdout))
}

impl KeySource for Programs {
    fn lvm_key(&self, disk: &str) -> Result<Option<String>> {
        let (ok, out) = run(
            &self.lvs,
            &[
                "--noheadings",
                "--unbuffered",
                "--nosuffix",
                "--options",
                "uuid",
                disk,
            ],
            disk,
        )?;
        Ok(lvm_key_from_output(ok, &out))
    }

    fn scsi_key(&self, disk: &str) -> Result<Option<String>> {
        let (ok, out) = run(
            &self.scsi_id,
            &["--replace-whitespace", "--whitelisted", "--device", disk],
            disk,
        )?;
        Ok(scsi_key_from_output(ok, &out))
    }
}

/// Up to the first newline.
fn cut_at_newline(s: &[u8]) -> &[u8] {
    match s.iter().position(|&b| b == b'\n') {
        Some(i) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

fn non_empty(s: &[u8]) -> Option<String> {
    (!s.is_empty()).then(|| String::from_utf8_lossy(s).into_owned())
}

/// libvirt's reading of `scsi_id`'s output: on success, cut at the first newline; the
/// output is used as it is when the program failed (libvirt does so; `scsi_id` prints
/// nothing then); empty means no key.
pub fn scsi_key_from_output(success: bool, stdout: &[u8]) -> Option<String> {
    non_empty(if success {
        cut_at_newline(stdout)
    } else {
        stdout
    })
}

/// libvirt's reading of `lvs`'s output: on success, leading white space removed (C's
/// `isspace` set: space, `\t`, `\n`, `\v`, `\f`, `\r`), then cut at the first newline;
/// as is when the program failed; empty means no key.
pub fn lvm_key_from_output(success: bool, stdout: &[u8]) -> Option<String> {
    if !success {
        return non_empty(stdout);
    }
    let start = stdout
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .unwrap_or(stdout.len());
    non_empty(cut_at_newline(stdout.get(start..).unwrap_or_default()))
}

/// The lowercase hex SHA-256 of `disk`'s bytes: the name of its lock in
/// `file_lockspace_dir`.
pub fn sha256_name(disk: &str) -> String {
    let digest = Sha256::digest(disk.as_bytes());
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

const HEX: [u8; 16] = *b"0123456789abcdef";

/// Checks a disk path as libvirt takes it from the domain XML: absolute, no NUL.
fn check_disk(disk: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::InvalidDisk {
            given: disk.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if disk.is_empty() {
        return bad("empty disk path");
    }
    if !disk.starts_with('/') {
        return bad(
            "not an absolute path: give the disk's path exactly as the domain XML names it",
        );
    }
    if disk.contains('\0') {
        return bad("contains a NUL byte");
    }
    Ok(())
}

/// The lock file libvirt's lockd driver uses for the read-write disk `disk` (its path as
/// the domain XML gives it), with the keys of block devices from `keys`.
pub fn resolve(disk: &str, config: &LockspaceConfig, keys: &dyn KeySource) -> Result<Resource> {
    check_disk(disk)?;
    let block = disk.starts_with("/dev");
    if let (true, Some(dir)) = (block, &config.lvm_dir) {
        if let Some(name) = keys.lvm_key(disk)? {
            return Ok(Resource {
                dir: Some(dir.clone()),
                name,
                kind: NameKind::Lvm,
            });
        }
    }
    if let (true, Some(dir)) = (block, &config.scsi_dir) {
        if let Some(name) = keys.scsi_key(disk)? {
            return Ok(Resource {
                dir: Some(dir.clone()),
                name,
                kind: NameKind::Scsi,
            });
        }
    }
    if let Some(dir) = &config.file_dir {
        return Ok(Resource {
            dir: Some(dir.clone()),
            name: sha256_name(disk),
            kind: NameKind::Sha256,
        });
    }
    Ok(Resource {
        dir: None,
        name: disk.to_owned(),
        kind: NameKind::Direct,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_names_are_lowercase_hex_of_the_path_bytes() {
        // FIPS 180-2's "abc" vector and the empty string.
        assert_eq!(
            sha256_name("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_name(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // Disk paths, checked with `printf %s PATH | sha256sum`: no trailing newline, no
        // canonicalisation (a trailing slash or `//` changes the name, as in libvirt).
        assert_eq!(
            sha256_name("/var/lib/libvirt/images/demo.qcow2"),
            "c82d6ed601881ec10942753ab2cfa1b5eb12354b60c9b90fb557dfd211272fad"
        );
        assert_eq!(
            sha256_name("/dev/mapper/mpatha"),
            "d567a9c3051344738f98c4aaaeb4dc21fe7e8480ec3e42b21113beb9c545b757"
        );
    }

    struct Fixed(Option<&'static str>, Option<&'static str>);
    impl KeySource for Fixed {
        fn lvm_key(&self, _: &str) -> Result<Option<String>> {
            Ok(self.0.map(str::to_owned))
        }
        fn scsi_key(&self, _: &str) -> Result<Option<String>> {
            Ok(self.1.map(str::to_owned))
        }
    }

    #[test]
    fn resolution_order_is_libvirts() {
        let all = LockspaceConfig {
            file_dir: Some("/f".into()),
            lvm_dir: Some("/l".into()),
            scsi_dir: Some("/s".into()),
        };
        let both = Fixed(Some("lv-uuid"), Some("36001405abc"));
        let r = resolve("/dev/vg/lv", &all, &both).unwrap();
        assert_eq!((r.kind, r.path()), (NameKind::Lvm, "/l/lv-uuid".into()));
        let scsi = Fixed(None, Some("36001405abc"));
        let r = resolve("/dev/sdb", &all, &scsi).unwrap();
        assert_eq!(
            (r.kind, r.path()),
            (NameKind::Scsi, "/s/36001405abc".into())
        );
        let none = Fixed(None, None);
        let r = resolve("/dev/sdb", &all, &none).unwrap();
        assert_eq!(r.kind, NameKind::Sha256);
        assert_eq!(r.name, sha256_name("/dev/sdb"));
        // Not under /dev: never asks for keys, even if a program would answer.
        let r = resolve("/images/a.img", &all, &both).unwrap();
        assert_eq!(r.kind, NameKind::Sha256);
        assert!(r.autocreate());
        // A plain prefix, as libvirt's: "/devices/x" counts as /dev.
        let r = resolve("/devices/x", &all, &scsi).unwrap();
        assert_eq!(r.kind, NameKind::Scsi);
        // No lockspace directories: a direct lease on the disk itself.
        let r = resolve("/images/a.img", &LockspaceConfig::default(), &both).unwrap();
        assert_eq!(
            (r.kind, r.path()),
            (NameKind::Direct, "/images/a.img".into())
        );
        assert!(!r.autocreate());
    }

    #[test]
    fn bad_disk_paths_are_refused_with_the_reason() {
        let c = LockspaceConfig::default();
        let k = Fixed(None, None);
        for (d, why) in [
            ("", "empty"),
            ("images/a.img", "absolute"),
            ("/a\0b", "NUL"),
        ] {
            let e = resolve(d, &c, &k).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }
    }

    #[test]
    fn program_output_is_read_as_libvirt_reads_it() {
        assert_eq!(
            scsi_key_from_output(true, b"360014052e1a1b0a4c8e4b5a8f0d9c1e2\n"),
            Some("360014052e1a1b0a4c8e4b5a8f0d9c1e2".into())
        );
        assert_eq!(scsi_key_from_output(true, b"\n"), None);
        assert_eq!(scsi_key_from_output(true, b""), None);
        assert_eq!(scsi_key_from_output(false, b""), None);
        // Only the first line counts; no other trimming.
        assert_eq!(
            scsi_key_from_output(true, b" SATA_x y\nmore\n"),
            Some(" SATA_x y".into())
        );
        assert_eq!(
            lvm_key_from_output(true, b"  06UgP5-2rhb-w3Bo-3mdR-WeoL-pytO-SAa2ky\n"),
            Some("06UgP5-2rhb-w3Bo-3mdR-WeoL-pytO-SAa2ky".into())
        );
        assert_eq!(lvm_key_from_output(true, b"   \n"), None);
        assert_eq!(lvm_key_from_output(false, b""), None);
    }

    #[test]
    fn the_real_scsi_id_names_no_key_for_a_device_that_is_not_scsi() {
        // udev's scsi_id is on every Debian system (package udev); libvirt runs it by this
        // path. /dev/null has no SCSI identity: the program fails and prints nothing, and
        // libvirt falls through to the SHA-256 name, as we must.
        assert!(
            Path::new(SCSI_ID).exists(),
            "{SCSI_ID} is missing: install udev (this test checks how we run it)"
        );
        assert_eq!(Programs::default().scsi_key("/dev/null").unwrap(), None);
        let c = LockspaceConfig {
            file_dir: Some("/f".into()),
            scsi_dir: Some("/s".into()),
            ..LockspaceConfig::default()
        };
        let r = resolve("/dev/null", &c, &Programs::default()).unwrap();
        assert_eq!(r.kind, NameKind::Sha256);
    }

    #[test]
    fn a_missing_program_is_a_clear_error() {
        let p = Programs {
            lvs: "/nonexistent/lvs".into(),
            scsi_id: "/nonexistent/scsi_id".into(),
        };
        let e = p.scsi_key("/dev/sdz").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/scsi_id: cannot run it"),
            "{e}"
        );
        let all = LockspaceConfig {
            scsi_dir: Some("/s".into()),
            ..LockspaceConfig::default()
        };
        assert!(resolve("/dev/sdz", &all, &p).is_err());
    }
}
