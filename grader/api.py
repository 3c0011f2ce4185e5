"""Grade submissions: the one data flow every entry point (CLI, tests, calibration) uses.

    notebook ─read─▶ transforms ─▶ executor in a sandbox (+ probe cell) ─▶ artifacts ─▶ checks
    notebook's Markdown or report file (PDF, Markdown, text) ─▶ report checks (grader.report)
    ─▶ scoring ─▶ Row (result + figures) ─▶ gradebook.sqlite ─▶ overrides (grader.overrides)
    ─▶ OUT/<submission>/result.json, artifacts.npz, feedback.html; OUT/gradebook.csv, index.html

A batch grades each submission as a :class:`Job` (:func:`grade_job`) wherever its executor
runs it (:mod:`grader.workers`: here, local worker processes or a Dask cluster; each worker
with its own sandbox uid), and skips submissions the gradebook already holds for the same
notebook, rubric and vaegrade version, so a batch killed half-way resumes where it stopped.
Only this process writes the gradebook and ``OUT``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import nbclient
import nbformat
import numpy as np
from pydantic import ValidationError

import grader
from grader import artifacts, feedback, scoring, similarity, source, summary, transforms, workers
from grader.checks.base import Evidence
from grader.datasets import served_files
from grader.environments import KernelEnvironment, ensure_environment
from grader.errors import ArtifactError, SubmissionError
from grader.evaluation import Preparation, evaluate_checks
from grader.executor import run_notebook
from grader.gradebook import Gradebook, Key, Row, write_csv
from grader.late import Lateness
from grader.overrides import Overrides, apply_overrides
from grader.public import PUBLIC_SUFFIX, public_yaml
from grader.report.run import check_submission_report, find_report_file
from grader.results import CheckResult, ExecutionReport, ReportResult, SelfCheckRecord, SubmissionResult
from grader.rubric import Rubric
from grader.sandbox import IsolationMode, Jail, Workspace
from grader.shipped import source_folders
from grader.submissions import Submission, read_notebook

R = TypeVar("R")


def environment(rubric: Rubric, kernel: KernelEnvironment | None = None) -> dict[str, object]:
    """What a result records about how it was graded (and, when a kernel ran, in which environment)."""
    import torch

    from reference.classifier import JUDGES
    return {"vaegrade": grader.__version__, "python": platform.python_version(), "torch": str(torch.__version__),
            "numpy": np.__version__, "nbclient": nbclient.__version__, "platform": platform.platform(),
            "seed": rubric.seed, "rubric_sha256": rubric.sha256, "framework": rubric.framework,
            "dataset": rubric.dataset, "classifier_sha256": JUDGES[rubric.dataset].sha256,
            **(kernel.describe() if kernel is not None else {})}


def grade_submission(submission: Submission, rubric: Rubric, out: Path, isolation: IsolationMode = "bubblewrap",
                     selfcheck: bool = False) -> Row:
    """Grade one notebook: its result and feedback figures. Writes ``OUT/<name>/executed.ipynb``
    and ``kernel.log``; :func:`publish` writes the result and the feedback page.

    The kernel runs in a :class:`grader.sandbox.Jail` of the given ``isolation`` mode, as the
    sandbox user of this process's leased slot. With ``selfcheck``, ``selfcheck.all()`` runs in the same
    kernel first, finding the rubric's public view in the working directory as a student's
    kernel finds it in the bundle (the kernel must import vaegrade). Never raises for a problem of the submission's own:
    those become the result's ``status``, ``error`` and check messages.
    """
    destination = out / submission.name
    destination.mkdir(parents=True, exist_ok=True)
    try:
        notebook, repairs = read_notebook(submission.path, rubric.execution.notebook_mb * 2**20)
    except SubmissionError as exc:
        return Row(_error_result(submission, rubric, exc.message), npz({}))
    if not rubric.checks:  # a rubric with written questions only: nothing to run
        return Row(written_result(submission.name, rubric, *_report_checks(submission, rubric, notebook, None)), npz({}))

    kernel = ensure_environment(rubric.environment.packages)
    cleared, forged = transforms.strip_reserved(transforms.clear_outputs(notebook))
    prepared = prepare(cleared, rubric)  # these two before the thread below: ast.parse is not thread-safe
    public = public_yaml(rubric) if selfcheck else ""  # (CPython gh-106905), and both parse with it
    preparation = Preparation(rubric)  # the probe requests, torch, scipy, the judge: made while the notebook runs

    jail = Jail(isolation, rubric.execution, kernel)
    if selfcheck:
        jail.read_only += [(folder, folder) for folder in source_folders()]
    workspace = Workspace.create(jail)
    try:
        served = served_files(rubric.data.train_subset)
        for name, path in served.items():
            workspace.provision(path, f"{name}.npz")
        for path in rubric.file_paths() + _student_modules(submission, rubric):
            workspace.provision(path, path.name)
        if selfcheck:
            (workspace.root / "public.yaml").write_text(public, encoding="utf-8")
            workspace.provision(workspace.root / "public.yaml", f"{rubric.name}{PUBLIC_SUFFIX}")
        setup = transforms.inject_setup_cell(prepared.notebook, {
            **prepared.shims, "seed": rubric.seed, "threads": rubric.execution.threads, "framework": rubric.framework,
            "datasets": {name: str(workspace.work / f"{name}.npz") for name in served}})
        probe_dirs: list[Path] = []

        def make_probe_cell() -> nbformat.NotebookNode:
            probe_dirs.append(workspace.probe_dir())
            artifacts.write_requests(probe_dirs[0], list(preparation.requests()[1].values()), rubric.seed, rubric.framework)
            workspace.hand_over_probe(probe_dirs[0])
            return transforms.probe_cell(str(probe_dirs[0]), selfcheck)

        execution = run_notebook(setup, jail, workspace.work, workspace.conn, rubric.seed, make_probe_cell,
                                 kernel_log=destination / "kernel.log")
        report = execution.report
        report.adaptations = prepared.adaptations
        report.warnings[:0] = [f"your notebook was repaired: {repair}" for repair in repairs] + [
            f"identical to the submission of {other} (same bytes)" for other in submission.duplicate_of] + forged
        if not prepared.tagged and rubric.parameters and not prepared.rewrites:
            report.warnings.append("no cell is tagged `parameters` and none of the parameters' names were found: "
                                   "the grading parameters were set before your cells")
        context, requests = preparation.requests()
        outputs = artifacts.read_outputs(probe_dirs[0], list(requests.values())) if "probe" in report.phases else {}
        selfchecked = _selfcheck_record(probe_dirs[0]) if selfcheck and probe_dirs else None
    finally:
        workspace.remove()
    _trim_log(destination / "kernel.log")
    missing_package = _missing_package(report)
    if missing_package:
        report.message = (f"the grading environment lacks the package `{missing_package}` that the notebook imports: "
                          f"add it to the rubric's `environment: packages:` list and grade again (not the student's fault)")

    preparation.join()
    started = time.monotonic()
    evidence = Evidence(requests=requests, outputs=outputs, notebook=execution.notebook, context=context,
                        stopped_at=report.cell_errors[0].describe() if report.cell_errors else None)
    checks, figures = evaluate_checks(rubric.checks, evidence, report.kernel_usable, report.message)
    written, written_report = _report_checks(submission, rubric, notebook, execution.notebook)
    checks += written
    report.phases["checks"] = round(time.monotonic() - started, 3)

    graded = report.kernel_usable and not missing_package
    result = SubmissionResult(
        submission=submission.name, rubric=rubric.name, score=scoring.total(checks), max_score=rubric.max_score,
        status="graded" if graded else "error", error=None if graded else report.message,
        checks=checks, execution=report, environment=environment(rubric, kernel), isolation=jail.describe(),
        report=written_report, selfcheck=selfchecked,
    )
    nbformat.write(execution.notebook, destination / "executed.ipynb")
    return Row(result, npz(figures))


def _selfcheck_record(probe_dir: Path) -> SelfCheckRecord:
    """The verdicts the kernel's self-check wrote (validated like any artifact), or why there are none."""
    try:
        return SelfCheckRecord.model_validate(artifacts.read_json(probe_dir / "selfcheck.json"))
    except (ArtifactError, ValidationError) as exc:
        return SelfCheckRecord(error=f"no usable self-check verdicts: {exc}")


