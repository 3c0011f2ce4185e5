"""Kernel-side setup: runs inside the student's kernel, before the student's cells.

Like the probe's kernel side (``grader/probe/kernel/``), this file is not imported by the grader: its text is the
first injected cell (see :func:`vaegrade.grader.run.transforms.inject_setup_cell`), which calls
``main(config)``. It imports only the standard library, numpy, wrapt and the framework. It:

- under ``TF_USE_LEGACY_KERAS=1`` (a rubric's ``environment: variables:``) with tf-keras installed,
  makes ``import keras`` Keras 2 (``tf_keras``), for notebooks written for Keras 2;
- seeds ``random``, numpy and the framework (torch, or Keras/TensorFlow) and fixes their
  thread counts, so grading is reproducible;
- serves the data sets offline, unchanged notebooks and all: the loaders
  ``keras.datasets.mnist/fashion_mnist.load_data()`` (Keras 3, tf.keras, tf_keras) return the
  served arrays instead of downloading, and ``torchvision.datasets.MNIST/FashionMNIST(root=...)``
  find the IDX files written under whatever ``root`` they name (or under ``./data`` when that
  root cannot be written). Patched by post-import hooks (``wrapt``), so nothing is imported
  that the notebook does not import itself;
- with ``max_steps_per_epoch``: every pass over a ``torch.utils.data.DataLoader`` and every
  epoch of a Keras ``Model.fit`` stops after that many batches (the data set stays whole, for
  notebooks that assert its size);
- when the grader found them in the code (:func:`vaegrade.grader.run.source.scan_platform`): runs
  ``.cuda()`` / ``.to("cuda")`` / ``device="cuda"`` on the CPU, stubs ``google.colab``, skips
  ``!pip install`` / ``%pip`` and Colab's ``%tensorflow_version``.

Config keys: ``seed``, ``threads``, ``framework``, ``datasets`` ({name: served .npz path}),
``max_steps_per_epoch``, ``cuda``, ``colab``, ``installs``, ``magics``.
"""


def main(config):
    alias_legacy_keras()
    seed_everything(config["seed"], config["threads"], config["framework"])
    serve_datasets(config["datasets"])
    if config.get("max_steps_per_epoch"):
        cap_steps(config["max_steps_per_epoch"])
    if config.get("cuda") and config["framework"] == "torch":
        run_cuda_on_cpu()
    if config.get("colab"):
        stub_colab()
    shell = get_ipython()  # noqa: F821 (defined in every IPython kernel)
    if config.get("installs"):
        skip_installs(shell)
    for magic in config.get("magics", []):
        shell.register_magic_function(lambda line, name=magic: print(f"[vaegrade] skipped `%{name} {line}`"),
                                      "line", magic)


class KerasAlias:
    """``keras`` and ``keras.*`` imported as ``tf_keras`` and ``tf_keras.*`` (the same module objects),
    and Keras 2.0-2.8's public modules that tf_keras keeps only privately, at their old names."""

    moved = {"keras.utils.np_utils": "tf_keras.src.utils.np_utils", "tf_keras.utils.np_utils": "tf_keras.src.utils.np_utils"}
    own_specs = {}

    def find_spec(self, name, path, target=None):
        import importlib.util

        if name == "keras" or name.startswith("keras.") or name in self.moved:
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        import importlib

        module = importlib.import_module(self.moved.get(spec.name, "tf_keras" + spec.name[len("keras"):]))
        self.own_specs[spec.name] = module.__spec__  # the import system sets __spec__ to ours: put tf_keras's back
        return module

    def exec_module(self, module):
        module.__spec__ = self.own_specs.pop(module.__spec__.name)


def alias_legacy_keras():
    """Under ``TF_USE_LEGACY_KERAS=1`` with tf-keras installed, ``import keras`` is Keras 2 (tf_keras),
    as it was with TensorFlow <= 2.15, so that ``keras.backend.int_shape`` and graph-mode
    ``Model.add_loss`` notebooks run; ``tf.keras`` is tf_keras then too (TensorFlow's own switch)."""
    import importlib.util
    import os
    import sys

    if os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes") and importlib.util.find_spec("tf_keras"):
        sys.meta_path.insert(0, KerasAlias())


def seed_everything(seed, threads, framework):
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    if framework == "torch":
        import torch

        torch.manual_seed(seed)
        torch.set_num_threads(threads)
    else:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        tf.random.set_seed(seed)


def served_arrays(path):
    import numpy as np

    with np.load(path, allow_pickle=False) as npz:
        return (npz["x_train"], npz["y_train"]), (npz["x_test"], npz["y_test"])


def serve_datasets(served):
    """Keras' and torchvision's loaders of each served data set read the grader's copy."""
    import wrapt

    def patch_keras(module):
        for name, path in served.items():
            if module.__name__.endswith("." + name):
                module.load_data = lambda *args, path=path, **kwargs: served_arrays(path)

    for prefix in ("keras.src.datasets", "keras.datasets", "tf_keras.src.datasets", "tf_keras.datasets",
                   "tensorflow.python.keras.datasets"):
        for name in served:
            wrapt.register_post_import_hook(patch_keras, f"{prefix}.{name}")
    wrapt.register_post_import_hook(lambda module: patch_torchvision(module, served), "torchvision.datasets.mnist")


