"""Build the trained weights the flagship's samples hand in: ``python submissions/vae_mnist/build.py``.

The reference solution, run as a student runs it (its own parameters: 10 epochs on the 60,000
training images), saves ``vae.pt`` (its last training cell: ``torch.save(model.state_dict(), ...)``);
that file becomes ``samples/reference_solution.pt``, the weights handed in beside it (see the
rubric's ``weights:`` and :func:`vaegrade.grader.run.submissions.find_weights`). Run with nbclient
in a scratch folder holding the served ``mnist.npz``, on this machine's CPU (about a minute).
"""

from __future__ import annotations

import shutil
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


if __name__ == "__main__":
    trained_weights(HERE / "samples" / "reference_solution.ipynb", HERE / "samples" / "reference_solution.pt")
