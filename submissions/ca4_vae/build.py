"""Write Compulsory Assignment 4 (autoencoders and VAEs, Keras/TensorFlow on MNIST): handout,
reference and alternative solutions, flawed samples.
Usage: ``python submissions/ca4_vae/build.py`` (byte-stable); ``--weights`` also trains the
weights the reference hands in (``samples/reference_solution.weights.h5``: its notebook run as
graded, 4 epochs on the 60,000 training images, a few minutes on this machine's CPU).

The course's shape: Task 1, a convolutional autoencoder trained with binary cross-entropy and a
PCA of its latent codes; Task 2, a VAE (functional encoder and decoder, a `sampling` function
on ``[z_mean, z_log_var]``, the loss with a KL weight) trained at KL weights 0.1, 1 and 5, and
a discussion. Written for Keras 3 (a ``keras.Model`` with ``train_step``, as keras.io does).
Graded by rubrics/ca4_vae.yaml.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from notebooks import change, stub, train_as_graded, write  # noqa: E402

INTRO = """# Compulsory Assignment 4: Variational Autoencoders

Task 1 builds an autoencoder on MNIST and looks at its latent space with PCA; Task 2 turns it
into a variational autoencoder and studies the weight of the KL divergence term.

**Submission**: this notebook, run top to bottom, with your answers in the Markdown cells.
The auto-grader calls `sampling`, `vae_loss`, the models `vae_1` (KL weight 1) and its
`encoder` / `decoder`, and reads the histories `history_01`, `history_1` and `history_5`:
keep these names. Hand in `vae_1.weights.h5`, the trained weights the cell after the KL-weight
sweep saves, with the notebook: the grader judges your trained `vae_1` with them (and still
runs your training briefly, to see that it learns)."""

IMPORTS = """import numpy as np
import matplotlib.pyplot as plt
import tensorflow as tf
import keras
from keras import layers, ops

seed = 0
keras.utils.set_random_seed(seed)
epochs = 10
latent_dim = 2
input_shape = (28, 28, 1)"""

DATA = """# Load the MNIST dataset.
(x_train, _), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = np.reshape(x_train.astype("float32") / 255.0, (len(x_train), 28, 28, 1))
x_test = np.reshape(x_test.astype("float32") / 255.0, (len(x_test), 28, 28, 1))
print(x_train.shape, x_test.shape)"""

T1 = """## Task 1: an autoencoder

Build a convolutional autoencoder with a dense bottleneck of `latent_dim` units, train it with
binary cross-entropy, and show reconstructions of test images."""

AE = """inputs = layers.Input(shape=input_shape)
x = layers.Conv2D(16, 3, activation="relu", strides=2, padding="same")(inputs)
x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(x)
bottleneck = layers.Dense(latent_dim, name="bottleneck")(layers.Flatten()(x))
x = layers.Dense(7 * 7 * 32, activation="relu")(bottleneck)
x = layers.Reshape((7, 7, 32))(x)
x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
x = layers.Conv2DTranspose(16, 3, activation="relu", strides=2, padding="same")(x)
outputs = layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
autoencoder = keras.Model(inputs, outputs, name="autoencoder")
ae_encoder = keras.Model(inputs, bottleneck, name="ae_encoder")
autoencoder.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
autoencoder.fit(x_train, x_train, epochs=epochs, batch_size=64, shuffle=True, verbose=2)

reconstructed = autoencoder.predict(x_test[:10], verbose=0)
fig, axes = plt.subplots(2, 10, figsize=(10, 2))
for i in range(10):
    axes[0, i].imshow(x_test[i].squeeze(), cmap="gray")
    axes[1, i].imshow(reconstructed[i].squeeze(), cmap="gray")
    axes[0, i].axis("off")
    axes[1, i].axis("off")
plt.show()"""

PCA = """# PCA of the latent codes of 2,000 test images (the principal axes from an SVD of the centred codes)
codes = ae_encoder.predict(x_test[:2000], verbose=0)
centred = codes - codes.mean(axis=0)
_, _, axes_ = np.linalg.svd(centred, full_matrices=False)
projected = centred @ axes_[:2].T
plt.scatter(projected[:, 0], projected[:, 1], c=y_test[:2000], cmap="tab10", s=4)
plt.colorbar()
plt.title("PCA of the autoencoder's latent codes")
plt.show()"""

Q_PCA = """**Discussion (Task 1)**: what does the PCA plot show about the autoencoder's latent space?

Answers 1. The codes form clusters by digit, but the clusters are irregular and separated by
gaps: the autoencoder's latent space is not continuous, so points between clusters decode to
nothing meaningful."""

T2 = """## Task 2: a variational autoencoder

