"""``vaegrade grade`` on submissions with a notebook and a PDF report: one result, one page,
and an instructor's overrides merged in."""

import csv
import shutil

import nbformat
import pytest

from tests.conftest import ROOT
from tests.unit.report.report_pdf import write_report_pdf
from vaegrade.grader.cli.main import main
from vaegrade.grader.results import load_result

SOLUTION = ROOT / "submissions" / "vae_mnist" / "samples" / "reference_solution.ipynb"
RUBRIC = ROOT / "tests" / "data" / "report_grading.yaml"


def student(folder, name, printed_loss, with_image):
    """A student's folder: the reference solution with the training output they saw, and a PDF."""
    (folder / name).mkdir(parents=True)
    nb = nbformat.read(SOLUTION, as_version=4)
    training = next(c for c in nb.cells if c.cell_type == "code" and "history" in c.source and "for epoch" in c.source)
    training.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"epoch 1: loss {printed_loss} recon 110.0 kl 13.4\n")]
    nbformat.write(nb, folder / name / f"{name}.ipynb")
    write_report_pdf(folder / name / "report.pdf", with_image=with_image)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    student(root / "class", "alice", "123.41", with_image=True)
    student(root / "class", "bob", "150.02", with_image=False)
    overrides = root / "overrides.csv"
    overrides.write_text("submission,check,score,comment\nbob,report.results.numbers,1,his second run printed 123.4\n")
    out = root / "out"
    code = main(["grade", str(root / "class"), "--rubric", str(RUBRIC), "--out", str(out), "--jobs", "2",
                 "--overrides", str(overrides)])
    return code, out, overrides


def test_notebook_and_pdf_checks_in_one_result(graded):
    code, out, _ = graded
    assert code == 0
    alice = load_result(out / "alice")
    by_id = {c.id: c for c in alice.checks}
    assert list(by_id) == ["kl_divergence", "report.reparameterization.words", "report.reparameterization.concepts",
                           "report.reparameterization.references", "report.reparameterization.figures",
                           "report.kl.formulas", "report.results.numbers"]
    assert all(c.status == "passed" for c in alice.checks), [c.message for c in alice.checks if c.status != "passed"]
    assert (alice.score, alice.max_score) == (18.0, 18.0)
    assert alice.report.kind == "pdf" and alice.report.source.endswith("alice/report.pdf")
    question = alice.report.questions[0]
    assert question.where == ["page 1"] and question.figures == 1 and question.references_section
    assert ("author-year", "(Kingma and Welling, 2014)") in question.citations
    assert "123.4" in by_id["report.results.numbers"].message and "123.41" in by_id["report.results.numbers"].message
    page = (out / "alice" / "feedback.html").read_text()
    assert "Written answers" in page and "KL divergence to the standard normal prior" in page


def test_a_missing_figure_and_a_wrong_number_lose_points_until_the_instructor_overrides(graded):
    _, out, _ = graded
    bob = load_result(out / "bob")
    by_id = {c.id: c for c in bob.checks}
    assert by_id["report.reparameterization.figures"].status == "failed"
    numbers = by_id["report.results.numbers"]
    assert "does not match" in numbers.message
    assert (numbers.score, numbers.status, numbers.manual.suggested_score) == (1.0, "passed", 0.0)
    assert numbers.manual.comment == "his second run printed 123.4"
    assert bob.score == 17.0
    page = (out / "bob" / "feedback.html").read_text()
    assert "graded by hand" in page and "his second run printed 123.4" in page
    rows = {r["submission"]: r for r in csv.DictReader(open(out / "gradebook.csv"))}
    assert float(rows["bob"]["score"]) == 17.0


def test_editing_the_overrides_needs_no_regrading(graded, capsys):
    _, out, overrides = graded
    overrides.write_text("submission,check,score,comment\nbob,report.results.numbers,0,no: 150.02 is what ran\n")
    assert main(["grade", str(out.parent / "class"), "--rubric", str(RUBRIC), "--out", str(out),
                 "--overrides", str(overrides)]) == 0
    assert capsys.readouterr().out.count("(already graded)") == 2
    bob = load_result(out / "bob")
    assert bob.score == 16.0 and "no: 150.02 is what ran" in (out / "bob" / "feedback.html").read_text()


def test_a_changed_report_is_graded_again(graded, capsys):
    _, out, _ = graded
    shutil.copy(out.parent / "class" / "alice" / "report.pdf", out.parent / "alice_report_backup.pdf")
    write_report_pdf(out.parent / "class" / "alice" / "report.pdf", with_image=False)
    assert main(["grade", str(out.parent / "class"), "--rubric", str(RUBRIC), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "alice: 17/18 graded in" in printed and "bob: 16/18 graded (already graded)" in printed


def test_removing_an_override_restores_the_suggested_score_on_the_page(graded):
    _, out, _ = graded
    assert main(["grade", str(out.parent / "class"), "--rubric", str(RUBRIC), "--out", str(out)]) == 0
    bob = load_result(out / "bob")
    assert bob.score == 16.0 and all(c.manual is None for c in bob.checks)
    assert "graded by hand" not in (out / "bob" / "feedback.html").read_text()
