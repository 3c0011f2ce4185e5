"""Conversions between the scale parametrizations students use and logvar, and logits."""

import pytest
import torch

from vaegrade.reference.parametrize import SCALE_PARAMS, from_logvar, from_probabilities, to_logvar, to_probabilities


@pytest.mark.parametrize("name", SCALE_PARAMS)
def test_each_parametrization_round_trips_through_logvar(name):
    logvar = torch.linspace(-4, 3, 50, dtype=torch.float64)
    assert torch.allclose(to_logvar(from_logvar(logvar, name), name), logvar)


def test_values_are_those_of_the_same_gaussian():
    logvar = torch.tensor([-2.0, 0.0, 1.5], dtype=torch.float64)
    sigma = torch.exp(0.5 * logvar)
    assert torch.allclose(from_logvar(logvar, "sigma"), sigma)
    assert torch.allclose(from_logvar(logvar, "var"), sigma ** 2)
    assert torch.allclose(from_logvar(logvar, "log_sigma"), torch.log(sigma))
    with pytest.raises(ValueError, match="unknown scale"):
        from_logvar(logvar, "std")


def test_logits_are_log_odds_of_the_probabilities():
    probs = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    logits = from_probabilities(probs, "logits")
    assert torch.allclose(logits, torch.log(probs / (1 - probs)))
    assert torch.allclose(to_probabilities(logits, "logits"), probs)
    assert to_probabilities(probs, "probabilities") is probs
