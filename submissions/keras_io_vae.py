"""The keras.io "Variational AutoEncoder" example (fchollet, Keras 3), as the Keras VAE lab and
the VAE modification report hand it out: cells shared by their ``build.py`` scripts.

One change from keras.io: the model trains on the 60,000 training images only (keras.io
concatenates the test set), so the test digits the grader uses stay held out.
Source: https://keras.io/examples/generative/vae/
"""

IMPORTS = """import os
import time

os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np
import matplotlib.pyplot as plt
import tensorflow as tf
import keras
from keras import layers, ops

seed = 0
keras.utils.set_random_seed(seed)
epochs = 30
batch_size = 128"""

SAMPLING = """class Sampling(layers.Layer):
    \"\"\"Uses (z_mean, z_log_var) to sample z, the vector encoding a digit.\"\"\"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon"""

MODELS = """def build_encoder(latent_dim, conv_layers=2):
    encoder_inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    if conv_layers == 3:
        x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    return keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")


def build_decoder(latent_dim, conv_layers=2):
    latent_inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = layers.Reshape((7, 7, 64))(x)
    if conv_layers == 3:
        x = layers.Conv2DTranspose(64, 3, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(latent_inputs, decoder_outputs, name="decoder")"""

VAE = """class VAE(keras.Model):
    def __init__(self, encoder, decoder, reconstruction="bce", **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.reconstruction = reconstruction
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            if self.reconstruction == "bce":
                per_pixel = keras.losses.binary_crossentropy(data, reconstruction)
            else:  # squared error, summed over pixels like the BCE
                per_pixel = ops.mean(ops.square(data - reconstruction), axis=-1)
            reconstruction_loss = ops.mean(ops.sum(per_pixel, axis=(1, 2)))
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {
            "loss": self.total_loss_tracker.result(),
            "reconstruction_loss": self.reconstruction_loss_tracker.result(),
            "kl_loss": self.kl_loss_tracker.result(),
        }"""

DATA = """(x_train, _), (x_test, y_test) = keras.datasets.mnist.load_data()
mnist_digits = np.expand_dims(x_train, -1).astype("float32") / 255
test_digits = np.expand_dims(x_test, -1).astype("float32") / 255


def train(latent_dim, conv_layers=2, reconstruction="bce"):
    \"\"\"A VAE trained on the training digits; prints its final losses and training time.\"\"\"
    model = VAE(build_encoder(latent_dim, conv_layers), build_decoder(latent_dim, conv_layers), reconstruction)
    model.compile(optimizer=keras.optimizers.Adam())
    start = time.time()
    history = model.fit(mnist_digits, epochs=epochs, batch_size=batch_size, verbose=2)
    seconds = time.time() - start
    h = history.history
    print(f"latent_dim={latent_dim} conv_layers={conv_layers} loss={reconstruction}: final loss {h['loss'][-1]:.2f}, "
          f"reconstruction {h['reconstruction_loss'][-1]:.2f}, KL {h['kl_loss'][-1]:.2f}, trained in {seconds:.1f} s")
    return model, history"""
