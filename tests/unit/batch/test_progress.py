"""The progress bar's time left: from the gradebook's history before this run has graded any
submission, then from this run's own pace; never a placeholder for the whole run."""

from __future__ import annotations

import time
from pathlib import Path

from vaegrade.grader.batch.progress import Reporter
from vaegrade.grader.results import ExecutionReport, SubmissionResult


def result(name: str, seconds: float) -> SubmissionResult:
    return SubmissionResult(submission=name, rubric="r", score=1, max_score=1, status="graded",
                            execution=ExecutionReport(status="completed", duration=seconds))


def test_time_left_comes_from_the_gradebooks_history_then_from_this_runs_pace():
    reporter = Reporter("quiet", 6, Path("out"), jobs=2)
    assert reporter.time_left() == "time left: estimating"
    reporter.result(result("a", 30.0), reused=True)
    reporter.result(result("b", 50.0), reused=True)
    assert reporter.time_left() == "about 1 min 20 s left"  # 4 left, 40 s each, 2 at once
    reporter._started = time.monotonic() - 10.0  # this run graded one in 10 s of wall time
    reporter.result(result("c", 12.0), reused=False)
    assert reporter.time_left() == "about 30 s left"  # 3 left at this run's pace
    for name in "def":
        reporter.result(result(name, 1.0), reused=False)
    assert reporter.time_left() == ""
