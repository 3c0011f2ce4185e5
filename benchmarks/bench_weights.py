"""Grading the flagship's reference solution with its trained weights handed in, against retraining
it at the rubric's budget, in one run.

Usage: ``python benchmarks/bench_weights.py [--repeats 3] [--class-size 4]``

Alternating, ``--repeats`` times, each a ``vaegrade grade --jobs 1`` batch in a fresh process
(bubblewrap, every check, the feedback pages, the gradebook) of a class of ``--class-size`` copies
of ``reference_solution.ipynb``:

- weights: each with ``reference_solution.pt`` beside it (a 50-step training, then the weights loaded);
- retraining: without (the rubric's ``parameters``: 5 epochs on 20,000 images).

It prints the median seconds per submission of each (the batch's time over the class size: the
process's start-up is shared, as in a class) and their ratio (the aim: at least 4x).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "submissions" / "vae_mnist" / "samples"


def graded(folder: Path, out: Path, size: int) -> float:
    """Seconds per submission of one batch grading ``folder``."""
    shutil.rmtree(out, ignore_errors=True)
    started = time.monotonic()
    subprocess.run([str(Path(sys.executable).with_name("vaegrade")), "grade", str(folder), "--rubric",
                    str(ROOT / "rubrics" / "vae_mnist.yaml"), "--out", str(out), "--jobs", "1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.monotonic() - started) / size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--class-size", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vaegrade-bench-weights-") as scratch:
        weights, retrain = Path(scratch) / "weights", Path(scratch) / "retrain"
        for folder in (weights, retrain):
            folder.mkdir()
            for student in range(args.class_size):
                shutil.copy(SAMPLES / "reference_solution.ipynb", folder / f"student{student}.ipynb")
                if folder == weights:
                    shutil.copy(SAMPLES / "reference_solution.pt", folder / f"student{student}.pt")
        times: dict[str, list[float]] = {"weights": [], "retraining": []}
        for _ in range(args.repeats):
            times["weights"].append(graded(weights, Path(scratch) / "out", args.class_size))
            times["retraining"].append(graded(retrain, Path(scratch) / "out", args.class_size))
    with_weights, retraining = statistics.median(times["weights"]), statistics.median(times["retraining"])
    print(f"| flagship reference solution, s per submission | weights handed in | retraining | speed-up |\n|---|---|---|---|\n"
          f"| median of {args.repeats} batches of {args.class_size} | {with_weights:.1f} | {retraining:.1f} | "
          f"{retraining / with_weights:.1f}x |")


if __name__ == "__main__":
    main()
