"""Two `vaegrade grade` runs on one machine at once (two TAs, a test beside a batch): each of
their workers leases a sandbox slot of its own (grader/run/slots.py), so neither run's teardown
kills the other's kernels, and both grade everything correctly."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.classes import CORRECT_KL, kl_rubric, write_class
from vaegrade.grader.run import isolation as sandbox


def test_two_concurrent_runs_both_finish_with_correct_scores(tmp_path):
    # Four kernels importing torch at once on two cores: the hostile rubric's 10 s cell limit
    # is about what that import takes on a loaded machine, so this test's limits are generous.
    rubric_path = kl_rubric(tmp_path / "rubric.yaml")
    sleepy = [CORRECT_KL, "import time\ntime.sleep(4)"]  # each kernel outlives a teardown of the other run's
    runs = [(write_class(tmp_path / run, {"student0": sleepy, "student1": sleepy}), tmp_path / f"out-{run}")
            for run in ("ta1", "ta2")]
    vaegrade = str(Path(sys.executable).with_name("vaegrade"))
    processes = [subprocess.Popen([vaegrade, "grade", str(folder), "--rubric", str(rubric_path), "--out", str(out), "--jobs", "2"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for folder, out in runs]
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    results = [json.loads(path.read_text()) for _, out in runs for path in sorted(out.glob("*/result.json"))]
    why = [(r["status"], r["error"], r["execution"]) for r in results] or outputs
    assert [process.returncode for process in processes] == [0, 0], why
    assert [(r["status"], r["score"]) for r in results] == [("graded", 10.0)] * 4, why
    if os.geteuid() == 0:  # four workers at once, four sandbox users
        uids = {r["isolation"]["uid"] for r in results}
        assert len(uids) == 4 and all(uid >= sandbox.SANDBOX_UID_BASE for uid in uids)
