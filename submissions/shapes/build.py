"""Write the shapes corpus: VAE notebooks in the shapes real courses hand out, and seeded bugs.

Usage: ``python submissions/shapes/build.py`` (rewrites every notebook below; byte-stable).

Each shape is a folder ``submissions/shapes/<shape>/`` with a correct notebook
``<shape>.ipynb`` and flawed variants ``flawed_<bug>.ipynb`` (the correct source with one
change), graded by ``rubrics/shapes/<shape>.yaml``. None has cell tags: the rubrics say where
everything is. The README's table says which shape each covers; ``tests/e2e/test_shapes.py``
grades them all in the sandbox.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
TORCH_KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}

SHAPES: dict[str, dict] = {}


def shape(name: str, cells: list[tuple[str, str]], bugs: dict[str, tuple[str, str]] | None = None,
          folder: str | None = None) -> None:
    SHAPES[name] = {"cells": cells, "bugs": bugs or {}, "folder": folder}


# 1. CSCI 566 style: a VAE class whose forward returns a dict, log-sigma convention, the provided
#    4-argument KL between diagonal Gaussians, a loss method; flat (B, 784) inputs; no tags.
shape("csci566_dict_forward", [
    ("md", "# Assignment 2, Problem 1: Variational Autoencoder\nTrain a VAE on MNIST. The KL divergence is provided."),
    ("code", "import numpy as np\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nimport matplotlib.pyplot as plt"),
    ("code", 'data = np.load("mnist.npz")\nx_train = torch.tensor(data["x_train"], dtype=torch.float32).view(-1, 784) / 255.0\n'
             'x_test = torch.tensor(data["x_test"], dtype=torch.float32).view(-1, 784) / 255.0\nprint(x_train.shape)'),
    ("code", 'def kl_divergence(mu1, log_sigma1, mu2, log_sigma2):\n'
             '    """KL(N(mu1, exp(log_sigma1)^2) || N(mu2, exp(log_sigma2)^2)), summed over the last dimension (provided)."""\n'
             '    return (log_sigma2 - log_sigma1 + (torch.exp(2 * log_sigma1) + (mu1 - mu2) ** 2)\n'
             '            / (2 * torch.exp(2 * log_sigma2)) - 0.5).sum(dim=-1)'),
    ("code", 'class VAE(nn.Module):\n'
             '    def __init__(self, nz=16, beta=1.0):\n'
             '        super().__init__()\n'
             '        self.nz, self.beta = nz, beta\n'
             '        self.encoder = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 2 * nz))\n'
             '        self.decoder = nn.Sequential(nn.Linear(nz, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())\n\n'
             '    def reparameterize(self, mu, log_sigma):\n'
             '        return mu + torch.exp(log_sigma) * torch.randn_like(mu)\n\n'
             '    def forward(self, x):\n'
             '        q = self.encoder(x)\n'
             '        mu, log_sigma = q[:, :self.nz], q[:, self.nz:]\n'
             '        z = self.reparameterize(mu, log_sigma)\n'
             '        return {"rec": self.decoder(z), "mu": mu, "log_sigma": log_sigma}\n\n'
             '    def loss(self, x, outputs):\n'
             '        rec_loss = F.binary_cross_entropy(outputs["rec"], x, reduction="sum") / x.shape[0]\n'
             '        zeros = torch.zeros_like(outputs["mu"])\n'
             '        kl_loss = kl_divergence(outputs["mu"], outputs["log_sigma"], zeros, zeros).mean()\n'
             '        return rec_loss + self.beta * kl_loss, {"rec_loss": rec_loss, "kl_loss": kl_loss}'),
    ("code", 'epochs = 10\nlearning_rate = 1e-3\nvae_model = VAE(nz=16)\n'
             'opt = torch.optim.Adam(vae_model.parameters(), lr=learning_rate)\n'
             'for ep in range(epochs):\n'
             '    perm = torch.randperm(len(x_train))\n'
             '    for i in range(0, len(x_train), 64):\n'
             '        xb = x_train[perm[i:i + 64]]\n'
             '        loss, parts = vae_model.loss(xb, vae_model(xb))\n'
             '        opt.zero_grad()\n'
             '        loss.backward()\n'
             '        opt.step()\n'
             '    print(f"epoch {ep}: loss {loss.item():.1f} (rec {parts[\'rec_loss\'].item():.1f}, kl {parts[\'kl_loss\'].item():.1f})")'),
    ("md", "### Samples from the prior"),
    ("code", 'with torch.no_grad():\n'
             '    samples = vae_model.decoder(torch.randn(16, vae_model.nz)).view(-1, 28, 28)\n'
             'fig, axes = plt.subplots(2, 8, figsize=(8, 2))\n'
             'for ax, image in zip(axes.flat, samples):\n'
             '    ax.imshow(image, cmap="gray")\n'
             '    ax.axis("off")\nplt.show()'),
], bugs={
    "log_sigma_as_sigma": ("        return mu + torch.exp(log_sigma) * torch.randn_like(mu)",
                           "        return mu + log_sigma * torch.randn_like(mu)"),
})

# 2. keras.io "Variational AutoEncoder": functional encoder/decoder, a Sampling layer, a VAE
#    keras.Model with a custom train_step, keras.datasets.mnist, vae.fit(..., epochs=30).
shape("keras_functional", [
    ("md", "# Variational AutoEncoder\nAfter the keras.io example by fchollet."),
    ("code", 'import os\nos.environ["KERAS_BACKEND"] = "tensorflow"\n\nimport numpy as np\nimport tensorflow as tf\nimport keras\n'
             'from keras import ops\nfrom keras import layers\nimport matplotlib.pyplot as plt'),
    ("md", "## Create a sampling layer"),
    ("code", 'class Sampling(layers.Layer):\n'
             '    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""\n\n'
             '    def __init__(self, **kwargs):\n'
             '        super().__init__(**kwargs)\n'
             '        self.seed_generator = keras.random.SeedGenerator(1337)\n\n'
             '    def call(self, inputs):\n'
             '        z_mean, z_log_var = inputs\n'
             '        batch = ops.shape(z_mean)[0]\n'
             '        dim = ops.shape(z_mean)[1]\n'
             '        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)\n'
             '        return z_mean + ops.exp(0.5 * z_log_var) * epsilon'),
    ("md", "## Build the encoder"),
    ("code", 'latent_dim = 2\n\n'
             'encoder_inputs = keras.Input(shape=(28, 28, 1))\n'
             'x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)\n'
             'x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)\n'
             'x = layers.Flatten()(x)\n'
             'x = layers.Dense(16, activation="relu")(x)\n'
             'z_mean = layers.Dense(latent_dim, name="z_mean")(x)\n'
             'z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)\n'
             'z = Sampling()([z_mean, z_log_var])\n'
             'encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")\n'
             'encoder.summary()'),
    ("md", "## Build the decoder"),
    ("code", 'latent_inputs = keras.Input(shape=(latent_dim,))\n'
             'x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)\n'
             'x = layers.Reshape((7, 7, 64))(x)\n'
             'x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)\n'
             'x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)\n'
             'decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)\n'
             'decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")\n'
             'decoder.summary()'),
    ("md", "## Define the VAE as a `Model` with a custom `train_step`"),
    ("code", 'class VAE(keras.Model):\n'
             '    def __init__(self, encoder, decoder, **kwargs):\n'
             '        super().__init__(**kwargs)\n'
             '        self.encoder = encoder\n'
             '        self.decoder = decoder\n'
             '        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")\n'
             '        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")\n'
             '        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")\n\n'
             '    @property\n'
             '    def metrics(self):\n'
             '        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]\n\n'
             '    def train_step(self, data):\n'
             '        with tf.GradientTape() as tape:\n'
             '            z_mean, z_log_var, z = self.encoder(data)\n'
             '            reconstruction = self.decoder(z)\n'
             '            reconstruction_loss = ops.mean(ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))\n'
             '            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))\n'
             '            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))\n'
             '            total_loss = reconstruction_loss + kl_loss\n'
             '        grads = tape.gradient(total_loss, self.trainable_weights)\n'
             '        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))\n'
             '        self.total_loss_tracker.update_state(total_loss)\n'
             '        self.reconstruction_loss_tracker.update_state(reconstruction_loss)\n'
             '        self.kl_loss_tracker.update_state(kl_loss)\n'
             '        return {"loss": self.total_loss_tracker.result(),\n'
             '                "reconstruction_loss": self.reconstruction_loss_tracker.result(),\n'
             '                "kl_loss": self.kl_loss_tracker.result()}'),
    ("md", "## Train the VAE"),
    ("code", '(x_train, _), (x_test, _) = keras.datasets.mnist.load_data()\n'
             'mnist_digits = np.concatenate([x_train, x_test], axis=0)\n'
             'mnist_digits = np.expand_dims(mnist_digits, -1).astype("float32") / 255\n\n'
             'vae = VAE(encoder, decoder)\n'
             'vae.compile(optimizer=keras.optimizers.Adam())\n'
             'history = vae.fit(mnist_digits, epochs=30, batch_size=128)'),
    ("md", "## Display a grid of sampled digits"),
    ("code", 'def plot_latent_space(vae, n=10, digit_size=28, scale=1.0):\n'
             '    figure = np.zeros((digit_size * n, digit_size * n))\n'
             '    grid_x = np.linspace(-scale, scale, n)\n'
             '    grid_y = np.linspace(-scale, scale, n)[::-1]\n'
             '    for i, yi in enumerate(grid_y):\n'
             '        for j, xi in enumerate(grid_x):\n'
             '            x_decoded = vae.decoder.predict(np.array([[xi, yi]]), verbose=0)\n'
             '            figure[i * digit_size:(i + 1) * digit_size, j * digit_size:(j + 1) * digit_size] = x_decoded[0].reshape(digit_size, digit_size)\n'
             '    plt.figure(figsize=(6, 6))\n'
             '    plt.imshow(figure, cmap="Greys_r")\n'
             '    plt.show()\n\n\n'
             'plot_latent_space(vae, n=6)'),
])

# 3. tf.keras subclassed model (the TensorFlow CVAE tutorial's shape): encode/reparameterize/
#    decode methods, a decoder returning logits, a top-level closed-form KL, a tf.function
#    training step with tf.GradientTape, tf.keras.datasets.fashion_mnist, Colab's %tensorflow_version.
shape("tf_keras_subclassed", [
    ("md", "# Convolutional VAE in TensorFlow (Fashion-MNIST)"),
    ("code", "%tensorflow_version 2.x\nimport numpy as np\nimport tensorflow as tf\nimport matplotlib.pyplot as plt"),
    ("code", '(train_images, _), (test_images, _) = tf.keras.datasets.fashion_mnist.load_data()\n'
             'train_images = (train_images.reshape(-1, 28, 28, 1) / 255.0).astype("float32")\n'
             'train_dataset = tf.data.Dataset.from_tensor_slices(train_images).shuffle(10000).batch(64)'),
    ("code", 'class CVAE(tf.keras.Model):\n'
             '    def __init__(self, latent_dim):\n'
             '        super().__init__()\n'
             '        self.latent_dim = latent_dim\n'
             '        self.encoder = tf.keras.Sequential([\n'
             '            tf.keras.layers.InputLayer(shape=(28, 28, 1)),\n'
             '            tf.keras.layers.Conv2D(32, 3, strides=2, activation="relu"),\n'
             '            tf.keras.layers.Conv2D(64, 3, strides=2, activation="relu"),\n'
             '            tf.keras.layers.Flatten(),\n'
             '            tf.keras.layers.Dense(latent_dim + latent_dim)])\n'
             '        self.decoder = tf.keras.Sequential([\n'
             '            tf.keras.layers.InputLayer(shape=(latent_dim,)),\n'
             '            tf.keras.layers.Dense(7 * 7 * 32, activation="relu"),\n'
             '            tf.keras.layers.Reshape((7, 7, 32)),\n'
             '            tf.keras.layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu"),\n'
             '            tf.keras.layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),\n'
             '            tf.keras.layers.Conv2DTranspose(1, 3, strides=1, padding="same")])\n\n'
             '    def encode(self, x):\n'
             '        mean, logvar = tf.split(self.encoder(x), num_or_size_splits=2, axis=1)\n'
             '        return mean, logvar\n\n'
             '    def reparameterize(self, mean, logvar):\n'
             '        eps = tf.random.normal(shape=tf.shape(mean))\n'
             '        return eps * tf.exp(logvar * .5) + mean\n\n'
             '    def decode(self, z, apply_sigmoid=False):\n'
             '        logits = self.decoder(z)\n'
             '        return tf.sigmoid(logits) if apply_sigmoid else logits'),
    ("code", 'def kl_loss(mean, logvar):\n'
             '    """Closed-form KL to N(0, I) per example."""\n'
             '    return 0.5 * tf.reduce_sum(tf.exp(logvar) + tf.square(mean) - 1.0 - logvar, axis=1)\n\n\n'
             'def compute_loss(model, x):\n'
             '    mean, logvar = model.encode(x)\n'
             '    z = model.reparameterize(mean, logvar)\n'
             '    x_logit = model.decode(z)\n'
             '    cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=x_logit, labels=x)\n'
             '    return tf.reduce_mean(tf.reduce_sum(cross_ent, axis=[1, 2, 3]) + kl_loss(mean, logvar))'),
    ("code", 'epochs = 10\nlatent_dim = 8\nmodel = CVAE(latent_dim)\noptimizer = tf.keras.optimizers.Adam(1e-3)\n\n\n'
             '@tf.function\n'
             'def train_step(model, x, optimizer):\n'
             '    with tf.GradientTape() as tape:\n'
             '        loss = compute_loss(model, x)\n'
             '    gradients = tape.gradient(loss, model.trainable_variables)\n'
             '    optimizer.apply_gradients(zip(gradients, model.trainable_variables))\n'
             '    return loss\n\n\n'
             'for epoch in range(1, epochs + 1):\n'
             '    for train_x in train_dataset:\n'
             '        loss = train_step(model, train_x, optimizer)\n'
             '    print(f"Epoch: {epoch}, loss: {float(loss):.1f}")'),
    ("code", '# generated images from the prior\n'
             'predictions = model.decode(tf.random.normal(shape=(16, latent_dim)), apply_sigmoid=True)\n'
             'fig = plt.figure(figsize=(4, 4))\n'
             'for i in range(predictions.shape[0]):\n'
             '    plt.subplot(4, 4, i + 1)\n'
             '    plt.imshow(predictions[i, :, :, 0], cmap="gray")\n'
             '    plt.axis("off")\nplt.show()'),
], bugs={
    "kl_no_half": ("    return 0.5 * tf.reduce_sum(tf.exp(logvar) + tf.square(mean) - 1.0 - logvar, axis=1)",
                   "    return tf.reduce_sum(tf.exp(logvar) + tf.square(mean) - 1.0 - logvar, axis=1)"),
})

# 4. Separate PyTorch encoder and decoder modules, no wrapper, the (mu, sigma) convention,
#    a (B, 28, 28) layout, top-level sample and kl_loss, EPOCHS.
shape("torch_encoder_decoder_sigma", [
    ("md", "# VAE with separate encoder and decoder\nThe encoder outputs the mean and the standard deviation."),
    ("code", "import numpy as np\nimport torch\nfrom torch import nn\nimport matplotlib.pyplot as plt\n\n"
             "with np.load('mnist.npz') as f:\n    images = torch.from_numpy(f['x_train']).float() / 255.0\nEPOCHS = 15\nlatent_dim = 8"),
    ("code", 'class Encoder(nn.Module):\n'
             '    def __init__(self, latent_dim):\n'
             '        super().__init__()\n'
             '        self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU())\n'
             '        self.mu = nn.Linear(256, latent_dim)\n'
             '        self.sigma = nn.Sequential(nn.Linear(256, latent_dim), nn.Softplus())\n\n'
             '    def forward(self, x):\n'
             '        h = self.body(x)\n'
             '        return self.mu(h), self.sigma(h) + 1e-4\n\n\n'
             'class Decoder(nn.Module):\n'
             '    def __init__(self, latent_dim):\n'
             '        super().__init__()\n'
             '        self.net = nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())\n\n'
             '    def forward(self, z):\n'
             '        return self.net(z).view(-1, 28, 28)'),
    ("code", 'def sample(mu, sigma):\n    return mu + sigma * torch.randn_like(sigma)\n\n\n'
             'def kl_loss(mu, sigma):\n    return (0.5 * (sigma ** 2 + mu ** 2 - 1) - torch.log(sigma)).sum(dim=1)'),
    ("code", 'encoder, decoder = Encoder(latent_dim), Decoder(latent_dim)\n'
             'optimizer = torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=1e-3)\n'
             'for epoch in range(EPOCHS):\n'
             '    for batch in images[torch.randperm(len(images))].split(100):\n'
             '        mu, sigma = encoder(batch)\n'
             '        recon = decoder(sample(mu, sigma))\n'
             '        bce = nn.functional.binary_cross_entropy(recon, batch, reduction="none").sum(dim=(1, 2))\n'
             '        loss = (bce + kl_loss(mu, sigma)).mean()\n'
             '        optimizer.zero_grad()\n'
             '        loss.backward()\n'
             '        optimizer.step()\n'
             '    print(epoch, loss.item())'),
    ("code", '# Plot: reconstructions of training images\n'
             'with torch.no_grad():\n'
             '    recon = decoder(encoder(images[:8])[0])\n'
             'plt.imshow(torch.cat([images[:8], recon]).view(2, 8, 28, 28).permute(0, 2, 1, 3).reshape(56, 224), cmap="gray")\n'
             'plt.show()'),
], bugs={
    "kl_mean_over_dims": ("    return (0.5 * (sigma ** 2 + mu ** 2 - 1) - torch.log(sigma)).sum(dim=1)",
                          "    return (0.5 * (sigma ** 2 + mu ** 2 - 1) - torch.log(sigma)).mean(dim=1)"),
    "decoder_logits": ("nn.Linear(256, 784), nn.Sigmoid())", "nn.Linear(256, 784))"),
})

# 6. pytorch/examples VAE: loss_function(recon_x, x, mu, logvar) without beta, summed over the
#    batch; flat inputs; num_epochs; no tags.
shape("pytorch_examples_loss_function", [
    ("md", "# VAE (after pytorch/examples)"),
    ("code", "import numpy as np\nimport torch\nfrom torch import nn, optim\nfrom torch.nn import functional as F\n\n"
             "num_epochs = 10\nbatch_size = 128\nlatent_dim = 20\ntorch.manual_seed(1)"),
    ("code", "train = np.load('mnist.npz')['x_train'].reshape(-1, 784).astype('float32') / 255.0\n"
             "loader = torch.utils.data.DataLoader(torch.from_numpy(train), batch_size=batch_size, shuffle=True)"),
    ("code", 'class VAE(nn.Module):\n'
             '    def __init__(self):\n'
             '        super(VAE, self).__init__()\n'
             '        self.fc1 = nn.Linear(784, 400)\n'
             '        self.fc21 = nn.Linear(400, latent_dim)\n'
             '        self.fc22 = nn.Linear(400, latent_dim)\n'
             '        self.fc3 = nn.Linear(latent_dim, 400)\n'
             '        self.fc4 = nn.Linear(400, 784)\n\n'
             '    def encode(self, x):\n'
             '        h1 = F.relu(self.fc1(x))\n'
             '        return self.fc21(h1), self.fc22(h1)\n\n'
             '    def reparameterize(self, mu, logvar):\n'
             '        std = torch.exp(0.5 * logvar)\n'
             '        eps = torch.randn_like(std)\n'
             '        return mu + eps * std\n\n'
             '    def decode(self, z):\n'
             '        h3 = F.relu(self.fc3(z))\n'
             '        return torch.sigmoid(self.fc4(h3))\n\n'
             '    def forward(self, x):\n'
             '        mu, logvar = self.encode(x.view(-1, 784))\n'
             '        z = self.reparameterize(mu, logvar)\n'
             '        return self.decode(z), mu, logvar'),
    ("code", '# Reconstruction + KL divergence losses summed over all elements and batch\n'
             'def loss_function(recon_x, x, mu, logvar):\n'
             '    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")\n'
             '    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())\n'
             '    return BCE + KLD'),
    ("code", 'model = VAE()\noptimizer = optim.Adam(model.parameters(), lr=1e-3)\n'
             'for epoch in range(1, num_epochs + 1):\n'
             '    model.train()\n'
             '    train_loss = 0\n'
             '    for data in loader:\n'
             '        optimizer.zero_grad()\n'
             '        recon_batch, mu, logvar = model(data)\n'
             '        loss = loss_function(recon_batch, data, mu, logvar)\n'
             '        loss.backward()\n'
             '        train_loss += loss.item()\n'
             '        optimizer.step()\n'
             '    print(f"====> Epoch: {epoch} Average loss: {train_loss / len(loader.dataset):.4f}")'),
    ("code", "with torch.no_grad():\n    sample = model.decode(torch.randn(64, latent_dim))\nprint(sample.shape)"),
], bugs={
    "latent_dim_reassigned": ("print(sample.shape)", "print(sample.shape)\nlatent_dim = 2  # for the 2-D experiment next"),
})

# 7. One encoder tensor split in halves (.chunk), a decoder returning logits, a loss
#    vae_loss(x, logits, mu, logvar, beta) with BCE on logits; conv nets; the epoch count is a
#    literal in the training loop: `for epoch in range(8)`.
shape("torch_chunk_logits", [
    ("md", "# Convolutional beta-VAE\nThe decoder returns logits; the loss uses `binary_cross_entropy_with_logits`."),
    ("code", "import numpy as np\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nimport matplotlib.pyplot as plt"),
    ("code", "x = torch.tensor(np.load('mnist.npz')['x_train'][:, None] / 255.0, dtype=torch.float32)\nbeta = 1.0"),
    ("code", 'class ConvVAE(nn.Module):\n'
             '    def __init__(self, z_dim=10):\n'
             '        super().__init__()\n'
             '        self.z_dim = z_dim\n'
             '        self.encoder = nn.Sequential(\n'
             '            nn.Conv2d(1, 16, 4, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(),\n'
             '            nn.Flatten(), nn.Linear(32 * 7 * 7, 2 * z_dim))\n'
             '        self.decoder = nn.Sequential(\n'
             '            nn.Linear(z_dim, 32 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (32, 7, 7)),\n'
             '            nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(16, 1, 4, 2, 1))\n\n'
             '    def forward(self, x):\n'
             '        mu, logvar = self.encoder(x).chunk(2, dim=1)\n'
             '        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)\n'
             '        return self.decoder(z), mu, logvar'),
    ("code", 'def vae_loss(x, logits, mu, logvar, beta=1.0):\n'
             '    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.size(0)\n'
             '    kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp()) / x.size(0)\n'
             '    return rec + beta * kl'),
    ("code", 'model = ConvVAE()\nopt = torch.optim.Adam(model.parameters(), lr=2e-3)\n'
             'for epoch in range(8):\n'
             '    for xb in x[torch.randperm(len(x))].split(128):\n'
             '        logits, mu, logvar = model(xb)\n'
             '        loss = vae_loss(xb, logits, mu, logvar, beta)\n'
             '        opt.zero_grad(); loss.backward(); opt.step()\n'
             '    print(epoch, round(loss.item(), 2))'),
    ("md", "## Samples"),
    ("code", 'with torch.no_grad():\n    imgs = torch.sigmoid(model.decoder(torch.randn(32, model.z_dim)))\n'
             'plt.imshow(imgs.view(4, 8, 28, 28).permute(0, 2, 1, 3).reshape(112, 224), cmap="gray"); plt.show()'),
])

# 8. forward returns (mu, logvar, x_hat) in that order; a top-level `sampling`; a train function
#    whose epochs come as a default and a keyword.
shape("torch_forward_mu_first", [
    ("md", "# VAE: forward returns (mu, logvar, reconstruction)"),
    ("code", "import numpy as np\nimport torch\nimport torch.nn as nn\nimport matplotlib.pyplot as plt"),
    ("code", 'def sampling(mu, logvar):\n    std = torch.exp(0.5 * logvar)\n    return mu + std * torch.randn_like(std)'),
    ("code", 'class VAE(nn.Module):\n'
             '    def __init__(self, latent=6):\n'
             '        super().__init__()\n'
             '        self.enc = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 14 * 14, 128), nn.ReLU())\n'
             '        self.mu, self.logvar = nn.Linear(128, latent), nn.Linear(128, latent)\n'
             '        self.dec = nn.Sequential(nn.Linear(latent, 128), nn.ReLU(), nn.Linear(128, 784), nn.Sigmoid(),\n'
             '                                 nn.Unflatten(1, (1, 28, 28)))\n\n'
             '    def forward(self, x):\n'
             '        h = self.enc(x)\n'
             '        mu, logvar = self.mu(h), self.logvar(h)\n'
             '        return mu, logvar, self.dec(sampling(mu, logvar))'),
    ("code", 'def train(model, data, epochs=20, lr=1e-3):\n'
             '    opt = torch.optim.Adam(model.parameters(), lr=lr)\n'
             '    for epoch in range(epochs):\n'
             '        for xb in data[torch.randperm(len(data))].split(64):\n'
             '            mu, logvar, x_hat = model(xb)\n'
             '            rec = nn.functional.binary_cross_entropy(x_hat, xb, reduction="sum") / len(xb)\n'
             '            kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum() / len(xb)\n'
             '            opt.zero_grad(); (rec + kl).backward(); opt.step()\n'
             '        print(f"epoch {epoch}: {rec.item():.1f} + {kl.item():.1f}")\n'
             '    return model'),
    ("code", "data = torch.from_numpy(np.load('mnist.npz')['x_train']).float().div(255).unsqueeze(1)\n"
             "vae = train(VAE(), data, epochs=20)"),
], bugs={
    "std_is_exp_logvar": ("    std = torch.exp(0.5 * logvar)\n", "    std = torch.exp(logvar)\n"),
})

# 10. The (mu, var) convention, a KL method of a class the student instantiated, found by class name.
shape("torch_variance_method", [
    ("md", "# Gaussian VAE parametrised by variances"),
    ("code", "import numpy as np\nimport torch\nfrom torch import nn"),
    ("code", 'class GaussianVAE(nn.Module):\n'
             '    def __init__(self, latent_dim=4):\n'
             '        super().__init__()\n'
             '        self.latent_dim = latent_dim\n'
             '        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 200), nn.Tanh(), nn.Linear(200, 2 * latent_dim))\n'
             '        self.decoder = nn.Sequential(nn.Linear(latent_dim, 200), nn.Tanh(), nn.Linear(200, 784), nn.Sigmoid(),\n'
             '                                     nn.Unflatten(1, (1, 28, 28)))\n\n'
             '    def encode(self, x):\n'
             '        h = self.encoder(x)\n'
             '        return h[:, :self.latent_dim], nn.functional.softplus(h[:, self.latent_dim:]) + 1e-5\n\n'
             '    def sample_z(self, mu, var):\n'
             '        return mu + torch.sqrt(var) * torch.randn_like(mu)\n\n'
             '    def kl(self, mu, var):\n'
             '        return 0.5 * torch.sum(var + mu ** 2 - 1 - torch.log(var), dim=-1)\n\n'
             '    def decode(self, z):\n'
             '        return self.decoder(z)'),
    ("code", "images = torch.from_numpy(np.load('mnist.npz')['x_train'][:, None] / 255.0).float()\n"
             "my_vae = GaussianVAE()\nopt = torch.optim.Adam(my_vae.parameters(), lr=1e-3)\nn_epochs = 12\n"
             "for _ in range(n_epochs):\n"
             "    for xb in images[torch.randperm(len(images))].split(50):\n"
             "        mu, var = my_vae.encode(xb)\n"
             "        x_hat = my_vae.decode(my_vae.sample_z(mu, var))\n"
             "        loss = (nn.functional.binary_cross_entropy(x_hat, xb, reduction='none').sum((1, 2, 3)) + my_vae.kl(mu, var)).mean()\n"
             "        opt.zero_grad(); loss.backward(); opt.step()"),
])

# 11. A handout helper module and a CSV subset declared by the rubric (copied read-only beside the
#     notebook), and the student's own module handed in beside the notebook, in a student folder.
shape("helpers_and_modules", [
    ("md", "# Lab 5: VAE on a CSV subset\nUse `lab_utils.load_csv` for the data and keep your model in `my_models.py`."),
    ("code", "import torch\nfrom lab_utils import load_csv\nfrom my_models import SmallVAE, elbo_kl"),
    ("code", "x = load_csv('data/mnist/train.csv')\nprint(x.shape)\nlatent_dim = 5\nepochs = 40"),
    ("code", "vae = SmallVAE(latent_dim)\nopt = torch.optim.Adam(vae.parameters(), lr=3e-3)\n"
             "for epoch in range(epochs):\n"
             "    x_hat, mu, logvar = vae(x)\n"
             "    loss = torch.nn.functional.binary_cross_entropy(x_hat, x, reduction='sum') / len(x) + elbo_kl(mu, logvar).mean()\n"
             "    opt.zero_grad(); loss.backward(); opt.step()\nprint(loss.item())"),
], folder="student_a")

# 5. Written for Colab and a GPU: !pip install, .cuda() and device="cuda" unconditionally,
#    torchvision's FashionMNIST(root="/content/data", download=True) with ToTensor and a DataLoader
#    with two worker processes; a tqdm progress bar and a pandas table of the epochs.
shape("torchvision_fashion_colab", [
    ("md", "# Fashion-MNIST VAE (Colab)\nRuntime -> Change runtime type -> GPU."),
    ("code", "!pip install -q torchvision"),
    ("code", "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nfrom torch.utils.data import DataLoader\n"
             "from torchvision import datasets, transforms\nimport pandas as pd\nfrom tqdm import tqdm\n"
             "from google.colab import drive\ndrive.mount('/content/drive')\n\n"
             "device = 'cuda'\nEPOCHS = 10"),
    ("code", "train_set = datasets.FashionMNIST(root='/content/data', train=True, download=True, transform=transforms.ToTensor())\n"
             "train_loader = DataLoader(train_set, batch_size=128, shuffle=True, num_workers=2)"),
    ("code", 'class VAE(nn.Module):\n'
             '    def __init__(self, latent_dim=16):\n'
             '        super().__init__()\n'
             '        self.latent_dim = latent_dim\n'
             '        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(784, 400), nn.ReLU())\n'
             '        self.fc_mu = nn.Linear(400, latent_dim)\n'
             '        self.fc_logvar = nn.Linear(400, latent_dim)\n'
             '        self.dec = nn.Sequential(nn.Linear(latent_dim, 400), nn.ReLU(), nn.Linear(400, 784), nn.Sigmoid())\n\n'
             '    def encode(self, x):\n'
             '        h = self.fc(x)\n'
             '        return self.fc_mu(h), self.fc_logvar(h)\n\n'
             '    def reparameterize(self, mu, logvar):\n'
             '        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)\n\n'
             '    def decode(self, z):\n'
             '        return self.dec(z).view(-1, 1, 28, 28)\n\n'
             '    def forward(self, x):\n'
             '        mu, logvar = self.encode(x)\n'
             '        return self.decode(self.reparameterize(mu, logvar)), mu, logvar'),
    ("code", "model = VAE().cuda()\noptimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\n"
             "log = []\n"
             "for epoch in range(EPOCHS):\n"
             "    for images, _ in tqdm(train_loader, desc=f'epoch {epoch}'):\n"
             "        images = images.to(device)\n"
             "        recon, mu, logvar = model(images)\n"
             "        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)\n"
             "        loss = (F.binary_cross_entropy(recon, images, reduction='none').sum((1, 2, 3)) + kld).mean()\n"
             "        optimizer.zero_grad(); loss.backward(); optimizer.step()\n"
             "    log.append({'epoch': epoch, 'loss': loss.item(), 'kl': kld.mean().item()})\n"
             "pd.DataFrame(log)"),
    ("code", "# Samples from the prior\nz = torch.randn(64, model.latent_dim, device=device)\n"
             "with torch.no_grad():\n    samples = model.decode(z).cpu()\n"
             "import matplotlib.pyplot as plt\n"
             "plt.imshow(samples.view(8, 8, 28, 28).permute(0, 2, 1, 3).reshape(224, 224), cmap='gray'); plt.show()"),
])


#: Cells the shapes below share, as their notebooks do: the imports, MNIST flattened from the
#: served npz, and a VAE whose encoder gives mu and logvar side by side (split with .chunk).
TORCH_IMPORTS = "import numpy as np\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F"
FLAT_MNIST = 'data = np.load("mnist.npz")\nx_train = torch.tensor(data["x_train"], dtype=torch.float32).view(-1, 784) / 255.0'
SPLIT_VAE = ('class VAE(nn.Module):\n'
             '    def __init__(self, latent_dim=8):\n'
             '        super().__init__()\n'
             '        self.latent_dim = latent_dim\n'
             '        self.encoder = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 2 * latent_dim))\n'
             '        self.decoder = nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())\n\n'
             '    def forward(self, x):\n'
             '        mu, logvar = self.encoder(x).chunk(2, dim=1)\n'
             '        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)\n'
             '        return self.decoder(z), mu, logvar')

# 11. USC CSCI 566 again, the reparameterization inline in forward: no function to call, so the
#     grader runs forward on its own images and watches mu, log sigma and the decoder's z.
shape("torch_forward_inline_reparam", [
    ("md", "# Problem 2: VAE\nImplement the reparameterization trick **inside** `VAE.forward`."),
    ("code", TORCH_IMPORTS + "\nimport matplotlib.pyplot as plt"),
    ("code", FLAT_MNIST),
    ("code", 'class VAE(nn.Module):\n'
             '    def __init__(self, nz=16):\n'
             '        super().__init__()\n'
             '        self.nz = nz\n'
             '        self.encoder = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 2 * nz))\n'
             '        self.decoder = nn.Sequential(nn.Linear(nz, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())\n\n'
             '    def forward(self, x):\n'
             '        mu, log_sigma = self.encoder(x).chunk(2, dim=1)\n'
             '        ############ YOUR CODE HERE ############\n'
             '        eps = torch.randn_like(mu)\n'
             '        z = mu + torch.exp(log_sigma) * eps\n'
             '        ########################################\n'
             '        return self.decoder(z), mu, log_sigma'),
    ("code", 'epochs = 10\nvae = VAE()\nopt = torch.optim.Adam(vae.parameters(), lr=1e-3)\n'
             'for ep in range(epochs):\n'
             '    perm = torch.randperm(len(x_train))\n'
             '    for i in range(0, len(x_train), 64):\n'
             '        xb = x_train[perm[i:i + 64]]\n'
             '        rec, mu, log_sigma = vae(xb)\n'
             '        rec_loss = F.binary_cross_entropy(rec, xb, reduction="sum") / len(xb)\n'
             '        kl_loss = (0.5 * (mu ** 2 + torch.exp(2 * log_sigma)) - log_sigma - 0.5).sum(dim=1).mean()\n'
             '        loss = rec_loss + kl_loss\n'
             '        opt.zero_grad()\n'
             '        loss.backward()\n'
             '        opt.step()\n'
             '    print(f"epoch {ep}: {loss.item():.1f}")'),
], bugs={
    "log_sigma_as_sigma": ("        z = mu + torch.exp(log_sigma) * eps", "        z = mu + log_sigma * eps"),
    "one_eps_for_batch": ("        eps = torch.randn_like(mu)", "        eps = torch.randn(self.nz)"),
})

# 12. The keras.io VAE's train_step as a lab hands it out with Dense layers, trained on train and
#     test together (np.concatenate): the KL lives only inside train_step, under GradientTape.
shape("keras_io_train_step", [
    ("md", "# Lab 7: Variational autoencoder (Keras)\nComplete the `train_step` of the `VAE` model."),
    ("code", 'import os\nos.environ["KERAS_BACKEND"] = "tensorflow"\n\nimport numpy as np\nimport tensorflow as tf\nimport keras\n'
             'from keras import ops\nfrom keras import layers'),
    ("code", 'class Sampling(layers.Layer):\n'
             '    def call(self, inputs):\n'
             '        z_mean, z_log_var = inputs\n'
             '        epsilon = keras.random.normal(shape=ops.shape(z_mean))\n'
             '        return z_mean + ops.exp(0.5 * z_log_var) * epsilon'),
    ("code", 'latent_dim = 8\n'
             'encoder_inputs = keras.Input(shape=(28, 28, 1))\n'
             'x = layers.Flatten()(encoder_inputs)\n'
             'x = layers.Dense(256, activation="relu")(x)\n'
             'z_mean = layers.Dense(latent_dim, name="z_mean")(x)\n'
             'z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)\n'
             'z = Sampling()([z_mean, z_log_var])\n'
             'encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")\n\n'
             'latent_inputs = keras.Input(shape=(latent_dim,))\n'
             'x = layers.Dense(256, activation="relu")(latent_inputs)\n'
             'x = layers.Dense(28 * 28, activation="sigmoid")(x)\n'
             'decoder_outputs = layers.Reshape((28, 28, 1))(x)\n'
             'decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")'),
    ("code", 'class VAE(keras.Model):\n'
             '    def __init__(self, encoder, decoder, **kwargs):\n'
             '        super().__init__(**kwargs)\n'
             '        self.encoder = encoder\n'
             '        self.decoder = decoder\n'
             '        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")\n\n'
             '    @property\n'
             '    def metrics(self):\n'
             '        return [self.total_loss_tracker]\n\n'
             '    def train_step(self, data):\n'
             '        with tf.GradientTape() as tape:\n'
             '            z_mean, z_log_var, z = self.encoder(data)\n'
             '            reconstruction = self.decoder(z)\n'
             '            reconstruction_loss = ops.mean(ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))\n'
             '            # TODO: the KL divergence of q(z|x) from N(0, I)\n'
             '            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))\n'
             '            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))\n'
             '            total_loss = reconstruction_loss + kl_loss\n'
             '        grads = tape.gradient(total_loss, self.trainable_weights)\n'
             '        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))\n'
             '        self.total_loss_tracker.update_state(total_loss)\n'
             '        return {"loss": self.total_loss_tracker.result()}'),
    ("code", '(x_train, _), (x_test, _) = keras.datasets.mnist.load_data()\n'
             'mnist_digits = np.concatenate([x_train, x_test], axis=0)\n'
             'mnist_digits = np.expand_dims(mnist_digits, -1).astype("float32") / 255\n\n'
             'vae = VAE(encoder, decoder)\n'
             'vae.compile(optimizer=keras.optimizers.Adam())\n'
             'history = vae.fit(mnist_digits, epochs=30, batch_size=128)'),
], bugs={
    "kl_sign": ("            kl_loss = -0.5 * (1 + z_log_var", "            kl_loss = 0.5 * (1 + z_log_var"),
    "kl_mean_over_dims": ("            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))", "            kl_loss = ops.mean(kl_loss)"),
})

# 13. The PyTorch examples' training loop written out in a cell, the loss inline, a beta-VAE
#     (beta = 4), and a notebook that asserts the full training set's size: graded on the whole
#     data set with every epoch cut short (max_steps_per_epoch).
shape("torch_loop_inline_loss", [
    ("md", "# HW4: beta-VAE\nTrain a beta-VAE with beta = 4. Write the loss directly in the training loop."),
    ("code", "import numpy as np\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
             "from torch.utils.data import DataLoader, TensorDataset"),
    ("code", 'data = np.load("mnist.npz")\nassert data["x_train"].shape == (60000, 28, 28), "use the full training set"\n'
             'train_set = TensorDataset(torch.tensor(data["x_train"], dtype=torch.float32).view(-1, 784) / 255.0)\n'
             'train_loader = DataLoader(train_set, batch_size=128, shuffle=True)'),
    ("code", 'class VAE(nn.Module):\n'
             '    def __init__(self):\n'
             '        super().__init__()\n'
             '        self.fc1 = nn.Linear(784, 400)\n'
             '        self.fc21 = nn.Linear(400, 10)\n'
             '        self.fc22 = nn.Linear(400, 10)\n'
             '        self.fc3 = nn.Linear(10, 400)\n'
             '        self.fc4 = nn.Linear(400, 784)\n\n'
             '    def encode(self, x):\n'
             '        h1 = F.relu(self.fc1(x))\n'
             '        return self.fc21(h1), self.fc22(h1)\n\n'
             '    def reparameterize(self, mu, logvar):\n'
             '        std = torch.exp(0.5 * logvar)\n'
             '        return mu + torch.randn_like(std) * std\n\n'
             '    def decode(self, z):\n'
             '        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))\n\n'
             '    def forward(self, x):\n'
             '        mu, logvar = self.encode(x.view(-1, 784))\n'
             '        return self.decode(self.reparameterize(mu, logvar)), mu, logvar'),
    ("code", 'beta = 4.0\nepochs = 10\nmodel = VAE()\noptimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\n'
             'for epoch in range(1, epochs + 1):\n'
             '    train_loss = 0\n'
             '    for (data,) in train_loader:\n'
             '        optimizer.zero_grad()\n'
             '        recon_batch, mu, logvar = model(data)\n'
             '        BCE = F.binary_cross_entropy(recon_batch, data, reduction="sum") / data.size(0)\n'
             '        KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / data.size(0)\n'
             '        loss = BCE + beta * KLD\n'
             '        loss.backward()\n'
             '        train_loss += loss.item()\n'
             '        optimizer.step()\n'
             '    print(f"Epoch {epoch}: average loss {train_loss / len(train_loader):.2f}")'),
], bugs={
    "beta_ignored": ("        loss = BCE + beta * KLD", "        loss = BCE + KLD"),
    "bce_mean_over_pixels": ('        BCE = F.binary_cross_entropy(recon_batch, data, reduction="sum") / data.size(0)',
                             "        BCE = F.binary_cross_entropy(recon_batch, data)"),
})

# 14. CSCI 566's loss method on forward's dict, whose "q" entry is the encoder's output: mu and
#     log sigma concatenated. The grader calls the method with a dict it builds (a joined entry)
#     and records the notebook's own training to name the convention.
shape("torch_loss_method_concat", [
    ("md", "# Problem 1: VAE with a loss method\n`forward` returns `{\"q\": q, \"rec\": rec}` where `q` holds "
           "mu and log sigma side by side. Implement `VAE.loss`."),
    ("code", TORCH_IMPORTS),
    ("code", FLAT_MNIST),
    ("code", 'class VAE(nn.Module):\n'
             '    def __init__(self, nz=16, beta=1.0):\n'
             '        super().__init__()\n'
             '        self.nz, self.beta = nz, beta\n'
             '        self.encoder = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 2 * nz))\n'
             '        self.decoder = nn.Sequential(nn.Linear(nz, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())\n\n'
             '    def forward(self, x):\n'
             '        q = self.encoder(x)\n'
             '        mu, log_sigma = q[:, :self.nz], q[:, self.nz:]\n'
             '        z = mu + torch.exp(log_sigma) * torch.randn_like(mu)\n'
             '        return {"q": q, "rec": self.decoder(z)}\n\n'
             '    def loss(self, x, outputs):\n'
             '        mu, log_sigma = outputs["q"][:, :self.nz], outputs["q"][:, self.nz:]\n'
             '        rec_loss = F.binary_cross_entropy(outputs["rec"], x, reduction="sum") / x.shape[0]\n'
             '        kl = 0.5 * (mu ** 2 + torch.exp(2 * log_sigma) - 1) - log_sigma\n'
             '        kl_loss = kl.sum(dim=1).mean()\n'
             '        return rec_loss + self.beta * kl_loss, {"rec_loss": rec_loss, "kl_loss": kl_loss}'),
    ("code", 'epochs = 10\nvae_model = VAE()\nopt = torch.optim.Adam(vae_model.parameters(), lr=1e-3)\n'
             'for ep in range(epochs):\n'
             '    for xb in x_train[torch.randperm(len(x_train))].split(64):\n'
             '        loss, parts = vae_model.loss(xb, vae_model(xb))\n'
             '        opt.zero_grad()\n'
             '        loss.backward()\n'
             '        opt.step()\n'
             '    print(ep, loss.item())'),
], bugs={
    "kl_mean_over_dims": ("        kl_loss = kl.sum(dim=1).mean()", "        kl_loss = kl.mean()"),
})

# 15. Three trained models in one notebook (an autoencoder, a VAE, a beta-VAE with beta = 10),
#     each graded by its own checks (a check's `model:`).
shape("torch_three_models", [
    ("md", "# Assignment 3: AE, VAE and beta-VAE\nTrain the three models below and compare them."),
    ("code", TORCH_IMPORTS),
    ("code", 'data = np.load("mnist.npz")\nx_train = torch.tensor(data["x_train"], dtype=torch.float32).view(-1, 784) / 255.0\n'
             'n_epochs = 10'),
    ("code", 'class AE(nn.Module):\n'
             '    def __init__(self, latent_dim=8):\n'
             '        super().__init__()\n'
             '        self.encoder = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, latent_dim))\n'
             '        self.decoder = nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())\n\n'
             '    def forward(self, x):\n'
             '        return self.decoder(self.encoder(x))\n\n\n'
             'class VAE(nn.Module):\n'
             '    def __init__(self, latent_dim=8):\n'
             '        super().__init__()\n'
             '        self.latent_dim = latent_dim\n'
             '        self.body = nn.Sequential(nn.Linear(784, 256), nn.ReLU())\n'
             '        self.mu = nn.Linear(256, latent_dim)\n'
             '        self.logvar = nn.Linear(256, latent_dim)\n'
             '        self.decoder = nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())\n\n'
             '    def encode(self, x):\n'
             '        h = self.body(x)\n'
             '        return self.mu(h), self.logvar(h)\n\n'
             '    def forward(self, x):\n'
             '        mu, logvar = self.encode(x)\n'
             '        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)\n'
             '        return self.decoder(z), mu, logvar'),
    ("code", 'def train_ae(model):\n'
             '    opt = torch.optim.Adam(model.parameters(), lr=1e-3)\n'
             '    for epoch in range(n_epochs):\n'
             '        for xb in x_train[torch.randperm(len(x_train))].split(64):\n'
             '            loss = F.binary_cross_entropy(model(xb), xb, reduction="sum") / len(xb)\n'
             '            opt.zero_grad(); loss.backward(); opt.step()\n\n\n'
             'def train_vae(model, beta):\n'
             '    opt = torch.optim.Adam(model.parameters(), lr=1e-3)\n'
             '    for epoch in range(n_epochs):\n'
             '        for xb in x_train[torch.randperm(len(x_train))].split(64):\n'
             '            x_hat, mu, logvar = model(xb)\n'
             '            rec = F.binary_cross_entropy(x_hat, xb, reduction="sum") / len(xb)\n'
             '            kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp()) / len(xb)\n'
             '            loss = rec + beta * kl\n'
             '            opt.zero_grad(); loss.backward(); opt.step()\n'
             '    print(f"beta={beta}: rec {rec.item():.1f}, kl {kl.item():.1f}")'),
    ("code", "ae = AE()\ntrain_ae(ae)\n\nvae = VAE()\ntrain_vae(vae, beta=1.0)\n\nvae_beta10 = VAE()\ntrain_vae(vae_beta10, beta=10.0)"),
], bugs={
    "beta10_trained_at_beta1": ("train_vae(vae_beta10, beta=10.0)", "train_vae(vae_beta10, beta=1.0)"),
})

# 16. A conditional VAE: encode(x, y) and decode(z, y) with one-hot labels, the
#     reparameterization inline in forward(x, y).
shape("torch_conditional_vae", [
    ("md", "# Conditional VAE\nCondition both the encoder and the decoder on the digit's one-hot label."),
    ("code", TORCH_IMPORTS),
    ("code", 'data = np.load("mnist.npz")\nx_train = torch.tensor(data["x_train"], dtype=torch.float32).view(-1, 784) / 255.0\n'
             'y_train = F.one_hot(torch.tensor(data["y_train"], dtype=torch.long), 10).float()'),
    ("code", 'class CVAE(nn.Module):\n'
             '    def __init__(self, latent_dim=8, n_classes=10):\n'
             '        super().__init__()\n'
             '        self.latent_dim = latent_dim\n'
             '        self.enc = nn.Sequential(nn.Linear(784 + n_classes, 256), nn.ReLU())\n'
             '        self.fc_mu = nn.Linear(256, latent_dim)\n'
             '        self.fc_logvar = nn.Linear(256, latent_dim)\n'
             '        self.dec = nn.Sequential(nn.Linear(latent_dim + n_classes, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())\n\n'
             '    def encode(self, x, y):\n'
             '        h = self.enc(torch.cat([x.view(-1, 784), y], dim=1))\n'
             '        return self.fc_mu(h), self.fc_logvar(h)\n\n'
             '    def decode(self, z, y):\n'
             '        return self.dec(torch.cat([z, y], dim=1))\n\n'
             '    def forward(self, x, y):\n'
             '        mu, logvar = self.encode(x, y)\n'
             '        std = torch.exp(0.5 * logvar)\n'
             '        z = mu + std * torch.randn_like(std)\n'
             '        return self.decode(z, y), mu, logvar'),
    ("code", 'epochs = 10\ncvae = CVAE()\nopt = torch.optim.Adam(cvae.parameters(), lr=1e-3)\n'
             'for epoch in range(epochs):\n'
             '    perm = torch.randperm(len(x_train))\n'
             '    for idx in perm.split(64):\n'
             '        x_hat, mu, logvar = cvae(x_train[idx], y_train[idx])\n'
             '        rec = F.binary_cross_entropy(x_hat, x_train[idx], reduction="sum") / len(idx)\n'
             '        kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp()) / len(idx)\n'
             '        opt.zero_grad(); (rec + kl).backward(); opt.step()\n'
             '    print(epoch, rec.item(), kl.item())'),
], bugs={
    "std_is_exp_logvar": ("        std = torch.exp(0.5 * logvar)", "        std = torch.exp(logvar)"),
})

# 17. Losses kept as plain lists, one entry per step (losses, recon_losses, kld), no history dict.
shape("torch_plain_list_history", [
    ("md", "# VAE: training curves\nKeep the loss, the reconstruction term and the KL of every step, and plot them."),
    ("code", TORCH_IMPORTS + "\nimport matplotlib.pyplot as plt"),
    ("code", FLAT_MNIST),
    ("code", SPLIT_VAE),
    ("code", 'epochs = 10\nmodel = VAE()\noptimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\n'
             'losses, recon_losses, kld = [], [], []\n'
             'for epoch in range(epochs):\n'
             '    for xb in x_train[torch.randperm(len(x_train))].split(100):\n'
             '        x_hat, mu, logvar = model(xb)\n'
             '        recon = F.binary_cross_entropy(x_hat, xb, reduction="sum") / len(xb)\n'
             '        kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=1)).mean()\n'
             '        loss = recon + kl\n'
             '        optimizer.zero_grad()\n'
             '        loss.backward()\n'
             '        optimizer.step()\n'
             '        losses.append(loss.item())\n'
             '        recon_losses.append(recon.item())\n'
             '        kld.append(kl.item())'),
    ("code", 'plt.plot(losses, label="loss")\nplt.plot(kld, label="KL")\nplt.legend()\nplt.show()'),
], bugs={
    "kl_kept_summed_over_batch": ("        kld.append(kl.item())", "        kld.append(kl.item() * len(xb))"),
})

# 18. The epoch count a positional literal of a function called several times
#     (train(100, model, ...)), each call given its own value; MSE loss, a Gaussian decoder.
shape("torch_positional_epochs", [
    ("md", "# Autoencoders and VAEs with a squared-error loss\nUse `train(epochs, model, loss_fn)` for every model."),
    ("code", TORCH_IMPORTS),
    ("code", FLAT_MNIST),
    ("code", SPLIT_VAE + '\n\n\n'
             'def vae_loss(out, x):\n'
             '    x_hat, mu, logvar = out\n'
             '    mse = F.mse_loss(x_hat, x, reduction="sum") / len(x)\n'
             '    kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp()) / len(x)\n'
             '    return mse + 0.02 * kl'),
    ("code", 'def train(epochs, model, loss_fn):\n'
             '    opt = torch.optim.Adam(model.parameters(), lr=1e-3)\n'
             '    history = []\n'
             '    for epoch in range(epochs):\n'
             '        total = 0.0\n'
             '        for xb in x_train[torch.randperm(len(x_train))].split(64):\n'
             '            loss = loss_fn(model(xb), xb)\n'
             '            opt.zero_grad(); loss.backward(); opt.step()\n'
             '            total += loss.item() * len(xb)\n'
             '        history.append(total / len(x_train))\n'
             '    return history'),
    ("code", "warmup = VAE()\nwarmup_history = train(100, warmup, vae_loss)\n\nvae = VAE()\nvae_history = train(100, vae, vae_loss)"),
], bugs={
    "epochs_argument_ignored": ("    for epoch in range(epochs):\n        total", "    for epoch in range(3):\n        total"),
})

# 20. Colab-aware: `try: from google.colab import drive` sets IN_COLAB, whose branch would fetch the
#     data with wget (offline: nothing) and read /content; an unused `import keras` beside torchvision
#     (torchvision and TensorFlow in one kernel); torchvision's transforms and make_grid.
shape("torchvision_keras_in_colab", [
    ("md", "# VAE lab (runs on Colab or locally)"),
    ("code", "try:\n    from google.colab import drive\n    IN_COLAB = True\nexcept ImportError:\n    IN_COLAB = False\n"
             "print('running on Colab:', IN_COLAB)"),
    ("code", TORCH_IMPORTS + "\nimport keras  # the Keras version of this lab loaded MNIST with keras.datasets\n"
             "from torchvision import transforms\nfrom torchvision.utils import make_grid\nimport matplotlib.pyplot as plt"),
    ("code", "if IN_COLAB:\n    drive.mount('/content/drive')\n"
             "    !wget -q -O /content/mnist.npz https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz\n"
             "    data = np.load('/content/mnist.npz')\nelse:\n    data = np.load('mnist.npz')\n"
             "to_tensor = transforms.ToTensor()\n"
             "x_train = torch.stack([to_tensor(image) for image in data['x_train'][:4000]]).view(-1, 784)\nprint(x_train.shape)"),
    ("code", SPLIT_VAE),
    ("code", "vae = VAE()\nopt = torch.optim.Adam(vae.parameters(), lr=1e-3)\nepochs = 10\n"
             "for epoch in range(epochs):\n"
             "    for xb in x_train[torch.randperm(len(x_train))].split(64):\n"
             "        x_hat, mu, logvar = vae(xb)\n"
             "        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)\n"
             "        loss = (F.binary_cross_entropy(x_hat, xb, reduction='none').sum(1) + kl).mean()\n"
             "        opt.zero_grad(); loss.backward(); opt.step()"),
    ("code", "with torch.no_grad():\n    samples = vae.decoder(torch.randn(64, vae.latent_dim)).view(-1, 1, 28, 28)\n"
             "plt.imshow(make_grid(samples, nrow=8).permute(1, 2, 0)); plt.title('Samples from the prior'); plt.show()"),
])

# 21. Keras 2 (the keras/examples variational_autoencoder.py of 2018, as courses handed it out until
#     2023): a Lambda sampling layer with keras.backend (K.int_shape), functional encoder and decoder,
#     the loss added to the model with add_loss on symbolic tensors, keras.utils.np_utils imported.
#     Graded under the legacy recipe: tensorflow + tf-keras, TF_USE_LEGACY_KERAS=1. The correct notebook
#     hands in its trained weights (keras2_add_loss.weights.h5, written by `build.py --weights`).
shape("keras2_add_loss", [
    ("md", "# Variational autoencoder (Keras 2)\nAfter keras/examples/variational_autoencoder.py."),
    ("code", "from keras.layers import Lambda, Input, Dense\nfrom keras.models import Model\nfrom keras.datasets import mnist\n"
             "from keras.losses import binary_crossentropy\nfrom keras.utils import np_utils\nfrom keras import backend as K\n"
             "import numpy as np\nimport matplotlib.pyplot as plt"),
    ("code", "def sampling(args):\n"
             "    z_mean, z_log_var = args\n"
             "    batch = K.shape(z_mean)[0]\n"
             "    dim = K.int_shape(z_mean)[1]\n"
             "    epsilon = K.random_normal(shape=(batch, dim))\n"
             "    return z_mean + K.exp(0.5 * z_log_var) * epsilon"),
    ("code", "(x_train, y_train), (x_test, y_test) = mnist.load_data()\n"
             "original_dim = x_train.shape[1] * x_train.shape[2]\n"
             "x_train = np.reshape(x_train, [-1, original_dim]).astype('float32') / 255\n"
             "x_test = np.reshape(x_test, [-1, original_dim]).astype('float32') / 255\n"
             "y_train_onehot = np_utils.to_categorical(y_train, 10)\n"
             "intermediate_dim, batch_size, latent_dim, epochs = 512, 128, 2, 50"),
    ("code", "inputs = Input(shape=(original_dim,), name='encoder_input')\n"
             "x = Dense(intermediate_dim, activation='relu')(inputs)\n"
             "z_mean = Dense(latent_dim, name='z_mean')(x)\n"
             "z_log_var = Dense(latent_dim, name='z_log_var')(x)\n"
             "z = Lambda(sampling, output_shape=(latent_dim,), name='z')([z_mean, z_log_var])\n"
             "encoder = Model(inputs, [z_mean, z_log_var, z], name='encoder')\n\n"
             "latent_inputs = Input(shape=(latent_dim,), name='z_sampling')\n"
             "x = Dense(intermediate_dim, activation='relu')(latent_inputs)\n"
             "outputs = Dense(original_dim, activation='sigmoid')(x)\n"
             "decoder = Model(latent_inputs, outputs, name='decoder')\n\n"
             "outputs = decoder(encoder(inputs)[2])\n"
             "vae = Model(inputs, outputs, name='vae_mlp')"),
    ("code", "reconstruction_loss = binary_crossentropy(inputs, outputs) * original_dim\n"
             "kl_loss = 1 + z_log_var - K.square(z_mean) - K.exp(z_log_var)\n"
             "kl_loss = K.sum(kl_loss, axis=-1) * -0.5\n"
             "vae.add_loss(K.mean(reconstruction_loss + kl_loss))\n"
             "vae.compile(optimizer='adam')\n"
             "history = vae.fit(x_train, epochs=epochs, batch_size=batch_size, validation_data=(x_test, None))\n"
             "vae.save_weights('vae.weights.h5')  # handed in with the notebook"),
    ("code", "z_mean_test, _, _ = encoder.predict(x_test[:2000], batch_size=batch_size)\n"
             "plt.scatter(z_mean_test[:, 0], z_mean_test[:, 1], c=y_test[:2000], s=2); plt.title('Latent space'); plt.show()"),
], bugs={
    "kl_no_half": ("kl_loss = K.sum(kl_loss, axis=-1) * -0.5", "kl_loss = K.sum(kl_loss, axis=-1) * -1.0"),
})

# 22. TensorFlow 1.x graph code (%tensorflow_version 1.x, placeholders, a Session): no Python that
#     TensorFlow 2.21 supports runs it; graded to its own status, not a generic kernel failure.
shape("tf1_session", [
    ("md", "# VAE in TensorFlow 1.x"),
    ("code", "%tensorflow_version 1.x\nimport numpy as np\nimport tensorflow as tf"),
    ("code", "x = tf.placeholder(tf.float32, [None, 784])\n"
             "h = tf.layers.dense(x, 256, activation=tf.nn.relu)\n"
             "mu, logvar = tf.layers.dense(h, 2), tf.layers.dense(h, 2)\n"
             "z = mu + tf.exp(0.5 * logvar) * tf.random_normal(tf.shape(mu))"),
    ("code", "sess = tf.InteractiveSession()\nsess.run(tf.global_variables_initializer())"),
])


def notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": TORCH_KERNEL, "language_info": {"name": "python"}}
    for index, (kind, source) in enumerate(cells):
        cell = nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source)
        cell.id = f"cell-{index}"
        nb.cells.append(cell)
    return nb


def with_bug(cells: list[tuple[str, str]], old: str, new: str) -> list[tuple[str, str]]:
    changed = [(kind, source.replace(old, new)) for kind, source in cells]
    if changed == cells:
        raise ValueError(f"the bug's text {old!r} is in no cell")
    return changed


def write_csv_subset(path: Path, count: int = 600) -> None:
    """The first ``count`` MNIST training images as CSV rows (label, 784 pixels), for shape 11."""
    from vaegrade.reference.data import load_dataset

    mnist = load_dataset("mnist")
    rows = [",".join(map(str, [label, *image.reshape(-1)])) for label, image in zip(mnist.y_train[:count], mnist.x_train[:count])]
    path.write_text("\n".join(rows) + "\n")


def weights() -> None:
    """The trained weights the Keras 2 shape hands in: its notebook run as graded, 10 epochs on the
    60,000 training images (about a minute on a CPU)."""
    sys.path.insert(0, str(HERE.parent))
    from notebooks import train_as_graded

    train_as_graded(HERE / "keras2_add_loss" / "keras2_add_loss.ipynb", HERE.parents[1] / "rubrics" / "shapes" / "keras2_add_loss.yaml",
                    {"epochs": 10}, "vae.weights.h5", HERE / "keras2_add_loss" / "keras2_add_loss.weights.h5")


def main() -> None:
    write_csv_subset(HERE.parents[1] / "rubrics" / "shapes" / "files" / "mnist_subset.csv")
    for name, spec in SHAPES.items():
        folder = HERE / name / (spec["folder"] or "")
        folder.mkdir(parents=True, exist_ok=True)
        variants = {name: spec["cells"]} | {f"flawed_{bug}": with_bug(spec["cells"], *change)
                                             for bug, change in spec["bugs"].items()}
        for stem, cells in variants.items():
            nbformat.write(notebook(cells), folder / f"{stem}.ipynb")
            print(f"wrote {(folder / stem).relative_to(HERE)}.ipynb")


if __name__ == "__main__":
    main()
    if "--weights" in sys.argv:
        weights()
