"""Report checking, piece by piece: formulas, word counts, location, citations, PDFs, overrides."""

import nbformat
import pytest

from tests.conftest import ROOT
from vaegrade.grader.errors import ReportError, RubricError
from vaegrade.grader.publish.overrides import apply_overrides, load_overrides
from vaegrade.grader.report import answers, formulas
from vaegrade.grader.report.document import from_markdown, from_notebook, read_report
from vaegrade.grader.report.locate import locate_all
from vaegrade.grader.report.spec import ClaimedNumber, Locate, Question
from vaegrade.grader.results import CheckResult, SubmissionResult
from vaegrade.grader.rubric.schema import load_rubric

RUBRIC = ROOT / "rubrics" / "reports" / "vad_distributions.yaml"


def test_a_right_final_expression_with_posterior_and_prior_stated_the_wrong_way_round_gets_half():
    text = (r"Posterior: $q(z) \sim \text{Laplace}(0, 1)$. Prior: $p(z) \sim \text{Laplace}(\mu, b)$. "
            r"$$D_{KL}(q \| p) = -\log b + |\mu| + b e^{-|\mu| / b} - 1$$")
    finding = formulas.judge("kl", "kl_laplace_std", {r"\mu": "loc", "b": "scale"}, text, lhs="D_")
    assert (finding.verdict, finding.roles, finding.fraction) == ("holds", "swapped", 0.5)
    right = text.replace("Posterior", "P").replace("Prior", "Posterior").replace("P:", "Prior:")
    assert formulas.judge("kl", "kl_laplace_std", {r"\mu": "loc", "b": "scale"}, right, lhs="D_").fraction == 1.0


@pytest.mark.parametrize("latex,verdict", [
    (r"\frac{1}{2}(\mu^2 + \sigma^2 - 1 - \log \sigma^2)", "holds"),
    (r"\frac{1}{2}(1 + \log \sigma^2 - \mu^2 - \sigma^2)", "sign"),
    (r"\mu^2 + \sigma^2 - 1 - \log \sigma^2", "differs"),   # the missing 1/2
    (r"\frac{1}{2}(\mu^2 + \sigma - 1 - \log \sigma)", "differs"),  # sigma taken for the variance
])
def test_gaussian_kl_verdicts_with_both_values(latex, verdict):
    finding = formulas.judge("kl", "kl_normal_std", {r"\mu": "mu", r"\sigma": "exp(logvar / 2)"}, f"$$KL = {latex}$$")
    assert finding.verdict == verdict
    if verdict == "differs":
        at = finding.candidates[0]
        assert at.student != pytest.approx(at.reference) and "yours" in finding.message


def test_no_comparable_formula_is_missing_not_wrong():
    finding = formulas.judge("kl", "kl_exponential", {r"\lambda_q": "rate", r"\lambda_p": "prior_rate"},
                             r"The KL is $\mathbb{E}_q[\log q - \log p]$.")
    assert finding.verdict == "missing" and finding.fraction == 0.0


def test_word_count_excludes_code_and_display_math_counts_inline_math_once():
    prose = "With $\\beta=0$ the KL term is ignored, so it's a well-tuned AE.\n$$x = y + z$$\n`code here` - 1. done"
    assert answers.count_words(prose) == 13


def located(document, **labels):
    """Each question's answer, for questions given as id=label or id=Locate."""
    questions = [Question(id=qid, title=qid, locate=how if isinstance(how, Locate) else Locate(label=how))
                 for qid, how in labels.items()]
    return locate_all(document, questions)


def test_not_found_and_empty_are_told_apart():
    document = from_markdown("# Q1\nAnswer:\n\n# Q2\nAnswer: the samples are blurry.\n", "r.md")
    found = located(document, q1=Locate(label="^# Q1", answer="Answer:"), q2=Locate(label="^# Q2", answer="Answer:"),
                    q3="^# Q3")
    assert found["q1"].status == "empty"
    assert (found["q2"].status, found["q2"].prose) == ("found", "the samples are blurry.")
    assert found["q3"].status == "not found"


def test_tagged_notebook_cell_and_its_figures():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("The samples are blurry.", metadata={"tags": ["answer-1"]}),
                nbformat.v4.new_code_cell("plot()", metadata={"tags": ["answer-1"]}, outputs=[
                    nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})])]
    answer = located(from_notebook(nb, "nb.ipynb"), a=Locate(tag="answer-1"))["a"]
    assert (answer.status, answer.prose, answer.images) == ("found", "The samples are blurry.", 1)


def test_citation_kinds():
    text = ("As shown in [2, 3] and by Kingma and Welling (2014), see (Higgins et al., 2017), doi 10.1000/xyz123, "
            "arXiv:1312.6114 and https://example.org/vae. In 2019 nothing.")
    kinds = sorted(kind for kind, _ in answers.find_citations(text))
    assert kinds == ["arxiv", "author-year", "author-year", "doi", "numbered", "url"]


