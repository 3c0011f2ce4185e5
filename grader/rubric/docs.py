"""Write the rubric format's reference page, ``docs/rubric.md``, from the pydantic models.

Usage: ``python -m vaegrade.grader.rubric.docs [--check]`` (``--check``: exit 1 when the page on disk is
out of date, as the tests do). Every model reachable from :class:`vaegrade.grader.rubric.schema.Rubric` gets a
section listing each field with its type, default, description and examples (a field's
``examples``, written as rubric YAML); every check type of
:data:`vaegrade.grader.checks.CHECK_TYPES` gets one, under its ``type:`` name. The class docstring is the
section's introduction. A field without a description is an error: the page documents them all.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import types
import typing

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from vaegrade.grader.checks import CHECK_TYPES
from vaegrade.grader.rubric.schema import Rubric
from vaegrade.grader.shipped import ROOT

PAGE = ROOT / "docs" / "rubric.md"


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def _type_name(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(value) for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(arg) for arg in typing.get_args(annotation))
    if origin is typing.Annotated:  # the checks' union (a discriminator), or a validated type
        inner, *metadata = typing.get_args(annotation)
        return "check (see below)" if any(getattr(m, "discriminator", None) for m in metadata) else _type_name(inner)
    if origin is not None:
        args = ", ".join(_type_name(arg) for arg in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _default(field) -> str:  # noqa: ANN001 (a pydantic FieldInfo)
    if field.default is not PydanticUndefined:
        return "`null`" if field.default is None else f"`{field.default!r}`"
    if field.default_factory is not None:
        value = field.default_factory()
        return f"`{value.model_dump(exclude_defaults=True) if isinstance(value, BaseModel) else value!r}`"
    return "required"


def _example(name: str, value: object) -> str:
    """A field's example as the rubric's YAML writes it, on one line: `` `files: [a.py]` ``."""
    return "`" + yaml.safe_dump({name: value}, default_flow_style=True, width=10**6, sort_keys=False).strip()[1:-1] + "`"


def section(model: type[BaseModel], title: str) -> tuple[list[str], list[str]]:
    """The Markdown of one model's section, and the fields that have no description."""
    doc = inspect.cleandoc(model.__doc__ or "")
    lines = [f"### {title}", "", doc, "", "| field | type | default | description |", "|---|---|---|---|"]
    undocumented = []
    for name, field in model.model_fields.items():
        if name == "type" and model in CHECK_TYPES.values():
            continue
        if not field.description:
            undocumented.append(f"{model.__name__}.{name}")
        description = (field.description or "") + "".join(f"; e.g. {_example(field.alias or name, example)}"
                                                           for example in field.examples or [])
        description = description.replace("|", "\\|").replace("\n", " ")
        kind = _type_name(field.annotation).replace("|", "\\|")
        lines.append(f"| `{field.alias or name}` | {kind} | {_default(field)} | {description} |")
    return lines + [""], undocumented


def render() -> tuple[str, list[str]]:
    """The whole page, and every undocumented field."""
    lines = ["# Rubric reference", "",
             "Generated from the pydantic models by `python -m vaegrade.grader.rubric.docs`; do not edit by hand.",
             "A rubric is a YAML file; `vaegrade grade` validates it before any notebook runs and names the",
             "file and line of the first problem. Worked examples: `rubrics/vae_mnist.yaml` and `rubrics/shapes/`.", ""]
    undocumented: list[str] = []
    seen: set[type[BaseModel]] = set()
    queue: list[tuple[type[BaseModel], str]] = [(Rubric, "The rubric (top level)")]
    queue += [(cls, f"Check type `{name}`") for name, cls in CHECK_TYPES.items()]
    while queue:
        model, title = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        text, missing = section(model, title)
        lines += text
        undocumented += missing
        for field in model.model_fields.values():
            queue += [(inner, f"`{inner.__name__}`") for inner in _models_in(field.annotation)
                      if inner not in seen and inner not in CHECK_TYPES.values()]
    return "\n".join(lines).rstrip() + "\n", undocumented


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/rubric.md is out of date")
    args = parser.parse_args(argv)
    page, undocumented = render()
    if undocumented:
        print("fields without a description: " + ", ".join(undocumented), file=sys.stderr)
        return 1
    if args.check:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != page:
            print(f"{PAGE} is out of date: run `python -m vaegrade.grader.rubric.docs`", file=sys.stderr)
            return 1
        return 0
    PAGE.parent.mkdir(exist_ok=True)
    PAGE.write_text(page, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
