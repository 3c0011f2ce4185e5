"""Where a student's kernel runs: an :class:`Isolator` per ``--isolation`` mode, registered by
name in :data:`ISOLATORS`: :class:`Bubblewrap`, a sandbox under resource limits (the default), or
:class:`Unconfined` (by explicit choice, for trusted notebooks).

A sandboxed kernel is started by this chain, every link a standard tool::

    sh -c 'echo $$ > <memory cgroup>/cgroup.procs; exec "$@"'   (only when a cgroup was made)
    setpriv --reuid=U --regid=U --clear-groups                    (only when the grader is root)
    prlimit --cpu --nproc --fsize --nofile [--as]                 (rlimits, inherited by all)
    bwrap --unshare-all --unshare-user --disable-userns --die-with-parent --clearenv ...
    <python> -m ipykernel_launcher -f <connection file>

- The grader drops to an unprivileged uid (``SANDBOX_UID_BASE + slot``: one per grading
  process, leased machine-wide by :mod:`vaegrade.grader.run.slots`) *before* bubblewrap starts: a root grader's user namespace would map the sandbox back
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

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import ClassVar, Literal

from vaegrade.grader.errors import GraderError
from vaegrade.grader.probe.cell import GRADING_VARIABLE
from vaegrade.grader.results import Isolation
from vaegrade.grader.rubric.policy import ExecutionPolicy
from vaegrade.grader.run import slots
from vaegrade.grader.run.environments import GRADER_ENVIRONMENT, KernelEnvironment
from vaegrade.grader.run.processes import MIB, adopt_orphans, kill_until_gone, make_memory_cgroup, processes_of, reap_orphans

SANDBOX_UID_BASE = 61000


class SandboxUnavailable(GraderError):
    """bubblewrap cannot run here, or cannot run the kernel's Python; the message names the fix."""


class Isolator:
    """One kernel's confinement: the command that starts it, its environment, what it may see.

    A subclass per ``--isolation`` mode, named by ``name`` in :data:`ISOLATORS`; the CLI's choices
    are that registry's keys. ``writable`` and ``read_only`` ((host path, path inside) pairs) are
    what the kernel may write and read beyond its Python; the :class:`Workspace` fills them.
    """

    name: ClassVar[str]
    #: What the CLI's help says of the mode.
    help: ClassVar[str]
    #: Where the kernel runs, in a few words for messages.
    where: ClassVar[str]
    #: A warning printed before grading in this mode (None: nothing to warn of).
    warning: ClassVar[str | None] = None

    def __init__(self, policy: ExecutionPolicy, kernel: KernelEnvironment = GRADER_ENVIRONMENT) -> None:
        self.policy, self.kernel = policy, kernel
        self.writable: list[Path] = []
        self.read_only: list[tuple[Path, Path]] = []

    @classmethod
    def check_available(cls, policy: ExecutionPolicy) -> None:
        """Raise :class:`SandboxUnavailable` when this mode cannot run kernels here (with the fix)."""

    @property
    def uid(self) -> int | None:
        """The uid the kernel runs as when it is not the grader's (None: the grader's)."""
        return None

    def hand_over(self, path: Path) -> None:
        """Make a grader-created path writable by the kernel's uid."""
        if self.uid is not None:
            os.chown(path, self.uid, self.uid)

    def start(self) -> None:
        """Set up what must exist before the kernel starts."""

    def close(self) -> None:
        """Make sure nothing of the kernel survives."""

    def memory_exceeded(self) -> bool:
        """True when the kernel was killed for exceeding its memory limit (where that is known)."""
        return False

    def wrap(self, kernel_cmd: list[str], env: dict[str, str], cwd: Path) -> list[str]:
        """The full command that starts ``kernel_cmd`` confined, with ``env`` its environment."""
        return kernel_cmd

    def kernel_environment(self, threads: int, seed: int, home: Path) -> dict[str, str]:
        """The kernel's environment variables: thread counts and the hash seed fixed for
        reproducibility, TensorFlow's start-up chatter silenced, no GPU, the notebook's own self-check
        calls skipped (:data:`vaegrade.grader.probe.cell.GRADING_VARIABLE`), ``PATH`` starting with
        the kernel environment's ``bin``, and that environment's own variables
        (:meth:`KernelEnvironment.kernel_variables`: the rubric's, where the grader's packages are;
        see the subclasses for the rest)."""
        return {**self.kernel.kernel_variables(), "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONHASHSEED": str(seed),
                "PYDEVD_DISABLE_FILE_VALIDATION": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0",
                "CUDA_VISIBLE_DEVICES": "", GRADING_VARIABLE: "1"}

    def launch_environment(self, kernel_env: dict[str, str]) -> dict[str, str]:
        """The environment of the process jupyter_client launches (the wrapper, or the kernel)."""
        return kernel_env

    def provision(self, copy: Path, target: Path) -> None:
        """Make the grader's read-only ``copy`` appear at ``target`` in the kernel's working directory."""
        shutil.copyfile(copy, target)

    def describe(self) -> Isolation:
        p = self.policy
        return Isolation(mode=self.name, limits={"cell_timeout": p.cell_timeout, "notebook_timeout": p.notebook_timeout})


