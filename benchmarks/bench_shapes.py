"""Grading time per submission for notebooks of the shapes corpus, PyTorch against Keras, each
against a baseline measured in the same run.

Usage: ``python benchmarks/bench_shapes.py [SHAPE ...]`` (default: ``pytorch_examples_loss_function``,
``tf_keras_subclassed`` and ``keras_functional``). For each shape, the baseline is a notebook that
only imports the framework, graded under the same rubric, in the same kernel environment and the
same sandbox: kernel start, the kernel setup (data serving, seeds), the framework's import and the
probe's fixed costs, with no student work. The shape's correct notebook is then graded twice and
the median reported with its phases (``execution`` includes the student's training at the
rubric's parameters). Kernel environments are built before timing starts.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from vaegrade.grader.rubric.schema import load_rubric
from vaegrade.grader.run.environments import ensure_environment
from vaegrade.grader.run.grade import grade_submission
from vaegrade.grader.run.submissions import Submission

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["pytorch_examples_loss_function", "tf_keras_subclassed", "keras_functional"]
IMPORTS = {"torch": "import torch", "tensorflow": "import tensorflow as tf"}


def grade(path: Path, rubric, out: Path) -> dict[str, float]:  # noqa: ANN001 (a Rubric)
    started = time.monotonic()
    result = grade_submission(Submission(path.stem, path), rubric, out, "bubblewrap").result
    return {**result.execution.phases, "total": time.monotonic() - started}


def describe(phases: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.1f}" for name, seconds in phases.items() if name != "total")


def main() -> None:
    shapes = sys.argv[1:] or DEFAULT
    with tempfile.TemporaryDirectory() as work:
        for shape in shapes:
            rubric = load_rubric(ROOT / "rubrics" / "shapes" / f"{shape}.yaml")
            ensure_environment(rubric.environment.packages)
            empty = Path(work) / f"{rubric.framework}_import_only.ipynb"
            nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(IMPORTS[rubric.framework])]), empty)
            baseline = grade(empty, rubric, Path(work) / "base")
            notebook = next((ROOT / "submissions" / "shapes" / shape).rglob(f"{shape}.ipynb"))
            runs = [grade(notebook, rubric, Path(work) / "run") for _ in range(2)]
            total = statistics.median(run["total"] for run in runs)
            print(f"{shape} ({rubric.framework}): baseline {baseline['total']:.1f} s ({describe(baseline)}); "
                  f"notebook {total:.1f} s = {total / baseline['total']:.1f}x baseline "
                  f"({describe(min(runs, key=lambda run: run['total']))})")


if __name__ == "__main__":
    main()
