"""Uzbek Latin → Cyrillic transliteration, good enough for publishing text.

The codebook's Uzbek files are written in the official Latin alphabet (oʻ and gʻ with U+02BB, the tutuq belgisi ʼ
with U+02BC) and their Cyrillic twins are generated with this (`codebooks/tools/uz_transliterate.py`); language
identification derives its Uzbek Cyrillic function words and langdetect profile text with it too.

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

import re

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


def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


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
            latin_before = _is_latin(word[i - 1 : i]) if i else bool(previous)  # `previous`: a Latin loan stem
            if not (latin_before or _is_latin(word[i + 1 : i + 2])):
                out.append(ch)  # between Cyrillic letters (this function's own output): not the tutuq belgisi
                i += 1
                continue
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


def uzbek_latin_to_cyrillic(text: str) -> str:
    """Transliterate Uzbek from the official Latin alphabet to Cyrillic.

    Args:
        text: Uzbek in Latin script; oʻ/gʻ and the tutuq belgisi may use any of ʻ ʼ ' ‘ ’ `.

    Returns:
        The same text in Uzbek Cyrillic; digits, punctuation and non-Latin letters unchanged.

    Example:
        >>> uzbek_latin_to_cyrillic("Oʻzbekiston: yangi yoʻl, eski shahar, maʼno")
        'Ўзбекистон: янги йўл, эски шаҳар, маъно'
    """
    return _WORD.sub(_convert_word, text)
