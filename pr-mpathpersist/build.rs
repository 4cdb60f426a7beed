// SPDX-License-Identifier: MIT OR Apache-2.0
//! Link settings of the drop-in `libmpathpersist.so.0`.
//!
//! Symbol versions need three things that only the shared library may see (see
//! `src/compat/symver.rs`): a version script that only *defines* the version nodes
//! (`libmpathpersist.map`), LLD, and `.symver` directives bound by `cfg(pr_cdylib)`.
//! They are enabled by `PR_COMPAT_CDYLIB=1` (set by `build-compat.sh`), never for the
//! ordinary `cargo build`/`cargo test`, whose test executables link the rlib and must not
//! carry `.symver` directives.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pr_cdylib)");
    println!("cargo::rerun-if-env-changed=PR_COMPAT_CDYLIB");
    println!("cargo::rerun-if-changed=libmpathpersist.map");
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    // The SONAME is harmless without versions: always set it on the cdylib.
    println!("cargo::rustc-cdylib-link-arg=-Wl,-soname,libmpathpersist.so.0");
    if env::var("PR_COMPAT_CDYLIB").is_ok_and(|v| v == "1") {
        let target = env::var("TARGET").unwrap_or_default();
        assert!(
            target.starts_with("x86_64-") && target.contains("linux"),
            "PR_COMPAT_CDYLIB=1: the versioned libmpathpersist.so.0 is built and checked for \
             x86_64 Linux only (target {target})"
        );
        println!("cargo::rustc-cfg=pr_cdylib");
        println!(
            "cargo::rustc-cdylib-link-arg=-Wl,--version-script={}",
            dir.join("libmpathpersist.map").display()
        );
        println!("cargo::rustc-cdylib-link-arg=-fuse-ld=lld");
    }
}
