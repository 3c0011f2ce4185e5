"""Pure notebook -> notebook steps applied before execution.

1. :func:`clear_outputs`: nothing the student saved in the file survives into grading, and
   :func:`strip_reserved`: no student cell can pass for the grader's own.
2. :func:`inject_setup_cell`: a first cell that runs :mod:`vaegrade.grader.run.kernel_setup` (seeds, threads,
   the data sets served offline, shims for GPU and Colab notebooks).
3. :func:`set_parameters`: papermill's convention where a cell is tagged ``parameters`` (a cell
   tagged ``injected-parameters`` right after it overrides the student's values); otherwise
   the notebook's own names and keywords for the parameters are rewritten
   (:func:`vaegrade.grader.run.source.rewrite_parameters`).
4. :func:`inject_weights_cell` (a rubric's ``weights:``, when the student handed them in): right
   after the notebook's last training cell, the trained weights are loaded into its model.
5. :func:`probe_cell`: the last cell, which runs the probe's kernel side (``grader/probe/kernel/``).

Injected cells carry ``metadata.vaegrade.injected = true`` and an ``injected-*`` tag, so that cell
numbers reported to students count only their own cells; both are reserved: the student's file
is untrusted, and :func:`strip_reserved` removes them from it before anything is injected.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import nbformat

from vaegrade.grader.probe.cell import GRADING_VARIABLE, KERNEL_SOURCE, injected, is_injected
from vaegrade.grader.run.source import Targets, last_training_cell, rewrite_parameters

SETUP_SOURCE = Path(__file__).with_name("kernel_setup.py").read_text(encoding="utf-8")


def clear_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with every code cell's outputs and execution count removed."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def strip_reserved(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str]]:
    """A copy of ``nb`` without the grader's reserved markers: ``vaegrade`` metadata (of the
    notebook and of each cell) and ``injected-*`` tags.

    Returns:
        (notebook, notes): a note per cell that carried a marker, numbered from 1 among all cells.
    """
    nb = copy.deepcopy(nb)
    nb.metadata.pop("vaegrade", None)
    notes = []
    for number, cell in enumerate(nb.cells, start=1):
        metadata = cell.get("metadata", {})
        tags = metadata.get("tags", [])
        forged = [f"tag `{tag}`" for tag in tags if str(tag).startswith("injected-")]
        if "vaegrade" in metadata:
            forged.append("`vaegrade` metadata")
            del metadata["vaegrade"]
        if forged:
            metadata["tags"] = [tag for tag in tags if not str(tag).startswith("injected-")]
            notes.append(f"cell {number} carried the grader's reserved {' and '.join(forged)}: removed before grading")
    return nb, notes


def inject_setup_cell(nb: nbformat.NotebookNode, config: dict[str, Any]) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose first cell runs :mod:`vaegrade.grader.run.kernel_setup` with ``config``
    and, when ``config["records"]`` asks for the notebook's own training steps, starts recording
    them (the probe's ``start_recording``)."""
    records = config.get("records") or {}
    source = "\n".join([
        "# Injected by vaegrade: seeds, threads, the data sets served offline, and the shims your notebook needs.",
        "_vaegrade_setup = {}",
        f"exec(compile({SETUP_SOURCE!r}, 'vaegrade_setup', 'exec'), _vaegrade_setup)",
        f"_vaegrade_setup['main']({config!r})",
        "del _vaegrade_setup",
        *([f"exec(compile({KERNEL_SOURCE!r}, 'vaegrade_probe', 'exec'), _vaegrade_setup := {{}})",
           f"_vaegrade_setup['start_recording']({config['framework']!r}, globals(), {records!r})",
           "del _vaegrade_setup"] if records else []),
    ])
    nb = copy.deepcopy(nb)
    nb.cells.insert(0, injected(source, "injected-setup"))
    return nb


def _with_kernel_side(variable: str, what: str, calls: list[str]) -> list[str]:
    """An injected cell's lines: the probe's kernel side compiled into the dict ``variable``
    (never the notebook's globals), ``calls`` on it, then the dict deleted."""
    return [f"# Injected by vaegrade: {what}", f"{variable} = {{}}",
            f"exec(compile({KERNEL_SOURCE!r}, 'vaegrade_probe', 'exec'), {variable})", *calls, f"del {variable}"]


