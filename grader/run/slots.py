"""Sandbox slots, leased across every grading process on the machine.

A root grader runs each kernel as the unprivileged uid ``SANDBOX_UID_BASE + slot``, and after
each kernel kills every process of that uid. Two grading processes with the same slot would
kill each other's kernels, so a slot is leased: the process that grades holds an exclusive
``flock`` on ``LOCKS/slot-<n>.lock`` for as long as it lives, and the kernel takes the lowest
free slot. The kernel of an exited (even SIGKILLed) process frees its slot with it: the
operating system drops the lock. Two ``vaegrade grade`` runs, a test beside a batch, two
courses on one machine: each worker of each gets a uid of its own.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path
from typing import IO

from vaegrade.grader.errors import GraderError

#: Where the lock files live, one per slot, never removed: ``VAEGRADE_SLOT_LOCKS``, else
#: ``/run/lock/vaegrade`` (a tmpfs no cleaner sweeps while a lock is held), else the temp folder.
LOCKS = Path(os.environ.get("VAEGRADE_SLOT_LOCKS") or ("/run/lock/vaegrade" if os.access("/run/lock", os.W_OK)
                                                       else Path(tempfile.gettempdir()) / "vaegrade-slots"))
#: Slots available on one machine (uids 61000 to 61255).
MAX_SLOTS = 256

class NoSlot(GraderError):
    """No sandbox slot can be leased."""


_held: tuple[int, int, IO[str]] | None = None  # (pid, slot, the open lock file) of this process


def mine() -> int:
    """This process's slot, leased on the first call and held until the process exits.

    Raises:
        NoSlot: every slot is leased, or the lock directory cannot be written.
    """
    global _held
    if _held is not None and _held[0] == os.getpid():  # a forked child leases its own
        return _held[1]
    try:
        LOCKS.mkdir(mode=0o755, parents=True, exist_ok=True)
        for slot in range(MAX_SLOTS):
            handle = open(LOCKS / f"slot-{slot}.lock", "a")  # noqa: SIM115 (held open: it is the lease)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            _held = (os.getpid(), slot, handle)
            return slot
    except OSError as exc:
        raise NoSlot(f"cannot lease a sandbox slot in {LOCKS}: {exc}") from exc
    raise NoSlot(f"all {MAX_SLOTS} sandbox slots are leased by other grading processes")
