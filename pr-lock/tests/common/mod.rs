//! Helpers shared by pr-lock's lab tests. Each test binary uses part of them.
#![allow(dead_code)]

pub(crate) mod libvirt;