def write_idx(path, array):
    import numpy as np

    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with open(path, "wb") as handle:
        handle.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def patch_torchvision(module, served):
    import os

    classes = {"MNIST": "mnist", "FashionMNIST": "fashion_mnist"}
    original = module.MNIST.__init__

    def __init__(self, root, *args, **kwargs):
        name = classes.get(type(self).__name__)
        if name in served:
            root = os.fspath(root)
            raw = os.path.join(root, type(self).__name__, "raw")
            try:
                os.makedirs(raw, exist_ok=True)
            except OSError:  # a Colab or cluster path such as /content/data: serve it here instead
                root = os.path.join(os.getcwd(), "data")
                raw = os.path.join(root, type(self).__name__, "raw")
                os.makedirs(raw, exist_ok=True)
            (x_train, y_train), (x_test, y_test) = served_arrays(served[name])
            for stem, array in (("train-images-idx3-ubyte", x_train), ("train-labels-idx1-ubyte", y_train),
                                ("t10k-images-idx3-ubyte", x_test), ("t10k-labels-idx1-ubyte", y_test)):
                if not os.path.exists(os.path.join(raw, stem)):
                    write_idx(os.path.join(raw, stem), array)
        original(self, root, *args, **kwargs)

    module.MNIST.__init__ = __init__


def cap_steps(steps):
    """A DataLoader pass, and a Keras fit epoch, stop after ``steps`` batches."""
    import itertools

    import wrapt

    def cap_loader(module):
        loader = module.DataLoader
        iterate, length = loader.__iter__, loader.__len__
        loader.__iter__ = lambda self: itertools.islice(iterate(self), steps)
        loader.__len__ = lambda self: min(length(self), steps)

    def cap_fit(module):
        fit = module.Model.fit

        def capped(self, *args, **kwargs):
            kwargs["steps_per_epoch"] = min(kwargs.get("steps_per_epoch") or steps, steps)
            if kwargs.get("validation_data") is not None:
                kwargs["validation_steps"] = min(kwargs.get("validation_steps") or steps, steps)
            return fit(self, *args, **kwargs)
        module.Model.fit = capped

    wrapt.register_post_import_hook(cap_loader, "torch.utils.data")
    for package in ("keras", "tf_keras"):
        wrapt.register_post_import_hook(cap_fit, package)


def run_cuda_on_cpu():
    import torch

    def on_cpu(device):
        if isinstance(device, str) and device.startswith("cuda"):
            return "cpu"
        if isinstance(device, torch.device) and device.type == "cuda":
            return torch.device("cpu")
        return device

    def cpu_wrapper(function):
        def wrapper(*args, **kwargs):
            if "device" in kwargs:
                kwargs["device"] = on_cpu(kwargs["device"])
            return function(*[on_cpu(a) for a in args], **kwargs)
        wrapper.__wrapped__ = function
        return wrapper

    for owner in (torch.Tensor, torch.nn.Module):
        owner.to = cpu_wrapper(owner.to)
        owner.cuda = lambda self, *args, **kwargs: self
    for name in ("tensor", "as_tensor", "zeros", "ones", "empty", "full", "rand", "randn", "randint", "arange",
                 "linspace", "eye", "zeros_like", "ones_like", "rand_like", "randn_like", "randperm", "normal",
                 "load"):
        if hasattr(torch, name):
            setattr(torch, name, cpu_wrapper(getattr(torch, name)))


def stub_colab():
    import sys
    import types

    def skipped(*args, **kwargs):
        print("[vaegrade] google.colab is not available while grading: skipped")

    def any_function(attribute):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return skipped

    colab = types.ModuleType("google.colab")
    for part in ("drive", "files", "output", "auth"):
        stub = types.ModuleType(f"google.colab.{part}")
        stub.__getattr__ = any_function
        setattr(colab, part, stub)
        sys.modules[f"google.colab.{part}"] = stub
    try:
        import google
    except ImportError:
        google = types.ModuleType("google")
        google.__path__ = []
        sys.modules["google"] = google
    google.colab = colab
    sys.modules["google.colab"] = colab


def skip_installs(shell):
    system = shell.system

    def guarded_system(command, *args, **kwargs):
        if command.split()[:1] and command.split()[0] in ("pip", "pip3", "apt", "apt-get", "conda"):
            print(f"[vaegrade] skipped `{command}`: packages come from the grading environment")
            return None
        return system(command, *args, **kwargs)

    shell.system = guarded_system
    for magic in ("pip", "conda"):
        shell.register_magic_function(lambda line, name=magic: print(
            f"[vaegrade] skipped `%{name} {line}`: packages come from the grading environment"), "line", magic)
