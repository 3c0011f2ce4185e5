"""Kernel-side setup: runs inside the student's kernel, before the student's cells.

Like :mod:`vaegrade.grader.probe.kernel`, this file is not imported by the grader: its text is the
first injected cell (see :func:`vaegrade.grader.run.transforms.inject_setup_cell`), which calls
``main(config)``. It imports only the standard library, numpy, wrapt and the framework. It:

- seeds ``random``, numpy and the framework (torch, or Keras/TensorFlow) and fixes their
  thread counts, so grading is reproducible;
- serves the data sets offline, unchanged notebooks and all: the loaders
  ``keras.datasets.mnist/fashion_mnist.load_data()`` (Keras 3, tf.keras, tf_keras) return the
  served arrays instead of downloading, and ``torchvision.datasets.MNIST/FashionMNIST(root=...)``
  find the IDX files written under whatever ``root`` they name (or under ``./data`` when that
  root cannot be written). Patched by post-import hooks (``wrapt``), so nothing is imported
  that the notebook does not import itself;
- when the grader found them in the code (:func:`vaegrade.grader.run.source.scan_platform`): runs
  ``.cuda()`` / ``.to("cuda")`` / ``device="cuda"`` on the CPU, stubs ``google.colab``, skips
  ``!pip install`` / ``%pip`` and Colab's ``%tensorflow_version``.

Config keys: ``seed``, ``threads``, ``framework``, ``datasets`` ({name: served .npz path}),
``cuda``, ``colab``, ``installs``, ``magics``.
"""


def main(config):
    import os
    import random
    import sys
    import types

    import numpy as np
    import wrapt

    seed, threads = config["seed"], config["threads"]
    random.seed(seed)
    np.random.seed(seed)
    if config["framework"] == "torch":
        import torch

        torch.manual_seed(seed)
        torch.set_num_threads(threads)
    else:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        tf.random.set_seed(seed)

    served = config["datasets"]

    def arrays(name):
        with np.load(served[name], allow_pickle=False) as npz:
            return (npz["x_train"], npz["y_train"]), (npz["x_test"], npz["y_test"])

    def keras_loader(name):
        def load_data(*args, **kwargs):
            return arrays(name)
        load_data.__doc__ = f"vaegrade: the grader's copy of {name} (served offline)"
        return load_data

    def patch_keras(module):
        for name in served:
            if module.__name__.endswith("." + name):
                module.load_data = keras_loader(name)

    for prefix in ("keras.src.datasets", "keras.datasets", "tf_keras.src.datasets", "tf_keras.datasets",
                   "tensorflow.python.keras.datasets"):
        for name in served:
            wrapt.register_post_import_hook(patch_keras, f"{prefix}.{name}")

    def write_idx(path, array):
        header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
        with open(path, "wb") as handle:
            handle.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())

    def patch_torchvision(module):
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
                (x_train, y_train), (x_test, y_test) = arrays(name)
                for stem, array in (("train-images-idx3-ubyte", x_train), ("train-labels-idx1-ubyte", y_train),
                                    ("t10k-images-idx3-ubyte", x_test), ("t10k-labels-idx1-ubyte", y_test)):
                    if not os.path.exists(os.path.join(raw, stem)):
                        write_idx(os.path.join(raw, stem), array)
            original(self, root, *args, **kwargs)

        module.MNIST.__init__ = __init__

    wrapt.register_post_import_hook(patch_torchvision, "torchvision.datasets.mnist")

    if config.get("cuda") and config["framework"] == "torch":
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

    if config.get("colab"):
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

    shell = get_ipython()  # noqa: F821 (defined in every IPython kernel)
    if config.get("installs"):
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
    for magic in config.get("magics", []):
        shell.register_magic_function(lambda line, name=magic: print(f"[vaegrade] skipped `%{name} {line}`"),
                                      "line", magic)
