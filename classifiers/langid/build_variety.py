"""Train the Persian variety model (`variety_model.json`) from the train part of the shared real text.

    python -m pmon.classifiers.langid.build_variety [--realtext ../shared/data/realtext] [--report]

Only items whose id falls in the `train` part (`pmon.classifiers.narratives.background.split_of`) are read;
documents are cut into sentences. Features are those `variety.model_score` computes: binary character 1–4-grams
within words and binary words, each family L2-normalised; a logistic regression with balanced classes learns
their weights. The file keeps every feature seen in at least `MIN_DOCUMENT_FREQUENCY` training sentences (the
norm at prediction counts them all): short n-grams and single words with numbers, no text. `--report` prints accuracy
on the `dev` and `test` parts (the settings here were chosen on dev).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pmon.classifiers.langid.variety import (
    _WORD,
    MODEL_PATH,
    char_ngrams,
    detect_variety,
    normalize_for_variety,
)
from pmon.classifiers.narratives.background import real_items
from pmon.schemas.language import DARI, IRANIAN_PERSIAN

DEFAULT_REALTEXT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "realtext"
MIN_DOCUMENT_FREQUENCY = 2
#: Inverse regularisation strength, chosen on the dev part.
C = 16.0
_SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+|\n+")


def labelled_sentences(folder: Path, split: str) -> list[tuple[str, str]]:
    """(text, variety) for the Persian sentences of one part; documents are cut into sentences."""
    pairs = []
    for item in real_items(folder, split):
        if item.get("lang") != "fa" or item.get("variety") not in (DARI, IRANIAN_PERSIAN):
            continue
        texts: Iterable[str] = [item["text"]] if item.get("kind") == "sentence" else _SENTENCE_END.split(item["text"])
        pairs += [(text.strip(), item["variety"]) for text in texts if len(text.strip()) >= 20]
    return pairs


def _analyzers() -> tuple[Callable[[str], list[str]], Callable[[str], list[str]]]:
    def grams(text: str) -> list[str]:
        return char_ngrams(_WORD.findall(normalize_for_variety(text)))

    def words(text: str) -> list[str]:
        return _WORD.findall(normalize_for_variety(text))

    return grams, words


def train(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Fit the model; returns the JSON-ready weights."""
    import numpy as np
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import normalize

    texts = [text for text, _ in pairs]
    labels = np.array([variety == DARI for _, variety in pairs], dtype=int)
    grams, words = _analyzers()
    families = [
        CountVectorizer(analyzer=grams, binary=True, min_df=MIN_DOCUMENT_FREQUENCY),
        CountVectorizer(analyzer=words, binary=True, min_df=MIN_DOCUMENT_FREQUENCY),
    ]
    blocks = [normalize(family.fit_transform(texts)) for family in families]
    classifier = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
    classifier.fit(hstack(blocks).tocsr(), labels)
    weights = classifier.coef_[0]
    out = {}
    offset = 0
    for name, family in zip(("char_ngrams", "words"), families, strict=True):
        vocabulary = family.get_feature_names_out()
        part = weights[offset : offset + len(vocabulary)]
        offset += len(vocabulary)
        out[name] = {
            str(feature): round(float(weight), 4)
            for feature, weight in sorted(zip(vocabulary, part, strict=True))
        }
    return {
        "about": "Persian variety (positive: Dari). Built by pmon.classifiers.langid.build_variety from the train "
        "part of shared/data/realtext; character n-grams and single words with weights only.",
        "C": C,
        "training_sentences": {DARI: int(labels.sum()), IRANIAN_PERSIAN: int(len(labels) - labels.sum())},
        "bias": round(float(classifier.intercept_[0]), 4),
        **out,
    }


def accuracy_report(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Per variety: items, correct, undetermined; overall accuracy (undetermined counts as wrong)."""
    report: dict[str, Any] = {}
    for text, gold in pairs:
        row = report.setdefault(gold, {"items": 0, "correct": 0, "und": 0})
        answer = detect_variety(text).variety
        row["items"] += 1
        row["correct"] += answer == gold
        row["und"] += answer not in (DARI, IRANIAN_PERSIAN)
    for row in report.values():
        row["accuracy"] = round(row["correct"] / row["items"], 4)
    total = sum(row["items"] for row in report.values())
    report["overall"] = round(sum(row["correct"] for row in report.values()) / total, 4) if total else None
    return report


def main() -> None:
    """Train, write the model file, and optionally report dev/test accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realtext", type=Path, default=DEFAULT_REALTEXT)
    parser.add_argument("--report", action="store_true", help="print accuracy on the dev and test parts")
    args = parser.parse_args()
    model = train(labelled_sentences(args.realtext, "train"))
    MODEL_PATH.write_text(json.dumps(model, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {MODEL_PATH}: {len(model['char_ngrams'])} n-grams, {len(model['words'])} words, "
          f"trained on {model['training_sentences']}")
    if args.report:
        from pmon.classifiers.langid import variety

        variety._model.cache_clear()
        for split in ("dev", "test"):
            print(split, json.dumps(accuracy_report(labelled_sentences(args.realtext, split))))


if __name__ == "__main__":
    main()
