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
    """Inverse-CDF sample: z = loc - scale * sign(u) * log(1 - 2|u|), u ~ U(-1/2, 1/2).

    Args:
        loc: (B, D) locations; scale: (B, D) scales b > 0.
    Returns:
        (B, D) samples of Laplace(loc, scale).
    Source: the inverse of the Laplace CDF F(z) = 1/2 + 1/2 sign(z - m)(1 - exp(-|z - m| / b)).
    """
    u = torch.rand(loc.shape, generator=generator, dtype=loc.dtype) - 0.5
    u = u.clamp(-0.5 + 1e-7, 0.5 - 1e-7)
    return loc - scale * torch.sign(u) * torch.log1p(-2.0 * u.abs())


def sample_exponential(rate: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Inverse-CDF sample: z = -log(1 - u) / rate, u ~ U(0, 1).

    Args:
        rate: (B, D) rates lambda > 0.
    Returns:
        (B, D) non-negative samples of Exponential(rate).
    Source: the inverse of the exponential CDF F(z) = 1 - exp(-lambda z).
    """
    u = torch.rand(rate.shape, generator=generator, dtype=rate.dtype)
    return -torch.log1p(-u) / rate