class Unconfined(Isolator):
    """No sandbox: the kernel runs as the grader, with the grader's files and network, under the
    time limits only. For notebooks the grader trusts (an instructor's own, a student's self-check)."""

    name = "none"
    help = "trusted notebooks only: the kernel runs as you, with your files and network, under the time limits"
    where = "as you, without a sandbox"
    warning = "--isolation none: student code runs as you, with your files and network"

    def kernel_environment(self, threads: int, seed: int, home: Path) -> dict[str, str]:
        """The grader's environment with :meth:`Isolator.kernel_environment`'s variables added
        (``MPLBACKEND`` dropped: the kernel's inline backend turns figures into image outputs)."""
        base = dict(os.environ)
        base.pop("MPLBACKEND", None)
        return {**base, **super().kernel_environment(threads, seed, home),
                "PATH": f"{self.kernel.bin}:{base.get('PATH', '/usr/bin:/bin')}"}


class Bubblewrap(Isolator):
    """The sandbox of the module docstring: the kernel as the leased sandbox uid (when the grader
    is root), in bubblewrap's namespaces, under rlimits and a memory cgroup."""

    name = "bubblewrap"
    help = "a sandbox per kernel (the default): its own uid, no network, read-only system, limits"
    where = "in a sandbox"

    def __init__(self, policy: ExecutionPolicy, kernel: KernelEnvironment = GRADER_ENVIRONMENT) -> None:
        super().__init__(policy, kernel)
        self.cgroup = None  # a processes.MemoryCgroup once started, where one can be made

    @classmethod
    def check_available(cls, policy: ExecutionPolicy) -> None:
        """Start the sandbox once (as this process's slot) and import ipykernel in it.

        Raises:
            SandboxUnavailable: bubblewrap is missing, user namespaces are refused (some CI
                containers; Ubuntu 24.04's AppArmor default), or the sandbox user cannot read the
                kernel's Python; the message says which and how to fix it.
        """
        if shutil.which("bwrap") is None:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed, so student code cannot be sandboxed. "
                                     "Fix: `apt-get install bubblewrap` (Debian/Ubuntu). " + WEAKER_MODE)
        jail = cls(policy)
        home = Path("/tmp")
        command = jail.wrap([sys.executable, "-c", "import ipykernel"], jail.kernel_environment(1, 0, home), home)
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

    @property
    def uid(self) -> int | None:
        """The sandbox uid when the grader is root (and drops to it), else None: the one of
        this process's leased slot (:func:`vaegrade.grader.run.slots.mine`), used by no other grading process."""
        return SANDBOX_UID_BASE + slots.mine() if os.geteuid() == 0 else None

    def start(self) -> None:
        """Create the memory cgroup (call before the kernel starts)."""
        adopt_orphans()
        self.cgroup = make_memory_cgroup(f"vaegrade-{os.getpid()}", self.policy.memory_mb * MIB)

    def close(self) -> None:
        """Make sure nothing of the kernel survives (a fork storm's children would otherwise
        count against the next submission's process limit), then remove the cgroup."""
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.uid is not None:
            kill_until_gone(lambda: processes_of(self.uid))
        reap_orphans(self.uid)

    def memory_exceeded(self) -> bool:
        return self.cgroup is not None and self.cgroup.oom_killed()

    def wrap(self, kernel_cmd: list[str], env: dict[str, str], cwd: Path) -> list[str]:
        """The command chain of the module docstring; ``env`` is the kernel's whole environment
        (the sandbox clears everything else)."""
        chain: list[str] = []
        if self.cgroup is not None:
            chain += ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.cgroup.procs)]
        if self.uid is not None:
            chain += ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--"]
        chain += ["prlimit", *self._rlimits(), "--"]
        return chain + self._bwrap(env, cwd) + kernel_cmd

    def kernel_environment(self, threads: int, seed: int, home: Path) -> dict[str, str]:
        """Only :meth:`Isolator.kernel_environment`'s variables and a student's ``HOME``, locale
        and matplotlib cache: nothing of the grader's environment."""
        return {**super().kernel_environment(threads, seed, home), "PATH": f"{self.kernel.bin}:/usr/local/bin:/usr/bin:/bin",
                "HOME": str(home), "USER": "student", "LOGNAME": "student", "LANG": "C.UTF-8",
                "MPLCONFIGDIR": "/tmp/matplotlib", "PYTHONNOUSERSITE": "1"}

    def launch_environment(self, kernel_env: dict[str, str]) -> dict[str, str]:
        """The wrapper chain needs only a ``PATH``: bubblewrap sets the kernel's own environment."""
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}

    def provision(self, copy: Path, target: Path) -> None:
        """Bind-mount ``copy`` read-only at ``target``, so the student can neither change nor replace it."""
        target.touch()
        self.read_only.append((copy, target))

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
        memory = (f"cgroup v{self.cgroup.version}: {p.memory_mb} MiB" if self.cgroup is not None
                  else f"address space: {p.memory_mb} MiB")
        return Isolation(mode=self.name, uid=self.uid if self.uid is not None else os.geteuid(), network="none",
                         memory_limit=memory, limits=p.limits())


