"""Building each kernel-environment recipe of the README, against a standalone environment of the
same list, in one run.

Usage: ``python benchmarks/bench_environments.py [--no-baseline] [RECIPE ...]`` (default: every recipe).

For each recipe, in a fresh empty cache (``VAEGRADE_CACHE``), so nothing is reused:

- vaegrade: :func:`vaegrade.grader.run.environments.ensure_environment`, the layer over the
  grader's environment (its CPU torch, numpy, matplotlib, ipykernel) with the kernel runtime
  pinned, then the smoke test (:mod:`vaegrade.grader.run.smoke`, a sandboxed kernel importing each
  package);
- baseline: ``python -m venv`` and ``pip install`` of the same list into a standalone virtual
  environment plus ipykernel (what a rubric's list costs without the layering; for torchvision,
  PyPI's CUDA torch and its libraries).

It prints each one's build time (s) and size on disk (MB), and the ratios. pip's download cache is
left as it is: both sides read the same cached wheels.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vaegrade.grader.rubric.schema import load_rubric
from vaegrade.grader.run.smoke import ready_environment

ROOT = Path(__file__).resolve().parents[1]
#: recipe -> a rubric using it
RECIPES = {
    "torchvision + pandas + tqdm": "rubrics/shapes/torchvision_fashion_colab.yaml",
    "TensorFlow (Keras 3)": "rubrics/shapes/keras_functional.yaml",
    "Keras 2 (tf-keras, TF_USE_LEGACY_KERAS=1)": "rubrics/shapes/keras2_add_loss.yaml",
    "torchvision + TensorFlow in one kernel": "rubrics/shapes/torchvision_keras_in_colab.yaml",
}


def size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


def layered(rubric_path: Path, scratch: Path) -> tuple[float, float]:
    cache = scratch / "cache"
    cache.mkdir(mode=0o755)
    os.environ["VAEGRADE_CACHE"] = str(cache)
    started = time.monotonic()
    kernel = ready_environment(load_rubric(rubric_path), "bubblewrap", log=lambda message: None)
    return time.monotonic() - started, size_mb(kernel.prefix)


def standalone(packages: list[str], scratch: Path) -> tuple[float, float]:
    venv = scratch / "standalone"
    started = time.monotonic()
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "ipykernel", *packages], check=True,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - started, size_mb(venv)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-baseline", action="store_true", help="skip the standalone environments (minutes, GBs)")
    parser.add_argument("recipes", nargs="*", default=list(RECIPES))
    args = parser.parse_args()
    print("| recipe | packages | vaegrade build (s) | size (MB) | standalone build (s) | size (MB) | time ratio | size ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for recipe in args.recipes:
        rubric_path = ROOT / RECIPES[recipe]
        packages = load_rubric(rubric_path).environment.packages
        with tempfile.TemporaryDirectory(prefix="vaegrade-bench-env-") as folder:
            scratch = Path(folder)
            scratch.chmod(0o755)
            seconds, mb = layered(rubric_path, scratch)
            base = standalone(packages, scratch) if not args.no_baseline else None
            shutil.rmtree(scratch / "standalone", ignore_errors=True)
        row = f"| {recipe} | `{', '.join(packages)}` | {seconds:.0f} | {mb:.0f} |"
        row += (f" {base[0]:.0f} | {base[1]:.0f} | {seconds / base[0]:.2f}x | {mb / base[1]:.2f}x |" if base else " | | | |")
        print(row, flush=True)


if __name__ == "__main__":
    main()
