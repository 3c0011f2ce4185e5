"""The late policy's deductions, and precise errors for a deadline without its offset and a bad or missing times file (before anything is graded)."""

from __future__ import annotations

from datetime import datetime, timezone

import nbformat
import pytest

from tests.classes import kl_rubric
from vaegrade.grader.cli.main import main
from vaegrade.grader.publish.late import Lateness
from vaegrade.grader.results import SubmissionResult
from vaegrade.grader.rubric.late import LatePolicy

POLICY = {"deadline": "2026-12-01T23:59:00+01:00", "grace_minutes": 15, "percent_per_day": 10, "max_percent": 30,
          "zero_after": "2026-12-08T23:59:00+01:00"}


def result(score: float) -> SubmissionResult:
    return SubmissionResult(submission="ada", rubric="r", score=score, max_score=20.0, status="graded")


def test_a_deduction_never_takes_a_score_below_zero_and_an_unknown_time_deducts_nothing():
    policy = LatePolicy(deadline=datetime(2026, 12, 1, tzinfo=timezone.utc), percent_per_day=50)
    late = Lateness(policy, {"ada": datetime(2026, 12, 2, 12, tzinfo=timezone.utc)})
    assert late.apply(result(5.0)).score == 0.0 and late.apply(result(5.0)).late.points == 5.0
    assert Lateness(policy, {}).apply(result(5.0)).late is None


def test_a_deadline_without_its_offset_and_a_bad_times_file_are_precise_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="with its UTC offset"):
        LatePolicy(deadline=datetime(2026, 12, 1))
    kl_rubric(tmp_path / "rubric.yaml", late=POLICY)
    (tmp_path / "times.csv").write_text("submission,submitted_at\nada,yesterday\n")
    (tmp_path / "class").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "class" / "ada.ipynb")
    assert main(["grade", str(tmp_path / "class"), "--rubric", str(tmp_path / "rubric.yaml"), "--out",
                 str(tmp_path / "out"), "--submission-times", str(tmp_path / "times.csv"), "--isolation", "none"]) == 2
    assert "times.csv: line 2: 'yesterday' is not an ISO 8601 time" in capsys.readouterr().err


def test_a_missing_times_file_is_a_precise_error_not_a_traceback(tmp_path, capsys):
    kl_rubric(tmp_path / "rubric.yaml", late=POLICY)
    (tmp_path / "class").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "class" / "ada.ipynb")
    assert main(["grade", str(tmp_path / "class"), "--rubric", str(tmp_path / "rubric.yaml"), "--out",
                 str(tmp_path / "out"), "--submission-times", str(tmp_path / "nope.csv"), "--isolation", "none"]) == 2
    assert capsys.readouterr().err == (f"vaegrade: argument --submission-times: {tmp_path / 'nope.csv'} does not exist "
                                       "(see `vaegrade grade --help`)\n")

