"""The shapes corpus (submissions/shapes/, built by its build.py): VAE notebooks as courses
write them (PyTorch and Keras/TensorFlow, objects in methods and classes, other conventions,
data loaders, no tags, Colab and GPU code, Keras 2, TensorFlow 1.x), each graded unchanged in the
sandbox by its own rubric (rubrics/shapes/) and kernel environment. Correct notebooks get full marks;
each seeded bug loses points on its own checks and on no other; what cannot run gets its named status.
"""

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT
from vaegrade.grader.cli.main import main
from vaegrade.grader.results import load_result

SHAPES = ROOT / "submissions" / "shapes"
RUBRICS = ROOT / "rubrics" / "shapes"

#: shape -> {notebook: the checks it must lose points on (empty: full marks)}
EXPECTED = {
    "csci566_dict_forward": {"csci566_dict_forward": set(), "flawed_log_sigma_as_sigma": {"reparameterize"}},
    "keras_functional": {"keras_functional": set()},
    "tf_keras_subclassed": {"tf_keras_subclassed": set(), "flawed_kl_no_half": {"kl_loss"}},
    "torch_encoder_decoder_sigma": {"torch_encoder_decoder_sigma": set(), "flawed_kl_mean_over_dims": {"kl_loss"},
                                    "flawed_decoder_logits": {"model_interface", "reconstruction"}},
    "pytorch_examples_loss_function": {"pytorch_examples_loss_function": set(),
                                       "flawed_latent_dim_reassigned": {"model_interface"}},
    "torch_chunk_logits": {"torch_chunk_logits": set()},
    "torch_forward_mu_first": {"torch_forward_mu_first": set(), "flawed_std_is_exp_logvar": {"sampling"}},
    "torch_variance_method": {"torch_variance_method": set()},
    "helpers_and_modules": {"helpers_and_modules": set()},
    "torchvision_fashion_colab": {"torchvision_fashion_colab": set()},
    "torch_forward_inline_reparam": {"torch_forward_inline_reparam": set(),
                                     "flawed_log_sigma_as_sigma": {"reparameterization"},
                                     "flawed_one_eps_for_batch": {"reparameterization"}},
    # a KL with the wrong sign makes the training diverge: the model's outputs are not finite
    "keras_io_train_step": {"keras_io_train_step": set(), "flawed_kl_sign": {"train_step_loss", "model_interface",
                                                                             "reconstruction"},
                            "flawed_kl_mean_over_dims": {"train_step_loss"}},
    # a BCE averaged over pixels weighs the KL 784 times more: the posterior collapses, reconstructions blur
    "torch_loop_inline_loss": {"torch_loop_inline_loss": set(), "flawed_beta_ignored": {"loss"},
                               "flawed_bce_mean_over_pixels": {"loss", "reconstruction"}},
    "torch_loss_method_concat": {"torch_loss_method_concat": set(),
                                 "flawed_kl_mean_over_dims": {"loss_method", "loss_in_training"}},
    "torch_three_models": {"torch_three_models": set(), "flawed_beta10_trained_at_beta1": {"beta10_loss"}},
    "torch_conditional_vae": {"torch_conditional_vae": set(), "flawed_std_is_exp_logvar": {"reparameterization"}},
    "torch_plain_list_history": {"torch_plain_list_history": set(),
                                 "flawed_kl_kept_summed_over_batch": {"training_history"}},
    "torch_positional_epochs": {"torch_positional_epochs": set(), "flawed_epochs_argument_ignored": {"training_history"}},
    "torchvision_keras_in_colab": {"torchvision_keras_in_colab": set()},
    "keras2_add_loss": {"keras2_add_loss": set(), "flawed_kl_no_half": {"add_loss"}},
}
#: shapes that cannot be graded, and the status that says why (a batch with them exits 1)
UNGRADABLE = {"tf1_session": "tensorflow_1"}

