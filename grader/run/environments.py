"""Kernel environments per assignment: the packages a rubric's notebooks import, layered over the grader's.

A rubric's ``environment.packages`` (pip requirement strings, e.g. ``tensorflow-cpu==2.21.*``,
``torchvision``) names what the student's kernel needs beyond the grader's own environment
(torch, numpy, matplotlib, ipykernel, wrapt). The grader builds a thin virtual environment for
that list once, over its own site-packages:

    <cache>/kernels/<key>/        key = sha256 of the sorted list, the Python version and every
                                  distribution of the grader's environment with its version (not
                                  its path): two clones installed alike share their environments
      lib/.../site-packages/      only what the list adds
        vaegrade-base.pth         the grader's site-packages after the environment's own, through
                                  ``site.addsitedir`` (their own ``.pth`` files run too), read from
                                  ``$VAEGRADE_BASE_SITE`` (set for every kernel and build) so the
                                  environment serves whichever clone grades with it
        vaegrade_torchvision_cpu  (when torchvision is installed) lets torchvision import without
                                  its C++ operators (see :mod:`vaegrade.grader.run.torchvision_cpu`)
      vaegrade-constraints.txt    the kernel runtime pinned while pip installed the list
      vaegrade-env.json           what was asked, what pip installed, build time and size

``pip install`` runs with the **kernel runtime pinned** (:func:`runtime_pins`: ipykernel, numpy,
matplotlib, wrapt, torch and everything they need, at the grader's versions, as pip
constraints): no package list can shadow the kernel's own runtime, and a list that cannot coexist
with it (``typing_extensions==4.5``, ``tensorflow-cpu==2.12.*`` with its numpy 1.24) is refused at
build time with pip's conflict named. torchvision resolves to the release made for the grader's
torch (PyPI's wheels of it need the CUDA torch only for their C++ operators, which VAE homework
does not use): a 7 MB layer instead of a 5 GB CUDA stack.

``<cache>`` is ``$VAEGRADE_CACHE``, else ``/var/cache/vaegrade`` for root, else
``~/.cache/vaegrade``: it must be readable by the sandbox user (``/root`` is not). Builds are
serialised by a lock file, so parallel workers and concurrent runs build an environment once;
environments unused for :data:`UNUSED_DAYS` days are removed before a build. An empty list means
the grader's own environment. :mod:`vaegrade.grader.run.smoke` imports the listed packages in a
sandboxed kernel after a build, before any student is graded.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import site
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from vaegrade.grader.errors import GraderError
from vaegrade.grader.run.processes import printed_lines

BUILD_TIMEOUT = 3600
UNUSED_DAYS = 30
#: The variable the environments' ``vaegrade-base.pth`` reads: the grader's site-packages, ``os.pathsep``-separated.
BASE_SITE_VARIABLE = "VAEGRADE_BASE_SITE"
#: What the kernel itself runs on (the kernel, the probe's arrays, inline figures, post-import hooks,
#: the grader's torch): pinned with everything they require at the grader's versions in every environment.
KERNEL_RUNTIME = ("ipykernel", "numpy", "matplotlib", "wrapt", "torch")
TORCHVISION_SHIM = Path(__file__).with_name("torchvision_cpu.py")


class EnvironmentBuildError(GraderError):
    """pip could not build a kernel environment, or its packages do not import; the message says why."""


@dataclass(frozen=True)
class KernelEnvironment:
    """Where a kernel's Python lives: ``python`` (its interpreter), ``prefix`` (to bind
    read-only into the sandbox; None for the grader's own), the packages it adds, and the
    rubric's ``variables`` for the kernel's environment (name, value pairs)."""

    python: Path
    prefix: Path | None
    packages: tuple[str, ...]
    variables: tuple[tuple[str, str], ...] = field(default=())

    @property
    def bin(self) -> Path:
        return self.python.parent

    def info(self) -> dict[str, object]:
        """The environment's ``vaegrade-env.json`` (empty for the grader's own)."""
        return {} if self.prefix is None else json.loads((self.prefix / "vaegrade-env.json").read_text())

    def kernel_variables(self) -> dict[str, str]:
        """What the kernel's environment needs from this one: the rubric's variables and, for a
        built environment, where the grader's site-packages are (:data:`BASE_SITE_VARIABLE`)."""
        base = {BASE_SITE_VARIABLE: os.pathsep.join(site.getsitepackages())} if self.prefix is not None else {}
        return {**dict(self.variables), **base}

    def describe(self) -> dict[str, object]:
        """What results record about the kernel's environment."""
        variables = {"kernel_variables": dict(self.variables)} if self.variables else {}
        if self.prefix is None:
            return {"kernel_packages": "the grader's environment", **variables}
        return {"kernel_packages": list(self.packages), "kernel_installed": self.info().get("installed", []),
                "kernel_environment": str(self.prefix), **variables}