def written_result(name: str, rubric: Rubric, checks: list[CheckResult], report: ReportResult) -> SubmissionResult:
    """A result made of the written answers' checks alone, out of the report's points."""
    return SubmissionResult(submission=name, rubric=rubric.name, score=scoring.total(checks),
                            max_score=sum(rubric.report_points().values()), status="graded", checks=checks,
                            report=report, environment=environment(rubric))


def _report_checks(submission: Submission, rubric: Rubric, notebook: nbformat.NotebookNode,
                   executed: nbformat.NotebookNode | None) -> tuple[list[CheckResult], ReportResult | None]:
    """The rubric's report checks for this submission (none without a ``report:`` section)."""
    if rubric.report is None:
        return [], None
    report_file = find_report_file(submission.path, rubric.report)
    return check_submission_report(rubric.report, rubric.seed, report_file, notebook, str(submission.path), executed)


MAX_LOG_BYTES = 1024 * 1024


def _trim_log(path: Path) -> None:
    """Keep the first MiB of the kernel's log (a flood of raw fd 1/2 writes can be far larger)."""
    if path.exists() and path.stat().st_size > MAX_LOG_BYTES:
        with open(path, "r+b") as handle:
            handle.truncate(MAX_LOG_BYTES)
            handle.seek(0, 2)
            handle.write(b"\n[vaegrade: the rest of the kernel's log was dropped]\n")


