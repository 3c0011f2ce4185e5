"""The ``loss`` check: the loss the student's own training step differentiates, explained by the
reference terms computed from the tensors of the same forward pass.

Wherever the loss is written (inline in a training loop, a Keras ``train_step``, a method taking
the model), the kernel records, for several steps, the scalar the student's code differentiates
and the tensors of that step's forward pass (the input x, the decoder's output, mu and the
scale): only numbers cross over. Here, in the grader, the loss is explained by :func:`identify`:

    loss_i = a * R_i + b * K_i      (least squares over the steps i, relative to each loss)

with R_i the reconstruction term (BCE or squared error, summed over pixels, averaged over the
batch) and K_i the KL of the diagonal Gaussian posterior to N(0, I) (summed over latent
dimensions, averaged over the batch; Kingma & Welling, 2014, Appendix B), both computed with
the reference from the recorded tensors. The form whose fit leaves no residual names the
reconstruction; the coefficients name the conventions: a = 1 / pixels (BCE averaged over pixels),
a = batch (summed over the batch), b = beta, 2 beta (the KL without its 1/2), -beta (the KL's
sign), beta / D (averaged over the D latent dimensions), 1 (beta ignored), 0 (no KL term).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vaegrade.grader.checks.base import CheckSpec, Evidence, Outcome, ProbeContext, ProbeRequest, missing_message, register
from vaegrade.grader.checks.model import Batch, model_inputs
from vaegrade.grader.probe.interface import Locator, Watch, describe_locator, locator_config
from vaegrade.grader.probe.requests import RecordedRequest, Recording, TrainingStepRequest

#: The relative residual under which a fit explains the loss (float32 losses, Keras's clipped logs).
EXPLAINED = 2e-3
#: The relative gap under which a coefficient is taken for a convention's value.
CLOSE = 0.02


@dataclass(frozen=True)
class Step:
    """One recorded step: the loss the student's code differentiated and the tensors of its
    forward pass, as arrays: x (B, ...) in [0, 1] (or 0-255), the decoder's ``out`` (B, ...), mu
    and the scale (B, D)."""

    loss: float
    x: np.ndarray
    out: np.ndarray
    mu: np.ndarray
    scale: np.ndarray


@dataclass
class Identified:
    """What :func:`identify` found: the reconstruction's form and conventions, the KL's weight and
    form, the fit's coefficients and residual, and each departure from ``expected`` as a sentence."""

    reconstruction: str
    pixels: str
    batch: str
    kl: str
    weight: float
    a: float
    b: float
    residual: float
    departures: list[str] = field(default_factory=list)

    def describe(self) -> str:
        kl = "no KL term" if self.kl == "none" else f"{self.weight:.3g} x KL ({self.kl})"
        return (f"{self.reconstruction.upper()} {'summed' if self.pixels == 'sum' else 'averaged'} over pixels + {kl}, "
                f"{'summed' if self.batch == 'sum' else 'averaged'} over the batch")


def terms(step: Step, reconstruction: str, decoded_as: str, scale_as: str) -> tuple[float, float, int, int, int]:
    """The reference terms of one step, per example averaged over its batch: the reconstruction
    (``bce`` or ``mse``, summed over pixels, nats or squared pixels) and the KL (summed over latent
    dimensions, nats); and the batch size, pixels per example and latent dimensions."""
    from vaegrade.reference.parametrize import to_logvar

    import torch

    batch = len(step.x)
    x = step.x.reshape(batch, -1).astype(np.float64)
    x = x / 255.0 if x.max() > 1.5 else x
    out = step.out.reshape(batch, -1).astype(np.float64)
    if reconstruction == "mse":
        probabilities = 1 / (1 + np.exp(-out)) if decoded_as == "logits" else out / 255.0 if decoded_as == "pixels" else out
        recon = ((x - probabilities) ** 2).sum(axis=1)
    elif decoded_as == "logits":
        recon = (np.logaddexp(0, out) - x * out).sum(axis=1)
    else:
        probabilities = out / 255.0 if decoded_as == "pixels" else out
        with np.errstate(divide="ignore"):
            logs = np.maximum(np.log(probabilities), -100), np.maximum(np.log1p(-probabilities), -100)  # as torch's BCE
        recon = -(x * logs[0] + (1 - x) * logs[1]).sum(axis=1)
    mu = step.mu.reshape(batch, -1).astype(np.float64)
    logvar = to_logvar(torch.from_numpy(step.scale.reshape(batch, -1).astype(np.float64)), scale_as).numpy()
    kl = 0.5 * (mu ** 2 + np.exp(logvar) - 1 - logvar).sum(axis=1)
    return float(recon.mean()), float(kl.mean()), batch, x.shape[1], mu.shape[1]