def cache_root() -> Path:
    """Where vaegrade keeps built environments and served data (see module docstring)."""
    if os.environ.get("VAEGRADE_CACHE"):
        return Path(os.environ["VAEGRADE_CACHE"])
    if os.geteuid() == 0:
        return Path("/var/cache/vaegrade")
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vaegrade"


GRADER_ENVIRONMENT = KernelEnvironment(Path(sys.executable), None, ())


#: Distributions that are no part of what a kernel imports: vaegrade itself, and the installer.
UNKEYED = frozenset({"vaegrade", "pip"})


@functools.cache
def _grader_distributions() -> dict[str, str]:
    """Every distribution the grader's interpreter sees, by canonical name, with its version
    (:data:`UNKEYED` left out). Read once per process (about 50 ms of metadata files): every
    submission's grading asks for its environment's key."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"] or "")
        if name and name not in UNKEYED:
            found.setdefault(name, dist.version)
    return found


def runtime_pins() -> dict[str, str]:
    """The kernel runtime (:data:`KERNEL_RUNTIME`) and its requirements, recursively, at the
    grader's versions: ``{canonical name: version}`` (markers evaluated here, extras not followed)."""
    installed, pins = _grader_distributions(), {}
    todo = list(KERNEL_RUNTIME)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in pins or name not in installed:
            continue
        pins[name] = installed[name]
        for text in importlib.metadata.distribution(name).requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return pins


def environment_key(packages: list[str]) -> str:
    """The content address of ``packages`` over this grader: the sorted list, the Python
    version, the machine and the grader's distributions with their versions (never a path)."""
    text = json.dumps([sorted(packages), sys.version, platform.machine(), sorted(_grader_distributions().items())])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def progress(message: str) -> None:
    """A building environment's progress, on stderr: a command's output stays its results."""
    print(message, file=sys.stderr, flush=True)


