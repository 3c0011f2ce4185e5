"""Where a student's kernel runs: a bubblewrap sandbox under resource limits, or (by explicit
choice) no sandbox at all.

A sandboxed kernel is started by this chain, every link a standard tool::

    sh -c 'echo $$ > <memory cgroup>/cgroup.procs; exec "$@"'   (only when a cgroup was made)
    setpriv --reuid=U --regid=U --clear-groups                    (only when the grader is root)
    prlimit --cpu --nproc --fsize --nofile [--as]                 (rlimits, inherited by all)
    bwrap --unshare-all --unshare-user --disable-userns --die-with-parent --clearenv ...
    <python> -m ipykernel_launcher -f <connection file>

- The grader drops to an unprivileged uid (``SANDBOX_UID_BASE + slot``: one per grading
  process, leased machine-wide by :mod:`grader.slots`) *before* bubblewrap starts: a root grader's user namespace would map the sandbox back
  to uid 0, root-only files would be readable and ``RLIMIT_NPROC`` would not apply.
- Inside: new user, network (no interfaces but loopback), PID, IPC, UTS and cgroup
  namespaces; ``/usr`` and a handful of ``/etc`` files read-only; the kernel's Python
  environment read-only; a private size-capped ``/tmp``; writable only the submission's
  working directory and the connection-file directory (nbclient talks to the kernel over the
  ``ipc`` transport, Unix sockets in that directory); no capabilities; a cleared environment.
- Memory: a memory cgroup (v1 or v2) where the grader can create one, which also reports an
  OOM kill; otherwise an address-space rlimit (torch imports in ~0.8 GB of address space).

bubblewrap: https://github.com/containers/bubblewrap (Debian package ``bubblewrap``).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from grader import slots
from grader.environments import GRADER_ENVIRONMENT, KernelEnvironment
from grader.errors import GraderError
from grader.policy import ExecutionPolicy
from grader.results import Isolation

SANDBOX_UID_BASE = 61000
MIB = 1024 * 1024
IsolationMode = Literal["bubblewrap", "none"]  # as in Isolation.mode


class SandboxUnavailable(GraderError):
    """bubblewrap cannot run here, or cannot run the kernel's Python; the message names the fix."""


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
        _kill_until_gone(lambda: [int(pid) for pid in _read(self.procs).split()])
        try:
            self.path.rmdir()
        except OSError:
            pass


