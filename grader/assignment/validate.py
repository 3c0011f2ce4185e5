"""``vaegrade validate ASSIGNMENT_DIR``: an assignment checked as a course's CI would before release.

The folder holds ``assignment.yaml`` (:class:`Assignment`: where the rubric, the reference
solution, the sample submissions, their golden outcomes and the calibration file are). Items,
one verdict line each:

1. ``rubric``: the manifest and the rubric load; ``environment`` (a rubric with packages): the
   kernel environment builds and every listed package imports in a kernel (:mod:`vaegrade.grader.run.smoke`).
2. ``solution``: the reference solution earns full marks.
3. ``sample <name>``: every notebook in ``samples`` scores as the golden file says, check by
   check (a ``partial`` within one point, since partial credit moves a little across machines),
   and self-check, run in the same kernel on the same objects (:mod:`vaegrade.grader.selfcheck`), gives
   every public check the verdict grading gives it.
4. ``calibration``: the calibration file's command rerun with fewer of its seeds: every metric
   stays inside the recorded band, [min - margin, max + margin] of the recorded values with the
   margin the thresholds were derived with (:func:`vaegrade.grader.assignment.calibrate.margin`).
5. ``bundle``: the student bundle builds, no hidden check's id, title, inputs or thresholds are
   in it (:func:`vaegrade.grader.rubric.public.hidden_needles`), and the solution passes every public check
   through self-check.

Golden files map each notebook's stem to ``{"score", "status", "checks": {id: [status, score]}, "why"}``;
``update_golden`` (``--update-golden``, otter's ``--update-goldens``) rewrites them from this run's
results, keeping each sample's ``why``, for an instructor to review in the diff.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vaegrade.grader.assignment import calibrate
from vaegrade.grader.assignment.bundle import write_bundle
from vaegrade.grader.batch.grade import grade_submissions
from vaegrade.grader.errors import RubricError
from vaegrade.grader.results import SubmissionResult
from vaegrade.grader.rubric.public import find_leaks, hidden_needles, public_view
from vaegrade.grader.rubric.schema import Rubric, load_rubric
from vaegrade.grader.run.environments import EnvironmentBuildError
from vaegrade.grader.run.isolation import IsolationMode
from vaegrade.grader.run.smoke import ready_environment
from vaegrade.grader.run.submissions import find_submissions

MANIFEST = "assignment.yaml"


class Assignment(BaseModel):
    """``assignment.yaml``: paths relative to the assignment's folder."""

    model_config = ConfigDict(extra="forbid")

    rubric: str = Field(description="the instructor's rubric")
    solution: str = Field(description="the reference solution notebook (must earn full marks)")
    samples: str = Field("samples", description="folder of sample submissions, the solution among them")
    golden: str = Field("golden.json", description="each sample's expected outcome")
    calibration: str | None = Field(None, description="the calibration file of the rubric's thresholds")


@dataclass(frozen=True)
class Verdict:
    """One item's outcome, as one line."""

    item: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.item}: {self.message}"


def load_assignment(folder: Path) -> Assignment:
    """Read ``folder/assignment.yaml``.

    Raises:
        RubricError: missing, not YAML, or not a valid manifest.
    """
    path = folder / MANIFEST
    try:
        return Assignment.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise RubricError(path, None, f"not a usable assignment manifest: {exc}") from exc


def compare_with_golden(result: SubmissionResult, expected: dict) -> list[str]:
    """How ``result`` differs from its golden outcome (empty: as expected)."""
    problems = [] if result.status == expected["status"] else [f"status {result.status}, golden {expected['status']}"]
    got = {check.id: check for check in result.checks}
    for check_id, (status, score) in expected["checks"].items():
        check = got.get(check_id)
        if check is None:
            problems.append(f"{check_id} missing")
        elif check.status != status:
            problems.append(f"{check_id} {check.status}, golden {status}")
        elif abs(check.score - score) > (1.0 if status == "partial" else 0.0):
            problems.append(f"{check_id} scored {check.score:g}, golden {score:g}")
    problems += [f"{check_id} not in the golden file" for check_id in got if check_id not in expected["checks"]]
    return problems


def selfcheck_disagreements(result: SubmissionResult) -> list[str]:
    """Public checks whose self-check verdict differs from grading's on the same kernel's objects."""
    if result.selfcheck is None or result.selfcheck.error:
        return [f"self-check did not run: {result.selfcheck.error if result.selfcheck else 'no record'}"]
    graded = {check.id: check.status for check in result.checks}
    return [f"self-check says {check.id} {check.status}, grading {graded.get(check.id)}"
            for check in result.selfcheck.checks if check.status != "skipped" and check.status != graded.get(check.id)]


def golden_outcome(result: SubmissionResult, why: str = "") -> dict:
    """A sample's entry in a golden file."""
    return {"score": round(result.score, 2), "status": result.status,
            "checks": {check.id: [check.status, round(check.score, 2)] for check in result.checks}, "why": why}


