"""Small classes of notebooks graded under the KL rubric (``tests/data/hostile.yaml``: one
10-point check, the student's ``kl_divergence`` against the closed form), for the tests of a
batch's machinery (gradebook, exports, late policy, workers) that need real kernels but no
training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import yaml

from tests.conftest import ROOT

KL_RUBRIC = ROOT / "tests" / "data" / "hostile.yaml"
CORRECT_KL = """import torch
def kl_divergence(mu, logvar):
    return 0.5 * torch.sum(mu ** 2 + logvar.exp() - 1 - logvar, dim=1)"""
WRONG_KL = """import torch
def kl_divergence(mu, logvar):
    return torch.zeros(mu.shape[0])"""


def kl_rubric(path: Path, **sections: Any) -> Path:
    """Write the KL rubric to ``path`` with time limits that allow several kernels importing torch
    at once on two cores (its own 10 s cell limit is about what that takes on a loaded machine),
    and ``sections`` (``late``, ``checks``) set; return ``path``."""
    rubric = yaml.safe_load(KL_RUBRIC.read_text())
    rubric["execution"].update(cell_timeout=120, notebook_timeout=240)
    rubric.update(sections)
    path.write_text(yaml.safe_dump(rubric))
    return path


def write_class(folder: Path, notebooks: dict[str, list[str]]) -> Path:
    """A class folder with one notebook per name, made of the given code cells; return ``folder``."""
    folder.mkdir(parents=True)
    for name, cells in notebooks.items():
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), folder / f"{name}.ipynb")
    return folder
