# SPDX-License-Identifier: MIT OR Apache-2.0
"""The README's example runs as written; the example program's simulator demo runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_example_runs(capsys):
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Example\n\n```python\n(.*?)```", text, re.S)
    assert block, "README has no python example"
    code = block.group(1)
    assert len(code.strip().splitlines()) <= 12
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "[4/4]" in out and "0xb2" in out


def test_fence_scsi_example_demo_runs():
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "fence_scsi_like.py"), "--demo"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("type=WE_RO") == 2


def test_fence_scsi_key_derivation():
    sys.path.insert(0, str(ROOT / "examples"))
    import fence_scsi_like  # type: ignore[import-not-found]

    import hashlib

    h = hashlib.md5(b"labcluster").hexdigest()
    assert fence_scsi_like.fence_scsi_key("labcluster", 1) == int(h[:4] + "0001", 16)
    assert fence_scsi_like.fence_scsi_key("labcluster", 12) == int(h[:4] + "0012", 16)
    n = hashlib.md5(b"node1").hexdigest()
    assert fence_scsi_like.fence_scsi_hash_key("labcluster", "node1") == int(h[:4] + n[:4], 16)
