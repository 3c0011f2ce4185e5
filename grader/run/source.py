"""Reading and rewriting the student's code with the ``ast`` module (never regular expressions).

A notebook cell is IPython, not Python: ``!pip install``, ``%tensorflow_version 2.x``. Each
cell is first turned into Python by IPython's own :class:`TransformerManager` (the kernel does
the same before running it), then parsed.

- :func:`rewrite_parameters`: grading parameters in notebooks without a ``parameters`` tag:
  assignments to the parameter's names (``num_epochs = 30``, ``cfg.epochs = 30``,
  ``config["epochs"] = 30``, ``epochs, lr = 30, 1e-3``), numeric entries of dict literals
  (``{"epochs": 30}``), defaults of function parameters so named (``def train(model, epochs=30)``),
  listed call keywords (``vae.fit(..., epochs=30)``), listed positional arguments given as
  literal numbers (``train(30, model, loader)``) and loops over a literal range by their
  variable (``for epoch in range(30)``, ``range(1, 30 + 1)``, ``range(1, 31)``, ``tqdm(range(30))``)
  get the rubric's value (or, per call, its values in notebook order); every rewrite is
  returned as a sentence for the result.
- :func:`scan_platform`: what a notebook written for a GPU or Colab uses, so that the kernel
  setup can shim it on a CPU grader (see :mod:`vaegrade.grader.run.kernel_setup`) and the result can say so.
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from IPython.core.inputtransformer2 import TransformerManager


def python_source(cell_source: str) -> str:
    """The Python the kernel runs for a cell's IPython source (magics become calls)."""
    return TransformerManager().transform_cell(cell_source)


def parse_cell(cell_source: str) -> tuple[str, ast.Module] | None:
    """(Python source, its tree), or None when the cell is not valid Python even so."""
    python = python_source(cell_source)
    try:
        return python, ast.parse(python)
    except (SyntaxError, ValueError):
        return None


@dataclass(frozen=True)
class Edit:
    """Replace the source span of ``node`` by ``text``."""

    node: ast.expr
    text: str
    what: str


def _assigned(node: ast.AST) -> list[tuple[str, ast.expr]]:
    """(name, value) pairs a statement or expression sets: ``epochs = 30``, ``epochs: int = 30``,
    ``epochs, lr = 30, 1e-3``, and, only where the value is a literal number (``history["epochs"]
    = []`` is no parameter), ``cfg.epochs = 30``, ``config["epochs"] = 30`` and the entries of a
    dict literal ``{"epochs": 30}``."""
    def key(target: ast.expr, value: ast.expr) -> str | None:
        if isinstance(target, ast.Name):
            return target.id
        if isinstance(target, ast.Attribute) and _is_number(value):
            return target.attr
        if (isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant)
                and isinstance(target.slice.value, str) and _is_number(value)):
            return target.slice.value
        return None

    pairs: list[tuple[str | None, ast.expr]] = []
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple) and len(target.elts) == len(node.value.elts):
                pairs += [(key(t, v), v) for t, v in zip(target.elts, node.value.elts)]
            else:
                pairs.append((key(target, node.value), node.value))
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        pairs.append((key(node.target, node.value), node.value))
    elif isinstance(node, ast.Dict):
        pairs += [(k.value, v) for k, v in zip(node.keys, node.values)
                  if isinstance(k, ast.Constant) and isinstance(k.value, str) and _is_number(v)]
    return [(name, value) for name, value in pairs if name is not None]


