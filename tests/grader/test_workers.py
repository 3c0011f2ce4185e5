"""Where a batch is graded (grader/workers.py, grader/dask_workers.py): a local pool's workers
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

import nbformat
import pytest
import yaml

from grader import api, workers
from grader.rubric import load_rubric
from grader.sandbox import _process_table
from grader.submissions import find_submissions
from tests.conftest import ROOT
from tests.grader.hostile_corpus import CORRECT_KL, WRONG_KL

distributed = pytest.importorskip("distributed")


@pytest.fixture
def rubric(tmp_path):
    """The hostile corpus's KL rubric, with limits that allow two kernels importing torch at once."""
    loaded = yaml.safe_load((ROOT / "tests" / "data" / "hostile.yaml").read_text())
    loaded["execution"].update(cell_timeout=120, notebook_timeout=240)
    (tmp_path / "rubric.yaml").write_text(yaml.safe_dump(loaded))
    return load_rubric(tmp_path / "rubric.yaml")


def write_class(folder, sources):
    folder.mkdir()
    for name, cells in sources.items():
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), folder / f"{name}.ipynb")
    return find_submissions([folder])


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


@pytest.mark.slow
def test_a_local_dask_cluster_gives_the_local_pools_scores(tmp_path, rubric):
    submissions = write_class(tmp_path / "class", {"ada": [CORRECT_KL], "bob": [WRONG_KL], "cy": ["1 / 0", CORRECT_KL]})
    pool = api.grade_submissions(submissions, rubric, tmp_path / "pool", jobs=2)
    with workers.open_executor(2, cluster="local", policy=rubric.execution) as executor:
        dask = api.grade_submissions(submissions, rubric, tmp_path / "dask", executor=executor)
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
        workers_ = [pid for pid, _, _, ppid, _ in table if pid in parents and ppid in {os.getpid(), *_nannies(table)}]
        if workers_:
            time.sleep(2)
            os.kill(workers_[0], signal.SIGKILL)
            killed.append(workers_[0])
            return
        time.sleep(0.1)


def _nannies(table) -> set[int]:
    return {pid for pid, _, _, ppid, _ in table if ppid == os.getpid()}


@pytest.mark.slow
@pytest.mark.parametrize("where", ["pool", "dask"])
def test_a_worker_killed_mid_submission_loses_and_duplicates_nothing(tmp_path, rubric, where):
    slow = [CORRECT_KL, "import time\ntime.sleep(6)"]
    submissions = write_class(tmp_path / "class", {"ada": slow, "bob": slow, "cy": slow})
    killed: list[int] = []
    killer = threading.Thread(target=kill_a_grading_worker, args=(killed,))
    killer.start()
    out = tmp_path / "out"
    if where == "pool":
        results = api.grade_submissions(submissions, rubric, out, jobs=2)
    else:
        with workers.open_executor(2, cluster="local", policy=rubric.execution) as executor:
            results = api.grade_submissions(submissions, rubric, out, executor=executor)
    killer.join()
    assert killed, "no worker was seen grading"
    assert [(r.submission, r.status, r.score, r.internal) for r in results] == [
        (name, "graded", 10.0, False) for name in ("ada", "bob", "cy")]
    assert stored(out) == [("ada", "graded", 10.0), ("bob", "graded", 10.0), ("cy", "graded", 10.0)]


@pytest.mark.slow
def test_a_dask_worker_with_two_threads_refuses_to_grade(rubric):
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as cluster:
        with pytest.raises(workers.ClusterUnavailable) as error:
            with workers.open_executor(1, scheduler=cluster.scheduler_address, policy=rubric.execution):
                pass
    assert "no Dask worker can grade" in str(error.value)
    assert "refuses to grade: it runs 2 threads; start workers with `--nthreads 1`" in str(error.value)
