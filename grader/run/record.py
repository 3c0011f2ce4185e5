"""What a result records beyond its checks: how it was graded, and the results of submissions
that could not be run (unreadable) or had nothing to run (written answers only)."""

from __future__ import annotations

import platform

import nbclient
import numpy as np

from vaegrade import __version__
from vaegrade.grader.checks import scoring
from vaegrade.grader.results import CheckResult, ReportResult, SubmissionResult
from vaegrade.grader.rubric.schema import Rubric
from vaegrade.grader.run.environments import KernelEnvironment
from vaegrade.grader.run.submissions import Submission
from vaegrade.reference.data import DATASETS


def environment(rubric: Rubric, kernel: KernelEnvironment | None = None) -> dict[str, object]:
    """What a result records about how it was graded (and, when a kernel ran, in which environment)."""
    import torch

    return {"vaegrade": __version__, "python": platform.python_version(), "torch": str(torch.__version__),
            "numpy": np.__version__, "nbclient": nbclient.__version__, "platform": platform.platform(),
            "seed": rubric.seed, "rubric_sha256": rubric.sha256, "framework": rubric.framework,
            "dataset": rubric.dataset, "classifier_sha256": DATASETS[rubric.dataset].judge_sha256,
            **(kernel.describe() if kernel is not None else {})}


def written_result(name: str, rubric: Rubric, checks: list[CheckResult], report: ReportResult) -> SubmissionResult:
    """A result made of the written answers' checks alone, out of the report's points."""
    return SubmissionResult(submission=name, rubric=rubric.name, score=scoring.total(checks),
                            max_score=sum(rubric.report_points().values()), status="graded", checks=checks,
                            report=report, environment=environment(rubric))


def error_result(submission: Submission, rubric: Rubric, message: str) -> SubmissionResult:
    """A result for a submission that could not be graded at all: ``status: error``, score 0, the reason."""
    return SubmissionResult(submission=submission.name, rubric=rubric.name, score=0.0, max_score=rubric.max_score,
                            status="error", error=message, environment=environment(rubric))
