"""Rubric files: YAML, validated with pydantic when loaded, errors reported with file and line.

A rubric names the assignment; the notebook's framework, data set and how its model is
reached (:class:`vaegrade.grader.probe.interface.ModelSpec`); the parameters set at grading time (after the
cell tagged ``parameters``, or by rewriting the names and keywords the notebook uses); the
kernel's packages and the handout's files; the execution limits; the checks (each a
registered type from :mod:`vaegrade.grader.checks`); and the written questions (``report:``, see
:mod:`vaegrade.grader.report.spec`). ``load_rubric`` raises :class:`vaegrade.grader.errors.RubricError` before any
notebook runs. Every field is listed in ``docs/rubric.md`` (``python -m vaegrade.grader.rubric.docs``).
"""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from vaegrade.grader.checks import CHECK_TYPES
from vaegrade.grader.checks.base import ProbeContext
from vaegrade.grader.errors import RubricError
from vaegrade.grader.probe.interface import IDENTIFIER, CheckedLocator, ModelSpec, layout_shape
from vaegrade.grader.report.spec import ReportSpec
from vaegrade.grader.rubric.late import LatePolicy
from vaegrade.grader.rubric.policy import ExecutionPolicy
from vaegrade.reference.data import DATASETS

CheckEntry = Annotated[Union[tuple(CHECK_TYPES.values())], Field(discriminator="type")]


Scalar = Union[int, float, bool, str]


class Parameter(BaseModel):
    """A grading parameter the notebook may spell its own way.

    With a cell tagged ``parameters``, ``value`` is assigned after it (papermill's convention).
    Without one, the grader rewrites the notebook's own assignments to any of ``names`` (the
    parameter's own name included), the keyword arguments ``keywords`` (``fit.epochs``: the
    keyword ``epochs`` of every call of a function or method named ``fit``) and the literal
    ranges of loops over the variables ``loops`` (``for epoch in range(30)``) and the literal
    positional arguments ``positions`` (``train.0``: the first argument of every call of
    ``train``, as in ``train(100, model, loader)``) to ``value``, with the ``ast`` module, and
    records each rewrite in the result. ``per_call`` gives these places their own values, in the
    order the notebook writes them, the last repeating (``[2, 2, 5]``: the third call and later
    train 5 epochs); ``value`` is still what the checks take as the parameter's value.
    """

    model_config = ConfigDict(extra="forbid")

    value: Scalar = Field(description='the value set at grading time')
    names: list[str] = Field(default_factory=list, description="other variable names for it (num_epochs, EPOCHS)")
    keywords: list[str] = Field(default_factory=list, description="call keywords as function.keyword (fit.epochs)")
    loops: list[str] = Field(default_factory=list, description="loop variables whose `for ... in range(N)` runs it "
                                                               "(epoch); value must be an int")
    positions: list[str] = Field(default_factory=list, description="positional arguments as function.index, from 0 "
                                                                   "(train.0), where a call gives a literal number",
                                                                   examples=[["train.0"]])
    per_call: list[Scalar] = Field(default_factory=list, description="the values of the places it is set, in notebook "
                                                                     "order (the last repeats); `value` for the checks",
                                                                     examples=[[1, 2]])

    @model_validator(mode="after")
    def _names(self) -> Parameter:
        for name in self.names:
            if not IDENTIFIER.match(name):
                raise ValueError(f"{name!r} is not a variable name")
        for keyword in self.keywords:
            if keyword.count(".") != 1 or not all(IDENTIFIER.match(part) for part in keyword.split(".")):
                raise ValueError(f"{keyword!r} is not function.keyword (e.g. fit.epochs)")
        for variable in self.loops:
            if not IDENTIFIER.match(variable):
                raise ValueError(f"{variable!r} is not a loop variable name")
        for position in self.positions:
            function, _, index = position.partition(".")
            if not IDENTIFIER.match(function) or not index.isdigit():
                raise ValueError(f"{position!r} is not function.index (e.g. train.0, the first positional argument)")
        if self.loops and any(not isinstance(v, int) or isinstance(v, bool) for v in [self.value, *self.per_call]):
            raise ValueError("`loops` sets how many times a loop runs: the value must be an int")
        return self


