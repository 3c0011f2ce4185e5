"""The late policy: a rubric's ``late:`` section, applied when publishing (like overrides, so
changing it never regrades a notebook).

    late:
      deadline: 2026-12-01T23:59:00+01:00   # with its UTC offset
      grace_minutes: 15                     # late only after this
      percent_per_day: 10                   # of the points possible, per started day late
      max_percent: 50                       # the most it deducts
      zero_after: 2026-12-08T23:59:00+01:00 # optional: after this, the score is 0

A started day counts whole (10 minutes past the grace period is one day late), and the deduction
is a percentage of the points possible, as Canvas's late policy takes it; a score never goes
below 0. Submission times come from an LMS export (``--submission-times``: a CSV with the columns
``submission`` and ``submitted_at``, ISO 8601 with an offset) or, without one, from the notebook
files' modification times (which copying can change: prefer the LMS's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from grader.errors import ClassFileError
from grader.results import LateRecord, SubmissionResult
from grader.submissions import Submission
from grader.tables import read_rows


class LatePolicy(BaseModel):
    """The rubric's ``late:`` section: a started day late counts whole, and the deduction is a
    percentage of the points possible (Canvas's convention), never taking a score below 0.
    Applied when publishing: editing it regrades nothing."""

    model_config = ConfigDict(extra="forbid")
    deadline: datetime = Field(description="the deadline, with its UTC offset (2026-12-01T23:59:00+01:00)")
    grace_minutes: float = Field(0, ge=0, description="minutes after the deadline that still count as on time")
    percent_per_day: float = Field(0, ge=0, le=100, description="percent of the points possible deducted per started day late")
    max_percent: float = Field(100, ge=0, le=100, description="the most the policy deducts, in percent of the points possible")
    zero_after: datetime | None = Field(None, description="after this time (with its offset) a submission scores 0")

    @field_validator("deadline", "zero_after")
    @classmethod
    def _with_offset(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time with its UTC offset, e.g. 2026-12-01T23:59:00+01:00")
        return value


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
