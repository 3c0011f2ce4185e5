"""The public view of a rubric: the visible checks only, another seed, nothing hidden in it."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import ROOT
from vaegrade.grader.errors import RubricError
from vaegrade.grader.rubric.public import find_leaks, public_data, public_seed, public_view
from vaegrade.grader.rubric.schema import load_rubric

RUBRIC = ROOT / "rubrics" / "vae_mnist.yaml"


@pytest.fixture(scope="module")
def rubric():
    return load_rubric(RUBRIC)


def test_public_view_keeps_visible_checks_and_another_seed(rubric):
    view = public_view(rubric)
    assert [c.id for c in view.checks] == [c.id for c in rubric.checks if c.visibility != "hidden"]
    assert "kl_divergence_extremes" not in [c.id for c in view.checks]
    assert view.seed == public_seed(rubric) != rubric.seed
    assert (view.withheld.hidden_checks, view.withheld.hidden_points) == (1, 5.0)
    assert view.max_score == rubric.max_score - 5


def test_written_questions_are_withheld_from_the_public_view():
    rubric = load_rubric(ROOT / "tests" / "data" / "report_grading.yaml")
    view = public_view(rubric)
    assert view.report is None and view.withheld.written_points == sum(rubric.report_points().values()) > 0


def test_a_number_in_an_exponent_is_not_a_leak():
    assert find_leaks(["20", "4.5"], "a KL of 2.36e+20 per dim, 1.2E-20, 14.5 and 4.55") == []
    assert find_leaks(["20", "4.5"], "cases: [{B: 64, D: 20}], high: 4.5") == ["20", "4.5"]


def test_a_public_rubric_seed_does_not_reveal_the_grading_seed(rubric):
    data = public_data(rubric)
    assert data["seed"] != rubric.seed and "report" not in data
    assert yaml.safe_dump(data).count("kl_divergence_extremes") == 0


def test_visibility_typo_is_a_rubric_error_with_its_line(tmp_path):
    text = RUBRIC.read_text().replace("visibility: hidden", "visibility: secret")
    (tmp_path / "r.yaml").write_text(text)
    with pytest.raises(RubricError) as caught:
        load_rubric(tmp_path / "r.yaml")
    assert "visibility" in caught.value.message and caught.value.line == text.splitlines().index(
        "    visibility: secret") + 1

