"""The grader's exceptions, one tree rooted at :class:`GraderError`.

    GraderError
    ├── RubricError           a rubric file is unreadable or invalid (path, line)
    ├── SubmissionError       a submission cannot be read as a notebook (path)
    ├── ReportError           a written report cannot be read (path), or an overrides file is invalid
    ├── ClassFileError        nothing graded in OUT, a bad roster or submission-times file (path)
    ├── ArtifactError         a probe artifact is missing, unsafe or malformed (path)
    ├── SandboxUnavailable    student code cannot be sandboxed here (vaegrade.grader.run.isolation)
    ├── NoSlot                every sandbox slot is leased (vaegrade.grader.run.slots)
    ├── EnvironmentBuildError a rubric's kernel environment cannot be built, or a package of it does not import
    │                         (vaegrade.grader.run.environments, vaegrade.grader.run.smoke)
    ├── ClusterUnavailable    no Dask cluster, or no worker of it, can grade (vaegrade.grader.batch.workers)
    ├── Interrupted           Ctrl-C during a batch: what was kept and how to resume (vaegrade.grader.batch.grade)
    └── Lost                  a worker died on every attempt at a submission (vaegrade.grader.batch.workers)

Problems inside a student's notebook (a cell that raises, a timeout, a dead kernel) are not
exceptions: they become fields of :class:`vaegrade.grader.results.ExecutionReport`.
"""

from __future__ import annotations

from pathlib import Path


class GraderError(Exception):
    """Base of every error the grader reports to a user instead of a traceback: one line on
    stderr and the exit status ``status``."""

    status = 2


class Interrupted(GraderError):
    """The user pressed Ctrl-C during a batch; the message says what was kept and how to go on."""

    status = 130  # 128 + SIGINT, as shells report an interrupted command


class RubricError(GraderError):
    """A rubric file is unreadable or does not validate; carries the file and line."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path, self.line, self.message = Path(path), line, message
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


class SubmissionError(GraderError):
    """A submission file cannot be read as a Jupyter notebook."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path, self.message = Path(path), message
        super().__init__(f"{path}: {message}")


class ReportError(GraderError):
    """A report file (PDF, Markdown, text) or an overrides file cannot be read or is invalid."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path, self.message = Path(path), message
        super().__init__(f"{path}: {message}")


class ClassFileError(GraderError):
    """A class-level file cannot be used: nothing graded in OUT to export or summarise, an
    invalid roster or submission-times CSV (the line), an option the rubric does not support."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path, self.message = Path(path), message
        super().__init__(f"{path}: {message}")


class ArtifactError(GraderError):
    """A probe artifact is missing, not a regular file, too large, or has the wrong shape/dtype."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path, self.message = Path(path), message
        super().__init__(f"{Path(path).name}: {message}")


class ClusterUnavailable(GraderError):
    """No Dask cluster to grade on: ``distributed`` is missing, the scheduler cannot be reached,
    or no worker of it can grade (:mod:`vaegrade.grader.batch.workers`)."""


class Lost(GraderError):
    """An item an executor could not get graded (its worker died on every attempt, or the
    cluster went away); says what happened, for the internal error result."""
