"""The class gradebook: ``OUT/gradebook.csv``, one row per submission, one column per check."""

from __future__ import annotations

import csv
from pathlib import Path

from grader.results import SubmissionResult


def write_csv(results: list[SubmissionResult], path: Path) -> None:
    """Write the gradebook: submission, status, score, max_score, one score column per check
    id (in rubric order), and the error, if any. Rows are sorted by submission name."""
    check_ids = list(dict.fromkeys(check.id for result in results for check in result.checks))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", "status", "score", "max_score", *check_ids, "error"])
        for result in sorted(results, key=lambda r: r.submission):
            scores = {check.id: check.score for check in result.checks}
            writer.writerow([result.submission, result.status, result.score, result.max_score,
                             *(scores.get(check_id, "") for check_id in check_ids), result.error or ""])
