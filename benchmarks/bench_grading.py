"""Grading time per submission, split by phase, against a baseline measured in the same run.

Usage: ``python benchmarks/bench_grading.py [NOTEBOOK ...]`` (default: the vae_mnist reference
solution). The baseline is a notebook with one empty cell graded under the same rubric: kernel
start, the probe and the checks' fixed costs, with no student work. Also prints the reference
MLP VAE's time per epoch over the 60,000 training images against one forward pass of the
classifier over the 10,000 test images.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import nbformat
import torch

from grader.api import Submission, grade_submission
from grader.rubric import load_rubric
from reference.classifier import classify
from reference.data import images_to_tensor, load_mnist
from reference.metrics import test_set_statistics
from reference.models import MlpVAE, fit

ROOT = Path(__file__).resolve().parents[1]


def grade_phases(path: Path, rubric, out: Path) -> dict[str, float]:
    started = time.monotonic()
    result = grade_submission(Submission(path.stem, path), rubric, out)
    phases = dict(result.execution.phases)
    phases["total"] = time.monotonic() - started
    return phases


def main() -> None:
    rubric = load_rubric(ROOT / "rubrics" / "vae_mnist.yaml")
    notebooks = [Path(p) for p in sys.argv[1:]] or [ROOT / "submissions/vae_mnist/samples/reference_solution.ipynb"]
    with tempfile.TemporaryDirectory() as work:
        empty = Path(work) / "empty.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("pass")]), empty)
        test_set_statistics()  # computed once per grading process; not part of a submission's cost
        baseline = grade_phases(empty, rubric, Path(work) / "base")
        print(f"baseline (empty notebook): {baseline['total']:.2f} s  "
              + ", ".join(f"{k} {v:.2f}" for k, v in baseline.items() if k != "total"))
        for path in notebooks:
            phases = grade_phases(path, rubric, Path(work) / "run")
            print(f"{path.name}: {phases['total']:.2f} s = {phases['total'] / baseline['total']:.1f}x baseline  "
                  + ", ".join(f"{k} {v:.2f}" for k, v in phases.items() if k != "total"))

    mnist = load_mnist()
    x_train, x_test = images_to_tensor(mnist.x_train), images_to_tensor(mnist.x_test)
    started = time.monotonic()
    classify(x_test)
    classifier_pass = time.monotonic() - started
    torch.manual_seed(0)
    started = time.monotonic()
    fit(MlpVAE(), x_train, epochs=1)
    epoch = time.monotonic() - started
    print(f"reference MLP VAE, one epoch over 60,000 images ({torch.get_num_threads()} threads): {epoch:.2f} s "
          f"= {epoch / classifier_pass:.1f}x one classifier pass over the 10,000 test images ({classifier_pass:.2f} s)")


if __name__ == "__main__":
    main()
