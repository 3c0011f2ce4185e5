"""Locating answers in documents built to contain the traps real reports hold: emphasis inside a
label, a table of contents, bold-label questions without headings, numbered plain-line section
titles, a restated list of the questions, an answer inside the question's own cell, and a PDF
whose words are hyphenated across lines."""

import nbformat

from tests.unit.report.report_pdf import write_report_pdf
from vaegrade.grader.report.answers import find_concepts, has_references_section
from vaegrade.grader.report.document import from_markdown, from_notebook, read_report
from vaegrade.grader.report.locate import locate_all, normalise
from vaegrade.grader.report.spec import Concept, Locate, Question


def located(document, **labels):
    questions = [Question(id=qid, title=qid, locate=how if isinstance(how, Locate) else Locate(label=how))
                 for qid, how in labels.items()]
    return locate_all(document, questions)


def test_normalising_keeps_the_way_back_to_the_document():
    text = "**P1-**4 uses the re\ufb01ned recon-\nstruction \u2013 see [the paper](http://x.org) for P2 - 3"
    normal, origin = normalise(text)
    assert normal == "P1-4 uses the refined reconstruction - see the paper for P2-3"
    assert text[origin[normal.index("uses")]:].startswith("uses") and len(origin) == len(normal) + 1
    assert text[origin[normal.index("paper")]:].startswith("paper")


def test_a_label_split_by_emphasis_is_found():
    document = from_markdown("## **P1-**4\n\nThe KL term pulls the posterior toward the prior, so samples look like "
                             "digits.\n\n## P1-5\n\nInterpolations are smooth in the VAE's latent space.\n", "r.md")
    found = located(document, p14=r"P1-4", p15=r"P1-5")
    assert found["p14"].status == "found" and found["p14"].prose.startswith("The KL term pulls")
    assert "Interpolations" not in found["p14"].prose and found["p15"].prose.startswith("Interpolations")


def test_a_table_of_contents_is_skipped_for_the_occurrence_followed_by_the_answer():
    document = from_markdown(
        "# Report\n\nContents\n\nReparameterization trick ........ 2\nBeta sweep ........ 3\n\n"
        "# Reparameterization trick\n\nSampling is not differentiable, so we write z = mu + sigma * eps and the "
        "gradient flows to mu and sigma through the deterministic path.\n\n"
        "# Beta sweep\n\nA larger beta lowers the KL term and blurs the reconstructions, as the figures show.\n", "r.md")
    found = located(document, trick=r"reparameteri[sz]ation trick", beta=r"beta sweep")
    assert found["trick"].prose.startswith("Sampling is not differentiable")
    assert "2 occurrences" in found["trick"].note and "line 5" in found["trick"].note  # says what it skipped
    assert found["beta"].prose.startswith("A larger beta")


def test_bold_label_questions_end_where_the_next_question_starts():
    document = from_markdown(
        "**Q1.** Why do AE samples from the prior look poor?\n"
        "The AE's latent space has holes: codes drawn from N(0, I) fall where no training image was encoded.\n"
        "**Q2.** What does beta = 0 do?\n"
        "It removes the KL term, so the VAE becomes a plain autoencoder with poor samples.\n", "r.txt", "text")
    found = located(document, q1=r"Q1\.", q2=r"Q2\.")
    assert found["q1"].prose.startswith("Why do AE samples")
    assert "beta" not in found["q1"].prose and found["q2"].prose.endswith("poor samples.")


def test_numbered_plain_line_titles_are_headings_and_a_numbered_references_section_counts():
    text = ("Contents\n1 Introduction 1\n1.3 Loss Function 2\n2.1 Inpainting 3\n5 References 4\n\n"
            "1 Introduction\nWe train a VAE on MNIST and study its latent space in several experiments below.\n"
            "1.3 Loss Function\nThe loss is the reconstruction term plus the KL divergence between the posterior and "
            "the standard normal prior.\n2.1 Inpainting\nWe mask the bottom half and optimise the code to fill it in "
            "from the visible pixels.\n5 References\n[1] Kingma and Welling, 2014.\n")
    document = from_markdown(text, "r.txt", "text")
    found = located(document, loss=r"loss function", inpaint=r"inpainting")
    assert found["loss"].prose.startswith("The loss is the reconstruction term")
    assert found["loss"].prose.endswith("standard normal prior.")  # the next numbered title ends it
    assert found["inpaint"].prose.endswith("visible pixels.")
    concepts = [Concept(name="KL term", patterns=[r"\bKL\b"], points=1)]
    assert find_concepts(found["loss"].prose, concepts)[0].matched == "KL"
    assert has_references_section(document)


