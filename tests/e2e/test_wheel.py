"""vaegrade installed from its wheel (not editable) into a fresh virtual environment, by the farm
(:mod:`tests.e2e.farm`), which validates the flagship assignment from that install in the
sandbox (``test_flagship.py`` reads it).

The environment already has the dependencies (a ``.pth`` file points at this environment's
site-packages, as a student's machine already has torch); installing the wheel with ``--no-index``
must not reinstall any of them. Its one import name is ``vaegrade``: a student's own
``grader.py`` or ``reference.py`` beside a notebook shadows nothing, and self-check, run in the
student's kernel from the wheel, gives each public check grading's verdict. Its kernel
environments are the checkout's: they are found by content, not by the installation's path.
"""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest

from tests.conftest import ROOT
from vaegrade.grader.results import load_result
from vaegrade.grader.run.environments import ensure_environment

FLAWED = ["flawed_std_is_exp_logvar", "flawed_posterior_collapse"]  # a function check and the model checks failing
MINE = ("import torch\nfrom grader import grade\nprint(grade(95))\n\n"
        "def kl_divergence(mu, logvar):\n    return 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1)\n\n"
        "def reparameterize(mu, logvar):\n    return mu + torch.randn_like(mu) * (0.5 * logvar).exp()\n")
STUDENT_MODULES = {
    "grader.py": "def grade(score):\n    return 'A' if score > 90 else 'B'\n",
    "reference.py": "SOLUTION = 'my notes, not the grader'\nraise ImportError('only the notebook may import me')\n",
}


@pytest.fixture(scope="module")
def wheel(farm):
    return farm.wheel.result()


