"""The kernel setup, run in a fresh interpreter as the injected cell runs it: the step cap stops
each pass over a DataLoader (the data set itself stays whole); under TF_USE_LEGACY_KERAS, `keras` is tf_keras."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vaegrade.grader.run.transforms import SETUP_SOURCE

CAPPED = """
setup = {}
exec(compile(SOURCE, 'vaegrade_setup', 'exec'), setup)
setup['cap_steps'](3)
import torch
from torch.utils.data import DataLoader, TensorDataset
loader = DataLoader(TensorDataset(torch.arange(100.0)), batch_size=10)
print(len(loader.dataset), len(loader), [len(list(loader)) for epoch in range(2)])
"""


def test_max_steps_per_epoch_stops_every_dataloader_pass_and_leaves_the_data_whole():
    run = subprocess.run([sys.executable, "-c", f"SOURCE = {SETUP_SOURCE!r}\n{CAPPED}"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["100", "3", "[3,", "3]"]


LEGACY = """
setup = {}
exec(compile(SOURCE, 'vaegrade_setup', 'exec'), setup)
setup['alias_legacy_keras']()
import keras, keras.layers, tf_keras, tf_keras.layers
from keras.layers import Dense
from keras.utils import np_utils
from tf_keras.src.utils import np_utils as private
print(keras is tf_keras, keras.layers is tf_keras.layers, Dense is tf_keras.layers.Dense, np_utils is private,
      tf_keras.__spec__.name, keras.layers.__spec__.name)
"""


@pytest.mark.parametrize("variable,aliased", [("1", True), ("0", False)])
def test_under_tf_use_legacy_keras_import_keras_is_tf_keras_with_its_old_public_modules(tmp_path, variable, aliased):
    """tf_keras's layout (a package with ``layers``, ``utils`` and the private ``src.utils.np_utils``),
    without TensorFlow; a ``keras`` package of its own stands for Keras 3."""
    for module in ("tf_keras", "tf_keras/layers", "tf_keras/utils", "tf_keras/src", "tf_keras/src/utils", "keras",
                   "keras/layers", "keras/utils"):
        (tmp_path / module).mkdir(parents=True)
        (tmp_path / module / "__init__.py").write_text("class Dense: pass\n" if module.endswith("layers") else "")
    (tmp_path / "tf_keras/src/utils/np_utils.py").write_text("def to_categorical(y): return y\n")
    (tmp_path / "keras/utils/np_utils.py").write_text("")
    environ = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "TF_USE_LEGACY_KERAS": variable}
    run = subprocess.run([sys.executable, "-c", f"SOURCE = {SETUP_SOURCE!r}\n{LEGACY}"], capture_output=True, text=True,
                         timeout=120, env=environ)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == (["True"] * 4 + ["tf_keras", "tf_keras.layers"] if aliased else
                                  ["False"] * 4 + ["tf_keras", "keras.layers"])
