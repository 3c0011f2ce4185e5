"""The image data sets (MNIST, Fashion-MNIST): a user's own copy (Keras ``.npz`` or the IDX
files) or the shipped copies, registered by name in :data:`DATASETS`.

Each shipped copy, ``reference/assets/<name>.npz``, holds the canonical 70,000 images in the
canonical order and split (60,000 train, 10,000 test), as uint8 pixels in Keras's layout.
It is verified against its pinned sha256 when a process first loads it. Provenance and the command that
rebuilt each are in ``reference/assets/<name>.PROVENANCE.md``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: imported where used, so a rubric loads without it
    import torch

ASSETS = Path(__file__).resolve().parent / "assets"

KERAS_KEYS = ("x_train", "y_train", "x_test", "y_test")
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class DataError(ValueError):
    """A data file is missing, corrupt, or not in a layout this module reads."""


@dataclass(frozen=True)
class Dataset:
    """A shipped image data set and everything that knows its geometry: the one place the grader
    learns an image's size.

    Attributes:
        name: the rubric's ``dataset`` value.
        file: the shipped copy, ``reference/assets/<name>.npz`` (Keras layout, uint8).
        sha256: its pinned sha256, printed by the ``rebuild`` command.
        rebuild: the command that rebuilds ``file`` from its public source.
        classes: class names, index = label.
        judge: the judge classifier's weights file (a state dict, see :mod:`vaegrade.reference.classifier`).
        judge_sha256: its pinned sha256, printed by ``python -m vaegrade.reference.train_classifier``.
        image_shape: (height, width) of one grey-scale image, in pixels.
        sizes: (training images, test images).
    """

    name: str
    file: Path
    sha256: str
    rebuild: str
    classes: tuple[str, ...]
    judge: Path
    judge_sha256: str
    image_shape: tuple[int, int] = (28, 28)
    sizes: tuple[int, int] = (60000, 10000)

    @property
    def pixels(self) -> int:
        """Values in one image (height x width)."""
        return self.image_shape[0] * self.image_shape[1]

    @property
    def channel_shape(self) -> tuple[int, int, int]:
        """One image as (channels, height, width), PyTorch's layout of the judge's input."""
        return (1, *self.image_shape)

    def load(self) -> Images:
        """The shipped arrays, sha256-checked and read once per process (:func:`load_dataset`)."""
        return load_dataset(self.name)

    def validated(self, arrays: dict[str, np.ndarray], origin: Path | str) -> Images:
        """``arrays`` as :class:`Images` when they have this data set's keys, sizes, image shape
        and dtype (uint8).

        Raises:
            DataError: a key is missing or an array's shape or dtype is not this data set's.
        """
        (train, test), shape = self.sizes, self.image_shape
        expected = {"x_train": (train, *shape), "y_train": (train,), "x_test": (test, *shape), "y_test": (test,)}
        for key, wanted in expected.items():
            array = arrays[key]
            if array.shape != wanted or array.dtype != np.uint8:
                raise DataError(f"{origin}: {key} is {array.dtype}{list(array.shape)}, expected uint8{list(wanted)}")
        return Images(**arrays)


#: Data sets a rubric's ``dataset`` may name, each with its judge classifier.
DATASETS = {
    "mnist": Dataset(
        "mnist", ASSETS / "mnist.npz", "ee068f36682cba7f38bafdedc77b0f873ebbcf877036f7ebde566966146ac146",
        "python -m vaegrade.reference.build_mnist", tuple(str(digit) for digit in range(10)),
        ASSETS / "classifier.pt", "6bb991acfed61d3c8a41c90b1420fe215edbd91baf627ab294045d1322eed183"),
    "fashion_mnist": Dataset(
        "fashion_mnist", ASSETS / "fashion_mnist.npz", "442f264ce0d782402cefb7088dee95291033dcd5898f6a2b089ab99ca8c36e88",
        "python -m vaegrade.reference.build_fashion_mnist",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        ASSETS / "classifier_fashion_mnist.pt", "386a16bfe13f3d65a1778fbd1b9408465a601539beefbe4c3234ee6f914d7f50"),
}


@dataclass(frozen=True)
class Images:
    """A data set's arrays in Keras's layout (shapes per its :class:`Dataset`).

    Attributes:
        x_train: (N_train, H, W) uint8 pixels in 0..255.
        y_train: (N_train,) uint8 labels.
        x_test: (N_test, H, W) uint8 pixels.
        y_test: (N_test,) uint8 labels.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        return {key: getattr(self, key) for key in KERAS_KEYS}


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str, error: type[Exception], rebuild: str) -> None:
    """Check a shipped asset before it is used.

    Raises:
        error: ``path`` is missing, or its sha256 is not ``expected`` (the message names the
            command that rebuilds it).
    """
    if not path.is_file():
        raise error(f"{path} is missing; rebuild it with `{rebuild}`")
    actual = sha256_file(path)
    if actual != expected:
        raise error(f"{path} has sha256 {actual}, expected {expected}: the file is corrupt or was "
                    f"replaced; rebuild it with `{rebuild}`")


