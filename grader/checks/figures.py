"""The ``figures`` check: image outputs in the cells where the handout asks for figures."""

from __future__ import annotations

import ast
import re
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vaegrade.grader.checks.base import CheckSpec, Evidence, Outcome, register
from vaegrade.grader.probe.cell import is_injected

IMAGE_MIMETYPES = ("image/png", "image/jpeg", "image/svg+xml")


class FigureSpec(BaseModel):
    """A figure the handout asks for, found in any of these ways (at least one is given):

    - ``tag``: a code cell with this tag;
    - ``heading``: a code cell under a Markdown cell matching this regular expression (case
      ignored), up to the next Markdown heading;
    - ``comment``: a code cell containing a comment matching it;
    - ``after``: any code cell after a Markdown cell matching it;
    - ``calls``: a code cell that calls a function or method of this name (read with ``ast``:
      ``show_samples(...)``, ``vis.plot_grid(...)``);
    - ``code``: a code cell whose source matches this regular expression;
    - ``index``: the notebook's n-th figure (1: the first image any cell drew).

    A student who kept the figure but lost the tag keeps the points.
    """

    model_config = ConfigDict(extra="forbid")

    title: str = Field(description='what the figure shows, in the feedback')
    tag: str | None = Field(None, description='a cell tag')
    heading: str | None = Field(None, description='a Markdown heading pattern')
    comment: str | None = Field(None, description='a code comment pattern')
    after: str | None = Field(None, description='a Markdown pattern: any code cell after it')
    calls: str | None = Field(None, description="a function or method name: a code cell that calls it", examples=["show_grid"])
    code: str | None = Field(None, description="a pattern of a code cell's source", examples=[r"plt\.plot\(kld"])
    index: int | None = Field(None, ge=1, description="the notebook's n-th figure, counting every image drawn", examples=[2])

    @model_validator(mode="after")
    def _some_way(self) -> FigureSpec:
        if not any((self.tag, self.heading, self.comment, self.after, self.calls, self.code, self.index)):
            raise ValueError("a figure needs `tag`, `heading`, `comment`, `after`, `calls`, `code` or `index` to be found by")
        for pattern in (self.heading, self.comment, self.after, self.code):
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from exc
        return self

    def describe(self) -> str:
        ways = [f"tagged `{self.tag}`" if self.tag else "", f"under a heading matching '{self.heading}'" if self.heading else "",
                f"with a comment matching '{self.comment}'" if self.comment else "",
                f"after a Markdown cell matching '{self.after}'" if self.after else "",
                f"calling `{self.calls}`" if self.calls else "", f"whose code matches '{self.code}'" if self.code else ""]
        described = "a cell " + " or ".join(w for w in ways if w) if any(ways) else ""
        return " or ".join(filter(None, [described, f"the notebook's figure {self.index}" if self.index else ""]))

    def cells(self, cells: list) -> list:  # noqa: ANN001 (notebook cells)
        """The code cells (of the student's, in order) where this figure may be."""
        found, heading_open, after_open = [], False, False
        for cell in cells:
            if cell.cell_type == "markdown":
                is_heading = any(line.lstrip().startswith("#") for line in cell.source.splitlines())
                if self.heading and re.search(self.heading, cell.source, re.IGNORECASE):
                    heading_open = True
                elif is_heading:
                    heading_open = False
                after_open |= bool(self.after and re.search(self.after, cell.source, re.IGNORECASE))
                continue
            if cell.cell_type != "code":
                continue
            tagged = self.tag is not None and self.tag in cell.get("metadata", {}).get("tags", [])
            commented = self.comment is not None and any(
                re.search(self.comment, line.split("#", 1)[1], re.IGNORECASE)
                for line in cell.source.splitlines() if "#" in line)
            coded = self.code is not None and re.search(self.code, cell.source) is not None
            if tagged or heading_open or after_open or commented or coded or (self.calls and self.calls in called(cell.source)):
                found.append(cell)
        return found

    def images(self, cells: list) -> int:  # noqa: ANN001 (notebook cells)
        """How many images of this figure the student's cells hold."""
        if self.index is not None and sum(image_count(cell) for cell in cells if cell.cell_type == "code") >= self.index:
            return 1
        return sum(image_count(cell) for cell in self.cells(cells))


def called(source: str) -> set[str]:
    """The names of the functions and methods a cell calls (``plot(...)``, ``plt.imshow(...)``:
    plot, imshow), read with ``ast``; none for a cell that does not parse (IPython magics aside)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    return {node.func.id if isinstance(node.func, ast.Name) else node.func.attr for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute))}


def image_count(cell) -> int:
    """Number of image outputs (display_data or execute_result) of a code cell."""
    return sum(1 for out in cell.get("outputs", [])
               if out.get("output_type") in ("display_data", "execute_result")
               and any(mime in out.get("data", {}) for mime in IMAGE_MIMETYPES))


@register
class FiguresCheck(CheckSpec):
    """Each required figure: at least one image output in a student cell where it may be (see
    :class:`FigureSpec`). Read from the executed notebook (outputs produced during grading, not
    the saved file's)."""

    type: Literal["figures"] = "figures"
    required: list[FigureSpec] = Field(min_length=1, description='the figures the handout asks for')
    needs_kernel: ClassVar[bool] = False
    reads_notebook: ClassVar[bool] = True

    def evaluate(self, evidence: Evidence) -> Outcome:
        cells = [cell for cell in evidence.notebook.cells if not is_injected(cell)]
        found = {}
        for figure in self.required:
            found[figure.title] = {"cells": len(figure.cells(cells)), "images": figure.images(cells)}
        missing = [f"{f.title} (no image in {f.describe()}"
                   + (", and no such cell" if not found[f.title]["cells"] and f.index is None else "") + ")"
                   for f in self.required if not found[f.title]["images"]]
        message = "all figures present" if not missing else "missing: " + "; ".join(missing)
        if missing and evidence.stopped_at:
            message += f" (the notebook stopped early: {evidence.stopped_at})"
        return Outcome(1 - len(missing) / len(self.required), message, {"figures": found})
