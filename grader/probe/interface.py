"""Where the student's objects live and in which convention: the rubric's side of the probe.

A rubric describes the student's notebook as it is, and the probe (its kernel side,
``grader/probe/kernel/``) finds and calls the objects so described; every conversion between
the student's convention and the reference's happens in the grader
(:mod:`vaegrade.reference.parametrize`).

- :data:`Locator`: where an object is, resolved in the kernel's global namespace:
  a path (``model.reparameterize``, ``models[0.1].decoder``: names, attributes and literal keys,
  parsed with ``ast``, never evaluated), a list of candidate paths (the first defined wins),
  or ``{instance_of: VAE, attr: loss}`` (the object whose class is named ``VAE``, then its
  attribute), or ``{new: Sampling}`` (a fresh instance of class ``Sampling``, made with no
  arguments).
- :class:`ModelSpec`: the trained model as the grader calls it: ``encode`` (a callable and which
  of its outputs are the posterior mean and scale, by position, by key, or as the two halves of
  one tensor), ``decode`` (a callable, an optional output selector, probabilities or logits),
  the image layout the model takes and returns, and the name of the latent size, if any.
- :class:`ArgSpec`: one positional argument of a student function: a generated input passed
  as is or converted (``{arg: logvar, as: log_sigma}``), or a constant shaped like an input
  (``{value: 0.0, like: mu}``).

Each turns into a JSON-able config for the kernel with ``.config()``.
"""

from __future__ import annotations

import ast
import re
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from vaegrade.reference.data import DATASETS, Dataset
from vaegrade.reference.parametrize import SCALE_PARAMS, DecoderOutput

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: The forms of one image a model may take and return, without the batch axis, for images of
#: H x W pixels: PyTorch's channels first, no channel, flat, Keras's channels last.
LAYOUT_FORMS = {"B,1,H,W": lambda h, w: (1, h, w), "B,H,W": lambda h, w: (h, w), "B,HW": lambda h, w: (h * w,),
                "B,H,W,1": lambda h, w: (h, w, 1)}
#: The layout names a rubric may give: each form, and each spelled out with the sizes of a
#: registered data set (MNIST's sizes in place of H and W, HW), as handouts write them.
LAYOUTS = {**{form: form for form in LAYOUT_FORMS},
           **{",".join(str(n) for n in ("B", *make(*d.image_shape))): form
              for d in DATASETS.values() for form, make in LAYOUT_FORMS.items()}}


def layout_shape(layout: str, dataset: Dataset) -> tuple[int, ...]:
    """One image's shape in ``layout`` (a key of :data:`LAYOUTS`) for ``dataset``'s images.

    Raises:
        ValueError: a layout spelled out with sizes that are not ``dataset``'s.
    """
    shape = LAYOUT_FORMS[LAYOUTS[layout]](*dataset.image_shape)
    if layout != LAYOUTS[layout] and layout != ",".join(str(n) for n in ("B", *shape)):
        raise ValueError(f"layout {layout} is not a layout of {dataset.name}'s images ({'x'.join(map(str, dataset.image_shape))})")
    return shape


def path_steps(path: str) -> list[dict[str, Any]]:
    """The steps of a path from the notebook's namespace, parsed with ``ast``: a name, then
    attributes and items with literal keys: ``model.encode`` -> ``[{"name": "model"},
    {"attr": "encode"}]``; ``models[0.1].decoder`` and ``results["beta=5"]["history"]`` too.
    Nothing is evaluated: the kernel walks the steps.

    Raises:
        ValueError: anything else (a call, an operator, a variable index).
    """
    def steps(node: ast.expr) -> list[dict[str, Any]]:
        if isinstance(node, ast.Name):
            return [{"name": node.id}]
        if isinstance(node, ast.Attribute):
            return steps(node.value) + [{"attr": node.attr}]
        if isinstance(node, ast.Subscript):
            key = node.slice
            if isinstance(key, ast.UnaryOp) and isinstance(key.op, ast.USub) and isinstance(key.operand, ast.Constant):
                return steps(node.value) + [{"item": -key.operand.value}]
            if isinstance(key, ast.Constant) and isinstance(key.value, (int, float, str)) and not isinstance(key.value, bool):
                return steps(node.value) + [{"item": key.value}]
        raise ValueError(f"{path!r} is not a path such as `model.encode` or `models[0.1].decoder` "
                         "(names, attributes and literal keys only)")

    try:
        tree = ast.parse(path.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"{path!r} is not a path such as `model.encode`: {exc.msg}") from exc
    return steps(tree.body)


