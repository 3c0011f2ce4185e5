"""The suite's heavy batches, graded once per session and shared by the tests that read them.

Every assignment's ``vaegrade validate`` (the flagship's from a freshly built wheel) and every
shape of the corpus are *jobs*: ``vaegrade`` commands run as subprocesses, two at a time on two
cores, longest first, each with ``--jobs 1`` so that no batch leaves a core idle while its last
notebook runs. They start as soon as the session's tests are collected (see ``tests/conftest.py``),
so they grade while the unit tier runs; a test asks for a job's outcome and waits for it alone.
Tests that need a quiet machine (tight time limits, or a look at every sandbox process) wait for
every job first (:meth:`Farm.quiet`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tests.conftest import ROOT

SUBMISSIONS = ROOT / "submissions"
SHAPES = SUBMISSIONS / "shapes"
VAEGRADE = str(Path(sys.executable).with_name("vaegrade"))
#: Jobs graded at once (this machine's cores).
SLOTS = 2


@dataclass(frozen=True)
class Outcome:
    """A finished job: its command's exit status and output, and the folder it graded into."""

    returncode: int
    stdout: str
    stderr: str
    out: Path


@dataclass(frozen=True)
class Job:
    """A batch to grade: its name, the test modules that read it, and how to run it (given the
    farm and a fresh folder of its own)."""

    name: str
    readers: tuple[str, ...]
    run: Callable[["Farm", Path], Outcome]


def validate(folder: Path, calibration_runs: int = 0, vaegrade: str = VAEGRADE) -> Callable[["Farm", Path], Outcome]:
    def run(farm: Farm, work: Path) -> Outcome:
        return farm.command([vaegrade, "validate", str(folder), "--out", str(work / "out"), "--isolation", "bubblewrap",
                             "--calibration-runs", str(calibration_runs), "--jobs", "1"], work / "out")
    return run


def shape(name: str) -> Callable[["Farm", Path], Outcome]:
    def run(farm: Farm, work: Path) -> Outcome:
        rubric = ROOT / "rubrics" / "shapes" / f"{name}.yaml"
        return farm.command([VAEGRADE, "grade", str(SHAPES / name), "--rubric", str(rubric), "--out", str(work / "out"),
                             "--jobs", "1"], work / "out")
    return run


@dataclass(frozen=True)
class Wheel:
    """vaegrade's wheel, installed (not editable) into a fresh virtual environment whose ``.pth``
    file points at this environment's site-packages, as a student's machine already has torch;
    ``pip`` is the install's output."""

    path: Path
    bin: Path
    pip: str


def install_wheel(work: Path) -> Wheel:
    """Build vaegrade's wheel from this checkout and install it with ``--no-index`` (so that it
    can reinstall no dependency) into a fresh virtual environment."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(ROOT)],
                   check=True, cwd=work)
    wheel = next((work / "dist").glob("vaegrade-*.whl"))
    subprocess.run([sys._base_executable, "-m", "venv", str(work / "venv")], check=True)
    site = next((work / "venv" / "lib").glob("python3*/site-packages"))
    (site / "already_installed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # the venv's own old setuptools would shadow the one torch needs (>= 77), already installed
    subprocess.run([str(work / "venv" / "bin" / "pip"), "uninstall", "-q", "-y", "setuptools"], check=True)
    pip = subprocess.run([str(work / "venv" / "bin" / "pip"), "install", "--no-index", str(wheel)],
                         capture_output=True, text=True, cwd=work)
    if pip.returncode != 0:
        raise RuntimeError(f"installing the wheel failed:\n{pip.stdout}{pip.stderr}")
    return Wheel(wheel, work / "venv" / "bin", pip.stdout)


class Farm:
    """The jobs of one session, graded in the background (see the module docstring)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.pool = ThreadPoolExecutor(SLOTS, thread_name_prefix="farm")
        self.futures: dict[str, Future] = {}
        self.wheel: Future = Future()
        self.running: set[subprocess.Popen] = set()
        self.lock = threading.Lock()

    def start(self, jobs: list[Job]) -> None:
        """Queue ``jobs`` in the given order (longest first)."""
        for job in jobs:
            folder = self.work / job.name.replace(":", "-")
            folder.mkdir(parents=True)
            self.futures[job.name] = self.pool.submit(job.run, self, folder)

    def command(self, args: list[str], out: Path) -> Outcome:
        """Run a job's command (killed if the session ends first), keeping its output, into ``out``."""
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        with self.lock:
            self.running.add(process)
        stdout, stderr = process.communicate()
        with self.lock:
            self.running.discard(process)
        return Outcome(process.returncode, stdout, stderr, out)

    def outcome(self, name: str) -> Outcome:
        """The outcome of job ``name``, once it finished (raises what the job raised)."""
        return self.futures[name].result()

    def quiet(self) -> None:
        """Wait until no job runs: every kernel the farm started has ended."""
        for future in list(self.futures.values()):
            future.exception()

    def close(self) -> None:
        """Stop: jobs not started are dropped, running ones killed (the session ended before its
        tests read them: a failure with ``-x``, or Ctrl-C), with their kernels."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        with self.lock:
            for process in self.running:
                os.killpg(process.pid, signal.SIGKILL)
        self.pool.shutdown(wait=True)


def flagship(farm: Farm, work: Path) -> Outcome:
    """The flagship's validation, from the wheel (installed first, and kept for test_wheel.py),
    with one calibration rerun."""
    try:
        wheel = install_wheel(work)
    except Exception as exc:
        farm.wheel.set_exception(exc)
        raise
    farm.wheel.set_result(wheel)
    return validate(SUBMISSIONS / "vae_mnist", calibration_runs=1, vaegrade=str(wheel.bin / "vaegrade"))(farm, work)


#: The course assignments validated from this checkout (the flagship, from the wheel, is first).
COURSES = ["ca4_vae", "vae_modification_report", "keras_vae_lab", "csci566_vae", "vad_distributions"]
#: The shapes of the corpus, each graded by its own rubric.
SHAPE_NAMES = sorted(path.stem for path in (ROOT / "rubrics" / "shapes").glob("*.yaml"))


def jobs() -> list[Job]:
    """Every job, longest first (measured on 2 cores: the validations of Keras assignments take
    two to four minutes of kernel time each, a shape a few seconds to a minute)."""
    return ([Job("validate:vae_mnist", ("test_flagship.py", "test_wheel.py"), flagship)]
            + [Job(f"validate:{name}", ("test_assignments.py",), validate(SUBMISSIONS / name)) for name in COURSES]
            + [Job(f"shape:{name}", ("test_shapes.py",), shape(name)) for name in SHAPE_NAMES])
