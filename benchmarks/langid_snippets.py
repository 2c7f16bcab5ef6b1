"""Language identification on short snippets (10–30 characters) cut from real text no detector was tuned on.

Snippets are cut from the **test** part (`split_of`) of the shared real text (../shared/data/realtext, or the
folder given as the first argument): from each sentence of a target language, the words from a start fixed by
the sentence's id, as many as fit in 30 characters, kept when 10 or more (one snippet per sentence, at most
`PER_LANGUAGE` per language and script). Headlines, captions and chat lines are that short.

    python benchmarks/langid_snippets.py [REALTEXT_DIR] [--write FILE.jsonl]

Prints accuracy per target language (and script), the confusions, and last a JSON line with the figures.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REALTEXT = ROOT.parent / "shared" / "data" / "realtext"
PER_LANGUAGE = 400
MIN_CHARS, MAX_CHARS = 10, 30


def cut_snippet(item_id: str, text: str) -> str | None:
    """The words of `text` from a start fixed by `item_id`, as many as fit in `MAX_CHARS`; None if too short."""
    words = text.split()
    start = hashlib.sha256(item_id.encode()).digest()[1] % max(1, len(words) - 1)
    snippet = ""
    for word in words[start:]:
        joined = f"{snippet} {word}".strip()
        if len(joined) > MAX_CHARS:
            break
        snippet = joined
    return snippet if len(snippet) >= MIN_CHARS else None


def snippets(folder: Path) -> list[dict]:
    """One snippet per test-part sentence of a target language, at most `PER_LANGUAGE` per language and script."""
    from pmon.classifiers.narratives.background import real_items
    from pmon.schemas.language import TARGET_LANGUAGES

    counts: dict[str, int] = {}
    out = []
    for item in real_items(folder, "test"):
        key = f"{item['lang']}-{item['script']}"
        if item["lang"] not in TARGET_LANGUAGES or item["kind"] != "sentence" or counts.get(key, 0) >= PER_LANGUAGE:
            continue
        snippet = cut_snippet(str(item["id"]), item["text"])
        if snippet:
            counts[key] = counts.get(key, 0) + 1
            out.append({"id": item["id"], "text": snippet, "lang": item["lang"], "script": item["script"],
                        "kind": "snippet"})
    return out


def main() -> None:
    """Cut, evaluate with pmon's detector, print; the last line is JSON."""
    from pmon.classifiers.langid import evaluate

    args = sys.argv[1:]
    write = None
    if "--write" in args:
        write = Path(args[args.index("--write") + 1])
        del args[args.index("--write") : args.index("--write") + 2]
    folder = Path(args[0]) if args else REALTEXT
    items = snippets(folder)
    with tempfile.TemporaryDirectory() as tmp:
        path = write or Path(tmp) / "snippets.jsonl"
        path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
        report = evaluate(path)["kinds"]["snippet"]
    for lang, row in report["languages"].items():
        if row["items"]:
            print(f"{lang}: {row['correct']}/{row['items']} = {100 * row['accuracy']:.1f}%")
    print("by script:", report["scripts"])
    for gold, row in report["confusion"].items():
        wrong = {k: v for k, v in row.items() if k != gold}
        if wrong:
            print(f"  {gold} → {wrong}")
    print(json.dumps({"items": report["items"], "macro_accuracy": report["macro_accuracy"],
                      "accuracy": {lang: row["accuracy"] for lang, row in report["languages"].items() if row["items"]},
                      "scripts": report["scripts"]}))


if __name__ == "__main__":
    main()