def _closest(value: float, candidates: dict[tuple, float]) -> tuple[tuple, float]:
    """The candidate whose value is nearest ``value`` (relative to the larger), and that gap."""
    def gap(target: float) -> float:
        return abs(value - target) / max(abs(value), abs(target), 1e-12)
    best = min(candidates, key=lambda key: gap(candidates[key]))
    return best, gap(candidates[best])


def identify(steps: list[Step], decoded_as: str, scale_as: str, beta: float,
             expected: dict[str, str] | None = None) -> Identified | None:
    """The conventions that explain the recorded losses (see the module docstring), and their
    departures from ``expected`` (``reconstruction``: bce | mse, ``pixels``: sum | mean,
    ``batch``: sum | mean | any), with the KL weight expected to be ``beta``; None when no form
    explains the losses within :data:`EXPLAINED`.

    Args:
        steps: at least two recorded steps (more make the fit firmer).
        decoded_as: the decoder output's form: probabilities, logits or pixels (0-255).
        scale_as: the scale's parametrization: logvar, log_sigma, sigma or var.
    """
    losses = np.array([s.loss for s in steps], dtype=np.float64)
    weights = 1 / np.maximum(np.abs(losses), 1e-12)  # each step counts alike, however large its loss
    fits = []
    for reconstruction in ("bce", "mse"):
        table = np.array([terms(s, reconstruction, decoded_as, scale_as)[:2] for s in steps])
        (a, b), *_ = np.linalg.lstsq(table * weights[:, None], losses * weights, rcond=None)
        residual = float(np.sqrt(np.mean(((table @ [a, b] - losses) * weights) ** 2)))
        fits.append((residual, reconstruction, float(a), float(b)))
    residual, reconstruction, a, b = min(fits)
    if residual > EXPLAINED:
        return None
    _, _, size, pixels, dims = terms(steps[0], reconstruction, decoded_as, scale_as)
    (pixel_form, batch_form), gap = _closest(a, {(p, bf): (1 / pixels if p == "mean" else 1.0) * (size if bf == "sum" else 1.0)
                                                for p in ("sum", "mean") for bf in ("mean", "sum")})
    if gap > CLOSE:  # a weight of its own (0.5 for half a squared error): the batch's reduction cannot be told
        pixel_form, batch_form = "weighted", "mean"
    found = Identified(reconstruction, pixel_form, batch_form, "", 0.0, a, b, residual)
    scale_of_batch = size if batch_form == "sum" else 1.0
    _describe_kl(found, b / scale_of_batch, beta, dims)
    found.departures = departures(found, expected or {}, beta, pixels, dims)
    return found


def _describe_kl(found: Identified, weight: float, beta: float, dims: int) -> None:
    """Name the KL term's form from its weight (per example, the batch's reduction taken out)."""
    if abs(weight) < 1e-3 * max(1.0, abs(beta)):
        found.kl, found.weight = "none", 0.0
        return
    forms = {(sign, half, dimension, used): sign * half * (1 / dims if dimension == "mean" else 1.0) * (beta if used else 1.0)
             for sign, half, dimension, used in itertools.product((1, -1), (1.0, 2.0), ("sum", "mean"), (True, False))}
    (sign, half, dimension, used), gap = _closest(weight, forms)
    if gap > CLOSE:
        found.kl, found.weight = "weighted", weight
        return
    parts = ["the standard closed form" if sign == 1 and half == 1 else
             ", ".join(filter(None, ["with the wrong sign" if sign < 0 else "", "without its 1/2" if half == 2 else ""]))]
    parts.append("averaged over the latent dimensions" if dimension == "mean" else "summed over the latent dimensions")
    if not used and beta != 1:
        parts.append("beta ignored")
    found.kl, found.weight = "; ".join(parts), weight


