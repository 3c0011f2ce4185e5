"""The ``figures`` check: image outputs in the cells where the handout asks for figures."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from grader.checks.base import CheckSpec, Evidence, Outcome, register
from grader.transforms import is_injected

IMAGE_MIMETYPES = ("image/png", "image/jpeg", "image/svg+xml")


class FigureSpec(BaseModel):
    """A figure the handout asks for, in the cell(s) tagged ``tag``."""

    model_config = ConfigDict(extra="forbid")

    tag: str
    title: str


def image_count(cell) -> int:
    """Number of image outputs (display_data or execute_result) of a code cell."""
    return sum(1 for out in cell.get("outputs", [])
               if out.get("output_type") in ("display_data", "execute_result")
               and any(mime in out.get("data", {}) for mime in IMAGE_MIMETYPES))


@register
class FiguresCheck(CheckSpec):
    """Each required figure: at least one image output in a student cell tagged with its tag.

    Read from the executed notebook (outputs produced during grading, not the saved file's).
    """

    type: Literal["figures"] = "figures"
    required: list[FigureSpec] = Field(min_length=1)
    needs_kernel: ClassVar[bool] = False

    def evaluate(self, evidence: Evidence) -> Outcome:
        cells = [cell for cell in evidence.notebook.cells if cell.cell_type == "code" and not is_injected(cell)]
        found = {}
        for figure in self.required:
            tagged = [cell for cell in cells if figure.tag in cell.get("metadata", {}).get("tags", [])]
            found[figure.tag] = {"title": figure.title, "tagged_cells": len(tagged),
                                 "images": sum(image_count(cell) for cell in tagged)}
        missing = [f"{f.title} (no image in a cell tagged `{f.tag}`"
                   + (", and no such cell" if not found[f.tag]["tagged_cells"] else "") + ")"
                   for f in self.required if not found[f.tag]["images"]]
        message = "all figures present" if not missing else "missing: " + "; ".join(missing)
        if missing and evidence.stopped_at:
            message += f" (the notebook stopped early: {evidence.stopped_at})"
        return Outcome(1 - len(missing) / len(self.required), message, {"figures": found})