def _is_number(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


@dataclass
class Targets:
    """Where the grading parameters may be set in a notebook, each site naming its parameter:
    variable ``names`` (``num_epochs``), call ``keywords`` as (function, keyword)
    (``("fit", "epochs")``), ``loops`` by loop variable (``for epoch in range(30)`` runs the
    value's number of times) and ``positions`` as (function, index) (``("train", 0)``: the first
    positional argument of every call of ``train``, where it is a literal number).

    ``values`` holds each parameter's values: the sites of a parameter, in notebook order, take
    them one by one, and the last repeats (one value: every site gets it). A Targets counts the
    sites it gave values to, so one is made per notebook.
    """

    values: dict[str, list[Any]]
    names: dict[str, str] = field(default_factory=dict)
    keywords: dict[tuple[str, str], str] = field(default_factory=dict)
    loops: dict[str, str] = field(default_factory=dict)
    positions: dict[tuple[str, int], str] = field(default_factory=dict)
    taken: Counter = field(default_factory=Counter)

    def take(self, parameter: str) -> Any:
        """The value of ``parameter``'s next site."""
        values = self.values[parameter]
        self.taken[parameter] += 1
        return values[min(self.taken[parameter], len(values)) - 1]


@dataclass(frozen=True)
class _Site:
    """A literal that sets ``parameter`` (plus ``offset``: ``range(1, N1)`` runs N1 - 1 times)."""

    node: ast.expr
    parameter: str
    what: str
    offset: int = 0


def _sites(tree: ast.Module, targets: Targets) -> list[_Site]:
    """Every literal of one cell's tree that sets a grading parameter (see module docstring)."""
    names = targets.names
    sites: list[_Site] = []
    for node in ast.walk(tree):
        for target, value in _assigned(node):
            if target in names:
                sites.append(_Site(value, names[target], f"`{target} = ...`" if not isinstance(node, ast.Dict)
                                   else f"the dict entry '{target}'"))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            positional = node.args.posonlyargs + node.args.args
            defaults = zip(positional[len(positional) - len(node.args.defaults):], node.args.defaults)
            pairs = list(defaults) + [(a, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None]
            sites += [_Site(default, names[arg.arg], f"the default of `{arg.arg}` in `{node.name}`")
                      for arg, default in pairs if arg.arg in names]
        if isinstance(node, ast.Call):
            called = _called_name(node)
            sites += [_Site(keyword.value, targets.keywords[(called, keyword.arg)], f"`{called}(..., {keyword.arg}=...)`")
                      for keyword in node.keywords if (called, keyword.arg) in targets.keywords]
            sites += [_Site(argument, targets.positions[(called, index)], f"argument {index + 1} of `{called}(...)`")
                      for index, argument in enumerate(node.args)
                      if (called, index) in targets.positions and _is_number(argument)]
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and node.target.id in targets.loops:
            found = _range_count(node.iter)
            if found is not None:
                sites.append(_Site(found[0], targets.loops[node.target.id], f"`for {node.target.id} in range(...)`",
                                   found[1]))
    return sites


def parameter_edits(tree: ast.Module, targets: Targets) -> list[Edit]:
    """The edits that set the parameters in one cell's tree, its sites taking their values in
    the order they are written (see :class:`Targets`)."""
    sites = sorted(_sites(tree, targets), key=lambda site: (site.node.lineno, site.node.col_offset))
    edits = []
    for site in sites:
        value = targets.take(site.parameter)
        edits.append(Edit(site.node, repr(value + site.offset if site.offset else value), site.what))
    return edits


def _range_count(node: ast.expr) -> tuple[ast.expr, int] | None:
    """The literal that sets how many times a loop over ``range(N)``, ``range(0, N)``,
    ``range(1, N + 1)`` or ``range(1, N1)`` runs (also inside ``tqdm(...)``, or ``trange``), and
    what it adds to the count (1 for ``range(1, N1)``); None when it is not a literal."""
    if isinstance(node, ast.Call) and _called_name(node) == "tqdm" and node.args:
        return _range_count(node.args[0])
    if not (isinstance(node, ast.Call) and _called_name(node) in ("range", "trange") and 1 <= len(node.args) <= 2):
        return None
    start = node.args[0] if len(node.args) == 2 else ast.Constant(0)
    stop = node.args[-1]
    if not (isinstance(start, ast.Constant) and start.value in (0, 1)):
        return None
    if start.value == 1 and isinstance(stop, ast.BinOp) and isinstance(stop.op, ast.Add) and _is_number(stop.right) \
            and stop.right.value == 1:  # type: ignore[attr-defined]
        return (stop.left, 0) if _is_number(stop.left) else None
    return (stop, start.value) if _is_number(stop) else None


def _offset(lines: list[str], line: int, column: int) -> int:
    """Character offset in the joined text of ``lines`` for ast's 1-based line and UTF-8 byte column."""
    before = sum(len(text) for text in lines[:line - 1])
    return before + len(lines[line - 1].encode("utf-8")[:column].decode("utf-8", errors="ignore"))


def apply_edits(cell_source: str, python: str, edits: list[Edit]) -> tuple[str, list[str]]:
    """``cell_source`` with ``edits`` (positions in ``python``) applied, and one note per edit (a
    site already holding its grading value is noted as such: the parameter was found).

    Edits land in the cell's own text where the lines they touch are the same in both (every
    line that is not a magic); otherwise the cell becomes its Python translation.
    """
    original, translated = cell_source.splitlines(keepends=True), python.splitlines(keepends=True)
    spans = [(e, e.node.lineno, e.node.end_lineno or e.node.lineno) for e in edits]
    same = all(last <= len(original) and [line.rstrip("\n") for line in original[first - 1:last]]
               == [line.rstrip("\n") for line in translated[first - 1:last]] for _, first, last in spans)
    lines = original if same else translated
    text = "".join(lines)
    notes = []
    for edit, first, _ in sorted(spans, key=lambda s: (s[0].node.lineno, s[0].node.col_offset), reverse=True):
        start = _offset(lines, first, edit.node.col_offset)
        end = _offset(lines, edit.node.end_lineno or first, edit.node.end_col_offset or 0)
        if text[start:end] != edit.text:
            notes.append(f"line {first}: {edit.what} {text[start:end]} -> {edit.text}")
            text = text[:start] + edit.text + text[end:]
        else:
            notes.append(f"line {first}: {edit.what} {edit.text} (already the grading value)")
    return text, notes[::-1]


def rewrite_parameters(cell_source: str, targets: Targets) -> tuple[str, list[str]]:
    """A cell's source with the grading parameters set, and what was rewritten (empty: unchanged)."""
    parsed = parse_cell(cell_source)
    if parsed is None:
        return cell_source, []
    python, tree = parsed
    edits = parameter_edits(tree, targets)
    if not edits:
        return cell_source, []
    return apply_edits(cell_source, python, edits)


@dataclass
class Platform:
    """What the notebook expects of its machine, found in its code.

    ``cuda``: it moves tensors or models to a GPU (``.cuda()``, ``"cuda"`` devices);
    ``colab``: it imports ``google.colab`` unconditionally (written for Colab only: the kernel
    gets a stub), ``colab_aware``: it tries the import and handles its absence (``IN_COLAB``: no
    stub, so it takes its own non-Colab branch); ``installs``: shell or magic ``pip``/``apt``
    commands; ``magics``: line magics the kernel lacks (``%tensorflow_version``);
    ``tensorflow_1``: what marks it as TensorFlow 1.x code (``%tensorflow_version 1.x``,
    ``tf.placeholder``, ``tf.Session``: :data:`TF1_ONLY`).
    """

    cuda: bool = False
    colab: bool = False
    colab_aware: bool = False
    installs: list[str] = field(default_factory=list)
    magics: list[str] = field(default_factory=list)
    tensorflow_1: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        """One sentence per adaptation, for the result."""
        notes = []
        if self.cuda:
            notes.append("the notebook asks for a GPU (`.cuda()` or a 'cuda' device): it ran on the CPU")
        if self.colab:
            notes.append("`google.colab` is not available: `drive.mount` and the like were skipped")
        elif self.colab_aware:
            notes.append("the notebook checks for Colab itself: `google.colab` is not importable here, so it took its "
                         "non-Colab branch")
        notes += [f"skipped `{command}`: packages come from the grading environment" for command in self.installs]
        notes += [f"skipped the Colab magic `%{magic}`" for magic in self.magics]
        return notes


INSTALLERS = ("pip", "pip3", "apt", "apt-get", "conda")
COLAB_MAGICS = ("tensorflow_version",)
#: Attributes of the ``tensorflow`` module that TensorFlow 2 removed (``tf.compat.v1`` keeps them,
#: and code reaching them through it runs on TensorFlow 2): the marks of TensorFlow 1.x graph code.
TF1_ONLY = frozenset({"placeholder", "Session", "InteractiveSession", "contrib", "get_variable", "variable_scope",
                      "global_variables_initializer", "reset_default_graph", "random_normal", "truncated_normal",
                      "to_float", "log", "logging"})
#: Modules TensorFlow 2 still has, whose TF 1.x members it removed: ``tf.train.AdamOptimizer``, ``tf.layers.dense``.
TF1_ONLY_BELOW = {"layers": frozenset({"dense", "conv2d", "conv2d_transpose", "flatten", "batch_normalization"}),
                  "train": frozenset({"AdamOptimizer", "GradientDescentOptimizer", "RMSPropOptimizer", "Saver"})}
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def scan_platform(sources: list[str]) -> Platform:
    """The :class:`Platform` of a notebook's code cells."""
    platform = Platform()
    trees = [parsed[1] for parsed in map(parse_cell, sources) if parsed is not None]
    tensorflow = {alias.asname or alias.name for tree in trees for node in ast.walk(tree) if isinstance(node, ast.Import)
                  for alias in node.names if alias.name == "tensorflow"}
    for tree in trees:
        guarded = {id(inner) for node in ast.walk(tree) if _is_gpu_guard(node) for inner in ast.walk(node)}
        tried = {id(inner) for node in ast.walk(tree) if _is_import_guard(node) for statement in node.body
                 for inner in ast.walk(statement)}
        for node in ast.walk(tree):
            if id(node) in guarded:
                continue
            if isinstance(node, ast.Attribute) and node.attr == "cuda" and not _is_torch_cuda_module(node):
                platform.cuda = True
            elif isinstance(node, ast.Attribute) and _is_tf1_attribute(node, tensorflow):
                platform.tensorflow_1.append(f"`{ast.unparse(node)}`")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("cuda"):
                platform.cuda = True
            elif isinstance(node, (ast.Import, ast.ImportFrom)) and _imports_colab(node):
                platform.colab_aware |= id(node) in tried
                platform.colab |= id(node) not in tried
            elif isinstance(node, ast.Call) and _is_ipython_call(node):
                _scan_ipython_call(node, platform)
    platform.colab &= not platform.colab_aware  # a notebook that checks for Colab gets no stub anywhere
    platform.tensorflow_1 = list(dict.fromkeys(platform.tensorflow_1))
    return platform


def _scan_ipython_call(node: ast.Call, platform: Platform) -> None:
    """Record a shell command or line magic (``get_ipython().system(...)``, ``run_line_magic(...)``)."""
    method, argument = node.func.attr, node.args[0].value  # type: ignore[attr-defined]
    if method == "system" and argument.split()[:1] and argument.split()[0] in INSTALLERS:
        platform.installs.append(f"!{argument}")
    elif method == "run_line_magic" and argument in INSTALLERS:
        platform.installs.append(f"%{argument} {node.args[1].value}")  # type: ignore[attr-defined]
    elif method == "run_line_magic" and argument in COLAB_MAGICS:
        line = f"{argument} {node.args[1].value}".strip()  # type: ignore[attr-defined]
        platform.magics.append(line)
        if line.split()[1:2] and line.split()[1].startswith("1"):
            platform.tensorflow_1.append(f"`%{line}`")


def _imports_colab(node: ast.Import | ast.ImportFrom) -> bool:
    modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
    return any(m == "google.colab" or m.startswith("google.colab.") for m in modules) or (
        isinstance(node, ast.ImportFrom) and node.module == "google" and any(a.name == "colab" for a in node.names))


def _is_import_guard(node: ast.AST) -> bool:
    """A ``try`` whose handlers catch a failed import (``except ImportError``, ``except Exception``, bare)."""
    if not isinstance(node, ast.Try):
        return False
    for handler in node.handlers:
        caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if handler.type is None or any(isinstance(c, ast.Name) and c.id in IMPORT_ERRORS for c in caught):
            return True
    return False


def _is_tf1_attribute(node: ast.Attribute, tensorflow: set[str]) -> bool:
    """``tf.placeholder`` or ``tf.train.AdamOptimizer``, ``tf`` bound by ``import tensorflow as tf``."""
    inner = node.value
    if isinstance(inner, ast.Name):
        return inner.id in tensorflow and node.attr in TF1_ONLY
    return (isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name) and inner.value.id in tensorflow
            and node.attr in TF1_ONLY_BELOW.get(inner.attr, ()))


def _is_gpu_guard(node: ast.AST) -> bool:
    """``"cuda" if torch.cuda.is_available() else "cpu"`` (or an ``if`` on it): runs on a CPU as it is."""
    return isinstance(node, (ast.IfExp, ast.If)) and any(
        isinstance(inner, ast.Attribute) and inner.attr == "is_available" for inner in ast.walk(node.test))


def _is_torch_cuda_module(node: ast.Attribute) -> bool:
    """``torch.cuda`` (the module, as in ``torch.cuda.is_available()``) is no request for a GPU."""
    return isinstance(node.value, ast.Name) and node.value.id == "torch"


def _is_ipython_call(node: ast.Call) -> bool:
    """``get_ipython().system('...')`` or ``get_ipython().run_line_magic('name', 'args')`` with constant strings."""
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr in ("system", "run_line_magic", "getoutput")
            and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "get_ipython" and bool(node.args)
            and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args))