def ensure_environment(packages: list[str], variables: dict[str, str] | None = None,
                       log=progress) -> KernelEnvironment:  # noqa: ANN001 (a print-like callable)
    """The environment for ``packages`` (with the kernel ``variables``), built first if it is not
    cached (its progress told by ``log``).

    Raises:
        EnvironmentBuildError: ``venv`` or ``pip install`` failed (a package name that does not
            exist, no network for a package not on disk, a conflict with the kernel runtime or
            within the list: pip's conflict is quoted); pip's output is in ``<prefix>.log``.
    """
    pairs = tuple(sorted((variables or {}).items()))
    if not packages:
        return KernelEnvironment(GRADER_ENVIRONMENT.python, None, (), pairs)
    root = cache_root() / "kernels"
    root.mkdir(parents=True, exist_ok=True)
    for folder in (root.parent, root):
        folder.chmod(0o755)
    prefix = root / environment_key(packages)
    with open(root / f"{prefix.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (prefix / "vaegrade-env.json").exists():
            _prune(root)
            _build(prefix, packages, log)
        os.utime(prefix / "vaegrade-env.json")  # last used, for _prune
    return KernelEnvironment(prefix / "bin" / "python", prefix, tuple(packages), pairs)


def _site_packages(prefix: Path) -> Path:
    return next((prefix / "lib").glob("python*/site-packages"))


def _link_grader(prefix: Path) -> None:
    """Write ``vaegrade-base.pth`` into the environment ``prefix``: the site-packages named by
    ``$VAEGRADE_BASE_SITE`` (else this grader's), after the environment's own."""
    default = os.pathsep.join(site.getsitepackages())
    (_site_packages(prefix) / "vaegrade-base.pth").write_text(
        f"import os, site; list(map(site.addsitedir, os.environ.get({BASE_SITE_VARIABLE!r}, {default!r}).split(os.pathsep)))\n")


def _prune(root: Path) -> None:
    """Remove environments no grading has used for :data:`UNUSED_DAYS` days (their
    ``vaegrade-env.json`` is touched at every use)."""
    horizon = time.time() - UNUSED_DAYS * 86400
    for info_file in root.glob("*/vaegrade-env.json"):
        if info_file.stat().st_mtime < horizon:
            with open(root / f"{info_file.parent.name}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                shutil.rmtree(info_file.parent, ignore_errors=True)


def _build(prefix: Path, packages: list[str], log) -> None:  # noqa: ANN001
    started = time.monotonic()
    log(f"building the kernel environment for {', '.join(packages)} in {prefix} (once; later runs reuse it)")
    building = prefix.with_name(prefix.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    output = prefix.with_name(prefix.name + ".log")
    base_python = Path(getattr(sys, "_base_executable", sys.executable))
    environ = {**os.environ, BASE_SITE_VARIABLE: os.pathsep.join(site.getsitepackages())}
    try:
        with open(output, "w") as handle:
            _run([str(base_python), "-m", "venv", str(building)], handle, environ, output, packages)
            _link_grader(building)  # the grader's packages, visible (and satisfying requirements) after the environment's own
            constraints = building / "vaegrade-constraints.txt"
            constraints.write_text("".join(f"{name}=={version}\n" for name, version in sorted(runtime_pins().items())))
            _run([str(building / "bin" / "python"), "-m", "pip", "install", "--no-input", "-c", str(constraints), *packages],
                 handle, environ, output, packages)
    except EnvironmentBuildError:
        shutil.rmtree(building, ignore_errors=True)
        raise
    if any(canonicalize_name(Requirement(p).name) == "torchvision" for p in packages):
        shutil.copyfile(TORCHVISION_SHIM, _site_packages(building) / "vaegrade_torchvision_cpu.py")
        (_site_packages(building) / "vaegrade_torchvision_cpu.pth").write_text("import vaegrade_torchvision_cpu\n")
    freeze = subprocess.run([str(building / "bin" / "python"), "-m", "pip", "freeze", "--path", str(_site_packages(building))],
                            capture_output=True, text=True, timeout=120, env=environ)
    size = sum(f.stat().st_size for f in building.rglob("*") if f.is_file() and not f.is_symlink())
    info = {"packages": packages, "installed": freeze.stdout.split(), "imports": import_names(packages, building),
            "build_seconds": round(time.monotonic() - started, 1), "size_mb": round(size / 2**20),
            "python": sys.version.split()[0]}
    (building / "vaegrade-env.json").write_text(json.dumps(info, indent=2))
    for path in [building, *building.rglob("*")]:  # readable by the sandbox user
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0))
    shutil.rmtree(prefix, ignore_errors=True)
    building.rename(prefix)
    log(f"built {prefix} in {info['build_seconds']} s ({info['size_mb']} MB)")


def _run(command: list[str], handle, environ: dict[str, str], output: Path, packages: list[str]) -> None:  # noqa: ANN001 (a file)
    """Run one build step with its output in ``output``.

    Raises:
        EnvironmentBuildError: it failed; with pip's conflict when pip names one, else its last lines.
    """
    try:
        run = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT,
                             stdin=subprocess.DEVNULL, env=environ)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentBuildError(f"building the kernel environment failed: {exc} (log: {output})") from exc
    if run.returncode == 0:
        return
    handle.flush()
    lines = printed_lines(output.read_text(errors="replace"))
    if "The conflict is caused by:" in lines:
        start = lines.index("The conflict is caused by:") + 1
        cause = [line for line in lines[start:] if not line.startswith(("To fix", "Additionally", "1.", "2.", "ERROR"))][:6]
        raise EnvironmentBuildError(
            f"the kernel environment for {packages} cannot be built: {'; '.join(cause)}. A `(constraint)` is the "
            f"kernel's own runtime at the grader's version (ipykernel, numpy, matplotlib, wrapt, torch and what they "
            f"need), which no package list may replace (log: {output})")
    raise EnvironmentBuildError(f"`{' '.join(command[2:5])} ...` failed for {packages}: {' / '.join(lines[-3:])} (log: {output})")


def import_names(packages: list[str], prefix: Path) -> dict[str, list[str]]:
    """The top-level modules each requirement in ``packages`` installs, found in the installed
    distributions' file lists (in ``prefix`` or the grader's environment): ``{requirement: [module]}``
    (``tensorflow-cpu`` -> ``tensorflow``, ``tf-keras`` -> ``tf_keras``; private ``_`` names left out)."""
    path = [str(_site_packages(prefix)), *site.getsitepackages()]
    found: dict[str, list[str]] = {}
    for package in packages:
        name = canonicalize_name(Requirement(package).name)
        dist = next((d for d in importlib.metadata.distributions(path=path)
                     if canonicalize_name(d.metadata["Name"] or "") == name), None)
        modules = set()
        for file in (dist.files or []) if dist is not None else []:
            top = file.parts[0]
            module = top[:-3] if len(file.parts) == 1 and top.endswith(".py") else top if len(file.parts) > 1 else ""
            if module.isidentifier() and not module.startswith("_") and not top.endswith((".dist-info", ".data")):
                modules.add(module)
        found[package] = sorted(modules)
    return found
