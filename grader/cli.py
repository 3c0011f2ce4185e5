"""The ``vaegrade`` command: thin verbs over :mod:`grader.api` and :mod:`grader.calibrate`.

    vaegrade grade SUBMISSION... --rubric RUBRIC --out OUT [--jobs N] [--isolation none] [--overrides CSV]
                   [--only NAME...] [--force] [--json | --quiet] [--scheduler tcp://HOST:8786 | --cluster local]
                   [--submission-times CSV]
    vaegrade report REPORT --rubric RUBRIC [--notebook NB] --out OUT [--overrides CSV]
    vaegrade summary OUT                                                 (how the class did)
    vaegrade export OUT --format canvas|gradescope|long-csv|long-json --to PATH [--roster CSV] [--rubric R]
    vaegrade gradescope --rubric RUBRIC --out autograder.zip [--isolation none] [--wheel WHL]
    vaegrade calibrate --rubric RUBRIC --notebook NB [--runs 5] --out FILE
    vaegrade check NOTEBOOK [--rubric PUBLIC_RUBRIC] [--out DIR]          (students: the public checks)
    vaegrade bundle --rubric RUBRIC --out DIR                             (what students are handed)
    vaegrade validate ASSIGNMENT_DIR [--out DIR] [--calibration-runs 2]   (CI before release)

Exit status of ``grade``: 0 when every submission was graded, 1 when any could not be, 2 for a
usage or rubric error, an unusable sandbox or no Dask worker that can grade (reported before
any notebook runs). ``check``: 0
when every public check passed, 1 otherwise. ``validate``: 0 when every item is ok, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from grader import api, calibrate, exports, gradescope, progress, sandbox, summary, validate, workers
from grader.environments import ensure_environment
from grader.errors import ClassFileError, GraderError
from grader.late import Lateness, file_times, read_times
from grader.overrides import apply_overrides, load_overrides
from grader.public import find_public_rubric, load_public, write_bundle
from grader.report.answers import place
from grader.report.run import check_report_file
from grader.results import SubmissionResult, check_lines
from grader.rubric import Rubric, load_rubric
from grader.submissions import CHECK_FOLDER, Submission, find_submissions, read_notebook


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
    lateness = _lateness(args, rubric, submissions)
    jobs = min(args.jobs, len(chosen))
    # made first: a local pool's fork server imports the grader while the sandbox is checked
    with workers.open_executor(jobs, args.scheduler, args.cluster, rubric.execution, args.isolation) as executor:
        on_cluster = args.scheduler is not None or args.cluster is not None
        if args.isolation == "bubblewrap" and not on_cluster:  # a cluster's workers check their own sandbox
            sandbox.check_available(rubric.execution)
        elif args.isolation == "none":
            print("vaegrade: WARNING: --isolation none: student code runs as you, with your files and network",
                  file=sys.stderr)
        if args.scheduler is None:  # built once, before any local worker needs it (remote ones build their own)
            ensure_environment(rubric.environment.packages)
        mode = progress.choose_mode(args.json, args.quiet)
        for message in getattr(executor, "refused", {}).values():
            print(f"vaegrade: WARNING: {message}", file=sys.stderr)
        where = (f"on the Dask cluster at {args.scheduler}" if args.scheduler else
                 f"on a local Dask cluster of {jobs} workers" if args.cluster else f"{jobs} at a time")
        if mode in ("live", "plain"):
            print(f"grading {len(chosen)} submission(s) with rubric {rubric.name} into {args.out} "
                  f"({where}, isolation: {args.isolation})", flush=True)
        with progress.Reporter(mode, len(chosen), args.out) as reporter:
            results = api.grade_submissions(submissions, rubric, args.out, jobs, args.isolation,
                                            on_result=reporter.result, overrides=overrides,
                                            only=only or None, force=args.force, executor=executor,
                                            lateness=lateness)
    return 0 if all(r.status == "graded" for r in results) else 1


def _lateness(args: argparse.Namespace, rubric: Rubric, submissions: list[Submission]) -> Lateness | None:
    """The rubric's late policy with the submission times of ``--submission-times`` (else the
    notebooks' modification times); None without a policy."""
    if rubric.late is None:
        if args.submission_times:
            raise ClassFileError(args.rubric, "--submission-times needs a `late:` section in the rubric")
        return None
    if args.submission_times:
        times = read_times(args.submission_times)
        for name in sorted({s.name for s in submissions} - set(times)):
            print(f"vaegrade: WARNING: {args.submission_times} has no time for {name}: no late deduction for it",
                  file=sys.stderr)
        return Lateness(rubric.late, times, f"the LMS's times in {args.submission_times.name}")
    return Lateness(rubric.late, file_times(submissions), "the notebook file's modification time")


