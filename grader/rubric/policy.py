"""The execution policy: limits for one notebook run, read by the sandbox and the executor.

A leaf module (pydantic only), so importing the sandbox does not import the rubric or the checks.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ExecutionPolicy(BaseModel):
    """Limits for one notebook run. Times in seconds (wall clock unless said), sizes in MiB.

    ``cell_timeout`` and ``notebook_timeout`` apply in every isolation mode; the rest are
    enforced by the sandbox (:mod:`vaegrade.grader.run.isolation`) and the executor's watchdog.
    """

    model_config = ConfigDict(extra="forbid")

    cell_timeout: float = Field(300.0, gt=0, description='seconds one cell may run')
    notebook_timeout: float = Field(900.0, gt=0, description='seconds the whole notebook may run')
    kernel_name: str = Field("python3", description="the Jupyter kernel spec (its Python is replaced by the kernel environment's)")
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

