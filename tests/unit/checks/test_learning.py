"""The learning check on made-up learning curves, and the allowance it makes for a model the grading
run trained that was still learning fast when the budget ended (under-trained, not broken)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.evidence import context, evidence
from vaegrade.grader.checks.base import Outcome
from vaegrade.grader.checks.learning import LearningCheck, allow_for_budget
from vaegrade.grader.checks.model import ReconstructionCheck
from vaegrade.grader.checks.scoring import check_result

LEARNING = LearningCheck(id="learning", title="t", points=5, fall={"pass_at": 0.2, "fail_at": 0.02})
RECONSTRUCTION = ReconstructionCheck(id="reconstruction", title="t", points=10, bce={"pass_at": 95, "fail_at": 142})


def learned(curve: np.ndarray, runs: list[int] | None = None, **more: np.ndarray) -> Outcome:
    arrays = {"curve": curve, **more} if runs is None else {"curve": curve, "runs": np.asarray(runs), **more}
    return LEARNING.evaluate(evidence(LEARNING.probes(context()), {"learning": arrays}))


def steps(end_fall: float, count: int = 785) -> np.ndarray:
    """A loss that falls from 540 to 200, stays there for a fifth of its steps, then falls by
    ``end_fall`` (relative) for the last fifth."""
    fifth = count // 5
    return np.concatenate([np.linspace(540.0, 200.0, count - 2 * fifth), np.full(fifth, 200.0),
                           np.full(fifth, 200.0 * (1 - end_fall))])


def test_the_late_fall_is_measured_between_the_last_two_fifths():
    outcome = learned(steps(0.06))
    assert outcome.fraction == 1.0
    assert abs(outcome.details["late_fall"] - 0.06) < 1e-9


def test_each_models_training_is_judged_on_its_own_steps_and_the_least_learning_one_counts():
    autoencoder = np.linspace(0.66, 0.2, 64)  # a per-pixel BCE, then VAEs' per-image losses
    vaes = [np.linspace(540.0, 250.0, 32), np.linspace(540.0, 530.0, 32)]
    outcome = learned(np.concatenate([autoencoder, *vaes]), [0, 64, 96])
    assert outcome.details["falls"] == pytest.approx([0.66, 0.51, 0.017], abs=0.005)
    assert outcome.fraction == 0.0
    assert outcome.message.startswith("your 3 models' trainings lost 66%, 51%, 2% of their loss; the least, training 3, "
                                      "fell by 2% over its 32 steps")
    assert learned(np.concatenate([autoencoder, vaes[0]]), [0, 64]).fraction == 1.0
    # read as one training, the two scales would be a loss that "rose" by 66,000%
    assert learned(np.concatenate([autoencoder, vaes[0]])).fraction == 0.0


def test_only_the_trainings_of_the_graded_model_count():
    autoencoder, vae = np.linspace(0.66, 0.2, 64), np.linspace(540.0, 530.0, 32)  # the handout's AE learns; the VAE not
    curve = np.concatenate([autoencoder, vae])
    assert learned(curve, [0, 64], trains_model=np.array([0, 1])).fraction == 0.0
    assert learned(curve, [0, 64], trains_model=np.array([1, 0])).fraction == 1.0
    none = learned(curve, [0, 64], trains_model=np.array([0, 0]))
    assert none.fraction == 0.0 and none.message == "none of the 2 training(s) seen trained the graded model (`model.encode`'s)"
    missing = learned(curve, [0, 64], owner_error=np.frombuffer(b"NameError: name 'vae_1' is not defined", np.uint8))
    assert missing.fraction == 0.0 and missing.message.endswith("NameError: name 'vae_1' is not defined")


def test_a_model_still_learning_fast_when_the_budget_ended_is_under_trained_not_broken():
    short = RECONSTRUCTION.scored(np.full((4, 1, 28, 28), 0.5, np.float32), np.full((4, 1, 28, 28), 0.5, np.float32))
    assert short.fraction == 0.0  # BCE 543: judged alone, a broken model
    judged = allow_for_budget({"learning": (LEARNING, learned(steps(0.08))), "reconstruction": (RECONSTRUCTION, short)})
    result = check_result(RECONSTRUCTION, judged["reconstruction"][1])
    assert result.score == 5.0 and result.status == "partial"
    assert result.message.startswith("under-trained at the grading budget: measured bce 543")
    assert "see the learning curve under `learning`" in result.message and result.details["under_trained"] is True


def test_a_partial_credit_above_the_allowance_is_kept():
    close = Outcome(0.8, "BCE 104", {"bce": 104.0})
    judged = allow_for_budget({"learning": (LEARNING, learned(steps(0.08))), "reconstruction": (RECONSTRUCTION, close)})
    assert judged["reconstruction"][1].fraction == 0.8 and "this one earns 80%" in judged["reconstruction"][1].message


def test_no_allowance_for_a_trained_out_model_a_diverging_one_an_unmeasured_check_or_a_rubric_that_declines():
    short = Outcome(0.0, "BCE 150", {"bce": 150.0})
    trained_out = {"learning": (LEARNING, learned(steps(0.02))), "reconstruction": (RECONSTRUCTION, short)}
    assert allow_for_budget(trained_out)["reconstruction"][1] is short
    diverging = learned(-np.exp(np.linspace(0, 30, 400)))
    assert diverging.fraction == 0.0
    assert allow_for_budget({"learning": (LEARNING, diverging), "reconstruction": (RECONSTRUCTION, short)})["reconstruction"][1] is short
    unmeasured = Outcome(0.0, "decode returned NaN or infinite values")
    still = {"learning": (LEARNING, learned(steps(0.08))), "reconstruction": (RECONSTRUCTION, unmeasured)}
    assert allow_for_budget(still)["reconstruction"][1] is unmeasured
    declined = LEARNING.model_copy(update={"under_trained": None})
    assert allow_for_budget({"learning": (declined, learned(steps(0.08))),
                             "reconstruction": (RECONSTRUCTION, short)})["reconstruction"][1] is short