@lru_cache(maxsize=None)
def load_dataset(name: str) -> Images:
    """The shipped copy of data set ``name`` (a key of :data:`DATASETS`), sha256-checked, read
    once per process (the arrays are shared: do not write to them).

    Raises:
        DataError: unknown name, or the file is missing or its sha256 does not match.
    """
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; known: {sorted(DATASETS)}")
    dataset = DATASETS[name]
    verify_sha256(dataset.file, dataset.sha256, DataError, dataset.rebuild)
    return read_images(dataset.file, dataset)


def read_images(path: str | Path, dataset: Dataset = DATASETS["mnist"]) -> Images:
    """A copy of ``dataset`` (its geometry and sizes) from a user's file or folder.

    Args:
        path: a Keras ``.npz`` file (``mnist.npz``), or a folder holding the four IDX files
            (``train-images-idx3-ubyte`` etc., optionally ``.gz``).
    Returns:
        :class:`Images` with uint8 arrays, validated for shape and dtype.
    Raises:
        DataError: the file is missing or its arrays have the wrong keys, shapes or dtypes.
    """
    path = Path(path)
    arrays = _read_idx_folder(path) if path.is_dir() else _read_keras_npz(path)
    return dataset.validated(arrays, path)


def _read_keras_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"no data file at {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in KERAS_KEYS if key not in npz.files]
            if missing:
                raise DataError(f"{path} lacks the Keras keys {missing} (has {npz.files})")
            return {key: npz[key] for key in KERAS_KEYS}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path} is not a readable .npz file: {exc}") from exc


def _read_idx_folder(folder: Path) -> dict[str, np.ndarray]:
    arrays = {}
    for key, name in IDX_FILES.items():
        candidates = [folder / name, folder / f"{name}.gz"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise DataError(f"{folder} has neither {name} nor {name}.gz")
        raw = found.read_bytes()
        arrays[key] = read_idx(gzip.decompress(raw) if found.suffix == ".gz" else raw, found)
    return arrays


def read_idx(raw: bytes, origin: Path | str = "<bytes>") -> np.ndarray:
    """Decode an unsigned-byte IDX file (LeCun's MNIST format) into a uint8 array.

    Raises:
        DataError: bad magic number, a type other than unsigned byte, or a truncated body.
    """
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise DataError(f"{origin}: not an IDX file (bad magic number)")
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code != 0x08:
        raise DataError(f"{origin}: IDX type 0x{dtype_code:02x} is not unsigned byte")
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    body = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if body.size != int(np.prod(shape)):
        raise DataError(f"{origin}: body has {body.size} bytes, header says {shape}")
    return body.reshape(shape)


def write_idx(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file (inverse of :func:`read_idx`)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def save_keras_npz(images: Images, destination: Path | io.BufferedIOBase) -> None:
    """Write ``images`` as a deflate-compressed Keras-layout ``.npz`` with reproducible bytes.

    Every zip member gets a fixed timestamp, so the same arrays always give the same sha256.
    """
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for key, array in images.arrays().items():
            member = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            archive.writestr(member, buffer.getvalue(), compresslevel=9)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 images (N, H, W) -> float32 tensor (N, 1, H, W) with values in [0, 1] (pixel/255)."""
    import torch
    return torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0).unsqueeze(1)
