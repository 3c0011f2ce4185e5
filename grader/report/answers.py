"""Reading a located answer (see :mod:`vaegrade.grader.report.locate`): words, concepts, citations, figures, numbers.

All functions are pure (text in, findings out); :mod:`vaegrade.grader.report.checker` turns findings
into scored checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vaegrade.grader.report.document import Document
from vaegrade.grader.report.locate import normalise
from vaegrade.grader.report.quantities import agree, expand, parse
from vaegrade.grader.report.spec import FLAGS, ClaimedNumber, Concept

_DISPLAY_MATH = re.compile(r"\$\$.+?\$\$", re.DOTALL)
_INLINE_MATH = re.compile(r"\$[^$\n]+?\$")
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")
_WORD = re.compile(r"[^\W_]+(?:['’.,\-][^\W_]+)*")


def place(where: list[str]) -> str:
    """``['line 40', 'line 42', 'line 45']`` -> ``line 40 to line 45``."""
    if not where:
        return "the document"
    return where[0] if len(where) == 1 else f"{where[0]} to {where[-1]}"


def readable(prose: str) -> str:
    """Prose as a reader sees it: code and display formulas removed, inline formulas kept as
    one token each, Markdown links reduced to their text, emphasis and list marks dropped."""
    prose = _DISPLAY_MATH.sub(" ", prose)
    prose = _INLINE_CODE.sub(" ", prose)
    prose = _INLINE_MATH.sub(" FORMULA ", prose)
    prose = _LINK.sub(lambda m: m.group(1), prose)
    prose = re.sub(r"<[^>]+>", " ", prose)
    return re.sub(r"^\s*(?:[-*+]\s+)?(?:\(?[0-9ivx]{1,4}[.)]\s+|[a-h][.)]\s+)?", "", prose, flags=re.MULTILINE)


def count_words(prose: str) -> int:
    """Words as a person counts them: runs of letters and digits (``don't``, ``well-tuned``,
    ``0.1`` are one word each); each inline formula ``$...$`` is one word; display formulas
    ``$$...$$``, code, Markdown syntax, list numbering and HTML tags are not counted."""
    return len(_WORD.findall(readable(prose)))


@dataclass
class ConceptFinding:
    """One concept judged in one answer: ``verdict`` is ``credited``, ``not credited`` or
    ``review`` (left to the instructor: :mod:`vaegrade.grader.publish.reviews`), ``reason`` says why;
    ``matched`` is the phrase a pattern matched or the sentence that states the meaning,
    ``sentence`` the whole sentence it is in (quoted for review), ``score`` the meaning score of the
    answer's best sentence when meaning was checked."""

    name: str
    points: float
    matched: str | None
    score: float | None = None
    verdict: str = "not credited"
    reason: str = ""
    sentence: str = ""


#: Words that turn a sentence's claim around or hedge it: a pattern found in such a sentence, or a
#: meaning stated in one, goes to the instructor (``not``, ``no longer``, ``fails to``, ``rather than``, ``might``).
_DOUBT = re.compile(r"\b(?:not|never|no\s+longer|fails?\s+to|failed\s+to|rather\s+than|instead\s+of|unlike|hardly|barely"
                    r"|might|may|perhaps|possibly|maybe|unclear|unsure|cannot)\b|n['\u2019]t\b", re.IGNORECASE)


def find_concepts(prose: str, concepts: list[Concept]) -> list[ConceptFinding]:
    """Judge each concept in the answer, with one of three outcomes.

    - **credited**: a pattern matches in a sentence that neither negates nor hedges it, or (with
      ``meaning``) the answer's best sentence scores at least the review band's top
      (:data:`vaegrade.grader.report.meaning.REVIEW_BAND`), plainly;
    - **not credited**: nothing matches and the best sentence scores below the band's bottom (or
      there is no meaning to score), or the sentence is clearly closer to one of the concept's
      common wrong claims (``not``) than to the concept;
    - **review**: everything between: a match in a negated or hedged sentence (``not``, ``no
      longer``, ``fails to``, ``rather than``), a meaning score inside the band, a sentence that
      may state a wrong claim. The instructor decides; the points are held back until then.

    Raises:
        vaegrade.grader.report.meaning.MeaningUnavailable: a concept has ``meaning`` or ``not``
            and the model is not installed.
    """
    text = " ".join(normalise(_INLINE_CODE.sub(" ", prose))[0].split())
    readable_text = normalise(readable(prose))[0]
    return [_judge(concept, text, readable_text) for concept in concepts]


