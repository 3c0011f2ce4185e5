"""The ``beta_sweep`` check: runs at several KL weights show the trade-off theory predicts."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from vaegrade.grader.checks.base import CheckSpec, Evidence, Outcome, ProbeContext, ProbeRequest, missing_message, register
from vaegrade.grader.probe.interface import CheckedLocator, Locator, describe_locator, locator_config
from vaegrade.grader.probe.requests import HistoryRequest

#: Shares of the check's points: every run there and learning, KL falling, reconstruction rising.
#: The KL's fall is the strong signal (an order of magnitude over a sweep); the reconstruction
#: error's rise can be a few percent, as large as the noise between two training runs.
RUNS_SHARE, KL_SHARE, RECON_SHARE = 0.3, 0.5, 0.2


@register
class BetaSweepCheck(CheckSpec):
    """The student's training runs at several KL weights (``runs``: beta -> where that run's
    history is, a :data:`vaegrade.grader.probe.interface.Locator` of a dict of per-epoch lists or a Keras
    ``History``) show the rate-distortion trade-off of a beta-VAE (Higgins et al., 2017; Alemi
    et al., 2018, Section 3): as beta grows, the KL term falls and the reconstruction error rises.

    Tests, on the last epoch of each run (``keys`` names the reconstruction and KL entries):
    - every run is there, with at least two finite epochs, and learnt something: its first
      epoch's ``recon + beta * kl`` is above its last's (a run that did not train earns nothing);
    - KL falls from each beta to the next larger one (a rise within ``tolerance``, relative, is
      training noise), and by at least ``min_kl_drop`` (relative) from the smallest beta to the
      largest: a loss that ignores beta gives runs whose KL differs by noise alone;
    - reconstruction error rises from the smallest beta to the largest, each step the same way
      within ``tolerance``.
    """

    type: Literal["beta_sweep"] = "beta_sweep"
    runs: dict[float, CheckedLocator] = Field(min_length=2, description="beta -> where that run's history is (a locator)")
    keys: dict[Literal["recon", "kl"], str] = Field(default_factory=lambda: {"recon": "recon", "kl": "kl"},
        description="the history's key for the reconstruction term and for the KL term")
    min_kl_drop: float = Field(0.5, ge=0, lt=1, description="least relative fall of KL from the smallest beta to the largest")
    tolerance: float = Field(0.05, ge=0, description="relative step the wrong way allowed between neighbouring betas (training noise)")

    @field_validator("runs")
    @classmethod
    def _weights(cls, runs: dict[float, Locator]) -> dict[float, Locator]:
        if any(beta < 0 for beta in runs):
            raise ValueError("betas are KL weights: none may be negative")
        return runs

    @field_validator("keys")
    @classmethod
    def _both(cls, keys: dict[str, str]) -> dict[str, str]:
        if set(keys) != {"recon", "kl"}:
            raise ValueError("keys must map both recon and kl to the history's keys")
        return keys

    def _key(self, beta: float) -> str:
        return f"{self.id}.beta{beta:g}"

    def probes(self, context: ProbeContext) -> list[ProbeRequest]:
        return [HistoryRequest(key=self._key(beta), history=locator_config(locator), keys=self.keys)
                for beta, locator in sorted(self.runs.items())]

    def evaluate(self, evidence: Evidence) -> Outcome:
        finals, problems = {}, []
        for beta, locator in sorted(self.runs.items()):
            output = evidence.output(self._key(beta))
            name = describe_locator(locator)
            if output.error:
                problems.append(f"beta = {beta:g}: no run at {name} ({missing_message(output.error, evidence)})")
                continue
            missing = [self.keys[role] for role in ("recon", "kl") if role not in output.arrays]
            if missing:
                problems.append(f"beta = {beta:g}: the history {name} lacks {missing}")
                continue
            recon, kl = output.arrays["recon"].reshape(-1), output.arrays["kl"].reshape(-1)
            if min(len(recon), len(kl)) < 2 or not np.isfinite(np.concatenate([recon, kl])).all():
                problems.append(f"beta = {beta:g}: the history {name} needs two or more finite epochs "
                                f"(has {len(recon)} and {len(kl)})")
                continue
            objective = recon + beta * kl
            if not objective[-1] < objective[0]:
                problems.append(f"beta = {beta:g}: recon + beta * kl did not fall during training "
                                f"({objective[0]:.4g} -> {objective[-1]:.4g})")
                continue
            finals[beta] = {"recon": float(recon[-1]), "kl": float(kl[-1])}
        runs_ok = len(finals) == len(self.runs)
        trends = {role: self._trend(finals, role, rising=role == "recon") for role in ("kl", "recon")} if runs_ok else {}
        problems += [problem for problem in trends.values() if problem]
        fraction = RUNS_SHARE * runs_ok + (KL_SHARE * (not trends["kl"]) + RECON_SHARE * (not trends["recon"]) if runs_ok else 0)
        table = ", ".join(f"beta {b:g}: recon {v['recon']:.4g}, KL {v['kl']:.4g}" for b, v in finals.items())
        message = ("; ".join(problems) if problems else
                   "KL falls and reconstruction error rises as beta grows") + (f" ({table})" if table else "")
        return Outcome(fraction, message, {"finals": {f"{b:g}": v for b, v in finals.items()}, "problems": problems})

    def _trend(self, finals: dict[float, dict[str, float]], role: str, rising: bool) -> str:
        """Why ``role``'s last-epoch values do not move the way theory says as beta grows ('' if they do)."""
        betas = sorted(finals)
        values = [finals[beta][role] for beta in betas]
        name, way = {"kl": "KL", "recon": "reconstruction error"}[role], "rise" if rising else "fall"
        sign = 1 if rising else -1
        for (b1, v1), (b2, v2) in zip(zip(betas, values), zip(betas[1:], values[1:])):
            if sign * (v2 - v1) < -self.tolerance * abs(v1):
                return f"{name} should {way} from beta = {b1:g} to {b2:g} but goes {v1:.4g} -> {v2:.4g} (is beta used by the loss?)"
        first, last = values[0], values[-1]
        if rising and not last > first:
            return (f"reconstruction error does not rise from beta = {betas[0]:g} to {betas[-1]:g} "
                    f"({first:.4g} -> {last:.4g}; is beta used by the loss?)")
        if not rising and not last <= (1 - self.min_kl_drop) * first:
            return (f"KL falls only from {first:.4g} to {last:.4g} between beta = {betas[0]:g} and {betas[-1]:g} "
                    f"(a fall of at least {self.min_kl_drop:.0%} expected; is beta used by the loss?)")
        return ""
