"""The pretrained classifiers ("judges") that judge sample quality, one per data set.

A small CNN trained by ``python -m vaegrade.reference.train_classifier --dataset NAME`` on the
training images; its weights ship as a plain state dict (the data set's ``judge`` file:
``reference/assets/classifier.pt`` for MNIST, ``classifier_fashion_mnist.pt`` for Fashion-MNIST),
loaded with ``weights_only=True`` after the file's sha256 is checked against the data set's
``judge_sha256`` (:data:`vaegrade.reference.data.DATASETS`). Test accuracies
are recorded in ``reference/assets/classifier.PROVENANCE.md``.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from vaegrade.reference.data import DATASETS, Dataset, verify_sha256

#: width of the penultimate layer, the feature space of the Frechet distance.
FEATURE_DIM = 128


class ClassifierError(RuntimeError):
    """The classifier's weights are missing or do not match the pinned sha256."""


class MaxPool2x2(nn.Module):
    """``nn.MaxPool2d(2)`` on even sizes, as the maximum of the four strided views: bit-identical
    outputs, about 8x faster on one CPU thread for the MNIST judge's first activations (a batch of 100, 32 channels)
    (0.004 s against 0.028 s a batch, measured with torch 2.13 on this project's 2-core machine),
    where pooling took a quarter of the judge's time. (B, C, H, W) -> (B, C, H/2, W/2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.maximum(torch.maximum(x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2]),
                             torch.maximum(x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]))


class JudgeCNN(nn.Module):
    """Conv(32)x2 -> pool -> Conv(64)x2 -> pool -> FC(128) -> FC(classes), batch norm throughout.

    Input: (B, 1, H, W) float32 in [0, 1], (H, W) the data set's ``image_shape`` (multiples of 4).
    Output of ``forward``: (B, classes) logits.
    """

    def __init__(self, dataset: Dataset = DATASETS["mnist"]) -> None:
        super().__init__()
        height, width = dataset.image_shape

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.conv = nn.Sequential(
            *block(1, 32), *block(32, 32), MaxPool2x2(),
            *block(32, 64), *block(64, 64), MaxPool2x2(),
            nn.Flatten(),
        )
        self.embed = nn.Sequential(
            nn.Linear(64 * (height // 4) * (width // 4), FEATURE_DIM, bias=False), nn.BatchNorm1d(FEATURE_DIM), nn.ReLU()
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, len(dataset.classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) images in [0, 1] -> (B, 128) penultimate activations."""
        return self.embed(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))


def load_weights(dataset: str = "mnist") -> JudgeCNN:
    """The judge of ``dataset`` as trained: :class:`JudgeCNN` with its pinned weights, in eval
    mode (what :func:`load_classifier` folds for grading).

    Raises:
        ClassifierError: the weights file is missing or its sha256 differs from the pinned one.
    """
    data = DATASETS[dataset]
    verify_sha256(data.judge, data.judge_sha256, ClassifierError,
                  f"python -m vaegrade.reference.train_classifier --dataset {dataset}")
    model = JudgeCNN(data)
    model.load_state_dict(torch.load(data.judge, map_location="cpu", weights_only=True))
    return model.eval()


@lru_cache(maxsize=None)
def load_classifier(dataset: str = "mnist") -> JudgeCNN:
    """The judge of ``dataset`` ready to classify: :func:`load_weights` with each batch norm
    folded into the convolution before it (``torch.nn.utils.fusion.fuse_conv_bn_eval``) and its
    weights channels-last, the layout oneDNN's convolutions run fastest in. The same function of
    the images (features within 1e-5 of the trained model's, ``tests/unit/reference``) for about half
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
        images: (N, 1, H, W) float32 in [0, 1], the data set's image shape (or (N, H * W), reshaped).
    Returns:
        probs (N, classes) float32 softmax probabilities; features (N, 128) float32.
    """
    model = load_classifier(dataset)
    images = images.reshape(-1, *DATASETS[dataset].channel_shape).float().contiguous(memory_format=torch.channels_last)
    probs, feats = [], []
    for start in range(0, len(images), batch_size):
        f = model.features(images[start : start + batch_size])
        feats.append(f)
        probs.append(torch.softmax(model.head(f), dim=1))
    return torch.cat(probs), torch.cat(feats)
