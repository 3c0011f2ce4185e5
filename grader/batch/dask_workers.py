"""Grading on a Dask cluster (``distributed``, the optional extra ``vaegrade[dask]``): the
executor, and the check that keeps a worker that cannot grade from taking work.

The scheduler itself moves the task of a worker that died to another worker (up to
``distributed.scheduler.allowed-failures`` times, 3 by default, then ``KilledWorker``), so a
SIGKILLed worker's submission is graded again elsewhere; the coordinator stores each result
once, as it comes back (:func:`vaegrade.grader.run.grade.grade_submissions`).

What each worker needs: vaegrade installed at the coordinator's version (with bubblewrap for
the sandbox, and the Debian packages for the datasets a rubric names), the submissions and the
rubric's files at the same paths as on the coordinator (a shared file system), and one thread
(``dask worker --nthreads 1``; ``--nworkers N`` for N kernels at a time). A worker builds the
rubric's kernel environment on its first submission (once per machine). Results, executed
notebooks and kernel logs come back to the coordinator, which alone writes ``OUT``.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
from typing import Callable, Iterator, Sequence, TypeVar

import dask
from distributed import Client, LocalCluster, as_completed
from distributed.diagnostics.plugin import WorkerPlugin

from vaegrade import __version__
from vaegrade.grader.errors import ClusterUnavailable, GraderError, Lost
from vaegrade.grader.rubric.policy import ExecutionPolicy
from vaegrade.grader.run.isolation import ISOLATORS, IsolationMode

T = TypeVar("T")
R = TypeVar("R")


class DaskCluster:
    """The workers of a running Dask cluster, through ``client`` (a ``distributed.Client``);
    ``refused`` maps each worker that would not grade to why (it was closed)."""

    def __init__(self, client: object, refused: dict[str, str]) -> None:
        self.client, self.refused = client, refused

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[T, R | Lost]]:
        futures = {self.client.submit(fn, item, pure=False): index for index, item in enumerate(items)}
        for future in as_completed(futures):
            index = futures.pop(future)
            try:
                yield items[index], future.result()
            except Exception as exc:  # KilledWorker, a lost scheduler, a worker that could not unpickle
                yield items[index], Lost(f"the Dask cluster failed to grade it ({type(exc).__name__}: {exc})")


def refuse_if_unfit(dask_worker: object, policy: ExecutionPolicy, isolation: IsolationMode, version: str) -> str | None:
    """Why this Dask worker cannot grade (after which it closes itself, and its nanny, so that
    it takes no work), or None.

    A worker can grade when its vaegrade version is the coordinator's (results would differ
    otherwise), it runs one task at a time (``--nthreads 1``: a worker process's kernels share
    its sandbox slot and memory cgroup), and its isolation mode can run kernels there
    (:meth:`vaegrade.grader.run.isolation.Isolator.check_available`, whose message says how to fix it).
    """
    key = (policy.model_dump_json(), isolation, version, dask_worker.state.nthreads)
    if key not in _verdicts:  # the plugin's setup checks again the workers open_cluster checked
        _verdicts[key] = _problem(policy, isolation, version, dask_worker.state.nthreads)
        _keep_freed_memory()
    problem = _verdicts[key]
    if problem is None:
        return None
    message = f"Dask worker {dask_worker.address} refuses to grade: {problem}"
    logging.getLogger("distributed.worker").error(message)
    dask_worker.loop.add_callback(dask_worker.close, nanny=True, reason=message)
    return message


_verdicts: dict[tuple[str, str, str, int], str | None] = {}  # this worker process's checks, by what they checked


def _problem(policy: ExecutionPolicy, isolation: IsolationMode, version: str, threads: int) -> str | None:
    problem = None
    if version != __version__:
        problem = f"it has vaegrade {__version__}, the coordinator {version}"
    elif threads != 1:
        problem = (f"it runs {threads} threads; start workers with `--nthreads 1` "
                   f"(and `--nworkers N` for N at a time)")
    else:
        try:
            ISOLATORS[isolation].check_available(policy)
        except GraderError as exc:
            problem = str(exc)
    return problem


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>


def _keep_freed_memory() -> None:
    """Undo, for grading, the ``MALLOC_TRIM_THRESHOLD_=65536`` a Dask nanny gives its workers.

    Set at all, it switches off glibc's dynamic mmap threshold, so every tensor of the checks
    (a few MB each) is mapped and unmapped afresh: measured, twice the system CPU time of the
    local pool for the same batch. These are glibc's own limits once it has seen such tensors
    (mallopt(3)). A no-op where the C library has no ``mallopt``.
    """
    libc = ctypes.CDLL(None)
    if hasattr(libc, "mallopt"):
        libc.mallopt(M_MMAP_THRESHOLD, 32 * 2**20)
        libc.mallopt(M_TRIM_THRESHOLD, 64 * 2**20)


class WorkerCheck(WorkerPlugin):
    """A Dask worker plugin: a worker that joins the cluster during a batch is checked by
    :func:`refuse_if_unfit` before it takes work (the workers already there are checked by
    :func:`open_cluster`, which reports their refusals)."""

    name = "vaegrade-worker-check"

    def __init__(self, policy: ExecutionPolicy, isolation: IsolationMode) -> None:
        self.policy, self.isolation, self.version = policy, isolation, __version__

    def setup(self, worker: object) -> None:
        refuse_if_unfit(worker, self.policy, self.isolation, self.version)


#: Dask's housekeeping, slowed down for a LocalCluster (its workers inherit this configuration;
#: ``dask worker`` takes it from the environment, as the README shows). On 2 cores an idle
#: LocalCluster of 2 workers otherwise takes 13% of a core the kernels need (measured: 4.0 s of
#: CPU in 30 s idle; 0.3 s with these), and the statistical profiler samples every grading
#: thread's stack every 10 ms. A submission takes seconds, so a slower tick loses nothing.
HOUSEKEEPING = {"distributed.admin.tick.interval": "1s", "distributed.admin.system-monitor.interval": "5s",
                "distributed.worker.memory.monitor-interval": "1s", "distributed.worker.profile.enabled": False}


@contextlib.contextmanager
def open_cluster(jobs: int, scheduler: str | None, policy: ExecutionPolicy, isolation: IsolationMode) -> Iterator[DaskCluster]:
    """A :class:`DaskCluster` on the scheduler at ``scheduler``, else on a ``LocalCluster`` of
    ``jobs`` single-threaded worker processes (closed on exit). Every worker there is checked by
    :func:`refuse_if_unfit` before any work is sent, and so is every worker that joins later
    (:class:`WorkerCheck`).

    Raises:
        ClusterUnavailable: the scheduler does not answer within 30 s, no worker joins it
            within 120 s, or no worker can grade (the message gives each one's reason).
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(dask.config.set(HOUSEKEEPING))
        try:
            if scheduler is not None:
                client = stack.enter_context(Client(scheduler, timeout=30))
            else:
                local = stack.enter_context(LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                                         dashboard_address=None))
                client = stack.enter_context(Client(local))
            client.wait_for_workers(1, timeout=120)
        except (OSError, TimeoutError) as exc:
            raise ClusterUnavailable(f"no Dask cluster to grade on at {scheduler or 'a LocalCluster'}: {exc}") from None
        verdicts = client.run(refuse_if_unfit, policy=policy, isolation=isolation, version=__version__)
        refused = {address: message for address, message in verdicts.items() if message}
        if len(refused) == len(verdicts):
            raise ClusterUnavailable("no Dask worker can grade:\n" + "\n".join(refused.values()))
        client.register_plugin(WorkerCheck(policy, isolation))
        yield DaskCluster(client, refused)
