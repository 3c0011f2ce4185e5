"""Check a written report against the rubric's ``report:`` section.

    Document + ReportSpec ─locate─▶ Answer per question ─▶ words, concepts, citations, figures,
    formulas, claimed numbers ─▶ CheckResult per aspect (``report.<question>.<aspect>``)
                                                        + QuestionReport (the evidence)

Every score here is a suggestion: free text is finally judged by people, who override it in
the overrides file (:mod:`vaegrade.grader.publish.overrides`).
"""

from __future__ import annotations

from dataclasses import asdict

from vaegrade.grader.checks import scoring
from vaegrade.grader.report import answers, formulas
from vaegrade.grader.report.document import Document
from vaegrade.grader.report.locate import Answer, locate_all
from vaegrade.grader.report.meaning import MeaningUnavailable
from vaegrade.grader.report.spec import Question, ReportSpec
from vaegrade.grader.results import CheckResult, QuestionReport, ReportResult

MAX_TEXT = 4000


def check_report(spec: ReportSpec, document: Document, outputs: str | None, seed: int = 0,
                 figures_from: Document | None = None) -> tuple[list[CheckResult], ReportResult]:
    """Check every question of ``spec`` in ``document``.

    Args:
        outputs: the text the notebook printed (its stored outputs), for claimed numbers; None
            when there is no notebook: then the whole document is used, the claim blanked out.
        seed: seeds the random points formulas are compared at.
        figures_from: where to count images when it is not ``document`` itself (the executed
            notebook, whose image outputs the grader produced).
    Returns:
        One check per aspect the rubric names, in rubric order, and the findings.
    """
    checks, questions = [], []
    located = locate_all(document, spec.questions)
    for question in spec.questions:
        answer = located[question.id]
        if figures_from is not None and answer.status != "not found":
            answer.images = _images_near(figures_from, answer.where)
        found, report = _question(question, document, answer, outputs, seed)
        checks += found
        questions.append(report)
    return checks, ReportResult(source=document.path, kind=document.kind, questions=questions)


def _images_near(notebook: Document, where: list[str]) -> int:
    cells = {w.split(" output")[0] for w in where}
    return sum(b.images for b in notebook.blocks if b.where.split(" output")[0] in cells)


def _question(question: Question, document: Document, answer: Answer, outputs: str | None,
              seed: int) -> tuple[list[CheckResult], QuestionReport]:
    report = QuestionReport(id=question.id, title=question.title, status=answer.status, where=answer.where,
                            note=answer.note, text=answer.text[:MAX_TEXT])
    results = []
    points = question.points()

    def add(aspect: str, fraction: float, message: str) -> None:
        results.append(scoring.scored(question.check_id(aspect), question.check_title(aspect), points[aspect],
                                      fraction, message))

    if answer.status != "found":
        why = answer.note if answer.status == "not found" else f"no answer text follows the label ({answer.note})"
        for aspect in points:
            add(aspect, 0.0, f"{answer.status}: {why}")
        return results, report

    prose = answer.prose
    if question.answered:
        add("answered", 1.0, f"answered in {answers.place(answer.where)}")
    if question.words:
        limit = question.words.limit
        report.words, report.word_limit = answers.count_words(prose), limit
        within = report.words <= limit + question.words.grace
        add("words", 1.0 if within else 0.0, f"{report.words} words, limit {limit}" + ("" if within else ": over the limit"))
    if question.concepts:
        try:
            found = answers.find_concepts(prose, question.concepts)
        except MeaningUnavailable as exc:
            results.append(scoring.unevaluated(question.check_id("concepts"), question.check_title("concepts"),
                                               points["concepts"], str(exc)))
            found = []
        report.concepts = [asdict(f) for f in found]
        if found:
            got = sum(f.points for f in found if f.verdict == "credited")
            missing = [f.name + (f" (closest sentence scored {f.score:.2f})" if f.score is not None else "")
                       + (f": {f.reason}" if f.reason.startswith("it states") else "")
                       for f in found if f.verdict == "not credited"]
            pending = [f for f in found if f.verdict == "review"]
            add("concepts", got / points["concepts"],
                "found: " + ("; ".join(_quoted(f) for f in found if f.verdict == "credited") or "none")
                + (f". Missing: {'; '.join(missing)}" if missing else "")
                + (f". Awaiting your instructor's review ({sum(f.points for f in pending):g} point(s) held back): "
                   + "; ".join(f.name for f in pending) if pending else ""))
            if pending:
                results[-1].details["pending"] = [{"concept": f.name, "points": f.points, "sentence": f.sentence,
                                                   "score": f.score, "reason": f.reason} for f in pending]
    if question.references:
        _references(question, document, prose, report, add)
    if question.figures:
        if not document.holds_images:
            results.append(scoring.unevaluated(question.check_id("figures"), question.check_title("figures"),
                                               points["figures"], "a plain-text report cannot hold images: check by hand",
                                               "skipped"))
        else:
            report.figures = answer.images
            need = question.figures.minimum
            add("figures", min(answer.images / need, 1.0),
                f"{answer.images} image(s) in {answers.place(answer.where)}, {need} required")
    if question.formulas:
        found = [formulas.judge(f.name, f.reference, f.symbols, answer.text, f.lhs, f.domain, seed) for f in question.formulas]
        report.formulas = [asdict(f) for f in found]
        got = sum(spec.points * f.fraction for spec, f in zip(question.formulas, found))
        add("formulas", got / points["formulas"], "; ".join(f"{f.name}: {f.verdict} \u2014 {f.message}" for f in found))
    if question.numbers:
        source = "the notebook's outputs" if outputs is not None else "the document's other lines"
        found = [answers.check_number(prose, document.text if outputs is None else outputs, n, source)
                 for n in question.numbers]
        report.numbers = [asdict(f) for f in found]
        got = sum(f.points for f in found if f.holds)
        ordered = sorted(found, key=lambda f: f.holds)  # the numbers that do not match first
        add("numbers", got / points["numbers"], "; ".join(f"{f.name}: {f.message}" for f in ordered))
    return results, report


def _quoted(finding: answers.ConceptFinding) -> str:
    how = f", meaning score {finding.score:.2f}" if finding.score is not None else ""
    return f"{finding.name} (\u201c{finding.matched}\u201d{how})"


def _references(question: Question, document: Document, prose: str, report: QuestionReport, add) -> None:  # noqa: ANN001
    spec = question.references
    report.citations = answers.find_citations(prose)
    report.dead_links = answers.dead_links(prose)
    report.references_section = answers.has_references_section(document)
    count = len(report.citations)
    fraction = min(count / spec.minimum, 1.0) * (0.5 if spec.section and not report.references_section else 1.0)
    message = f"{count} citation(s)" + (f": {', '.join(text for _, text in report.citations)}" if count else "")
    message += f", {spec.minimum} required"
    if spec.section:
        message += "; a references section" + (" is present" if report.references_section else " is missing")
    if report.dead_links:
        message += f"; links without a target: {', '.join(report.dead_links)}"
    add("references", fraction, message)
