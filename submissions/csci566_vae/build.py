"""Write CSCI 566 Assignment 2, Problem 1 (AE and VAE on MNIST, PyTorch): handout, reference and
alternative solutions, flawed samples. Usage: ``python submissions/csci566_vae/build.py`` (byte-stable).

The course's conventions: flat (B, 784) images, the provided
``kl_divergence(mu1, log_sigma1, mu2, log_sigma2)``, a ``VAE`` whose ``forward`` returns a dict
``{"rec", "mu", "log_sigma"}`` and whose ``loss(x, outputs)`` returns ``(total, parts)``,
beta = 0, beta = 10 and a tuned beta, AE vs VAE interpolation, inline questions with word
limits. Graded by rubrics/csci566_vae.yaml.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from notebooks import change, stub, write  # noqa: E402

INTRO = """# CSCI 566 Assignment 2, Problem 1: Auto-encoders and Variational Auto-encoders

We first train an auto-encoder (AE) on MNIST and sample from it, then turn it into a
variational auto-encoder (VAE), study the role of beta, and compare AE and VAE embeddings by
interpolation. Fill in the `TODO`s and answer the inline questions (mind the word limits).

The auto-grader calls `VAE.reparameterize`, `VAE.loss`, `interpolate_latents` and your trained
models (`vae`, `vae_beta0`, `vae_beta10`) on inputs of its own, and reads the training
histories `history_beta0` and `history_beta10`: keep these names."""

SETUP = """import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import matplotlib.pyplot as plt

seed = 0
torch.manual_seed(seed)
epochs = 10
batch_size = 64
nz = 16

data = np.load("mnist.npz")
x_train = torch.tensor(data["x_train"], dtype=torch.float32).view(-1, 784) / 255.0
x_test = torch.tensor(data["x_test"], dtype=torch.float32).view(-1, 784) / 255.0
y_test = data["y_test"]
print(x_train.shape, x_test.shape)