def _report(args: argparse.Namespace) -> int:
    rubric = load_rubric(args.rubric)
    if rubric.report is None:
        print(f"vaegrade: {args.rubric} has no `report:` section", file=sys.stderr)
        return 2
    notebook = read_notebook(args.notebook, rubric.execution.notebook_mb * 2**20)[0] if args.notebook else None
    name = (args.notebook or args.report).stem
    checks, report = check_report_file(rubric.report, rubric.seed, args.report, notebook)
    result = api.written_result(name, rubric, checks, report)
    if args.overrides:
        result = apply_overrides(result, load_overrides(args.overrides, rubric))
    api.publish(api.Row(result, api.npz({})), args.out / name)
    print(describe_report(result))
    print(f"feedback: {args.out / name / 'feedback.html'}")
    return 0 if report.error is None else 1


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


def _summary(args: argparse.Namespace) -> int:
    print(summary.render_text(summary.summarise(exports.load_results(args.out))))
    return 0


def _export(args: argparse.Namespace) -> int:
    rubric = load_rubric(args.rubric) if args.rubric else None
    written = exports.export(args.out, args.format, args.to, rubric, args.roster, args.assignment)
    print(f"{args.format}: wrote {len(written)} file(s): {written[0] if len(written) == 1 else args.to}")
    return 0


def _gradescope(args: argparse.Namespace) -> int:
    package = gradescope.write_package(args.rubric, args.out, args.isolation, args.wheel)
    print(f"Gradescope autograder: {package} (upload it as the assignment's autograder zip)")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    rubric = load_rubric(args.rubric)
    if args.isolation == "bubblewrap":
        sandbox.check_available(rubric.execution)
    ensure_environment(rubric.environment.packages)
    calibration = calibrate.calibrate(rubric, args.notebook, args.runs, args.out, args.isolation, args.rubric)
    print(calibrate.describe(calibration))
    return 0


def _check(args: argparse.Namespace) -> int:
    path = args.rubric or find_public_rubric(args.notebook.resolve().parent)
    if path is None:
        print(f"vaegrade: no public rubric (*.public.yaml) beside {args.notebook}: pass --rubric", file=sys.stderr)
        return 2
    rubric_path, rubric = load_public(path)
    submission = Submission(args.notebook.stem, args.notebook)
    out = args.out or args.notebook.resolve().parent / CHECK_FOLDER
    if args.isolation == "bubblewrap":
        sandbox.check_available(rubric.execution)
    ensure_environment(rubric.environment.packages)
    print(f"running {args.notebook} as the grader would, then the public checks of {rubric_path} "
          f"({'in a sandbox' if args.isolation == 'bubblewrap' else 'as you, without a sandbox'})", flush=True)
    row = api.grade_submission(submission, rubric, out, args.isolation)
    row.result.withheld = rubric.withheld.describe()
    api.publish(row, out / submission.name)
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


def _bundle(args: argparse.Namespace) -> int:
    rubric = load_rubric(args.rubric)
    for path in write_bundle(rubric, args.out):
        print(path)
    return 0


def _validate(args: argparse.Namespace) -> int:
    ok = True
    with tempfile.TemporaryDirectory(prefix="vaegrade-validate-") as scratch:
        for verdict in validate.validate(args.assignment, args.out or Path(scratch), args.isolation, args.jobs,
                                         args.calibration_runs, args.golden, args.update_golden):
            print(verdict.line(), flush=True)
            ok = ok and verdict.ok
    print("valid" if ok else "NOT valid")
    return 0 if ok else 1


