"""Write the variational auto-decoder assignment: handout, reference and alternative solutions,
flawed samples. Usage: ``python submissions/vad_distributions/build.py`` (byte-stable).

The course's assignment (PyTorch, a Fashion-MNIST subset): an auto-decoder (no encoder: one
latent code per training image, learnt with the decoder, and optimised again for test images),
then variational auto-decoders with Gaussian, Laplace and Exponential latents, their
inverse-CDF samplers and KL terms derived in Markdown. Graded by rubrics/vad_distributions.yaml.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from notebooks import change, stub, write  # noqa: E402

INTRO = """# Variational auto-decoders with three latent distributions

An **auto-decoder** has no encoder: every training image gets its own latent code, learnt
together with the decoder by gradient descent; a new image is encoded by optimising a code for
it with the decoder fixed. A **variational auto-decoder** (VAD) learns a posterior per image
instead (its parameters are the codes) and samples it with the reparameterization trick.
You will build both on a subset of Fashion-MNIST and compare Gaussian, Laplace and Exponential
latents.

**What the auto-grader calls** (keep these names and signatures; it calls them on inputs of
its own, and optimises codes for held-out test images through your decoders):
- `kl_gaussian(mu, logvar)`, `kl_laplace(loc, log_b)`, `kl_exponential(log_rate)`: KL of each
  example's posterior from the standard prior (N(0, I), Laplace(0, 1), Exponential(1)),
  summed over latent dimensions, shape `(B,)`, in nats.
- `sample_gaussian(mu, logvar)`, `sample_laplace(loc, log_b)`, `sample_exponential(log_rate)`:
  reparameterized samples, shape `(B, D)`, differentiable w.r.t. the parameters.
- `auto_decoder.decoder`, `vad_gaussian.decoder`: `(B, latent_dim)` codes to `(B, 1, 28, 28)`
  pixel probabilities.

Answer the questions in the Markdown cells marked **Answer**."""

SETUP = """epochs = 10
batch_size = 64
latent_dim = 16
seed = 0"""

IMPORTS = """import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import matplotlib.pyplot as plt

torch.manual_seed(seed)
np.random.seed(seed)

data = np.load("fashion_mnist.npz")
x_train = torch.tensor(data["x_train"][:2000], dtype=torch.float32).div(255).unsqueeze(1)
x_test = torch.tensor(data["x_test"][:500], dtype=torch.float32).div(255).unsqueeze(1)
print(x_train.shape, x_test.shape)"""

DECODER = """def make_decoder(latent_dim):
    \"\"\"(B, latent_dim) codes -> (B, 1, 28, 28) Bernoulli means.\"\"\"
    return nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid(),
                         nn.Unflatten(1, (1, 28, 28)))


class AutoDecoder(nn.Module):
    def __init__(self, n_images, latent_dim):
        super().__init__()
        self.latents = nn.Embedding(n_images, latent_dim)
        nn.init.normal_(self.latents.weight, 0.0, 0.01)
        self.decoder = make_decoder(latent_dim)

    def forward(self, index):
        return self.decoder(self.latents(index))"""

TRAIN_AD = """def train_auto_decoder(model, images, epochs, lr=5e-3):
    \"\"\"Learn the codes and the decoder together; returns the mean BCE (nats per image) per epoch.\"\"\"
    learnt = model.parameters()  # the codes and the decoder's weights
    optimiser = torch.optim.Adam(learnt, lr=lr)
    history = []
    for epoch in range(epochs):
        order, total = torch.randperm(len(images)), 0.0
        for start in range(0, len(images), batch_size):
            index = order[start:start + batch_size]
            loss = F.binary_cross_entropy(model(index), images[index], reduction="sum") / len(index)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(index)
        history.append(total / len(images))
        print(f"Epoch [{epoch + 1}/{epochs}] BCE {history[-1]:.2f}")
    return history


