"""`vaegrade grade` for scripts and reruns: `--json` prints one parseable object per submission,
`--only NAME --force` grades just that student again and leaves the others' results as they were,
and output to a file (not a terminal) has no progress bar, only lines and a closing count. A
worker's result reaches the coordinator without making it import torch."""

import json

import nbformat

from tests.classes import CORRECT_KL, WRONG_KL
from tests.conftest import ROOT
from vaegrade.grader.cli.main import main

RUBRIC = ROOT / "tests" / "data" / "hostile.yaml"


def test_json_lines_then_a_forced_rerun_of_one_student(tmp_path, capsys, quiet):
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