ISOLATION = dict(choices=["bubblewrap", "none"], default="bubblewrap",
                 help="bubblewrap (default): a sandbox per kernel; none: trusted notebooks only, no sandbox")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vaegrade", description="Auto-grader for VAE assignments.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    grade = verbs.add_parser("grade", help="grade notebooks and write feedback and a gradebook")
    grade.add_argument("submissions", nargs="+", type=Path, help=".ipynb files or folders of them")
    grade.add_argument("--rubric", required=True, type=Path)
    grade.add_argument("--out", required=True, type=Path,
                       help="results, feedback and gradebook.sqlite; run again with the same OUT to resume")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                       help="notebooks graded at once here, or the workers of --cluster local (default: cores)")
    grade.add_argument("--isolation", **ISOLATION)
    grade.add_argument("--overrides", type=Path, help="CSV of manual grades: submission,check,score,comment")
    grade.add_argument("--submission-times", type=Path,
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
    report = verbs.add_parser("report", help="check a written report (PDF, Markdown, text or notebook) on its own")
    report.add_argument("report", type=Path, help="the report: .pdf, .md, .txt or .ipynb")
    report.add_argument("--rubric", required=True, type=Path, help="a rubric with a `report:` section")
    report.add_argument("--notebook", type=Path, help="the notebook the report describes (its outputs back claimed numbers)")
    report.add_argument("--out", required=True, type=Path, help="OUT/<name>/result.json and feedback.html")
    report.add_argument("--overrides", type=Path, help="CSV of manual grades: submission,check,score,comment")
    report.set_defaults(run=_report)
    summarised = verbs.add_parser("summary", help="how the class did: scores, each check's pass rate, failures")
    summarised.add_argument("out", type=Path, help="the OUT folder of `vaegrade grade`")
    summarised.set_defaults(run=_summary)
    export = verbs.add_parser("export", help="grades from OUT in the formats Canvas, Gradescope and pandas import")
    export.add_argument("out", type=Path, help="the OUT folder of `vaegrade grade`")
    export.add_argument("--format", required=True, choices=["canvas", "gradescope", "long-csv", "long-json"])
    export.add_argument("--to", required=True, type=Path,
                        help="the file to write (gradescope: a folder of <submission>/results.json)")
    export.add_argument("--roster", type=Path, help="canvas: CSV of submission,Student,ID,SIS User ID,SIS Login ID,Section")
    export.add_argument("--assignment", help="canvas: the assignment's column (default: the rubric's name)")
    export.add_argument("--rubric", type=Path, help="gradescope: the rubric (its hidden checks show after publishing)")
    export.set_defaults(run=_export)
    package = verbs.add_parser("gradescope", help="write a Gradescope autograder zip that grades with a rubric")
    package.add_argument("--rubric", required=True, type=Path)
    package.add_argument("--out", required=True, type=Path, help="the zip to write (autograder.zip)")
    package.add_argument("--isolation", choices=["bubblewrap", "none"], default="bubblewrap",
                         help="none where Gradescope's container refuses bubblewrap's user namespaces")
    package.add_argument("--wheel", type=Path, help="vaegrade's wheel to ship (default: built from this checkout)")
    package.set_defaults(run=_gradescope)
    cal = verbs.add_parser("calibrate", help="derive thresholds from repeated runs of a reference solution")
    cal.add_argument("--rubric", required=True, type=Path)
    cal.add_argument("--notebook", required=True, type=Path, help="the reference solution")
    cal.add_argument("--runs", type=int, default=5)
    cal.add_argument("--out", required=True, type=Path, help="calibration JSON to write")
    cal.add_argument("--isolation", **ISOLATION)
    cal.set_defaults(run=_calibrate)
    check = verbs.add_parser("check", help="students: run a notebook as the grader would, with the public checks only")
    check.add_argument("notebook", type=Path)
    check.add_argument("--rubric", help="a public rubric file or a shipped rubric's name (default: the "
                                        "*.public.yaml beside the notebook)")
    check.add_argument("--out", type=Path, help="feedback folder (default: vaegrade-check/ beside the notebook)")
    check.add_argument("--isolation", choices=["bubblewrap", "none"], default="none",
                       help="none (default): your own notebook runs as you; bubblewrap: in a sandbox")
    check.set_defaults(run=_check)
    bundle = verbs.add_parser("bundle", help="write the student bundle: handout, public rubric, README")
    bundle.add_argument("--rubric", required=True, type=Path, help="the instructor's rubric (with `handout:`)")
    bundle.add_argument("--out", required=True, type=Path)
    bundle.set_defaults(run=_bundle)
    val = verbs.add_parser("validate", help="check an assignment before release (CI): solution, samples, "
                                            "calibration, bundle")
    val.add_argument("assignment", type=Path, help="a folder with assignment.yaml")
    val.add_argument("--out", type=Path, help="grading results (default: a temporary folder); reused when run again")
    val.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    val.add_argument("--calibration-runs", type=int, default=2, help="seeds to rerun the calibration with (0: skip)")
    val.add_argument("--golden", type=Path, help="a golden file in place of the manifest's")
    val.add_argument("--update-golden", action="store_true", help="rewrite the golden file from this run (keeps each `why`)")
    val.add_argument("--isolation", choices=["bubblewrap", "none"], default="none",
                     help="none (default): the instructor's own notebooks, as CI runners allow; bubblewrap: sandboxed")
    val.set_defaults(run=_validate)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except GraderError as exc:
        print(f"vaegrade: {exc}", file=sys.stderr)
        return 2


def run() -> None:
    """The ``vaegrade`` command: :func:`main`, its output flushed, then an immediate exit with its
    status. Every file is closed and every worker stopped by then, so the interpreter's teardown
    (freeing torch's and the checks' objects: 0.4-1.0 s measured after grading one submission)
    only delays the shell; mypy's ``hard_exit`` skips it the same way. An exception from
    :func:`main` still ends the normal way, with its traceback; a reader that went away
    (``vaegrade grade ... | head``) ends it quietly with status 1, as Python's documentation on
    SIGPIPE advises (what was committed to the gradebook stays)."""
    try:
        status = main()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`vaegrade ... | head`) or stream: nothing more to write
            pass
    os._exit(status)


if __name__ == "__main__":
    run()
