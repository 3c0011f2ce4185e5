"""The ``interpolation`` check: the student's path between two latent codes, and what it decodes to."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from pydantic import Field

from vaegrade.grader.checks.base import Evidence, Outcome, ProbeContext, ProbeRequest, missing_message, register
from vaegrade.grader.checks.model import Batch, ModelCheck, flat_codes, images_from
from vaegrade.grader.probe.interface import CheckedLocator, describe_locator, locator_config
from vaegrade.grader.probe.requests import InterpolateRequest

if TYPE_CHECKING:  # annotations only
    from vaegrade.reference.data import Dataset

#: Shares of the check's points: the path, its endpoints' decodings, the classifier's labels.
PATH_SHARE, ENDPOINT_SHARE, LABEL_SHARE = 0.5, 0.25, 0.25


def interpolation(p1: np.ndarray, p2: np.ndarray, steps: int, method: str) -> np.ndarray:
    """The reference path: (steps, D) codes from p1 to p2 (both (D,)), t = linspace(0, 1, steps).

    ``linear``: (1 - t) p1 + t p2. ``spherical``: slerp, sin((1 - t) w) / sin(w) p1 +
    sin(t w) / sin(w) p2 with cos(w) = p1.p2 / (|p1| |p2|) (Shoemake, 1985; White, 2016,
    "Sampling Generative Networks", Section 2.1), linear when the codes are parallel.
    """
    t = np.linspace(0.0, 1.0, steps)[:, None]
    if method == "spherical":
        cosine = np.dot(p1, p2) / max(np.linalg.norm(p1) * np.linalg.norm(p2), 1e-12)
        omega = np.arccos(np.clip(cosine, -1.0, 1.0))
        if np.sin(omega) > 1e-6:
            return (np.sin((1 - t) * omega) * p1 + np.sin(t * omega) * p2) / np.sin(omega)
    return (1 - t) * p1 + t * p2


@register
class InterpolationCheck(ModelCheck):
    """The student's interpolation ``function(p1, p2, steps)`` (``interpolate_points`` of the
    keras.io VAE lab) between the posterior means of ``pairs`` pairs of test images of different
    classes, chosen by the grader, and the images its path decodes to.

    ``arrays``: ``numpy`` when the function takes numpy arrays (D,), ``tensor`` for framework
    tensors. A function that takes the two images and notebook objects and returns the decoded
    path itself (``takes: images``, ``objects: [encoder, decoder]``: ``create_interpolates(A, B,
    encoder, decoder)``) is judged on its images alone (the path's share goes to the others).
    Tests, per pair:
    - path: ``steps`` codes, equal to the reference path (:func:`interpolation`, ``method``
      linear or spherical) within ``atol``;
    - endpoints: the path's first and last codes decode within a mean absolute pixel
      difference of 0.05 of the reconstructions decode(mu) of the two images;
    - labels: the classifier gives the decoded endpoints the labels it gives the two
      reconstructions, and, when those differ, the label changes along the path.
    """

    type: Literal["interpolation"] = "interpolation"
    judges_training: ClassVar[bool] = True
    function: CheckedLocator = Field(description="where the interpolation function is (a locator): f(p1, p2, steps) -> (steps, D)")
    arrays: Literal["numpy", "tensor"] = Field("numpy", description="what the function takes: numpy arrays or framework tensors")
    method: Literal["linear", "spherical"] = Field("linear", description="the interpolation the handout asks for")
    steps: int = Field(10, ge=3, le=100, description="codes along the path, endpoints included")
    pairs: int = Field(6, ge=1, le=50, description="pairs of test images of different classes")
    atol: float = Field(1e-4, gt=0, description="absolute tolerance of the path's codes")
    takes: Literal["codes", "images"] = Field("codes", description="what the function takes: the two codes and `steps` "
                                              "(f(p1, p2, steps)), or the two images then `objects` (returning the images)",
                                              examples=["images"])
    objects: list[CheckedLocator] = Field(default_factory=list, description="notebook objects passed after the two images "
                                          "(takes: images), such as the encoder and the decoder", examples=[["encoder", "decoder"]])

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        rng = self.rng(context.seed)
        picks: list[int] = []
        while len(picks) < 2 * self.pairs:
            first, second = rng.choice(len(context.data.x_test), 2, replace=False)
            if context.data.y_test[first] != context.data.y_test[second]:
                picks += [int(first), int(second)]
        batch = Batch((context.data.x_test[picks] / 255.0).astype(np.float32)[:, None], context.data.y_test[picks])
        return [self.model_request(InterpolateRequest, self.id, context, batch, function=locator_config(self.function),
                                   name=describe_locator(self.function), numpy=self.arrays == "numpy", steps=self.steps,
                                   takes=self.takes, objects=[locator_config(o) for o in self.objects])]

    def evaluate(self, evidence: Evidence) -> Outcome:
        output = evidence.output(self.id)
        name = describe_locator(self.function)
        if output.error:
            return Outcome(0.0, f"could not interpolate with {name}: {missing_message(output.error, evidence)}")
        mu = flat_codes(output.arrays["mu"].astype(np.float64))
        dataset = evidence.context.dataset
        decoded, problem = images_from(output, "decoded", self.pairs * self.steps, evidence.context)
        recon, problem_recon = images_from(output, "reconstructions", 2 * self.pairs, evidence.context)
        if decoded is None or recon is None:
            return Outcome(0.0, (f"{name}: " if decoded is None else "") + (problem or problem_recon))
        decoded = decoded.reshape(self.pairs, self.steps, *dataset.channel_shape)
        ends = np.stack([decoded[:, 0], decoded[:, -1]], axis=1).reshape(-1, *dataset.channel_shape)
        ends_gap = np.abs(ends - recon).reshape(self.pairs, 2, -1).mean(axis=2).max(axis=1)
        ends_ok = ends_gap <= 0.05
        labels = self._labels(decoded, dataset)
        recon_labels = self._labels(recon.reshape(self.pairs, 2, *dataset.channel_shape), dataset)
        changes = recon_labels[:, 0] != recon_labels[:, 1]  # a change is expected only between different labels
        labels_ok = ((labels[:, 0] == recon_labels[:, 0]) & (labels[:, -1] == recon_labels[:, 1])
                     & (~changes | (labels != labels[:, :1]).any(axis=1)))
        details = {"endpoint_gap": ends_gap.tolist(), "labels": labels.tolist(), "reconstruction_labels": recon_labels.tolist()}
        problems = []
        if self.takes == "codes":
            paths = output.arrays["paths"].astype(np.float64)
            if paths.shape != (self.pairs, self.steps, mu.shape[-1]):
                return Outcome(0.0, f"{name} returned {paths.shape[1:]} per pair, expected ({self.steps}, {mu.shape[-1]}): "
                                    f"{self.steps} codes as wide as the latent space")
            expected = np.stack([interpolation(mu[2 * i], mu[2 * i + 1], self.steps, self.method) for i in range(self.pairs)])
            error = np.abs(paths - expected).max(axis=(1, 2))
            path_ok = error <= self.atol + 1e-5 * np.abs(expected).max()
            details["path_error"] = error.tolist()
            fraction = PATH_SHARE * path_ok.mean() + ENDPOINT_SHARE * ends_ok.mean() + LABEL_SHARE * labels_ok.mean()
            if not path_ok.all():
                worst = int(np.argmax(error))
                problems.append(f"the path is not the {self.method} interpolation on {int((~path_ok).sum())} of "
                                f"{self.pairs} pairs (largest difference {error[worst]:.3g}; expected {self._formula()})")
        else:  # only the images it returns are seen: the path's share goes to what is judged
            share = ENDPOINT_SHARE + LABEL_SHARE
            fraction = (ENDPOINT_SHARE * ends_ok.mean() + LABEL_SHARE * labels_ok.mean()) / share
        if not ends_ok.all():
            problems.append(f"the path's ends do not decode to the two reconstructions on {int((~ends_ok).sum())} pairs "
                            f"(mean pixel difference up to {ends_gap.max():.3g}; do the endpoints belong to the path?)")
        if not labels_ok.all():
            problems.append(f"on {int((~labels_ok).sum())} of {self.pairs} pairs the classifier's labels do not go from the "
                            "first reconstruction's to the second's along the decoded path")
        message = "; ".join(problems) or (f"the {self.method} path between the codes of {self.pairs} pairs of test images, "
                                          "decoding from one digit to the other")
        return Outcome(float(fraction), message, details, {"interpolations": decoded[:4].astype(np.float32)})

    def prepare(self, context: ProbeContext) -> None:
        from vaegrade.reference.classifier import load_classifier

        load_classifier(context.dataset.name)

    def _formula(self) -> str:
        return ("(1 - t) p1 + t p2 for t = linspace(0, 1, steps)" if self.method == "linear"
                else "the slerp of p1 and p2 for t = linspace(0, 1, steps)")

    @staticmethod
    def _labels(images: np.ndarray, dataset: Dataset) -> np.ndarray:
        """The judge's labels of (P, K, 1, H, W) images, (P, K)."""
        import torch

        from vaegrade.reference.classifier import classify
        probs, _ = classify(torch.from_numpy(images.reshape(-1, *dataset.channel_shape)).float(), dataset=dataset.name)
        return probs.argmax(dim=1).numpy().reshape(images.shape[:2])
