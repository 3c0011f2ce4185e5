"""Where the files vaegrade keeps beside its code are: ``templates`` and ``rubrics``.

The repository's ``templates/`` is the package ``vaegrade.templates`` (data only; pyproject's
``package-dir`` maps it), beside ``grader/`` (``vaegrade.grader``) both in a checkout (an editable
install) and in a wheel's ``site-packages/vaegrade/``: :data:`ROOT` is that common folder. The
shipped assignments' ``rubrics/`` are there in a checkout (an instructor's install) only: the
wheel students install carries no instructor rubric (hidden checks, their inputs, answer patterns).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[1]


def shipped(name: Literal["templates", "rubrics"]) -> Path:
    """The folder of shipped ``templates`` or ``rubrics``, in a wheel or a checkout."""
    return ROOT / name


def rubric_file(spec: str | Path) -> Path:
    """``spec`` when it is a file, else the shipped rubric of that name (``vae_mnist``,
    ``shapes/keras_functional``) when there is one (in a checkout), else ``spec`` (loading it says
    it is missing)."""
    shipped_file = shipped("rubrics") / f"{spec}.yaml"
    return Path(spec) if Path(spec).is_file() or not shipped_file.is_file() else shipped_file


def source_folders() -> list[Path]:
    """vaegrade's own folders (its packages and shipped files) outside the Python environment's
    prefix: what a sandboxed kernel must also see to import vaegrade from a checkout (an
    editable install). Empty for a wheel, which lives inside the prefix."""
    prefix = Path(sys.prefix).resolve()
    folders = [ROOT / name for name in ("vaegrade", "grader", "reference", "templates", "rubrics")]
    return [folder for folder in folders if folder.is_dir() and not folder.is_relative_to(prefix)]
