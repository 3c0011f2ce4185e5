"""docs/rubric.md is generated from the rubric's pydantic models and lists every field."""

from __future__ import annotations


def test_the_rubric_reference_page_is_complete_and_up_to_date():
    from vaegrade.grader.rubric import docs as rubric_doc

    page, undocumented = rubric_doc.render()
    assert undocumented == []
    assert rubric_doc.PAGE.read_text(encoding="utf-8") == page, "run `python -m vaegrade.grader.rubric.docs`"
    for field in ("`framework`", "`instance_of`", "`fields`", "`keywords`", "`returns`", "`layout`", "`train_subset`"):
        assert field in page

