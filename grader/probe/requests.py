"""What the grader asks of a student's kernel, and what comes back: the probe's messages.

One pydantic model per kind of request (a discriminated union on ``kind``), made by the checks
in the grader and validated there, before any kernel runs: a misspelt field or an unknown kind
is the grader's error, never an exception inside a student's kernel. Each travels to the kernel
as JSON (``requests.json``, :func:`vaegrade.grader.probe.artifacts.write_requests`) with its
arrays beside it (``<key>.inputs.npz``); the kernel side (``grader/probe/kernel/``) answers each
kind with the function of the same name and writes only numeric arrays back (:class:`ProbeOutput`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

#: A part of a call's output: a position, a key or attribute, or a list of them applied in turn.
Selector = Union[int, str, list[Union[int, str]], None]
#: A step of a locator's path as the kernel walks it: ``{"name": ...}``, ``{"attr": ...}``, ``{"item": ...}``.
Step = dict[str, Union[str, int, float]]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Located(Message):
    """A locator in the kernel's form (see :func:`vaegrade.grader.probe.interface.locator_config`):
    candidate ``paths`` (the first whose first name is defined wins) with their ``names``, or
    the object of a class (``instance_of`` an existing one, or ``new``), then ``attr`` steps."""

    paths: list[list[Step]] | None = None
    names: list[str] | None = None
    instance_of: str | None = None
    new: str | None = None
    attr: list[Step] = Field(default_factory=list)


class EncodeConfig(Message):
    """The encoder and which of its outputs are mu and the scale (``select``: ``mu`` and
    ``scale`` selectors, ``scale`` None for an encoder that gives mu alone, or ``split``)."""

    call: Located
    select: dict[str, Any]


class DecodeConfig(Message):
    call: Located
    output: Selector = None


class ModelConfig(Message):
    """The model as the kernel calls it: encoder (None for a model without one), decoder, the
    image shape it takes (without the batch axis), its latent-size variable, and the objects put
    in inference mode around calls."""

    encode: EncodeConfig | None
    decode: DecodeConfig
    layout: list[int]
    latent: Located | None = None
    inference: list[Located] = Field(default_factory=list)


class Point(Message):
    """Where a tensor of the student's own forward pass is watched: the output (``take``) or the
    positional arguments (``input``) of the model part ``at``, then ``select``, then the
    ``half`` of the last axis when mu and a scale share one tensor; ``name`` is how messages say it."""

    name: str
    at: Located
    take: Literal["output", "input"] = "output"
    select: Selector = None
    half: Literal["first", "second"] | None = None


class Request(Message):
    """What every request has: its ``key`` (the artifact ``<key>.npz``; requests with one key are
    made once) and its arrays (``inputs``, written beside it, never in its JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    key: str
    inputs: dict[str, np.ndarray] = Field(default_factory=dict, exclude=True, repr=False)


class CallRequest(Request):
    """A student function called ``n_calls`` times on the grader's arrays (``arrays``, laid out
    as ``args``: see :func:`vaegrade.grader.probe.interface.flatten_call`), keywords ``kwargs``,
    the gradients of ``output.sum()`` w.r.t. ``grad``."""

    kind: Literal["call"] = "call"
    function: Located
    name: str
    arrays: list[str]
    args: list[dict[str, Any]]
    grad: list[str] = Field(default_factory=list)
    n_calls: int = 1
    kwargs: list[str] = Field(default_factory=list)
    pack: bool = False
    output: Selector = None


class ModelRequest(Request):
    model: ModelConfig


class InterfaceRequest(ModelRequest):
    """encode then decode on small batches, step by step, errors recorded."""

    kind: Literal["interface"] = "interface"
    batch_sizes: list[int]


class ReconstructRequest(ModelRequest):
    """decode(mu) for mu from encode(x), on the grader's images."""

    kind: Literal["reconstruct"] = "reconstruct"


class DecodePriorRequest(ModelRequest):
    """decode(z) for ``n`` codes z ~ N(0, I) from ``seed`` (each also moved by ``nudge``)."""

    kind: Literal["decode_prior"] = "decode_prior"
    n: int
    seed: int
    nudge: float | None = None


class HistoryRequest(Request):
    """Per-epoch losses by role: keys of the dict ``history`` locates, or lists located one by one."""

    kind: Literal["history"] = "history"
    history: Located | None = None
    keys: dict[str, str] = Field(default_factory=dict)
    series: dict[str, Located] = Field(default_factory=dict)


class FitLatentsRequest(ModelRequest):
    """An auto-decoder's test-time inference: codes fitted by Adam through decode."""

    kind: Literal["fit_latents"] = "fit_latents"
    width: int | None
    seed: int
    lr: float
    steps: int
    positive: bool
    logits: bool


class InterpolateRequest(ModelRequest):
    """The student's interpolation between image pairs' codes (``takes: codes``) or images."""

    kind: Literal["interpolate"] = "interpolate"
    function: Located
    name: str
    numpy: bool
    steps: int
    takes: Literal["codes", "images"] = "codes"
    objects: list[Located] = Field(default_factory=list)


class InpaintRequest(ModelRequest):
    """Masked images completed by a student function, or by decode(encode(masked))."""

    kind: Literal["inpaint"] = "inpaint"
    function: Located | None
    name: str
    numpy: bool


class ForwardRequest(ModelRequest):
    """``run`` called on the grader's images twice, in train mode, with ``points`` watched."""

    kind: Literal["forward"] = "forward"
    run: Located
    points: dict[str, Point]


class TrainingStepRequest(ModelRequest):
    """``run`` (a training step taking a batch) called on the grader's batches of ``batch_size``,
    its update undone, the loss it differentiates and ``points`` recorded."""

    kind: Literal["training_step"] = "training_step"
    run: Located
    points: dict[str, Point]
    batch_size: int


class RecordedRequest(Request):
    """The steps recorded as the student's own training ran (the setup cell's recording ``record``);
    with ``owners`` (locators of the graded model's encoder and decoder), which of the trainings
    recorded trained that model (``trains_model``, one flag per training)."""

    kind: Literal["recorded"] = "recorded"
    record: str
    owners: list[dict[str, Any]] = Field(default_factory=list)


class WeightsRequest(Request):
    """Whether the trained weights handed in were loaded into the notebook's model, by the cell
    injected after its training (:func:`vaegrade.grader.run.transforms.inject_weights_cell`)."""

    kind: Literal["weights"] = "weights"


ProbeRequest = Annotated[Union[CallRequest, InterfaceRequest, ReconstructRequest, DecodePriorRequest, HistoryRequest,
                               FitLatentsRequest, InterpolateRequest, InpaintRequest, ForwardRequest,
                               TrainingStepRequest, RecordedRequest, WeightsRequest], Field(discriminator="kind")]


class Recording(Message):
    """What the setup cell records of the student's own training (:class:`RecordedRequest`): the
    last ``keep`` steps' losses, with the tensors ``points`` saw in each step's forward pass, and
    every step's loss (the learning curve, ``curve``; with no ``points`` that is all)."""

    points: dict[str, Point]
    keep: int


@dataclass(frozen=True)
class ProbeOutput:
    """A probe's answer: arrays when it ran, or the exception it raised (``error``)."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    error: str | None = None
