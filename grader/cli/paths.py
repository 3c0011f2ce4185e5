"""What the command's path arguments must be, checked when the arguments are parsed, so that a
mistyped path is one line and exit 2 before any work starts (not a traceback after it)."""

from __future__ import annotations

import argparse
from pathlib import Path


def folder_to_write(text: str) -> Path:
    """An output folder (``--out`` of grade, check, report, bundle, validate): new or a folder, not a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a file, not a folder: name a new or existing folder")
    _parent_exists(path)
    return path


def file_to_write(text: str) -> Path:
    """An output file (``export --to``, ``calibrate --out``, ``gradescope --out``): its folder must exist."""
    path = Path(text)
    _parent_exists(path)
    return path


def existing(text: str) -> Path:
    """An input file or folder (a rubric, a notebook, an OUT folder to read): it must exist."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{path} does not exist")
    return path


def _parent_exists(path: Path) -> None:
    parent = path.resolve().parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{path}: its folder {parent} does not exist (create it first)")
