"""The late policy: a rubric's ``late:`` section, applied when publishing
(:mod:`vaegrade.grader.publish.late`), like overrides, so changing it never regrades a notebook.

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

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator


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