class FoundBy(BaseModel):
    """An object found by its class: ``instance_of`` (an existing instance, the last one
    defined) or ``new`` (a fresh instance made with no arguments); then ``attr`` on it."""

    model_config = ConfigDict(extra="forbid")

    instance_of: str | None = Field(None,
        description='the class name of an existing object in the notebook (the last one defined wins)')
    new: str | None = Field(None, description='the class name to make a fresh instance of, with no arguments')
    attr: str | None = Field(None, description='a dotted attribute of that object (a method such as `loss`)')

    @model_validator(mode="after")
    def _one_way(self) -> "FoundBy":
        if (self.instance_of is None) == (self.new is None):
            raise ValueError("give exactly one of `instance_of` (an existing object) or `new` (a fresh one)")
        for name in (self.instance_of, self.new):
            if name is not None and not IDENTIFIER.match(name):
                raise ValueError(f"{name!r} is not a class name")
        if self.attr is not None:
            path_steps(f"_.{self.attr}")
        return self


Locator = Union[str, list[str], FoundBy]


def locator_config(locator: Locator) -> dict[str, Any]:
    """The kernel's form of a locator: ``{"paths": [steps, ...], "names": [...]}`` (see
    :func:`path_steps`) or ``{"instance_of"|"new": ..., "attr": steps}``.

    Raises:
        ValueError: a path is not a path, or the candidate list is empty.
    """
    if isinstance(locator, FoundBy):
        config = locator.model_dump(exclude_none=True)
        if locator.attr is not None:
            config["attr"] = path_steps(f"_.{locator.attr}")[1:]
        return config
    paths = [locator] if isinstance(locator, str) else list(locator)
    if not paths:
        raise ValueError("an empty list of candidate names")
    return {"paths": [path_steps(path) for path in paths], "names": paths}


def _checked(locator: Locator) -> Locator:
    locator_config(locator)
    return locator


#: A locator a rubric field holds, checked (:func:`locator_config`) when the rubric loads.
CheckedLocator = Annotated[Locator, AfterValidator(_checked)]


def describe_locator(locator: Locator) -> str:
    """How the feedback names a located object: `model.encode`, `loss_function` or `vae_loss`, ..."""
    if isinstance(locator, FoundBy):
        owner = f"an instance of {locator.instance_of}" if locator.instance_of else f"{locator.new}()"
        return f"{owner}{'.' + locator.attr if locator.attr else ''}"
    paths = [locator] if isinstance(locator, str) else locator
    return " or ".join(f"`{path}`" for path in paths)


#: Part of a call's output: a position, a key (of a dict) or attribute, or a list of them applied in
#: turn (``[1, kl_loss]``: the second output's ``kl_loss``).
Selector = Union[int, str, list[Union[int, str]], None]


