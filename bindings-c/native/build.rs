// SPDX-License-Identifier: MIT OR Apache-2.0
//! Gives the shared library its SONAME, `libprsdk.so.0` (cdylib link only: the rlib,
//! staticlib and test builds never see it).

fn main() {
    println!("cargo::rustc-cdylib-link-arg=-Wl,-soname,libprsdk.so.0");
    println!("cargo::rerun-if-changed=build.rs");
}