def test_a_restated_question_list_does_not_take_the_answers_place():
    document = from_markdown(
        "### Inline Question: What can you observe when setting beta = 0?\n\n"
        "With beta = 0 the reconstructions are sharp but samples from the prior are not digits at all.\n\n"
        "### Submission PDF\n\n- Inline Question: What can you observe when setting beta = 0?\n"
        "- Inline Question: Characterize a well-tuned VAE\n\n"
        "### Inline Question: Characterize a well-tuned VAE\n\n"
        "Reconstructions close to the inputs and diverse samples that look like real digits from every class.\n", "r.md")
    found = located(document, zero=r"setting beta = 0", tuned=r"characterize a well-tuned VAE")
    assert found["zero"].prose.startswith("With beta = 0") and found["zero"].where == ["line 3"]
    assert found["tuned"].prose.startswith("Reconstructions close") and found["tuned"].where == ["line 12"]
    assert "2 occurrences" in found["tuned"].note and "skipped line 7" in found["tuned"].note


def test_an_answer_inside_the_questions_own_cell_after_answer():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("## Inline Question: What can you observe when setting $\\beta = 0$?\n\n"
                                      ">**Answer:** The samples are noisy blobs while reconstructions are sharp."),
        nbformat.v4.new_code_cell("train(beta=10)"),
        nbformat.v4.new_markdown_cell("## Inline Question: What can you observe when setting $\\beta = 10$?\n\n"
                                      "> **Answer**: Everything is blurry because the KL term dominates."),
    ]
    found = located(from_notebook(nb, "nb.ipynb"), zero=r"setting \$\\beta = 0\$", ten=r"setting \$\\beta = 10\$")
    assert found["zero"].prose.endswith("reconstructions are sharp.") and found["zero"].where[0] == "cell 1"
    assert found["ten"].prose.endswith("the KL term dominates.") and "Answer" not in found["ten"].prose


def test_a_pdf_with_hyphenated_words_and_ligatures(tmp_path):
    pages = [["Question 1: Why do VAE reconstructions look blurry?",
              "Answer: The Gaussian decoder averages over plausible images, so the recon-",
              "struction is a smooth mean; the fine strokes are lost (Kingma and Welling, 2014).",
              "Question 2: What is posterior collapse?",
              "Answer: The KL term wins and the encoder output stops depending on x."]]
    document = read_report(write_report_pdf(tmp_path / "report.pdf", with_image=False, pages=pages))
    found = located(document, q1=r"Question 1", q2=r"Question 2")
    concepts = [Concept(name="reconstruction is an average", patterns=[r"reconstruction is a smooth mean"], points=1)]
    assert find_concepts(found["q1"].prose, concepts)[0].matched == "reconstruction is a smooth mean"
    assert "posterior collapse" not in found["q1"].prose and found["q2"].prose.startswith("The KL term wins")


def test_the_csci566_rubric_on_the_course_notebook_layout():
    """The course's own layout: each answer in the question's cell as ``>**Answer:**``, a list
    of the questions at the top and the handout's "Submission PDF" checklist near the end
    repeating their titles. Every answer is found in its own cell, scoring as the plain layout does."""
    from tests.conftest import ROOT
    from vaegrade.grader.report.checker import check_report
    from vaegrade.grader.rubric.schema import load_rubric

    rubric = load_rubric(ROOT / "rubrics" / "csci566_vae.yaml")
    plain = nbformat.read(ROOT / "submissions" / "csci566_vae" / "samples" / "reference_solution.ipynb", as_version=4)
    course = nbformat.from_dict(plain)
    titles = []
    for cell in course.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("#### Inline Question"):
            titles.append(cell.source.splitlines()[0].lstrip("# "))
            cell.source = cell.source.replace("\n\nAnswer: ", "\n\n>**Answer:** ", 1)
    listing = "\n".join(f"- {title}" for title in titles)
    course.cells.insert(0, nbformat.v4.new_markdown_cell(f"# Problem 1\n\nQuestions in this problem:\n\n{listing}"))
    course.cells.append(nbformat.v4.new_markdown_cell(
        f"## Submission PDF\n\nYour PDF must contain the figures and your answers to:\n\n{listing}\n\n"
        "Export the notebook with File > Save and Export Notebook As > PDF, then upload it to Gradescope."))
    expected, _ = check_report(rubric.report, from_notebook(plain, "plain.ipynb"), None)
    checks, report = check_report(rubric.report, from_notebook(course, "course.ipynb"), None)
    assert len(titles) == 5
    assert [(c.id, c.score) for c in checks] == [(c.id, c.score) for c in expected]
    for question in report.questions:
        assert question.where[0] not in ("cell 1", f"cell {len(course.cells)}"), (question.id, question.note)
        assert "occurrences" in question.note and "answer marker" in question.note


