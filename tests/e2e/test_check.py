"""`vaegrade check` as a student runs it in the bundle's folder: the failing public checks named, nothing hidden shown."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from tests.conftest import ROOT
from vaegrade.grader.assignment.bundle import write_bundle
from vaegrade.grader.rubric.public import find_leaks, hidden_needles
from vaegrade.grader.rubric.schema import load_rubric

RUBRIC = ROOT / "rubrics" / "vae_mnist.yaml"


def rubric_with_unmistakable_hidden_inputs(tmp_path):
    """The flagship rubric with its hidden check's inputs changed to numbers no measurement prints
    by chance: a diverging model's rounded figures (a distance of 20, say) would otherwise match the
    hidden case ``D: 20`` on one machine and not on another."""
    hidden = "      mu: {dist: normal, scale: 6.5, shape: [B, D]}\n" \
             "      logvar: {dist: uniform, low: -9.5, high: 4.5, shape: [B, D]}\n" \
             "    cases: [{B: 64, D: 20}, {B: 3, D: 1}]\n"
    marked = "      mu: {dist: normal, scale: 6.1357, shape: [B, D]}\n" \
             "      logvar: {dist: uniform, low: -9.2468, high: 4.8642, shape: [B, D]}\n" \
             "    cases: [{B: 6173, D: 2953}, {B: 3, D: 1}]\n"
    assert RUBRIC.read_text().count(hidden) == 1
    (tmp_path / "rubrics").mkdir(parents=True)
    (tmp_path / "submissions").symlink_to(ROOT / "submissions")
    (tmp_path / "rubrics" / RUBRIC.name).write_text(RUBRIC.read_text().replace(hidden, marked))
    return load_rubric(tmp_path / "rubrics" / RUBRIC.name)


def test_vaegrade_check_on_a_flawed_sample_names_the_failing_public_checks(tmp_path):
    rubric = rubric_with_unmistakable_hidden_inputs(tmp_path / "instructor")
    assert {"6.1357", "-9.2468", "4.8642", "6173", "2953"} <= set(hidden_needles(rubric))
    write_bundle(rubric, tmp_path)
    shutil.copy(ROOT / "submissions" / "vae_mnist" / "samples" / "flawed_kl_sign.ipynb", tmp_path / "mine.ipynb")
    run = subprocess.run([sys.executable, "-m", "vaegrade.grader.cli", "check", "mine.ipynb"], cwd=tmp_path,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 1, run.stderr
    last = run.stdout.splitlines()
    failing = next(line for line in last if line.startswith("not passed: "))
    assert {"kl_divergence", "vae_loss"} <= set(failing.removeprefix("not passed: ").split(", "))
    assert "model_interface" not in failing
    page = (tmp_path / "vaegrade-check" / "mine" / "feedback.html").read_text()
    assert "1 hidden check(s) worth 5 points" in page and "1 hidden check(s) worth 5 points" in run.stdout
    needles = hidden_needles(rubric)
    for shown in (run.stdout, page, (tmp_path / "vaegrade-check" / "mine" / "result.json").read_text()):
        assert find_leaks(needles, shown) == []