@dataclass(frozen=True)
class Prepared:
    """A notebook ready to run: parameters set (``tagged``: after a ``parameters`` cell, else
    ``rewrites``), the kernel setup's ``shims`` config, and every ``adaptation`` as a sentence."""

    notebook: nbformat.NotebookNode
    tagged: bool
    rewrites: list[str]
    shims: dict[str, object]
    adaptations: list[str]


def prepare(notebook: nbformat.NotebookNode, rubric: Rubric) -> Prepared:
    """Set the grading parameters and find what the notebook needs shimmed on a CPU grader."""
    specs = rubric.parameter_specs()
    targets = source.Targets(
        names={alias: spec.value for name, spec in specs.items() for alias in [name, *spec.names]},
        keywords={tuple(k.split(".")): spec.value for spec in specs.values() for k in spec.keywords},
        loops={variable: spec.value for spec in specs.values() for variable in spec.loops})
    prepared, tagged, rewrites = transforms.set_parameters(notebook, rubric.parameter_values(), targets)
    found = source.scan_platform([cell.source for cell in notebook.cells if cell.cell_type == "code"])
    shims = {"cuda": found.cuda, "colab": found.colab, "installs": bool(found.installs),
             "magics": sorted({magic.split()[0] for magic in found.magics})}
    adaptations = [f"grading parameter set in {rewrite}" for rewrite in rewrites] + found.notes()
    return Prepared(prepared, tagged, rewrites, shims, adaptations)


def _student_modules(submission: Submission, rubric: Rubric) -> list[Path]:
    """Python modules handed in beside the notebook (``AutoDecoder.py``), importable by it; a
    module named like one of the handout's files is the handout's, not the student's copy."""
    handout = {path.name for path in rubric.file_paths()}
    return sorted(p for p in submission.path.parent.glob("*.py")
                  if p.is_file() and not p.is_symlink() and p.name not in handout)


def _missing_package(report: ExecutionReport) -> str | None:
    """The package a ``ModuleNotFoundError`` in a student cell names (the environment's gap), or None."""
    for error in report.cell_errors:
        if error.ename == "ModuleNotFoundError" and "'" in error.evalue:
            return error.evalue.split("'")[1].split(".")[0]
    return None


