"""The cells the grader injects into a student's notebook, and the kernel side of the probe as
the text one of them runs.

Injected cells carry ``metadata.vaegrade.injected = true`` and an ``injected-*`` tag, so that
cell numbers reported to students count only their own cells.
The files of ``grader/probe/kernel/`` are never imported by the grader: assembled into one source,
they are compiled in the student's kernel, after the student's cells (see
:func:`vaegrade.grader.run.transforms.probe_cell`), and, when a check records the student's own
training, in the setup cell before them.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

#: Set in every grading kernel's environment: a ``selfcheck`` the student's own notebook calls does
#: not run there (grading runs the checks itself, and finds no public rubric to run them by).
GRADING_VARIABLE = "VAEGRADE_GRADING"
#: The kernel side's files (``grader/probe/kernel/``), in the order they are assembled: the core,
#: one adapter per framework, one file per family of request kinds, the recorder, the entry point.
KERNEL_FILES = ("core", "torch", "tensorflow", "calls", "model", "history", "observe", "record", "weights", "main")
#: The kernel side as one source, compiled in the kernel as ``vaegrade_probe``.
KERNEL_SOURCE = "\n\n".join((Path(__file__).parent / "kernel" / f"{name}.py").read_text(encoding="utf-8")
                              for name in KERNEL_FILES)


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


def run_probe(namespace: dict, probe_dir: str) -> None:
    """Answer the requests in ``probe_dir`` on the objects of ``namespace`` in this process, as
    the probe cell does in a kernel (self-check runs it in the student's own)."""
    probe: dict = {}
    exec(compile(KERNEL_SOURCE, "vaegrade_probe", "exec"), probe)
    probe["main"](namespace, probe_dir)
