"""What ``vaegrade grade`` prints while a batch runs, for people, logs and scripts.

- ``live`` (stdout is a terminal): a progress bar (rich) with the counts graded / errors /
  already graded, the elapsed time and the time left (:meth:`Reporter.time_left`); one summary line per
  submission above it; a closing table.
- ``plain`` (stdout is a file or a CI log): the summary lines and a closing count; nothing
  that redraws.
- ``json``: one JSON object per submission on stdout (``submission``, ``score``,
  ``max_score``, ``status``, ``error``, ``reused``, ``feedback``), nothing else there.
- ``quiet``: the closing count only.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Literal

from vaegrade.grader.results import SubmissionResult

Mode = Literal["live", "plain", "json", "quiet"]


def choose_mode(json_lines: bool, quiet: bool) -> Mode:
    """``json`` or ``quiet`` when asked, else ``live`` on a terminal and ``plain`` elsewhere."""
    if json_lines:
        return "json"
    if quiet:
        return "quiet"
    return "live" if sys.stdout.isatty() else "plain"


def summary(result: SubmissionResult, out: Path, reused: bool) -> str:
    """One line: score, status, time (or "already graded") and the checks that lost points."""
    seconds = " (already graded)" if reused else f" in {result.execution.duration:.1f} s" if result.execution else ""
    line = f"{result.submission}: {result.score:g}/{result.max_score:g} {result.status}{seconds}"
    if result.error:
        line += f" ({result.error})"
    else:
        lost = [f"{c.id} {c.score:g}/{c.max_score:g}" for c in result.checks if c.status != "passed"]
        line += f"; lost points on: {', '.join(lost)}" if lost else ""
    return f"{line} -> {out / result.submission / 'feedback.html'}"


class Reporter:
    """Shows a batch's results as they arrive (``with Reporter(...) as r: ... r.result(...)``);
    ``jobs`` submissions are graded at once (for the time left, :meth:`time_left`)."""

    def __init__(self, mode: Mode, total: int, out: Path, jobs: int = 1) -> None:
        self.mode, self.total, self.out, self.jobs = mode, total, out, max(1, jobs)
        self.counts = {"graded": 0, "errors": 0, "already graded": 0}
        self.results: list[tuple[SubmissionResult, bool]] = []
        self.history: list[float] = []  # seconds each reused result took when it was graded
        self._progress = None
        self._started = time.monotonic()

    def __enter__(self) -> "Reporter":
        if self.mode == "live":
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[counts]}"), TextColumn("elapsed"), TimeElapsedColumn(),
                                      TextColumn("{task.fields[left]}"))
            self._progress.start()
            self._task = self._progress.add_task("grading", total=self.total, counts=self._counts(), left=self.time_left())
        return self

    def _counts(self) -> str:
        return ", ".join(f"{count} {name}" for name, count in self.counts.items())

    def time_left(self) -> str:
        """The time left, from this run's pace (the wall time per submission graded so far, all
        ``jobs`` at once) or, before the first is done, from how long the gradebook's reused
        results took (their notebooks' run times, ``jobs`` at once); "estimating" without either."""
        done = self.counts["graded"] + self.counts["errors"]
        remaining = self.total - len(self.results)
        if remaining <= 0:
            return ""
        if done:
            seconds = remaining * (time.monotonic() - self._started) / done
        elif self.history:
            seconds = remaining * sum(self.history) / len(self.history) / self.jobs
        else:
            return "time left: estimating"
        minutes, rest = divmod(round(seconds), 60)
        return f"about {minutes} min {rest:02d} s left" if minutes else f"about {rest} s left"

    def result(self, result: SubmissionResult, reused: bool) -> None:
        """Record and show one submission's result."""
        self.results.append((result, reused))
        self.counts["already graded" if reused else "graded" if result.status == "graded" else "errors"] += 1
        if reused and result.execution is not None:
            self.history.append(result.execution.duration)
            self._started = time.monotonic()  # this run's pace counts from the first submission it grades
        if self.mode == "json":
            print(json.dumps({"submission": result.submission, "score": result.score, "max_score": result.max_score,
                              "status": result.status, "error": result.error, "reused": reused,
                              "feedback": str(self.out / result.submission / "feedback.html")}), flush=True)
        elif self.mode == "plain":
            print(summary(result, self.out, reused), flush=True)
        elif self._progress is not None:
            self._progress.console.print(summary(result, self.out, reused), markup=False, highlight=False)
            self._progress.update(self._task, advance=1, counts=self._counts(), left=self.time_left())

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
        if kind is not None:  # the batch ended early (Ctrl-C): its own one line says what was kept
            return
        closing = (f"{len(self.results)} of {self.total} submission(s): {self._counts()}; feedback: "
                   f"{self.out}/<submission>/feedback.html; gradebook: {self.out / 'gradebook.csv'}")
        if self.mode == "live" and self.results:
            from rich.console import Console
            from rich.table import Table

            table = Table("submission", "score", "status", "time")
            for result, reused in self.results:
                table.add_row(result.submission, f"{result.score:g}/{result.max_score:g}", result.status,
                              "reused" if reused else f"{result.execution.duration:.1f} s" if result.execution else "")
            Console().print(table)
        print(closing, file=sys.stderr if self.mode == "json" else sys.stdout, flush=True)
