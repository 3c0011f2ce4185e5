"""The late policy: a late submission loses what the policy says (per started day, capped, zero
after the hard deadline), shown in its feedback and in the exports; changing the policy regrades
nothing; a bad submission-times file is a precise error."""

import json

from tests.classes import CORRECT_KL, kl_rubric, write_class
from vaegrade.grader.cli.main import main

POLICY = {"deadline": "2026-12-01T23:59:00+01:00", "grace_minutes": 15, "percent_per_day": 10, "max_percent": 30,
          "zero_after": "2026-12-08T23:59:00+01:00"}
TIMES = ("submission,submitted_at\n"
         "ontime,2026-12-02T00:10:00+01:00\n"    # within the 15 minutes' grace
         "oneday,2026-12-02T00:20:00+01:00\n"    # 5 minutes past the grace: one started day
         "fourdays,2026-12-05T10:00:00+01:00\n"  # 4 started days: 40%, capped at 30%
         "toolate,2026-12-09T00:00:00+01:00\n")  # after zero_after


def test_late_submissions_lose_what_the_policy_says_and_a_new_policy_regrades_nothing(tmp_path, capsys):
    folder = write_class(tmp_path / "class", dict.fromkeys(("ontime", "oneday", "fourdays", "toolate"), [CORRECT_KL]))
    out = tmp_path / "out"
    kl_rubric(tmp_path / "rubric.yaml", late=POLICY)
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

    kl_rubric(tmp_path / "rubric.yaml", late={**POLICY, "percent_per_day": 20, "max_percent": 100})
    assert main(command) == 0
    lines = list(map(json.loads, capsys.readouterr().out.splitlines()))
    assert all(r["reused"] for r in lines)  # the policy applies when publishing: nothing ran again
    assert {r["submission"]: r["score"] for r in lines} == {"ontime": 10.0, "oneday": 8.0, "fourdays": 2.0,
                                                              "toolate": 0.0}