def test_question_numbers_match_however_they_are_spelled():
    document = from_markdown(
        "**Q1.** The prior samples are blobs because the AE's codes do not follow N(0, I) at all.\n\n"
        "Question 2: With beta = 10 the KL term dominates and every reconstruction is blurred.\n\n"
        "Problem 1.4 - Interpolations in the VAE change smoothly from one digit to the other one.\n", "r.md")
    found = located(document, first=r"Question 1", second=r"\bQ2\b", fourth=r"P1-4")
    assert found["first"].prose.startswith("The prior samples")
    assert "beta = 10" not in found["first"].prose
    assert found["second"].prose.startswith("With beta = 10")
    assert found["fourth"].prose == "Interpolations in the VAE change smoothly from one digit to the other one."


def test_a_contents_line_followed_by_a_long_attestation_loses_to_the_heading():
    document = from_markdown(
        "# Lab report\n\n## Contents\n\n1. Reconstruction Results 3\n2. Additional Discussion Questions 5\n\n"
        "I certify that this report is entirely my own work and that I have cited every source I used in preparing it.\n\n"
        "## 1. Reconstruction Results\n\nThe VAE reconstructs held-out digits with a BCE of 96 nats per image.\n\n"
        "#### 2. Additional Discussion Questions\n\nA larger beta trades reconstruction quality for a smoother latent space "
        "(Higgins et al., 2017; Kingma and Welling, 2014; Burgess et al., 2018; Alemi et al., 2018).\n", "r.md")
    found = located(document, discussion=r"Additional Discussion Questions", results=r"Reconstruction Results")
    assert found["discussion"].prose.startswith("A larger beta trades") and found["discussion"].where == ["line 16"]
    note = found["discussion"].note
    assert note.startswith("label matched in line 14, a heading") and "(a contents line)" in note
    assert found["results"].prose.startswith("The VAE reconstructs")


def test_questions_restated_in_an_appendix_do_not_take_the_answers_place():
    document = from_markdown(
        "## Q1. Why the reparameterization trick?\n\nSampling is not differentiable, so the noise is drawn outside and "
        "z = mu + sigma * eps lets the gradient reach mu and sigma.\n\n"
        "## Q2. What does beta do?\n\nA larger beta weighs the KL term more, so samples improve while reconstructions blur.\n\n"
        "## Appendix: the questions\n\nQ1. Why the reparameterization trick?\nQ2. What does beta do?\n"
        "These were the questions of the assignment as handed out to every student this term.\n", "r.md")
    found = located(document, q1=r"Q1\.", q2=r"Q2\.")
    assert found["q1"].prose.startswith("Sampling is not differentiable")
    assert found["q2"].prose.startswith("A larger beta") and "list of the questions" in found["q2"].note


def test_a_checklist_repeating_the_titles_after_the_answers_is_not_an_answer():
    document = from_markdown(
        "Interpolation\n\nThe decoded path between two codes changes smoothly from a 3 into an 8, with no broken digits.\n\n"
        "Checklist\n\n- [x] Interpolation: path decoded, figure saved and described in two or more sentences of text\n"
        "- [x] Inpainting\n", "r.md")
    found = located(document, interpolation=r"Interpolation")
    assert found["interpolation"].prose.startswith("The decoded path") and "a checklist line" in found["interpolation"].note
