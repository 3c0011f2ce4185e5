"""The written part of one submission: which document to read, and its checks.

``vaegrade grade`` calls :func:`check_submission_report` with the submitted notebook (its
stored outputs are what the student ran and wrote about) and the executed one (whose image
outputs the grader produced); ``vaegrade report`` calls :func:`check_report_file` on one file.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from vaegrade.grader.checks import scoring
from vaegrade.grader.errors import ReportError
from vaegrade.grader.report.answers import place
from vaegrade.grader.report.checker import check_report
from vaegrade.grader.report.document import SUFFIXES, from_notebook, read_report
from vaegrade.grader.report.spec import ReportSpec
from vaegrade.grader.results import CheckResult, ReportResult, SubmissionResult

REPORT_SUFFIXES = {suffix for suffix, kind in SUFFIXES.items() if kind != "notebook"}


def find_report_file(notebook: Path, spec: ReportSpec) -> Path | None:
    """The report handed in with ``notebook``: the first file in its folder matching
    ``spec.file`` (``{name}`` is the notebook's stem) with a report suffix; failing that, when
    the notebook is the only one in its folder (a student's own folder), the only report file
    there. None when there is none."""
    folder = notebook.parent
    if notebook.suffix != ".ipynb" or not folder.is_dir():
        return None
    matches = sorted(p for p in folder.glob(spec.file.format(name=notebook.stem)) if p.suffix.lower() in REPORT_SUFFIXES)
    if matches:
        return matches[0]
    notebooks = list(folder.glob("*.ipynb"))
    reports = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in REPORT_SUFFIXES)
    return reports[0] if len(notebooks) <= 1 and len(reports) == 1 else None


def notebook_outputs(notebook: nbformat.NotebookNode) -> str:
    """Everything the notebook's stored outputs printed, as one text."""
    return "\n".join(b.text for b in from_notebook(notebook, "").blocks if b.kind == "output")


def check_submission_report(spec: ReportSpec, seed: int, report_path: Path | None,
                            notebook: nbformat.NotebookNode | None = None, notebook_path: str = "",
                            executed: nbformat.NotebookNode | None = None) -> tuple[list[CheckResult], ReportResult]:
    """Check the written answers: in the report file when the rubric's ``source`` allows and
    there is one, else in the notebook's Markdown cells.

    A report that cannot be read gives ``error`` checks with the reason; a report the rubric
    requires (``source: file``) but the student did not hand in gives ``failed`` ones.
    """
    if spec.source != "notebook" and report_path is not None:
        return check_report_file(spec, seed, report_path, notebook)
    if notebook is None or spec.source == "file":
        message = f"no report file was handed in (looked for {spec.file!r} and a lone .pdf/.md/.txt beside the notebook)"
        return _all(spec, message, "failed"), ReportResult(source="", kind="none", error=message)
    figures_from = from_notebook(executed, notebook_path) if executed is not None else None
    return check_report(spec, from_notebook(notebook, notebook_path), notebook_outputs(notebook), seed, figures_from)


def check_report_file(spec: ReportSpec, seed: int, path: Path,
                      notebook: nbformat.NotebookNode | None = None) -> tuple[list[CheckResult], ReportResult]:
    """Check the answers in one report file (whatever the rubric's ``source``); claimed numbers
    against ``notebook``'s stored outputs when given. An unreadable file gives ``error`` checks."""
    try:
        document = read_report(path)
    except ReportError as exc:
        return _all(spec, exc.message, "error"), ReportResult(source=str(path), kind="unreadable", error=exc.message)
    return check_report(spec, document, notebook_outputs(notebook) if notebook is not None else None, seed)


def _all(spec: ReportSpec, message: str, status: str) -> list[CheckResult]:
    return [scoring.unevaluated(q.check_id(aspect), q.check_title(aspect), points, message, status)
            for q in spec.questions for aspect, points in q.points().items()]


def describe_report(result: SubmissionResult) -> str:
    """The report checker's findings as text: per question, where the answer is and each check."""
    lines = [f"{result.submission}: {result.score:g}/{result.max_score:g} on the written answers "
             f"({result.report.kind} {result.report.source})"]
    if result.report.error:
        lines.append(f"  {result.report.error}")
    checks = {c.id: c for c in result.checks}
    for question in result.report.questions:
        lines.append(f"  {question.id}: {question.status}" + (f" ({place(question.where)})" if question.where else ""))
        for check_id, check in checks.items():
            if check_id.startswith(f"report.{question.id}."):
                manual = f" [manual; suggested {check.manual.suggested_score:g}: {check.manual.comment}]" if check.manual else ""
                lines.append(f"    {check_id.rsplit('.', 1)[1]:<10} {check.score:g}/{check.max_score:g} "
                             f"{check.status}: {check.message}{manual}")
    return "\n".join(lines)
