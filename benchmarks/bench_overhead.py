"""Grading overhead over bare notebook execution, beside an nbgrader-style autograder, in one run.

The notebook is the flagship reference solution at 2 epochs on 10,000 images (its `parameters`
cell set to those values, and every rubric's parameters too, so that every variant runs the
same work). Every variant runs in a fresh process, as a user runs it, one submission at a time
and then a batch (``--batch``, default 4) at 2 at a time:

- floor: bare nbclient execution (``python -c`` with nbformat + nbclient, no grading), its kernel on
  one thread as vaegrade's are (``threads: 1``);
- nbgrader-style: the same, plus one appended cell asserting ``kl_divergence`` against the
  closed form, graded by whether that cell raised (what ``nbgrader autograde`` does per test cell);
- vaegrade, KL only: ``vaegrade grade`` with a rubric of the one ``kl_divergence`` check;
- vaegrade, full rubric: ``vaegrade grade`` with ``rubrics/vae_mnist.yaml`` (every check,
  feedback page, gradebook).

vaegrade's own modules are byte-compiled first (``compileall``), as an installed wheel's are:
under ``PYTHONDONTWRITEBYTECODE=1`` (set on this machine) an editable install would otherwise
compile them again in every process (about 0.3 s).

Each variant runs ``--repeats`` times (default 3), alternating; the table gives medians, the
overhead over the floor (the median of the differences to the floor of the same repeat) and the
overhead's ratio to nbgrader-style's. Sandbox: vaegrade's default
(bubblewrap when available); ``--isolation none`` compares without it.

    python benchmarks/bench_overhead.py [--repeats 3] [--isolation none] [--batch 4]

A batch's fixed costs (the fork server's import of the grader, torch and scipy.stats, 4.3 s of
CPU before the first worker starts; each worker's loading of the data set; the class overview
and its similarity flags) are shared by its submissions; ``--batch 8`` beside the default
separates them from each submission's own cost.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaegrade.grader.run.datasets import served_files  # noqa: E402
from vaegrade.grader.run.isolation import ISOLATORS  # noqa: E402

PARAMETERS = {"epochs": 2, "n_train": 10000, "batch_size": 128, "seed": 0}
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # as vaegrade's kernels (threads: 1)
JOBS = 2
KL_ASSERT = """
import torch
_mu, _logvar = torch.randn(16, 5, dtype=torch.float64), torch.rand(16, 5, dtype=torch.float64) * 5 - 3
assert torch.allclose(kl_divergence(_mu, _logvar), 0.5 * (_mu ** 2 + _logvar.exp() - 1 - _logvar).sum(dim=1))
"""
RUN_ONE = """
import sys, nbformat, nbclient
path, work = sys.argv[1], sys.argv[2]
nb = nbformat.read(path, as_version=4)
try:
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": work}}).execute()
    print("passed")
except nbclient.exceptions.CellExecutionError:
    print("failed")
"""


def notebook(extra_cell: str | None) -> nbformat.NotebookNode:
    nb = nbformat.read(ROOT / "submissions/vae_mnist/samples/reference_solution.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = "\n".join(f"{name} = {value!r}" for name, value in PARAMETERS.items())
    if extra_cell:
        nb.cells.append(nbformat.v4.new_code_cell(extra_cell))
    return nb


def bare(paths: list[Path], work: Path) -> float:
    """Seconds to execute ``paths`` with bare nbclient, JOBS processes at a time, each in its own folder."""
    started = time.monotonic()
    running: list[subprocess.Popen] = []
    for index, path in enumerate(paths):
        folder = work / f"bare{index}"
        folder.mkdir(exist_ok=True)
        shutil.copy(served_files(None)["mnist"], folder / "mnist.npz")
        if len(running) == JOBS:
            running.pop(0).wait()
        running.append(subprocess.Popen([sys.executable, "-c", RUN_ONE, str(path), str(folder)], env=ONE_THREAD,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for process in running:
        process.wait()
    return time.monotonic() - started


def vaegrade(folder: Path, rubric: Path, out: Path, isolation: str) -> float:
    shutil.rmtree(out, ignore_errors=True)
    started = time.monotonic()
    subprocess.run([str(Path(sys.executable).with_name("vaegrade")), "grade", str(folder), "--rubric", str(rubric),
                    "--out", str(out), "--jobs", str(JOBS), "--isolation", isolation],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def arguments(description: str, repeats: int, batch: int | None = None) -> argparse.Namespace:
    """``--repeats`` and ``--isolation``, parsed; then vaegrade byte-compiled (see the module's docstring)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--isolation", choices=list(ISOLATORS), default="bubblewrap")
    if batch is not None:
        parser.add_argument("--batch", type=int, default=batch, help="submissions in the batch variant (graded 2 at a time)")
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "grader"), str(ROOT / "reference")], check=True)
    return args


