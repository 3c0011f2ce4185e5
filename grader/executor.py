"""Run a prepared notebook with nbclient, cell by cell, under time limits.

The student's cells run in order until one raises (as "Restart & Run All" would stop); then,
if the kernel is still usable, the probe cell runs. A cell error, a timeout, a dead kernel or a
kernel that will not start becomes an :class:`grader.results.ExecutionReport`, never an
exception out of :func:`run_notebook`.

Limits: ``cell_timeout`` per cell and ``notebook_timeout`` for the whole run; each cell gets
at most what remains of the notebook's budget, and on expiry the kernel is shut down (not
interrupted: a loop that ignores SIGINT would survive an interrupt).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat
from jupyter_client.kernelspec import NoSuchKernel
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from grader.results import CellError, ExecutionReport
from grader.rubric import ExecutionPolicy
from grader.transforms import is_injected


@dataclass
class Execution:
    """The executed notebook (outputs filled in) and how the run went."""

    notebook: nbformat.NotebookNode
    report: ExecutionReport


def kernel_environment(threads: int, seed: int) -> dict[str, str]:
    """The kernel's environment: the grader's, with thread counts and hash seed fixed."""
    env = dict(os.environ)
    env.update({
        "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
        "PYTHONHASHSEED": str(seed), "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    env.pop("MPLBACKEND", None)  # the kernel's inline backend turns figures into image outputs
    return env


def _student_cell_index(nb: nbformat.NotebookNode, index: int) -> int:
    """0-based position of cell ``index`` among the student's own (non-injected) cells."""
    return sum(1 for cell in nb.cells[:index] if not is_injected(cell))


def _first_line(cell: nbformat.NotebookNode) -> str:
    lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
    return lines[0][:80] if lines else ""


def run_notebook(
    nb: nbformat.NotebookNode,
    workdir: Path,
    policy: ExecutionPolicy,
    seed: int,
    make_probe_cell: Callable[[], nbformat.NotebookNode] | None = None,
    kernel_log: Path | None = None,
) -> Execution:
    """Execute ``nb`` in ``workdir``, then the cell ``make_probe_cell()`` returns.

    ``make_probe_cell`` is called only after the student's cells, so the probe's inputs it
    writes do not exist while student code runs. The returned notebook includes the probe cell.
    The kernel process's own stdout and stderr go to ``kernel_log`` (default: discarded), never
    to the grader's.
    """
    client = NotebookClient(
        nb, timeout=policy.cell_timeout, kernel_name=policy.kernel_name, allow_errors=False,
        interrupt_on_timeout=False, record_timing=True, startup_timeout=60,
        resources={"metadata": {"path": str(workdir)}},
    )
    started = time.monotonic()
    deadline = started + policy.notebook_timeout
    phases: dict[str, float] = {}
    report = ExecutionReport(status="completed")
    running: list[int] = []  # index of the cell being executed, for messages

    def run_cell(cell: nbformat.NotebookNode, index: int) -> None:
        running[:] = [index]
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CellTimeoutError("notebook time limit reached")
        client.timeout = max(1, int(min(policy.cell_timeout, remaining)))
        client.execute_cell(cell, index)

    log = open(kernel_log or os.devnull, "ab")
    try:
        with log, client.setup_kernel(env=kernel_environment(policy.threads, seed), stdout=log, stderr=log):
            phases["kernel_start"] = time.monotonic() - started
            phase_start = time.monotonic()
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                try:
                    run_cell(cell, index)
                except CellExecutionError as exc:
                    if is_injected(cell):
                        raise
                    error = CellError(cell_index=_student_cell_index(nb, index), ename=exc.ename,
                                      evalue=str(exc.evalue)[:300], source_line=_first_line(cell))
                    report = ExecutionReport(status="cell_error", message=f"the notebook stopped: {error.describe()}",
                                             cell_errors=[error])
                    break
            phases["execution"] = time.monotonic() - phase_start
            if make_probe_cell is not None:
                phase_start = time.monotonic()
                nb.cells.append(make_probe_cell())
                run_cell(nb.cells[-1], len(nb.cells) - 1)
                phases["probe"] = time.monotonic() - phase_start
    except CellTimeoutError:
        limit = "notebook" if time.monotonic() >= deadline - 1 else "cell"
        seconds = policy.notebook_timeout if limit == "notebook" else policy.cell_timeout
        report = _failure("timeout", f"the {limit} time limit of {seconds:.0f} s was reached in "
                                     f"{_describe_cell(nb, running)}", report)
    except DeadKernelError:
        report = _failure("kernel_died", f"the kernel died while running {_describe_cell(nb, running)}", report)
    except NoSuchKernel as exc:
        report = _failure("kernel_failed", f"no kernel named {exc}: the notebook's kernel cannot start", report)
    except (RuntimeError, CellExecutionError) as exc:
        report = _failure("kernel_failed", f"the kernel failed: {str(exc).splitlines()[0][:300]}", report)
    report.duration = time.monotonic() - started
    report.phases = {name: round(value, 3) for name, value in phases.items()}
    return Execution(notebook=nb, report=report)


def _failure(status: str, message: str, previous: ExecutionReport) -> ExecutionReport:
    return ExecutionReport(status=status, message=message, cell_errors=previous.cell_errors)


def _describe_cell(nb: nbformat.NotebookNode, running: list[int]) -> str:
    """Describe the cell that was executing, numbered among the student's own cells from 1."""
    if not running:
        return "the notebook"
    cell = nb.cells[running[0]]
    if is_injected(cell):
        return "the grader's probe (after your cells)" if "injected-probe" in cell.metadata.get("tags", []) else "an injected cell"
    return f"cell {_student_cell_index(nb, running[0]) + 1} (`{_first_line(cell)}`)"
