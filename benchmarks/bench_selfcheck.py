"""Self-check times per check on an already trained model (what a student waits for).

Runs the reference solution's cells in this process (1 epoch on 5,000 images: the model need not
be good, only trained), then times ``selfcheck(<id>)`` for each public check of ``vae_mnist``,
twice (the first call of a check loads the data set, the classifier and imports). The baseline,
measured in the same run, is the MNIST classifier on 1,000 images: the floor of ``sample_quality``.

    python benchmarks/bench_selfcheck.py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaegrade.grader.run.datasets import served_files  # noqa: E402
from vaegrade.grader.selfcheck import SelfCheck  # noqa: E402
from vaegrade.reference.classifier import classify  # noqa: E402
from vaegrade.reference.data import DATASETS  # noqa: E402


def trained_namespace(work: Path) -> dict:
    for name, path in served_files(None).items():
        shutil.copy(path, work / f"{name}.npz")
    notebook = nbformat.read(ROOT / "submissions/vae_mnist/samples/reference_solution.ipynb", as_version=4)
    namespace: dict = {"__name__": "__main__"}
    os.chdir(work)
    for cell in notebook.cells:
        if cell.cell_type == "code" and not cell.source.lstrip().startswith(("%", "!")):
            exec(cell.source, namespace)
            if "parameters" in cell.metadata.get("tags", []):
                namespace.update(epochs=1, n_train=5000)
    return namespace


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as work:
        namespace = trained_namespace(Path(work))
        check = SelfCheck()
        check.use(ROOT / "rubrics/vae_mnist.yaml")
        check.namespace = namespace
        started = time.perf_counter()
        classify(torch.rand(1000, *DATASETS["mnist"].channel_shape))
        baseline = time.perf_counter() - started
        print(f"baseline: classifier on 1000 images {baseline:.2f} s (1 thread)")
        for spec in check.rubric().checks:
            times = []
            for _ in range(2):
                started = time.perf_counter()
                result = check(spec.id)
                times.append(time.perf_counter() - started)
            print(f"{spec.id:<17} first {times[0]:6.2f} s, again {times[1]:6.2f} s "
                  f"({times[1] / baseline:5.2f} x baseline)  {result.checks[0].status}")
        started = time.perf_counter()
        check.all()
        print(f"selfcheck.all()   {time.perf_counter() - started:6.2f} s")


if __name__ == "__main__":
    main()
