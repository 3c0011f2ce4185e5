"""Before release: the student bundle holds nothing hidden; validation names each difference from the golden outcomes."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from vaegrade.grader.assignment.bundle import write_bundle
from vaegrade.grader.assignment.validate import compare_with_golden
from vaegrade.grader.errors import RubricError
from vaegrade.grader.results import CheckResult, SubmissionResult
from vaegrade.grader.rubric.public import find_leaks, hidden_needles
from vaegrade.grader.rubric.schema import load_rubric

RUBRIC = ROOT / "rubrics" / "vae_mnist.yaml"


@pytest.fixture(scope="module")
def rubric():
    return load_rubric(RUBRIC)


def test_a_missing_handout_is_said_when_bundling(tmp_path):
    (tmp_path / "r.yaml").write_text(RUBRIC.read_text())  # ../submissions/vae_mnist/handout.ipynb is not there
    with pytest.raises(RubricError, match="handout"):
        write_bundle(load_rubric(tmp_path / "r.yaml"), tmp_path / "bundle")


def test_the_bundle_holds_nothing_hidden(rubric, tmp_path):
    written = write_bundle(rubric, tmp_path / "bundle")
    assert sorted(p.name for p in written) == ["README.md", "handout.ipynb", "mnist.npz", "vae_mnist.public.yaml"]
    needles = hidden_needles(rubric)
    assert {"kl_divergence_extremes", "6.5", "-9.5", "4.5"} <= set(needles)  # its id, inputs' scale and range
    for path in written:
        if path.suffix == ".npz":
            continue
        assert find_leaks(needles, path.read_text(encoding="utf-8")) == [], path.name
    public = load_rubric(tmp_path / "bundle" / "vae_mnist.public.yaml")
    assert all(c.visibility == "visible" for c in public.checks) and public.seed != rubric.seed
    readme = (tmp_path / "bundle" / "README.md").read_text()
    assert "1 hidden check(s) worth 5 points" in readme and "vaegrade check handout.ipynb" in readme
    assert "ask your\ninstructor for its wheel" in readme
    # the search finds a leak where there is one: the instructor's own rubric is full of them
    assert set(find_leaks(needles, RUBRIC.read_text())) == set(needles)


def test_compare_with_golden_names_each_difference():
    result = SubmissionResult(submission="s", rubric="r", score=10, max_score=20, status="graded", checks=[
        CheckResult(id="a", title="A", status="passed", score=10, max_score=10, message=""),
        CheckResult(id="b", title="B", status="partial", score=4.5, max_score=10, message="")])
    golden = {"status": "graded", "checks": {"a": ["passed", 10.0], "b": ["partial", 5.0]}}
    assert compare_with_golden(result, golden) == []
    golden["checks"]["b"] = ["partial", 3.0]
    assert compare_with_golden(result, golden) == ["b scored 4.5, golden 3"]
    golden["checks"]["a"] = ["failed", 0.0]
    assert compare_with_golden(result, golden)[0] == "a passed, golden failed"



def test_the_slowest_correct_solution_sets_each_band():
    from vaegrade.grader.assignment.calibrate import slowest

    bce = {"reference.ipynb": [76.0, 77.5], "deeper_mlp.ipynb": [104.2, 105.9], "small_lr.ipynb": [98.0, 99.0]}
    assert slowest("bce", bce) == "deeper_mlp.ipynb"  # a loss: the highest mean
    coverage = {"reference.ipynb": [10, 10], "deeper_mlp.ipynb": [9, 10], "small_lr.ipynb": [8, 9]}
    assert slowest("classes_covered", coverage) == "small_lr.ipynb"  # higher is better: the lowest mean
