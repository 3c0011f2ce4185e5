"""The check types of the real assignments, each judged on small synthetic evidence (the
end-to-end path is in test_assignments.py): samplers of three latent families, a beta sweep,
auto-decoder reconstruction, interpolation and inpainting."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest

from grader.checks.base import Evidence, ProbeContext, ProbeOutput
from grader.checks.functions import ReparameterizationCheck


def _evidence(requests, outputs, mnist, parameters=None):
    return Evidence(requests={r.key: r for r in requests}, outputs={k: ProbeOutput(arrays=v) for k, v in outputs.items()},
                    notebook=nbformat.v4.new_notebook(), context=ProbeContext(seed=0, data=mnist, parameters=parameters or {}))


def _laplace_icdf(u, loc, scale, wrong_branch=False):
    left, right = loc + scale * np.log(2 * u), loc - scale * np.log(2 - 2 * u)
    return np.where(u <= 0.5, left, -right + 2 * loc if wrong_branch else right)


@pytest.mark.parametrize("wrong_branch", [False, True])
def test_a_laplace_sampler_is_judged_by_ks_and_pathwise_gradients(mnist, wrong_branch):
    check = ReparameterizationCheck(id="lap", title="t", points=1, function="sample_laplace", family="laplace",
                                    call=["loc", {"arg": "scale", "as": "log"}])
    (request,) = check.probes(ProbeContext(seed=0, data=mnist, parameters={}))
    loc, scale = request.inputs["loc"].astype(np.float64), request.inputs["scale"].astype(np.float64)
    assert request.inputs["arg1"] == pytest.approx(np.log(scale), abs=1e-6)
    u = np.random.default_rng(3).uniform(size=loc.shape)
    z = _laplace_icdf(u, loc, scale, wrong_branch)
    eps = (z - loc) / scale
    arrays = {"output": z, "output_2": _laplace_icdf(u[::-1], loc, scale, wrong_branch),
              "grad_arg0": np.ones_like(loc), "grad_arg1": eps * scale}  # d z / d log b = b * eps
    outcome = check.evaluate(_evidence([request], {"lap": arrays}, mnist))
    if wrong_branch:
        assert outcome.fraction == pytest.approx(0.5) and "one side of loc" in outcome.message
    else:
        assert outcome.fraction == 1.0, outcome.message


def test_an_exponential_sampler_with_a_wrong_rate_loses_the_distribution_share(mnist):
    check = ReparameterizationCheck(id="exp", title="t", points=1, function="sample_exponential", family="exponential")
    (request,) = check.probes(ProbeContext(seed=0, data=mnist, parameters={}))
    rate = request.inputs["rate"].astype(np.float64)
    e = np.random.default_rng(4).exponential(size=rate.shape)
    good = {"output": e / rate, "output_2": e[::-1] / rate, "grad_arg0": -e / rate**2}
    assert check.evaluate(_evidence([request], {"exp": good}, mnist)).fraction == 1.0
    times = {"output": e * rate, "output_2": e[::-1] * rate, "grad_arg0": e}  # rate used as the mean
    outcome = check.evaluate(_evidence([request], {"exp": times}, mnist))
    assert outcome.fraction == pytest.approx(0.2) and "Exponential(1)" in outcome.message


def _history(recon, kl):
    return {"recon": np.asarray(recon, float), "kl": np.asarray(kl, float)}


def test_a_beta_sweep_needs_the_trade_off_and_runs_that_learnt(mnist):
    from grader.checks.sweep import BetaSweepCheck

    check = BetaSweepCheck(id="sweep", title="t", points=1, runs={0.1: "h01", 1: "h1", 5: "h5"},
                           keys={"recon": "reconstruction_loss", "kl": "kl_loss"})
    requests = check.probes(ProbeContext(seed=0, data=mnist, parameters={}))
    assert [r.config["keys"] for r in requests][0] == {"recon": "reconstruction_loss", "kl": "kl_loss"}
    good = {"sweep.beta0.1": _history([200, 90], [5, 30]), "sweep.beta1": _history([210, 110], [5, 20]),
            "sweep.beta5": _history([230, 160], [4, 8])}
    assert check.evaluate(_evidence(requests, good, mnist)).fraction == 1.0
    ignored = {key: _history([200, 100 + i], [5, 20 - i * 0.1]) for i, key in enumerate(good)}  # beta ignored: noise
    outcome = check.evaluate(_evidence(requests, ignored, mnist))
    assert outcome.fraction == pytest.approx(0.5) and "KL falls only from 20 to 19.8" in outcome.message
    noisy = {**good, "sweep.beta1": _history([210, 88], [5, 20])}  # recon 90 -> 88 -> 160: within tolerance
    assert check.evaluate(_evidence(requests, noisy, mnist)).fraction == 1.0
    flat = {**good, "sweep.beta1": _history([210, 89.5], [5, 20]), "sweep.beta5": _history([230, 89], [4, 8])}
    outcome = check.evaluate(_evidence(requests, flat, mnist))
    assert outcome.fraction == pytest.approx(0.8) and "does not rise" in outcome.message
    untrained = {**good, "sweep.beta5": _history([230, 230], [4, 4])}
    outcome = check.evaluate(_evidence(requests, untrained, mnist))
    assert outcome.fraction == 0.0 and "did not fall" in outcome.message  # no credit for a run that did not train
    empty = {**good, "sweep.beta1": _history([], [])}
    assert check.evaluate(_evidence(requests, empty, mnist)).fraction == 0.0


def test_a_beta_sweep_rubric_entry_is_validated():
    from pydantic import ValidationError

    from grader.checks.sweep import BetaSweepCheck

    with pytest.raises(ValidationError, match="none may be negative"):
        BetaSweepCheck(id="s", title="t", points=1, runs={-1: "a", 1: "b"})
    with pytest.raises(ValidationError, match="at least 2"):
        BetaSweepCheck(id="s", title="t", points=1, runs={1: "b"})
    with pytest.raises(ValidationError, match="is not a path"):
        BetaSweepCheck(id="s", title="t", points=1, runs={0: "history..beta0", 1: "b"})


def test_auto_decoder_reconstruction_is_scored_by_the_band(mnist):
    from grader.checks.autodecoder import AutoDecoderCheck

    check = AutoDecoderCheck(id="ad", title="t", points=1, images=50, steps=10, width=8,
                             bce={"pass_at": 120, "fail_at": 200})  # the mean image: ~209
    (request,) = check.probes(ProbeContext(seed=0, data=mnist, parameters={}))
    assert request.kind == "fit_latents" and request.config["width"] == 8 and not request.config["positive"]
    x = request.inputs["images"]
    close = check.evaluate(_evidence([request], {"ad": {"x_hat": 0.9 * x + 0.05, "z": np.zeros((50, 8))}}, mnist))
    assert close.fraction == 1.0 and check.measurements(close.details)["bce"] < 120
    mean = check.evaluate(_evidence([request], {"ad": {"x_hat": np.broadcast_to(x.mean(0), x.shape), "z": np.zeros((50, 8))}}, mnist))
    assert mean.fraction == 0.0, mean.message


def _pairs_decoding(check, request, mnist, path_of):
    mu = np.random.default_rng(0).normal(size=(2 * check.pairs, 4))
    x = request.inputs["images"]
    paths = np.stack([path_of(mu[2 * i], mu[2 * i + 1]) for i in range(check.pairs)])
    half = check.steps // 2
    decoded = np.stack([np.concatenate([np.repeat(x[2 * i][None], half, 0), np.repeat(x[2 * i + 1][None], check.steps - half, 0)])
                        for i in range(check.pairs)])
    return {"mu": mu, "paths": paths, "decoded": decoded.reshape(-1, 1, 28, 28), "reconstructions": x}


def test_interpolation_must_be_the_declared_path_between_the_two_codes(mnist):
    from grader.checks.interpolation import InterpolationCheck, interpolation

    check = InterpolationCheck(id="interp", title="t", points=1, function="interpolate_points", steps=8, pairs=3)
    (request,) = check.probes(ProbeContext(seed=0, data=mnist, parameters={}))
    assert request.inputs["images"].shape == (6, 1, 28, 28) and request.config["numpy"]
    linear = _pairs_decoding(check, request, mnist, lambda a, b: interpolation(a, b, 8, "linear"))
    assert check.evaluate(_evidence([request], {"interp": linear}, mnist)).fraction == 1.0
    squared = _pairs_decoding(check, request, mnist,
                              lambda a, b: a + np.linspace(0, 1, 8)[:, None] ** 2 * (b - a))  # ends right, not linear
    outcome = check.evaluate(_evidence([request], {"interp": squared}, mnist))
    assert outcome.fraction == pytest.approx(0.5) and "not the linear interpolation" in outcome.message
    slerp = interpolation(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 3, "spherical")
    assert slerp[1] == pytest.approx([2 ** -0.5, 2 ** -0.5])


def test_inpainting_must_beat_the_masked_input(mnist):
    from grader.checks.inpainting import InpaintingCheck

    check = InpaintingCheck(id="inp", title="t", points=1, images=40, bce={"pass_at": 60, "fail_at": 120})
    (request,) = check.probes(ProbeContext(seed=0, data=mnist, parameters={}))
    x, mask = request.inputs["images"], request.inputs["mask"]
    assert (request.inputs["masked"][:, :, 14:] == 0).all() and mask[:, :, :14].all()
    good = check.evaluate(_evidence([request], {"inp": {"completed": 0.9 * x + 0.05}}, mnist))
    assert good.fraction == 1.0 and good.details["bce"] < good.details["masked_bce"]
    masked = check.evaluate(_evidence([request], {"inp": {"completed": request.inputs["masked"]}}, mnist))
    assert masked.fraction == 0.0 and "no better than leaving the hole empty" in masked.message
