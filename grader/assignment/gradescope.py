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
# Gradescope runs this once, as root, to build the autograder's image (Ubuntu 22.04: Python 3.10).
set -euo pipefail
apt-get update
apt-get install -y python3 python3-venv bubblewrap
PYTHON=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    apt-get install -y python3.11 python3.11-venv  # vaegrade needs Python >= 3.11 (Ubuntu 22.04's universe has it)
    PYTHON=python3.11
fi
"$PYTHON" -m venv /opt/vaegrade
/opt/vaegrade/bin/pip install torch=={torch} --index-url https://download.pytorch.org/whl/cpu
{tensorflow}/opt/vaegrade/bin/pip install /autograder/source/{wheel}
# Can student code be sandboxed here? The answer is the isolation run_autograder starts with.
/opt/vaegrade/bin/python -c '{check}' > /opt/vaegrade/isolation
echo "vaegrade: student notebooks will be graded with --isolation $(cat /opt/vaegrade/isolation)"
"""

#: Prints ``bubblewrap`` when the sandbox works in this image, else ``none`` (the reason on stderr).
CHECK = ("import sys\n"
         "from vaegrade.grader.run.isolation import ISOLATORS, SandboxUnavailable\n"
         "from vaegrade.grader.rubric.policy import ExecutionPolicy\n"
         "try:\n"
         "    ISOLATORS[\"bubblewrap\"].check_available(ExecutionPolicy())\n"
         "    print(\"bubblewrap\")\n"
         "except SandboxUnavailable as exc:\n"
         "    print(\"none\")\n"
         "    print(f\"vaegrade: no sandbox in this image: {exc}\", file=sys.stderr)\n")

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade it, then write results/results.json. Its stdout
# is shown to the course staff only (results.json's stdout_visibility: hidden).
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
VAEGRADE="${{VAEGRADE:-/opt/vaegrade/bin/vaegrade}}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
ISOLATION="$(cat "$(dirname "$VAEGRADE")/../isolation" 2>/dev/null || echo {isolation})"
grade() {{
    "$VAEGRADE" grade "$ROOT/submission" --rubric "$ROOT/source/rubric.yaml" --out "$WORK/out" --jobs 1 \\
        --isolation "$1" --quiet > /dev/null 2> "$WORK/stderr"
}}
grade "$ISOLATION"
if [ $? -eq 2 ] && [ "$ISOLATION" = bubblewrap ] && grep -q "sandbox\\|bubblewrap\\|namespace" "$WORK/stderr"; then
    echo "vaegrade (for the course staff): bubblewrap cannot sandbox student code in this container: $(tail -n 1 "$WORK/stderr")"
    echo "vaegrade (for the course staff): graded with --isolation none, inside Gradescope's own per-submission container"
    grade none
fi
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


def build_wheel(folder: Path) -> Path:
    """vaegrade's wheel, built from this checkout (``pip wheel --no-deps``) into ``folder``.

    Raises:
        ClassFileError: vaegrade is not running from a checkout (pass ``--wheel``).
    """
    if not (ROOT / "pyproject.toml").is_file():
        raise ClassFileError(ROOT, "vaegrade is installed from a wheel here: pass that wheel with --wheel")
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
    tensorflow = "/opt/vaegrade/bin/pip install tensorflow-cpu\n" if rubric.framework == "tensorflow" else ""
    with tempfile.TemporaryDirectory(prefix="vaegrade-wheel-") as folder, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        wheel = wheel or build_wheel(Path(folder))
        for name, text in (("setup.sh", SETUP.format(torch=version("torch").split("+")[0], tensorflow=tensorflow,
                                                     wheel=wheel.name, check=CHECK)),
                           ("run_autograder", RUN.format(isolation=isolation))):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16  # executable, as Gradescope runs them
            package.writestr(info, text)
        package.write(rubric_path, "rubric.yaml")
        for file, path in zip(rubric.files, rubric.file_paths()):
            package.write(path, file.source)  # beside rubric.yaml, as the rubric names them
        package.write(wheel, wheel.name)
    return out