def show(images, rows=1, title=None):
    fig, axes = plt.subplots(rows, len(images) // rows, figsize=(len(images) // rows, rows))
    for ax, image in zip(np.ravel(axes), images):
        ax.imshow(image.detach().view(28, 28), cmap="gray")
        ax.axis("off")
    if title:
        fig.suptitle(title)
    plt.show()"""

AE = """class AutoEncoder(nn.Module):
    def __init__(self, nz=16):
        super().__init__()
        self.nz = nz
        self.encoder = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, nz))
        self.decoder = nn.Sequential(nn.Linear(nz, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())

    def forward(self, x):
        return {"rec": self.decoder(self.encoder(x))}

    def loss(self, x, outputs):
        rec_loss = F.binary_cross_entropy(outputs["rec"], x, reduction="sum") / x.shape[0]
        return rec_loss, {"rec_loss": rec_loss}


def train(model, epochs, lr=1e-3):
    \"\"\"Train on x_train; returns the history: per epoch, the mean of each loss part.\"\"\"
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    history = {}
    for epoch in range(epochs):
        sums, order = {}, torch.randperm(len(x_train))
        for start in range(0, len(x_train), batch_size):
            x = x_train[order[start:start + batch_size]]
            total, parts = model.loss(x, model(x))
            optimiser.zero_grad()
            total.backward()
            optimiser.step()
            for name, value in parts.items():
                sums[name] = sums.get(name, 0.0) + value.item() * len(x)
        for name, value in sums.items():
            history.setdefault(name, []).append(value / len(x_train))
        print(f"epoch {epoch + 1}/{epochs}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in history.items()))
    return history


ae = AutoEncoder(nz)
history_ae = train(ae, epochs)
with torch.no_grad():
    show(torch.cat([x_test[:10], ae(x_test[:10])["rec"]]), rows=2, title="Verifying reconstructions")
    show(ae.decoder(torch.randn(10, nz)), title="AE samples from N(0, I)")"""

Q_AE = """#### Inline Question: AE sampling. Why do the samples decoded from the prior not look like digits? [2pt]

Answer: The AE was never trained to make N(0, I) codes meaningful: sampled codes are not
representative of the embeddings the decoder saw in training, and the AE's latent space is not
continuous, so codes in the gaps between embeddings decode to blurry shapes."""

KL = """def kl_divergence(mu1, log_sigma1, mu2, log_sigma2):
    \"\"\"KL(N(mu1, exp(log_sigma1)^2) || N(mu2, exp(log_sigma2)^2)), summed over the last dimension (provided).\"\"\"
    return (log_sigma2 - log_sigma1 + (torch.exp(2 * log_sigma1) + (mu1 - mu2) ** 2)
            / (2 * torch.exp(2 * log_sigma2)) - 0.5).sum(dim=-1)"""

VAE = """class VAE(nn.Module):
    def __init__(self, nz=16, beta=1.0):
        super().__init__()
        self.nz, self.beta = nz, beta
        self.encoder = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 2 * nz))
        self.decoder = nn.Sequential(nn.Linear(nz, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())

    def reparameterize(self, mu, log_sigma):
        \"\"\"A sample of N(mu, exp(log_sigma)^2), differentiable in mu and log_sigma.\"\"\"
        return mu + torch.exp(log_sigma) * torch.randn_like(mu)

    def forward(self, x):
        q = self.encoder(x)
        mu, log_sigma = q[:, :self.nz], q[:, self.nz:]
        return {"rec": self.decoder(self.reparameterize(mu, log_sigma)), "mu": mu, "log_sigma": log_sigma}

    def loss(self, x, outputs):
        \"\"\"(BCE summed over pixels + beta * KL to N(0, I)), averaged over the batch, and its two parts.\"\"\"
        rec_loss = F.binary_cross_entropy(outputs["rec"], x, reduction="sum") / x.shape[0]
        zeros = torch.zeros_like(outputs["mu"])
        kl_loss = kl_divergence(outputs["mu"], outputs["log_sigma"], zeros, zeros).mean()
        return rec_loss + self.beta * kl_loss, {"rec_loss": rec_loss, "kl_loss": kl_loss}"""

BETA0 = """vae_beta0 = VAE(nz, beta=0.0)
history_beta0 = train(vae_beta0, epochs)
with torch.no_grad():
    show(torch.cat([x_test[:10], vae_beta0(x_test[:10])["rec"]]), rows=2, title="beta = 0: reconstructions")
    show(vae_beta0.decoder(torch.randn(10, nz)), title="beta = 0: samples")"""

Q_BETA0 = r"""#### Inline Question: What can you observe when setting $\beta = 0$? Explain your observations! [3pt]

(please limit your answer to <150 words)

Answer: With $\beta = 0$ the reconstructions are very similar to the inputs, but the samples do
not look like digits. The KL term is ignored, so the model reduces to a plain auto-encoder:
nothing pulls the posteriors towards the prior, and codes drawn from N(0, I) fall where the
decoder has seen nothing."""

BETA10 = """vae_beta10 = VAE(nz, beta=10.0)
history_beta10 = train(vae_beta10, epochs)
with torch.no_grad():
    show(torch.cat([x_test[:10], vae_beta10(x_test[:10])["rec"]]), rows=2, title="beta = 10: reconstructions")
    show(vae_beta10.decoder(torch.randn(10, nz)), title="beta = 10: samples")"""

Q_BETA10 = r"""#### Inline Question: What can you observe when setting $\beta = 10$? Explain your observations! [3pt]

(please limit your answer to <200 words)

Answer: With $\beta = 10$ the reconstructions and samples are blurry. The KL term dominates the
reconstruction term, a trade-off tipped towards the prior: the posteriors stay close to the
prior, so the latent code carries little information about the input."""

Q_GOOD = """#### Inline Question: Characterize what properties you would expect for reconstructions (1pt) and samples (2pt) of a well-tuned VAE! [3pt]

(please limit your answer to <200 words)

Answer: Reconstructions close to the inputs, sharp enough to read the digit. Samples that
resemble handwritten digits, and diverse: every digit appears, in varied styles."""

TUNED = """beta_tuned = 1.0
vae = VAE(nz, beta=beta_tuned)
history_tuned = train(vae, epochs)
with torch.no_grad():
    show(torch.cat([x_test[:10], vae(x_test[:10])["rec"]]), rows=2, title=f"beta = {beta_tuned}: reconstructions")
    show(vae.decoder(torch.randn(20, nz)), rows=2, title=f"beta = {beta_tuned}: samples")"""

INTERPOLATE = """def interpolate_latents(z_start, z_end, n_steps):
    \"\"\"n_steps codes on the line from z_start to z_end (both (nz,)), endpoints included: (n_steps, nz).\"\"\"
    alphas = torch.linspace(0, 1, n_steps).unsqueeze(1)
    return (1 - alphas) * z_start + alphas * z_end


def compare_interpolations(start_label, end_label, n_steps=8):
    start = x_test[np.flatnonzero(y_test == start_label)[0]]
    end = x_test[np.flatnonzero(y_test == end_label)[0]]
    with torch.no_grad():
        ae_path = ae.decoder(interpolate_latents(ae.encoder(start), ae.encoder(end), n_steps))
        mu = vae(torch.stack([start, end]))["mu"]
        vae_path = vae.decoder(interpolate_latents(mu[0], mu[1], n_steps))
    show(torch.cat([ae_path, vae_path]), rows=2, title=f"AE (top) and VAE (bottom): {start_label} -> {end_label}")


for start_label, end_label in [(0, 8), (3, 8), (6, 9)]:
    compare_interpolations(start_label, end_label)"""

Q_INTERP = """#### Inline Question: Repeat the interpolation experiment with different start / end labels and multiple samples. Describe your observations! [2pt]

Focus on: 1. How do AE and VAE embedding space interpolations differ? 2. How do you expect
these differences to affect the usefulness of the learned representation for downstream
learning? (please limit your answer to <300 words)

Answer: The VAE interpolations are smoother: every intermediate image looks like a digit,
morphing continuously from start to end. The AE path passes through blurry images that are not
realistic digits, because of gaps in its latent space. For downstream learning, the VAE's space
places similar inputs close together, so distances and directions are meaningful."""


def cells(answers=True, beta0=Q_BETA0):
    """The solution's cells; without ``answers``, the inline answers left empty (the handout's)."""
    def answer(text):
        return text if answers else text.split("Answer:")[0] + "Answer:"
    return [
        ("md", INTRO), ("code", SETUP), ("md", "## 1. Auto-encoder"), ("code", AE), ("md", answer(Q_AE)),
        ("md", "## 2. Variational auto-encoder\nThe KL divergence between two diagonal Gaussians is provided."),
        ("code", KL), ("code", VAE), ("code", BETA0), ("md", answer(beta0)),
        ("md", "Let's repeat the same experiment for $\\beta = 10$, a very high value for the coefficient."),
        ("code", BETA10), ("md", answer(Q_BETA10)),
        ("md", 'Now we can start tuning the beta value to achieve a good result. First describe what a "good result" would look like.'),
        ("md", answer(Q_GOOD)), ("code", TUNED),
        ("md", "## 3. Embedding interpolation"), ("code", INTERPOLATE), ("md", answer(Q_INTERP)),
    ]


HANDOUT_VAE = VAE.replace('''        return mu + torch.exp(log_sigma) * torch.randn_like(mu)''', '''        # TODO: your code here
        raise NotImplementedError''').replace('''        rec_loss = F.binary_cross_entropy(outputs["rec"], x, reduction="sum") / x.shape[0]
        zeros = torch.zeros_like(outputs["mu"])
        kl_loss = kl_divergence(outputs["mu"], outputs["log_sigma"], zeros, zeros).mean()
        return rec_loss + self.beta * kl_loss, {"rec_loss": rec_loss, "kl_loss": kl_loss}''', '''        # TODO: your code here (use the provided kl_divergence)
        raise NotImplementedError''')

ALTERNATIVE_VAE = '''class VAE(nn.Module):
    """The same contract, written another way: one encoder head per output, log-sigma clamped,
    the KL in closed form inline, BCE from logits."""

    def __init__(self, nz=16, beta=1.0):
        super().__init__()
        self.nz, self.beta = nz, beta
        self.body = nn.Sequential(nn.Linear(784, 400), nn.ReLU())
        self.mu_head, self.log_sigma_head = nn.Linear(400, nz), nn.Linear(400, nz)
        self.logits = nn.Sequential(nn.Linear(nz, 400), nn.ReLU(), nn.Linear(400, 784))

    def decoder(self, z):
        return torch.sigmoid(self.logits(z))

    def reparameterize(self, mu, log_sigma):
        eps = torch.randn(mu.shape)
        return mu + eps * log_sigma.exp()

    def forward(self, x):
        h = self.body(x)
        mu, log_sigma = self.mu_head(h), self.log_sigma_head(h).clamp(-10, 5)
        z = self.reparameterize(mu, log_sigma)
        return {"rec": self.decoder(z), "mu": mu, "log_sigma": log_sigma}

    def loss(self, x, outputs):
        p = outputs["rec"].clamp(1e-7, 1 - 1e-7)
        rec_loss = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(dim=1).mean()
        mu, log_sigma = outputs["mu"], outputs["log_sigma"]
        kl_loss = (0.5 * (mu ** 2 + torch.exp(2 * log_sigma)) - log_sigma - 0.5).sum(dim=1).mean()
        return rec_loss + self.beta * kl_loss, dict(rec_loss=rec_loss, kl_loss=kl_loss)'''

ALTERNATIVE_INTERPOLATE = INTERPOLATE.replace('''    alphas = torch.linspace(0, 1, n_steps).unsqueeze(1)
    return (1 - alphas) * z_start + alphas * z_end''', '''    return torch.stack([z_start + (z_end - z_start) * step / (n_steps - 1) for step in range(n_steps)])''')


def main() -> None:
    solution = cells()
    handout = [(kind, HANDOUT_VAE if source == VAE else stub(source) if source == INTERPOLATE else source)
               for kind, source in cells(answers=False)]
    write(HERE / "handout.ipynb", handout)
    samples = HERE / "samples"
    write(samples / "reference_solution.ipynb", solution)
    write(samples / "alternative_heads_and_logits.ipynb",
          [(kind, ALTERNATIVE_VAE if source == VAE else ALTERNATIVE_INTERPOLATE if source == INTERPOLATE else source)
           for kind, source in solution])
    # log sigma used as sigma in the reparameterization
    write(samples / "flawed_log_sigma_as_sigma.ipynb",
          change(solution, "return mu + torch.exp(log_sigma) * torch.randn_like(mu)", "return mu + log_sigma * torch.randn_like(mu)"))
    # the student's own KL, averaged over latent dimensions (and the batch) instead of summed
    write(samples / "flawed_kl_mean_over_dims.ipynb",
          change(solution, 'kl_loss = kl_divergence(outputs["mu"], outputs["log_sigma"], zeros, zeros).mean()',
                 'kl_loss = (0.5 * (outputs["mu"] ** 2 + torch.exp(2 * outputs["log_sigma"])) - outputs["log_sigma"] - 0.5).mean()'))
    # beta hard-coded in the loss: every run of the sweep trains the same objective
    write(samples / "flawed_beta_ignored.ipynb",
          change(solution, "return rec_loss + self.beta * kl_loss, {", "return rec_loss + kl_loss, {"))
    # an off-by-one path: it starts one step after z_start
    write(samples / "flawed_interpolation_misses_start.ipynb",
          change(solution, "alphas = torch.linspace(0, 1, n_steps).unsqueeze(1)",
                 "alphas = torch.linspace(0, 1, n_steps + 1)[1:].unsqueeze(1)"))
    # the beta = 0 answer runs past its 150-word limit and misses the AE reduction
    long_answer = Q_BETA0.split("Answer:")[0] + "Answer: " + " ".join(
        ["With beta equal to zero the pictures at the top look nearly the same as the inputs, while the ones below"
         " look like noise and smudges."] * 7)
    write(samples / "flawed_answer_over_limit.ipynb", cells(beta0=long_answer))


if __name__ == "__main__":
    main()
