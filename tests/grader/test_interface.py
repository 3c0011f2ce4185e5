"""The rubric's description of a notebook (where objects are, their conventions, parameters,
environment, files) is validated at load, with the file and line of the first problem."""

from pathlib import Path

import pytest

from grader.checks.functions import FunctionCheck, ReparameterizationCheck
from grader.checks.base import ProbeContext
from grader.errors import RubricError
from grader.interface import ArgSpec, EncodeSpec, FoundBy, ModelSpec, locator_config
from grader.rubric import load_rubric
from tests.conftest import ROOT

SHAPES = ROOT / "rubrics" / "shapes"


def mutated(tmp_path: Path, rubric: str, old: str, new: str) -> Path:
    text = (SHAPES / rubric).read_text()
    assert old in text
    path = tmp_path / rubric
    path.write_text(text.replace(old, new, 1))
    for name in ("files",):
        if (SHAPES / name).exists() and not (tmp_path / name).exists():
            (tmp_path / name).symlink_to(SHAPES / name)
    return path


@pytest.mark.parametrize("rubric, old, new, message", [
    ("csci566_dict_forward.yaml", "outputs: {mu: mu, log_sigma: log_sigma}", "outputs: {mu: mu, log_sd: log_sigma}",
     "unknown roles ['log_sd']"),
    ("csci566_dict_forward.yaml", "{arg: logvar, as: log_sigma}, prior_mu", "{arg: logvar, as: std}, prior_mu",
     "`as` must be one of"),
    ("csci566_dict_forward.yaml", "{arg: logvar, as: log_sigma}, prior_mu", "{arg: log_var, as: log_sigma}, prior_mu",
     "call names ['log_var']"),
    ("csci566_dict_forward.yaml", "function: vae_model.reparameterize", "function: vae_model..reparameterize",
     "is not a path such as `model.encode`"),
    ("csci566_dict_forward.yaml", "function: vae_model.reparameterize", "function: vae_model.get(1).reparameterize",
     "names, attributes and literal keys only"),
    ("torch_chunk_logits.yaml", "returns: logits", "returns: logit", "Input should be 'probabilities' or 'logits'"),
    ("torch_encoder_decoder_sigma.yaml", "layout: B,28,28", "layout: B,28,28,3", "Input should be"),
    ("pytorch_examples_loss_function.yaml", "reference_options: {reduction: sum}", "reference_options: {reduce: sum}",
     "negative_elbo takes no argument ['reduce']"),
    ("torch_variance_method.yaml", "{instance_of: GaussianVAE, attr: kl}", "{instance_of: GaussianVAE, new: GaussianVAE}",
     "exactly one of `instance_of`"),
    ("keras_functional.yaml", "keywords: [fit.epochs]", "keywords: [fit]", "is not function.keyword"),
    ("keras_functional.yaml", "framework: tensorflow", "framework: jax", "Input should be 'torch' or 'tensorflow'"),
    ("tf_keras_subclassed.yaml", "dataset: fashion_mnist", "dataset: cifar10", "Input should be 'mnist' or 'fashion_mnist'"),
    ("helpers_and_modules.yaml", "files/lab_utils.py", "files/lab_util.py", "is not a file beside the rubric"),
    ("keras_functional.yaml", "keys: {loss: loss, recon: reconstruction_loss, kl: kl_loss}", "keys: {loss: loss}",
     "keys must map each of"),
    ("torchvision_fashion_colab.yaml", 'comment: "samples from the prior"', 'comment: "samples from (the prior"',
     "is not a regular expression"),
])
def test_a_typo_is_reported_with_its_line(tmp_path, rubric, old, new, message):
    path = mutated(tmp_path, rubric, old, new)
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    assert message in str(caught.value)
    first_line = new.splitlines()[0].strip()[:12]
    lines = [i for i, text in enumerate(path.read_text().splitlines(), 1) if first_line in text]
    # the offending line, or the start of the entry that a rule over several fields belongs to
    assert caught.value.line is not None and any(0 <= line - caught.value.line <= 8 for line in lines), (caught.value, lines)


def test_every_shipped_rubric_loads():
    for path in [ROOT / "rubrics" / "vae_mnist.yaml", *SHAPES.glob("*.yaml")]:
        assert load_rubric(path).max_score > 0, path


