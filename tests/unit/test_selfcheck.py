"""Self-check, run here in-process on a namespace of real student-style functions (as it runs in
a student's kernel); its agreement with grading on real notebooks is in ``tests/e2e`` (``vaegrade
validate`` from an installed wheel, ``vaegrade check``)."""

from __future__ import annotations

import shutil

import pytest
import torch

from tests.conftest import ROOT
from vaegrade.grader.assignment.bundle import write_bundle
from vaegrade.grader.errors import RubricError
from vaegrade.grader.rubric.public import find_leaks, hidden_needles, public_view
from vaegrade.grader.rubric.schema import load_rubric
from vaegrade.grader.selfcheck import SelfCheck

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




def test_a_loss_recorded_from_the_training_is_skipped_and_says_where_it_is_judged(tmp_path):
    """The steps ran before self-check did: only grading (or `vaegrade check`) records them."""
    shape = ROOT / "rubrics" / "shapes" / "torch_loop_inline_loss.yaml"
    selfcheck = SelfCheck()
    selfcheck.use(shape)
    selfcheck.namespace = {}
    loss = selfcheck("loss").checks[0]
    assert loss.status == "skipped" and "recorded from the notebook's first cell" in loss.message
