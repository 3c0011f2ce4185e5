"""Before a notebook runs: its grading parameters set, its platform's shims found and, with
handed-in weights, the cell that loads them placed (:func:`prepare`); the grader's own preparation
started in a thread (:class:`Preparation`); and, after it ran, what became of the weights
(:func:`handed_in`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import nbformat

from vaegrade.grader.checks.base import HandedIn, ProbeContext, ProbeRequest
from vaegrade.grader.checks.evaluate import unique_requests
from vaegrade.grader.probe.interface import describe_locator, locator_config
from vaegrade.grader.probe.requests import ProbeOutput, WeightsRequest
from vaegrade.grader.rubric.schema import Parameter, Rubric
from vaegrade.grader.run import source, transforms


@dataclass(frozen=True)
class Prepared:
    """A notebook ready to run: parameters set (``tagged``: after a ``parameters`` cell, else
    ``rewrites``), the kernel setup's ``shims`` config, every ``adaptation`` as a sentence, and
    what marks the code as TensorFlow 1.x (``tensorflow_1``, :data:`vaegrade.grader.run.source.TF1_ONLY`)."""

    notebook: nbformat.NotebookNode
    tagged: bool
    rewrites: list[str]
    shims: dict[str, object]
    adaptations: list[str]
    tensorflow_1: list[str]


#: Where handed-in weights appear in the kernel's working directory (read-only).
HANDED_IN = ".vaegrade-weights"


def prepare(notebook: nbformat.NotebookNode, rubric: Rubric, weights: Path | None = None) -> Prepared:
    """Set the grading parameters and find what the notebook needs shimmed on a CPU grader; with
    handed-in ``weights`` (``rubric`` then being :meth:`Rubric.with_weights`), load them after the
    notebook's training (:func:`vaegrade.grader.run.transforms.inject_weights_cell`)."""
    prepared, tagged, rewrites = transforms.set_parameters(notebook, rubric.parameter_values(),
                                                           targets(rubric.parameter_specs()))
    loaded = []
    if weights is not None:
        spec = {"path": f"{HANDED_IN}/{rubric.weights.file}", "into": locator_config(rubric.weights.into),
                "name": f"`{weights.name}` into {describe_locator(rubric.weights.into)}"}
        prepared, cell = transforms.inject_weights_cell(prepared, rubric.framework, spec)
        budget = ", ".join(f"{name} = {value}" for name, value in rubric.weights.parameters.items())
        loaded = [f"your trained weights (`{weights.name}`) were loaded into {describe_locator(rubric.weights.into)} "
                  + (f"after cell {cell}, the last that trains" if cell else "after your last cell")
                  + (f"; your training ran first at the short budget {budget}" if budget else "")]
    found = source.scan_platform([cell.source for cell in notebook.cells if cell.cell_type == "code"])
    shims = {"cuda": found.cuda, "colab": found.colab, "installs": bool(found.installs),
             "magics": sorted({magic.split()[0] for magic in found.magics}),
             "records": {key: recording.model_dump(mode="json") for check in rubric.checks
                         for key, recording in check.recordings().items()}}
    adaptations = ([f"grading parameter set in {rewrite}" for rewrite in rewrites] + loaded + found.notes()
                   + rubric.data.notes(rubric.dataset))
    return Prepared(prepared, tagged, rewrites, shims, adaptations, found.tensorflow_1)


WEIGHTS_KEY = "handed_in_weights"


def weights_request() -> WeightsRequest:
    """The probe's question: were the handed-in weights loaded (see :func:`handed_in`)?"""
    return WeightsRequest(key=WEIGHTS_KEY)


def handed_in(weights: Path | None, rubric: Rubric, outputs: dict[str, ProbeOutput]) -> HandedIn:
    """What became of the trained ``weights`` the rubric asks for: not handed in, not loaded (why), or loaded."""
    if weights is None:
        return HandedIn(None, False, f"no trained weights were handed in: save them as the handout does, to "
                                     f"`{rubric.weights.file}`, and hand that file in beside your notebook")
    output = outputs.get(WEIGHTS_KEY, ProbeOutput(error="the probe did not run"))
    if output.error is not None:
        return HandedIn(weights.name, False, f"your trained weights were not loaded: {output.error}")
    loaded, message = bool(output.arrays["loaded"]), output.arrays["message"].tobytes().decode(errors="replace")
    return HandedIn(weights.name, loaded, message if loaded else f"your trained weights could not be loaded: {message}")


def targets(specs: dict[str, Parameter]) -> source.Targets:
    """Where each grading parameter may be set in a notebook without a ``parameters`` cell, and its
    values (``per_call``, else ``value``), for one notebook's rewrite."""
    return source.Targets(
        values={name: list(spec.per_call) or [spec.value] for name, spec in specs.items()},
        names={alias: name for name, spec in specs.items() for alias in [name, *spec.names]},
        keywords={(function, keyword): name for name, spec in specs.items()
                  for function, keyword in (k.split(".") for k in spec.keywords)},
        loops={variable: name for name, spec in specs.items() for variable in spec.loops},
        positions={(function, int(index)): name for name, spec in specs.items()
                   for function, index in (p.split(".") for p in spec.positions)})


class Preparation(threading.Thread):
    """What grading needs from the rubric besides the kernel, made in a thread while the notebook
    runs: the probe context and requests (:meth:`requests`, ready long before the probe cell),
    then what each check's :meth:`CheckSpec.prepare` loads (a judge, reference statistics,
    scipy.stats). Their cost, seconds in a fresh process, is then off the critical path, and a
    rubric whose checks need none of them pays for none (scipy.stats alone is 1.2 s of CPU).

    A failure of the warm-up is left to :func:`vaegrade.grader.checks.evaluate.evaluate_checks`,
    which meets it again and reports it as that check's error; a failure to make the requests is
    raised by :meth:`requests`. Making the requests parses locators with ``ast``, and Python
    3.11's ``ast.parse`` is not thread-safe (CPython gh-106905: "AST constructor recursion depth
    mismatch"), so the grading thread must do its own ``ast`` work (the notebook's parameters)
    before starting this one, and none until :meth:`requests` returns.
    """

    def __init__(self, rubric: Rubric) -> None:
        super().__init__(name="vaegrade-preparation", daemon=True)
        self.rubric = rubric
        self.made = threading.Event()
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.context = self.rubric.probe_context()
            self.probe_requests = unique_requests(self.rubric.checks, self.context)
        except BaseException as exc:  # noqa: BLE001  (raised again by requests(), in the grading thread)
            self.error = exc
            return
        finally:
            self.made.set()
        try:
            for check in self.rubric.checks:
                check.prepare(self.context)
        except Exception:  # noqa: BLE001  (evaluate_checks meets the same problem and reports it)
            pass

    def requests(self) -> tuple[ProbeContext, dict[str, ProbeRequest]]:
        """The probe context and the requests, by key, once made."""
        self.made.wait()
        if self.error is not None:
            raise self.error
        return self.context, self.probe_requests
