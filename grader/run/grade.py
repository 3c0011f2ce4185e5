"""Grade one submission: the data flow every entry point (a batch's worker, ``vaegrade check``,
calibration, validation) uses for a single notebook.

    notebook ─read─▶ clear, strip, parameters (prepare) ─▶ session: the kernel in its isolator,
    then the probe ─▶ probe outputs + reference ─▶ checks (grader process) ─▶ scoring
    notebook's Markdown or report file (PDF, Markdown, text) ─▶ report checks
    ─▶ Row: SubmissionResult + feedback figures

Nothing is written to the gradebook or published here (see :mod:`vaegrade.grader.batch.grade`).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import nbformat

from vaegrade.grader.checks import scoring
from vaegrade.grader.checks.base import Evidence
from vaegrade.grader.checks.evaluate import evaluate_checks
from vaegrade.grader.errors import SubmissionError
from vaegrade.grader.report.run import check_submission_report, find_report_file
from vaegrade.grader.results import CheckResult, ExecutionReport, ReportResult, Row, SubmissionResult, npz
from vaegrade.grader.rubric.public import public_yaml
from vaegrade.grader.rubric.schema import Rubric
from vaegrade.grader.run import transforms
from vaegrade.grader.run.environments import ensure_environment
from vaegrade.grader.run.isolation import IsolationMode
from vaegrade.grader.run.prepare import Preparation, handed_in, prepare, weights_request
from vaegrade.grader.run.record import environment, error_result, written_result
from vaegrade.grader.run.session import run_session
from vaegrade.grader.run.submissions import Submission, find_weights, read_notebook


def locate_files(submission: Submission, rubric: Rubric) -> Submission:
    """``submission`` with the report file (:func:`vaegrade.grader.report.run.find_report_file`) and
    the trained weights (:func:`vaegrade.grader.run.submissions.find_weights`) handed in with it,
    found once, for its gradebook key and its checks (none without a ``report:`` or ``weights:`` section)."""
    report = find_report_file(submission.path, rubric.report) if rubric.report else None
    weights = find_weights(submission.path, rubric.weights.file) if rubric.weights else None
    return dataclasses.replace(submission, report=report, weights=weights)


def grade_submission(submission: Submission, rubric: Rubric, out: Path, isolation: IsolationMode = "bubblewrap",
                     selfcheck: bool = False) -> Row:
    """Grade one notebook: its result and feedback figures. Writes ``OUT/<name>/executed.ipynb``
    and ``kernel.log``; :func:`vaegrade.grader.publish.feedback.publish` writes the result and the feedback page.

    The kernel runs under the ``isolation`` mode's :class:`vaegrade.grader.run.isolation.Isolator`,
    as the sandbox user of this process's leased slot. With ``selfcheck``, ``selfcheck.all()``
    runs in the same kernel first, finding the rubric's public view in the working directory as a
    student's kernel finds it in the bundle (the kernel must import vaegrade). The report file
    read is ``submission.report`` (see :func:`locate_files`). Never raises for a problem of the
    submission's own: those become the result's ``status``, ``error`` and check messages.
    """
    destination = out / submission.name
    destination.mkdir(parents=True, exist_ok=True)
    try:
        notebook, repairs = read_notebook(submission.path, rubric.execution.notebook_mb * 2**20)
    except SubmissionError as exc:
        return Row(error_result(submission, rubric, exc.message), npz({}))
    if not rubric.checks:  # a rubric with written questions only: nothing to run
        return Row(written_result(submission.name, rubric, *_report_checks(submission, rubric, notebook, None)), npz({}))

    kernel = ensure_environment(rubric.environment.packages, rubric.environment.variables)
    short = rubric.weights is not None and (submission.weights is not None or rubric.weights.required)
    rubric = rubric.with_weights() if short else rubric  # handed-in weights: a short training, then theirs
    cleared, forged = transforms.strip_reserved(transforms.clear_outputs(notebook))
    prepared = prepare(cleared, rubric, submission.weights)  # these two before the thread below: ast.parse is not
    public = public_yaml(rubric) if selfcheck else None  # thread-safe (CPython gh-106905), and both parse with it
    preparation = Preparation(rubric)  # the probe requests, torch, scipy, the judge: made while the notebook runs
    extra = [weights_request()] if submission.weights is not None else []
    session = run_session(prepared.notebook, prepared.shims, rubric, kernel, isolation, _student_modules(submission, rubric),
                          lambda: list(preparation.requests()[1].values()) + extra, destination / "kernel.log", public,
                          submission.weights)
    execution, report = session.execution, session.execution.report
    report.adaptations = prepared.adaptations
    report.warnings[:0] = [f"your notebook was repaired: {repair}" for repair in repairs] + [
        f"identical to the submission of {other} (same bytes)" for other in submission.duplicate_of] + forged
    if not prepared.tagged and rubric.parameters and not prepared.rewrites:
        report.warnings.append("no cell is tagged `parameters` and none of the parameters' names were found: "
                               "the grading parameters were set before your cells")
    _trim_log(destination / "kernel.log")
    if prepared.tensorflow_1 and report.status != "completed":
        report.status = "tensorflow_1"
        report.message = (f"written for TensorFlow 1.x ({', '.join(prepared.tensorflow_1[:3])}), which no supported Python "
                          f"runs; here {report.message}. "
                          f"Grade it by hand (a manual grade) or ask for a TensorFlow 2 port")
    missing_package = report.status != "tensorflow_1" and _missing_package(report)
    if missing_package:
        report.message = (f"the grading environment lacks the package `{missing_package}` that the notebook imports: "
                          f"add it to the rubric's `environment: packages:` list and grade again (not the student's fault)")

    context, requests = preparation.requests()
    preparation.join()
    started = time.monotonic()
    evidence = Evidence(requests=requests, outputs=session.outputs, notebook=execution.notebook, context=context,
                        stopped_at=report.cell_errors[0].describe() if report.cell_errors else None,
                        weights=handed_in(submission.weights, rubric, session.outputs) if short else None)
    checks, figures = evaluate_checks(rubric.checks, evidence, report.kernel_usable, report.message)
    written, written_report = _report_checks(submission, rubric, notebook, execution.notebook)
    checks += written
    report.phases["checks"] = round(time.monotonic() - started, 3)

    graded = report.kernel_usable and not missing_package
    result = SubmissionResult(
        submission=submission.name, rubric=rubric.name, score=scoring.total(checks), max_score=rubric.max_score,
        status="graded" if graded else "error", error=None if graded else report.message,
        checks=checks, execution=report, environment=environment(rubric, kernel), isolation=session.isolation,
        report=written_report, selfcheck=session.selfcheck,
    )
    nbformat.write(execution.notebook, destination / "executed.ipynb")
    return Row(result, npz(figures))


def _report_checks(submission: Submission, rubric: Rubric, notebook: nbformat.NotebookNode,
                   executed: nbformat.NotebookNode | None) -> tuple[list[CheckResult], ReportResult | None]:
    """The rubric's report checks for this submission (none without a ``report:`` section)."""
    if rubric.report is None:
        return [], None
    return check_submission_report(rubric.report, rubric.seed, submission.report, notebook, str(submission.path), executed)


MAX_LOG_BYTES = 1024 * 1024


def _trim_log(path: Path) -> None:
    """Keep the first MiB of the kernel's log (a flood of raw fd 1/2 writes can be far larger)."""
    if path.exists() and path.stat().st_size > MAX_LOG_BYTES:
        with open(path, "r+b") as handle:
            handle.truncate(MAX_LOG_BYTES)
            handle.seek(0, 2)
            handle.write(b"\n[vaegrade: the rest of the kernel's log was dropped]\n")


def _student_modules(submission: Submission, rubric: Rubric) -> list[Path]:
    """Python modules handed in beside the notebook (``AutoDecoder.py``), importable by it; a
    module named like one of the handout's files is the handout's, not the student's copy."""
    handout = {file.to for file in rubric.files}
    return sorted(p for p in submission.path.parent.glob("*.py")
                  if p.is_file() and not p.is_symlink() and p.name not in handout)


def _missing_package(report: ExecutionReport) -> str | None:
    """The package a ``ModuleNotFoundError`` in a student cell names (the environment's gap), or None."""
    for error in report.cell_errors:
        if error.ename == "ModuleNotFoundError" and "'" in error.evalue:
            return error.evalue.split("'")[1].split(".")[0]
    return None
