"""How a class did: ``vaegrade summary OUT`` (text) and ``OUT/index.html`` (the class overview,
rebuilt after every ``vaegrade grade``), both from the published results.

The statistics an instructor reads after a batch: the score distribution, each check's pass rate
and mean score with the messages of those who lost points on it (grouped by their text with the
numbers taken out, so that a bug five students share is one line with a count, and each student
linked), the submissions that need attention (could not be graded, scored zero, a check the
grader could not evaluate or left to a person, a similarity flag) and the slowest ones; the page
adds the similarity flags (:mod:`vaegrade.grader.publish.similarity`) and a sortable table of every
submission, each linked to its feedback page.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from vaegrade.grader.publish.feedback import HTML_TEMPLATES
from vaegrade.grader.publish.reviews import pending_count
from vaegrade.grader.publish.similarity import Flag
from vaegrade.grader.results import SubmissionResult


@dataclass(frozen=True)
class CheckSummary:
    """One check across the class: how many were graded on it, passed it, its mean score, the
    messages of those who did not pass grouped by :func:`message_kind` (most common first, with
    how many got each), and who did not pass: (submission, score, message)."""

    id: str
    max_score: float
    graded: int
    passed: int
    mean_score: float
    failure_kinds: list[tuple[str, int]]
    failures: list[tuple[str, float, str]]

    @property
    def common_failure(self) -> tuple[str, int] | None:
        return self.failure_kinds[0] if self.failure_kinds else None


@dataclass(frozen=True)
class ClassSummary:
    scores: list[float]  # of the graded submissions
    max_score: float
    checks: list[CheckSummary]
    ungraded: list[tuple[str, str]]  # (submission, why)
    slowest: list[tuple[str, float]]  # (submission, seconds), at most 5
    attention: dict[str, list[str]]  # submission -> why it needs a person's look


NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?%?")


def message_kind(message: str) -> str:
    """``message`` with every number replaced by ``#``: the messages of one mistake made by several
    students differ only in their numbers ("BCE 150.2 nats/image" and "BCE 148.9 nats/image")."""
    return NUMBER.sub("#", message)


def summarise(results: list[SubmissionResult], flags: list[Flag] = ()) -> ClassSummary:
    """The class's statistics; the checks of submissions that could not be graded are left out.
    ``flags`` (similarity) count among the reasons a submission needs attention."""
    graded = [r for r in results if r.status == "graded"]
    checks: dict[str, list] = {}
    for result in graded:
        for check in result.checks:
            checks.setdefault(check.id, []).append((result.submission, check))
    summaries = []
    for check_id, runs in checks.items():
        lost = [(name, c.score, c.message) for name, c in runs if c.status != "passed"]
        kinds = Counter(message_kind(message) for _, _, message in lost).most_common()
        summaries.append(CheckSummary(check_id, runs[0][1].max_score, len(runs), sum(c.status == "passed" for _, c in runs),
                                      statistics.fmean(c.score for _, c in runs), kinds, lost))
    timed = sorted(((r.submission, r.execution.duration) for r in results if r.execution), key=lambda t: -t[1])
    return ClassSummary([r.score for r in graded], max((r.max_score for r in results), default=0.0), summaries,
                        [(r.submission, r.error or "") for r in results if r.status != "graded"], timed[:5],
                        needs_attention(results, flags))


def needs_attention(results: list[SubmissionResult], flags: list[Flag] = ()) -> dict[str, list[str]]:
    """Submission -> why a person should look at it: it could not be graded, it scored zero, a
    check the grader could not evaluate (error) or left to a person (skipped), written-answer
    judgements awaiting review, a similarity flag."""
    reasons: dict[str, list[str]] = {}
    for result in sorted(results, key=lambda r: r.submission):
        why = []
        if result.status != "graded":
            why.append(f"could not be graded: {result.error or 'no reason recorded'}")
        elif result.score == 0:
            why.append("scored 0")
        why += [f"`{c.id}` not evaluated: {c.message}" for c in result.checks if c.status == "error"]
        why += [f"`{c.id}` left to a person" for c in result.checks if c.status == "skipped"]
        waiting = pending_count(result)
        if waiting:
            why.append(f"{waiting} written-answer judgement(s) awaiting your review (`vaegrade review`)")
        if why:
            reasons[result.submission] = why
    for flag in flags:
        for name, other in ((flag.first, flag.second), (flag.second, flag.first)):
            reasons.setdefault(name, []).append(f"its {flag.kind} resembles {other}'s")
    return reasons


def histogram(scores: list[float], max_score: float, bins: int = 10) -> list[tuple[float, float, int]]:
    """(low, high, count) for ``bins`` equal bins from 0 to ``max_score``; the last bin holds the maximum."""
    width = max_score / bins if max_score > 0 else 1.0
    counts = Counter(min(int(score // width), bins - 1) for score in scores)
    return [(i * width, (i + 1) * width, counts.get(i, 0)) for i in range(bins)]


def render_text(summary: ClassSummary) -> str:
    """The summary as text for a terminal."""
    s = summary
    lines = [f"{len(s.scores)} graded, {len(s.ungraded)} could not be graded"]
    if s.scores:
        lines.append(f"score out of {s.max_score:g}: mean {statistics.fmean(s.scores):.1f}, median "
                     f"{statistics.median(s.scores):g}, min {min(s.scores):g}, max {max(s.scores):g}")
        for low, high, count in histogram(s.scores, s.max_score):
            lines.append(f"  {low:6.1f}-{high:<6.1f} {'#' * count} {count}")
    if s.checks:
        width = max(len(c.id) for c in s.checks)
        lines.append("checks (passed / graded, mean score, most common message when not passed, numbers as #):")
        for c in s.checks:
            failure = f"  {c.common_failure[1]}x: {c.common_failure[0]}" if c.common_failure else ""
            lines.append(f"  {c.id:<{width}} {c.passed:>3}/{c.graded:<3} {c.mean_score:5.1f}/{c.max_score:g}{failure}")
    if s.ungraded:
        lines.append("could not be graded:")
        lines += [f"  {name}: {why}" for name, why in s.ungraded]
    if s.slowest:
        lines.append("slowest: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in s.slowest))
    return "\n".join(lines)


def write_overview(results: list[SubmissionResult], path: Path, flags: list[Flag] = ()) -> None:
    """Write the class overview page (``templates/overview.html.j2``: one self-contained file,
    its histogram drawn in CSS, linking ``<submission>/feedback.html`` beside it and each check's
    row there), with the similarity ``flags`` and their shared passages side by side."""
    s = summarise(results, flags)
    bins = histogram(s.scores, s.max_score)
    page = HTML_TEMPLATES.get_template("overview.html.j2").render(
        s=s, results=sorted(results, key=lambda r: r.submission), rubric=results[0].rubric if results else "",
        mean=statistics.fmean(s.scores) if s.scores else 0.0, median=statistics.median(s.scores) if s.scores else 0.0,
        histogram=bins, tallest=max((count for _, _, count in bins), default=1) or 1, flags=flags)
    path.write_text(page, encoding="utf-8")
