"""The inpainting check: completions must beat the masked input on the hidden pixels."""

from __future__ import annotations

from tests.unit.evidence import context, evidence


def test_inpainting_must_beat_the_masked_input(mnist):
    from vaegrade.grader.checks.inpainting import InpaintingCheck

    check = InpaintingCheck(id="inp", title="t", points=1, images=40, bce={"pass_at": 60, "fail_at": 120})
    (request,) = check.probes(context())
    x, mask = request.inputs["images"], request.inputs["mask"]
    assert (request.inputs["masked"][:, :, 14:] == 0).all() and mask[:, :, :14].all()
    good = check.evaluate(evidence([request], {"inp": {"completed": 0.9 * x + 0.05}}))
    assert good.fraction == 1.0 and good.details["bce"] < good.details["masked_bce"]
    masked = check.evaluate(evidence([request], {"inp": {"completed": request.inputs["masked"]}}))
    assert masked.fraction == 0.0 and "no better than leaving the hole empty" in masked.message

