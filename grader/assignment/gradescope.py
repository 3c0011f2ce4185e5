"""A Gradescope autograder package: ``vaegrade gradescope --rubric R --out autograder.zip``.

Gradescope builds an image from the zip's ``setup.sh`` (run once, as root, on its Ubuntu base
image, with internet), then for each submission copies the student's files to
``/autograder/submission/``, runs ``/autograder/source/run_autograder`` and reads
``/autograder/results/results.json`` (Gradescope's autograder docs, "Autograder
Specifications"). The zip holds:

- ``setup.sh``: Debian/Ubuntu's Python and bubblewrap, a virtual environment in
  ``/opt/vaegrade`` with torch's CPU build (and ``tensorflow-cpu`` for a Keras rubric), and
  vaegrade from the wheel in the zip;
- ``run_autograder``: ``vaegrade grade`` on the submission folder, then ``vaegrade export
  --format gradescope`` into ``results.json`` (a run that graded nothing writes a results.json
  that says why, score 0, so the student sees a message rather than Gradescope's error);
- the rubric (as ``rubric.yaml``) and its handout files, and vaegrade's wheel.

``run_autograder`` reads ``AUTOGRADER_ROOT`` (default ``/autograder``) and ``VAEGRADE`` (default
``/opt/vaegrade/bin/vaegrade``), so that it can be tried in a simulated layout.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from importlib.metadata import version
from pathlib import Path

from vaegrade.grader.errors import ClassFileError
from vaegrade.grader.rubric.schema import load_rubric
from vaegrade.grader.run.isolation import IsolationMode
from vaegrade.grader.shipped import ROOT

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the autograder's image.
set -euo pipefail
apt-get update
apt-get install -y python3 python3-venv bubblewrap
python3 -m venv /opt/vaegrade
/opt/vaegrade/bin/pip install torch=={torch} --index-url https://download.pytorch.org/whl/cpu
{tensorflow}/opt/vaegrade/bin/pip install /autograder/source/{wheel}
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade it, then write results/results.json.
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
VAEGRADE="${{VAEGRADE:-/opt/vaegrade/bin/vaegrade}}"
WORK="$(mktemp -d)"
"$VAEGRADE" grade "$ROOT/submission" --rubric "$ROOT/source/rubric.yaml" --out "$WORK/out" --jobs 1 \\
    --isolation {isolation} --quiet 2> "$WORK/stderr"
"$VAEGRADE" export "$WORK/out" --format gradescope --to "$WORK/gradescope" --rubric "$ROOT/source/rubric.yaml" \\
    > /dev/null 2>&1
mkdir -p "$ROOT/results"
set -- "$WORK"/gradescope/*/results.json
if [ "$#" -eq 1 ] && [ -f "$1" ]; then
    cp "$1" "$ROOT/results/results.json"
else  # nothing graded, or more than one notebook handed in: say so
    "$(dirname "$VAEGRADE")/python" -c 'import json, sys; print(json.dumps({{"score": 0, "output": "vaegrade could not grade this submission (hand in exactly one notebook): " + open(sys.argv[1]).read()[-2000:]}}))' "$WORK/stderr" > "$ROOT/results/results.json"
fi
"""


def build_wheel() -> Path:
    """vaegrade's wheel, built from this checkout (``pip wheel --no-deps``) into a temporary folder.

    Raises:
        ClassFileError: vaegrade is not running from a checkout (pass ``--wheel``).
    """
    if not (ROOT / "pyproject.toml").is_file():
        raise ClassFileError(ROOT, "vaegrade is installed from a wheel here: pass that wheel with --wheel")
    folder = Path(tempfile.mkdtemp(prefix="vaegrade-wheel-"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder), str(ROOT)],
                   check=True, cwd=folder)
    return next(folder.glob("vaegrade-*.whl"))


def write_package(rubric_path: Path, out: Path, isolation: IsolationMode = "bubblewrap", wheel: Path | None = None) -> Path:
    """Write the autograder zip for ``rubric_path`` to ``out`` and return it.

    ``isolation``: ``bubblewrap`` keeps student code from the grader's files (``results.json``
    included); Gradescope's containers may refuse the user namespaces it needs, and then
    ``none`` runs it as the container's user, as Gradescope autograders usually do.

    Raises:
        RubricError: the rubric does not load.
        ClassFileError: no wheel to ship (see :func:`build_wheel`).
    """
    rubric = load_rubric(rubric_path)
    wheel = wheel or build_wheel()
    tensorflow = "/opt/vaegrade/bin/pip install tensorflow-cpu\n" if rubric.framework == "tensorflow" else ""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name, text in (("setup.sh", SETUP.format(torch=version("torch").split("+")[0], tensorflow=tensorflow,
                                                     wheel=wheel.name)),
                           ("run_autograder", RUN.format(isolation=isolation))):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16  # executable, as Gradescope runs them
            package.writestr(info, text)
        package.write(rubric_path, "rubric.yaml")
        for file, path in zip(rubric.files, rubric.file_paths()):
            package.write(path, file.source)  # beside rubric.yaml, as the rubric names them
        package.write(wheel, wheel.name)
    return out