def _error_result(submission: Submission, rubric: Rubric, message: str) -> SubmissionResult:
    return SubmissionResult(submission=submission.name, rubric=rubric.name, score=0.0, max_score=rubric.max_score,
                            status="error", error=message, environment=environment(rubric))


def npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def publish(row: Row, destination: Path) -> None:
    """Write ``result.json``, ``artifacts.npz`` and ``feedback.html`` for one stored result."""
    destination.mkdir(parents=True, exist_ok=True)
    (destination / "artifacts.npz").write_bytes(row.figures_npz)
    with np.load(io.BytesIO(row.figures_npz), allow_pickle=False) as stored:
        figures = {name: stored[name] for name in stored.files}
    feedback.write_feedback(row.result, figures, destination / "feedback.html")
    (destination / "result.json").write_text(row.result.model_dump_json(indent=2), encoding="utf-8")


@dataclass(frozen=True)
class Job:
    """One submission to grade, with all :func:`grade_job` needs (picklable, for a worker)."""

    submission: Submission
    rubric: Rubric
    isolation: IsolationMode = "bubblewrap"
    selfcheck: bool = False


@dataclass
class Graded:
    """What a worker sends back: the result and figures, and the other files of
    ``OUT/<name>/`` (``executed.ipynb``, ``kernel.log``) as bytes."""

    row: Row
    files: dict[str, bytes]


def grade_job(job: Job) -> Graded:
    """Grade one submission (in a worker) into a private temporary folder and return what it
    wrote, so that only the coordinating process writes ``OUT`` (which a cluster's workers need
    not share). Never raises: an unforeseen grader failure becomes an ``internal`` error result
    (never stored in the gradebook, so graded again next run), and so does a submission this
    worker cannot see (a cluster's worker without the coordinator's shared file system): that is
    no fault of the student's."""
    if not job.submission.path.exists():
        message = (f"the worker on {platform.node()} cannot see {job.submission.path}: a cluster's workers need "
                   f"the submissions on a file system shared with the coordinator, at the same path")
        return Graded(internal_error(job.submission, job.rubric, message), {})
    with tempfile.TemporaryDirectory(prefix="vaegrade-job-") as folder:
        try:
            row = grade_submission(job.submission, job.rubric, Path(folder), job.isolation, job.selfcheck)
        except Exception as exc:  # one submission's unforeseen failure must not lose the others' grades
            row = internal_error(job.submission, job.rubric, f"{type(exc).__name__}: {exc}")
        written = Path(folder) / job.submission.name
        files = {path.name: path.read_bytes() for path in written.iterdir() if path.is_file()} if written.is_dir() else {}
    return Graded(row, files)


def internal_error(submission: Submission, rubric: Rubric, message: str) -> Row:
    """A result for a submission the grader itself failed on; not stored, so graded again next run."""
    result = _error_result(submission, rubric, f"internal grader error: {message}")
    result.internal = True
    return Row(result, npz({}))


def gradebook_key(submission: Submission, rubric: Rubric, selfcheck: bool = False) -> Key:
    """What a result depends on: the notebook's bytes, and the report file's when the rubric
    reads one; the rubric (but its late policy), and whether self-check ran beside grading."""
    digest = submission.sha256
    report_file = find_report_file(submission.path, rubric.report) if rubric.report else None
    if report_file is not None:
        digest += "+" + hashlib.sha256(report_file.read_bytes()).hexdigest()
    return Key(submission.name, digest, rubric.grading_sha256 + ("+selfcheck" if selfcheck else ""), grader.__version__)