def test_locators_and_outputs_become_the_kernels_config():
    assert locator_config("model.encode") == {"paths": [[{"name": "model"}, {"attr": "encode"}]], "names": ["model.encode"]}
    assert locator_config(["loss_function", "vae_loss"])["paths"] == [[{"name": "loss_function"}], [{"name": "vae_loss"}]]
    assert locator_config("models[0.1].decoder")["paths"] == [[{"name": "models"}, {"item": 0.1}, {"attr": "decoder"}]]
    assert locator_config('runs["beta=5"][-1]')["paths"] == [[{"name": "runs"}, {"item": "beta=5"}, {"item": -1}]]
    assert locator_config(FoundBy(instance_of="VAE", attr="loss")) == {"instance_of": "VAE", "attr": [{"attr": "loss"}]}
    assert EncodeSpec(call="encoder", outputs=["mu", "logvar", "z"]).config()["select"] == {"mu": 0, "scale": 1}
    assert EncodeSpec(call="m", outputs={"mu": "mu", "log_sigma": "ls"}).config()["select"] == {"mu": "mu", "scale": "ls"}
    assert EncodeSpec(call="m", outputs=["_", "mu", "sigma"]).scale == "sigma"
    assert ModelSpec(layout="B,28,28,1").config()["layout"] == [28, 28, 1]


def test_student_arguments_are_converted_and_gradients_map_back(mnist):
    check = ReparameterizationCheck(id="r", title="r", points=1, function="f", call=["mu", {"arg": "logvar", "as": "sigma"}])
    (request,) = check.probes(ProbeContext(seed=0, data=mnist, parameters={}))
    logvar = request.inputs["logvar"].astype("float64")
    assert request.config["grad"] == ["arg0", "arg1"]
    assert request.inputs["arg1"] == pytest.approx(__import__("numpy").exp(logvar / 2), rel=1e-5)
    kl = FunctionCheck(id="k", title="k", points=1, function="kl", reference="kl_normal_std",
                       args={"mu": {"dist": "normal", "shape": ["B", "D"]},
                             "logvar": {"dist": "uniform", "low": -1, "high": 1, "shape": ["B", "D"]}},
                       call=["mu", ArgSpec(arg="logvar", **{"as": "var"}), ArgSpec(value=0.0, like="mu")],
                       cases=[{"B": 2, "D": 3}], output_shape=["B"], grad=["mu", "logvar"])
    (request,) = kl.probes(ProbeContext(seed=0, data=mnist, parameters={}))
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
    (request,) = loss.probes(ProbeContext(seed=0, data=mnist, parameters={}))
    assert request.config["args"] == ["arg0", {"rec": "arg1.rec", "mu": "arg1.mu", "log_sigma": "arg1.log_sigma"}]
    assert request.config["grad"] == ["arg1.rec", "arg1.mu", "arg1.log_sigma"]
    assert request.inputs["arg1.log_sigma"] == pytest.approx(request.inputs["logvar"] / 2)
    assert loss.describe_array(loss.args, "arg1.log_sigma") == "logvar as log_sigma (['log_sigma'] of argument 2)"


def test_the_rubric_reference_page_is_complete_and_up_to_date():
    from grader import rubric_doc

    page, undocumented = rubric_doc.render()
    assert undocumented == []
    assert rubric_doc.PAGE.read_text(encoding="utf-8") == page, "run `python -m grader.rubric_doc`"
    for field in ("`framework`", "`instance_of`", "`fields`", "`keywords`", "`returns`", "`layout`", "`train_subset`"):
        assert field in page


def _evidence(request, arrays, mnist):
    import nbformat

    from grader.checks.base import Evidence, ProbeOutput

    return Evidence(requests={request.key: request}, outputs={request.key: ProbeOutput(arrays=arrays)},
                    notebook=nbformat.v4.new_notebook(), context=ProbeContext(seed=0, data=mnist, parameters={}))


