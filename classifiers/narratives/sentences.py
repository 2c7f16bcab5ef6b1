"""Language-aware sentence splitting: Latin/Cyrillic . ! ?, Arabic-script ؟ ۔ and ، for over-long clauses."""

from __future__ import annotations

import re

# A sentence ends at . ! ? … (Latin/Cyrillic), ؟ (Arabic question mark), ۔ (Urdu/Pashto full stop), or a line break.
_END = re.compile(r"(?<=[.!?…؟۔])[\"'»”)\]]*\s+|\n+")
# Over-long sentences are cut again at clause marks: ، (Arabic comma) ; : and the Latin comma.
_CLAUSE = re.compile(r"(?<=[،;:,])\s+")
MIN_CHARS = 25
MAX_CHARS = 400


def split_sentences(text: str, min_chars: int = MIN_CHARS, max_chars: int = MAX_CHARS) -> list[str]:
    """Split a text into sentence-sized pieces for classification and evidence.

    Fragments shorter than `min_chars` (headings, "Read more") are merged into their neighbour so that every
    piece carries enough context; pieces longer than `max_chars` are cut at clause marks.

    Example:
        >>> split_sentences("Prices rose again this week in Kabul. The ministry said aid will come soon.")
        ['Prices rose again this week in Kabul.', 'The ministry said aid will come soon.']
    """
    pieces: list[str] = []
    for sentence in _END.split(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        if len(sentence) > max_chars:
            pieces.extend(_cut(sentence, max_chars))
        else:
            pieces.append(sentence)
    merged: list[str] = []
    for piece in pieces:
        if (
            merged
            and (len(piece) < min_chars or len(merged[-1]) < min_chars)
            and len(merged[-1]) + len(piece) < max_chars
        ):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return merged or ([text.strip()] if text.strip() else [])


def _cut(sentence: str, max_chars: int) -> list[str]:
    out: list[str] = []
    current = ""
    for clause in _CLAUSE.split(sentence):
        if current and len(current) + len(clause) + 1 > max_chars:
            out.append(current)
            current = clause
        else:
            current = f"{current} {clause}".strip()
        while len(current) > max_chars:  # no clause marks at all: hard cut at a space
            cut = current.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            out.append(current[:cut].strip())
            current = current[cut:].strip()
    if current:
        out.append(current)
    return out
