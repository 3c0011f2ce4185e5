"""Shared by both tiers: the repository's root, the real MNIST copy (loaded once per session),
and the tiers themselves: every test under ``tests/e2e`` is marked ``e2e`` and runs after the
unit tier, while the e2e tier's shared batches grade in the background (``tests/e2e/farm.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaegrade.reference.data import DATASETS, Images

ROOT = Path(__file__).resolve().parents[1]
E2E = ROOT / "tests" / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the e2e tier, and order the session so that the farm's batches overlap the most work:
    the unit tier, then the e2e modules that need nothing of the farm, then those that read its
    batches, then those that need a quiet machine (``quiet``: after every batch has finished)."""
    waits: dict[Path, int] = {}
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)
            wait = 3 if "quiet" in item.fixturenames else 2 if "farm" in item.fixturenames else 1
            waits[item.path] = max(waits.get(item.path, 0), wait)
    items.sort(key=lambda item: waits.get(item.path, 0))  # stable: a module's tests stay together, in order


@pytest.fixture(scope="session")
def mnist() -> Images:
    return DATASETS["mnist"].load()