The encoder maps an image to `z_mean` and `z_log_var`; `sampling` draws `z` with the
reparameterization trick. The loss is the reconstruction term (binary cross-entropy summed
over the pixels) plus the KL divergence to N(0, I) weighted by `kl_weight`, averaged over the
batch."""

SAMPLING = """def sampling(args):
    \"\"\"z = z_mean + exp(z_log_var / 2) * epsilon, epsilon ~ N(0, I), from args = [z_mean, z_log_var].\"\"\"
    z_mean, z_log_var = args
    epsilon = keras.random.normal(shape=ops.shape(z_mean))
    return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def vae_loss(x, x_hat, z_mean, z_log_var, kl_weight=1.0):
    \"\"\"Mean over the batch of BCE summed over pixels + kl_weight * KL(N(z_mean, exp(z_log_var)) || N(0, I)).\"\"\"
    reconstruction_loss = ops.sum(keras.losses.binary_crossentropy(x, x_hat), axis=(1, 2))
    kl_loss = -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1)
    return ops.mean(reconstruction_loss + kl_weight * kl_loss)"""

VAE = """def build_encoder():
    encoder_inputs = layers.Input(shape=input_shape)
    x = layers.Conv2D(16, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Dense(16, activation="relu")(layers.Flatten()(x))
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = layers.Lambda(sampling, name="z")([z_mean, z_log_var])
    return keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")


def build_decoder():
    latent_inputs = layers.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 32, activation="relu")(latent_inputs)
    x = layers.Reshape((7, 7, 32))(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu", strides=2, padding="same")(x)
    decoded = layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(latent_inputs, decoded, name="decoder")


class VAE(keras.Model):
    def __init__(self, kl_weight, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder, self.kl_weight = build_encoder(), build_decoder(), kl_weight
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", "reconstruction_loss", "kl_loss")}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            x_hat = self.decoder(z)
            loss = vae_loss(data, x_hat, z_mean, z_log_var, self.kl_weight)
            reconstruction_loss = vae_loss(data, x_hat, z_mean, z_log_var, 0.0)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        kl_loss = -0.5 * ops.mean(ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1))
        for name, value in (("loss", loss), ("reconstruction_loss", reconstruction_loss), ("kl_loss", kl_loss)):
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


def train_vae(kl_weight):
    \"\"\"A VAE trained at this KL weight, and its Keras History.\"\"\"
    vae = VAE(kl_weight)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = vae.fit(x_train, epochs=epochs, batch_size=128, verbose=2)
    return vae, history"""

SWEEP = """# Adjust the weight of the KL divergence term: 0.1, 1 and 5.
vae_01, history_01 = train_vae(0.1)
vae_1, history_1 = train_vae(1.0)
vae_5, history_5 = train_vae(5.0)
for weight, history in [(0.1, history_01), (1, history_1), (5, history_5)]:
    h = history.history
    print(f"KL weight {weight}: loss {h['loss'][-1]:.2f}, reconstruction {h['reconstruction_loss'][-1]:.2f}, KL {h['kl_loss'][-1]:.2f}")"""

SAVE = """# Hand in the KL-weight-1 VAE's trained weights with this notebook. Keras 3 marks a model trained
# by its own train_step as built only once it is called; its encoder and decoder are built.
vae_1.built = True
vae_1.save_weights("vae_1.weights.h5")"""

PLOT = """def plot_latent_space(decoder, n=15, scale=2.0):
    grid = np.linspace(-scale, scale, n)
    figure = np.zeros((28 * n, 28 * n))
    codes = np.array([[xi, yi] for yi in grid[::-1] for xi in grid], dtype="float32")
    digits = decoder.predict(codes, verbose=0).reshape(n, n, 28, 28)
    for i in range(n):
        for j in range(n):
            figure[i * 28:(i + 1) * 28, j * 28:(j + 1) * 28] = digits[i, j]
    plt.figure(figsize=(6, 6))
    plt.imshow(figure, cmap="Greys_r")
    plt.axis("off")
    plt.show()


for vae in (vae_01, vae_1, vae_5):
    plot_latent_space(vae.decoder)"""

Q_DISCUSS = """# Discussion

1. Adjust the weight of the KL divergence term in the VAE loss function (0.1, 1 and 5), run the
   model with each weight and observe the results.
2. Discuss how each change in the KL weight affected the VAE's performance. Were the effects
   consistent with your expectations, and why or why not? Consider the reconstructions, the
   loss values and the continuity of the latent space.

### Answers

1. I trained the VAE at the three weights above and plotted each decoder's latent space.

2. With a low KL weight the model mostly minimises the reconstruction term, giving high-quality
reconstructions and the lowest reconstruction loss, but the latent space is not regularized:
clusters with gaps between them. With a high KL weight the reconstructions are blurry, the KL
term is small and the latent space is continuous and close to the standard Gaussian. This is
as expected: the KL weight trades reconstruction quality against the regularity of the latent
space."""


def cells(sampling=SAMPLING, vae=VAE, answers=True, pca=Q_PCA, discuss=Q_DISCUSS):
    """The solution's cells; the handout passes TODO stubs and ``answers=False``."""
    def answer(text, marker):
        return text if answers else text.split(marker)[0] + marker
    return [
        ("md", INTRO), ("code", IMPORTS), ("code", DATA), ("md", T1), ("code", AE), ("code", PCA),
        ("md", answer(pca, "Answers 1.")), ("md", T2), ("code", sampling), ("code", vae), ("code", SWEEP),
        ("code", SAVE), ("code", PLOT), ("md", answer(discuss, "### Answers")),
    ]


ALTERNATIVE_SAMPLING = '''def sampling(args):
    z_mean, z_log_var = args
    sigma = tf.exp(z_log_var / 2.0)
    return z_mean + sigma * tf.random.normal(tf.shape(z_mean))


def vae_loss(x, x_hat, z_mean, z_log_var, kl_weight=1.0):
    x, x_hat = tf.reshape(x, (-1, 784)), tf.clip_by_value(tf.reshape(x_hat, (-1, 784)), 1e-7, 1 - 1e-7)
    reconstruction = -tf.reduce_sum(x * tf.math.log(x_hat) + (1 - x) * tf.math.log(1 - x_hat), axis=1)
    kl = 0.5 * tf.reduce_sum(tf.exp(z_log_var) + tf.square(z_mean) - 1.0 - z_log_var, axis=1)
    return tf.reduce_mean(reconstruction + kl_weight * kl)'''

ALTERNATIVE_VAE = VAE.replace('''def build_encoder():
    encoder_inputs = layers.Input(shape=input_shape)
    x = layers.Conv2D(16, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Dense(16, activation="relu")(layers.Flatten()(x))''', '''def build_encoder():
    # a dense encoder and decoder instead of convolutions
    encoder_inputs = layers.Input(shape=input_shape)
    x = layers.Dense(256, activation="relu")(layers.Flatten()(encoder_inputs))''').replace('''    x = layers.Dense(7 * 7 * 32, activation="relu")(latent_inputs)
    x = layers.Reshape((7, 7, 32))(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu", strides=2, padding="same")(x)
    decoded = layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)''', '''    x = layers.Dense(256, activation="relu")(latent_inputs)
    decoded = layers.Reshape(input_shape)(layers.Dense(784, activation="sigmoid")(x))''')


def main() -> None:
    solution = cells()
    write(HERE / "handout.ipynb", cells(sampling=stub(SAMPLING), answers=False))
    samples = HERE / "samples"
    write(samples / "reference_solution.ipynb", solution)
    write(samples / "alternative_dense_tf_ops.ipynb", cells(sampling=ALTERNATIVE_SAMPLING, vae=ALTERNATIVE_VAE))
    # train_step forgets to pass the KL weight: every run trains at weight 1
    write(samples / "flawed_kl_weight_ignored.ipynb",
          change(solution, "loss = vae_loss(data, x_hat, z_mean, z_log_var, self.kl_weight)",
                 "loss = vae_loss(data, x_hat, z_mean, z_log_var)"))
    # exp(z_log_var) used as the standard deviation
    write(samples / "flawed_sampling_std_is_var.ipynb",
          change(solution, "return z_mean + ops.exp(0.5 * z_log_var) * epsilon", "return z_mean + ops.exp(z_log_var) * epsilon"))
    # the loss summed over the batch instead of averaged (Adam trains the same; the values are B times larger)
    write(samples / "flawed_loss_summed_over_batch.ipynb",
          change(solution, "return ops.mean(reconstruction_loss + kl_weight * kl_loss)", "return ops.sum(reconstruction_loss + kl_weight * kl_loss)"))
    # the discussion left unanswered
    write(samples / "flawed_no_discussion.ipynb", cells(discuss=Q_DISCUSS.split("### Answers")[0] + "### Answers\n\n1.\n\n2."))


if __name__ == "__main__":
    main()
    if "--weights" in sys.argv:
        train_as_graded(HERE / "samples" / "reference_solution.ipynb", HERE.parents[1] / "rubrics" / "ca4_vae.yaml",
                        {"epochs": 4}, "vae_1.weights.h5", HERE / "samples" / "reference_solution.weights.h5")
