#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# pr-python/test.sh - build, install and test the Python package on this machine.
#
# Creates a virtual environment inside the repo (target/py-venv, so the lab guest, which
# sees the repo but not /tmp, can use it too), installs the package from the repo with one
# pip command (maturin is fetched as the build backend), plus pytest, pytest-asyncio and
# mypy; checks the type stubs against the installed native module (mypy's stubtest) and
# type-checks the example and the benchmark against them; then runs pytest (the simulator
# tests: no root, no hardware; the lab tests are marked `lab` and run in lab/test.sh).
#
# PR_PY_INSTALL_ONLY=1 stops after the installation (lab/test.sh uses it to prepare the
# environment the lab guest runs `pytest -m lab` from).
# Environment: PYTHON (default python3, 3.9 or later), PR_PY_VENV (default
# <repo>/target/py-venv). Needs network access to PyPI and crates.io (or their mirrors).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
venv=${PR_PY_VENV:-$repo/target/py-venv}
python=${PYTHON:-python3}
t0=$(date +%s)
# Keep mypy's cache out of the source tree.
export MYPY_CACHE_DIR=${MYPY_CACHE_DIR:-$repo/target/mypy-cache}
step() { printf '\n--- pr-python: %s (%ss)\n' "$*" "$(($(date +%s) - t0))"; }

step "virtual environment $venv ($("$python" --version 2>&1))"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
fi
py="$venv/bin/python"

step "pip install ./pr-python (maturin build backend, abi3 wheel)"
"$py" -m pip install --disable-pip-version-check --force-reinstall --no-deps "$here"

step "test tools"
"$py" -m pip install --disable-pip-version-check -q \
  "pytest==8.3.4" "pytest-asyncio==0.24.0" "mypy==1.13.0"

if [ -n "${PR_PY_INSTALL_ONLY:-}" ]; then
  step "installed into $venv (PR_PY_INSTALL_ONLY: no tests run here)"
  exit 0
fi

# Run from the package directory with the installed module (python/ is not on sys.path,
# so nothing shadows the installed package).
cd "$here"
"$py" - <<'PY'
import pr_sdk, pr_sdk._native as n, os
print("pr_sdk", pr_sdk.__version__, "from", os.path.dirname(pr_sdk.__file__), "native", os.path.basename(n.__file__))
assert "site-packages" in pr_sdk.__file__, "pr_sdk is not the installed package"
PY

step "stubtest: the .pyi stubs against the installed native module"
(cd "$repo/target" && "$py" -m mypy.stubtest pr_sdk) # (stubtest caches in the cwd)

step "mypy: the example and the benchmark against the stubs"
"$py" -m mypy --strict --no-error-summary examples/fence_scsi_like.py bench/bench_fence.py \
  bench/bench_sim_ops.py bench/bench_lab_ops.py

step "pytest (simulator; no root, no hardware)"
"$py" -m pytest -q -p no:cacheprovider tests "$@"
step "all passed"
