"""Where a batch is graded (grader/batch/workers.py, grader/batch/dask_workers.py): a local pool's workers
start with torch and scipy.stats imported by its fork server; a Dask LocalCluster of two
worker processes gives the local pool's scores; a worker SIGKILLed mid-submission, in either,
has that submission graded again, stored once, and nothing lost; a Dask worker that cannot
grade refuses work with a message that says why."""

import os
import signal
import sqlite3
import sys
import threading
import time

import pytest

from tests.classes import CORRECT_KL, WRONG_KL, kl_rubric, write_class
from vaegrade.grader.batch import workers
from vaegrade.grader.batch.grade import grade_submissions
from vaegrade.grader.rubric.schema import load_rubric
from vaegrade.grader.run.processes import _process_table
from vaegrade.grader.run.submissions import find_submissions

distributed = pytest.importorskip("distributed")


@pytest.fixture
def rubric(tmp_path):
    return load_rubric(kl_rubric(tmp_path / "rubric.yaml"))


def stored(out):
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        return sorted(db.execute("SELECT submission, status, score FROM results"))


def _what_the_worker_had(item: int) -> tuple[bool, bool, int]:
    """In a worker, before anything of its own: torch and scipy.stats imported? and its pid.
    (This module imports neither: the fork server's preload is what can have.)"""
    return "torch" in sys.modules, "scipy.stats" in sys.modules, os.getpid()


def test_a_local_pools_workers_start_with_what_grading_imports():
    results = dict(workers.ProcessPool(2).map(_what_the_worker_had, [0, 1, 2, 3]))
    assert sorted(results) == [0, 1, 2, 3]
    assert all(torch and stats for torch, stats, _ in results.values()), results
    assert os.getpid() not in {pid for _, _, pid in results.values()}


def test_a_local_dask_cluster_gives_the_local_pools_scores(tmp_path, rubric):
    submissions = find_submissions([write_class(tmp_path / "class", {"ada": [CORRECT_KL], "bob": [WRONG_KL], "cy": ["1 / 0", CORRECT_KL]})])
    pool = grade_submissions(submissions, rubric, tmp_path / "pool", jobs=2)
    with workers.open_executor(2, cluster="local", policy=rubric.execution) as executor:
        dask = grade_submissions(submissions, rubric, tmp_path / "dask", executor=executor)
    assert [(r.submission, r.status, r.score) for r in dask] == [(r.submission, r.status, r.score) for r in pool]
    assert [(r.status, r.score) for r in pool] == [("graded", 10.0), ("graded", 0.0), ("graded", 0.0)]  # cy stopped at 1 / 0
    assert (tmp_path / "dask" / "ada" / "executed.ipynb").exists() and (tmp_path / "dask" / "cy" / "feedback.html").exists()
    assert stored(tmp_path / "dask") == stored(tmp_path / "pool")
    if os.geteuid() == 0:  # each Dask worker process leased a sandbox uid of its own
        assert len({r.isolation.uid for r in dask}) == 2


def kill_a_grading_worker(killed: list[int]) -> None:
    """SIGKILL the first process seen running a sandbox (the parent of a `bwrap`), two seconds
    into its kernel's run: a worker of this test's pool or LocalCluster, mid-submission."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        table = _process_table()
        parents = {ppid for _, _, _, ppid, name in table if name == "bwrap"}
        workers_ = [pid for pid, _, _, ppid, _ in table if pid in parents and ppid in {os.getpid(), *_nannies(table)}
                    and _session(pid) == os.getsid(0)]  # not a batch of the farm's, in a session of its own
        if workers_:
            time.sleep(2)
            os.kill(workers_[0], signal.SIGKILL)
            killed.append(workers_[0])
            return
        time.sleep(0.1)


def _session(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except ProcessLookupError:
        return None


def _nannies(table) -> set[int]:
    return {pid for pid, _, _, ppid, _ in table if ppid == os.getpid()}


@pytest.mark.parametrize("where", ["pool", "dask"])
def test_a_worker_killed_mid_submission_loses_and_duplicates_nothing(tmp_path, rubric, where):
    slow = [CORRECT_KL, "import time\ntime.sleep(6)"]
    submissions = find_submissions([write_class(tmp_path / "class", {"ada": slow, "bob": slow, "cy": slow})])
    killed: list[int] = []
    killer = threading.Thread(target=kill_a_grading_worker, args=(killed,))
    killer.start()
    out = tmp_path / "out"
    if where == "pool":
        results = grade_submissions(submissions, rubric, out, jobs=2)
    else:
        with workers.open_executor(2, cluster="local", policy=rubric.execution) as executor:
            results = grade_submissions(submissions, rubric, out, executor=executor)
    killer.join()
    assert killed, "no worker was seen grading"
    assert [(r.submission, r.status, r.score, r.internal) for r in results] == [
        (name, "graded", 10.0, False) for name in ("ada", "bob", "cy")]
    assert stored(out) == [("ada", "graded", 10.0), ("bob", "graded", 10.0), ("cy", "graded", 10.0)]


def test_a_dask_worker_with_two_threads_refuses_to_grade(rubric):
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as cluster:
        with pytest.raises(workers.ClusterUnavailable) as error:
            with workers.open_executor(1, scheduler=cluster.scheduler_address, policy=rubric.execution):
                pass
    assert "no Dask worker can grade" in str(error.value)
    assert "refuses to grade: it runs 2 threads; start workers with `--nthreads 1`" in str(error.value)
