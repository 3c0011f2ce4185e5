"""Pure scoring: a check's :class:`Outcome` and points -> :class:`CheckResult`; totals."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from vaegrade.grader.checks.base import CheckSpec, Outcome
from vaegrade.grader.results import CheckResult


def check_result(spec: CheckSpec, outcome: Outcome) -> CheckResult:
    return scored(spec.id, spec.title, spec.points, outcome.fraction, outcome.message, outcome.details)


def scored(check_id: str, title: str, points: float, fraction: float, message: str,
           details: dict[str, Any] | None = None) -> CheckResult:
    """Score = points * fraction, rounded to 0.01; status passed / partial / failed by the fraction."""
    fraction = min(max(fraction, 0.0), 1.0)
    return CheckResult(id=check_id, title=title, status=status_of(fraction), score=round(points * fraction, 2),
                       max_score=points, message=message, details=plain(details or {}))


def with_requirements(specs: list[CheckSpec], results: list[CheckResult]) -> list[CheckResult]:
    """``results`` where a check whose ``requires`` lists a check that earned nothing (failed, or
    could not be evaluated) earns 0,
    its message saying which (a requirement not among ``results``, a hidden check in self-check,
    is not applied)."""
    by_id = {result.id: result for result in results}
    gated = []
    for spec, result in zip(specs, results):
        unmet = [by_id[i] for i in spec.requires if i in by_id and by_id[i].status in ("failed", "error")]
        if unmet and result.score > 0:
            reasons = "; ".join(f"`{r.id}` ({r.message})" for r in unmet)
            result = scored(spec.id, spec.title, spec.points, 0.0,
                            f"no credit: this check rests on {reasons}. Without that: {result.message}", result.details)
        gated.append(result)
    return gated


def status_of(fraction: float) -> str:
    return "passed" if fraction >= 1.0 else "failed" if fraction <= 0.0 else "partial"


def plain(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` with numpy scalars and arrays turned into JSON numbers and lists."""
    def convert(value: Any) -> Any:
        if isinstance(value, (np.generic, np.ndarray)):
            return value.tolist()
        raise TypeError(f"{type(value).__name__} is not JSON-able")
    return json.loads(json.dumps(details, default=convert))


def error_result(spec: CheckSpec, message: str) -> CheckResult:
    return unevaluated(spec.id, spec.title, spec.points, message)


def unevaluated(check_id: str, title: str, points: float, message: str, status: str = "error") -> CheckResult:
    """A check the grader could not evaluate (``error``) or left to a person (``skipped``): no
    points, the reason stated."""
    return CheckResult(id=check_id, title=title, status=status, score=0.0, max_score=points, message=message)


def total(checks: list[CheckResult]) -> float:
    return round(sum(check.score for check in checks), 2)
