"""Finding an answer in a document and reading it: words, concepts, citations, figures, numbers.

All functions are pure (text in, findings out); :mod:`grader.report.checker` turns findings
into scored checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from grader.report.document import Block, Document
from grader.report.spec import FLAGS, ClaimedNumber, Concept, Locate

_HEADING = re.compile(r"^ {0,3}#{1,6}\s", re.MULTILINE)
_DISPLAY_MATH = re.compile(r"\$\$.+?\$\$", re.DOTALL)
_INLINE_MATH = re.compile(r"\$[^$\n]+?\$")
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")
_WORD = re.compile(r"[^\W_]+(?:['’.,\-][^\W_]+)*")
_PLACEHOLDER = re.compile(r"^\W*(?:answers?|your answer here|todo|type your answer here|\.\.\.)?\W*$", re.IGNORECASE)


def place(where: list[str]) -> str:
    """``['line 40', 'line 42', 'line 45']`` -> ``line 40 to line 45``."""
    if not where:
        return "the document"
    return where[0] if len(where) == 1 else f"{where[0]} to {where[-1]}"


@dataclass
class Answer:
    """A located answer. ``status``: ``found``, ``empty`` (the label is there, no answer text
    after it) or ``not found`` (no label). ``where``: the blocks it spans."""

    status: str
    text: str = ""
    prose: str = ""
    where: list[str] = field(default_factory=list)
    images: int = 0
    start: int = 0
    end: int = 0
    note: str = ""


def locate(document: Document, how: Locate, other_labels: list[str]) -> Answer:
    """Find an answer as :class:`grader.report.spec.Locate` describes.

    Args:
        other_labels: the label patterns of the rubric's other questions; the next match of
            any of them after this answer's start ends it.
    """
    if how.tag is not None:
        blocks = [(b, b.text) for b in document.blocks if how.tag in b.tags]
        if not blocks:
            return Answer("not found", note=f"no cell is tagged `{how.tag}`")
        return _answer(blocks, 0, 0, "")
    text = document.text
    origin = 0
    if how.after:
        anchor = re.search(how.after, text, FLAGS)
        if anchor is None:
            return Answer("not found", note=f"nothing matches `after` ({how.after})")
        origin = anchor.end()
    label = re.compile(how.label, FLAGS).search(text, origin)
    if label is None:
        return Answer("not found", note=f"nothing matches the label ({how.label})")
    start = label.end()
    if how.answer:
        marker = re.compile(how.answer, FLAGS).search(text, start)
        if marker is not None and _nearest_stop(text, document, start, other_labels, how) > marker.start():
            start = marker.end()
    end = _nearest_stop(text, document, start, other_labels, how)
    note = f"label matched in {document.spans(label.start(), label.end())[0][0].where}"
    return _answer(document.spans(start, end), start, end, note)


def _nearest_stop(text: str, document: Document, start: int, others: list[str], how: Locate) -> int:
    stops = [len(text)]
    for pattern in others + ([how.end] if how.end else []):
        found = re.compile(pattern, FLAGS).search(text, start)
        if found:
            stops.append(found.start())
    if how.headings:
        for block, offset in zip(document.blocks, document.offsets):
            if block.kind != "prose" or offset + len(block.text) <= start:
                continue
            for heading in _HEADING.finditer(block.text):
                if offset + heading.start() >= start:
                    stops.append(offset + heading.start())
                    break
    return min(stops)


def _answer(spans: list[tuple[Block, str]], start: int, end: int, note: str) -> Answer:
    prose = "\n".join(part for block, part in spans if block.kind == "prose").strip()
    text = "\n".join(part for _, part in spans).strip()
    images = sum(block.images for block, _ in spans)
    status = "empty" if _PLACEHOLDER.match(prose) else "found"
    return Answer(status, text, prose, list(dict.fromkeys(b.where for b, _ in spans)), images, start, end, note)


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
    matched: str | None  # the phrase that matched, or None


def find_concepts(prose: str, concepts: list[Concept]) -> list[ConceptFinding]:
    """For each concept, the first phrase of the answer that one of its patterns matches."""
    text = " ".join(_INLINE_CODE.sub(" ", prose).split())
    findings = []
    for concept in concepts:
        matched = None
        for pattern in concept.patterns:
            found = re.search(pattern, text, FLAGS)
            if found:
                end = found.end()
                while end < len(text) and (text[end].isalnum() or text[end] == "-"):
                    end += 1  # show the whole last word ("blur" -> "blurred")
                matched = text[found.start():end]
                break
        findings.append(ConceptFinding(concept.name, concept.points, matched))
    return findings


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
_SECTION = re.compile(r"^\W*(?:references|bibliography|works cited|sources|literature)\W*$", re.IGNORECASE | re.MULTILINE)


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
    notebook's own text (the claim's own words are blanked out of it first).
    Equal when within ``spec.tolerance`` (relative) or within half a unit of the quoted
    number's last digit (a claim of 0.127 covers 0.1265 to 0.1275).
    """
    claim = re.search(spec.claim, prose, FLAGS)
    if claim is None:
        return NumberFinding(spec.name, spec.points, None, None, False, "the answer quotes no such number")
    printed = re.findall(spec.output, outputs.replace(claim.group(0), " "), FLAGS)  # never the claim itself
    quoted = _number(claim.group(1))
    if not printed:
        return NumberFinding(spec.name, spec.points, quoted, None, False,
                             f"quotes {claim.group(1)}, but {source} show nothing matching `{spec.output}`")
    actual = _number(printed[0 if spec.which == "first" else -1])
    if quoted is None or actual is None:
        return NumberFinding(spec.name, spec.points, quoted, actual, False, "a matched number does not parse")
    decimals = len(claim.group(1).split(".")[1]) if "." in claim.group(1) else 0
    allowed = max(spec.tolerance * abs(actual), 0.5 * 10.0 ** -decimals)
    holds = abs(quoted - actual) <= allowed
    verdict = "matches" if holds else "does not match"
    return NumberFinding(spec.name, spec.points, quoted, actual, holds,
                         f"quotes {claim.group(1)}; {source} show {printed[0 if spec.which == 'first' else -1]} "
                         f"({spec.which} match): {verdict}")


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None
