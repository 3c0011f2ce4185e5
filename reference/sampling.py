"""Reparameterized samplers, differentiable in their parameters.

Each returns a sample with the parameters' shape; the randomness comes from a parameter-free
noise tensor (optionally from ``generator``), so gradients flow to the parameters.
"""

from __future__ import annotations

import torch
from torch import Tensor


def sample_normal(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """z = mu + exp(0.5 * logvar) * eps, eps ~ N(0, I).

    Args:
        mu, logvar: (B, D) means and log-variances.
    Returns:
        (B, D) samples of N(mu, diag(exp(logvar))); dz/dmu = 1, dz/dlogvar = 0.5 * (z - mu).
    Source: Kingma & Welling (2014), Section 2.4.
    """
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def sample_laplace(loc: Tensor, scale: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Inverse-CDF sample: z = laplace_icdf(u, loc, scale), u ~ U(0, 1).

    Args:
        loc: (B, D) locations; scale: (B, D) scales b > 0.
    Returns:
        (B, D) samples of Laplace(loc, scale).
    Source: the inverse of the Laplace CDF F(z) = 1/2 + 1/2 sign(z - m)(1 - exp(-|z - m| / b)).
    """
    u = torch.rand(loc.shape, generator=generator, dtype=loc.dtype).clamp(1e-7, 1.0 - 1e-7)
    return laplace_icdf(u, loc, scale)


def laplace_icdf(u: Tensor, loc: Tensor, scale: Tensor) -> Tensor:
    """Inverse CDF of Laplace(loc, scale): loc + scale * log(2u) for u <= 1/2, loc - scale * log(2 - 2u) above.

    Args:
        u: probabilities in (0, 1); loc, scale (b > 0): broadcastable to u's shape.
    Returns:
        Quantiles with the broadcast shape.
    Source: solve u = F(z) for z, F(z) = 1/2 + 1/2 sign(z - m)(1 - exp(-|z - m| / b)).
    """
    centred = u - 0.5
    return loc - scale * torch.sign(centred) * torch.log1p(-2.0 * centred.abs())


def sample_exponential(rate: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Inverse-CDF sample: z = -log(1 - u) / rate, u ~ U(0, 1).

    Args:
        rate: (B, D) rates lambda > 0.
    Returns:
        (B, D) non-negative samples of Exponential(rate).
    Source: the inverse of the exponential CDF F(z) = 1 - exp(-lambda z).
    """
    u = torch.rand(rate.shape, generator=generator, dtype=rate.dtype)
    return exponential_icdf(u, rate)


def exponential_icdf(u: Tensor, rate: Tensor) -> Tensor:
    """Inverse CDF of Exponential(rate): -log(1 - u) / rate, for u in [0, 1) and rate lambda > 0.

    Source: solve u = F(z) = 1 - exp(-lambda z) for z.
    """
    return -torch.log1p(-u) / rate
