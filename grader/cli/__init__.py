"""The ``vaegrade`` command: :mod:`vaegrade.grader.cli.main` builds the parser from each verb
group's ``register`` (arguments beside their implementation) and runs the verb; the verbs are
thin layers over the stages' Python API, with the same defaults."""
