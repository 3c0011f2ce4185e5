"""The judge's cost per submission: its penultimate features of 1,000 images (what
``sample_quality`` classifies), as trained (the baseline, :func:`vaegrade.reference.classifier.load_weights`)
and as graded (:func:`vaegrade.reference.classifier.load_classifier`: batch norms folded, channels-last),
on one thread as in a grading worker beside its kernels, in batches of 100 and of 1,000. Prints the
CPU seconds (best of ``--repeats``), the ratio to the baseline and the largest difference of the
features from the baseline's, on real test digits and on noise.

    python benchmarks/bench_judge.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaegrade.reference.classifier import load_classifier, load_weights  # noqa: E402
from vaegrade.reference.data import DATASETS, images_to_tensor  # noqa: E402


def features(model: torch.nn.Module, images: torch.Tensor, batch: int) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([model.features(images[start:start + batch]) for start in range(0, len(images), batch)])


def best_cpu(repeats: int, run) -> tuple[float, torch.Tensor]:
    times = []
    for _ in range(repeats):
        started = time.process_time()
        out = run()
        times.append(time.process_time() - started)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    digits = images_to_tensor(DATASETS["mnist"].load().x_test[:1000])
    noise = torch.rand(1000, *DATASETS["mnist"].channel_shape, generator=torch.Generator().manual_seed(0))
    trained, graded = load_weights("mnist"), load_classifier("mnist")
    for name, images in (("test digits", digits), ("noise", noise)):
        channels_last = images.contiguous(memory_format=torch.channels_last)
        baseline, expected = best_cpu(args.repeats, lambda: features(trained, images, 100))
        print(f"{name}: as trained, batches of 100: {baseline:.3f} s CPU (baseline)")
        for label, model, inputs, batch in (("as trained, one batch of 1000", trained, images, 1000),
                                            ("as graded, batches of 100", graded, channels_last, 100),
                                            ("as graded, one batch of 1000", graded, channels_last, 1000)):
            seconds, out = best_cpu(args.repeats, lambda: features(model, inputs, batch))
            print(f"{name}: {label}: {seconds:.3f} s CPU ({seconds / baseline:.2f}x baseline), "
                  f"largest feature difference {(out - expected).abs().max().item():.1e}")


if __name__ == "__main__":
    main()
