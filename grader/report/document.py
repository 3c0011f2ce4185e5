"""Reading a written report into blocks of prose, code and outputs, whatever it came as.

    notebook (.ipynb)  Markdown cells -> prose; code cells -> code, their outputs -> output
                       (image outputs counted); Markdown images counted
    PDF (.pdf)         one prose block per page, text by pypdf, images drawn on it counted
    Markdown (.md)     fenced code -> code; the rest -> prose; ![...](...) images counted
    text (.txt)        as Markdown, but a text file holds no images

Every block says where it came from (``cell 12``, ``page 3``, ``line 40``) so findings can
point there.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import nbformat

from vaegrade.grader.errors import ReportError

DocumentKind = Literal["notebook", "pdf", "markdown", "text"]
SUFFIXES: dict[str, DocumentKind] = {".ipynb": "notebook", ".pdf": "pdf", ".md": "markdown", ".markdown": "markdown",
                                     ".txt": "text"}
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|<img\b", re.IGNORECASE)
_FENCE = re.compile(r"^\s*```")


@dataclass(frozen=True)
class Block:
    """A piece of a document. ``kind`` ``prose`` is what a person wrote in words; ``code`` and
    ``output`` are code and what it printed. ``images``: images in the block."""

    kind: Literal["prose", "code", "output"]
    text: str
    where: str
    tags: tuple[str, ...] = ()
    images: int = 0


@dataclass(frozen=True)
class Document:
    """A report: its blocks in reading order. ``text`` joins them with newlines; ``offsets[i]``
    is where block ``i`` starts in it."""

    path: str
    kind: DocumentKind
    blocks: list[Block]
    text: str = field(init=False)
    offsets: list[int] = field(init=False)

    def __post_init__(self) -> None:
        offsets, position = [], 0
        for block in self.blocks:
            offsets.append(position)
            position += len(block.text) + 1
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "text", "\n".join(b.text for b in self.blocks))

    @property
    def holds_images(self) -> bool:
        return self.kind != "text"

    def block_at(self, offset: int) -> Block:
        """The block holding text[offset] (a separating newline belongs to the block before it)."""
        return self.blocks[max(bisect.bisect_right(self.offsets, offset) - 1, 0)]

    def spans(self, start: int, end: int) -> list[tuple[Block, str]]:
        """The blocks overlapping text[start:end], each with the overlapping part of its text."""
        found = []
        for block, offset in zip(self.blocks, self.offsets):
            lo, hi = max(start, offset), min(end, offset + len(block.text))
            part = block.text[lo - offset:hi - offset] if lo < hi else ""
            if part.strip() or (block.images and start <= offset < end):
                found.append((block, part))
        return found


def read_report(path: Path) -> Document:
    """Read a report file by its suffix (.ipynb, .pdf, .md/.markdown, .txt).

    Raises:
        ReportError: unknown suffix, unreadable file, a PDF pypdf cannot read (encrypted,
            damaged), or a notebook that is not valid JSON.
    """
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ReportError(path, f"not a report: use .pdf, .md, .txt or .ipynb (got {path.suffix or 'no suffix'!r})")
    if kind == "pdf":
        return _read_pdf(path)
    try:
        if kind == "notebook":
            return from_notebook(nbformat.read(path, as_version=4), str(path))
        return from_markdown(path.read_text(encoding="utf-8"), str(path), kind)
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # nbformat raises ValueError subclasses for bad JSON
        raise ReportError(path, f"cannot read it: {exc}") from exc


def from_notebook(notebook: nbformat.NotebookNode, path: str) -> Document:
    """A notebook's cells as blocks, outputs as stored in the notebook."""
    blocks = []
    for index, cell in enumerate(notebook.cells, start=1):
        tags = tuple(cell.get("metadata", {}).get("tags", []))
        if cell.cell_type == "markdown":
            images = len(_MARKDOWN_IMAGE.findall(cell.source)) + len(cell.get("attachments", {}) or {})
            blocks.append(Block("prose", cell.source, f"cell {index}", tags, images))
        elif cell.cell_type == "code":
            blocks.append(Block("code", cell.source, f"cell {index}", tags))
            texts, images = [], 0
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream":
                    texts.append(output.get("text", ""))
                data = output.get("data", {})
                images += any(key.startswith("image/") for key in data)
                if "text/plain" in data:
                    texts.append(data["text/plain"])
            if texts or images:
                blocks.append(Block("output", "".join(texts), f"cell {index} output", tags, images))
    return Document(path, "notebook", blocks)


def from_markdown(text: str, path: str, kind: DocumentKind = "markdown") -> Document:
    """Markdown or plain text: fenced code blocks apart from the prose, prose by paragraph."""
    blocks, lines, start, in_code = [], [], 1, False
    for number, line in enumerate(text.splitlines(), start=1):
        fence = bool(_FENCE.match(line))
        if fence or (not in_code and not line.strip() and lines and lines[-1].strip()):
            if lines:
                blocks.append(_text_block(in_code, lines, start, kind))
            lines, start = [], number + 1
            in_code ^= fence
            if fence:
                continue
        lines.append(line)
    if lines:
        blocks.append(_text_block(in_code, lines, start, kind))
    return Document(path, kind, blocks)


def _text_block(code: bool, lines: list[str], start: int, kind: DocumentKind) -> Block:
    text = "\n".join(lines)
    images = len(_MARKDOWN_IMAGE.findall(text)) if kind == "markdown" and not code else 0
    return Block("code" if code else "prose", text, f"line {start}", (), images)


def _read_pdf(path: Path) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ReportError(path, "the PDF is encrypted with a password; submit it without one")
        blocks = [Block("prose", page.extract_text() or "", f"page {number}", (), _page_images(page))
                  for number, page in enumerate(reader.pages, start=1)]
    except ReportError:
        raise
    except (PyPdfError, OSError, ValueError, KeyError, TypeError) as exc:
        raise ReportError(path, f"cannot read the PDF ({type(exc).__name__}: {exc})") from exc
    if not any(block.text.strip() for block in blocks):
        raise ReportError(path, "the PDF has no text layer (a scan?); its answers cannot be checked automatically")
    return Document(str(path), "pdf", blocks)


def _page_images(page) -> int:  # noqa: ANN001 (pypdf's PageObject)
    try:
        return len(page.images)
    except Exception:  # an image pypdf cannot decode still counts as "something drawn", but not reliably
        return 0
