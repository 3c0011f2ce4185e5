"""A corpus of hostile notebooks: what each tries, what should stop it, and the grade it should get.

Every notebook is graded under ``tests/data/hostile.yaml`` (one 10-point check: the student's
``kl_divergence`` against the closed form). Notebooks that define a correct ``kl_divergence``
and are contained earn their 10 points; those that try to forge a grade define a wrong one and
must get 0. An attack cell prints ``ATTACK-BLOCKED <what stopped it>`` or ``ATTACK-SUCCEEDED``
(read by the tests, never by the grader, which takes grades from typed results only).

``python -m tests.e2e.hostile_corpus`` grades the corpus with the sandbox and prints a table:
case, what it tried, what stopped it, score awarded, time.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tests.classes import CORRECT_KL, WRONG_KL
from tests.classes import KL_RUBRIC as RUBRIC
from tests.conftest import ROOT

MARKER = "vaegrade-hostile-background-marker"


def attempt(body: str, exceptions: str = "OSError") -> str:
    """A cell that runs ``body`` and reports whether it succeeded."""
    indented = "\n".join("    " + line for line in body.splitlines())
    return (f"try:\n{indented}\n    print('ATTACK-SUCCEEDED')\n"
            f"except ({exceptions}) as exc:\n    print('ATTACK-BLOCKED', type(exc).__name__, exc)")


@dataclass(frozen=True)
class Case:
    name: str
    tried: str
    stopped_by: str
    cells: tuple[str, ...]
    score: float
    message: str = ""  # a phrase the result must contain (error, check message or warnings)
    blocked: bool = False  # the notebook's output must show ATTACK-BLOCKED, never ATTACK-SUCCEEDED
    forged: int | None = None  # the cell (index) that carries the grader's own markers
    or_failure: str = ""  # timing may instead end the run in this named kernel failure (never an internal error)


CASES = [
    Case("read_rubric", "read the rubric file", "bubblewrap: the rubric is not in the sandbox",
         (CORRECT_KL, attempt("open('{rubric}').read()")), 10, blocked=True),
    Case("read_hidden_data", "read the classifier weights and the shipped data set", "bubblewrap: not mounted",
         (CORRECT_KL, attempt("open('{secret}', 'rb').read()\nopen('{dataset}', 'rb').read()")), 10, blocked=True),
    Case("read_other_submission", "read another student's notebook", "bubblewrap: not mounted",
         (CORRECT_KL, attempt("open('{victim}').read()")), 10, blocked=True),
    Case("read_etc_shadow", "read /etc/shadow", "bubblewrap: only a few /etc files are mounted",
         (CORRECT_KL, attempt("open('/etc/shadow').read()")), 10, blocked=True),
    Case("open_socket", "connect to a server on the grader's loopback and to the internet",
         "bubblewrap: a network namespace with no route out",
         (CORRECT_KL, attempt("import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                              "socket.create_connection(('1.1.1.1', 80), timeout=2)")), 10, blocked=True),
    Case("write_outside_workdir", "write a file next to the batch and into /usr",
         "bubblewrap: only the working directory is writable",
         (CORRECT_KL, attempt("open('{outside}', 'w').write('pwned')"),
          attempt("open('/usr/pwned', 'w').write('pwned')")), 10, blocked=True),
    Case("symlink_artifact", "make the probe's output a symlink to a forged file", "O_NOFOLLOW when reading artifacts",
         (WRONG_KL, "import numpy as np, os, torch\n"
          "np.savez('forged.npz', output=np.zeros(1))\n"
          "def savez(path, **arrays):\n"
          "    os.symlink(os.path.abspath('forged.npz'), str(path))\n"
          "np.savez = savez"), 0, message="cannot be opened safely"),
    Case("fake_passed_output", "print fake PASSED lines and write them to fds 1 and 2",
         "grades come from typed probe results only; raw fd output goes to kernel.log",
         (WRONG_KL, "print('kl_divergence: PASSED 10/10')\nprint('TOTAL SCORE: 100/100')\n"
          "import os\nos.write(1, b'PASSED 10/10 (fd 1)\\n')\nos.write(2, b'PASSED 10/10 (fd 2)\\n')"), 0,
         message="differ from the reference"),
    Case("monkeypatch_numpy_torch", "make numpy/torch comparisons always succeed",
         "comparisons happen in the grader's process",
         (WRONG_KL, "import numpy as np, torch\nnp.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n"
          "torch.allclose = lambda *a, **k: True\ntorch.Tensor.__eq__ = lambda *a: True"), 0,
         message="differ from the reference"),
    Case("input_transformer", "register an IPython input transformer that disables the grader's probe",
         "the grader reads only the probe's files: no manifest, no points",
         (WRONG_KL, "get_ipython().input_transformers_cleanup.append(\n"
          "    lambda lines: ['pass\\n'] if any('vaegrade' in line for line in lines) else lines)"), 0,
         message="no usable manifest"),
    Case("infinite_loop", "loop forever", "per-cell timeout",
         (CORRECT_KL, "while True:\n    pass"), 0, message="cell time limit of 10 s was reached in cell 2"),
    Case("sigint_ignoring_loop", "ignore SIGINT and loop forever", "timeout, then the kernel is killed (not interrupted)",
         (CORRECT_KL, "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"), 0,
         message="cell time limit of 10 s was reached in cell 2"),
    Case("allocate_10gb", "allocate and touch 10 GB", "memory cgroup (OOM kill) or address-space limit",
         (CORRECT_KL, "import numpy as np\nx = np.ones(10 * 2**30 // 8)"), 0, message="memory"),
    Case("fork_storm", "fork 400 sleeping processes", "RLIMIT_NPROC of the slot's sandbox user",
         (CORRECT_KL, "import os, time\nfor _ in range(400):\n    if os.fork() == 0:\n        time.sleep(60)\n"
          "        os._exit(0)"), 10, message="BlockingIOError"),
    Case("fork_sleeping_children", "fork 20 children that print, sleep past the cell, then os._exit",
         "contained (ipykernel pipes the children's output); a corrupt message it may cause is a named kernel failure",
         (CORRECT_KL, "import os, time\nfor _ in range(20):\n    if os.fork() == 0:\n        print('child', os.getpid())\n"
          "        time.sleep(6)\n        os._exit(0)"), 10, or_failure="the kernel's channel broke"),
    Case("garbage_on_channel", "write garbage frames to the kernel's IOPub channel",
         "a message jupyter_client cannot read is the kernel's failure, named",
         (CORRECT_KL, "get_ipython().kernel.iopub_socket.send_multipart(\n"
          "    [b'<IDS|MSG>', b'0' * 64, b'{}', b'{}', b'{}', b'{}'])\nimport time\ntime.sleep(1)"), 0,
         message="the kernel's channel broke while running cell 2"),
    Case("forged_injected_marker", "mark a failing cell as the grader's own (metadata and tag)",
         "the grader's markers are stripped from the student's file before grading",
         (CORRECT_KL, "raise RuntimeError('a student cell that fails')"), 10,
         message="cell 2 carried the grader's reserved tag `injected-setup` and `vaegrade` metadata", forged=1),
    Case("print_100mb", "print 100 MB", "output cap (the rest dropped, with a note)",
         (CORRECT_KL, "for _ in range(100):\n    print('x' * 2**20)"), 10, message="more than 1 MB of output"),
    Case("fill_disk", "write 16 MB files until the disk is full", "watchdog: working directory size limit",
         (CORRECT_KL, "for i in range(1000):\n    open(f'fill{i}', 'wb').write(b'1' * 2**24)"), 0,
         message="working directory size limit of 64 MB"),
    Case("huge_file", "write one file without end", "RLIMIT_FSIZE (EFBIG)",
         (CORRECT_KL, "with open('huge', 'wb') as f:\n    while True:\n        f.write(b'1' * 2**20)"), 10,
         message="File too large"),
    Case("fill_tmp", "fill /tmp", "bubblewrap: size-capped private tmpfs",
         (CORRECT_KL, "with open('/tmp/fill', 'wb') as f:\n    while True:\n        f.write(b'1' * 2**20)"), 10,
         message="No space left on device"),
    Case("sys_exit", "call sys.exit()", "IPython turns SystemExit into a cell error",
         (CORRECT_KL, "import sys\nsys.exit(3)"), 10, message="SystemExit"),
    Case("os_exit", "call os._exit()", "the kernel's death is a structured error",
         (CORRECT_KL, "import os\nos._exit(0)"), 0, message="the kernel died while running cell 2"),
    Case("kill_own_kernel", "SIGKILL its own kernel", "the kernel's death is a structured error",
         (CORRECT_KL, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"), 0,
         message="the kernel died while running cell 2"),
    Case("signal_grader", "SIGKILL the grader's process", "bubblewrap: PID namespace (the grader is not visible)",
         (CORRECT_KL, attempt("import os, signal\nos.kill({grader_pid}, signal.SIGKILL)")), 10, blocked=True),
    Case("background_process", "leave a detached process running after grading",
         "PID namespace torn down with the kernel (--die-with-parent)",
         (CORRECT_KL, "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', "
          "'import time; time.sleep(600)  # " + MARKER + "'], start_new_session=True)"), 10),
    Case("overwrite_dataset", "overwrite and delete the provisioned MNIST file", "read-only bind mount",
         (CORRECT_KL, attempt("open('mnist.npz', 'wb').write(b'0')"), attempt("import os\nos.remove('mnist.npz')")), 10,
         blocked=True),
    Case("nan_output", "return NaN", "value check in the grader", (
        "import torch\ndef kl_divergence(mu, logvar):\n    return torch.full((mu.shape[0],), float('nan'))",), 0,
        message="differ from the reference"),
    Case("inf_output", "return inf", "value check in the grader", (
        "import torch\ndef kl_divergence(mu, logvar):\n    return torch.full((mu.shape[0],), float('inf'))",), 0,
        message="differ from the reference"),
    Case("wrong_shape", "return a (B, D) tensor", "shape check in the grader", (
        "import torch\ndef kl_divergence(mu, logvar):\n    return 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)",), 0,
        message="shape"),
    Case("wrong_dtype", "return a complex tensor", "the probe converts to float64 and reports the error", (
        "import torch\ndef kl_divergence(mu, logvar):\n    return torch.zeros(mu.shape[0], dtype=torch.complex64)",), 0,
        message="differ from the reference"),
]
VICTIM = Case("victim", "(a plain correct submission in the same batch)", "", (CORRECT_KL,), 10)


def write_corpus(folder: Path, context: dict[str, object]) -> dict[str, Case]:
    """Write every case (and the victim) as ``folder/<name>.ipynb``; ``context`` fills the
    placeholders (``rubric``, ``secret``, ``dataset``, ``victim``, ``outside``, ``port``,
    ``grader_pid``)."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = {case.name: case for case in [*CASES, VICTIM]}
    for case in cases.values():
        cells = [nbformat.v4.new_code_cell(_fill(source, context)) for source in case.cells]
        if case.forged is not None:
            cells[case.forged].metadata.update({"tags": ["injected-setup"], "vaegrade": {"injected": True}})
        nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
            "name": "python3", "language": "python", "display_name": "Python 3"}}), folder / f"{case.name}.ipynb")
    return cases


