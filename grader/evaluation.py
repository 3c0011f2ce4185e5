"""From a rubric's checks to their results: the probe context, the requests, the evaluation.

Grading (:mod:`grader.api`, probes answered by a sandboxed kernel) and self-check
(:mod:`grader.selfcheck`, probes answered in the student's own kernel) share these steps, so a
check gives the same verdict on the same objects whichever way its probes were answered.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np

from grader import scoring
from grader.checks.base import CheckSpec, Evidence, ProbeContext, ProbeRequest
from grader.results import CheckResult
from grader.rubric import Rubric
from reference.data import MNIST, load_dataset


@lru_cache(maxsize=None)
def dataset(name: str) -> MNIST:
    """A shipped data set, read and sha256-checked once per process."""
    return load_dataset(name)


def probe_context(rubric: Rubric) -> ProbeContext:
    """What the rubric's checks build their probe inputs from (its seed, data set, parameters, model)."""
    return ProbeContext(seed=rubric.seed, data=dataset(rubric.dataset), parameters=rubric.parameter_values(),
                        dataset=rubric.dataset, framework=rubric.framework, model=rubric.model)


class Preparation(threading.Thread):
    """What grading needs from the rubric besides the kernel, made in a thread while the notebook
    runs: the probe context and requests (:meth:`requests`, ready long before the probe cell),
    then what each check's :meth:`CheckSpec.prepare` loads (a judge, reference statistics,
    scipy.stats). Their cost, seconds in a fresh process, is then off the critical path, and a
    rubric whose checks need none of them pays for none (scipy.stats alone is 1.2 s of CPU).

    A failure of the warm-up is left to :func:`evaluate_checks`, which meets it again and reports
    it as that check's error; a failure to make the requests is raised by :meth:`requests`.
    Making the requests parses locators with ``ast``, and Python 3.11's ``ast.parse`` is not
    thread-safe (CPython gh-106905: "AST constructor recursion depth mismatch"), so the grading
    thread must do its own ``ast`` work (the notebook's parameters) before starting this one,
    and none until :meth:`requests` returns.
    """

    def __init__(self, rubric: Rubric) -> None:
        super().__init__(name="vaegrade-preparation", daemon=True)
        self.rubric = rubric
        self.made = threading.Event()
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.context = probe_context(self.rubric)
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


def unique_requests(checks: list[CheckSpec], context: ProbeContext) -> dict[str, ProbeRequest]:
    """Every probe request of ``checks``, by key; a request two checks share is made once."""
    requests: dict[str, ProbeRequest] = {}
    for check in checks:
        for request in check.probes(context):
            requests.setdefault(request.key, request)
    return requests


def evaluate_checks(checks: list[CheckSpec], evidence: Evidence, kernel_usable: bool = True,
                    execution_message: str = "") -> tuple[list[CheckResult], dict[str, np.ndarray]]:
    """Each check's result and the figures' arrays. A check needing the kernel when it was not
    usable, or failing on odd evidence, is an ``error`` result with the reason, never an exception;
    a check whose ``requires`` did not all pass earns 0 (:func:`grader.scoring.with_requirements`)."""
    results, figures = [], {}
    for spec in checks:
        if spec.needs_kernel and not kernel_usable:
            results.append(scoring.error_result(spec, f"not evaluated: {execution_message}"))
            continue
        try:
            outcome = spec.evaluate(evidence)
        except Exception as exc:  # a check that cannot cope with odd evidence must not take the submission down
            results.append(scoring.error_result(spec, f"the grader could not evaluate this check: "
                                                      f"{type(exc).__name__}: {exc}"))
            continue
        results.append(scoring.check_result(spec, outcome))
        figures.update(outcome.artifacts)
    return scoring.with_requirements(checks, results), figures
