"""Every shipped assignment (a folder of ``submissions/`` with an ``assignment.yaml``) passes
``vaegrade validate`` in the sandbox, as a course's CI runs it before release: the Keras ones in
their TensorFlow kernel environment. ``vae_mnist`` is validated by ``test_end_to_end.py``'s
fixture (with its calibration rerun), whose results the golden tests there read; here the
calibration rerun is left out to keep the suite's time (its code is the same for every rubric)."""

from __future__ import annotations

import pytest

from grader.cli import main
from tests.conftest import ROOT

ASSIGNMENTS = sorted(path.parent for path in (ROOT / "submissions").glob("*/assignment.yaml"))


def test_the_flagship_and_the_five_course_assignments_are_among_them():
    assert {folder.name for folder in ASSIGNMENTS} >= {"vae_mnist", "csci566_vae", "ca4_vae", "vad_distributions",
                                                       "keras_vae_lab", "vae_modification_report"}


@pytest.mark.slow
@pytest.mark.parametrize("folder", [f for f in ASSIGNMENTS if f.name != "vae_mnist"], ids=lambda f: f.name)
def test_shipped_assignment_validates(folder, tmp_path):
    assert main(["validate", str(folder), "--out", str(tmp_path), "--isolation", "bubblewrap",
                 "--calibration-runs", "0", "--jobs", "2"]) == 0
