"""Kill the grader with SIGKILL in the middle of a batch, run the same command again: what was
committed is not graded again, the rest is, and nothing is lost or duplicated."""

import signal
import sqlite3
import subprocess
import sys
import time

import nbformat

from tests.classes import CORRECT_KL, WRONG_KL
from tests.classes import KL_RUBRIC as RUBRIC
from tests.e2e.test_hostile import sandbox_uid_processes

EXPECTED = {f"student{i:02d}": 10 if i % 3 else 0 for i in range(8)}


def rows(database):
    """The committed results; none while the grader has not yet created the database or its table."""
    if not database.exists():
        return []
    with sqlite3.connect(database) as db:
        try:
            return db.execute("SELECT submission, graded_at, score FROM results ORDER BY submission").fetchall()
        except sqlite3.OperationalError:  # the file exists, its schema is not written yet
            return []


def test_sigkill_mid_batch_then_resume(tmp_path, quiet):
    folder = tmp_path / "class"
    folder.mkdir()
    for name, score in EXPECTED.items():
        cells = [nbformat.v4.new_code_cell(CORRECT_KL if score else WRONG_KL), nbformat.v4.new_code_cell("import time\ntime.sleep(2)")]
        nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / f"{name}.ipynb")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "vaegrade.grader.cli", "grade", str(folder), "--rubric", str(RUBRIC), "--out", str(out), "--jobs", "2"]
    database = out / "gradebook.sqlite"

    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(rows(database)) < 2:
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = rows(database)
    assert 2 <= len(before) < len(EXPECTED), "the kill should land mid-batch"

    time.sleep(2)  # the orphaned workers notice their parent is gone and exit, their kernels with them
    assert sandbox_uid_processes() == []

    second = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    reused = sorted(line.split(":")[0] for line in second.stdout.splitlines() if "(already graded)" in line)
    assert reused == [name for name, _, _ in before]

    after = rows(database)
    assert [name for name, _, _ in after] == sorted(EXPECTED)  # every submission once, none twice
    assert {name: score for name, _, score in after} == EXPECTED
    assert set(before) <= set(after)  # committed rows were not graded again (same graded_at)
    csv_rows = (out / "gradebook.csv").read_text().splitlines()[1:]
    assert sorted(row.split(",")[0] for row in csv_rows) == sorted(EXPECTED)
    assert all((out / name / "feedback.html").exists() for name in EXPECTED)
