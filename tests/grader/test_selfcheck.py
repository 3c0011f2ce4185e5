"""Self-check, hidden checks, the student bundle and the public rubric.

Self-check runs here in-process on a namespace of real student-style functions (as it runs in a
student's kernel); the end-to-end agreement with grading on real notebooks is in
``test_wheel.py`` (``vaegrade validate`` from an installed wheel) and ``vaegrade check`` below.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch
import yaml

from grader.errors import RubricError
from grader.public import find_leaks, hidden_needles, public_data, public_seed, public_view, write_bundle
from grader.results import CheckResult, SubmissionResult
from grader.rubric import load_rubric
from grader.selfcheck import SelfCheck
from grader.validate import compare_with_golden
from tests.conftest import ROOT

RUBRIC = ROOT / "rubrics" / "vae_mnist.yaml"

CORRECT = """
import torch
def kl_divergence(mu, logvar):
    return 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1)
def reparameterize(mu, logvar):
    return mu + torch.randn_like(mu) * (0.5 * logvar).exp()
"""
KL_NO_HALF = """
def kl_divergence(mu, logvar):
    return (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1)
"""
NOISE_SHARED_BY_THE_BATCH = """
import torch
def reparameterize(mu, logvar):
    return mu + torch.randn(mu.shape[1]) * (0.5 * logvar).exp()
