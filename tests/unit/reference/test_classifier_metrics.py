"""The pretrained classifier and the sample-quality metrics, on the real test set and on noise."""

import dataclasses
import math
import shutil

import numpy as np
import pytest
import torch

from vaegrade.reference import classifier
from vaegrade.reference.data import DATASETS, images_to_tensor, load_dataset, sha256_file
from vaegrade.reference.metrics import frechet_distance, inception_score, quality_from_classifier, sample_quality


@pytest.fixture(scope="module")
def test_images(mnist):
    return images_to_tensor(mnist.x_test)


@pytest.fixture(scope="module")
def judged(test_images):
    """The judge's (probs, features) of the 10,000 MNIST test images, computed once for the tests below."""
    return classifier.classify(test_images)


def test_classifier_reaches_99_3_percent_on_the_10k_test_images(mnist, judged):
    probs, features = judged
    accuracy = (probs.argmax(1).numpy() == mnist.y_test).mean()
    assert accuracy >= 0.993, accuracy
    assert features.shape == (10000, classifier.FEATURE_DIM)


def test_fashion_mnist_judge_reaches_93_percent_and_separates_clothes_from_noise():
    fashion = load_dataset("fashion_mnist")
    images = images_to_tensor(fashion.x_test)
    probs, features = classifier.classify(images, dataset="fashion_mnist")
    accuracy = (probs.argmax(1).numpy() == fashion.y_test).mean()
    assert accuracy >= 0.93, accuracy
    real = quality_from_classifier(probs, features, "fashion_mnist")
    noise = quality_from_classifier(*classifier.classify(torch.rand(2000, 1, 28, 28, generator=torch.Generator().manual_seed(0)),
                                                         dataset="fashion_mnist"), "fashion_mnist")
    assert real.frechet_distance < 1e-6 and real.classes_covered == 10 and real.inception_score > 8
    assert noise.frechet_distance > 50 and noise.inception_score < 2 and noise.classes_covered <= 3


def test_every_data_set_has_a_judge_with_a_pinned_sha256():
    for name, dataset in DATASETS.items():
        assert sha256_file(dataset.judge) == dataset.judge_sha256, name
        assert sha256_file(dataset.file) == dataset.sha256, name


def test_tampered_weights_are_refused(tmp_path, monkeypatch):
    tampered = tmp_path / "classifier.pt"
    shutil.copyfile(DATASETS["mnist"].judge, tampered)
    tampered.write_bytes(tampered.read_bytes() + b"\0")
    monkeypatch.setitem(DATASETS, "mnist", dataclasses.replace(DATASETS["mnist"], judge=tampered))
    classifier.load_classifier.cache_clear()
    try:
        with pytest.raises(classifier.ClassifierError, match="sha256"):
            classifier.load_classifier()
    finally:
        classifier.load_classifier.cache_clear()


def test_metrics_of_real_test_images(judged):
    quality = quality_from_classifier(*judged)
    assert quality.inception_score > 9.8
    assert quality.class_entropy == pytest.approx(math.log(10), abs=0.01)
    assert quality.classes_covered == 10 and quality.confidence > 0.99
    assert quality.frechet_distance < 1e-6


def test_metrics_separate_real_images_from_noise(mnist):
    generator = torch.Generator().manual_seed(0)
    noise = sample_quality(torch.rand(2000, 1, 28, 28, generator=generator))
    real = sample_quality(images_to_tensor(mnist.x_train[:2000]))
    assert noise.inception_score < 1.5 < 9 < real.inception_score
    assert noise.classes_covered <= 2 and real.classes_covered == 10
    assert noise.frechet_distance > 100 * max(real.frechet_distance, 1.0)


def test_inception_score_bounds():
    assert inception_score(torch.eye(10)) == pytest.approx(10.0)
    assert inception_score(torch.full((50, 10), 0.1)) == pytest.approx(1.0)


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    v1, v2 = rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 4)
    expected = ((mu1 - mu2) ** 2).sum() + (v1 + v2 - 2 * np.sqrt(v1 * v2)).sum()
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected)


