"""Applying a rubric's late policy (:class:`vaegrade.grader.rubric.late.LatePolicy`) when
publishing, with the submission times it applies to: an LMS export (``--submission-times``: a CSV
with the columns ``submission`` and ``submitted_at``, ISO 8601 with an offset) or, without one,
the notebook files' modification times (which copying can change: prefer the LMS's).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from vaegrade.grader.errors import ClassFileError
from vaegrade.grader.publish.tables import read_rows
from vaegrade.grader.results import LateRecord, SubmissionResult
from vaegrade.grader.rubric.late import LatePolicy
from vaegrade.grader.rubric.schema import Rubric
from vaegrade.grader.run.submissions import Submission


def read_times(path: Path) -> dict[str, datetime]:
    """Submission times from an LMS export: ``submission,submitted_at`` (ISO 8601 with an offset).

    Raises:
        ClassFileError: an unreadable file, a missing column, a time that does not parse or has no
            offset (the line).
    """
    rows = read_rows(path, ["submission", "submitted_at"], ClassFileError)
    times = {}
    for line, row in enumerate(rows, start=2):
        try:
            when = datetime.fromisoformat(row["submitted_at"].strip())
        except ValueError:
            raise ClassFileError(path, f"line {line}: {row['submitted_at']!r} is not an ISO 8601 time") from None
        if when.tzinfo is None:
            raise ClassFileError(path, f"line {line}: {row['submitted_at']!r} has no UTC offset (add +00:00 or yours)")
        times[row["submission"].strip()] = when
    return times


def file_times(submissions: list[Submission]) -> dict[str, datetime]:
    """Each submission's file modification time (UTC)."""
    return {s.name: datetime.fromtimestamp(s.path.stat().st_mtime, timezone.utc) for s in submissions if s.path.exists()}


def lateness_for(rubric: Rubric, rubric_path: Path, submissions: list[Submission],
                 submission_times: Path | None) -> Lateness | None:
    """The rubric's late policy with the submission times of ``submission_times`` (a CSV from the
    LMS; a submission it lacks is warned about on stderr) or else the notebooks' modification
    times; None without a policy.

    Raises:
        ClassFileError: ``submission_times`` with a rubric that has no late policy, or a CSV that
            cannot be read (:func:`read_times`).
    """
    if rubric.late is None:
        if submission_times:
            raise ClassFileError(rubric_path, "--submission-times needs a `late:` section in the rubric")
        return None
    if submission_times:
        times = read_times(submission_times)
        for name in sorted({s.name for s in submissions} - set(times)):
            print(f"vaegrade: WARNING: {submission_times} has no time for {name}: no late deduction for it",
                  file=sys.stderr)
        return Lateness(rubric.late, times, f"the LMS's times in {submission_times.name}")
    return Lateness(rubric.late, file_times(submissions), "the notebook file's modification time")


@dataclass(frozen=True)
class Lateness:
    """A late policy with the submission times it applies to and where they came from."""

    policy: LatePolicy
    times: dict[str, datetime] = field(default_factory=dict)
    source: str = "the LMS's submission times"

    def apply(self, result: SubmissionResult) -> SubmissionResult:
        """A copy of ``result`` with its late deduction (and :class:`LateRecord`), or ``result``
        itself when it was on time or has no submission time."""
        submitted = self.times.get(result.submission)
        if submitted is None:
            return result
        late = submitted - self.policy.deadline - timedelta(minutes=self.policy.grace_minutes)
        if late <= timedelta(0):
            return result
        days = math.ceil(late / timedelta(days=1))
        too_late = self.policy.zero_after is not None and submitted > self.policy.zero_after
        percent = 100.0 if too_late else min(self.policy.max_percent, days * self.policy.percent_per_day)
        points = min(result.score, result.max_score * percent / 100)
        result = result.model_copy(deep=True)
        result.score = round(result.score - points, 6)
        result.late = LateRecord(submitted_at=submitted, days_late=days, percent=percent, points=points, source=self.source)
        return result
