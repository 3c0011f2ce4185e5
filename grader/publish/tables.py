"""The small CSV files an instructor hands vaegrade (manual grades, a roster, submission times),
read with one precise error for each way they can fail to be read."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable, Sequence

from vaegrade.grader.errors import GraderError


def read_rows(path: Path, columns: Sequence[str], error: Callable[[Path, str], GraderError]) -> list[dict[str, str]]:
    """The rows of the CSV at ``path`` (UTF-8; a spreadsheet's byte-order mark is allowed), each
    a dict by its header's names.

    Raises:
        ``error(path, message)``: the file cannot be read as CSV text, or it has rows and its
            header lacks one of ``columns`` (line 1).
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise error(path, f"cannot read it: {exc}") from exc
    missing = [column for column in columns if rows and column not in rows[0]]
    if missing:
        raise error(path, f"line 1: missing column(s) {', '.join(missing)}; the header needs {','.join(columns)}")
    return rows
