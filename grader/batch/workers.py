"""Where a batch's submissions are graded: this process, a pool of local worker processes, or a
Dask cluster, behind one small interface.

    executor.map(fn, items) ─▶ (item, fn(item)) in completion order, or (item, Lost) when the
                               machinery failed: a worker died every time it was tried

An executor knows nothing of grading: :mod:`vaegrade.grader.batch.grade` hands it a picklable function and the
jobs, and alone turns a :class:`Lost` into an ``internal`` error result, which the gradebook
never stores (the next run grades that submission again).

- :class:`Inline` calls ``fn`` here, one item after another.
- :class:`ProcessPool` runs ``jobs`` local workers, forked by multiprocessing's fork server
  (``forkserver``), which imports what grading needs (:data:`PRELOAD`: the grader, torch,
  scipy.stats; 4.3 s of CPU) once, as soon as the pool is made, so that no worker pays for it
  again. A plain ``fork`` of the coordinator would copy torch's thread pools mid-state; the fork
  server is a fresh process that never runs a tensor operation. Each worker gets its share of the
  cores for the grader's own tensor work (``torch.set_num_threads``). A worker exits on its own
  when the coordinating process dies (a killed batch leaves no orphans grading on), and leaves
  without the interpreter's teardown of torch and scipy (the fork server's children end with
  ``os._exit``). A worker that dies (SIGKILL, the OOM killer) breaks the pool; its items are
  tried again in a new pool, up to :data:`ATTEMPTS` times each.
- :class:`vaegrade.grader.batch.dask_workers.DaskCluster` submits to a Dask cluster (imported only then).

Every sandbox a worker starts runs as that worker process's own leased uid
(:mod:`vaegrade.grader.run.slots`), so workers on one machine, and other runs beside them, never share one.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterator, Protocol, Sequence, TypeVar

from vaegrade.grader.errors import ClusterUnavailable, Lost
from vaegrade.grader.rubric.policy import ExecutionPolicy
from vaegrade.grader.run.isolation import IsolationMode
from vaegrade.grader.run.processes import kill_children

T = TypeVar("T")
R = TypeVar("R")

#: How many times a local pool tries an item whose worker died, before it is :class:`Lost`.
ATTEMPTS = 3
#: What the fork server imports for every worker of every local pool: the heavy modules grading a
#: submission imports (the checks' own modules add nothing once these are in), 4.3 s of CPU in a
#: fresh process, against 0.8 s for the grader's modules alone (``time.process_time()`` around
#: ``importlib.import_module`` of each). With a worker per core each importing its own, a batch of
#: 4 at ``--jobs 2`` took 0.45 s longer per submission (5 alternating repeats of
#: ``vaegrade grade`` beside the floor of ``benchmarks/bench_overhead.py``).
PRELOAD = ["vaegrade.grader.batch.grade", "torch", "scipy.stats"]


class Executor(Protocol):
    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[T, R | Lost]]:
        """Call ``fn`` on every item, yielding each with its result as it finishes."""


class Inline:
    """Grade in this process, one item after another."""

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[T, R | Lost]]:
        for item in items:
            yield item, fn(item)


class ProcessPool:
    """``jobs`` local worker processes forked by a fork server (see the module's docstring); one
    item alone is graded :class:`Inline`, sparing a worker's start-up.

    Making the pool starts the fork server, which imports :data:`PRELOAD` in the background: the
    coordinator makes it first, so that those seconds pass while it checks the sandbox and reads
    the gradebook, not while the first kernel waits for its worker.
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(PRELOAD)
        multiprocessing.forkserver.ensure_running()

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[T, R | Lost]]:
        if len(items) <= 1:
            yield from Inline().map(fn, items)
            return
        tries = dict.fromkeys(range(len(items)), 0)
        pending = list(range(len(items)))
        while pending:
            pool = ProcessPoolExecutor(self.jobs, mp_context=self.context, initializer=_start_worker,
                                       initargs=(self.jobs,))
            finished = False
            try:
                futures = {pool.submit(fn, items[index]): index for index in pending}
                pending = []
                while futures:
                    done, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for future in done:
                        index = futures.pop(future)
                        error = future.exception()
                        if error is None:
                            yield items[index], future.result()
                            continue
                        tries[index] += 1
                        if isinstance(error, BrokenProcessPool) and tries[index] < ATTEMPTS:
                            pending.append(index)  # a worker died: this item goes to a new pool
                        else:
                            yield items[index], Lost(f"the worker failed on {tries[index]} attempt(s) "
                                                     f"({type(error).__name__}: {error})")
                finished = True
            finally:
                if not finished:  # interrupted (Ctrl-C): the running items are not waited for
                    for process in list((getattr(pool, "_processes", None) or {}).values()):  # CPython keeps them there
                        process.terminate()  # their sandboxes die with them (bwrap --die-with-parent)
                pool.shutdown(wait=True, cancel_futures=not finished)


def _start_worker(jobs: int) -> None:
    """Set up a worker: torch's threads, its end with the coordinator's, and Ctrl-C left to the
    coordinator (which keeps what is done and ends the batch; a worker's own traceback would
    only bury that one line)."""
    import torch  # imported already, by the fork server

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // jobs))
    threading.Thread(target=_exit_with_coordinator, daemon=True).start()


def _exit_with_coordinator() -> None:
    """Wait until the coordinating process has exited (its end of the pipe the worker was
    started through closes: ``multiprocessing.parent_process().sentinel``), then end the worker
    and its sandboxes. The worker's parent is the fork server, which outlives the coordinator
    while any worker holds its pipe, so the parent's pid tells nothing."""
    multiprocessing.parent_process().join()
    kill_children()
    os._exit(1)


@contextlib.contextmanager
def open_executor(jobs: int, scheduler: str | None = None, cluster: str | None = None,
                  policy: ExecutionPolicy | None = None, isolation: IsolationMode = "bubblewrap") -> Iterator[Executor]:
    """The executor for a batch: the Dask cluster at ``scheduler`` (``tcp://HOST:8786``), a
    ``LocalCluster`` of ``jobs`` single-threaded worker processes (``cluster="local"``), or
    else a local pool of ``jobs`` workers (:class:`Inline` for one). A Dask cluster's workers are
    checked against ``policy`` and ``isolation`` before any work is sent
    (:func:`vaegrade.grader.batch.dask_workers.open_cluster`).

    Raises:
        ClusterUnavailable: ``distributed`` is not installed (``pip install 'vaegrade[dask]'``),
            the scheduler does not answer within 30 s, no worker joins it within 120 s, or no
            worker can grade.
    """
    if scheduler is None and cluster is None:
        yield Inline() if jobs <= 1 else ProcessPool(jobs)
        return
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ClusterUnavailable("grading on a Dask cluster needs `distributed`: pip install 'vaegrade[dask]'") from None
    from vaegrade.grader.batch.dask_workers import open_cluster

    with open_cluster(jobs, scheduler, policy or ExecutionPolicy(), isolation) as cluster:
        yield cluster
