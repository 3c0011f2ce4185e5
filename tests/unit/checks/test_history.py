"""The training_history check on made-up histories: no credit for an empty one or one that shows no learning."""

from __future__ import annotations

import numpy as np

from tests.unit.evidence import context, evidence
from vaegrade.grader.checks.history import TrainingHistoryCheck


def test_an_empty_history_earns_nothing_and_says_so(mnist):
    check = TrainingHistoryCheck(id="h", title="t", points=10)
    requests = check.probes(context({"epochs": 5}))
    empty = {"loss": np.zeros(0), "recon": np.zeros(0), "kl": np.zeros(0)}
    outcome = check.evaluate(evidence(requests, {"h.history": empty}, context({"epochs": 5})))
    assert outcome.fraction == 0.0 and "is empty: no epoch was recorded" in outcome.message


def test_a_history_that_shows_no_learning_earns_nothing(mnist):
    check = TrainingHistoryCheck(id="h", title="t", points=10)
    requests = check.probes(context({"epochs": 3}))
    flat = {"loss": np.array([543.2, 543.1, 543.3]), "recon": np.array([543.0, 542.9, 543.1]), "kl": np.full(3, 0.2)}
    outcome = check.evaluate(evidence(requests, {"h.history": flat}, context({"epochs": 3})))
    assert outcome.fraction == 0.0 and "shows no learning" in outcome.message

