"""The ``learning`` check: the student's own training code learns, judged on the loss it
differentiates at every step of the notebook's training (the recorded learning curve).

It is what keeps handed-in weights honest (a rubric's ``weights:``): the notebook's training still
runs, briefly (``weights.parameters``), before the weights replace its result, and a training
loop that does not learn (no optimizer step, a zero learning rate, a loss that does not reach
the parameters) loses this check however good the weights are. Without handed-in weights it
judges the full training the same way.
"""

from __future__ import annotations

import itertools
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vaegrade.grader.checks.base import CheckSpec, Evidence, Outcome, ProbeContext, ProbeRequest, register
from vaegrade.grader.checks.model import Band
from vaegrade.grader.probe.interface import describe_locator, locator_config
from vaegrade.grader.probe.requests import RecordedRequest, Recording


class UnderTrained(BaseModel):
    """When a retrained model falls short of a calibrated band only because the grading budget
    ended too soon: its training's loss was still falling fast (by ``still_falling`` or more,
    relative, from the second-to-last to the last fifth of the recorded steps) and it learns (the
    ``learning`` check earned credit). Each check of the trained model whose measurement fell short
    is then reported as under-trained at the grading budget and earns at least ``credit`` of its
    points (a correct model that learns more slowly per step than the reference, a deeper network
    or a smaller learning rate, is not judged as broken).

    The default ``still_falling`` separates, on the flagship at its grading budget (5 epochs of
    20,000 images, 785 steps; measured with ``vaegrade grade`` on ``submissions/vae_mnist/samples``),
    the slower correct variants (deeper MLP 5.0%, learning rate 1e-4 6.3%) from the reference
    (3.3%), the convolutional alternative (2.9%) and every flawed sample whose measured checks fall
    short (at most 3.7%; the wrong KL sign falls faster, but diverges and fails ``learning``)."""

    model_config = ConfigDict(extra="forbid")

    still_falling: float = Field(0.04, gt=0, description="the loss's relative fall over the last fifth of the steps "
                                 "from which training counts as still improving fast")
    credit: float = Field(0.5, ge=0, le=1, description="the least fraction an under-trained check earns (1: no cost, "
                          "0: the measurement's own credit; default half credit)")


