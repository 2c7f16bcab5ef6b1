"""Text normalisation for language identification (never for storage or display).

Detectors are trained on clean running text; social-media posts carry URLs, handles, hashtags, emoji and numbers
that are no evidence of a language, and the target languages are typed with several keyboards that produce
different code points for the same letter. This module turns a post into the letters that matter, keeping every
letter that distinguishes one target language from another.

What is folded, and why:

- NFC first, so that a letter typed as base + combining mark counts as the letter (ӣ = и + U+0304).
- Uzbek apostrophes ʻ ʼ ' ‘ ’ ` ´ between letters become one canonical ʻ (U+02BB), so that oʻ and gʻ are
  recognised however they were typed (`o'zbek`, `o‘zbek`, `oʻzbek`). U+02BB is a letter (Unicode Lm), so
  tokenisers keep `oʻzbek` as one word.
- Arabic-script text that is not Arabic or Uyghur (it has a Persian/Pashto/Urdu letter and no Uyghur-only
  letter): Arabic kaf ك → keheh ک and alef maksura ى → Farsi yeh ی, the variants an Arabic keyboard produces.
  Arabic yeh ي is kept because in Pashto it is a letter of its own (کوي, شوي). Arabic and Uyghur text keep
  ك ى ي, which are ordinary letters there.
- Zero-width non-joiner (Persian می‌خواهم, کتاب‌ها) becomes a space: the prefix می and the suffix ها are then
  words of their own, which is evidence of Persian, and CLD2 scores Persian higher that way than with the joint
  removed. Other invisible characters (ZWJ, bidi marks, BOM, soft hyphen),
  tatweel and Arabic short-vowel marks are dropped: they are typography, not language.
- URLs, e-mail addresses, @mentions, #hashtags, emoji and other pictographs, and digits of every script are
  removed, and runs of white space collapse to one space.
- A run of four or more of one letter (`AAAA…`, `soooo`) becomes that letter once: no language writes a letter
  four times in a row, so such a run is padding or emphasis and no evidence of a language. Without this, an
  English sentence followed by 30,000 `a`s was a 30,000-letter "word" that outweighed the sentence (issue #14).
"""

from __future__ import annotations

import re
import unicodedata

#: The canonical Uzbek apostrophe (modifier letter turned comma), used in oʻ, gʻ and the tutuq belgisi.
UZBEK_APOSTROPHE = "\u02bb"
_APOSTROPHE_VARIANTS = "\u02bb\u02bc'\u2018\u2019`\u00b4\u02b9\u02bf\u02be"
# An apostrophe variant is folded only between two letters (oʻzbek, maʼno), not when it quotes a word.
_APOSTROPHE_BETWEEN_LETTERS = re.compile(rf"(?<=[^\W\d_])[{_APOSTROPHE_VARIANTS}](?=[^\W\d_])")

_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w.+-]+@[\w-]+\.[\w.-]+\b", re.IGNORECASE)
# A handle or hashtag is a name, not running text: #ولسوالۍ or @user say nothing about the post's language.
_HANDLE_OR_HASHTAG = re.compile(r"[@#＃][^\s@#＃]+")
# Digits of every script (ASCII, Arabic-Indic, Extended Arabic-Indic, ...), with the separators that join them.
_NUMBER = re.compile(r"\d+(?:[.,٫٬/:]\d+)*")

_ZWNJ = "\u200c"
_REPEATED_LETTER = re.compile(r"([^\W\d_])\1{3,}")
# Removed outright: ZWJ, LRM/RLM, bidi embeddings and isolates, BOM, soft hyphen, tatweel, variation selectors.
_INVISIBLE = (
    "\u200b\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff\u00ad\u0640"
    "\ufe0e\ufe0f"
)
# Arabic harakat, tanwin, shadda, sukun, superscript alef: vowel marks that few texts carry and no detector needs.
_ARABIC_MARKS = "".join(chr(c) for c in range(0x064B, 0x0653)) + "\u0670"

_INVISIBLE_OR_MARK = re.compile(f"[{_INVISIBLE}{_ARABIC_MARKS}]+")

