"""Grade a batch: the gradebook, the executor that runs the submissions, and what is published.

    submissions ─▶ gradebook key (notebook, report file, rubric, version) ─▶ stored? reuse it
    the rest ─▶ Job ─▶ executor (here, local workers, or a Dask cluster) ─▶ grade_job in a worker
    ─▶ gradebook.sqlite (one commit per result) ─▶ overrides, late policy ─▶ OUT/<submission>/
    ─▶ OUT/gradebook.csv, OUT/index.html (with the similarity flags)

A batch grades each submission as a :class:`Job` (:func:`grade_job`) wherever its executor runs
it (:mod:`vaegrade.grader.batch.workers`; each worker with its own sandbox uid), and skips
submissions the gradebook already holds for the same notebook, rubric and vaegrade version, so
a batch killed half-way resumes where it stopped. Only this process writes the gradebook and ``OUT``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

from vaegrade import __version__
from vaegrade.grader.batch import workers
from vaegrade.grader.batch.gradebook import Gradebook, Key, write_csv
from vaegrade.grader.errors import Interrupted, Lost
from vaegrade.grader.publish import similarity
from vaegrade.grader.publish.feedback import publish
from vaegrade.grader.publish.late import Lateness
from vaegrade.grader.publish.overrides import Overrides, by_hand
from vaegrade.grader.publish.overview import write_overview
from vaegrade.grader.results import Row, SubmissionResult, npz
from vaegrade.grader.rubric.schema import Rubric
from vaegrade.grader.run.grade import grade_submission, locate_files
from vaegrade.grader.run.isolation import IsolationMode
from vaegrade.grader.run.record import error_result
from vaegrade.grader.run.submissions import Submission

R = TypeVar("R")


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
    result = error_result(submission, rubric, f"internal grader error: {message}")
    result.internal = True
    return Row(result, npz({}))


def gradebook_key(submission: Submission, rubric: Rubric, selfcheck: bool = False) -> Key:
    """What a result depends on: the notebook's bytes, its report file's and its weights' (``submission.report``, ``.weights``,
    see :func:`vaegrade.grader.run.grade.locate_files`); the rubric (but its late policy), and
    whether self-check ran beside grading."""
    digest = submission.sha256
    if submission.report is not None:
        digest += "+" + hashlib.sha256(submission.report.read_bytes()).hexdigest()
    if submission.weights is not None:
        digest += "+" + hashlib.sha256(submission.weights.read_bytes()).hexdigest()
    return Key(submission.name, digest, rubric.grading_sha256 + ("+selfcheck" if selfcheck else ""), __version__)


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
    ``OUT/index.html`` (with the similarity flags of :mod:`vaegrade.grader.publish.similarity`, made in a thread
    while the submissions are graded) are written.
    With ``only`` (submission names), the others are not graded: their stored results are
    kept (and listed), and one with none is left out. ``force`` grades the chosen ones again
    even when the gradebook holds their result.
    The gradebook keeps the grader's own results; the instructor's review decisions
    (:mod:`vaegrade.grader.publish.reviews`), ``overrides`` (manual grades), then
    ``lateness`` (the late policy's deductions), are applied on top when publishing, so the CSV
    and the pages show them. ``on_result(result, reused)`` is called once per chosen
    submission, with the overrides applied. ``selfcheck``: see
    :func:`vaegrade.grader.run.grade.grade_submission`.
    """
    out.mkdir(parents=True, exist_ok=True)
    book = Gradebook(out / "gradebook.sqlite")
    results: dict[str, SubmissionResult] = {}

    decisions = book.decisions()

    def finish(submission: Submission, row: Row, reused: bool) -> None:
        result = by_hand(row.result, decisions, overrides, lateness)
        if result is not row.result or not _published(result, out / submission.name):
            publish(Row(result, row.figures_npz), out / submission.name, overview=True)
        results[submission.name] = result
        if on_result is not None and (only is None or submission.name in only):
            on_result(result, reused)

    submissions = [locate_files(submission, rubric) for submission in submissions]
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
        interrupted = False
        try:
            for job, graded in executor.map(grade_job, [Job(s, rubric, isolation, selfcheck) for s in pending]):
                if isinstance(graded, Lost):
                    graded = Graded(internal_error(job.submission, rubric, str(graded)), {})
                destination = out / job.submission.name
                destination.mkdir(parents=True, exist_ok=True)
                for name, data in graded.files.items():
                    (destination / name).write_bytes(data)
                if not graded.row.result.internal:
                    book.put(keys[job.submission.name], graded.row)
                finish(job.submission, graded.row, False)
        except KeyboardInterrupt:  # Ctrl-C: publish what is done, then say so
            interrupted = True
        book.close()
        ordered = [results[s.name] for s in submissions if s.name in results]
        write_csv(ordered, out / "gradebook.csv")
        found = [] if interrupted else flagged.result()
        similarity.save_flags(found, out)
        write_overview(ordered, out / "index.html", found)
        if interrupted:
            flagged.cancel()
            raise Interrupted(f"interrupted: {len(ordered)} of {len(submissions)} submission(s) graded, kept in "
                              f"{out / 'gradebook.sqlite'} and listed in {out / 'gradebook.csv'}; run the same "
                              "command again to grade the rest")
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