#: Calls that train: a loss differentiated (``loss.backward()``, ``tape.gradient(...)``) or a Keras
#: training (``model.fit(...)``, ``train_on_batch``).
TRAINING_CALLS = frozenset({"backward", "gradient", "fit", "fit_generator", "train_on_batch"})


def last_training_cell(sources: list[str]) -> int | None:
    """The index in ``sources`` of the last cell that trains: one whose own statements (not the
    bodies of the functions and classes it defines) make a :data:`TRAINING_CALLS` call, or call a
    function or method the notebook defines that does (at any depth). None when no cell trains."""
    trees = [parsed[1] if parsed else None for parsed in map(parse_cell, sources)]
    bodies = {node.name: node for tree in trees if tree for node in ast.walk(tree)
              if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    trainers: set[str] = set()
    while True:  # a function trains when its body trains: grow the set until it stops growing
        grown = {name for name, node in bodies.items() if _trains(node.body, trainers)} | trainers
        if grown == trainers:
            break
        trainers = grown
    found = [index for index, tree in enumerate(trees) if tree is not None and _trains(tree.body, trainers)]
    return found[-1] if found else None


def _trains(statements: list[ast.stmt], trainers: set[str]) -> bool:
    """True when ``statements`` (not the definitions among them) call a training call or a trainer."""
    for statement in statements:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                if name in TRAINING_CALLS or name in trainers:
                    return True
    return False
