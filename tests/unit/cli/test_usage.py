"""Every usage error is one line on stderr and exit status 2, before any work starts: paths that
cannot be what they name, a verb that does not exist, a rubric's unknown key at its own line."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from vaegrade.grader.cli.main import main

RUBRIC = ROOT / "rubrics" / "vae_mnist.yaml"
HANDOUT = ROOT / "submissions" / "vae_mnist" / "handout.ipynb"


def said(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and captured.out == "", captured
    return lines[0]


def test_out_naming_a_file_is_refused_before_anything_runs(tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    assert main(["grade", str(HANDOUT), "--rubric", str(RUBRIC), "--out", str(tmp_path / "taken")]) == 2
    assert said(capsys) == (f"vaegrade: argument --out: {tmp_path / 'taken'} is a file, not a folder: name a new or "
                            "existing folder (see `vaegrade grade --help`)")


def test_export_into_a_missing_folder_is_refused(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--format", "long-csv", "--to", str(tmp_path / "nope" / "grades.csv")]) == 2
    assert said(capsys) == (f"vaegrade: argument --to: {tmp_path / 'nope' / 'grades.csv'}: its folder {tmp_path / 'nope'} "
                            "does not exist (create it first) (see `vaegrade export --help`)")


@pytest.mark.parametrize("argv, expected", [
    (["grade", "missing.ipynb", "--rubric", str(RUBRIC), "--out", "out"],
     "vaegrade: argument submissions: missing.ipynb does not exist (see `vaegrade grade --help`)"),
    (["grade", str(HANDOUT)], "vaegrade: the following arguments are required: --rubric, --out (see `vaegrade grade --help`)"),
    (["grades"], ("vaegrade: argument verb: invalid choice: 'grades' (choose from 'grade', 'check', 'calibrate', 'report', "
                  "'summary', 'export', 'review', 'bundle', 'validate', 'gradescope') (see `vaegrade --help`)")),
    (["bundle", "--rubric", str(RUBRIC), "--out", "b", "--wheel", str(RUBRIC)],
     f"vaegrade: argument --wheel: {RUBRIC} is not a wheel (.whl) (see `vaegrade bundle --help`)"),
])
def test_a_mistyped_command_is_one_line(argv, expected, capsys):
    assert main(argv) == 2
    assert said(capsys) == expected


def test_a_rubric_typo_is_reported_at_the_unknown_keys_own_line_with_what_it_misspells(tmp_path, capsys):
    text = RUBRIC.read_text()
    assert "    output_shape: [B]\n" in text
    typo = tmp_path / "rubric.yaml"
    typo.write_text(text.replace("    output_shape: [B]\n", "    output_shap: [B]\n", 1))
    line = next(number for number, row in enumerate(typo.read_text().splitlines(), 1) if "output_shap:" in row)
    assert main(["grade", str(HANDOUT), "--rubric", str(typo), "--out", str(tmp_path / "out")]) == 2
    assert said(capsys).startswith(f"vaegrade: {typo}:{line}: checks.0.function.output_shap: unknown key `output_shap` "
                                   "(did you mean `output_shape`?)")