"""


def namespace(*sources: str) -> dict:
    scope: dict = {}
    for source in sources:
        exec(source, scope)
    return scope


@pytest.fixture
def check(tmp_path) -> SelfCheck:
    selfcheck = SelfCheck()
    selfcheck.use(RUBRIC)
    return selfcheck


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


def test_a_missing_handout_is_said_when_bundling(tmp_path):
    (tmp_path / "r.yaml").write_text(RUBRIC.read_text())  # ../submissions/vae_mnist/handout.ipynb is not there
    with pytest.raises(RubricError, match="handout"):
        write_bundle(load_rubric(tmp_path / "r.yaml"), tmp_path / "bundle")


def test_the_bundle_holds_nothing_hidden(rubric, tmp_path):
    written = write_bundle(rubric, tmp_path / "bundle")
    assert sorted(p.name for p in written) == ["README.md", "handout.ipynb", "vae_mnist.public.yaml"]
    needles = hidden_needles(rubric)
    assert {"kl_divergence_extremes", "6.5", "-9.5", "4.5"} <= set(needles)  # its id, inputs' scale and range
    for path in written:
        assert find_leaks(needles, path.read_text(encoding="utf-8")) == [], path.name
    public = load_rubric(tmp_path / "bundle" / "vae_mnist.public.yaml")
    assert all(c.visibility == "visible" for c in public.checks) and public.seed != rubric.seed
    readme = (tmp_path / "bundle" / "README.md").read_text()
    assert "1 hidden check(s) worth 5 points" in readme and "vaegrade check handout.ipynb" in readme
    # the search finds a leak where there is one: the instructor's own rubric is full of them
    assert set(find_leaks(needles, RUBRIC.read_text())) == set(needles)


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


def test_function_checks_on_live_objects(check):
    check.namespace = namespace(CORRECT)
    result = check("kl_divergence", "reparameterize")
    assert [c.status for c in result.checks] == ["passed", "passed"]
    assert result.passed and result.seed != 0


def test_kl_off_by_the_half_factor_is_told_what_was_expected(check):
    check.namespace = namespace(CORRECT, KL_NO_HALF)
    kl = check("kl_divergence").checks[0]
    assert kl.status == "failed" and "expected" in kl.message and "got" in kl.message


def test_noise_shared_by_the_batch_is_named(check):
    check.namespace = namespace(NOISE_SHARED_BY_THE_BATCH)
    result = check("reparameterize").checks[0]
    assert result.status != "passed" and "every example of the batch got the same noise" in result.message


def test_hidden_check_is_unknown_to_selfcheck_and_announced_only_by_its_points(check):
    check.namespace = namespace(CORRECT)
    with pytest.raises(KeyError) as caught:
        check("kl_divergence_extremes")
    assert "KL divergence on sharp" not in str(caught.value)
    result = check("kl_divergence")
    shown = str(result) + result._repr_html_()
    assert "1 hidden check(s) worth 5 points are graded only when you submit" in shown
    assert find_leaks(hidden_needles(load_rubric(RUBRIC)), shown) == []
    assert "without a sandbox" in shown


def test_missing_model_is_a_failed_check_not_an_exception(check):
    check.namespace = namespace(CORRECT)
    result = check.all()
    by_id = {c.id: c for c in result.checks}
    assert by_id["model_interface"].status == "failed" and "model" in by_id["model_interface"].message
    assert by_id["figures"].status == "skipped" and "vaegrade check" in by_id["figures"].message
    assert not result.passed


def test_selfcheck_leaves_the_students_random_state_and_training_mode(check):
    check.namespace = namespace(CORRECT, "import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.train()")
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check("reparameterize", "model_interface")
    assert torch.equal(torch.rand(3), expected)
    assert check.namespace["model"].training


def test_public_rubric_is_found_in_the_bundle_folder(rubric, tmp_path, monkeypatch):
    write_bundle(rubric, tmp_path)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.delenv("VAEGRADE_RUBRIC", raising=False)
    found = SelfCheck()
    assert [c.id for c in found.rubric().checks] == [c.id for c in public_view(rubric).checks]
    shutil.copy(tmp_path / "vae_mnist.public.yaml", tmp_path / "work" / "other.public.yaml")
    shutil.copy(tmp_path / "vae_mnist.public.yaml", tmp_path / "work" / "third.public.yaml")
    with pytest.raises(RubricError, match="several public rubrics"):
        SelfCheck().rubric()


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


@pytest.mark.slow
def test_vaegrade_check_on_a_flawed_sample_names_the_failing_public_checks(tmp_path):
    rubric = rubric_with_unmistakable_hidden_inputs(tmp_path / "instructor")
    assert {"6.1357", "-9.2468", "4.8642", "6173", "2953"} <= set(hidden_needles(rubric))
    write_bundle(rubric, tmp_path)
    shutil.copy(ROOT / "submissions" / "vae_mnist" / "samples" / "flawed_kl_sign.ipynb", tmp_path / "mine.ipynb")
    run = subprocess.run([sys.executable, "-m", "grader.cli", "check", "mine.ipynb"], cwd=tmp_path,
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


def test_figures_are_judged_on_the_saved_notebook_when_its_path_is_known(check, tmp_path):
    import nbformat

    def figure_cell(tag):
        cell = nbformat.v4.new_code_cell("plt.show()", metadata={"tags": [tag]})
        cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})]
        return cell

    notebook = nbformat.v4.new_notebook(cells=[figure_cell("reconstructions")])
    nbformat.write(notebook, tmp_path / "mine.ipynb")
    check.namespace, check.notebook = namespace(CORRECT), tmp_path / "mine.ipynb"
    assert check("figures").checks[0].status == "partial"  # one of the two figures
    notebook.cells.append(figure_cell("prior-samples"))
    nbformat.write(notebook, tmp_path / "mine.ipynb")
    assert check("figures").checks[0].status == "passed"


def test_vaegrade_checks_own_output_is_not_a_submission(tmp_path):
    from grader.submissions import find_submissions

    notebook = ROOT / "submissions" / "vae_mnist" / "handout.ipynb"
    (tmp_path / "alice" / "vaegrade-check" / "mine").mkdir(parents=True)
    shutil.copy(notebook, tmp_path / "alice" / "mine.ipynb")
    shutil.copy(notebook, tmp_path / "alice" / "vaegrade-check" / "mine" / "executed.ipynb")
    assert [s.path for s in find_submissions([tmp_path])] == [tmp_path / "alice" / "mine.ipynb"]
