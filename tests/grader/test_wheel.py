"""vaegrade installed from its wheel (not editable) into a fresh virtual environment.

The environment already has the dependencies (a ``.pth`` file points at this environment's
site-packages, as a student's machine already has torch); installing the wheel with ``--no-index``
must not reinstall any of them. From that install, ``vaegrade validate`` grades the reference
solution and two flawed samples with self-check run in the same kernel (a student's kernel, with
the wheel's vaegrade): on each, self-check's verdict on each public check is grading's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from grader import api
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
ASSIGNMENT = ROOT / "submissions" / "vae_mnist"
FLAWED = ["flawed_std_is_exp_logvar", "flawed_posterior_collapse"]  # a function check and the model checks failing


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path, str]:
    """(the wheel, the fresh environment's bin folder, pip's output)."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(root / "dist"), str(ROOT)], check=True, cwd=root)
    wheel = next((root / "dist").glob("vaegrade-*.whl"))
    subprocess.run([sys._base_executable, "-m", "venv", str(root / "venv")], check=True)
    site = next((root / "venv" / "lib").glob("python3*/site-packages"))
    (site / "already_installed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # the venv's own old setuptools would shadow the one torch needs (>= 77), already installed
    subprocess.run([str(root / "venv" / "bin" / "pip"), "uninstall", "-q", "-y", "setuptools"], check=True)
    pip = subprocess.run([str(root / "venv" / "bin" / "pip"), "install", "--no-index", str(wheel)],
                         capture_output=True, text=True, cwd=root)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return wheel, root / "venv" / "bin", pip.stdout


def run_vaegrade(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([str(bin_dir / "vaegrade"), *args], capture_output=True, text=True, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def validated(installed, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """``vaegrade validate`` from the wheel on an assignment folder of the reference solution and
    two flawed samples (the whole of ``submissions/vae_mnist`` is validated in test_end_to_end)."""
    folder = tmp_path_factory.mktemp("assignment")
    (folder / "samples").mkdir()
    for name in ["reference_solution", *FLAWED]:
        shutil.copy(ASSIGNMENT / "samples" / f"{name}.ipynb", folder / "samples")
    golden = json.loads((ASSIGNMENT / "golden.json").read_text())
    (folder / "golden.json").write_text(json.dumps({name: golden[name] for name in ["reference_solution", *FLAWED]}))
    (folder / "assignment.yaml").write_text(f"rubric: {ROOT / 'rubrics' / 'vae_mnist.yaml'}\n"
                                            "solution: samples/reference_solution.ipynb\n")
    out = folder / "out"
    return run_vaegrade(installed[1], "validate", str(folder), "--out", str(out), "--jobs", "2", cwd=folder), out


def test_wheel_carries_templates_rubrics_weights_and_data(installed):
    names = set(zipfile.ZipFile(installed[0]).namelist())
    assert {"vaegrade/templates/feedback.html.j2", "vaegrade/templates/selfcheck.html.j2",
            "vaegrade/rubrics/vae_mnist.yaml", "vaegrade/rubrics/shapes/files/lab_utils.py",
            "reference/assets/classifier.pt", "reference/assets/mnist.npz",
            "reference/assets/mnist_test_statistics.npz", "grader/probe_kernel.py"} <= names


def test_installing_the_wheel_reinstalls_no_dependency(installed):
    _, bin_dir, pip_output = installed
    installed_line = next(line for line in pip_output.splitlines() if line.startswith("Successfully installed"))
    assert installed_line.split()[2:] == ["vaegrade-0.1.0"]
    where = subprocess.run([str(bin_dir / "python"), "-c", "import grader, vaegrade; print(grader.__file__)"],
                           capture_output=True, text=True, cwd=bin_dir, check=True).stdout
    assert str(bin_dir.parent) in where  # the wheel's copy, not the repository's


def test_validate_passes_from_the_wheel(validated):
    run, _ = validated
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[-1] == "valid"
    items = [line.split(":")[0].split(maxsplit=1)[1] for line in lines[:-1]]
    assert items == ["rubric", "solution", "sample flawed_posterior_collapse", "sample flawed_std_is_exp_logvar",
                     "sample reference_solution", "bundle"]


@pytest.mark.parametrize("name", ["reference_solution", *FLAWED])
def test_selfcheck_in_the_students_kernel_agrees_with_grading(validated, name):
    _, out = validated
    result = api.load_result(out / name)
    assert result.selfcheck is not None and result.selfcheck.error is None
    graded = {check.id: check.status for check in result.checks}
    verdicts = {check.id: check.status for check in result.selfcheck.checks if check.status != "skipped"}
    assert len(verdicts) == 10 and "kl_divergence_extremes" not in verdicts  # every public check but figures
    assert verdicts == {check_id: graded[check_id] for check_id in verdicts}
    if name != "reference_solution":
        assert any(status != "passed" for status in verdicts.values())  # the flaw is seen by self-check too
