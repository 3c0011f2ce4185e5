"""vaegrade for students: ``from vaegrade import selfcheck`` (see :mod:`grader.selfcheck`).

The grader itself is the ``grader`` package and the ``vaegrade`` command; the trusted reference
is ``reference``.
"""

from grader.selfcheck import selfcheck

__all__ = ["selfcheck"]
