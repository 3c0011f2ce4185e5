"""Closed-form KL divergences against torch.distributions and Monte Carlo estimates."""

import pytest
import torch
from torch import distributions as D

from vaegrade.reference import kl, sampling

G = torch.Generator().manual_seed(0)
B, DIM = 64, 5


@pytest.fixture(autouse=True)
def float64():
    """Compare in double precision; restore the default afterwards."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def params():
    mu = torch.randn(B, DIM, generator=G) * 1.5
    logvar = torch.rand(B, DIM, generator=G) * 5 - 3
    scale = torch.rand(B, DIM, generator=G) * 2 + 0.2
    return mu, logvar, scale


def test_normal_std_matches_torch_distributions():
    mu, logvar, _ = params()
    expected = D.kl_divergence(D.Normal(mu, (0.5 * logvar).exp()), D.Normal(0.0, 1.0)).sum(-1)
    assert kl.kl_normal_std(mu, logvar).shape == (B,)
    torch.testing.assert_close(kl.kl_normal_std(mu, logvar), expected)
    per_dimension = D.kl_divergence(D.Normal(mu, (0.5 * logvar).exp()), D.Normal(0.0, 1.0))
    torch.testing.assert_close(kl.kl_normal_std_per_dimension(mu, logvar), per_dimension)


def test_normal_general_matches_torch_distributions_and_reduces_to_std():
    mu, logvar, _ = params()
    prior_mu, prior_logvar = torch.randn(DIM, generator=G), torch.rand(DIM, generator=G) - 0.5
    expected = D.kl_divergence(D.Normal(mu, (0.5 * logvar).exp()), D.Normal(prior_mu, (0.5 * prior_logvar).exp())).sum(-1)
    torch.testing.assert_close(kl.kl_normal(mu, logvar, prior_mu, prior_logvar), expected)
    torch.testing.assert_close(kl.kl_normal(mu, logvar, torch.zeros(DIM), torch.zeros(DIM)), kl.kl_normal_std(mu, logvar))


def test_laplace_matches_torch_distributions():
    loc, _, scale = params()
    prior_loc, prior_scale = torch.randn(DIM, generator=G), torch.rand(DIM, generator=G) + 0.5
    expected = D.kl_divergence(D.Laplace(loc, scale), D.Laplace(prior_loc, prior_scale)).sum(-1)
    torch.testing.assert_close(kl.kl_laplace(loc, scale, prior_loc, prior_scale), expected)
    standard = D.kl_divergence(D.Laplace(loc, scale), D.Laplace(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(kl.kl_laplace_std(loc, scale), standard)


def test_exponential_matches_torch_distributions():
    _, _, rate = params()
    prior_rate = torch.rand(DIM, generator=G) + 0.3
    expected = D.kl_divergence(D.Exponential(rate), D.Exponential(prior_rate)).sum(-1)
    torch.testing.assert_close(kl.kl_exponential(rate, prior_rate), expected)
    torch.testing.assert_close(kl.kl_exponential_std(rate), D.kl_divergence(D.Exponential(rate), D.Exponential(1.0)).sum(-1))


def monte_carlo(sample, log_q, log_p, n=200_000):
    z = sample(n)
    terms = (log_q(z) - log_p(z)).sum(-1)
    return terms.mean(), terms.std() / n ** 0.5


@pytest.mark.parametrize("family", ["normal", "laplace", "exponential"])
def test_closed_forms_agree_with_monte_carlo_using_our_samplers(family):
    """E_q[log q(z) - log p(z)] with z from the reparameterized samplers, within 4 standard errors."""
    if family == "normal":
        mu, logvar = torch.tensor([0.7, -1.2, 0.1]), torch.tensor([-1.0, 0.5, 1.2])
        pm, plv = torch.tensor([0.3, 0.0, -0.5]), torch.tensor([0.2, -0.4, 0.0])
        closed = kl.kl_normal(mu, logvar, pm, plv)
        q, p = D.Normal(mu, (0.5 * logvar).exp()), D.Normal(pm, (0.5 * plv).exp())
        sample = lambda n: sampling.sample_normal(mu.expand(n, 3), logvar.expand(n, 3), G)  # noqa: E731
    elif family == "laplace":
        loc, scale = torch.tensor([0.7, -1.2, 0.1]), torch.tensor([0.4, 1.5, 0.9])
        pl, ps = torch.tensor([0.0, 0.5, -0.3]), torch.tensor([1.0, 0.7, 2.0])
        closed = kl.kl_laplace(loc, scale, pl, ps)
        q, p = D.Laplace(loc, scale), D.Laplace(pl, ps)
        sample = lambda n: sampling.sample_laplace(loc.expand(n, 3), scale.expand(n, 3), G)  # noqa: E731
    else:
        rate, prior_rate = torch.tensor([0.5, 2.0, 1.3]), torch.tensor([1.0, 0.8, 3.0])
        closed = kl.kl_exponential(rate, prior_rate)
        q, p = D.Exponential(rate), D.Exponential(prior_rate)
        sample = lambda n: sampling.sample_exponential(rate.expand(n, 3), G)  # noqa: E731
    estimate, stderr = monte_carlo(sample, q.log_prob, p.log_prob)
    assert abs(estimate - closed) < 4 * stderr + 1e-9, (estimate, closed, stderr)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    zeros = torch.zeros(3, 4)
    torch.testing.assert_close(kl.kl_normal_std(zeros, zeros), torch.zeros(3))
    torch.testing.assert_close(kl.kl_laplace_std(zeros, torch.ones(3, 4)), torch.zeros(3))
    torch.testing.assert_close(kl.kl_exponential_std(torch.ones(3, 4)), torch.zeros(3))
    mu, logvar, scale = params()
    assert (kl.kl_normal_std(mu, logvar) > 0).all() and (kl.kl_laplace_std(mu, scale) > 0).all()
