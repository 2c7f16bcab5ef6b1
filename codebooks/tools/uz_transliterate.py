"""Uzbek Latin → Cyrillic transliteration for publishing text, and the generator of the uz-Cyrl codebook files.

The Uzbek exemplars and gold set are written once, in the official Latin alphabet (oʻ and gʻ with U+02BB, the
tutuq belgisi ʼ with U+02BC), and the Cyrillic files are derived from them here, so both scripts carry the same
sentences. Run from the repository root::

    .venv/bin/python -m codebooks.tools.uz_transliterate           # rewrite the uz-cyrl files
    .venv/bin/python -m codebooks.tools.uz_transliterate --check   # exit 1 if they are out of date

Rules, beyond one letter for one letter (a → а, q → қ, h → ҳ, x → х, ...):

- digraphs: sh → ш, ch → ч, yo → ё, yu → ю, ya → я, ye → е; ng stays нг (n and g).
- oʻ → ў and gʻ → ғ, with any apostrophe variant after the letter (ʻ ʼ ' ‘ ’ `); so yoʻl is йўл, not ёʻл.
- the tutuq belgisi between letters becomes ъ (maʼno → маъно), except in sʼh, where it only keeps s and h apart
  (Isʼhoq → Исҳоқ). An ASCII or curly apostrophe that is not inside a word is a quotation mark and stays.
- e is э at the start of a word and after a vowel other than i (eʼlon → эълон, aeroport → аэропорт), е elsewhere
  (keyin → кейин, klient → клиент).
- ts is ц at the start of a word and before i + vowel or y, as in loan words (tsement → цемент,
  politsiya → полиция, sotsiolog → социолог); elsewhere it is t + s, as at the many Uzbek morpheme boundaries
  (ketsa → кетса, aytsin → айтсин).
- a few loan-word stems whose Cyrillic spelling the Latin one does not determine (ц written s after a consonant,
  ь and ъ dropped) come from :data:`LOAN_STEMS` (sanksiya → санкция, kompyuter → компьютер).
- case follows the first Latin letter of each digraph (Shahar → Шаҳар, AQSh → АҚШ, IShID → ИШИД).

Anything that is not Latin (digits, punctuation, Cyrillic) passes through unchanged, so the function is
idempotent on Cyrillic text.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

#: Apostrophe forms accepted after o and g (oʻ, gʻ) and as the tutuq belgisi.
APOSTROPHES = "ʻʼ'‘’`"
#: Forms that are letters wherever they stand (never quotation marks): a word may end in one (tutuq).
_MODIFIER_APOSTROPHES = "ʻʼ"

_SINGLE: dict[str, str] = {
    "a": "а", "b": "б", "c": "ц", "d": "д", "f": "ф", "g": "г", "h": "ҳ", "i": "и", "j": "ж", "k": "к",
    "l": "л", "m": "м", "n": "н", "o": "о", "p": "п", "q": "қ", "r": "р", "s": "с", "t": "т", "u": "у",
    "v": "в", "w": "в", "x": "х", "y": "й", "z": "з",
}  # fmt: skip
_DIGRAPHS: dict[str, str] = {"sh": "ш", "ch": "ч", "yo": "ё", "yu": "ю", "ya": "я", "ye": "е"}
#: Vowels after which Latin e is Cyrillic э (not i: dieta → диета, klient → клиент).
_E_AS_EH_AFTER = set("аоуэўАОУЭЎ")
_LATIN_VOWELS = set("aeiouAEIOU")

#: Loan-word stems (lower case, Latin, at the start of a word) whose Cyrillic spelling rules cannot recover.
LOAN_STEMS: dict[str, str] = {
    "aksiya": "акция",
    "fransiya": "франция",
    "intervyu": "интервью",
    "kompyuter": "компьютер",
    "konferensiya": "конференция",
    "obyekt": "объект",
    "sanksiya": "санкция",
    "sivilizatsiya": "цивилизация",
    "stansiya": "станция",
    "subyekt": "субъект",
}

# A word: letters, with apostrophes inside it, after o/g (togʻ), or a modifier apostrophe at its end (mamnuʼ).
_WORD = re.compile(
    rf"(?:[^\W\d_]"  # a letter
    rf"|(?<=[^\W\d_])[{APOSTROPHES}](?=[^\W\d_])"  # an apostrophe between letters
    rf"|(?<=[oOgG])[{APOSTROPHES}]"  # oʻ/gʻ at the end of a word
    rf"|(?<=[^\W\d_])[{_MODIFIER_APOSTROPHES}])+"  # a modifier apostrophe at the end of a word
)


def _cased(cyrillic: str, upper: bool) -> str:
    return cyrillic.upper() if upper else cyrillic


def _ts_is_tse(word: str, index: int) -> bool:
    """Whether `ts` at `word[index]` is the loan-word letter ц rather than t + s."""
    if index == 0:
        return True
    after = word[index + 2 : index + 4].lower()
    return len(after) == 2 and after[0] == "i" and (after[1] in "aeouy")


def _word_to_cyrl(word: str, previous: str = "") -> str:
    """Transliterate one word; `previous` is the Cyrillic letter before it when a loan stem was cut off."""
    out: list[str] = []
    i = 0
    n = len(word)
    while i < n:
        ch = word[i]
        low = ch.lower()
        upper = ch.isupper()
        nxt = word[i + 1] if i + 1 < n else ""
        last = out[-1][-1] if out else previous
        if low in "og" and nxt and nxt in APOSTROPHES:
            out.append(_cased("ў" if low == "o" else "ғ", upper))
            i += 2
            continue
        if ch in APOSTROPHES:
            # Inside a word: the tutuq belgisi. In sʼh it only separates s from h, so it is not written.
            if last.lower() == "с" and word[i + 1 : i + 2].lower() == "h":
                i += 1
                continue
            capital = last.isupper() and word[i + 1 : i + 2].isupper()  # MAʼNO → МАЪНО
            out.append("Ъ" if capital else "ъ")
            i += 1
            continue
        pair = word[i : i + 2].lower()
        if pair == "yo" and i + 2 < n and word[i + 2] in APOSTROPHES:
            out.append(_cased("й", upper))  # yoʻl → йўл: the o belongs to oʻ
            i += 1
            continue
        if pair in _DIGRAPHS:
            out.append(_cased(_DIGRAPHS[pair], upper))
            i += 2
            continue
        if pair == "ts" and _ts_is_tse(word, i):
            out.append(_cased("ц", upper))
            i += 2
            continue
        if low == "e":
            eh = not out and not previous or last in _E_AS_EH_AFTER
            out.append(_cased("э" if eh else "е", upper))
            i += 1
            continue
        if low in _SINGLE and ch.isascii():
            out.append(_cased(_SINGLE[low], upper))
        else:
            out.append(ch)  # not a Latin letter: Cyrillic, other scripts pass through
        i += 1
    return "".join(out)


def _convert_word(match: re.Match[str]) -> str:
    word = match.group()
    folded = re.sub(f"[{APOSTROPHES}]", "ʼ", word.lower())
    for stem, cyrillic in LOAN_STEMS.items():
        if folded.startswith(stem):
            head = word[: len(stem)]
            if head.isupper() and len(head) > 1:
                cyrillic = cyrillic.upper()
            elif head[0].isupper():
                cyrillic = cyrillic[0].upper() + cyrillic[1:]
            return cyrillic + _word_to_cyrl(word[len(stem) :], previous=cyrillic[-1])
    return _word_to_cyrl(word)


def latn_to_cyrl(text: str) -> str:
    """Transliterate Uzbek from the official Latin alphabet to Cyrillic.

    Args:
        text: Uzbek in Latin script; oʻ/gʻ and the tutuq belgisi may use any of ʻ ʼ ' ‘ ’ `.

    Returns:
        The same text in Uzbek Cyrillic; digits, punctuation and non-Latin letters unchanged.

    Example:
        >>> latn_to_cyrl("Oʻzbekiston: yangi yoʻl, eski shahar, maʼno")
        'Ўзбекистон: янги йўл, эски шаҳар, маъно'
    """
    return _WORD.sub(_convert_word, text)


# --- generating the Cyrillic files -----------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
EXEMPLARS_LATN = ROOT / "codebooks" / "iskp" / "exemplars" / "uz-latn.yaml"
EXEMPLARS_CYRL = ROOT / "codebooks" / "iskp" / "exemplars" / "uz-cyrl.yaml"
GOLD_LATN = ROOT / "eval" / "narratives" / "uz-latn.jsonl"
GOLD_CYRL = ROOT / "eval" / "narratives" / "uz-cyrl.jsonl"

_GENERATED_HEADER = (
    "# GENERATED from uz-latn.yaml by `python -m codebooks.tools.uz_transliterate`:\n"
    "# edit the Latin file, not this one.\n"
    "# Uzbek exemplars for the ISKP codebook, Cyrillic script. Short, mild, synthetic paraphrases written for\n"
    "# training a detector; none is copied from real extremist media.\n"
)


class _IndentedDumper(yaml.SafeDumper):
    """Indents block sequences under their key, as the hand-written codebook files do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Sentences double-quoted, like the Latin file; keys and codes (lang, script, narrative ids) plain.
    style = '"' if " " in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_IndentedDumper.add_representer(str, _represent_text)


