"""Grading a shape of the shapes corpus against its notebook's own execution, in one run.

Usage: ``python benchmarks/bench_shapes.py [--repeats 2] [SHAPE ...]`` (default: every shape).

For each shape's correct notebook, alternating, ``--repeats`` times, each from a fresh process:

- floor: the notebook as it runs at grading time (its grading parameters set, the data sets
  served offline by the kernel setup, its handout files and modules beside it), executed by bare
  nbclient in the rubric's kernel environment, unconfined: what the notebook itself costs;
- vaegrade: ``vaegrade grade NOTEBOOK --rubric rubrics/shapes/SHAPE.yaml`` (bubblewrap, the probe,
  every check, the feedback page and the gradebook).

It prints, per shape, the medians and their ratio (the aim: at most 2x), and the median of the
ratios. Kernel environments are built, and vaegrade's modules byte-compiled, before timing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from vaegrade.grader.rubric.schema import load_rubric
from vaegrade.grader.run import transforms
from vaegrade.grader.run.datasets import served_files
from vaegrade.grader.run.environments import ensure_environment
from vaegrade.grader.run.prepare import prepare

ROOT = Path(__file__).resolve().parents[1]
SHAPES = ROOT / "submissions" / "shapes"
RUN_ONE = """
import sys, nbformat, nbclient
path, work = sys.argv[1], sys.argv[2]
nb = nbformat.read(path, as_version=4)
nbclient.NotebookClient(nb, timeout=900, kernel_name="vaegrade-bench", resources={"metadata": {"path": work}}).execute()
"""


def floor_folder(shape: str, work: Path) -> tuple[Path, Path]:
    """A folder holding the shape's notebook as it runs at grading time (without the probe or any
    recording), with what the grader serves beside it, and a Jupyter path whose one kernel runs
    the rubric's environment. Returns (notebook, Jupyter path)."""
    rubric = load_rubric(ROOT / "rubrics" / "shapes" / f"{shape}.yaml")
    notebook = next((SHAPES / shape).rglob(f"{shape}.ipynb"))
    prepared = prepare(nbformat.read(notebook, as_version=4), rubric)
    folder = work / shape
    folder.mkdir()
    served = served_files(rubric.data.train_subset, rubric.data.test_subset)
    for name, path in served.items():
        shutil.copy(path, folder / f"{name}.npz")
    for file, path in zip(rubric.files, rubric.file_paths()):
        (folder / file.to).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / file.to)
    for module in notebook.parent.glob("*.py"):
        shutil.copy(module, folder / module.name)
    setup = transforms.inject_setup_cell(prepared.notebook, {
        **prepared.shims, "records": {}, "seed": rubric.seed, "threads": rubric.execution.threads,
        "framework": rubric.framework, "max_steps_per_epoch": rubric.data.max_steps_per_epoch,
        "datasets": {name: str(folder / f"{name}.npz") for name in served}})
    nbformat.write(setup, folder / notebook.name)
    kernel = ensure_environment(rubric.environment.packages, rubric.environment.variables)
    spec = work / f"{shape}-jupyter" / "kernels" / "vaegrade-bench"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(kernel.python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bench", "language": "python", "env": kernel.kernel_variables()}))
    return folder / notebook.name, spec.parents[1]


def floor(notebook: Path, jupyter: Path) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", RUN_ONE, str(notebook), str(notebook.parent)], check=True,
                   env={"PATH": "/usr/bin:/bin", "JUPYTER_PATH": str(jupyter), "HOME": str(notebook.parent)},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def graded(shape: str, out: Path) -> float:
    notebook = next((SHAPES / shape).rglob(f"{shape}.ipynb"))
    shutil.rmtree(out, ignore_errors=True)
    started = time.monotonic()
    subprocess.run([str(Path(sys.executable).with_name("vaegrade")), "grade", str(notebook), "--rubric",
                    str(ROOT / "rubrics" / "shapes" / f"{shape}.yaml"), "--out", str(out)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("shapes", nargs="*", default=sorted(p.stem for p in (ROOT / "rubrics" / "shapes").glob("*.yaml")))
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "grader"), str(ROOT / "reference")], check=True)
    ratios = []
    print("| shape | notebook alone (s) | vaegrade grade (s) | ratio |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="vaegrade-bench-") as scratch:
        work = Path(scratch)
        for shape in args.shapes:
            notebook, jupyter = floor_folder(shape, work)
            floors, grades = [], []
            try:
                for _ in range(args.repeats):
                    floors.append(floor(notebook, jupyter))
                    grades.append(graded(shape, work / "out"))
            except subprocess.CalledProcessError:  # tf1_session: the notebook itself does not run
                print(f"| {shape} | does not run | | |", flush=True)
                continue
            bare, total = statistics.median(floors), statistics.median(grades)
            ratios.append(total / bare)
            print(f"| {shape} | {bare:.1f} | {total:.1f} | {total / bare:.2f}x |", flush=True)
    print(f"median ratio {statistics.median(ratios):.2f}x, largest {max(ratios):.2f}x")


if __name__ == "__main__":
    main()
