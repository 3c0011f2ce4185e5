"""What the grader reads off a notebook's code before running it: Colab written for unconditionally
or checked for (IN_COLAB), and TensorFlow 1.x graph code."""

from __future__ import annotations

import pytest

from vaegrade.grader.run.source import scan_platform

IN_COLAB = "try:\n    import google.colab\n    IN_COLAB = True\nexcept ImportError:\n    IN_COLAB = False"


@pytest.mark.parametrize("cells,stub,aware", [
    (["from google.colab import drive\ndrive.mount('/content/drive')"], True, False),
    ([IN_COLAB, "if IN_COLAB:\n    from google.colab import drive\n    drive.mount('/content/drive')"], False, True),
    (["try:\n    from google.colab import files\nexcept Exception:\n    files = None"], False, True),
    (["try:\n    from google.colab import files\nexcept (ModuleNotFoundError, KeyError):\n    pass"], False, True),
    (["try:\n    from google.colab import files\nexcept KeyError:\n    pass"], True, False),  # the import is not guarded
    (["import numpy as np"], False, False),
])
def test_colab_is_stubbed_only_for_notebooks_that_import_it_unconditionally(cells, stub, aware):
    platform = scan_platform(cells)
    assert (platform.colab, platform.colab_aware) == (stub, aware)
    notes = " ".join(platform.notes())
    assert ("non-Colab branch" in notes) == aware and ("drive.mount" in notes) == stub


def test_tensorflow_1_code_is_recognised_by_what_tensorflow_2_removed():
    platform = scan_platform(["%tensorflow_version 1.x\nimport tensorflow as tf",
                              "x = tf.placeholder(tf.float32, [None, 784])\nh = tf.layers.dense(x, 64)\n"
                              "opt = tf.train.AdamOptimizer(1e-3)\nsess = tf.Session()\nsess2 = tf.Session()"])
    assert platform.tensorflow_1 == ["`%tensorflow_version 1.x`", "`tf.placeholder`", "`tf.layers.dense`",
                                     "`tf.train.AdamOptimizer`", "`tf.Session`"]


@pytest.mark.parametrize("cells", [
    ["import tensorflow.compat.v1 as tf\ntf.disable_v2_behavior()\nx = tf.placeholder(tf.float32)"],  # runs on TF 2
    ["import tensorflow as tf\nmodel = tf.keras.layers.Dense(3)\nopt = tf.keras.optimizers.Adam()\ntf.train.Checkpoint"],
    ["%tensorflow_version 2.x\nimport tensorflow as tf"],
    ["import torch\nclass tf:\n    placeholder = None\ntf.placeholder"],  # a `tf` that is not tensorflow
])
def test_tensorflow_2_code_is_not_taken_for_tensorflow_1(cells):
    assert scan_platform(cells).tensorflow_1 == []
