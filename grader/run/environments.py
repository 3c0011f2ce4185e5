"""Kernel environments per assignment: the packages a rubric's notebooks import, built once.

A rubric's ``environment.packages`` (pip requirement strings, e.g. ``tensorflow-cpu==2.21.*``)
names what the student's kernel needs beyond the grader's own environment (torch, numpy,
matplotlib, ipykernel, wrapt). The grader builds a virtual environment for that list once:

    <cache>/kernels/<key>/        key = sha256 of the sorted list, the Python version and the
                                  grader's environment, so a changed list is a new environment
      lib/.../site-packages/vaegrade-base.pth    the grader's site-packages, under the env's own
                                  (added with ``site.addsitedir``, so their own ``.pth`` files
                                  run too: an editable vaegrade is importable for self-check)
      vaegrade-env.json           what was asked, what pip installed, build time and size

with ``pip install`` (the environment's own packages come first on ``sys.path``, so a pinned
``torch==2.14.1`` for ``torchvision`` shadows the grader's torch). ``<cache>`` is
``$VAEGRADE_CACHE``, else ``/var/cache/vaegrade`` for root, else ``~/.cache/vaegrade``: it must be
readable by the sandbox user (``/root`` is not). Builds are serialised by a lock file, so
parallel workers and concurrent runs build an environment once; before a build, environments
whose grader installation is gone are removed. An empty list means the grader's own environment.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import site
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from vaegrade.grader.errors import GraderError

BUILD_TIMEOUT = 3600


class EnvironmentBuildError(GraderError):
    """pip could not build a kernel environment; the message has pip's last lines."""


@dataclass(frozen=True)
class KernelEnvironment:
    """Where a kernel's Python lives: ``python`` (its interpreter), ``prefix`` (to bind
    read-only into the sandbox; None for the grader's own), and the packages it adds."""

    python: Path
    prefix: Path | None
    packages: tuple[str, ...]

    @property
    def bin(self) -> Path:
        return self.python.parent

    def describe(self) -> dict[str, object]:
        """What results record about the kernel's environment."""
        if self.prefix is None:
            return {"kernel_packages": "the grader's environment"}
        info = json.loads((self.prefix / "vaegrade-env.json").read_text())
        return {"kernel_packages": list(self.packages), "kernel_installed": info.get("installed", []),
                "kernel_environment": str(self.prefix)}


def cache_root() -> Path:
    """Where vaegrade keeps built environments and served data (see module docstring)."""
    if os.environ.get("VAEGRADE_CACHE"):
        return Path(os.environ["VAEGRADE_CACHE"])
    if os.geteuid() == 0:
        return Path("/var/cache/vaegrade")
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vaegrade"


GRADER_ENVIRONMENT = KernelEnvironment(Path(sys.executable), None, ())


def environment_key(packages: list[str]) -> str:
    text = json.dumps([sorted(packages), sys.version, sys.prefix])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _progress(message: str) -> None:
    """A building environment's progress, on stderr: a command's output stays its results."""
    print(message, file=sys.stderr, flush=True)


def ensure_environment(packages: list[str], log=_progress) -> KernelEnvironment:  # noqa: ANN001 (a print-like callable)
    """The environment for ``packages``, built first if it is not cached (its progress told by ``log``).

    Raises:
        EnvironmentBuildError: ``venv`` or ``pip install`` failed (a package name that does not
            exist, no network for a package not on disk, a conflict); pip's output is in
            ``<prefix>.log``.
    """
    if not packages:
        return GRADER_ENVIRONMENT
    root = cache_root() / "kernels"
    root.mkdir(parents=True, exist_ok=True)
    for folder in (root.parent, root):
        folder.chmod(0o755)
    prefix = root / environment_key(packages)
    with open(root / f"{prefix.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (prefix / "vaegrade-env.json").exists():
            _prune(root, keep=prefix)
            _build(prefix, packages, log)
        _link_grader(prefix)
    return KernelEnvironment(prefix / "bin" / "python", prefix, tuple(packages))


def _link_grader(prefix: Path) -> None:
    """Write ``vaegrade-base.pth`` into the environment ``prefix``: the grader's site-packages
    after the environment's own, each through ``site.addsitedir`` (rewritten when it differs,
    so environments built by an older vaegrade get the current form)."""
    site_packages = next((prefix / "lib").glob("python*/site-packages"))
    text = f"import site; list(map(site.addsitedir, {site.getsitepackages()!r}))\n"
    pth = site_packages / "vaegrade-base.pth"
    if not pth.exists() or pth.read_text() != text:
        pth.write_text(text)


def _prune(root: Path, keep: Path) -> None:
    """Remove environments built for a grader installation that no longer exists (their
    ``vaegrade-base.pth`` points at nothing): a deleted virtual environment or CI checkout."""
    for info_file in root.glob("*/vaegrade-env.json"):
        prefix = info_file.parent
        if prefix == keep:
            continue
        try:
            grader_prefix = Path(json.loads(info_file.read_text())["grader_prefix"])
        except (OSError, ValueError, KeyError):
            continue
        if not grader_prefix.exists():
            with open(root / f"{prefix.name}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                shutil.rmtree(prefix, ignore_errors=True)


def _build(prefix: Path, packages: list[str], log) -> None:  # noqa: ANN001
    started = time.monotonic()
    log(f"building the kernel environment for {', '.join(packages)} in {prefix} (once; later runs reuse it)")
    building = prefix.with_name(prefix.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    output = prefix.with_name(prefix.name + ".log")
    base_python = Path(getattr(sys, "_base_executable", sys.executable))
    with open(output, "w") as handle:
        steps = [[str(base_python), "-m", "venv", str(building)]]
        steps.append([str(building / "bin" / "python"), "-m", "pip", "install", "--no-input", *packages])
        for index, command in enumerate(steps):
            if index == 1:  # the grader's packages, visible after the environment's own
                _link_grader(building)
            try:
                run = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT,
                                     stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise EnvironmentBuildError(f"building the kernel environment failed: {exc} (log: {output})") from exc
            if run.returncode != 0:
                tail = output.read_text(errors="replace").strip().splitlines()[-3:]
                raise EnvironmentBuildError(f"`{' '.join(command[2:5])} ...` failed for {packages}: "
                                            f"{' / '.join(tail)} (log: {output})")
    freeze = subprocess.run([str(building / "bin" / "python"), "-m", "pip", "freeze", "--path",
                             str(next((building / "lib").glob("python*/site-packages")))],
                            capture_output=True, text=True, timeout=120)
    size = sum(f.stat().st_size for f in building.rglob("*") if f.is_file() and not f.is_symlink())
    info = {"packages": packages, "installed": freeze.stdout.split(),
            "build_seconds": round(time.monotonic() - started, 1),
            "size_mb": round(size / 2**20), "python": sys.version.split()[0], "grader_prefix": sys.prefix}
    (building / "vaegrade-env.json").write_text(json.dumps(info, indent=2))
    for path in [building, *building.rglob("*")]:  # readable by the sandbox user
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0))
    shutil.rmtree(prefix, ignore_errors=True)
    building.rename(prefix)
    log(f"built {prefix} in {info['build_seconds']} s ({info['size_mb']} MB)")
