"""Publishing one result: the page draws the curves the history kept, and a page that cannot be
drawn loses no grade (result.json is written and the page says where it is)."""

from __future__ import annotations

import io
import json

import numpy as np

from vaegrade.grader.publish import feedback
from vaegrade.grader.results import CheckResult, Row, SubmissionResult


def row(**arrays: np.ndarray) -> Row:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    result = SubmissionResult(submission="ada", rubric="shapes", score=7.0, max_score=10.0, status="graded",
                              checks=[CheckResult(id="history", title="History", score=7.0, max_score=10.0,
                                                  status="partial", message="loss kept alone")])
    return Row(result, buffer.getvalue())


def test_a_history_of_the_loss_alone_draws_its_one_curve(tmp_path):
    feedback.publish(row(**{"history/history_loss": np.array([3.0, 2.0])}), tmp_path)
    page = (tmp_path / "feedback.html").read_text()
    assert "loss kept alone" in page and page.count("data:image/png") == 1


def test_a_page_that_cannot_be_drawn_keeps_the_result(tmp_path, monkeypatch, caplog):
    def broken(*args):
        raise KeyError("history_recon")

    monkeypatch.setattr(feedback, "write_feedback", broken)
    feedback.publish(row(), tmp_path)
    assert json.loads((tmp_path / "result.json").read_text())["score"] == 7.0
    assert "could not be drawn" in (tmp_path / "feedback.html").read_text()
    assert "ada: the feedback page could not be drawn (KeyError" in caplog.text


def test_two_checks_of_one_type_keep_their_own_figures(tmp_path):
    published = row(**{"history/history_loss": np.array([3.0, 2.0]), "other/history_loss": np.array([5.0, 1.0, 0.5])})
    published.result.checks.append(CheckResult(id="other", title="Other", score=1.0, max_score=1.0, status="passed",
                                               message="a second history"))
    feedback.publish(published, tmp_path)
    page = (tmp_path / "feedback.html").read_text()
    assert 'id="figures-history"' in page and 'id="figures-other"' in page and page.count("data:image/png") == 2
