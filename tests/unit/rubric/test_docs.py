"""docs/rubric.md is generated from the rubric's pydantic models and lists every field."""

from __future__ import annotations


def test_the_rubric_reference_page_is_complete_and_up_to_date():
    from vaegrade.grader.rubric import docs as rubric_doc

    page, undocumented = rubric_doc.render()
    assert undocumented == []
    assert rubric_doc.PAGE.read_text(encoding="utf-8") == page, "run `python -m vaegrade.grader.rubric.docs`"
    for field in ("`framework`", "`instance_of`", "`fields`", "`keywords`", "`returns`", "`layout`", "`train_subset`"):
        assert field in page



def test_the_fields_that_reach_the_maths_wherever_it_is_written_show_an_example_that_validates():
    """Each field that lets a rubric reach observed maths, several models, real notebooks' objects
    and data carries an example, written as rubric YAML, and that example passes validation."""
    import yaml

    from vaegrade.grader.checks.loss import LossCheck
    from vaegrade.grader.rubric import docs as rubric_doc

    page, _ = rubric_doc.render()
    rows: dict[str, list[str]] = {}
    for line in page.splitlines():
        if line.startswith("| `"):
            rows.setdefault(line.split("|")[1].strip(" `"), []).append(line)
    for field in ("files", "model", "positions", "per_call", "test_subset", "max_steps_per_epoch", "source", "to",
                  "calls", "code", "index", "join", "object", "conditional", "series", "takes", "objects", "through",
                  "observe", "step", "watch", "expect", "at", "take", "select", "half", "run", "z"):
        assert any("e.g. `" in row for row in rows[field]), field
    example = yaml.safe_load(rows["watch"][0].split("e.g. `")[1].split("`")[0])
    LossCheck(id="loss", title="t", points=1, **example)