auto_decoder = AutoDecoder(len(x_train), latent_dim)
ad_history = train_auto_decoder(auto_decoder, x_train, epochs)"""

FIT = """def fit_codes(decoder, images, latent_dim, steps=200, lr=0.05):
    \"\"\"Encode images by optimising their codes with the decoder fixed; returns (codes, BCE per image).\"\"\"
    codes = (0.01 * torch.randn(len(images), latent_dim)).requires_grad_()
    optimiser = torch.optim.Adam([codes], lr=lr)
    for _ in range(steps):
        loss = F.binary_cross_entropy(decoder(codes), images, reduction="sum") / len(images)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return codes.detach(), loss.item()


test_codes, test_bce = fit_codes(auto_decoder.decoder, x_test, latent_dim)
print(f"Test BCE of the auto-decoder: {test_bce:.2f} nats per image")
with torch.no_grad():
    shown = torch.cat([x_test[:8], auto_decoder.decoder(test_codes[:8])])
    random = auto_decoder.decoder(torch.randn(8, latent_dim))
fig, axes = plt.subplots(3, 8, figsize=(8, 3))
for ax, image in zip(axes.flat, torch.cat([shown, random])):
    ax.imshow(image.squeeze(), cmap="gray")
    ax.axis("off")
plt.show()"""

Q_RANDOM = """### Comparing random and test codes
**Answer:** Codes fitted to test images decode to recognisable garments, while random codes
from N(0, I) decode to blurry mixtures. The auto-decoder has no prior: nothing made its
latent space continuous or regularized, so random codes land where no training code was fitted."""

GAUSSIAN = """def kl_gaussian(mu, logvar):
    \"\"\"KL(N(mu, diag(exp(logvar))) || N(0, I)) per example, summed over latent dims: (B, D) -> (B,).\"\"\"
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def sample_gaussian(mu, logvar):
    \"\"\"z = mu + exp(logvar / 2) * eps, eps ~ N(0, I).\"\"\"
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)"""

LAPLACE = """def sample_laplace(loc, log_b):
    \"\"\"Inverse-CDF sample of Laplace(loc, b), b = exp(log_b): u ~ U(0, 1),
    z = loc + b log(2u) for u <= 1/2, z = loc - b log(2 - 2u) above.\"\"\"
    u = torch.rand_like(loc).clamp(1e-6, 1 - 1e-6)
    b = log_b.exp()
    return torch.where(u <= 0.5, loc + b * torch.log(2 * u), loc - b * torch.log(2 - 2 * u))


def kl_laplace(loc, log_b):
    \"\"\"KL(Laplace(loc, b) || Laplace(0, 1)) per example: sum(-log b + |loc| + b exp(-|loc| / b) - 1).\"\"\"
    b = log_b.exp()
    return (-log_b + loc.abs() + b * torch.exp(-loc.abs() / b) - 1.0).sum(dim=1)"""

EXPONENTIAL = """def sample_exponential(log_rate):
    \"\"\"Inverse-CDF sample of Exponential(rate), rate = exp(log_rate): z = -log(1 - u) / rate.\"\"\"
    u = torch.rand_like(log_rate).clamp(max=1 - 1e-6)
    return -torch.log1p(-u) / log_rate.exp()


def kl_exponential(log_rate):
    \"\"\"KL(Exponential(rate) || Exponential(1)) per example: sum(log rate + 1 / rate - 1).\"\"\"
    return (log_rate + torch.exp(-log_rate) - 1.0).sum(dim=1)"""

VAD = """FAMILIES = {
    "gaussian": (sample_gaussian, kl_gaussian, 2),
    "laplace": (sample_laplace, kl_laplace, 2),
    "exponential": (sample_exponential, kl_exponential, 1),
}


class VAD(nn.Module):
    \"\"\"A variational auto-decoder: per-image posterior parameters, a shared decoder.\"\"\"

    def __init__(self, n_images, latent_dim, family):
        super().__init__()
        self.sample, self.kl, n_parameters = FAMILIES[family]
        self.parameters_ = nn.ModuleList(nn.Embedding(n_images, latent_dim) for _ in range(n_parameters))
        for table in self.parameters_:
            nn.init.normal_(table.weight, 0.0, 0.01)
        self.decoder = make_decoder(latent_dim)

    def forward(self, index):
        params = [table(index) for table in self.parameters_]
        return self.decoder(self.sample(*params)), self.kl(*params)


