# SPDX-License-Identifier: MIT OR Apache-2.0
"""Results are plain data: ``to_dict()`` gives JSON-ready dicts, and every result object
pickles back to an equal object, prints and compares."""

from __future__ import annotations

import json
import pickle

import pytest

import pr_sdk
from pr_sdk import ReservationType as RT

from conftest import WERO


def _json_types_only(v) -> bool:
    if v is None or isinstance(v, (bool, int, str)):
        return type(v) in (bool, int, str, type(None))
    if isinstance(v, list):
        return all(_json_types_only(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _json_types_only(x) for k, x in v.items())
    return False


def every_result(cluster):
    """One object of every result type, from real operations on the simulator."""
    a, b = cluster.device(0, 0), cluster.device(1, 0)
    report = a.register(0xA)
    b.register(0xB)
    a.reserve(0xA, WERO)
    full = b.read_full_status()
    progress = []
    c = cluster.device(1, 1)
    for p in cluster.paths(1, 1):
        p.set_down()
    lun_results = pr_sdk.unfence([cluster.device(1, 2), c], 0xB, progress=progress.append)
    objs = [
        report,
        report.steps[0],
        b.read_keys(),
        b.read_reservation(),
        b.read_reservation().reservation,
        cluster.device(1, 2).read_reservation(),  # no reservation
        b.report_capabilities(),
        full,
        full.entries[0],
        full.entries[0].transport_id,
        lun_results[0],
        lun_results[1],  # failed, with an error
        progress[0],
        pr_sdk.LunResult(lun="x", ok=True, outcome="already_fenced"),
    ]
    assert not lun_results[1].ok and lun_results[1].error is not None
    return objs


def test_every_result_pickles_prints_and_compares(cluster):
    for obj in every_result(cluster):
        back = pickle.loads(pickle.dumps(obj))
        assert back == obj and type(back) is type(obj), obj
        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            assert pickle.loads(pickle.dumps(obj, protocol=proto)) == obj, (proto, obj)
        assert repr(obj) and str(obj)


def test_every_result_has_a_json_ready_dict(cluster):
    for obj in every_result(cluster):
        if isinstance(obj, pr_sdk.TransportId):
            continue  # a value inside results (its plain form is str(t))
        d = obj.to_dict()
        assert isinstance(d, dict) and _json_types_only(d), d
        assert json.loads(json.dumps(d)) == d


def test_plain_forms_field_by_field(cluster):
    a = cluster.device(0, 0)
    a.register(0xA)
    a.reserve(0xA, RT.WRITE_EXCLUSIVE)
    st = a.read_reservation().to_dict()
    assert st["reservation"] == {"key": 0xA, "type": "WRITE_EXCLUSIVE", "type_code": 1, "scope": 0}
    fs = a.read_full_status()
    e = fs.to_dict()["entries"][0]
    assert e["transport_id"] == str(fs.entries[0].transport_id)
    assert e["transport_id_bytes"] == fs.entries[0].transport_id_bytes.hex()
    caps = a.report_capabilities().to_dict()
    assert "WRITE_EXCLUSIVE_REGISTRANTS_ONLY" in caps["types"]
    b = cluster.device(1, 0)
    with pytest.raises(pr_sdk.ReservationConflictError) as ei:
        b.reserve(0xB, WERO)  # not registered
    err = ei.value.to_dict()
    assert err["type"] == "ReservationConflictError" and err["status"] == 0x18
    assert err["lun"] == "lun0" and isinstance(err["report"], dict)
    json.dumps(err)
    failed = pr_sdk.LunResult(lun="lun0", ok=False, error=ei.value, outcome="failed").to_dict()
    assert failed["error"]["type"] == "ReservationConflictError"


def test_transport_id_pickles_in_its_binary_form():
    for text in ("sas,5001405aabbccdd0", "iqn.2003-01.org.linux-iscsi.host:node1,i,0x23d000000001", "fcp,10000000c9123456"):
        t = pr_sdk.TransportId(text)
        assert pickle.loads(pickle.dumps(t)) == t
        assert pr_sdk.TransportId(t.to_bytes()) == t
    with pytest.raises(TypeError, match="text"):
        pr_sdk.TransportId(5)  # type: ignore[arg-type]
