"""The late policy: a late submission loses what the policy says (per started day, capped, zero
after the hard deadline), shown in its feedback and in the exports; changing the policy regrades
nothing; a bad submission-times file is a precise error."""

import json
from datetime import datetime, timezone

import nbformat
import pytest
import yaml

from grader.cli import main
from grader.late import Lateness, LatePolicy
from grader.results import SubmissionResult
from tests.conftest import ROOT
from tests.grader.hostile_corpus import CORRECT_KL

POLICY = {"deadline": "2026-12-01T23:59:00+01:00", "grace_minutes": 15, "percent_per_day": 10, "max_percent": 30,
          "zero_after": "2026-12-08T23:59:00+01:00"}
TIMES = ("submission,submitted_at\n"
         "ontime,2026-12-02T00:10:00+01:00\n"    # within the 15 minutes' grace
         "oneday,2026-12-02T00:20:00+01:00\n"    # 5 minutes past the grace: one started day
         "fourdays,2026-12-05T10:00:00+01:00\n"  # 4 started days: 40%, capped at 30%
         "toolate,2026-12-09T00:00:00+01:00\n")  # after zero_after


def write_rubric(path, policy):
    rubric = yaml.safe_load((ROOT / "tests" / "data" / "hostile.yaml").read_text())
    rubric["execution"].update(cell_timeout=120, notebook_timeout=240)
    rubric["late"] = policy
    path.write_text(yaml.safe_dump(rubric))


@pytest.mark.slow
def test_late_submissions_lose_what_the_policy_says_and_a_new_policy_regrades_nothing(tmp_path, capsys):
    folder, out = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    for name in ("ontime", "oneday", "fourdays", "toolate"):
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CORRECT_KL)]), folder / f"{name}.ipynb")
    write_rubric(tmp_path / "rubric.yaml", POLICY)
    (tmp_path / "times.csv").write_text(TIMES)
    command = ["grade", str(folder), "--rubric", str(tmp_path / "rubric.yaml"), "--out", str(out), "--json",
               "--submission-times", str(tmp_path / "times.csv")]
    assert main(command) == 0
    scores = {r["submission"]: r["score"] for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert scores == {"ontime": 10.0, "oneday": 9.0, "fourdays": 7.0, "toolate": 0.0}
    page = " ".join((out / "fourdays" / "feedback.html").read_text().split())
    assert "4 day(s) late (by the LMS&#39;s times in times.csv)" in page
    assert "deducted 30% of the points possible, 3 point(s)" in page
    assert main(["export", str(out), "--format", "long-csv", "--to", str(tmp_path / "long.csv")]) == 0
    assert "fourdays,graded,7.0,10.0" in (tmp_path / "long.csv").read_text()
    capsys.readouterr()

    write_rubric(tmp_path / "rubric.yaml", {**POLICY, "percent_per_day": 20, "max_percent": 100})
    assert main(command) == 0
    lines = list(map(json.loads, capsys.readouterr().out.splitlines()))
    assert all(r["reused"] for r in lines)  # the policy applies when publishing: nothing ran again
    assert {r["submission"]: r["score"] for r in lines} == {"ontime": 10.0, "oneday": 8.0, "fourdays": 2.0,
                                                              "toolate": 0.0}


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
    write_rubric(tmp_path / "rubric.yaml", POLICY)
    (tmp_path / "times.csv").write_text("submission,submitted_at\nada,yesterday\n")
    (tmp_path / "class").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "class" / "ada.ipynb")
    assert main(["grade", str(tmp_path / "class"), "--rubric", str(tmp_path / "rubric.yaml"), "--out",
                 str(tmp_path / "out"), "--submission-times", str(tmp_path / "times.csv"), "--isolation", "none"]) == 2
    assert "times.csv: line 2: 'yesterday' is not an ISO 8601 time" in capsys.readouterr().err


def test_a_missing_times_file_is_a_precise_error_not_a_traceback(tmp_path, capsys):
    write_rubric(tmp_path / "rubric.yaml", POLICY)
    (tmp_path / "class").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "class" / "ada.ipynb")
    assert main(["grade", str(tmp_path / "class"), "--rubric", str(tmp_path / "rubric.yaml"), "--out",
                 str(tmp_path / "out"), "--submission-times", str(tmp_path / "nope.csv"), "--isolation", "none"]) == 2
    assert "nope.csv: cannot read it: [Errno 2] No such file or directory" in capsys.readouterr().err
