"""The class gradebook: ``OUT/gradebook.sqlite``, the source of truth, and ``gradebook.csv``
exported from it.

One row per graded submission, keyed by (submission name, sha256 of the notebook's bytes,
sha256 of the rubric file, vaegrade version): change any of them and the submission is graded
again; change none and it is not. Each row holds the whole :class:`SubmissionResult` (JSON)
and the feedback figures (``.npz`` bytes), so every ``result.json`` and ``feedback.html`` can
be rebuilt from the database alone. Each result is committed in its own transaction in WAL
mode: a grader killed at any moment leaves every committed row intact and no partial one.
"""

from __future__ import annotations

import csv
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from vaegrade.grader.publish.reviews import Decisions, load_decisions
from vaegrade.grader.results import Row, SubmissionResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    submission TEXT NOT NULL,
    notebook_sha256 TEXT NOT NULL,
    rubric_sha256 TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    status TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    result_json TEXT NOT NULL,
    figures_npz BLOB NOT NULL,
    graded_at TEXT NOT NULL DEFAULT (datetime('now')),
    PRIMARY KEY (submission, notebook_sha256, rubric_sha256, grader_version)
)
"""


@dataclass(frozen=True)
class Key:
    """What a stored result was graded from."""

    submission: str
    notebook_sha256: str
    rubric_sha256: str
    grader_version: str


class Gradebook:
    """An open gradebook database (created if missing). Use from one process at a time for
    writing; the batch's coordinating process is the only writer."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        with self.db:
            self.db.execute(SCHEMA)

    def get(self, key: Key) -> Row | None:
        found = self.db.execute(
            "SELECT result_json, figures_npz FROM results WHERE submission=? AND notebook_sha256=? "
            "AND rubric_sha256=? AND grader_version=?",
            (key.submission, key.notebook_sha256, key.rubric_sha256, key.grader_version)).fetchone()
        return None if found is None else Row(SubmissionResult.model_validate_json(found[0]), found[1])

    def put(self, key: Key, row: Row) -> None:
        """Store one result atomically (replacing an earlier one with the same key)."""
        result = row.result
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO results (submission, notebook_sha256, rubric_sha256, grader_version, status, "
                "score, max_score, result_json, figures_npz) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key.submission, key.notebook_sha256, key.rubric_sha256, key.grader_version, result.status,
                 result.score, result.max_score, result.model_dump_json(), row.figures_npz))

    def decisions(self) -> Decisions:
        """The instructor's review decisions stored beside the results (:mod:`vaegrade.grader.publish.reviews`)."""
        return load_decisions(self.path)

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def close(self) -> None:
        self.db.close()


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
