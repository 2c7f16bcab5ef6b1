"""Measuring the classifier on gold JSONL files (fields: text, labels, stance; optional id, lang, kind) and on real
text that carries no narrative (fields: text, lang; optional id, kind, genre, topic, variety; no `labels`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pmon.classifiers.narratives.model import NarrativeClassifier
from pmon.schemas.jsonl import read_objects


def read_gold(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Gold items from JSONL files (a folder means every *.jsonl in it).

    A line without `labels` is real text known to carry no narrative (`"real": True`): it counts towards the
    false-alarm rates of real text, not towards precision and recall.

    Raises:
        ValueError: a line that is not JSON, lacks `text` or has `labels` that are not a list, with file and line.
    """
    rows: list[dict[str, Any]] = []
    for path in paths:
        path = Path(path)
        for file in sorted(path.glob("*.jsonl")) if path.is_dir() else [path]:
            for number, row in read_objects(file):
                if not isinstance(row.get("text"), str) or not isinstance(row.get("labels", []), list):
                    raise ValueError(f"{file}:{number}: needs 'text' (string) and, for gold, 'labels' (list)")
                if "labels" not in row:
                    row.update(labels=[], stance="none", real=True)
                    row.setdefault("kind", "sentence")
                    row.setdefault("lang", "und")
                    rows.append(row)
                    continue
                row.setdefault("stance", "none" if not row["labels"] else "promote")
                row.setdefault("kind", "narrative" if row["labels"] else "everyday")
                row.setdefault("lang", "und")
                rows.append(row)
    return rows


def split_gold(rows: Sequence[dict[str, Any]], split: str = "all") -> list[dict[str, Any]]:
    """`dev`: gold items whose id ends in an even number, `test`: odd, `all`: every item.

    The classifier's settings (regularisation, threshold rule) were chosen on the dev half; the test half is the
    honest figure. Gold items without a numbered id belong to both halves. Real-text items go by
    `background.split_of` (their `train` part is the shipped background, so it is in neither half).
    """
    from pmon.classifiers.narratives.background import split_of

    if split == "all":
        return list(rows)
    if split not in ("dev", "test"):
        raise ValueError(f"split must be all, dev or test, not {split!r}")
    wanted = 0 if split == "dev" else 1
    kept = []
    for row in rows:
        if row.get("real"):
            if split_of(str(row.get("id"))) == split:
                kept.append(row)
            continue
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
    all_predictions = classifier.classify([row["text"] for row in gold])
    real = [(row, pred) for row, pred in zip(gold, all_predictions, strict=True) if row.get("real")]
    labelled = [(row, pred) for row, pred in zip(gold, all_predictions, strict=True) if not row.get("real")]
    gold = [row for row, _ in labelled]
    predictions = [pred for _, pred in labelled]
    leaves = classifier.heads.leaf_ids
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])  # (lang, label) → tp, fp, fn
    stance_hits = stance_total = stance_detected_hits = stance_detected = 0
    alarms: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # kind → items with any label, items
    errors: list[dict[str, Any]] = []
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
            errors.append(
                {"id": row.get("id"), "lang": row["lang"], "gold": sorted(truth), "predicted": sorted(predicted)}
            )
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
        "real_text": real_text_report(real) if real else None,
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


def real_text_report(items: Sequence[tuple[dict[str, Any], Any]]) -> dict[str, Any]:
    """How often real text without narratives gets one: the rate of any narrative and of stance `promote`,
    overall and per language (with the Persian variety), kind, genre, topic and narrative.

    `upper95` is the one-sided 95% upper bound of the rate (Clopper-Pearson): "0 of 200" is not zero but "below
    1.5%".
    """
    from scipy.stats import beta

    def cell(group: list[tuple[dict[str, Any], Any]]) -> dict[str, Any]:
        flagged = sum(1 for _, pred in group if pred.narratives)
        promoted = sum(1 for _, pred in group if pred.narratives and pred.stance.value == "promote")
        n = len(group)
        return {"items": n, "any": flagged, "any_rate": round(flagged / n, 4) if n else None,
                "any_upper95": round(float(beta.ppf(0.95, flagged + 1, n - flagged)), 4) if n and flagged < n else 1.0,
                "promote": promoted, "promote_rate": round(promoted / n, 4) if n else None}

    def by(key: Any) -> dict[str, Any]:
        groups: dict[str, list[tuple[dict[str, Any], Any]]] = defaultdict(list)
        for row, pred in items:
            groups[key(row)].append((row, pred))
        return {k: cell(v) for k, v in sorted(groups.items())}

    per_narrative: dict[str, int] = defaultdict(int)
    for _, pred in items:
        for narrative in pred.narratives:
            per_narrative[narrative.id] += 1
    return {
        "overall": cell(list(items)),
        "per_kind": by(lambda r: str(r.get("kind", "sentence"))),
        "per_language": by(lambda r: f"{r['lang']}-{r['variety']}" if r.get("variety") else str(r["lang"])),
        "per_language_kind": by(lambda r: f"{r['lang']}{'-' + r['variety'] if r.get('variety') else ''} "
                                          f"{r.get('kind', 'sentence')}"),
        "per_genre": by(lambda r: str(r.get("genre", "?"))),
        "per_topic_kind": by(lambda r: f"{r.get('topic', '?')} {r.get('kind', 'sentence')}"),
        "per_narrative": dict(sorted(per_narrative.items(), key=lambda kv: -kv[1])),
    }
