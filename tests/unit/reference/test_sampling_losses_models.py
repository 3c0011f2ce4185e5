"""Reparameterized samplers, losses and the reference models."""

import numpy as np
import scipy.stats
import torch
from torch.nn import functional as F

from vaegrade.reference import losses, sampling
from vaegrade.reference.data import images_to_tensor
from vaegrade.reference.kl import kl_normal_std
from vaegrade.reference.models import MlpAE, MlpVAE, fit

G = torch.Generator().manual_seed(1)
N = 50_000


def test_normal_sampler_distribution_and_pathwise_gradients():
    mu = torch.full((N,), 0.8, requires_grad=True)
    logvar = torch.full((N,), -0.6, requires_grad=True)
    z = sampling.sample_normal(mu, logvar, G)
    assert scipy.stats.kstest(z.detach().numpy(), "norm", args=(0.8, np.exp(-0.3))).pvalue > 1e-3
    z.sum().backward()
    torch.testing.assert_close(mu.grad, torch.ones(N))
    torch.testing.assert_close(logvar.grad, 0.5 * (z.detach() - 0.8))


def test_laplace_sampler_distribution_and_gradients():
    loc = torch.full((N,), -0.5, requires_grad=True)
    scale = torch.full((N,), 1.7, requires_grad=True)
    z = sampling.sample_laplace(loc, scale, G)
    assert scipy.stats.kstest(z.detach().numpy(), "laplace", args=(-0.5, 1.7)).pvalue > 1e-3
    z.sum().backward()
    torch.testing.assert_close(loc.grad, torch.ones(N))
    torch.testing.assert_close(scale.grad, (z.detach() + 0.5) / 1.7)  # dz/db = (z - m) / b


def test_exponential_sampler_distribution_and_gradients():
    rate = torch.full((N,), 2.5, requires_grad=True)
    z = sampling.sample_exponential(rate, G)
    assert (z >= 0).all()
    assert scipy.stats.kstest(z.detach().numpy(), "expon", args=(0, 1 / 2.5)).pvalue > 1e-3
    z.sum().backward()
    torch.testing.assert_close(rate.grad, -z.detach() / 2.5)  # dz/dlambda = -z / lambda


def test_negative_elbo_convention_sum_over_pixels_and_dims_mean_over_batch():
    x = torch.rand(6, 1, 28, 28, generator=G)
    x_hat = torch.rand(6, 1, 28, 28, generator=G).clamp(0.01, 0.99)
    mu, logvar = torch.randn(6, 3, generator=G), torch.randn(6, 3, generator=G)
    per_example_bce = F.binary_cross_entropy(x_hat, x, reduction="sum") / 6
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum() / 6
    torch.testing.assert_close(losses.negative_elbo(x, x_hat, mu, logvar, beta=3.0), per_example_bce + 3.0 * kl)
    assert losses.bernoulli_reconstruction(x, x_hat).shape == (6,)
    torch.testing.assert_close(losses.gaussian_reconstruction(x, x_hat), ((x - x_hat) ** 2).flatten(1).sum(1))
    torch.testing.assert_close(losses.gaussian_reconstruction(x, x_hat, pixels="mean").mean(), F.mse_loss(x_hat, x))
    per_example_mse = F.mse_loss(x_hat, x, reduction="sum") / 6
    torch.testing.assert_close(losses.negative_elbo(x, x_hat, mu, logvar, reconstruction="gaussian"), per_example_mse + kl)


def test_reference_vae_and_ae_learn_on_real_mnist(mnist):
    torch.manual_seed(0)
    x = images_to_tensor(mnist.x_train[:3000])
    vae, ae = MlpVAE(latent_dim=8, hidden=200), MlpAE(latent_dim=8, hidden=200)
    history = fit(vae, x, epochs=3, seed=0)
    assert history.loss[-1] < history.loss[0] - 30
    assert np.allclose(history.loss, np.add(history.recon, history.kl))
    assert fit(ae, x, epochs=2, seed=0).kl == [0.0, 0.0]
    mu, logvar = vae.encode(x[:5])
    assert mu.shape == logvar.shape == (5, 8) and vae.decode(mu).shape == (5, 1, 28, 28)
    assert kl_normal_std(mu, logvar).mean() > 1.0  # the posterior did not collapse


def test_inverse_cdfs_match_torch_distributions():
    u = torch.linspace(0.01, 0.99, 41, dtype=torch.float64)
    loc, scale, rate = (torch.tensor(value, dtype=torch.float64) for value in (0.7, 1.8, 2.5))
    torch.testing.assert_close(sampling.laplace_icdf(u, loc, scale), torch.distributions.Laplace(loc, scale).icdf(u))
    expected = torch.from_numpy(scipy.stats.expon.ppf(u.numpy(), scale=1 / rate.item()))
    torch.testing.assert_close(sampling.exponential_icdf(u, rate), expected)