def _judge(concept: Concept, text: str, readable_text: str) -> ConceptFinding:
    finding = ConceptFinding(concept.name, concept.points, None)
    matches = _pattern_matches(text, concept.patterns)
    if matches:
        doubts = [_doubt(_clause(sentence, phrase), phrase, pattern) for phrase, sentence, pattern in matches]
        plain = next((i for i, doubt in enumerate(doubts) if doubt is None), None)  # a clean statement anywhere wins
        phrase, sentence, _ = matches[0 if plain is None else plain]
        finding.matched, finding.sentence = phrase, sentence
        if plain is None:
            finding.verdict, finding.reason = "review", f"the clause that matches negates or hedges it (\u201c{doubts[0]}\u201d)"
        else:
            finding.verdict, finding.reason = "credited", "a pattern matches"
        if finding.verdict == "credited" and concept.meaning:
            from vaegrade.grader.report.meaning import REVIEW_BAND, similarity
            low = (concept.review_band or REVIEW_BAND)[0]
            score = max(similarity(sentence, concept.meaning))
            finding.score = round(score, 3)
            if score < low:  # the words match, the sentence reads unlike the concept
                finding.verdict, finding.reason = "review", f"a pattern matches, but the sentence's meaning score is {score:.2f} < {low:g}"
    elif concept.meaning:
        from vaegrade.grader.report.meaning import REVIEW_BAND, best_match
        best = best_match(readable_text, concept.meaning)
        low, high = concept.review_band or REVIEW_BAND
        if best is not None:
            finding.score, finding.sentence = round(best.score, 3), best.sentence
            if best.score >= high and not _DOUBT.search(best.sentence):
                finding.matched, finding.verdict, finding.reason = best.sentence, "credited", f"meaning score {best.score:.2f} >= {high:g}"
            elif best.score >= low:
                finding.matched, finding.verdict = best.sentence, "review"
                finding.reason = (f"meaning score {best.score:.2f}, between {low:g} and {high:g}" if best.score < high
                                  else "the sentence that states it is negated or hedged")
            else:
                finding.reason = f"meaning score {best.score:.2f} < {low:g}"
        else:
            finding.reason = "no sentence to score"
    else:
        finding.reason = "no pattern matches"
    if concept.wrong and finding.verdict != "not credited" and finding.sentence:
        _against_wrong_claims(finding, concept)
    return finding


def _against_wrong_claims(finding: ConceptFinding, concept: Concept) -> None:
    """A sentence closer to one of the concept's common wrong claims than to the concept: not
    credited when it states the wrong claim plainly (its score against it at least the review
    band's top), else sent to review."""
    from vaegrade.grader.report.meaning import REVIEW_BAND, similarity
    high = (concept.review_band or REVIEW_BAND)[1]
    right = max(similarity(finding.sentence, concept.meaning or [concept.name]))
    wrong = similarity(finding.sentence, concept.wrong)
    worst = max(range(len(wrong)), key=lambda i: wrong[i])
    if wrong[worst] <= right:
        return
    claim = concept.wrong[worst]
    if wrong[worst] >= high:
        finding.verdict, finding.reason = "not credited", f"it states the common wrong claim “{claim}” ({wrong[worst]:.2f} against {right:.2f})"
        finding.matched = None
    else:
        finding.verdict, finding.reason = "review", f"closer to the wrong claim “{claim}” ({wrong[worst]:.2f}) than to the concept ({right:.2f})"


def _doubt(clause: str, phrase: str, pattern: str) -> str | None:
    """The first word of ``clause`` that negates or hedges it: outside the matched ``phrase``
    any, inside it one the pattern does not itself spell (``(not|n.t) realistic`` says the
    negation on purpose; ``KL[^.]{0,30}ignor`` matching "KL term is not ignored" does not)."""
    start = clause.find(phrase)
    for found in _DOUBT.finditer(clause):
        inside = start <= found.start() < start + len(phrase) if start >= 0 else False
        word = found.group().lower().replace("\u2019", "'")
        spelled = [rf"\b{re.escape(word)}\b"] + ([r"n.t\b"] if word == "n't" else [])  # n't, or n.t in the pattern
        if not inside or not any(re.search(spelling, pattern.lower()) for spelling in spelled):
            return found.group()
    return None


#: Where a sentence's clauses part: punctuation, and the conjunctions that turn to another claim.
_CLAUSE_BREAK = re.compile(r"[,:;()]|\b(?:but|however|whereas|while|although|though|yet)\b", re.IGNORECASE)


def _clause(sentence: str, phrase: str) -> str:
    """The clause of ``sentence`` that holds ``phrase`` (the whole phrase, even across a break)."""
    start = sentence.find(phrase)
    if start < 0:
        return sentence
    breaks = list(_CLAUSE_BREAK.finditer(sentence))
    before = max((m.end() for m in breaks if m.end() <= start), default=0)
    after = min((m.start() for m in breaks if m.start() >= start + len(phrase)), default=len(sentence))
    return sentence[before:after]


