"""Grade submissions: the one data flow every entry point (CLI, tests, calibration) uses.

    notebook ─read─▶ transforms ─▶ executor (+ probe cell) ─▶ artifacts ─▶ checks ─▶ scoring
    ─▶ OUT/<submission>/result.json, artifacts.npz, executed.ipynb ─▶ feedback.html; gradebook.csv
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import nbclient
import nbformat
import numpy as np
import torch

import grader
from grader import artifacts, feedback, gradebook, scoring, transforms
from grader.checks.base import Evidence, ProbeContext, ProbeRequest
from grader.errors import SubmissionError
from grader.executor import run_notebook
from grader.results import CheckResult, SubmissionResult
from grader.rubric import Rubric
from reference.classifier import CLASSIFIER_SHA256
from reference.data import MNIST, SHIPPED_MNIST, load_mnist

DATASET_FILE = "mnist.npz"


@dataclass(frozen=True)
class Submission:
    """A notebook to grade and the name its results go under (``OUT/<name>/``)."""

    name: str
    path: Path


def find_submissions(paths: list[Path]) -> list[Submission]:
    """Notebooks named on the command line, or found (recursively) in folders, sorted.

    Names are file stems; where two stems collide, the parent folder's name is prefixed.

    Raises:
        SubmissionError: a path does not exist, or names neither a notebook nor a folder.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts))
        elif path.is_file() and path.suffix == ".ipynb":
            found.append(path)
        else:
            raise SubmissionError(path, "not a .ipynb file or a folder of them")
    stems = [p.stem for p in found]
    return [Submission(p.stem if stems.count(p.stem) == 1 else f"{p.parent.name}__{p.stem}", p) for p in found]


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a submission as an nbformat-4 notebook.

    Raises:
        SubmissionError: unreadable, not JSON, or not a valid notebook.
    """
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises JSON, validation, encoding and OS errors alike
        raise SubmissionError(path, f"cannot be read as a Jupyter notebook: {type(exc).__name__}: {exc}") from exc


def environment(rubric: Rubric) -> dict[str, str | int]:
    return {"vaegrade": grader.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "nbclient": nbclient.__version__, "platform": platform.platform(),
            "seed": rubric.seed, "rubric_sha256": rubric.sha256, "classifier_sha256": CLASSIFIER_SHA256}


def grade_submission(submission: Submission, rubric: Rubric, out: Path) -> SubmissionResult:
    """Grade one notebook and write its result, artifacts, executed notebook and feedback.

    Never raises for a problem of the submission's own: those become the result's ``status``,
    ``error`` and check messages.
    """
    destination = out / submission.name
    destination.mkdir(parents=True, exist_ok=True)
    try:
        notebook = read_notebook(submission.path)
    except SubmissionError as exc:
        return _save(_error_result(submission, rubric, exc.message), {}, destination)

    context = ProbeContext(seed=rubric.seed, data=_shipped_mnist(), parameters=dict(rubric.parameters))
    requests = _unique_requests(rubric, context)
    prepared = transforms.inject_seed_cell(transforms.clear_outputs(notebook), rubric.seed, rubric.execution.threads)
    prepared, has_parameters_cell = transforms.inject_parameters(prepared, rubric.parameters)

    with tempfile.TemporaryDirectory(prefix="vaegrade-") as work:
        workdir = Path(work)
        shutil.copyfile(SHIPPED_MNIST, workdir / DATASET_FILE)
        probe_dir = workdir / artifacts.PROBE_DIR

        def make_probe_cell() -> nbformat.NotebookNode:
            artifacts.write_requests(probe_dir, list(requests.values()), rubric.seed)
            return transforms.probe_cell(str(probe_dir))

        execution = run_notebook(prepared, workdir, rubric.execution, rubric.seed, make_probe_cell,
                                 kernel_log=destination / "kernel.log")
        report = execution.report
        if not has_parameters_cell:
            report.warnings.append("no cell is tagged `parameters`: the grading parameters were set before your "
                                   "cells, and your own values for them (if any) were used instead")
        outputs = artifacts.read_outputs(probe_dir, list(requests.values())) if "probe" in report.phases else {}

    started = time.monotonic()
    evidence = Evidence(requests=requests, outputs=outputs, notebook=execution.notebook, context=context,
                        stopped_at=report.cell_errors[0].describe() if report.cell_errors else None)
    checks, figures = _evaluate(rubric, evidence, report.kernel_usable, report.message)
    report.phases["checks"] = round(time.monotonic() - started, 3)

    graded = report.kernel_usable
    result = SubmissionResult(
        submission=submission.name, rubric=rubric.name, score=scoring.total(checks), max_score=rubric.max_score,
        status="graded" if graded else "error", error=None if graded else report.message,
        checks=checks, execution=report, environment=environment(rubric),
    )
    nbformat.write(execution.notebook, destination / "executed.ipynb")
    return _save(result, figures, destination)


@lru_cache(maxsize=1)
def _shipped_mnist() -> MNIST:
    """The shipped MNIST copy, read and sha256-checked once per grading process."""
    return load_mnist()


def _error_result(submission: Submission, rubric: Rubric, message: str) -> SubmissionResult:
    return SubmissionResult(submission=submission.name, rubric=rubric.name, score=0.0, max_score=rubric.max_score,
                            status="error", error=message, environment=environment(rubric))


def _unique_requests(rubric: Rubric, context: ProbeContext) -> dict[str, ProbeRequest]:
    requests: dict[str, ProbeRequest] = {}
    for check in rubric.checks:
        for request in check.probes(context):
            requests.setdefault(request.key, request)
    return requests


def _evaluate(rubric: Rubric, evidence: Evidence, kernel_usable: bool,
              execution_message: str) -> tuple[list[CheckResult], dict[str, np.ndarray]]:
    checks, figures = [], {}
    for spec in rubric.checks:
        if spec.needs_kernel and not kernel_usable:
            checks.append(scoring.error_result(spec, f"not evaluated: {execution_message}"))
            continue
        try:
            outcome = spec.evaluate(evidence)
        except Exception as exc:  # a check that cannot cope with odd evidence must not take the submission down
            checks.append(scoring.error_result(spec, f"the grader could not evaluate this check: "
                                                     f"{type(exc).__name__}: {exc}"))
            continue
        checks.append(scoring.check_result(spec, outcome))
        figures.update(outcome.artifacts)
    return checks, figures


def _save(result: SubmissionResult, figures: dict[str, np.ndarray], destination: Path) -> SubmissionResult:
    """Write artifacts.npz, render feedback.html (timed), then result.json."""
    np.savez_compressed(destination / "artifacts.npz", **figures)
    started = time.monotonic()
    feedback.write_feedback(result, figures, destination / "feedback.html")
    if result.execution is not None:
        result.execution.phases["rendering"] = round(time.monotonic() - started, 3)
    (destination / "result.json").write_text(result.model_dump_json(indent=2), encoding="utf-8")
    return result


def grade_submissions(submissions: list[Submission], rubric: Rubric, out: Path,
                      on_result=None) -> list[SubmissionResult]:
    """Grade each submission in turn and write ``OUT/gradebook.csv``; ``on_result(result)`` after each."""
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for submission in submissions:
        try:
            result = grade_submission(submission, rubric, out)
        except Exception as exc:  # one submission's unforeseen failure must not lose the others' grades
            result = _error_result(submission, rubric, f"internal grader error: {type(exc).__name__}: {exc}")
            (out / submission.name).mkdir(parents=True, exist_ok=True)
            _save(result, {}, out / submission.name)
        results.append(result)
        if on_result is not None:
            on_result(result)
    gradebook.write_csv(results, out / "gradebook.csv")
    return results


def load_result(directory: Path) -> SubmissionResult:
    """Read ``result.json`` back (the feedback can be re-rendered from it and artifacts.npz alone)."""
    return SubmissionResult.model_validate(json.loads((directory / "result.json").read_text(encoding="utf-8")))
