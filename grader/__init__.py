"""vaegrade's grader: rubric loading, sandboxed notebook execution, probing, checks, scoring,
feedback and the gradebook. ``grader.api.grade_submissions`` is the entry point; the CLI in
``grader.cli`` is a thin layer over it."""

__version__ = "0.1.0"
