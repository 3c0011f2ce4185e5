"""The working directory of one run: handout files appear read-only where the rubric puts them,
in folders the notebook can write in."""

from __future__ import annotations

import pytest

from vaegrade.grader.rubric.policy import ExecutionPolicy
from vaegrade.grader.run.isolation import isolator
from vaegrade.grader.run.workspace import Workspace


@pytest.fixture
def workspace():
    made = Workspace.create(isolator("none", ExecutionPolicy()))
    yield made
    made.remove()


def test_a_handout_file_lands_at_its_destination_read_only_in_a_writable_folder(tmp_path, workspace):
    (tmp_path / "mnist_subset.csv").write_text("label,pixels\n")
    workspace.provision(tmp_path / "mnist_subset.csv", "dataset/mnist/train.csv")
    placed = workspace.work / "dataset" / "mnist" / "train.csv"
    assert placed.read_text() == "label,pixels\n"
    (workspace.work / "dataset" / "mnist" / "predictions.csv").write_text("the notebook writes beside it")
    workspace.provision(tmp_path / "mnist_subset.csv", "dataset/test.csv")  # a folder made once serves both
    assert sorted(p.name for p in (workspace.work / "dataset").iterdir()) == ["mnist", "test.csv"]
