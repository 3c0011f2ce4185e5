"""The training_history check on made-up histories: no credit for an empty one or one that shows no learning."""

from __future__ import annotations

import numpy as np

from tests.unit.evidence import context, evidence
from vaegrade.grader.checks.history import TrainingHistoryCheck


def test_an_empty_history_earns_nothing_and_says_so(mnist):
    check = TrainingHistoryCheck(id="h", title="t", points=10)
    requests = check.probes(context({"epochs": 5}))
    empty = {"loss": np.zeros(0), "recon": np.zeros(0), "kl": np.zeros(0)}
    outcome = check.evaluate(evidence(requests, {"h.history": empty}, context({"epochs": 5})))
    assert outcome.fraction == 0.0 and "is empty: no epoch was recorded" in outcome.message


def test_a_history_that_shows_no_learning_earns_nothing(mnist):
    check = TrainingHistoryCheck(id="h", title="t", points=10)
    requests = check.probes(context({"epochs": 3}))
    flat = {"loss": np.array([543.2, 543.1, 543.3]), "recon": np.array([543.0, 542.9, 543.1]), "kl": np.full(3, 0.2)}
    outcome = check.evaluate(evidence(requests, {"h.history": flat}, context({"epochs": 3})))
    assert outcome.fraction == 0.0 and "shows no learning" in outcome.message



def test_plain_per_step_lists_are_averaged_per_epoch_and_a_kl_summed_over_the_batch_is_named(mnist):
    check = TrainingHistoryCheck(id="h", title="t", points=10, history=None,
                                 series={"loss": "losses", "recon": "recon_losses", "kl": "kld"}, train_images=20)
    requests = check.probes(context({"epochs": 2}))
    x = requests[1].inputs["images"]
    mu, logvar = np.full((20, 4), 0.5), np.zeros((20, 4))  # KL 0.5 nats per example
    reconstruct = {"x_hat": np.clip(x, 0.1, 0.9), "mu": mu, "scale": logvar}
    recon = float(-(x * np.log(np.clip(x, 0.1, 0.9)) + (1 - x) * np.log(1 - np.clip(x, 0.1, 0.9))).reshape(20, -1).sum(1).mean())
    steps = {"recon_losses": np.repeat([recon + 50, recon], 3)}  # three steps an epoch
    kept = {"loss": steps["recon_losses"] + 0.5, "recon": steps["recon_losses"], "kl": np.full(6, 0.5)}
    right = check.evaluate(evidence(requests, {"h.history": kept, "h.reconstruct": reconstruct}, context({"epochs": 2})))
    assert right.fraction == 1.0 and right.details["epochs"] == 2, right.message
    summed = dict(kept, kl=np.full(6, 0.5 * 100), loss=kept["recon"] + 50)
    wrong = check.evaluate(evidence(requests, {"h.history": summed, "h.reconstruct": reconstruct}, context({"epochs": 2})))
    assert wrong.fraction < 1 and "100 times the per-example value, kept summed over each batch" in wrong.message