def _fill(source: str, context: dict[str, object]) -> str:
    for key, value in context.items():
        source = source.replace("{" + key + "}", str(value))
    return source


def default_context(folder: Path, port: int = 9) -> dict[str, object]:
    import os

    return {"rubric": str(RUBRIC), "secret": str(ROOT / "reference" / "assets" / "classifier.pt"),
            "dataset": str(ROOT / "reference" / "assets" / "mnist.npz"), "victim": str(folder / "victim.ipynb"),
            "outside": str(folder.parent / "outside.txt"), "port": port, "grader_pid": os.getpid()}


def reported(result) -> str:  # noqa: ANN001 (a SubmissionResult)
    """Everything the grader reported about the run: error, where it stopped, warnings, and the
    messages of checks that lost points."""
    parts = [result.error or ""]
    if result.execution is not None:
        parts += [result.execution.message, *result.execution.warnings]
    parts += [check.message for check in result.checks if check.status != "passed"]
    return "; ".join(dict.fromkeys(p for p in parts if p))


def attack_outputs(executed: Path) -> list[str]:
    """The ATTACK-... lines the notebook printed (test evidence only)."""
    if not executed.exists():
        return []
    notebook = nbformat.read(executed, as_version=4)
    text = "".join(out.get("text", "") for cell in notebook.cells for out in cell.get("outputs", []))
    return [line for line in text.splitlines() if line.startswith("ATTACK-")]


def main() -> None:
    from vaegrade.grader.batch.grade import grade_submissions
    from vaegrade.grader.rubric.schema import load_rubric
    from vaegrade.grader.run.submissions import find_submissions

    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "batch"
        cases = write_corpus(folder, default_context(folder))
        rubric = load_rubric(RUBRIC)
        started = time.monotonic()
        out = Path(work) / "out"
        results = grade_submissions(find_submissions([folder]), rubric, out, jobs=2)
        total = time.monotonic() - started
        evidence = {r.submission: attack_outputs(out / r.submission / "executed.ipynb") or [reported(r)] for r in results}
    rows = [("case", "what it tried", "what stopped it", "score", "time")]
    for result in results:
        case = cases[result.submission]
        seconds = f"{result.execution.duration:.1f} s" if result.execution else "-"
        rows.append((case.name, case.tried, case.stopped_by, f"{result.score:g}/{result.max_score:g}", seconds))
        rows.extend(("", "", "  " + line[:100], "", "") for line in evidence[result.submission] if line)
    widths = [max(len(row[i]) for row in rows if row[0]) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(f"{len(results)} notebooks graded in {total:.0f} s with --jobs 2", file=sys.stderr)


if __name__ == "__main__":
    main()
