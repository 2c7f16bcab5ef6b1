"""Pair precision and recall of predicted message groups against gold groups."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PairScores:
    """How predicted groups match gold groups, counted over pairs of documents.

    Attributes:
        precision: linked pairs that gold links too, over all linked pairs (1.0 when nothing is linked).
        recall: gold pairs that are linked, over all gold pairs (1.0 when gold has none).
        true_pairs, predicted_pairs, gold_pairs: the counts behind them.
        unrelated: documents alone in gold.
        unrelated_linked: of those, how many were put in a group with anything.
    """

    precision: float
    recall: float
    true_pairs: int
    predicted_pairs: int
    gold_pairs: int
    unrelated: int
    unrelated_linked: int

    @property
    def unrelated_linked_share(self) -> float:
        """Share of the documents alone in gold that were linked to something (0.0 when there are none)."""
        return self.unrelated_linked / self.unrelated if self.unrelated else 0.0


def _pairs(size: int) -> int:
    return size * (size - 1) // 2


def pair_scores(predicted: Mapping[str, str], gold: Mapping[str, str]) -> PairScores:
    """Compare two groupings of the same documents (document id → group id).

    Raises:
        ValueError: the two do not cover the same documents.
    """
    if predicted.keys() != gold.keys():
        missing = sorted(gold.keys() - predicted.keys())[:3] or sorted(predicted.keys() - gold.keys())[:3]
        raise ValueError(f"predicted and gold groups cover different documents, e.g. {missing}")
    predicted_sizes = Counter(predicted.values())
    gold_sizes = Counter(gold.values())
    both = Counter((predicted[d], gold[d]) for d in gold)
    true_pairs = sum(_pairs(c) for c in both.values())
    predicted_pairs = sum(_pairs(c) for c in predicted_sizes.values())
    gold_pairs = sum(_pairs(c) for c in gold_sizes.values())
    alone = [d for d in gold if gold_sizes[gold[d]] == 1]
    return PairScores(
        precision=true_pairs / predicted_pairs if predicted_pairs else 1.0,
        recall=true_pairs / gold_pairs if gold_pairs else 1.0,
        true_pairs=true_pairs, predicted_pairs=predicted_pairs, gold_pairs=gold_pairs,
        unrelated=len(alone), unrelated_linked=sum(predicted_sizes[predicted[d]] > 1 for d in alone),
    )
