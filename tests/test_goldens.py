"""Golden wire transcripts (tests/goldens.py): every dialect's bytes compared with fixtures/golden/, never written.

A difference means the wire output changed: if that is intended, run `make goldens` and review the diff."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.goldens import CASES, ROOT, Case, all_goldens

GOLDENS = all_goldens()


@pytest.mark.parametrize("path", list(GOLDENS), ids=lambda p: str(p.relative_to(ROOT / "fixtures" / "golden")))
def test_wire_bytes_match_the_golden(path: Path) -> None:
    produce: Callable[[], bytes] = GOLDENS[path]
    expected = path.read_bytes()
    actual = produce()
    assert actual == expected, f"{path.relative_to(ROOT)} differs; if intended, `make goldens` and review the diff"


def test_every_golden_file_has_a_case() -> None:
    stored = set((ROOT / "fixtures" / "golden").rglob("*.*"))
    assert stored == set(GOLDENS), "a golden without a case (or a case without its file): run `make goldens`"


def _intended_status(case: Case) -> int:
    """What a case means to pin: the scripted 429 of the `teapot` rule, a 400 for a request that is wrong on purpose
    (the other `*error` cases), else a success. A golden that pins an unplanned 4xx (a model the dialect rejects, a
    rule that does not match) tests nothing of what its name says."""
    if "teapot" in json.dumps(case.body):
        return 429
    return 400 if case.name.endswith("error") else 200


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.dialect}/{c.name}")
def test_each_golden_pins_the_status_its_case_means(case: Case) -> None:
    status = case.file.read_bytes().split(b"\nHTTP ", 1)[1].split(b"\n", 1)[0]
    assert int(status) == _intended_status(case), f"{case.file.relative_to(ROOT)}: HTTP {status.decode()}"