def train_vad(model, images, epochs, beta=1.0, lr=5e-3):
    \"\"\"Minimise BCE + beta * KL per image; returns the loss per epoch.\"\"\"
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        order, total = torch.randperm(len(images)), 0.0
        for start in range(0, len(images), batch_size):
            index = order[start:start + batch_size]
            x_hat, kl = model(index)
            loss = (F.binary_cross_entropy(x_hat, images[index], reduction="none").flatten(1).sum(1) + beta * kl).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(index)
        history.append(total / len(images))
        print(f"{model.sample.__name__}: epoch [{epoch + 1}/{epochs}] loss {history[-1]:.2f}")
    return history


vad_gaussian = VAD(len(x_train), latent_dim, "gaussian")
vad_laplace = VAD(len(x_train), latent_dim, "laplace")
vad_exponential = VAD(len(x_train), latent_dim, "exponential")
histories = {name: train_vad(model, x_train, epochs)
             for name, model in [("gaussian", vad_gaussian), ("laplace", vad_laplace), ("exponential", vad_exponential)]}"""

Q_LAPLACE = r"""### Modifying the reparameterization trick (Laplace)
**Answer:** With $u \sim U(0, 1)$, solving $u = F(z)$ for the Laplace CDF gives, for $u \le 1/2$,

$$z = \mu + b \log(2u)$$

and for $u > 1/2$,

$$z = \mu - b \log(2 - 2u)$$

### KL divergence (Laplace)
**Answer:** For the posterior $\text{Laplace}(\mu, b)$ and the prior $\text{Laplace}(0, 1)$:

$$D_{KL} = -\log b + |\mu| + b e^{-|\mu| / b} - 1$$"""

Q_EXPONENTIAL = r"""### Modifying the reparameterization trick (Exponential)
**Answer:** Solving $u = 1 - e^{-\lambda z}$ for $z$:

$$z = -\frac{\log(1 - u)}{\lambda}$$

### KL divergence (Exponential)
**Answer:** For the posterior $\text{Exponential}(\lambda)$ and the prior $\text{Exponential}(1)$,
using $E[z] = 1 / \lambda$:

$$D_{KL} = \log \lambda + \frac{1}{\lambda} - 1$$"""

COMPARE = """with torch.no_grad():
    for name, model in [("gaussian", vad_gaussian), ("laplace", vad_laplace), ("exponential", vad_exponential)]:
        print(f"{name}: final training loss {histories[name][-1]:.2f}")"""

Q_COMPARE = """### Comparing the three latent distributions
**Answer:** The Laplace posterior has heavier tails than the Gaussian, so rare features can sit
far from the mean at a small KL cost; the Exponential latent is positive and sparse, most
dimensions staying near zero. Their final losses above are close, the Gaussian slightly lowest."""


def cells(intro=INTRO, gaussian=GAUSSIAN, laplace=LAPLACE, exponential=EXPONENTIAL, train_ad=TRAIN_AD,
          fit=FIT, answers=True, decoder=DECODER):
    """The notebook's cells: the solution's by default; the handout passes TODO stubs."""
    def answer(text):
        return text if answers else text.split("**Answer:**")[0] + "**Answer:**"
    return [
        ("md", intro), ("code", SETUP), ("code", IMPORTS),
        ("md", "## Part 1: an auto-decoder"), ("code", decoder), ("code", train_ad), ("code", fit),
        ("md", answer(Q_RANDOM)),
        ("md", "## Part 2: variational auto-decoders\n### The Gaussian family"), ("code", gaussian),
        ("md", "### The Laplace family"), ("code", laplace), ("md", answer(Q_LAPLACE)),
        ("md", "### The Exponential family"), ("code", exponential), ("md", answer(Q_EXPONENTIAL)),
        ("md", "### Training the three VADs"), ("code", VAD), ("code", COMPARE), ("md", answer(Q_COMPARE)),
    ]


ALTERNATIVE = {
    # torch.distributions' reparameterized samplers (rsample) and closed-form KLs, a conv decoder
    "gaussian": """from torch.distributions import Exponential, Laplace, Normal, kl_divergence