def departures(found: Identified, expected: dict[str, str], beta: float, pixels: int, dims: int) -> list[str]:
    """Each way ``found`` departs from the expected convention, as a sentence in the student's terms."""
    said = []
    if found.reconstruction != expected.get("reconstruction", "bce"):
        said.append(f"the reconstruction term is a {'squared error' if found.reconstruction == 'mse' else 'binary cross-entropy'}, "
                    f"not the {'binary cross-entropy (the Bernoulli log-likelihood)' if found.reconstruction == 'mse' else 'squared error'} "
                    "the assignment asks for")
    if abs(found.a) < 1e-6:
        said.append("there is no reconstruction term")
    elif found.pixels == "weighted":
        said.append(f"the reconstruction term is weighted by {found.a:.3g}")
    elif found.pixels != expected.get("pixels", "sum"):
        said.append(f"the reconstruction is {'averaged' if found.pixels == 'mean' else 'summed'} over the {pixels} pixels "
                    f"instead of {'summed' if found.pixels == 'mean' else 'averaged'}")
    if expected.get("batch", "any") not in ("any", found.batch):
        said.append(f"the loss is {'summed' if found.batch == 'sum' else 'averaged'} over the batch instead of "
                    f"{'averaged' if found.batch == 'sum' else 'summed'}")
    if found.kl == "none":
        said.append("there is no KL term: the loss is the reconstruction alone")
    elif found.kl == "weighted":
        said.append(f"the KL is weighted by {found.weight:.3g}, where beta = {beta:g} is expected")
    else:
        if "wrong sign" in found.kl:
            said.append("the KL enters with the wrong sign: the loss is reconstruction - KL")
        if "without its 1/2" in found.kl:
            said.append("the KL lacks its factor 1/2: it is twice the closed form")
        if "averaged over the latent" in found.kl:
            said.append(f"the KL is averaged over the {dims} latent dimensions instead of summed")
        if "beta ignored" in found.kl:
            said.append(f"beta is ignored: the KL's weight is 1, not beta = {beta:g}")
    return said


class LossExpectation(BaseModel):
    """The convention the assignment asks for."""

    model_config = ConfigDict(extra="forbid")

    reconstruction: Literal["bce", "mse"] = Field("bce", description="binary cross-entropy (Bernoulli) or squared error",
                                                  examples=["mse"])
    pixels: Literal["sum", "mean"] = Field("sum", description="the reconstruction summed or averaged over pixels", examples=["sum"])
    batch: Literal["sum", "mean", "any"] = Field("any", description="the loss summed or averaged over the batch (any: either)",
                                                 examples=["mean"])
    beta: Union[float, str] = Field(1.0, description="the KL's weight: a number, or the grading parameter holding it",
                                    examples=[4.0, "beta"])


class LossWatch(BaseModel):
    """Where each tensor of a training step's forward pass is watched (see :class:`Watch`)."""

    model_config = ConfigDict(extra="forbid")

    x: Watch = Field(description="the images the step encodes (usually take: input of the encoder or the model)",
                     examples=[{"at": "model", "take": "input", "select": 0}])
    out: Watch = Field(description="the decoder's output (as: probabilities, logits or pixels)",
                       examples=[{"at": "model", "select": 0, "as": "probabilities"}])
    mu: Watch = Field(description="the posterior's mean", examples=[{"at": "model", "select": 1}])
    scale: Watch = Field(description="the posterior's scale (as: logvar, log_sigma, sigma or var)",
                         examples=[{"at": "model", "select": 2, "as": "logvar"}])

    @model_validator(mode="after")
    def _forms(self) -> "LossWatch":
        if self.out.as_ not in (None, "probabilities", "logits", "pixels"):
            raise ValueError("out's `as` is probabilities, logits or pixels")
        if self.scale.as_ in (None, "probabilities", "logits", "pixels"):
            raise ValueError("scale needs `as`: logvar, log_sigma, sigma or var")
        return self