# Letters that only Persian-family orthographies (fa, ps, ur, sd, ...) use; Arabic has none of them.
_PERSO_ARABIC_LETTERS = frozenset("پچژگکیټډړښږځڅګڼۍٹڈڑںےہ")
# Letters that Uyghur uses and Persian, Pashto and Urdu do not (ې is Pashto too, so it is not here).
_UYGHUR_ONLY_LETTERS = frozenset("ۆۇۈۋەڭ")
_KEYBOARD_VARIANTS = str.maketrans({"ك": "ک", "ى": "ی"})

# Emoji and pictographs: every "other symbol" (So) of the Basic Multilingual Plane, the emoji planes, skin-tone
# modifiers and the regional indicators and tags of flags, compiled once into one character class.
def _pictograph_class() -> str:
    ranges = [(0x1F000, 0x1FAFF), (0xE0020, 0xE007F)]
    start = None
    for code in range(0xA0, 0x10000):
        symbol = unicodedata.category(chr(code)) == "So"
        if symbol and start is None:
            start = code
        elif not symbol and start is not None:
            ranges.append((start, code - 1))
            start = None
    return "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in sorted(ranges))


_NUMBER_OR_PICTOGRAPH = re.compile(f"{_NUMBER.pattern}|[{_pictograph_class()}]+")
# Fast pre-checks: most texts have no character that any of the patterns above could match.
_URL_OR_HANDLE_SIGNS = ("@", "#", "＃", "://", "www.", "WWW.")
_APOSTROPHE_VARIANT = re.compile(f"[{_APOSTROPHE_VARIANTS}]")


def _drop_controls(text: str) -> str:
    # CLD2 rejects some control characters; none of them carries language.
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else " " for ch in text)


def fold_arabic_keyboard_variants(text: str) -> str:
    """Fold Arabic kaf and alef maksura to their Persian forms in Persian-family text.

    Arabic and Uyghur text is returned unchanged: there ك and ى are letters of their own.

    Args:
        text: Text in any script.

    Returns:
        The text with ك → ک and ى → ی when it has a Persian/Pashto/Urdu letter and no Uyghur-only letter.
    """
    if "ك" not in text and "ى" not in text:
        return text
    letters = set(text)
    if letters & _UYGHUR_ONLY_LETTERS or not letters & _PERSO_ARABIC_LETTERS:
        return text
    return text.translate(_KEYBOARD_VARIANTS)


def fold_uzbek_apostrophes(text: str) -> str:
    """Make every apostrophe variant between two letters the canonical Uzbek ʻ (U+02BB).

    Args:
        text: Text in any script.

    Returns:
        The text with `o'zbek`, `o‘zbek`, `o’zbek` and `o`zbek` all written `oʻzbek`.
    """
    if not _APOSTROPHE_VARIANT.search(text):
        return text
    return _APOSTROPHE_BETWEEN_LETTERS.sub(UZBEK_APOSTROPHE, text)


def strip_non_language(text: str) -> str:
    """Remove what is no evidence of a language: URLs, e-mails, handles, hashtags, emoji, digits.

    Args:
        text: Raw text.

    Returns:
        The text without those parts, white space collapsed and trimmed.
    """
    if any(sign in text for sign in _URL_OR_HANDLE_SIGNS):
        text = _URL.sub(" ", text)
        text = _HANDLE_OR_HASHTAG.sub(" ", text)
    text = _NUMBER_OR_PICTOGRAPH.sub(" ", text)
    return " ".join(text.split())


def normalize_for_detection(text: str) -> str:
    """Normalise text for language identification only; never store the result.

    Args:
        text: Raw text (a post, a sentence, a snippet).

    Returns:
        NFC text with invisible characters, URLs, handles, hashtags, emoji and digits removed, runs of one letter
        cut to one, Uzbek
        apostrophes made canonical and Arabic keyboard variants folded in Persian-family text.

    Example:
        >>> normalize_for_detection("Oʻzbekiston‘s @news https://x.uz 2024 🇺🇿 o`zbek")
        'Oʻzbekistonʻs oʻzbek'
    """
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if _ZWNJ in text:
        text = text.replace(_ZWNJ, " ")
    text = _INVISIBLE_OR_MARK.sub("", text)
    text = _drop_controls(text)
    text = _REPEATED_LETTER.sub(r"\1", text)
    text = strip_non_language(text)
    text = fold_uzbek_apostrophes(text)
    return fold_arabic_keyboard_variants(text)