def flagship_rubric() -> dict:
    """``rubrics/vae_mnist.yaml`` with :data:`PARAMETERS` (every check, no handout)."""
    rubric = yaml.safe_load((ROOT / "rubrics/vae_mnist.yaml").read_text())
    rubric["parameters"] = PARAMETERS
    rubric.pop("handout", None)
    return rubric


def write_rubric(path: Path, rubric: dict) -> Path:
    """Write ``rubric`` as YAML in its own key order: a check's ``args`` are positional, so sorted
    keys would call ``vae_loss(logvar, mu, x, x_hat)``."""
    path.write_text(yaml.safe_dump(rubric, sort_keys=False))
    return path


def main() -> None:
    args = arguments(__doc__.splitlines()[0], repeats=3, batch=4)
    with tempfile.TemporaryDirectory(prefix="vaegrade-bench-") as scratch:
        work = Path(scratch)
        plain, asserted = work / "plain.ipynb", work / "asserted.ipynb"
        nbformat.write(notebook(None), plain)
        nbformat.write(notebook(KL_ASSERT), asserted)
        single, batch = work / "single", work / "batch"
        single.mkdir()
        batch.mkdir()
        shutil.copy(plain, single / "student.ipynb")
        for index in range(args.batch):
            shutil.copy(plain, batch / f"student{index}.ipynb")
        full = flagship_rubric()
        full_rubric = write_rubric(work / "full.yaml", full)
        kl_rubric = write_rubric(work / "kl.yaml", {**full, "checks": [full["checks"][0]]})
        variants = {
            "floor (bare nbclient)": (lambda: bare([plain], work), lambda: bare([plain] * args.batch, work)),
            "nbgrader-style (1 assert)": (lambda: bare([asserted], work), lambda: bare([asserted] * args.batch, work)),
            "vaegrade, KL check only": (lambda: vaegrade(single, kl_rubric, work / "out", args.isolation),
                                        lambda: vaegrade(batch, kl_rubric, work / "out", args.isolation)),
            "vaegrade, full rubric": (lambda: vaegrade(single, full_rubric, work / "out", args.isolation),
                                      lambda: vaegrade(batch, full_rubric, work / "out", args.isolation)),
        }
        times: dict[str, dict[str, list[float]]] = {name: {"single": [], "batch": []} for name in variants}
        for repeat in range(args.repeats):
            for name, (one, many) in variants.items():
                times[name]["single"].append(one())
                times[name]["batch"].append(many() / args.batch)
            print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr, flush=True)
    medians = {name: {mode: statistics.median(values) for mode, values in modes.items()} for name, modes in times.items()}
    floor, nbgrader = times["floor (bare nbclient)"], times["nbgrader-style (1 assert)"]

    def overhead(runs: dict[str, list[float]], mode: str) -> float:
        """Median over repeats of the time over the floor measured in the same repeat (this
        machine's drift between repeats is larger than the overheads)."""
        return statistics.median(a - b for a, b in zip(runs[mode], floor[mode]))

    print(f"isolation: {args.isolation}; {args.repeats} repeats; batch = {args.batch} submissions at {JOBS} at a time "
          f"(times per submission; overhead: median over repeats of the difference to that repeat's floor)")
    print(f"{'variant':28} {'single':>8} {'overhead':>9} {'vs nbgrader':>11}   {'batch':>8} {'overhead':>9} {'vs nbgrader':>11}")
    for name, value in medians.items():
        row = [f"{name:28}"]
        for mode in ("single", "batch"):
            extra, base = overhead(times[name], mode), overhead(nbgrader, mode)
            ratio = f"{extra / base:.1f}x" if base > 0.05 and name.startswith("vaegrade") else "-"
            row.append(f"{value[mode]:7.2f}s {extra:+8.2f}s {ratio:>11}")
        print("   ".join(row))
    print(json.dumps({"medians_s": medians, "runs_s": times}), file=sys.stderr)


if __name__ == "__main__":
    main()
