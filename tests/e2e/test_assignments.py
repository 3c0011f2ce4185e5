"""Every shipped assignment (a folder of ``submissions/`` with an ``assignment.yaml``) passes
``vaegrade validate`` in the sandbox, as a course's CI runs it before release: the Keras ones in
their TensorFlow kernel environment. Each is graded once, in the background, by the farm
(:mod:`tests.e2e.farm`); ``vae_mnist`` is validated from the wheel there (with its calibration
rerun) and read by ``test_flagship.py``; here the calibration rerun is left out (its code is the
same for every rubric)."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from tests.e2e.farm import COURSES

ASSIGNMENTS = sorted(path.parent.name for path in (ROOT / "submissions").glob("*/assignment.yaml"))


def test_the_flagship_and_the_five_course_assignments_are_all_validated():
    assert ASSIGNMENTS == sorted(["vae_mnist", *COURSES])


@pytest.mark.parametrize("name", COURSES)
def test_shipped_assignment_validates(farm, name):
    outcome = farm.outcome(f"validate:{name}")
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    lines = outcome.stdout.splitlines()
    assert lines[-1] == "valid" and all(line.startswith("ok  ") for line in lines[:-1])