def kl_gaussian(mu, logvar):
    posterior = Normal(mu, torch.exp(0.5 * logvar))
    return kl_divergence(posterior, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(-1)


def sample_gaussian(mu, logvar):
    return Normal(mu, torch.exp(0.5 * logvar)).rsample()""",
    "laplace": """def sample_laplace(loc, log_b):
    return Laplace(loc, log_b.exp()).rsample()


def kl_laplace(loc, log_b):
    prior = Laplace(torch.zeros_like(loc), torch.ones_like(loc))
    return kl_divergence(Laplace(loc, log_b.exp()), prior).sum(-1)""",
    "exponential": """def sample_exponential(log_rate):
    return Exponential(log_rate.exp()).rsample()


def kl_exponential(log_rate):
    return kl_divergence(Exponential(log_rate.exp()), Exponential(torch.ones_like(log_rate))).sum(-1)""",
    "decoder": """class Decoder(nn.Module):
    \"\"\"A transposed-convolution decoder: (B, latent_dim) -> (B, 1, 28, 28).\"\"\"

    def __init__(self, latent_dim):
        super().__init__()
        self.fc = nn.Linear(latent_dim, 32 * 7 * 7)
        self.deconv = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(),
                                    nn.ConvTranspose2d(16, 1, 4, 2, 1), nn.Sigmoid())

    def forward(self, z):
        return self.deconv(self.fc(z).view(-1, 32, 7, 7))


make_decoder = Decoder


class AutoDecoder(nn.Module):
    def __init__(self, n_images, latent_dim):
        super().__init__()
        self.latents = nn.Parameter(0.01 * torch.randn(n_images, latent_dim))
        self.decoder = Decoder(latent_dim)

    def forward(self, index):
        return self.decoder(self.latents[index])""",
}


def main() -> None:
    solution = cells()
    handout = cells(gaussian=stub(GAUSSIAN), laplace=stub(LAPLACE), exponential=stub(EXPONENTIAL),
                    train_ad=stub(TRAIN_AD), fit=stub(FIT), answers=False)
    write(HERE / "handout.ipynb", handout)
    samples = HERE / "samples"
    write(samples / "reference_solution.ipynb", solution)
    write(samples / "alternative_torch_distributions.ipynb",
          cells(gaussian=ALTERNATIVE["gaussian"], laplace=ALTERNATIVE["laplace"], exponential=ALTERNATIVE["exponential"],
                decoder=ALTERNATIVE["decoder"]))
    # the u > 1/2 branch with the sign of the u <= 1/2 one: every sample falls below loc
    write(samples / "flawed_laplace_wrong_branch.ipynb",
          change(solution, "loc - b * torch.log(2 - 2 * u))", "loc + b * torch.log(2 - 2 * u))"))
    # KL(prior || posterior): -log rate + rate - 1, in the code and in the derivation
    swapped = change(solution, "return (log_rate + torch.exp(-log_rate) - 1.0).sum(dim=1)",
                     "return (-log_rate + log_rate.exp() - 1.0).sum(dim=1)")
    write(samples / "flawed_exponential_kl_swapped.ipynb",
          change(swapped, r"$$D_{KL} = \log \lambda + \frac{1}{\lambda} - 1$$", r"$$D_{KL} = -\log \lambda + \lambda - 1$$"))
    # the rate used as the mean: z = -log(1 - u) * rate
    write(samples / "flawed_exponential_rate_as_mean.ipynb",
          change(solution, "return -torch.log1p(-u) / log_rate.exp()", "return -torch.log1p(-u) * log_rate.exp()"))
    # only the codes are optimised: the decoder keeps its random weights
    write(samples / "flawed_decoder_not_trained.ipynb",
          change(solution, "learnt = model.parameters()  # the codes and the decoder's weights",
                 "learnt = model.latents.parameters()  # the codes"))


if __name__ == "__main__":
    main()
