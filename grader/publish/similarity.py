"""Similarity flags: near-duplicate code and written answers across a class, listed in the class
overview for a person to look at, never a deduction.

Each notebook's code cells (and, apart, its Markdown cells) are fingerprinted by winnowing
(Schleimer, Wilkerson & Aiken, "Winnowing: local algorithms for document fingerprinting",
SIGMOD 2003) with the ``copydetect`` library: code is tokenised first, so comments, whitespace
and the names of variables, functions and classes do not count (renaming is no disguise);
answers are compared as lower-cased text with runs of whitespace collapsed. Fingerprints of the
rubric's handout notebook are boilerplate, never evidence (every student starts from it). A pair
is flagged when at least :data:`THRESHOLD` of either one's fingerprinted text is found in the other.

Measured on the shipped samples (``submissions/vae_mnist``, handout excluded): independently
written solutions (the reference and ``alternative_conv_vae``) share 6-16% of their code; a copy
with renamed variables shares 100%. The flawed samples are one-line edits of the reference
solution, so they are flagged with it and with each other, as copies should be.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from vaegrade.grader.errors import SubmissionError
from vaegrade.grader.run.submissions import Submission, read_notebook

#: Share of a text found in the other's above which a pair is flagged.
THRESHOLD = 0.5
#: copydetect's defaults: matches shorter than K characters (of filtered code) are noise, and
#: every match of K characters is found (window 1).
K, WINDOW = 25, 1
Kind = Literal["code", "answers"]


@dataclass(frozen=True)
class Flag:
    """Two submissions whose ``kind`` of text overlaps: ``similarity`` is the share of each one's
    text found in the other; ``passages`` the longest shared passages of each (at most 3)."""

    kind: Kind
    first: str
    second: str
    similarity: tuple[float, float]
    passages: tuple[tuple[str, ...], tuple[str, ...]]


def texts(path: Path) -> dict[Kind, str]:
    """A notebook's code (magics and shell lines left out) and its Markdown, each as one text;
    empty for a notebook that cannot be read (it is reported where it is graded)."""
    try:
        notebook = read_notebook(path, 64 * 2**20)[0]
    except SubmissionError:
        return {"code": "", "answers": ""}
    code = "\n".join(line for cell in notebook.cells if cell.cell_type == "code"
                     for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
    answers = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    return {"code": code, "answers": re.sub(r"\s+", " ", answers.lower())}


def _fingerprint(kind: Kind, text: str, boilerplate: np.ndarray | None = None):
    from copydetect import CodeFingerprint

    return CodeFingerprint("cells.py" if kind == "code" else "answers.txt", K, WINDOW, boilerplate=boilerplate,
                           filter=kind == "code", fp=io.StringIO(text))


#: Where a batch keeps its flags beside the results, so that the overview can be drawn again later.
FLAGS_FILE = "similarity.json"


def save_flags(found: list[Flag], out: Path) -> None:
    """Keep ``found`` in ``OUT/similarity.json`` (read back by :func:`load_flags`)."""
    (out / FLAGS_FILE).write_text(json.dumps([dataclasses.asdict(flag) for flag in found], indent=1), encoding="utf-8")


def load_flags(out: Path) -> list[Flag]:
    """The flags the last batch kept under ``out`` (none when it kept none)."""
    path = out / FLAGS_FILE
    if not path.exists():
        return []
    return [Flag(kind=item["kind"], first=item["first"], second=item["second"], similarity=tuple(item["similarity"]),
                 passages=tuple(tuple(side) for side in item["passages"])) for item in json.loads(path.read_text())]


def flags(submissions: list[Submission], handout: Path | None = None) -> list[Flag]:
    """Every flagged pair of ``submissions`` (notebooks; folders without one are skipped), code
    and answers apart, most similar first. Fewer than two notebooks import nothing (copydetect
    imports matplotlib: 0.9 s)."""
    notebooks = [s for s in submissions if s.path.is_file()]
    if len(notebooks) < 2:
        return []
    from copydetect import compare_files

    written = {s.name: texts(s.path) for s in notebooks}
    found: list[Flag] = []
    starter = texts(handout) if handout is not None else {"code": "", "answers": ""}
    for kind in ("code", "answers"):
        boilerplate = np.array(sorted(_fingerprint(kind, starter[kind]).hashes)) if starter[kind] else None
        prints = {name: _fingerprint(kind, text[kind], boilerplate) for name, text in written.items()}
        for a, b in itertools.combinations(sorted(prints), 2):
            if not len(prints[a].hashes) or not len(prints[b].hashes):
                continue
            _, similarity, slices = compare_files(prints[a], prints[b])
            if max(similarity) >= THRESHOLD:
                found.append(Flag(kind, a, b, (float(similarity[0]), float(similarity[1])),
                                  (_passages(prints[a].raw_code, slices[0]), _passages(prints[b].raw_code, slices[1]))))
    return sorted(found, key=lambda f: -max(f.similarity))


def _passages(text: str, slices: np.ndarray, most: int = 3) -> tuple[str, ...]:
    """The ``most`` longest of ``text``'s ``slices`` (2 x N starts and ends), in text order."""
    if not len(slices) or not len(slices[0]):
        return ()
    spans = sorted(zip(slices[0].tolist(), slices[1].tolist()), key=lambda span: span[0] - span[1])[:most]
    return tuple(text[start:end] for start, end in sorted(spans))
