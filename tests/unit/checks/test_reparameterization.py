"""The reparameterization check: samplers of three latent families called on the grader's parameters (KS tests, pathwise gradients, fresh noise), and a Gaussian reparameterization written inside a model's forward, watched as it runs (the probe's kernel side run in this process)."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest
import torch

from tests.unit.evidence import context, evidence
from vaegrade.grader.checks.base import Evidence
from vaegrade.grader.checks.reparameterization import ReparameterizationCheck
from vaegrade.grader.probe import artifacts
from vaegrade.grader.probe.cell import run_probe
from vaegrade.grader.probe.interface import ModelSpec


def _laplace_icdf(u, loc, scale, wrong_branch=False):
    left, right = loc + scale * np.log(2 * u), loc - scale * np.log(2 - 2 * u)
    return np.where(u <= 0.5, left, -right + 2 * loc if wrong_branch else right)


@pytest.mark.parametrize("wrong_branch", [False, True])
def test_a_laplace_sampler_is_judged_by_ks_and_pathwise_gradients(mnist, wrong_branch):
    check = ReparameterizationCheck(id="lap", title="t", points=1, function="sample_laplace", family="laplace",
                                    call=["loc", {"arg": "scale", "as": "log"}])
    (request,) = check.probes(context())
    loc, scale = request.inputs["loc"].astype(np.float64), request.inputs["scale"].astype(np.float64)
    assert request.inputs["arg1"] == pytest.approx(np.log(scale), abs=1e-6)
    u = np.random.default_rng(3).uniform(size=loc.shape)
    z = _laplace_icdf(u, loc, scale, wrong_branch)
    eps = (z - loc) / scale
    arrays = {"output": z, "output_2": _laplace_icdf(u[::-1], loc, scale, wrong_branch),
              "grad_arg0": np.ones_like(loc), "grad_arg1": eps * scale}  # d z / d log b = b * eps
    outcome = check.evaluate(evidence([request], {"lap": arrays}))
    if wrong_branch:
        assert outcome.fraction == pytest.approx(0.5) and "one side of loc" in outcome.message
    else:
        assert outcome.fraction == 1.0, outcome.message


def test_an_exponential_sampler_with_a_wrong_rate_loses_the_distribution_share(mnist):
    check = ReparameterizationCheck(id="exp", title="t", points=1, function="sample_exponential", family="exponential")
    (request,) = check.probes(context())
    rate = request.inputs["rate"].astype(np.float64)
    e = np.random.default_rng(4).exponential(size=rate.shape)
    good = {"output": e / rate, "output_2": e[::-1] / rate, "grad_arg0": -e / rate**2}
    assert check.evaluate(evidence([request], {"exp": good})).fraction == 1.0
    times = {"output": e * rate, "output_2": e[::-1] * rate, "grad_arg0": e}  # rate used as the mean
    outcome = check.evaluate(evidence([request], {"exp": times}))
    assert outcome.fraction == pytest.approx(0.2) and "Exponential(1)" in outcome.message


def test_a_sampler_in_the_sigma_convention_is_judged_in_it(mnist):
    import numpy as np

    check = ReparameterizationCheck(id="r", title="r", points=1, function="sample", call=["mu", {"arg": "logvar", "as": "sigma"}])
    (request,) = check.probes(context())
    mu, sigma = request.inputs["arg0"].astype(np.float64), request.inputs["arg1"].astype(np.float64)
    eps = np.random.default_rng(1).standard_normal(mu.shape)
    right = {"output": mu + sigma * eps, "output_2": mu + sigma * eps[::-1], "grad_arg0": np.ones_like(mu), "grad_arg1": eps}
    assert check.evaluate(evidence([request], {request.key: right})).fraction == 1.0
    wrong = {"output": mu + np.log(sigma) * eps, "output_2": mu + np.log(sigma) * eps[::-1],
             "grad_arg0": np.ones_like(mu), "grad_arg1": eps / sigma}
    outcome = check.evaluate(evidence([request], {request.key: wrong}))
    assert outcome.fraction == pytest.approx(0.2) and "is the sigma turned into the standard deviation correctly?" in outcome.message



class DictForward(torch.nn.Module):
    """The CSCI 566 shape: one encoder head holding mu and log sigma, the reparameterization
    inline in forward, which returns a dict; ``mistake`` seeds a bug."""

    def __init__(self, mistake: str | None = None):
        super().__init__()
        self.nz, self.mistake = 8, mistake
        self.encoder = torch.nn.Sequential(torch.nn.Linear(784, 64), torch.nn.ReLU(), torch.nn.Linear(64, 16))
        self.decoder = torch.nn.Sequential(torch.nn.Linear(8, 784), torch.nn.Sigmoid())

    def forward(self, x):
        q = self.encoder(x)
        mu, log_sigma = q[:, :self.nz], q[:, self.nz:]
        if self.mistake == "log_sigma_as_sigma":
            z = mu + log_sigma * torch.randn_like(mu)
        elif self.mistake == "one_eps_for_the_batch":
            z = mu + torch.exp(log_sigma) * torch.randn(self.nz)
        else:
            z = mu + torch.exp(log_sigma) * torch.randn_like(mu)
        return {"rec": self.decoder(z), "mu": mu, "log_sigma": log_sigma}


FORWARD = ReparameterizationCheck(id="r", title="t", points=10, through="forward", observe={
    "run": "vae_model", "mu": {"at": "vae_model.encoder", "half": "first"},
    "scale": {"at": "vae_model.encoder", "half": "second", "as": "log_sigma"},
    "z": {"at": "vae_model.decoder", "take": "input", "select": 0}})


def watched(model: torch.nn.Module, tmp_path):
    made_in = context(model=ModelSpec(layout="B,784"))
    requests = FORWARD.probes(made_in)
    artifacts.write_requests(tmp_path, requests, 0, "torch")
    run_probe({"vae_model": model}, str(tmp_path))
    return FORWARD.evaluate(Evidence(
        requests={r.key: r for r in requests}, outputs=artifacts.read_outputs(tmp_path, requests),
        notebook=nbformat.v4.new_notebook(), context=made_in))


def test_a_reparameterization_inside_forward_is_watched_and_judged(tmp_path):
    model = DictForward()
    model.train(False)
    outcome = watched(model, tmp_path)
    assert outcome.fraction == 1.0, outcome.message
    assert outcome.details["watched"] == ["the output of `vae_model.encoder` (first half)",
                                          "the output of `vae_model.encoder` (second half)", "the input of `vae_model.decoder`"]
    assert not model.training  # the grader's train-mode pass left the model as it was


def test_log_sigma_used_as_sigma_inside_forward_is_named_in_the_students_terms(tmp_path):
    outcome = watched(DictForward("log_sigma_as_sigma"), tmp_path)
    assert outcome.fraction == pytest.approx(0.2)  # fresh noise only
    assert outcome.message.startswith("inside `DictForward.forward` (`vae_model`), z is mu + log_sigma * eps, not mu + "
                                      "exp(log_sigma) * eps: the log_sigma is used as the standard deviation itself")


def test_one_noise_draw_shared_by_the_batch_inside_forward_is_named(tmp_path):
    outcome = watched(DictForward("one_eps_for_the_batch"), tmp_path)
    assert outcome.fraction == pytest.approx(0.5) and "one eps for the whole batch" in outcome.message


def test_a_forward_that_never_reaches_a_watched_part_says_which(tmp_path):
    class Skips(DictForward):
        def forward(self, x):
            return {"rec": x}
    outcome = watched(Skips(), tmp_path)
    assert outcome.fraction == 0.0 and "never went through the output of `vae_model.encoder`" in outcome.message
