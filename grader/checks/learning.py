"""The ``learning`` check: the student's own training code learns, judged on the loss it
differentiates at every step of the notebook's training (the recorded learning curve).

It is what keeps handed-in weights honest (a rubric's ``weights:``): the notebook's training still
runs, briefly (``weights.parameters``), before the weights replace its result, and a training
loop that does not learn (no optimizer step, a zero learning rate, a loss that does not reach
the parameters) loses this check however good the weights are. Without handed-in weights it
judges the full training the same way.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from vaegrade.grader.checks.base import CheckSpec, Evidence, Outcome, ProbeContext, ProbeRequest, register
from vaegrade.grader.checks.model import Band
from vaegrade.grader.probe.requests import RecordedRequest, Recording


@register
class LearningCheck(CheckSpec):
    """The fall of the training loss: ``(first - last) / |first|``, first and last the mean loss of
    the first and the last tenth of the recorded steps (every step the notebook differentiates a
    loss: ``Tensor.backward``, ``GradientTape.gradient``), credited by ``fall`` (higher is better).
    The band is the rubric's choice, not calibrated: a correct training that learns slowly (a small
    learning rate) must still pass, so set ``pass_at`` well below the reference's fall at the
    budget. Fewer than ``min_steps`` steps earn nothing (no learning can be seen in them); so
    does a loss that is not finite (those steps are not recorded)."""

    type: Literal["learning"] = "learning"
    fall: Band = Field(description="credit by the loss's relative fall over the training (higher is better)",
                       examples=[{"pass_at": 0.3, "fail_at": 0.05}])
    min_steps: int = Field(20, ge=4, description="the fewest training steps that can show learning")
    max_fall: float | None = Field(1.0, gt=0, description="a larger fall is divergence, not learning (a non-negative "
                                   "loss cannot fall by more than itself: one heading for minus infinity, a KL with the "
                                   "wrong sign, does); null for a loss that may rightly turn negative")

    def recordings(self) -> dict[str, Recording]:
        return {self.id: Recording(points={}, keep=2)}

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        return [RecordedRequest(key=self.id, record=self.id)]

    def evaluate(self, evidence: Evidence) -> Outcome:
        output = evidence.output(self.id)
        if output.error is not None:
            return Outcome(0.0, f"no training was seen: {output.error}")
        curve = output.arrays["curve"]
        if len(curve) < self.min_steps:
            return Outcome(0.0, f"only {len(curve)} training steps were seen; learning shows in at least {self.min_steps}",
                           {"steps": len(curve)})
        tenth = max(1, len(curve) // 10)
        first, last = float(np.mean(curve[:tenth])), float(np.mean(curve[-tenth:]))
        fall = (first - last) / abs(first) if first else 0.0
        if self.max_fall is not None and fall > self.max_fall:
            return Outcome(0.0, f"your training's loss diverges rather than learns: it went from {first:.4g} to {last:.4g} "
                                f"over its {len(curve)} steps, past zero (a KL with the wrong sign?)",
                           {"fall": fall, "steps": len(curve), "first": first, "last": last}, {"curve": curve.astype(np.float32)})
        message = (f"your training's loss fell by {fall:.0%} over its {len(curve)} steps (from {first:.4g} to {last:.4g}, "
                   f"means of the first and last tenth; full credit from {self.fall.pass_at:.0%}, none at "
                   f"{self.fall.fail_at:.0%})")
        return Outcome(self.fall.credit(fall), message, {"fall": fall, "steps": len(curve), "first": first, "last": last},
                       {"curve": curve.astype(np.float32)})
