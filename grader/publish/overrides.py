"""An instructor's manual grades: a CSV file merged into results at grading time.

    submission,check,score,comment
    alice,report.beta_zero.concepts,1.5,"names the trade-off in other words"

Each row replaces the score of one check of one submission. The result keeps the score the
grader suggested (``CheckResult.manual.suggested_score``) and the comment, and the feedback
page shows the check as graded by hand. Overrides are applied to stored results each time a
batch is published, so editing the file never needs a notebook to run again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vaegrade.grader.checks import scoring
from vaegrade.grader.errors import ReportError
from vaegrade.grader.publish.late import Lateness
from vaegrade.grader.publish.reviews import Decisions, apply_reviews
from vaegrade.grader.publish.tables import read_rows
from vaegrade.grader.results import ManualGrade, SubmissionResult
from vaegrade.grader.rubric.schema import Rubric

COLUMNS = ("submission", "check", "score", "comment")


@dataclass(frozen=True)
class Override:
    score: float
    comment: str


Overrides = dict[tuple[str, str], Override]


def load_overrides(path: Path, rubric: Rubric) -> Overrides:
    """Read and validate an overrides file against the rubric's check ids and points.

    Raises:
        ReportError: the file is unreadable, lacks a column, names a check the rubric does not
            have, gives a score that is not a number in [0, the check's points], or sets the
            same check of the same submission twice; the message names the line.
    """
    points = rubric.check_points()
    rows = read_rows(path, COLUMNS[:3], ReportError)
    overrides: Overrides = {}
    for line, row in enumerate(rows, start=2):
        submission, check = (row.get("submission") or "").strip(), (row.get("check") or "").strip()
        if check not in points:
            raise ReportError(path, f"line {line}: the rubric has no check {check!r}")
        try:
            score = float(row.get("score") or "")
        except ValueError:
            raise ReportError(path, f"line {line}: score {row.get('score')!r} is not a number") from None
        if not 0 <= score <= points[check]:
            raise ReportError(path, f"line {line}: score {score:g} is outside [0, {points[check]:g}] for {check}")
        if (submission, check) in overrides:
            raise ReportError(path, f"line {line}: {submission} {check} is overridden twice")
        overrides[submission, check] = Override(score, (row.get("comment") or "").strip())
    return overrides


def apply_overrides(result: SubmissionResult, overrides: Overrides) -> SubmissionResult:
    """A copy of ``result`` with this submission's overrides applied and the total recomputed."""
    mine = {check: o for (submission, check), o in overrides.items() if submission == result.submission}
    if not mine:
        return result
    result = result.model_copy(deep=True)
    for check in result.checks:
        override = mine.get(check.id)
        if override is None:
            continue
        suggested = check.manual.suggested_score if check.manual else check.score
        check.manual = ManualGrade(suggested_score=suggested, comment=override.comment)
        check.score = override.score
        check.status = scoring.status_of(override.score / check.max_score)
    result.score = scoring.total(result.checks)
    return result


def by_hand(result: SubmissionResult, decisions: Decisions, overrides: Overrides | None,
            lateness: Lateness | None) -> SubmissionResult:
    """The result as published: the grader's ``result`` with the instructor's review decisions
    (:func:`vaegrade.grader.publish.reviews.apply_reviews`), then the overrides file's manual
    grades, which replace a check's score outright, then the late policy's deduction."""
    result = apply_overrides(apply_reviews(result, decisions), overrides or {})
    return lateness.apply(result) if lateness is not None else result
