"""Notebook transforms and safe artifact reading."""

from __future__ import annotations

import os

import nbformat
import numpy as np
import pytest

from tests.conftest import ROOT
from vaegrade.grader.errors import ArtifactError
from vaegrade.grader.probe import artifacts
from vaegrade.grader.rubric.schema import Parameter
from vaegrade.grader.run import transforms
from vaegrade.grader.run.prepare import targets as parameter_targets
from vaegrade.grader.run.source import rewrite_parameters
from vaegrade.grader.run.transforms import is_injected, strip_reserved

HANDOUT = ROOT / "submissions" / "vae_mnist" / "handout.ipynb"


SETUP = {"seed": 7, "threads": 1, "framework": "torch", "datasets": {}}


def test_parameters_go_right_after_the_tagged_cell_and_setup_cell_first():
    nb = nbformat.read(HANDOUT, as_version=4)
    seeded = transforms.inject_setup_cell(nb, SETUP)
    prepared, found = transforms.inject_parameters(seeded, {"epochs": 2, "n_train": 500})
    assert found
    assert "injected-setup" in prepared.cells[0].metadata.tags and "'seed': 7" in prepared.cells[0].source
    tagged = next(i for i, c in enumerate(prepared.cells) if "parameters" in c.metadata.get("tags", []))
    assert prepared.cells[tagged + 1].source.endswith("epochs = 2\nn_train = 500")
    assert len(prepared.cells) == len(nb.cells) + 2 and len(nb.cells) == len(nbformat.read(HANDOUT, as_version=4).cells)


def test_missing_parameters_cell_is_reported_and_values_go_first():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    prepared, found = transforms.inject_parameters(transforms.inject_setup_cell(nb, SETUP), {"epochs": 2})
    assert not found
    assert [transforms.is_injected(c) for c in prepared.cells] == [True, True, False]


def test_untagged_parameters_are_rewritten_where_the_notebook_sets_them():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Training"),
        nbformat.v4.new_code_cell("!pip install torchvision\nnum_epochs = 30  # as in the handout\nprint(num_epochs)"),
        nbformat.v4.new_code_cell("def train(model, epochs=10):\n    pass\nhist = vae.fit(x, epochs=30, batch_size=128)"),
    ])
    targets = parameter_targets({"epochs": Parameter(value=2, names=["num_epochs"], keywords=["fit.epochs"])})
    prepared, tagged, rewrites = transforms.set_parameters(nb, {"epochs": 2}, targets)
    assert not tagged and len(prepared.cells) == 3
    assert prepared.cells[1].source == "!pip install torchvision\nnum_epochs = 2  # as in the handout\nprint(num_epochs)"
    assert prepared.cells[2].source == "def train(model, epochs=2):\n    pass\nhist = vae.fit(x, epochs=2, batch_size=128)"
    assert rewrites == ["cell 2, line 2: `num_epochs = ...` 30 -> 2", "cell 3, line 1: the default of `epochs` in `train` 10 -> 2",
                        "cell 3, line 3: `fit(..., epochs=...)` 30 -> 2"]


def test_a_parameter_already_at_its_grading_value_counts_as_found():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("seed = 0\nepochs = 30")])
    targets = parameter_targets({"seed": Parameter(value=0), "epochs": Parameter(value=2)})
    prepared, _, rewrites = transforms.set_parameters(nb, {"seed": 0, "epochs": 2}, targets)
    assert prepared.cells[0].source == "seed = 0\nepochs = 2" and len(prepared.cells) == 1  # nothing set before the cells
    assert rewrites == ["cell 1, line 1: `seed = ...` 0 (already the grading value)", "cell 1, line 2: `epochs = ...` 30 -> 2"]


def test_untagged_notebook_without_the_names_gets_the_values_first():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("for epoch in range(3): pass")])
    prepared, tagged, rewrites = transforms.set_parameters(nb, {"epochs": 2}, parameter_targets({"epochs": Parameter(value=2)}))
    assert not tagged and rewrites == [] and prepared.cells[0].source.endswith("epochs = 2")


def test_clear_outputs_removes_saved_outputs():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", outputs=[nbformat.v4.new_output("stream", text="PASSED")])])
    assert transforms.clear_outputs(nb).cells[0].outputs == [] and nb.cells[0].outputs


def test_symlinked_artifact_is_refused(tmp_path):
    (tmp_path / "real.npz").write_bytes(b"x")
    os.symlink(tmp_path / "real.npz", tmp_path / "link.npz")
    with pytest.raises(ArtifactError, match="cannot be opened safely"):
        artifacts.read_npz(tmp_path / "link.npz")


