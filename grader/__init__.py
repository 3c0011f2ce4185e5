"""vaegrade's grader (``vaegrade.grader``), one subpackage per stage of a submission, each
importing only from the stages above it in this list (``tests/unit/test_imports.py`` holds it
so), beside the shared ``errors`` (the exception tree), ``results`` (the typed results) and
``shipped`` (where the templates and rubrics are):

    probe/       what the grader asks of a student's kernel: locators, requests, the kernel-side code, artifacts
    checks/      the check types, registered by name; evaluation and scoring
    report/      written answers: locating them in a report or notebook, and their checks
    rubric/      the rubric's schema and loading, its public view, execution and late policies
    run/         one submission: reading, preparing, the sandbox, the executor, the session, grading
    publish/     feedback pages, the class overview, overrides, the late policy applied, exports
    batch/       a class: the gradebook, worker pools and Dask, progress, similarity flags
    assignment/  an assignment as a whole: validation, calibration, the Gradescope package
    selfcheck    the public checks in a student's own kernel
    cli          the ``vaegrade`` command, thin verbs over the stages
"""