@register
class LossCheck(CheckSpec):
    """The loss the student's training step differentiates (``through: training_step``), explained
    by :func:`identify`: full credit when it is the expected convention (``expect``), none when it
    departs from it, the departure named.

    Observed one of two ways: ``step`` (a locator: a training step method taking a batch, such as
    a Keras model's ``train_step``) called eagerly on ``steps`` batches of ``batch_size`` training
    images the grader chooses, its update undone; or, without ``step``, the last ``steps`` steps
    of the notebook's own training, recorded as it ran (a loop written in a cell included). The
    tensors of each step's forward pass are watched where ``watch`` says.
    """

    type: Literal["loss"] = "loss"
    through: Literal["training_step"] = Field("training_step", description="how the loss is reached: a training step",
                                              examples=["training_step"])
    step: Locator | None = Field(None, description="a training step method to call on the grader's batches (Keras "
                                                   "train_step); without it, the notebook's own training is recorded",
                                                   examples=["vae.train_step"])
    watch: LossWatch = Field(description="where x, the decoder's output, mu and the scale are seen in the forward pass",
                             examples=[{"x": {"at": "vae.encoder", "take": "input", "select": 0},
                                        "out": {"at": "vae.decoder", "as": "probabilities"},
                                        "mu": {"at": "vae.encoder", "select": 0},
                                        "scale": {"at": "vae.encoder", "select": 1, "as": "logvar"}}])
    expect: LossExpectation = Field(default_factory=LossExpectation, description="the convention the assignment asks for",
                                    examples=[{"reconstruction": "bce", "pixels": "sum", "beta": "beta"}])
    steps: int = Field(8, ge=2, le=64, description="training steps observed", examples=[8])
    batch_size: int = Field(64, ge=2, le=1024, description="the batches' size, when `step` is called", examples=[64])

    @model_validator(mode="after")
    def _located(self) -> "LossCheck":
        if self.step is not None:
            locator_config(self.step)
        return self

    def watched(self) -> dict[str, dict]:
        return {role: getattr(self.watch, role).config() for role in ("x", "out", "mu", "scale")}

    def recordings(self) -> dict[str, Recording]:
        """The notebook's own training steps to record from the start (none when ``step`` is called)."""
        return {} if self.step is not None else {self.id: Recording(points=self.watched(), keep=self.steps)}

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        if self.step is None:
            return [RecordedRequest(key=self.id, record=self.id)]
        picks = np.sort(self.rng(context.seed).choice(len(context.data.x_train), self.steps * self.batch_size, replace=False))
        batch = Batch((context.data.x_train[picks] / 255.0).astype(np.float32)[:, None], context.data.y_train[picks])
        return [TrainingStepRequest(key=self.id, model=context.model.config(context.dataset), inputs=model_inputs(batch, context),
                                    run=locator_config(self.step), points=self.watched(), batch_size=self.batch_size)]

    def evaluate(self, evidence: Evidence) -> Outcome:
        output = evidence.output(self.id)
        where = f"{describe_locator(self.step)}" if self.step is not None else "the notebook's training"
        if output.error:
            return Outcome(0.0, f"the loss of {where} could not be observed: {missing_message(output.error, evidence)}")
        arrays = output.arrays
        steps = [Step(float(loss), *(arrays[f"{role}_{i}"] for role in ("x", "out", "mu", "scale")))
                 for i, loss in enumerate(arrays["loss"])]
        beta = self._beta(evidence.context)
        if len(steps) < 2:
            return Outcome(0.0, f"only {len(steps)} training step(s) of {where} were observed: the loss cannot be told apart")
        found = identify(steps, self.watch.out.as_ or "probabilities", self.watch.scale.as_, beta, self.expect.model_dump())
        details = {"steps": len(steps), "beta": beta, "losses": arrays["loss"].tolist()}
        if found is None:
            return Outcome(0.0, f"the loss of {where} is not a reconstruction term plus a weighted KL of the tensors its "
                                "forward pass made (another term, or a reconstruction the grader does not know?)", details)
        details |= {"identified": found.describe(), "a": found.a, "b": found.b, "residual": found.residual,
                    "departures": found.departures}
        if found.departures:
            return Outcome(0.0, f"in {where}, " + "; ".join(found.departures) + f" (the loss is {found.describe()})", details)
        return Outcome(1.0, f"the loss of {where} is {found.describe()}, as expected (over {len(steps)} steps)", details)

    def _beta(self, context: ProbeContext) -> float:
        if isinstance(self.expect.beta, str):
            return float(context.parameters.get(self.expect.beta, 1.0))
        return float(self.expect.beta)
