"""The ``inpainting`` check: masked test images completed by the student's model."""

from __future__ import annotations

from typing import ClassVar, Literal, Optional

import numpy as np
from pydantic import Field

from vaegrade.grader.checks.base import Evidence, Outcome, ProbeContext, ProbeRequest, missing_message, register
from vaegrade.grader.checks.model import Band, BceCheck, images_from, test_images
from vaegrade.grader.probe.interface import CheckedLocator, describe_locator, locator_config
from vaegrade.grader.probe.requests import InpaintRequest

#: The masks a rubric may name, each made for an image shape (H, W): 1 where the pixel is kept, 0
#: where it is hidden. ``centre`` hides the middle 3/7 of each side.
MASKS = {
    "bottom_half": lambda h, w: (np.arange(h) < h // 2)[:, None] * np.ones(w),
    "right_half": lambda h, w: np.ones(h)[:, None] * (np.arange(w) < w // 2),
    "centre": lambda h, w: 1.0 - np.outer((np.arange(h) >= 2 * h // 7) & (np.arange(h) < 5 * h // 7),
                                          (np.arange(w) >= 2 * w // 7) & (np.arange(w) < 5 * w // 7)),
}


def hidden_bce(x: np.ndarray, completed: np.ndarray, mask: np.ndarray) -> float:
    """The reference BCE (:func:`vaegrade.reference.losses.bernoulli_reconstruction`, log terms clamped at
    -100) of ``completed`` against ``x`` summed over the hidden pixels only (mask 0), nats per image."""
    import torch

    from vaegrade.reference.losses import bernoulli_reconstruction
    hidden = torch.from_numpy(1.0 - mask).bool()
    x_t, c_t = (torch.from_numpy(a).double() for a in (x, completed))
    return bernoulli_reconstruction(torch.where(hidden, x_t, 0.0), torch.where(hidden, c_t, 0.0)).mean().item()


@register
class InpaintingCheck(BceCheck):
    """Held-out test images with part hidden (``mask``: bottom_half, right_half or centre, the
    hidden pixels set to 0) completed by the student's model: ``function(masked, mask)`` in the
    model's layout (mask 1 where kept), or, without one, decode(mu) of the masked image.

    Scored on the hidden pixels only, by the reference reconstruction loss (BCE summed over
    those pixels, nats per image): the completion must beat the masked input itself (the hidden
    pixels left at 0), or it earns nothing; credit then by the calibrated ``bce`` band.
    """

    type: Literal["inpainting"] = "inpainting"
    judges_training: ClassVar[bool] = True
    function: Optional[CheckedLocator] = Field(None, description="the student's inpainting function f(masked, mask) (default: decode(encode(masked)))")
    arrays: Literal["numpy", "tensor"] = Field("tensor", description="what the function takes: numpy arrays or framework tensors")
    mask: Literal[tuple(MASKS)] = Field("bottom_half", description="which pixels are hidden: bottom_half, right_half, centre")
    images: int = Field(200, ge=10, le=2000, description="held-out test images masked and completed")
    bce: Band = Field(description="credit by BCE over the hidden pixels, nats per image")

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        batch = test_images(context, self.rng(context.seed), self.images, sort=True)
        images = batch.images
        mask = np.broadcast_to(MASKS[self.mask](*context.dataset.image_shape), images.shape).astype(np.float32)
        request = self.model_request(InpaintRequest, self.id, context, batch, name=self._name, numpy=self.arrays == "numpy",
                                     function=None if self.function is None else locator_config(self.function))
        request.inputs.update(masked=images * mask, mask=mask)
        return [request]

    @property
    def _name(self) -> str:
        return "decode(encode(masked))" if self.function is None else describe_locator(self.function)

    def evaluate(self, evidence: Evidence) -> Outcome:
        output = evidence.output(self.id)
        if output.error:
            return Outcome(0.0, f"could not inpaint with {self._name}: {missing_message(output.error, evidence)}")
        inputs = evidence.requests[self.id].inputs
        x, mask, masked = inputs["images"], inputs["mask"], inputs["masked"]
        completed, problem = images_from(output, "completed", len(x), evidence.context)
        if completed is None:
            return Outcome(0.0, problem)
        bce, baseline = hidden_bce(x, completed, mask), hidden_bce(x, masked, mask)
        fraction = self.bce.credit(bce) if bce < baseline else 0.0
        message = (f"BCE over the hidden pixels {bce:.1f} nats/image, against {baseline:.1f} for the masked input "
                   f"(full credit at <= {self.bce.pass_at:g}, none at >= {self.bce.fail_at:g})"
                   + ("" if bce < baseline else "; no better than leaving the hole empty, so no credit"))
        shown = np.stack([masked[:6], completed[:6] * (1 - mask[:6]) + x[:6] * mask[:6]], axis=1).reshape(-1, *evidence.context.dataset.channel_shape)
        return Outcome(fraction, message, {"bce": bce, "masked_bce": baseline, "pass_at": self.bce.pass_at,
                                           "fail_at": self.bce.fail_at}, {"inpaintings": shown.astype(np.float32)})
