"""The function checks (function, reparameterization) on synthetic evidence: reference values, shapes and gradients, samplers of three latent families judged by KS tests and pathwise gradients, arguments in the student's parametrization."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.evidence import context, evidence
from vaegrade.grader.checks.functions import FunctionCheck
from vaegrade.grader.checks.reparameterization import ReparameterizationCheck
from vaegrade.grader.probe.interface import ArgSpec


def test_student_arguments_are_converted_and_gradients_map_back(mnist):
    check = ReparameterizationCheck(id="r", title="r", points=1, function="f", call=["mu", {"arg": "logvar", "as": "sigma"}])
    (request,) = check.probes(context())
    logvar = request.inputs["logvar"].astype("float64")
    assert request.grad == ["arg0", "arg1"]
    assert request.inputs["arg1"] == pytest.approx(__import__("numpy").exp(logvar / 2), rel=1e-5)
    kl = FunctionCheck(id="k", title="k", points=1, function="kl", reference="kl_normal_std",
                       args={"mu": {"dist": "normal", "shape": ["B", "D"]},
                             "logvar": {"dist": "uniform", "low": -1, "high": 1, "shape": ["B", "D"]}},
                       call=["mu", ArgSpec(arg="logvar", **{"as": "var"}), ArgSpec(value=0.0, like="mu")],
                       cases=[{"B": 2, "D": 3}], output_shape=["B"], grad=["mu", "logvar"])
    (request,) = kl.probes(context())
    assert sorted(request.inputs) == ["arg0", "arg1", "arg2", "logvar", "mu"] and not request.inputs["arg2"].any()
    assert request.grad == ["arg0", "arg1"] and request.args == [{"array": "arg0"}, {"array": "arg1"}, {"array": "arg2"}]


def test_a_dict_argument_is_laid_out_key_by_key(mnist):
    loss = FunctionCheck(id="l", title="l", points=1, function="vae_model.loss", reference="negative_elbo", output=0,
                         args={"x": {"dist": "test_images", "shape": ["B", 784]},
                               "x_hat": {"dist": "uniform", "low": 0.1, "high": 0.9, "shape": ["B", 784]},
                               "mu": {"dist": "normal", "shape": ["B", "D"]},
                               "logvar": {"dist": "uniform", "low": -1, "high": 1, "shape": ["B", "D"]}},
                         call=["x", {"fields": {"rec": "x_hat", "mu": "mu", "log_sigma": {"arg": "logvar", "as": "log_sigma"}}}],
                         cases=[{"B": 2, "D": 3}], output_shape=[], grad=["x_hat", "mu", "logvar"])
    (request,) = loss.probes(context())
    assert request.args == [{"array": "arg0"}, {"dict": {"rec": {"array": "arg1.rec"}, "mu": {"array": "arg1.mu"},
                                                          "log_sigma": {"array": "arg1.log_sigma"}}}]
    assert request.grad == ["arg1.rec", "arg1.mu", "arg1.log_sigma"]
    assert request.inputs["arg1.log_sigma"] == pytest.approx(request.inputs["logvar"] / 2)
    assert loss.describe_array(loss.args, "arg1.log_sigma") == "logvar as log_sigma (['log_sigma'] of argument 2)"




def test_a_kl_summed_over_the_batch_is_checked_against_the_reduced_reference(mnist):
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

