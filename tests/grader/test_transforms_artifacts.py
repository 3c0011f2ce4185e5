"""Notebook transforms and safe artifact reading."""

import os

import nbformat
import numpy as np
import pytest

from grader import artifacts, transforms
from grader.errors import ArtifactError
from tests.conftest import ROOT

HANDOUT = ROOT / "submissions" / "vae_mnist" / "handout.ipynb"


def test_parameters_go_right_after_the_tagged_cell_and_seed_cell_first():
    nb = nbformat.read(HANDOUT, as_version=4)
    seeded = transforms.inject_seed_cell(nb, seed=7, threads=1)
    prepared, found = transforms.inject_parameters(seeded, {"epochs": 2, "n_train": 500})
    assert found
    assert "injected-seed" in prepared.cells[0].metadata.tags and "manual_seed(7)" in prepared.cells[0].source
    tagged = next(i for i, c in enumerate(prepared.cells) if "parameters" in c.metadata.get("tags", []))
    assert prepared.cells[tagged + 1].source.endswith("epochs = 2\nn_train = 500")
    assert len(prepared.cells) == len(nb.cells) + 2 and len(nb.cells) == len(nbformat.read(HANDOUT, as_version=4).cells)


def test_missing_parameters_cell_is_reported_and_values_go_first():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("epochs = 30")])
    prepared, found = transforms.inject_parameters(transforms.inject_seed_cell(nb, 0, 1), {"epochs": 2})
    assert not found
    assert [transforms.is_injected(c) for c in prepared.cells] == [True, True, False]


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
    from grader.checks.base import ProbeRequest

    requests = [ProbeRequest("a", "call"), ProbeRequest("b", "call")]
    outputs = artifacts.read_outputs(tmp_path, requests)
    assert "no usable manifest" in outputs["a"].error
    (tmp_path / "manifest.json").write_text('{"a": {"ok": false, "error": "NameError: x"}, "b": {"ok": true}}')
    outputs = artifacts.read_outputs(tmp_path, requests)
    assert outputs["a"].error == "NameError: x" and "missing" in outputs["b"].error
