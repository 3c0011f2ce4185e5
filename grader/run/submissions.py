"""Finding submissions and reading them as notebooks, with a precise message for every way a
file can fail to be one.

A class folder holds notebooks directly or one folder per student; a student folder with no
notebook in it is a submission too (graded as an error, so nobody silently disappears from the
gradebook). Two submissions with the same bytes are flagged as duplicates of each other.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

from vaegrade.grader.errors import SubmissionError


@dataclass(frozen=True)
class Submission:
    """A notebook to grade (or a folder that should have held one), the name its results go
    under (``OUT/<name>/``), the sha256 of its bytes (empty for a folder), the submissions with
    the same bytes, and the report file and trained weights handed in with it, once a rubric
    asked for them (:func:`vaegrade.grader.run.grade.locate_files`)."""

    name: str
    path: Path
    sha256: str = ""
    duplicate_of: tuple[str, ...] = ()
    report: Path | None = None
    weights: Path | None = None


def find_weights(notebook: Path, file: str) -> Path | None:
    """The trained weights handed in with ``notebook``, saved by the handout as ``file``
    (``vae.pt``): ``<notebook's stem><file's suffixes>`` beside it (``reference_solution.pt`` in a
    folder of notebooks), else ``file`` itself when the notebook is alone in its folder (a
    student's own). None when there is none (a symbolic link is never followed)."""
    folder = notebook.parent
    own = folder / (notebook.stem + "".join(Path(file).suffixes))
    if own.is_file() and not own.is_symlink():
        return own
    alone = len(list(folder.glob("*.ipynb"))) <= 1
    named = folder / file
    return named if alone and named.is_file() and not named.is_symlink() else None


#: Where ``vaegrade check`` writes its feedback beside a student's notebook (with an executed copy).
CHECK_FOLDER = "vaegrade-check"
#: Folders whose notebooks are never submissions: Jupyter's autosaves, and ``vaegrade check``'s
#: output, should a student hand that in too.
NOT_SUBMISSIONS = (".ipynb_checkpoints", CHECK_FOLDER)


def find_submissions(paths: list[Path]) -> list[Submission]:
    """Notebooks named on the command line, or found (recursively) in folders, sorted; plus,
    for each folder given, each of its subfolders that holds no notebook at all. Notebooks under
    the folders :data:`NOT_SUBMISSIONS` names are left out.

    Names are file stems; where two stems collide, the parent folder's name is prefixed.

    Raises:
        SubmissionError: a path does not exist, or names neither a notebook nor a folder.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            notebooks = sorted(p for p in path.rglob("*.ipynb") if not set(NOT_SUBMISSIONS) & set(p.parts))
            empty = [d for d in sorted(path.iterdir()) if d.is_dir() and not d.name.startswith(".")
                     and not any(p.is_relative_to(d) for p in notebooks)]
            found.extend(sorted(notebooks + empty))
        elif path.is_file() and path.suffix == ".ipynb":
            found.append(path)
        else:
            raise SubmissionError(path, "not a .ipynb file or a folder of them")
    stems = [p.stem for p in found]
    named = [(p.stem if stems.count(p.stem) == 1 else f"{p.parent.name}__{p.stem}", p, _sha256(p)) for p in found]
    return [Submission(name, path, digest, tuple(other for other, _, d in named if d == digest and other != name and digest))
            for name, path, digest in named]


def _sha256(path: Path) -> str:
    if not path.is_file():
        return ""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_notebook(path: Path, max_bytes: int) -> tuple[nbformat.NotebookNode, list[str]]:
    """Read a submission as a valid nbformat-4 Python notebook, and the repairs made to it.

    Repairs (each reported): conversion from nbformat 3; cell ids added where nbformat 4.5+
    requires them.

    Raises:
        SubmissionError: a folder without a notebook, a file too large, empty, not UTF-8, not
            JSON, not a notebook, of an unknown nbformat, invalid against the notebook schema,
            or written for a kernel other than Python.
    """
    if path.is_dir():
        raise SubmissionError(path, "this submission folder holds no .ipynb notebook")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SubmissionError(path, f"is {size / 2**20:.0f} MB, more than the {max_bytes / 2**20:.0f} MB a "
                                        "notebook may be (clear large outputs before submitting)")
        raw = path.read_bytes()
    except OSError as exc:
        raise SubmissionError(path, f"cannot be read: {exc.strerror}") from exc
    if not raw.strip():
        raise SubmissionError(path, f"is empty ({len(raw)} bytes): save the notebook again and resubmit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(path, f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}): "
                                    "a binary or differently encoded file named .ipynb") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionError(path, f"is not valid JSON at line {exc.lineno}, column {exc.colno} "
                                    f"({exc.msg.removesuffix(' at').lower()}): "
                                    "a truncated or hand-edited file?") from exc
    if not isinstance(data, dict) or "nbformat" not in data:
        raise SubmissionError(path, "is JSON but not a Jupyter notebook (no `nbformat` field)")
    major = data.get("nbformat")
    if major not in (3, 4):
        raise SubmissionError(path, f"has nbformat {major!r}; vaegrade reads nbformat 3 and 4")
    repairs = ["converted from nbformat 3 to 4"] if major == 3 else []
    if major == 4 and data.get("nbformat_minor", 0) >= 5 and any("id" not in c for c in data.get("cells", [])
                                                                  if isinstance(c, dict)):
        repairs.append("some cells had no id (required since nbformat 4.5); ids were added")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(text, as_version=4)
            nbformat.validate(notebook)
    except Exception as exc:  # nbformat raises schema, conversion and key errors alike
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SubmissionError(path, f"does not follow the notebook format: {first[:200]}") from exc
    language = _language(notebook)
    if language and language.lower() != "python":
        kernel = notebook.metadata.get("kernelspec", {}).get("name", "?")
        raise SubmissionError(path, f"is written for {language} (kernel {kernel!r}), not Python: "
                                    "this assignment is graded in Python 3")
    return notebook, repairs


def _language(notebook: nbformat.NotebookNode) -> str:
    kernelspec = notebook.metadata.get("kernelspec", {}) or {}
    info = notebook.metadata.get("language_info", {}) or {}
    return str(kernelspec.get("language") or info.get("name") or "")