def _pattern_matches(text: str, patterns: list[str]) -> list[tuple[str, str, str]]:
    """Every match of every pattern, in the patterns' order: the phrase (its last word whole),
    the sentence it is in, and the pattern."""
    found = []
    for pattern in patterns:
        for match in re.finditer(pattern, text, FLAGS):
            if match.end() == match.start():
                continue
            end = match.end()
            while end < len(text) and (text[end].isalnum() or text[end] == "-"):
                end += 1  # show the whole last word ("blur" -> "blurred")
            before = max(text.rfind(mark, 0, match.start()) for mark in ".!?;") + 1
            after = min((i for i in (text.find(mark, end) for mark in ".!?;") if i >= 0), default=len(text))
            found.append((text[match.start():end], text[before:after + 1].strip(), pattern))
    return found


_AUTHOR = r"[A-Z][\w\-]+(?:\s+et\s+al\.?|\s+(?:and|&)\s+[A-Z][\w\-]+)?"
_YEAR = r"(?:19|20)\d\d[a-z]?"
CITATIONS = {
    "numbered": re.compile(r"\[\d{1,3}(?:\s*[,\u2013-]\s*\d{1,3})*\]"),
    # Kingma and Welling (2014), or (Kingma and Welling, 2014; Doersch, 2016): one citation per author
    "author-year": re.compile(rf"\b{_AUTHOR},?\s*\({_YEAR}\)|\({_AUTHOR},?\s+{_YEAR}(?:;\s*{_AUTHOR},?\s+{_YEAR})*\)"),
    "doi": re.compile(r"\b10\.\d{4,9}/[^\s)\]]+"),
    "arxiv": re.compile(r"\barXiv:\s*\d{4}\.\d{4,5}(?:v\d+)?", re.IGNORECASE),
    "url": re.compile(r"https?://[^\s)\]]+|\bwww\.[^\s)\]]+"),
}
_SECTION = re.compile(r"^\W*(?:\d{1,2}(?:\.\d{1,2})*\.?\s+)?(?:references|bibliography|works cited|sources|literature)\W*$",
                      re.IGNORECASE | re.MULTILINE)  # also numbered, as PDF exports print it: 5 References


def find_citations(prose: str) -> list[tuple[str, str]]:
    """(kind, text) of each citation in the answer, formulas and code excluded."""
    text = _INLINE_CODE.sub(" ", _INLINE_MATH.sub(" ", _DISPLAY_MATH.sub(" ", prose)))
    found = []
    for kind, pattern in CITATIONS.items():
        for match in pattern.finditer(text):
            cited = match.group(0)
            items = [f"({item.strip()})" for item in cited.strip("()").split(";")] if ";" in cited else [cited]
            found += [(kind, item.rstrip(".,;")) for item in items]
    return found


def has_references_section(document: Document) -> bool:
    return any(block.kind == "prose" and _SECTION.search(block.text) for block in document.blocks)


def dead_links(prose: str) -> list[str]:
    """Markdown links whose target was lost (``[here](#)``): cited, but to nothing checkable."""
    return [m.group(0) for m in _LINK.finditer(prose) if m.group(2) in ("", "#")]


@dataclass
class NumberFinding:
    name: str
    points: float
    claimed: float | None
    actual: float | None
    holds: bool
    message: str


def check_number(prose: str, outputs: str, spec: ClaimedNumber, source: str) -> NumberFinding:
    """Compare the number the answer quotes with the one the notebook printed.

    ``outputs``: the notebook's printed text, or the whole document when the report is the
    notebook's own text (the claim's own words are blanked out of it first). Numbers are read
    as people write them (:mod:`vaegrade.grader.report.quantities`: ``1,234.5``, ``1.2e-3``, ``12.5%``,
    ``2m 41.4s``); equal when within ``spec.tolerance`` (relative) or within half a unit of the
    quoted number's last digit (a claim of 0.127 covers 0.1265 to 0.1275).
    """
    claim = re.search(expand(spec.claim), prose, FLAGS)
    if claim is None:
        return NumberFinding(spec.name, spec.points, None, None, False, "the answer quotes no such number")
    printed = re.findall(expand(spec.output), outputs.replace(claim.group(0), " "), FLAGS)  # never the claim itself
    quoted = parse(claim.group(1))
    if not printed:
        return NumberFinding(spec.name, spec.points, quoted and quoted.value, None, False,
                             f"quotes {claim.group(1)}, but {source} show nothing matching `{spec.output}`")
    shown = printed[0 if spec.which == "first" else -1]
    actual = parse(shown)
    if quoted is None or actual is None:
        return NumberFinding(spec.name, spec.points, quoted and quoted.value, actual and actual.value, False,
                             f"a matched number does not parse: {claim.group(1) if quoted is None else shown!r}")
    holds = agree(quoted, actual, spec.tolerance)
    verdict = "matches" if holds else "does not match"
    return NumberFinding(spec.name, spec.points, quoted.value, actual.value, holds,
                         f"quotes {claim.group(1).strip()}; {source} show {shown.strip()} ({spec.which} match): {verdict}")
