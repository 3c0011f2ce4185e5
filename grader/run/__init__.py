"""One submission, run and graded: reading it (``submissions``), setting its parameters
(``source``, ``transforms``, ``prepare``), the kernel's environment, isolator and processes, the
executor, one kernel session with its probe (``session``), and the grading itself (``grade``)."""
