"""The pretrained MNIST classifier that judges sample quality.

A small CNN trained by ``python -m reference.train_classifier`` on the 60,000 training images;
its weights ship as ``reference/assets/classifier.pt`` (a plain state dict), loaded with
``weights_only=True`` after the file's sha256 is checked against :data:`CLASSIFIER_SHA256`.
Its accuracy on the 10,000 test images is recorded in ``reference/assets/classifier.PROVENANCE.md``.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from reference.data import ASSETS, verify_sha256

CLASSIFIER_WEIGHTS = ASSETS / "classifier.pt"
#: sha256 of ``reference/assets/classifier.pt``, printed by ``python -m reference.train_classifier``.
CLASSIFIER_SHA256 = "6bb991acfed61d3c8a41c90b1420fe215edbd91baf627ab294045d1322eed183"
#: width of the penultimate layer, the feature space of the Frechet distance.
FEATURE_DIM = 128


class ClassifierError(RuntimeError):
    """The classifier's weights are missing or do not match the pinned sha256."""


class MnistCNN(nn.Module):
    """Conv(32)x2 -> pool -> Conv(64)x2 -> pool -> FC(128) -> FC(10), batch norm throughout.

    Input: (B, 1, 28, 28) float32 in [0, 1]. Output of ``forward``: (B, 10) logits.
    """

    def __init__(self) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.conv = nn.Sequential(
            *block(1, 32), *block(32, 32), nn.MaxPool2d(2),
            *block(32, 64), *block(64, 64), nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.embed = nn.Sequential(
            nn.Linear(64 * 7 * 7, FEATURE_DIM, bias=False), nn.BatchNorm1d(FEATURE_DIM), nn.ReLU()
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) images in [0, 1] -> (B, 128) penultimate activations."""
        return self.embed(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))


@lru_cache(maxsize=1)
def load_classifier() -> MnistCNN:
    """The pretrained classifier in eval mode, weights verified by sha256.

    Raises:
        ClassifierError: the weights file is missing or its sha256 differs from the pinned one.
    """
    verify_sha256(CLASSIFIER_WEIGHTS, CLASSIFIER_SHA256, ClassifierError, "python -m reference.train_classifier")
    model = MnistCNN()
    model.load_state_dict(torch.load(CLASSIFIER_WEIGHTS, map_location="cpu", weights_only=True))
    return model.eval()


@torch.no_grad()
def classify(images: torch.Tensor, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Class probabilities and penultimate features of images.

    Args:
        images: (N, 1, 28, 28) float32 in [0, 1] (or (N, 784), reshaped).
    Returns:
        probs (N, 10) float32 softmax probabilities; features (N, 128) float32.
    """
    model = load_classifier()
    images = images.reshape(-1, 1, 28, 28).float()
    probs, feats = [], []
    for start in range(0, len(images), batch_size):
        f = model.features(images[start : start + batch_size])
        feats.append(f)
        probs.append(torch.softmax(model.head(f), dim=1))
    return torch.cat(probs), torch.cat(feats)
