"""Before a notebook runs: its grading parameters set and its platform's shims found
(:func:`prepare`), and the grader's own preparation started in a thread (:class:`Preparation`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import nbformat

from vaegrade.grader.checks.base import ProbeContext, ProbeRequest
from vaegrade.grader.checks.evaluate import unique_requests
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


def prepare(notebook: nbformat.NotebookNode, rubric: Rubric) -> Prepared:
    """Set the grading parameters and find what the notebook needs shimmed on a CPU grader."""
    prepared, tagged, rewrites = transforms.set_parameters(notebook, rubric.parameter_values(),
                                                           targets(rubric.parameter_specs()))
    found = source.scan_platform([cell.source for cell in notebook.cells if cell.cell_type == "code"])
    shims = {"cuda": found.cuda, "colab": found.colab, "installs": bool(found.installs),
             "magics": sorted({magic.split()[0] for magic in found.magics}),
             "records": {key: recording.model_dump(mode="json") for check in rubric.checks
                         for key, recording in check.recordings().items()}}
    adaptations = ([f"grading parameter set in {rewrite}" for rewrite in rewrites] + found.notes()
                   + rubric.data.notes(rubric.dataset))
    return Prepared(prepared, tagged, rewrites, shims, adaptations, found.tensorflow_1)


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
