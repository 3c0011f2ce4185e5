"""Probe artifacts: written by the grader for the kernel, read back by the grader, safely.

Only ``.npz`` (``allow_pickle=False``) and ``.json`` files at declared paths are read; each is
opened without following symlinks, must be a regular file under a size cap, and arrays are
converted to plain numeric dtypes. Nothing the kernel writes is unpickled or executed.
"""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from vaegrade.grader.errors import ArtifactError
from vaegrade.grader.probe.requests import ProbeOutput, ProbeRequest

MAX_ARTIFACT_BYTES = 256 * 1024 * 1024
ALLOWED_KINDS = "biuf"  # bool, int, unsigned, float: no objects, no strings of code


def read_bytes(path: Path, max_bytes: int = MAX_ARTIFACT_BYTES) -> bytes:
    """The bytes of a regular file, refusing symlinks, special files and oversize files.

    Raises:
        ArtifactError: missing, a symlink or not a regular file, or larger than ``max_bytes``.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError as exc:
        raise ArtifactError(path, "missing") from exc
    except OSError as exc:
        raise ArtifactError(path, f"cannot be opened safely ({exc.strerror})") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ArtifactError(path, "is not a regular file")
        if info.st_size > max_bytes:
            raise ArtifactError(path, f"is {info.st_size} bytes, more than the {max_bytes} allowed")
        return handle.read(max_bytes + 1)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Numeric arrays of an ``.npz`` artifact (bool/int/float; unicode kept for error notes)."""
    try:
        with np.load(io.BytesIO(read_bytes(path)), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (ValueError, OSError, EOFError) as exc:
        raise ArtifactError(path, f"is not a valid .npz without pickles ({exc})") from exc
    for name, array in arrays.items():
        if array.dtype.kind not in ALLOWED_KINDS + "U":
            raise ArtifactError(path, f"array {name!r} has dtype {array.dtype}, not numeric")
    return arrays


def read_json(path: Path) -> Any:
    try:
        return json.loads(read_bytes(path, 1024 * 1024))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArtifactError(path, f"is not valid JSON ({exc})") from exc


def write_requests(probe_dir: Path, requests: list[ProbeRequest], seed: int, framework: str = "torch") -> None:
    """Write the probe's instructions and input arrays into ``probe_dir``, a fresh directory
    the grader made after the student's cells ran (see :meth:`vaegrade.grader.run.workspace.Workspace.probe_dir`)."""
    for request in requests:
        if request.inputs:
            np.savez(probe_dir / f"{request.key}.inputs.npz", **request.inputs)
    payload = {"seed": seed, "framework": framework, "requests": [r.model_dump(mode="json") for r in requests]}
    (probe_dir / "requests.json").write_text(json.dumps(payload))


def read_outputs(probe_dir: Path, requests: list[ProbeRequest]) -> dict[str, ProbeOutput]:
    """Each request's :class:`ProbeOutput`, from the manifest and the ``<key>.npz`` files."""
    try:
        manifest = read_json(probe_dir / "manifest.json")
    except ArtifactError as exc:
        return {r.key: ProbeOutput(error=f"the probe wrote no usable manifest: {exc}") for r in requests}
    outputs = {}
    for request in requests:
        entry = manifest.get(request.key) if isinstance(manifest, dict) else None
        if not isinstance(entry, dict):
            outputs[request.key] = ProbeOutput(error="the probe did not report on this request")
        elif not entry.get("ok"):
            outputs[request.key] = ProbeOutput(error=str(entry.get("error", "unknown error"))[:500])
        else:
            try:
                outputs[request.key] = ProbeOutput(arrays=read_npz(probe_dir / f"{request.key}.npz"))
            except ArtifactError as exc:
                outputs[request.key] = ProbeOutput(error=str(exc))
    return outputs
