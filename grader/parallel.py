"""Grading a batch in worker processes, each leasing its own sandbox slot (and uid: :mod:`grader.slots`).

Workers are started with ``spawn`` (the grader process holds torch's thread pools, which a
fork would copy mid-state), each with its share of the CPU cores for the grader's own tensor
work (``OMP_NUM_THREADS``, set before the worker imports torch), so that workers do not
oversubscribe the cores their kernels need. Each worker exits on its own
if the coordinating process dies (a killed batch leaves no orphans grading on). Results come
back in completion order; a worker that dies takes only its own submissions down, as
``internal`` error results that the next run grades again.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Iterator

from grader.gradebook import Row
from grader.rubric import Rubric
from grader.sandbox import IsolationMode, kill_children
from grader.submissions import Submission


def run(submissions: list[Submission], rubric: Rubric, out: Path, jobs: int,
        isolation: IsolationMode, selfcheck: bool = False) -> Iterator[tuple[Submission, Row]]:
    """Grade ``submissions`` (``jobs`` at a time), yielding each as it finishes (``selfcheck``:
    see :func:`grader.api.grade_submission`)."""
    from grader.api import grade_and_publish, internal_error

    if jobs <= 1 or len(submissions) <= 1:
        for submission in submissions:
            yield submission, grade_and_publish(submission, rubric, out, isolation, selfcheck=selfcheck)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker, initargs=(os.getpid(), jobs)) as pool:
        futures = {pool.submit(_grade, submission, rubric, out, isolation, selfcheck): submission for submission in submissions}
        while futures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                submission = futures.pop(future)
                try:
                    yield submission, future.result()
                except Exception as exc:  # the worker process died (BrokenProcessPool) or could not start
                    yield submission, internal_error(submission, rubric, f"the worker failed ({type(exc).__name__}: {exc})")


def _start_worker(parent: int, jobs: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    kill_children()
    os._exit(1)


def _grade(submission: Submission, rubric: Rubric, out: Path, isolation: IsolationMode, selfcheck: bool) -> Row:
    from grader.api import grade_and_publish

    return grade_and_publish(submission, rubric, out, isolation, selfcheck)
