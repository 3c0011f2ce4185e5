"""Checks of the student's trained model: ``model_interface``, ``reconstruction``, ``sample_quality``.

The model is reached as the rubric's ``model`` section says (:class:`vaegrade.grader.probe.interface.ModelSpec`);
the probe returns the encoder's (mu, scale) and the decoder's output raw, and
:func:`posterior` and :func:`images_from` turn them into the reference's convention here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vaegrade.grader.checks.base import (
    CheckSpec,
    Evidence,
    Outcome,
    ProbeContext,
    ProbeOutput,
    ProbeRequest,
    linear_credit,
    missing_message,
    register,
)
from vaegrade.grader.probe.interface import ModelSpec, describe_locator
from vaegrade.grader.probe.requests import (
    DecodePriorRequest,
    InterfaceRequest,
    ModelRequest,
    ReconstructRequest,
)
from vaegrade.reference.metrics import SampleQuality


class Band(BaseModel):
    """Partial credit between two levels: full at ``pass_at``, none at ``fail_at``, linear between.

    ``pass_at < fail_at`` means lower is better (a loss); the reverse, higher is better.
    """

    model_config = ConfigDict(extra="forbid")

    pass_at: float = Field(description='full credit at or beyond this value')
    fail_at: float = Field(description='no credit at or beyond this value')

    @model_validator(mode="after")
    def _distinct(self) -> "Band":
        if self.pass_at == self.fail_at:
            raise ValueError("pass_at and fail_at must differ")
        return self

    def credit(self, value: float) -> float:
        return linear_credit(value, self.pass_at, self.fail_at)


class ModelCheck(CheckSpec):
    """A check that calls the student's model (as the rubric's ``model`` section says)."""

    def model_request(self, kind: type[ModelRequest], key: str, context: ProbeContext, batch: Batch | None = None,
                      **fields: object) -> ModelRequest:
        """A probe request of ``kind`` on the model; ``batch``'s images (N, 1, H, W) go in the
        model's own layout, and, to a conditional model, their labels as it takes them."""
        inputs = model_inputs(batch, context) if batch is not None else {}
        return kind(key=key, model=context.model.config(context.dataset), inputs=inputs, **fields)


@dataclass(frozen=True)
class Batch:
    """Images of the rubric's data set, (N, 1, H, W) float32 in [0, 1], and their (N,) labels."""

    images: np.ndarray
    labels: np.ndarray


def test_images(context: ProbeContext, rng: np.random.Generator, count: int, sort: bool = False) -> Batch:
    """``count`` test images of the rubric's data set chosen by ``rng``, with their labels."""
    picks = rng.choice(len(context.data.x_test), count, replace=False)
    picks = np.sort(picks) if sort else picks
    return Batch((context.data.x_test[picks] / 255.0).astype(np.float32)[:, None], context.data.y_test[picks])


def model_inputs(batch: Batch, context: ProbeContext) -> dict[str, np.ndarray]:
    """A probe's inputs for ``batch``: its images (N, 1, H, W), and, for a conditional model, its
    labels as the model takes them."""
    inputs = {"images": batch.images}
    if context.model.conditional:
        inputs["labels"] = labels_as(batch.labels, context)
    return inputs


def labels_as(labels: np.ndarray, context: ProbeContext) -> np.ndarray:
    """Class labels as the conditional model takes them: int64 indices, or float32 one-hot rows."""
    if context.model.conditional == "onehot":
        return np.eye(len(context.dataset.classes), dtype=np.float32)[labels]
    return labels.astype(np.int64)


def prior_request(check: ModelCheck, context: ProbeContext, samples: int, **config: object) -> ProbeRequest:
    """``samples`` images decoded from z ~ N(0, I) drawn from the check's seed (see the probe's ``decode_prior``)."""
    rng = check.rng(context.seed)
    seed = int(rng.integers(2**31))
    request = check.model_request(DecodePriorRequest, check.id, context, test_images(context, rng, 1), n=samples, seed=seed,
                                  **config)
    if context.model.conditional:  # each class in turn
        request.inputs["prior_labels"] = labels_as(np.arange(samples) % len(context.dataset.classes), context)
    return request


def prior_samples(check: ModelCheck, evidence: Evidence, count: int) -> tuple[np.ndarray | None, str]:
    """The ``count`` images a :func:`prior_request` decoded, validated by :func:`images_from`;
    (None, why) when the probe failed or they are not images."""
    output = evidence.output(check.id)
    if output.error:
        return None, f"could not decode prior samples: {missing_message(output.error, evidence)}"
    return images_from(output, "samples", count, evidence.context)