def test_several_author_year_citations_in_one_parenthesis_count_each():
    found = answers.find_citations("VAEs generate (Kingma and Welling, 2014; Doersch, 2016).")
    assert found == [("author-year", "(Kingma and Welling, 2014)"), ("author-year", "(Doersch, 2016)")]


def test_claimed_number_within_the_rounding_of_the_quote():
    spec = load_rubric(RUBRIC).report.questions[1].numbers[0].model_copy(
        update={"claim": r"test loss of (\d+\.\d+)", "output": r"Test Loss: (\d+\.\d+)", "tolerance": 0.0})
    assert answers.check_number("a test loss of 0.127", "Test Loss: 0.1270", spec, "outputs").holds
    assert not answers.check_number("a test loss of 0.120", "Test Loss: 0.1270", spec, "outputs").holds


@pytest.mark.parametrize("claim,output,quoted,printed,holds", [
    ("trained in {duration}", r"Training time: {number}", "trained in 2m 41.4s", "Training time: 161.43", True),
    ("trained in {duration}", r"Training time: {number}", "trained in 3 min 48 s", "Training time: 228.3", True),
    ("trained in {duration}", r"Training time: {number}", "trained in 3 min 48 s", "Training time: 238.0", False),
    ("took {duration}", r"took {duration}", "took 1 h 5 min", "took 3900s", True),
    ("accuracy of {percent}", r"acc={number}", "accuracy of 97.4%", "acc=0.9741", True),
    ("accuracy of {percent}", r"acc={number}", "accuracy of 97.4%", "acc=0.9641", False),
    ("a KL of {number}", r"kl {number}", "a KL of 1.2 × 10^-3", "kl 0.00121", True),
    ("a KL of {number}", r"kl {number}", "a KL of 1.2·10⁻³", "kl 1.26e-03", False),
    ("{number} parameters", r"Total params: {number}", "1,234,567 parameters", "Total params: 1234567", True),
])
def test_quoted_numbers_as_people_write_them(claim, output, quoted, printed, holds):
    spec = load_rubric(RUBRIC).report.questions[1].numbers[0].model_copy(
        update={"claim": claim, "output": output, "tolerance": 0.0})
    finding = answers.check_number(quoted, printed, spec, "outputs")
    assert finding.holds is holds, finding.message


def test_a_claim_pattern_needs_exactly_one_number():
    with pytest.raises(ValueError, match="exactly one group"):
        ClaimedNumber(name="n", claim="{number} of {number}", output="{number}", points=1)
    assert ClaimedNumber(name="n", claim="in {duration}", output=r"time: (\d+)", points=1).claim == "in {duration}"


def test_unreadable_reports_say_why(tmp_path):
    garbage = tmp_path / "report.pdf"
    garbage.write_bytes(b"%PDF-1.4 this is not really a pdf")
    with pytest.raises(ReportError, match="cannot read the PDF|no text layer"):
        read_report(garbage)
    with pytest.raises(ReportError, match="not a report"):
        read_report(tmp_path / "report.docx")


def test_rubric_typos_are_caught_with_their_line(tmp_path):
    text = RUBRIC.read_text()
    for broken, message in [(text.replace("reference: laplace_icdf", "reference: laplace_icfd", 1), "unknown reference"),
                            (text.replace("'^[xz]$'", "'^[xz$'", 1), "not a valid regular expression"),
                            (text.replace("{'\\mu': loc", "{'\\mu': location", 1), "not parameters")]:
        path = tmp_path / "r.yaml"
        path.write_text(broken)
        with pytest.raises(RubricError, match=message) as info:
            load_rubric(path)
        assert info.value.line is not None


def test_overrides_validate_and_apply(tmp_path):
    rubric = load_rubric(RUBRIC)
    path = tmp_path / "overrides.csv"
    path.write_text("submission,check,score,comment\nalice,report.laplace_kl.formulas,1.5,right idea\n")
    overrides = load_overrides(path, rubric)
    result = SubmissionResult(submission="alice", rubric="r", score=0, max_score=3, status="graded", checks=[
        CheckResult(id="report.laplace_kl.formulas", title="t", status="failed", score=0, max_score=3, message="m")])
    merged = apply_overrides(result, overrides)
    check = merged.checks[0]
    assert (merged.score, check.status, check.manual.suggested_score, check.manual.comment) == (1.5, "partial", 0, "right idea")
    for row, message in [("alice,report.nope.formulas,1,x", "no check"), ("alice,report.laplace_kl.formulas,9,x", "outside"),
                         ("alice,report.laplace_kl.formulas,lots,x", "not a number")]:
        path.write_text("submission,check,score,comment\n" + row + "\n")
        with pytest.raises(ReportError, match=f"line 2: .*{message}"):
            load_overrides(path, rubric)
