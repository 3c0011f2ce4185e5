"""The objects real notebooks have, reached by the real kernel-side probe run in this process:
a function taking the model, a nested output, a per-dimension KL, a mean squared error, an
interpolation function taking images and the models, a decoder on a 0-255 scale, an encoder
whose mu has an extra axis, an autoencoder's encoder without a scale, a conditional model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.unit.evidence import context, probed
from vaegrade.grader.checks.functions import FunctionCheck
from vaegrade.grader.checks.interpolation import InterpolationCheck
from vaegrade.grader.checks.model import ModelInterfaceCheck
from vaegrade.grader.probe.interface import ModelSpec

KL_ARGS = {"mu": {"dist": "normal", "scale": 1.5, "shape": ["B", "D"]},
           "logvar": {"dist": "uniform", "low": -2.0, "high": 1.0, "shape": ["B", "D"]}}


class Coder(nn.Module):
    """A small VAE whose encoder and decoder can take the shapes notebooks give them."""

    def __init__(self, latent: int = 4, extra_axis: bool = False, pixels: bool = False, classes: int = 0) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.latent, self.extra_axis, self.pixels, self.classes = latent, extra_axis, pixels, classes
        self.enc = nn.Linear(784 + classes, 2 * latent)
        self.dec = nn.Linear(latent + classes, 784)

    def encode(self, x, y=None):
        h = self.enc(x.reshape(len(x), -1) if y is None else torch.cat([x.reshape(len(x), -1), y], dim=1))
        mu, logvar = h.chunk(2, dim=1)
        return (mu[:, None], logvar[:, None]) if self.extra_axis else (mu, logvar)

    def decode(self, z, y=None):
        z = z.reshape(len(z), -1)
        out = torch.sigmoid(self.dec(z if y is None else torch.cat([z, y], dim=1)))
        return out * 255 if self.pixels else out

    def kl(self, mu, logvar):
        return 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1)


def kl_check(**fields) -> FunctionCheck:
    return FunctionCheck(**{"id": "kl", "title": "kl", "points": 1, "reference": "kl_normal_std", "args": KL_ARGS,
                            "cases": [{"B": 5, "D": 3}], "output_shape": ["B"], "grad": ["mu", "logvar"], **fields})


def judged(check, namespace: dict, made_in=None) -> tuple[float, str]:  # noqa: ANN001 (any check)
    made_in = made_in or context()
    outcome = check.evaluate(probed(check.probes(made_in), namespace, made_in))
    return outcome.fraction, outcome.message


def test_a_function_taking_the_model_and_one_returning_a_nested_output_are_reached():
    model = Coder()
    by_model = kl_check(function="kl_from", call=[{"object": "model"}, "mu", "logvar"])
    assert judged(by_model, {"model": model, "kl_from": lambda m, mu, logvar: m.kl(mu, logvar)})[0] == 1.0
    nested = kl_check(function="losses", output=[1, "kl_loss"])
    assert judged(nested, {"losses": lambda mu, logvar: (mu.sum(), {"kl_loss": model.kl(mu, logvar)})})[0] == 1.0
    fraction, message = judged(nested, {"losses": lambda mu, logvar: (mu.sum(), {"kl": model.kl(mu, logvar)})})
    assert fraction == 0.0 and "the output has no key 'kl_loss'" in message


def test_a_per_dimension_kl_and_a_mean_squared_error_have_their_references():
    per_dimension = kl_check(function="kl", reference="kl_normal_std_per_dimension", output_shape=["B", "D"])
    right = {"kl": lambda mu, logvar: 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)}
    assert judged(per_dimension, right)[0] == 1.0
    assert judged(per_dimension, {"kl": lambda mu, logvar: 0.5 * (mu ** 2 + logvar.exp() - logvar)})[0] == 0.0
    mse = FunctionCheck(id="mse", title="mse", points=1, function="mse", reference="gaussian_reconstruction",
                        reference_options={"pixels": "mean"}, batch="mean",
                        args={"x": {"dist": "test_images", "shape": ["B", 784]},
                              "x_hat": {"dist": "uniform", "low": 0.0, "high": 1.0, "shape": ["B", 784]}},
                        cases=[{"B": 6}], output_shape=[], grad=["x_hat"])
    assert judged(mse, {"mse": lambda x, x_hat: F.mse_loss(x_hat, x)})[0] == 1.0
    assert judged(mse, {"mse": lambda x, x_hat: F.mse_loss(x_hat, x, reduction="sum")})[0] == 0.0


def test_an_interpolation_taking_two_images_and_the_models_is_judged_on_its_images():
    model = Coder()
    spec = ModelSpec(encode={"call": "model.encode"}, decode={"call": "model.decode"}, layout="B,784", latent=None)
    check = InterpolationCheck(id="interp", title="t", points=1, function="create_interpolates", takes="images",
                               objects=["model.encode", "model.decode"], pairs=2, steps=5, arrays="tensor")

    def create_interpolates(a, b, encode, decode, latent_space=True):
        if not latent_space:  # blends the pixels: its ends are the images, not their reconstructions
            return torch.stack([(1 - t) * a + t * b for t in torch.linspace(0, 1, 5)]).reshape(5, 784)
        (mu_a, _), (mu_b, _) = encode(a), encode(b)
        return decode(torch.cat([(1 - t) * mu_a + t * mu_b for t in torch.linspace(0, 1, 5)]))

    made_in = context(model=spec)
    fraction, _ = judged(check, {"model": model, "create_interpolates": create_interpolates}, made_in)
    blended, message = judged(check, {"model": model, "create_interpolates": lambda *args: create_interpolates(
        *args, latent_space=False)}, made_in)
    assert fraction > blended and "endpoint" in message


@pytest.mark.parametrize("model, spec", [
    (Coder(pixels=True), {"decode": {"call": "model.decode", "returns": "pixels"}}),
    (Coder(extra_axis=True), {}),
    (Coder(classes=10), {"conditional": "onehot"}),
], ids=["decoder on 0-255", "mu of shape (B, 1, D)", "conditional, one-hot"])
def test_model_forms_real_notebooks_have_pass_the_interface(model, spec):
    spec = ModelSpec(**{"encode": {"call": "model.encode"}, "decode": {"call": "model.decode"}, "layout": "B,784",
                        "latent": "model.latent", **spec})
    fraction, message = judged(ModelInterfaceCheck(id="i", title="t", points=1), {"model": model}, context(model=spec))
    assert fraction == 1.0, message


def test_an_autoencoders_encoder_without_a_scale_is_read_as_mu_alone():
    ae = nn.Sequential(nn.Linear(784, 4))
    spec = ModelSpec(encode={"call": "ae", "outputs": ["mu"]}, decode={"call": "decoder"}, layout="B,784", latent=None)
    namespace = {"ae": ae, "decoder": nn.Sequential(nn.Linear(4, 784), nn.Sigmoid())}
    fraction, message = judged(ModelInterfaceCheck(id="i", title="t", points=1), namespace, context(model=spec))
    assert fraction == 1.0 and "scale" not in message.split("pass")[0], message


def test_a_sampler_taking_one_concatenated_parameter_tensor_is_a_reparameterization():
    from vaegrade.grader.checks.reparameterization import ReparameterizationCheck

    check = ReparameterizationCheck(id="r", title="t", points=1, function="sample",
                                    call=[{"join": ["mu", {"arg": "logvar", "as": "log_sigma"}]}])

    def sample(q):
        mu, log_sigma = q.chunk(2, dim=-1)
        return mu + torch.exp(log_sigma) * torch.randn_like(mu)

    fraction, message = judged(check, {"sample": sample})
    assert fraction == 1.0, message
    wrong, message = judged(check, {"sample": lambda q: q.chunk(2, dim=-1)[0] + q.chunk(2, dim=-1)[1] * torch.randn_like(
        q.chunk(2, dim=-1)[0])})
    assert wrong < 1.0, message
