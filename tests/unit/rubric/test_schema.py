"""Rubric validation: every error names the file and the line, before any notebook runs."""

import json
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT
from vaegrade.grader.cli.main import main
from vaegrade.grader.errors import RubricError
from vaegrade.grader.rubric.schema import load_rubric

RUBRIC = ROOT / "rubrics" / "vae_mnist.yaml"
SHAPES = ROOT / "rubrics" / "shapes"


def test_shipped_rubric_loads_and_sums_to_100():
    rubric = load_rubric(RUBRIC)
    assert rubric.max_score == 100
    assert [c.id for c in rubric.checks] == ["kl_divergence", "reparameterize", "vae_loss", "model_interface",
                                              "reconstruction", "decoder_uses_z", "training_copies", "active_units",
                                              "sample_quality", "learning", "training_history", "figures",
                                              "kl_divergence_extremes"]
    assert len(rubric.sha256) == 64


@pytest.mark.parametrize("path", [RUBRIC, ROOT / "rubrics" / "shapes" / "torchvision_fashion_colab.yaml"])
def test_shipped_thresholds_are_the_calibrated_ones(path):
    rubric = load_rubric(path)
    calibration = json.loads(path.with_suffix(".calibration.json").read_text())
    checks = {c.id: c for c in rubric.checks}
    bands = {"reconstruction.bce": checks["reconstruction"].bce,
             **{f"sample_quality.{name}": band for name, band in checks["sample_quality"].metrics.items()}}
    if "decoder_uses_z" in checks:
        bands |= {"decoder_uses_z.variation": checks["decoder_uses_z"].variation}
        # set by hand below the budget's calibration: a correct VAE trained out switches unneeded units off
        active, calibrated = checks["active_units"].active, calibration["metrics"].pop("active_units.active_fraction")
        assert active.pass_at <= calibrated["pass_at"] and active.fail_at <= calibrated["fail_at"]
    assert set(bands) == set(calibration["metrics"])
    for key, band in bands.items():
        assert (band.pass_at, band.fail_at) == (calibration["metrics"][key]["pass_at"], calibration["metrics"][key]["fail_at"]), key
    assert calibration["parameters"] == rubric.parameter_values()
    assert f"--rubric {path.relative_to(ROOT)}" in calibration["command"]


def mutated(tmp_path: Path, old: str, new: str) -> Path:
    text = RUBRIC.read_text()
    assert old in text
    path = tmp_path / "rubric.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def line_of(path: Path, fragment: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if fragment in line)


@pytest.mark.parametrize("old, new, marker, message", [
    # an unknown check type: the line of its `type:`
    ("type: reparameterization", "type: reparametrisation", "type: reparametrisation", "does not match any of the expected tags"),
    # a missing field: the line where the check starts
    ("    points: 10\n    function: reparameterize", "    function: reparameterize", "- id: reparameterize", "points: Field required"),
    # bad thresholds and values: their own line
    ("bce: {pass_at: 94.904", "bce: {pass_at: 142.355", "bce: {pass_at: 142.355", "pass_at and fail_at must differ"),
    ("reference: kl_normal_std", "reference: kl_gaussian", "reference: kl_gaussian", "Input should be"),
    ("    points: 10\n    function: kl_divergence", "    points: -5\n    function: kl_divergence", "points: -5", "greater than 0"),
    ("      confidence: {", "      sharpness: {", "sharpness", "Input should be"),
    ("  - id: figures", "  - id: kl_divergence", "  - id: kl_divergence\n    title: Figures", "used twice"),
    # a requirement that names no check of the rubric: the line of its `requires:`
    ("requires: [decoder_uses_z, training_copies]", "requires: [decoder_uses_z, training_copy]",
     "requires: [decoder_uses_z, training_copy]", "'training_copy', which is not another check"),
])
def test_errors_name_file_and_line(tmp_path, old, new, marker, message):
    path = mutated(tmp_path, old, new)
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{path}:{caught.value.line}: ")
    text = path.read_text()
    assert caught.value.line == text[: text.index(marker)].count("\n") + 1


def test_sample_quality_must_be_gated_on_the_frechet_distance_and_coverage(tmp_path):
    path = mutated(tmp_path, "      frechet_distance: {pass_at: 46.435, fail_at: 69.652}\n", "")
    with pytest.raises(RubricError, match=r"metrics must include \['frechet_distance'\]") as caught:
        load_rubric(path)
    assert line_of(path, "- id: sample_quality") <= caught.value.line < line_of(path, "- id: training_history")


def test_cross_field_errors_point_into_their_check(tmp_path):
    path = mutated(tmp_path, "    cases: [{B: 1, D: 3},", "    cases: [{B: 1},")
    with pytest.raises(RubricError, match=r"case 0 lacks \['D'\]") as caught:
        load_rubric(path)
    assert line_of(path, "- id: kl_divergence") <= caught.value.line < line_of(path, "- id: reparameterize")


def test_unknown_check_type_points_at_its_own_line(tmp_path):
    path = mutated(tmp_path, "type: reparameterization", "type: reparametrisation")
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    assert caught.value.line == line_of(path, "type: reparametrisation")


def test_yaml_syntax_error_has_a_line(tmp_path):
    path = mutated(tmp_path, "    title: Reparameterization trick", "    title: [unclosed")
    with pytest.raises(RubricError, match="not valid YAML") as caught:
        load_rubric(path)
    assert caught.value.line is not None


