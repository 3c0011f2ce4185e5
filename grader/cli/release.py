"""The verbs an instructor runs on an assignment before and around its release: ``bundle`` (what
students are handed), ``validate`` (CI before release) and ``gradescope`` (the autograder zip)."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from vaegrade.grader.assignment import gradescope, validate
from vaegrade.grader.assignment.bundle import write_bundle
from vaegrade.grader.cli.grading import isolation_option
from vaegrade.grader.rubric.schema import load_rubric


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


def _gradescope(args: argparse.Namespace) -> int:
    package = gradescope.write_package(args.rubric, args.out, args.isolation, args.wheel)
    print(f"Gradescope autograder: {package} (upload it as the assignment's autograder zip)")
    return 0


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``bundle``, ``validate`` and ``gradescope`` to the command's verbs."""
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
    isolation_option(val, "none", "default none: the instructor's own notebooks, as CI runners allow")
    val.set_defaults(run=_validate)
    package = verbs.add_parser("gradescope", help="write a Gradescope autograder zip that grades with a rubric")
    package.add_argument("--rubric", required=True, type=Path)
    package.add_argument("--out", required=True, type=Path, help="the zip to write (autograder.zip)")
    isolation_option(package, "bubblewrap", "none where Gradescope's container refuses bubblewrap's user namespaces")
    package.add_argument("--wheel", type=Path, help="vaegrade's wheel to ship (default: built from this checkout)")
    package.set_defaults(run=_gradescope)