def flat_codes(array: np.ndarray) -> np.ndarray:
    """Codes (B, D) from an encoder's output with extra singleton axes ((B, 1, D), (B, D, 1, 1))."""
    return array.reshape(len(array), -1) if array.ndim > 2 and sorted(array.shape[1:])[:-1] == [1] * (array.ndim - 2) else array


def posterior(output: ProbeOutput, spec: ModelSpec) -> tuple[np.ndarray, np.ndarray] | None:
    """(mu, logvar) float64 (B, D) from the probe's ``mu``/``scale`` arrays, the scale converted
    from the student's parametrization; None when either is missing (an encoder giving mu alone)."""
    import torch

    from vaegrade.reference.parametrize import to_logvar
    mu, scale = output.arrays.get("mu"), output.arrays.get("scale")
    if mu is None or scale is None or spec.encode is None or spec.encode.scale is None:
        return None
    mu, scale = flat_codes(mu), flat_codes(scale)
    with np.errstate(all="ignore"):
        logvar = to_logvar(torch.from_numpy(scale.astype(np.float64)), spec.encode.scale).numpy()
    return mu, logvar


def images_from(output: ProbeOutput, name: str, count: int, context: ProbeContext) -> tuple[np.ndarray | None, str]:
    """Validate decoder output ``name`` as ``count`` images of the data set (``count * H * W``
    values), Bernoulli means in [0, 1] once logits (if the rubric's model says the decoder returns
    them) go through a sigmoid. Returns (images (count, 1, H, W), "") or (None, why)."""
    import torch

    from vaegrade.reference.parametrize import to_probabilities
    array = output.arrays.get(name)
    if array is None:
        return None, f"the probe returned no `{name}`"
    spec, dataset = context.model, context.dataset
    if array.size != count * dataset.pixels:
        return None, f"decode returned shape {tuple(array.shape)}, expected {(count, *spec.decoded_shape(dataset))}"
    if not np.isfinite(array).all():
        return None, "decode returned NaN or infinite values"
    probs = to_probabilities(torch.from_numpy(array.astype(np.float64)), spec.decode.returns).numpy()
    if probs.min() < 0 or probs.max() > 1:
        return None, (f"decode returned values in [{array.min():.3g}, {array.max():.3g}], not probabilities in [0, 1]"
                      " (logits? the rubric says the decoder returns probabilities)")
    return probs.reshape(count, *dataset.channel_shape), ""


