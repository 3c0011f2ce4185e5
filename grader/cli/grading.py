"""The verbs that run notebooks: ``grade`` (a class), ``check`` (a student's own notebook, the
public checks) and ``calibrate`` (a reference solution, for thresholds)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from vaegrade.grader.assignment import calibrate
from vaegrade.grader.batch import progress, workers
from vaegrade.grader.batch.grade import grade_submissions
from vaegrade.grader.cli import paths
from vaegrade.grader.publish.feedback import publish
from vaegrade.grader.publish.late import lateness_for
from vaegrade.grader.publish.overrides import load_overrides
from vaegrade.grader.results import check_lines
from vaegrade.grader.rubric.public import find_public_rubric, load_public
from vaegrade.grader.rubric.schema import load_rubric
from vaegrade.grader.run.grade import grade_submission, locate_files
from vaegrade.grader.run.isolation import ISOLATORS
from vaegrade.grader.run.smoke import ready_environment
from vaegrade.grader.run.submissions import CHECK_FOLDER, Submission, find_submissions


def isolation_option(parser: argparse.ArgumentParser, default: str, why: str = "") -> None:
    """``--isolation``, its choices the registered isolators (:data:`vaegrade.grader.run.isolation.ISOLATORS`)."""
    parser.add_argument("--isolation", choices=list(ISOLATORS), default=default,
                        help=" ; ".join(f"{name}: {cls.help}" for name, cls in ISOLATORS.items()) + (f" ({why})" if why else ""))


def _grade(args: argparse.Namespace) -> int:
    rubric = load_rubric(args.rubric)
    submissions = find_submissions(args.submissions)
    if not submissions:
        print("vaegrade: no notebooks found in " + ", ".join(map(str, args.submissions)), file=sys.stderr)
        return 2
    only = set(args.only or [])
    unknown = sorted(only - {s.name for s in submissions})
    if unknown:
        print(f"vaegrade: --only names no submission here: {', '.join(unknown)} (found: "
              f"{', '.join(s.name for s in submissions)})", file=sys.stderr)
        return 2
    chosen = [s for s in submissions if not only or s.name in only]
    overrides = load_overrides(args.overrides, rubric) if args.overrides else None
    lateness = lateness_for(rubric, args.rubric, submissions, args.submission_times)
    jobs = min(args.jobs, len(chosen))
    # made first: a local pool's fork server imports the grader while the sandbox is checked
    with workers.open_executor(jobs, args.scheduler, args.cluster, rubric.execution, args.isolation) as executor:
        on_cluster = args.scheduler is not None or args.cluster is not None
        if not on_cluster:  # a cluster's workers check their own sandbox
            ISOLATORS[args.isolation].check_available(rubric.execution)
        if ISOLATORS[args.isolation].warning:
            print(f"vaegrade: WARNING: {ISOLATORS[args.isolation].warning}", file=sys.stderr)
        if args.scheduler is None:  # built once, before any local worker needs it (remote ones build their own)
            ready_environment(rubric, args.isolation)
        mode = progress.choose_mode(args.json, args.quiet)
        for message in getattr(executor, "refused", {}).values():
            print(f"vaegrade: WARNING: {message}", file=sys.stderr)
        where = (f"on the Dask cluster at {args.scheduler}" if args.scheduler else
                 f"on a local Dask cluster of {jobs} workers" if args.cluster else f"{jobs} at a time")
        if mode in ("live", "plain"):
            print(f"grading {len(chosen)} submission(s) with rubric {rubric.name} into {args.out} "
                  f"({where}, isolation: {args.isolation})", flush=True)
        with progress.Reporter(mode, len(chosen), args.out, jobs) as reporter:
            graded = grade_submissions(submissions, rubric, args.out, jobs, args.isolation, on_result=reporter.result,
                                       overrides=overrides, only=only or None, force=args.force, executor=executor,
                                       lateness=lateness)
    return 0 if all(r.status == "graded" for r in graded) else 1


def _check(args: argparse.Namespace) -> int:
    path = args.rubric or find_public_rubric(args.notebook.resolve().parent)
    if path is None:
        print(f"vaegrade: no public rubric (*.public.yaml) beside {args.notebook}: pass --rubric", file=sys.stderr)
        return 2
    rubric_path, rubric = load_public(path)
    submission = locate_files(Submission(args.notebook.stem, args.notebook), rubric)
    out = args.out or args.notebook.resolve().parent / CHECK_FOLDER
    ISOLATORS[args.isolation].check_available(rubric.execution)
    ready_environment(rubric, args.isolation)
    print(f"running {args.notebook} as the grader would, then the public checks of {rubric_path} "
          f"({ISOLATORS[args.isolation].where})", flush=True)
    row = grade_submission(submission, rubric, out, args.isolation)
    row.result.withheld = rubric.withheld.describe()
    publish(row, out / submission.name)
    result = row.result
    print(f"{result.submission}: {result.score:g}/{result.max_score:g} on the public checks" +
          (f" ({result.error})" if result.error else ""))
    print("\n".join(check_lines(result.checks)))
    if result.withheld:
        print(result.withheld)
    failing = [check.id for check in result.checks if check.status != "passed"]
    if failing:
        print(f"not passed: {', '.join(failing)}")
    print(f"feedback: {out / submission.name / 'feedback.html'}")
    return 0 if result.status == "graded" and not failing else 1


def _calibrate(args: argparse.Namespace) -> int:
    rubric = load_rubric(args.rubric)
    ISOLATORS[args.isolation].check_available(rubric.execution)
    ready_environment(rubric, args.isolation)
    calibration = calibrate.calibrate(rubric, args.notebook, args.runs, args.out, args.isolation, args.rubric)
    print(calibrate.describe(calibration))
    return 0


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``grade``, ``check`` and ``calibrate`` to the command's verbs."""
    grade = verbs.add_parser("grade", help="grade notebooks and write feedback and a gradebook")
    grade.add_argument("submissions", nargs="+", type=paths.existing, help=".ipynb files or folders of them")
    grade.add_argument("--rubric", required=True, type=Path)
    grade.add_argument("--out", required=True, type=paths.folder_to_write,
                       help="results, feedback and gradebook.sqlite; run again with the same OUT to resume")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                       help="notebooks graded at once here, or the workers of --cluster local (default: cores)")
    isolation_option(grade, "bubblewrap")
    grade.add_argument("--overrides", type=paths.existing, help="CSV of manual grades: submission,check,score,comment")
    grade.add_argument("--submission-times", type=paths.existing,
                       help="for the rubric's late policy: CSV of submission,submitted_at (ISO 8601 with offset) from "
                            "the LMS (default: the notebooks' modification times)")
    grade.add_argument("--only", nargs="+", metavar="NAME",
                       help="grade only these submissions (by name); the others keep their stored results")
    grade.add_argument("--force", action="store_true",
                       help="grade again what the gradebook already holds (with --only: just those)")
    shown = grade.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="one JSON object per submission on stdout, for scripts")
    shown.add_argument("--quiet", action="store_true", help="print only the closing count")
    dask = grade.add_mutually_exclusive_group()
    dask.add_argument("--scheduler", metavar="tcp://HOST:8786",
                      help="grade on this running Dask cluster (pip install 'vaegrade[dask]'; see the README)")
    dask.add_argument("--cluster", choices=["local"], help="local: grade on a Dask LocalCluster of --jobs workers")
    grade.set_defaults(run=_grade)
    check = verbs.add_parser("check", help="students: run a notebook as the grader would, with the public checks only")
    check.add_argument("notebook", type=paths.existing)
    check.add_argument("--rubric", help="a public rubric file or a shipped rubric's name (default: the "
                                        "*.public.yaml beside the notebook)")
    check.add_argument("--out", type=paths.folder_to_write, help="feedback folder (default: vaegrade-check/ beside the notebook)")
    isolation_option(check, "none", "default none: your own notebook runs as you")
    check.set_defaults(run=_check)
    cal = verbs.add_parser("calibrate", help="derive thresholds from repeated runs of correct solutions (the slowest sets them)")
    cal.add_argument("--rubric", required=True, type=Path)
    cal.add_argument("--notebook", required=True, type=paths.existing, action="append",
                     help="a correct solution: the reference, then any alternative (repeat the option)")
    cal.add_argument("--runs", type=int, default=5)
    cal.add_argument("--out", required=True, type=paths.file_to_write, help="calibration JSON to write")
    isolation_option(cal, "bubblewrap")
    cal.set_defaults(run=_calibrate)