class EncodeSpec(BaseModel):
    """How to get the posterior's (mu, scale) for a batch of images.

    ``outputs``: a list naming the callable's outputs by position (``[mu, logvar]``,
    ``[z_mean, z_log_var, z]`` as ``[mu, logvar, _]``; ``_`` is ignored), or a mapping from
    role to key for a dict output (``{mu: mu, log_sigma: log_sigma}``) or to attribute for an
    object (``{mu: loc, sigma: scale}`` for a ``torch.distributions.Normal``), or ``split`` for
    one tensor whose last axis holds mu then the scale (``.chunk(2, dim=-1)``). The scale's role
    names its parametrization: ``logvar``, ``log_sigma``, ``sigma`` or ``var``. An encoder that
    returns mu alone names no scale (``[mu]``: its output itself, as an autoencoder's encoder
    returns its code): the checks that need the posterior's scale say so, the others run. Extra
    singleton axes (mu of shape (B, 1, D)) are dropped.
    """

    model_config = ConfigDict(extra="forbid")

    call: Locator = Field("model.encode", description='the callable taking a batch of images (a locator)')
    outputs: list[str] | dict[str, str] | Literal["split"] = Field(default_factory=lambda: ["mu", "logvar"],
        description='which outputs are mu and the scale: by position, by dict key, or `split` (halves of one tensor)')
    split_as: str = Field("logvar", description="the scale's parametrization when outputs is `split`")

    @model_validator(mode="after")
    def _roles(self) -> "EncodeSpec":
        locator_config(self.call)
        if self.outputs == "split":
            if self.split_as not in SCALE_PARAMS:
                raise ValueError(f"split_as must be one of {SCALE_PARAMS}")
            return self
        roles = [role for role in (self.outputs if isinstance(self.outputs, list) else list(self.outputs)) if role != "_"]
        scales = [role for role in roles if role in SCALE_PARAMS]
        unknown = [role for role in roles if role != "mu" and role not in SCALE_PARAMS and not role.startswith("_")]
        if unknown and isinstance(self.outputs, dict):
            raise ValueError(f"unknown roles {unknown}: name mu and one of {SCALE_PARAMS}")
        if "mu" not in roles or len(scales) > 1:
            raise ValueError(f"outputs must name `mu` and at most one scale ({', '.join(SCALE_PARAMS)}); got {roles}")
        return self

    @property
    def scale(self) -> str | None:
        """The parametrization of the encoder's scale output (None: the encoder gives mu alone)."""
        if self.outputs == "split":
            return self.split_as
        roles = self.outputs if isinstance(self.outputs, list) else list(self.outputs)
        return next((role for role in roles if role in SCALE_PARAMS), None)

    def config(self) -> dict[str, Any]:
        if self.outputs == "split":
            select: dict[str, Any] = {"split": True}
        elif self.outputs == ["mu"]:  # mu alone: the encoder's output itself (an autoencoder's code)
            select = {"mu": None, "scale": None}
        elif isinstance(self.outputs, list):
            select = {"mu": self.outputs.index("mu"), "scale": self.scale and self.outputs.index(self.scale)}
        else:
            select = {"mu": self.outputs["mu"], "scale": self.scale and self.outputs[self.scale]}
        return {"call": locator_config(self.call), "select": select}


class DecodeSpec(BaseModel):
    """How to decode a batch of latent codes: ``call`` on z (B, D), then ``output`` (a
    position, a key, or an attribute such as a ``Bernoulli``'s ``logits``, when it does not
    return the images themselves); ``returns`` says whether the values are probabilities, logits
    or pixels on a 0-255 scale."""

    model_config = ConfigDict(extra="forbid")

    call: Locator = Field("model.decode", description='the callable taking a batch of latent codes (a locator)')
    output: Selector = Field(None, description='the position or key of the images when it returns several things')
    returns: DecoderOutput = Field("probabilities", description="what the decoder returns: Bernoulli means, their logits, or "
                                   "pixels on a 0-255 scale", examples=["logits", "pixels"])

    @field_validator("call")
    @classmethod
    def _valid(cls, value: Locator) -> Locator:
        locator_config(value)
        return value

    def config(self) -> dict[str, Any]:
        return {"call": locator_config(self.call), "output": self.output}


class ModelSpec(BaseModel):
    """The student's trained model as the grader reaches it (rubric field ``model``).

    ``layout``: the shape of one image as the model takes it and (``output_layout``, default the
    same) as the decoder returns it: ``B,1,H,W`` (PyTorch), ``B,H,W``, ``B,HW`` (flat MLPs) or
    ``B,H,W,1`` (Keras), or the same with the data set's sizes spelled out in place of H, W and
    HW. The grader sends its images in that layout and reads the decoder's
    output in it. ``latent``: the notebook's name for the latent size (checked against the width
    of mu), or None when it has none. ``inference``: objects put in inference mode before the
    grader calls them (``eval()`` / ``training=False``); the owners of ``encode`` and ``decode``
    always are.
    """

    model_config = ConfigDict(extra="forbid")

    encode: EncodeSpec | None = Field(default_factory=EncodeSpec, description="how to get the posterior's mu and scale "
                                      "(null: a model without an encoder, such as an auto-decoder)")
    decode: DecodeSpec = Field(default_factory=DecodeSpec, description='how to decode latent codes')
    layout: Literal[tuple(LAYOUTS)] = Field("B,1,H,W", description='the image layout the model takes')
    output_layout: Literal[tuple(LAYOUTS)] | None = Field(None, description='the layout the decoder returns (default: layout)')
    latent: str | None = Field("latent_dim", description="the notebook's name for the latent size (null: mu's width)")
    inference: list[str] = Field(default_factory=list,
        description='more objects to put in inference mode (eval(), training=False) before calls')
    conditional: Literal["index", "onehot"] | None = Field(None, description="a conditional model: encode(x, y) and "
        "decode(z, y) take each image's class after it, as an index or a one-hot row (samples: each class in turn)",
        examples=["onehot"])

    @field_validator("latent")
    @classmethod
    def _latent(cls, value: str | None) -> str | None:
        if value is not None:
            path_steps(value)
        return value

    @field_validator("inference")
    @classmethod
    def _inference(cls, value: list[str]) -> list[str]:
        for path in value:
            path_steps(path)
        return value

    def decoded_shape(self, dataset: Dataset) -> tuple[int, ...]:
        """One decoded image's shape in the student's layout, for ``dataset``'s images."""
        return layout_shape(self.output_layout or self.layout, dataset)

    def config(self, dataset: Dataset) -> dict[str, Any]:
        return {"encode": self.encode and self.encode.config(), "decode": self.decode.config(),
                "layout": list(layout_shape(self.layout, dataset)),
                "latent": self.latent and locator_config(self.latent),
                "inference": [locator_config(path) for path in self.inference]}


