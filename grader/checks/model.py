"""Checks of the student's trained model: ``model_interface``, ``reconstruction``, ``sample_quality``."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from grader.checks.base import (CheckSpec, Evidence, Outcome, ProbeContext, ProbeOutput, ProbeRequest,
                                linear_credit, missing_message, register)
from reference.classifier import classify
from reference.metrics import SampleQuality, quality_from_classifier, reconstruction_bce

IMAGE_SHAPE = (1, 28, 28)


class Band(BaseModel):
    """Partial credit between two levels: full at ``pass_at``, none at ``fail_at``, linear between.

    ``pass_at < fail_at`` means lower is better (a loss); the reverse, higher is better.
    """

    model_config = ConfigDict(extra="forbid")

    pass_at: float
    fail_at: float

    @model_validator(mode="after")
    def _distinct(self) -> "Band":
        if self.pass_at == self.fail_at:
            raise ValueError("pass_at and fail_at must differ")
        return self

    def credit(self, value: float) -> float:
        return linear_credit(value, self.pass_at, self.fail_at)


class ModelCheck(CheckSpec):
    """Fields shared by checks that call the student's model."""

    model: str = "model"
    latent: str = "latent_dim"


def images_from(output: ProbeOutput, name: str, count: int) -> tuple[np.ndarray | None, str]:
    """Validate decoder output ``name`` as ``count`` images in [0, 1]; (images, "") or (None, why)."""
    array = output.arrays.get(name)
    if array is None:
        return None, f"the probe returned no `{name}`"
    if array.size != count * 784:
        return None, f"decode returned shape {tuple(array.shape)}, expected ({count}, 1, 28, 28)"
    if not np.isfinite(array).all():
        return None, "decode returned NaN or infinite values"
    if array.min() < 0 or array.max() > 1:
        return None, f"decode returned values in [{array.min():.3g}, {array.max():.3g}], not probabilities in [0, 1]"
    return array.reshape(count, *IMAGE_SHAPE), ""


@register
class ModelInterfaceCheck(ModelCheck):
    """``model`` is an nn.Module whose ``encode``/``decode`` have the handout's shapes and ranges."""

    type: Literal["model_interface"] = "model_interface"
    batch_sizes: list[int] = Field(default_factory=lambda: [1, 7], min_length=1)

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        picks = self.rng(context.seed).choice(len(context.data.x_test), max(self.batch_sizes), replace=False)
        images = (context.data.x_test[picks] / 255.0).astype(np.float32)[:, None]
        config = {"model": self.model, "latent": self.latent, "batch_sizes": self.batch_sizes}
        return [ProbeRequest(self.id, "interface", config, {"images": images})]

    def evaluate(self, evidence: Evidence) -> Outcome:
        output = evidence.output(self.id)
        if output.error:
            return Outcome(0.0, f"the model could not be inspected: {missing_message(output.error, evidence)}")
        a = output.arrays
        latent_dim = int(a["latent_dim"])
        tests = {
            f"`{self.model}` is a torch.nn.Module": bool(a["is_module"]),
            "it has encode() and decode()": bool(a["has_encode"] and a["has_decode"]),
            f"`{self.latent}` is a positive int": latent_dim > 0,
        }
        for size in self.batch_sizes:
            if f"error_{size}" in a:
                tests[f"batch of {size}: {a[f'error_{size}']}"] = False
                continue
            mu, logvar, x_hat = a[f"mu_{size}"], a[f"logvar_{size}"], a[f"x_hat_{size}"]
            tests[f"batch of {size}: mu and logvar are ({size}, {latent_dim}), got {mu.shape} and {logvar.shape}"] = (
                mu.shape == logvar.shape == (size, latent_dim))
            tests[f"batch of {size}: mu and logvar are finite"] = bool(np.isfinite(mu).all() and np.isfinite(logvar).all())
            tests[f"batch of {size}: decode gives ({size}, 1, 28, 28), got {x_hat.shape}"] = x_hat.shape == (size, *IMAGE_SHAPE)
            tests[f"batch of {size}: decode gives probabilities in [0, 1]"] = bool(
                np.isfinite(x_hat).all() and x_hat.min() >= 0 and x_hat.max() <= 1)
        failed = [name for name, ok in tests.items() if not ok]
        message = (f"all {len(tests)} interface tests pass (latent_dim = {latent_dim})" if not failed
                   else f"{len(failed)} of {len(tests)} interface tests fail: " + "; ".join(failed))
        return Outcome(1 - len(failed) / len(tests), message, {"tests": tests, "latent_dim": latent_dim})


