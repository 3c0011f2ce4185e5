"""Rubric files: YAML, validated with pydantic when loaded, errors reported with file and line.

A rubric names the assignment, the parameters injected into the notebook's ``parameters``
cell, the execution limits, the checks (each a registered type from :mod:`grader.checks`),
and the written questions (``report:``, see :mod:`grader.report.spec`).
``load_rubric`` raises :class:`grader.errors.RubricError` before any notebook runs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from grader.checks import CHECK_TYPES
from grader.errors import RubricError
from grader.report.spec import ReportSpec

CheckEntry = Annotated[Union[tuple(CHECK_TYPES.values())], Field(discriminator="type")]


class ExecutionPolicy(BaseModel):
    """Limits for one notebook run. Times in seconds (wall clock unless said), sizes in MiB.

    ``cell_timeout`` and ``notebook_timeout`` apply in every isolation mode; the rest are
    enforced by the sandbox (:mod:`grader.sandbox`) and the executor's watchdog.
    """

    model_config = ConfigDict(extra="forbid")

    cell_timeout: float = Field(300.0, gt=0)
    notebook_timeout: float = Field(900.0, gt=0)
    kernel_name: str = "python3"
    threads: int = Field(1, ge=1, description="torch/OpenMP threads in the kernel; fixed for reproducibility")
    cpu_seconds: float | None = Field(None, gt=0, description="CPU time of the kernel process; "
                                                               "default notebook_timeout x max(threads, 2)")
    memory_mb: int = Field(4096, ge=1024, description="memory cgroup limit, else address-space limit")
    processes: int = Field(256, ge=16, description="processes and threads of the sandbox user (RLIMIT_NPROC)")
    file_size_mb: int = Field(512, ge=1, description="largest file the kernel may write (RLIMIT_FSIZE)")
    workdir_mb: int = Field(1024, ge=1, description="total size of the working directory")
    tmp_mb: int = Field(256, ge=1, description="size of the kernel's private /tmp")
    open_files: int = Field(1024, ge=64, description="open file descriptors (RLIMIT_NOFILE)")
    output_mb: float = Field(5.0, gt=0, description="notebook outputs kept; the rest is dropped with a note")
    notebook_mb: int = Field(50, ge=1, description="largest notebook file accepted for grading")

    @property
    def cpu_limit(self) -> float:
        return self.cpu_seconds or self.notebook_timeout * max(self.threads, 2)

    def limits(self) -> dict[str, float]:
        """Every limit, as recorded in results (``cpu_seconds`` resolved)."""
        values = self.model_dump(exclude={"kernel_name", "threads"})
        return {**values, "cpu_seconds": self.cpu_limit}


class Rubric(BaseModel):
    """A validated rubric. ``max_score`` is the sum of the checks' points."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    title: str
    seed: int = 0
    dataset: Literal["mnist"] = "mnist"
    parameters: dict[str, int | float | bool | str] = Field(default_factory=dict)
    execution: ExecutionPolicy = Field(default_factory=ExecutionPolicy)
    checks: list[CheckEntry] = Field(default_factory=list)
    report: ReportSpec | None = None
    _sha256: str = PrivateAttr("")

    @model_validator(mode="after")
    def _something_to_grade(self) -> "Rubric":
        if not self.checks and self.report is None:
            raise ValueError("a rubric needs `checks`, a `report` section, or both")
        return self

    @property
    def max_score(self) -> float:
        return sum(check.points for check in self.checks) + sum(self.report_points().values())

    def report_points(self) -> dict[str, float]:
        """The report checks' ids and points (none without a ``report:`` section)."""
        return self.report.points() if self.report else {}

    def check_points(self) -> dict[str, float]:
        """Every check id the rubric produces and its points, in order (report checks last)."""
        return {check.id: check.points for check in self.checks} | self.report_points()

    @property
    def sha256(self) -> str:
        """sha256 of the rubric file's text, recorded in every result graded under it."""
        return self._sha256


def load_rubric(path: str | Path) -> Rubric:
    """Read and validate a rubric file.

    Raises:
        RubricError: the file is missing, is not YAML, or does not validate; the message names
            the file, the line of the offending entry, and what was wrong.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RubricError(path, None, f"cannot read the rubric: {exc}") from exc
    try:
        data = yaml.safe_load(text)
        lines = _line_numbers(yaml.compose(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RubricError(path, mark.line + 1 if mark else None, f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RubricError(path, 1, "a rubric is a YAML mapping with name, title and checks")
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(part) for part in first["loc"]]
        line = _line_for(loc + (["type"] if first["type"] == "union_tag_invalid" else []), lines)
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise RubricError(path, line, f"{'.'.join(loc) or 'rubric'}: {first['msg']}{more}") from exc
    ids = [check.id for check in rubric.checks]
    for index, check_id in enumerate(ids):
        if check_id in ids[:index]:
            raise RubricError(path, lines.get(("checks", str(index), "id")), f"check id {check_id!r} is used twice")
    rubric._sha256 = hashlib.sha256(text.encode()).hexdigest()
    return rubric


def _line_numbers(node: yaml.Node | None, path: tuple = ()) -> dict[tuple, int]:
    """Map each key path (('checks', '2', 'points')) to its 1-based line in the YAML text."""
    lines: dict[tuple, int] = {}
    if node is None:
        return lines
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            lines.update(_line_numbers(value_node, path + (str(key_node.value),)))
            lines[path + (str(key_node.value),)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_line_numbers(item, path + (str(index),)))
    return lines


def _line_for(loc: list[str], lines: dict[tuple, Any]) -> int | None:
    """The line of the deepest key path in the YAML that a pydantic error location leads to.

    Location parts that are not keys of the file (a discriminated union's tag, such as
    ``function``) are skipped, choosing whichever reading matches the most parts.
    """
    def deepest(path: tuple, rest: list[str]) -> tuple:
        if not rest:
            return path
        skipped = deepest(path, rest[1:])
        if path + (rest[0],) in lines:
            taken = deepest(path + (rest[0],), rest[1:])
            return taken if len(taken) > len(skipped) else skipped
        return skipped

    return lines.get(deepest((), loc))