class HandoutFile(BaseModel):
    """A handout file beside the rubric (``source``) and where the notebook finds it (``to``, relative
    to its working directory: ``dataset/train.csv``; folders are made, writable by the notebook).
    A bare name in ``files:`` is ``{source: name, to: the file's own name}``."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="the file, relative to the rubric", examples=["files/mnist_subset.csv"])
    to: str = Field(description="its path in the notebook's working directory (vae/sample.png)", examples=["data/mnist/train.csv"])

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, data: Any) -> Any:
        return {"source": data, "to": Path(data).name} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _inside(self) -> HandoutFile:
        to = PurePosixPath(self.to)
        if to.is_absolute() or ".." in to.parts or not to.parts or str(to) != self.to:
            raise ValueError(f"`to: {self.to}` is not a plain relative path inside the working directory")
        return self


class WeightsSpec(BaseModel):
    """Trained weights handed in beside the notebook, judged in place of a retraining: the
    notebook runs with ``parameters`` (a short training, which the ``learning`` check judges),
    then right after its last training cell a cell loads the weights into ``into`` (a PyTorch
    ``state_dict`` saved with ``torch.save``, or Keras ``.weights.h5`` / ``.keras``), so that its
    figures and every check of the trained model judge the student's own trained model.

    The file is found beside the notebook as ``<notebook><suffix of file>`` (``reference_solution.pt``
    in a folder of notebooks), else as ``file`` in a student's own folder. Without one, the notebook
    is retrained at the rubric's ``parameters`` (``required: false``) or its model checks fail
    saying so (``required: true``)."""

    model_config = ConfigDict(extra="forbid")

    file: str = Field(description="the file name the handout saves the weights under", examples=["vae.pt"])
    into: CheckedLocator = Field("model", description="the notebook's model to load them into (a locator)")
    parameters: dict[str, Scalar] = Field(default_factory=dict, description="the grading parameters of the short "
                                          "training run when weights are handed in (over the rubric's `parameters`)",
                                          examples=[{"epochs": 1, "n_train": 6000}])
    required: bool = Field(False, description="without weights, fail the model checks (true) or retrain (false)")

    @field_validator("file")
    @classmethod
    def _plain_name(cls, file: str) -> str:
        if PurePosixPath(file).name != file or not PurePosixPath(file).suffix:
            raise ValueError(f"`{file}` is not a plain file name with a suffix (vae.pt, vae.weights.h5)")
        return file


#: Variables the grader sets for every kernel (isolation, reproducibility), which a rubric cannot change.
RESERVED_VARIABLES = frozenset({"PATH", "HOME", "USER", "LOGNAME", "LANG", "MPLCONFIGDIR", "OMP_NUM_THREADS",
                                "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "PYDEVD_DISABLE_FILE_VALIDATION"})


class KernelEnvironment(BaseModel):
    """The kernel's packages beyond the grader's own (torch, numpy, matplotlib, ipykernel):
    pip requirement strings, installed once into an environment layered over the grader's (see
    :mod:`vaegrade.grader.run.environments`; empty: the grader's own environment), and the
    kernel's environment ``variables`` (names the grader sets itself are refused)."""

    model_config = ConfigDict(extra="forbid")

    packages: list[str] = Field(default_factory=list, description="pip requirements, over the grader's CPU torch "
                                "and kernel runtime", examples=[["torchvision", "pandas", "tqdm"]])
    variables: dict[str, str] = Field(default_factory=dict, description="environment variables of the kernel, e.g. "
                                      "for Keras 2 notebooks (tf-keras; `import keras` is then tf_keras)",
                                      examples=[{"TF_USE_LEGACY_KERAS": "1"}])

    @field_validator("variables")
    @classmethod
    def _own_names(cls, variables: dict[str, str]) -> dict[str, str]:
        for name in variables:
            if not name.isidentifier() or name.upper() != name:
                raise ValueError(f"`{name}` is not an environment variable's name (upper case, digits, underscores)")
            if name in RESERVED_VARIABLES or name.startswith(("VAEGRADE", "LD_", "PYTHON")):
                raise ValueError(f"`{name}` is set by the grader itself (its sandbox, threads and seeds); it cannot be changed")
        return variables