def test_cli_reports_rubric_errors_before_running_any_notebook(tmp_path, capsys):
    path = mutated(tmp_path, "type: reparameterization", "type: reparametrisation")
    out = tmp_path / "out"
    code = main(["grade", str(ROOT / "submissions" / "vae_mnist"), "--rubric", str(path), "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert re.search(rf"{re.escape(str(path))}:{line_of(path, 'reparametrisation')}: .*reparametrisation", err)
    assert not out.exists()


def test_a_rubric_loads_without_importing_torch_and_reads_the_references_signatures():
    """Loading a rubric stays cheap (torch is imported while the notebook runs, not before it starts)."""
    import inspect
    import subprocess
    import sys

    from vaegrade.grader.checks.functions import REFERENCE_FUNCTIONS
    from vaegrade.reference import function, parameters

    code = ("import sys; from vaegrade.grader.rubric.schema import load_rubric; load_rubric(sys.argv[1]); "
            "print(sorted(m for m in ('torch', 'scipy.stats', 'sympy', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(RUBRIC)], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
    for name, path in REFERENCE_FUNCTIONS.items():
        assert parameters(path) == tuple(inspect.signature(function(path)).parameters), name


def mutated_shape(tmp_path: Path, rubric: str, old: str, new: str) -> Path:
    """A copy of the shape rubric ``rubric`` (with its files beside it) with ``old`` replaced by ``new``."""
    text = (SHAPES / rubric).read_text()
    assert old in text
    path = tmp_path / rubric
    path.write_text(text.replace(old, new, 1))
    for name in ("files",):
        if (SHAPES / name).exists() and not (tmp_path / name).exists():
            (tmp_path / name).symlink_to(SHAPES / name)
    return path


@pytest.mark.parametrize("rubric, old, new, message", [
    ("csci566_dict_forward.yaml", "outputs: {mu: mu, log_sigma: log_sigma}", "outputs: {mu: mu, log_sd: log_sigma}",
     "unknown roles ['log_sd']"),
    ("csci566_dict_forward.yaml", "{arg: logvar, as: log_sigma}, prior_mu", "{arg: logvar, as: std}, prior_mu",
     "`as` must be one of"),
    ("csci566_dict_forward.yaml", "{arg: logvar, as: log_sigma}, prior_mu", "{arg: log_var, as: log_sigma}, prior_mu",
     "call names ['log_var']"),
    ("csci566_dict_forward.yaml", "function: vae_model.reparameterize", "function: vae_model..reparameterize",
     "is not a path such as `model.encode`"),
    ("csci566_dict_forward.yaml", "function: vae_model.reparameterize", "function: vae_model.get(1).reparameterize",
     "names, attributes and literal keys only"),
    ("torch_chunk_logits.yaml", "returns: logits", "returns: logit", "Input should be 'probabilities', 'logits' or 'pixels'"),
    ("torch_encoder_decoder_sigma.yaml", "layout: B,28,28", "layout: B,28,28,3", "Input should be"),
    ("pytorch_examples_loss_function.yaml", "reference_options: {reduction: sum}", "reference_options: {reduce: sum}",
     "negative_elbo takes no argument ['reduce']"),
    ("torch_variance_method.yaml", "{instance_of: GaussianVAE, attr: kl}", "{instance_of: GaussianVAE, new: GaussianVAE}",
     "exactly one of `instance_of`"),
    ("keras_functional.yaml", "keywords: [fit.epochs]", "keywords: [fit]", "is not function.keyword"),
    ("keras_functional.yaml", "framework: tensorflow", "framework: jax", "Input should be 'torch' or 'tensorflow'"),
    ("tf_keras_subclassed.yaml", "dataset: fashion_mnist", "dataset: cifar10", "Input should be 'mnist' or 'fashion_mnist'"),
    ("helpers_and_modules.yaml", "files/lab_utils.py", "files/lab_util.py", "is not a file beside the rubric"),
    ("helpers_and_modules.yaml", "to: data/mnist/train.csv", "to: ../train.csv",
     "is not a plain relative path inside the working directory"),
    ("keras_functional.yaml", "keys: {loss: loss, recon: reconstruction_loss, kl: kl_loss}", "keys: {loss: loss}",
     "keys must map each of"),
    ("torchvision_fashion_colab.yaml", 'comment: "samples from the prior"', 'comment: "samples from (the prior"',
     "is not a regular expression"),
    ("keras2_add_loss.yaml", 'variables: {TF_USE_LEGACY_KERAS: "1"}', 'variables: {PYTHONPATH: "/tmp"}',
     "`PYTHONPATH` is set by the grader itself"),
    ("keras2_add_loss.yaml", 'variables: {TF_USE_LEGACY_KERAS: "1"}', 'variables: {tf-use-legacy-keras: "1"}',
     "is not an environment variable's name"),
])
def test_a_typo_is_reported_with_its_line(tmp_path, rubric, old, new, message):
    path = mutated_shape(tmp_path, rubric, old, new)
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    assert message in str(caught.value)
    first_line = new.splitlines()[0].strip()[:12]
    lines = [i for i, text in enumerate(path.read_text().splitlines(), 1) if first_line in text]
    # the offending line, or the start of the entry that a rule over several fields belongs to
    assert caught.value.line is not None and any(0 <= line - caught.value.line <= 8 for line in lines), (caught.value, lines)


def test_every_shipped_rubric_loads():
    for path in [ROOT / "rubrics" / "vae_mnist.yaml", *SHAPES.glob("*.yaml")]:
        assert load_rubric(path).max_score > 0, path

