"""The verbs that read or write grades without running notebooks: ``report`` (one written
report checked), ``summary`` (how a class did) and ``export`` (grades for other systems)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vaegrade.grader.cli import paths
from vaegrade.grader.publish import exports, overview
from vaegrade.grader.publish.feedback import publish
from vaegrade.grader.publish.overrides import apply_overrides, load_overrides
from vaegrade.grader.report.run import check_report_file, describe_report
from vaegrade.grader.results import Row, npz
from vaegrade.grader.rubric.schema import load_rubric
from vaegrade.grader.run.record import written_result
from vaegrade.grader.run.submissions import read_notebook


def _report(args: argparse.Namespace) -> int:
    rubric = load_rubric(args.rubric)
    if rubric.report is None:
        print(f"vaegrade: {args.rubric} has no `report:` section", file=sys.stderr)
        return 2
    notebook = read_notebook(args.notebook, rubric.execution.notebook_mb * 2**20)[0] if args.notebook else None
    name = (args.notebook or args.report).stem
    checks, report = check_report_file(rubric.report, rubric.seed, args.report, notebook)
    result = written_result(name, rubric, checks, report)
    if args.overrides:
        result = apply_overrides(result, load_overrides(args.overrides, rubric))
    publish(Row(result, npz({})), args.out / name)
    print(describe_report(result))
    print(f"feedback: {args.out / name / 'feedback.html'}")
    return 0 if report.error is None else 1


def _summary(args: argparse.Namespace) -> int:
    print(overview.render_text(overview.summarise(exports.load_results(args.out))))
    return 0


def _export(args: argparse.Namespace) -> int:
    rubric = load_rubric(args.rubric) if args.rubric else None
    written = exports.EXPORTERS[args.format]().write(exports.load_results(args.out), args.to, rubric, args.roster,
                                                     args.assignment)
    print(f"{args.format}: wrote {len(written)} file(s): {written[0] if len(written) == 1 else args.to}")
    return 0


def _review(args: argparse.Namespace) -> int:
    from vaegrade.grader.batch.review import serve
    from vaegrade.grader.publish.reviews import judgements

    waiting = sum(1 for j in judgements(exports.load_results(args.out)) if j.decision is None)
    print(f"{waiting} written-answer judgement(s) to review: http://127.0.0.1:{args.port}/ (Ctrl-C to stop)", flush=True)
    serve(args.out, args.port)
    return 0


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``report``, ``summary``, ``export`` and ``review`` to the command's verbs."""
    report = verbs.add_parser("report", help="check a written report (PDF, Markdown, text or notebook) on its own")
    report.add_argument("report", type=paths.existing, help="the report: .pdf, .md, .txt or .ipynb")
    report.add_argument("--rubric", required=True, type=Path, help="a rubric with a `report:` section")
    report.add_argument("--notebook", type=paths.existing, help="the notebook the report describes (its outputs back claimed numbers)")
    report.add_argument("--out", required=True, type=paths.folder_to_write, help="OUT/<name>/result.json and feedback.html")
    report.add_argument("--overrides", type=paths.existing, help="CSV of manual grades: submission,check,score,comment")
    report.set_defaults(run=_report)
    summarised = verbs.add_parser("summary", help="how the class did: scores, each check's pass rate, failures")
    summarised.add_argument("out", type=paths.existing, help="the OUT folder of `vaegrade grade`")
    summarised.set_defaults(run=_summary)
    export = verbs.add_parser("export", help="grades from OUT in the formats Canvas, Gradescope and pandas import")
    export.add_argument("out", type=paths.existing, help="the OUT folder of `vaegrade grade`")
    export.add_argument("--format", required=True, choices=list(exports.EXPORTERS),
                        help="; ".join(f"{name}: {cls.help}" for name, cls in exports.EXPORTERS.items()))
    export.add_argument("--to", required=True, type=paths.file_to_write,
                        help="the file to write (gradescope: a folder of <submission>/results.json)")
    export.add_argument("--roster", type=paths.existing, help="canvas: CSV of submission,Student,ID,SIS User ID,SIS Login ID,Section")
    export.add_argument("--assignment", help="canvas: the assignment's column (default: the rubric's name)")
    export.add_argument("--rubric", type=Path, help="gradescope: the rubric (its hidden checks show after publishing)")
    export.set_defaults(run=_export)
    review = verbs.add_parser("review", help="settle the written-answer judgements left to you, on a local web page")
    review.add_argument("out", type=paths.existing, help="the OUT folder of `vaegrade grade`")
    review.add_argument("--port", type=int, default=8765, help="the port on 127.0.0.1 (default 8765)")
    review.set_defaults(run=_review)