class DataSpec(BaseModel):
    """How the data set is served to the notebook's loaders (see :mod:`vaegrade.grader.run.datasets`)."""

    model_config = ConfigDict(extra="forbid")

    train_subset: int | None = Field(None, ge=100, le=60000, description="serve only the first N training images")
    test_subset: int | None = Field(None, ge=100, le=10000, description="serve only the first N test images (for "
                                    "notebooks that train on train + test; the checks' own test images stay whole)", examples=[500])
    max_steps_per_epoch: int | None = Field(None, ge=1, description="stop every DataLoader pass and Keras fit epoch "
                                            "after N batches (for notebooks that assert the data's full size)", examples=[30])

    def notes(self, dataset: str) -> list[str]:
        """One sentence per data control, for the result's adaptations."""
        train, test = DATASETS[dataset].sizes
        return [note for note in (
            self.train_subset and f"the training set served holds its first {self.train_subset:,} of {train:,} images",
            self.test_subset and f"the test set served holds its first {self.test_subset:,} of {test:,} images",
            self.max_steps_per_epoch and f"every epoch stopped after {self.max_steps_per_epoch} batches "
                                         "(DataLoader passes and Keras fit epochs)") if note]


class Withheld(BaseModel):
    """What a public rubric leaves out of the instructor's (written by ``vaegrade bundle``, see
    :mod:`vaegrade.grader.rubric.public`): graded at submission, never run or shown by self-check."""

    model_config = ConfigDict(extra="forbid")

    hidden_checks: int = Field(0, ge=0, description="how many checks are hidden")
    hidden_points: float = Field(0.0, ge=0, description="their points")
    written_points: float = Field(0.0, ge=0, description="points of the written answers (graded at submission)")

    def describe(self) -> str:
        """What a student is told about it, in one sentence (empty when nothing is withheld)."""
        parts = [f"{self.hidden_checks} hidden check(s) worth {self.hidden_points:g} points"] if self.hidden_checks else []
        parts += [f"written answers worth {self.written_points:g} points"] if self.written_points else []
        return " and ".join(parts) + " are graded only when you submit; self-check does not run them." if parts else ""


