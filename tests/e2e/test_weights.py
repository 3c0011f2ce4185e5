"""Handed-in trained weights (the flagship rubric's ``weights:``), graded for real in the sandbox:
the reference solution's own weights earn full marks after a 50-step training; weights from another
architecture are refused with the mismatching parameters named; an untrained model's weights score
as an untrained model does; a training loop that does not learn loses ``learning`` even with good
weights; a rubric that requires weights fails the model checks of a notebook without them, saying so."""

from __future__ import annotations

import shutil

import nbformat
import pytest
import torch

from tests.conftest import ROOT
from vaegrade.grader.cli.main import main
from vaegrade.grader.results import load_result
from vaegrade.grader.rubric.schema import load_rubric
from vaegrade.grader.run.grade import grade_submission, locate_files
from vaegrade.grader.run.submissions import Submission

SAMPLES = ROOT / "submissions" / "vae_mnist" / "samples"
RUBRIC = ROOT / "rubrics" / "vae_mnist.yaml"
SLOWER = ("alternative_deeper_mlp", "alternative_small_lr")  # correct, but learn more slowly per step
MODEL_CHECKS = {"reconstruction", "decoder_uses_z", "training_copies", "active_units", "sample_quality"}


def untrained_state() -> dict[str, torch.Tensor]:
    """A freshly initialised model of the reference solution's own class, built from its cells."""
    nb = nbformat.read(SAMPLES / "reference_solution.ipynb", as_version=4)
    namespace: dict = {}
    exec("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F", namespace)
    for cell in nb.cells:
        if cell.cell_type == "code" and ("def reparameterize" in cell.source or "class VAE" in cell.source):
            exec(cell.source, namespace)
    return namespace["model"].state_dict()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One batch: the reference with its weights (in a student's own folder, as vae.pt), with weights
    of another architecture, with an untrained model's, a non-learning training with good weights,
    and the slower-learning variants with their weights and without (retrained at the budget)."""
    folder = tmp_path_factory.mktemp("weights")
    (folder / "student_a").mkdir()
    shutil.copy(SAMPLES / "reference_solution.ipynb", folder / "student_a" / "my_vae.ipynb")
    shutil.copy(SAMPLES / "reference_solution.pt", folder / "student_a" / "vae.pt")
    good = torch.load(SAMPLES / "reference_solution.pt", weights_only=True)
    other = {**good, "to_mu.weight": torch.zeros(20, 400), "to_mu.bias": torch.zeros(20)}
    other["extra.weight"] = other.pop("to_logvar.weight")
    for name, state in (("other_architecture", other), ("untrained_weights", untrained_state())):
        shutil.copy(SAMPLES / "reference_solution.ipynb", folder / f"{name}.ipynb")
        torch.save(state, folder / f"{name}.pt")
    for variant in SLOWER:
        shutil.copy(SAMPLES / f"{variant}.ipynb", folder / f"{variant}.ipynb")
        shutil.copy(SAMPLES / f"{variant}.pt", folder / f"{variant}.pt")
        shutil.copy(SAMPLES / f"{variant}.ipynb", folder / f"{variant}_retrained.ipynb")
    shutil.copy(SAMPLES / "flawed_no_optimizer_step.ipynb", folder / "no_step_good_weights.ipynb")
    shutil.copy(SAMPLES / "reference_solution.pt", folder / "no_step_good_weights.pt")
    code = main(["grade", str(folder), "--rubric", str(RUBRIC), "--out", str(folder / "out"), "--jobs", "2", "--quiet"])
    assert code == 0
    return {path.name: load_result(path) for path in (folder / "out").iterdir() if (path / "result.json").exists()}


def losing(result) -> dict[str, str]:
    return {check.id: check.message for check in result.checks if check.status != "passed"}


def test_the_students_own_trained_weights_earn_full_marks_after_a_short_training(graded):
    result = graded["my_vae"]  # a submission is named by its notebook
    assert result.score == result.max_score, losing(result)
    assert result.execution.adaptations[0] == ("your trained weights (`vae.pt`) were loaded into `model` after cell 10, the "
                                               "last that trains; your training ran first at the short budget epochs = 2, "
                                               "n_train = 3200")
    learning = next(check for check in result.checks if check.id == "learning")
    assert "over its 50 steps" in learning.message


def test_weights_of_another_architecture_are_refused_with_the_mismatch_named(graded):
    lost = losing(graded["other_architecture"])
    assert set(lost) == MODEL_CHECKS
    message = lost["reconstruction"]
    assert message.startswith("not judged: your trained weights could not be loaded: `other_architecture.pt` into `model`")
    assert "`to_mu.weight` is (20, 400) in the file but (16, 400) in the notebook's model" in message
    assert "missing from the file: `to_logvar.weight`" in message and "in the file but not in the model: `extra.weight`" in message


def test_an_untrained_models_weights_score_as_an_untrained_model(graded):
    result = graded["untrained_weights"]
    lost = losing(result)
    assert {"reconstruction", "sample_quality"} <= set(lost) and "learning" not in lost  # its training code learns
    reconstruction = next(check for check in result.checks if check.id == "reconstruction")
    assert reconstruction.score == 0 and reconstruction.details["bce"] > 400  # an untrained decoder's ~540 nats


def test_a_training_that_does_not_learn_loses_learning_even_with_good_weights(graded):
    lost = losing(graded["no_step_good_weights"])
    assert "learning" in lost and not MODEL_CHECKS & set(lost)
    assert "your training's loss fell by" in lost["learning"]


def test_a_rubric_requiring_weights_fails_the_model_checks_of_a_notebook_without_them(tmp_path):
    rubric = load_rubric(RUBRIC)
    rubric = rubric.model_copy(update={"weights": rubric.weights.model_copy(update={"required": True})})
    shutil.copy(SAMPLES / "reference_solution.ipynb", tmp_path / "no_weights.ipynb")
    submission = locate_files(Submission("no_weights", tmp_path / "no_weights.ipynb"), rubric)
    result = grade_submission(submission, rubric, tmp_path / "out").result
    lost = losing(result)
    assert set(lost) == MODEL_CHECKS
    assert lost["sample_quality"] == ("not judged: no trained weights were handed in: save them as the handout does, "
                                      "to `vae.pt`, and hand that file in beside your notebook")


@pytest.mark.parametrize("variant", SLOWER)
def test_a_slower_learning_correct_variant_earns_full_marks_with_its_weights(graded, variant):
    result = graded[variant]
    assert result.score == result.max_score, losing(result)


@pytest.mark.parametrize("variant", SLOWER)
def test_retrained_at_the_budget_a_slower_variant_is_under_trained_never_judged_broken(graded, variant):
    result = graded[f"{variant}_retrained"]
    lost = losing(result)
    assert lost and set(lost) <= MODEL_CHECKS, lost
    for check in result.checks:
        assert "-like" not in check.message, check.message
        if check.id in lost:
            assert check.message.startswith("under-trained at the grading budget: measured "), check.message
            assert check.score >= check.max_score / 2 and check.details["under_trained"] is True
    assert "see the learning curve under `learning`" in next(iter(lost.values()))
