"""Finding submissions in a class folder."""

from __future__ import annotations

import shutil

from tests.conftest import ROOT
from vaegrade.grader.run.submissions import find_submissions


def test_vaegrade_checks_own_output_is_not_a_submission(tmp_path):
    notebook = ROOT / "submissions" / "vae_mnist" / "handout.ipynb"
    (tmp_path / "alice" / "vaegrade-check" / "mine").mkdir(parents=True)
    shutil.copy(notebook, tmp_path / "alice" / "mine.ipynb")
    shutil.copy(notebook, tmp_path / "alice" / "vaegrade-check" / "mine" / "executed.ipynb")
    assert [s.path for s in find_submissions([tmp_path])] == [tmp_path / "alice" / "mine.ipynb"]

