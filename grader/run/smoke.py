"""The smoke test of a kernel environment: before any student is graded, start a kernel as grading
starts it (in the sandbox, with the rubric's variables and the setup cell) and import each listed
package, one cell per module, in the list's order.

A package that does not import (a missing system library, an import that kills the kernel, two
packages that cannot share one process) fails here, at build time, with the real error: the
traceback's last lines; when the kernel died, the same imports are replayed in a plain Python
(confined alike) and its exit status and last words quoted, never "kernel died" alone.
A passed test is remembered in the environment (``smoke-<key>.ok``, per variables and isolation
mode), so it runs once per environment.
"""

from __future__ import annotations

import hashlib
import json
import re
import signal
import subprocess

import nbformat

from vaegrade.grader.probe.cell import is_injected
from vaegrade.grader.rubric.schema import Rubric
from vaegrade.grader.run import transforms
from vaegrade.grader.run.environments import EnvironmentBuildError, KernelEnvironment, ensure_environment, progress
from vaegrade.grader.run.executor import run_notebook
from vaegrade.grader.run.isolation import IsolationMode, Isolator, isolator
from vaegrade.grader.run.processes import printed_lines
from vaegrade.grader.run.workspace import Workspace

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def ready_environment(rubric: Rubric, mode: IsolationMode, log=progress) -> KernelEnvironment:  # noqa: ANN001 (print-like)
    """The rubric's kernel environment, built if needed and smoke-tested under ``mode`` once.

    Raises:
        EnvironmentBuildError: the environment cannot be built (see
            :func:`vaegrade.grader.run.environments.ensure_environment`) or a listed package does
            not import in the kernel; the message names the package and quotes the error.
    """
    kernel = ensure_environment(rubric.environment.packages, rubric.environment.variables, log)
    if kernel.prefix is None:
        return kernel
    key = hashlib.sha256(json.dumps([kernel.variables, mode, rubric.framework]).encode()).hexdigest()[:12]
    marker = kernel.prefix / f"smoke-{key}.ok"
    if not marker.exists():
        smoke_test(kernel, rubric, mode)
        marker.write_text("imported every listed package in a kernel\n")
        marker.chmod(0o644)
    return kernel


def smoke_test(kernel: KernelEnvironment, rubric: Rubric, mode: IsolationMode) -> None:
    """Import every module of ``kernel``'s packages in one kernel started as grading starts it.

    Raises:
        EnvironmentBuildError: a module did not import, or the kernel died or did not start.
    """
    modules = [module for names in kernel.info().get("imports", {}).values() for module in names]
    cells = [nbformat.v4.new_code_cell(f"import {module}") for module in modules]
    notebook = transforms.inject_setup_cell(nbformat.v4.new_notebook(cells=cells), {
        "seed": rubric.seed, "threads": 1, "framework": rubric.framework, "datasets": {}})
    jail = isolator(mode, rubric.execution, kernel)
    workspace = Workspace.create(jail)
    log = kernel.prefix.with_name(kernel.prefix.name + ".smoke.log")
    log.unlink(missing_ok=True)
    try:
        execution = run_notebook(notebook, jail, workspace.work, workspace.conn, rubric.seed, kernel_log=log)
        report = execution.report
        if report.status == "completed":
            return
        student = [cell for cell in execution.notebook.cells if not is_injected(cell)]
        if report.cell_errors:
            failed = report.cell_errors[0].cell_index
            raise EnvironmentBuildError(f"the kernel environment for {list(kernel.packages)} was built, but "
                                        f"`import {modules[failed]}` fails in it{_after(modules, failed)}: "
                                        f"{' / '.join(_traceback_tail(student[failed]))}")
        code, words = _replay(isolator(mode, rubric.execution, kernel), modules)
        raise EnvironmentBuildError(f"the kernel environment for {list(kernel.packages)} was built, but a kernel importing "
                                    f"{', '.join(modules)} failed: {report.message}. The same imports in a plain Python "
                                    f"({_status(code)}): {' / '.join(words) or '(no output)'} (kernel log: {log})")
    finally:
        workspace.remove()


def _replay(jail: Isolator, modules: list[str]) -> tuple[int, list[str]]:
    """Import ``modules`` in order in the kernel environment's Python, confined by ``jail`` as the
    kernel was, without the kernel (which captures the process's own stderr): its exit status and
    its last lines of output (a fatal error's message, a native crash's trace)."""
    workspace = Workspace.create(jail)
    command = [str(jail.kernel.python), "-X", "faulthandler", "-c", "\n".join(f"import {m}" for m in modules)]
    jail.start()
    try:
        run = subprocess.run(jail.wrap(command, jail.kernel_environment(1, 0, workspace.work), workspace.work),
                             capture_output=True, text=True, errors="replace", timeout=300, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return -1, ["(no end after 300 s)"]
    finally:
        jail.close()
        workspace.remove()
    lines = printed_lines(run.stdout + run.stderr)
    fatal = next((i for i, line in enumerate(lines) if line.startswith("Fatal Python error")), None)
    if fatal is None:
        return run.returncode, lines[-3:]
    frames = [line for line in lines[fatal + 1:] if line.startswith("File") and "<frozen importlib" not in line]
    return run.returncode, [lines[fatal], *frames[:2]]  # the crash, then its innermost frames (listed first)


def _status(code: int) -> str:
    """An exit status in words: a signal's name for a process it killed (the shell's 128 + N)."""
    if code > 128 and code - 128 in signal.Signals._value2member_map_:
        return f"exit status {code}: killed by {signal.Signals(code - 128).name}"
    return f"exit status {code}"


def _after(modules: list[str], index: int) -> str:
    return f" (after importing {', '.join(modules[:index])})" if index else ""


def _traceback_tail(cell: nbformat.NotebookNode) -> list[str]:
    """The last lines of the error traceback in ``cell``'s outputs, without colours."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return printed_lines(ANSI.sub("", "\n".join(output.get("traceback", []))))[-3:]
    return ["(no traceback)"]
