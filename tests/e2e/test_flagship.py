"""The flagship assignment, vae_mnist, validated end to end (every real sample graded in the
sandbox with self-check run in the same kernel, the calibration rerun with one seed, the bundle),
from vaegrade's freshly built wheel (:mod:`tests.e2e.farm`), and compared with its golden outcomes.

Golden outcomes (submissions/vae_mnist/golden.json) state, per submission, each check's status and
score and why: every flawed submission loses points on the checks its bug touches and on no
other. Scores of partial checks may move by a fraction of a point across machines.
"""

import json
import shutil

import nbformat
import numpy as np
import pytest

from tests.conftest import ROOT
from vaegrade.grader.batch.grade import grade_submissions
from vaegrade.grader.cli.main import main
from vaegrade.grader.publish import feedback
from vaegrade.grader.results import load_result
from vaegrade.grader.rubric.schema import load_rubric
from vaegrade.grader.run.grade import grade_submission
from vaegrade.grader.run.submissions import Submission

SUBMISSIONS = ROOT / "submissions" / "vae_mnist"
RUBRIC = ROOT / "rubrics" / "vae_mnist.yaml"
GOLDEN = json.loads((ROOT / "submissions" / "vae_mnist" / "golden.json").read_text())


@pytest.fixture(scope="module")
def validated(farm):
    """``vaegrade validate submissions/vae_mnist``'s exit status, results folder and output lines."""
    outcome = farm.outcome("validate:vae_mnist")
    return outcome.returncode, outcome.out, outcome.stdout.splitlines()


@pytest.fixture(scope="module")
def graded(validated):
    return validated[:2]


def result(out, name):
    return load_result(out / name)


def test_validate_passes_with_one_line_per_item(validated):
    code, out, lines = validated
    assert code == 0, "\n".join(lines)
    assert lines[-1] == "valid" and all(line.startswith("ok  ") for line in lines[:-1])
    items = [line.split(":")[0].split(maxsplit=1)[1] for line in lines[:-1]]
    assert items == ["rubric", "solution", *[f"sample {name}" for name in sorted(GOLDEN)], "calibration", "bundle"]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(GOLDEN)


def test_selfcheck_in_the_grading_kernel_agrees_with_grading(graded):
    _, out = graded
    for name in GOLDEN:
        got = result(out, name)
        verdicts = {c.id: c.status for c in got.selfcheck.checks if c.status != "skipped"}
        assert len(verdicts) == 10 and verdicts == {c.id: c.status for c in got.checks if c.id in verdicts}, name


def test_validate_fails_when_a_golden_outcome_changes(validated, tmp_path, capsys):
    _, out, _ = validated
    golden = json.loads(json.dumps(GOLDEN))
    golden["flawed_kl_sign"]["checks"]["reparameterize"] = ["failed", 0.0]
    del golden["handout"]
    (tmp_path / "golden.json").write_text(json.dumps(golden))
    code = main(["validate", str(SUBMISSIONS), "--out", str(out), "--golden", str(tmp_path / "golden.json"),
                 "--calibration-runs", "0", "--isolation", "bubblewrap"])  # graded already: the gradebook answers
    lines = capsys.readouterr().out.splitlines()
    assert code == 1 and lines[-1] == "NOT valid"
    assert "FAIL  sample flawed_kl_sign: reparameterize passed, golden failed" in lines
    assert "FAIL  sample handout: a notebook without a golden outcome" in lines


def test_update_golden_rewrites_outcomes_and_keeps_each_why(validated, tmp_path, capsys):
    _, out, _ = validated
    golden = json.loads(json.dumps(GOLDEN))
    golden["flawed_kl_sign"]["checks"]["reparameterize"] = ["failed", 0.0]
    (tmp_path / "golden.json").write_text(json.dumps(golden))
    code = main(["validate", str(SUBMISSIONS), "--out", str(out), "--golden", str(tmp_path / "golden.json"),
                 "--calibration-runs", "0", "--isolation", "bubblewrap", "--update-golden"])
    assert code == 0 and "ok    golden: rewrote" in capsys.readouterr().out
    rewritten = json.loads((tmp_path / "golden.json").read_text())
    sample, expected = rewritten["flawed_kl_sign"], GOLDEN["flawed_kl_sign"]
    assert sample["checks"]["reparameterize"] == expected["checks"]["reparameterize"] and sample["why"] == expected["why"]


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_outcome_matches_golden(graded, name):
    _, out = graded
    got, expected = result(out, name), GOLDEN[name]
    assert got.status == expected["status"]
    assert {c.id: c.status for c in got.checks} == {k: v[0] for k, v in expected["checks"].items()}, expected["why"]
    for check in got.checks:
        golden_status, golden_score = expected["checks"][check.id]
        if golden_status == "partial":
            assert check.score == pytest.approx(golden_score, abs=1.0), check.id
        else:
            assert check.score == golden_score, check.id
    assert got.score == pytest.approx(expected["score"], abs=2.0)


def test_correct_solutions_score_100(graded):
    _, out = graded
    for name in ("reference_solution", "alternative_conv_vae"):
        assert result(out, name).score == 100.0


