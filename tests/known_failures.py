"""Marks the tests listed in known_failures.txt as expected failures, each a tracked gap.

Every line is a test id that fails today for a known reason (see the open issues); the list only
ever shrinks. An entry that starts passing is reported as XPASS so it can be removed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_LIST = Path(__file__).with_name("known_failures.txt")


def _known() -> set[str]:
    if not _LIST.exists():
        return set()
    lines = _LIST.read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    known = _known()
    for item in items:
        if item.nodeid in known:
            item.add_marker(pytest.mark.xfail(reason="known gap, listed in known_failures.txt"))
