"""Similarity flags: a copy of another student's cells with every variable, function and class
renamed (and its comments gone) is flagged with its source; an independently written solution is
not, nor are two students who handed in only the handout's code."""

import ast
import builtins
import shutil

import nbformat

from tests.conftest import ROOT
from vaegrade.grader.publish import similarity
from vaegrade.grader.run.submissions import find_submissions

SAMPLES = ROOT / "submissions" / "vae_mnist" / "samples"
HANDOUT = ROOT / "submissions" / "vae_mnist" / "handout.ipynb"


class Renamer(ast.NodeTransformer):
    """Renames every name the code defines (not builtins, not imported modules' attributes)."""

    def __init__(self, defined):
        self.names = {name: f"renamed_{index}" for index, name in enumerate(sorted(defined))}

    def visit_Name(self, node):
        node.id = self.names.get(node.id, node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.names.get(node.arg, node.arg)
        return node

    def visit_FunctionDef(self, node):
        node.name = self.names.get(node.name, node.name)
        return self.generic_visit(node)

    visit_ClassDef = visit_FunctionDef


def renamed_copy(source_path, target_path):
    notebook = nbformat.read(source_path, as_version=4)
    trees = [ast.parse(cell.source) for cell in notebook.cells if cell.cell_type == "code"]
    defined = {node.id for tree in trees for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    defined |= {node.name for tree in trees for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    defined |= {node.arg for tree in trees for node in ast.walk(tree) if isinstance(node, ast.arg)} - {"self"}
    renamer = Renamer(defined - set(dir(builtins)))
    code_cells = iter(trees)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = ast.unparse(renamer.visit(next(code_cells)))  # comments and layout gone too
    nbformat.write(notebook, target_path)
    return renamer.names


def test_a_renamed_copy_is_flagged_and_independent_or_handout_only_work_is_not(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(SAMPLES / "reference_solution.ipynb", folder / "ada.ipynb")
    names = renamed_copy(SAMPLES / "reference_solution.ipynb", folder / "bob.ipynb")
    shutil.copy(SAMPLES / "alternative_conv_vae.ipynb", folder / "cy.ipynb")
    shutil.copy(HANDOUT, folder / "dee.ipynb")
    shutil.copy(HANDOUT, folder / "eve.ipynb")
    copied = "\n".join(c.source for c in nbformat.read(folder / "bob.ipynb", as_version=4).cells if c.cell_type == "code")
    assert len(names) > 20 and "kl_divergence" in names and "kl_divergence" not in copied and "#" not in copied

    flags = similarity.flags(find_submissions([folder]), HANDOUT)
    assert [(f.kind, f.first, f.second) for f in flags] == [("code", "ada", "bob")]
    assert min(flags[0].similarity) > 0.75 and flags[0].passages[0] and flags[0].passages[1]

    everything = similarity.flags(find_submissions([folder]))  # without the handout as boilerplate
    assert ("code", "dee", "eve") in [(f.kind, f.first, f.second) for f in everything]