def _kill_until_gone(list_pids, seconds: float = 10.0) -> None:  # noqa: ANN001 (a callable)
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
    _kill_until_gone(lambda: [pid for pid, _, state, ppid, _ in _process_table() if ppid == os.getpid() and state != "Z"],
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


@dataclass
class Jail:
    """One kernel's confinement: the command prefix, its environment and its cgroup.

    ``mode == "none"`` runs the kernel as the grader, with only the time limits applied.
    """

    mode: IsolationMode
    policy: ExecutionPolicy
    kernel: KernelEnvironment = GRADER_ENVIRONMENT
    writable: list[Path] = field(default_factory=list)
    read_only: list[tuple[Path, Path]] = field(default_factory=list)  # (host path, path inside)
    cgroup: MemoryCgroup | None = None

    @property
    def uid(self) -> int | None:
        """The sandbox uid when the grader is root (and drops to it), else None: the one of
        this process's leased slot (:func:`grader.slots.mine`), used by no other grading process."""
        return SANDBOX_UID_BASE + slots.mine() if self.mode == "bubblewrap" and os.geteuid() == 0 else None

    def hand_over(self, path: Path) -> None:
        """Make a grader-created directory writable by the kernel's uid."""
        if self.uid is not None:
            os.chown(path, self.uid, self.uid)

    def start(self) -> None:
        """Create the memory cgroup (call before the kernel starts)."""
        if self.mode == "bubblewrap":
            adopt_orphans()
            self.cgroup = make_memory_cgroup(f"vaegrade-{os.getpid()}", self.policy.memory_mb * MIB)

    def close(self) -> None:
        """Make sure nothing of the kernel survives (a fork storm's children would otherwise
        count against the next submission's process limit), then remove the cgroup."""
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.uid is not None:
            _kill_until_gone(lambda: processes_of(self.uid))
        if self.mode == "bubblewrap":
            reap_orphans(self.uid)

    def memory_exceeded(self) -> bool:
        return self.cgroup is not None and self.cgroup.oom_killed()

    def wrap(self, kernel_cmd: list[str], env: dict[str, str], cwd: Path) -> list[str]:
        """The full command that starts ``kernel_cmd`` confined; ``env`` is the kernel's whole
        environment (the sandbox clears everything else)."""
        if self.mode == "none":
            return kernel_cmd
        chain: list[str] = []
        if self.cgroup is not None:
            chain += ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.cgroup.procs)]
        if self.uid is not None:
            chain += ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--"]
        chain += ["prlimit", *self._rlimits(), "--"]
        return chain + self._bwrap(env, cwd) + kernel_cmd

    def _rlimits(self) -> list[str]:
        p = self.policy
        limits = [f"--cpu={int(p.cpu_limit)}", f"--nproc={p.processes}", f"--fsize={p.file_size_mb * MIB}",
                  f"--nofile={p.open_files}", "--core=0"]
        if self.cgroup is None:
            limits.append(f"--as={p.memory_mb * MIB}")
        return limits

    def _bwrap(self, env: dict[str, str], cwd: Path) -> list[str]:
        args = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                "--new-session", "--cap-drop", "ALL", "--clearenv",
                "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
                "--size", str(self.policy.tmp_mb * MIB), "--tmpfs", "/tmp"]
        for name in ("bin", "lib", "lib64", "sbin"):
            host = Path("/") / name
            if host.is_symlink():
                args += ["--symlink", os.readlink(host), str(host)]
            elif host.is_dir():
                args += ["--ro-bind", str(host), str(host)]
        for name in SYSTEM_FILES:
            args += ["--ro-bind-try", name, name]
        for prefix in python_prefixes() + ([self.kernel.prefix] if self.kernel.prefix else []):
            args += ["--ro-bind", str(prefix), str(prefix)]
        for path in self.writable:
            args += ["--bind", str(path), str(path)]
        for host, inside in self.read_only:
            args += ["--ro-bind", str(host), str(inside)]
        for name, value in env.items():
            args += ["--setenv", name, value]
        return args + ["--chdir", str(cwd)]

    def describe(self) -> Isolation:
        p = self.policy
        if self.mode == "none":
            return Isolation(mode="none", limits={"cell_timeout": p.cell_timeout, "notebook_timeout": p.notebook_timeout})
        memory = (f"cgroup v{self.cgroup.version}: {p.memory_mb} MiB" if self.cgroup is not None
                  else f"address space: {p.memory_mb} MiB")
        return Isolation(mode="bubblewrap", uid=self.uid if self.uid is not None else os.geteuid(), network="none",
                         memory_limit=memory, limits=p.limits())


@dataclass
class Workspace:
    """The directories of one run, under a fresh private ``root``:

    - ``work``: the kernel's working directory and ``HOME``, writable by the kernel;
      provisioned files (the data set) appear in it read-only;
    - ``conn``: the kernel's connection file and ipc sockets;
    - ``probe``: grader-owned; :meth:`probe_dir` makes one fresh, unguessable subdirectory per
      probe, after the student's cells ran, and only then hands it to the kernel's uid. The
      grader never writes into a directory the student's code could have prepared.
    """

    root: Path
    jail: Jail

    @classmethod
    def create(cls, jail: Jail) -> Workspace:
        workspace = cls(Path(tempfile.mkdtemp(prefix="vaegrade-")), jail)
        workspace.root.chmod(0o755)
        for path in (workspace.work, workspace.conn, workspace.probe):
            path.mkdir(mode=0o755)
            jail.writable.append(path)
        jail.hand_over(workspace.work)
        jail.hand_over(workspace.conn)
        return workspace

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def conn(self) -> Path:
        return self.root / "conn"

    @property
    def probe(self) -> Path:
        return self.root / "probe"

    def provision(self, source: Path, name: str) -> None:
        """Put a read-only copy of ``source`` at ``work/name`` (bind-mounted read-only when
        sandboxed, so the student can neither change nor replace it)."""
        copy = self.root / name
        shutil.copyfile(source, copy)
        copy.chmod(0o444)
        if self.jail.mode == "none":
            shutil.copyfile(copy, self.work / name)
        else:
            (self.work / name).touch()
            self.jail.read_only.append((copy, self.work / name))

    def probe_dir(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.probe))

    def hand_over_probe(self, probe_dir: Path) -> None:
        probe_dir.chmod(0o755)
        self.jail.hand_over(probe_dir)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# Files of /etc a Python kernel needs (dynamic linker, user names, time zone, fonts); the rest
