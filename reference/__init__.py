"""vaegrade's trusted reference implementation: data, KL closed forms, samplers, losses,
reference models, the pretrained MNIST classifier and sample-quality metrics."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Callable


def function(path: str) -> Callable:
    """The reference function at ``path`` (``"kl.kl_normal_std"``: module, then name), imported
    when first asked for, so that loading a rubric does not import torch.

    Raises:
        ModuleNotFoundError, AttributeError: no such module or function in ``reference``.
    """
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


@lru_cache(maxsize=None)
def parameters(path: str) -> tuple[str, ...]:
    """The parameter names of the reference function at ``path``, read from its source with
    ``ast`` (not imported: validating a rubric does not import torch).

    Raises:
        LookupError: no function of that name at the top level of the module.
    """
    module, name = path.rsplit(".", 1)
    source = Path(importlib.util.find_spec(f"{__name__}.{module}").origin).read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            arguments = node.args
            return tuple(a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs])
    raise LookupError(f"{__name__}.{module} defines no function {name}")
