"""Rebuild the shipped Fashion-MNIST copy, ``reference/assets/fashion_mnist.npz``, from the IDX files.

Usage::

    apt-get install dataset-fashion-mnist      # Debian: /usr/share/datasets/fashion-mnist/*.gz
    python -m vaegrade.reference.build_fashion_mnist [/usr/share/datasets/fashion-mnist]

The source is Zalando's canonical release (Xiao, Rasul & Vollgraf, 2017), the four gzipped IDX
files in their canonical order and split. The output is byte-reproducible; its sha256 is printed
and must equal ``vaegrade.reference.data.DATASETS["fashion_mnist"].sha256``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vaegrade.reference.data import DATASETS, read_images, save_keras_npz, sha256_file

DEBIAN_FOLDER = Path("/usr/share/datasets/fashion-mnist")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, nargs="?", default=DEBIAN_FOLDER, help="folder of the four IDX files")
    parser.add_argument("--out", type=Path, default=DATASETS["fashion_mnist"].file)
    args = parser.parse_args(argv)
    save_keras_npz(read_images(args.source, DATASETS["fashion_mnist"]), args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes) sha256 {sha256_file(args.out)}")


if __name__ == "__main__":
    main()