#: The parametrizations an argument may be passed in (``as``).
ARG_PARAMS = SCALE_PARAMS + ("log", "probabilities", "logits")


class ArgSpec(BaseModel):
    """A positional argument of the student's function: the generated input ``arg`` in the
    student's parametrization ``as`` (a Gaussian scale: logvar, log_sigma, sigma, var; the log
    of a positive parameter such as a Laplace scale or a rate: log; a decoder output:
    probabilities, logits), a constant ``value`` shaped like the input ``like``, a dict of
    such arguments (``fields``, for a loss method taking a model's outputs as
    ``{"rec": ..., "mu": ..., "log_sigma": ...}``), inputs joined along their last axis into one
    tensor (``join: [mu, {arg: logvar, as: log_sigma}]``, a sampler taking ``cat([mu, log_sigma])``),
    or an object of the notebook passed as it is (``object: model``, for ``compute_loss(model, x)``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    arg: str | None = Field(None, description='a generated input, passed in the student\'s parametrization')
    as_: str | None = Field(None, alias="as", description="the student's parametrization of it")
    value: float | None = Field(None, description='a constant instead of an input')
    like: str | None = Field(None, description='the input whose shape the constant takes')
    fields: dict[str, Union[str, "ArgSpec"]] | None = Field(None, description="a dict argument: key -> input or {arg, as}")
    join: list[Union[str, "ArgSpec"]] | None = Field(None, description="inputs joined along the last axis into one tensor",
                                                     examples=[["mu", {"arg": "logvar", "as": "log_sigma"}]])
    object: Locator | None = Field(None, description="an object of the notebook passed as it is (a locator: the model)",
                                   examples=["model"])

    @model_validator(mode="after")
    def _one_kind(self) -> "ArgSpec":
        if sum(x is not None for x in (self.arg, self.value, self.fields, self.join, self.object)) != 1:
            raise ValueError("an argument is one of `arg` (a generated input), `value` (a constant), `fields` (a dict), "
                             "`join` (inputs joined) or `object` (a notebook object)")
        if self.object is not None:
            locator_config(self.object)
        if self.join is not None and any(isinstance(j, ArgSpec) and j.source is None for j in self.join):
            raise ValueError("`join` takes generated inputs or {arg, as}")
        if self.value is not None and self.like is None:
            raise ValueError("a constant argument needs `like`, the input whose shape it takes")
        if self.as_ is not None and self.as_ not in ARG_PARAMS:
            raise ValueError(f"`as` must be one of {ARG_PARAMS}")
        if self.fields is not None and any(isinstance(f, ArgSpec) and f.fields is not None for f in self.fields.values()):
            raise ValueError("`fields` cannot nest another dict")
        return self

    @property
    def source(self) -> str | None:
        """The generated input this argument comes from (None for a dict, a join or an object)."""
        return self.arg if self.arg is not None else self.like

    def describe(self) -> str:
        if self.value is not None:
            return f"{self.value:g} (shaped like {self.like})"
        return self.source if self.as_ is None else f"{self.arg} as {self.as_}"


def flatten_call(entries: list[str | ArgSpec]) -> tuple[list[dict[str, Any]], dict[str, ArgSpec]]:
    """A call's arguments as the kernel builds them, and every array it passes.

    Returns:
        (layout, arrays): ``layout`` holds, per positional argument, ``{"array": name}`` (``arg0``),
        ``{"dict": {key: layout}}`` for a dict argument (``arg1.mu``; an entry may itself be a
        join), ``{"join": [names]}`` for inputs joined into one tensor (``arg0.0``, ``arg0.1``)
        or ``{"object": locator}`` for a notebook object; ``arrays`` maps each array name to the
        :class:`ArgSpec` that makes it.
    """
    arrays: dict[str, ArgSpec] = {}
    layout = [_argument_layout(ArgSpec(arg=entry) if isinstance(entry, str) else entry, f"arg{index}", arrays)
              for index, entry in enumerate(entries)]
    return layout, arrays


def _argument_layout(spec: ArgSpec, name: str, arrays: dict[str, ArgSpec]) -> dict[str, Any]:
    """One argument's layout entry (see :func:`flatten_call`), its arrays added to ``arrays``."""
    if spec.object is not None:
        return {"object": locator_config(spec.object)}
    if spec.fields is not None:
        return {"dict": {key: _argument_layout(ArgSpec(arg=part) if isinstance(part, str) else part, f"{name}.{key}", arrays)
                         for key, part in spec.fields.items()}}
    if spec.join is not None:
        parts = {f"{name}.{index}": ArgSpec(arg=part) if isinstance(part, str) else part for index, part in enumerate(spec.join)}
        arrays.update(parts)
        return {"join": list(parts)}
    arrays[name] = spec
    return {"array": name}


