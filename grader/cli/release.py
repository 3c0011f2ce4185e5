"""The verbs an instructor runs on an assignment before and around its release: ``bundle`` (what
students are handed), ``validate`` (CI before release) and ``gradescope`` (the autograder zip)."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from vaegrade.grader.assignment import gradescope, validate
from vaegrade.grader.assignment.bundle import write_bundle
from vaegrade.grader.cli import paths
from vaegrade.grader.cli.grading import isolation_option
from vaegrade.grader.rubric.schema import load_rubric

BUILD = Path("(built from this checkout)")


def _wheel(text: str) -> Path:
    """``--wheel``'s value: an existing wheel file."""
    path = paths.existing(text)
    if path.suffix != ".whl":
        raise argparse.ArgumentTypeError(f"{path} is not a wheel (.whl)")
    return path


def _bundle(args: argparse.Namespace) -> int:
    rubric = load_rubric(args.rubric)
    with tempfile.TemporaryDirectory(prefix="vaegrade-wheel-") as scratch:
        wheel = gradescope.build_wheel(Path(scratch)) if args.wheel == BUILD else args.wheel
        for path in write_bundle(rubric, args.out, wheel):
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
    bundle.add_argument("--out", required=True, type=paths.folder_to_write)
    bundle.add_argument("--wheel", nargs="?", const=BUILD, type=_wheel, help="put vaegrade's wheel in the bundle (the README "
                        "then installs it): this file, or without a value one built from this checkout")
    bundle.set_defaults(run=_bundle)
    val = verbs.add_parser("validate", help="check an assignment before release (CI): solution, samples, "
                                            "calibration, bundle")
    val.add_argument("assignment", type=paths.existing, help="a folder with assignment.yaml")
    val.add_argument("--out", type=paths.folder_to_write, help="grading results (default: a temporary folder); reused when run again")
    val.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    val.add_argument("--calibration-runs", type=int, default=2, help="seeds to rerun the calibration with (0: skip)")
    val.add_argument("--golden", type=paths.existing, help="a golden file in place of the manifest's")
    val.add_argument("--update-golden", action="store_true", help="rewrite the golden file from this run (keeps each `why`)")
    isolation_option(val, "none", "default none: the instructor's own notebooks, as CI runners allow")
    val.set_defaults(run=_validate)
    package = verbs.add_parser("gradescope", help="write a Gradescope autograder zip that grades with a rubric")
    package.add_argument("--rubric", required=True, type=Path)
    package.add_argument("--out", required=True, type=paths.file_to_write, help="the zip to write (autograder.zip)")
    isolation_option(package, "bubblewrap", "none where Gradescope's container refuses bubblewrap's user namespaces")
    package.add_argument("--wheel", type=paths.existing, help="vaegrade's wheel to ship (default: built from this checkout)")
    package.set_defaults(run=_gradescope)
