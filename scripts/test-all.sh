#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Runs every test of the project, installing what a fresh Debian 12 machine lacks:
#   formatting, clippy (warnings denied), unit/integration/doc tests, rustdoc (warnings
#   denied), the fuzz targets' build, and the lab tests on real LIO devices in a QEMU guest
#   (both lab stacks: Debian 12 and Debian sid).
# Usage: scripts/test-all.sh            (PR_SKIP_LAB=1 skips the lab and says so, exit 3)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t0=$(date +%s)
step() { printf '\n::: %s (%ss)\n' "$*" "$(($(date +%s) - t0))"; }

step "toolchain"
if command -v rustup >/dev/null; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
cargo --version

step "packages (Debian): the lab's, which also carry the system headers some tests compare against"
bash lab/setup.sh
# pr-mpathpersist checks its ABI mirror against Debian's /usr/include/mpath_persist.h: required here.
export PR_REQUIRE_SYSTEM_HEADERS=1

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (workspace, all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (workspace)"
cargo test --workspace --locked

step "pr-lock: lock files against the real virtlockd (root, lab/setup.sh's libvirt-daemon)"
cargo test -p pr-lock --test virtlockd --locked -- --ignored

step "cargo doc (warnings denied)"
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --locked

# --- pr-mpathpersist compat (issue 6, drop-in libmpathpersist.so.0) ------------------------------
step "pr-mpathpersist compat: versioned libmpathpersist.so.0, export list check, C tests under ASan and valgrind"
compat_lib=$(bash pr-mpathpersist/build-compat.sh)
bash pr-mpathpersist/tests/c/run.sh "$compat_lib"
# --- end pr-mpathpersist compat -------------------------------------------------------------------

# --- pr-c (issue 6, native C API) --------------------------------------------
step "pr-c: header drift, C tests under ASan and valgrind, install + pkg-config"
bash pr-c/test.sh
# --- end pr-c ------------------------------------------------------------------

# --- pr-python (issue 7) -------------------------------------------------------------
step "pr-python: pip install into target/py-venv, stubtest, pytest on the simulator"
bash pr-python/test.sh
# --- end pr-python ---------------------------------------------------------------------

step "cross-face: one scenario through Rust async, Rust blocking, libpr_sdk and pr_sdk, identical dumps"
bash tests/cross-face.sh

step "fuzz targets build (cargo fuzz)"
if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked
fi
# cargo-fuzz needs nightly flags; the machine has one stable toolchain, which accepts them
# under RUSTC_BOOTSTRAP for this build only.
(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build)

if [ -n "${PR_SKIP_LAB:-}" ]; then
  step "lab tests SKIPPED (PR_SKIP_LAB set): real-device tests did not run"
  exit 3
fi
if [ -x lab/test.sh ]; then
  # Both stacks, each over both topologies: Debian 12 (this machine's root and kernel) and
  # Debian sid (a root lab/stack/build-sid.sh builds from the package registry on first use,
  # about 2-3 minutes, then cached under /var/cache/pr-sdk-lab; kernel 7.2, multipath-tools
  # 0.15.1, QEMU 11.1). Each stack's expectations are chosen from LAB_STACK and the guest's
  # kernel (lab/README.md, "Stacks").
  step "lab tests, stacks debian12 and sid (QEMU guest, LIO over tcm_loop and iSCSI, dm-multipath)"
  bash lab/test.sh --stack all
else
  echo "lab/test.sh missing: the lab tests cannot run" >&2
  exit 1
fi
step "all tests passed"
