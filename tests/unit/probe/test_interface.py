"""Locators and the model's interface as the kernel receives them, and the kernel-side probe run
in this process on a namespace, as a student's kernel runs it."""

from __future__ import annotations

import nbformat
import torch

from tests.unit.evidence import context
from vaegrade.grader.checks.base import Evidence
from vaegrade.grader.checks.model import ModelInterfaceCheck
from vaegrade.grader.probe import artifacts
from vaegrade.grader.probe.cell import KERNEL_SOURCE
from vaegrade.grader.probe.interface import LAYOUTS, EncodeSpec, FoundBy, ModelSpec, layout_shape, locator_config
from vaegrade.reference.data import DATASETS


def test_locators_and_outputs_become_the_kernels_config():
    assert locator_config("model.encode") == {"paths": [[{"name": "model"}, {"attr": "encode"}]], "names": ["model.encode"]}
    assert locator_config(["loss_function", "vae_loss"])["paths"] == [[{"name": "loss_function"}], [{"name": "vae_loss"}]]
    assert locator_config("models[0.1].decoder")["paths"] == [[{"name": "models"}, {"item": 0.1}, {"attr": "decoder"}]]
    assert locator_config('runs["beta=5"][-1]')["paths"] == [[{"name": "runs"}, {"item": "beta=5"}, {"item": -1}]]
    assert locator_config(FoundBy(instance_of="VAE", attr="loss")) == {"instance_of": "VAE", "attr": [{"attr": "loss"}]}
    assert EncodeSpec(call="encoder", outputs=["mu", "logvar", "z"]).config()["select"] == {"mu": 0, "scale": 1}
    assert EncodeSpec(call="m", outputs={"mu": "mu", "log_sigma": "ls"}).config()["select"] == {"mu": "mu", "scale": "ls"}
    assert EncodeSpec(call="m", outputs=["_", "mu", "sigma"]).scale == "sigma"
    assert ModelSpec(layout="B,28,28,1").config(DATASETS["mnist"])["layout"] == [28, 28, 1]


def test_layouts_take_their_sizes_from_the_data_set():
    mnist = DATASETS["mnist"]
    assert {name: layout_shape(name, mnist) for name in ("B,1,H,W", "B,HW", "B,H,W,1", "B,784", "B,28,28")} == {
        "B,1,H,W": (1, 28, 28), "B,HW": (784,), "B,H,W,1": (28, 28, 1), "B,784": (784,), "B,28,28": (28, 28)}
    assert set(LAYOUTS.values()) == {"B,1,H,W", "B,H,W", "B,HW", "B,H,W,1"}


def test_the_probe_reads_a_distribution_object_and_a_bernoulli_decoder_found_by_items(tmp_path):
    """The kernel-side probe, run in this process on a namespace as the kernel would run it."""

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
    made_in = context(model=model)
    check = ModelInterfaceCheck(id="m", title="m", points=1)
    requests = check.probes(made_in)
    artifacts.write_requests(tmp_path, requests, 0, "torch")
    probe = {}
    exec(compile(KERNEL_SOURCE, "vaegrade_probe", "exec"), probe)
    probe["main"]({"parts": {"enc": Encoder()}, "models": {0.1: None, 0.5: Decoder()}, "sizes": [8, 2]}, str(tmp_path))
    outputs = artifacts.read_outputs(tmp_path, requests)
    outcome = check.evaluate(Evidence(requests={r.key: r for r in requests}, outputs=outputs,
                                      notebook=nbformat.v4.new_notebook(), context=made_in))
    assert outcome.fraction == 1.0, outcome.message
