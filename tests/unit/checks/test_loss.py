"""The loss check's identification on synthetic captured tensors: every convention and every
departure it names, each written the way a student's loss would compute it (in torch, float32)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.unit.evidence import context, evidence
from vaegrade.grader.checks.loss import LossCheck, Step, identify
from vaegrade.grader.probe.requests import RecordedRequest

BETA = 4.0
EXPECTED = {"reconstruction": "bce", "pixels": "sum", "batch": "mean"}


def tensors(seed: int, batch: int = 32, dims: int = 8, pixels: int = 784):
    """One step's tensors as a model mid-training makes them: binary images, decoder probabilities
    near them, and a posterior of moderate KL."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(batch, pixels, generator=g) > 0.7).float()
    logits = 3 * (2 * x - 1) + torch.randn(batch, pixels, generator=g)
    mu = torch.randn(batch, dims, generator=g) * (0.5 + seed % 3)
    logvar = torch.randn(batch, dims, generator=g) * 0.5 - 1.0 - 0.2 * (seed % 4)
    return x, logits, mu, logvar


def kl_per_example(mu, logvar, half=0.5, sign=1.0, dims="sum"):
    per_dim = sign * half * (mu ** 2 + logvar.exp() - 1 - logvar)
    return per_dim.sum(dim=1) if dims == "sum" else per_dim.mean(dim=1)


def losses(student, steps: int = 6, out_as: str = "probabilities", scale_as: str = "logvar") -> list[Step]:
    """``steps`` recorded steps of a student whose loss is ``student(x, out, mu, logvar)``."""
    recorded = []
    for seed in range(steps):
        x, logits, mu, logvar = tensors(seed)
        out = logits if out_as == "logits" else torch.sigmoid(logits)
        scale = 0.5 * logvar if scale_as == "log_sigma" else logvar
        loss = student(x, out, mu, logvar)
        recorded.append(Step(float(loss), x.numpy(), out.numpy(), mu.numpy(), scale.numpy()))
    return recorded


def bce(x, out, reduction="sum"):
    return F.binary_cross_entropy(out, x, reduction=reduction)


CONVENTIONS = {
    "correct": (lambda x, o, m, lv: bce(x, o) / len(x) + BETA * kl_per_example(m, lv).mean(), []),
    "kl_sign": (lambda x, o, m, lv: bce(x, o) / len(x) + BETA * kl_per_example(m, lv, sign=-1).mean(),
                ["the KL enters with the wrong sign: the loss is reconstruction - KL"]),
    "kl_no_half": (lambda x, o, m, lv: bce(x, o) / len(x) + BETA * kl_per_example(m, lv, half=1).mean(),
                   ["the KL lacks its factor 1/2: it is twice the closed form"]),
    "kl_mean_over_dims": (lambda x, o, m, lv: bce(x, o) / len(x) + BETA * kl_per_example(m, lv, dims="mean").mean(),
                          ["the KL is averaged over the 8 latent dimensions instead of summed"]),
    "beta_ignored": (lambda x, o, m, lv: bce(x, o) / len(x) + kl_per_example(m, lv).mean(),
                     ["beta is ignored: the KL's weight is 1, not beta = 4"]),
    "bce_mean_over_pixels": (lambda x, o, m, lv: bce(x, o, "mean") + BETA * kl_per_example(m, lv).mean(),
                             ["the reconstruction is averaged over the 784 pixels instead of summed"]),
    "no_kl": (lambda x, o, m, lv: bce(x, o) / len(x), ["there is no KL term: the loss is the reconstruction alone"]),
    "mse": (lambda x, o, m, lv: ((x - o) ** 2).sum() / len(x) + BETA * kl_per_example(m, lv).mean(),
            ["the reconstruction term is a squared error, not the binary cross-entropy (the Bernoulli log-likelihood) "
             "the assignment asks for"]),
    "summed_over_the_batch": (lambda x, o, m, lv: bce(x, o) + BETA * kl_per_example(m, lv).sum(),
                              ["the loss is summed over the batch instead of averaged"]),
    "no_reconstruction": (lambda x, o, m, lv: BETA * kl_per_example(m, lv).mean(), ["there is no reconstruction term"]),
    "reconstruction_weighted": (lambda x, o, m, lv: 0.3 * bce(x, o) / len(x) + BETA * kl_per_example(m, lv).mean(),
                                ["the reconstruction term is weighted by 0.3"]),
    "kl_weighted_otherwise": (lambda x, o, m, lv: bce(x, o) / len(x) + 2.5 * kl_per_example(m, lv).mean(),
                              ["the KL is weighted by 2.5, where beta = 4 is expected"]),
}


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_each_convention_and_departure_is_named(convention):
    student, said = CONVENTIONS[convention]
    found = identify(losses(student), "probabilities", "logvar", BETA, EXPECTED)
    assert found is not None and found.residual < 1e-4, convention
    assert found.departures == said, found.describe()


