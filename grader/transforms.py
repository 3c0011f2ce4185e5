"""Pure notebook -> notebook steps applied before execution.

1. :func:`clear_outputs`: nothing the student saved in the file survives into grading.
2. :func:`inject_seed_cell`: a first cell seeding ``random``, numpy and torch.
3. :func:`inject_parameters`: papermill's convention: a cell tagged ``injected-parameters``
   right after the cell tagged ``parameters`` overrides the student's values.
4. :func:`probe_cell`: the last cell, which runs :mod:`grader.probe_kernel`.

Injected cells carry ``metadata.vaegrade.injected = true`` so that cell numbers reported to
students count only their own cells.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import nbformat

PROBE_SOURCE = (Path(__file__).with_name("probe_kernel.py")).read_text(encoding="utf-8")


def _injected(source: str, tag: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [tag]
    cell.metadata["vaegrade"] = {"injected": True}
    return cell


def is_injected(cell: nbformat.NotebookNode) -> bool:
    return bool(cell.get("metadata", {}).get("vaegrade", {}).get("injected"))


def clear_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with every code cell's outputs and execution count removed."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def inject_seed_cell(nb: nbformat.NotebookNode, seed: int, threads: int) -> nbformat.NotebookNode:
    """A copy of ``nb`` with a first cell that seeds random, numpy and torch and fixes torch's threads."""
    source = "\n".join([
        "# Injected by vaegrade: seeds and thread count, so that grading is reproducible.",
        "import random as _vaegrade_random",
        f"_vaegrade_random.seed({seed})",
        "try:",
        "    import numpy as _vaegrade_np",
        f"    _vaegrade_np.random.seed({seed})",
        "    import torch as _vaegrade_torch",
        f"    _vaegrade_torch.manual_seed({seed})",
        f"    _vaegrade_torch.set_num_threads({threads})",
        "except ImportError:",
        "    pass",
    ])
    nb = copy.deepcopy(nb)
    nb.cells.insert(0, _injected(source, "injected-seed"))
    return nb


def inject_parameters(nb: nbformat.NotebookNode, parameters: dict[str, Any]) -> tuple[nbformat.NotebookNode, bool]:
    """A copy of ``nb`` with ``parameters`` assigned right after the cell tagged ``parameters``.

    Returns:
        (notebook, found): ``found`` is False when no cell is tagged ``parameters``; the
        assignments then go first, before the student's cells (papermill does the same),
        and the student's own values win wherever the notebook sets them again.
    """
    nb = copy.deepcopy(nb)
    if not parameters:
        return nb, True
    source = "# Injected by vaegrade: grading parameters.\n" + "\n".join(
        f"{name} = {value!r}" for name, value in parameters.items()
    )
    tagged = [i for i, cell in enumerate(nb.cells) if "parameters" in cell.get("metadata", {}).get("tags", [])]
    position = tagged[0] + 1 if tagged else next((i + 1 for i, c in enumerate(nb.cells) if is_injected(c)), 0)
    nb.cells.insert(position, _injected(source, "injected-parameters"))
    return nb, bool(tagged)


def probe_cell(probe_dir: str) -> nbformat.NotebookNode:
    """The cell that runs :mod:`grader.probe_kernel` against the student's global namespace."""
    source = "\n".join([
        "# Injected by vaegrade: calls your functions and model on the grader's inputs.",
        "_vaegrade_probe = {}",
        f"exec(compile({PROBE_SOURCE!r}, 'vaegrade_probe', 'exec'), _vaegrade_probe)",
        f"_vaegrade_probe['main'](globals(), {probe_dir!r})",
        "del _vaegrade_probe",
    ])
    return _injected(source, "injected-probe")
