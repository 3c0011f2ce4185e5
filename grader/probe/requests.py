"""What the grader asks of a student's kernel, and what comes back: the probe's messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ProbeRequest:
    """One call the student kernel makes on the grader's behalf.

    ``key`` names the artifact (``<key>.npz``); requests with the same key are made once.
    ``kind`` selects a function in :mod:`vaegrade.grader.probe.kernel`; ``config`` is JSON-able;
    ``inputs`` are arrays the kernel reads from ``<key>.inputs.npz``.
    """

    key: str
    kind: str
    config: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, np.ndarray] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ProbeOutput:
    """A probe's answer: arrays when it ran, or the exception it raised (``error``)."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    error: str | None = None
