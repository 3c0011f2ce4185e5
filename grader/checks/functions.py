"""The ``function`` check: a student's function against the reference, and how any check calls a student's function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vaegrade.grader.checks.base import CheckSpec, Evidence, Outcome, ProbeContext, ProbeRequest, missing_message, register
from vaegrade.grader.probe.interface import ArgSpec, Locator, Selector, describe_locator, flatten_call, locator_config
from vaegrade.grader.probe.requests import CallRequest
from vaegrade.reference import function, parameters

if TYPE_CHECKING:  # annotations only: imported where used, so a rubric loads without it
    import torch

#: Reference callables a ``function`` check may name (their paths in ``reference``); each takes the generated inputs named in
#: the check's ``args`` (float64 tensors, in order) and keyword arguments.
REFERENCE_FUNCTIONS = {
    "kl_normal_std": "kl.kl_normal_std",
    "kl_normal_std_per_dimension": "kl.kl_normal_std_per_dimension",
    "kl_normal": "kl.kl_normal",
    "kl_laplace_std": "kl.kl_laplace_std",
    "kl_exponential_std": "kl.kl_exponential_std",
    "negative_elbo": "losses.negative_elbo",
    "bernoulli_reconstruction": "losses.bernoulli_reconstruction",
    "gaussian_reconstruction": "losses.gaussian_reconstruction",
}

#: References that return one value per example, (B,): a check may reduce them over the batch.
PER_EXAMPLE = {"kl_normal_std", "kl_normal_std_per_dimension", "kl_normal", "kl_laplace_std", "kl_exponential_std",
               "bernoulli_reconstruction", "gaussian_reconstruction"}

#: Share of a ``function`` check's points for correct values, then (only if the values are
#: right) for the exact output shape and for the gradients.
VALUE_SHARE, SHAPE_SHARE, GRADIENT_SHARE = 0.6, 0.2, 0.2


class InputSpec(BaseModel):
    """How the grader generates one argument.

    ``dist``: ``normal`` (mean 0, ``scale``), ``uniform`` (``low``..``high``), ``test_images``
    (test images of the rubric's data set, scaled to [0, 1]; ``mnist_test`` is its older name),
    or ``case`` (the scalar named ``key`` in each case).
    ``shape`` entries are integers or names of case variables (``B``, ``D``).
    """

    model_config = ConfigDict(extra="forbid")

    dist: Literal["normal", "uniform", "test_images", "mnist_test", "case"] = Field(description='how the values are drawn')
    shape: list[int | str] = Field(default_factory=list, description='dimensions: integers or case variables (B, D)')
    scale: float = Field(1.0, gt=0, description='standard deviation of `normal`')
    low: float = Field(0.0, description='lower bound of `uniform`')
    high: float = Field(1.0, description='upper bound of `uniform`')
    key: str | None = Field(None, description='the case variable holding the value of `case`')

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
        elif self.dist in ("test_images", "mnist_test"):
            count = int(np.prod(shape)) // context.dataset.pixels
            picks = rng.choice(len(context.data.x_test), count, replace=False)
            array = context.data.x_test[picks].reshape(shape) / 255.0
        else:
            array = np.array(case[self.key])
        return array.astype(np.float32)


def _case_names(spec: InputSpec) -> set[str]:
    names = {s for s in spec.shape if isinstance(s, str)}
    return names | ({spec.key} if spec.dist == "case" and spec.key else set())


class StudentCall(CheckSpec):
    """How a check calls a student function: where it is (``function``, a
    :data:`vaegrade.grader.probe.interface.Locator`), its positional arguments in the student's order and
    parametrization (``call``; default: the generated inputs as they are), whether they go in
    as one list (``pack``, as a Keras layer takes ``[z_mean, z_log_var]``), and which output
    is the result when it returns several (``output``: a position or a key)."""

    function: Locator = Field(description='where the function is: a dotted path, candidate names, {instance_of, attr} or {new}')
    call: list[str | ArgSpec] | None = Field(None,
        description="the student's positional arguments in order: input names, {arg, as}, {value, like}, {fields}, "
                    "{join} or {object}")
    pack: bool = Field(False, description='pass the arguments as one list (a Keras layer taking [z_mean, z_log_var])')
    output: Selector = Field(None, description='the position or key of the result when the function returns several '
                                               'things, or a list of them in turn ([1, kl_loss])', examples=[0, [1, "kl_loss"]])

    @field_validator("function")
    @classmethod
    def _locatable(cls, value: Locator) -> Locator:
        locator_config(value)
        return value

    def student_call(self, inputs: Iterable[str]) -> tuple[list[dict[str, Any]], dict[str, ArgSpec]]:
        """The call's layout and arrays (:func:`vaegrade.grader.probe.interface.flatten_call`) over ``call``, or
        the generated ``inputs`` as they are."""
        return flatten_call(self.call if self.call is not None else list(inputs))

    def check_call(self, inputs: Iterable[str]) -> None:
        """Raise ValueError when ``call`` names an input that is not generated."""
        names = set(inputs)
        unknown = [arg.source for arg in self.student_call(names)[1].values() if arg.source not in names]
        if unknown:
            raise ValueError(f"call names {unknown}, which are not among the generated inputs {sorted(names)}")

    @property
    def name(self) -> str:
        return describe_locator(self.function)

    def describe_array(self, inputs: Iterable[str], array: str) -> str:
        """How the feedback names one of the arrays the student's function received: as a dict's
        entry (``[mu] of argument 2``) or a part of joined inputs (``part 1 of argument 1``)."""
        spec = self.student_call(inputs)[1][array]
        if "." not in array:
            return spec.describe()
        position, key = array[3:].split(".", 1)
        where = f"part {int(key) + 1}" if key.isdigit() else f"[{key!r}]"
        return f"{spec.describe()} ({where} of argument {int(position) + 1})"

    def call_inputs(self, generated: dict[str, np.ndarray], grad: list[str]) -> tuple[dict[str, np.ndarray], list[str]]:
        """The arrays the kernel passes (``arg0``, ``arg1.mu``..), each in the student's
        parametrization, and those whose gradients are compared (made from an input in ``grad``)."""
        import torch
        arrays, watched = {}, []
        for name, arg in self.student_call(generated)[1].items():
            if arg.value is not None:
                arrays[name] = np.full_like(generated[arg.source], arg.value, dtype=np.float32)
                continue
            source = torch.from_numpy(generated[arg.source].astype(np.float64))
            arrays[name] = _convert(source, arg.as_, forward=True).numpy().astype(np.float32)
            if arg.arg in grad:
                watched.append(name)
        return arrays, watched

    def reference_inputs(self, request: ProbeRequest) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The generated inputs as float64 tensors, rebuilt from leaves in the student's
        parametrization where the student got them (so reference gradients are w.r.t. what the
        student received), and those leaves by array name."""
        import torch
        generated = {name: array for name, array in request.inputs.items() if not name.startswith(("arg", "kw_"))}
        inputs = {name: torch.tensor(array, dtype=torch.float64) for name, array in generated.items()}
        leaves = {}
        for name, arg in self.student_call(generated)[1].items():
            if arg.value is not None:
                continue
            leaves[name] = torch.tensor(request.inputs[name], dtype=torch.float64, requires_grad=name in request.grad)
            inputs[arg.source] = _convert(leaves[name], arg.as_, forward=False)
        return inputs, leaves

    def call_request(self, key: str, generated: dict[str, np.ndarray], grad: list[str], n_calls: int = 1,
                     keywords: dict[str, np.ndarray] | None = None) -> CallRequest:
        """The request that calls the student's function on ``generated`` (in the student's
        parametrization), ``n_calls`` times, with ``keywords`` by name; gradients w.r.t. ``grad``."""
        arrays, watched = self.call_inputs(generated, grad)
        layout = self.student_call(generated)[0]
        return CallRequest(key=key, function=locator_config(self.function), name=self.name, arrays=list(arrays),
                           args=layout, grad=watched, n_calls=n_calls, kwargs=[k.removeprefix("kw_") for k in keywords or {}],
                           pack=self.pack, output=self.output, inputs={**generated, **(keywords or {}), **arrays})


def _convert(value: torch.Tensor, parametrization: str | None, forward: bool) -> torch.Tensor:
    """The reference's input in the student's ``parametrization`` (``forward``) or back."""
    from vaegrade.reference import parametrize
    from vaegrade.reference.parametrize import SCALE_PARAMS
    if parametrization is None:
        return value
    if parametrization == "log":  # the log of a positive parameter (a Laplace scale, a rate)
        return value.log() if forward else value.exp()
    if parametrization in SCALE_PARAMS:
        return parametrize.from_logvar(value, parametrization) if forward else parametrize.to_logvar(value, parametrization)
    if forward:
        return parametrize.from_probabilities(value.clamp(1e-6, 1 - 1e-6), parametrization)
    return parametrize.to_probabilities(value, parametrization)


@register
class FunctionCheck(StudentCall):
    """A student function against a reference function on generated inputs, with gradients.

    Every case calls the student's function on fresh inputs; the output must match the
    reference (computed in float64 in the grader) within ``rtol``/``atol``, have
    ``output_shape``, and the gradients of ``output.sum()`` w.r.t. ``grad`` must match too.
    ``reference_options`` are keyword arguments of the reference itself (``reduction: sum``
    for a loss the handout sums over the batch); ``batch`` reduces a per-example reference
    (a KL, a reconstruction term) over the batch as the student's function does. A reference
    that takes ``beta`` while the check passes none is evaluated at its default, beta = 1, and
    the message says so.
    """

    type: Literal["function"] = "function"
    reference: Literal[tuple(REFERENCE_FUNCTIONS)] = Field(description='the reference function (reference/kl.py, reference/losses.py)')
    batch: Literal["none", "mean", "sum"] = Field("none", description="how the student's function reduces a per-example "
                                                                     "reference over the batch (KL summed over it: sum)")
    reference_options: dict[str, str | float] = Field(default_factory=dict,
        description='keyword arguments of the reference itself, e.g. reduction: sum',
        examples=[{"reconstruction": "gaussian", "reduction": "sum"}])
    args: dict[str, InputSpec] = Field(description="the generated inputs, named as the reference's parameters, in its order")
    kwargs: dict[str, InputSpec] = Field(default_factory=dict, description='keyword arguments passed by name to both (beta)')
    cases: list[dict[str, int | float]] = Field(min_length=1, description='one call per case: the values of the case variables')
    output_shape: list[int | str] = Field(description='the expected output shape, with case variables')
    grad: list[str] = Field(default_factory=list, description="inputs whose gradients of output.sum() must match the reference's")
    rtol: float = Field(1e-4, gt=0, description='relative tolerance of values')
    atol: float = Field(1e-4, ge=0, description='absolute tolerance of values')

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
        self.check_call(self.args)
        takes = parameters(REFERENCE_FUNCTIONS[self.reference])
        unknown = [name for name in [*self.kwargs, *self.reference_options] if name not in takes]
        if unknown:
            raise ValueError(f"{self.reference} takes no argument {unknown} (it takes {list(takes)})")
        if self.batch != "none" and self.reference not in PER_EXAMPLE:
            raise ValueError(f"batch: {self.batch} reduces a per-example reference ({sorted(PER_EXAMPLE)}); "
                             f"{self.reference} already returns one value per batch")
        return self

    @property
    def default_beta(self) -> bool:
        """True when the reference weighs a KL term by ``beta`` and the check passes none."""
        return ("beta" in parameters(REFERENCE_FUNCTIONS[self.reference])
                and "beta" not in self.kwargs and "beta" not in self.args and "beta" not in self.reference_options)

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        rng = self.rng(context.seed)
        requests = []
        for index, case in enumerate(self.cases):
            generated = {name: spec.generate(case, rng, context) for name, spec in self.args.items()}
            keywords = {f"kw_{name}": spec.generate(case, rng, context) for name, spec in self.kwargs.items()}
            requests.append(self.call_request(f"{self.id}.case{index}", generated, self.grad, keywords=keywords))
        return requests

    def evaluate(self, evidence: Evidence) -> Outcome:
        requests = [evidence.requests[f"{self.id}.case{index}"] for index in range(len(self.cases))]
        values_ok = shapes_ok = grads_ok = True
        notes: list[str] = []
        cases = []
        for request, case in zip(requests, self.cases):
            output = evidence.output(request.key)
            if output.error:
                return Outcome(0.0, f"{self.name} could not be called: {missing_message(output.error, evidence)}")
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
            for array, grad in expected_grads.items():
                got, name = output.arrays.get(f"grad_{array}"), self.describe_array(self.args, array)
                if got is None:
                    grads_ok = False
                    notes.append(f"no gradient reaches `{name}` (is the output detached or computed in numpy?)")
                elif got.shape != grad.shape or not np.allclose(got, grad, rtol=1e-3, atol=1e-4):
                    grads_ok = False
                    notes.append(f"case {case}: gradient w.r.t. `{name}` differs from the reference")
            cases.append(record)
        fraction = VALUE_SHARE * values_ok + (SHAPE_SHARE * shapes_ok + GRADIENT_SHARE * grads_ok) * values_ok
        if fraction == 1.0:
            message = f"matches the reference on all {len(self.cases)} cases" + (", with gradients" if self.grad else "")
        elif not values_ok:
            message = f"values differ from the reference: {notes[0]}"
        else:
            message = "values match the reference, but " + "; ".join(dict.fromkeys(notes))
        if self.default_beta:
            message += " (checked at beta = 1: the function takes no beta)"
        return Outcome(fraction, message, {"cases": cases, "problems": list(dict.fromkeys(notes))[:10],
                                           "reference": self.reference,
                                           "call": [self.describe_array(self.args, a) for a in self.student_call(self.args)[1]]})

    def _reference(self, request: ProbeRequest) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The reference's output and its gradients w.r.t. the student's arguments, by array name."""
        watched = request.grad
        inputs, leaves = self.reference_inputs(request)
        kwargs = {name: float(request.inputs[f"kw_{name}"]) for name in self.kwargs}
        output = function(REFERENCE_FUNCTIONS[self.reference])(*[inputs[name] for name in self.args], **kwargs,
                                                     **self.reference_options)
        if self.batch != "none":
            output = output.sum(dim=0) if self.batch == "sum" else output.mean(dim=0)
        if watched:
            output.sum().backward()
        return output.detach().numpy(), {name: leaves[name].grad.numpy() for name in watched}


def _first(array: np.ndarray) -> float | None:
    return float(array.reshape(-1)[0]) if array.size else None


def _describe(array: np.ndarray) -> str:
    values = ", ".join(f"{v:.4g}" for v in array.reshape(-1)[:3])
    return f"[{values}{', ...' if array.size > 3 else ''}] (shape {tuple(array.shape)})"
