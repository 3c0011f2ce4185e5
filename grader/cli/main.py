"""The ``vaegrade`` command's parser and entry point.

    vaegrade grade SUBMISSION... --rubric RUBRIC --out OUT [--jobs N] [--isolation none] [--overrides CSV]
                   [--only NAME...] [--force] [--json | --quiet] [--scheduler tcp://HOST:8786 | --cluster local]
                   [--submission-times CSV]
    vaegrade report REPORT --rubric RUBRIC [--notebook NB] --out OUT [--overrides CSV]
    vaegrade summary OUT                                                 (how the class did)
    vaegrade export OUT --format canvas|gradescope|long-csv|long-json --to PATH [--roster CSV] [--rubric R]
    vaegrade review OUT [--port 8765]                                    (settle the judgements left to you)
    vaegrade gradescope --rubric RUBRIC --out autograder.zip [--isolation none] [--wheel WHL]
    vaegrade calibrate --rubric RUBRIC --notebook NB [--notebook ALT ...] [--runs 5] --out FILE
    vaegrade check NOTEBOOK [--rubric PUBLIC_RUBRIC] [--out DIR]          (students: the public checks)
    vaegrade bundle --rubric RUBRIC --out DIR [--wheel [WHL]]             (what students are handed)
    vaegrade validate ASSIGNMENT_DIR [--out DIR] [--calibration-runs 2]   (CI before release)

Exit status of ``grade``: 0 when every submission was graded, 1 when any could not be, 2 for a
usage or rubric error, an unusable sandbox or no Dask worker that can grade (reported before
any notebook runs, in one line), 130 when Ctrl-C ended the batch (what was kept is said). ``check``: 0 when every public check passed, 1 otherwise. ``validate``: 0
when every item is ok, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from vaegrade.grader.cli import grading, release, results
from vaegrade.grader.errors import GraderError, Interrupted


class Parser(argparse.ArgumentParser):
    """argparse's parser whose usage errors are one line on stderr (what is wrong, and where the
    verb's help is) and exit 2, instead of the usage block and the error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"vaegrade: {message} (see `{self.prog} --help`)\n")


def parser() -> argparse.ArgumentParser:
    """The command's parser: every verb group registers its own verbs and arguments."""
    top = Parser(prog="vaegrade", description="Auto-grader for VAE assignments.")
    verbs = top.add_subparsers(dest="verb", required=True)
    for group in (grading, results, release):
        group.register(verbs)
    return top


def main(argv: list[str] | None = None) -> int:
    """Run one verb; a :class:`vaegrade.grader.errors.GraderError` is one line on stderr and its
    status (2; 130 for Ctrl-C, :class:`vaegrade.grader.errors.Interrupted`)."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit:  # --help (0), or a usage error already said in one line (2)
        return int(exit.code or 0)
    try:
        return args.run(args)
    except GraderError as exc:
        print(f"vaegrade: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:  # before any submission was graded (a batch says what it kept: Interrupted)
        print("vaegrade: interrupted; nothing was kept", file=sys.stderr)
        return Interrupted.status


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
