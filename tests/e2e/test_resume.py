"""Kill the grader with SIGKILL in the middle of a batch, run the same command again: what was
committed is not graded again, the rest is, and nothing is lost or duplicated."""

import os
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


def slow_class(tmp_path):
    """A class folder of EXPECTED's students, each notebook taking 2 s after its KL function."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name, score in EXPECTED.items():
        cells = [nbformat.v4.new_code_cell(CORRECT_KL if score else WRONG_KL), nbformat.v4.new_code_cell("import time\ntime.sleep(2)")]
        nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / f"{name}.ipynb")
    return folder


def test_sigkill_mid_batch_then_resume(tmp_path, quiet):
    folder = slow_class(tmp_path)
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


def test_ctrl_c_mid_batch_ends_with_one_line_and_the_csv_of_what_is_done(tmp_path, quiet):
    folder = slow_class(tmp_path)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "vaegrade.grader.cli", "grade", str(folder), "--rubric", str(RUBRIC), "--out", str(out),
               "--jobs", "2", "--quiet"]
    # a terminal's Ctrl-C: SIGINT to the command's whole process group (its workers and kernels too)
    grading = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(rows(out / "gradebook.sqlite")) < 2:
        time.sleep(0.2)
    os.killpg(grading.pid, signal.SIGINT)
    _, stderr = grading.communicate(timeout=60)
    kept = rows(out / "gradebook.sqlite")
    assert 2 <= len(kept) < len(EXPECTED), "the interrupt should land mid-batch"
    assert grading.returncode == 130
    said = (f"vaegrade: interrupted: {len(kept)} of {len(EXPECTED)} submission(s) graded, kept in "
            f"{out / 'gradebook.sqlite'} and listed in {out / 'gradebook.csv'}; run the same command again to grade the rest")
    assert stderr.splitlines() == [said], stderr
    listed = (out / "gradebook.csv").read_text().splitlines()
    assert sorted(line.split(",")[0] for line in listed[1:]) == [name for name, _, _ in kept]
    time.sleep(2)
    assert sandbox_uid_processes() == []
