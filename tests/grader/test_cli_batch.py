"""`vaegrade grade` for scripts and reruns: `--json` prints one parseable object per submission,
`--only NAME --force` grades just that student again and leaves the others' results as they were,
and output to a file (not a terminal) has no progress bar, only lines and a closing count. A
worker's result reaches the coordinator without making it import torch."""

import json
import pickle
import subprocess
import sys

import nbformat
import pytest

from grader import api
from grader.cli import main
from grader.rubric import load_rubric
from grader.submissions import find_submissions
from tests.conftest import ROOT
from tests.grader.hostile_corpus import CORRECT_KL, WRONG_KL

RUBRIC = ROOT / "tests" / "data" / "hostile.yaml"


@pytest.mark.slow
def test_json_lines_then_a_forced_rerun_of_one_student(tmp_path, capsys):
    folder, out = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    for name, source in (("ada", CORRECT_KL), ("bob", WRONG_KL)):
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)]), folder / f"{name}.ipynb")
    assert main(["grade", str(folder), "--rubric", str(RUBRIC), "--out", str(out), "--jobs", "1", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["submission"], r["score"], r["status"], r["reused"]) for r in lines] == [
        ("ada", 10.0, "graded", False), ("bob", 0.0, "graded", False)]
    bob_before = (out / "bob" / "result.json").stat().st_mtime_ns

    assert main(["grade", str(folder), "--rubric", str(RUBRIC), "--out", str(out), "--jobs", "1", "--json",
                 "--only", "ada", "--force"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["submission"], r["reused"]) for r in lines] == [("ada", False)]  # graded again, bob not shown
    assert (out / "bob" / "result.json").stat().st_mtime_ns == bob_before
    assert [row.split(",")[0] for row in (out / "gradebook.csv").read_text().splitlines()[1:]] == ["ada", "bob"]

    assert main(["grade", str(folder), "--rubric", str(RUBRIC), "--out", str(out), "--jobs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "ada: 10/10 graded (already graded)" in printed and "\x1b[" not in printed  # no terminal codes in a log
    assert "2 of 2 submission(s): 0 graded, 0 errors, 2 already graded" in printed


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
    sent = pickle.dumps(api.Graded(api.internal_error(submission, rubric, "an example"), {}))
    read = subprocess.run([sys.executable, "-c", "import pickle, sys; import grader.api; "
                           "graded = pickle.loads(sys.stdin.buffer.read()); "
                           "print(graded.row.result.environment['torch'], 'torch' in sys.modules)"],
                          input=sent, capture_output=True, cwd=ROOT, check=True)
    version, imported = read.stdout.decode().split()
    assert version == api.environment(rubric)["torch"] and imported == "False"
