"""Finding every question's answer in a document, all questions together.

    Document ─normalise─▶ matchable text (emphasis, links, tags, ligatures, dashes and PDF
    hyphenation undone; a map back to the document's offsets)
    ─▶ every occurrence of every question's label (also with question numbers respelled:
    ``Q3`` / ``Question 3``, ``P1-4`` / ``Problem 1.4``) ─▶ per question, the occurrence followed by
    an answer ─▶ the answer runs to the next question's label, heading or ``end``

A label can occur more than once: in a table of contents, a list of the questions, a handout
paragraph repeated in a checklist. Structure decides before what follows: an occurrence in a
listing (a contents line ending in a page number, a checklist box, a line among other questions'
labels) is chosen only when there is nothing else; then the first followed by an ``Answer:``
marker, else the first followed by at least :data:`MIN_ANSWER_WORDS` words of the answer's own
prose (boilerplate such as an attestation or a checklist does not count), else the first; among
those alike, a heading, a numbered section title or a bold label beats a plain line. The answer's
``note`` says which occurrence was chosen and why. Where a document has no Markdown headings,
numbered plain-line titles (``2.1 Inpainting``, ``5 References``, as PDF exports print them)
count as headings.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

from vaegrade.grader.report.document import Block, Document
from vaegrade.grader.report.spec import FLAGS, Locate, Question

MIN_ANSWER_WORDS = 10
LISTED_WORDS = 15  # a question listed among others is a title's length; an answer in a numbered list runs longer
LINE_START = 48
#: A contents line: short, ending in a page number after dot leaders or spaces (``Beta sweep .... 3``).
_CONTENTS_LINE = re.compile(r"^[^\n]{1,100}?(?:\.{2,}|…|[ \t])[ \t]*\d{1,3}[ \t]*$")
_CHECKBOX = re.compile(r"^[ \t]*(?:[-*+][ \t]+)?\[[ xX✓]\]")
#: Paragraphs that are not an answer's content: an attestation, an honour pledge, a checklist.
_BOILERPLATE = re.compile(r"\b(?:i|we)\s+(?:hereby\s+)?(?:certify|attest|declare|affirm|confirm)\b|honou?r\s+(?:code|pledge)"
                          r"|academic\s+integrity|(?:is|are)\s+(?:entirely\s+)?(?:my|our)\s+own\s+work|" + _CHECKBOX.pattern,
                          re.IGNORECASE | re.MULTILINE)
#: ``Answer:`` (or ``Answers:``) right after the label or at the start of a line, after quote,
#: list and emphasis marks: where an answer begins when the rubric names no ``answer`` marker.
DEFAULT_MARKER = r"^[^\w\n]*(?:[a-z0-9]{1,3}[.)]\s*)?answers?\s*:"
_MARKER_AFTER_LABEL = re.compile(r"[^\w\n]*answers?\s*:", re.IGNORECASE)
_MARKDOWN_HEADING = re.compile(r"^ {0,3}#{1,6}\s", re.MULTILINE)
#: ``2.1 Inpainting``, ``5 References``, ``3. Results``: a short numbered line without a final period.
_NUMBERED_TITLE = re.compile(r"^[ \t]*\d{1,2}(?:\.\d{1,2}){0,3}\.?[ \t]+[A-Z][^\n.!?]{0,70}$", re.MULTILINE)
_WORD = re.compile(r"[^\W_]+")
_LEAD = re.compile(r"[ \t.:;,)\]-]*")
#: What normalising undoes, one alternative per kind of mark; each is replaced by the text its
#: ``_REPLACE`` entry gives for the match.
_MARKS = re.compile("|".join([
    r"(?P<hyphenation>(?<=[a-z])-\n(?=[a-z]))",          # PDF line-end hyphenation: recon-\nstruction
    r"(?P<soft>\u00ad)",                                   # soft hyphen
    r"(?P<escape>\\(?=[_*#>\[\]()`.\-!]))",                # Markdown backslash escape: START\_LABEL
    r"(?P<stars>\*{1,3})",                                 # emphasis with *, anywhere
    r"(?P<underscores>(?<![^\W_])_{1,3}|_{1,3}(?![^\W_]))",  # emphasis with _, not inside a word
    r"(?P<link>\[(?=[^\]\n]*\]\([^)\n]*\)))|(?P<target>\]\([^)\n]*\))",  # [text](url) -> text
    r"(?P<tag></?[a-zA-Z][^>\n]{0,200}>)",                 # HTML tags: </li>, <br>
    r"(?P<quote>^[ \t]*(?:>[ \t]?)+)",                     # blockquote marks
    r"(?P<dash>[\u2010\u2011\u2012\u2013\u2014\u2015\u2212])",  # odd dashes
    r"(?P<spaced>(?<=\d)[ \t]*-[ \t]*(?=\d))",             # P1 - 4 -> P1-4
    r"(?P<ligature>[\ufb00-\ufb04])",                      # ﬁ ﬂ ﬀ ﬃ ﬄ
    r"(?P<space>[\u00a0\u2009\u202f])",                    # no-break and thin spaces
]), re.MULTILINE)
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}
_REPLACE = {"hyphenation": "", "soft": "", "escape": "", "stars": "", "underscores": "", "link": "", "target": "",
            "tag": " ", "quote": "", "dash": "-", "spaced": "-", "space": " "}


#: Question numbers as people write them, in a short and a long spelling: ``Question 3``,
#: ``Q 3``, ``Q3`` -> ``Q3`` / ``Question 3``; ``Problem 1.4``, ``P1 - 4``, ``P 1.4`` -> ``P1-4`` /
#: ``Problem 1.4``. A label that matches nowhere as written is looked for in these spellings.
_NUMBERING = re.compile(r"\b(?:(?P<q>Question|Ques\.|Q)|(?P<p>Problem|Prob\.|P))[ \t]*(?P<n>\d{1,2})"
                        r"(?:[ \t]*[-.:][ \t]*(?P<m>\d{1,2}))?\b", re.IGNORECASE)
_SPELLINGS = {
    "short": lambda m: ("Q" if m["q"] else "P") + m["n"] + (f"-{m['m']}" if m["m"] else ""),
    "long": lambda m: ("Question " if m["q"] else "Problem ") + m["n"] + (f".{m['m']}" if m["m"] else ""),
}


def _substitute(text: str, pattern: re.Pattern, replace: Callable[[re.Match], str]) -> tuple[str, list[int]]:
    """``text`` with every match of ``pattern`` replaced, and for each character of the result
    its offset in ``text`` (plus one entry for the end; a replacement maps to its match's start)."""
    out: list[str] = []
    origin: list[int] = []
    position = 0
    for match in pattern.finditer(text):
        out.append(text[position:match.start()])
        origin.extend(range(position, match.start()))
        replacement = replace(match)
        out.append(replacement)
        origin.extend([match.start()] * len(replacement))
        position = match.end()
    out.append(text[position:])
    origin.extend(range(position, len(text) + 1))
    return "".join(out), origin


def normalise(text: str) -> tuple[str, list[int]]:
    """Text as it reads, for matching labels and concepts, and ``origin``: for each character
    of the result, its offset in ``text`` (plus one entry for the end). Markdown emphasis,
    escapes, link syntax, HTML tags and blockquote marks are dropped; ligatures are spelled
    out; odd dashes become ``-`` (and ``1 - 4`` becomes ``1-4``); a word hyphenated across a
    line break (PDF extraction) is joined."""
    return _substitute(text, _MARKS, lambda m: _LIGATURES[m.group()] if m.lastgroup == "ligature" else _REPLACE[m.lastgroup])


def respell(text: str, spelling: str) -> tuple[str, list[int]]:
    """``text`` with question numbers in one spelling (``short``: ``Q3``, ``P1-4``; ``long``:
    ``Question 3``, ``Problem 1.4``), and the offsets back, as :func:`normalise` gives them."""
    return _substitute(text, _NUMBERING, _SPELLINGS[spelling])


@dataclass
class Answer:
    """A located answer. ``status``: ``found``, ``empty`` (the label is there, no answer text
    after it) or ``not found`` (no label). ``where``: the blocks it spans; ``start``/``end``:
    its offsets in the document's text; ``note``: where the label matched and why there."""

    status: str
    text: str = ""
    prose: str = ""
    where: list[str] = field(default_factory=list)
    images: int = 0
    start: int = 0
    end: int = 0
    note: str = ""


@dataclass(frozen=True)
class _Text:
    """The document's text normalised for matching, with the way back to the document."""

    document: Document
    text: str
    origin: list[int]
    headings: list[int]  # normalised offsets where a heading line starts

    @classmethod
    def of(cls, document: Document) -> "_Text":
        text, origin = normalise(document.text)
        prose = [(b, o) for b, o in zip(document.blocks, document.offsets) if b.kind == "prose"]
        heads = [o + m.start() for b, o in prose for m in _MARKDOWN_HEADING.finditer(b.text)]
        if not heads:
            heads = [o + m.start() for b, o in prose for m in _NUMBERED_TITLE.finditer(b.text)]
        return cls(document, text, origin, sorted(bisect.bisect_left(origin, h) for h in heads))

    def find(self, pattern: str | re.Pattern) -> list[tuple[int, int]]:
        """(start, end) of every non-empty match of ``pattern`` in the normalised text; when it
        matches nothing there, in the normalised text with question numbers spelled short
        (``Q3``) or long (``Question 3``), or in the document's own text (a pattern written for
        the Markdown, such as ``\\*\\*Discussion\\*\\*``): the first of these it matches in, its
        matches mapped to the normalised text."""
        compiled = re.compile(pattern, FLAGS) if isinstance(pattern, str) else pattern
        found = [m.span() for m in compiled.finditer(self.text) if m.end() > m.start()]
        if found:
            return found
        for text, back in self.respelled.values():
            found = [(back[m.start()], back[m.end()]) for m in compiled.finditer(text) if m.end() > m.start()]
            if found:
                return found
        return [(bisect.bisect_left(self.origin, m.start()), bisect.bisect_left(self.origin, m.end()))
                for m in compiled.finditer(self.document.text) if m.end() > m.start()]

    @cached_property
    def respelled(self) -> dict[str, tuple[str, list[int]]]:
        """The normalised text in each spelling of question numbers (:func:`respell`), made once."""
        return {spelling: respell(self.text, spelling) for spelling in _SPELLINGS}

    def where(self, position: int) -> str:
        return self.document.block_at(self.origin[position]).where

    def line_start(self, position: int) -> bool:
        """Whether ``position`` is near the start of its line (within :data:`LINE_START`
        characters: after marks and numbering, or a prefix such as ``Inline Question:``), as a
        question's label is, and a mention of it inside an answer's sentence mostly is not."""
        return position - (self.text.rfind("\n", 0, position) + 1) <= LINE_START

    def is_heading(self, line: int) -> bool:
        """Whether the line starting at ``line`` (a normalised offset) is a heading."""
        found = bisect.bisect_left(self.headings, line)
        return found < len(self.headings) and self.headings[found] == line

    def after_heading(self, label: tuple[int, int]) -> int:
        """Where an answer can start after ``label``: its end (past the punctuation that closes a
        label, as in ``Q1.`` or ``P1-4:``), or the end of its line when the label is in a heading
        (the rest of the heading is the question, not the answer)."""
        if self.is_heading(self.text.rfind("\n", 0, label[0]) + 1):
            end = self.text.find("\n", label[1])
            return len(self.text) if end < 0 else end
        return _LEAD.match(self.text, label[1]).end()

    def words(self, start: int, end: int) -> int:
        """The words of prose between ``start`` and ``end``, its boilerplate paragraphs (an
        attestation, a checklist: :data:`_BOILERPLATE`) left out."""
        prose = "\n".join(part for block, part in self.document.spans(self.origin[start], self.origin[end])
                          if block.kind == "prose")
        paragraphs = re.split(r"\n[ \t]*\n", normalise(prose)[0])
        return sum(len(_WORD.findall(paragraph)) for paragraph in paragraphs if not _BOILERPLATE.search(paragraph))

    def line_of(self, position: int) -> tuple[int, int]:
        """(start, end) of the line ``position`` is on, in the normalised text."""
        start = self.text.rfind("\n", 0, position) + 1
        end = self.text.find("\n", position)
        return start, len(self.text) if end < 0 else end

    def structure(self, label: tuple[int, int], others: list[int]) -> tuple[int, str]:
        """How the line of ``label`` is set, as a rank and a reason: 0 a heading, a numbered
        section title or a bold label; 1 a plain line; 2 a listing (a contents line ending in a
        page number, a checklist box, or a line of at most :data:`LISTED_WORDS` words next to one
        holding another question's label, ``others``: where those start; a longer one is an answer
        in a numbered list), which stands for the question, not its answer."""
        matched = self.text[label[0]:label[1]]
        start, end = self.line_of(label[0] + len(matched) - len(matched.lstrip()))  # a label may begin with line breaks
        line = self.text[start:end]
        previous, following = self.line_of(max(0, start - 2)), self.line_of(min(len(self.text), end + 1))
        beside = [span for span in (previous, following) if span != (start, end) and self.text[span[0]:span[1]].strip()]
        if _CONTENTS_LINE.match(line.strip()) and len(line) < 100:
            return 2, "a contents line"
        if _CHECKBOX.match(line):
            return 2, "a checklist line"
        if len(_WORD.findall(line)) <= LISTED_WORDS and any(span[0] <= other < span[1] for span in beside for other in others):
            return 2, "a list of the questions"
        if self.is_heading(start):
            return 0, "a heading"
        if _NUMBERED_TITLE.match(line) or self.document.text[self.origin[start]:self.origin[start] + 3].lstrip().startswith(("**", "__")):
            return 0, "a numbered title or a bold label"
        return 1, "a plain line"


def locate_all(document: Document, questions: list[Question]) -> dict[str, Answer]:
    """Every question's answer, by its ``locate`` (see :class:`vaegrade.grader.report.spec.Locate`):
    a tagged cell's text, or the answer after the chosen occurrence of its label, which ends
    at the next label of another question near the start of a line, the next heading (when ``headings``),
    a match of ``end``, or the document's end."""
    text = _Text.of(document)
    labels = {q.id: text.find(q.locate.label) for q in questions if q.locate.label}
    boundaries = {qid: [start for start, _ in found if text.line_start(start)] for qid, found in labels.items()}
    answers = {}
    for question in questions:
        how = question.locate
        if how.tag is not None:
            blocks = [(b, b.text) for b in document.blocks if how.tag in b.tags]
            answers[question.id] = (_answer(blocks, 0, 0, "") if blocks
                                    else Answer("not found", note=f"no cell is tagged `{how.tag}`"))
            continue
        stops = sorted(s for qid, starts in boundaries.items() if qid != question.id for s in starts)
        others = [start for qid, found in labels.items() if qid != question.id for start, _ in found]
        answers[question.id] = _choose(text, how, labels[question.id], stops, others)
    return answers


def _choose(text: _Text, how: Locate, found: list[tuple[int, int]], stops: list[int], others: list[int]) -> Answer:
    """The answer after the best occurrence of the label (``found``): not in a listing, unless all
    are; then followed by an answer marker, else by enough words of the answer's own prose; then
    set as a heading, numbered title or bold label rather than a plain line; then the first."""
    origin = 0
    if how.after:
        anchors = text.find(how.after)
        if not anchors:
            return Answer("not found", note=f"nothing matches `after` ({how.after})")
        origin = anchors[0][1]
    found = [span for span in found if span[0] >= origin]
    if not found:
        return Answer("not found", note=f"nothing matches the label ({how.label})")
    markers = text.find(how.answer or DEFAULT_MARKER)
    stops = sorted(stops + [start for start, _ in text.find(how.end)] if how.end else stops)  # found once, not per occurrence
    candidates = []
    for match in found:
        after = text.after_heading(match)
        end = _stop(text, how, after, stops)
        right_after = None if how.answer else _MARKER_AFTER_LABEL.match(text.text, after, end)
        answer_marker = right_after.span() if right_after else next((m for m in markers if after <= m[0] and m[1] <= end), None)
        start = answer_marker[1] if answer_marker else after
        words = text.words(start, end)
        content = 0 if answer_marker and words else 1 if words >= MIN_ANSWER_WORDS else 2
        structure, setting = text.structure(match, others) if len(found) > 1 else (1, "")
        candidates.append(((structure == 2, content, structure, match[0]), match, start, end, setting))
    rank, match, start, end, setting = min(candidates, key=lambda c: c[0])
    note = f"label matched in {text.where(match[0])}"
    if len(found) > 1:
        skipped = [f"{text.where(c[1][0])} ({c[4]})" for c in candidates if c[1] != match]
        why = ("followed by an answer marker" if rank[1] == 0 else
               f"followed by {MIN_ANSWER_WORDS} or more words of answer" if rank[1] == 1 else "none is followed by an answer")
        note += (f", {setting} ({len(found)} occurrences; chosen: {why}" + ("" if rank[0] else ", not in a listing")
                 + (f"; skipped {', '.join(dict.fromkeys(skipped))}" if skipped else "") + ")")
    begin, finish = text.origin[start], text.origin[end]
    return _answer(text.document.spans(begin, finish), begin, finish, note)


def _stop(text: _Text, how: Locate, start: int, stops: list[int]) -> int:
    """The first of ``stops`` (sorted: other questions' labels, ``end`` matches), or of the
    headings when ``how.headings``, at or after ``start``; else the end of the text."""
    ends = [len(text.text)]
    following = bisect.bisect_left(stops, start)
    if following < len(stops):
        ends.append(stops[following])
    if how.headings:
        heading = bisect.bisect_left(text.headings, start)
        if heading < len(text.headings):
            ends.append(text.headings[heading])
    return min(ends)


_PLACEHOLDER = re.compile(r"^\W*(?:answers?|your answer here|todo|type your answer here|\.\.\.)?\W*$", re.IGNORECASE)


def _answer(spans: list[tuple[Block, str]], start: int, end: int, note: str) -> Answer:
    prose = "\n".join(part for block, part in spans if block.kind == "prose").strip()
    text = "\n".join(part for _, part in spans).strip()
    images = sum(block.images for block, _ in spans)
    status = "empty" if _PLACEHOLDER.match(prose) else "found"
    return Answer(status, text, prose, list(dict.fromkeys(b.where for b, _ in spans)), images, start, end, note)
