"""My model for lab 5."""

import torch
from torch import nn


class SmallVAE(nn.Module):
    def __init__(self, latent_dim):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 2 * latent_dim))
        self.dec = nn.Sequential(nn.Linear(latent_dim, 128), nn.ReLU(), nn.Linear(128, 784), nn.Sigmoid())

    def encode(self, x):
        return self.enc(x).chunk(2, dim=-1)

    def decode(self, z):
        return self.dec(z)

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.decode(z), mu, logvar


def elbo_kl(mu, logvar):
    return 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=-1)
