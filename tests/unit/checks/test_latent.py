"""The latent-space checks (decoder_uses_z, training_copies, active_units) on real MNIST images as evidence: decoders that ignore z or return training digits, an encoder that ignores x."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.evidence import context, evidence, images
from vaegrade.grader.checks.latent import ActiveUnitsCheck, DecoderUsesZCheck, TrainingCopiesCheck


def _decoder_check():
    return DecoderUsesZCheck(id="d", title="t", points=5, samples=100, variation={"pass_at": 5.0, "fail_at": 2.5})


def test_a_decoder_returning_random_training_digits_does_not_use_z(mnist):
    check = _decoder_check()
    requests = check.probes(context())
    rng = np.random.default_rng(1)
    samples, nudged = (images(mnist.x_train[rng.choice(60000, 100)]) for _ in range(2))
    outcome = check.evaluate(evidence(requests, {"d": {"samples": samples, "nudged": nudged}}))
    assert outcome.fraction == 0.0 and "does not come from z" in outcome.message


def test_a_constant_decoder_ignores_z_and_a_smooth_one_passes(mnist):
    check = _decoder_check()
    requests = check.probes(context())
    mean = np.repeat(images(mnist.x_test[:1000]).mean(axis=0, keepdims=True), 100, axis=0)
    outcome = check.evaluate(evidence(requests, {"d": {"samples": mean, "nudged": mean}}))
    assert outcome.fraction == 0.0 and "ignores z" in outcome.message
    digits = images(mnist.x_test[:100])
    nearby = np.clip(digits + np.random.default_rng(2).normal(0, 0.01, digits.shape), 0, 1).astype(np.float32)
    outcome = check.evaluate(evidence(requests, {"d": {"samples": digits, "nudged": nearby}}))
    assert outcome.fraction == 1.0, outcome.message


def test_copies_of_training_images_are_found_and_shown_beside_their_originals(mnist):
    check = TrainingCopiesCheck(id="c", title="t", points=5, samples=100)
    requests = check.probes(context())
    picks = np.random.default_rng(3).choice(60000, 100, replace=False)
    copies = np.clip(images(mnist.x_train[picks]) + np.random.default_rng(4).normal(0, 0.01, (100, 1, 28, 28)), 0, 1)
    outcome = check.evaluate(evidence(requests, {"c": {"samples": copies.astype(np.float32)}}))
    assert outcome.fraction == 0.0 and "100% of 100 prior samples are copies" in outcome.message
    assert outcome.details["mann_whitney_z"] < -5
    np.testing.assert_array_equal(outcome.artifacts["copied_from"], images(mnist.x_train[picks[:8]]))
    held_out = images(mnist.x_test[5000:5100])  # new digits, not the ones the reference distances come from
    outcome = check.evaluate(evidence(requests, {"c": {"samples": held_out}}))
    assert outcome.fraction == 1.0 and outcome.details["copy_fraction"] <= 0.05, outcome.message


def test_an_encoder_that_ignores_x_has_no_active_units(mnist):
    check = ActiveUnitsCheck(id="a", title="t", points=5, images=100, active={"pass_at": 0.8, "fail_at": 0.4})
    requests = check.probes(context())
    collapsed = {"mu": np.full((100, 16), 0.3), "scale": np.zeros((100, 16))}
    outcome = check.evaluate(evidence(requests, {"a": collapsed}))
    assert outcome.fraction == 0.0 and "0 of 16 latent units are active" in outcome.message
    assert outcome.details["kl_per_dim"] == pytest.approx([0.045] * 16)  # 0.5 mu^2 per dim at logvar 0
    used = {"mu": np.random.default_rng(5).normal(size=(100, 16)) * np.r_[np.ones(14), np.zeros(2)], "scale": np.zeros((100, 16))}
    outcome = check.evaluate(evidence(requests, {"a": used}))
    assert outcome.fraction == 1.0 and outcome.details["active_units"] == 14

