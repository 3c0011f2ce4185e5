"""The ``reparameterization`` check: a sampler z = g(params, eps) of a latent family, called as a
function on the grader's parameters, or watched inside the student's own forward pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Literal

import numpy as np
from pydantic import Field, model_validator

from vaegrade.grader.checks.base import Evidence, Outcome, ProbeContext, ProbeRequest, missing_message, register
from vaegrade.grader.checks.functions import StudentCall
from vaegrade.grader.checks.model import Batch, flat_codes, model_inputs, test_images
from vaegrade.grader.probe.interface import Locator, ObserveSpec, describe_locator, locator_config
from vaegrade.grader.probe.requests import ForwardRequest

if TYPE_CHECKING:  # annotations only: imported where used, so a rubric loads without it
    import torch

#: Shares of a ``reparameterization`` check's points: distribution, gradients, fresh noise.
DISTRIBUTION_SHARE, REPARAM_GRADIENT_SHARE, FRESH_NOISE_SHARE = 0.5, 0.3, 0.2


@dataclass(frozen=True)
class Family:
    """A latent family's reparameterized sampler as the check tests it: the parameters it draws
    (name -> (low, high) of a uniform, or a normal's scale), how a sample is standardized to the
    family's unit member (scipy.stats distribution ``unit``), and z as a differentiable function
    of the parameters (float64 tensors) with that standardized noise held fixed."""

    parameters: dict[str, tuple[float, float] | float]
    unit: str
    unit_name: str
    standardize: Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray]
    sample: Callable[[dict[str, torch.Tensor], torch.Tensor], torch.Tensor]
    formula: str


#: The families a ``reparameterization`` check knows (Kingma & Welling, 2014, Section 2.4, for the
#: normal; the inverse CDFs of reference/sampling.py for the others).
FAMILIES = {
    "normal": Family({"mu": 1.5, "logvar": (-3.0, 2.0)}, "norm", "N(0, 1)",
                     lambda p, z: (z - p["mu"]) / np.exp(0.5 * p["logvar"]),
                     lambda p, eps: p["mu"] + (0.5 * p["logvar"]).exp() * eps, "mu + exp(logvar / 2) * eps"),
    "laplace": Family({"loc": 1.5, "scale": (0.2, 3.0)}, "laplace", "Laplace(0, 1)",
                      lambda p, z: (z - p["loc"]) / p["scale"],
                      lambda p, eps: p["loc"] + p["scale"] * eps, "loc + scale * eps"),
    "exponential": Family({"rate": (0.3, 3.0)}, "expon", "Exponential(1)",
                          lambda p, z: z * p["rate"],
                          lambda p, eps: eps / p["rate"], "eps / rate"),
}

#: How a student may turn a Gaussian's scale parameter p into the standard deviation, right or
#: wrong: (the formula in the student's terms, the function of p, its derivative in p).
STD_FORMS = [
    ("exp({p} / 2)", lambda p: np.exp(0.5 * p), lambda p: 0.5 * np.exp(0.5 * p)),
    ("exp({p})", np.exp, np.exp),
    ("exp({p})^2", lambda p: np.exp(2 * p), lambda p: 2 * np.exp(2 * p)),
    ("{p}", lambda p: p, lambda p: np.ones_like(p)),
    ("sqrt({p})", lambda p: np.sqrt(np.abs(p)), lambda p: 0.5 / np.sqrt(np.abs(p))),
    ("{p}^2", lambda p: p ** 2, lambda p: 2 * p),
]
#: The right form for each parametrization of the scale (reference/parametrize.py).
RIGHT_FORM = {"logvar": "exp({p} / 2)", "log_sigma": "exp({p})", "sigma": "{p}", "var": "sqrt({p})"}


@register
class ReparameterizationCheck(StudentCall):
    """A reparameterized sampler of a latent ``family``, judged one of two ways.

    ``through: call`` (the default): the student's function ``f(params) -> z``, its parameters in
    the student's parametrization (``call``; default the family's parameters as they are), called
    on parameters the grader draws with shape (batch, dim): ``normal`` (mu ~ N(0, 1.5^2), logvar ~
    U(-3, 2)), ``laplace`` (loc ~ N(0, 1.5^2), scale ~ U(0.2, 3)), ``exponential`` (rate ~
    U(0.3, 3)). ``through: forward`` (normal family): no function to call, the reparameterization
    is written inside the model's forward; the grader runs it (``observe.run``) on ``images`` test
    images and watches mu, the scale and the z the decoder receives (``observe``). Tests:
    - distribution: z standardized to the family's unit member ((z - mu) / exp(logvar / 2),
      (z - loc) / scale, z * rate) must pass a Kolmogorov-Smirnov test against N(0, 1),
      Laplace(0, 1) or Exponential(1) at level ``alpha`` (scipy.stats.kstest); when it does
      not, the message says which mistake explains z (the scale used as the standard deviation,
      one noise draw shared by the batch, ...);
    - gradients: those of z = mu + exp(logvar / 2) * eps, loc + scale * eps or eps / rate with the
      standardized eps held fixed (the pathwise derivatives, Kingma & Welling, 2014, Section
      2.4), taken w.r.t. the student's own parametrization;
    - fresh noise: a second call (or forward pass) on the same inputs gives a different z.
    """

    type: Literal["reparameterization"] = "reparameterization"
    function: Locator | None = Field(None, description="where the sampler is (through: call): a dotted path, candidate "
                                                       "names, {instance_of, attr} or {new}")
    family: Literal[tuple(FAMILIES)] = Field("normal", description="the latent family: normal, laplace or exponential")
    batch: int = Field(4096, ge=100, description='rows of each parameter drawn (through: call)')
    dim: int = Field(8, ge=1, description='latent dimensions drawn (through: call)')
    alpha: float = Field(1e-3, gt=0, lt=1, description='level of the Kolmogorov-Smirnov test')
    through: Literal["call", "forward"] = Field("call", description="call the sampler, or watch the model's forward pass",
                                                examples=["forward"])
    observe: ObserveSpec | None = Field(None, description="through: forward: what is run and where mu, the scale and z are seen",
                                        examples=[{"run": "vae", "mu": {"at": "vae.encoder", "half": "first"},
                                                  "scale": {"at": "vae.encoder", "half": "second", "as": "log_sigma"},
                                                  "z": {"at": "vae.decoder", "take": "input", "select": 0}}])
    images: int = Field(512, ge=32, le=4096, description="through: forward: test images run through the forward pass")

    @property
    def parameters(self) -> list[str]:
        return list(FAMILIES[self.family].parameters)

    @property
    def name(self) -> str:
        return describe_locator(self.function) if self.function is not None else describe_locator(self.observe.run)

    @model_validator(mode="after")
    def _how(self) -> "ReparameterizationCheck":
        if self.through == "call":
            if self.function is None:
                raise ValueError("through: call needs `function`, the sampler to call")
            locator_config(self.function)
            self.check_call(self.parameters)
        elif self.observe is None or self.family != "normal":
            raise ValueError("through: forward needs `observe` (run, mu, scale, z), for the normal family")
        return self

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        rng = self.rng(context.seed)
        if self.through == "forward":
            batch: Batch = test_images(context, rng, self.images, sort=True)
            return [ForwardRequest(key=self.id, model=context.model.config(context.dataset), inputs=model_inputs(batch, context),
                                   run=locator_config(self.observe.run), points=self.observe.points())]
        shape = (self.batch, self.dim)
        generated = {name: (rng.normal(0, drawn, shape) if isinstance(drawn, float) else rng.uniform(*drawn, shape)).astype(np.float32)
                     for name, drawn in FAMILIES[self.family].parameters.items()}
        return [self.call_request(self.id, generated, self.parameters, n_calls=2)]

    def prepare(self, context: ProbeContext) -> None:
        import scipy.stats  # noqa: F401  (for evaluate's Kolmogorov-Smirnov test)

    def evaluate(self, evidence: Evidence) -> Outcome:
        output = evidence.output(self.id)
        if output.error:
            what = "could not be called" if self.through == "call" else "could not be run and watched"
            return Outcome(0.0, f"{self.name} {what}: {missing_message(output.error, evidence)}")
        return self._called(evidence) if self.through == "call" else self._observed(evidence)

    def _called(self, evidence: Evidence) -> Outcome:
        import scipy.stats
        request, family = evidence.requests[self.id], FAMILIES[self.family]
        output = evidence.output(self.id)
        params = {name: request.inputs[name].astype(np.float64) for name in self.parameters}
        z = output.arrays["output"]
        shape = params[self.parameters[0]].shape
        if z.shape != shape:
            return Outcome(0.0, f"returned shape {z.shape}, expected {shape} (same as {self.parameters[0]})")
        with np.errstate(all="ignore"):
            eps = family.standardize(params, z)
        ks = scipy.stats.kstest(eps.reshape(-1), family.unit)
        distribution_ok = bool(np.isfinite(eps).all() and ks.pvalue >= self.alpha)
        expected = self._pathwise_gradients(request, eps)
        got = {name: output.arrays.get(f"grad_{name}") for name in expected}
        grad_missing = any(value is None for value in got.values()) or not expected
        grads_ok = not grad_missing and all(got[name].shape == grad.shape and np.allclose(got[name], grad, rtol=1e-3, atol=1e-4)
                                            for name, grad in expected.items())
        second = output.arrays.get("output_2")
        fresh_ok = second is not None and second.shape == z.shape and not np.allclose(second, z)
        unit = getattr(scipy.stats, family.unit)
        problems = []
        if not distribution_ok:
            problems.append(f"the standardized samples are not {family.unit_name}: mean {np.mean(eps):.3g} and std "
                            f"{np.std(eps):.3g} (expected {unit.mean():.3g} and {unit.std():.3g}), KS p-value "
                            f"{ks.pvalue:.2g} < {self.alpha} ({self._hint(eps)})")
        return self._outcome(distribution_ok, grads_ok, fresh_ok, problems, ks, eps, grad_missing)

    def _outcome(self, distribution_ok: bool, grads_ok: bool, fresh_ok: bool, problems: list[str], ks: object,
                 eps: np.ndarray, grad_missing: bool, extra: dict | None = None) -> Outcome:
        fraction = DISTRIBUTION_SHARE * distribution_ok + REPARAM_GRADIENT_SHARE * grads_ok + FRESH_NOISE_SHARE * fresh_ok
        if not grads_ok:
            formula = (FAMILIES[self.family].formula if self.through == "call"
                       else f"mu + {RIGHT_FORM[self.observe.scale.as_].format(p=self.observe.scale.as_)} * eps")
            problems.append(f"gradients are not those of {formula}" + (" (none reach the parameters)" if grad_missing else ""))
        if not fresh_ok:
            problems.append("two calls gave the same z: the noise must be drawn afresh each call" if self.through == "call"
                            else "two forward passes gave the same z: the noise must be drawn afresh each pass")
        details = {"family": self.family, "ks_statistic": float(ks.statistic), "ks_pvalue": float(ks.pvalue),
                   "eps_std": float(np.std(eps)), "eps_mean": float(np.mean(eps)), "gradients_ok": bool(grads_ok),
                   "fresh_noise": bool(fresh_ok), **(extra or {})}
        message = "; ".join(problems) or f"samples follow the {self.family} distribution (KS p = {ks.pvalue:.2f}), gradients exact"
        return Outcome(fraction, message, details)

    def _observed(self, evidence: Evidence) -> Outcome:
        """z watched in the forward pass, standardized with the mu and scale watched beside it."""
        import scipy.stats
        arrays = evidence.output(self.id).arrays
        mu, param, z = (flat_codes(arrays[role].astype(np.float64)) for role in ("mu", "scale", "z"))
        if not mu.shape == param.shape == z.shape:
            return Outcome(0.0, f"in {self.name}'s forward pass mu is {mu.shape}, the scale {param.shape} and z {z.shape}: "
                                "they should match")
        scale = self.observe.scale.as_
        right = RIGHT_FORM[scale]
        std, derivative = next((f(param), d(param)) for form, f, d in STD_FORMS if form == right)
        with np.errstate(all="ignore"):
            eps = (z - mu) / std
        ks = scipy.stats.kstest(eps.reshape(-1), "norm")
        distribution_ok = bool(np.isfinite(eps).all() and ks.pvalue >= self.alpha)
        grads = {role: arrays.get(f"grad_{role}") for role in ("mu", "scale")}
        grad_missing = any(g is None for g in grads.values())
        grads_ok = not grad_missing and np.allclose(flat_codes(grads["mu"]), 1.0, rtol=1e-3, atol=1e-4) and np.allclose(
            flat_codes(grads["scale"]), np.nan_to_num(eps) * derivative, rtol=1e-3, atol=1e-4)
        second = arrays.get("z_2")
        fresh_ok = second is not None and second.size == z.size and not np.allclose(flat_codes(second), z)
        problems, found = [], None
        where = f"`{arrays['runs']}` ({self.name})" if "runs" in arrays else f"{self.name}'s forward pass"
        if not distribution_ok:
            found = self._explained(mu, param, z, scale)
            problems.append(f"inside {where}, " + (found or (
                f"z standardized with mu and {right.format(p=scale)} is not N(0, 1) (mean {np.nanmean(eps):.3g}, std "
                f"{np.nanstd(eps):.3g}, KS p-value {ks.pvalue:.2g})")))
        return self._outcome(distribution_ok, grads_ok, fresh_ok, problems, ks, eps, grad_missing,
                             {"watched": [self.observe.mu.describe(), self.observe.scale.describe(), self.observe.z.describe()],
                              "explained": found})

    def _explained(self, mu: np.ndarray, param: np.ndarray, z: np.ndarray, scale: str) -> str | None:
        """What the student's z is, in their own terms, when a known mistake explains it."""
        import scipy.stats
        right = RIGHT_FORM[scale].format(p=scale)
        with np.errstate(all="ignore"):
            for form, std, _ in STD_FORMS:
                eps = (z - mu) / std(param)
                if np.isfinite(eps).all() and len(eps) > 1 and np.allclose(eps, eps[:1], rtol=1e-3, atol=1e-3):
                    return (f"z is mu + {form.format(p=scale)} * eps with one eps for the whole batch: every example got "
                            "the same noise (draw it with mu's shape, torch.randn_like(mu))")
                if form != RIGHT_FORM[scale] and np.isfinite(eps).all() and scipy.stats.kstest(
                        eps.reshape(-1), "norm").pvalue >= self.alpha:
                    how = (f"the {scale} is used as the standard deviation itself" if form == "{p}"
                           else f"the standard deviation is taken as {form.format(p=scale)}")
                    return f"z is mu + {form.format(p=scale)} * eps, not mu + {right} * eps: {how}"
        return None

    def _hint(self, eps: np.ndarray) -> str:
        """The likeliest mistake behind samples of the wrong distribution."""
        if len(eps) > 1 and np.allclose(eps, eps[:1], rtol=1e-3, atol=1e-3):  # float32 z: eps to ~1e-6
            return f"every example of the batch got the same noise: draw it with {self.parameters[0]}'s shape"
        if self.family == "laplace" and min(np.mean(eps > 0), np.mean(eps < 0)) < 0.05:
            return "all samples fall on one side of loc: check the sign of each branch of the inverse CDF"
        if self.family == "exponential" and (eps < 0).any():
            return "negative samples: z = -log(1 - u) / rate is never negative"
        if self.family != "normal":
            return "compare the inverse CDF with the derivation"
        scale = next((arg.as_ for arg in self.student_call(["mu", "logvar"])[1].values() if arg.arg == "logvar"), None)
        return ("is exp(logvar) used as the std?" if scale in (None, "logvar")
                else f"is the {scale} turned into the standard deviation correctly?")

    def _pathwise_gradients(self, request: ProbeRequest, eps: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of sum(z(params, eps)) w.r.t. the student's arguments, the standardized eps fixed."""
        import torch
        inputs, leaves = self.reference_inputs(request)
        z = FAMILIES[self.family].sample(inputs, torch.from_numpy(np.nan_to_num(eps)))
        z.sum().backward()
        return {name: leaves[name].grad.numpy() for name in request.grad if leaves[name].grad is not None}
