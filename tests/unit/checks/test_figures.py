"""The figures check on executed notebooks written here: a figure found by its tag, its heading,
a comment or a cell after a Markdown line, and no credit for a figure the student did not draw
or for one the grader's own cells drew."""

from __future__ import annotations

import nbformat

from tests.unit.evidence import evidence
from vaegrade.grader.checks.figures import FiguresCheck
from vaegrade.grader.probe.cell import injected

PNG = {"image/png": "iVBORw0KGgo="}


def drawn(source: str, tags: tuple[str, ...] = (), image: bool = True) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)})
    cell.outputs = [nbformat.v4.new_output("display_data", data=PNG)] if image else []
    return cell


def judged(check: FiguresCheck, cells: list) -> tuple[float, str]:
    outcome = check.evaluate(evidence([], {}, notebook=nbformat.v4.new_notebook(cells=cells)))
    return outcome.fraction, outcome.message


CHECK = FiguresCheck(id="figures", title="Figures", points=10, required=[
    {"title": "reconstructions", "tag": "reconstructions", "heading": "^#+ .*reconstruct"},
    {"title": "samples", "comment": "samples from the prior", "after": "Sample from the prior"}])


def test_each_way_of_finding_a_figure_finds_it():
    by_tag = drawn("plt.show()", ("reconstructions",))
    by_heading = [nbformat.v4.new_markdown_cell("## Reconstructions"), drawn("plt.imshow(x)")]
    by_comment = drawn("# samples from the prior\nplt.show()")
    after = [nbformat.v4.new_markdown_cell("Sample from the prior and show them."), drawn("plt.show()")]
    assert judged(CHECK, [by_tag, by_comment]) == (1.0, "all figures present")
    assert judged(CHECK, [*by_heading, *after])[0] == 1.0


def test_a_cell_without_its_image_or_a_missing_cell_loses_that_figure_and_says_which():
    fraction, message = judged(CHECK, [drawn("plt.show()", ("reconstructions",), image=False)])
    assert fraction == 0.0
    assert "reconstructions (no image in a cell tagged `reconstructions`" in message
    assert ("samples (no image in a cell with a comment matching 'samples from the prior' or after a Markdown cell "
            "matching 'Sample from the prior', and no such cell)") in message


def test_a_figure_the_graders_own_cell_drew_earns_nothing():
    grader_cell = injected("plt.show()", "injected-probe")
    grader_cell.metadata["tags"].append("reconstructions")
    grader_cell.outputs = [nbformat.v4.new_output("display_data", data=PNG)]
    assert judged(CHECK, [grader_cell, drawn("# samples from the prior\nplt.show()")])[0] == 0.5


def test_a_figure_is_found_by_the_function_its_cell_calls_by_its_code_or_by_its_position():
    by_code = FiguresCheck(id="f", title="F", points=10, required=[
        {"title": "samples", "calls": "show_grid"}, {"title": "curve", "code": r"plt\.plot\(.*loss"},
        {"title": "second figure", "index": 2}])
    cells = [drawn("%matplotlib inline\nimages = decode(z)\nutils.show_grid(images, nrow=8)"),
             drawn("plt.plot(history['loss'])\nplt.show()")]
    assert judged(by_code, cells) == (1.0, "all figures present")
    fraction, message = judged(by_code, [drawn("show_grid_later = 1", image=False), drawn("plt.plot(kl_loss)")])
    assert round(fraction, 6) == round(1 / 3, 6) and "samples (no image in a cell calling `show_grid`" in message
    assert "second figure (no image in the notebook's figure 2)" in message
