"""The cells the grader injects into a student's notebook, and the kernel side of the probe as
the text one of them runs.

Injected cells carry ``metadata.vaegrade.injected = true`` and an ``injected-*`` tag, so that
cell numbers reported to students count only their own cells.
:mod:`vaegrade.grader.probe.kernel` is never imported by the grader: its source is compiled in
the student's kernel, after the student's cells (see :func:`vaegrade.grader.run.transforms.probe_cell`).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

#: Set in every grading kernel's environment: a ``selfcheck`` the student's own notebook calls does
#: not run there (grading runs the checks itself, and finds no public rubric to run them by).
GRADING_VARIABLE = "VAEGRADE_GRADING"
#: The source of :mod:`vaegrade.grader.probe.kernel`, compiled in the kernel as ``vaegrade_probe``.
KERNEL_SOURCE = Path(__file__).with_name("kernel.py").read_text(encoding="utf-8")


def injected(source: str, tag: str) -> nbformat.NotebookNode:
    """A code cell of the grader's: ``source``, the tag ``tag`` (``injected-*``) and ``metadata.vaegrade.injected``."""
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [tag]
    cell.metadata["vaegrade"] = {"injected": True}
    return cell


def is_injected(cell: nbformat.NotebookNode) -> bool:
    """True for a cell the grader injected (the student's file never carries the mark: see
    :func:`vaegrade.grader.run.transforms.strip_reserved`)."""
    return bool(cell.get("metadata", {}).get("vaegrade", {}).get("injected"))