#: (shape, notebook, check) -> what its feedback must say: the bug, named in the student's terms
NAMED = {
    ("torch_forward_inline_reparam", "flawed_log_sigma_as_sigma", "reparameterization"):
        "inside `VAE.forward` (`vae`), z is mu + log_sigma * eps, not mu + exp(log_sigma) * eps",
    ("torch_forward_inline_reparam", "flawed_one_eps_for_batch", "reparameterization"):
        "with one eps for the whole batch",
    ("keras_io_train_step", "flawed_kl_sign", "train_step_loss"): "the KL enters with the wrong sign",
    ("keras_io_train_step", "flawed_kl_mean_over_dims", "train_step_loss"):
        "the KL is averaged over the 8 latent dimensions instead of summed",
    ("torch_loop_inline_loss", "flawed_beta_ignored", "loss"): "beta is ignored: the KL's weight is 1, not beta = 4",
    ("torch_loop_inline_loss", "flawed_bce_mean_over_pixels", "loss"):
        "the reconstruction is averaged over the 784 pixels instead of summed",
    ("torch_loss_method_concat", "flawed_kl_mean_over_dims", "loss_in_training"):
        "the KL is averaged over the 16 latent dimensions instead of summed",
    ("torch_three_models", "flawed_beta10_trained_at_beta1", "beta10_loss"): "the KL's weight is 1, not beta = 10",
    ("torch_conditional_vae", "flawed_std_is_exp_logvar", "reparameterization"):
        "inside `CVAE.forward` (`cvae`), z is mu + exp(logvar) * eps, not mu + exp(logvar / 2) * eps",
    ("torch_plain_list_history", "flawed_kl_kept_summed_over_batch", "training_history"):
        "kept summed over each batch rather than averaged",
    ("torch_positional_epochs", "flawed_epochs_argument_ignored", "training_history"): "one entry per epoch (2), got 3",
    ("keras2_add_loss", "flawed_kl_no_half", "add_loss"): "in the notebook's training, the KL lacks its factor 1/2",
}


@pytest.fixture(scope="module")
def graded(farm):
    """Every shape's exit status, and the folder it was graded into."""
    outcomes = {shape: farm.outcome(f"shape:{shape}") for shape in [*EXPECTED, *UNGRADABLE]}
    return {shape: o.returncode for shape, o in outcomes.items()}, {shape: o.out for shape, o in outcomes.items()}


def test_every_shape_has_a_rubric_and_is_graded_without_errors(graded):
    codes, _ = graded
    assert sorted(p.stem for p in RUBRICS.glob("*.yaml")) == sorted([*EXPECTED, *UNGRADABLE])
    assert codes == {shape: 0 for shape in EXPECTED} | {shape: 1 for shape in UNGRADABLE}


@pytest.mark.parametrize("shape,notebook,lost", [(s, n, lost) for s, notebooks in EXPECTED.items()
                                                 for n, lost in notebooks.items()])
def test_outcome(graded, shape, notebook, lost):
    _, out = graded
    result = load_result(out[shape] / notebook)
    assert result.status == "graded", result.error
    losing = {check.id for check in result.checks if check.status != "passed"}
    messages = {check.id: check.message for check in result.checks if check.status != "passed"}
    assert losing == lost, messages
    if not lost:
        assert result.score == result.max_score


@pytest.mark.parametrize("shape,notebook,check", sorted(NAMED))
def test_the_feedback_names_the_seeded_bug(graded, shape, notebook, check):
    _, out = graded
    result = load_result(out[shape] / notebook)
    message = next(c.message for c in result.checks if c.id == check)
    assert NAMED[(shape, notebook, check)] in message, message


def test_positional_and_per_call_parameters_and_data_controls_are_stated(graded):
    _, out = graded
    notes = {shape: load_result(out[shape] / shape).execution.adaptations
             for shape in ("torch_positional_epochs", "torch_loop_inline_loss", "keras_io_train_step")}
    assert notes["torch_positional_epochs"][:2] == ["grading parameter set in cell 6, line 2: argument 1 of `train(...)` 100 -> 1",
                                                    "grading parameter set in cell 6, line 5: argument 1 of `train(...)` 100 -> 2"]
    assert "every epoch stopped after 30 batches (DataLoader passes and Keras fit epochs)" in notes["torch_loop_inline_loss"]
    assert "the test set served holds its first 500 of 10,000 images" in notes["keras_io_train_step"]


def test_parameters_are_rewritten_and_recorded(graded):
    _, out = graded
    notes = {shape: load_result(out[shape] / shape).execution.adaptations for shape in EXPECTED}
    assert "grading parameter set in cell 2, line 6: `num_epochs = ...` 10 -> 3" in notes["pytorch_examples_loss_function"]
    assert any("`fit(..., epochs=...)` 30 -> 2" in note for note in notes["keras_functional"])
    assert any("the default of `epochs` in `train` 20 -> 2" in note for note in notes["torch_forward_mu_first"])
    assert "skipped the Colab magic `%tensorflow_version 2.x`" in notes["tf_keras_subclassed"]
    assert "grading parameter set in cell 6, line 3: `for epoch in range(...)` 8 -> 2" in notes["torch_chunk_logits"]
    history = json.loads((out["keras_functional"] / "keras_functional" / "result.json").read_text())
    assert history["environment"]["kernel_packages"] == ["tensorflow-cpu==2.21.*"]


