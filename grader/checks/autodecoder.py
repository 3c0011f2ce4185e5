"""The ``auto_decoder`` check: test-time inference of an auto-decoder, done by the grader."""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal, Optional

from pydantic import Field

from vaegrade.grader.checks.base import Evidence, Outcome, ProbeContext, ProbeRequest, missing_message, register
from vaegrade.grader.checks.model import BceCheck, images_from, test_images
from vaegrade.grader.probe.interface import CheckedLocator
from vaegrade.grader.probe.requests import FitLatentsRequest


@register
class AutoDecoderCheck(BceCheck):
    """An auto-decoder (no encoder: a latent code per image, optimised) reconstructs held-out
    test images when the grader optimises their codes through the student's decoder (the
    rubric's ``model.decode``).

    The grader draws ``images`` test images, starts each code at N(0, 0.01^2) from its own seed,
    and runs ``steps`` steps of Adam (rate ``lr``) on the BCE summed over pixels w.r.t. the codes
    only (Park et al., 2019, "DeepSDF", Section 4: inference by optimising the latent code with
    the decoder fixed). ``support: positive`` optimises z = softplus(w) for latent families on
    (0, inf), such as the exponential. ``width`` is the latent size (the rubric's
    ``model.latent`` names the notebook's variable when it is not given). Credit by the BCE
    (nats per image) of the final codes' decoding, by the calibrated ``bce`` band.
    """

    type: Literal["auto_decoder"] = "auto_decoder"
    judges_training: ClassVar[bool] = True
    images: int = Field(200, ge=10, le=2000, description="held-out test images whose codes the grader optimises")
    steps: int = Field(200, ge=1, le=5000, description="Adam steps on the codes")
    lr: float = Field(0.05, gt=0, description="Adam's learning rate")
    support: Literal["real", "positive"] = Field("real", description="the latent support: real, or positive (z = softplus(w))")
    decoder: Optional[CheckedLocator] = Field(None, description="the decoder to optimise codes through (default: the rubric's model.decode)")
    width: int | None = Field(None, ge=1, description="the latent size (default: the notebook's variable `model.latent`)")

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        rng = self.rng(context.seed)
        batch = test_images(context, rng, self.images, sort=True)
        if self.decoder is not None:  # this check's own decoder, in place of the rubric model's
            decode = context.model.decode.model_copy(update={"call": self.decoder})
            context = dataclasses.replace(context, model=context.model.model_copy(update={"decode": decode}))
        return [self.model_request(FitLatentsRequest, self.id, context, batch, steps=self.steps, lr=self.lr,
                                   positive=self.support == "positive", width=self.width, seed=int(rng.integers(2**31)),
                                   logits=context.model.decode.returns == "logits")]

    def evaluate(self, evidence: Evidence) -> Outcome:
        output = evidence.output(self.id)
        if output.error:
            return Outcome(0.0, f"could not fit latent codes through the decoder: {missing_message(output.error, evidence)}")
        x = evidence.requests[self.id].inputs["images"]
        x_hat, problem = images_from(output, "x_hat", len(x), evidence.context)
        if x_hat is None:
            return Outcome(0.0, problem)
        return self.scored(x, x_hat, f" after {self.steps} steps of optimising their codes")