class Rubric(BaseModel):
    """A validated rubric. ``max_score`` is the sum of the checks' points."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", description="the assignment's id: lower case, digits, _ and -")
    title: str = Field(description="the assignment's title, shown on every feedback page")
    seed: int = Field(0, description='seeds the kernel (random, numpy, the framework) and every input the grader generates')
    framework: Literal["torch", "tensorflow"] = Field("torch", description="the notebook's deep-learning framework")
    dataset: Literal[tuple(DATASETS)] = Field("mnist", description="the data set served and judged")
    data: DataSpec = Field(default_factory=DataSpec, description="how the data sets are served to the notebook's loaders")
    model: ModelSpec = Field(default_factory=ModelSpec,
        description='where the trained model is and how it is called (encode, decode, layout, latent size)')
    parameters: dict[str, Union[Scalar, Parameter]] = Field(default_factory=dict,
        description='grading parameters: a value, or {value, names, keywords} for notebooks without a `parameters` tag')
    environment: KernelEnvironment = Field(default_factory=KernelEnvironment,
        description="the kernel's packages beyond the grader's own")
    weights: WeightsSpec | None = Field(None, description="trained weights students hand in beside the notebook "
                                        "(see the README's 'Handed-in weights')")
    files: list[HandoutFile] = Field(default_factory=list, description="handout files beside the rubric, copied "
        "read-only into every working directory: a name, or {source, to} with the path the notebook opens",
        examples=[["files/lab_utils.py", {"source": "files/mnist_subset.csv", "to": "data/mnist/train.csv"}]])
    handout: str | None = Field(None, description="the handout notebook, relative to the rubric (read by `vaegrade "
                                                   "bundle`, which says if it is missing)")
    execution: ExecutionPolicy = Field(default_factory=ExecutionPolicy,
        description='time, memory and process limits of one notebook run')
    checks: list[CheckEntry] = Field(default_factory=list, description='the notebook checks, each a registered type (below)')
    report: ReportSpec | None = Field(None, description="the written questions (see the README's 'Written answers and reports')")
    late: LatePolicy | None = Field(None, description="the late policy, applied when publishing (see grader/rubric/late.py)")
    withheld: Withheld = Field(default_factory=Withheld,
        description="in a public rubric only: what the instructor's rubric grades beyond it (set by `vaegrade bundle`)")
    _sha256: str = PrivateAttr("")
    _folder: Path = PrivateAttr(Path("."))

    @model_validator(mode="after")
    def _something_to_grade(self) -> Rubric:
        if not self.checks and self.report is None:
            raise ValueError("a rubric needs `checks`, a `report` section, or both")
        for layout in filter(None, (self.model.layout, self.model.output_layout)):
            layout_shape(layout, DATASETS[self.dataset])  # not spelled out with another data set's sizes
        return self

    def parameter_values(self) -> dict[str, Scalar]:
        """Each grading parameter's value, by its rubric name."""
        return {name: p.value if isinstance(p, Parameter) else p for name, p in self.parameters.items()}

    def with_weights(self) -> Rubric:
        """This rubric as it grades a notebook whose trained weights were handed in: its parameters
        set to ``weights.parameters`` (the short training's budget), the rest unchanged."""
        specs = self.parameter_specs()
        short = {name: specs[name].model_copy(update={"value": value}) if name in specs else value
                 for name, value in self.weights.parameters.items()}
        return self.model_copy(update={"parameters": {**self.parameters, **short}})

    def parameter_specs(self) -> dict[str, Parameter]:
        """Each grading parameter as a :class:`Parameter` (a bare value: its own name only)."""
        return {name: p if isinstance(p, Parameter) else Parameter(value=p) for name, p in self.parameters.items()}

    def file_paths(self) -> list[Path]:
        """The handout's files, resolved beside the rubric file."""
        return [self._folder / file.source for file in self.files]

    def hidden_checks(self) -> list[CheckEntry]:
        """The checks with ``visibility: hidden`` (graded at submission only)."""
        return [check for check in self.checks if check.visibility == "hidden"]

    def handout_path(self) -> Path | None:
        """The handout notebook, resolved beside the rubric file (None when the rubric names none)."""
        return self._folder / self.handout if self.handout else None

    def probe_context(self) -> ProbeContext:
        """What the rubric's checks build their probe inputs from (its seed, data set, parameters, model)."""
        return ProbeContext(seed=self.seed, dataset=DATASETS[self.dataset], parameters=self.parameter_values(),
                            framework=self.framework, model=self.model)

    @property
    def folder(self) -> Path:
        """The folder the rubric was read from (its ``files`` and ``handout`` are relative to it)."""
        return self._folder

    @property
    def max_score(self) -> float:
        return sum(check.points for check in self.checks) + sum(self.report_points().values())

    def report_points(self) -> dict[str, float]:
        """The report checks' ids and points (none without a ``report:`` section)."""
        return self.report.points() if self.report else {}

    def check_points(self) -> dict[str, float]:
        """Every check id the rubric produces and its points, in order (report checks last)."""
        return {check.id: check.points for check in self.checks} | self.report_points()

    @property
    def sha256(self) -> str:
        """sha256 of the rubric file's text, recorded in every result graded under it."""
        return self._sha256

    @property
    def grading_sha256(self) -> str:
        """sha256 of what grading depends on: the validated rubric without its ``late:`` policy,
        which applies when publishing, so that editing the policy (or a comment) regrades nothing."""
        return hashlib.sha256(self.model_dump_json(exclude={"late"}).encode()).hexdigest()