def run_vaegrade(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([str(bin_dir / "vaegrade"), *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_the_wheels_one_import_name_is_vaegrade_with_its_templates_weights_and_data_and_no_rubric(wheel):
    names = zipfile.ZipFile(wheel.path).namelist()
    assert {name.split("/")[0] for name in names if not name.startswith("vaegrade-0.1.0.dist-info")} == {"vaegrade"}
    assert not [name for name in names if "rubrics/" in name or name.endswith((".yaml", ".calibration.json"))]
    assert {"vaegrade/templates/feedback.html.j2", "vaegrade/templates/selfcheck.html.j2",
            "vaegrade/reference/assets/classifier.pt", "vaegrade/reference/assets/mnist.npz",
            "vaegrade/reference/assets/mnist_test_statistics.npz", "vaegrade/grader/probe/kernel/torch.py",
            "vaegrade/grader/probe/kernel/record.py"} <= set(names)


def test_installing_the_wheel_reinstalls_no_dependency_and_installs_no_grader_or_reference(wheel):
    installed_line = next(line for line in wheel.pip.splitlines() if line.startswith("Successfully installed"))
    assert installed_line.split()[2:] == ["vaegrade-0.1.0"]
    where = subprocess.run([str(wheel.bin / "python"), "-c", "import vaegrade.grader; print(vaegrade.grader.__file__)"],
                           capture_output=True, text=True, cwd=wheel.bin, check=True).stdout
    assert str(wheel.bin.parent) in where  # the wheel's copy, not the repository's
    for name in ("grader", "reference"):
        imported = subprocess.run([str(wheel.bin / "python"), "-c", f"import {name}"], capture_output=True, text=True,
                                  cwd=wheel.bin)
        assert imported.returncode == 1 and f"No module named '{name}'" in imported.stderr


def test_a_students_grader_py_and_reference_py_beside_the_notebook_shadow_neither_selfcheck_nor_grading(wheel, tmp_path):
    bundle = run_vaegrade(wheel.bin, "bundle", "--rubric", str(ROOT / "rubrics" / "vae_mnist.yaml"), "--out", str(tmp_path),
                          cwd=tmp_path)
    assert bundle.returncode == 0, bundle.stderr
    for name, source in STUDENT_MODULES.items():
        (tmp_path / name).write_text(source)
    cells = [MINE, "from vaegrade import selfcheck\nprint(selfcheck('kl_divergence', 'reparameterize'))"]
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), tmp_path / "mine.ipynb")
    # the student, in the bundle's folder, runs the notebook's code: its own grader.py comes first on the path
    (tmp_path / "mine.py").write_text(MINE + "\nfrom vaegrade import selfcheck\nchecked = selfcheck('kl_divergence', "
                                      "'reparameterize')\nprint(checked)\nassert checked.passed\n")
    student = subprocess.run([str(wheel.bin / "python"), "mine.py"], capture_output=True, text=True, cwd=tmp_path)
    verdicts = {line.split()[0]: line.split()[1] for line in student.stdout.splitlines()[3:5]}
    assert student.returncode == 0 and student.stdout.startswith("A\n"), student.stdout + student.stderr
    assert verdicts == {"kl_divergence": "passed", "reparameterize": "passed"}, student.stdout
    checked = run_vaegrade(wheel.bin, "check", "mine.ipynb", cwd=tmp_path)
    result = load_result(tmp_path / "vaegrade-check" / "mine")
    assert result.status == "graded" and not result.execution.cell_errors, (checked.stdout, checked.stderr)
    assert {check.id: check.status for check in result.checks if check.id in ("kl_divergence", "reparameterize")} == {
        "kl_divergence": "passed", "reparameterize": "passed"}
    executed = (tmp_path / "vaegrade-check" / "mine" / "executed.ipynb").read_text()
    assert "self-check does not run while your notebook is graded" in executed  # the notebook's own call, skipped


def test_validate_passes_from_the_wheel(farm):
    outcome = farm.outcome("validate:vae_mnist")
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert outcome.stdout.splitlines()[-1] == "valid"


@pytest.mark.parametrize("name", ["reference_solution", *FLAWED])
def test_selfcheck_in_the_students_kernel_agrees_with_grading(farm, name):
    result = load_result(farm.outcome("validate:vae_mnist").out / name)
    assert result.selfcheck is not None and result.selfcheck.error is None
    graded = {check.id: check.status for check in result.checks}
    verdicts = {check.id: check.status for check in result.selfcheck.checks if check.status != "skipped"}
    assert len(verdicts) == 10 and "kl_divergence_extremes" not in verdicts  # every public check but figures
    assert verdicts == {check_id: graded[check_id] for check_id in verdicts}
    if name != "reference_solution":
        assert any(status != "passed" for status in verdicts.values())  # the flaw is seen by self-check too


REUSE = """
import sys
from vaegrade.grader.run.environments import ensure_environment
print(ensure_environment(sys.argv[1:], log=lambda message: print("LOG", message)).prefix)
"""


def test_a_second_installation_reuses_the_kernel_environments_of_the_first(wheel, tmp_path):
    """The wheel's install is another grader installation (another path, like a CI clone's) with
    the same distributions: it finds the environments this checkout built, by content."""
    packages = ["torchvision", "pandas", "tqdm"]
    first = ensure_environment(packages, log=lambda message: None)
    second = subprocess.run([str(wheel.bin / "python"), "-c", REUSE, *packages], capture_output=True, text=True,
                            cwd=tmp_path, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == [str(first.prefix)], second.stdout  # found, not built ("LOG building ...")


def test_a_bundle_with_the_wheel_says_how_to_install_it_and_runs_its_handout_to_the_end_alone(wheel, tmp_path):
    folder = tmp_path / "bundle"
    made = run_vaegrade(wheel.bin, "bundle", "--rubric", str(ROOT / "rubrics" / "vae_mnist.yaml"), "--out", str(folder),
                        "--wheel", str(wheel.path), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        ["README.md", "handout.ipynb", "mnist.npz", "vae_mnist.public.yaml", wheel.path.name])
    assert f"python -m pip install ./{wheel.path.name}\nvaegrade check handout.ipynb" in (folder / "README.md").read_text()
    # the student's finished handout (the reference solution), run in the bundle's folder with nothing else there
    notebook = nbformat.read(ROOT / "submissions" / "vae_mnist" / "samples" / "reference_solution.ipynb", as_version=4)
    notebook.cells[1].source = "epochs = 1\nn_train = 512\nbatch_size = 128\nseed = 0"  # its parameters, made quick
    nbformat.write(notebook, folder / "handout.ipynb")
    import nbclient

    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    assert (folder / "vae.pt").is_file()  # its last training cell saved the weights to hand in
