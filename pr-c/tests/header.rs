// SPDX-License-Identifier: MIT OR Apache-2.0
//! The checked-in header `include/pr_sdk.h` must be exactly what the pinned cbindgen
//! generates from the sources. Set `PR_SDK_UPDATE_HEADER=1` to rewrite it.

use std::path::PathBuf;

#[test]
fn header_is_up_to_date() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen failed to generate the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let path = dir.join("include/pr_sdk.h");
    if std::env::var_os("PR_SDK_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &fresh).expect("write include/pr_sdk.h");
        return;
    }
    let current = std::fs::read(&path).unwrap_or_default();
    if current != fresh {
        let cur = String::from_utf8_lossy(&current);
        let new = String::from_utf8_lossy(&fresh);
        let first = cur
            .lines()
            .zip(new.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| cur.lines().count().min(new.lines().count()));
        panic!(
            "include/pr_sdk.h is out of date with the sources (first difference at line {}:\n  \
             checked in: {:?}\n  generated:  {:?}).\nRegenerate it with\n  \
             PR_SDK_UPDATE_HEADER=1 cargo test -p pr-c --test header\nand commit the result.",
            first + 1,
            cur.lines().nth(first).unwrap_or("<end of file>"),
            new.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
}
