"""The kernel's processes as the grader manages them: memory cgroups, the process table,
killing and reaping what a sandbox leaves behind (:mod:`vaegrade.grader.run.isolation`), and
reading what a failed process printed (:func:`printed_lines`)."""

from __future__ import annotations

import ctypes
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024


def printed_lines(text: str) -> list[str]:
    """The non-blank lines of what a process printed, stripped: the last few say why it failed."""
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass
class MemoryCgroup:
    """A memory cgroup made for one kernel; ``oom_killed`` tells whether the limit was hit."""

    path: Path
    version: int

    @property
    def procs(self) -> Path:
        return self.path / "cgroup.procs"

    def oom_killed(self) -> bool:
        events = self.path / ("memory.oom_control" if self.version == 1 else "memory.events")
        try:
            counts = dict(line.split() for line in events.read_text().splitlines() if len(line.split()) == 2)
        except OSError:
            return False
        if "oom_kill" in counts:
            return int(counts["oom_kill"]) > 0
        return self.version == 1 and int((self.path / "memory.failcnt").read_text() or 0) > 0

    def remove(self) -> None:
        """Kill what is left in the cgroup, wait until it is empty, then remove it."""
        kill_until_gone(lambda: [int(pid) for pid in _read(self.procs).split()])
        try:
            self.path.rmdir()
        except OSError:
            pass


def kill_until_gone(list_pids, seconds: float = 10.0) -> None:  # noqa: ANN001 (a callable)
    """SIGKILL every pid ``list_pids()`` returns until it returns none (or ``seconds`` pass)."""
    deadline = time.monotonic() + seconds
    while (pids := list_pids()) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)


def processes_of(uid: int, zombies: bool = False) -> list[int]:
    """Processes owned by ``uid`` (zombies only when asked)."""
    return [pid for pid, owner, state, _, _ in _process_table() if owner == uid and (zombies or state != "Z")]


def _process_table() -> list[tuple[int, int, str, int, str]]:
    """(pid, uid, state, ppid, command name) of every process, from /proc."""
    table = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            uid = entry.stat().st_uid
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
        table.append((int(entry.name), uid, state, int(ppid), name))
    return table


def adopt_orphans() -> None:
    """Make this process the reaper of its orphaned descendants (``PR_SET_CHILD_SUBREAPER``).

    A killed kernel's outer bwrap dies first; the sandbox's own init then exits orphaned, and
    where the machine's pid 1 does not reap (containers) it would stay a zombie of the sandbox
    user, counting against the next submission's process limit.
    """
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_orphans(uid: int | None, seconds: float = 3.0) -> None:
    """Reap this process's exited children (the kernel's Popen was waited for already; what is
    left are the sandbox's orphans); with a dedicated ``uid``, until that uid has no process."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        if uid is None or not processes_of(uid, zombies=True) or time.monotonic() > deadline:
            return
        time.sleep(0.02)


def kill_children(seconds: float = 3.0) -> None:
    """SIGKILL and reap every child of this process (its sandboxes), for a worker about to exit
    because its coordinator died: nothing may go on grading, or linger as a zombie."""
    kill_until_gone(lambda: [pid for pid, _, state, ppid, _ in _process_table() if ppid == os.getpid() and state != "Z"],
                     seconds)
    deadline = time.monotonic() + 0.5  # the sandboxes' own init processes are re-parented to us as they die
    while time.monotonic() < deadline:
        reap_orphans(None)
        time.sleep(0.05)


PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def make_memory_cgroup(name: str, limit_bytes: int) -> MemoryCgroup | None:
    """A child of the grader's own memory cgroup limited to ``limit_bytes``, or None where the
    grader may not create one (no cgroup file system, not delegated, not root)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, own = line.split(":", 2)
        if "memory" in controllers.split(","):
            base, version, limit_file = Path("/sys/fs/cgroup/memory"), 1, "memory.limit_in_bytes"
        elif controllers == "" and "memory" in _read(Path("/sys/fs/cgroup/cgroup.controllers")).split():
            base, version, limit_file = Path("/sys/fs/cgroup"), 2, "memory.max"
        else:
            continue
        path = base / own.lstrip("/") / name
        try:
            path.mkdir()
        except OSError:
            return None
        cgroup = MemoryCgroup(path, version)
        try:
            (path / limit_file).write_text(str(limit_bytes))
            if version == 1 and (path / "memory.memsw.limit_in_bytes").exists():
                (path / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
        except OSError:
            cgroup.remove()
            return None
        return cgroup
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
