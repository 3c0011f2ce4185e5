"""The student's view of a rubric: what self-check and ``vaegrade check`` ever see.

A **public rubric** is the instructor's rubric without its hidden checks (``visibility:
hidden``, with their inputs and thresholds) and without its written questions (their expected
concepts, formulas and numbers are the answers), with:

- another ``seed``, derived from the sha256 of the whole instructor rubric, so public function
  checks draw their inputs from a different stream than grading and neither the grading seed nor
  the grading inputs can be recovered from the public file;
- ``withheld``: how many hidden checks and how many points (hidden and written) it leaves out,
  so a student is told that they exist and what they are worth, and nothing else.

Self-check (:mod:`vaegrade.grader.selfcheck`) and ``vaegrade check`` only ever see :func:`public_view`.
``vaegrade bundle`` (:func:`vaegrade.grader.assignment.bundle.write_bundle`) writes it with the
handout for students; the instructor's rubric stays home.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

from vaegrade.grader.errors import RubricError
from vaegrade.grader.rubric.schema import Rubric, Withheld, load_rubric
from vaegrade.grader.shipped import rubric_file

PUBLIC_SUFFIX = ".public.yaml"


def public_seed(rubric: Rubric) -> int:
    """The seed of the rubric's public view: 32 bits of sha256("vaegrade-public:" + rubric sha256)."""
    return int(hashlib.sha256(f"vaegrade-public:{rubric.sha256}".encode()).hexdigest()[:8], 16)


def public_data(rubric: Rubric) -> dict[str, Any]:
    """The public rubric as a YAML-ready mapping: the instructor's entries as written, hidden
    checks and the ``report`` section removed, ``seed`` replaced, ``withheld`` stated."""
    data = rubric.model_dump(mode="json", exclude_unset=True)
    hidden = rubric.hidden_checks()
    data["checks"] = [entry for entry, check in zip(data.get("checks", []), rubric.checks) if check not in hidden]
    data.pop("report", None)
    data["seed"] = public_seed(rubric)
    data["withheld"] = Withheld(hidden_checks=len(hidden) + rubric.withheld.hidden_checks,
                                hidden_points=sum(check.points for check in hidden) + rubric.withheld.hidden_points,
                                written_points=sum(rubric.report_points().values()) + rubric.withheld.written_points,
                                ).model_dump()
    return data


def public_view(rubric: Rubric) -> Rubric:
    """The public rubric in memory, reading its files and handout from the instructor rubric's folder.

    Raises:
        RubricError: every check is hidden, so there is nothing a student could run.
    """
    data = public_data(rubric)
    if not data["checks"]:
        raise RubricError(rubric.folder, None, f"rubric {rubric.name!r} has no visible checks: nothing to self-check")
    view = Rubric.model_validate(data)
    view._folder = rubric.folder
    view._sha256 = hashlib.sha256(yaml.safe_dump(data, sort_keys=False).encode()).hexdigest()
    return view


def load_public(spec: str | Path) -> tuple[Path, Rubric]:
    """The rubric file ``spec`` names (a path, or a shipped rubric's name) and its public view.

    Raises:
        RubricError: no such file or shipped rubric, it does not validate, or nothing is public.
    """
    path = rubric_file(spec)
    return path, public_view(load_rubric(path))


def public_yaml(rubric: Rubric, handout: str | None = None) -> str:
    """The public rubric's text, for a folder holding its ``files`` (by their names) and, in a
    bundle, its ``handout`` notebook."""
    data = public_data(rubric)
    data.pop("handout", None)
    data.pop("files", None)
    files = [{"source": Path(file.source).name, "to": file.to} for file in rubric.files]
    data |= ({"handout": handout} if handout else {}) | ({"files": files} if files else {})
    header = (f"# Public rubric of {rubric.title!r}, written by vaegrade: the checks you can run yourself\n"
              f"# (selfcheck, vaegrade check). Hidden checks and written answers are not in it.\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def hidden_needles(rubric: Rubric) -> list[str]:
    """What would betray a hidden check if a student saw it: its id and title, and every input or
    threshold of its rubric entry that no public entry shares (numbers of at least two digits or
    with a decimal point, and strings)."""
    public = set(_leaves(public_data(rubric)))
    needles = []
    for check in rubric.hidden_checks():
        needles += [check.id, check.title]
        needles += [leaf for leaf in _leaves(check.model_dump(mode="json", exclude_unset=True))
                    if leaf not in public and leaf not in needles and (len(leaf.lstrip("-")) >= 2 or "." in leaf)]
    return needles


def find_leaks(needles: list[str], text: str) -> list[str]:
    """The needles found in ``text`` as whole tokens (``4.5`` is not found in ``14.5``, ``4.55`` or
    the exponent of ``2.4e+4.5``; ``20`` is not found in ``2.36e+20``)."""
    return [needle for needle in needles
            if re.search(rf"(?<![\w.])(?<![eE][+-]){re.escape(needle)}(?![\w]|\.\d)", text)]


def _leaves(value: Any) -> list[str]:
    """The scalar values of a nested mapping, as text (booleans and the check type names aside)."""
    if isinstance(value, dict):
        return [leaf for key, item in value.items() if key not in ("type", "visibility") for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [] if isinstance(value, bool) or value is None else [str(value)]


def find_public_rubric(folder: Path) -> Path | None:
    """The one ``*.public.yaml`` in ``folder`` or the nearest of its parents, as a bundle has it.

    Raises:
        RubricError: a folder holds several, so which one is meant cannot be guessed.
    """
    for candidate in [folder, *folder.parents]:
        found = sorted(candidate.glob(f"*{PUBLIC_SUFFIX}"))
        if len(found) > 1:
            raise RubricError(candidate, None, "several public rubrics here (" + ", ".join(p.name for p in found)
                              + "): name one (selfcheck.use(PATH) or --rubric PATH)")
        if found:
            return found[0]
    return None
