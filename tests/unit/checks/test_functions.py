"""The function checks (function, reparameterization) on synthetic evidence: reference values, shapes and gradients, samplers of three latent families judged by KS tests and pathwise gradients, arguments in the student's parametrization."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.evidence import context, evidence
from vaegrade.grader.checks.functions import FunctionCheck, ReparameterizationCheck
from vaegrade.grader.probe.interface import ArgSpec


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


def test_student_arguments_are_converted_and_gradients_map_back(mnist):
    check = ReparameterizationCheck(id="r", title="r", points=1, function="f", call=["mu", {"arg": "logvar", "as": "sigma"}])
    (request,) = check.probes(context())
    logvar = request.inputs["logvar"].astype("float64")
    assert request.config["grad"] == ["arg0", "arg1"]
    assert request.inputs["arg1"] == pytest.approx(__import__("numpy").exp(logvar / 2), rel=1e-5)
    kl = FunctionCheck(id="k", title="k", points=1, function="kl", reference="kl_normal_std",
                       args={"mu": {"dist": "normal", "shape": ["B", "D"]},
                             "logvar": {"dist": "uniform", "low": -1, "high": 1, "shape": ["B", "D"]}},
                       call=["mu", ArgSpec(arg="logvar", **{"as": "var"}), ArgSpec(value=0.0, like="mu")],
                       cases=[{"B": 2, "D": 3}], output_shape=["B"], grad=["mu", "logvar"])
    (request,) = kl.probes(context())
    assert sorted(request.inputs) == ["arg0", "arg1", "arg2", "logvar", "mu"] and not request.inputs["arg2"].any()
    assert request.config["grad"] == ["arg0", "arg1"] and request.config["args"] == ["arg0", "arg1", "arg2"]


def test_a_dict_argument_is_laid_out_key_by_key(mnist):
    loss = FunctionCheck(id="l", title="l", points=1, function="vae_model.loss", reference="negative_elbo", output=0,
                         args={"x": {"dist": "test_images", "shape": ["B", 784]},
                               "x_hat": {"dist": "uniform", "low": 0.1, "high": 0.9, "shape": ["B", 784]},
                               "mu": {"dist": "normal", "shape": ["B", "D"]},
                               "logvar": {"dist": "uniform", "low": -1, "high": 1, "shape": ["B", "D"]}},
                         call=["x", {"fields": {"rec": "x_hat", "mu": "mu", "log_sigma": {"arg": "logvar", "as": "log_sigma"}}}],
                         cases=[{"B": 2, "D": 3}], output_shape=[], grad=["x_hat", "mu", "logvar"])
    (request,) = loss.probes(context())
    assert request.config["args"] == ["arg0", {"rec": "arg1.rec", "mu": "arg1.mu", "log_sigma": "arg1.log_sigma"}]
    assert request.config["grad"] == ["arg1.rec", "arg1.mu", "arg1.log_sigma"]
    assert request.inputs["arg1.log_sigma"] == pytest.approx(request.inputs["logvar"] / 2)
    assert loss.describe_array(loss.args, "arg1.log_sigma") == "logvar as log_sigma (['log_sigma'] of argument 2)"


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


def test_a_kl_summed_over_the_batch_is_checked_against_the_reduced_reference(mnist):
    import numpy as np
    import torch

    from vaegrade.reference.kl import kl_normal_std

    spec = dict(id="k", title="k", points=1, function="kld", reference="kl_normal_std",
                args={"mu": {"dist": "normal", "shape": ["B", "D"]},
                      "logvar": {"dist": "uniform", "low": -1, "high": 1, "shape": ["B", "D"]}},
                cases=[{"B": 4, "D": 3}], output_shape=[], grad=["mu", "logvar"])
    summed = FunctionCheck(**spec, batch="sum")
    (request,) = summed.probes(context())
    mu, logvar = (torch.tensor(request.inputs[k], dtype=torch.float64, requires_grad=True) for k in ("arg0", "arg1"))
    total = kl_normal_std(mu, logvar).sum()  # what `-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())` returns
    total.backward()
    arrays = {"output": np.array(total.item()), "grad_arg0": mu.grad.numpy(), "grad_arg1": logvar.grad.numpy()}
    assert summed.evaluate(evidence([request], {request.key: arrays})).fraction == 1.0
    per_example = FunctionCheck(**{**spec, "output_shape": ["B"]})
    assert per_example.evaluate(evidence([request], {request.key: arrays})).fraction == 0.0
    with pytest.raises(ValueError, match="already returns one value per batch"):
        FunctionCheck(**{**spec, "reference": "negative_elbo", "grad": []}, batch="sum")

