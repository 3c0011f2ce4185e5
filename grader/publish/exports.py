"""Grades out of ``OUT`` into the formats other systems import: ``vaegrade export``.

Read from the published ``OUT/<submission>/result.json`` files (so manual grades from
``--overrides`` are in them), never by re-grading.

- ``canvas``: a Canvas gradebook import CSV. Canvas matches rows on the columns ``Student``,
  ``ID``, ``SIS User ID``, ``SIS Login ID`` and ``Section`` (from a roster you export from
  Canvas's gradebook), and reads a new assignment's points from the ``Points Possible`` row under
  the header (Canvas guides, "How do I import grades in the Gradebook?"). A blank cell leaves
  Canvas's grade as it is.
- ``gradescope``: one ``results.json`` per submission in Gradescope's autograder format
  (``score``, ``execution_time``, ``output``, ``tests`` with ``name``, ``number``, ``score``,
  ``max_score``, ``status``, ``output``, ``visibility``; Gradescope autograder docs,
  "Autograder Specifications"). A rubric's ``hidden`` check is ``after_published``; a late
  deduction is in the score and said in the output.
- ``long-csv`` / ``long-json``: one row per submission and check, for pandas.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import ClassVar

from vaegrade.grader.errors import ClassFileError
from vaegrade.grader.publish.tables import read_rows
from vaegrade.grader.results import SubmissionResult, load_result
from vaegrade.grader.rubric.schema import Rubric

#: The identity columns of a Canvas gradebook CSV, in Canvas's order.
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
LONG_COLUMNS = ["submission", "status", "score", "max_score", "check", "title", "check_status", "check_score",
                "check_max_score", "message"]


def load_results(out: Path) -> list[SubmissionResult]:
    """Every published result under ``OUT``, sorted by submission name.

    Raises:
        ClassFileError: ``OUT`` holds no ``*/result.json`` (not graded yet, or the wrong folder).
    """
    paths = sorted(out.glob("*/result.json"))
    if not paths:
        raise ClassFileError(out, "no graded submissions here (no */result.json): run `vaegrade grade ... --out` first")
    return sorted((load_result(path.parent) for path in paths), key=lambda r: r.submission)


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """A roster CSV: a ``submission`` column (the names vaegrade grades under) and Canvas's
    identity columns (at least ``ID`` or ``SIS User ID``), by submission name.

    Raises:
        ClassFileError: the file is unreadable, a column is missing, or a submission name appears twice.
    """
    rows = read_rows(path, [], ClassFileError)
    columns = set(rows[0]) if rows else set()
    if "submission" not in columns or not {"ID", "SIS User ID"} & columns:
        raise ClassFileError(path, f"a roster needs a `submission` column and Canvas's `ID` or `SIS User ID` "
                                f"(found: {', '.join(sorted(columns)) or 'nothing'})")
    roster: dict[str, dict[str, str]] = {}
    for row in rows:
        if row["submission"] in roster:
            raise ClassFileError(path, f"submission {row['submission']!r} is listed twice")
        roster[row["submission"]] = {column: row.get(column) or "" for column in CANVAS_IDENTITY}
    return roster


def canvas_csv(results: list[SubmissionResult], roster: dict[str, dict[str, str]], assignment: str) -> str:
    """The Canvas import CSV: one row per roster student, the score of their submission (blank
    when they have none, or it could not be graded), under the column ``assignment``.

    Raises:
        ClassFileError: a graded submission is not in the roster (its grade would be lost).
    """
    unknown = sorted(r.submission for r in results if r.submission not in roster)
    if unknown:
        raise ClassFileError("roster", f"submissions missing from the roster: {', '.join(unknown)}")
    by_name = {r.submission: r for r in results}
    points = max((r.max_score for r in results), default=0.0)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*CANVAS_IDENTITY, assignment])
    writer.writerow(["Points Possible", "", "", "", "", f"{points:g}"])
    for name, identity in roster.items():
        result = by_name.get(name)
        score = f"{result.score:g}" if result is not None and result.status == "graded" else ""
        writer.writerow([*(identity[column] for column in CANVAS_IDENTITY), score])
    return buffer.getvalue()


def gradescope_results(result: SubmissionResult, rubric: Rubric) -> dict:
    """Gradescope's ``results.json`` for one submission: the total, a summary as its ``output``
    (what could not be graded, the late deduction, the visible checks that lost points and where
    the figures are), and one test per check with its message as output; a hidden check shows
    after the grades are published. The autograder's stdout (its notes for the staff) stays hidden."""
    hidden = {check.id for check in rubric.hidden_checks()}
    tests = [{"name": check.title, "number": check.id, "score": check.score, "max_score": check.max_score,
              "status": "passed" if check.status == "passed" else "failed", "output": check.message,
              "visibility": "after_published" if check.id in hidden else "visible"} for check in result.checks]
    late = (f"Late by {result.late.days_late} day(s): {result.late.points:g} point(s) deducted by the late policy."
            if result.late else "")
    lost = [check for check in result.checks if check.status != "passed" and check.id not in hidden]
    summary = (f"vaegrade: {result.score:g} / {result.max_score:g}." + (
        f" Points lost on {len(lost)} visible check(s): {', '.join(check.id for check in lost)} (each test below says why)."
        if lost else "") + " The figures of your model (samples, reconstructions, learning curve) are on the feedback page "
        "vaegrade wrote for this submission (feedback.html); your course staff can share it.")
    return {"score": result.score, "execution_time": round(result.execution.duration, 1) if result.execution else 0,
            "output": "\n\n".join(filter(None, [result.error, late, summary])), "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def long_rows(results: list[SubmissionResult]) -> list[dict[str, object]]:
    """One row per submission and check (:data:`LONG_COLUMNS`); a submission with no checks
    (it could not be read) is one row with the check columns empty."""
    rows = []
    for r in results:
        head = {"submission": r.submission, "status": r.status, "score": r.score, "max_score": r.max_score}
        empty = {"check": "", "title": "", "check_status": "", "check_score": None, "check_max_score": None,
                 "message": r.error or ""}
        rows += [{**head, "check": c.id, "title": c.title, "check_status": c.status, "check_score": c.score,
                  "check_max_score": c.max_score, "message": c.message} for c in r.checks] or [{**head, **empty}]
    return rows


class Exporter:
    """One export format, registered by ``name`` in :data:`EXPORTERS` (the CLI's ``--format``
    choices): :meth:`write` puts a class's results where ``to`` says."""

    name: ClassVar[str]
    help: ClassVar[str]

    def write(self, results: list[SubmissionResult], to: Path, rubric: Rubric | None = None, roster: Path | None = None,
              assignment: str | None = None) -> list[Path]:
        """Write ``results`` to ``to`` and return the files written.

        Raises:
            ClassFileError: what the format needs is missing or invalid (a roster, the rubric).
        """
        raise NotImplementedError


class CanvasExporter(Exporter):
    name, help = "canvas", "a Canvas gradebook import CSV (needs --roster)"

    def write(self, results: list[SubmissionResult], to: Path, rubric: Rubric | None = None, roster: Path | None = None,
              assignment: str | None = None) -> list[Path]:
        if roster is None:
            raise ClassFileError(to, "a Canvas export needs --roster (submission, Student, ID, SIS User ID, ...)")
        to.write_text(canvas_csv(results, read_roster(roster), assignment or results[0].rubric), encoding="utf-8")
        return [to]


class GradescopeExporter(Exporter):
    name, help = "gradescope", "a folder of <submission>/results.json in Gradescope's format (needs --rubric)"

    def write(self, results: list[SubmissionResult], to: Path, rubric: Rubric | None = None, roster: Path | None = None,
              assignment: str | None = None) -> list[Path]:
        if rubric is None:
            raise ClassFileError(to, "a Gradescope export needs --rubric (for which checks are hidden)")
        written = []
        for result in results:
            (to / result.submission).mkdir(parents=True, exist_ok=True)
            written.append(to / result.submission / "results.json")
            written[-1].write_text(json.dumps(gradescope_results(result, rubric), indent=2), encoding="utf-8")
        return written


class LongCsvExporter(Exporter):
    name, help = "long-csv", "one CSV row per submission and check, for pandas"

    def write(self, results: list[SubmissionResult], to: Path, rubric: Rubric | None = None, roster: Path | None = None,
              assignment: str | None = None) -> list[Path]:
        with open(to, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, LONG_COLUMNS)
            writer.writeheader()
            writer.writerows(long_rows(results))
        return [to]


class LongJsonExporter(Exporter):
    name, help = "long-json", "the same rows as long-csv, as a JSON list"

    def write(self, results: list[SubmissionResult], to: Path, rubric: Rubric | None = None, roster: Path | None = None,
              assignment: str | None = None) -> list[Path]:
        to.write_text(json.dumps(long_rows(results), indent=1), encoding="utf-8")
        return [to]


#: The export formats, by the name ``vaegrade export --format`` takes.
EXPORTERS: dict[str, type[Exporter]] = {cls.name: cls for cls in (CanvasExporter, GradescopeExporter, LongCsvExporter,
                                                                   LongJsonExporter)}
