"""Checks of a student's functions against the reference: ``function`` and ``reparameterization``."""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.stats
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from grader.checks.base import CheckSpec, Evidence, Outcome, ProbeContext, ProbeRequest, missing_message, register
from reference import kl, losses

#: Reference callables a ``function`` check may name; each takes the student's positional
#: arguments (float64 tensors) and keyword arguments.
REFERENCE_FUNCTIONS = {
    "kl_normal_std": kl.kl_normal_std,
    "kl_laplace_std": kl.kl_laplace_std,
    "kl_exponential_std": kl.kl_exponential_std,
    "negative_elbo": losses.negative_elbo,
    "bernoulli_reconstruction": losses.bernoulli_reconstruction,
}

#: Share of a ``function`` check's points for correct values, then (only if the values are
#: right) for the exact output shape and for the gradients.
VALUE_SHARE, SHAPE_SHARE, GRADIENT_SHARE = 0.6, 0.2, 0.2


class InputSpec(BaseModel):
    """How the grader generates one argument.

    ``dist``: ``normal`` (mean 0, ``scale``), ``uniform`` (``low``..``high``), ``mnist_test``
    (test images scaled to [0, 1]), or ``case`` (the scalar named ``key`` in each case).
    ``shape`` entries are integers or names of case variables (``B``, ``D``).
    """

    model_config = ConfigDict(extra="forbid")

    dist: Literal["normal", "uniform", "mnist_test", "case"]
    shape: list[int | str] = Field(default_factory=list)
    scale: float = Field(1.0, gt=0)
    low: float = 0.0
    high: float = 1.0
    key: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> "InputSpec":
        if self.dist == "case" and not self.key:
            raise ValueError("dist: case needs `key`, the case variable holding the value")
        if self.dist != "case" and not self.shape:
            raise ValueError(f"dist: {self.dist} needs a `shape`")
        if self.dist == "uniform" and self.low >= self.high:
            raise ValueError("uniform needs low < high")
        return self

    def generate(self, case: dict[str, float], rng: np.random.Generator, context: ProbeContext) -> np.ndarray:
        shape = tuple(int(case[s]) if isinstance(s, str) else s for s in self.shape)
        if self.dist == "normal":
            array = rng.normal(0.0, self.scale, shape)
        elif self.dist == "uniform":
            array = rng.uniform(self.low, self.high, shape)
        elif self.dist == "mnist_test":
            count = int(np.prod(shape)) // 784
            picks = rng.choice(len(context.data.x_test), count, replace=False)
            array = context.data.x_test[picks].reshape(shape) / 255.0
        else:
            array = np.array(case[self.key])
        return array.astype(np.float32)


def _case_names(spec: InputSpec) -> set[str]:
    names = {s for s in spec.shape if isinstance(s, str)}
    return names | ({spec.key} if spec.dist == "case" and spec.key else set())


