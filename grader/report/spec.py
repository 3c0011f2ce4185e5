"""The ``report:`` section of a rubric: the written questions and what to check in each answer.

Every aspect of a question is optional; each one the rubric names becomes one check,
``report.<question>.<aspect>``, worth the points given here. Patterns are Python regular
expressions, matched case-insensitively; they are compiled when the rubric loads, so a typo is
a :class:`vaegrade.grader.errors.RubricError` with its line, before any notebook runs.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vaegrade.grader.report.formulas import REFERENCES, parse_symbol_map
from vaegrade.grader.report.quantities import expand

FLAGS = re.IGNORECASE | re.MULTILINE


def _compile(pattern: str) -> str:
    try:
        re.compile(pattern, FLAGS)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc}): {pattern!r}") from exc
    return pattern


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Locate(_Strict):
    """Where an answer is. Either ``label`` (a pattern for the question's label or heading) or
    ``tag`` (a notebook cell tag; the answer is that cell's text).

    With ``label`` (matched in the text as it reads: Markdown emphasis, links and HTML tags,
    ligatures, odd dashes and PDF hyphenation undone, so ``P1-4`` matches ``**P1-**4``): of the
    label's occurrences after the first match of ``after`` (if given), the first followed by an
    answer marker (``answer``, by default ``Answer:``) is chosen, else the first followed by 10
    or more words, else the first; an occurrence in a table of contents or a list of the
    questions is followed by neither. The answer runs from the marker (or the label) to the first
    of: the next label of another question at the start of a line, the next heading (Markdown,
    or numbered plain lines such as ``2.1 Inpainting`` in a document without Markdown headings),
    a match of ``end``, or the end of the document.
    """

    label: str | None = Field(None, description="pattern of the question's label or heading")
    tag: str | None = Field(None, description='a notebook cell tag holding the answer')
    after: str | None = Field(None, description='start looking after this pattern')
    answer: str | None = Field(None, description='a marker after the label where the answer starts (Answer:)')
    end: str | None = Field(None, description='a pattern that ends the answer')
    headings: bool = Field(True, description="a Markdown heading ends the answer")

    _patterns = field_validator("label", "after", "answer", "end")(lambda v: v if v is None else _compile(v))

    @model_validator(mode="after")
    def _one_way(self) -> "Locate":
        if (self.label is None) == (self.tag is None):
            raise ValueError("give exactly one of `label` (a pattern) or `tag` (a notebook cell tag)")
        return self


class Aspect(_Strict):
    points: float = Field(gt=0, description='points of this aspect')


class WordLimit(Aspect):
    """``points`` are lost when the answer has more than ``limit`` words (+ ``grace``)."""

    limit: int = Field(gt=0, description='most words allowed')
    grace: int = Field(0, ge=0, description='words over the limit before losing points')


class Concept(_Strict):
    """A required idea, judged with three outcomes (credited, not credited, review: see
    :func:`vaegrade.grader.report.answers.find_concepts`): by ``patterns`` that show it, and (with
    ``meaning``: one or more sentences saying the idea) by a sentence-embedding model
    (:mod:`vaegrade.grader.report.meaning`, the ``meaning`` extra) whose scores inside
    ``review_band`` go to the instructor; ``not`` lists the idea's common wrong claims."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(description='the idea, as the feedback names it')
    patterns: list[str] = Field(default_factory=list, description='alternative patterns that show it')
    meaning: list[str] = Field(default_factory=list, description='sentences saying the idea, matched by meaning')
    review_band: tuple[float, float] | None = Field(None, description="meaning scores between these two go to the "
                                                    "instructor; below, not credited; above, credited (default: the calibrated band)")
    wrong: list[str] = Field(default_factory=list, alias="not", description="the concept's common wrong claims, as sentences: "
                             "a sentence closer to one of them than to the concept is not credited, or goes to review",
                             examples=[["a larger beta gives sharper samples"]])
    points: float = Field(gt=0, description='points for it')

    _compiled = field_validator("patterns")(lambda v: [_compile(p) for p in v])

    @model_validator(mode="after")
    def _some_way(self) -> "Concept":
        if not self.patterns and not self.meaning:
            raise ValueError("give `patterns`, `meaning` (sentences saying the idea), or both")
        return self


class References(Aspect):
    """At least ``minimum`` citations (numbered, author-year, DOI, arXiv or URL) in the answer;
    with ``section: true`` a references section (a ``References``/``Bibliography`` heading)
    must exist in the document as well."""

    minimum: int = Field(1, ge=1, description='citations needed')
    section: bool = Field(False, description='a references section is required')


class Figures(Aspect):
    """At least ``minimum`` images in or next to the answer (notebook image outputs, Markdown
    images, images drawn on the PDF pages the answer spans)."""

    minimum: int = Field(1, ge=1, description='images needed in or next to the answer')


class Formula(_Strict):
    """A formula the answer must state, compared numerically with a reference closed form.

    ``symbols`` maps each of the student's LaTeX symbols (as written: ``\\mu_p``, ``b_p``) to a
    sympy expression in the reference's parameters (``loc``, ``exp(logvar / 2)``, ``1 - u``).
    ``lhs`` is a pattern the formula's left-hand side must match (``D_\\{?KL`` or ``^[xz]$``).
    ``domain`` narrows a parameter's random range, e.g. ``{u: [0.02, 0.5]}`` for one branch of
    a piecewise inverse CDF.
    """

    name: str = Field(description='what the formula is, in the feedback')
    reference: str = Field(description='the reference closed form it is compared with')
    symbols: dict[str, str] = Field(min_length=1, description="the student's symbols mapped to the reference's parameters")
    lhs: str | None = Field(None, description='pattern of the left-hand side to pick the equation')
    domain: dict[str, tuple[float, float]] = Field(default_factory=dict, description='ranges of the random points per parameter')
    points: float = Field(gt=0, description='points for it')

    _lhs = field_validator("lhs")(lambda v: v if v is None else _compile(v))

    @model_validator(mode="after")
    def _known(self) -> "Formula":
        if self.reference not in REFERENCES:
            raise ValueError(f"unknown reference {self.reference!r}; known: {', '.join(sorted(REFERENCES))}")
        params = REFERENCES[self.reference].params
        parse_symbol_map(self.symbols, params)  # raises ValueError naming the bad entry
        unknown = sorted(set(self.domain) - set(params))
        if unknown:
            raise ValueError(f"domain names {unknown}, not parameters of {self.reference} {list(params)}")
        return self


class ClaimedNumber(_Strict):
    """A number the answer quotes, compared with what the notebook printed.

    ``claim``: a pattern with one group capturing the number in the answer ("test loss of
    (\\d+\\.\\d+)"), or using one placeholder instead of the group: ``{number}`` (``1,234.5``,
    ``1.2e-3``, ``1.2 × 10^-3``), ``{percent}`` (``12.5%``, also equal to a printed 0.125) or
    ``{duration}`` (``2m 41.4s``, ``3 min 48 s``, in seconds): "trained in {duration}".
    ``output``: the same for the number in the notebook's text outputs; ``which`` picks the
    first or last match there. Equal within ``tolerance`` (relative) or within the rounding of
    the quoted number, whichever is larger.
    """

    name: str = Field(description='what the number is')
    claim: str = Field(description='pattern capturing the number in the answer')
    output: str = Field(description="pattern capturing it in the notebook's outputs")
    which: Literal["first", "last"] = Field("last", description='the first or last match in the outputs')
    tolerance: float = Field(0.01, ge=0, description='relative tolerance')
    points: float = Field(gt=0, description='points for it')

    _patterns = field_validator("claim", "output")(lambda v: _one_group(v))


def _one_group(pattern: str) -> str:
    """A claim or output pattern that compiles, placeholders expanded, with exactly one group."""
    if re.compile(_compile(expand(pattern)), FLAGS).groups != 1:
        raise ValueError(f"needs exactly one group (...) around the number, or one placeholder such as "
                         f"{{number}} or {{duration}}: {pattern!r}")
    return pattern


class Question(_Strict):
    """One written question and the aspects of its answer the rubric checks."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", description="the question's id in check ids (report.<id>.<aspect>)")
    title: str = Field(description='the question, as the feedback names it')
    locate: Locate = Field(description='where the answer is')
    answered: Aspect | None = Field(None, description='points for an answer being there')
    words: WordLimit | None = Field(None, description='a word limit')
    concepts: list[Concept] = Field(default_factory=list, description='ideas the answer should contain')
    references: References | None = Field(None, description='citations required')
    figures: Figures | None = Field(None, description='images required')
    formulas: list[Formula] = Field(default_factory=list, description='formulas compared with the reference')
    numbers: list[ClaimedNumber] = Field(default_factory=list, description="numbers compared with the notebook's outputs")

    def check_id(self, aspect: str) -> str:
        return f"report.{self.id}.{aspect}"

    def check_title(self, aspect: str) -> str:
        return f"{self.title}: {aspect}"

    def points(self) -> dict[str, float]:
        """Points of each aspect the rubric names, by aspect name."""
        single = {"answered": self.answered, "words": self.words, "references": self.references, "figures": self.figures}
        many = {"concepts": self.concepts, "formulas": self.formulas, "numbers": self.numbers}
        points = {name: aspect.points for name, aspect in single.items() if aspect is not None}
        points.update({name: sum(item.points for item in items) for name, items in many.items() if items})
        order = ["answered", "words", "concepts", "references", "figures", "formulas", "numbers"]
        return {name: points[name] for name in order if name in points}


class ReportSpec(_Strict):
    """``source``: where answers are looked for. ``notebook``: the notebook's Markdown cells;
    ``file``: a report file (PDF, Markdown or text) matched by ``file`` (a glob, ``{name}`` is
    the submission's name) in the submission's folder; ``auto``: the file if there is one, else
    the notebook."""

    source: Literal["auto", "notebook", "file"] = Field("auto", description='where answers are read: auto, notebook or file')
    file: str = Field("{name}.*", description="glob of the report file; {name} is the submission's name")
    questions: list[Question] = Field(min_length=1, description='the written questions')

    @model_validator(mode="after")
    def _unique(self) -> "ReportSpec":
        ids = [q.id for q in self.questions]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"question ids used twice: {twice}")
        return self

    def points(self) -> dict[str, float]:
        """Every check the section produces (``report.<question>.<aspect>``) and its points, in order."""
        return {q.check_id(name): value for q in self.questions for name, value in q.points().items()}
