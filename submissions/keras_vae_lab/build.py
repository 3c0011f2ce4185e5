"""Write the Keras VAE lab (the keras.io "Variational AutoEncoder" example, extended): handout,
reference and alternative solutions, flawed samples.
Usage: ``python submissions/keras_vae_lab/build.py`` (byte-stable).

Students start from the keras.io example (conv encoder, a ``Sampling`` layer whose
reparameterization they write, ``VAE(keras.Model)`` with a custom ``train_step``, latent_dim 2),
generate one then ten samples from the prior,
retrain with a 3-D latent space and show slices of it, implement
``interpolate_points(p1, p2, n_steps)`` between the codes of two test digits, and answer
questions with references. Graded by rubrics/keras_vae_lab.yaml.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import keras_io_vae as base  # noqa: E402
from notebooks import change, stub, write  # noqa: E402

INTRO = """# Lab: variational autoencoders in Keras

We start from the keras.io example "Variational AutoEncoder" (F. Chollet), trained on MNIST
with a 2-D latent space, and explore what it learned. Run the example, then do the four
exercises and answer the questions at the end (cite your sources, and list them under a
**References** heading).

The auto-grader calls your `Sampling` layer, `interpolate_points`, and the trained `vae`
(its `encoder` and `decoder`): keep these names."""

TRAIN = """vae, history = train(latent_dim=2)"""

ONE_SAMPLE = """## Exercise 1: sampling from the prior
Generate one sample, then ten samples, from the prior N(0, I) and show them."""

SAMPLES = """z = np.random.normal(size=(1, 2)).astype("float32")
plt.imshow(vae.decoder.predict(z, verbose=0)[0].squeeze(), cmap="gray")
plt.axis("off")
plt.show()

z = np.random.normal(size=(10, 2)).astype("float32")
samples = vae.decoder.predict(z, verbose=0)
fig, axes = plt.subplots(1, 10, figsize=(10, 1.2))
for ax, image in zip(axes, samples):
    ax.imshow(image.squeeze(), cmap="gray")
    ax.axis("off")
plt.show()"""

THREE_D = """## Exercise 2: a 3-D latent space
Retrain with `latent_dim = 3` and show slices of the latent space: decode a grid over the first
two dimensions at a few values of the third."""

SLICES = """vae3, history3 = train(latent_dim=3)
grid = np.linspace(-2, 2, 8)
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, third in zip(axes, (-1.0, 0.0, 1.0)):
    codes = np.array([[a, b, third] for b in grid[::-1] for a in grid], dtype="float32")
    digits = vae3.decoder.predict(codes, verbose=0).reshape(8, 8, 28, 28)
    ax.imshow(np.block([[digits[i, j] for j in range(8)] for i in range(8)]), cmap="gray")
    ax.set_title(f"slice z3 = {third}")
    ax.axis("off")
plt.show()"""

INTERP_MD = """## Exercise 3: interpolation
Implement `interpolate_points(p1, p2, n_steps)`: `n_steps` points on the line from `p1` to `p2`
(numpy arrays of shape `(latent_dim,)`, both included), as an array `(n_steps, latent_dim)`.
Interpolate between the codes (`z_mean`) of two test digits and decode the path."""

INTERPOLATE = """def interpolate_points(p1, p2, n_steps=10):
    \"\"\"n_steps points on the line from p1 to p2, endpoints included: (n_steps, latent_dim).\"\"\"
    ratios = np.linspace(0, 1, num=n_steps)
    vectors = [(1.0 - ratio) * p1 + ratio * p2 for ratio in ratios]
    return np.asarray(vectors)


z_mean, _, _ = vae.encoder.predict(test_digits[:2], verbose=0)
path = vae.decoder.predict(interpolate_points(z_mean[0], z_mean[1]), verbose=0)
fig, axes = plt.subplots(1, 10, figsize=(10, 1.2))
for ax, image in zip(axes, path):
    ax.imshow(image.squeeze(), cmap="gray")
    ax.axis("off")
plt.show()"""

LOSSES = """h = history.history
print(f"final reconstruction loss {h['reconstruction_loss'][-1]:.2f}, final KL {h['kl_loss'][-1]:.2f}")"""

QUESTIONS = """## Questions

### 1. Does one term of the loss dominate?
**Answer:** Yes: the reconstruction term (about 150 to 200 nats per image) is far larger than
the KL term (a few nats with a 2-D latent space), so the reconstruction term dominates the
total loss and its gradients [1].

### 2. Sampling from the posterior or using its mean?
**Answer:** Sampling z from the posterior N(z_mean, exp(z_log_var)) during training is what
makes the decoder robust to nearby codes and regularizes the latent space; at test time the
posterior mean is the better code for reconstruction, since it is the most probable one and
has no noise [1].

### 3. Tasks where autoencoders beat VAEs, and vice versa
**Answer:** Autoencoders are better for compression, denoising and reconstruction, where sharp
outputs matter and no generation is needed. VAEs are better for generation and sampling,
interpolation and semi-supervised learning, thanks to their continuous, regularized latent
space [1, 2].

