"""The ``training_history`` check: the student's per-epoch losses, and whether they fit the model."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from vaegrade.grader.checks.base import Evidence, Outcome, ProbeContext, ProbeRequest, missing_message, register
from vaegrade.grader.checks.model import Batch, ModelCheck, images_from, posterior
from vaegrade.grader.probe.interface import Locator, describe_locator, locator_config
from vaegrade.grader.probe.requests import HistoryRequest, ReconstructRequest

HISTORY_KEYS = ("loss", "recon", "kl")
LEARNING = 0.01  # the least relative fall of the loss, first epoch to last, that shows learning


@register
class TrainingHistoryCheck(ModelCheck):
    """The training history: the total loss, the reconstruction term and the KL term per epoch
    (per-example training means, nats), as the notebook kept them: a dict of per-epoch lists or a
    Keras ``History`` (``history``, a :data:`vaegrade.grader.probe.interface.Locator`) under the
    keys ``keys`` maps the roles ``loss``, ``recon``, ``kl`` to (Keras: ``reconstruction_loss``,
    ``kl_loss``), or plain lists located one by one (``series: {loss: losses, kl: kld}``). A
    notebook that kept only the totals (``loss``) is judged on what it kept.

    Tests: the loss present, every role kept has one entry per epoch (the rubric parameter named
    by ``epochs_parameter``; a list with a whole number of entries per epoch, one per step, is
    averaged per epoch), finite, the loss at the end at least 1% (of its size) below the start,
    ``loss = recon + beta * kl`` within 1% when all three are kept, and the last epoch's recon
    and KL within ``tolerance`` (relative) of the values the grader measures with the student's
    final model on ``train_images`` training images (reference BCE and KL; decoding the
    posterior mean), unless handed-in weights replaced that model (a rubric's ``weights:``). No
    credit for nothing: an empty history, or one whose loss is not finite or does not fall by that
    1% (no learning shown: an optimizer that never steps), earns 0 whatever
    else holds; so grade with at least 2 epochs.
    """

    type: Literal["training_history"] = "training_history"
    history: Locator | None = Field("history", description='where the history is: a dict of lists or a Keras History '
                                                           '(a locator); null when `series` locates plain lists',
                                                           examples=["history.history", None])
    keys: dict[Literal[HISTORY_KEYS], str] = Field(default_factory=lambda: {key: key for key in HISTORY_KEYS},
        description="the history's key for each role: loss, recon, kl")
    series: dict[Literal[HISTORY_KEYS], Locator] = Field(default_factory=dict,
        description="plain lists, one per role, each located on its own (loss: losses, kl: kld)",
        examples=[{"loss": "losses", "recon": "recon_losses", "kl": "kld"}])
    epochs_parameter: str = Field("epochs", description='the grading parameter holding the number of epochs')
    beta: float = Field(1.0, ge=0, description='the KL weight in loss = recon + beta * kl')
    tolerance: float = Field(0.3, gt=0, description="relative gap allowed between the last epoch and the final model's own losses")
    train_images: int = Field(1000, ge=10, le=60000, description='training images the final model is measured on')

    @model_validator(mode="after")
    def _complete(self) -> "TrainingHistoryCheck":
        if self.history is None and "loss" not in self.series:
            raise ValueError("give the `history` or, in `series`, at least the list of the `loss`")
        for locator in [self.history, *self.series.values()]:
            if locator is not None:
                locator_config(locator)
        if self.history is not None and not set(self.series) and set(self.keys) != set(HISTORY_KEYS):
            raise ValueError(f"keys must map each of {list(HISTORY_KEYS)} to the history's key")
        return self

    @property
    def where(self) -> str:
        return describe_locator(self.history) if self.history is not None else ", ".join(
            describe_locator(locator) for locator in self.series.values())

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        picks = np.sort(self.rng(context.seed).choice(len(context.data.x_train), self.train_images, replace=False))
        batch = Batch((context.data.x_train[picks] / 255.0).astype(np.float32)[:, None], context.data.y_train[picks])
        history = HistoryRequest(key=f"{self.id}.history", history=self.history and locator_config(self.history),
                                 keys=self.keys if self.history is not None else {},
                                 series={role: locator_config(locator) for role, locator in self.series.items()})
        return [history, self.model_request(ReconstructRequest, f"{self.id}.reconstruct", context, batch)]

    def evaluate(self, evidence: Evidence) -> Outcome:
        output = evidence.output(f"{self.id}.history")
        if output.error:
            return Outcome(0.0, f"no training history: {missing_message(output.error, evidence)}")
        epochs = evidence.context.parameters.get(self.epochs_parameter)
        record = {role: per_epoch(values.reshape(-1), epochs) for role, values in output.arrays.items()}
        if "loss" not in record:
            return Outcome(0.0, f"the history {self.where} lacks the loss ({self.keys.get('loss', 'loss')})")
        if any(len(values) == 0 for values in record.values()):
            return Outcome(0.0, f"the history {self.where} is empty: no epoch was recorded (did training run?)", {"epochs": 0})
        tests = self._tests(record, epochs, evidence)
        failed = [name for name, ok in tests.items() if not ok]
        message = (f"all {len(tests)} history tests pass" if not failed
                   else f"{len(failed)} of {len(tests)} history tests fail: " + "; ".join(failed))
        if set(record) != set(HISTORY_KEYS):
            message += f" (the notebook kept {', '.join(sorted(record))} only)"
        details = {"tests": tests, "epochs": len(record["loss"]), "kept": sorted(record)}
        artifacts = {f"history_{key}": record[key].astype(np.float64) for key in HISTORY_KEYS if key in record}
        if not tests.get(f"the loss falls by at least {LEARNING:.0%} over training", False):  # no learning shown
            return Outcome(0.0, f"the history shows no learning (the loss did not fall by {LEARNING:.0%} from the first "
                                "epoch to the last, or is not finite), so none of its tests earn credit: " + message,
                           details, artifacts)
        return Outcome(1 - len(failed) / len(tests), message, details, artifacts)

    def _tests(self, record: dict[str, np.ndarray], epochs: object, evidence: Evidence) -> dict[str, bool]:
        lengths = ", ".join(str(len(values)) for values in record.values())
        tests = {f"one entry per epoch ({epochs}), got {lengths}": all(len(v) == epochs for v in record.values()),
                 "all values finite": bool(np.isfinite(np.concatenate(list(record.values()))).all())}
        if not tests["all values finite"] or len({len(v) for v in record.values()}) > 1:
            return tests
        loss = record["loss"]
        tests[f"the loss falls by at least {LEARNING:.0%} over training"] = bool(
            len(loss) > 1 and loss[-1] < loss[0] - LEARNING * abs(loss[0]))
        if set(record) == set(HISTORY_KEYS):
            tests[f"loss = recon + {self.beta:g} * kl"] = bool(
                np.allclose(loss, record["recon"] + self.beta * record["kl"], rtol=1e-2, atol=1e-3))
        # handed-in weights replaced the model the history was kept of: nothing to compare it with
        loaded = evidence.weights is not None and evidence.weights.loaded
        measured = {} if loaded else self._measured(evidence) or {}
        for key in ("recon", "kl"):
            if key in record and key in measured:
                last = record[key][-1]
                gap = abs(last - measured[key]) / max(abs(measured[key]), 1e-6)
                tests[f"the last epoch's {key} ({last:.4g}) is within {self.tolerance:.0%} of the final "
                      f"model's {key} on training images ({measured[key]:.4g}){_scale_hint(key, last, measured[key], evidence)}"
                      ] = gap <= self.tolerance
        return tests

    def _measured(self, evidence: Evidence) -> dict[str, float] | None:
        """Reference recon and KL of the final model on training images, nats per image (the KL
        only for an encoder that gives its posterior's scale)."""
        import torch

        from vaegrade.reference.kl import kl_normal_std
        from vaegrade.reference.losses import bernoulli_reconstruction
        output = evidence.output(f"{self.id}.reconstruct")
        if output.error:
            return None
        x = evidence.requests[f"{self.id}.reconstruct"].inputs["images"]
        x_hat, _ = images_from(output, "x_hat", len(x), evidence.context)
        measured = {}
        if x_hat is not None:
            measured["recon"] = bernoulli_reconstruction(torch.from_numpy(x).double(), torch.from_numpy(x_hat).double()).mean().item()
        found = posterior(output, evidence.context.model)
        if found is not None and found[0].shape == found[1].shape and len(found[0]) == len(x):
            measured["kl"] = kl_normal_std(*(torch.from_numpy(a).double() for a in found)).mean().item()
        return measured


def _scale_hint(key: str, kept: float, measured: float, evidence: Evidence) -> str:
    """Why a kept term may be far off the model's own, when the ratio says it (empty otherwise):
    summed over a batch (many times the per-example value), or averaged over the pixels."""
    ratio = kept / measured if measured > 0 else 0.0
    if ratio >= 8:
        return f": {ratio:.0f} times the per-example value, kept summed over each batch rather than averaged?"
    if key == "recon" and 0 < ratio * evidence.context.dataset.pixels <= 2:
        return f": about 1/{evidence.context.dataset.pixels} of it, averaged over the pixels rather than summed?"
    return ""


def per_epoch(values: np.ndarray, epochs: object) -> np.ndarray:
    """Per-epoch values of a series: as it is, or, when it holds a whole number of entries per
    epoch (one per training step), the mean of each epoch's."""
    if isinstance(epochs, int) and epochs > 0 and len(values) > epochs and len(values) % epochs == 0:
        return values.reshape(epochs, -1).mean(axis=1)
    return values
