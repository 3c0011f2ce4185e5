"""Synthetic evidence for unit tests of checks: a probe context on the real MNIST copy, and the
evidence a check judges, built from its own probe requests and arrays the test makes up (as a
kernel's probe would have written them)."""

from __future__ import annotations

import nbformat
import numpy as np

from vaegrade.grader.checks.base import Evidence, ProbeContext
from vaegrade.grader.probe.interface import ModelSpec
from vaegrade.grader.probe.requests import ProbeOutput, ProbeRequest
from vaegrade.reference.data import DATASETS


def context(parameters: dict | None = None, model: ModelSpec | None = None, dataset: str = "mnist") -> ProbeContext:
    """A probe context with seed 0 on ``dataset`` (and the rubric defaults' model spec)."""
    return ProbeContext(seed=0, dataset=DATASETS[dataset], parameters=parameters or {}, model=model or ModelSpec())


def evidence(requests: list[ProbeRequest], outputs: dict[str, dict[str, np.ndarray] | str],
             made_in: ProbeContext | None = None, notebook: nbformat.NotebookNode | None = None) -> Evidence:
    """The evidence of ``requests`` answered by ``outputs`` (key -> arrays, or the error a probe raised)."""
    answered = {key: ProbeOutput(error=value) if isinstance(value, str) else ProbeOutput(arrays=value)
                for key, value in outputs.items()}
    return Evidence(requests={r.key: r for r in requests}, outputs=answered,
                    notebook=notebook or nbformat.v4.new_notebook(), context=made_in or context())


def images(pixels: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W) as a decoder returns them: (N, 1, H, W) float32 in [0, 1]."""
    return (pixels / 255.0).astype(np.float32)[:, None]


def probed(requests: list[ProbeRequest], namespace: dict, made_in: ProbeContext | None = None) -> Evidence:
    """The evidence of ``requests`` answered by the real kernel-side probe, run in this process on
    the objects of ``namespace`` (as self-check runs it in a student's kernel)."""
    import tempfile
    from pathlib import Path

    from vaegrade.grader.probe import artifacts
    from vaegrade.grader.probe.cell import run_probe

    made_in = made_in or context()
    with tempfile.TemporaryDirectory() as folder:
        artifacts.write_requests(Path(folder), requests, made_in.seed, made_in.framework)
        run_probe(namespace, folder)
        outputs = artifacts.read_outputs(Path(folder), requests)
    return Evidence(requests={r.key: r for r in requests}, outputs=outputs, notebook=nbformat.v4.new_notebook(),
                    context=made_in)
