"""Grading time per submission, split by phase, against a baseline measured in the same run,
with and without the bubblewrap sandbox.

Usage: ``python benchmarks/bench_grading.py [NOTEBOOK ...]`` (default: the vae_mnist reference
solution). The baseline is a notebook with one empty cell graded under the same rubric without
a sandbox: kernel start, the probe and the checks' fixed costs, with no student work. Each
notebook is then graded with ``--isolation none`` and with the sandbox, twice each,
alternating, and the sandbox's cost is the difference of the medians. Also prints the reference
MLP VAE's time per epoch over the 60,000 training images against one forward pass of the
classifier over the 10,000 test images.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import torch

from vaegrade.grader.rubric.schema import load_rubric
from vaegrade.grader.run.grade import grade_submission
from vaegrade.grader.run.submissions import Submission
from vaegrade.reference.classifier import classify
from vaegrade.reference.data import DATASETS, images_to_tensor
from vaegrade.reference.metrics import test_set_statistics
from vaegrade.reference.models import MlpVAE, fit

ROOT = Path(__file__).resolve().parents[1]


def grade_phases(path: Path, rubric, out: Path, isolation: str) -> dict[str, float]:
    started = time.monotonic()
    result = grade_submission(Submission(path.stem, path), rubric, out, isolation).result
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
        baseline = grade_phases(empty, rubric, Path(work) / "base", "none")
        print(f"baseline (empty notebook, no sandbox): {baseline['total']:.2f} s  "
              + ", ".join(f"{k} {v:.2f}" for k, v in baseline.items() if k != "total"))
        for path in [empty, *notebooks]:
            runs = {"none": [], "bubblewrap": []}
            for _ in range(2):
                for isolation in runs:
                    runs[isolation].append(grade_phases(path, rubric, Path(work) / "run", isolation))
            for isolation, phases in runs.items():
                best = sorted(phases, key=lambda p: p["total"])[0]
                print(f"{path.name} [{isolation}]: {statistics.median(p['total'] for p in phases):.2f} s "
                      f"= {statistics.median(p['total'] for p in phases) / baseline['total']:.2f}x baseline  "
                      + ", ".join(f"{k} {v:.2f}" for k, v in best.items() if k != "total"))
            cost = statistics.median(p["total"] for p in runs["bubblewrap"]) - statistics.median(p["total"] for p in runs["none"])
            print(f"{path.name}: the sandbox costs {cost:+.2f} s per submission")

    mnist = DATASETS["mnist"].load()
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
