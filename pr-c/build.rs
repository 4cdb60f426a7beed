// SPDX-License-Identifier: MIT OR Apache-2.0
//! Gives the shared library its SONAME, `libpr_sdk.so.0` (cdylib link only: the rlib,
//! staticlib and test builds never see it).

fn main() {
    println!("cargo::rustc-cdylib-link-arg=-Wl,-soname,libpr_sdk.so.0");
    println!("cargo::rerun-if-changed=build.rs");
}
