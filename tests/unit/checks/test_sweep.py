"""The beta_sweep check on made-up histories: the trade-off, and runs that learnt."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.evidence import context, evidence


def _history(recon, kl):
    return {"recon": np.asarray(recon, float), "kl": np.asarray(kl, float)}


def test_a_beta_sweep_needs_the_trade_off_and_runs_that_learnt(mnist):
    from vaegrade.grader.checks.sweep import BetaSweepCheck

    check = BetaSweepCheck(id="sweep", title="t", points=1, runs={0.1: "h01", 1: "h1", 5: "h5"},
                           keys={"recon": "reconstruction_loss", "kl": "kl_loss"})
    requests = check.probes(context())
    assert [r.keys for r in requests][0] == {"recon": "reconstruction_loss", "kl": "kl_loss"}
    good = {"sweep.beta0.1": _history([200, 90], [5, 30]), "sweep.beta1": _history([210, 110], [5, 20]),
            "sweep.beta5": _history([230, 160], [4, 8])}
    assert check.evaluate(evidence(requests, good)).fraction == 1.0
    ignored = {key: _history([200, 100 + i], [5, 20 - i * 0.1]) for i, key in enumerate(good)}  # beta ignored: noise
    outcome = check.evaluate(evidence(requests, ignored))
    assert outcome.fraction == pytest.approx(0.5) and "KL falls only from 20 to 19.8" in outcome.message
    noisy = {**good, "sweep.beta1": _history([210, 88], [5, 20])}  # recon 90 -> 88 -> 160: within tolerance
    assert check.evaluate(evidence(requests, noisy)).fraction == 1.0
    flat = {**good, "sweep.beta1": _history([210, 89.5], [5, 20]), "sweep.beta5": _history([230, 89], [4, 8])}
    outcome = check.evaluate(evidence(requests, flat))
    assert outcome.fraction == pytest.approx(0.8) and "does not rise" in outcome.message
    untrained = {**good, "sweep.beta5": _history([230, 230], [4, 4])}
    outcome = check.evaluate(evidence(requests, untrained))
    assert outcome.fraction == 0.0 and "did not fall" in outcome.message  # no credit for a run that did not train
    empty = {**good, "sweep.beta1": _history([], [])}
    assert check.evaluate(evidence(requests, empty)).fraction == 0.0


def test_a_beta_sweep_rubric_entry_is_validated():
    from pydantic import ValidationError

    from vaegrade.grader.checks.sweep import BetaSweepCheck

    with pytest.raises(ValidationError, match="none may be negative"):
        BetaSweepCheck(id="s", title="t", points=1, runs={-1: "a", 1: "b"})
    with pytest.raises(ValidationError, match="at least 2"):
        BetaSweepCheck(id="s", title="t", points=1, runs={1: "b"})
    with pytest.raises(ValidationError, match="is not a path"):
        BetaSweepCheck(id="s", title="t", points=1, runs={0: "history..beta0", 1: "b"})