## References
[1] D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014, arXiv:1312.6114.
[2] C. Doersch, "Tutorial on Variational Autoencoders", 2016, arXiv:1606.05908."""


HANDOUT_QUESTIONS = """## Questions

### 1. Does one term of the loss dominate?
**Answer:**

### 2. Sampling from the posterior or using its mean?
**Answer:**

### 3. Tasks where autoencoders beat VAEs, and vice versa
**Answer:**

## References"""


HANDOUT_SAMPLING = base.SAMPLING.replace(
    "        return z_mean + ops.exp(0.5 * z_log_var) * epsilon",
    "        # TODO: the reparameterization trick: z from N(z_mean, exp(z_log_var)), differentiable\n"
    "        raise NotImplementedError")


def cells(sampling=base.SAMPLING, interpolate=INTERPOLATE, samples=SAMPLES, questions=QUESTIONS, slices=SLICES):
    return [
        ("md", INTRO), ("code", base.IMPORTS), ("md", "## The keras.io example"), ("code", sampling),
        ("code", base.MODELS), ("code", base.VAE), ("code", base.DATA), ("code", TRAIN), ("code", LOSSES),
        ("md", ONE_SAMPLE), ("code", samples), ("md", THREE_D), ("code", slices),
        ("md", INTERP_MD), ("code", interpolate), ("md", questions),
    ]


ALTERNATIVE_INTERPOLATE = INTERPOLATE.replace('''    ratios = np.linspace(0, 1, num=n_steps)
    vectors = [(1.0 - ratio) * p1 + ratio * p2 for ratio in ratios]
    return np.asarray(vectors)''', '''    t = np.linspace(0.0, 1.0, n_steps)[:, None]
    return p1[None, :] + t * (p2 - p1)[None, :]''')

ALTERNATIVE_SAMPLING = '''class Sampling(layers.Layer):
    """z = z_mean + sigma * epsilon with sigma = sqrt(exp(z_log_var)), epsilon from tf.random."""

    def call(self, inputs):
        z_mean, z_log_var = inputs
        sigma = tf.sqrt(tf.exp(z_log_var))
        return z_mean + sigma * tf.random.normal(tf.shape(z_mean))'''

ALTERNATIVE_QUESTIONS = QUESTIONS.replace("[1, 2]", "(Kingma and Welling, 2014; Doersch, 2016)").replace(
    "[1]", "(Kingma and Welling, 2014)").replace('''## References
[1] D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014, arXiv:1312.6114.
[2] C. Doersch, "Tutorial on Variational Autoencoders", 2016, arXiv:1606.05908.''', '''## References
- Doersch, C. (2016). Tutorial on Variational Autoencoders. arXiv:1606.05908.
- Kingma, D. P. and Welling, M. (2014). Auto-Encoding Variational Bayes. ICLR. arXiv:1312.6114.''')


def main() -> None:
    solution = cells()
    handout = cells(sampling=HANDOUT_SAMPLING, interpolate=stub(INTERPOLATE), questions=HANDOUT_QUESTIONS,
                    samples="# TODO: one sample, then ten samples from the prior",
                    slices="# TODO: train a VAE with latent_dim=3 (vae3) and show slices of its latent space")
    write(HERE / "handout.ipynb", handout)
    samples = HERE / "samples"
    write(samples / "reference_solution.ipynb", solution)
    write(samples / "alternative_tf_sampling.ipynb",
          cells(sampling=ALTERNATIVE_SAMPLING, interpolate=ALTERNATIVE_INTERPOLATE, questions=ALTERNATIVE_QUESTIONS))
    # an "ease-in" path: the ratios squared, so the steps are not evenly spaced on the line
    write(samples / "flawed_interpolation_not_linear.ipynb",
          change(solution, "ratios = np.linspace(0, 1, num=n_steps)", "ratios = np.linspace(0, 1, num=n_steps) ** 2"))
    # exp(z_log_var) used as the standard deviation in the Sampling layer
    write(samples / "flawed_sampling_std_is_var.ipynb",
          change(solution, "return z_mean + ops.exp(0.5 * z_log_var) * epsilon", "return z_mean + ops.exp(z_log_var) * epsilon"))
    # the answers cite nothing, and there is no references list
    uncited = QUESTIONS.split("## References")[0].replace(" [1, 2]", "").replace(" [1]", "").rstrip()
    write(samples / "flawed_no_references.ipynb", cells(questions=uncited))
    # the ten samples are generated but never shown
    write(samples / "flawed_samples_not_shown.ipynb",
          cells(samples=SAMPLES.split("z = np.random.normal(size=(10, 2))")[0].replace(
              'plt.imshow(vae.decoder.predict(z, verbose=0)[0].squeeze(), cmap="gray")\nplt.axis("off")\nplt.show()\n\n',
              "sample = vae.decoder.predict(z, verbose=0)\nprint(sample.shape)\n")))


if __name__ == "__main__":
    main()
