"""The data sets served to a notebook: one Keras-layout ``.npz`` per data set, read-only in the
sandbox, from which :mod:`vaegrade.grader.run.kernel_setup` answers every loader the notebook uses.

Every data set of :data:`vaegrade.reference.data.DATASETS` is served (a notebook for Fashion-MNIST may
load MNIST too), as ``<name>.npz`` in the kernel's working directory (so ``np.load("mnist.npz")``
works as well). With ``train_subset`` only the first N training images (and labels) are served,
so grading stays fast; with ``test_subset`` only the first N test images (for notebooks that
train on train + test; the checks draw their own test images from the shipped copy). Subsets are written once per
machine under the cache (:func:`vaegrade.grader.run.environments.cache_root`), in the shipped copies' format.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from vaegrade.grader.run.environments import cache_root
from vaegrade.reference.data import DATASETS, DataError, Images, load_dataset, save_keras_npz, verify_sha256


@lru_cache(maxsize=None)
def dataset_file(name: str) -> Path:
    """The shipped ``.npz`` file (Keras layout) of the data set ``name``, its checksum verified.

    Raises:
        DataError: the shipped copy is missing or corrupt.
    """
    info = DATASETS[name]
    verify_sha256(info.file, info.sha256, DataError, info.rebuild)
    return info.file


def served_files(train_subset: int | None, test_subset: int | None = None) -> dict[str, Path]:
    """{data set name: .npz file to serve} with the first ``train_subset`` training and
    ``test_subset`` test images (None: all of them).

    Raises:
        DataError: a shipped copy is missing or corrupt.
    """
    files = {}
    for name, info in DATASETS.items():
        if train_subset is None and test_subset is None:
            files[name] = dataset_file(name)
            continue
        verify_sha256(info.file, info.sha256, DataError, info.rebuild)
        path = cache_root() / "data" / f"{name}-train{train_subset}-test{test_subset}-{info.sha256[:12]}.npz"
        if not path.exists():
            data = load_dataset(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            subset = Images(x_train=data.x_train[:train_subset], y_train=data.y_train[:train_subset],
                           x_test=data.x_test[:test_subset], y_test=data.y_test[:test_subset])
            with open(partial, "wb") as handle:
                save_keras_npz(subset, handle)
            partial.chmod(0o644)
            partial.replace(path)
        files[name] = path
    return files