@register
class FunctionCheck(CheckSpec):
    """A student function against a reference function on generated inputs, with gradients.

    Every case calls the student's function on fresh inputs; the output must match the
    reference (computed in float64 in the grader) within ``rtol``/``atol``, have
    ``output_shape``, and the gradients of ``output.sum()`` w.r.t. ``grad`` must match too.
    """

    type: Literal["function"] = "function"
    function: str
    reference: Literal[tuple(REFERENCE_FUNCTIONS)]
    args: dict[str, InputSpec]
    kwargs: dict[str, InputSpec] = Field(default_factory=dict)
    cases: list[dict[str, int | float]] = Field(min_length=1)
    output_shape: list[int | str]
    grad: list[str] = Field(default_factory=list)
    rtol: float = Field(1e-4, gt=0)
    atol: float = Field(1e-4, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> "FunctionCheck":
        inputs = {**self.args, **self.kwargs}
        unknown = [name for name in self.grad if name not in self.args]
        if unknown:
            raise ValueError(f"grad names {unknown} are not among args {list(self.args)}")
        needed = set().union(*(_case_names(spec) for spec in inputs.values()))
        needed |= {s for s in self.output_shape if isinstance(s, str)}
        for index, case in enumerate(self.cases):
            if needed - set(case):
                raise ValueError(f"case {index} lacks {sorted(needed - set(case))}")
        return self

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        rng = self.rng(context.seed)
        requests = []
        for index, case in enumerate(self.cases):
            inputs = {name: spec.generate(case, rng, context) for name, spec in {**self.args, **self.kwargs}.items()}
            config = {"function": self.function, "args": list(self.args),
                      "kwargs": {name: name for name in self.kwargs}, "grad": self.grad}
            requests.append(ProbeRequest(f"{self.id}.case{index}", "call", config, inputs))
        return requests

    def evaluate(self, evidence: Evidence) -> Outcome:
        requests = [evidence.requests[f"{self.id}.case{index}"] for index in range(len(self.cases))]
        values_ok = shapes_ok = grads_ok = True
        notes: list[str] = []
        cases = []
        for request, case in zip(requests, self.cases):
            output = evidence.output(request.key)
            if output.error:
                return Outcome(0.0, f"`{self.function}` could not be called: {missing_message(output.error, evidence)}")
            student = output.arrays["output"]
            expected, expected_grads = self._reference(request)
            shape = tuple(int(case[s]) if isinstance(s, str) else s for s in self.output_shape)
            case_ok = student.size == expected.size and np.allclose(student.reshape(expected.shape), expected,
                                                                   rtol=self.rtol, atol=self.atol)
            record = {"case": case, "shape": list(student.shape), "expected_shape": list(shape)}
            if not case_ok:
                values_ok = False
                record["first_value"], record["expected_first_value"] = _first(student), _first(expected)
                notes.append(f"case {case}: got {_describe(student)}, expected {_describe(expected)}")
            if student.shape != shape:
                shapes_ok = False
                notes.append(f"case {case}: output shape {tuple(student.shape)}, expected {shape}")
            for name, grad in expected_grads.items():
                got = output.arrays.get(f"grad_{name}")
                if got is None:
                    grads_ok = False
                    notes.append(f"no gradient reaches `{name}` (is the output detached or computed in numpy?)")
                elif got.shape != grad.shape or not np.allclose(got, grad, rtol=1e-3, atol=1e-4):
                    grads_ok = False
                    notes.append(f"case {case}: gradient w.r.t. `{name}` differs from the reference")
            cases.append(record)
        fraction = VALUE_SHARE * values_ok + (SHAPE_SHARE * shapes_ok + GRADIENT_SHARE * grads_ok) * values_ok
        if fraction == 1.0:
            message = f"matches the reference on all {len(self.cases)} cases, with gradients"
        elif not values_ok:
            message = f"values differ from the reference: {notes[0]}"
        else:
            message = "values match the reference, but " + "; ".join(dict.fromkeys(notes))
        return Outcome(fraction, message, {"cases": cases, "problems": list(dict.fromkeys(notes))[:10],
                                           "reference": self.reference})

    def _reference(self, request: ProbeRequest) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        tensors = {name: torch.tensor(array, dtype=torch.float64, requires_grad=name in self.grad)
                   for name, array in request.inputs.items()}
        args = [tensors[name] for name in self.args]
        kwargs = {name: float(tensors[name]) for name in self.kwargs}
        output = REFERENCE_FUNCTIONS[self.reference](*args, **kwargs)
        if self.grad:
            output.sum().backward()
        return output.detach().numpy(), {name: tensors[name].grad.numpy() for name in self.grad}


def _first(array: np.ndarray) -> float | None:
    return float(array.reshape(-1)[0]) if array.size else None


def _describe(array: np.ndarray) -> str:
    values = ", ".join(f"{v:.4g}" for v in array.reshape(-1)[:3])
    return f"[{values}{', ...' if array.size > 3 else ''}] (shape {tuple(array.shape)})"


#: Shares of a ``reparameterization`` check's points: distribution, gradients, fresh noise.
DISTRIBUTION_SHARE, REPARAM_GRADIENT_SHARE, FRESH_NOISE_SHARE = 0.5, 0.3, 0.2


@register
class ReparameterizationCheck(CheckSpec):
    """A Gaussian reparameterized sampler ``f(mu, logvar) -> z``.

    With mu ~ N(0, 1.5^2) and logvar ~ U(-3, 2) of shape (batch, dim):
    - distribution: eps = (z - mu) / exp(logvar / 2) must pass a Kolmogorov-Smirnov test
      against N(0, 1) at level ``alpha`` (scipy.stats.kstest);
    - gradients: d sum(z) / d mu = 1 and d sum(z) / d logvar = (z - mu) / 2, the pathwise
      derivatives of z = mu + exp(logvar / 2) * eps (Kingma & Welling, 2014, Section 2.4);
    - fresh noise: a second call on the same inputs returns a different z.
    """

    type: Literal["reparameterization"] = "reparameterization"
    function: str
    batch: int = Field(4096, ge=100)
    dim: int = Field(8, ge=1)
    alpha: float = Field(1e-3, gt=0, lt=1)

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        rng = self.rng(context.seed)
        shape = (self.batch, self.dim)
        inputs = {"mu": rng.normal(0, 1.5, shape).astype(np.float32),
                  "logvar": rng.uniform(-3, 2, shape).astype(np.float32)}
        config = {"function": self.function, "args": ["mu", "logvar"], "grad": ["mu", "logvar"], "n_calls": 2}
        return [ProbeRequest(self.id, "call", config, inputs)]

    def evaluate(self, evidence: Evidence) -> Outcome:
        request = evidence.requests[self.id]
        output = evidence.output(request.key)
        if output.error:
            return Outcome(0.0, f"`{self.function}` could not be called: {missing_message(output.error, evidence)}")
        mu, logvar = (request.inputs[k].astype(np.float64) for k in ("mu", "logvar"))
        z = output.arrays["output"]
        if z.shape != mu.shape:
            return Outcome(0.0, f"returned shape {z.shape}, expected {mu.shape} (same as mu)")
        eps = (z - mu) / np.exp(0.5 * logvar)
        ks = scipy.stats.kstest(eps.reshape(-1), "norm")
        distribution_ok = bool(np.isfinite(eps).all() and ks.pvalue >= self.alpha)
        grad_mu, grad_logvar = output.arrays.get("grad_mu"), output.arrays.get("grad_logvar")
        grads_ok = (grad_mu is not None and grad_logvar is not None
                    and np.allclose(grad_mu, 1.0, atol=1e-4)
                    and np.allclose(grad_logvar, 0.5 * (z - mu), rtol=1e-3, atol=1e-4))
        second = output.arrays.get("output_2")
        fresh_ok = second is not None and second.shape == z.shape and not np.allclose(second, z)
        fraction = DISTRIBUTION_SHARE * distribution_ok + REPARAM_GRADIENT_SHARE * grads_ok + FRESH_NOISE_SHARE * fresh_ok
        problems = []
        if not distribution_ok:
            problems.append(f"(z - mu) / exp(logvar / 2) is not N(0, 1): its std is {np.std(eps):.3g}, "
                            f"KS p-value {ks.pvalue:.2g} < {self.alpha} (is exp(logvar) used as the std?)")
        if not grads_ok:
            problems.append("gradients are not those of mu + exp(logvar / 2) * eps"
                            + (" (none reach mu or logvar)" if grad_mu is None or grad_logvar is None else ""))
        if not fresh_ok:
            problems.append("two calls gave the same z: the noise must be drawn afresh each call")
        details = {"ks_statistic": float(ks.statistic), "ks_pvalue": float(ks.pvalue), "eps_std": float(np.std(eps)),
                   "eps_mean": float(np.mean(eps)), "gradients_ok": bool(grads_ok), "fresh_noise": bool(fresh_ok)}
        message = "; ".join(problems) or f"samples are N(mu, exp(logvar)) (KS p = {ks.pvalue:.2f}), gradients exact"
        return Outcome(fraction, message, details)