def validate(folder: Path, out: Path, isolation: IsolationMode = "none", jobs: int = 1, calibration_runs: int = 2,
             golden: Path | None = None, update_golden: bool = False) -> Iterator[Verdict]:
    """The verdicts of the module docstring's items, as each is known. Grading results go to
    ``out`` (its gradebook lets a second run reuse them); ``golden`` replaces the manifest's."""
    try:
        assignment = load_assignment(folder)
        rubric = load_rubric(folder / assignment.rubric)
        public = public_view(rubric)
        golden_path = golden or folder / assignment.golden
        expected = {} if update_golden and not golden_path.exists() else json.loads(golden_path.read_text(encoding="utf-8"))
    except (RubricError, OSError, ValueError) as exc:
        yield Verdict("rubric", False, str(exc))
        return
    hidden = [check.id for check in rubric.hidden_checks()]
    yield Verdict("rubric", True, f"{rubric.name}: {len(rubric.checks)} checks, {rubric.max_score:g} points; "
                                  f"{len(public.checks)} public, {len(hidden)} hidden ({', '.join(hidden) or 'none'})")
    try:
        kernel = ready_environment(rubric, isolation)
    except EnvironmentBuildError as exc:
        yield Verdict("environment", False, str(exc))
        return
    if kernel.prefix is not None:
        info = kernel.info()
        yield Verdict("environment", True, f"{', '.join(kernel.packages)}: imported in a kernel "
                                           f"({info['size_mb']} MB over the grader's, built in {info['build_seconds']} s)")
    submissions = find_submissions([folder / assignment.samples])
    results = {r.submission: r for r in grade_submissions(submissions, rubric, out, jobs, isolation, selfcheck=True)}
    if update_golden:
        expected = {name: golden_outcome(result, expected.get(name, {}).get("why", "")) for name, result in sorted(results.items())}
        golden_path.write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        yield Verdict("golden", True, f"rewrote {golden_path} from this run: review its diff")
    solution = results.get(Path(assignment.solution).stem)
    if solution is None:
        yield Verdict("solution", False, f"{assignment.solution} is not among the samples in {assignment.samples}/")
    else:
        yield Verdict("solution", solution.score == solution.max_score,
                      f"{solution.submission} scores {solution.score:g}/{solution.max_score:g}"
                      + "".join(f"; {c.id} {c.status}: {c.message}" for c in solution.checks if c.status != "passed"))
    for name in sorted(set(results) | set(expected)):
        if name not in expected or name not in results:
            yield Verdict(f"sample {name}", False, "a notebook without a golden outcome" if name in results
                          else "a golden outcome without a notebook")
            continue
        problems = compare_with_golden(results[name], expected[name]) + selfcheck_disagreements(results[name])
        yield Verdict(f"sample {name}", not problems, "; ".join(problems) or
                      f"as golden ({results[name].score:g}/{results[name].max_score:g}); self-check agrees")
    if assignment.calibration and calibration_runs > 0 and solution is not None:
        yield _calibration(rubric, folder / assignment.calibration, folder / assignment.solution, calibration_runs, isolation)
    with tempfile.TemporaryDirectory(prefix="vaegrade-bundle-") as bundle:
        yield _bundle(rubric, Path(bundle), solution)


def _calibration(rubric: Rubric, path: Path, solution: Path, runs: int, isolation: IsolationMode) -> Verdict:
    recorded = json.loads(path.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="vaegrade-validate-") as work:
        rerun = calibrate.calibrate(rubric, [solution], runs, Path(work) / "calibration.json", isolation)
    outside = []
    for key, entry in recorded["metrics"].items():
        margin = calibrate.margin(entry["values"])
        low, high = min(entry["values"]) - margin, max(entry["values"]) + margin
        outside += [f"{key} {value:.4g} outside [{low:.4g}, {high:.4g}]" for value in rerun["metrics"].get(key, {}).get("values", [])
                    if not low <= value <= high]
        if key not in rerun["metrics"]:
            outside.append(f"{key} not measured")
    return Verdict("calibration", not outside, "; ".join(outside) or
                   f"{runs} run(s) (seeds {rerun['rubric_seeds']}): {len(recorded['metrics'])} metrics inside the recorded band")


def _bundle(rubric: Rubric, out: Path, solution: SubmissionResult | None) -> Verdict:
    try:
        written = write_bundle(rubric, out)
    except RubricError as exc:
        return Verdict("bundle", False, str(exc))
    needles = hidden_needles(rubric)
    leaks = [f"{path.name} shows {needle!r}" for path in written if path.suffix in (".yaml", ".md", ".ipynb")
             for needle in find_leaks(needles, path.read_text(encoding="utf-8"))]
    problems = leaks + (selfcheck_failures(solution) if solution is not None else [])
    return Verdict("bundle", not problems, "; ".join(problems) or
                   f"{', '.join(path.name for path in written)}; nothing hidden in them; the solution passes every public check "
                   f"through self-check")


def selfcheck_failures(result: SubmissionResult) -> list[str]:
    """The public checks a (reference) notebook does not pass through self-check."""
    if result.selfcheck is None or result.selfcheck.error:
        return [f"self-check did not run on {result.submission}"]
    return [f"self-check: {check.id} {check.status}" for check in result.selfcheck.checks
            if check.status not in ("passed", "skipped")]