#: What a watched tensor may be said to be (``as``): a scale's parametrization or a decoder output's.
WATCHED_AS = SCALE_PARAMS + ("probabilities", "logits", "pixels")


class Watch(BaseModel):
    """Where the grader watches a tensor of the student's own forward pass: what the model part
    ``at`` (a locator: a submodule, a Keras layer or sub-model, or a method) returns (``take:
    output``, the default) or receives (``take: input``: its positional arguments), then ``select``
    (a position, key or attribute, or a list of them), then the ``half`` of the last axis when mu
    and the scale share one tensor (``.chunk(2, dim=-1)``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    at: Locator = Field(description="the model part watched (a locator)", examples=["vae.encoder"])
    take: Literal["output", "input"] = Field("output", description="its output, or its positional arguments", examples=["input"])
    select: Selector = Field(None, description="which part of it: a position, key or attribute, or a list of them",
                             examples=[[1, "kl_loss"], "q"])
    half: Literal["first", "second"] | None = Field(None, description="the first or second half of its last axis", examples=["second"])
    as_: str | None = Field(None, alias="as", description="a scale's parametrization (logvar, log_sigma, sigma, var) or a "
                                                          "decoder output's (probabilities, logits, pixels: 0-255)")

    @model_validator(mode="after")
    def _valid(self) -> "Watch":
        locator_config(self.at)
        if self.as_ is not None and self.as_ not in WATCHED_AS:
            raise ValueError(f"`as` must be one of {WATCHED_AS}")
        return self

    def describe(self) -> str:
        what = "the input of" if self.take == "input" else "the output of"
        return f"{what} {describe_locator(self.at)}" + (f" ({self.half} half)" if self.half else "")

    def config(self) -> dict[str, Any]:
        return {"name": self.describe(), "at": locator_config(self.at), "take": self.take, "select": self.select,
                "half": self.half}


class ObserveSpec(BaseModel):
    """A forward pass the grader runs and watches (``through: forward``): ``run`` (a locator: the
    model, called on a batch of images in the rubric model's layout, or its encoder), and where
    mu, the posterior's scale (with its parametrization ``as``) and the z the decoder receives
    are seen in it (:class:`Watch`)."""

    model_config = ConfigDict(extra="forbid")

    run: Locator = Field(description="what is called on the grader's images: the model, or its encoder (a locator)", examples=["vae"])
    mu: Watch = Field(description="where mu is seen", examples=[{"at": "vae.encoder", "half": "first"}])
    scale: Watch = Field(description="where the posterior's scale is seen (with its parametrization: as)",
                         examples=[{"at": "vae.encoder", "half": "second", "as": "log_sigma"}])
    z: Watch = Field(description="where z is seen (the decoder's input: take: input)",
                     examples=[{"at": "vae.decoder", "take": "input", "select": 0}])

    @model_validator(mode="after")
    def _valid(self) -> "ObserveSpec":
        locator_config(self.run)
        if self.scale.as_ is None:
            raise ValueError("scale needs `as`, its parametrization (logvar, log_sigma, sigma or var)")
        return self

    def points(self) -> dict[str, dict[str, Any]]:
        return {"mu": self.mu.config(), "scale": self.scale.config(), "z": self.z.config()}
