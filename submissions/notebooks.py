"""Helpers of the assignments' ``build.py`` scripts: notebooks from (kind, source) cells, and
flawed variants made by one exact change to a correct notebook.

Each ``submissions/<assignment>/build.py`` writes its handout and samples byte-stably
(``python submissions/<assignment>/build.py``); the notebooks are what instructors and
``vaegrade validate`` read, the script is how they stay consistent with one another.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

Cells = list[tuple[str, str]]
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def notebook(cells: Cells) -> nbformat.NotebookNode:
    """A notebook of Markdown (``md``) and code (``code``) cells, without outputs or tags."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": KERNEL, "language_info": {"name": "python"}}
    nb.cells = [nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source)
                for kind, source in cells]
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index}"
    return nb


def change(cells: Cells, old: str, new: str) -> Cells:
    """``cells`` with the one occurrence of ``old`` replaced by ``new`` (ValueError otherwise)."""
    hits = sum(source.count(old) for _, source in cells)
    if hits != 1:
        raise ValueError(f"{old!r} occurs {hits} times, expected once")
    return [(kind, source.replace(old, new)) for kind, source in cells]


def write(path: Path, cells: Cells) -> None:
    """Write the notebook of ``cells`` to ``path`` (nbformat 4, validated)."""
    nb = notebook(cells)
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def stub(source: str) -> str:
    """``source`` with the body of every top-level function replaced by a TODO that raises
    NotImplementedError (signatures and docstrings kept), found with the ``ast`` module."""
    import ast

    lines = source.split("\n")
    functions = [node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]
    for node in reversed(functions):
        first = node.body[0]
        has_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
        keep = first.end_lineno if has_doc else node.body[0].lineno - 1
        indent = " " * node.body[0].col_offset
        lines[keep:node.end_lineno] = [f"{indent}# TODO: your code here", f"{indent}raise NotImplementedError"]
    return "\n".join(lines)


def train_as_graded(notebook: Path, rubric_path: Path, parameters: dict, saved: str, target: Path) -> None:
    """Run ``notebook`` as grading runs it (its parameters set the rubric's way, to ``parameters``;
    the data sets served whole, offline; the rubric's kernel environment and variables), unconfined,
    in a scratch folder, and keep the weights file it saves as ``saved`` as ``target``: the trained
    weights a sample hands in (a rubric's ``weights:``)."""
    import json
    import os
    import shutil
    import tempfile

    import nbclient

    from vaegrade.grader.rubric.schema import load_rubric
    from vaegrade.grader.run import transforms
    from vaegrade.grader.run.datasets import served_files
    from vaegrade.grader.run.environments import ensure_environment
    from vaegrade.grader.run.prepare import prepare

    rubric = load_rubric(rubric_path)
    rubric = rubric.model_copy(update={"parameters": {**rubric.parameters, **parameters}, "weights": None,
                                       "data": rubric.data.model_copy(update={"train_subset": None, "test_subset": None})})
    with tempfile.TemporaryDirectory(prefix="vaegrade-train-") as folder:
        scratch = Path(folder)
        served = {name: shutil.copy(path, scratch / f"{name}.npz") for name, path in served_files(None, None).items()}
        prepared = prepare(nbformat.read(notebook, as_version=4), rubric).notebook
        setup = transforms.inject_setup_cell(prepared, {"seed": rubric.seed, "threads": os.cpu_count(), "framework": rubric.framework,
                                                        "datasets": {name: str(path) for name, path in served.items()}})
        kernel = ensure_environment(rubric.environment.packages, rubric.environment.variables)
        spec = scratch / "jupyter" / "kernels" / "vaegrade-train"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({"argv": [str(kernel.python), "-m", "ipykernel_launcher", "-f",
                                                               "{connection_file}"], "display_name": "train",
                                                      "language": "python", "env": kernel.kernel_variables()}))
        os.environ["JUPYTER_PATH"] = str(scratch / "jupyter")
        nbclient.NotebookClient(setup, timeout=3600, kernel_name="vaegrade-train", resources={"metadata": {"path": folder}}).execute()
        shutil.copy(scratch / saved, target)
    print(f"wrote {target}")
