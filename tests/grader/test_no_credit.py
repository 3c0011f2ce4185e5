"""No credit for nothing, judged on real MNIST images as evidence: empty or flat histories,
noise judged by a confident classifier, a model that never encodes, decoders that ignore z or
return training digits, an encoder that ignores x, checks that rest on others; and markers in
the student's file that claim to be the grader's."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest

from grader import scoring
from grader.checks.base import Evidence, Outcome, ProbeContext, ProbeOutput
from grader.checks.history import TrainingHistoryCheck
from grader.checks.latent import ActiveUnitsCheck, DecoderUsesZCheck, TrainingCopiesCheck
from grader.checks.model import ModelInterfaceCheck, SampleQualityCheck
from grader.transforms import is_injected, strip_reserved


def _evidence(requests, outputs, mnist, parameters=None):
    return Evidence(requests={r.key: r for r in requests}, outputs={k: ProbeOutput(arrays=v) for k, v in outputs.items()},
                    notebook=nbformat.v4.new_notebook(), context=ProbeContext(seed=0, data=mnist, parameters=parameters or {}))


def _images(array: np.ndarray) -> np.ndarray:
    return (array / 255.0).astype(np.float32)[:, None]


def test_an_empty_history_earns_nothing_and_says_so(mnist):
    check = TrainingHistoryCheck(id="h", title="t", points=10)
    requests = check.probes(ProbeContext(seed=0, data=mnist, parameters={"epochs": 5}))
    empty = {"loss": np.zeros(0), "recon": np.zeros(0), "kl": np.zeros(0)}
    outcome = check.evaluate(_evidence(requests, {"h.history": empty}, mnist, {"epochs": 5}))
    assert outcome.fraction == 0.0 and "is empty: no epoch was recorded" in outcome.message


def test_a_history_that_shows_no_learning_earns_nothing(mnist):
    check = TrainingHistoryCheck(id="h", title="t", points=10)
    requests = check.probes(ProbeContext(seed=0, data=mnist, parameters={"epochs": 3}))
    flat = {"loss": np.array([543.2, 543.1, 543.3]), "recon": np.array([543.0, 542.9, 543.1]), "kl": np.full(3, 0.2)}
    outcome = check.evaluate(_evidence(requests, {"h.history": flat}, mnist, {"epochs": 3}))
    assert outcome.fraction == 0.0 and "shows no learning" in outcome.message


def test_noise_judged_confidently_by_the_classifier_earns_nothing(mnist):
    check = SampleQualityCheck(id="s", title="t", points=10, samples=200, metrics={
        "confidence": {"pass_at": 0.7, "fail_at": 0.4}, "classes_covered": {"pass_at": 9.5, "fail_at": 5.25},
        "frechet_distance": {"pass_at": 46.5, "fail_at": 69.7}})
    requests = check.probes(ProbeContext(seed=0, data=mnist, parameters={}))
    rng = np.random.default_rng(0)
    noise = (rng.uniform(size=(200, 1, 28, 28)) > 0.8).astype(np.float32)  # sparse salt: confidently "8"s and "1"s
    outcome = check.evaluate(_evidence(requests, {"s": {"samples": noise}}, mnist))
    assert outcome.fraction == 0.0 and "the samples are not mnist-like" in outcome.message
    digits = _images(mnist.x_test[:200])
    assert check.evaluate(_evidence(requests, {"s": {"samples": digits}}, mnist)).fraction == 1.0


def test_a_model_that_never_encodes_a_batch_earns_nothing(mnist):
    check = ModelInterfaceCheck(id="m", title="t", points=10)
    requests = check.probes(ProbeContext(seed=0, data=mnist, parameters={}))
    arrays = {"latent_dim": np.array(16), "found": np.array(True), "is_model": np.array(True),
              "error_1": np.array("NotImplementedError: "), "error_7": np.array("NotImplementedError: ")}
    outcome = check.evaluate(_evidence(requests, {"m": arrays}, mnist))
    assert outcome.fraction == 0.0 and "never encoded and decoded a batch: NotImplementedError" in outcome.message


def _decoder_check():
    return DecoderUsesZCheck(id="d", title="t", points=5, samples=100, variation={"pass_at": 5.0, "fail_at": 2.5})


def test_a_decoder_returning_random_training_digits_does_not_use_z(mnist):
    check = _decoder_check()
    requests = check.probes(ProbeContext(seed=0, data=mnist, parameters={}))
    rng = np.random.default_rng(1)
    samples, nudged = (_images(mnist.x_train[rng.choice(60000, 100)]) for _ in range(2))
    outcome = check.evaluate(_evidence(requests, {"d": {"samples": samples, "nudged": nudged}}, mnist))
    assert outcome.fraction == 0.0 and "does not come from z" in outcome.message


def test_a_constant_decoder_ignores_z_and_a_smooth_one_passes(mnist):
    check = _decoder_check()
    requests = check.probes(ProbeContext(seed=0, data=mnist, parameters={}))
    mean = np.repeat(_images(mnist.x_test[:1000]).mean(axis=0, keepdims=True), 100, axis=0)
    outcome = check.evaluate(_evidence(requests, {"d": {"samples": mean, "nudged": mean}}, mnist))
    assert outcome.fraction == 0.0 and "ignores z" in outcome.message
    digits = _images(mnist.x_test[:100])
    nearby = np.clip(digits + np.random.default_rng(2).normal(0, 0.01, digits.shape), 0, 1).astype(np.float32)
    outcome = check.evaluate(_evidence(requests, {"d": {"samples": digits, "nudged": nearby}}, mnist))
    assert outcome.fraction == 1.0, outcome.message


def test_copies_of_training_images_are_found_and_shown_beside_their_originals(mnist):
    check = TrainingCopiesCheck(id="c", title="t", points=5, samples=100)
    requests = check.probes(ProbeContext(seed=0, data=mnist, parameters={}))
    picks = np.random.default_rng(3).choice(60000, 100, replace=False)
    copies = np.clip(_images(mnist.x_train[picks]) + np.random.default_rng(4).normal(0, 0.01, (100, 1, 28, 28)), 0, 1)
    outcome = check.evaluate(_evidence(requests, {"c": {"samples": copies.astype(np.float32)}}, mnist))
    assert outcome.fraction == 0.0 and "100% of 100 prior samples are copies" in outcome.message
    assert outcome.details["mann_whitney_z"] < -5
    np.testing.assert_array_equal(outcome.artifacts["copied_from"], _images(mnist.x_train[picks[:8]]))
    held_out = _images(mnist.x_test[5000:5100])  # new digits, not the ones the reference distances come from
    outcome = check.evaluate(_evidence(requests, {"c": {"samples": held_out}}, mnist))
    assert outcome.fraction == 1.0 and outcome.details["copy_fraction"] <= 0.05, outcome.message


def test_an_encoder_that_ignores_x_has_no_active_units(mnist):
    check = ActiveUnitsCheck(id="a", title="t", points=5, images=100, active={"pass_at": 0.8, "fail_at": 0.4})
    requests = check.probes(ProbeContext(seed=0, data=mnist, parameters={}))
    collapsed = {"mu": np.full((100, 16), 0.3), "scale": np.zeros((100, 16))}
    outcome = check.evaluate(_evidence(requests, {"a": collapsed}, mnist))
    assert outcome.fraction == 0.0 and "0 of 16 latent units are active" in outcome.message
    assert outcome.details["kl_per_dim"] == pytest.approx([0.045] * 16)  # 0.5 mu^2 per dim at logvar 0
    used = {"mu": np.random.default_rng(5).normal(size=(100, 16)) * np.r_[np.ones(14), np.zeros(2)], "scale": np.zeros((100, 16))}
    outcome = check.evaluate(_evidence(requests, {"a": used}, mnist))
    assert outcome.fraction == 1.0 and outcome.details["active_units"] == 14


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


def test_forged_grader_markers_are_stripped_and_reported():
    cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError")]
    cells[1].metadata = {"tags": ["injected-probe", "keep"], "vaegrade": {"injected": True}}
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"vaegrade": {"injected": True}})
    stripped, notes = strip_reserved(nb)
    assert not any(is_injected(cell) for cell in stripped.cells) and "vaegrade" not in stripped.metadata
    assert stripped.cells[1].metadata["tags"] == ["keep"]
    assert notes == ["cell 2 carried the grader's reserved tag `injected-probe` and `vaegrade` metadata: removed before grading"]
    assert is_injected(cells[1])  # the student's notebook itself is left as it was
