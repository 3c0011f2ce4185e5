"""Kernel environments built for real (pip from the package index, kernels in the sandbox), in a
cache of the test's own: a list that would replace the kernel's runtime is refused at build time
with pip's conflict named, and a package that does not import fails the smoke test with its own
error (a traceback's last lines, or the last words of a kernel it killed), before any student is
graded."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from vaegrade.grader.rubric.schema import Rubric, load_rubric
from vaegrade.grader.run.environments import EnvironmentBuildError, ensure_environment
from vaegrade.grader.run.smoke import ready_environment


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache the sandbox user can read (pytest's own tmp_path is private to its user)."""
    folder = Path(tempfile.mkdtemp(prefix="vaegrade-environments-"))
    folder.chmod(0o755)
    monkeypatch.setenv("VAEGRADE_CACHE", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def local_wheel(folder: Path, name: str, init: str) -> str:
    """A requirement for a one-module distribution ``name`` whose ``__init__`` is ``init``, built
    with pip from a source folder (no index needed)."""
    source = folder / name
    (source / name).mkdir(parents=True)
    (source / name / "__init__.py").write_text(init)
    (source / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "1.0"\n'
                                           '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n')
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(folder),
                    str(source)], check=True, capture_output=True)
    return f"{name} @ {next(folder.glob(f'{name}-1.0-*.whl')).as_uri()}"


def rubric_with(packages: list[str]) -> Rubric:
    rubric = load_rubric(ROOT / "rubrics" / "shapes" / "torch_variance_method.yaml")
    return rubric.model_copy(update={"environment": rubric.environment.model_copy(update={"packages": packages})})


def test_a_list_that_would_replace_the_kernels_runtime_is_refused_with_the_conflict_named(cache):
    with pytest.raises(EnvironmentBuildError) as refused:
        ensure_environment(["typing_extensions==4.5.0"], log=lambda message: None)
    message = str(refused.value)
    assert "The user requested typing_extensions==4.5.0" in message
    assert "The user requested (constraint) typing-extensions==" in message and "kernel's own runtime" in message
    assert not list((cache / "kernels").glob("*/")), "a failed build leaves nothing behind"


def test_a_package_that_does_not_import_fails_the_smoke_test_with_its_error(cache, tmp_path):
    broken = local_wheel(tmp_path, "needs_libfoo", "raise ImportError('libfoo.so.1: cannot open shared object file')\n")
    with pytest.raises(EnvironmentBuildError) as failed:
        ready_environment(rubric_with([broken]), "bubblewrap", log=lambda message: None)
    message = str(failed.value)
    assert "`import needs_libfoo` fails in it" in message
    assert "ImportError: libfoo.so.1: cannot open shared object file" in message


def test_a_package_that_kills_the_kernel_is_named_with_the_kernels_last_words(cache, tmp_path):
    fine = local_wheel(tmp_path, "imports_fine", "VALUE = 1\n")
    fatal = local_wheel(tmp_path, "crashes_kernel", "import ctypes\nctypes.string_at(0)  # a native library's crash\n")
    with pytest.raises(EnvironmentBuildError) as failed:
        ready_environment(rubric_with([fine, fatal]), "bubblewrap", log=lambda message: None)
    message = str(failed.value)
    assert "the kernel died while running cell 2 (`import crashes_kernel`)" in message
    assert "(exit status 139: killed by SIGSEGV): Fatal Python error: Segmentation fault" in message
    assert 'crashes_kernel/__init__.py", line 2 in <module>' in message


def test_a_smoke_tested_environment_is_not_tested_again(cache, tmp_path):
    fine = local_wheel(tmp_path, "imports_fine", "VALUE = 1\n")
    kernel = ready_environment(rubric_with([fine]), "bubblewrap", log=lambda message: None)
    assert kernel.info()["imports"] == {fine: ["imports_fine"]}
    [marker] = kernel.prefix.glob("smoke-*.ok")
    marker.write_text("kept")
    assert ready_environment(rubric_with([fine]), "bubblewrap", log=lambda message: None) == kernel
    assert marker.read_text() == "kept"
