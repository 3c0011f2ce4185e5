"""Pure scoring: a check's :class:`Outcome` and points -> :class:`CheckResult`; totals."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from grader.checks.base import CheckSpec, Outcome
from grader.results import CheckResult


def check_result(spec: CheckSpec, outcome: Outcome) -> CheckResult:
    """Score = points * fraction, rounded to 0.01; status passed / partial / failed by the fraction."""
    fraction = min(max(outcome.fraction, 0.0), 1.0)
    status = "passed" if fraction >= 1.0 else "failed" if fraction <= 0.0 else "partial"
    return CheckResult(id=spec.id, title=spec.title, status=status, score=round(spec.points * fraction, 2),
                       max_score=spec.points, message=outcome.message, details=plain(outcome.details))


def plain(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` with numpy scalars and arrays turned into JSON numbers and lists."""
    def convert(value: Any) -> Any:
        if isinstance(value, (np.generic, np.ndarray)):
            return value.tolist()
        raise TypeError(f"{type(value).__name__} is not JSON-able")
    return json.loads(json.dumps(details, default=convert))


def error_result(spec: CheckSpec, message: str) -> CheckResult:
    """The grader could not evaluate the check: no points, status ``error``, the reason stated."""
    return CheckResult(id=spec.id, title=spec.title, status="error", score=0.0, max_score=spec.points, message=message)


def total(checks: list[CheckResult]) -> float:
    return round(sum(check.score for check in checks), 2)
