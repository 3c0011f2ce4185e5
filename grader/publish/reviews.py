"""Written-answer judgements left to the instructor, and the instructor's decisions on them.

A concept judgement the report checker cannot settle (:func:`vaegrade.grader.report.answers.find_concepts`:
a negated or hedged clause, a meaning score inside the review band, a sentence close to a common
wrong claim) is *pending*: its points are held back and its concepts check lists it in
``details["pending"]`` (concept, points, sentence, score, reason). The instructor decides it in
``vaegrade review OUT`` (:mod:`vaegrade.grader.batch.review`); a decision is stored in the
gradebook (``OUT/gradebook.sqlite``, table ``reviews``), keyed by submission, check, concept and
the student's sentence, so a regrade that leaves the sentence as it was keeps it. Decisions are
applied on top of the grader's results when publishing (:func:`apply_reviews`), before the manual
grades of an overrides file, which replace a check's score outright.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from vaegrade.grader.checks import scoring
from vaegrade.grader.results import SubmissionResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    submission TEXT NOT NULL,
    check_id TEXT NOT NULL,
    concept TEXT NOT NULL,
    sentence TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('credit', 'no credit')),
    decided_at TEXT NOT NULL DEFAULT (datetime('now')),
    PRIMARY KEY (submission, check_id, concept, sentence)
)
"""

#: (submission, check id, concept, sentence) -> "credit" or "no credit"
Decisions = dict[tuple[str, str, str, str], str]


@dataclass(frozen=True)
class Judgement:
    """One concept judgement of one submission's answer, as the review page shows it: the
    sentence in its answer (``answer``), the meaning score and why it was left to a person;
    ``decision`` None while pending."""

    submission: str
    check_id: str
    question: str
    concept: str
    sentence: str
    points: float
    score: float | None
    reason: str
    answer: str
    decision: str | None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.submission, self.check_id, self.concept, self.sentence


def open_reviews(path: Path) -> sqlite3.Connection:
    """The gradebook database with its ``reviews`` table (made if missing)."""
    db = sqlite3.connect(path, timeout=30)
    with db:
        db.execute(SCHEMA)
    return db


def load_decisions(path: Path) -> Decisions:
    """Every decision stored in the gradebook at ``path`` (none when it does not exist yet)."""
    if not path.exists():
        return {}
    db = open_reviews(path)
    try:
        rows = db.execute("SELECT submission, check_id, concept, sentence, decision FROM reviews").fetchall()
    finally:
        db.close()
    return {(submission, check, concept, sentence): decision for submission, check, concept, sentence, decision in rows}


def decide(path: Path, keys: list[tuple[str, str, str, str]], decision: str | None) -> None:
    """Store ``decision`` ("credit" or "no credit") for each judgement of ``keys``, in one
    transaction; None takes the decisions back (pending again)."""
    db = open_reviews(path)
    try:
        with db:
            if decision is None:
                db.executemany("DELETE FROM reviews WHERE submission=? AND check_id=? AND concept=? AND sentence=?", keys)
            else:
                db.executemany("INSERT OR REPLACE INTO reviews (submission, check_id, concept, sentence, decision) "
                               "VALUES (?, ?, ?, ?, ?)", [(*key, decision) for key in keys])
    finally:
        db.close()