def test_a_sampler_in_the_sigma_convention_is_judged_in_it(mnist):
    import numpy as np

    check = ReparameterizationCheck(id="r", title="r", points=1, function="sample", call=["mu", {"arg": "logvar", "as": "sigma"}])
    (request,) = check.probes(ProbeContext(seed=0, data=mnist, parameters={}))
    mu, sigma = request.inputs["arg0"].astype(np.float64), request.inputs["arg1"].astype(np.float64)
    eps = np.random.default_rng(1).standard_normal(mu.shape)
    right = {"output": mu + sigma * eps, "output_2": mu + sigma * eps[::-1], "grad_arg0": np.ones_like(mu), "grad_arg1": eps}
    assert check.evaluate(_evidence(request, right, mnist)).fraction == 1.0
    wrong = {"output": mu + np.log(sigma) * eps, "output_2": mu + np.log(sigma) * eps[::-1],
             "grad_arg0": np.ones_like(mu), "grad_arg1": eps / sigma}
    outcome = check.evaluate(_evidence(request, wrong, mnist))
    assert outcome.fraction == pytest.approx(0.2) and "is the sigma turned into the standard deviation correctly?" in outcome.message


def test_a_kl_summed_over_the_batch_is_checked_against_the_reduced_reference(mnist):
    import numpy as np
    import torch

    from reference.kl import kl_normal_std

    spec = dict(id="k", title="k", points=1, function="kld", reference="kl_normal_std",
                args={"mu": {"dist": "normal", "shape": ["B", "D"]},
                      "logvar": {"dist": "uniform", "low": -1, "high": 1, "shape": ["B", "D"]}},
                cases=[{"B": 4, "D": 3}], output_shape=[], grad=["mu", "logvar"])
    summed = FunctionCheck(**spec, batch="sum")
    (request,) = summed.probes(ProbeContext(seed=0, data=mnist, parameters={}))
    mu, logvar = (torch.tensor(request.inputs[k], dtype=torch.float64, requires_grad=True) for k in ("arg0", "arg1"))
    total = kl_normal_std(mu, logvar).sum()  # what `-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())` returns
    total.backward()
    arrays = {"output": np.array(total.item()), "grad_arg0": mu.grad.numpy(), "grad_arg1": logvar.grad.numpy()}
    assert summed.evaluate(_evidence(request, arrays, mnist)).fraction == 1.0
    per_example = FunctionCheck(**{**spec, "output_shape": ["B"]})
    assert per_example.evaluate(_evidence(request, arrays, mnist)).fraction == 0.0
    with pytest.raises(ValueError, match="already returns one value per batch"):
        FunctionCheck(**{**spec, "reference": "negative_elbo", "grad": []}, batch="sum")


def test_the_probe_reads_a_distribution_object_and_a_bernoulli_decoder_found_by_items(mnist, tmp_path):
    """The kernel-side probe, run in this process on a namespace as the kernel would run it."""
    import torch

    from grader import artifacts, transforms
    from grader.checks.model import ModelInterfaceCheck

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(784, 4)

        def forward(self, x):
            h = self.net(x.flatten(1))
            return torch.distributions.Normal(h[:, :2], torch.nn.functional.softplus(h[:, 2:]) + 1e-3)

    class Decoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(2, 784)

        def forward(self, z):
            return torch.distributions.Bernoulli(logits=self.net(z).view(-1, 1, 28, 28))

    model = ModelSpec(encode={"call": 'parts["enc"]', "outputs": {"mu": "loc", "sigma": "scale"}},
                      decode={"call": "models[0.5]", "output": "logits", "returns": "logits"}, latent="sizes[-1]")
    context = ProbeContext(seed=0, data=mnist, parameters={}, model=model)
    check = ModelInterfaceCheck(id="m", title="m", points=1)
    requests = check.probes(context)
    artifacts.write_requests(tmp_path, requests, 0, "torch")
    probe = {}
    exec(compile(transforms.PROBE_SOURCE, "vaegrade_probe", "exec"), probe)
    probe["main"]({"parts": {"enc": Encoder()}, "models": {0.1: None, 0.5: Decoder()}, "sizes": [8, 2]}, str(tmp_path))
    outputs = artifacts.read_outputs(tmp_path, requests)
    from grader.checks.base import Evidence
    import nbformat

    outcome = check.evaluate(Evidence(requests={r.key: r for r in requests}, outputs=outputs,
                                      notebook=nbformat.v4.new_notebook(), context=context))
    assert outcome.fraction == 1.0, outcome.message