def test_pickled_and_non_numeric_artifacts_are_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "objects.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ArtifactError, match="without pickles"):
        artifacts.read_npz(tmp_path / "objects.npz")
    os.mkfifo(tmp_path / "fifo.npz")
    with pytest.raises(ArtifactError, match="not a regular file"):
        artifacts.read_npz(tmp_path / "fifo.npz")
    (tmp_path / "big.json").write_bytes(b"0" * (2 * 1024 * 1024))
    with pytest.raises(ArtifactError, match="more than"):
        artifacts.read_json(tmp_path / "big.json")


def test_manifest_errors_become_probe_outputs(tmp_path):
    from vaegrade.grader.probe.requests import RecordedRequest

    requests = [RecordedRequest(key="a", record="x"), RecordedRequest(key="b", record="x")]
    outputs = artifacts.read_outputs(tmp_path, requests)
    assert "no usable manifest" in outputs["a"].error
    (tmp_path / "manifest.json").write_text('{"a": {"ok": false, "error": "NameError: x"}, "b": {"ok": true}}')
    outputs = artifacts.read_outputs(tmp_path, requests)
    assert outputs["a"].error == "NameError: x" and "missing" in outputs["b"].error


def test_parameters_in_configs_are_rewritten_only_where_they_are_numbers():
    source = ('config = {"epochs": 30, "history": []}\nargs.epochs = 20\ncfg["epochs"] = 10\nepochs, lr = 5, 1e-3\n'
              'log = {"epochs": []}\nlog["epochs"] = []\nself_epochs = 3')
    rewritten, notes = rewrite_parameters(source, parameter_targets({"epochs": Parameter(value=2)}))
    assert rewritten == ('config = {"epochs": 2, "history": []}\nargs.epochs = 2\ncfg["epochs"] = 2\nepochs, lr = 2, 1e-3\n'
                         'log = {"epochs": []}\nlog["epochs"] = []\nself_epochs = 3')
    assert len(notes) == 4 and notes[0] == "line 1: the dict entry 'epochs' 30 -> 2"


@pytest.mark.parametrize("loop, rewritten", [
    ("for epoch in range(30):", "for epoch in range(2):"),
    ("for epoch in range(0, 30):", "for epoch in range(0, 2):"),
    ("for epoch in range(1, 30 + 1):", "for epoch in range(1, 2 + 1):"),
    ("for epoch in range(1, 31):", "for epoch in range(1, 3):"),
    ("for epoch in tqdm(range(30)):", "for epoch in tqdm(range(2)):"),
    ("for epoch in trange(30):", "for epoch in trange(2):"),
    ("for epoch in range(n_epochs):", "for epoch in range(n_epochs):"),   # a variable: its own assignment is the target
    ("for epoch in range(5, 30):", "for epoch in range(5, 30):"),         # not a count
    ("for i in range(30):", "for i in range(30):"),                       # another loop
])
def test_epoch_loops_over_a_literal_range_run_the_grading_count(loop, rewritten):
    source = f"{loop}\n    train_one_epoch()"
    result, notes = rewrite_parameters(source, parameter_targets({"epochs": Parameter(value=2, loops=["epoch"])}))
    assert result == f"{rewritten}\n    train_one_epoch()"
    assert len(notes) == (loop != rewritten)


def test_positional_literals_are_rewritten_and_per_call_values_taken_in_notebook_order():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("ae_losses = train(100, ae, loader)\nvae_losses = train(100, vae, loader, beta=1)"),
        nbformat.v4.new_code_cell("for beta in betas:\n    train(n_epochs, models[beta], loader)\ntrain(100, tuned, loader)"),
    ])
    spec = Parameter(value=3, positions=["train.0"], per_call=[1, 2])
    prepared, _, rewrites = transforms.set_parameters(nb, {"epochs": 3}, parameter_targets({"epochs": spec}))
    assert prepared.cells[0].source == "ae_losses = train(1, ae, loader)\nvae_losses = train(2, vae, loader, beta=1)"
    assert prepared.cells[1].source.endswith("train(n_epochs, models[beta], loader)\ntrain(2, tuned, loader)")
    assert rewrites[0] == "cell 1, line 1: argument 1 of `train(...)` 100 -> 1" and len(rewrites) == 3
    with pytest.raises(ValueError, match="not function.index"):
        Parameter(value=3, positions=["train"])
    with pytest.raises(ValueError, match="must be an int"):
        Parameter(value=3, loops=["epoch"], per_call=[1.5])


def test_forged_grader_markers_are_stripped_and_reported():
    cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError")]
    cells[1].metadata = {"tags": ["injected-probe", "keep"], "vaegrade": {"injected": True}}
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"vaegrade": {"injected": True}})
    stripped, notes = strip_reserved(nb)
    assert not any(is_injected(cell) for cell in stripped.cells) and "vaegrade" not in stripped.metadata
    assert stripped.cells[1].metadata["tags"] == ["keep"]
    assert notes == ["cell 2 carried the grader's reserved tag `injected-probe` and `vaegrade` metadata: removed before grading"]
    assert is_injected(cells[1])  # the student's notebook itself is left as it was

