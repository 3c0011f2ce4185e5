"""Checks that the model is what it seems: ``decoder_uses_z``, ``training_copies``, ``active_units``.

A decoder that ignores z and returns training digits would look perfect to every classifier
metric; an encoder that ignores x (posterior collapse) still reconstructs the mean digit. These
checks look at the latent space itself; a rubric makes ``sample_quality`` rest on them with
``requires:``, so samples that are copies, or that do not come from z, earn nothing.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from pydantic import Field

from vaegrade.grader.checks.base import Evidence, Outcome, ProbeContext, ProbeRequest, missing_message, register
from vaegrade.grader.checks.model import (
    Band,
    ModelCheck,
    flat_codes,
    images_from,
    posterior,
    prior_request,
    prior_samples,
    test_images,
)
from vaegrade.grader.probe.requests import ReconstructRequest

if TYPE_CHECKING:  # annotations only: imported where used, so a rubric loads without it
    import torch

    from vaegrade.reference.data import Dataset

#: Burda, Grosse & Salakhutdinov (2016), "Importance Weighted Autoencoders", Section 5.2: a
#: latent unit u is active when Cov_x(E_{q(u|x)}[u]) > 0.01.
ACTIVITY_THRESHOLD = 0.01


@register
class DecoderUsesZCheck(ModelCheck):
    """The decoder depends on z, smoothly: decoded images vary with z, and nearby codes decode
    to nearby images.

    The grader decodes ``samples`` codes z ~ N(0, I) and the same codes moved by ``nudge`` (a
    random direction per code, Euclidean length ``nudge``). With pixel L2 distances (images in
    [0, 1]): ``variation`` = mean distance between the decodings of consecutive
    codes (different z), credited by the calibrated band ``variation``; ``ratio`` = mean distance
    between a code's and its nudged code's decodings over ``variation``, which must be at most
    ``max_ratio`` (a decoder that ignores z but returns varied images, such as random training
    digits, has a ratio near 1; a trained MLP VAE on MNIST has 0.02 at nudge 0.1).
    """

    type: Literal["decoder_uses_z"] = "decoder_uses_z"
    judges_training: ClassVar[bool] = True
    samples: int = Field(200, ge=20, le=2000, description="prior codes decoded, each also nudged")
    nudge: float = Field(0.1, gt=0, le=1, description="length of the move from each code to its neighbour")
    max_ratio: float = Field(0.5, gt=0, lt=1, description="largest (neighbour distance) / (distance between codes) allowed")
    variation: Band = Field(description="credit by the mean L2 distance between decodings of different codes (pixels in [0, 1])")

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        return [prior_request(self, context, self.samples, nudge=self.nudge)]

    def measurements(self, details: dict) -> dict[str, float]:
        return {"variation": details["variation"]} if "variation" in details else {}

    def evaluate(self, evidence: Evidence) -> Outcome:
        output = evidence.output(self.id)
        if output.error:
            return Outcome(0.0, f"could not decode codes: {missing_message(output.error, evidence)}")
        samples, problem = images_from(output, "samples", self.samples, evidence.context)
        nudged, problem_nudged = images_from(output, "nudged", self.samples, evidence.context)
        if samples is None or nudged is None:
            return Outcome(0.0, problem or problem_nudged)
        flat, flat_nudged = samples.reshape(self.samples, -1), nudged.reshape(self.samples, -1)
        variation = float(np.linalg.norm(flat - np.roll(flat, 1, axis=0), axis=1).mean())
        near = float(np.linalg.norm(flat - flat_nudged, axis=1).mean())
        ratio = near / variation if variation > 0 else float("inf")
        details = {"variation": variation, "neighbour_distance": near, "ratio": ratio,
                   "pass_at": self.variation.pass_at, "fail_at": self.variation.fail_at}
        if variation <= 1e-6:
            return Outcome(0.0, f"the decoder ignores z: {self.samples} different codes decode to the same image", details)
        if ratio > self.max_ratio:
            return Outcome(0.0, f"codes {self.nudge:g} apart decode to images as different as unrelated codes do "
                                f"(distance {near:.3g} vs {variation:.3g} between codes, ratio {ratio:.2f} > "
                                f"{self.max_ratio:g}): the decoded image does not come from z", details)
        credit = self.variation.credit(variation)
        message = (f"decoded images vary with z (mean distance {variation:.3g} between codes; full credit at >= "
                   f"{self.variation.pass_at:g}, none at <= {self.variation.fail_at:g}) and nearby codes decode nearby "
                   f"(ratio {ratio:.3f})")
        return Outcome(credit, message, details)


@lru_cache(maxsize=4)
def training_set(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """The data set's training images, (N, H * W) float32 in [0, 1], and their (N,) squared
    norms: made once per process, searched for every submission."""
    from vaegrade.reference.metrics import squared_norms, training_images

    images = training_images(dataset.load().x_train)
    return images, squared_norms(images)


def test_distances(dataset: Dataset, count: int, seed: int) -> np.ndarray:
    """Nearest-training-image distances of ``count`` test images picked by ``seed`` (the held-out reference)."""
    from vaegrade.reference.metrics import test_set_nearest_distances

    distances = test_set_nearest_distances(dataset.name)
    return distances[np.sort(np.random.default_rng(seed).choice(len(distances), count, replace=False))]


@register
class TrainingCopiesCheck(ModelCheck):
    """Samples from the prior are not copies of training images.

    As in the data-copying test of Meehan, Chaudhuri & Dasgupta (2020), "A Non-Parametric Test
    to Detect Data-Copying in Generative Models": the distances from ``samples`` prior samples to
    their nearest training image (pixel L2, all training images) are compared with the same
    distances of ``samples`` held-out test images. A sample is a copy when it is closer to the
    training set than ``1 - quantile`` of the test images are (MNIST: the 1% quantile is 1.26;
    a trained MLP VAE's samples have none below 2.5). More than ``max_copies`` (a fraction)
    copies earns 0. The details also give the Mann-Whitney U test's z statistic (negative:
    samples closer to the training set than test images are).
    """

    type: Literal["training_copies"] = "training_copies"
    judges_training: ClassVar[bool] = True
    samples: int = Field(200, ge=50, le=2000, description="prior samples compared with the training set")
    quantile: float = Field(0.01, gt=0, lt=0.5, description="a copy is closer to the training set than this quantile of test images")
    max_copies: float = Field(0.05, ge=0, lt=1, description="largest fraction of copies allowed")

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        return [prior_request(self, context, self.samples)]

    def prepare(self, context: ProbeContext) -> None:
        import scipy.stats  # noqa: F401  (for evaluate's Mann-Whitney U test)

        training_set(context.dataset)
        test_distances(context.dataset, self.samples, context.seed)

    def evaluate(self, evidence: Evidence) -> Outcome:
        import scipy.stats

        from vaegrade.reference.metrics import nearest_training
        samples, problem = prior_samples(self, evidence, self.samples)
        if samples is None:
            return Outcome(0.0, problem)
        dataset = evidence.context.dataset
        distances, nearest = nearest_training(samples, *training_set(dataset))
        reference = test_distances(dataset, self.samples, evidence.context.seed)
        limit = float(np.quantile(reference, self.quantile))
        copies = distances < limit
        test = scipy.stats.mannwhitneyu(distances, reference)
        z = float((test.statistic - len(distances) * len(reference) / 2)
                  / np.sqrt(len(distances) * len(reference) * (len(distances) + len(reference) + 1) / 12))
        details = {"copy_fraction": float(copies.mean()), "copy_distance": limit, "median_distance": float(np.median(distances)),
                   "test_median_distance": float(np.median(reference)), "mann_whitney_z": z}
        flagged = np.flatnonzero(copies)[:8]
        artifacts = {}
        if len(flagged):
            train = training_set(dataset)[0].numpy()
            artifacts = {"copied_samples": samples[flagged].astype(np.float32),
                         "copied_from": train[nearest[flagged]].reshape(-1, *dataset.channel_shape)}
        if copies.mean() > self.max_copies:
            return Outcome(0.0, f"{copies.mean():.0%} of {self.samples} prior samples are copies of training images (closer "
                                f"to one than 99% of test images are: distance < {limit:.3g}; at most "
                                f"{self.max_copies:.0%} allowed): a decoder must generate, not recall", details, artifacts)
        return Outcome(1.0, f"{copies.sum()} of {self.samples} prior samples are near-copies of training images (at most "
                            f"{self.max_copies:.0%} allowed; median distance to the training set {np.median(distances):.3g}, "
                            f"test images' {np.median(reference):.3g})", details, artifacts)


@register
class ActiveUnitsCheck(ModelCheck):
    """The encoder uses x: the fraction of latent units that are active (Burda et al., 2016,
    Section 5.2: dimension u is active when the variance over inputs of its posterior mean,
    Cov_x(E_q[u|x]), exceeds 0.01), over ``images`` held-out test images, credited by the
    calibrated band ``active`` (a fraction, so that models of any latent size compare).
    Posterior collapse, or an encoder that ignores x, leaves no unit active. The details give
    each dimension's variance and its mean KL to the prior (nats per example).
    """

    type: Literal["active_units"] = "active_units"
    judges_training: ClassVar[bool] = True
    images: int = Field(1000, ge=50, le=10000, description="held-out test images encoded")
    active: Band = Field(description="credit by the fraction of latent units that are active")

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        batch = test_images(context, self.rng(context.seed), self.images, sort=True)
        return [self.model_request(ReconstructRequest, self.id, context, batch)]

    def measurements(self, details: dict) -> dict[str, float]:
        return {"active_fraction": details["active_fraction"]} if "active_fraction" in details else {}

    def evaluate(self, evidence: Evidence) -> Outcome:
        import torch

        from vaegrade.reference.kl import kl_normal_std
        output = evidence.output(self.id)
        if output.error:
            return Outcome(0.0, f"could not encode test images: {missing_message(output.error, evidence)}")
        mu = output.arrays.get("mu")
        if mu is None or len(mu) != self.images:
            return Outcome(0.0, f"the encoder did not give mu for each of {self.images} images")
        mu = flat_codes(mu)
        found = posterior(output, evidence.context.model)
        if not np.isfinite(mu).all() or (found is not None and not np.isfinite(found[1]).all()):
            return Outcome(0.0, "the encoder gave NaN or infinite values")
        variance = mu.var(axis=0)
        active = int((variance > ACTIVITY_THRESHOLD).sum())
        details = {"active_units": active, "latent_dim": int(mu.shape[1]), "active_fraction": active / mu.shape[1],
                   "variance": variance.tolist(), "pass_at": self.active.pass_at, "fail_at": self.active.fail_at}
        if found is not None and found[1].shape == mu.shape:  # each unit's mean KL to the prior, for the instructor
            per_dim = kl_normal_std(torch.from_numpy(mu).reshape(-1, 1), torch.from_numpy(found[1]).reshape(-1, 1))
            details["kl_per_dim"] = per_dim.reshape(mu.shape).mean(dim=0).numpy().tolist()
        message = (f"{active} of {mu.shape[1]} latent units are active (posterior mean varies across inputs by more "
                   f"than {ACTIVITY_THRESHOLD}; full credit at a fraction >= {self.active.pass_at:g}, none at <= "
                   f"{self.active.fail_at:g})")
        if active == 0:
            message += ": the encoder ignores x (posterior collapse?)"
        return Outcome(self.active.credit(active / mu.shape[1]), message, details)
