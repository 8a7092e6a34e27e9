"""Golden wire transcripts (tests/goldens.py): every dialect's bytes compared with fixtures/golden/, never written.

A difference means the wire output changed: if that is intended, run `make goldens` and review the diff."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.goldens import ROOT, all_goldens

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
