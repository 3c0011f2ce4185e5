"""Self-check: a rubric's public checks, run on the live objects of the student's own kernel.

    from vaegrade import selfcheck
    selfcheck("kl_divergence")     # one check, or several ids
    selfcheck.all()                # every public check

Like otter's ``grader.check``, but the checks are vaegrade's: the KL against its closed form,
the reparameterization by a Kolmogorov-Smirnov test, samples judged by the classifier. It is the
student's own code on the student's own machine, so nothing is sandboxed (and the result says
so). The probes are answered in this process by the same kernel side (``grader/probe/kernel/``) a grading
kernel runs, and judged by the same checks (:mod:`vaegrade.grader.checks.evaluate`), so a verdict here is the
verdict grading gives for the same objects. Only the rubric's public view is ever loaded
(:func:`vaegrade.grader.rubric.public.public_view`): hidden checks, their inputs and thresholds never reach the
student, and public inputs come from the public seed, not the grading seed.

Which rubric: ``selfcheck.use(PATH)`` (a rubric file, or a shipped rubric's name such as
``vae_mnist``), else ``$VAEGRADE_RUBRIC``, else the one ``*.public.yaml`` in the working directory
or its parents (a bundle's folder, where Jupyter starts the notebook's kernel).
Checks judged on the notebook's saved outputs (``figures``) read the notebook named by
``selfcheck.notebook`` or Jupyter's ``JPY_SESSION_NAME``, as last saved; without one they are
``skipped`` and ``vaegrade check NOTEBOOK`` judges them. A ``loss`` check that records the
notebook's own training steps (no ``step:``) is skipped too: the steps ran before self-check did.

The result shows itself as HTML in a notebook (``_repr_html_``) and as text in a terminal, and
``save(path)`` writes it as JSON (:class:`SelfCheckResult`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
from pydantic import BaseModel, Field, PrivateAttr

from vaegrade.grader.checks import scoring
from vaegrade.grader.checks.base import CheckSpec, Evidence, HandedIn
from vaegrade.grader.checks.evaluate import evaluate_checks, unique_requests
from vaegrade.grader.errors import RubricError, SubmissionError
from vaegrade.grader.probe import artifacts
from vaegrade.grader.probe.cell import GRADING_VARIABLE, run_probe
from vaegrade.grader.publish import feedback
from vaegrade.grader.results import CheckResult, check_lines
from vaegrade.grader.rubric.public import find_public_rubric, load_public
from vaegrade.grader.rubric.schema import Rubric, Withheld


def _not_here(check: CheckSpec, notebook: nbformat.NotebookNode | None) -> str | None:
    """Why ``check`` cannot be judged in the student's kernel now (None: it can)."""
    if check.reads_notebook and notebook is None:
        return ("judged on the saved notebook's outputs: run `vaegrade check NOTEBOOK`, or set selfcheck.notebook "
                "to the notebook's path after saving it")
    if check.recordings():
        return ("judged on your training steps as they run, recorded from the notebook's first cell: run "
                "`vaegrade check NOTEBOOK`")
    return None