def load_rubric(path: str | Path) -> Rubric:
    """Read and validate a rubric file.

    Raises:
        RubricError: the file is missing, is not YAML, or does not validate; the message names
            the file, the line of the offending entry, and what was wrong.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RubricError(path, None, f"cannot read the rubric: {exc}") from exc
    try:
        data = yaml.safe_load(text)
        lines = _line_numbers(yaml.compose(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RubricError(path, mark.line + 1 if mark else None, f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RubricError(path, 1, "a rubric is a YAML mapping with name, title and checks")
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        first = min(exc.errors(), key=_telling)
        loc = [str(part) for part in first["loc"]]
        line = _line_for(loc + (["type"] if first["type"] == "union_tag_invalid" else []), lines)
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise RubricError(path, line, f"{'.'.join(loc) or 'rubric'}: {_said(first, exc.errors())}{more}") from exc
    ids = [check.id for check in rubric.checks]
    for index, check_id in enumerate(ids):
        if check_id in ids[:index]:
            raise RubricError(path, lines.get(("checks", str(index), "id")), f"check id {check_id!r} is used twice")
    for index, check in enumerate(rubric.checks):
        for required in check.requires:
            if required not in ids or required == check.id:
                raise RubricError(path, lines.get(("checks", str(index), "requires")),
                                  f"check {check.id!r} requires {required!r}, which is not another check of this rubric")
    rubric._folder = path.resolve().parent
    for index, file in enumerate(rubric.file_paths()):
        if not file.is_file():
            raise RubricError(path, lines.get(("files", str(index))), f"files: {rubric.files[index].source!r} is not a file "
                                                                       f"beside the rubric ({file})")
    rubric._sha256 = hashlib.sha256(text.encode()).hexdigest()
    return rubric


def _telling(error: dict) -> int:
    """How well a validation error tells the writer what to fix, best first: an unknown key (a typo,
    at its own line: the field it hides is then reported missing too), then the rest, then a type
    mismatch (a union's every branch reports one: the least telling)."""
    if error["type"] == "extra_forbidden":
        return 0
    return 2 if error["type"].endswith("_type") or error["type"] == "is_instance_of" else 1


def _said(error: dict, errors: list[dict]) -> str:
    """The error's message; an unknown key's names the missing field it most likely misspells."""
    if error["type"] != "extra_forbidden":
        return error["msg"]
    key, parent = str(error["loc"][-1]), error["loc"][:-1]
    missing = [str(other["loc"][-1]) for other in errors if other["type"] == "missing" and other["loc"][:-1] == parent]
    guess = difflib.get_close_matches(key, missing, n=1) or difflib.get_close_matches(
        key, [name for name in _field_names(Rubric) if name != key], n=1)
    return f"unknown key `{key}`" + (f" (did you mean `{guess[0]}`?)" if guess else "")


def _field_names(model: type[BaseModel], seen: set | None = None) -> list[str]:
    """Every field name of ``model`` and of the models its fields hold (each check type's too)."""
    seen = set() if seen is None else seen
    if model in seen:
        return []
    seen.add(model)
    names = list(model.model_fields)
    for field in model.model_fields.values():
        for inner in _models_in(field.annotation):
            names += _field_names(inner, seen)
    return sorted(set(names))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation names (inside lists, dicts, unions, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in getattr(annotation, "__args__", ()) for model in _models_in(argument)]


def _line_numbers(node: yaml.Node | None, path: tuple = ()) -> dict[tuple, int]:
    """Map each key path (('checks', '2', 'points')) to its 1-based line in the YAML text."""
    lines: dict[tuple, int] = {}
    if node is None:
        return lines
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            lines.update(_line_numbers(value_node, path + (str(key_node.value),)))
            lines[path + (str(key_node.value),)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_line_numbers(item, path + (str(index),)))
    return lines


def _line_for(loc: list[str], lines: dict[tuple, Any]) -> int | None:
    """The line of the deepest key path in the YAML that a pydantic error location leads to.

    Location parts that are not keys of the file (a discriminated union's tag, such as
    ``function``) are skipped, choosing whichever reading matches the most parts.
    """
    def deepest(path: tuple, rest: list[str]) -> tuple:
        if not rest:
            return path
        skipped = deepest(path, rest[1:])
        if path + (rest[0],) in lines:
            taken = deepest(path + (rest[0],), rest[1:])
            return taken if len(taken) > len(skipped) else skipped
        return skipped

    return lines.get(deepest((), loc))
