"""vaegrade's trusted reference implementation: data, KL closed forms, samplers, losses,
reference models, the pretrained MNIST classifier and sample-quality metrics."""

from __future__ import annotations

import importlib
from typing import Callable


def function(path: str) -> Callable:
    """The reference function at ``path`` (``"kl.kl_normal_std"``: module, then name), imported
    when first asked for, so that loading a rubric does not import torch.

    Raises:
        ModuleNotFoundError, AttributeError: no such module or function in ``reference``.
    """
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(f"reference.{module}"), name)
