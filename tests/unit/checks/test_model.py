"""The model checks (model_interface, reconstruction, sample_quality) on synthetic evidence and real MNIST images."""

from __future__ import annotations

import numpy as np

from tests.unit.evidence import context, evidence, images
from vaegrade.grader.checks.model import ModelInterfaceCheck, ReconstructionCheck, SampleQualityCheck
from vaegrade.grader.probe.interface import ModelSpec


def test_noise_judged_confidently_by_the_classifier_earns_nothing(mnist):
    check = SampleQualityCheck(id="s", title="t", points=10, samples=200, metrics={
        "confidence": {"pass_at": 0.7, "fail_at": 0.4}, "classes_covered": {"pass_at": 9.5, "fail_at": 5.25},
        "frechet_distance": {"pass_at": 46.5, "fail_at": 69.7}})
    requests = check.probes(context())
    rng = np.random.default_rng(0)
    noise = (rng.uniform(size=(200, 1, 28, 28)) > 0.8).astype(np.float32)  # sparse salt: confidently "8"s and "1"s
    outcome = check.evaluate(evidence(requests, {"s": {"samples": noise}}))
    assert outcome.fraction == 0.0 and "the samples are not mnist-like" in outcome.message
    digits = images(mnist.x_test[:200])
    assert check.evaluate(evidence(requests, {"s": {"samples": digits}})).fraction == 1.0


def test_a_model_that_never_encodes_a_batch_earns_nothing(mnist):
    check = ModelInterfaceCheck(id="m", title="t", points=10)
    requests = check.probes(context())
    arrays = {"latent_dim": np.array(16), "found": np.array(True), "is_model": np.array(True),
              "error_1": np.array("NotImplementedError: "), "error_7": np.array("NotImplementedError: ")}
    outcome = check.evaluate(evidence(requests, {"m": arrays}))
    assert outcome.fraction == 0.0 and "never encoded and decoded a batch: NotImplementedError" in outcome.message



def test_reconstruction_is_credited_by_its_band_in_nats_per_image_and_logits_go_through_a_sigmoid(mnist):
    check = ReconstructionCheck(id="r", title="t", points=10, images=100, bce={"pass_at": 100.0, "fail_at": 150.0})
    (request,) = check.probes(context())
    x = request.inputs["images"]
    assert x.shape == (100, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    perfect = np.clip(x, 1e-4, 1 - 1e-4)
    outcome = check.evaluate(evidence([request], {"r": {"x_hat": perfect}}))
    assert outcome.fraction == 1.0 and outcome.details["bce"] < 100
    blurred = np.full_like(x, x.mean())  # the mean pixel everywhere: a model that learnt nothing of the digit
    outcome = check.evaluate(evidence([request], {"r": {"x_hat": blurred}}))
    assert outcome.fraction == 0.0 and outcome.details["bce"] > 150 and "nats/image on 100 test images" in outcome.message
    logits = ModelSpec(decode={"returns": "logits"})
    as_logits = np.log(perfect / (1 - perfect))
    outcome = check.evaluate(evidence([request], {"r": {"x_hat": as_logits}}, context(model=logits)))
    assert outcome.fraction == 1.0, outcome.message


def test_decoder_output_of_the_wrong_size_or_range_is_named(mnist):
    check = ReconstructionCheck(id="r", title="t", points=10, images=20, bce={"pass_at": 100.0, "fail_at": 150.0})
    (request,) = check.probes(context())
    outcome = check.evaluate(evidence([request], {"r": {"x_hat": np.zeros((20, 1, 14, 14), np.float32)}}))
    assert outcome.fraction == 0.0 and "expected (20, 1, 28, 28)" in outcome.message
    outcome = check.evaluate(evidence([request], {"r": {"x_hat": np.full((20, 1, 28, 28), 3.0, np.float32)}}))
    assert outcome.fraction == 0.0 and "not probabilities in [0, 1]" in outcome.message