@pytest.mark.filterwarnings("ignore:Matrix is singular")
def test_frechet_distance_by_eigenvalues_equals_the_matrix_square_root_form(test_images):
    """Tr (S1 S2)^(1/2) from the eigenvalues of S1 S2 equals scipy's sqrtm of the product, on the
    judge's features of real digits and of noise against the test set's statistics (sqrtm warns
    that the product is singular, as it is: 56 of the 128 ReLU features are zero on every noise
    image)."""
    import scipy.linalg

    from vaegrade.reference.metrics import feature_statistics, test_set_statistics

    mu2, sigma2 = test_set_statistics("mnist")
    noise = torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    for images in (test_images[:500], noise):
        mu1, sigma1 = feature_statistics(classifier.classify(images)[1])
        root = np.real(scipy.linalg.sqrtm(sigma1 @ sigma2))
        expected = ((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(root)
        assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_the_judge_as_graded_computes_the_trained_models_features(test_images):
    """Folding the batch norms into the convolutions and running channels-last changes the
    arithmetic, not the function: on real digits and on noise, features and probabilities agree
    with the trained model's, run as it was trained."""
    graded, trained = classifier.load_classifier("mnist"), classifier.load_weights("mnist")
    assert not any(isinstance(layer, torch.nn.BatchNorm2d) for layer in graded.conv)
    noise = torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    for images in (test_images[:300], noise):
        probs, features = classifier.classify(images)
        with torch.no_grad():
            expected = trained.features(images)
            expected_probs = torch.softmax(trained.head(expected), dim=1)
        assert torch.allclose(features, expected, atol=1e-5, rtol=1e-5)
        assert torch.allclose(probs, expected_probs, atol=1e-5)


def test_the_judges_pooling_is_max_pooling():
    activations = torch.randn(3, 5, 28, 28, generator=torch.Generator().manual_seed(0))
    assert torch.equal(classifier.MaxPool2x2()(activations), torch.nn.functional.max_pool2d(activations, 2))


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_shipped_test_set_statistics_record_the_current_judge_and_data(dataset):
    from vaegrade.reference import metrics

    with np.load(metrics.statistics_path(dataset)) as shipped:
        assert str(shipped["classifier_sha256"]) == DATASETS[dataset].judge_sha256
        assert str(shipped["data_sha256"]) == DATASETS[dataset].sha256
        assert shipped["mu"].shape == (128,) and shipped["sigma"].shape == (128, 128)


def test_shipped_test_set_statistics_are_the_judges_own(judged, tmp_path, monkeypatch):
    """The shipped feature statistics equal a fresh computation (the judge's features of the test
    images: what ``computed_test_set_statistics`` computes); stale ones (another judge) are not
    used. Fashion-MNIST's file is written by the same function."""
    from vaegrade.reference import metrics

    dataset = "mnist"
    mu, sigma = metrics.feature_statistics(judged[1])
    with np.load(metrics.statistics_path(dataset)) as shipped:
        # float32 features differ in their last bits across CPUs (SIMD paths): 1e-6 of the covariance's
        # scale (its diagonal is about 0.9), which moves a Frechet distance by less than 1e-4
        np.testing.assert_allclose(shipped["mu"], mu, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(shipped["sigma"], sigma, rtol=1e-5, atol=1e-6)
        stale = dict(shipped) | {"classifier_sha256": np.array("0" * 64), "mu": shipped["mu"] + 1}
    monkeypatch.setattr(metrics, "ASSETS", tmp_path)
    monkeypatch.setattr(metrics, "computed_test_set_statistics", lambda name: (mu, sigma))  # computed above
    np.savez(tmp_path / f"{dataset}_test_statistics.npz", **stale)
    metrics.test_set_statistics.cache_clear()
    try:
        np.testing.assert_allclose(metrics.test_set_statistics(dataset)[0], mu, rtol=1e-6, atol=1e-8)
    finally:
        metrics.test_set_statistics.cache_clear()


def test_shipped_nearest_training_distances_are_the_datas_own(tmp_path, monkeypatch):
    """The shipped nearest-training distances of the test images equal an exact search (checked
    on 300 of them); a file made from other data is not used."""
    from vaegrade.reference import metrics
    from vaegrade.reference.data import load_dataset

    data = load_dataset("mnist")
    picks = np.random.default_rng(1).choice(len(data.x_test), 300, replace=False)
    fresh, nearest = metrics.nearest_training((data.x_test[picks] / 255.0).astype(np.float32),
                                              metrics.training_images(data.x_train))
    assert np.all(fresh > 0) and len(np.unique(nearest)) > 250  # no test image is a training image
    with np.load(metrics.nearest_path("mnist")) as shipped:
        assert shipped["distances"].shape == (10000,) and str(shipped["data_sha256"]) == DATASETS["mnist"].sha256
        np.testing.assert_allclose(shipped["distances"][picks], fresh, rtol=1e-5)
        stale = dict(shipped) | {"data_sha256": np.array("0" * 64), "distances": shipped["distances"] + 1}
    monkeypatch.setattr(metrics, "ASSETS", tmp_path)
    np.savez(tmp_path / "mnist_test_nearest.npz", **stale)
    monkeypatch.setattr(metrics, "computed_test_set_nearest_distances", lambda dataset: np.zeros(10000))
    metrics.test_set_nearest_distances.cache_clear()
    try:
        assert not metrics.test_set_nearest_distances("mnist").any()  # recomputed, not read from the stale file
    finally:
        metrics.test_set_nearest_distances.cache_clear()
