"""Small, rule-based transliterations used to derive word lists and langdetect profile text.

Uzbek is written in Latin and Cyrillic, Uyghur in Arabic (UEY) and Latin (ULY) script. The evidence tables and
the profile corpus are written once, in one script, and derived for the other here, so the two scripts of a
language carry the same words. These are deliberately simple (no loan-word exceptions): good enough for
function words and character n-gram statistics, not for publishing text.
"""

from __future__ import annotations

import re

_UZ_APOSTROPHES = "ʻʼ'‘’`"

# Longest first: digraphs and apostrophe letters before single letters.
_UZ_LATIN_TO_CYRILLIC: tuple[tuple[str, str], ...] = (
    ("oʻ", "ў"), ("gʻ", "ғ"), ("sh", "ш"), ("ch", "ч"), ("yo", "ё"), ("yu", "ю"), ("ya", "я"), ("ye", "е"),
    ("ʼ", "ъ"), ("a", "а"), ("b", "б"), ("d", "д"), ("e", "е"), ("f", "ф"), ("g", "г"), ("h", "ҳ"),
    ("i", "и"), ("j", "ж"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"),
    ("q", "қ"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("v", "в"), ("x", "х"), ("y", "й"),
    ("z", "з"),
)
_UZ_PATTERN = re.compile("|".join(re.escape(src) for src, _ in _UZ_LATIN_TO_CYRILLIC))
_UZ_MAP = dict(_UZ_LATIN_TO_CYRILLIC)


def uzbek_latin_to_cyrillic(text: str) -> str:
    """Transliterate Uzbek from the Latin to the Cyrillic alphabet.

    Word-initial e becomes э; an apostrophe after o or g makes ў or ғ, elsewhere ъ (the tutuq belgisi).

    Args:
        text: Uzbek in Latin script, any apostrophe variant.

    Returns:
        The same text in Uzbek Cyrillic.

    Example:
        >>> uzbek_latin_to_cyrillic("Oʻzbekiston va eski shahar")
        'Ўзбекистон ва эски шаҳар'
    """
    # One apostrophe form: after o/g it is part of the letter, elsewhere it is the tutuq belgisi (ъ).
    text = re.sub(rf"([oOgG])[{_UZ_APOSTROPHES}]", "\\1\ue000", text)
    text = re.sub(rf"[{_UZ_APOSTROPHES}]", "ʼ", text).replace("\ue000", "ʻ")
    text = re.sub(r"(?<![^\W\d_])[eE]", lambda m: "э" if m.group() == "e" else "Э", text)

    def replace(match: re.Match[str]) -> str:
        return _UZ_MAP[match.group()]

    out: list[str] = []
    for word in re.split(r"(\W+)", text):
        if not word:
            continue
        lowered = word.lower()
        converted = _UZ_PATTERN.sub(replace, lowered)
        if word[0].isupper():
            converted = converted[:1].upper() + converted[1:]
        if len(word) > 1 and word.isupper():
            converted = converted.upper()
        out.append(converted)
    return "".join(out)


_UYGHUR_VOWELS = set("اەوۇۆۈېى")
_UEY_TO_ULY = {
    "ا": "a", "ە": "e", "ب": "b", "پ": "p", "ت": "t", "ج": "j", "چ": "ch", "خ": "x", "د": "d", "ر": "r",
    "ز": "z", "ژ": "zh", "س": "s", "ش": "sh", "غ": "gh", "ف": "f", "ق": "q", "ك": "k", "گ": "g", "ڭ": "ng",
    "ل": "l", "م": "m", "ن": "n", "ھ": "h", "و": "o", "ۇ": "u", "ۆ": "ö", "ۈ": "ü", "ۋ": "w", "ې": "é",
    "ى": "i", "ي": "y", "،": ",", "؟": "?", "؛": ";",
}


def uyghur_arabic_to_latin(text: str) -> str:
    """Transliterate Uyghur from the Arabic (UEY) to the Latin (ULY) alphabet.

    The hamza carrier ئ marks a vowel-initial syllable: it is dropped at the start of a word and written as an
    apostrophe after a consonant (جەمئىيەت → jem'iyet). n + g and n + gh are written n'g and n'gh so that they are not read as ng (ڭ).

    Args:
        text: Uyghur in Arabic script.

    Returns:
        The same text in ULY.

    Example:
        >>> uyghur_arabic_to_latin("ئۇيغۇر تىلى ۋە جەمئىيەت")
        "uyghur tili we jem'iyet"
    """
    out: list[str] = []
    previous = " "
    for ch in text:
        if ch == "ئ":
            # Syllable boundary: after a consonant letter it is written as ', otherwise it is silent.
            if previous.isalpha() and previous not in _UYGHUR_VOWELS:
                out.append("'")
            previous = ch
            continue
        latin = _UEY_TO_ULY.get(ch, ch)
        if ch in "گغ" and previous == "ن":
            out.append("'")
        out.append(latin)
        previous = ch
    return "".join(out)
