"""Build the trained weights the flagship's samples hand in: ``python submissions/vae_mnist/build.py``.

Each sample in :data:`HANDED_IN`, run as a student runs it (its own parameters: the reference 10
epochs on the 60,000 training images, the deeper MLP 20, the learning rate of 1e-4 60), saves
``vae.pt`` (its cell after the training: ``torch.save(model.state_dict(), ...)``); that file becomes
``samples/<sample>.pt``, the weights handed in beside it (see the rubric's ``weights:`` and
:func:`vaegrade.grader.run.submissions.find_weights`). Run with nbclient in a scratch folder holding
the served ``mnist.npz``, on this machine's CPU (about a minute for the reference, 12 for all three).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import nbclient
import nbformat

from vaegrade.grader.run.datasets import served_files

HERE = Path(__file__).resolve().parent


def trained_weights(notebook: Path, target: Path) -> None:
    """Run ``notebook`` to its end in a scratch folder and keep the ``vae.pt`` it saves as ``target``."""
    with tempfile.TemporaryDirectory(prefix="vaegrade-build-") as scratch:
        shutil.copy(served_files(None, None)["mnist"], Path(scratch) / "mnist.npz")
        nb = nbformat.read(notebook, as_version=4)
        nbclient.NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": scratch}}).execute()
        shutil.copy(Path(scratch) / "vae.pt", target)
    print(f"wrote {target.relative_to(HERE)}")


#: The samples that hand in their trained weights: the reference and two correct variants that
#: learn more slowly per step (graded at full marks with their weights, under-trained without).
HANDED_IN = ("reference_solution", "alternative_deeper_mlp", "alternative_small_lr")

if __name__ == "__main__":
    for name in sys.argv[1:] or HANDED_IN:
        trained_weights(HERE / "samples" / f"{name}.ipynb", HERE / "samples" / f"{name}.pt")
