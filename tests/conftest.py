"""Shared fixtures: the real MNIST copy, loaded once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference.data import MNIST, load_mnist

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mnist() -> MNIST:
    return load_mnist()