def test_a_training_that_diverges_is_still_read_from_its_early_and_late_steps():
    """The KL's wrong sign drives the posterior away: late steps' KL dwarfs the reconstruction."""
    def diverging(step: int):
        x, logits, mu, logvar = tensors(step)
        growth = 1.0 if step < 3 else 10.0 ** (step - 2)
        mu, logvar = mu * growth, logvar + np.log(growth)
        out = torch.sigmoid(logits)
        loss = CONVENTIONS["kl_sign"][0](x, out, mu, logvar)
        return Step(float(loss), x.numpy(), out.numpy(), mu.numpy(), logvar.numpy())
    found = identify([diverging(step) for step in range(6)], "probabilities", "logvar", BETA, EXPECTED)
    assert found is not None and found.departures == CONVENTIONS["kl_sign"][1], found.describe()


def test_logits_a_log_sigma_scale_and_a_keras_style_mean_are_read_in_the_students_terms():
    def keras_io(x, logits, mu, logvar):  # keras.io: BCE on probabilities, summed over pixels; KL with ops.mean
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1).mean()
        return reconstruction + kl_per_example(mu, logvar).mean()
    found = identify(losses(keras_io, out_as="logits", scale_as="log_sigma"), "logits", "log_sigma", 1.0, EXPECTED)
    assert found.departures == [] and found.reconstruction == "bce" and found.kl.startswith("the standard closed form")


def test_a_loss_with_a_term_the_grader_does_not_know_is_not_explained():
    def weight_decay(x, o, m, lv):
        return bce(x, o) / len(x) + kl_per_example(m, lv).mean() + 50.0 * (m ** 4).mean()
    assert identify(losses(weight_decay), "probabilities", "logvar", 1.0, EXPECTED) is None


def test_the_check_credits_the_expected_loss_and_names_a_departure_from_recorded_arrays():
    check = LossCheck(id="loss", title="t", points=10, watch={
        "x": {"at": "model", "take": "input", "select": 0}, "out": {"at": "model", "select": 0, "as": "probabilities"},
        "mu": {"at": "model", "select": 1}, "scale": {"at": "model", "select": 2, "as": "logvar"}},
        expect={"beta": "beta", "batch": "mean"})
    (request,) = check.probes(context({"beta": BETA}))
    assert isinstance(request, RecordedRequest) and check.recordings()["loss"].keep == 8

    def recorded(student):
        steps = losses(student)
        arrays = {"loss": np.array([s.loss for s in steps])}
        for i, s in enumerate(steps):
            arrays |= {f"x_{i}": s.x, f"out_{i}": s.out, f"mu_{i}": s.mu, f"scale_{i}": s.scale}
        return evidence([request], {"loss": arrays}, context({"beta": BETA}))

    assert check.evaluate(recorded(CONVENTIONS["correct"][0])).fraction == 1.0
    outcome = check.evaluate(recorded(CONVENTIONS["kl_sign"][0]))
    assert outcome.fraction == 0.0 and "the KL enters with the wrong sign" in outcome.message
    assert "in the notebook's training" in outcome.message