def _map_texts(node: Any, convert: Callable[[str], str]) -> Any:
    if isinstance(node, str):
        return convert(node)
    if isinstance(node, list):
        return [_map_texts(item, convert) for item in node]
    if isinstance(node, dict):
        return {key: _map_texts(value, convert) for key, value in node.items()}
    return node


def exemplars_to_cyrl(latin_yaml: str) -> str:
    """The uz-Cyrl exemplars file (YAML text) for the text of the uz-Latn one.

    Args:
        latin_yaml: the content of ``uz-latn.yaml``.

    Returns:
        YAML with ``script: Cyrl`` and every exemplar text transliterated, under a "generated" header.
    """
    data = yaml.safe_load(latin_yaml)
    cyrillic = {
        "lang": data["lang"],
        "script": "Cyrl",
        "narratives": _map_texts(data["narratives"], latn_to_cyrl),
        "hard_negatives": _map_texts(data.get("hard_negatives", []), latn_to_cyrl),
        "unrelated": _map_texts(data.get("unrelated", []), latn_to_cyrl),
    }
    body = yaml.dump(
        cyrillic, Dumper=_IndentedDumper, allow_unicode=True, sort_keys=False, width=10_000, default_style=None
    )
    return _GENERATED_HEADER + body


def gold_to_cyrl(latin_jsonl: Iterable[str]) -> str:
    """The uz-Cyrl gold JSONL for the lines of the uz-Latn one (ids uz-Latn-NNN become uz-Cyrl-NNN).

    Args:
        latin_jsonl: lines of ``uz-latn.jsonl``.

    Returns:
        JSONL text, one object per line, same order, fields and labels; `text` transliterated, `script` Cyrl.
    """
    lines = []
    for line in latin_jsonl:
        if not line.strip():
            continue
        row = json.loads(line)
        row["id"] = row["id"].replace("-Latn-", "-Cyrl-")
        row["text"] = latn_to_cyrl(row["text"])
        row["script"] = "Cyrl"
        lines.append(json.dumps(row, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Regenerate (or, with --check, verify) uz-cyrl.yaml and uz-cyrl.jsonl from their Latin sources."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a Cyrillic file differs from its source")
    args = parser.parse_args(argv)
    targets = {
        EXEMPLARS_CYRL: exemplars_to_cyrl(EXEMPLARS_LATN.read_text(encoding="utf-8")),
        GOLD_CYRL: gold_to_cyrl(GOLD_LATN.read_text(encoding="utf-8").splitlines()),
    }
    stale = [path for path, text in targets.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)} (run python -m codebooks.tools.uz_transliterate)")
        return 1 if stale else 0
    for path in stale:
        path.write_text(targets[path], encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
