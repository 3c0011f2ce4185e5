"""The image data sets (MNIST, Fashion-MNIST): a user's own copy (Keras ``.npz`` or the IDX
files) or the shipped copies, registered by name in :data:`DATASETS`.

Each shipped copy, ``reference/assets/<name>.npz``, holds the canonical 70,000 images in the
canonical order and split (60,000 train, 10,000 test), as uint8 pixels in Keras's layout.
It is verified against its pinned sha256 on every load. Provenance and the command that
rebuilt each are in ``reference/assets/<name>.PROVENANCE.md``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: imported where used, so a rubric loads without it
    import torch

ASSETS = Path(__file__).resolve().parent / "assets"
SHIPPED_MNIST = ASSETS / "mnist.npz"
#: sha256 of ``reference/assets/mnist.npz``, printed by ``python -m reference.build_mnist``.
SHIPPED_MNIST_SHA256 = "ee068f36682cba7f38bafdedc77b0f873ebbcf877036f7ebde566966146ac146"

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
class DatasetInfo:
    """A shipped data set: its file, pinned sha256, the command that rebuilds it, and its
    class names (index = label)."""

    name: str
    path: Path
    sha256: str
    rebuild: str
    classes: tuple[str, ...]


#: Data sets a rubric's ``dataset`` may name. Each has a judge classifier in
#: :data:`reference.classifier.JUDGES`.
DATASETS = {
    "mnist": DatasetInfo("mnist", SHIPPED_MNIST, SHIPPED_MNIST_SHA256, "python -m reference.build_mnist",
                         tuple(str(digit) for digit in range(10))),
    "fashion_mnist": DatasetInfo(
        "fashion_mnist", ASSETS / "fashion_mnist.npz",
        "442f264ce0d782402cefb7088dee95291033dcd5898f6a2b089ab99ca8c36e88",
        "python -m reference.build_fashion_mnist",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")),
}


@dataclass(frozen=True)
class MNIST:
    """The MNIST arrays in Keras's layout.

    Attributes:
        x_train: (60000, 28, 28) uint8 pixels in 0..255.
        y_train: (60000,) uint8 labels in 0..9.
        x_test: (10000, 28, 28) uint8 pixels.
        y_test: (10000,) uint8 labels.
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


def load_dataset(name: str) -> MNIST:
    """The shipped copy of data set ``name`` (a key of :data:`DATASETS`), sha256-checked.

    Raises:
        DataError: unknown name, or the file is missing or its sha256 does not match.
    """
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; known: {sorted(DATASETS)}")
    info = DATASETS[name]
    verify_sha256(info.path, info.sha256, DataError, info.rebuild)
    return load_mnist(info.path)


def load_mnist(path: str | Path | None = None) -> MNIST:
    """Load MNIST from ``path`` or, when ``path`` is None, from the shipped, sha256-checked copy.

    Args:
        path: a Keras ``mnist.npz`` file, or a folder holding the four IDX files
            (``train-images-idx3-ubyte`` etc., optionally ``.gz``), or None.
    Returns:
        :class:`MNIST` with uint8 arrays, validated for shape and dtype.
    Raises:
        DataError: the file is missing, its sha256 does not match (shipped copy), or its
            arrays have the wrong keys, shapes or dtypes.
    """
    if path is None:
        verify_sha256(SHIPPED_MNIST, SHIPPED_MNIST_SHA256, DataError, "python -m reference.build_mnist")
        path = SHIPPED_MNIST
    path = Path(path)
    arrays = _read_idx_folder(path) if path.is_dir() else _read_keras_npz(path)
    return _validated(arrays, path)


def _read_keras_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"no MNIST file at {path}")
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


def _validated(arrays: dict[str, np.ndarray], origin: Path) -> MNIST:
    expected = {"x_train": (60000, 28, 28), "y_train": (60000,), "x_test": (10000, 28, 28), "y_test": (10000,)}
    for key, shape in expected.items():
        array = arrays[key]
        if array.shape != shape or array.dtype != np.uint8:
            raise DataError(f"{origin}: {key} is {array.dtype}{list(array.shape)}, expected uint8{list(shape)}")
    return MNIST(**arrays)


def save_keras_npz(mnist: MNIST, destination: Path | io.BufferedIOBase) -> None:
    """Write ``mnist`` as a deflate-compressed Keras-layout ``.npz`` with reproducible bytes.

    Every zip member gets a fixed timestamp, so the same arrays always give the same sha256.
    """
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for key, array in mnist.arrays().items():
            member = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            archive.writestr(member, buffer.getvalue(), compresslevel=9)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 images (N, 28, 28) -> float32 tensor (N, 1, 28, 28) with values in [0, 1] (pixel/255)."""
    import torch
    return torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0).unsqueeze(1)
