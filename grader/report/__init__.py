"""Checking written reports and answers against a rubric's ``report:`` section (see checker.py for the data flow)."""
