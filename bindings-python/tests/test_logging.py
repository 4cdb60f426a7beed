# SPDX-License-Identifier: MIT OR Apache-2.0
"""Rust log records reach Python's ``logging`` (logger ``pr_sdk``, children per target)."""

from __future__ import annotations

import asyncio
import logging

import pytest

import pr_sdk


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collect():
    log = logging.getLogger("pr_sdk")
    h = Collect()
    old = log.level
    log.addHandler(h)
    log.setLevel(logging.DEBUG)
    yield h
    log.removeHandler(h)
    log.setLevel(old)


def test_an_operation_is_logged_with_its_path_and_action(cluster, collect):
    d = cluster.device(0, 0)
    keys = d.read_keys()
    mine = [r for r in collect.records if "READ KEYS" in r.getMessage()]
    assert mine, [r.getMessage() for r in collect.records]
    r = mine[-1]
    assert keys.path in r.getMessage() and "lun0" in r.getMessage()
    assert r.levelno == logging.DEBUG and r.name.startswith("pr_sdk.")
    d.register(0xA)
    assert any("REGISTER" in r.getMessage() and keys.path in r.getMessage() for r in collect.records)
    # asyncio too, and failures.
    asyncio.run(d.aio.read_reservation())
    assert any("READ RESERVATION" in r.getMessage() for r in collect.records)
    with pytest.raises(pr_sdk.ReservationConflictError):
        cluster.device(1, 0).reserve(0xB, 5)
    assert any("RESERVE failed" in r.getMessage() for r in collect.records)


def test_the_logger_level_is_honoured_when_it_changes(cluster, collect):
    d = cluster.device(0, 1)
    logging.getLogger("pr_sdk").setLevel(logging.WARNING)
    d.read_keys()
    assert collect.records == []
    logging.getLogger("pr_sdk").setLevel(logging.DEBUG)
    d.read_keys()
    assert collect.records