@register
class ReconstructionCheck(ModelCheck):
    """BCE (nats per image, summed over pixels) of ``decode(mu)`` on held-out test images.

    The images are chosen by the grader from the 10,000 MNIST test images; thresholds come from
    ``vaegrade calibrate`` (see the rubric's comments).
    """

    type: Literal["reconstruction"] = "reconstruction"
    images: int = Field(1000, ge=10, le=10000)
    bce: Band

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        picks = np.sort(self.rng(context.seed).choice(len(context.data.x_test), self.images, replace=False))
        images = (context.data.x_test[picks] / 255.0).astype(np.float32)[:, None]
        return [ProbeRequest(self.id, "reconstruct", {"model": self.model}, {"images": images})]

    def evaluate(self, evidence: Evidence) -> Outcome:
        output = evidence.output(self.id)
        if output.error:
            return Outcome(0.0, f"could not reconstruct: {missing_message(output.error, evidence)}")
        x = evidence.requests[self.id].inputs["images"]
        x_hat, problem = images_from(output, "x_hat", len(x))
        if x_hat is None:
            return Outcome(0.0, problem)
        bce = reconstruction_bce(torch.from_numpy(x).double(), torch.from_numpy(x_hat).double())
        fraction = self.bce.credit(bce)
        message = (f"BCE {bce:.1f} nats/image on {len(x)} test images "
                   f"(full credit at <= {self.bce.pass_at:g}, none at >= {self.bce.fail_at:g})")
        return Outcome(fraction, message, {"bce": bce, "pass_at": self.bce.pass_at, "fail_at": self.bce.fail_at},
                       {"reconstruction_inputs": x[:10], "reconstructions": x_hat[:10].astype(np.float32)})


MetricName = Literal[tuple(SampleQuality.__dataclass_fields__)]


@register
class SampleQualityCheck(ModelCheck):
    """Images decoded from z ~ N(0, I) (drawn from the grader's seed), judged by the MNIST classifier.

    Each metric listed earns ``credit`` by its :class:`Band`; the check's fraction is their mean.
    """

    type: Literal["sample_quality"] = "sample_quality"
    samples: int = Field(1000, ge=100, le=10000)
    metrics: dict[MetricName, Band] = Field(min_length=1)

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        seed = int(self.rng(context.seed).integers(2**31))
        config = {"model": self.model, "latent": self.latent, "n": self.samples, "seed": seed}
        return [ProbeRequest(self.id, "decode_prior", config)]

    def evaluate(self, evidence: Evidence) -> Outcome:
        output = evidence.output(self.id)
        if output.error:
            return Outcome(0.0, f"could not decode prior samples: {missing_message(output.error, evidence)}")
        samples, problem = images_from(output, "samples", self.samples)
        if samples is None:
            return Outcome(0.0, problem)
        probs, features = classify(torch.from_numpy(samples).float())
        quality = quality_from_classifier(probs, features).as_dict()
        credits = {name: band.credit(quality[name]) for name, band in self.metrics.items()}
        weak = [f"{name} {quality[name]:.3g} (full credit at {self.metrics[name].pass_at:g})"
                for name, credit in credits.items() if credit < 1]
        summary = ", ".join(f"{name} {quality[name]:.3g}" for name in self.metrics)
        message = f"{self.samples} prior samples: {summary}" + (f"; below target: {'; '.join(weak)}" if weak else "")
        labels = probs[:64].argmax(dim=1).numpy()
        details = {"metrics": quality, "credits": credits,
                   "bands": {name: band.model_dump() for name, band in self.metrics.items()}}
        return Outcome(float(np.mean(list(credits.values()))), message, details,
                       {"prior_samples": samples[:64].astype(np.float32), "prior_sample_labels": labels})