class SelfCheckResult(BaseModel):
    """The verdicts of one self-check: per public check its result, and what was not run."""

    rubric: str = Field(description="the rubric's name")
    title: str
    source: str = Field(description="the rubric file it was read from")
    seed: int = Field(description="the public seed the inputs were drawn from (never the grading seed)")
    checks: list[CheckResult]
    seconds: float = Field(description="wall time of the probes and checks")
    withheld: Withheld
    _figures: dict[str, np.ndarray] = PrivateAttr(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when every check that ran passed (skipped ones aside) and at least one ran."""
        ran = [c for c in self.checks if c.status != "skipped"]
        return bool(ran) and all(c.status == "passed" for c in ran)

    def __str__(self) -> str:
        lines = [f"vaegrade self-check: {self.title} ({self.source})",
                 f"your own code, run in this kernel without a sandbox; inputs from the public seed {self.seed}",
                 *check_lines(self.checks)]
        if self.withheld.describe():
            lines.append(self.withheld.describe())
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return feedback.render("selfcheck.html.j2", self, self._figures)

    def save(self, path: str | Path) -> None:
        """Write the verdicts as JSON (figures left out)."""
        Path(path).write_text(self.model_dump_json(indent=2), encoding="utf-8")


class SelfCheck:
    """The ``selfcheck`` object students import: call it with check ids, or ``.all()``."""

    def __init__(self) -> None:
        self.notebook: str | Path | None = None
        self.namespace: dict[str, Any] | None = None  # default: the kernel's globals (IPython's user namespace)
        self._path: Path | None = None
        self._rubric: Rubric | None = None

    def use(self, rubric: str | Path) -> None:
        """Check against this rubric: a file, or the name of a rubric vaegrade ships (``vae_mnist``).

        Raises:
            RubricError: no such file or shipped rubric, or it does not validate.
        """
        self._path, self._rubric = load_public(rubric)

    def rubric(self) -> Rubric:
        """The public view of the rubric in use, found as the module docstring says.

        Raises:
            RubricError: none found, or it does not validate.
        """
        if self._rubric is None:
            found = os.environ.get("VAEGRADE_RUBRIC") or find_public_rubric(Path.cwd())
            if found is None:
                raise RubricError(Path.cwd(), None, "no public rubric (*.public.yaml) here or in a parent folder: "
                                                    "call selfcheck.use('path/to/rubric.yaml') first")
            self.use(found)
        return self._rubric

    def __call__(self, *check_ids: str) -> SelfCheckResult:
        """Run the named public checks (all of them when none is named).

        While the notebook is being graded, nothing runs (grading runs the checks itself): the
        result says so and holds no check.

        Raises:
            KeyError: an id that is not a public check (a hidden check's id included: it is not known here).
        """
        if os.environ.get(GRADING_VARIABLE):
            print("vaegrade: self-check does not run while your notebook is graded: the grader runs the checks itself")
            return SelfCheckResult(rubric="", title="self-check skipped while grading", source="", seed=0, checks=[],
                                   seconds=0.0, withheld=Withheld())
        rubric = self.rubric()
        by_id = {check.id: check for check in rubric.checks}
        unknown = [check_id for check_id in check_ids if check_id not in by_id]
        if unknown:
            raise KeyError(f"no public check {', '.join(map(repr, unknown))} in {rubric.name}; "
                           f"the public checks are: {', '.join(by_id)}")
        return self._run(rubric, [by_id[i] for i in check_ids] if check_ids else rubric.checks)

    def all(self) -> SelfCheckResult:
        """Run every public check."""
        return self()

    def _run(self, rubric: Rubric, checks: list[CheckSpec]) -> SelfCheckResult:
        started = time.monotonic()
        notebook = self._saved_notebook()
        skipped = {check.id: why for check in checks if (why := _not_here(check, notebook))}
        runnable = [check for check in checks if check.id not in skipped]
        namespace = self.namespace if self.namespace is not None else _namespace()
        context = dataclasses.replace(rubric.probe_context(), parameters=kernel_parameters(rubric, namespace))
        requests = unique_requests(runnable, context)
        with tempfile.TemporaryDirectory(prefix="vaegrade-selfcheck-") as directory, _rng_kept():
            artifacts.write_requests(Path(directory), list(requests.values()), rubric.seed, rubric.framework)
            run_probe(namespace, directory)
            outputs = artifacts.read_outputs(Path(directory), list(requests.values()))
        evidence = Evidence(requests=requests, outputs=outputs, notebook=notebook or nbformat.v4.new_notebook(),
                            context=context, weights=_handed_in())
        results, figures = evaluate_checks(runnable, evidence)
        verdicts = {result.id: result for result in results}
        ordered = [verdicts.get(check.id) or scoring.unevaluated(check.id, check.title, check.points, skipped[check.id],
                                                                 status="skipped") for check in checks]
        result = SelfCheckResult(rubric=rubric.name, title=rubric.title, source=str(self._path), seed=rubric.seed,
                                 checks=ordered, seconds=round(time.monotonic() - started, 3), withheld=rubric.withheld)
        result._figures = figures
        return result

    def _saved_notebook(self) -> nbformat.NotebookNode | None:
        """The notebook as last saved, when its path is known (set, or Jupyter's JPY_SESSION_NAME)."""
        path = self.notebook or os.environ.get("JPY_SESSION_NAME")
        if not path or not str(path).endswith(".ipynb") or not Path(path).is_file():
            return None
        try:
            return nbformat.read(path, as_version=4)
        except Exception as exc:  # a notebook saved half-way, or not a notebook: say so, do not crash the kernel
            raise SubmissionError(path, f"cannot be read as a saved notebook: {exc}") from exc


def kernel_parameters(rubric: Rubric, namespace: dict[str, Any]) -> dict[str, Any]:
    """The grading parameters as the student's kernel has them: each one's value in the namespace
    (under its name or one of its ``names``) when it is a scalar of the rubric value's type, else
    the rubric's value. Grading sets them; a student may have trained for other epochs."""
    values = rubric.parameter_values()
    for name, spec in rubric.parameter_specs().items():
        for alias in [name, *spec.names]:
            value = namespace.get(alias)
            if type(value) is type(spec.value) or (isinstance(spec.value, float) and type(value) is int):
                values[name] = value
                break
    return values


def _namespace() -> dict[str, Any]:
    """The student's global namespace: IPython's user namespace, else ``__main__``'s."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell.user_ns if shell is not None else vars(sys.modules["__main__"])


@contextlib.contextmanager
def _rng_kept():
    """Restore torch's global random state after the probe (which seeds it), so self-check does
    not change the rest of the student's session."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
    else:
        with torch.random.fork_rng(devices=[]):
            yield


selfcheck = SelfCheck()


def _handed_in() -> HandedIn | None:
    """The handed-in weights this kernel loaded, when grading injected their loading cell (see
    :func:`vaegrade.grader.run.transforms.inject_weights_cell`); None in a student's own kernel."""
    outcome = getattr(sys.modules.get("_vaegrade_weights"), "outcome", None)
    return None if outcome is None else HandedIn(None, bool(outcome["loaded"]), str(outcome["message"]))
