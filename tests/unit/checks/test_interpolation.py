"""The interpolation check: the declared path between two codes, its ends, and the judge's labels along it."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.evidence import context, evidence


def _pairs_decoding(check, request, mnist, path_of):
    mu = np.random.default_rng(0).normal(size=(2 * check.pairs, 4))
    x = request.inputs["images"]
    paths = np.stack([path_of(mu[2 * i], mu[2 * i + 1]) for i in range(check.pairs)])
    half = check.steps // 2
    decoded = np.stack([np.concatenate([np.repeat(x[2 * i][None], half, 0), np.repeat(x[2 * i + 1][None], check.steps - half, 0)])
                        for i in range(check.pairs)])
    return {"mu": mu, "paths": paths, "decoded": decoded.reshape(-1, 1, 28, 28), "reconstructions": x}


def test_interpolation_must_be_the_declared_path_between_the_two_codes(mnist):
    from vaegrade.grader.checks.interpolation import InterpolationCheck, interpolation

    check = InterpolationCheck(id="interp", title="t", points=1, function="interpolate_points", steps=8, pairs=3)
    (request,) = check.probes(context())
    assert request.inputs["images"].shape == (6, 1, 28, 28) and request.numpy
    linear = _pairs_decoding(check, request, mnist, lambda a, b: interpolation(a, b, 8, "linear"))
    assert check.evaluate(evidence([request], {"interp": linear})).fraction == 1.0
    squared = _pairs_decoding(check, request, mnist,
                              lambda a, b: a + np.linspace(0, 1, 8)[:, None] ** 2 * (b - a))  # ends right, not linear
    outcome = check.evaluate(evidence([request], {"interp": squared}))
    assert outcome.fraction == pytest.approx(0.5) and "not the linear interpolation" in outcome.message
    slerp = interpolation(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 3, "spherical")
    assert slerp[1] == pytest.approx([2 ** -0.5, 2 ** -0.5])

