"""``python -m vaegrade.grader.cli``: the ``vaegrade`` command."""

from vaegrade.grader.cli.main import run

run()
