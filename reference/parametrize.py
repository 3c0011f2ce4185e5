"""The ways students parametrize a Gaussian's scale and a Bernoulli decoder's output, and the
conversions between them and the reference's own (``logvar``, probabilities).

Scale parametrizations of N(mu, sigma^2), elementwise:

===========  ======================  ======================
name         value                   logvar from it
===========  ======================  ======================
logvar       log sigma^2             logvar
log_sigma    log sigma               2 log_sigma
sigma        sigma (> 0)             2 log sigma
var          sigma^2 (> 0)           log var
===========  ======================  ======================

Decoder outputs: ``probabilities`` (Bernoulli means in [0, 1]) or ``logits`` (their log-odds;
probabilities = sigmoid(logits)).

Every function works on torch tensors inside autograd graphs, so the grader can compute the
reference's gradients with respect to the student's own parametrization.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # annotations only: imported where used, so a rubric loads without it
    from torch import Tensor

ScaleParam = Literal["logvar", "log_sigma", "sigma", "var"]
SCALE_PARAMS: tuple[str, ...] = ("logvar", "log_sigma", "sigma", "var")
#: What a decoder returns: Bernoulli means, their logits, or pixel values on the 0-255 scale.
DecoderOutput = Literal["probabilities", "logits", "pixels"]


def from_logvar(logvar: Tensor, to: str) -> Tensor:
    """The scale parameter ``to`` (one of :data:`SCALE_PARAMS`) of N(., exp(logvar)), same shape."""
    import torch
    if to == "logvar":
        return logvar
    if to == "log_sigma":
        return 0.5 * logvar
    if to == "sigma":
        return torch.exp(0.5 * logvar)
    if to == "var":
        return torch.exp(logvar)
    raise ValueError(f"unknown scale parametrization {to!r}; known: {SCALE_PARAMS}")


def to_logvar(value: Tensor, parametrization: str) -> Tensor:
    """Inverse of :func:`from_logvar`: logvar from a scale given as ``parametrization``.

    A non-positive ``sigma`` or ``var`` gives -inf or NaN, which the checks report as such.
    """
    import torch
    if parametrization == "logvar":
        return value
    if parametrization == "log_sigma":
        return 2.0 * value
    if parametrization == "sigma":
        return 2.0 * torch.log(value)
    if parametrization == "var":
        return torch.log(value)
    raise ValueError(f"unknown scale parametrization {parametrization!r}; known: {SCALE_PARAMS}")


def to_probabilities(values: Tensor, output: str) -> Tensor:
    """Bernoulli means from a decoder's ``output`` (``probabilities`` as they are, ``logits`` through
    a sigmoid, ``pixels`` on the 0-255 scale divided by 255)."""
    import torch
    if output == "logits":
        return torch.sigmoid(values)
    return values / 255.0 if output == "pixels" else values


def from_probabilities(probs: Tensor, output: str) -> Tensor:
    """Inverse of :func:`to_probabilities` (log-odds for ``logits``, times 255 for ``pixels``)."""
    import torch
    if output == "logits":
        return torch.logit(probs)
    return probs * 255.0 if output == "pixels" else probs
