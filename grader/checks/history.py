"""The ``training_history`` check: the student's per-epoch losses, and whether they fit the model."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from vaegrade.grader.checks.base import Evidence, Outcome, ProbeContext, ProbeRequest, missing_message, register
from vaegrade.grader.checks.model import ModelCheck, images_from, posterior
from vaegrade.grader.probe.interface import Locator, describe_locator, locator_config

HISTORY_KEYS = ("loss", "recon", "kl")
LEARNING = 0.01  # the least relative fall of the loss, first epoch to last, that shows learning


@register
class TrainingHistoryCheck(ModelCheck):
    """The training history (``history``, a :data:`vaegrade.grader.probe.interface.Locator`: a dict of
    per-epoch lists, or a Keras ``History``) holds the total loss, the reconstruction term and
    the KL term per epoch (per-example training means, nats), under the keys ``keys`` maps
    the roles ``loss``, ``recon``, ``kl`` to (Keras: ``reconstruction_loss``, ``kl_loss``).

    Tests: all three present with one entry per epoch (the rubric parameter named by
    ``epochs_parameter``), finite, the loss at the end at least 1% (of its size) below the start,
    ``loss = recon + beta * kl`` within 1%, and the last epoch's recon and KL within
    ``tolerance`` (relative) of the values the grader measures with the student's final model
    on ``train_images`` training images (reference BCE and KL; decoding the posterior mean).
    No credit for nothing: an empty history, or one whose loss is not finite or does not fall
    by that 1% (no learning shown: an optimizer that never steps), earns 0 whatever else holds;
    so grade with at least 2 epochs.
    """

    type: Literal["training_history"] = "training_history"
    history: Locator = Field("history", description='where the history is: a dict of lists or a Keras History (a locator)')
    keys: dict[Literal[HISTORY_KEYS], str] = Field(default_factory=lambda: {key: key for key in HISTORY_KEYS},
        description="the history's key for each role: loss, recon, kl")
    epochs_parameter: str = Field("epochs", description='the grading parameter holding the number of epochs')
    beta: float = Field(1.0, ge=0, description='the KL weight in loss = recon + beta * kl')
    tolerance: float = Field(0.3, gt=0, description="relative gap allowed between the last epoch and the final model's own losses")
    train_images: int = Field(1000, ge=10, le=60000, description='training images the final model is measured on')

    @model_validator(mode="after")
    def _complete(self) -> "TrainingHistoryCheck":
        locator_config(self.history)
        if set(self.keys) != set(HISTORY_KEYS):
            raise ValueError(f"keys must map each of {list(HISTORY_KEYS)} to the history's key")
        return self

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        picks = np.sort(self.rng(context.seed).choice(len(context.data.x_train), self.train_images, replace=False))
        images = (context.data.x_train[picks] / 255.0).astype(np.float32)[:, None]
        config = {"history": locator_config(self.history), "keys": self.keys}
        return [ProbeRequest(f"{self.id}.history", "history", config),
                self.model_request(f"{self.id}.reconstruct", "reconstruct", context, images)]

    def evaluate(self, evidence: Evidence) -> Outcome:
        output = evidence.output(f"{self.id}.history")
        if output.error:
            return Outcome(0.0, f"no training history: {missing_message(output.error, evidence)}")
        record = output.arrays
        missing = [self.keys[key] for key in HISTORY_KEYS if key not in record]
        if missing:
            return Outcome(0.0, f"the history {describe_locator(self.history)} lacks the keys {missing}")
        loss, recon, kl = (record[key].reshape(-1) for key in HISTORY_KEYS)
        if min(len(loss), len(recon), len(kl)) == 0:
            return Outcome(0.0, f"the history {describe_locator(self.history)} is empty: no epoch was recorded "
                                "(did training run?)", {"epochs": 0})
        epochs = evidence.context.parameters.get(self.epochs_parameter)
        tests = {
            f"one entry per epoch ({epochs}), got {len(loss)}, {len(recon)}, {len(kl)}":
                len(loss) == len(recon) == len(kl) == epochs and len(loss) > 0,
            "all values finite": bool(np.isfinite(np.concatenate([loss, recon, kl])).all()),
        }
        if tests["all values finite"] and len(loss) == len(recon) == len(kl) > 0:
            tests[f"the loss falls by at least {LEARNING:.0%} over training"] = bool(
                len(loss) > 1 and loss[-1] < loss[0] - LEARNING * abs(loss[0]))
            tests[f"loss = recon + {self.beta:g} * kl"] = bool(np.allclose(loss, recon + self.beta * kl, rtol=1e-2, atol=1e-3))
            measured = self._measured(evidence)
            details_measured = measured or {}
            if measured is not None:
                for key, last in (("recon", recon[-1]), ("kl", kl[-1])):
                    gap = abs(last - measured[key]) / max(abs(measured[key]), 1e-6)
                    tests[f"the last epoch's {key} ({last:.4g}) is within {self.tolerance:.0%} of the final "
                          f"model's {key} on training images ({measured[key]:.4g})"] = gap <= self.tolerance
        else:
            details_measured = {}
        failed = [name for name, ok in tests.items() if not ok]
        message = (f"all {len(tests)} history tests pass" if not failed
                   else f"{len(failed)} of {len(tests)} history tests fail: " + "; ".join(failed))
        details = {"tests": tests, "measured": details_measured, "epochs": len(loss)}
        artifacts = {f"history_{key}": record[key].astype(np.float64) for key in HISTORY_KEYS}
        if not tests.get(f"the loss falls by at least {LEARNING:.0%} over training", False):  # no learning shown
            return Outcome(0.0, f"the history shows no learning (the loss did not fall by {LEARNING:.0%} from the first "
                                "epoch to the last, or is not finite), so none of its tests earn credit: " + message,
                           details, artifacts)
        return Outcome(1 - len(failed) / len(tests), message, details, artifacts)

    def _measured(self, evidence: Evidence) -> dict[str, float] | None:
        """Reference recon and KL of the final model on training images, nats per image."""
        import torch

        from vaegrade.reference.kl import kl_normal_std
        from vaegrade.reference.losses import bernoulli_reconstruction
        output = evidence.output(f"{self.id}.reconstruct")
        if output.error:
            return None
        x = evidence.requests[f"{self.id}.reconstruct"].inputs["images"]
        x_hat, _ = images_from(output, "x_hat", len(x), evidence.context)
        found = posterior(output, evidence.context.model)
        if x_hat is None or found is None or found[0].shape != found[1].shape or len(found[0]) != len(x):
            return None
        mu, logvar = found
        recon = bernoulli_reconstruction(torch.from_numpy(x).double(), torch.from_numpy(x_hat).double())
        kl = kl_normal_std(torch.from_numpy(mu).double(), torch.from_numpy(logvar).double())
        return {"recon": recon.mean().item(), "kl": kl.mean().item()}
