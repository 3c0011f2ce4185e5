"""Every shipped assignment (a folder of ``submissions/`` with an ``assignment.yaml``) passes
``vaegrade validate``, as a course's CI runs it before release. ``vae_mnist`` is validated by
``test_end_to_end.py``'s fixture, whose results the golden tests there read."""

from __future__ import annotations

import pytest

from grader.cli import main
from tests.conftest import ROOT

ASSIGNMENTS = sorted(path.parent for path in (ROOT / "submissions").glob("*/assignment.yaml"))


def test_the_flagship_assignment_is_among_them():
    assert ROOT / "submissions" / "vae_mnist" in ASSIGNMENTS


@pytest.mark.slow
@pytest.mark.parametrize("folder", [f for f in ASSIGNMENTS if f.name != "vae_mnist"], ids=lambda f: f.name)
def test_shipped_assignment_validates(folder, tmp_path):
    assert main(["validate", str(folder), "--out", str(tmp_path), "--isolation", "bubblewrap",
                 "--calibration-runs", "1"]) == 0
