"""Sample-quality and reconstruction metrics built on the pretrained MNIST classifier.

Reference values for the 10,000 real test images and for uniform noise are in the README; they
are printed by ``python -m vaegrade.reference.metrics``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vaegrade.reference.data import ASSETS, DATASETS, images_to_tensor, load_dataset

if TYPE_CHECKING:  # annotations only: imported where used, so a rubric loads without it
    from torch import Tensor


@dataclass(frozen=True)
class SampleQuality:
    """Classifier-based quality of a set of generated images.

    Attributes:
        confidence: mean over images of the max softmax probability, in [0.1, 1].
        class_entropy: entropy of the mean class distribution, nats; ln 10 = 2.303 is perfect coverage.
        classes_covered: classes that are the classifier's top label for at least 1% of images.
        inception_score: exp(E_x KL(p(y|x) || p(y))) in [1, 10] (Salimans et al., 2016, with
            the MNIST classifier in place of Inception).
        frechet_distance: Frechet distance between Gaussians fitted to the classifier's
            penultimate features of the images and of the 10,000 test images (Heusel et al., 2017).
    """

    confidence: float
    class_entropy: float
    classes_covered: int
    inception_score: float
    frechet_distance: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def inception_score(probs: Tensor) -> float:
    """exp(mean_x KL(p(y|x) || p(y))) for class probabilities (N, C); p(y) is their mean."""
    probs = probs.double().clamp_min(1e-12)
    marginal = probs.mean(dim=0, keepdim=True)
    return math.exp((probs * (probs.log() - marginal.log())).sum(dim=1).mean().item())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) between two Gaussians.

    Tr (S1 S2)^(1/2) is the sum of the square roots of the eigenvalues of S1 S2 (real and
    non-negative for covariances; rounding's tiny negative or complex parts are dropped), as
    torchmetrics' FID computes it: 0.01 s for F = 128 where ``scipy.linalg.sqrtm`` of the product
    took 0.08 s, with the same distance to 1e-12 (``tests/unit/reference/test_classifier_metrics.py``).

    Args:
        mu1, mu2: (F,) means; sigma1, sigma2: (F, F) covariances.
    Source: Dowson & Landau (1982); the FID of Heusel et al. (2017), eq. (6).
    """
    trace_covmean = np.sqrt(np.linalg.eigvals(sigma1 @ sigma2).astype(complex)).real.sum()
    distance = ((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_covmean
    return max(float(distance), 0.0)  # rounding can leave -1e-12 for identical sets


def feature_statistics(features: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and covariance (F, F), float64, of features (N, F)."""
    array = features.double().numpy()
    return array.mean(axis=0), np.cov(array, rowvar=False)


def statistics_path(dataset: str) -> Path:
    """Where the test set's feature statistics are shipped (``reference/assets/<dataset>_test_statistics.npz``)."""
    return ASSETS / f"{dataset}_test_statistics.npz"


def nearest_path(dataset: str) -> Path:
    """Where the test images' nearest-training distances are shipped (``reference/assets/<dataset>_test_nearest.npz``)."""
    return ASSETS / f"{dataset}_test_nearest.npz"


def _provenance(dataset: str, judged: bool) -> dict[str, str]:
    """The sha256 a shipped array depends on: the data set's, and its judge's when ``judged``."""
    data = DATASETS[dataset]
    return {"data_sha256": data.sha256, **({"classifier_sha256": data.judge_sha256} if judged else {})}


def _shipped(path: Path, provenance: dict[str, str]) -> dict[str, np.ndarray] | None:
    """The arrays of a shipped ``.npz`` when it records exactly ``provenance``, else None (missing or stale)."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as stored:
        if any(key not in stored.files or str(stored[key]) != value for key, value in provenance.items()):
            return None
        return {name: stored[name] for name in stored.files if name not in provenance}


@lru_cache(maxsize=None)
def test_set_statistics(dataset: str = "mnist") -> tuple[np.ndarray, np.ndarray]:
    """Feature mean (128,) and covariance (128, 128), float64, of the 10,000 test images of
    ``dataset`` by its judge: read from the shipped file when it was computed from the current
    judge and data (their sha256 are recorded in it), else computed (about 12 s on 2 CPU cores).
    Written by ``python -m vaegrade.reference.metrics --write-statistics``."""
    stored = _shipped(statistics_path(dataset), _provenance(dataset, judged=True))
    return (stored["mu"], stored["sigma"]) if stored else computed_test_set_statistics(dataset)


def computed_test_set_statistics(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`test_set_statistics` computed from the images, never read from the shipped file."""
    from vaegrade.reference.classifier import classify
    _, features = classify(images_to_tensor(load_dataset(dataset).x_test), dataset=dataset)
    return feature_statistics(features)


def nearest_training(images: np.ndarray, train: Tensor, norms: Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each image (N, ...) in [0, 1]: the pixel L2 distance (float64) to its nearest training
    image in ``train`` (M, H * W) float32 in [0, 1], and that image's index (int64). Exact search, in
    chunks of 100 images. ``norms``: ``train``'s (M,) squared row norms, if the caller keeps them
    (:func:`squared_norms`; computed here otherwise)."""
    import torch
    norms = squared_norms(train) if norms is None else norms
    distances, indices = [], []
    for chunk in torch.from_numpy(images.reshape(len(images), -1).astype(np.float32)).split(100):
        squared = (chunk ** 2).sum(dim=1, keepdim=True) + norms - 2 * chunk @ train.T
        best = squared.min(dim=1)
        distances.append(best.values.clamp_min(0).sqrt())
        indices.append(best.indices)
    return torch.cat(distances).double().numpy(), torch.cat(indices).numpy()


def squared_norms(train: Tensor) -> Tensor:
    """(M,) squared L2 norms of ``train``'s (M, D) rows, for :func:`nearest_training`."""
    return (train ** 2).sum(dim=1)


def training_images(x_train: np.ndarray) -> Tensor:
    """uint8 training images (M, H, W) -> (M, H * W) float32 in [0, 1], the space of
    :func:`nearest_training`. Divided in float32 (0.1 s for 60,000 images; a float64 detour
    took 1.7 s and 376 MB)."""
    import torch
    return torch.from_numpy(x_train.reshape(len(x_train), -1)).to(torch.float32).div_(255.0)


@lru_cache(maxsize=None)
def test_set_nearest_distances(dataset: str = "mnist") -> np.ndarray:
    """(10000,) float64: each test image's pixel L2 distance to its nearest training image
    (all 60,000): the held-out reference of the data-copying test (Meehan et al., 2020). Read
    from the shipped file when it was computed from the current data (its sha256 is recorded in
    it), else computed (about 30 s on 2 CPU cores). Written by ``python -m vaegrade.reference.metrics --write-statistics``."""
    stored = _shipped(nearest_path(dataset), _provenance(dataset, judged=False))
    return stored["distances"] if stored else computed_test_set_nearest_distances(dataset)


def computed_test_set_nearest_distances(dataset: str) -> np.ndarray:
    """:func:`test_set_nearest_distances` computed from the images, never read from the shipped file."""
    data = load_dataset(dataset)
    return nearest_training((data.x_test / 255.0).astype(np.float32), training_images(data.x_train))[0]


def write_statistics() -> None:
    """Write every data set's shipped test-set feature statistics and nearest-training distances,
    each with the sha256 it depends on."""
    for dataset in DATASETS:
        mu, sigma = computed_test_set_statistics(dataset)
        shipped = {statistics_path(dataset): ({"mu": mu, "sigma": sigma}, _provenance(dataset, judged=True)),
                   nearest_path(dataset): ({"distances": computed_test_set_nearest_distances(dataset)},
                                           _provenance(dataset, judged=False))}
        for path, (arrays, provenance) in shipped.items():
            np.savez(path, **arrays, **{key: np.array(value) for key, value in provenance.items()})
            print(f"wrote {path}")


def sample_quality(images: Tensor, dataset: str = "mnist") -> SampleQuality:
    """All :class:`SampleQuality` metrics of images (N, 1, H, W) in [0, 1], by ``dataset``'s judge."""
    from vaegrade.reference.classifier import classify
    return quality_from_classifier(*classify(images, dataset=dataset), dataset=dataset)


def quality_from_classifier(probs: Tensor, features: Tensor, dataset: str = "mnist") -> SampleQuality:
    """:class:`SampleQuality` from the judge's outputs on the images (see ``classify``):
    probs (N, classes) and penultimate features (N, 128); the Frechet distance is to ``dataset``'s test set."""
    import torch
    mean_probs = probs.double().mean(dim=0)
    shares = torch.bincount(probs.argmax(dim=1), minlength=probs.shape[1]).double() / len(probs)
    mu, sigma = feature_statistics(features)
    return SampleQuality(
        confidence=probs.max(dim=1).values.double().mean().item(),
        class_entropy=-(mean_probs * mean_probs.clamp_min(1e-12).log()).sum().item(),
        classes_covered=int((shares >= 0.01).sum().item()),
        inception_score=inception_score(probs),
        frechet_distance=frechet_distance(mu, sigma, *test_set_statistics(dataset)),
    )


def reconstruction_bce(x: Tensor, x_hat: Tensor) -> float:
    """Mean over images of the BCE summed over pixels, nats per image."""
    from vaegrade.reference.losses import bernoulli_reconstruction
    return bernoulli_reconstruction(x, x_hat).mean().item()


def main() -> None:
    """Print the metrics of real images and of uniform noise, for the README; with
    ``--write-statistics``, write the shipped test-set statistics instead."""
    import torch
    if "--write-statistics" in sys.argv[1:]:
        write_statistics()
        return
    mnist = DATASETS["mnist"]
    images = mnist.load()
    generator = torch.Generator().manual_seed(0)
    cases = {
        "MNIST test images (10,000)": images_to_tensor(images.x_test),
        "MNIST train images (first 10,000)": images_to_tensor(images.x_train[:10000]),
        "uniform noise (10,000)": torch.rand(10000, *mnist.channel_shape, generator=generator),
    }
    for name, images in cases.items():
        print(f"{name}: {sample_quality(images)}")


if __name__ == "__main__":
    main()
