"""Measuring the classifier on a gold JSONL file (fields: text, labels, stance; optional id, lang, kind)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from classifiers.narratives.model import NarrativeClassifier
from schemas.jsonl import read_objects


def read_gold(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Gold items from JSONL files (a folder means every *.jsonl in it).

    Raises:
        ValueError: a line that is not JSON or lacks `text`/`labels`, with file and line number.
    """
    rows: list[dict[str, Any]] = []
    for path in paths:
        path = Path(path)
        for file in sorted(path.glob("*.jsonl")) if path.is_dir() else [path]:
            for number, row in read_objects(file):
                if not isinstance(row.get("text"), str) or not isinstance(row.get("labels"), list):
                    raise ValueError(f"{file}:{number}: needs 'text' (string) and 'labels' (list)")
                row.setdefault("stance", "none" if not row["labels"] else "promote")
                row.setdefault("kind", "narrative" if row["labels"] else "everyday")
                row.setdefault("lang", "und")
                rows.append(row)
    return rows


def split_gold(rows: Sequence[dict[str, Any]], split: str = "all") -> list[dict[str, Any]]:
    """`dev`: items whose id ends in an even number, `test`: odd, `all`: every item.

    The classifier's settings (regularisation, threshold rule) were chosen on the dev half; the test half is the
    honest figure. Items without a numbered id belong to both halves.
    """
    if split == "all":
        return list(rows)
    if split not in ("dev", "test"):
        raise ValueError(f"split must be all, dev or test, not {split!r}")
    wanted = 0 if split == "dev" else 1
    kept = []
    for row in rows:
        tail = str(row.get("id", "")).rsplit("-", 1)[-1]
        if not tail.isdigit() or int(tail) % 2 == wanted:
            kept.append(row)
    return kept


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": tp + fn}


def evaluate(classifier: NarrativeClassifier, gold: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-label and per-language P/R/F1, macro-F1, stance accuracy and false-alarm rates."""
    predictions = classifier.classify([row["text"] for row in gold], [row["lang"] for row in gold])
    leaves = classifier.heads.leaf_ids
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])  # (lang, label) → tp, fp, fn
    stance_hits = stance_total = stance_detected_hits = stance_detected = 0
    alarms: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # kind → items with any label, items
    errors = []
    for row, pred in zip(gold, predictions, strict=True):
        truth = set(row["labels"])
        predicted = {n.id for n in pred.narratives}
        for label in leaves:
            cell = counts[(row["lang"], label)]
            if label in truth and label in predicted:
                cell[0] += 1
            elif label in predicted:
                cell[1] += 1
            elif label in truth:
                cell[2] += 1
        if truth:
            stance_total += 1
            stance_hits += int(pred.stance.value == row["stance"])
            if predicted:
                stance_detected += 1
                stance_detected_hits += int(pred.stance.value == row["stance"])
        else:
            alarms[row["kind"]][0] += int(bool(predicted))
            alarms[row["kind"]][1] += 1
        if truth != predicted and len(errors) < 200:
            errors.append({"id": row.get("id"), "lang": row["lang"], "gold": sorted(truth), "predicted": sorted(predicted)})
    per_label = {}
    for label in leaves:
        tp = sum(v[0] for (lang, lab), v in counts.items() if lab == label)
        fp = sum(v[1] for (lang, lab), v in counts.items() if lab == label)
        fn = sum(v[2] for (lang, lab), v in counts.items() if lab == label)
        per_label[label] = _prf(tp, fp, fn)
    per_lang = {}
    for lang in sorted({lang for lang, _ in counts}):
        scores = [_prf(*counts[(lang, label)]) for label in leaves]
        supported = [s["f1"] for s in scores if s["support"]]
        per_lang[lang] = {"macro_f1": round(sum(supported) / len(supported), 4) if supported else None,
                          "items": sum(1 for row in gold if row["lang"] == lang)}
    supported = [s["f1"] for s in per_label.values() if s["support"]]
    return {
        "items": len(gold),
        "macro_f1": round(sum(supported) / len(supported), 4) if supported else 0.0,
        # Stance where the classifier found a narrative, and end to end (a missed narrative counts as wrong).
        "stance_accuracy": round(stance_detected_hits / stance_detected, 4) if stance_detected else None,
        "stance_accuracy_end_to_end": round(stance_hits / stance_total, 4) if stance_total else None,
        "false_alarm_rate": {k: round(v[0] / v[1], 4) for k, v in alarms.items() if v[1]},
        "per_label": per_label,
        "per_language": per_lang,
        "model_version": classifier.model_version,
        "codebook_version": classifier.codebook_version,
        "errors": errors,
    }