@register
class ModelInterfaceCheck(ModelCheck):
    """The model's ``encode``/``decode`` (as the rubric's ``model`` section locates them) have
    the declared shapes and ranges, and the latent size variable matches mu's width.

    Tests: the objects are a framework model (torch.nn.Module, a Keras layer or model); encode
    and decode are callable (not found at all: no credit); the latent size is a positive int; per batch size, mu and the scale
    are (B, latent size) and finite, decode returns (B, *layout) and, once logits (if declared)
    go through a sigmoid, probabilities in [0, 1]. Without a latent variable in the rubric,
    mu's width stands for it. A model that encodes and decodes no batch at all earns 0.
    """

    type: Literal["model_interface"] = "model_interface"
    batch_sizes: list[int] = Field(default_factory=lambda: [1, 7], min_length=1, description='batch sizes to encode and decode')

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        batch = test_images(context, self.rng(context.seed), max(self.batch_sizes))
        return [self.model_request(InterfaceRequest, self.id, context, batch, batch_sizes=self.batch_sizes)]

    def evaluate(self, evidence: Evidence) -> Outcome:
        import torch

        from vaegrade.reference.parametrize import to_probabilities
        output = evidence.output(self.id)
        if output.error:
            return Outcome(0.0, f"the model could not be inspected: {missing_message(output.error, evidence)}")
        spec, a = evidence.context.model, output.arrays
        if "find_error" in a:
            return Outcome(0.0, f"the model could not be found: {a['find_error']}")
        if not any(f"mu_{size}" in a for size in self.batch_sizes):  # the other tests would be credit for nothing
            errors = [str(a[f"error_{size}"]) for size in self.batch_sizes if f"error_{size}" in a]
            return Outcome(0.0, "the model never encoded and decoded a batch"
                           + (f": {errors[0]}" if errors else " (encode or decode is not callable)"))
        latent_dim = int(a["latent_dim"])
        if spec.latent is None:  # no variable to check: mu's width is the latent size
            latent_dim = next((flat_codes(a[f"mu_{s}"]).shape[-1] for s in self.batch_sizes if f"mu_{s}" in a), -1)
        parts = f"{describe_locator(spec.encode.call)} and {describe_locator(spec.decode.call)}"
        framework = {"torch": "a torch.nn.Module", "tensorflow": "a Keras layer or model"}[evidence.context.framework]
        tests = {
            f"the model is {framework}": bool(a.get("is_model", False)),
            f"{parts} are callable": bool(a["found"]),
            f"`{spec.latent or 'the latent size'}` is a positive int": latent_dim > 0,
        }
        layout = spec.decoded_shape(evidence.context.dataset)
        for size in self.batch_sizes:
            if f"error_{size}" in a:
                tests[f"batch of {size}: {a[f'error_{size}']}"] = False
                continue
            if f"mu_{size}" not in a:
                continue
            mu, x_hat = flat_codes(a[f"mu_{size}"]), a[f"x_hat_{size}"]
            scale = flat_codes(a[f"scale_{size}"]) if f"scale_{size}" in a else None
            if scale is None:
                tests[f"batch of {size}: mu is ({size}, {latent_dim}), got {mu.shape}"] = mu.shape == (size, latent_dim)
                tests[f"batch of {size}: mu is finite"] = bool(np.isfinite(mu).all())
            else:
                tests[f"batch of {size}: mu and {spec.encode.scale} are ({size}, {latent_dim}), got {mu.shape} and "
                      f"{scale.shape}"] = mu.shape == scale.shape == (size, latent_dim)
                tests[f"batch of {size}: mu and {spec.encode.scale} are finite"] = bool(
                    np.isfinite(mu).all() and np.isfinite(scale).all())
            tests[f"batch of {size}: decode gives {(size, *layout)}, got {x_hat.shape}"] = x_hat.shape == (size, *layout)
            probs = to_probabilities(torch.from_numpy(x_hat.astype(np.float64)), spec.decode.returns).numpy()
            tests[f"batch of {size}: decode gives {spec.decode.returns}"
                  + (" (a sigmoid of them in [0, 1])" if spec.decode.returns == "logits" else " in [0, 1]")] = bool(
                np.isfinite(probs).all() and probs.min() >= 0 and probs.max() <= 1)
        failed = [name for name, ok in tests.items() if not ok]
        message = (f"all {len(tests)} interface tests pass (latent_dim = {latent_dim})" if not failed
                   else f"{len(failed)} of {len(tests)} interface tests fail: " + "; ".join(failed))
        return Outcome(1 - len(failed) / len(tests), message, {"tests": tests, "latent_dim": latent_dim})


class BceCheck(ModelCheck):
    """A model check credited by a calibrated band of BCE (nats per image, summed over pixels,
    :func:`vaegrade.reference.metrics.reconstruction_bce`); ``vaegrade calibrate`` reads its ``bce``."""

    bce: Band = Field(description='credit by BCE in nats per image')

    def measurements(self, details: dict) -> dict[str, float]:
        return {"bce": details["bce"]} if "bce" in details else {}

    def scored(self, x: np.ndarray, x_hat: np.ndarray, how: str = "") -> Outcome:
        """The outcome of ``x_hat``, reconstructions of the test images ``x`` (both (N, 1, H, W)
        in [0, 1]); ``how`` says how they were made, in the message."""
        import torch

        from vaegrade.reference.metrics import reconstruction_bce
        bce = reconstruction_bce(torch.from_numpy(x).double(), torch.from_numpy(x_hat).double())
        message = (f"BCE {bce:.1f} nats/image on {len(x)} test images{how} "
                   f"(full credit at <= {self.bce.pass_at:g}, none at >= {self.bce.fail_at:g})")
        return Outcome(self.bce.credit(bce), message, {"bce": bce, "pass_at": self.bce.pass_at, "fail_at": self.bce.fail_at},
                       {"reconstruction_inputs": x[:10], "reconstructions": x_hat[:10].astype(np.float32)})


