"""Malformed input: each kind gets a clear message in the result, the feedback and the CLI's
line, and the batch goes on; rubric errors stop the run with file and line before any notebook
runs. One batch holds every malformed notebook beside a good one."""

import json
import shutil

import nbformat
import pytest

from tests.classes import CORRECT_KL
from tests.classes import KL_RUBRIC as RUBRIC
from vaegrade.grader.cli.main import main
from vaegrade.grader.results import load_result
from vaegrade.grader.rubric.schema import load_rubric


def notebook(*sources: str, **metadata) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata.update({"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}, **metadata})
    return nb


def good_json(**changes) -> dict:
    data = json.loads(nbformat.writes(notebook(CORRECT_KL)))
    data.update(changes)
    return data


def without_ids() -> str:
    data = good_json()
    for cell in data["cells"]:
        del cell["id"]
    return json.dumps(data)


def nbformat3() -> str:
    return json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "old"}, "worksheets": [
        {"cells": [{"cell_type": "code", "input": CORRECT_KL, "language": "python", "outputs": [], "metadata": {}}],
         "metadata": {}}]})


def huge() -> str:
    nb = notebook(CORRECT_KL)
    nb.cells.append(nbformat.v4.new_markdown_cell("x" * (3 * 2**20)))
    return nbformat.writes(nb)


SAME_BYTES = nbformat.writes(notebook(CORRECT_KL, "# handed in twice"))
# name -> (file content: str or bytes; None for a folder with no notebook, expected score, phrase)
CASES = {
    "invalid_json": ("{not json", 0, "is not valid JSON at line 1, column 2 (expecting property name enclosed in double quotes)"),
    "truncated_json": (nbformat.writes(notebook(CORRECT_KL))[:150], 0, "is not valid JSON"),
    "empty_file": (b"", 0, "is empty (0 bytes)"),
    "binary_file": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), 0, "is not UTF-8 text (byte 0x89 at offset 0)"),
    "non_utf8": (nbformat.writes(notebook("# café\n" + CORRECT_KL)).encode("latin-1"), 0, "is not UTF-8 text (byte 0xe9"),
    "json_not_notebook": (json.dumps({"cells": []}), 0, "is JSON but not a Jupyter notebook (no `nbformat` field)"),
    "nbformat_5": (json.dumps(good_json(nbformat=5)), 0, "has nbformat 5; vaegrade reads nbformat 3 and 4"),
    "schema_invalid": (json.dumps(good_json(cells=[{"cell_type": "code", "source": 5, "metadata": {}, "outputs": [],
                                                   "execution_count": None, "id": "a"}])), 0,
                       "does not follow the notebook format"),
    "nbformat_3": (nbformat3(), 10, "your notebook was repaired: converted from nbformat 3 to 4"),
    "missing_cell_ids": (without_ids(), 10, "some cells had no id (required since nbformat 4.5); ids were added"),
    "r_kernel": (nbformat.writes(notebook("x <- 1", kernelspec={"name": "ir", "language": "R", "display_name": "R"})), 0,
                 "is written for R (kernel 'ir'), not Python"),
    "no_parameters_cell": (nbformat.writes(notebook(CORRECT_KL)), 10, "no cell is tagged `parameters`"),
    "huge_notebook": (huge(), 0, "is 3 MB, more than the 1 MB a notebook may be"),
    "duplicate_a": (SAME_BYTES, 10, "identical to the submission of duplicate_b (same bytes)"),
    "duplicate_b": (SAME_BYTES, 10, "identical to the submission of duplicate_a (same bytes)"),
    "folder_without_notebook": (None, 0, "this submission folder holds no .ipynb notebook"),
}
RUBRIC_ERRORS = {
    "unknown check": ("type: function\n", "type: functoin\n", ":18: checks.0: Input tag 'functoin'"),
    "bad threshold": ("points: 10\n", "points: 10\n    rtol: -1\n", ":20: checks.0.function.rtol: Input should be greater than 0"),
    "missing points": ("    points: 10\n", "", ": checks.0.function.points: Field required"),
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory, quiet):
    work = tmp_path_factory.mktemp("malformed")
    rubric = work / "rubric.yaml"
    text = RUBRIC.read_text().replace("  output_mb: 1\n", "  output_mb: 1\n  notebook_mb: 1\nparameters:\n  epochs: 1\n")
    rubric.write_text(text)
    folder = work / "class"
    folder.mkdir()
    for name, (content, _, _) in CASES.items():
        if content is None:
            (folder / name).mkdir()
            (folder / name / "answers.py").write_text("print('forgot the notebook')")
        elif isinstance(content, bytes):
            (folder / f"{name}.ipynb").write_bytes(content)
        else:
            (folder / f"{name}.ipynb").write_text(content, encoding="utf-8")
    shutil.copy(folder / "no_parameters_cell.ipynb", folder / "good.ipynb")
    out = work / "out"
    code = main(["grade", str(folder), "--rubric", str(rubric), "--out", str(out), "--jobs", "2"])
    return {"code": code, "out": out, "rubric": rubric, "folder": folder, "work": work}


def test_there_are_at_least_15_kinds():
    assert len(CASES) - 1 + len(RUBRIC_ERRORS) >= 15  # the duplicate pair is one kind


def test_the_batch_goes_on_and_exits_1(batch, capsys):
    assert batch["code"] == 1
    assert load_result(batch["out"] / "good").score == 10
    rows = (batch["out"] / "gradebook.csv").read_text().splitlines()
    assert len(rows) == 1 + len(CASES) + 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_malformed_input_gets_a_clear_message(batch, name):
    _, score, phrase = CASES[name]
    result = load_result(batch["out"] / name)
    assert result.score == score
    text = " ".join([result.error or ""] + (result.execution.warnings if result.execution else []))
    assert phrase in text
    page = (batch["out"] / name / "feedback.html").read_text().lower()
    assert phrase.split(" (")[0].lower() in page
    if score == 0:
        assert result.status == "error"


@pytest.mark.parametrize("kind", sorted(RUBRIC_ERRORS))
def test_rubric_errors_stop_before_any_notebook_runs(batch, kind, tmp_path, capsys):
    old, new, phrase = RUBRIC_ERRORS[kind]
    bad = tmp_path / "bad.yaml"
    text = RUBRIC.read_text()
    assert old in text
    bad.write_text(text.replace(old, new, 1))
    out = tmp_path / "out"
    assert main(["grade", str(batch["folder"]), "--rubric", str(bad), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"vaegrade: {bad}:") and phrase in error, error
    assert not out.exists()


def test_rubric_errors_name_the_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(RUBRIC.read_text().replace("    points: 10\n", "    points: ten\n"))
    with pytest.raises(Exception) as raised:
        load_rubric(bad)
    assert f"{bad}:19: checks.0.function.points" in str(raised.value)