# of /etc (shadow, ssh keys, the host's configuration) is not in the sandbox at all.
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/passwd", "/etc/group",
                "/etc/nsswitch.conf", "/etc/localtime", "/etc/fonts", "/etc/alternatives")


def python_prefixes() -> list[Path]:
    """The kernel's Python environment: this interpreter's prefix (a venv) and base prefix."""
    prefixes = [Path(sys.prefix), Path(sys.base_prefix)]
    return [p for i, p in enumerate(prefixes) if p not in prefixes[:i] and not str(p).startswith("/usr")]


def kernel_environment(threads: int, seed: int, home: Path, mode: IsolationMode,
                       kernel: KernelEnvironment = GRADER_ENVIRONMENT) -> dict[str, str]:
    """The kernel's environment variables. Sandboxed: only these variables. Unsandboxed: the
    grader's environment with these added. Thread counts and the hash seed are fixed for
    reproducibility; TensorFlow's start-up chatter is silenced; ``PATH`` starts with the kernel
    environment's ``bin``."""
    env = {
        "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONHASHSEED": str(seed),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0",
        "CUDA_VISIBLE_DEVICES": "",
    }
    if mode == "none":
        base = dict(os.environ)
        base.pop("MPLBACKEND", None)  # the kernel's inline backend turns figures into image outputs
        return {**base, **env, "PATH": f"{kernel.bin}:{base.get('PATH', '/usr/bin:/bin')}"}
    return {**env, "PATH": f"{kernel.bin}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home),
            "USER": "student", "LOGNAME": "student", "LANG": "C.UTF-8", "MPLCONFIGDIR": "/tmp/matplotlib",
            "PYTHONNOUSERSITE": "1"}


def check_available(policy: ExecutionPolicy) -> None:
    """Start the sandbox once (as this process's slot) and import ipykernel in it.

    Raises:
        SandboxUnavailable: bubblewrap is missing, user namespaces are refused (some CI
            containers; Ubuntu 24.04's AppArmor default), or the sandbox user cannot read the
            kernel's Python; the message says which and how to fix it.
    """
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed, so student code cannot be sandboxed. "
                                 "Fix: `apt-get install bubblewrap` (Debian/Ubuntu). " + WEAKER_MODE)
    jail = Jail("bubblewrap", policy)
    home = Path("/tmp")
    command = jail.wrap([sys.executable, "-c", "import ipykernel"], kernel_environment(1, 0, home, "bubblewrap"), home)
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"the sandbox could not start: {exc}. " + WEAKER_MODE) from exc
    if run.returncode == 0:
        return
    error = (run.stderr.strip().splitlines() or ["(no message)"])[-1]
    if "bwrap" in error and ("namespace" in error or "Operation not permitted" in error or "setting up uid map" in error):
        fix = ("unprivileged user namespaces are not allowed here. Fix: on Ubuntu 24.04 "
               "`sysctl kernel.apparmor_restrict_unprivileged_userns=0` (or an AppArmor profile for bwrap); "
               "in a container, run it with user namespaces enabled")
    else:
        fix = (f"the sandbox user cannot run the kernel's Python ({sys.executable}). Its environment must be "
               "readable by other users: create the virtual environment from a system Python outside /root, "
               "for example `/usr/bin/python3 -m venv .venv`")
    raise SandboxUnavailable(f"the sandbox does not work: {error}; {fix}. " + WEAKER_MODE)


WEAKER_MODE = ("To grade trusted notebooks without a sandbox, pass `--isolation none` "
               "(student code then runs as you, with your files and network).")
