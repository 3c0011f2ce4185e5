"""Seconds per submission for a class of 8 copies of the flagship submission, graded with the full
rubric by ``vaegrade grade`` three ways in one run: ``--jobs 1``, ``--jobs 2`` (the local pool)
and ``--cluster local --jobs 2`` (a Dask LocalCluster of 2 worker processes), each as ratios
against ``--jobs 1``. Aims (issue 14): at least 1.8x for 2 jobs on 2 cores, and Dask within 10%
of the local pool.

The notebook is the one ``bench_overhead.py`` grades (the reference solution at 2 epochs on
10,000 images). Each way starts from an empty OUT (nothing reused), in a fresh process, as a
user runs it; ``--repeats`` alternates the ways and reports medians.

    python benchmarks/bench_scaling.py [--repeats 1] [--isolation none]
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_overhead import arguments, flagship_rubric, notebook, write_rubric  # noqa: E402

CLASS = 8
WAYS = {"--jobs 1": ["--jobs", "1"], "--jobs 2": ["--jobs", "2"], "Dask LocalCluster, 2 workers": ["--cluster", "local", "--jobs", "2"]}


def grade(folder: Path, rubric: Path, out: Path, isolation: str, options: list[str]) -> float:
    shutil.rmtree(out, ignore_errors=True)
    started = time.monotonic()
    subprocess.run([str(Path(sys.executable).with_name("vaegrade")), "grade", str(folder), "--rubric", str(rubric),
                    "--out", str(out), "--isolation", isolation, "--quiet", *options],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.monotonic() - started) / CLASS


def main() -> None:
    args = arguments(__doc__.splitlines()[0], repeats=1)
    with tempfile.TemporaryDirectory(prefix="vaegrade-bench-") as scratch:
        work = Path(scratch)
        folder = work / "class"
        folder.mkdir()
        for index in range(CLASS):
            nbformat.write(notebook(None), folder / f"student{index}.ipynb")
        write_rubric(work / "rubric.yaml", flagship_rubric())
        times: dict[str, list[float]] = {way: [] for way in WAYS}
        for repeat in range(args.repeats):
            for way, options in WAYS.items():
                times[way].append(grade(folder, work / "rubric.yaml", work / "out", args.isolation, options))
                print(f"repeat {repeat + 1}/{args.repeats}: {way} {times[way][-1]:.2f} s per submission",
                      file=sys.stderr, flush=True)
    medians = {way: statistics.median(values) for way, values in times.items()}
    base = medians["--jobs 1"]
    print(f"{CLASS} copies of the flagship submission, full rubric, isolation: {args.isolation}, {args.repeats} repeat(s)")
    print(f"{'way':30} {'s per submission':>17} {'speed-up vs --jobs 1':>21}")
    for way, seconds in medians.items():
        print(f"{way:30} {seconds:17.2f} {base / seconds:20.2f}x")
    print(f"Dask vs the local pool: {medians['Dask LocalCluster, 2 workers'] / medians['--jobs 2'] - 1:+.1%} time per submission")
    print(json.dumps({"medians_s": medians, "runs_s": times}), file=sys.stderr)


if __name__ == "__main__":
    main()