def grade_submissions(submissions: list[Submission], rubric: Rubric, out: Path, jobs: int = 1,
                      isolation: IsolationMode = "bubblewrap",
                      on_result: Callable[[SubmissionResult, bool], None] | None = None,
                      overrides: Overrides | None = None, selfcheck: bool = False, only: set[str] | None = None,
                      force: bool = False, executor: workers.Executor | None = None,
                      lateness: Lateness | None = None) -> list[SubmissionResult]:
    """Grade a batch into ``OUT``: results the gradebook already holds are reused (and their
    pages rebuilt if missing), the others graded by ``executor`` (else in ``jobs`` local worker
    processes); each result is committed to ``OUT/gradebook.sqlite`` as it arrives (once: a
    submission whose worker died is graded again by the executor, and its internal error, if
    it never could be, is not stored), then ``OUT/gradebook.csv`` and the class overview
    ``OUT/index.html`` (with the similarity flags of :mod:`grader.similarity`, made in a thread
    while the submissions are graded) are written.
    With ``only`` (submission names), the others are not graded: their stored results are
    kept (and listed), and one with none is left out. ``force`` grades the chosen ones again
    even when the gradebook holds their result.
    The gradebook keeps the grader's own results; ``overrides`` (manual grades), then
    ``lateness`` (the late policy's deductions), are applied on top when publishing, so the CSV
    and the pages show them. ``on_result(result, reused)`` is
    called once per chosen submission, with the overrides applied. ``selfcheck``: see :func:`grade_submission`.
    """
    out.mkdir(parents=True, exist_ok=True)
    book = Gradebook(out / "gradebook.sqlite")
    results: dict[str, SubmissionResult] = {}

    def finish(submission: Submission, row: Row, reused: bool) -> None:
        result = apply_overrides(row.result, overrides or {})
        result = lateness.apply(result) if lateness is not None else result
        if result is not row.result or not _published(result, out / submission.name):
            publish(Row(result, row.figures_npz), out / submission.name)
        results[submission.name] = result
        if on_result is not None and (only is None or submission.name in only):
            on_result(result, reused)

    keys = {submission.name: gradebook_key(submission, rubric, selfcheck) for submission in submissions}
    pending = []
    for submission in submissions:
        chosen = only is None or submission.name in only
        row = None if force and chosen else book.get(keys[submission.name])
        if row is not None:
            finish(submission, row, True)
        elif chosen:
            pending.append(submission)
    with contextlib.ExitStack() as stack:
        # the flags read only the submitted files, so they are made while the kernels run
        background = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="vaegrade-similarity"))
        flagged = background.submit(_when_idle, similarity.flags, submissions, rubric.handout_path())
        executor = executor or stack.enter_context(workers.open_executor(min(jobs, len(pending))))
        for job, graded in executor.map(grade_job, [Job(s, rubric, isolation, selfcheck) for s in pending]):
            if isinstance(graded, workers.Lost):
                graded = Graded(internal_error(job.submission, rubric, str(graded)), {})
            destination = out / job.submission.name
            destination.mkdir(parents=True, exist_ok=True)
            for name, data in graded.files.items():
                (destination / name).write_bytes(data)
            if not graded.row.result.internal:
                book.put(keys[job.submission.name], graded.row)
            finish(job.submission, graded.row, False)
        book.close()
        ordered = [results[s.name] for s in submissions if s.name in results]
        write_csv(ordered, out / "gradebook.csv")
        summary.write_overview(ordered, out / "index.html", flagged.result())
    return ordered


def _when_idle(fn: Callable[..., R], *args: object) -> R:
    """``fn(*args)`` in this thread at the lowest CPU priority (nice 19), so that it takes only
    the CPU the kernels and checks leave idle. On Linux a thread's nice value is its own; on
    other systems it runs at normal priority (their thread ids are not process ids)."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    return fn(*args)


def _published(result: SubmissionResult, destination: Path) -> bool:
    """True when ``destination`` already shows exactly ``result`` (an override removed since the
    last run, or a deleted page, makes it False)."""
    try:
        on_disk = (destination / "result.json").read_text(encoding="utf-8")
    except OSError:
        return False
    return (destination / "feedback.html").exists() and on_disk == result.model_dump_json(indent=2)


def load_result(directory: Path) -> SubmissionResult:
    """Read ``result.json`` back (the feedback can be re-rendered from it and artifacts.npz alone)."""
    return SubmissionResult.model_validate(json.loads((directory / "result.json").read_text(encoding="utf-8")))