@register
class LearningCheck(CheckSpec):
    """The fall of the training loss: ``(first - last) / |first|``, first and last the mean loss of
    the first and the last tenth of the recorded steps (every step the notebook differentiates a
    loss: ``Tensor.backward``, ``GradientTape.gradient``), credited by ``fall`` (higher is better).
    A notebook that trains several models (an autoencoder, then VAEs at three betas) has each
    training of the graded model (the rubric's or the check's ``model``) judged on its own steps
    (trainings are told apart by the parameters they reach, and those of other models left out:
    the handout's own autoencoder earns nothing) and earns the credit of the one that learned least.
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
    under_trained: UnderTrained | None = Field(default_factory=UnderTrained, description="how a retrained model that "
                                               "was still learning fast when the budget ended is credited; null: as measured")

    def recordings(self) -> dict[str, Recording]:
        return {self.id: Recording(points={}, keep=2)}

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        parts = [part.call for part in (context.model.encode, context.model.decode) if part is not None]
        return [RecordedRequest(key=self.id, record=self.id, owners=[locator_config(call) for call in parts])]

    def evaluate(self, evidence: Evidence) -> Outcome:
        output = evidence.output(self.id)
        if output.error is not None:
            return Outcome(0.0, f"no training was seen: {output.error}")
        arrays = output.arrays
        if "owner_error" in arrays:
            return Outcome(0.0, f"the graded model was not found, so its training could not be judged: "
                                f"{arrays['owner_error'].tobytes().decode(errors='replace')}")
        curve = arrays["curve"]
        bounds = [int(start) for start in arrays.get("runs", np.zeros(1))] + [len(curve)]
        ours = arrays.get("trains_model", np.ones(len(bounds) - 1, dtype=np.int64))
        if not ours.any():
            return Outcome(0.0, f"none of the {len(bounds) - 1} training(s) seen trained the graded model "
                                f"({describe_locator(evidence.context.model.encode.call)}'s)", {"steps": len(curve)})
        runs = [curve[start:end] for (start, end), own in zip(itertools.pairwise(bounds), ours)
                if own and end - start >= self.min_steps]
        if not runs:
            return Outcome(0.0, f"only {len(curve)} training steps were seen; learning shows in at least {self.min_steps} "
                                "steps of one model's training", {"steps": len(curve)})
        falls = [_fall(run) for run in runs]
        artifacts = {"curve": curve.astype(np.float32)}
        which = (lambda i: "") if len(runs) == 1 else (lambda i: f"training {i + 1} of {len(runs)}: ")
        for index, (fall, first, last) in enumerate(falls):
            if self.max_fall is not None and fall > self.max_fall:
                return Outcome(0.0, f"{which(index)}your training's loss diverges rather than learns: it went from "
                                    f"{first:.4g} to {last:.4g} over its {len(runs[index])} steps, past zero (a KL with the "
                                    f"wrong sign?)", {"fall": fall, "steps": len(curve), "first": first, "last": last}, artifacts)
        index = min(range(len(runs)), key=lambda i: falls[i][0])  # the model that learned least
        fall, first, last = falls[index]
        fifth = max(1, len(runs[-1]) // 5)
        before, end = float(np.mean(runs[-1][-2 * fifth:-fifth])), float(np.mean(runs[-1][-fifth:]))
        late_fall = (before - end) / abs(before) if before else 0.0
        told = (f"your training's loss fell by {fall:.0%} over its {len(runs[index])} steps" if len(runs) == 1 else
                f"your {len(runs)} models' trainings lost {', '.join(f'{f:.0%}' for f, _, _ in falls)} of their loss; the "
                f"least, training {index + 1}, fell by {fall:.0%} over its {len(runs[index])} steps")
        message = (f"{told} (from {first:.4g} to {last:.4g}, means of the first and last tenth; full credit from "
                   f"{self.fall.pass_at:.0%}, none at {self.fall.fail_at:.0%})")
        return Outcome(self.fall.credit(fall), message, {"fall": fall, "falls": [f for f, _, _ in falls], "steps": len(curve),
                                                         "first": first, "last": last, "late_fall": late_fall,
                                                         "steps_last_run": len(runs[-1])}, artifacts)


def _fall(curve: np.ndarray) -> tuple[float, float, float]:
    """``(first - last) / |first|`` and the two, the means of the first and last tenth of ``curve``."""
    tenth = max(1, len(curve) // 10)
    first, last = float(np.mean(curve[:tenth])), float(np.mean(curve[-tenth:]))
    return ((first - last) / abs(first) if first else 0.0), first, last


def allow_for_budget(judged: dict[str, tuple[CheckSpec, Outcome]]) -> dict[str, tuple[CheckSpec, Outcome]]:
    """``judged`` (check id -> its spec and outcome, for a model the grading run trained) with every
    check of the trained model whose measurement fell short raised to its learning check's
    :class:`UnderTrained` credit and said to be under-trained at the grading budget, when a
    ``learning`` check found the training still falling fast at its end; unchanged otherwise."""
    learning = next(((spec, outcome) for spec, outcome in judged.values() if isinstance(spec, LearningCheck)
                     and spec.under_trained is not None and outcome.fraction > 0
                     and outcome.details.get("late_fall", 0.0) >= spec.under_trained.still_falling), None)
    if learning is None:
        return judged
    spec, outcome = learning
    policy, late, steps = spec.under_trained, outcome.details["late_fall"], outcome.details["steps_last_run"]
    raised = {}
    for check_id, (check, measured) in judged.items():
        values = check.measurements(measured.details) if check.judges_training else {}
        if not values or measured.fraction >= 1:
            continue
        shown = ", ".join(f"{name} {value:.4g}" for name, value in values.items())
        fraction = max(measured.fraction, policy.credit)
        message = (f"under-trained at the grading budget: measured {shown}, short of full credit, while your training's "
                   f"loss was still falling fast when the grading run's training ended ({late:.1%} over the last fifth of "
                   f"its {steps} steps, where a model trained out falls by less than {policy.still_falling:.0%}: see the "
                   f"learning curve under `{spec.id}`). An under-trained model earns at least {policy.credit:.0%} of the "
                   f"points here (the rubric's choice); this one earns {fraction:.0%}")
        raised[check_id] = (check, Outcome(fraction, message,
                                           {**measured.details, "under_trained": True, "late_fall": late},
                                           measured.artifacts))
    return {**judged, **raised}
