"""Typed results, written to and read from ``OUT/<submission>/result.json``.

``CheckResult.status``: ``passed`` (all points), ``partial``, ``failed`` (no points, the
student's doing), ``error`` (the grader could not evaluate it: a timeout, a dead kernel), or
``skipped``. ``SubmissionResult.status`` is ``error`` when the submission could not be graded
at all, with ``error`` saying why; such a result is never a silent zero.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, computed_field

CheckStatus = Literal["passed", "partial", "failed", "error", "skipped"]


class ManualGrade(BaseModel):
    """An instructor's override of a check (from the overrides file): the score the grader
    suggested is kept beside the one the instructor gave."""

    suggested_score: float
    comment: str = ""


class CheckResult(BaseModel):
    id: str
    title: str
    status: CheckStatus
    score: float
    max_score: float
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    manual: ManualGrade | None = None


class QuestionReport(BaseModel):
    """What the report checker found for one written question (evidence for the instructor).

    ``status``: ``found``, ``empty`` or ``not found``. ``words`` counts the answer's words (see
    :func:`vaegrade.grader.report.answers.count_words`); ``figures`` is None when the document cannot
    hold images (a text file)."""

    id: str
    title: str
    status: str
    where: list[str] = Field(default_factory=list)
    note: str = ""
    text: str = ""
    words: int | None = None
    word_limit: int | None = None
    concepts: list[dict[str, Any]] = Field(default_factory=list)
    citations: list[tuple[str, str]] = Field(default_factory=list)
    references_section: bool | None = None
    dead_links: list[str] = Field(default_factory=list)
    figures: int | None = None
    formulas: list[dict[str, Any]] = Field(default_factory=list)
    numbers: list[dict[str, Any]] = Field(default_factory=list)


class ReportResult(BaseModel):
    """The written part of a submission: which document was read, and each question's findings."""

    source: str
    kind: str
    questions: list[QuestionReport] = Field(default_factory=list)
    error: str | None = None


class CellError(BaseModel):
    """A student cell that raised. ``cell_index`` is 0-based in the submitted notebook (nbformat's
    list); ``cell_number``, 1-based, is how every message counts cells (the first cell is cell 1)."""

    cell_index: int
    ename: str
    evalue: str
    source_line: str = ""

    @computed_field
    @property
    def cell_number(self) -> int:
        return self.cell_index + 1

    def describe(self) -> str:
        where = f"cell {self.cell_number}" + (f" (`{self.source_line}`)" if self.source_line else "")
        return f"{where} raised {self.ename}: {self.evalue}"


#: ``tensorflow_1``: the notebook is TensorFlow 1.x graph code and did not run (no supported Python runs TF 1.x).
ExecutionStatus = Literal["completed", "cell_error", "timeout", "kernel_died", "kernel_failed", "tensorflow_1"]


class ExecutionReport(BaseModel):
    """How the notebook run went. Durations in seconds; ``phases`` splits ``duration``."""

    status: ExecutionStatus
    message: str = ""
    duration: float = 0.0
    phases: dict[str, float] = Field(default_factory=dict)
    cell_errors: list[CellError] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    adaptations: list[str] = Field(default_factory=list, description="what the grader changed or shimmed to run the "
                                                                     "notebook as written: parameters, GPU, Colab")

    @property
    def kernel_usable(self) -> bool:
        """True when the probe could run: the notebook finished or stopped at a cell error."""
        return self.status in ("completed", "cell_error")


class Isolation(BaseModel):
    """How a submission's kernel was isolated (see :mod:`vaegrade.grader.run.isolation`): ``bubblewrap`` or
    ``none`` (the instructor's explicit choice), the uid it ran as, and the limits applied."""

    mode: Literal["bubblewrap", "none"]
    uid: int | None = None
    network: str = "host"
    memory_limit: str = "none"
    limits: dict[str, float] = Field(default_factory=dict)


class SelfCheckRecord(BaseModel):
    """Self-check's verdicts on the objects of a grading kernel (``vaegrade validate`` asks for
    them), or why it could not run; read from the kernel's JSON, so validated like any artifact."""

    model_config = ConfigDict(extra="ignore")

    checks: list[CheckResult] = Field(default_factory=list)
    error: str | None = None


class LateRecord(BaseModel):
    """What the late policy (:mod:`vaegrade.grader.publish.late`) deducted: ``points`` (``percent`` of the points
    possible, capped at the score) for ``days_late`` started days, by the time from ``source``."""

    submitted_at: datetime
    days_late: int
    percent: float
    points: float
    source: str


class SubmissionResult(BaseModel):
    submission: str
    rubric: str
    score: float
    max_score: float
    status: Literal["graded", "error"]
    error: str | None = None
    checks: list[CheckResult] = Field(default_factory=list)
    execution: ExecutionReport | None = None
    environment: dict[str, Any] = Field(default_factory=dict)
    isolation: Isolation | None = None
    report: ReportResult | None = None
    internal: bool = Field(False, description="the grader itself failed: not stored, graded again next run")
    withheld: str = Field("", description="graded under a public rubric: what it leaves out (hidden checks, written "
                                          "answers), as told to the student")
    selfcheck: SelfCheckRecord | None = Field(None, description="self-check run in the same kernel (vaegrade validate)")
    late: LateRecord | None = Field(None, description="the late policy's deduction, already taken from `score`")


@dataclass
class Row:
    """A result and its feedback figures' arrays (``.npz`` bytes, :func:`npz`): what the
    gradebook stores and the feedback page is drawn from."""

    result: SubmissionResult
    figures_npz: bytes


def npz(arrays: dict[str, np.ndarray]) -> bytes:
    """``arrays`` as the bytes of a compressed ``.npz`` file (no pickles)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def load_result(directory: Path) -> SubmissionResult:
    """Read ``directory/result.json`` back (the feedback can be re-rendered from it and
    ``artifacts.npz`` alone).

    Raises:
        OSError: no readable ``result.json``; pydantic.ValidationError: it is not a result.
    """
    return SubmissionResult.model_validate_json((directory / "result.json").read_text(encoding="utf-8"))


def check_lines(checks: list[CheckResult]) -> list[str]:
    """One aligned line per check, ``id  status  score/max  message``, for terminals."""
    width = max((len(c.id) for c in checks), default=0)
    return [f"  {c.id:<{width}}  {c.status:<7} {c.score:g}/{c.max_score:g}  {c.message}" for c in checks]