@register
class ReconstructionCheck(BceCheck):
    """BCE (nats per image, summed over pixels) of ``decode(mu)`` on held-out test images.

    The images are chosen by the grader from the rubric's data set's test images; thresholds come from
    ``vaegrade calibrate`` (see the rubric's comments).
    """

    type: Literal["reconstruction"] = "reconstruction"
    judges_training: ClassVar[bool] = True
    images: int = Field(1000, ge=10, le=10000, description='held-out test images reconstructed')

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        batch = test_images(context, self.rng(context.seed), self.images, sort=True)
        return [self.model_request(ReconstructRequest, self.id, context, batch)]

    def evaluate(self, evidence: Evidence) -> Outcome:
        output = evidence.output(self.id)
        if output.error:
            return Outcome(0.0, f"could not reconstruct: {missing_message(output.error, evidence)}")
        x = evidence.requests[self.id].inputs["images"]
        x_hat, problem = images_from(output, "x_hat", len(x), evidence.context)
        return self.scored(x, x_hat) if x_hat is not None else Outcome(0.0, problem)


MetricName = Literal[tuple(SampleQuality.__dataclass_fields__)]
GATES = ("frechet_distance", "classes_covered")  # samples past either's fail_at earn nothing


@register
class SampleQualityCheck(ModelCheck):
    """Images decoded from z ~ N(0, I) (drawn from the grader's seed, as wide as the encoder's
    mu), judged by the rubric's data set's judge classifier (:mod:`vaegrade.reference.classifier`).

    Each metric listed earns ``credit`` by its :class:`Band`; the check's fraction is their mean.
    No credit for nothing: the classifier is confidently wrong about noise, so samples unlike
    the data set (a Frechet distance at or past its ``fail_at``) or covering too few classes
    (``classes_covered`` at or below its ``fail_at``) earn 0 on every metric.
    """

    type: Literal["sample_quality"] = "sample_quality"
    judges_training: ClassVar[bool] = True
    samples: int = Field(1000, ge=100, le=10000, description='images decoded from the prior')
    metrics: dict[MetricName, Band] = Field(min_length=1, description="credit by each metric; the check's fraction is "
                                            "their mean; must include the gates frechet_distance and classes_covered")

    @model_validator(mode="after")
    def _gated(self) -> "SampleQualityCheck":
        missing = [name for name in GATES if name not in self.metrics]
        if missing:
            raise ValueError(f"metrics must include {missing}: samples unlike the data set earn nothing, and these "
                             "metrics say when they are")
        return self

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        return [prior_request(self, context, self.samples)]

    def measurements(self, details: dict) -> dict[str, float]:
        return dict(details.get("metrics", {}))

    def prepare(self, context: ProbeContext) -> None:
        import torch

        from vaegrade.reference.classifier import classify
        from vaegrade.reference.metrics import test_set_statistics

        test_set_statistics(context.dataset.name)
        classify(torch.zeros(2, *context.dataset.channel_shape), dataset=context.dataset.name)  # loads the judge and primes its kernels, cheaply

    def evaluate(self, evidence: Evidence) -> Outcome:
        import torch

        from vaegrade.reference.classifier import classify
        from vaegrade.reference.metrics import quality_from_classifier
        samples, problem = prior_samples(self, evidence, self.samples)
        if samples is None:
            return Outcome(0.0, problem)
        dataset = evidence.context.dataset.name
        probs, features = classify(torch.from_numpy(samples).float(), dataset=dataset)
        quality = quality_from_classifier(probs, features, dataset).as_dict()
        credits = {name: band.credit(quality[name]) for name, band in self.metrics.items()}
        weak = [f"{name} {quality[name]:.3g} (full credit at {self.metrics[name].pass_at:g})"
                for name, credit in credits.items() if credit < 1]
        summary = ", ".join(f"{name} {quality[name]:.3g}" for name in self.metrics)
        message = f"{self.samples} prior samples: {summary}" + (f"; below target: {'; '.join(weak)}" if weak else "")
        gated = [f"{name} {quality[name]:.3g} (no credit at {self.metrics[name].fail_at:g})"
                 for name in GATES if credits[name] == 0]
        if gated:
            credits = dict.fromkeys(credits, 0.0)
            message = (f"the samples are not {dataset.replace('_', '-')}-like ({'; '.join(gated)}), so no metric earns "
                       f"credit (a classifier is confident about noise too): {summary}")
        labels = probs[:64].argmax(dim=1).numpy()
        details = {"metrics": quality, "credits": credits,
                   "bands": {name: band.model_dump() for name, band in self.metrics.items()}}
        return Outcome(float(np.mean(list(credits.values()))), message, details,
                       {"prior_samples": samples[:64].astype(np.float32), "prior_sample_labels": labels})
