"""Derive a rubric's thresholds from repeated gradings of the reference solution and its alternatives.

``vaegrade calibrate --rubric R --notebook REF [--notebook ALT ...] --runs N --out FILE`` grades each
correct solution N times (retrained, even where the rubric takes handed-in weights), with rubric
seeds ``seed, seed + 1, ...`` (also injected as the notebook's
``seed`` parameter when the rubric sets one, so training noise varies), under the rubric's
other grading parameters, and records every value the checks measure (their
``measurements``: the BCE of ``reconstruction``, ``auto_decoder`` and ``inpainting``, the
metrics of ``sample_quality``, the variation of ``decoder_uses_z``, the count of
``active_units`` as a fraction). From them, per metric, over the runs of the solution that does
worst on it on average (:func:`slowest`: a deeper network or a smaller learning rate that learns
more slowly at the grading budget):

- margin = max(3 * std, 5% of |mean|) over the runs;
- lower is better (BCE, Frechet distance): ``pass_at = max + margin``, ``fail_at = 1.5 * pass_at``;
- higher is better: ``pass_at = min - margin``, ``fail_at`` halfway from ``pass_at`` down to the
  metric's chance level (confidence 0.1, class entropy 0, classes covered 1, inception score 1,
  variation 0, active fraction 0).

The thresholds are copied into the rubric by hand (with a comment naming the file);
``tests/unit/rubric/test_schema.py`` checks that the shipped rubric agrees with its calibration file.
"""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from vaegrade.grader.rubric.schema import Rubric
from vaegrade.grader.run.grade import grade_submission, locate_files
from vaegrade.grader.run.isolation import IsolationMode
from vaegrade.grader.run.submissions import Submission

LOWER_IS_BETTER = {"bce", "frechet_distance"}
CHANCE_LEVEL = {"confidence": 0.1, "class_entropy": 0.0, "classes_covered": 1.0, "inception_score": 1.0,
                "variation": 0.0, "active_fraction": 0.0}


def _measurements(result_checks: list, rubric: Rubric) -> dict[str, float]:
    """``<check id>.<metric>`` -> value, from each check's :meth:`CheckSpec.measurements`."""
    specs = {check.id: check for check in rubric.checks}
    return {f"{check.id}.{name}": value for check in result_checks if check.id in specs
            for name, value in specs[check.id].measurements(check.details).items()}


def margin(values: list[float]) -> float:
    """max(3 * std, 5% of |mean|) of one metric's values over the runs."""
    array = np.asarray(values, dtype=float)
    return float(max(3 * array.std(ddof=1) if len(array) > 1 else 0.0, 0.05 * abs(array.mean())))


def thresholds(metric: str, values: list[float]) -> dict[str, float]:
    """``pass_at`` and ``fail_at`` for one metric's values over the runs (rule in the module doc)."""
    array = np.asarray(values, dtype=float)
    if metric in LOWER_IS_BETTER:
        pass_at = array.max() + margin(values)
        return {"pass_at": round(pass_at, 3), "fail_at": round(1.5 * pass_at, 3)}
    pass_at = array.min() - margin(values)
    return {"pass_at": round(pass_at, 3), "fail_at": round(pass_at - 0.5 * (pass_at - CHANCE_LEVEL[metric]), 3)}


def slowest(metric: str, per_solution: dict[str, list[float]]) -> str:
    """The solution whose values of ``metric`` are worst on average (highest for a loss, lowest for
    the rest): the slowest-learning correct solution, whose runs the band is derived from."""
    means = {name: float(np.mean(values)) for name, values in per_solution.items() if values}
    return (max if metric in LOWER_IS_BETTER else min)(means, key=means.__getitem__)


def calibrate(rubric: Rubric, notebooks: list[Path], runs: int, out: Path, isolation: IsolationMode = "bubblewrap",
              rubric_path: Path | None = None) -> dict[str, Any]:
    """Grade each correct solution of ``notebooks`` (the reference and its alternatives) ``runs``
    times (isolated as grading will be) and write the calibration JSON to ``out``: per metric, the
    band is derived from the runs of the :func:`slowest` solution, so that every correct model
    shape the instructor knows of earns full credit at the grading budget. The command recorded
    in it names ``rubric_path`` (default ``rubrics/<name>.yaml``)."""
    per_solution: dict[str, list[dict[str, float]]] = {}
    scores = []
    with tempfile.TemporaryDirectory(prefix="vaegrade-calibrate-") as work:
        for notebook in notebooks:
            per_run = per_solution.setdefault(str(notebook), [])
            for run in range(runs):
                parameters = {**rubric.parameters, **({"seed": rubric.seed + run} if "seed" in rubric.parameters else {})}
                seeded = rubric.model_copy(update={"seed": rubric.seed + run, "parameters": parameters, "weights": None})
                submission = locate_files(Submission(f"run{run}", notebook), seeded)
                result = grade_submission(submission, seeded, Path(work), isolation).result
                per_run.append(_measurements(result.checks, rubric))
                scores.append(result.score)
                print(f"{notebook.name} run {run + 1}/{runs} (seed {seeded.seed}): "
                      + ", ".join(f"{k} {v:.4g}" for k, v in per_run[-1].items()), file=sys.stderr, flush=True)
    metrics = sorted(set().union(*(measured for per_run in per_solution.values() for measured in per_run)))
    summary = {}
    for key in metrics:
        by_solution = {name: [run[key] for run in per_run if key in run] for name, per_run in per_solution.items()}
        chosen = slowest(key.rsplit(".", 1)[1], by_solution)
        values = by_solution[chosen]
        summary[key] = {"values": [round(v, 4) for v in values], "mean": round(float(np.mean(values)), 4),
                        "std": round(float(np.std(values, ddof=1)), 4) if len(values) > 1 else 0.0,
                        **thresholds(key.rsplit(".", 1)[1], values),
                        **({"from": chosen, "means": {name: round(float(np.mean(v)), 4) for name, v in by_solution.items() if v}}
                           if len(notebooks) > 1 else {})}
    command = ["--rubric", str(rubric_path or f"rubrics/{rubric.name}.yaml")]
    for notebook in notebooks:
        command += ["--notebook", str(notebook)]
    calibration = {
        "command": "vaegrade calibrate " + shlex.join(command + ["--runs", str(runs), "--out", str(out)]),
        "rubric": rubric.name, "solutions": [str(notebook) for notebook in notebooks],
        "rubric_seeds": [rubric.seed + run for run in range(runs)],
        "parameters": rubric.parameter_values(), "scores_under_current_thresholds": scores, "metrics": summary,
    }
    out.write_text(json.dumps(calibration, indent=2) + "\n", encoding="utf-8")
    return calibration


def describe(calibration: dict[str, Any]) -> str:
    lines = [f"calibration of {calibration['rubric']} over seeds {calibration['rubric_seeds']}:"]
    for key, entry in calibration["metrics"].items():
        lines.append(f"  {key}: mean {entry['mean']:.4g} (std {entry['std']:.3g}) -> "
                     f"pass_at {entry['pass_at']:g}, fail_at {entry['fail_at']:g}")
    return "\n".join(lines)
