"""A batch's coordinator: usage errors said before anything is graded, and workers' results read without importing torch."""

from __future__ import annotations

import pickle
import subprocess
import sys

import nbformat

from tests.classes import CORRECT_KL
from tests.conftest import ROOT
from vaegrade.grader.batch.grade import Graded, internal_error
from vaegrade.grader.cli.main import main
from vaegrade.grader.rubric.schema import load_rubric
from vaegrade.grader.run.record import environment
from vaegrade.grader.run.submissions import find_submissions

RUBRIC = ROOT / "tests" / "data" / "hostile.yaml"


def test_only_with_a_name_that_is_not_there_says_which_names_are(tmp_path, capsys):
    folder = tmp_path / "class"
    folder.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CORRECT_KL)]), folder / "ada.ipynb")
    assert main(["grade", str(folder), "--rubric", str(RUBRIC), "--out", str(tmp_path / "out"), "--only", "adda",
                 "--isolation", "none"]) == 2
    assert "--only names no submission here: adda (found: ada)" in capsys.readouterr().err


def test_the_coordinator_reads_a_workers_result_without_importing_torch():
    """A worker's result reaches the coordinator pickled; it must unpickle there without importing
    torch. `torch.__version__` is a `TorchVersion`, so recording it as such in the environment
    made the coordinator import torch (2 s of CPU, under the kernels' load up to 5 s, during
    which the pool fed no worker) on the batch's first result."""
    rubric = load_rubric(ROOT / "rubrics" / "vae_mnist.yaml")
    submission = find_submissions([ROOT / "submissions" / "vae_mnist" / "handout.ipynb"])[0]
    sent = pickle.dumps(Graded(internal_error(submission, rubric, "an example"), {}))
    read = subprocess.run([sys.executable, "-c", "import pickle, sys; import vaegrade.grader.batch.grade; "
                           "graded = pickle.loads(sys.stdin.buffer.read()); "
                           "print(graded.row.result.environment['torch'], 'torch' in sys.modules)"],
                          input=sent, capture_output=True, cwd=ROOT, check=True)
    version, imported = read.stdout.decode().split()
    assert version == environment(rubric)["torch"] and imported == "False"