def apply_reviews(result: SubmissionResult, decisions: Decisions) -> SubmissionResult:
    """``result`` with the instructor's decisions on its pending judgements: each item of a
    concepts check's ``details["pending"]`` gets its ``decision``; the check's score is the
    grader's (``details["grader_score"]``) plus the points decided "credit", its message says
    what is still awaited, and the question's concept findings show the decision. ``result``
    itself when it has nothing pending. Idempotent: applying the decisions again changes nothing."""
    if not any(check.details.get("pending") for check in result.checks):
        return result
    result = result.model_copy(deep=True)
    for check in result.checks:
        items = check.details.get("pending")
        if not items:
            continue
        base = check.details.setdefault("grader_score", check.score)
        for item in items:
            item["decision"] = decisions.get((result.submission, check.id, item["concept"], item["sentence"]))
        credited = sum(item["points"] for item in items if item["decision"] == "credit")
        waiting = [item for item in items if item["decision"] is None]
        if check.manual is None:  # a manual grade replaces the score outright
            rescored = scoring.scored(check.id, check.title, check.max_score, (base + credited) / check.max_score, check.message)
            check.score, check.status = rescored.score, rescored.status
        head = check.message.split(". Awaiting your instructor's review")[0]
        check.message = head + (f". Awaiting your instructor's review ({sum(i['points'] for i in waiting):g} point(s) "
                                f"held back): {'; '.join(i['concept'] for i in waiting)}" if waiting else
                                f". Reviewed by your instructor: {'; '.join(_decided(i) for i in items)}")
        _show_decisions(result, check.id, items)
    result.score = scoring.total(result.checks) - (result.late.points if result.late else 0.0)
    return result


def _decided(item: dict) -> str:
    return f"{item['concept']} ({'credited' if item['decision'] == 'credit' else 'not credited'})"


def _show_decisions(result: SubmissionResult, check_id: str, items: list[dict]) -> None:
    """Mark the decided concepts in the question's findings (the feedback page's written answers)."""
    if result.report is None:
        return
    by_concept = {item["concept"]: item["decision"] for item in items}
    for question in result.report.questions:
        if check_id != f"report.{question.id}.concepts":
            continue
        for concept in question.concepts:
            if concept["name"] in by_concept:
                decision = by_concept[concept["name"]]
                concept["verdict"] = "review" if decision is None else "credited" if decision == "credit" else "not credited"
                concept["decided"] = decision is not None
                concept["matched"] = concept.get("sentence") if decision == "credit" else concept.get("matched")


def judgements(results: list[SubmissionResult]) -> list[Judgement]:
    """Every judgement left to the instructor in ``results`` (published: decisions applied), decided or not."""
    found = []
    for result in results:
        answers = {f"report.{q.id}.concepts": q for q in result.report.questions} if result.report else {}
        for check in result.checks:
            question = answers.get(check.id)
            for item in check.details.get("pending", []):
                found.append(Judgement(result.submission, check.id, question.title if question else check.title,
                                       item["concept"], item["sentence"], item["points"], item.get("score"), item["reason"],
                                       question.text if question else "", item.get("decision")))
    return found


def pending_count(result: SubmissionResult) -> int:
    """How many of ``result``'s judgements still wait for the instructor."""
    return sum(1 for check in result.checks for item in check.details.get("pending", []) if item.get("decision") is None)


def grouped(items: list[Judgement], alike: float = 0.8) -> list[list[Judgement]]:
    """``items`` grouped as Gradescope's answer groups are: by concept, then, within a concept,
    sentences whose embeddings are at least ``alike`` similar (cosine; the packaged model of
    :mod:`vaegrade.grader.report.meaning`) in one group, so that one decision can settle it;
    without the model, identical sentences only. Largest groups first."""
    by_concept: dict[str, list[Judgement]] = {}
    for item in items:
        by_concept.setdefault(item.concept, []).append(item)
    groups = []
    for members in by_concept.values():
        groups += _clusters(members, alike)
    return sorted(groups, key=lambda group: (-len(group), group[0].concept, group[0].sentence))


def _clusters(members: list[Judgement], alike: float) -> list[list[Judgement]]:
    """Greedy clusters: each sentence joins the first group whose first sentence it is alike
    (identical text only when the embedding model is not installed)."""
    from vaegrade.grader.report.meaning import MeaningUnavailable, similarity
    groups: list[list[Judgement]] = []
    for member in members:
        for group in groups:
            head = group[0].sentence
            try:
                close = head == member.sentence or similarity(member.sentence, [head])[0] >= alike
            except MeaningUnavailable:
                close = False
            if close:
                group.append(member)
                break
        else:
            groups.append([member])
    return groups
