"""The pretrained classifiers ("judges") that judge sample quality, one per data set.

A small CNN trained by ``python -m reference.train_classifier --dataset NAME`` on the 60,000
training images; its weights ship as a plain state dict (``reference/assets/classifier.pt`` for
MNIST, ``classifier_fashion_mnist.pt`` for Fashion-MNIST), loaded with ``weights_only=True``
after the file's sha256 is checked against the one pinned in :data:`JUDGES`. Test accuracies
are recorded in ``reference/assets/classifier.PROVENANCE.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from reference.data import ASSETS, DATASETS, verify_sha256


@dataclass(frozen=True)
class Judge:
    """A data set's classifier: its weights file and their pinned sha256."""

    dataset: str
    weights: Path
    sha256: str


#: One judge per data set of :data:`reference.data.DATASETS`; each sha256 is printed by
#: ``python -m reference.train_classifier --dataset NAME``.
JUDGES = {
    "mnist": Judge("mnist", ASSETS / "classifier.pt",
                   "6bb991acfed61d3c8a41c90b1420fe215edbd91baf627ab294045d1322eed183"),
    "fashion_mnist": Judge("fashion_mnist", ASSETS / "classifier_fashion_mnist.pt",
                           "386a16bfe13f3d65a1778fbd1b9408465a601539beefbe4c3234ee6f914d7f50"),
}
assert set(JUDGES) == set(DATASETS), "every data set needs a judge"
CLASSIFIER_WEIGHTS = JUDGES["mnist"].weights
CLASSIFIER_SHA256 = JUDGES["mnist"].sha256
#: width of the penultimate layer, the feature space of the Frechet distance.
FEATURE_DIM = 128


class ClassifierError(RuntimeError):
    """The classifier's weights are missing or do not match the pinned sha256."""


class MaxPool2x2(nn.Module):
    """``nn.MaxPool2d(2)`` on even sizes, as the maximum of the four strided views: bit-identical
    outputs, about 8x faster on one CPU thread for the judge's (100, 32, 28, 28) activations
    (0.004 s against 0.028 s a batch, measured with torch 2.13 on this project's 2-core machine),
    where pooling took a quarter of the judge's time. (B, C, H, W) -> (B, C, H/2, W/2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.maximum(torch.maximum(x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2]),
                             torch.maximum(x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]))


class MnistCNN(nn.Module):
    """Conv(32)x2 -> pool -> Conv(64)x2 -> pool -> FC(128) -> FC(10), batch norm throughout.

    Input: (B, 1, 28, 28) float32 in [0, 1]. Output of ``forward``: (B, 10) logits.
    """

    def __init__(self) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.conv = nn.Sequential(
            *block(1, 32), *block(32, 32), MaxPool2x2(),
            *block(32, 64), *block(64, 64), MaxPool2x2(),
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


def load_weights(dataset: str = "mnist") -> MnistCNN:
    """The judge of ``dataset`` as trained: :class:`MnistCNN` with its pinned weights, in eval
    mode (what :func:`load_classifier` folds for grading).

    Raises:
        ClassifierError: the weights file is missing or its sha256 differs from the pinned one.
    """
    judge = JUDGES[dataset]
    verify_sha256(judge.weights, judge.sha256, ClassifierError, f"python -m reference.train_classifier --dataset {dataset}")
    model = MnistCNN()
    model.load_state_dict(torch.load(judge.weights, map_location="cpu", weights_only=True))
    return model.eval()


@lru_cache(maxsize=None)
def load_classifier(dataset: str = "mnist") -> MnistCNN:
    """The judge of ``dataset`` ready to classify: :func:`load_weights` with each batch norm
    folded into the convolution before it (``torch.nn.utils.fusion.fuse_conv_bn_eval``) and its
    weights channels-last, the layout oneDNN's convolutions run fastest in. The same function of
    the images (features within 1e-5 of the trained model's, ``tests/reference``) for about half
    the CPU (``python benchmarks/bench_judge.py``).

    Raises:
        ClassifierError: the weights file is missing or its sha256 differs from the pinned one.
    """
    model = load_weights(dataset)
    layers: list[nn.Module] = []
    for layer in model.conv:
        if isinstance(layer, nn.BatchNorm2d):
            layers[-1] = fuse_conv_bn_eval(layers[-1], layer)
        else:
            layers.append(layer)
    model.conv = nn.Sequential(*layers)
    return model.to(memory_format=torch.channels_last)


@torch.no_grad()
def classify(images: torch.Tensor, batch_size: int = 100, dataset: str = "mnist") -> tuple[torch.Tensor, torch.Tensor]:
    """Class probabilities and penultimate features of images, by the judge of ``dataset``.

    Batches of 100 fit the CPU's caches: one batch of 1,000 images costs about 1.6x the CPU of ten
    batches of 100 (``python benchmarks/bench_judge.py``).

    Args:
        images: (N, 1, 28, 28) float32 in [0, 1] (or (N, 784), reshaped).
    Returns:
        probs (N, 10) float32 softmax probabilities; features (N, 128) float32.
    """
    model = load_classifier(dataset)
    images = images.reshape(-1, 1, 28, 28).float().contiguous(memory_format=torch.channels_last)
    probs, feats = [], []
    for start in range(0, len(images), batch_size):
        f = model.features(images[start : start + batch_size])
        feats.append(f)
        probs.append(torch.softmax(model.head(f), dim=1))
    return torch.cat(probs), torch.cat(feats)
