"""torchvision over a CPU-only torch, without its C++ operators: copied into kernel environments
that install torchvision (see :mod:`vaegrade.grader.run.environments`) as the module
``vaegrade_torchvision_cpu``, imported at start-up by a ``.pth`` file. Not imported by the grader.

PyPI's torchvision wheels carry C++ operators (``torchvision/_C.so``: nms, roi_align, deformable
convolution) linked against the CUDA build of torch. Over the CPU build they do not load, which
torchvision tolerates (``torchvision.extension._has_ops()`` is False and those operators raise when
called) except in ``torchvision/_meta_registrations.py``, whose ``torch.library.register_fake``
for ``torchvision::nms`` raises "operator torchvision::nms does not exist" at ``import torchvision``
(0.28.0). While that one module runs, and only when the operators did not load, a fake
registration for a torchvision operator that does not exist is skipped: datasets, transforms,
utils (``make_grid``, ``save_image``) and models work; the detection operators stay unavailable.
The finder costs nothing until ``torchvision`` is imported.
"""

import importlib.abc
import importlib.machinery
import sys

TARGET = "torchvision._meta_registrations"


class _TolerantLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        import torch
        import torchvision.extension

        if torchvision.extension._has_ops():
            return self.loader.exec_module(module)
        register_fake = torch.library.register_fake

        def tolerant(op, *args, **kwargs):
            if isinstance(op, str) and op.startswith("torchvision::") and not hasattr(torch.ops.torchvision, op[13:].split(".")[0]):
                return lambda function: function
            return register_fake(op, *args, **kwargs)

        torch.library.register_fake = tolerant
        try:
            self.loader.exec_module(module)
        finally:
            torch.library.register_fake = register_fake


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _TolerantLoader(spec.loader)
        return spec


sys.meta_path.insert(0, _Finder())
