"""One kernel session of a submission: a workspace and an isolator made, the data sets and
files provisioned, the setup cell injected, the notebook run, then the probe cell with the
grader's requests, and what the probe wrote read back.

    prepared notebook ─▶ Workspace (data sets, handout files, student modules) ─▶ Isolator
    ─▶ executor: setup cell, the student's cells, probe cell ─▶ probe outputs (.npz, .json)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat
from pydantic import ValidationError

from vaegrade.grader.errors import ArtifactError
from vaegrade.grader.probe import artifacts
from vaegrade.grader.probe.requests import ProbeOutput, ProbeRequest
from vaegrade.grader.results import Isolation, SelfCheckRecord
from vaegrade.grader.rubric.public import PUBLIC_SUFFIX
from vaegrade.grader.rubric.schema import Rubric
from vaegrade.grader.run import transforms
from vaegrade.grader.run.datasets import served_files
from vaegrade.grader.run.environments import KernelEnvironment
from vaegrade.grader.run.executor import Execution, run_notebook
from vaegrade.grader.run.isolation import IsolationMode, isolator
from vaegrade.grader.run.prepare import HANDED_IN
from vaegrade.grader.run.workspace import Workspace
from vaegrade.grader.shipped import source_folders


@dataclass
class Session:
    """What a session produced: the ``execution`` (executed notebook and report), each probe
    request's output by key, self-check's verdicts (when it ran in the kernel), and how the
    kernel was isolated."""

    execution: Execution
    outputs: dict[str, ProbeOutput]
    selfcheck: SelfCheckRecord | None
    isolation: Isolation


def run_session(notebook: nbformat.NotebookNode, shims: dict[str, object], rubric: Rubric, kernel: KernelEnvironment,
                mode: IsolationMode, modules: list[Path], requests: Callable[[], list[ProbeRequest]],
                kernel_log: Path, public: str | None = None, weights: Path | None = None) -> Session:
    """Run ``notebook`` (its parameters set) under ``mode``, then probe it with ``requests()``
    (called only after the student's cells ran, so the probe's inputs do not exist while
    student code runs).

    The kernel's working directory holds, read-only, the served data sets, the rubric's handout
    files, the student's ``modules`` and handed-in ``weights`` (under
    :data:`vaegrade.grader.run.prepare.HANDED_IN`); with ``public`` (a public rubric's text), it also holds
    that rubric and vaegrade's source folders are visible, so that ``selfcheck.all()`` runs in
    the kernel before the probe (as a student's kernel finds the rubric in the bundle).
    """
    jail = isolator(mode, rubric.execution, kernel)
    if public is not None:
        jail.read_only += [(folder, folder) for folder in source_folders()]
    workspace = Workspace.create(jail)
    probe_dirs: list[Path] = []
    try:
        served = served_files(rubric.data.train_subset, rubric.data.test_subset)
        for name, path in served.items():
            workspace.provision(path, f"{name}.npz")
        for file, path in zip(rubric.files, rubric.file_paths()):
            workspace.provision(path, file.to)
        for path in modules:
            workspace.provision(path, path.name)
        if weights is not None:
            workspace.provision(weights, f"{HANDED_IN}/{rubric.weights.file}")
        if public is not None:
            (workspace.root / "public.yaml").write_text(public, encoding="utf-8")
            workspace.provision(workspace.root / "public.yaml", f"{rubric.name}{PUBLIC_SUFFIX}")
        setup = transforms.inject_setup_cell(notebook, {
            **shims, "seed": rubric.seed, "threads": rubric.execution.threads, "framework": rubric.framework,
            "max_steps_per_epoch": rubric.data.max_steps_per_epoch,
            "datasets": {name: str(workspace.work / f"{name}.npz") for name in served}})
        asked: list[ProbeRequest] = []

        def make_probe_cell() -> nbformat.NotebookNode:
            probe_dirs.append(workspace.probe_dir())
            asked.extend(requests())
            artifacts.write_requests(probe_dirs[0], asked, rubric.seed, rubric.framework)
            workspace.hand_over_probe(probe_dirs[0])
            return transforms.probe_cell(str(probe_dirs[0]), public is not None)

        execution = run_notebook(setup, jail, workspace.work, workspace.conn, rubric.seed, make_probe_cell,
                                 kernel_log=kernel_log)
        probed = "probe" in execution.report.phases
        outputs = artifacts.read_outputs(probe_dirs[0], asked) if probed else {}
        selfchecked = _selfcheck_record(probe_dirs[0]) if public is not None and probe_dirs else None
    finally:
        workspace.remove()
    return Session(execution, outputs, selfchecked, jail.describe())


def _selfcheck_record(probe_dir: Path) -> SelfCheckRecord:
    """The verdicts the kernel's self-check wrote (validated like any artifact), or why there are none."""
    try:
        return SelfCheckRecord.model_validate(artifacts.read_json(probe_dir / "selfcheck.json"))
    except (ArtifactError, ValidationError) as exc:
        return SelfCheckRecord(error=f"no usable self-check verdicts: {exc}")
