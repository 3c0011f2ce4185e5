"""Check types, registered by name in :data:`CHECK_TYPES` (see :mod:`vaegrade.grader.checks.base`)."""

from vaegrade.grader.checks import (  # noqa: F401  (registration)
    autodecoder,
    figures,
    functions,
    history,
    inpainting,
    interpolation,
    latent,
    learning,
    loss,
    model,
    reparameterization,
    sweep,
)
from vaegrade.grader.checks.base import CHECK_TYPES, CheckSpec, Evidence, Outcome, ProbeContext, ProbeOutput, ProbeRequest

__all__ = ["CHECK_TYPES", "CheckSpec", "Evidence", "Outcome", "ProbeContext", "ProbeOutput", "ProbeRequest"]
