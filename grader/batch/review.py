"""``vaegrade review OUT``: the page where the instructor settles the written-answer judgements
the report checker left to a person (:mod:`vaegrade.grader.publish.reviews`), served on
localhost by Flask.

    GET  /         the pending judgements, grouped by concept and, within one, by similar
                   sentences (one decision settles a group; a group can be split into its
                   sentences); each sentence in its answer, its meaning score and why it was left;
                   the decided ones below, each of which can be taken back
    POST /decide   {"keys": [[submission, check, concept, sentence], ...], "decision": "credit" |
                   "no credit" | null}: stored in the gradebook, then the submissions' result.json
                   and feedback.html, gradebook.csv and the class overview are written again

Keyboard first: ``a`` credits the group in focus, ``r`` does not, ``s`` skips to the next, ``j``/``k``
move, ``x`` splits it, ``u`` takes the last decision back.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, jsonify, request

from vaegrade.grader.batch.gradebook import write_csv
from vaegrade.grader.publish.exports import load_results
from vaegrade.grader.publish.feedback import HTML_TEMPLATES, publish
from vaegrade.grader.publish.overview import write_overview
from vaegrade.grader.publish.reviews import apply_reviews, decide, grouped, judgements, load_decisions
from vaegrade.grader.publish.similarity import load_flags
from vaegrade.grader.results import Row, SubmissionResult, npz

DECISIONS = ("credit", "no credit", None)


def make_app(out: Path) -> Flask:
    """The review page's Flask application over the graded class in ``out``."""
    app = Flask("vaegrade-review")

    @app.get("/")
    def page() -> str:
        found = judgements(load_results(out))
        waiting = grouped([j for j in found if j.decision is None])
        decided = grouped([j for j in found if j.decision is not None])
        return HTML_TEMPLATES.get_template("review.html.j2").render(out=out, waiting=waiting, decided=decided,
                                                                    total=len(found))

    @app.post("/decide")
    def settle():  # noqa: ANN202 (a Flask response)
        asked = request.get_json(silent=True) or {}
        keys = [tuple(key) for key in asked.get("keys", []) if isinstance(key, list) and len(key) == 4]
        if not keys or asked.get("decision", "missing") not in DECISIONS:
            return jsonify(error="send keys (submission, check, concept, sentence) and a decision"), 400
        published = load_results(out)
        known = {j.key for j in judgements(published)}
        unknown = [key for key in keys if key not in known]
        if unknown:
            return jsonify(error=f"no such judgement: {list(unknown[0])}"), 404
        decide(out / "gradebook.sqlite", keys, asked["decision"])
        results = republish(out, published, {key[0] for key in keys})
        waiting = sum(1 for j in judgements(results) if j.decision is None)
        return jsonify(decided=len(keys), waiting=waiting)

    return app


def republish(out: Path, published: list[SubmissionResult], only: set[str]) -> list[SubmissionResult]:
    """Apply the stored decisions to the ``published`` results under ``out`` of the submissions
    ``only`` names and write their ``result.json`` and ``feedback.html`` again, then the class's
    ``gradebook.csv`` and overview. Returns every result."""
    decisions = load_decisions(out / "gradebook.sqlite")
    results = []
    for result in published:
        applied = apply_reviews(result, decisions) if result.submission in only else result
        if applied is not result:
            figures = out / result.submission / "artifacts.npz"
            publish(Row(applied, figures.read_bytes() if figures.exists() else npz({})), out / result.submission, overview=True)
        results.append(applied)
    write_csv(results, out / "gradebook.csv")
    write_overview(results, out / "index.html", load_flags(out))
    return results


def serve(out: Path, port: int) -> None:
    """Serve the review page for ``out`` on ``127.0.0.1:port`` until Ctrl-C."""
    make_app(out).run(host="127.0.0.1", port=port, debug=False, use_reloader=False)
