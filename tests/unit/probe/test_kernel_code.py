"""The code that runs inside the student's kernel stays readable: no function of the probe's
kernel files or of the kernel setup is longer than 60 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from vaegrade.grader.probe import cell
from vaegrade.grader.run import kernel_setup

KERNEL_CODE = [*(Path(cell.__file__).parent / "kernel" / f"{name}.py" for name in cell.KERNEL_FILES),
               Path(kernel_setup.__file__)]


@pytest.mark.parametrize("path", KERNEL_CODE, ids=lambda path: path.name)
def test_no_kernel_side_function_is_longer_than_60_lines(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lengths = {node.name: node.end_lineno - node.lineno + 1 for node in ast.walk(tree)
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assert lengths, f"{path} defines no function"
    assert max(lengths.values()) <= 60, {name: n for name, n in lengths.items() if n > 60}
