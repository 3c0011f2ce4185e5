"""From a rubric's checks to their results: the probe requests, then the evaluation.

Grading (:mod:`vaegrade.grader.run.grade`, probes answered by a sandboxed kernel) and self-check
(:mod:`vaegrade.grader.selfcheck`, probes answered in the student's own kernel) share these steps, so a
check gives the same verdict on the same objects whichever way its probes were answered.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from vaegrade.grader.checks import scoring
from vaegrade.grader.checks.base import CheckSpec, Evidence, Outcome, ProbeContext, ProbeRequest
from vaegrade.grader.checks.learning import allow_for_budget
from vaegrade.grader.results import CheckResult


def unique_requests(checks: list[CheckSpec], context: ProbeContext) -> dict[str, ProbeRequest]:
    """Every probe request of ``checks``, by key; a request two checks share is made once."""
    requests: dict[str, ProbeRequest] = {}
    for check in checks:
        for request in check.probes(check.own(context)):
            requests.setdefault(request.key, request)
    return requests


def evaluate_checks(checks: list[CheckSpec], evidence: Evidence, kernel_usable: bool = True,
                    execution_message: str = "") -> tuple[list[CheckResult], dict[str, np.ndarray]]:
    """Each check's result and the figures' arrays (``<check id>/<name>``). A check needing the kernel when it was not
    usable, or failing on odd evidence, is an ``error`` result with the reason, never an exception;
    one judging the trained model when the rubric's handed-in weights are missing or did not load
    fails with the reason (the student's to fix); a model the grading run trained that was still
    learning fast when its budget ended is credited as under-trained, not broken
    (:func:`vaegrade.grader.checks.learning.allow_for_budget`);
    a check whose ``requires`` did not all pass earns 0 (:func:`vaegrade.grader.checks.scoring.with_requirements`)."""
    results: dict[str, CheckResult] = {}
    judged: dict[str, tuple[CheckSpec, Outcome]] = {}
    for spec in checks:
        if spec.needs_kernel and not kernel_usable:
            results[spec.id] = scoring.error_result(spec, f"not evaluated: {execution_message}")
            continue
        if spec.judges_training and evidence.weights is not None and not evidence.weights.loaded:
            results[spec.id] = scoring.unevaluated(spec.id, spec.title, spec.points,
                                                   f"not judged: {evidence.weights.message}", status="failed")
            continue
        try:
            judged[spec.id] = spec, spec.evaluate(dataclasses.replace(evidence, context=spec.own(evidence.context)))
        except Exception as exc:  # a check that cannot cope with odd evidence must not take the submission down
            results[spec.id] = scoring.error_result(spec, f"the grader could not evaluate this check: "
                                                          f"{type(exc).__name__}: {exc}")
    if evidence.weights is None or not evidence.weights.loaded:  # the model judged is the grading run's own training
        judged = allow_for_budget(judged)
    figures = {}
    for spec, outcome in judged.values():
        results[spec.id] = scoring.check_result(spec, outcome)
        figures.update({f"{spec.id}/{name}": array for name, array in outcome.artifacts.items()})
    return scoring.with_requirements(checks, [results[spec.id] for spec in checks]), figures
