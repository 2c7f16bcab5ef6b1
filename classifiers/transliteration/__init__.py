"""Rule-based transliteration between the two scripts of Uzbek and of Uyghur.

Uzbek is written in Latin and Cyrillic, Uyghur in Arabic (UEY) and Latin (ULY) script. The project writes its
texts in one script and derives the other with these: the codebook's exemplars and gold sets
(`codebooks/tools/`), and language identification's function words and langdetect profiles.

    >>> from pmon.classifiers.transliteration import uyghur_arabic_to_latin, uzbek_latin_to_cyrillic
    >>> uzbek_latin_to_cyrillic("Oʻzbekiston: yangi yoʻl")
    'Ўзбекистон: янги йўл'
    >>> uyghur_arabic_to_latin("ئۇيغۇر تىلى ۋە جەمئىيەت")
    "uyghur tili we jem'iyet"

The rules and their limits are in the docstrings of `uzbek` and `uyghur`.
"""

from pmon.classifiers.transliteration.uyghur import uyghur_arabic_to_latin
from pmon.classifiers.transliteration.uzbek import uzbek_latin_to_cyrillic

__all__ = ["uyghur_arabic_to_latin", "uzbek_latin_to_cyrillic"]
