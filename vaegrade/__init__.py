"""vaegrade: an auto-grader and report checker for Variational Autoencoder assignments.

The one import name of the distribution (pytest's ``_pytest``/``pytest`` split is the model):
the grader's stages are ``vaegrade.grader.<stage>`` (see :mod:`vaegrade.grader`), the trusted
reference is ``vaegrade.reference``, and this module is the small public face:

    from vaegrade import selfcheck                   # students, in their notebook
    from vaegrade import load_rubric, grade_submissions, load_result

Names are imported when first used (PEP 562), so ``import vaegrade`` costs nothing and a
student's kernel imports only what self-check needs.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: The public names and the modules that define them.
_PUBLIC = {
    "selfcheck": "vaegrade.grader.selfcheck",
    "load_rubric": "vaegrade.grader.rubric.schema",
    "grade_submission": "vaegrade.grader.run.grade",
    "grade_submissions": "vaegrade.grader.batch.grade",
    "find_submissions": "vaegrade.grader.run.submissions",
    "load_result": "vaegrade.grader.results",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'vaegrade' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
