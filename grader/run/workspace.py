"""The directories of one notebook run, and the files the grader provisions into them."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vaegrade.grader.run.isolation import Isolator


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
    jail: Isolator

    @classmethod
    def create(cls, jail: Isolator) -> Workspace:
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
        sandboxed, so the student can neither change nor replace it). ``name`` may hold folders
        (``dataset/train.csv``): they are made, and handed to the kernel to write in."""
        copy = self.root / "provided" / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
        copy.chmod(0o444)
        target = self.work / name
        for folder in reversed(target.relative_to(self.work).parents[:-1]):
            if not (self.work / folder).is_dir():
                (self.work / folder).mkdir(mode=0o755)
                self.jail.hand_over(self.work / folder)
        self.jail.provision(copy, target)

    def probe_dir(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.probe))

    def hand_over_probe(self, probe_dir: Path) -> None:
        probe_dir.chmod(0o755)
        self.jail.hand_over(probe_dir)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
