"""Language identification: text → language (ISO 639-1), script (ISO 15924), confidence, ranked candidates.

Covers the six target languages (en, tg, uz in Latin and Cyrillic, fa for Persian and Dari, ps, ug in Arabic and
Latin script) and tells them from their neighbours (ru, ar, ur, kk, ky, tr, ...). See
docs/language-identification.md for how, and for the measured accuracy.

    >>> from pmon.classifiers.langid import detect, detect_document
    >>> detect("Ҳамаи одамон озод ба дунё меоянд").lang
    'tg'
    >>> result = detect_document('په کابل کې غونډه وشوه. "Taliban announce new cabinet members"')
    >>> result.lang, sorted(result.mix)
    ('ps', ['en', 'ps'])
"""

from pmon.classifiers.langid.detector import detect, detect_document, detect_normalized
from pmon.classifiers.langid.evaluate import DETECTORS, evaluate, read_items
from pmon.classifiers.langid.normalize import normalize_for_detection

__all__ = [
    "DETECTORS",
    "detect",
    "detect_document",
    "detect_normalized",
    "evaluate",
    "normalize_for_detection",
    "read_items",
]
