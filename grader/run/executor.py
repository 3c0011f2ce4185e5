"""Run a prepared notebook with nbclient, cell by cell, under time limits, in a jail.

The student's cells run in order until one raises (as "Restart & Run All" would stop); then,
if the kernel is still usable, the probe cell runs. A cell error, a timeout, a dead kernel, a
kernel that will not start or one whose channel delivers what is not a valid message becomes an :class:`vaegrade.grader.results.ExecutionReport`, never an
exception out of :func:`run_notebook`.

Limits: ``cell_timeout`` per cell and ``notebook_timeout`` for the whole run; each cell gets
at most what remains of the notebook's budget. A watchdog thread kills the kernel's whole
process group (SIGKILL) when the notebook's budget is spent (plus a grace period) or the
working directory outgrows ``workdir_mb``, wherever nbclient happens to be waiting: a loop that
ignores SIGINT survives an interrupt, not a kill. Outputs beyond ``output_mb`` are dropped
with a note. The sandbox itself (namespaces, uid, rlimits, memory) is :mod:`vaegrade.grader.run.isolation`.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import nbformat
from jupyter_client.kernelspec import NoSuchKernel
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from vaegrade.grader.probe.cell import is_injected
from vaegrade.grader.results import CellError, ExecutionReport
from vaegrade.grader.rubric.policy import ExecutionPolicy
from vaegrade.grader.run.isolation import Isolator
from vaegrade.grader.run.processes import MIB, printed_lines

WATCHDOG_GRACE = 5.0  # seconds past the notebook's budget before the watchdog kills the kernel
WATCHDOG_PERIOD = 0.25


@dataclass
class Execution:
    """The executed notebook (outputs filled in) and how the run went."""

    notebook: nbformat.NotebookNode
    report: ExecutionReport


class ChannelError(Exception):
    """The kernel sent what jupyter_client cannot read (a bad signature, a malformed message):
    code in the kernel wrote to its channel, or forked children did."""


class ConfinedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel command is wrapped by an :class:`vaegrade.grader.run.isolation.Isolator`.

    The connection file is handed to the sandbox user right after jupyter_client writes it
    (mode 0600) and before the kernel starts.
    """

    def __init__(self, jail: Isolator, kernel_env: dict[str, str], cwd: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jail, self.kernel_env, self.cwd = jail, kernel_env, cwd

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        self.jail.hand_over(Path(self.connection_file))
        command = super().format_kernel_cmd(extra_arguments)
        if command and command[0] in (sys.executable, "python", "python3"):  # the kernel environment's Python
            command[0] = str(self.jail.kernel.python)
        return self.jail.wrap(command, self.kernel_env, self.cwd)


class CappedClient(NotebookClient):
    """nbclient that keeps at most ``max_output_bytes`` of outputs (text and images) in all."""

    def __init__(self, *args: Any, max_output_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_output_bytes, self.output_bytes, self.truncated = max_output_bytes, 0, False

    def output(self, outs, msg, display_id, cell_index):  # noqa: ANN001 (nbclient's signature)
        content = msg.get("content", {})
        self.output_bytes += len(str(content.get("text", ""))) + sum(len(str(v)) for v in content.get("data", {}).values())
        if self.output_bytes <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if not self.truncated:
            self.truncated = True
            outs.append(nbformat.v4.new_output("stream", name="stderr", text=(
                f"[vaegrade: outputs beyond {self.max_output_bytes / MIB:g} MB were dropped]\n")))
        return None


class Watchdog(threading.Thread):
    """Kills the kernel's process group past ``deadline`` or when ``workdir`` outgrows ``max_bytes``."""

    def __init__(self, client: NotebookClient, deadline: float, workdir: Path, max_bytes: int) -> None:
        super().__init__(daemon=True, name="vaegrade-watchdog")
        self.client, self.deadline, self.workdir, self.max_bytes = client, deadline, workdir, max_bytes
        self.stopped = threading.Event()
        self.reason: str | None = None

    def run(self) -> None:
        while not self.stopped.wait(WATCHDOG_PERIOD):
            if time.monotonic() > self.deadline:
                self.kill("the notebook time limit")
            elif directory_size(self.workdir, self.max_bytes) > self.max_bytes:
                self.kill(f"the working directory size limit of {self.max_bytes / MIB:g} MB")

    def kill(self, reason: str) -> None:
        process = getattr(getattr(self.client.km, "provisioner", None), "process", None)
        if process is None or self.reason is not None:
            return
        self.reason = reason
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def directory_size(root: Path, stop_above: int) -> int:
    """Bytes allocated under ``root`` (symlinks not followed); stops counting above ``stop_above``."""
    total = 0
    stack = [str(root)]
    while stack and total <= stop_above:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    info = entry.stat(follow_symlinks=False)
                    total += info.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return total


def _student_cell_index(nb: nbformat.NotebookNode, index: int) -> int:
    """0-based position of cell ``index`` among the student's own (non-injected) cells."""
    return sum(1 for cell in nb.cells[:index] if not is_injected(cell))


def _first_line(cell: nbformat.NotebookNode) -> str:
    lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
    return lines[0][:80] if lines else ""


def run_notebook(
    nb: nbformat.NotebookNode,
    jail: Isolator,
    workdir: Path,
    conn_dir: Path,
    seed: int,
    make_probe_cell: Callable[[], nbformat.NotebookNode] | None = None,
    kernel_log: Path | None = None,
) -> Execution:
    """Execute ``nb`` in ``workdir`` inside ``jail``, then the cell ``make_probe_cell()`` returns.

    ``make_probe_cell`` is called only after the student's cells, so the probe's inputs it
    writes do not exist while student code runs. The returned notebook includes the probe cell.
    nbclient reaches the kernel over the ``ipc`` transport through sockets in ``conn_dir``.
    The kernel process's own stdout and stderr go to ``kernel_log`` (default: discarded), never
    to the grader's.
    """
    policy: ExecutionPolicy = jail.policy
    kernel_env = jail.kernel_environment(policy.threads, seed, workdir)
    km = ConfinedKernelManager(jail, kernel_env, workdir, kernel_name=policy.kernel_name, transport="ipc",
                               ip=str(conn_dir / "kernel"), connection_file=str(conn_dir / "kernel.json"))
    client = CappedClient(
        nb, km=km, shutdown_kernel="immediate", timeout=policy.cell_timeout, allow_errors=False,
        interrupt_on_timeout=False, record_timing=True,
        startup_timeout=60, resources={"metadata": {"path": str(workdir)}}, max_output_bytes=int(policy.output_mb * MIB),
    )
    started = time.monotonic()
    deadline = started + policy.notebook_timeout
    watchdog = Watchdog(client, deadline + WATCHDOG_GRACE, workdir, policy.workdir_mb * MIB)
    phases: dict[str, float] = {}
    report = ExecutionReport(status="completed")
    running: list[int] = []  # index of the cell being executed, for messages

    def run_cell(cell: nbformat.NotebookNode, index: int) -> None:
        running[:] = [index]
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CellTimeoutError("notebook time limit reached")
        client.timeout = max(1, int(min(policy.cell_timeout, remaining)))
        try:
            client.execute_cell(cell, index)
        except (CellExecutionError, CellTimeoutError, DeadKernelError):
            raise
        except Exception as exc:  # a message jupyter_client cannot read: the kernel's, never the grader's, failure
            raise ChannelError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc

    launched: list = []  # the kernel's Popen, reaped at the end
    launch_env = jail.launch_environment(kernel_env)
    log = open(kernel_log or os.devnull, "ab")
    jail.start()
    try:
        with log, client.setup_kernel(env=launch_env, stdout=log, stderr=log, cleanup_kc=True):
            launched.append(km.provisioner.process)
            watchdog.start()
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
        cause = _death_cause(jail, watchdog)
        report = _failure("kernel_died", f"the kernel died{cause} while running {_describe_cell(nb, running)}", report)
    except NoSuchKernel as exc:
        report = _failure("kernel_failed", f"no kernel named {exc}: the notebook's kernel cannot start", report)
    except ChannelError as exc:
        report = _failure("kernel_failed", f"the kernel's channel broke while running {_describe_cell(nb, running)}: "
                                           f"it sent a message that is not a valid Jupyter message ({exc})", report)
    except (RuntimeError, CellExecutionError) as exc:
        said = printed_lines(kernel_log.read_text(errors="replace"))[-3:] if kernel_log and kernel_log.exists() else []
        report = _failure("kernel_failed", f"the kernel failed: {str(exc).splitlines()[0][:300]}"
                          + (f"; its last words (kernel.log): {' | '.join(line[:200] for line in said)}" if said else ""),
                          report)
    finally:
        watchdog.stopped.set()
        for process in launched:  # reap it: a zombie still counts against the sandbox user's process limit
            try:
                process.wait(timeout=5)
            except Exception:  # subprocess.TimeoutExpired: the jail kills what is left
                pass
        jail.close()
    if watchdog.reason is not None and report.status == "timeout" and "notebook" in watchdog.reason:
        report.message += " (the kernel was killed)"
    if client.truncated:
        report.warnings.append(f"your notebook printed more than {policy.output_mb:g} MB of output; the rest was dropped")
    report.duration = time.monotonic() - started
    report.phases = {name: round(value, 3) for name, value in phases.items()}
    return Execution(notebook=nb, report=report)


def _death_cause(jail: Isolator, watchdog: Watchdog) -> str:
    """Why the kernel died, where the grader knows: its memory limit or the watchdog."""
    if jail.memory_exceeded():
        return f" (it exceeded the memory limit of {jail.policy.memory_mb} MB)"
    if watchdog.reason is not None:
        return f" (killed: {watchdog.reason} was reached)"
    return ""


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