def test_colab_and_gpu_notebook_is_shimmed_and_says_so(graded):
    _, out = graded
    result = load_result(out["torchvision_fashion_colab"] / "torchvision_fashion_colab")
    notes = " | ".join(result.execution.adaptations)
    assert "ran on the CPU" in notes and "google.colab" in notes and "skipped `!pip install -q torchvision`" in notes
    assert result.environment["kernel_packages"] == ["torchvision", "pandas", "tqdm"]
    html = (out["torchvision_fashion_colab"] / "torchvision_fashion_colab" / "feedback.html").read_text()
    assert "How your notebook was run" in html


def test_a_dataloader_forking_worker_processes_grades_at_full_marks_in_the_sandbox(graded):
    _, out = graded
    assert "num_workers=2" in (SHAPES / "torchvision_fashion_colab" / "torchvision_fashion_colab.ipynb").read_text()
    result = load_result(out["torchvision_fashion_colab"] / "torchvision_fashion_colab")
    assert result.isolation.mode == "bubblewrap" and result.execution.status == "completed"
    assert result.score == result.max_score


def test_a_package_the_environment_lacks_is_the_environments_gap_not_a_zero(tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import seaborn as sns\nnum_epochs = 1")])
    nbformat.write(notebook, tmp_path / "uses_seaborn.ipynb")
    code = main(["grade", str(tmp_path / "uses_seaborn.ipynb"), "--rubric", str(RUBRICS / "torch_variance_method.yaml"),
                 "--out", str(tmp_path / "out")])
    result = load_result(tmp_path / "out" / "uses_seaborn")
    assert code == 1 and result.status == "error"
    assert "lacks the package `seaborn`" in result.error and "environment: packages:" in result.error


def test_torchvision_pandas_and_tqdm_are_a_thin_layer_over_the_graders_cpu_torch(graded):
    _, out = graded
    result = load_result(out["torchvision_fashion_colab"] / "torchvision_fashion_colab")
    installed = {line.split("==")[0].lower().replace("_", "-") for line in result.environment["kernel_installed"]}
    assert "torchvision" in installed and "pandas" in installed
    assert not installed & {"torch", "triton", "nvidia-cublas-cu12", "nvidia-cuda-runtime"}, installed  # the grader's torch
    info = json.loads((Path(result.environment["kernel_environment"]) / "vaegrade-env.json").read_text())
    assert info["size_mb"] <= 500, info["size_mb"]


def test_a_colab_aware_notebook_takes_its_non_colab_branch(graded):
    _, out = graded
    result = load_result(out["torchvision_keras_in_colab"] / "torchvision_keras_in_colab")
    assert "the notebook checks for Colab itself" in " ".join(result.execution.adaptations)
    executed = (out["torchvision_keras_in_colab"] / "torchvision_keras_in_colab" / "executed.ipynb").read_text()
    assert "running on Colab: False" in executed and result.score == result.max_score
    assert result.environment["kernel_packages"] == ["torchvision", "tensorflow-cpu==2.21.*"]  # both in one kernel


def test_a_keras_2_notebook_grades_under_the_legacy_recipe(graded):
    _, out = graded
    result = load_result(out["keras2_add_loss"] / "keras2_add_loss")
    assert result.environment["kernel_variables"] == {"TF_USE_LEGACY_KERAS": "1"}
    assert "the training set served holds its first 3,000 of 60,000 images" in result.execution.adaptations
    add_loss = next(check for check in result.checks if check.id == "add_loss")
    assert "BCE summed over pixels + 1 x KL" in add_loss.message  # the loss add_loss gave fit, identified
    # its trained weights (Keras 2's HDF5) were handed in: loaded after the one-epoch training
    assert ("your trained weights (`keras2_add_loss.weights.h5`) were loaded into `vae` after cell 6, the last that "
            "trains; your training ran first at the short budget epochs = 1") in result.execution.adaptations
    retrained = load_result(out["keras2_add_loss"] / "flawed_kl_no_half")  # no weights: retrained at 2 epochs
    bce = {name: next(c.details["bce"] for c in r.checks if c.id == "reconstruction")
           for name, r in (("weights", result), ("retrained", retrained))}
    assert bce["weights"] < bce["retrained"] - 30, bce


def test_tensorflow_1_code_gets_its_own_status_not_a_kernel_failure(graded):
    _, out = graded
    result = load_result(out["tf1_session"] / "tf1_session")
    assert result.status == "error" and result.execution.status == "tensorflow_1"
    assert result.error.startswith("written for TensorFlow 1.x (`%tensorflow_version 1.x`, `tf.placeholder`, "
                                   "`tf.layers.dense`), which no supported Python runs")
    assert "module 'tensorflow' has no attribute 'placeholder'" in result.error
    assert all(check.status == "error" and check.score == 0 for check in result.checks)
