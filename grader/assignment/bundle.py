"""``vaegrade bundle``: the folder an instructor hands to students."""

from __future__ import annotations

import shutil
from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from vaegrade.grader.errors import RubricError
from vaegrade.grader.rubric.public import PUBLIC_SUFFIX, public_view, public_yaml
from vaegrade.grader.rubric.schema import Rubric
from vaegrade.grader.run.datasets import dataset_file
from vaegrade.grader.shipped import shipped


def write_bundle(rubric: Rubric, out: Path, wheel: Path | None = None) -> list[Path]:
    """Write what students get into ``out``: ``<name>.public.yaml``, the handout notebook, the
    handout's ``files``, the data set it loads (``<dataset>.npz``, Keras layout: the handout runs
    to its end in the folder, offline), vaegrade's ``wheel`` when given, and ``README.md`` (whose
    install command is for what is in the folder). Returns the files written.

    Raises:
        RubricError: the rubric names no ``handout`` or it is missing, or two of its files share a name.
        DataError: the data set's shipped copy is missing or corrupt.
    """
    handout = rubric.handout_path()
    if handout is None or not handout.is_file():
        raise RubricError(rubric.folder, None, f"handout: {rubric.handout!r} is not a notebook beside the rubric"
                          if handout else "the rubric names no `handout:` notebook to bundle")
    sources = [handout, *rubric.file_paths(), *([wheel] if wheel else [])]
    names = [path.name for path in sources]
    if len(set(names)) < len(names):
        raise RubricError(rubric.folder, None, f"handout files share a name: {sorted(names)}")
    out.mkdir(parents=True, exist_ok=True)
    written = [Path(shutil.copyfile(path, out / path.name)) for path in sources]
    written.append(Path(shutil.copyfile(dataset_file(rubric.dataset), out / f"{rubric.dataset}.npz")))
    public = out / f"{rubric.name}{PUBLIC_SUFFIX}"
    public.write_text(public_yaml(rubric, handout.name), encoding="utf-8")
    readme = Environment(loader=FileSystemLoader(shipped("templates")), keep_trailing_newline=True)
    view = public_view(rubric)
    (out / "README.md").write_text(readme.get_template("student_readme.md.j2").render(
        rubric=view, handout=handout.name, public=public.name, data=f"{rubric.dataset}.npz",
        wheel=wheel.name if wheel else None), encoding="utf-8")
    return [*written, public, out / "README.md"]
