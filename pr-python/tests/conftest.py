# SPDX-License-Identifier: MIT OR Apache-2.0
"""Shared fixtures: simulated clusters (no root, no hardware)."""

from __future__ import annotations

import pytest

import pr_sdk

WERO = pr_sdk.ReservationType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY


@pytest.fixture
def cluster() -> pr_sdk.SimCluster:
    """Two nodes, two paths each, three SPC-5 LUNs."""
    return pr_sdk.Sim.cluster(nodes=2, paths_per_node=2, luns=3)


def sim_keys(cluster: pr_sdk.SimCluster, lun: int) -> list:
    """The keys the simulated device server holds for ``lun`` (ground truth, not through
    the module's PR IN path)."""
    return sorted(k for k, _tid, _port in cluster.sim.registrations(lun))
