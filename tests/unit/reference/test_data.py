"""The data sets: the shipped copies (canonical, sha256-checked, byte-reproducible), a user's own
copies in Keras or IDX form, and the registry's geometry."""

import dataclasses
import gzip
import shutil

import numpy as np
import pytest

from vaegrade.reference import data
from vaegrade.reference.data import DATASETS, DataError, load_dataset, read_images, save_keras_npz, write_idx


def test_shipped_copy_is_canonical(mnist):
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert mnist.x_train.dtype == np.uint8 and mnist.x_train.max() == 255
    assert mnist.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(mnist.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_corrupted_shipped_copy_is_refused(tmp_path, monkeypatch):
    corrupt = tmp_path / "mnist.npz"
    shutil.copyfile(DATASETS["mnist"].file, corrupt)
    with open(corrupt, "r+b") as handle:
        handle.seek(5000)
        handle.write(b"\xff\xff")
    monkeypatch.setitem(DATASETS, "mnist", dataclasses.replace(DATASETS["mnist"], file=corrupt))
    load_dataset.cache_clear()
    try:
        with pytest.raises(DataError, match="sha256"):
            load_dataset("mnist")
    finally:
        load_dataset.cache_clear()


def test_the_registry_knows_each_data_sets_geometry_and_checks_a_copy_against_it(mnist):
    assert {name: (d.image_shape, d.pixels, d.channel_shape, len(d.classes)) for name, d in DATASETS.items()} == {
        "mnist": ((28, 28), 784, (1, 28, 28), 10), "fashion_mnist": ((28, 28), 784, (1, 28, 28), 10)}
    smaller = dataclasses.replace(DATASETS["mnist"], image_shape=(14, 14))
    with pytest.raises(DataError, match=r"expected uint8\[60000, 14, 14\]"):
        smaller.validated(mnist.arrays(), "here")


def test_idx_folder_gz_and_plain_round_trip(tmp_path, mnist):
    for key, name in data.IDX_FILES.items():
        raw = write_idx(getattr(mnist, key))
        if key.startswith("x"):
            (tmp_path / f"{name}.gz").write_bytes(gzip.compress(raw, compresslevel=1))  # level 9 took 15 s
        else:
            (tmp_path / name).write_bytes(raw)
    loaded = read_images(tmp_path)
    for key in data.KERAS_KEYS:
        assert np.array_equal(getattr(loaded, key), getattr(mnist, key))


def test_keras_npz_user_copy(tmp_path, mnist):
    path = tmp_path / "mnist.npz"
    np.savez(path, **mnist.arrays())
    assert np.array_equal(read_images(path).x_test, mnist.x_test)


def test_save_keras_npz_is_byte_reproducible(tmp_path, mnist):
    save_keras_npz(mnist, tmp_path / "a.npz")
    assert data.sha256_file(tmp_path / "a.npz") == DATASETS["mnist"].sha256


@pytest.mark.parametrize("problem", ["missing_key", "wrong_dtype", "not_a_zip", "missing_idx"])
def test_bad_user_copies_are_clear_errors(tmp_path, mnist, problem):
    path = tmp_path / "mnist.npz"
    arrays = mnist.arrays()
    if problem == "missing_key":
        np.savez(path, x_train=arrays["x_train"])
        match = "lacks the Keras keys"
    elif problem == "wrong_dtype":
        np.savez(path, **{**arrays, "x_test": arrays["x_test"].astype(np.float32)})
        match = "expected uint8"
    elif problem == "not_a_zip":
        path.write_text("hello")
        match = "not a readable .npz"
    else:
        path = tmp_path / "idx"
        path.mkdir()
        match = "train-images-idx3-ubyte"
    with pytest.raises(DataError, match=match):
        read_images(path)
