"""Reference models: an MLP VAE and an MLP autoencoder for a data set's images, and their training loop.

Both follow the interface the handouts ask of students: ``encode(x)`` and ``decode(z)``, with
images (B, 1, H, W) in [0, 1] (the data set's ``channel_shape``) and decoder outputs that are Bernoulli probabilities.
On this 2-core CPU, one epoch over the 60,000 training images takes a few seconds
(``python benchmarks/bench_reference.py`` prints the figure).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from vaegrade.reference.data import DATASETS, Dataset
from vaegrade.reference.kl import kl_normal_std
from vaegrade.reference.losses import bernoulli_reconstruction
from vaegrade.reference.sampling import sample_normal


class MlpDecoder(nn.Module):
    """(B, D) latent codes -> (B, 1, H, W) probabilities, through one hidden layer."""

    def __init__(self, latent_dim: int, hidden: int, dataset: Dataset) -> None:
        super().__init__()
        self.shape = dataset.channel_shape
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, dataset.pixels), nn.Sigmoid())

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.shape)


class MlpVAE(nn.Module):
    """Gaussian-posterior VAE: pixels -> hidden -> (mu, logvar) in R^D; D -> hidden -> pixels."""

    def __init__(self, latent_dim: int = 16, hidden: int = 400, dataset: Dataset = DATASETS["mnist"]) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(dataset.pixels, hidden), nn.ReLU())
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_logvar = nn.Linear(hidden, latent_dim)
        self.decoder = MlpDecoder(latent_dim, hidden, dataset)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 1, H, W) -> mu (B, D), logvar (B, D)."""
        h = self.body(x)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: Tensor) -> Tensor:
        """(B, D) -> (B, 1, H, W) Bernoulli means."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode(x)
        return self.decode(sample_normal(mu, logvar)), mu, logvar


class MlpAE(nn.Module):
    """Deterministic autoencoder with the same shape as :class:`MlpVAE` (no KL term)."""

    def __init__(self, latent_dim: int = 16, hidden: int = 400, dataset: Dataset = DATASETS["mnist"]) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(dataset.pixels, hidden), nn.ReLU(), nn.Linear(hidden, latent_dim))
        self.decoder = MlpDecoder(latent_dim, hidden, dataset)

    def encode(self, x: Tensor) -> Tensor:
        """(B, 1, H, W) -> (B, D) codes."""
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


@dataclass
class History:
    """Per-epoch training-set means, per example, in nats: ``loss = recon + beta * kl``."""

    loss: list[float] = field(default_factory=list)
    recon: list[float] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)


def fit(model: nn.Module, x: Tensor, epochs: int, batch_size: int = 128, beta: float = 1.0,
        lr: float = 1e-3, seed: int = 0) -> History:
    """Train ``model`` (an :class:`MlpVAE` or :class:`MlpAE`) with Adam on images ``x`` (N, 1, H, W).

    A VAE minimises the negative ELBO of :func:`vaegrade.reference.losses.negative_elbo`; an AE minimises
    the summed BCE alone (its ``kl`` history is 0).
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = History()
    for _ in range(epochs):
        model.train()
        sums = torch.zeros(2)
        for batch in torch.randperm(len(x), generator=generator).split(batch_size):
            xb = x[batch]
            if isinstance(model, MlpVAE):
                mu, logvar = model.encode(xb)
                recon = bernoulli_reconstruction(xb, model.decode(sample_normal(mu, logvar, generator)))
                kl = kl_normal_std(mu, logvar)
            else:
                recon, kl = bernoulli_reconstruction(xb, model(xb)), torch.zeros(len(xb))
            loss = (recon + beta * kl).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            sums += torch.stack([recon.sum(), kl.sum()]).detach()
        recon_mean, kl_mean = (sums / len(x)).tolist()
        history.recon.append(recon_mean)
        history.kl.append(kl_mean)
        history.loss.append(recon_mean + beta * kl_mean)
    return history
