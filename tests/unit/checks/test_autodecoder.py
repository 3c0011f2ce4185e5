"""The auto_decoder check: test-time latents fitted by the probe, reconstructions scored by the band."""

from __future__ import annotations

import numpy as np

from tests.unit.evidence import context, evidence


def test_auto_decoder_reconstruction_is_scored_by_the_band(mnist):
    from vaegrade.grader.checks.autodecoder import AutoDecoderCheck

    check = AutoDecoderCheck(id="ad", title="t", points=1, images=50, steps=10, width=8,
                             bce={"pass_at": 120, "fail_at": 200})  # the mean image: ~209
    (request,) = check.probes(context())
    assert request.kind == "fit_latents" and request.width == 8 and not request.positive
    x = request.inputs["images"]
    close = check.evaluate(evidence([request], {"ad": {"x_hat": 0.9 * x + 0.05, "z": np.zeros((50, 8))}}))
    assert close.fraction == 1.0 and check.measurements(close.details)["bce"] < 120
    mean = check.evaluate(evidence([request], {"ad": {"x_hat": np.broadcast_to(x.mean(0), x.shape), "z": np.zeros((50, 8))}}))
    assert mean.fraction == 0.0, mean.message