def test_crash_message_names_the_cell_and_exception(graded):
    _, out = graded
    crashed = result(out, "flawed_crashes_in_training")
    (error,) = crashed.execution.cell_errors
    assert error.ename == "IndexError" and error.cell_index == 9
    assert error.source_line.startswith("optimizer = torch.optim.Adam")
    assert "cell 10" in crashed.execution.message and "IndexError" in crashed.execution.message
    html = (out / "flawed_crashes_in_training" / "feedback.html").read_text()
    assert "Your notebook stopped: cell 10" in html and "IndexError" in html


def test_missing_function_is_named(graded):
    _, out = graded
    check = next(c for c in result(out, "flawed_no_vae_loss").checks if c.id == "vae_loss")
    assert "name 'vae_loss' is not defined" in check.message


def test_result_json_has_the_documented_fields(graded):
    _, out = graded
    data = json.loads((out / "reference_solution" / "result.json").read_text())
    assert {"submission", "rubric", "score", "max_score", "status", "checks", "execution", "environment"} <= set(data)
    assert set(data["checks"][0]) >= {"id", "title", "status", "score", "max_score", "message", "details"}
    assert set(data["execution"]["phases"]) == {"kernel_start", "execution", "probe", "checks"}
    assert data["isolation"]["mode"] == "bubblewrap" and data["isolation"]["network"] == "none"
    assert data["isolation"]["limits"]["notebook_timeout"] == 600
    assert data["environment"]["seed"] == 0 and len(data["environment"]["rubric_sha256"]) == 64


def test_feedback_and_gradebook(graded):
    _, out = graded
    html = (out / "reference_solution" / "feedback.html").read_text()
    assert "Score <strong>100.0</strong> / 100.0" in html
    assert html.count("data:image/png;base64,") == 4  # samples, reconstructions, loss curves, learning curve
    assert "<script" not in html
    rows = (out / "gradebook.csv").read_text().splitlines()
    assert rows[0].startswith("submission,status,score,max_score,kl_divergence,reparameterize,vae_loss")
    assert len(rows) == 1 + len(GOLDEN)
    assert any(row.startswith("flawed_std_is_exp_logvar,graded,92.0,100.0,10.0,2.0,") for row in rows)


def test_feedback_rerenders_from_saved_result_alone(graded, tmp_path):
    _, out = graded
    saved = load_result(out / "flawed_kl_sign")
    with np.load(out / "flawed_kl_sign" / "artifacts.npz") as npz:
        arrays = {name: npz[name] for name in npz.files}
    feedback.write_feedback(saved, arrays, tmp_path / "again.html")
    assert (tmp_path / "again.html").read_text().count("data:image/png;base64,") == 4


def test_student_html_is_escaped(graded, tmp_path):
    _, out = graded
    saved = load_result(out / "handout")
    saved.checks[0].message = "<script>alert(1)</script>"
    feedback.write_feedback(saved, {}, tmp_path / "x.html")
    assert "<script>alert" not in (tmp_path / "x.html").read_text()


def test_grading_twice_gives_the_same_scores(graded, tmp_path):
    _, out = graded
    rubric = load_rubric(RUBRIC)
    submission = Submission("flawed_kl_no_half", SUBMISSIONS / "samples" / "flawed_kl_no_half.ipynb")
    again = grade_submission(submission, rubric, tmp_path).result
    first = result(out, "flawed_kl_no_half")
    assert [(c.id, c.score) for c in again.checks] == [(c.id, c.score) for c in first.checks]


def test_unreadable_notebook_does_not_stop_the_batch(tmp_path, capsys):
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "broken.ipynb").write_text("{not json")
    shutil.copy(SUBMISSIONS / "handout.ipynb", batch / "handout.ipynb")
    code = main(["grade", str(batch), "--rubric", str(RUBRIC), "--out", str(tmp_path / "out")])
    assert code == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("broken: 0/100 error (") and "is not valid JSON at line 1, column 2 (expecting property name" in line for line in lines)
    assert any(line.startswith("handout: 0/100 graded") for line in lines)
    assert "is not valid JSON" in (tmp_path / "out" / "broken" / "feedback.html").read_text()


def test_infinite_loop_hits_the_notebook_time_limit(tmp_path, quiet):
    rubric = load_rubric(RUBRIC)
    rubric = rubric.model_copy(update={"execution": rubric.execution.model_copy(update={"notebook_timeout": 8})})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("while True:\n    pass")])
    path = tmp_path / "loop.ipynb"
    nbformat.write(nb, path)
    got = grade_submission(Submission("loop", path), rubric, tmp_path / "out").result
    assert got.status == "error" and got.execution.status == "timeout"
    assert "time limit of 8 s was reached in cell 2 (`while True:`)" in got.error
    statuses = {c.id: c.status for c in got.checks}
    assert statuses["kl_divergence"] == "error" and statuses["figures"] == "failed"
    assert got.execution.duration < 30


def test_dead_kernel_is_a_structured_error(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os\nos._exit(3)")])
    path = tmp_path / "dies.ipynb"
    nbformat.write(nb, path)
    got, = grade_submissions([Submission("dies", path)], load_rubric(RUBRIC), tmp_path / "out")
    assert got.status == "error" and got.execution.status == "kernel_died"
    assert got.error == "the kernel died while running cell 1 (`import os`)"
    assert (tmp_path / "out" / "dies" / "feedback.html").exists()