#: The isolation modes, by the name ``--isolation`` takes.
ISOLATORS: dict[str, type[Isolator]] = {cls.name: cls for cls in (Bubblewrap, Unconfined)}
IsolationMode = Literal["bubblewrap", "none"]  # the keys of ISOLATORS, as in results.Isolation.mode


def isolator(mode: IsolationMode, policy: ExecutionPolicy, kernel: KernelEnvironment = GRADER_ENVIRONMENT) -> Isolator:
    """The :class:`Isolator` of ``mode`` for one kernel under ``policy``.

    Raises:
        KeyError: no such mode.
    """
    return ISOLATORS[mode](policy, kernel)


# Files of /etc a Python kernel needs (dynamic linker, user names, time zone, fonts); the rest
# of /etc (shadow, ssh keys, the host's configuration) is not in the sandbox at all.
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/passwd", "/etc/group",
                "/etc/nsswitch.conf", "/etc/localtime", "/etc/fonts", "/etc/alternatives")


def python_prefixes() -> list[Path]:
    """The kernel's Python environment, outside ``/usr`` (bound whole): this interpreter's prefix
    (a venv) and base prefix, and every other site-packages folder on its path (one a ``.pth``
    file adds: packages an environment shares with another). Never the working directory or a
    script's folder, which ``sys.path`` also holds."""
    candidates = [Path(sys.prefix), Path(sys.base_prefix)] + [
        Path(entry) for entry in sys.path if Path(entry).name in ("site-packages", "dist-packages") and Path(entry).is_dir()]
    chosen: list[Path] = []
    for path in candidates:
        if not str(path).startswith("/usr") and not any(path.is_relative_to(kept) for kept in chosen):
            chosen.append(path)
    return chosen


WEAKER_MODE = ("To grade trusted notebooks without a sandbox, pass `--isolation none` "
               "(student code then runs as you, with your files and network).")