def inject_weights_cell(nb: nbformat.NotebookNode, framework: str, spec: dict[str, Any]) -> tuple[nbformat.NotebookNode, int | None]:
    """A copy of ``nb`` with a cell, right after its last training cell
    (:func:`vaegrade.grader.run.source.last_training_cell`; else after its last cell), that loads
    the handed-in weights ``spec["path"]`` into the object the locator ``spec["into"]`` names
    (the probe's ``load_handed_in``: it never raises into the notebook).

    Returns:
        (notebook, cell): ``cell`` is the training cell's number among the student's cells, from
        1 (None when no cell trains).
    """
    nb = copy.deepcopy(nb)
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and not is_injected(cell)]
    found = last_training_cell([nb.cells[i].source for i in code])
    position = code[found] + 1 if found is not None else len(nb.cells)
    source = "\n".join(_with_kernel_side(
        "_vaegrade_weights", "the trained weights you handed in, loaded into your model after your training.",
        [f"_vaegrade_weights['load_handed_in'](globals(), {framework!r}, {spec!r})"]))
    nb.cells.insert(position, injected(source, "injected-weights"))
    number = None if found is None else sum(1 for cell in nb.cells[:code[found] + 1] if not is_injected(cell))
    return nb, number


def set_parameters(nb: nbformat.NotebookNode, values: dict[str, Any],
                   targets: Targets) -> tuple[nbformat.NotebookNode, bool, list[str]]:
    """Set the grading parameters: after the cell tagged ``parameters`` when there is one
    (:func:`inject_parameters`), else by rewriting the notebook's own assignments, defaults,
    call keywords and loops that ``targets`` names (see :func:`vaegrade.grader.run.source.rewrite_parameters`).

    Returns:
        (notebook, tagged, rewrites): ``rewrites`` describes each change, by cell (numbered
        from 1 among the student's cells) and line. When nothing is tagged and nothing was
        rewritten, the values are assigned before the student's cells, as papermill does.
    """
    if any("parameters" in cell.get("metadata", {}).get("tags", []) for cell in nb.cells):
        return *inject_parameters(nb, values), []
    nb = copy.deepcopy(nb)
    rewrites = []
    number = 0
    for cell in nb.cells:
        if is_injected(cell):
            continue
        number += 1
        if cell.cell_type != "code":
            continue
        cell.source, notes = rewrite_parameters(cell.source, targets)
        rewrites += [f"cell {number}, {note}" for note in notes]
    if not rewrites:
        nb, _ = inject_parameters(nb, values)
    return nb, False, rewrites


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
    nb.cells.insert(position, injected(source, "injected-parameters"))
    return nb, bool(tagged)


SELFCHECK_SOURCE = """\
try:  # self-check, as a student would run it, on the same objects (vaegrade validate)
    __import__("os").environ.pop({variable!r}, None)  # here it is asked for: it runs
    from vaegrade import selfcheck as _vaegrade_selfcheck
    _vaegrade_selfcheck.all().save({path!r})
except Exception as _vaegrade_error:
    open({path!r}, "w").write(__import__("json").dumps({{"error": f"{{type(_vaegrade_error).__name__}}: {{_vaegrade_error}}"}}))
"""


def probe_cell(probe_dir: str, selfcheck: bool = False) -> nbformat.NotebookNode:
    """The cell that runs the probe's kernel side (``grader/probe/kernel/``) against the student's global namespace;
    with ``selfcheck``, first ``selfcheck.all()`` (its verdicts in ``<probe_dir>/selfcheck.json``)."""
    source = "\n".join(_with_kernel_side("_vaegrade_probe", "calls your functions and model on the grader's inputs.", [
        "_vaegrade_probe['stop_recording']()  # your training is over: what follows is the grader's",
        *([SELFCHECK_SOURCE.format(path=str(Path(probe_dir) / "selfcheck.json"), variable=GRADING_VARIABLE)]
          if selfcheck else []),
        f"_vaegrade_probe['main'](globals(), {probe_dir!r})"]))
    return injected(source, "injected-probe")
