"""Scoring: a check's outcome becomes points, and a check resting on one that earned nothing earns nothing."""

from __future__ import annotations

from vaegrade.grader.checks import scoring
from vaegrade.grader.checks.base import Outcome
from vaegrade.grader.checks.latent import TrainingCopiesCheck
from vaegrade.grader.checks.model import SampleQualityCheck


def test_a_check_resting_on_one_that_earned_nothing_earns_nothing():
    base = SampleQualityCheck(id="s", title="samples", points=10, requires=["c"], metrics={
        "classes_covered": {"pass_at": 9, "fail_at": 5}, "frechet_distance": {"pass_at": 46, "fail_at": 70}})
    copies = TrainingCopiesCheck(id="c", title="copies", points=5)
    results = [scoring.check_result(base, Outcome(1.0, "perfect digits")),
               scoring.check_result(copies, Outcome(0.0, "100% copies"))]
    gated = scoring.with_requirements([base, copies], results)
    assert gated[0].score == 0 and gated[0].message.startswith("no credit: this check rests on `c` (100% copies)")
    results[1] = scoring.check_result(copies, Outcome(0.5, "some copies"))
    assert scoring.with_requirements([base, copies], results)[0].score == 10

