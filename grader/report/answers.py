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
    name: str
    points: float
    matched: str | None  # the phrase that matched (a pattern) or the sentence that states it (meaning), or None
    score: float | None = None  # the meaning score of the answer's best sentence, when meaning was checked


def find_concepts(prose: str, concepts: list[Concept]) -> list[ConceptFinding]:
    """For each concept, the first phrase of the answer that one of its patterns matches; failing
    that, with ``meaning``, the answer's sentence that states it best, if its score reaches the
    concept's threshold.

    Raises:
        vaegrade.grader.report.meaning.MeaningUnavailable: a concept has ``meaning`` and the model is not installed.
    """
    text = " ".join(normalise(_INLINE_CODE.sub(" ", prose))[0].split())
    findings = []
    for concept in concepts:
        finding = ConceptFinding(concept.name, concept.points, _pattern_match(text, concept.patterns))
        if finding.matched is None and concept.meaning:
            from vaegrade.grader.report.meaning import THRESHOLD, best_match
            best = best_match(normalise(readable(prose))[0], concept.meaning)
            if best is not None:
                finding.score = round(best.score, 3)
                if best.score >= (concept.threshold or THRESHOLD):
                    finding.matched = best.sentence
        findings.append(finding)
    return findings


def _pattern_match(text: str, patterns: list[str]) -> str | None:
    for pattern in patterns:
        found = re.search(pattern, text, FLAGS)
        if found:
            end = found.end()
            while end < len(text) and (text[end].isalnum() or text[end] == "-"):
                end += 1  # show the whole last word ("blur" -> "blurred")
            return text[found.start():end]
    return None


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
