"""What every check type shares: its rubric entry, the probes it asks for, and its outcome.

A check type is a pydantic model (its rubric parameters, validated when the rubric loads)
with two methods:

- ``probes(context)``: the :class:`ProbeRequest` s the student kernel must answer, with inputs
  the grader generated;
- ``evaluate(evidence)``: a :class:`Outcome` computed in the grader process from the probe's
  numeric artifacts, the executed notebook and the reference implementation;
- ``measurements(details)``: the values of its outcome ``vaegrade calibrate`` derives
  thresholds from (none by default);
- ``prepare(context)``: loads ahead of time what ``evaluate`` needs (none by default).

Types register with :func:`register`; the rubric's ``type:`` field picks one.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import nbformat
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vaegrade.grader.probe.interface import ModelSpec
from vaegrade.grader.probe.requests import ProbeOutput, ProbeRequest, Recording
from vaegrade.reference.data import Dataset, Images

CHECK_TYPES: dict[str, type[CheckSpec]] = {}


def register(cls: type[CheckSpec]) -> type[CheckSpec]:
    """Class decorator: make a check type available to rubrics under its ``type`` literal."""
    name = cls.model_fields["type"].default
    if name in CHECK_TYPES:
        raise ValueError(f"check type {name!r} registered twice")
    CHECK_TYPES[name] = cls
    return cls


class CheckSpec(BaseModel):
    """Fields every rubric check has. ``points`` is the most the check can award."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_.-]*$", description="the check's id in results and overrides: lower case, digits, _ . -")
    title: str = Field(description='shown in the feedback')
    points: float = Field(gt=0, description='the most the check can award')
    type: str
    visibility: Literal["visible", "hidden"] = Field(
        "visible", description="hidden: graded at submission only; self-check and the student bundle never "
                               "show it, its inputs or its thresholds (Gradescope's and otter's hidden tests)")
    requires: list[str] = Field(default_factory=list, description="ids of checks this one rests on: unless each of "
                                "them earns some credit, this one earns nothing (sample_quality on training_copies and decoder_uses_z)")
    model: ModelSpec | None = Field(None, description="the model this check judges, when the notebook trains several "
                                    "(default: the rubric's `model`)",
                                    examples=[{"encode": {"call": "ae.encoder", "outputs": ["mu"]}, "decode": {"call": "ae.decoder"},
                                               "layout": "B,784"}])
    needs_kernel: ClassVar[bool] = True  # judged on the kernel's objects (through probes)
    judges_training: ClassVar[bool] = False  # judges what the trained model does (handed-in weights replace the training)
    reads_notebook: ClassVar[bool] = False  # judged on the notebook's saved outputs

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        return []

    def own(self, context: ProbeContext) -> ProbeContext:
        """``context`` with this check's own ``model`` in place of the rubric's, when it names one."""
        return context if self.model is None else dataclasses.replace(context, model=self.model)

    def evaluate(self, evidence: Evidence) -> Outcome:
        raise NotImplementedError

    def prepare(self, context: ProbeContext) -> None:
        """Load what :meth:`evaluate` will need (a judge, reference statistics) ahead of time: the
        grader calls it while the notebook runs (:class:`vaegrade.grader.checks.evaluate.Preparation`). Nothing by default."""

    def recordings(self) -> dict[str, Recording]:
        """What the kernel must record of the notebook's own training, from before its first
        cell, by request key (:class:`vaegrade.grader.probe.requests.Recording`). None by default."""
        return {}

    def measurements(self, details: dict[str, Any]) -> dict[str, float]:
        """Metric name -> value in an outcome's ``details``, for calibration (:mod:`vaegrade.grader.assignment.calibrate`)."""
        return {}

    def rng(self, seed: int) -> np.random.Generator:
        """A generator seeded by the rubric's seed and this check's id: same inputs every run."""
        return np.random.default_rng([seed, zlib.crc32(self.id.encode())])


@dataclass(frozen=True)
class ProbeContext:
    """What checks may use to build their probe inputs: the rubric's seed, its data set
    (``dataset``: geometry, classes, judge) and that data set's arrays (``data``), the grading
    parameters, the notebook's ``framework`` and how its model is reached (``model``)."""

    seed: int
    dataset: Dataset
    parameters: dict[str, Any]
    framework: str = "torch"
    model: ModelSpec = field(default_factory=ModelSpec)

    @property
    def data(self) -> Images:
        """The data set's arrays (read once per process)."""
        return self.dataset.load()


@dataclass(frozen=True)
class HandedIn:
    """Trained weights handed in with the notebook (a rubric's ``weights:``): the file (None when
    the student handed none in), whether they were loaded into the notebook's model, and why not."""

    file: str | None
    loaded: bool
    message: str


@dataclass(frozen=True)
class Evidence:
    """Everything a check may judge, all of it already in the grader process."""

    requests: dict[str, ProbeRequest]
    outputs: dict[str, ProbeOutput]
    notebook: nbformat.NotebookNode
    context: ProbeContext
    stopped_at: str | None = None  # "cell 5 raised ZeroDivisionError: ..." when execution stopped early
    weights: HandedIn | None = None  # with a rubric's `weights:`: what became of the student's

    def output(self, key: str) -> ProbeOutput:
        return self.outputs.get(key, ProbeOutput(error="the probe did not run"))


@dataclass
class Outcome:
    """A check's verdict: ``fraction`` of its points in [0, 1], a message, and evidence.

    ``details`` is JSON-able and goes into result.json; ``artifacts`` are arrays saved in
    ``artifacts.npz`` beside it for the feedback page's figures.
    """

    fraction: float
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, np.ndarray] = field(default_factory=dict)


def linear_credit(value: float, pass_at: float, fail_at: float) -> float:
    """1 at or beyond ``pass_at``, 0 at or beyond ``fail_at``, linear in between.

    Works both ways: lower is better when ``pass_at < fail_at`` (a loss), higher is better
    when ``pass_at > fail_at`` (a confidence).
    """
    if not np.isfinite(value):
        return 0.0
    return float(np.clip((value - fail_at) / (pass_at - fail_at), 0.0, 1.0))


def missing_message(error: str | None, evidence: Evidence) -> str:
    """Explain a failed probe, adding where the notebook stopped if it did."""
    message = error or "the probe produced no output"
    return f"{message} (the notebook stopped early: {evidence.stopped_at})" if evidence.stopped_at else message
