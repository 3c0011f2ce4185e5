"""How a class did: ``vaegrade summary OUT`` (text) and ``OUT/index.html`` (the class overview,
rebuilt after every ``vaegrade grade``), both from the published results.

The statistics an instructor reads after a batch: the score distribution, each check's pass rate
and mean score with its most common message among those who lost points on it, the submissions
that could not be graded and why, and the slowest ones; the page adds the similarity flags
(:mod:`vaegrade.grader.publish.similarity`) and a sortable table of every submission, each linked to its
feedback page.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from vaegrade.grader.publish.feedback import HTML_TEMPLATES
from vaegrade.grader.publish.similarity import Flag
from vaegrade.grader.results import SubmissionResult


@dataclass(frozen=True)
class CheckSummary:
    """One check across the class: how many were graded on it, passed it, its mean score, and
    the most common message of those who did not pass (with how many got it)."""

    id: str
    max_score: float
    graded: int
    passed: int
    mean_score: float
    common_failure: tuple[str, int] | None


@dataclass(frozen=True)
class ClassSummary:
    scores: list[float]  # of the graded submissions
    max_score: float
    checks: list[CheckSummary]
    ungraded: list[tuple[str, str]]  # (submission, why)
    slowest: list[tuple[str, float]]  # (submission, seconds), at most 5


def summarise(results: list[SubmissionResult]) -> ClassSummary:
    """The class's statistics; the checks of submissions that could not be graded are left out."""
    graded = [r for r in results if r.status == "graded"]
    checks: dict[str, list] = {}
    for result in graded:
        for check in result.checks:
            checks.setdefault(check.id, []).append(check)
    summaries = []
    for check_id, runs in checks.items():
        failures = Counter(c.message for c in runs if c.status != "passed")
        summaries.append(CheckSummary(check_id, runs[0].max_score, len(runs), sum(c.status == "passed" for c in runs),
                                      statistics.fmean(c.score for c in runs), failures.most_common(1)[0] if failures else None))
    timed = sorted(((r.submission, r.execution.duration) for r in results if r.execution), key=lambda t: -t[1])
    return ClassSummary([r.score for r in graded], max((r.max_score for r in results), default=0.0), summaries,
                        [(r.submission, r.error or "") for r in results if r.status != "graded"], timed[:5])


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
        lines.append("checks (passed / graded, mean score, most common message when not passed):")
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
    its histogram drawn in CSS, linking ``<submission>/feedback.html`` beside it), with the
    similarity ``flags`` and their shared passages side by side."""
    s = summarise(results)
    bins = histogram(s.scores, s.max_score)
    page = HTML_TEMPLATES.get_template("overview.html.j2").render(
        s=s, results=sorted(results, key=lambda r: r.submission), rubric=results[0].rubric if results else "",
        mean=statistics.fmean(s.scores) if s.scores else 0.0, median=statistics.median(s.scores) if s.scores else 0.0,
        histogram=bins, tallest=max((count for _, _, count in bins), default=1) or 1, flags=flags)
    path.write_text(page, encoding="utf-8")
